"""Materials of the GLBs that packing writes from OBJ, STL and PLY sources.

Helpers of :mod:`.mesh`:

- :func:`obj_materials` turns the MTL materials trimesh read (``SimpleMaterial``; a
  PLY's texture comes the same way, without MTL keys) into
  glTF metallic-roughness materials (``PBRMaterial``), reading what trimesh leaves
  out (alpha, normal maps, PBR keys) from the MTL text itself::

      Kd r g b        -> baseColorFactor (0.8 grey without Kd and texture)
      d a | Tr t      -> its alpha (a, or 1 - t; "Tr 1" is read as opaque, as
                         MeshLab writes it); alpha below 1 -> alphaMode BLEND; else a
                         texture with cut-out alpha -> MASK, with partial alpha -> BLEND
      map_Kd file     -> baseColorTexture (only where the mesh has UVs)
      norm|map_Bump|bump file -> normalTexture, when the image is a normal map (a
                         height map is noted and left out)
      Pr r | Ns n     -> roughnessFactor (r, or 1 - sqrt(n / 1000) as Blender reads
                         it; 1 without either)
      Pm m            -> metallicFactor (0 without it: OBJ has no metals)
      Ke r g b        -> emissiveFactor

- :func:`finish_glb` gives every primitive trimesh wrote without a material an
  explicit non-metal one, and every material an explicit ``metallicFactor``, so a
  plain scan never falls back on glTF's default material (fully metallic).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AssetError
from ._mesh_sources import SourceFolder, check_texture, map_file_name
from .checks import SOURCE_FORMATS
from .gltf import join_glb, split_glb

if TYPE_CHECKING:
    import trimesh

__all__ = ["DEFAULT_MATERIAL", "finish_glb", "mtl_look", "obj_materials"]

#: The material of a primitive whose source gives none: white, matte, not metal.
DEFAULT_MATERIAL: dict[str, Any] = {
    "name": "exhibit-default",
    "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0],
                             "metallicFactor": 0.0, "roughnessFactor": 0.8},
}
_NORMAL_KEYS = ("norm", "map_bump", "bump")



def mtl_tables(folder: SourceFolder) -> dict[str, dict[str, str]]:
    """Every ``newmtl`` of the MTL files read so far: key (lower case) -> rest of line."""
    tables: dict[str, dict[str, str]] = {}
    for rel in folder.read:
        if not rel.lower().endswith(".mtl"):
            continue
        text = (folder.root / rel).read_bytes().decode("utf-8", errors="replace")
        current: dict[str, str] | None = None
        for line in text.splitlines():
            key, _, rest = line.strip().partition(" ") if " " in line.strip() \
                else line.strip().partition("\t")
            key, rest = key.lower(), rest.strip()
            if key == "newmtl":
                current = tables.setdefault(" ".join(rest.split()), {})
            elif current is not None and key and not key.startswith("#"):
                current[key] = rest
    return tables


def mtl_look(resolver: Any, folder: SourceFolder, mtllib: str, material: str | None
             ) -> tuple[str | None, tuple[float, ...] | None]:
    """A heavy OBJ's one material (:func:`._scan_read.read_obj`): the texture its MTL's
    ``map_Kd`` names and its ``Kd`` colour, each None where the MTL gives none (or is
    missing: the mesh is kept, white).

    Raises:
        AssetError: the MTL is outside the folder or otherwise refused.
    """
    try:
        resolver.get(mtllib)
    except OSError:
        if resolver.refused:
            raise AssetError(resolver.rel, resolver.refused[0]) from None
    table = mtl_tables(folder).get(" ".join((material or "").split()), {})
    kd = _floats(table.get("kd"), 3)
    return (map_file_name(table["map_kd"]) if table.get("map_kd") else None,
            (*kd, 1.0) if kd else None)


def _floats(text: str | None, n: int) -> list[float] | None:
    try:
        values = [float(x) for x in (text or "").split()[:n]]
    except ValueError:
        return None
    if not values or not all(math.isfinite(v) for v in values):
        return None
    return (values * n)[:n] if len(values) == 1 else values if len(values) == n else None


def _is_normal_map(img: Any) -> bool:
    """A tangent-space normal map is mostly blue (z up); a height map is grey."""
    small = np.asarray(img.convert("RGB").resize((32, 32)), dtype=np.float64) / 255
    r, g, b = small.reshape(-1, 3).mean(axis=0)
    return bool(b > 0.6 and b > r + 0.1 and b > g + 0.1)


def _texture_alpha(img: Any) -> str | None:
    """MASK for a texture whose alpha is only 0 or 255 (cut-outs), BLEND for one with
    partial alpha, None (OPAQUE) for one without transparent pixels."""
    if img is None or img.mode not in ("RGBA", "LA", "PA", "P"):
        return None
    if img.mode == "P" and "transparency" not in img.info:
        return None
    alpha = np.asarray(img.convert("RGBA"))[..., 3]
    if alpha.min() == 255:
        return None
    return "MASK" if np.isin(alpha, (0, 255)).all() else "BLEND"


def obj_materials(meshes: list[trimesh.Trimesh], folder: SourceFolder,
                  note: Callable[[str], None]) -> None:
    """Replace the MTL materials of ``meshes`` by glTF PBR ones (see the module docstring).

    Raises:
        AssetError: a normal map outside the folder, or one that is not an allowed image.
    """
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import SimpleMaterial

    tables = mtl_tables(folder)
    made: dict[int, Any] = {}
    for mesh in meshes:
        visual = mesh.visual
        if not isinstance(visual, TextureVisuals) \
                or not isinstance(visual.material, SimpleMaterial):
            continue
        mat = visual.material
        has_uv = visual.uv is not None and len(visual.uv) == len(mesh.vertices)
        key = id(mat) * 2 + has_uv
        if key not in made:
            made[key] = _pbr(mat, tables.get(" ".join(str(mat.name or "").split()), {}),
                             has_uv, folder, note)
        visual.material = made[key]


def _pbr(mat: Any, table: dict[str, str], has_uv: bool, folder: SourceFolder,
         note: Callable[[str], None]) -> Any:
    from PIL import Image
    from trimesh.visual.material import PBRMaterial

    name = str(mat.name or "material")
    image = mat.image if has_uv else None
    if mat.image is not None and not has_uv:
        note(f"material {name!r}: texture left out (the mesh has no UVs)")
    kd = _floats(table.get("kd"), 3)
    base = kd or ([1.0, 1.0, 1.0] if image is not None else [0.8, 0.8, 0.8])
    alpha = 1.0
    d, tr = _floats(table.get("d"), 1), _floats(table.get("tr"), 1)
    if d is not None:
        alpha = d[0]
    elif tr is not None:
        alpha = 1.0 - tr[0] if tr[0] < 1.0 else 1.0
    alpha = min(max(alpha, 0.0), 1.0)
    pr, ns, pm = (_floats(table.get(k), 1) for k in ("pr", "ns", "pm"))
    roughness = pr[0] if pr else 1.0 - math.sqrt(min(max(ns[0], 0.0), 1000.0) / 1000.0) \
        if ns else 1.0
    emissive = _floats(table.get("ke"), 3)
    normal = None
    for key in _NORMAL_KEYS:
        if key not in table:
            continue
        file_name = map_file_name(table[key])
        try:
            data, _ = folder.get_near(file_name, name)
        except AssetError as exc:
            if "not found" not in exc.rule:
                raise AssetError(name, f"material {name!r}: {key} {exc.rule}") from None
            note(f"material {name!r}: {key} {file_name!r} not found, left out")
            break
        check_texture(data, name, f"material {name!r}: {key} {file_name!r}", SOURCE_FORMATS)
        img = Image.open(io.BytesIO(data))
        img.load()
        if not has_uv:
            break
        if _is_normal_map(img):
            normal = img
        else:
            note(f"material {name!r}: {key} {file_name!r} is a height map, left out "
                 "(glTF takes normal maps)")
        break
    return PBRMaterial(
        name=name,
        baseColorFactor=[*[min(max(c, 0.0), 1.0) for c in base], alpha],
        baseColorTexture=image,
        metallicFactor=float(min(max(pm[0], 0.0), 1.0)) if pm else 0.0,
        roughnessFactor=float(min(max(roughness, 0.0), 1.0)),
        normalTexture=normal,
        emissiveFactor=[min(max(c, 0.0), 1.0) for c in emissive]
        if emissive and any(emissive) else None,
        alphaMode="BLEND" if alpha < 1.0 else _texture_alpha(image),
        doubleSided=False,
    )


def finish_glb(glb: bytes, plain: bool = True) -> bytes:
    """A GLB that trimesh wrote, finished (see the module docstring).

    Images with the same bytes are stored once (trimesh writes a texture again for
    each material, and twice where one image serves two maps) and the binary chunk is
    rebuilt without the copies. With ``plain`` (OBJ, STL and PLY sources), every
    material gets an explicit non-metal ``metallicFactor`` and every primitive a
    material.
    """
    doc, binary = split_glb(glb, "export")
    if binary is not None:
        binary = _dedupe_images(doc, binary)
    if plain:
        _explicit_materials(doc)
    return join_glb(doc, binary)


def _explicit_materials(doc: dict[str, Any]) -> None:
    materials = doc.setdefault("materials", [])
    default = None
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if "material" not in prim:
                if default is None:
                    default = len(materials)
                    materials.append(dict(DEFAULT_MATERIAL))
                prim["material"] = default
    for mat in materials:
        mat.setdefault("pbrMetallicRoughness", {}).setdefault("metallicFactor", 0.0)
    if not materials:
        del doc["materials"]


def _dedupe_images(doc: dict[str, Any], binary: bytes) -> bytes:
    """Drop repeated images from ``doc`` and return the binary chunk without them."""
    images, views = doc.get("images", []), doc.get("bufferViews", [])

    def blob(view: int) -> bytes:
        v = views[view]
        start = v.get("byteOffset", 0)
        return binary[start:start + v["byteLength"]]

    first: dict[tuple[Any, bytes], int] = {}
    keep, where = [], {}
    for i, img in enumerate(images):
        key = (img.get("mimeType"), blob(img["bufferView"]))
        if key not in first:
            first[key] = len(keep)
            keep.append(img)
        where[i] = first[key]
    if len(keep) == len(images):
        return binary
    for tex in doc.get("textures", []):
        if "source" in tex:
            tex["source"] = where[tex["source"]]
    doc["images"] = keep
    holders: list[dict[str, Any]] = list(keep)
    for acc in doc.get("accessors", []):
        holders.append(acc)
        sparse = acc.get("sparse", {})
        holders += [sparse[k] for k in ("indices", "values") if k in sparse]
    live = sorted({h["bufferView"] for h in holders if "bufferView" in h})
    out, new_views, moved = bytearray(), [], {}
    for old in live:
        out += b"\0" * (-len(out) % 8)
        moved[old] = len(new_views)
        new_views.append({**views[old], "buffer": 0, "byteOffset": len(out)})
        out += blob(old)
    for h in holders:
        if "bufferView" in h:
            h["bufferView"] = moved[h["bufferView"]]
    doc["bufferViews"] = new_views
    doc["buffers"] = [{"byteLength": len(out)}]
    return bytes(out)
