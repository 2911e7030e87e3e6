"""Contact sheets: every scene of a bundle rendered offscreen at a few show times, labelled.

``exhibit preview OUT.exb -o sheet.png`` is a curator's proof before a bundle goes to
the venue: one row per scene (id, kind, titles in every language, asset count), one
tile per show time, on a dark background like the wall's. A scene that cannot be
built or drawn gets a labelled failure tile and is reported; the other rows are still
drawn, so one bad scene does not hide the rest.

Labels are drawn with Pillow. Each line uses the first font that has every glyph it
needs, trying in order: fonts shipped in the bundle (manifest files of media type
``font/ttf`` or ``font/otf``), a system font for Chinese found with fontconfig
(``fc-list :lang=zh``), the system's sans-serif (``fc-match sans``), and Pillow's
built-in font (Latin only). No font, or no fontconfig, never stops a preview; the
worst case is boxes instead of glyphs. Whether a font has a glyph is decided by
comparing the glyph with the font's "missing glyph" box, so no font library beyond
Pillow is needed.

The sheet is written atomically (temporary file, fsync, ``os.replace``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from .. import __version__
from ..config.paths import write_atomic
from ..errors import ExhibitError, RenderError
from ..wall.frustum import centered_frustum

if TYPE_CHECKING:
    from ..assets.bundle import Bundle
    from ..assets.manifest import SceneSpec
    from .cache import ModelCache

__all__ = ["DEFAULT_TILE", "DEFAULT_TIMES", "FONT_MEDIA_TYPES", "FontSource", "Fonts",
           "PreviewResult", "SceneRow", "compose_sheet", "contact_sheet", "find_fonts"]

#: Show times (s) each scene is drawn at.
DEFAULT_TIMES = (0.0, 20.0, 50.0)
#: Tile size in pixels (16:9).
DEFAULT_TILE = (480, 270)
#: Manifest media types of fonts a bundle may ship for its labels.
FONT_MEDIA_TYPES = ("font/ttf", "font/otf")

_BG = (13, 15, 19)
_PANEL = (24, 27, 33)
_LINE = (46, 51, 61)
_TEXT = (236, 238, 241)
_MUTED = (146, 153, 165)
_ACCENT = (128, 196, 255)
_ERROR = (255, 122, 110)
_MARGIN, _GAP, _LABEL_W = 40, 16, 330
_MISSING = "\U0010fffd"     # a private-use code point no font draws
_LANGS = ("zh", "en", "ru")


# --------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class FontSource:
    """One font in the fallback chain.

    Attributes:
        label: where it came from (for logs and tests), e.g. ``bundle:fonts/x.ttf``.
        regular: a font file path or its bytes; ``None`` for Pillow's built-in font.
        index: face index inside a collection (``.ttc``).
        bold: a bold face (path or bytes), if there is one.
        bold_index: its face index.
    """

    label: str
    regular: str | bytes | None
    index: int = 0
    bold: str | bytes | None = None
    bold_index: int = 0


def _open_font(src: str | bytes | None, index: int, size: int) -> ImageFont.FreeTypeFont | \
        ImageFont.ImageFont:
    if src is None:
        try:
            return ImageFont.load_default(size)
        except TypeError:       # Pillow < 10.1: one fixed-size bitmap font
            return ImageFont.load_default()
    return ImageFont.truetype(io.BytesIO(src) if isinstance(src, bytes) else src, size,
                              index=index)


class Fonts:
    """A fallback chain of fonts that picks, per line, one font with every glyph.

    Args:
        sources: fonts in order of preference; Pillow's built-in font is always last.
    """

    def __init__(self, sources: Sequence[FontSource]) -> None:
        usable: list[FontSource] = []
        for s in sources:
            try:
                _open_font(s.regular, s.index, 16)
            except (OSError, ValueError):
                continue        # unreadable font file: skip it, never fail a preview
            if s.bold is not None:
                try:
                    _open_font(s.bold, s.bold_index, 16)
                except (OSError, ValueError):
                    s = FontSource(s.label, s.regular, s.index)
            usable.append(s)
        usable.append(FontSource("pillow:default", None))
        self.sources: tuple[FontSource, ...] = tuple(usable)
        self._covers_cache: dict[tuple[int, str], bool] = {}
        self._missing: dict[int, tuple[tuple[int, int], bytes] | None] = {}
        self._font = lru_cache(maxsize=64)(self._make_font)

    def _make_font(self, i: int, size: int, bold: bool) -> ImageFont.FreeTypeFont | \
            ImageFont.ImageFont:
        s = self.sources[i]
        if bold and s.bold is not None:
            return _open_font(s.bold, s.bold_index, size)
        return _open_font(s.regular, s.index, size)

    def _covers(self, i: int, ch: str) -> bool:
        if ch.isspace():
            return True
        key = (i, ch)
        hit = self._covers_cache.get(key)
        if hit is None:
            font = self._font(i, 24, False)
            if i not in self._missing:
                try:
                    box = font.getmask(_MISSING)
                    self._missing[i] = (box.size, bytes(box))
                except (UnicodeError, ValueError, OSError):
                    self._missing[i] = None     # a bitmap font: Latin-1 or nothing
            try:
                glyph = font.getmask(ch)
            except (UnicodeError, ValueError, OSError):
                hit = False
            else:
                hit = (glyph.size, bytes(glyph)) != self._missing[i]
            self._covers_cache[key] = hit
        return hit

    def pick(self, text: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont | \
            ImageFont.ImageFont:
        """The first font that draws every character of ``text`` (else the one with most).

        For ``bold``, fonts with a real bold face are tried first: a bundle's label
        font is usually one regular face, and headings read better in a true bold.
        """
        order = list(range(len(self.sources)))
        if bold:
            order.sort(key=lambda i: self.sources[i].bold is None)
        best, best_n = 0, -1
        for i in order:
            n = sum(self._covers(i, ch) for ch in text)
            if n == len(text):
                return self._font(i, size, bold)
            if n > best_n:
                best, best_n = i, n
        return self._font(best, size, bold)

    def source_for(self, text: str) -> str:
        """The label of the font :meth:`pick` uses for ``text`` (for tests and logs)."""
        for i, s in enumerate(self.sources):
            if all(self._covers(i, ch) for ch in text):
                return s.label
        return self.sources[-1].label


def _run_fc(args: list[str]) -> str:
    exe = shutil.which(args[0])
    if exe is None:
        return ""
    try:
        res = subprocess.run([exe, *args[1:]], check=False, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return res.stdout if res.returncode == 0 else ""


def _system_cjk() -> FontSource | None:
    """The best system sans-serif with Chinese glyphs: regular and, if any, bold."""
    faces = []
    for line in _run_fc(["fc-list", "-f", "%{file}\t%{index}\t%{family[0]}\t%{style[0]}\n",
                         ":lang=zh"]).splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1].isdigit() and Path(parts[0]).is_file():
            faces.append((parts[0], int(parts[1]), parts[2], parts[3]))

    def score(face: tuple[str, int, str, str]) -> tuple[int, ...]:
        fam = face[2]
        return ("Serif" not in fam, "Mono" not in fam, " SC" in fam or fam.endswith("SC"),
                "Sans" in fam, -len(fam))

    regular = [f for f in faces if f[3] in ("Regular", "Book", "Normal")]
    if not regular:
        return None
    best = max(regular, key=score)
    bold = [f for f in faces if f[3] == "Bold" and f[2] == best[2]]
    return FontSource(f"system:{best[2]}", best[0], best[1],
                      bold[0][0] if bold else None, bold[0][1] if bold else 0)


def _system_sans() -> FontSource | None:
    path = _run_fc(["fc-match", "-f", "%{file}", "sans"]).strip()
    if not path or not Path(path).is_file():
        return None
    bold = _run_fc(["fc-match", "-f", "%{file}", "sans:bold"]).strip()
    return FontSource(f"system:{Path(path).name}", path, 0,
                      bold if bold and bold != path and Path(bold).is_file() else None)


def find_fonts(bundle: Bundle | None = None, *, system: bool = True) -> Fonts:
    """The label fonts for a bundle: its own fonts, then the system's, then Pillow's.

    Args:
        bundle: an open bundle whose ``font/ttf`` / ``font/otf`` files come first.
        system: also look for system fonts with fontconfig.
    """
    sources: list[FontSource] = []
    if bundle is not None:
        for f in bundle.manifest.files:
            if f.media_type in FONT_MEDIA_TYPES:
                try:
                    sources.append(FontSource(f"bundle:{f.path}", bundle.read(f.path)))
                except ExhibitError:
                    continue    # a damaged font only costs the labels their best face
    if system:
        sources += [s for s in (_system_cjk(), _system_sans()) if s is not None]
    return Fonts(sources)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class SceneRow:
    """One row of the sheet.

    Attributes:
        id: the scene id.
        kind: its kind.
        title: its titles by language.
        assets: how many assets it uses.
        frames: (show time, image or ``None`` if not drawn), one per tile.
        error: why the scene could not be drawn, or ``None``.
    """

    id: str
    kind: str
    title: dict[str, str]
    assets: int
    frames: list[tuple[float, Image.Image | None]] = field(default_factory=list)
    error: str | None = None


class _Pen:
    """Draws single lines of text with the font chain, clipped to a width."""

    def __init__(self, img: Image.Image, fonts: Fonts) -> None:
        self.draw = ImageDraw.Draw(img)
        self.fonts = fonts

    def text(self, xy: tuple[float, float], text: str, size: int, fill: tuple[int, ...], *,
             bold: bool = False, width: float | None = None, anchor: str = "la") -> float:
        """Draw one line; returns its width in pixels."""
        font = self.fonts.pick(text, size, bold)
        ellipsis = "…"
        if not isinstance(font, ImageFont.FreeTypeFont):    # bitmap fonts: Latin-1 only
            text = text.encode("latin-1", "replace").decode("latin-1")
            ellipsis = "..."
        if width is not None and self.draw.textlength(text, font=font) > width:
            while text and self.draw.textlength(text + ellipsis, font=font) > width:
                text = text[:-1]
            text = text.rstrip() + ellipsis
        length = float(self.draw.textlength(text, font=font))
        if not isinstance(font, ImageFont.FreeTypeFont) and anchor != "la":
            # bitmap fonts take no anchor: place the top-left corner by hand
            x, y = xy
            x -= length if anchor[0] == "r" else 0.0
            y -= {"s": 0.8 * size, "m": 0.5 * size}.get(anchor[1], 0.0)
            xy, anchor = (x, y), "la"
        self.draw.text(xy, text, font=font, fill=fill, anchor=anchor)
        return length

    def rule(self, y: float, x0: float, x1: float) -> None:
        self.draw.line([(x0, y), (x1, y)], fill=_LINE, width=1)


def _fmt_t(t: float) -> str:
    return f"t = {t:g} s"


def compose_sheet(title: dict[str, str], subtitle: str, rows: Sequence[SceneRow],
                  tile: tuple[int, int], fonts: Fonts) -> Image.Image:
    """Lay out a contact sheet (pure Pillow; no rendering here).

    Args:
        title: the bundle's titles by language.
        subtitle: one line under the titles (id, version, licence ...).
        rows: one per scene.
        tile: tile size in pixels.
        fonts: the label fonts.
    """
    tw, th = tile
    cols = max([len(r.frames) for r in rows] + [1])
    width = 2 * _MARGIN + _LABEL_W + cols * tw + (cols - 1) * _GAP
    head_h, row_h, foot_h = 150, th + 2 * _GAP + 30, 56
    height = head_h + max(len(rows), 1) * row_h + foot_h
    img = Image.new("RGB", (width, height), _BG)
    pen = _Pen(img, fonts)
    right = width - _MARGIN

    main = title.get("en") or next(iter(title.values()), "")
    pen.text((_MARGIN, 34), main, 34, _TEXT, bold=True, width=width - 2 * _MARGIN - 260)
    others = [title[k] for k in _LANGS if k in title and title[k] != main]
    others += [v for k, v in title.items() if k not in _LANGS and v != main]
    x = float(_MARGIN)
    for i, text in enumerate(others):
        if i:   # a drawn dot: every font has one, and the gap does not depend on the font
            pen.draw.ellipse((x + 13.5, 98.5, x + 16.5, 101.5), fill=_MUTED)
            x += 30
        x += pen.text((x, 86), text, 20, _TEXT, width=right - x)
    pen.text((_MARGIN, 118), subtitle, 15, _MUTED, width=width - 2 * _MARGIN)
    pen.text((right, 40), "CONTACT SHEET", 14, _ACCENT, anchor="ra")
    pen.rule(head_h - 1, _MARGIN, right)

    for n, row in enumerate(rows):
        y0 = head_h + n * row_h + _GAP
        pen.text((_MARGIN, y0 + 4), row.id, 22, _ACCENT, bold=True, width=_LABEL_W - 24)
        kw = pen.draw.textlength(row.kind, font=fonts.pick(row.kind, 13))
        pen.draw.rounded_rectangle((_MARGIN, y0 + 40, _MARGIN + kw + 16, y0 + 60), radius=4,
                                   outline=_LINE, width=1)
        pen.text((_MARGIN + 8, y0 + 50), row.kind, 13, _MUTED, anchor="lm")
        pen.text((_MARGIN + kw + 28, y0 + 50),
                 f"{row.assets} asset{'s' if row.assets != 1 else ''}", 13, _MUTED,
                 anchor="lm")
        ty = y0 + 76
        for lang in [*_LANGS, *(k for k in row.title if k not in _LANGS)]:
            if lang in row.title:
                pen.text((_MARGIN, ty + 18), lang, 12, _MUTED, anchor="ls")
                pen.text((_MARGIN + 30, ty + 18), row.title[lang], 17, _TEXT,
                         width=_LABEL_W - 58, anchor="ls")
                ty += 28
        if row.error:
            pen.text((_MARGIN, ty + 6), "cannot render", 15, _ERROR, bold=True)
        for c, (t, frame) in enumerate(row.frames):
            x0 = _MARGIN + _LABEL_W + c * (tw + _GAP)
            box = (x0 - 1, y0 - 1, x0 + tw, y0 + th)
            if frame is not None:
                img.paste(frame.convert("RGB").resize(tile) if frame.size != tile
                          else frame.convert("RGB"), (x0, y0))
            else:
                pen.draw.rectangle(box, fill=_PANEL)
                lines = textwrap.wrap(row.error or "not drawn", 52)[:6]
                for k, line in enumerate(lines):
                    pen.text((x0 + 18, y0 + 18 + 20 * k), line, 14, _ERROR if k == 0 and
                             row.error else _MUTED, width=tw - 36)
            pen.draw.rectangle(box, outline=_LINE, width=1)
            pen.text((x0, y0 + th + 8), _fmt_t(t), 14, _MUTED)
        pen.rule(head_h + (n + 1) * row_h - 1, _MARGIN, right)

    pen.text((_MARGIN, height - 34), f"Exhibit Engine {__version__}  ·  rendered offscreen  ·  "
             f"{tw}x{th} per frame  ·  show times in seconds from the start of each scene",
             13, _MUTED, width=width - 2 * _MARGIN)
    return img


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class PreviewResult:
    """What :func:`contact_sheet` wrote.

    Attributes:
        path: the PNG.
        size: its size in pixels.
        scenes: scenes on the sheet.
        frames: frames rendered.
        failures: (scene id, one-line reason) for each scene that could not be drawn.
        fonts: the font sources found, in order of preference.
    """

    path: Path
    size: tuple[int, int]
    scenes: int
    frames: int
    failures: tuple[tuple[str, str], ...]
    fonts: tuple[str, ...]


def _render_rows(bundle: Bundle, scenes: Sequence[SceneSpec], times: Sequence[float],
                 tile: tuple[int, int], cache: ModelCache | None,
                 progress: Callable[[int, int, str], None] | None) -> list[SceneRow]:
    from .render import Renderer

    rows: list[SceneRow] = []
    total = len(scenes) * len(times)
    with Renderer(tile, cache=cache) as renderer:
        renderer.set_frustum(centered_frustum(tile[0] / tile[1]))
        for n, spec in enumerate(scenes):
            frames: list[tuple[float, Image.Image | None]] = []
            error = None
            try:
                renderer.load(bundle, spec.id)
                for t in times:
                    if progress:
                        progress(n * len(times) + len(frames), total,
                                 f"{spec.id} at {_fmt_t(t)}")
                    renderer.render(t)
                    frames.append((t, renderer.snapshot()))
            except ExhibitError as exc:
                error = str(exc)
            renderer.unload()
            frames += [(t, None) for t in times[len(frames):]]
            rows.append(SceneRow(spec.id, spec.kind, dict(spec.title), len(spec.assets),
                                 frames, error))
    if progress:
        progress(total, total, "done")
    return rows


def _write_png(img: Image.Image, out: Path) -> None:
    write_atomic(out, lambda f: img.save(f, format="PNG", optimize=False), parents=True)


def contact_sheet(bundle_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *,
                  times: Sequence[float] = DEFAULT_TIMES,
                  tile: tuple[int, int] = DEFAULT_TILE, cache: ModelCache | None = None,
                  progress: Callable[[int, int, str], None] | None = None,
                  system_fonts: bool = True) -> PreviewResult:
    """Render every scene of a bundle at ``times`` and write a labelled contact sheet.

    Args:
        bundle_path: the ``.exb`` bundle.
        out_path: the PNG to write (atomically).
        times: show times in seconds, one tile each (1 to 12).
        tile: tile size (width, height) in pixels.
        cache: the model cache (default: the one at the default cache folder).
        progress: called with (frames done, frames in all, what is being drawn).
        system_fonts: look for system fonts (else the bundle's and Pillow's only).

    Returns:
        What was written; scenes that failed are listed in ``failures`` and drawn as
        failure tiles.

    Raises:
        BundleError: the bundle cannot be opened.
        RenderError: no offscreen renderer, bad arguments, or the PNG cannot be written.
    """
    from ..assets.bundle import Bundle

    if not 1 <= len(times) <= 12:
        raise RenderError(f"a contact sheet takes 1 to 12 show times, not {len(times)}")
    if not (16 <= tile[0] <= 4096 and 16 <= tile[1] <= 4096):
        raise RenderError(f"invalid tile size {tile!r} (16..4096 pixels a side)")
    out = Path(out_path)
    with Bundle.open(bundle_path) as bundle:
        m = bundle.manifest
        fonts = find_fonts(bundle, system=system_fonts)
        rows = _render_rows(bundle, m.scenes, [float(t) for t in times], tile, cache,
                            progress)
    subtitle = "  ·  ".join(x for x in (
        f"{m.id} {m.version}", f"{len(m.scenes)} scene{'s' if len(m.scenes) != 1 else ''}",
        f"licence {m.license}" if m.license else "", m.rights) if x)
    img = compose_sheet(dict(m.title), subtitle, rows, tile, fonts)
    _write_png(img, out)
    return PreviewResult(out, img.size, len(rows),
                         sum(1 for r in rows for _, f in r.frames if f is not None),
                         tuple((r.id, r.error) for r in rows if r.error),
                         tuple(s.label for s in fonts.sources))
