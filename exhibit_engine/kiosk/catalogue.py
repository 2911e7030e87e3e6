"""What a kiosk offers: the show's items, grouped by bundle, with what each needs to be shown.

Built from the show's bundles, opened and verified the way a projector node opens them
(the venue's signature policy, every hash and every file's content), so a kiosk never
shows what the wall would refuse. For every item of every bundle's manifest
(``[[items]]``, with its Dublin Core fields) it finds how the item is seen:

- **print**: a woodblock print, ``prints/<item>/blocks.json`` (its blocks' inks and
  names), with the finished picture, thumbnail and IIIF tiles that packing writes beside
  it (:func:`~exhibit_engine.assets.woodblock_pack.print_images`);
- **artifact**: an object on a turntable in a ``heritage`` scene (its ``artifacts``
  name the item and its model); the kiosk shows that scene focused on it, live;
- **model**: a mesh named after the item (``meshes/<item>.glb``) in some scene, shown
  through that scene;
- **text**: none of these; the item page shows its fields only.

A thumbnail a curator packed for the item (``thumbs/<item>.jpg`` or ``.png`` at the
bundle's root) is used first; prints bring their own; the kiosk renders the others
(:mod:`.thumbnails`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..assets.bundle import Bundle, open_verified
from ..assets.library import library_path
from ..assets.signing import PublicKey
from ..config.show import ShowConfig
from ..errors import BundleError

__all__ = ["Block", "Catalogue", "Group", "Item", "KINDS", "build_catalogue"]

#: How an item is seen (see the module docstring).
KINDS = ("print", "artifact", "model", "text")

_FONT_SUFFIXES = (".otf", ".ttf")
_IMAGE_SUFFIXES = (".jpg", ".png")


@dataclass(frozen=True)
class Block:
    """One block of a print: its ink (``#rrggbb``), its name by language and its mask
    (the bundle path of an image whose first channel is the ink's coverage)."""

    ink: str
    name: Mapping[str, str]
    mask: str = ""


@dataclass(frozen=True)
class Item:
    """One item as the kiosk shows it.

    Attributes:
        id: the item id (what ``select`` sends).
        bundle: the id of the bundle it comes from.
        kind: one of :data:`KINDS`.
        title, description: by language.
        creator, date, rights, identifier: Dublin Core fields as the manifest has them.
        thumbnail: a bundle path of a thumbnail image, or ``None`` (the kiosk renders one).
        picture: a print's finished picture (bundle path), or ``None``.
        iiif: a print's IIIF ``info.json`` (bundle path), or ``None``.
        blocks: a print's blocks, in printing order.
        paper: a print's paper colour (``#rrggbb``).
        scene: the scene that shows the item live (artifacts and models), or ``None``.
        model: the item's GLB (bundle path), or ``None``.
    """

    id: str
    bundle: str
    kind: str
    title: Mapping[str, str]
    description: Mapping[str, str] = field(default_factory=dict)
    creator: str = ""
    date: str = ""
    rights: str = ""
    identifier: str = ""
    thumbnail: str | None = None
    picture: str | None = None
    iiif: str | None = None
    blocks: tuple[Block, ...] = ()
    paper: str = "#f2ebda"
    scene: str | None = None
    model: str | None = None

    def title_in(self, language: str) -> str:
        """The title in ``language``, else English, else any, else the id."""
        return _pick(self.title, language) or self.id

    def description_in(self, language: str) -> str:
        """The description in ``language``, else English, else any, else empty."""
        return _pick(self.description, language)


@dataclass(frozen=True)
class Group:
    """The items of one bundle, in the manifest's order."""

    bundle: str
    title: Mapping[str, str]
    items: tuple[Item, ...]

    def title_in(self, language: str) -> str:
        """The bundle's title in ``language`` (else English, else any, else its id)."""
        return _pick(self.title, language) or self.bundle


@dataclass
class Catalogue:
    """The show's items by bundle, and the open bundles they are read from.

    Attributes:
        groups: one per bundle of the show that has items, in the show's order.
        bundles: the open, verified bundles by id (:meth:`close` closes them).
        fonts: each bundle's label font (a bundle path), where it has one.
    """

    groups: tuple[Group, ...]
    bundles: dict[str, Bundle]
    fonts: dict[str, str]

    def __iter__(self) -> Iterator[Item]:
        for g in self.groups:
            yield from g.items

    def __len__(self) -> int:
        return sum(len(g.items) for g in self.groups)

    def item(self, item_id: str, bundle: str | None = None) -> Item:
        """The item with this id (in ``bundle``, where ids repeat across bundles).

        Raises:
            KeyError: no such item.
        """
        for it in self:
            if it.id == item_id and bundle in (None, it.bundle):
                return it
        raise KeyError(item_id)

    def read(self, item: Item, path: str) -> bytes:
        """The verified bytes of ``path`` in ``item``'s bundle."""
        return self.bundles[item.bundle].read(path)

    def close(self) -> None:
        """Close every bundle."""
        for b in self.bundles.values():
            b.close()
        self.bundles.clear()


def _pick(texts: Mapping[str, str], language: str) -> str:
    for lang in (language, "en"):
        if texts.get(lang):
            return texts[lang]
    return next((t for t in texts.values() if t), "")


def build_catalogue(show: ShowConfig, bundle_dir: Path, *, trust: Sequence[PublicKey] = (),
                    require_signed: bool = False) -> Catalogue:
    """Open the show's bundles from ``bundle_dir`` and list their items.

    Raises:
        BundleError: a bundle of the show is missing or breaks a rule (named).
    """
    bundles: dict[str, Bundle] = {}
    try:
        for ref in show.bundles:
            bundles[ref.id] = open_verified(library_path(bundle_dir, ref.id, ref.file), trust,
                                            require_signed)
        groups, fonts = [], {}
        for ref in show.bundles:
            b = bundles[ref.id]
            font = next((f.path for f in b.manifest.files
                         if PurePosixPath(f.path).suffix.lower() in _FONT_SUFFIXES), None)
            if font is not None:
                fonts[ref.id] = font
            items = tuple(_items(b))
            if items:
                groups.append(Group(ref.id, dict(b.manifest.title), items))
    except Exception:
        for b in bundles.values():
            b.close()
        raise
    return Catalogue(tuple(groups), bundles, fonts)


def _items(b: Bundle) -> Iterator[Item]:
    m = b.manifest
    files = {f.path for f in m.files}
    artifacts: dict[str, tuple[str, str]] = {}      # item -> (scene, model)
    meshes: dict[str, str] = {}                     # mesh path -> first scene using it
    for spec in m.scenes:
        if spec.kind == "heritage":
            for art in spec.params.get("artifacts", ()):
                if isinstance(art, Mapping) and isinstance(art.get("item"), str):
                    artifacts.setdefault(art["item"], (spec.id, str(art.get("model", ""))))
        for a in spec.assets:
            if a.lower().endswith(".glb"):
                meshes.setdefault(a, spec.id)
    for it in m.items:
        fields: dict[str, Any] = dict(
            id=it.id, bundle=m.id, title=dict(it.title), description=dict(it.description),
            creator=it.creator, date=it.date, rights=it.rights or m.license,
            identifier=it.identifier)
        thumb = next((p for p in (f"thumbs/{it.id}{s}" for s in _IMAGE_SUFFIXES)
                      if p in files), None)
        blocks_json = f"prints/{it.id}/blocks.json"
        if blocks_json in files:
            yield Item(kind="print", **fields, **_print(b, it.id, blocks_json, files, thumb))
        elif it.id in artifacts:
            scene, model = artifacts[it.id]
            yield Item(kind="artifact", **fields, thumbnail=thumb, scene=scene,
                       model=model or None)
        elif f"meshes/{it.id}.glb" in meshes:
            mesh = f"meshes/{it.id}.glb"
            yield Item(kind="model", **fields, thumbnail=thumb, scene=meshes[mesh], model=mesh)
        else:
            yield Item(kind="text", **fields, thumbnail=thumb)


def _print(b: Bundle, item: str, blocks_json: str, files: set[str], thumb: str | None
           ) -> dict[str, Any]:
    from ..assets.woodblock_pack import print_images

    try:
        doc = json.loads(b.read(blocks_json))
    except ValueError:
        raise BundleError(str(b.path), f"{blocks_json}: not valid JSON") from None
    blocks = tuple(Block(str(blk.get("ink", "#000000")),
                         {k: str(v) for k, v in dict(blk.get("name") or {}).items()},
                         _mask(str(blk.get("mask", "")), files))
                   for blk in doc.get("blocks", ()) if isinstance(blk, Mapping))
    images = print_images(item)
    return dict(blocks=blocks, paper=str(doc.get("paper", "#f2ebda")),
                thumbnail=thumb or (images.thumbnail if images.thumbnail in files else None),
                picture=images.picture if images.picture in files else None,
                iiif=images.iiif_info if images.iiif_info in files else None)


def _mask(path: str, files: set[str]) -> str:
    """A block's mask as the kiosk shows it: its packed thumbnail where there is one."""
    p = PurePosixPath(path)
    thumb = str(p.parent / "thumbs" / f"{p.stem}.jpg")
    return thumb if thumb in files else (path if path in files else "")
