"""Mesh sources that span several files, or that trimesh reads only half-way.

Helpers of :mod:`.mesh` (which documents what each source becomes):

- :class:`SourceFolder` reads the files a source names (a ``.gltf``'s buffers and
  images, an OBJ's ``.mtl`` and textures) from inside the source folder only: no
  ``..`` out of it, no absolute paths, no ``file:``/``http:`` or other schemes;
  URIs are percent-decoded, MTL paths may use ``\\``, names may hold spaces. Each
  file read is remembered, so pack can claim it (``ctx.consume``) and not pack it twice.
- :func:`gltf_to_glb` turns a ``.gltf`` (data: URIs or external files) into one
  self-contained GLB: every buffer merged into the BIN chunk, every image embedded as
  a bufferView.
- :class:`FolderResolver` is the resolver trimesh reads an OBJ's or PLY's files through.
- :func:`strip_triangles` turns PLY triangle strips (``element tristrips``, ``-1``
  restarts) into triangles with the strips' alternating winding.
- :data:`UNSUPPORTED` names the mesh formats refused at pack with one line.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import numpy as np

from ..errors import AssetError
from .checks import BUNDLE_IMAGE_FORMATS, SOURCE_FORMATS, image_header
from .gltf import NORMALISE_NODE, join_glb

if TYPE_CHECKING:
    import trimesh

__all__ = ["FolderResolver", "SourceFolder", "UNSUPPORTED", "check_texture", "files_read",
           "gltf_to_glb", "gltf_triangles", "is_absolute", "map_file_name", "ply_strips",
           "strip_triangles", "with_strips", "wrap_glb"]

#: Mesh formats a curator may bring that packing refuses, by extension, with the name
#: the refusal gives them (glTF 2.0 is what every tool can export instead).
UNSUPPORTED: Mapping[str, str] = {
    ".dae": "COLLADA", ".3mf": "3MF", ".fbx": "FBX", ".blend": "Blender",
    ".3ds": "3DS", ".max": "3ds Max", ".usdz": "USDZ", ".usd": "USD", ".usda": "USD",
    ".usdc": "USD", ".abc": "Alembic", ".c4d": "Cinema 4D", ".ma": "Maya",
    ".mb": "Maya", ".skp": "SketchUp", ".wrl": "VRML", ".x3d": "X3D", ".lwo": "LightWave",
    ".ifc": "IFC",
}
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}
_GPU_TEXTURES = {b"\xabKTX 20\xbb": "KTX2/BasisU", b"\xabKTX 11\xbb": "KTX", b"DDS ": "DDS"}
# MTL map options and how many values each takes (-o/-s/-t take 1 to 3 numbers).
_MAP_OPTIONS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1,
                "-imfchan": 1, "-mm": 2, "-texres": 1, "-type": 1, "-o": 3, "-s": 3, "-t": 3}


class SourceFolder:
    """Reads the files one source names, confined to the source folder.

    Attributes:
        root: the source folder.
        here: the folder of the source that names the files.
        read: the files read so far, as paths relative to ``root`` (POSIX).
    """

    def __init__(self, root: Path, here: Path) -> None:
        self.root, self.here = root.resolve(), here.resolve()
        self.read: list[str] = []

    def path(self, name: str, what: str, here: Path | None = None) -> Path:
        """The file ``name`` (a relative path or URI) inside the source folder.

        Args:
            name: the path as the source writes it (``\\`` is read as ``/``).
            what: the name errors carry.
            here: the folder ``name`` is relative to (default: :attr:`here`).

        Raises:
            AssetError: an absolute path, a scheme, a path out of the folder, or no file.
        """
        clean = name.strip().strip('"').replace("\\", "/")
        if not clean:
            raise AssetError(what, "names an empty path")
        if is_absolute(clean):
            raise AssetError(what, f"{name[:80]!r} is not a relative path inside the source "
                             "folder (no absolute paths, drives or URI schemes)")
        path = ((here or self.here) / clean).resolve()
        if not path.is_relative_to(self.root):
            raise AssetError(what, f"{name[:80]!r} is outside the source folder")
        if not path.is_file():
            raise AssetError(what, f"{name[:80]!r} not found in the source folder")
        return path

    def get(self, name: str, what: str = "", here: Path | None = None) -> bytes:
        """The bytes of ``name`` (see :meth:`path`), remembered in :attr:`read`."""
        path = self.path(name, what or name, here)
        rel = path.relative_to(self.root).as_posix()
        if rel not in self.read:
            self.read.append(rel)
        return path.read_bytes()


    def get_near(self, name: str, what: str) -> tuple[bytes, bool]:
        """A file an OBJ or MTL names: beside the OBJ, else beside an MTL read so far.

        An absolute path is never read; the file of that name beside them is. Returns
        the bytes and whether the name was such an absolute path.

        Raises:
            AssetError: a path out of the folder, or no such file (rule: "not found").
        """
        clean = name.replace("\\", "/")
        absolute = is_absolute(clean)
        if absolute:
            clean = clean.rsplit("/", 1)[-1]
        bases = [self.here] + [(self.root / r).parent for r in self.read
                               if r.lower().endswith(".mtl")]
        for here in dict.fromkeys(bases):
            try:
                return self.get(clean, what, here), absolute
            except AssetError as exc:
                if "not found" not in exc.rule:
                    raise
        raise AssetError(what, f"{name[:80]!r} not found in the source folder")


def check_texture(data: bytes, name: str, where: str,
                  formats: frozenset[str] = BUNDLE_IMAGE_FORMATS) -> str:
    """A texture's format, from its header (:func:`~.checks.image_header`), or one line.

    GPU texture containers (KTX2/BasisU, KTX, DDS) are named as such: glTF sources
    must carry PNG or JPEG images for panda3d to read.

    Raises:
        AssetError: ``where`` and the rule, with no Python internals in it.
    """
    for magic, kind in _GPU_TEXTURES.items():
        if data.startswith(magic):
            raise AssetError(name, f"{where}: {kind} textures are not supported (use PNG "
                             "or JPEG images)")
    try:
        fmt, _, _ = image_header(data, name, formats=formats)
    except AssetError as exc:   # image_header's rule carries no internals (errors.plain)
        raise AssetError(name, f"{where}: {exc.rule}") from None
    return fmt


def is_absolute(name: str) -> bool:
    """Whether a path (``/`` separated) is absolute, has a drive or a URI scheme."""
    return name.startswith("/") or ":" in name.split("/", 1)[0]


def _data_uri(uri: str, where: str, name: str) -> bytes:
    head, _, payload = uri.partition(",")
    try:
        if not head.endswith(";base64"):
            raise binascii.Error("not base64")
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise AssetError(name, f"{where}.uri: bad data URI") from None


def gltf_to_glb(data: bytes, name: str, folder: SourceFolder | None = None) -> bytes:
    """Rewrite a ``.gltf`` as one self-contained GLB, losslessly.

    Buffers given as ``data:`` URIs or, with ``folder``, as relative URIs of files in
    the source folder are merged into the BIN chunk (each aligned to 8 bytes, so
    every accessor keeps its alignment); images given as relative URIs are checked
    by their headers (PNG or JPEG, bounded) and embedded as bufferViews. Without
    ``folder`` nothing outside the file is read.

    Raises:
        AssetError: not JSON, a URI that leaves the folder or names no file, a buffer
            shorter than its byteLength, or a texture that is not an allowed image.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AssetError(name, f"not valid glTF JSON ({exc})") from None
    buffers, views = (doc.get("buffers", []), doc.get("bufferViews", [])) if isinstance(
        doc, dict) else (None, None)
    images = doc.get("images", []) if isinstance(doc, dict) else None
    if not isinstance(buffers, list) or not isinstance(views, list) \
            or not isinstance(images, list):
        raise AssetError(name, "not a glTF object with lists of buffers, bufferViews "
                         "and images")
    blob, offsets = bytearray(), []
    for i, buf in enumerate(buffers):
        where = f"buffers[{i}]"
        chunk = _external(buf, where, name, folder)
        length = buf.get("byteLength") if isinstance(buf, dict) else None
        if type(length) is not int or length < 0 or length > len(chunk):
            raise AssetError(name, f"{where}: byteLength {length!r} does not fit the "
                             f"{len(chunk)} bytes of its data")
        blob += b"\0" * (-len(blob) % 8)
        offsets.append(len(blob))
        blob += chunk[:length]
    for i, view in enumerate(views):
        b = view.get("buffer") if isinstance(view, dict) else None
        start = view.get("byteOffset", 0) if isinstance(view, dict) else None
        if type(b) is not int or not 0 <= b < len(offsets) or type(start) is not int:
            raise AssetError(name, f"bufferViews[{i}] does not name a buffer and offset")
        view["buffer"], view["byteOffset"] = 0, start + offsets[b]
    for i, img in enumerate(images):
        uri = img.get("uri") if isinstance(img, dict) else None
        if not isinstance(uri, str) or uri.startswith("data:"):
            continue  # embedded already (or broken: check_gltf names it)
        where = f"images[{i}]"
        pixels = _external(img, where, name, folder)
        fmt = check_texture(pixels, name, f"{where} ({unquote(uri)[:80]})")
        blob += b"\0" * (-len(blob) % 8)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(pixels)})
        blob += pixels
        del img["uri"]
        img["bufferView"], img["mimeType"] = len(views) - 1, _MIME[fmt]
    if views:
        doc["bufferViews"] = views
    if blob or buffers:
        doc["buffers"] = [{"byteLength": len(blob)}]
    return join_glb(doc, bytes(blob) if blob or buffers else None)


