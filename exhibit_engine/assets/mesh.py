"""Mesh processing for packing: glTF/GLB, OBJ, STL, PLY -> one self-contained GLB + LODs.

What a source becomes::

    scan.obj|stl|ply   trimesh; repaired where safe (merge vertices, drop degenerate and
                       duplicate faces, turn inside-out closed meshes); metres, Y-up,
                       smooth normals -> scan.glb
    scan.gltf          data: URIs only; rewritten losslessly as scan.glb
    scan.glb           checked, then kept byte for byte (colours, UVs, tangents and all);
                       ``units``/``up`` only add one root node per scene to its JSON
    > LOD_THRESHOLD    + scan.lod1.glb, scan.lod2.glb: quadric decimation to ~25% and
      triangles          ~6%, UVs and vertex colours carried over

Output is standard glTF: metres, Y-up (panda3d-gltf turns it Z-up on load), and a pure
function of the source bytes and options (no names, clocks or ids).

Options, per file in ``bundle.toml``::

    [assets."meshes/scan.stl"]
    units = "mm"          # m (default), cm, mm, in
    up = "z"              # y (default for glTF/OBJ/PLY) or z (default for STL)
    lods = [40000, 8000]  # triangle targets; "auto" (default), or false for none

trimesh and fast-simplification are imported only when a mesh is processed.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AssetError
from ._processing import Output, PackContext
from .checks import image_header, pixel_limit
from .gltf import check_gltf, split_glb

if TYPE_CHECKING:
    import trimesh

__all__ = ["LOD_RATIOS", "LOD_THRESHOLD", "MAX_TRIANGLES", "MeshOptions", "UNITS", "gltf_to_glb",
           "mesh_options", "process"]

#: Metres per source unit.
UNITS: Mapping[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
#: Largest mesh (all parts, instances baked) that is processed at all.
MAX_TRIANGLES = 5_000_000
#: Meshes above this many triangles get LODs unless ``lods`` says otherwise.
LOD_THRESHOLD = 50_000
#: Automatic LOD targets, as fractions of the full triangle count.
LOD_RATIOS = (0.25, 0.0625)
_OPTIONS = frozenset({"units", "up", "lods"})
_MIN_DECIMATE = 64  # parts smaller than this are kept whole in every LOD
_SQRT_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class MeshOptions:
    """A mesh's resolved options.

    Attributes:
        units: the source unit (a key of :data:`UNITS`).
        up: the source's up axis, ``"y"`` or ``"z"``.
        lods: explicit triangle targets, ``()`` for none, or ``None`` for automatic.
    """

    units: str = "m"
    up: str = "y"
    lods: tuple[int, ...] | None = None

    @property
    def scale(self) -> float:
        """Metres per source unit."""
        return UNITS[self.units]

    def matrix(self) -> np.ndarray:
        """The 4x4 transform from source space to glTF space (metres, Y-up)."""
        m = np.diag([self.scale, self.scale, self.scale, 1.0])
        if self.up == "z":  # (x, y, z) Z-up -> (x, z, -y) Y-up: -90 degrees about X
            m = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]],
                         dtype=float) @ m
        return m


def mesh_options(opts: Mapping[str, Any], ext: str, name: str) -> MeshOptions:
    """Check and resolve the ``[assets."<name>"]`` table of one mesh.

    Raises:
        AssetError: an unknown key or a bad value.
    """
    unknown = sorted(set(opts) - _OPTIONS)
    if unknown:
        raise AssetError(name, f"unknown mesh option(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(_OPTIONS))})")
    units = opts.get("units", "m")
    if not isinstance(units, str) or units not in UNITS:
        raise AssetError(name, f"units must be one of {', '.join(UNITS)}, not {units!r}")
    up = opts.get("up", "z" if ext == ".stl" else "y")
    if up not in ("y", "z"):
        raise AssetError(name, f'up must be "y" or "z", not {up!r}')
    lods = opts.get("lods", "auto")
    if lods == "auto" or lods is True:
        resolved: tuple[int, ...] | None = None
    elif lods is False:
        resolved = ()
    elif (isinstance(lods, list) and all(type(n) is int and n > 0 for n in lods)
          and all(a > b for a, b in itertools.pairwise(lods))):
        resolved = tuple(lods)
    else:
        raise AssetError(name, 'lods must be "auto", false, or a decreasing list of '
                         "triangle counts")
    return MeshOptions(units=units, up=up, lods=resolved)


def process(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """Pack one mesh source: the GLB first, then its LODs (see the module docstring).

    Raises:
        BundleError: one line naming the source and the rule (malformed file, too many
            triangles, a URI that leaves the file, a bad option).
    """
    ext = PurePosixPath(rel).suffix.lower()
    try:
        opts = mesh_options(ctx.options(rel), ext, rel)
        if ext in (".glb", ".gltf"):
            primary, meshes = _from_gltf(ctx, rel, data, ext, opts)
        else:
            primary, meshes = _from_trimesh(ctx, rel, data, ext, opts)
        stem = str(PurePosixPath(rel).with_suffix(""))
        outputs = [Output(f"{stem}.glb", primary)]
        total = sum(len(m.faces) for m in meshes)
        made = []
        for i, target in enumerate(_lod_targets(opts, total), start=1):
            lod = [_decimate(m, target * len(m.faces) / total) for m in meshes]
            made.append(sum(len(m.faces) for m in lod))
            outputs.append(Output(f"{stem}.lod{i}.glb", _export(lod)))
    except AssetError as exc:
        raise ctx.fail(rel, exc.rule) from None
    if made:
        ctx.note(rel, f"{len(made)} LODs: {', '.join(str(n) for n in made)} tris "
                 f"(from {total})")
    return outputs


def _lod_targets(opts: MeshOptions, total: int) -> list[int]:
    if opts.lods is None:
        return [round(total * r) for r in LOD_RATIOS] if total > LOD_THRESHOLD else []
    return [n for n in opts.lods if n < total]


# --------------------------------------------------------------------------- glTF / GLB


def _from_gltf(ctx: PackContext, rel: str, data: bytes, ext: str, opts: MeshOptions
               ) -> tuple[bytes, list[trimesh.Trimesh]]:
    glb = data if ext == ".glb" else gltf_to_glb(data, rel)
    doc, binary = split_glb(glb, rel)
    with pixel_limit(None):  # check_gltf bounds embedded images by their headers itself
        check_gltf(doc, binary, rel)
    _bound(rel, _gltf_triangles(doc, rel))
    meshes = _meshes(_load(glb, "glb", rel), rel)  # proves every accessor is readable
    degenerate = sum(int((~m.nondegenerate_faces()).sum()) for m in meshes)
    if degenerate:
        ctx.note(rel, f"{degenerate} zero-area faces left as they are (GLB kept)")
    if ext == ".gltf":
        ctx.note(rel, "embedded glTF rewritten as GLB")
    if opts.units != "m" or opts.up != "y":
        glb = _wrap_glb(doc, binary, opts, rel)
        ctx.note(rel, _describe(opts) + " (one root node added)")
        matrix = opts.matrix()
        for m in meshes:
            m.apply_transform(matrix)
    return glb, meshes


def gltf_to_glb(data: bytes, name: str) -> bytes:
    """Rewrite a ``.gltf`` whose buffers are all ``data:`` URIs as one GLB, losslessly.

    Nothing outside the file is read; other URIs fail here or in :func:`check_gltf`.

    Raises:
        AssetError: not JSON, a buffer that is not embedded, or a malformed data URI.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AssetError(name, f"not valid glTF JSON ({exc})") from None
    buffers, views = (doc.get("buffers", []), doc.get("bufferViews", [])) if isinstance(
        doc, dict) else (None, None)
    if not isinstance(buffers, list) or not isinstance(views, list):
        raise AssetError(name, "not a glTF object with lists of buffers and bufferViews")
    blob, offsets = bytearray(), []
    for i, buf in enumerate(buffers):
        uri = buf.get("uri") if isinstance(buf, dict) else None
        if not isinstance(uri, str) or not uri.startswith("data:"):
            raise AssetError(name, f"buffers[{i}].uri: external URI {str(uri)[:80]!r} is "
                             "not allowed (a .gltf must embed its buffers as data: URIs)")
        head, _, payload = uri.partition(",")
        try:
            if not head.endswith(";base64"):
                raise binascii.Error("not base64")
            chunk = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise AssetError(name, f"buffers[{i}].uri: bad data URI") from None
        blob += b"\0" * (-len(blob) % 8)
        offsets.append(len(blob))
        blob += chunk
    for i, view in enumerate(views):
        b = view.get("buffer") if isinstance(view, dict) else None
        start = view.get("byteOffset", 0) if isinstance(view, dict) else None
        if type(b) is not int or not 0 <= b < len(offsets) or type(start) is not int:
            raise AssetError(name, f"bufferViews[{i}] does not name a buffer and offset")
        view["buffer"], view["byteOffset"] = 0, start + offsets[b]
    if buffers:
        doc["buffers"] = [{"byteLength": len(blob)}]
    return _glb_bytes(doc, bytes(blob) if buffers else None)


