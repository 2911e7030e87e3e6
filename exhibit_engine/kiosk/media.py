"""The kiosk's pictures: textures from the bundles, rendered thumbnails, 3-D item views.

- **Textures** of bundle images (thumbnails, a print's picture, IIIF tiles) are decoded
  with Pillow first, bounded in size (Panda3D would allocate whatever a header claims),
  and kept while the kiosk runs (tiles in a bounded cache).
- **Thumbnails** of items that have no packed one (artifacts and models) are rendered
  once through the renderer, from the item's live view, without its captions, and kept
  in the cache folder under a key of the model's hash, the scene, the item and the size,
  written atomically; a cached file is checked (it must decode, at that size) before
  use, so a damaged one is rendered again.
- **Live views**: an artifact is its bundle's ``heritage`` scene focused on it; a model
  is shown the same way, standing on a plinth of a one-artifact heritage scene made for
  it. Either way the view is the wall's own renderer and materials, turning.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from ..assets.bundle import Bundle
from ..assets.manifest import SceneSpec
from ..config.paths import write_atomic
from ..errors import ExhibitError
from .catalogue import Catalogue, Item
from .ui import texture_from_image

__all__ = ["MAX_IMAGE_SIDE", "Media", "THUMB_PX", "THUMB_T", "decode_image", "item_view"]

log = logging.getLogger("exhibit_engine.kiosk")

#: Rendered thumbnails are this many pixels square.
THUMB_PX = 512
#: The largest image side the kiosk decodes.
MAX_IMAGE_SIDE = 8192
_TILE_CACHE = 96
_VERSION = "kiosk-thumb-1"
#: Show time of a thumbnail's frame: the camera has reached the item (focus 3 s).
THUMB_T = 9.0


class _ItemBundle:
    """A bundle that also offers one scene it does not list (a model's own view)."""

    def __init__(self, bundle: Bundle, spec: SceneSpec) -> None:
        self._bundle, self._spec = bundle, spec
        self.manifest = bundle.manifest
        self.read = bundle.read
        self.path = bundle.path

    def scene(self, scene_id: str) -> SceneSpec:
        return self._spec if scene_id == self._spec.id else self._bundle.scene(scene_id)


def item_view(cat: Catalogue, item: Item) -> tuple[Any, str] | None:
    """The (bundle, scene id) that shows ``item`` live, or ``None`` (prints, texts)."""
    b = cat.bundles[item.bundle]
    if item.kind == "artifact" and item.scene is not None:
        return b, item.scene
    if item.kind != "model" or item.model is None:
        return None
    font = cat.fonts.get(item.bundle)
    spec = SceneSpec(
        id=f"kiosk:{item.id}", kind="heritage", title=dict(item.title),
        params={"artifacts": [{"item": item.id, "model": item.model, "at": [0.0, 0.0],
                               "plinth": [0.7, 0.7, 0.85], "title": item.id}],
                "turntable_period": 40.0},
        assets=tuple(a for a in (item.model, font) if a),
        labels={item.id: {k: v for k, v in item.title.items() if v}})
    return _ItemBundle(b, spec), spec.id


def decode_image(data: bytes, name: str) -> Image.Image:
    """Decode bundle image bytes, refusing sizes beyond :data:`MAX_IMAGE_SIDE`.

    Raises:
        ExhibitError: not a readable image, or too large.
    """
    try:
        img = Image.open(io.BytesIO(data))
        if max(img.size) > MAX_IMAGE_SIDE:
            raise ExhibitError(f"{name}: {img.size[0]}x{img.size[1]} is larger than "
                               f"{MAX_IMAGE_SIDE} pixels a side")
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExhibitError(f"{name}: cannot be read as an image ({exc})") from None
    return img


class Media:
    """Textures and thumbnails for a catalogue (see the module docstring).

    Args:
        cat: the catalogue.
        cache_dir: where rendered thumbnails are kept.
    """

    def __init__(self, cat: Catalogue, cache_dir: Path) -> None:
        self.cat = cat
        self.folder = Path(cache_dir) / "kiosk-thumbs"
        self._thumbs: dict[tuple[str, str], Any] = {}
        self._pictures: dict[tuple[str, str], Any] = {}
        self._tiles: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.failed: dict[tuple[str, str], str] = {}
        self.rendered = 0

    # -- textures ------------------------------------------------------------------

    def _texture(self, item: Item, path: str) -> Any:
        img = decode_image(self.cat.read(item, path), f"{item.bundle}:{path}")
        return texture_from_image(img, f"{item.bundle}:{path}")

    def thumb(self, item: Item) -> Any:
        """The item's thumbnail texture, or ``None`` while it has none (yet)."""
        key = (item.bundle, item.id)
        if key in self._thumbs or key in self.failed:
            return self._thumbs.get(key)
        try:
            if item.thumbnail is not None:
                self._thumbs[key] = self._texture(item, item.thumbnail)
            else:
                cached = self._cached(item)
                if cached is None:
                    return None
                self._thumbs[key] = texture_from_image(cached, f"thumb:{item.id}")
        except ExhibitError as exc:
            self.failed[key] = str(exc)
            log.warning("kiosk: no thumbnail for %s: %s", item.id, exc)
            return None
        return self._thumbs[key]

    def picture(self, item: Item) -> Any:
        """A print's picture texture (its thumbnail where it has no picture)."""
        key = (item.bundle, item.id)
        if key not in self._pictures:
            path = item.picture or item.thumbnail
            try:
                self._pictures[key] = self._texture(item, path) if path else None
            except ExhibitError as exc:
                log.warning("kiosk: no picture for %s: %s", item.id, exc)
                self._pictures[key] = None
        return self._pictures[key]

    def block(self, item: Item, k: int) -> Any:
        """Block ``k`` of a print as a texture: its ink where its mask has coverage,
        clear elsewhere (so it lies on the paper as it was printed), or ``None``."""
        key = (item.bundle, f"{item.id}#block{k}")
        if key not in self._pictures:
            tex = None
            blk = item.blocks[k] if 0 <= k < len(item.blocks) else None
            if blk is not None and blk.mask:
                try:
                    mask = decode_image(self.cat.read(item, blk.mask), blk.mask)
                    ink = Image.new("RGB", mask.size, blk.ink if blk.ink.startswith("#")
                                    else "#000000")
                    ink.putalpha(mask.getchannel(0))
                    tex = texture_from_image(ink, f"{item.id}:block-{k}")
                except (ExhibitError, ValueError) as exc:
                    log.warning("kiosk: block %d of %s: %s", k, item.id, exc)
            self._pictures[key] = tex
        return self._pictures[key]

    def tile(self, item: Item, path: str) -> Any:
        """One IIIF tile's texture (kept among the last few used), or ``None``."""
        key = (item.bundle, path)
        if key in self._tiles:
            self._tiles.move_to_end(key)
            return self._tiles[key]
        try:
            tex = self._texture(item, path)
        except ExhibitError as exc:
            log.warning("kiosk: IIIF tile %s: %s", path, exc)
            tex = None
        self._tiles[key] = tex
        while len(self._tiles) > _TILE_CACHE:
            self._tiles.popitem(last=False)
        return tex

    @property
    def thumbnails(self) -> int:
        """How many thumbnails are loaded (a page redraws when one more arrives)."""
        return len(self._thumbs)

    # -- rendered thumbnails ---------------------------------------------------------

    def _key(self, item: Item) -> str:
        b = self.cat.bundles[item.bundle]
        entry = b.manifest.file(item.model or "")
        digest = entry.sha256 if entry is not None else b.manifest.version
        raw = f"{_VERSION}|{item.bundle}|{item.id}|{item.scene}|{digest}|{THUMB_PX}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _cached(self, item: Item) -> Image.Image | None:
        path = self.folder / f"{self._key(item)}.png"
        try:
            img = Image.open(path)
            if img.size != (THUMB_PX, THUMB_PX):
                return None
            img.load()
            return img
        except (OSError, ValueError):
            return None

    def missing(self) -> list[Item]:
        """Items that need a thumbnail rendered (none packed, none cached)."""
        return [it for it in self.cat if it.thumbnail is None and it.kind in
                ("artifact", "model") and self.thumb(it) is None
                and (it.bundle, it.id) not in self.failed]

    def render_thumbs(self, items: list[Item], draw: Callable[[Item], Image.Image | None],
                      progress: Callable[[int, int], None] | None = None) -> None:
        """Render ``items``' thumbnails with ``draw`` and keep them in the cache."""
        for i, item in enumerate(items):
            if progress is not None:
                progress(i, len(items))
            key = (item.bundle, item.id)
            try:
                img = draw(item)
            except ExhibitError as exc:
                self.failed[key] = str(exc)
                log.warning("kiosk: cannot render a thumbnail of %s: %s", item.id, exc)
                continue
            if img is None:
                continue
            img = img.convert("RGB").resize((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomic(self.folder / f"{self._key(item)}.png", buf.getvalue())
            except (OSError, ExhibitError) as exc:     # no cache: render again next time
                log.warning("kiosk: cannot keep a thumbnail in %s: %s", self.folder, exc)
            self._thumbs[key] = texture_from_image(img, f"thumb:{item.id}")
            self.rendered += 1
