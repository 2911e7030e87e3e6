"""The published JSON Schema of ``manifest.json``.

``manifest.schema.json`` (JSON Schema draft 2020-12) ships inside the package, so that
editors and other tools can check a manifest without Exhibit Engine. It states the same
rules as :func:`~exhibit_engine.assets.manifest.parse_manifest`, which stays the check
the engine itself runs; the few rules a schema cannot state (unique paths and scene ids,
scene assets listed in ``files``, no duplicate keys, bounded nesting) are named in the
schema's description. Tests keep the two in agreement.

Stdlib only: reading the schema needs no JSON Schema library.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_FILE", "manifest_schema", "manifest_schema_text"]

#: The schema's file name inside the ``exhibit_engine.assets`` package.
SCHEMA_FILE = "manifest.schema.json"


def manifest_schema_text() -> str:
    """The schema exactly as published (UTF-8 JSON text), e.g. to write it to a file."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``manifest.json``, as a fresh dict."""
    schema: dict[str, Any] = json.loads(manifest_schema_text())
    return schema
