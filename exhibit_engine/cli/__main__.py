"""``python -m exhibit_engine.cli``: the ``exhibit`` command, for child processes.

The demo and the end-to-end tests start their controller and nodes this way, with the
same interpreter as the parent.
"""

from __future__ import annotations

from . import main

__all__: list[str] = []

if __name__ == "__main__":  # pragma: no cover
    main()
