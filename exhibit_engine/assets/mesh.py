"""Mesh processing for packing: glTF/GLB, OBJ, STL, PLY -> one self-contained GLB + LODs.

What a source becomes::

    scan.obj|stl|ply   trimesh; repaired where safe (merge vertices, drop degenerate and
                       duplicate faces, turn inside-out closed meshes); metres, Y-up,
                       smooth normals -> scan.glb
      scan.obj + .mtl  MTL materials become glTF PBR materials: Kd -> baseColorFactor,
                       d (or Tr) -> its alpha (BLEND below 1), map_Kd -> baseColorTexture,
                       a normal map in map_Bump/bump/norm -> normalTexture, Ns (or Pr)
                       -> roughness, Pm -> metallic (0 otherwise), Ke -> emissive;
                       paths with / or backslashes and spaces, inside the source folder
      scan.ply         triangle strips (element tristrips, -1 restarts) -> triangles;
                       a texture named by "comment TextureFile" -> baseColorTexture
    scan.gltf          buffers and images as data: URIs or as files beside it (inside
                       the source folder, percent-decoded) -> one self-contained scan.glb
                       (buffers merged into its BIN chunk, images embedded)
    scan.glb           checked, then kept byte for byte (colours, UVs, tangents and all);
                       ``units``/``up`` only add one root node per scene to its JSON
    > LOD_THRESHOLD    + scan.lod1.glb, scan.lod2.glb: quadric decimation to ~25% and
      triangles          ~6%, each from the level before, UVs and vertex colours carried
                         over (:func:`._scan.simplify`: blocks, in bounded memory)
    heavy: > HEAVY_TRIANGLES, binary PLY/STL, one-material OBJ, plain GLB: the bounded
      path (:mod:`._scan`): arrays from the bytes to the GLBs, up to MAX_SCAN_TRIANGLES,
      a texture of at most ``max_texture`` px; a GLB is kept, its LODs keep its looks
    .dae .3mf .fbx     refused with one line (see :data:`UNSUPPORTED`): export glTF 2.0
    .blend ...         from the tool that made them

The files a source reads (a .gltf's .bin and textures, an OBJ's .mtl and textures, a
PLY's texture) are
claimed with ``ctx.consume``: they are inside its GLB, so pack does not also put them
into the bundle as files of their own.

Output is standard glTF: metres, Y-up (panda3d-gltf turns it Z-up on load), and a pure
function of the source bytes and options (no names, clocks or ids). A mesh written from
OBJ, STL or PLY always has an explicit material (non-metal, white where the source
gives no colour), never glTF's metallic default.

Options, per file in ``bundle.toml``::

    [assets."meshes/scan.stl"]
    units = "mm"          # m (default), cm, mm, in
    up = "z"              # y (default for glTF/OBJ/PLY) or z (default for STL)
    lods = [40000, 8000]  # triangle targets; "auto" (default), or false for none
    max_texture = 4096    # longest side of a heavy scan's texture (default 4096)

A mesh whose largest side, after ``units``, is under 1 cm or over 20 m gets a note in
the pack summary that suggests a ``units`` value.

A scene may name the source file the curator has, in its ``assets`` list and anywhere
in its ``params`` (e.g. ``model = "meshes/fuze.obj"`` in ``params.artifacts``): pack
rewrites every string equal to a source path it renamed to the processed name
(``meshes/fuze.glb``).

trimesh and fast-simplification are imported only when a mesh is processed; no path
needs scipy.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AssetError
from ._mesh_materials import DEFAULT_MATERIAL, finish_glb, mtl_look, obj_materials
from ._mesh_sources import (
    UNSUPPORTED,
    FolderResolver,
    SourceFolder,
    gltf_to_glb,
    files_read,
    gltf_triangles,
    with_strips,
    wrap_glb,
)
from ._processing import Output, PackContext
from ._scan import (Scan, group_mean, lod_chain, nondegenerate, repair, simplify, vertex_normals,
                    write_glb, write_parts)
from ._scan_read import (HEAVY_TRIANGLES, estimate_triangles, gltf_looks, read_gltf, read_obj,
                         read_ply, read_stl)
from .checks import pixel_limit
from .gltf import check_gltf, split_glb
from .image import texture

if TYPE_CHECKING:
    import trimesh

__all__ = ["LOD_RATIOS", "LOD_THRESHOLD", "MAX_SCAN_TRIANGLES", "MAX_SIZE_M", "MAX_TRIANGLES",
           "MIN_SIZE_M", "MeshOptions", "SCAN_TEXTURE_SIDE", "UNITS", "UNSUPPORTED",
           "gltf_to_glb", "mesh_options", "process", "refuse"]

#: Metres per source unit.
UNITS: Mapping[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
#: Largest mesh (all parts, instances baked) that the trimesh path processes (about 1 GB
#: of memory per million triangles; a binary PLY or STL scan takes the bounded path).
MAX_TRIANGLES = 5_000_000
#: Largest binary PLY or STL scan (the bounded path, about 150 MB per million).
MAX_SCAN_TRIANGLES = 40_000_000
#: Longest side of a scan's texture, unless ``max_texture`` says otherwise.
SCAN_TEXTURE_SIDE = 4096
#: Meshes above this many triangles get LODs unless ``lods`` says otherwise.
LOD_THRESHOLD = 50_000
#: Automatic LOD targets, as fractions of the full triangle count.
LOD_RATIOS = (0.25, 0.0625)
#: A mesh smaller than this (metres, largest side, after units) gets a pack note.
MIN_SIZE_M = 0.01
#: A mesh larger than this (metres, largest side, after units) gets a pack note.
MAX_SIZE_M = 20.0
_OPTIONS = frozenset({"units", "up", "lods", "max_texture"})
_MIN_DECIMATE = 64  # parts smaller than this are kept whole in every LOD


@dataclass(frozen=True)
class MeshOptions:
    """A mesh's resolved options.

    Attributes:
        units: the source unit (a key of :data:`UNITS`).
        up: the source's up axis, ``"y"`` or ``"z"``.
        lods: explicit triangle targets, ``()`` for none, or ``None`` for automatic.
        max_texture: longest side of a scan's texture (bounded path).
    """

    units: str = "m"
    up: str = "y"
    lods: tuple[int, ...] | None = None
    max_texture: int = SCAN_TEXTURE_SIDE

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
    side = opts.get("max_texture", SCAN_TEXTURE_SIDE)
    if type(side) is not int or not 64 <= side <= 8192:
        raise AssetError(name, f"max_texture must be a whole number of pixels from 64 to "
                         f"8192, not {side!r}")
    return MeshOptions(units=units, up=up, lods=resolved, max_texture=side)


def process(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """Pack one mesh source: the GLB first, then its LODs (see the module docstring).

    Raises:
        BundleError: one line naming the source and the rule (malformed file, too many
            triangles, a URI that leaves the file, a bad option).
    """
    ext = PurePosixPath(rel).suffix.lower()
    folder = SourceFolder(ctx.src, (ctx.src / rel).parent)
    try:
        if not data.strip():
            raise AssetError(rel, f"is an empty file ({len(data)} bytes): no mesh in it")
        opts = mesh_options(ctx.options(rel), ext, rel)
        stem = str(PurePosixPath(rel).with_suffix(""))
        scan = _read_scan(ext, data, rel, folder)
        if scan is not None:
            return _from_scan(ctx, rel, stem, scan, opts, folder)
        if ext in (".glb", ".gltf"):
            primary, meshes = _from_gltf(ctx, rel, data, ext, opts, folder)
        else:
            primary, meshes = _from_trimesh(ctx, rel, data, ext, opts, folder)
        outputs = [Output(f"{stem}.glb", primary)]
        if isinstance(meshes, _Parts):
            return _gltf_lods(ctx, rel, stem, outputs, meshes, opts)
        total = sum(len(m.faces) for m in meshes)
        made, lod = [], meshes
        for i, target in enumerate(_lod_targets(opts, total), start=1):
            # Each level from the one before (a cascade): the full mesh is read once.
            lod = [_decimate(m, target * len(full.faces) / total)
                   for m, full in zip(lod, meshes, strict=True)]
            made.append(sum(len(m.faces) for m in lod))
            outputs.append(Output(f"{stem}.lod{i}.glb",
                                  _export(lod, plain=ext not in (".glb", ".gltf"))))
    except AssetError as exc:
        raise ctx.fail(rel, exc.rule) from None
    except (ValueError, IndexError, KeyError, TypeError, struct.error):
        # trimesh meeting data that parsed but does not hold together (e.g. an OBJ
        # whose vertices have two coordinates): the curator gets words, not internals.
        raise ctx.fail(rel, "not a usable mesh (malformed or inconsistent data)") from None
    finally:  # what it read is its own, even when it failed: not reported twice
        for used in folder.read:
            ctx.consume(used, rel)
    if made:
        ctx.note(rel, f"{len(made)} LODs: {', '.join(str(n) for n in made)} tris "
                 f"(from {total})")
    size = _size_note(meshes, opts, rel)
    if size:
        ctx.note(rel, size)
    return outputs


def refuse(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """The processor of :data:`UNSUPPORTED` formats: one line saying what to export.

    Raises:
        BundleError: always.
    """
    ext = PurePosixPath(rel).suffix.lower()
    raise ctx.fail(rel, f"{UNSUPPORTED.get(ext, ext)} ({ext}) is not supported: export "
                   "glTF 2.0 (.glb) from your tool")


def _size_note(meshes: list[trimesh.Trimesh], opts: MeshOptions, rel: str) -> str | None:
    """A hint when the mesh's largest side, in metres, is implausible for an artifact."""
    low = np.min([m.bounds[0] for m in meshes], axis=0)
    high = np.max([m.bounds[1] for m in meshes], axis=0)
    return _extent_note(high - low, opts, rel)


