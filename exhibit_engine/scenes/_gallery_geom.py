"""Geometry for the ``prints`` gallery: lit boxes and quads in one vertex format.

Every vertex carries position, normal, colour and UV (12 float32). The colour is the
surface's sRGB albedo; its alpha is the gloss the gallery shader gives it (0 matte
wall paint .. 1 lacquered frame). Private to :mod:`exhibit_engine.scenes.prints`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from panda3d.core import (Geom, GeomEnums, GeomNode, GeomTriangles, GeomVertexArrayFormat,
                          GeomVertexData, GeomVertexFormat, InternalName)

__all__ = ["MeshBuilder"]


def _format() -> GeomVertexFormat:
    """position, normal, colour (float RGBA), UV: 12 float32 per vertex."""
    arr = GeomVertexArrayFormat()
    arr.add_column(InternalName.get_vertex(), 3, GeomEnums.NT_float32, GeomEnums.C_point)
    arr.add_column(InternalName.get_normal(), 3, GeomEnums.NT_float32, GeomEnums.C_normal)
    arr.add_column(InternalName.get_color(), 4, GeomEnums.NT_float32, GeomEnums.C_color)
    arr.add_column(InternalName.get_texcoord(), 2, GeomEnums.NT_float32,
                   GeomEnums.C_texcoord)
    return GeomVertexFormat.register_format(GeomVertexFormat(arr))


class MeshBuilder:
    """Collects quads; :meth:`node` turns them into one GeomNode."""

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._count = 0

    def quad(self, corners: Sequence[Sequence[float]], normal: Sequence[float],
             rgba: Sequence[float], uv: Sequence[Sequence[float]] = ((0, 0), (1, 0), (1, 1),
                                                                    (0, 1))) -> None:
        """A quad from four corners, counter-clockwise seen from the side it faces."""
        for p, t in zip(corners, uv, strict=True):
            self._rows.append(np.array([*p, *normal, *rgba, *t], dtype=np.float32))
        self._count += 4

    def box(self, lo: Sequence[float], hi: Sequence[float], rgba: Sequence[float],
            skip_back: bool = True) -> None:
        """An axis-aligned box; the +Y face (against the wall) is left out by default."""
        x0, y0, z0 = lo
        x1, y1, z1 = hi
        faces = [
            ([(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)], (0, -1, 0)),
            ([(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)], (1, 0, 0)),
            ([(x0, y1, z0), (x0, y0, z0), (x0, y0, z1), (x0, y1, z1)], (-1, 0, 0)),
            ([(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)], (0, 0, 1)),
            ([(x0, y1, z0), (x1, y1, z0), (x1, y0, z0), (x0, y0, z0)], (0, 0, -1)),
        ]
        if not skip_back:
            faces.append(([(x1, y1, z0), (x0, y1, z0), (x0, y1, z1), (x1, y1, z1)], (0, 1, 0)))
        for corners, n in faces:
            self.quad(corners, n, rgba)

    def wall_rect(self, x0: float, z0: float, x1: float, z1: float, y: float,
                  rgba: Sequence[float]) -> None:
        """A rectangle in a plane of constant ``y``, facing -Y (towards the visitor)."""
        self.quad([(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)], (0, -1, 0), rgba)

    def node(self, name: str) -> GeomNode:
        """One GeomNode of everything added."""
        data = np.stack(self._rows) if self._rows else np.zeros((0, 12), np.float32)
        vdata = GeomVertexData(name, _format(), GeomEnums.UH_static)
        vdata.unclean_set_num_rows(len(data))
        vdata.modify_array(0).modify_handle().copy_data_from(data.astype("<f4").tobytes())
        prim = GeomTriangles(GeomEnums.UH_static)
        prim.set_index_type(GeomEnums.NT_uint32)
        quads = np.arange(len(data) // 4, dtype=np.uint32)[:, None] * 4
        idx = (quads + np.array([0, 1, 2, 0, 2, 3], dtype=np.uint32)).reshape(-1)
        handle = prim.modify_vertices()
        handle.unclean_set_num_rows(len(idx))
        handle.modify_handle().copy_data_from(idx.tobytes())
        geom = Geom(vdata)
        geom.add_primitive(prim)
        node = GeomNode(name)
        node.add_geom(geom)
        return node
