"""glTF materials of a converted model, laid out for our PBR shaders.

panda3d-gltf turns each glTF material into a Panda3D :class:`Material` (base colour,
metallic, roughness and emissive factors) and texture stages chosen by mode, with a
:class:`TexMatrixAttrib` for ``KHR_texture_transform``; it drops ``occlusionTexture``,
``normalTexture.scale``, ``occlusionTexture.strength`` and
``KHR_materials_emissive_strength``. :func:`prepare_materials` completes every geom's
state, once, right after conversion, so that a shader reads each geom's own material
from its state (a GeomNode holds geoms with different materials) and nothing is done
per frame:

- texture stages in a fixed order, sort 0..5, each stage's UV set and transform its own
  (``p3d_Texture0..5``, ``p3d_MultiTexCoord0..5``, ``p3d_TextureMatrix[0..5]``):
  0 base colour (sRGB), 1 metallic-roughness (B metal, G rough), 2 normal, 3 emissive
  (sRGB), 4 occlusion (R), 5 a 1x1 float texture of the material's other settings
  (:data:`PARAMS`). A slot the material leaves empty gets a neutral 1x1 texture (white;
  a flat normal), so every shader sees the same six;
- the emissive factor multiplied by ``emissiveStrength``;
- a Material with the glTF defaults where a primitive has none, and a base colour for a
  legacy (diffuse) material.

Everything it writes is plain Panda3D state (textures, texture matrices, materials),
so it survives the runtime's BAM model cache; shader inputs would not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from panda3d.core import (
    AlphaTestAttrib,
    GeomNode,
    InternalName,
    LColor,
    Material,
    MaterialAttrib,
    NodePath,
    RenderState,
    SamplerState,
    TexMatrixAttrib,
    Texture,
    TextureAttrib,
    TextureStage,
    TransformState,
    TransparencyAttrib,
)

__all__ = ["PARAMS", "SLOTS", "prepare_materials"]

#: Texture stage order (the index is the stage's sort and the shader's p3d_TextureN).
SLOTS = ("base_color", "metal_rough", "normal", "emission", "occlusion", "params")
#: What the params texel holds, in order: alpha mode (0 OPAQUE, 0.5 MASK, 1 BLEND),
#: alpha cutoff, occlusion strength, normal scale.
PARAMS = ("alpha_mode", "alpha_cutoff", "occlusion_strength", "normal_scale")

_MODES = {"base_color": TextureStage.M_modulate, "metal_rough": TextureStage.M_selector,
          "normal": TextureStage.M_normal, "emission": TextureStage.M_emission,
          "occlusion": TextureStage.M_selector, "params": TextureStage.M_selector}
_ALPHA = {"OPAQUE": 0.0, "MASK": 0.5, "BLEND": 1.0}
_stages: dict[tuple[int, str], TextureStage] = {}
_neutral: dict[str, Texture] = {}
_params: dict[tuple[float, ...], Texture] = {}


def _stage(slot: int, texcoord: InternalName) -> TextureStage:
    key = (slot, texcoord.get_name())
    stage = _stages.get(key)
    if stage is None:
        stage = TextureStage(f"pbr:{SLOTS[slot]}:{texcoord.get_name()}")
        stage.set_sort(slot)
        stage.set_mode(_MODES[SLOTS[slot]])
        stage.set_texcoord_name(texcoord)
        _stages[key] = stage
    return stage


def _texel(name: str, rgba: Sequence[float], fmt: int = Texture.F_rgba) -> Texture:
    tex = Texture(name)
    tex.setup_2d_texture(1, 1, Texture.T_float, fmt)
    tex.set_clear_color(LColor(*rgba))
    tex.make_ram_image()
    tex.set_minfilter(SamplerState.FT_nearest)
    tex.set_magfilter(SamplerState.FT_nearest)
    return tex


def _neutral_texture(slot: str) -> Texture:
    tex = _neutral.get(slot)
    if tex is None:
        tex = _texel(f"pbr-default-{slot}", (0.5, 0.5, 1.0, 1.0) if slot == "normal"
                     else (1.0, 1.0, 1.0, 1.0), Texture.F_rgba8)
        _neutral[slot] = tex
    return tex


def _params_texture(values: tuple[float, ...]) -> Texture:
    tex = _params.get(values)
    if tex is None:
        tex = _texel("pbr-params-" + "-".join(f"{v:g}" for v in values), values,
                     Texture.F_rgba32)
        _params[values] = tex
    return tex


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
    strength = ext.get("KHR_materials_emissive_strength", {}).get("emissiveStrength", 1.0)
    if isinstance(strength, (int, float)) and strength != 1.0:
        e = mat.get_emission()
        mat.set_emission(LColor(e[0] * strength, e[1] * strength, e[2] * strength, 0.0))
    return mat


def _occlusion(gltf_mat: Mapping[str, Any] | None, textures: Mapping[int, Texture]
               ) -> tuple[Texture | None, int, Any]:
    info = (gltf_mat or {}).get("occlusionTexture")
    if not isinstance(info, dict):
        return None, 0, None
    tex = textures.get(info.get("index"))
    transform = info.get("extensions", {}).get("KHR_texture_transform")
    texcoord = info.get("texCoord", 0)
    if isinstance(transform, dict) and "texCoord" in transform:
        texcoord = transform["texCoord"]
    return tex, int(texcoord) if isinstance(texcoord, int) else 0, transform


def _texture_transform(ext: Mapping[str, Any]) -> TransformState:
    """KHR_texture_transform as panda3d-gltf writes it (Panda's lower-left UV origin)."""
    from panda3d.core import Mat3

    mat = Mat3.ident_mat()
    scale = ext.get("scale")
    if scale:
        mat *= Mat3.translate_mat(0, -1) * Mat3.scale_mat(scale[0], scale[1]) * Mat3.translate_mat(0, 1)
    rot = ext.get("rotation")
    if rot:
        import math
        mat *= Mat3.translate_mat(0, -1) * Mat3.rotate_mat(math.degrees(rot)) * Mat3.translate_mat(0, 1)
    offset = ext.get("offset")
    if offset:
        mat *= Mat3.translate_mat(offset[0], -offset[1])
    return TransformState.make_mat3(mat)


def _slot_of(stage: TextureStage) -> int | None:
    mode = stage.get_mode()
    if mode == TextureStage.M_modulate:
        return 0
    if mode == TextureStage.M_selector:
        return 1
    if mode == TextureStage.M_normal:
        return 2
    if mode == TextureStage.M_emission:
        return 3
    return None


def _prepare_state(state: RenderState, gltf_mat: Mapping[str, Any] | None,
                  textures: Mapping[int, Texture], has_column) -> RenderState:
    """One geom's state laid out for the PBR shaders (see the module docstring)."""
    old_tex = state.get_attrib(TextureAttrib)
    old_mat = state.get_attrib(TexMatrixAttrib)
    slots: list[tuple[Texture, InternalName, TransformState | None]] = [None] * 6  # type: ignore
    if old_tex is not None:
        for i in range(old_tex.get_num_on_stages()):
            stage = old_tex.get_on_stage(i)
            slot = _slot_of(stage)
            if slot is None or slots[slot] is not None:
                continue
            transform = old_mat.get_transform(stage) if (
                old_mat is not None and old_mat.has_stage(stage)) else None
            slots[slot] = (old_tex.get_on_texture(stage), stage.get_texcoord_name(), transform)
    occ, occ_uv, occ_ext = _occlusion(gltf_mat, textures)
    if occ is not None:
        slots[4] = (occ, InternalName.get_texcoord_name(str(occ_uv)),
                    _texture_transform(occ_ext) if isinstance(occ_ext, dict) else None)
    mat = gltf_mat or {}
    alpha = _ALPHA.get(mat.get("alphaMode", "OPAQUE"), 0.0)
    cutoff = mat.get("alphaCutoff", 0.5)
    occ_strength = (mat.get("occlusionTexture") or {}).get("strength", 1.0)
    normal_scale = (mat.get("normalTexture") or {}).get("scale", 1.0)
    values = tuple(float(v) if isinstance(v, (int, float)) else d for v, d in (
        (alpha, 0.0), (cutoff, 0.5), (occ_strength, 1.0), (normal_scale, 1.0)))
    slots[5] = (_params_texture(values), InternalName.get_texcoord_name("0"), None)

    uv0 = InternalName.get_texcoord_name("0")
    tex_attrib = TextureAttrib.make()
    mat_attrib = TexMatrixAttrib.make()
    for k, name in enumerate(SLOTS):
        tex, texcoord, transform = slots[k] or (_neutral_texture(name), uv0, None)
        if texcoord == uv0 and not has_column(uv0) and has_column(InternalName.get_texcoord()):
            texcoord = InternalName.get_texcoord()      # renamed by base._expose_uv0
        stage = _stage(k, texcoord)
        tex_attrib = tex_attrib.add_on_stage(stage, tex)
        if transform is not None and not transform.is_identity():
            mat_attrib = mat_attrib.add_stage(stage, transform)
    state = state.set_attrib(tex_attrib).set_attrib(MaterialAttrib.make(_material(state, gltf_mat)))
    state = state.remove_attrib(TexMatrixAttrib)
    if not mat_attrib.is_empty():
        state = state.set_attrib(mat_attrib)
    if alpha == 0.0:  # OPAQUE ignores alpha: no test, no blend
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
    by_state = {st: materials[i] if isinstance(i, int) and i < len(materials) else None
                for i, st in states.items()}
    done: dict[tuple[RenderState, bool, bool], RenderState] = {}
    for gnp in model.find_all_matches("**/+GeomNode"):
        gnode: GeomNode = gnp.node()
        for i in range(gnode.get_num_geoms()):
            state = gnode.get_geom_state(i)
            fmt = gnode.get_geom(i).get_vertex_data().get_format()
            key = (state, fmt.has_column(InternalName.get_texcoord_name("0")),
                   fmt.has_column(InternalName.get_texcoord()))
            new = done.get(key)
            if new is None:
                gltf_mat = by_state.get(state)
                new = _prepare_state(state, gltf_mat, textures, fmt.has_column)
                done[key] = new
            gnode.set_geom_state(i, new)