def _glb_bytes(doc: dict[str, Any], binary: bytes | None) -> bytes:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    if binary is not None:
        padded = binary + b"\0" * (-len(binary) % 4)
        body += struct.pack("<I4s", len(padded), b"BIN\0") + padded
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _wrap_glb(doc: dict[str, Any], binary: bytes | None, opts: MeshOptions, name: str
              ) -> bytes:
    """The same GLB with one root node per scene carrying the unit scale and up turn."""
    doc = json.loads(json.dumps(doc))
    nodes, scenes = doc.setdefault("nodes", []), doc.get("scenes")
    if not isinstance(nodes, list) or not isinstance(scenes, list) or not scenes:
        raise AssetError(name, "has no scene to apply units/up to")
    seen: set[int] = set()
    for i, scene in enumerate(scenes):
        roots = scene.get("nodes", []) if isinstance(scene, dict) else None
        if not isinstance(roots, list) or not all(type(n) is int for n in roots):
            raise AssetError(name, f"scenes[{i}].nodes must be a list of node indices")
        if seen & set(roots):
            raise AssetError(name, "scenes share root nodes; units/up cannot be applied")
        seen.update(roots)
        if roots:
            scene["nodes"] = [len(nodes)]
            nodes.append({"name": "exhibit-normalise", "children": roots,
                          "rotation": [-_SQRT_HALF, 0.0, 0.0, _SQRT_HALF] if opts.up == "z"
                          else [0.0, 0.0, 0.0, 1.0], "scale": [opts.scale] * 3})
    return _glb_bytes(doc, binary)