def _extent_note(extent: np.ndarray, opts: MeshOptions, rel: str) -> str | None:
    side = float(extent.max())
    if not math.isfinite(side) or MIN_SIZE_M <= side <= MAX_SIZE_M or side <= 0:
        return None
    raw = side / opts.scale  # in the file's own unit
    best = min(UNITS, key=lambda u: abs(math.log(raw * UNITS[u] / 0.5)))
    axis = "tall" if int(np.argmax(extent)) == 1 else "across"
    size = f"{side * 100:.3g} cm" if side < 1 else f"{side:.3g} m"
    hint = (f'is it in {best}? set [assets."{rel}"] units = "{best}"' if best != opts.units
            else "check its units")
    return f"{size} {axis} after units = {opts.units}: {hint}"


def _lod_targets(opts: MeshOptions, total: int) -> list[int]:
    if opts.lods is None:
        return [round(total * r) for r in LOD_RATIOS] if total > LOD_THRESHOLD else []
    return [n for n in opts.lods if n < total]


# --------------------------------------------------------------------------- glTF / GLB


def _from_gltf(ctx: PackContext, rel: str, data: bytes, ext: str, opts: MeshOptions,
               folder: SourceFolder) -> tuple[bytes, list[trimesh.Trimesh]]:
    glb = data if ext == ".glb" else gltf_to_glb(data, rel, folder)
    doc, binary = split_glb(glb, rel)
    with pixel_limit(None):  # check_gltf bounds embedded images by their headers itself
        check_gltf(doc, binary, rel)
    claimed = gltf_triangles(doc, rel)
    parts = read_gltf(doc, binary, rel) if claimed > HEAVY_TRIANGLES else None
    if parts is not None:       # a heavy GLB: arrays from the checked views, no trimesh
        _bound(rel, claimed, MAX_SCAN_TRIANGLES)
        meshes: Any = _Parts(parts, gltf_looks(doc, binary))
        degenerate = sum(int((~nondegenerate(s.positions, s.faces)).sum()) for s, _ in parts)
    else:
        _bound(rel, claimed)
        meshes = _meshes(_load(glb, "glb", rel), rel)  # proves every accessor is readable
        degenerate = sum(int((~m.nondegenerate_faces()).sum()) for m in meshes)
    if degenerate:
        ctx.note(rel, f"{degenerate} zero-area faces left as they are (GLB kept)")
    if ext == ".gltf" and folder.read:
        ctx.note(rel, f"rewritten as one GLB with {files_read(folder.read)} embedded")
    elif ext == ".gltf":
        ctx.note(rel, "embedded glTF rewritten as GLB")
    if opts.units != "m" or opts.up != "y":
        glb = wrap_glb(doc, binary, opts.scale, opts.up, rel)
        ctx.note(rel, _describe(opts) + " (one root node added)")
        matrix = opts.matrix()
        for m in meshes.parts if isinstance(meshes, _Parts) else meshes:
            if isinstance(m, tuple):
                m[0].positions[:] = m[0].positions @ matrix[:3, :3].T.astype(np.float32)
            else:
                m.apply_transform(matrix)
    return glb, meshes


