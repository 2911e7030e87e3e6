"""The kiosk's drawing kit: a 2-D canvas in pixels over the renderer's output, and controls.

A :class:`Canvas` is a display region with an orthographic camera whose units are the
output's pixels, origin at the top-left corner, y down, as a touch arrives. Pages draw
into it with :meth:`Canvas.box`, :meth:`Canvas.image` and :meth:`Canvas.text`, and
declare their touch targets with :meth:`Canvas.control`; :meth:`Canvas.hit` finds the
control under a touch (the last declared wins, so an overlay covers what is below).
A page is redrawn from scratch when what it shows changes (:meth:`Canvas.clear`); a
few nodes (a pulse, a drift) are animated between redraws by the page itself.

Two canvases sandwich the 3-D view: the back one (sorted before the scene) holds the
page's backgrounds, the front one everything above the scene. Nothing here writes or
tests depth, so the scene's region may draw in between.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from panda3d.core import (Camera, CardMaker, DynamicTextFont, GraphicsOutput, NodePath,
                          OrthographicLens, PNMImage, SamplerState, StringStream, TextNode,
                          Texture, TransparencyAttrib)
from PIL import Image

__all__ = ["Canvas", "Control", "RGBA", "hex_colour", "texture_from_image"]

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Control:
    """A touch target: its name (what ``--script`` taps), its rectangle in pixels
    (x, y, width, height, from the top-left) and what a tap on it means (``action``
    and ``arg``, read by the app)."""

    name: str
    rect: tuple[float, float, float, float]
    action: str
    arg: str = ""

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (pixels from the top-left) is on the control."""
        cx, cy, w, h = self.rect
        return cx <= x < cx + w and cy <= y < cy + h

    @property
    def centre(self) -> tuple[float, float]:
        """The middle of the control (where a scripted tap on its name lands)."""
        cx, cy, w, h = self.rect
        return cx + w / 2.0, cy + h / 2.0


def hex_colour(value: str, alpha: float = 1.0) -> RGBA:
    """``#rrggbb`` as RGBA in 0..1 (an unreadable value is mid grey)."""
    v = value.lstrip("#")
    try:
        r, g, b = (int(v[i:i + 2], 16) / 255.0 for i in (0, 2, 4))
    except ValueError:
        r = g = b = 0.5
    return (r, g, b, alpha)


def texture_from_image(img: Image.Image, name: str) -> Texture:
    """A texture of a Pillow image (already decoded and size-checked by the caller)."""
    rgb = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", compress_level=1)
    pnm = PNMImage()
    if not pnm.read(StringStream(buf.getvalue()), "image.png"):
        raise ValueError(f"{name}: cannot be read as an image")
    tex = Texture(name)
    tex.load(pnm)
    tex.set_minfilter(SamplerState.FT_linear_mipmap_linear)
    tex.set_magfilter(SamplerState.FT_linear)
    tex.set_wrap_u(SamplerState.WM_clamp)
    tex.set_wrap_v(SamplerState.WM_clamp)
    return tex


