"""glTF materials of a converted model, laid out for our PBR shaders.

panda3d-gltf turns each glTF material into a Panda3D :class:`Material` (base colour,
metallic, roughness and emissive factors) and texture stages chosen by mode, with a
:class:`TexMatrixAttrib` for ``KHR_texture_transform``, an AlphaTestAttrib for MASK and a
TransparencyAttrib for BLEND; it drops ``occlusionTexture``, ``normalTexture.scale``,
``occlusionTexture.strength`` and ``KHR_materials_emissive_strength``.
:func:`prepare_materials` completes every geom's state, once, right after conversion,
so that a shader reads each geom's own material from its state (a GeomNode holds geoms
with different materials) and nothing is done per frame:

- the material's textures as stages by mode, in a fixed order (sort): base colour
  (``M_modulate``, sRGB: ``p3d_TextureModulate``), metallic-roughness (``M_selector``,
  B metal, G rough: ``p3d_TextureSelector``), normal (``M_normal``), emissive
  (``M_emission``, sRGB) and occlusion (``M_gloss``, R: ``p3d_TextureGloss``). Panda3D
  binds a neutral texture for a stage a geom lacks (white; a flat normal). The first
  stage's UV set and texture matrix (``p3d_MultiTexCoord0``, ``p3d_TextureMatrix``)
  serve every texture of the material: glTF allows each its own, which this does not
  honour;
- ``normalTexture.scale`` and ``occlusionTexture.strength`` other than 1 baked into a
  copy of that texture, and the emissive factor multiplied by ``emissiveStrength``;
- a Material with the glTF defaults where a primitive has none, and a base colour for a
  legacy (diffuse) material; OPAQUE materials lose any alpha test or blending.

Everything it writes is plain Panda3D state (textures, texture matrices, materials),
so it survives the runtime's BAM model cache; shader inputs would not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from panda3d.core import (
    AlphaTestAttrib,
    GeomNode,
    InternalName,
    LColor,
    Mat3,
    Material,
    MaterialAttrib,
    NodePath,
    RenderState,
    TexMatrixAttrib,
    Texture,
    TextureAttrib,
    TextureStage,
    TransformState,
    TransparencyAttrib,
)

__all__ = ["SLOTS", "prepare_materials"]

#: Texture stages in their sort order, with the mode each is bound by.
SLOTS = (("base_color", TextureStage.M_modulate), ("metal_rough", TextureStage.M_selector),
         ("normal", TextureStage.M_normal), ("emission", TextureStage.M_emission),
         ("occlusion", TextureStage.M_gloss))
_SLOT_OF_MODE = {mode: k for k, (_, mode) in enumerate(SLOTS[:4])}
_stages: dict[tuple[int, str], TextureStage] = {}
_UV0 = InternalName.get_texcoord_name("0")


def _stage(slot: int, texcoord: InternalName) -> TextureStage:
    key = (slot, texcoord.get_name())
    stage = _stages.get(key)
    if stage is None:
        name, mode = SLOTS[slot]
        stage = TextureStage(f"pbr:{name}:{texcoord.get_name()}")
        stage.set_sort(slot)
        stage.set_mode(mode)
        stage.set_texcoord_name(texcoord)
        _stages[key] = stage
    return stage


def _number(x: Any, default: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else default


def _rescaled(tex: Texture, fn: Callable[[np.ndarray], np.ndarray]) -> Texture:
    """A copy of ``tex`` with its pixels (float 0..1, RGB or RGBA) passed through ``fn``."""
    fmt = "RGBA" if tex.get_num_components() == 4 else "RGB"
    data = tex.get_ram_image_as(fmt)
    if not data or tex.get_component_width() != 1:
        return tex
    px = np.frombuffer(bytes(data), np.uint8).reshape(-1, len(fmt)).astype(np.float64) / 255.0
    out = tex.make_copy()
    out.set_ram_image_as(np.clip(np.rint(fn(px) * 255.0), 0, 255).astype(np.uint8).tobytes(),
                         fmt)
    return out


def _normal_scaled(tex: Texture, scale: float) -> Texture:
    def fn(px: np.ndarray) -> np.ndarray:
        px = px.copy()
        px[:, :2] = 0.5 + (px[:, :2] - 0.5) * scale
        return px
    return _rescaled(tex, fn)


def _occlusion_scaled(tex: Texture, strength: float) -> Texture:
    def fn(px: np.ndarray) -> np.ndarray:
        px = px.copy()
        px[:, 0] = 1.0 + strength * (px[:, 0] - 1.0)
        return px
    return _rescaled(tex, fn)


def _material(state: RenderState, gltf_mat: Mapping[str, Any] | None) -> Material:
    """The geom's Material with the glTF defaults filled in and emissive strength applied."""
    attrib = state.get_attrib(MaterialAttrib)
    src = attrib.get_material() if attrib is not None else None
    mat = Material(src) if src is not None else Material("gltf-default")
    if not mat.has_base_color():
        base = mat.get_diffuse() if src is not None and mat.has_diffuse() else LColor(1, 1, 1, 1)
        mat.set_base_color(base)
        if gltf_mat is None:  # a primitive without a material: glTF's default one
            mat.set_metallic(1.0)
            mat.set_roughness(1.0)
        else:  # a legacy (diffuse/shininess) material
            mat.set_metallic(0.0)
            mat.set_roughness(max(0.05, min(1.0, 1.0 - mat.get_shininess() / 128.0)))
    ext = (gltf_mat or {}).get("extensions", {})
    ext = ext if isinstance(ext, dict) else {}
    strength = _number((ext.get("KHR_materials_emissive_strength") or {}).get(
        "emissiveStrength"), 1.0)
    if strength != 1.0:
        e = mat.get_emission()
        mat.set_emission(LColor(e[0] * strength, e[1] * strength, e[2] * strength, 0.0))
    return mat