@dataclass
class _Parts:
    """A heavy GLB's primitives as arrays (:func:`._scan_read.read_gltf`) and what its
    LODs keep of it (materials, textures, images)."""

    parts: list[tuple[Scan, int | None]]
    looks: dict[str, Any]


# --------------------------------------------------------------------------- OBJ / STL / PLY


def _from_trimesh(ctx: PackContext, rel: str, data: bytes, ext: str, opts: MeshOptions,
                  folder: SourceFolder) -> tuple[bytes, list[trimesh.Trimesh]]:
    _bound(rel, estimate_triangles(ext, data))
    resolver = FolderResolver(folder, rel) if ext in (".obj", ".ply") else None
    scene = _load(data, ext[1:], rel, resolver)
    if resolver is not None and resolver.refused:
        raise AssetError(rel, resolver.refused[0])
    if resolver is not None and resolver.renamed:
        ctx.note(rel, "absolute paths read as the file of that name in the source folder: "
                 + ", ".join(sorted(set(resolver.renamed))))
    if resolver is not None and resolver.missing:
        ctx.note(rel, f"not found, left out: {', '.join(sorted(set(resolver.missing)))}")
    if ext == ".ply":
        scene = with_strips(scene, rel)
    meshes = _meshes(scene, rel)
    counts = dict.fromkeys(("merged vertices", "degenerate faces", "duplicate faces",
                            "faces turned outwards"), 0)
    matrix = opts.matrix()
    for m in meshes:
        for key, n in _repair(m, rel).items():
            counts[key] += n
        m.apply_transform(matrix)
        _set_normals(m)
    if resolver is not None:
        obj_materials(meshes, folder, lambda text: ctx.note(rel, text))
        if folder.read:
            ctx.note(rel, f"materials: {files_read(folder.read)} embedded")
    done = [f"{n} {key}" for key, n in counts.items() if n]
    if done:
        ctx.note(rel, "repaired: " + ", ".join(done))
    if opts.units != "m" or opts.up != "y":
        ctx.note(rel, _describe(opts))
    return _export(meshes), meshes


