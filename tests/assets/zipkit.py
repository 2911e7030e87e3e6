"""Helpers that write ZIP archives, GLB and PNG files byte by byte, for hostile-input tests."""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import zlib
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["entries", "write_zip", "with_manifest", "manifest_doc", "patch_central", "POINTS",
           "glb", "triangle_doc", "png_header"]


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


POINTS = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)


def glb(doc: dict[str, Any], binary: bytes | None = POINTS) -> bytes:
    """A GLB container around ``doc`` and ``binary`` (chunks padded as the spec says)."""
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    if binary is not None:
        binary += b"\0" * (-len(binary) % 4)
        body += struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def triangle_doc(**extra: Any) -> dict[str, Any]:
    """A one-triangle glTF document whose buffer is the GLB's BIN chunk."""
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"}, "buffers": [{"byteLength": len(POINTS)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(POINTS)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    doc.update(extra)
    return doc


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (nothing is allocated)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))