def _texture_transform(ext: Mapping[str, Any]) -> TransformState:
    """KHR_texture_transform as panda3d-gltf writes it (Panda's lower-left UV origin)."""
    mat = Mat3.ident_mat()
    scale = ext.get("scale")
    if scale:
        mat *= Mat3.translate_mat(0, -1) * Mat3.scale_mat(scale[0], scale[1]) * Mat3.translate_mat(0, 1)
    rot = ext.get("rotation")
    if rot:
        mat *= Mat3.translate_mat(0, -1) * Mat3.rotate_mat(math.degrees(rot)) * Mat3.translate_mat(0, 1)
    offset = ext.get("offset")
    if offset:
        mat *= Mat3.translate_mat(offset[0], -offset[1])
    return TransformState.make_mat3(mat)


def _info(gltf_mat: Mapping[str, Any], key: str) -> dict:
    info = gltf_mat.get(key)
    return info if isinstance(info, dict) else {}


def _prepare_state(state: RenderState, gltf_mat: Mapping[str, Any] | None,
                   textures: Mapping[int, Texture], renamed: bool) -> RenderState:
    """One geom's state laid out for the PBR shaders (see the module docstring)."""
    mat = gltf_mat or {}
    old_tex = state.get_attrib(TextureAttrib)
    old_mat = state.get_attrib(TexMatrixAttrib)
    slots: list[tuple[Texture, InternalName, TransformState | None] | None] = [None] * 5
    if old_tex is not None:
        for i in range(old_tex.get_num_on_stages()):
            stage = old_tex.get_on_stage(i)
            slot = _SLOT_OF_MODE.get(stage.get_mode())
            if slot is None or slots[slot] is not None:
                continue
            transform = old_mat.get_transform(stage) if (
                old_mat is not None and old_mat.has_stage(stage)) else None
            slots[slot] = (old_tex.get_on_texture(stage), stage.get_texcoord_name(), transform)
    scale = _number(_info(mat, "normalTexture").get("scale"), 1.0)
    if slots[2] is not None and scale != 1.0:
        slots[2] = (_normal_scaled(slots[2][0], scale), *slots[2][1:])
    occ = _info(mat, "occlusionTexture")
    tex = textures.get(occ.get("index")) if isinstance(occ.get("index"), int) else None
    if tex is not None:
        ext = (occ.get("extensions") or {}).get("KHR_texture_transform")
        uv = occ.get("texCoord", 0)
        if isinstance(ext, dict) and "texCoord" in ext:
            uv = ext["texCoord"]
        strength = _number(occ.get("strength"), 1.0)
        if strength != 1.0:
            tex = _occlusion_scaled(tex, strength)
        slots[4] = (tex, InternalName.get_texcoord_name(str(uv if isinstance(uv, int) else 0)),
                    _texture_transform(ext) if isinstance(ext, dict) else None)

    tex_attrib = TextureAttrib.make()
    mat_attrib = TexMatrixAttrib.make()
    for k, entry in enumerate(slots):
        if entry is None:
            continue
        tex, texcoord, transform = entry
        if renamed and texcoord == _UV0:
            texcoord = InternalName.get_texcoord()
        stage = _stage(k, texcoord)
        tex_attrib = tex_attrib.add_on_stage(stage, tex)
        if transform is not None and not transform.is_identity():
            mat_attrib = mat_attrib.add_stage(stage, transform)
    state = state.remove_attrib(TexMatrixAttrib).remove_attrib(TextureAttrib)
    if tex_attrib.get_num_on_stages():
        state = state.set_attrib(tex_attrib)
    if not mat_attrib.is_empty():
        state = state.set_attrib(mat_attrib)
    state = state.set_attrib(MaterialAttrib.make(_material(state, gltf_mat)))
    if mat.get("alphaMode", "OPAQUE") not in ("MASK", "BLEND"):
        state = state.remove_attrib(AlphaTestAttrib).remove_attrib(TransparencyAttrib)
    return state


def prepare_materials(model: NodePath, doc: Mapping[str, Any],
                      states: Mapping[int, RenderState], textures: Mapping[int, Texture]
                      ) -> None:
    """Lay out every geom's material state of a converted model (see the module docstring).

    Args:
        model: the converted model, changed in place.
        doc: the glTF JSON document it was converted from.
        states: the converter's render state per glTF material index.
        textures: the converter's texture per glTF texture index.
    """
    materials = doc.get("materials", [])
    by_state = {st: materials[i] if isinstance(i, int) and 0 <= i < len(materials)
                and isinstance(materials[i], dict) else None for i, st in states.items()}
    done: dict[tuple[RenderState, bool], RenderState] = {}
    for gnp in model.find_all_matches("**/+GeomNode"):
        gnode: GeomNode = gnp.node()
        for i in range(gnode.get_num_geoms()):
            state = gnode.get_geom_state(i)
            fmt = gnode.get_geom(i).get_vertex_data().get_format()
            # base._expose_uv0 renamed UV set 0 of untextured geoms to the default column
            renamed = not fmt.has_column(_UV0) and fmt.has_column(InternalName.get_texcoord())
            new = done.get((state, renamed))
            if new is None:
                new = _prepare_state(state, by_state.get(state), textures, renamed)
                done[(state, renamed)] = new
            gnode.set_geom_state(i, new)