# --------------------------------------------------------------------------- heavy scans


def _read_scan(ext: str, data: bytes, rel: str, folder: SourceFolder) -> Scan | None:
    """A binary PLY or STL, or a one-material OBJ, of more than :data:`HEAVY_TRIANGLES`
    triangles as arrays (the bounded path), or None for the trimesh path."""
    count = estimate_triangles(ext, data) if ext in (".ply", ".stl", ".obj") else 0
    if count <= HEAVY_TRIANGLES:
        return None
    if count > MAX_SCAN_TRIANGLES:
        raise AssetError(rel, f"{count} triangles is more than the limit of "
                         f"{MAX_SCAN_TRIANGLES}")
    if ext != ".obj":
        return read_ply(data, rel) if ext == ".ply" else read_stl(data, rel)
    found = read_obj(data, rel)
    if found is None:
        return None
    scan, mtllib, material = found
    if mtllib is not None:      # its MTL's colour and texture (read from the folder only)
        scan.texture, scan.factor = mtl_look(FolderResolver(folder, rel), folder, mtllib,
                                             material)
    return scan


def _from_scan(ctx: PackContext, rel: str, stem: str, scan: Scan, opts: MeshOptions,
               folder: SourceFolder) -> list[Output]:
    """The bounded path (:mod:`._scan`): repair, metres and Y-up, normals, the GLB and
    its LODs, each level simplified from the one before."""
    # The texture first: its decoded pixels come and go before the mesh work peaks.
    image = _scan_texture(ctx, rel, scan, opts, folder)
    if folder.read and rel.lower().endswith(".obj"):
        ctx.note(rel, f"materials: {files_read(folder.read)} embedded")
    scan, counts = repair(scan, rel)
    done = [f"{n} {key}" for key, n in counts.items() if n]
    if done:
        ctx.note(rel, "repaired: " + ", ".join(done))
    matrix = opts.matrix()[:3, :3].astype(np.float32)
    for s in range(0, len(scan.positions), 1 << 20):
        scan.positions[s:s + (1 << 20)] = scan.positions[s:s + (1 << 20)] @ matrix.T
    if opts.units != "m" or opts.up != "y":
        ctx.note(rel, _describe(opts))
    scan.normals = vertex_normals(scan.positions, scan.faces)
    material = dict(DEFAULT_MATERIAL, pbrMetallicRoughness={
        "baseColorFactor": list(scan.factor or (1.0, 1.0, 1.0, 1.0)), "metallicFactor": 0.0,
        "roughnessFactor": 1.0 if image else 0.8})
    outputs = [Output(f"{stem}.glb", write_glb(scan, image, material))]
    total = len(scan.faces)
    levels = lod_chain([(scan, 0)], _lod_targets(opts, total))
    outputs += [Output(f"{stem}.lod{i}.glb", write_glb(lod[0][0], image, material))
                for i, lod in enumerate(levels, start=1)]
    if levels:
        ctx.note(rel, f"{len(levels)} LODs: "
                 f"{', '.join(str(len(lod[0][0].faces)) for lod in levels)} tris (from {total})")
    size = _extent_note(scan.positions.max(axis=0) - scan.positions.min(axis=0), opts, rel)
    if size:
        ctx.note(rel, size)
    return outputs