def _gltf_triangles(doc: dict[str, Any], name: str) -> int:
    """Triangles the document claims (each mesh once), from accessor counts alone."""
    accessors = doc.get("accessors", [])
    meshes = doc.get("meshes", [])
    if not isinstance(accessors, list) or not isinstance(meshes, list):
        raise AssetError(name, "accessors and meshes must be lists")
    total = 0
    for mesh in meshes:
        prims = mesh.get("primitives", []) if isinstance(mesh, dict) else []
        for prim in (p for p in prims if isinstance(p, dict)) if isinstance(prims, list) else ():
            attrs = prim.get("attributes")
            i = prim.get("indices", attrs.get("POSITION") if isinstance(attrs, dict) else None)
            acc = accessors[i] if type(i) is int and 0 <= i < len(accessors) else {}
            count, mode = acc.get("count", 0) if isinstance(acc, dict) else 0, prim.get("mode", 4)
            if type(count) is int and mode in (4, 5, 6):
                total += count // 3 if mode == 4 else max(count - 2, 0)
    return total


# --------------------------------------------------------------------------- OBJ / STL / PLY


def _from_trimesh(ctx: PackContext, rel: str, data: bytes, ext: str, opts: MeshOptions
                  ) -> tuple[bytes, list[trimesh.Trimesh]]:
    _bound(rel, _estimate_triangles(ext, data))
    resolver = _FolderResolver(ctx.src, (ctx.src / rel).parent) if ext == ".obj" else None
    scene = _load(data, ext[1:], rel, resolver)
    if resolver is not None and resolver.refused:
        raise AssetError(rel, resolver.refused[0])
    if resolver is not None and resolver.missing:
        ctx.note(rel, f"not found, left out: {', '.join(sorted(set(resolver.missing)))}")
    meshes = _meshes(scene, rel)
    counts = dict.fromkeys(("merged vertices", "degenerate faces", "duplicate faces",
                            "faces turned outwards"), 0)
    matrix = opts.matrix()
    for m in meshes:
        for key, n in _repair(m, rel).items():
            counts[key] += n
        m.apply_transform(matrix)
        _set_normals(m)
    done = [f"{n} {key}" for key, n in counts.items() if n]
    if done:
        ctx.note(rel, "repaired: " + ", ".join(done))
    if opts.units != "m" or opts.up != "y":
        ctx.note(rel, _describe(opts))
    return _export(meshes), meshes