def _external(obj: Any, where: str, name: str, folder: SourceFolder | None) -> bytes:
    """The bytes a buffer or image ``uri`` names: a data: URI or a file of the folder."""
    uri = obj.get("uri") if isinstance(obj, dict) else None
    if isinstance(uri, str) and uri.startswith("data:"):
        return _data_uri(uri, where, name)
    if not isinstance(uri, str) or folder is None:
        raise AssetError(name, f"{where}.uri: external URI {str(uri)[:80]!r} is not "
                         "allowed (a .gltf must embed its buffers as data: URIs)")
    try:
        return folder.get(unquote(uri), name)
    except AssetError as exc:
        raise AssetError(name, f"{where}.uri: external URI {exc.rule}") from None


def strip_triangles(flat: np.ndarray) -> np.ndarray:
    """Triangles of triangle strips given as one index array with ``-1`` restarts.

    Triangle ``k`` of a strip is ``(s[k], s[k+1], s[k+2])`` for even ``k`` and
    ``(s[k+1], s[k], s[k+2])`` for odd ``k``, so every triangle keeps the strip's
    facing (as OpenGL's GL_TRIANGLE_STRIP). Degenerate triangles, which strips use to
    stitch, are dropped.
    """
    flat = np.asarray(flat, dtype=np.int64).ravel()
    n = len(flat)
    if n < 3:
        return np.zeros((0, 3), dtype=np.int64)
    index = np.arange(n)
    restart = np.where(flat < 0, index, -1)
    last = np.maximum.accumulate(restart)  # the latest -1 at or before each index
    pos = index - last - 1  # position inside its strip
    j = np.nonzero((flat >= 0) & (pos >= 2))[0]
    a, b, c = flat[j - 2], flat[j - 1], flat[j]
    odd = (pos[j] % 2) == 1
    tri = np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1)
    keep = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
    return tri[keep]