def _gltf_lods(ctx: PackContext, rel: str, stem: str, outputs: list[Output], heavy: _Parts,
               opts: MeshOptions) -> list[Output]:
    """A heavy GLB's LODs in bounded memory, with its own materials and textures."""
    total = sum(len(s.faces) for s, _ in heavy.parts)
    levels = lod_chain(heavy.parts, _lod_targets(opts, total))
    # (finish_glb stores an image the source repeats once, as the trimesh path does)
    outputs += [Output(f"{stem}.lod{i}.glb", finish_glb(write_parts(lod, heavy.looks), False))
                for i, lod in enumerate(levels, start=1)]
    if levels:
        ctx.note(rel, f"{len(levels)} LODs: " + ", ".join(
            str(sum(len(s.faces) for s, _ in lod)) for lod in levels) + f" tris (from {total})")
    size = _extent_note(np.max([s.positions.max(axis=0) for s, _ in heavy.parts], axis=0)
                        - np.min([s.positions.min(axis=0) for s, _ in heavy.parts], axis=0),
                        opts, rel)
    if size:
        ctx.note(rel, size)
    return outputs


def _scan_texture(ctx: PackContext, rel: str, scan: Scan, opts: MeshOptions,
                  folder: SourceFolder) -> tuple[bytes, str] | None:
    """The texture a scan names, as PNG or JPEG no larger than ``max_texture``; None
    when it names none, has no UVs, or the file is missing (noted)."""
    if scan.texture is None:
        return None
    if scan.uv is None:
        ctx.note(rel, f"texture {scan.texture!r} left out: the mesh has no UVs")
        return None
    resolver = FolderResolver(folder, rel)
    try:
        data = resolver.get(scan.texture)
    except OSError:
        if resolver.refused:
            raise AssetError(rel, resolver.refused[0]) from None
        ctx.note(rel, f"not found, left out: {scan.texture}")
        return None
    if resolver.renamed:
        ctx.note(rel, "absolute paths read as the file of that name in the source folder: "
                 + ", ".join(resolver.renamed))
    return texture(ctx, rel, data, opts.max_texture)


