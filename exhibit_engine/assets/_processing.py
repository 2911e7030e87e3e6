"""What a pack processor gets and returns: :class:`PackContext` in, :class:`Output` out.

The processors (:mod:`.font`, :mod:`.image`, :mod:`.mesh`, :mod:`.woodblock_pack`) and
the pipeline that calls them (:mod:`.pack`) share these types. They live here, below
both, so that a processor never imports the pipeline that registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BundleError

__all__ = ["Output", "PackContext", "Processor", "SOURCE_FILE"]

#: The curator's description of a bundle, in the root of its source folder.
SOURCE_FILE = "bundle.toml"


@dataclass(frozen=True)
class Output:
    """One file a processor puts into the bundle.

    Attributes:
        path: its path inside the bundle.
        data: its bytes.
    """

    path: str
    data: bytes


@dataclass
class PackContext:
    """What a processor may know about the bundle being packed.

    Attributes:
        src: the source folder.
        doc: the parsed ``bundle.toml``.
        texts: every visitor-facing string in the bundle (titles, descriptions, label
            texts), for font subsetting.
        notes: remarks for the curator's summary (e.g. "made 2 LODs"), by source path.
        consumed: source files a processor read as part of another source (a .gltf's
            .bin and images, an OBJ's .mtl and textures), by the source that read them.
            Pack puts them into the bundle only inside that source's output, never as
            entries of their own.
    """

    src: Path
    doc: Mapping[str, Any]
    texts: tuple[str, ...]
    notes: dict[str, list[str]] = field(default_factory=dict)
    consumed: dict[str, str] = field(default_factory=dict)

    def options(self, rel: str) -> Mapping[str, Any]:
        """Per-file options from ``[assets."<rel>"]`` in bundle.toml (e.g. units, up axis)."""
        table = self.doc.get("assets", {})
        opts = table.get(rel, {}) if isinstance(table, dict) else {}
        if not isinstance(opts, dict):
            raise self.fail(rel, f'[assets."{rel}"] in {SOURCE_FILE} must be a table')
        return opts

    def fail(self, rel: str, rule: str) -> BundleError:
        """The error a processor raises for bad input: one line naming file and rule."""
        return BundleError(str(self.src), rule, rel)

    def consume(self, rel: str, by: str) -> None:
        """Claim the source file ``rel`` as read into ``by``'s output (see ``consumed``)."""
        self.consumed.setdefault(rel, by)

    def note(self, rel: str, text: str) -> None:
        """Add a remark to the packing summary."""
        self.notes.setdefault(rel, []).append(text)


#: A processor: (context, source path relative to the folder, its bytes) -> outputs.
Processor = Callable[[PackContext, str, bytes], list[Output]]