def ply_strips(raw: Mapping[str, Any]) -> np.ndarray | None:
    """The flat strip index array of a PLY's ``tristrips`` element, as trimesh parsed it.

    Returns ``None`` when the file has no strips.
    """
    element = raw.get("tristrips") if isinstance(raw, Mapping) else None
    data = element.get("data") if isinstance(element, Mapping) else None
    if data is None:
        return None
    if isinstance(data, Mapping):
        rows = data.get("vertex_indices", data.get("vertex_index"))
    else:
        names = getattr(getattr(data, "dtype", None), "names", None) or ()
        key = next((k for k in ("vertex_indices", "vertex_index") if k in names), None)
        rows = data[key] if key else None
    if rows is None:
        return None
    parts: list[np.ndarray] = []
    for row in rows:
        items = row[1] if getattr(row, "dtype", None) is not None and row.dtype.names \
            else row
        parts += [np.asarray(items, dtype=np.int64).ravel(), np.array([-1])]
    return np.concatenate(parts) if parts else None


def map_file_name(rest: str) -> str:
    """The file an OBJ or MTL line names: map options (``-s 1 1 1 tex.png``) skipped,
    quotes stripped; ``\\`` is turned into ``/`` by :meth:`SourceFolder.path`."""
    words = rest.split()
    i = 0
    while i < len(words) and words[i].lower() in _MAP_OPTIONS:
        most = _MAP_OPTIONS[words[i].lower()]
        i += 1
        taken = 0
        while i < len(words) and taken < most:
            if most == 3 and taken and not _number(words[i]):
                break
            i += 1
            taken += 1
    return (" ".join(words[i:]) if i else rest.strip()).strip('"')


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