def _bound(name: str, triangles: int, limit: int | None = None) -> None:
    if triangles > (limit or MAX_TRIANGLES):
        raise AssetError(name, f"{triangles} triangles is more than the limit of "
                         f"{limit or MAX_TRIANGLES}" + ("" if limit else
                         f" for this layout; a binary PLY, STL or plain GLB takes up to "
                         f"{MAX_SCAN_TRIANGLES} (export the scan as binary PLY or GLB)"))


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
        raise AssetError(name, f"not a readable {file_type.upper()} mesh"
                         f"{_detail(exc)}") from None


def _detail(exc: Exception) -> str:
    """What a loader's exception says, if it is words for a curator (not internals)."""
    text = str(exc).splitlines()[0][:120] if str(exc).strip() else ""
    internal = ("0x", "Traceback", "No module named", "object", "Error", "'", "index")
    if isinstance(exc, (LookupError, AttributeError, TypeError, ImportError)) or not text \
            or any(w in text for w in internal):
        return " (malformed or truncated)"
    return f" ({text})"


def _meshes(scene: trimesh.Scene, name: str) -> list[trimesh.Trimesh]:
    """Every triangle mesh of the scene with its instance transform baked in."""
    import trimesh

    with np.errstate(all="ignore"):
        meshes = [m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    if not meshes:
        raise AssetError(name, "has no triangles (point clouds and lines are not shown)")
    _bound(name, sum(len(m.faces) for m in meshes))
    for m in meshes:
        if m.vertices.ndim != 2 or m.vertices.shape[1] != 3:
            raise AssetError(name, "has vertices without three coordinates")
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


def _decimate(mesh: trimesh.Trimesh, target: float) -> trimesh.Trimesh:
    """Quadric decimation to about ``target`` faces (:func:`._scan.simplify`, in bounded
    memory), keeping UVs and vertex colours."""
    import trimesh
    from trimesh.visual import ColorVisuals, TextureVisuals

    goal = max(1, round(target))
    if len(mesh.faces) < _MIN_DECIMATE or goal >= len(mesh.faces):
        return mesh
    points, faces, mapping = simplify(mesh.vertices.view(np.ndarray),
                                      mesh.faces.view(np.ndarray), goal)
    out = trimesh.Trimesh(points, faces, process=False)
    visual = mesh.visual

    def carried(values: np.ndarray) -> np.ndarray:
        return group_mean(values, mapping, len(points))

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


def _export(meshes: list[trimesh.Trimesh], plain: bool = True) -> bytes:
    """One GLB of ``meshes``; ``plain`` (OBJ/STL/PLY sources) makes materials explicit."""
    import trimesh

    scene = trimesh.Scene()
    for i, m in enumerate(meshes):
        scene.add_geometry(m, node_name=f"part{i}", geom_name=f"part{i}")
    with np.errstate(all="ignore"):
        glb = scene.export(file_type="glb", include_normals=True)
    return finish_glb(glb, plain)
