"""A small, deterministic GLB writer shared by the sample-content generators.

trimesh's exporter writes either vertex colours or UVs on a mesh, not both, and the
scenes' shaders need both; this writer keeps every attribute it is given, lays the binary
chunk out in a fixed order and writes compact JSON, so the same meshes always give the
same bytes.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["png_rgb", "write_glb"]

_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}


def png_rgb(pixels: np.ndarray) -> bytes:
    """A fixed-bytes PNG of an (H, W, 3) uint8 image (8-bit RGB, no filter, zlib level 9)."""
    px = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = px.shape[:2]
    raw = b"".join(b"\0" + px[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write_glb(meshes: Sequence[tuple[str, str, Mapping[str, np.ndarray]]], *,
              attributes: Sequence[str], materials: Mapping[str, Mapping[str, Any]],
              generator: str, copyright_: str, images: Sequence[bytes] = (),
              samplers: Sequence[Mapping[str, int]] = ()) -> bytes:
    """Serialise (node name, material name, arrays) triples as one self-contained GLB.

    Args:
        meshes: each node's name, material name and arrays: the ``attributes`` (float32,
            uint8 arrays written normalised, e.g. ``COLOR_0``) plus ``indices`` (uint16 or uint32).
        attributes: which vertex attributes to write, in this order.
        materials: PBR metallic-roughness settings by material name; materials are
            numbered in the order the meshes first use them.
        generator: the asset's generator string.
        copyright_: the asset's copyright string.
        images: PNG images, embedded in buffer views; texture ``i`` shows image ``i``
            with sampler ``i`` (or the last sampler), as a material's texture index.
        samplers: glTF samplers (filters, wrap modes).
    """
    bin_parts: list[bytes] = []
    offset = 0
    views: list[dict] = []
    accessors: list[dict] = []
    gl_meshes: list[dict] = []
    nodes: list[dict] = []
    gl_materials: list[dict] = []
    mat_index: dict[str, int] = {}

    def add_view(data: bytes, target: int) -> int:
        nonlocal offset
        pad = (-offset) % 4
        if pad:
            bin_parts.append(b"\0" * pad)
            offset += pad
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data),
                      "target": target})
        bin_parts.append(data)
        offset += len(data)
        return len(views) - 1

    for node_name, mat_name, arr in meshes:
        attrs = {}
        for key in attributes:
            a = arr[key]
            view = add_view(a.tobytes(), 34962)
            acc = {"bufferView": view, "componentType": 5121 if a.dtype == np.uint8 else 5126,
                   "count": len(a), "type": _TYPES[a.shape[1]]}
            if a.dtype == np.uint8:
                acc["normalized"] = True
            if key == "POSITION":
                acc["min"] = [float(f"{v:.4f}") for v in a.min(axis=0)]
                acc["max"] = [float(f"{v:.4f}") for v in a.max(axis=0)]
            accessors.append(acc)
            attrs[key] = len(accessors) - 1
        idx = arr["indices"]
        view = add_view(idx.tobytes(), 34963)
        accessors.append({"bufferView": view,
                          "componentType": 5125 if idx.dtype == np.dtype("<u4") else 5123,
                          "count": len(idx), "type": "SCALAR"})
        if mat_name not in mat_index:
            mat_index[mat_name] = len(gl_materials)
            gl_materials.append({"name": mat_name,
                                 "pbrMetallicRoughness": dict(materials[mat_name])})
        gl_meshes.append({"name": node_name, "primitives": [{
            "attributes": attrs, "indices": len(accessors) - 1,
            "material": mat_index[mat_name], "mode": 4}]})
        nodes.append({"name": node_name, "mesh": len(gl_meshes) - 1})
    gl_images = []
    for png in images:
        view = add_view(png, 0)
        del views[view]["target"]
        gl_images.append({"bufferView": view, "mimeType": "image/png"})
    pad = (-offset) % 4
    if pad:
        bin_parts.append(b"\0" * pad)
        offset += pad
    doc = {
        "asset": {"version": "2.0", "generator": generator, "copyright": copyright_},
        "scene": 0,
        "scenes": [{"name": "scene", "nodes": list(range(len(nodes)))}],
        "nodes": nodes, "meshes": gl_meshes, "materials": gl_materials,
        "accessors": accessors, "bufferViews": views,
        "buffers": [{"byteLength": offset}],
    }
    if gl_images:
        doc["images"] = gl_images
        doc["samplers"] = [dict(x) for x in samplers]
        doc["textures"] = [{"source": i, **({"sampler": min(i, len(samplers) - 1)}
                                            if samplers else {})}
                           for i in range(len(gl_images))]
    js = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    js += b" " * ((-len(js)) % 4)
    binary = b"".join(bin_parts)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (b"glTF" + struct.pack("<II", 2, total) + struct.pack("<I", len(js)) + b"JSON"
            + js + struct.pack("<I", len(binary)) + b"BIN\0" + binary)