def _estimate_triangles(ext: str, data: bytes) -> int:
    """A cheap lower bound on the triangle count, read before anything is parsed."""
    if ext == ".stl":
        if len(data) >= 84:
            (n,) = struct.unpack_from("<I", data, 80)
            if 84 + 50 * n == len(data):
                return n
        return data.count(b"endfacet") + data.count(b"ENDFACET")
    if ext == ".ply":
        header = data[:max(data.find(b"end_header", 0, 1 << 16), 0)]
        faces = [p[2] for p in map(bytes.split, header.splitlines())
                 if p[:2] == [b"element", b"face"] and len(p) == 3 and p[2].isdigit()]
        return int(faces[0]) if faces else 0
    return data.count(b"\nf ") + data.startswith(b"f ")


class _FolderResolver:
    """Lets trimesh read an OBJ's material and textures, only from inside the source folder.

    trimesh swallows resolver errors, so refusals are recorded and raised afterwards;
    a missing file is only noted (the mesh is kept, without that material).
    """

    def __init__(self, root: Path, here: Path) -> None:
        self.root, self.here = root.resolve(), here
        self.refused: list[str] = []  # rules broken: fail the pack
        self.missing: list[str] = []  # names not found: noted

    def get(self, name: str) -> bytes:
        """The bytes of a file named by the OBJ or its MTL, after the checks above."""
        path = (self.here / name.strip().strip('"')).resolve()
        if not path.is_relative_to(self.root):
            self.refused.append(f"references {name!r}, outside the source folder")
            raise OSError(name)
        if not path.is_file():
            self.missing.append(name)
            raise OSError(name)
        data = path.read_bytes()
        try:  # trimesh hands textures straight to Pillow: check their headers first
            if path.suffix.lower() != ".mtl":
                image_header(data, name)
        except AssetError as exc:
            self.refused.append(f"texture {exc.rule}")
            raise OSError(name) from None
        return data

    __getitem__ = get


def _bound(name: str, triangles: int) -> None:
    if triangles > MAX_TRIANGLES:
        raise AssetError(name, f"{triangles} triangles is more than the limit of "
                         f"{MAX_TRIANGLES}")


def _describe(opts: MeshOptions) -> str:
    return ", ".join(([f"scaled {opts.units}->m"] if opts.units != "m" else [])
                     + (["turned Z-up -> Y-up"] if opts.up != "y" else []))


def _load(data: bytes, file_type: str, name: str, resolver: Any = None) -> trimesh.Scene:
    import trimesh

    try:
        with np.errstate(all="ignore"):
            return trimesh.load(io.BytesIO(data), file_type=file_type, force="scene",
                                process=False, resolver=resolver)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - trimesh raises any type on bad input
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise AssetError(name, f"not a readable {file_type.upper()} mesh ({detail})") from None


