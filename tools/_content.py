"""What every sample-content generator shares: the label font, atomic writes, the CLI.

Each ``tools/gen_*.py`` builds a dict of ``{path: bytes}`` for its bundle source folder;
these helpers copy the shared label font into it, write the files atomically, and give
the generator its ``--out DIR`` command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["ROOT", "FONTS", "LABEL_FONT", "label_font_files", "write_files", "run"]

ROOT = Path(__file__).resolve().parents[1]
FONTS = ROOT / "content" / "fonts"
LABEL_FONT = "NotoSansSC-Labels.otf"


def label_font_files(out: Path) -> dict[Path, bytes]:
    """The label font and its licence, placed at ``out/fonts/`` (OFL: they travel together)."""
    files = {}
    for name in (LABEL_FONT, "OFL.txt"):
        try:
            files[out / "fonts" / name] = (FONTS / name).read_bytes()
        except FileNotFoundError:
            raise SystemExit(f"{FONTS / name} is missing: run tools/make_label_font.py") \
                from None
    return files


def write_files(files: Mapping[Path, bytes]) -> list[Path]:
    """Write each file atomically (temporary name, then rename); return the paths, sorted."""
    for path, data in sorted(files.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return sorted(files)


def run(generate: Callable[[Path], list[Path]], default_out: Path, description: str,
        argv: list[str] | None = None) -> int:
    """The command line of a generator: ``--out DIR``, then one line per file written."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"folder to write (default: {default_out.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        sys.stdout.write(f"{path} {path.stat().st_size} bytes\n")
    return 0
