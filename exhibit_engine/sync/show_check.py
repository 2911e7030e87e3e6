"""A show checked against its bundles before it plays: every cue can be built.

``exhibit show check VENUE SHOW`` runs :func:`check_show`; it finds, in one pass, every
cue of the main list, the attract loop and ``[standby]`` whose bundle file is missing
or unreadable, whose bundle lacks its scene (with the nearest scene id), or whose scene's
parameters break their kind's rules (:func:`~exhibit_engine.scenes.registry.check_params`,
the same check ``exhibit pack`` runs). Each problem is one line naming the show file and
the cue. Bundles are opened and their structure checked (``Bundle.open``); every file's
hash is checked by nodes when they load (and by ``exhibit validate``).

Pure of Panda3D and ZeroMQ: the controller and the node can run it at start.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..assets.bundle import Bundle
from ..assets.library import library_path
from ..config.show import CueConfig, ShowConfig
from ..errors import ExhibitError
from ..scenes.registry import check_params

__all__ = ["ShowProblem", "check_show", "show_cues", "show_items"]


@dataclass(frozen=True)
class ShowProblem:
    """One thing that would stop a cue from playing.

    Attributes:
        where: the show file.
        cue: the cue's id and the list it is in (``"cue 'castle'"``,
            ``"attract cue 'lanterns'"``, ``"standby"``).
        rule: what is wrong.
    """

    where: str
    cue: str
    rule: str

    def __str__(self) -> str:
        return f"{self.where}: {self.cue}: {self.rule}"


def show_cues(show: ShowConfig) -> Iterator[tuple[str, CueConfig]]:
    """Every cue the show can play, with how to name it: main list, attract, standby."""
    for cue in show.cues:
        yield f"cue {cue.id!r}", cue
    if show.attract is not None:
        for cue in show.attract.cues:
            if cue not in show.cues:
                yield f"attract cue {cue.id!r}", cue
    if show.standby is not None:
        yield "standby", show.standby


def check_show(show: ShowConfig, bundle_dir: str | os.PathLike[str], *,
               absent_ok: bool = False) -> list[ShowProblem]:
    """Every problem that would stop one of the show's cues from playing (empty: none).

    Args:
        show: the parsed show.
        bundle_dir: the folder holding the show's ``.exb`` files.
        absent_ok: a bundle whose file is not in the folder is no problem (a node that
            fetches it from the controller checks it when it arrives).
    """
    where = show.path or "show.toml"
    folder = Path(bundle_dir)
    problems: list[ShowProblem] = []
    opened: dict[str, Bundle | str] = {}
    checked: set[tuple[str, str]] = set()
    try:
        for name, cue in show_cues(show):
            bundle = _open(opened, show, cue.bundle, folder)
            if isinstance(bundle, str) and absent_ok and bundle.endswith(" not found"):
                continue
            if isinstance(bundle, str):
                problems.append(ShowProblem(where, name, bundle))
                continue
            scenes = [s.id for s in bundle.manifest.scenes]
            if cue.scene not in scenes:
                near = difflib.get_close_matches(cue.scene, scenes, n=1)
                hint = f"did you mean {near[0]!r}?" if near else \
                    f"it has {', '.join(map(repr, scenes)) or 'no scenes'}"
                problems.append(ShowProblem(where, name, f"bundle {cue.bundle!r} has no "
                                                         f"scene {cue.scene!r} ({hint})"))
                continue
            if (cue.bundle, cue.scene) in checked:
                continue
            checked.add((cue.bundle, cue.scene))
            try:
                check_params(bundle.scene(cue.scene), bundle.read)
            except ExhibitError as exc:
                problems.append(ShowProblem(where, name, f"bundle {cue.bundle!r}: "
                                                         f"{exc.message}"))
    finally:
        for b in opened.values():
            if isinstance(b, Bundle):
                b.close()
    return problems


def show_items(show: ShowConfig, bundle_dir: str | os.PathLike[str]) -> frozenset[str]:
    """Every item id the show's bundles hold (what a kiosk's ``select`` may name).

    Raises:
        BundleError: a bundle of the show is missing or unusable (run
            :func:`check_show` first for one line per problem).
    """
    items: set[str] = set()
    for ref in show.bundles:
        with Bundle.open(library_path(bundle_dir, ref.id, ref.file)) as b:
            items.update(item.id for item in b.manifest.items)
    return frozenset(items)


def _open(opened: dict[str, Bundle | str], show: ShowConfig, bundle_id: str,
          folder: Path) -> Bundle | str:
    """The bundle, opened once, or the reason it cannot be."""
    if bundle_id not in opened:
        try:
            ref = show.bundle(bundle_id)
        except ExhibitError as exc:
            opened[bundle_id] = exc.message
            return opened[bundle_id]
        path = library_path(folder, ref.id, ref.file)
        if not path.is_file():
            opened[bundle_id] = f"bundle file {str(path)!r} not found"
        else:
            try:
                opened[bundle_id] = Bundle.open(path)
            except ExhibitError as exc:
                opened[bundle_id] = f"bundle {bundle_id!r} is unusable: {exc}"
    return opened[bundle_id]