def _meshes(scene: trimesh.Scene, name: str) -> list[trimesh.Trimesh]:
    """Every triangle mesh of the scene with its instance transform baked in."""
    import trimesh

    with np.errstate(all="ignore"):
        meshes = [m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    if not meshes:
        raise AssetError(name, "has no triangles (point clouds and lines are not shown)")
    _bound(name, sum(len(m.faces) for m in meshes))
    for m in meshes:
        if not np.isfinite(m.vertices).all():
            raise AssetError(name, "has vertices with non-finite coordinates")
        if m.faces.min() < 0 or m.faces.max() >= len(m.vertices):
            raise AssetError(name, "has faces that index missing vertices")
    return meshes


def _repair(mesh: trimesh.Trimesh, name: str) -> dict[str, int]:
    """Repairs that cannot change what a visitor sees; returns what was done."""
    with np.errstate(all="ignore"):
        before = len(mesh.vertices)
        mesh.merge_vertices()
        merged, keep = before - len(mesh.vertices), mesh.nondegenerate_faces()
        degenerate = int((~keep).sum())
        mesh.update_faces(keep)
        # Only exact repeats (same winding): a back-to-back pair is a two-sided sheet.
        faces = mesh.faces.view(np.ndarray)
        roll = (np.argmin(faces, axis=1)[:, None] + np.arange(3)) % 3
        _, first = np.unique(np.take_along_axis(faces, roll, axis=1), axis=0,
                             return_index=True)
        unique = np.zeros(len(faces), dtype=bool)
        unique[first] = True
        duplicate = int(len(faces) - unique.sum())
        mesh.update_faces(unique)
        mesh.remove_unreferenced_vertices()
        if not len(mesh.faces):
            raise AssetError(name, "has no triangles left after removing degenerate faces")
        # A closed surface wound inside out is turned; a mixed winding is left as it
        # is (trimesh's fix needs networkx and walks every face in Python).
        rewound = len(mesh.faces) if mesh.is_watertight and mesh.volume < 0 else 0
        if rewound:
            mesh.invert()
    return {"merged vertices": merged, "degenerate faces": degenerate,
            "duplicate faces": duplicate, "faces turned outwards": rewound}


def _set_normals(mesh: trimesh.Trimesh) -> None:
    """Area-weighted smooth vertex normals, in numpy (trimesh's own wants scipy)."""
    v, f = mesh.vertices.view(np.ndarray), mesh.faces.view(np.ndarray)
    with np.errstate(all="ignore"):
        cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        normals = np.stack([np.bincount(f.ravel(), weights=np.repeat(cross[:, k], 3),
                                        minlength=len(v)) for k in range(3)], axis=1)
        length = np.linalg.norm(normals, axis=1)
        ok = length > 0
        normals[ok] /= length[ok, None]
    normals[~ok] = (0.0, 1.0, 0.0)
    mesh.vertex_normals = normals


def _group_mean(values: np.ndarray, mapping: np.ndarray, count: int) -> np.ndarray:
    """Mean of per-vertex ``values`` over the original vertices merged into each new one."""
    keep = mapping >= 0
    idx, vals = mapping[keep], np.asarray(values, dtype=np.float64)[keep]
    sums = np.stack([np.bincount(idx, weights=vals[:, k], minlength=count)
                     for k in range(vals.shape[1])], axis=1)
    n = np.bincount(idx, minlength=count)[:, None]
    return sums / np.maximum(n, 1)


def _decimate(mesh: trimesh.Trimesh, target: float) -> trimesh.Trimesh:
    """Quadric decimation to about ``target`` faces, keeping UVs and vertex colours."""
    import fast_simplification
    import trimesh
    from trimesh.visual import ColorVisuals, TextureVisuals

    goal = max(1, round(target))
    if len(mesh.faces) < _MIN_DECIMATE or goal >= len(mesh.faces):
        return mesh
    points = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int32)
    _, _, collapses = fast_simplification.simplify(points, faces, target_count=goal,
                                                   return_collapses=True)
    points, faces, mapping = fast_simplification.replay_simplification(points, faces,
                                                                       collapses)
    out = trimesh.Trimesh(points, faces, process=False)
    visual = mesh.visual

    def carried(values: np.ndarray) -> np.ndarray:
        return _group_mean(values, mapping, len(points))

    if isinstance(visual, TextureVisuals):
        uv, color = visual.uv, visual.vertex_attributes.get("color")
        out.visual = TextureVisuals(uv=None if uv is None else carried(uv),
                                    material=visual.material)
        if color is not None and len(color) == len(mesh.vertices):
            out.visual.vertex_attributes["color"] = np.round(carried(color)).astype(np.uint8)
    elif isinstance(visual, ColorVisuals) and visual.kind in ("vertex", "face"):
        colors = np.round(carried(visual.vertex_colors)).astype(np.uint8)
        out.visual = ColorVisuals(out, vertex_colors=colors)
    _set_normals(out)
    return out


def _export(meshes: list[trimesh.Trimesh]) -> bytes:
    import trimesh

    scene = trimesh.Scene()
    for i, m in enumerate(meshes):
        scene.add_geometry(m, node_name=f"part{i}", geom_name=f"part{i}")
    with np.errstate(all="ignore"):
        return scene.export(file_type="glb", include_normals=True)