class FolderResolver:
    """Lets trimesh read an OBJ's material and textures (or a PLY's texture), only from
    inside the source folder.

    A texture is looked for beside the OBJ, then beside its MTL; an absolute path (as
    exporters on Windows write them, ``C:\\Users\\...\\wood.jpg``) is never read, but
    a file of that name beside the OBJ or MTL is. trimesh swallows resolver errors,
    so refusals are recorded and raised afterwards; a missing file is only noted (the
    mesh is kept, without that material). Texture options of an MTL map line
    (``-s 1 1 1``, ``-bm 0.5``) are skipped.
    """

    def __init__(self, folder: SourceFolder, rel: str) -> None:
        self.folder, self.rel = folder, rel
        self.refused: list[str] = []  # rules broken: fail the pack
        self.missing: list[str] = []  # names not found: noted
        self.renamed: list[str] = []  # absolute paths read by their file name

    def get(self, name: str) -> bytes:
        """The bytes of a file named by the OBJ or its MTL, after the checks above."""
        name = map_file_name(name)
        try:
            data, absolute = self.folder.get_near(name, self.rel)
        except AssetError as exc:
            if "not found" in exc.rule:
                self.missing.append(name)
            else:
                self.refused.append(f"references {exc.rule}")
            raise OSError(name) from None
        if absolute:
            self.renamed.append(name)
        try:  # trimesh hands textures straight to Pillow: check their headers first
            if not name.lower().endswith(".mtl"):
                check_texture(data, name, f"texture {name!r}", SOURCE_FORMATS)
        except AssetError as exc:
            self.refused.append(exc.rule)
            raise OSError(name) from None
        return data

    __getitem__ = get


def with_strips(scene: trimesh.Scene, rel: str) -> trimesh.Scene:
    """A PLY scene whose point cloud has triangle strips, turned into a triangle mesh."""
    import trimesh

    for key, geom in list(scene.geometry.items()):
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            continue
        strips = ply_strips(getattr(geom, "metadata", {}).get("_ply_raw", {}))
        if strips is None:
            continue
        vertices = np.asarray(geom.vertices, dtype=np.float64)
        faces = strip_triangles(strips)
        if len(faces) and (faces.max() >= len(vertices)):
            raise AssetError(rel, "has triangle strips that index missing vertices")
        colors = getattr(geom, "colors", None)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if colors is not None and len(colors) == len(vertices):
            mesh.visual.vertex_colors = colors
        scene.geometry[key] = mesh
    return scene


_SQRT_HALF = math.sqrt(0.5)


def wrap_glb(doc: dict[str, Any], binary: bytes | None, scale: float, up: str, name: str
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
            nodes.append({"name": NORMALISE_NODE, "children": roots,
                          "rotation": [-_SQRT_HALF, 0.0, 0.0, _SQRT_HALF] if up == "z"
                          else [0.0, 0.0, 0.0, 1.0], "scale": [scale] * 3})
    return join_glb(doc, binary)


def gltf_triangles(doc: dict[str, Any], name: str) -> int:
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


def files_read(rels: list[str]) -> str:
    """The files a source read, for its pack note: names, and images counted."""
    images = [r for r in rels if PurePosixPath(r).suffix.lower() not in (".bin", ".mtl")]
    others = [PurePosixPath(r).name for r in rels if r not in images]
    return ", ".join(others + ([f"{len(images)} image{'s' if len(images) != 1 else ''}"]
                               if images else []))
