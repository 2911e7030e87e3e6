"""Helpers that write ZIP archives byte by byte, for tests that need hostile bundles."""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["entries", "write_zip", "with_manifest", "manifest_doc", "patch_central"]


def entries(path: Path) -> dict[str, bytes]:
    """Every entry of a ZIP, name -> bytes."""
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path: Path, items: dict[str, bytes] | list[tuple[str, bytes]], *,
              mode: int = stat.S_IFREG | 0o644, compress: int = zipfile.ZIP_DEFLATED,
              modes: dict[str, int] | None = None) -> Path:
    """Write a ZIP with the given entries (a list may repeat names)."""
    pairs = items.items() if isinstance(items, dict) else items
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in pairs:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            info.create_system = 3
            info.external_attr = (modes or {}).get(name, mode) << 16
            zf.writestr(info, data)
    return path


def manifest_doc(files: dict[str, bytes], /, **overrides: Any) -> dict[str, Any]:
    """A valid manifest document listing ``files`` with their true sizes and hashes."""
    doc: dict[str, Any] = {
        "format": "exhibit-bundle/1", "id": "t", "version": "1.0.0", "title": {"en": "T"},
        "scenes": [{"id": "s", "kind": "ice", "assets": []}],
        "files": [{"path": n, "size": len(d), "media_type": "application/octet-stream",
                   "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()],
    }
    doc.update(overrides)
    return doc


def with_manifest(files: dict[str, bytes], /, **overrides: Any) -> dict[str, bytes]:
    """``files`` plus a manifest.json that lists them correctly (unless overridden)."""
    return {"manifest.json": json.dumps(manifest_doc(files, **overrides)).encode(), **files}


def patch_central(path: Path, name: str, *, file_size: int | None = None,
                  compress_size: int | None = None, method: int | None = None,
                  flags: int | None = None) -> Path:
    """Rewrite fields of one entry's central-directory record in place (no data change)."""
    raw = bytearray(path.read_bytes())
    needle = b"PK\x01\x02"
    pos = raw.find(needle)
    while pos >= 0:
        name_len = struct.unpack_from("<H", raw, pos + 28)[0]
        if raw[pos + 46:pos + 46 + name_len].decode() == name:
            if flags is not None:
                struct.pack_into("<H", raw, pos + 8, flags)
            if method is not None:
                struct.pack_into("<H", raw, pos + 10, method)
            if compress_size is not None:
                struct.pack_into("<I", raw, pos + 20, compress_size)
            if file_size is not None:
                struct.pack_into("<I", raw, pos + 24, file_size)
            path.write_bytes(bytes(raw))
            return path
        pos = raw.find(needle, pos + 4)
    raise KeyError(name)
