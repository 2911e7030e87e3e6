"""The bundle manifest: a plain, checked description of a bundle and its files.

``manifest.json`` sits at the root of every ``.exb`` archive::

    {
      "format": "exhibit-bundle/1",
      "id": "ice-festival", "version": "1.0.0",
      "title": {"zh": "…", "en": "…", "ru": "…"},
      "rights": "…", "license": "CC-BY-4.0",
      "items":  [{"id", "title", "creator", "date", "description", "rights", "identifier"}],
      "scenes": [{"id", "kind", "title", "params", "assets": ["meshes/castle.glb"]}],
      "files":  [{"path", "size", "media_type", "sha256"}]
    }

This module parses and checks that shape (stdlib only); :mod:`.bundle` reads archives.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._json import strict_loads

__all__ = [
    "FORMAT",
    "FileEntry",
    "Item",
    "MEDIA_TYPES",
    "Manifest",
    "ManifestError",
    "SceneSpec",
    "check_entry_name",
    "media_type_for",
    "parse_manifest",
]

FORMAT = "exhibit-bundle/1"

MEDIA_TYPES = {
    ".glb": "model/gltf-binary",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_FILES = 10_000
_MAX_DEPTH = 16


class ManifestError(ValueError):
    """A manifest breaks a rule; ``entry`` names the part (e.g. ``scenes[0].kind``)."""

    def __init__(self, rule: str, entry: str | None = None) -> None:
        super().__init__(f"{entry}: {rule}" if entry else rule)
        self.rule = rule
        self.entry = entry


def media_type_for(name: str) -> str:
    """The media type recorded for a file name (by extension)."""
    dot = name.rfind(".")
    return MEDIA_TYPES.get(name[dot:].lower() if dot >= 0 else "", "application/octet-stream")


def check_entry_name(name: str) -> str | None:
    """Why an archive entry name is unsafe, or ``None`` if it is a safe relative path.

    Rejects absolute paths, drive letters, backslashes, ``..`` and ``.`` segments (also
    percent-encoded), empty segments, control characters and over-long names.
    """
    if not name or len(name) > 255:
        return "name is empty or longer than 255 characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "name contains control characters"
    if "\\" in name:
        return "name contains a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if "%" in name:
        return "percent-encoded name"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "path has an empty, '.' or '..' segment"
    return None


@dataclass(frozen=True)
class FileEntry:
    """One file of the bundle."""

    path: str
    size: int
    media_type: str
    sha256: str


@dataclass(frozen=True)
class Item:
    """One catalogued object, with Dublin Core fields (multilingual where visitors read them)."""

    id: str
    title: Mapping[str, str]
    creator: str = ""
    date: str = ""
    description: Mapping[str, str] = field(default_factory=dict)
    rights: str = ""
    identifier: str = ""


@dataclass(frozen=True)
class SceneSpec:
    """A scene the bundle offers: its id, kind, parameters, the files it uses and its labels.

    ``labels`` maps a label id to its text per language (``{"zh": …, "en": …, "ru": …}``);
    the bundle's subset font covers every one of them.
    """

    id: str
    kind: str
    title: Mapping[str, str]
    params: Mapping[str, Any]
    assets: tuple[str, ...]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A parsed, checked manifest."""

    id: str
    version: str
    title: Mapping[str, str]
    rights: str
    license: str
    items: tuple[Item, ...]
    scenes: tuple[SceneSpec, ...]
    files: tuple[FileEntry, ...]
    format: str = FORMAT

    def file(self, path: str) -> FileEntry | None:
        """The entry for ``path``, or ``None``."""
        for f in self.files:
            if f.path == path:
                return f
        return None

    def to_json_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, UTF-8, trailing newline): the bytes that get signed."""
        doc = {
            "format": self.format,
            "id": self.id,
            "version": self.version,
            "title": dict(self.title),
            "rights": self.rights,
            "license": self.license,
            "items": [{"id": i.id, "title": dict(i.title), "creator": i.creator,
                       "date": i.date, "description": dict(i.description),
                       "rights": i.rights, "identifier": i.identifier} for i in self.items],
            "scenes": [{"id": s.id, "kind": s.kind, "title": dict(s.title),
                        "params": dict(s.params), "assets": list(s.assets),
                        "labels": {k: dict(v) for k, v in s.labels.items()}}
                       for s in self.scenes],
            "files": [{"path": f.path, "size": f.size, "media_type": f.media_type,
                       "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()


# --------------------------------------------------------------------------- parsing


def _depth(value: Any, level: int = 0) -> int:
    if level > _MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


def _text(value: Any, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > 10_000:
        raise ManifestError("must be a non-empty string (at most 10,000 characters)", where)
    return value


def _langs(value: Any, where: str, *, required: bool = True) -> dict[str, str]:
    if value is None and not required:
        return {}
    if (not isinstance(value, dict) or (required and not value)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
        raise ManifestError("must be a map of language code to text", where)
    return dict(value)


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ManifestError("must be an id: lower-case letters, digits, '.', '_', '-'", where)
    return value


def _json_value(value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ManifestError("must be a finite number", where)
    if isinstance(value, dict):
        return {k: _json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def parse_manifest(data: bytes | str | Mapping[str, Any]) -> Manifest:
    """Parse and check a manifest from JSON bytes (or an already-decoded mapping).

    Raises:
        ManifestError: the JSON is malformed or hostile, or a field breaks a rule.
    """
    if isinstance(data, (bytes, str)):
        try:
            doc = strict_loads(data, ManifestError)
        except RecursionError:
            raise ManifestError("JSON nested too deeply") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"not valid JSON ({exc})") from None
    else:
        doc = dict(data)
    if not isinstance(doc, dict):
        raise ManifestError("top level must be a JSON object")
    if _depth(doc) > _MAX_DEPTH:
        raise ManifestError(f"JSON nested deeper than {_MAX_DEPTH} levels")
    if doc.get("format") != FORMAT:
        raise ManifestError(f"unsupported format {doc.get('format')!r} (expected {FORMAT!r})",
                            "format")
    version = doc.get("version")
    if not isinstance(version, str) or not _SEMVER.fullmatch(version):
        raise ManifestError("must be a semantic version such as 1.2.0", "version")

    raw_files = doc.get("files")
    if not isinstance(raw_files, list) or len(raw_files) > _MAX_FILES:
        raise ManifestError(f"must be a list of at most {_MAX_FILES} files", "files")
    files = []
    seen: set[str] = set()
    for i, f in enumerate(raw_files):
        where = f"files[{i}]"
        if not isinstance(f, dict):
            raise ManifestError("must be an object", where)
        path = f.get("path")
        if not isinstance(path, str):
            raise ManifestError("must be a string", f"{where}.path")
        why = check_entry_name(path)
        if why:
            raise ManifestError(why, f"{where}.path={path!r}")
        if path in ("manifest.json", "manifest.sig"):
            raise ManifestError("reserved name", f"{where}.path")
        if path in seen:
            raise ManifestError("listed twice", f"{where}.path={path!r}")
        seen.add(path)
        size = f.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ManifestError("must be a whole number of bytes", f"{where}.size")
        digest = f.get("sha256")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ManifestError("must be 64 lower-case hex digits", f"{where}.sha256")
        media = _text(f.get("media_type"), f"{where}.media_type")
        files.append(FileEntry(path, size, media, digest))

    items = []
    raw_items = doc.get("items", [])
    if not isinstance(raw_items, list):
        raise ManifestError("must be a list", "items")
    for i, it in enumerate(raw_items):
        where = f"items[{i}]"
        if not isinstance(it, dict):
            raise ManifestError("must be an object", where)
        items.append(Item(
            id=_ident(it.get("id"), f"{where}.id"),
            title=_langs(it.get("title"), f"{where}.title"),
            creator=_text(it.get("creator"), f"{where}.creator", required=False),
            date=_text(it.get("date"), f"{where}.date", required=False),
            description=_langs(it.get("description"), f"{where}.description", required=False),
            rights=_text(it.get("rights"), f"{where}.rights", required=False),
            identifier=_text(it.get("identifier"), f"{where}.identifier", required=False),
        ))

    raw_scenes = doc.get("scenes")
    if not isinstance(raw_scenes, list) or not raw_scenes:
        raise ManifestError("must be a non-empty list", "scenes")
    scenes = []
    scene_ids: set[str] = set()
    for i, s in enumerate(raw_scenes):
        where = f"scenes[{i}]"
        if not isinstance(s, dict):
            raise ManifestError("must be an object", where)
        sid = _ident(s.get("id"), f"{where}.id")
        if sid in scene_ids:
            raise ManifestError(f"duplicate scene id {sid!r}", f"{where}.id")
        scene_ids.add(sid)
        params = s.get("params", {})
        if not isinstance(params, dict):
            raise ManifestError("must be an object", f"{where}.params")
        assets = s.get("assets", [])
        if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
            raise ManifestError("must be a list of file paths", f"{where}.assets")
        for a in assets:
            if a not in seen:
                raise ManifestError(f"uses {a!r}, which the manifest does not list",
                                    f"{where}.assets")
        raw_labels = s.get("labels", {})
        if not isinstance(raw_labels, dict):
            raise ManifestError("must be a map of label id to texts", f"{where}.labels")
        labels = {_ident(k, f"{where}.labels"): _langs(v, f"{where}.labels.{k}")
                  for k, v in raw_labels.items()}
        scenes.append(SceneSpec(
            id=sid,
            kind=_ident(s.get("kind"), f"{where}.kind"),
            title=_langs(s.get("title"), f"{where}.title", required=False),
            params=_json_value(params, f"{where}.params"),
            assets=tuple(assets),
            labels=labels,
        ))

    return Manifest(
        id=_ident(doc.get("id"), "id"),
        version=version,
        title=_langs(doc.get("title"), "title"),
        rights=_text(doc.get("rights"), "rights", required=False),
        license=_text(doc.get("license"), "license", required=False),
        items=tuple(items),
        scenes=tuple(scenes),
        files=tuple(files),
    )