class Canvas:
    """A 2-D layer in pixel units on ``output`` (see the module docstring).

    Args:
        output: the window or buffer.
        size: its size in pixels (width, height).
        sort: the region's draw order (the renderer's scene region is 0).
        name: for the scene graph.
    """

    def __init__(self, output: GraphicsOutput, size: tuple[int, int], sort: int,
                 name: str) -> None:
        self.size = size
        self.root = NodePath(f"canvas:{name}")
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self.root.set_transparency(TransparencyAttrib.M_alpha)
        self.root.set_two_sided(True)
        lens = OrthographicLens()
        lens.set_film_size(size[0], size[1])
        lens.set_film_offset(size[0] / 2.0, -size[1] / 2.0)
        lens.set_near_far(-100.0, 100.0)
        cam = Camera(f"camera:{name}", lens)
        self.camera = self.root.attach_new_node(cam)
        self.region = output.make_display_region()
        self.region.set_sort(sort)
        self.region.set_camera(self.camera)
        self.region.set_clear_depth_active(False)
        self.layer = self.root.attach_new_node("page")
        self.controls: list[Control] = []
        self._order = 0
        #: No text is drawn smaller than this many pixels (the kiosk's 14 pt).
        self.min_text = 0.0

    def clear(self) -> None:
        """Remove everything drawn and every control."""
        self.layer.remove_node()
        self.layer = self.root.attach_new_node("page")
        self.controls = []
        self._order = 0

    def _place(self, np_: NodePath, parent: NodePath | None) -> NodePath:
        np_.reparent_to(parent if parent is not None else self.layer)
        self._order += 1
        np_.set_bin("fixed", self._order)
        return np_

    def box(self, x: float, y: float, w: float, h: float, colour: RGBA,
            parent: NodePath | None = None, name: str = "box") -> NodePath:
        """A filled rectangle (pixels from the top-left)."""
        cm = CardMaker(name)
        cm.set_frame(0.0, w, -h, 0.0)
        np_ = self._place(NodePath(cm.generate()), parent)
        np_.set_pos(x, 0.0, -y)
        np_.set_color(*colour)
        return np_

    def image(self, tex: Texture, x: float, y: float, w: float, h: float,
              parent: NodePath | None = None, alpha: float = 1.0,
              uv: Sequence[float] = (0.0, 1.0, 0.0, 1.0)) -> NodePath:
        """``tex`` stretched over a rectangle; ``uv`` (u0, u1, v0, v1) picks a part of it
        (v = 0 is the image's bottom row)."""
        cm = CardMaker("image")
        cm.set_frame(0.0, w, -h, 0.0)
        u0, u1, v0, v1 = uv
        cm.set_uv_range((u0, v0), (u1, v1))
        np_ = self._place(NodePath(cm.generate()), parent)
        np_.set_pos(x, 0.0, -y)
        np_.set_texture(tex)
        np_.set_color(1.0, 1.0, 1.0, alpha)
        return np_

    def text(self, text: str, font: DynamicTextFont, x: float, y: float, size: float,
             colour: RGBA, *, align: str = "left", wrap: float | None = None,
             parent: NodePath | None = None) -> NodePath:
        """Text whose first line's top is at ``y`` (``size`` is the em in pixels;
        ``wrap`` wraps at that many pixels; ``align`` is left, center or right about
        ``x``)."""
        size = max(size, self.min_text)
        node = TextNode("text")
        node.set_font(font)
        node.set_text(text)
        node.set_text_color(*colour)
        node.set_align({"left": TextNode.A_left, "center": TextNode.A_center,
                        "right": TextNode.A_right}[align])
        if wrap is not None:
            node.set_wordwrap(max(wrap / size, 1.0))
        np_ = self._place(NodePath(node), parent)
        np_.set_scale(size)
        np_.set_pos(x, 0.0, -(y + size * 0.88))      # baseline below the line's top
        return np_

    def measure(self, text: str, font: DynamicTextFont, size: float,
                wrap: float | None = None) -> tuple[float, float]:
        """Width and height in pixels that :meth:`text` would take."""
        size = max(size, self.min_text)
        node = TextNode("measure")
        node.set_font(font)
        node.set_text(text)
        if wrap is not None:
            node.set_wordwrap(max(wrap / size, 1.0))
        lines = max(node.get_num_rows(), 1)
        return node.get_width() * size, (font.get_line_height() * (lines - 1) + 1.15) * size

    def control(self, name: str, rect: tuple[float, float, float, float], action: str,
                arg: str = "") -> Control:
        """Declare a touch target over what was drawn."""
        c = Control(name, tuple(float(v) for v in rect), action, arg)  # type: ignore[arg-type]
        self.controls.append(c)
        return c

    def hit(self, x: float, y: float) -> Control | None:
        """The control under the point, the last declared first."""
        for c in reversed(self.controls):
            if c.contains(x, y):
                return c
        return None

    def named(self, name: str) -> Control | None:
        """The control of that name on the page, if there is one."""
        return next((c for c in reversed(self.controls) if c.name == name), None)

    def destroy(self) -> None:
        """Remove the region and the scene graph."""
        self.region.get_window().remove_display_region(self.region)
        self.root.remove_node()
