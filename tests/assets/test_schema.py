"""The published JSON Schema of manifest.json agrees with parse_manifest."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from exhibit_engine.assets.manifest import ManifestError, parse_manifest
from exhibit_engine.assets.pack import pack
from exhibit_engine.assets.schema import SCHEMA_FILE, manifest_schema, manifest_schema_text

from .zipkit import entries

SHA = "0" * 64
BASE: dict[str, Any] = {
    "format": "exhibit-bundle/1", "id": "t", "version": "1.0.0",
    "title": {"zh": "小", "en": "T"}, "rights": "r", "license": "CC0-1.0",
    "items": [{"id": "stone", "title": {"en": "Stone"}, "creator": "c", "date": "2026",
               "description": {"en": "d"}, "rights": "", "identifier": "x-1"}],
    "scenes": [{"id": "s", "kind": "ice", "title": {"en": "S"}, "params": {"seed": 1},
                "assets": ["a/b.bin"]}],
    "files": [{"path": "a/b.bin", "size": 3, "media_type": "application/octet-stream",
               "sha256": SHA}],
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A draft 2020-12 validator of the packaged schema."""
    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def _edit(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    fn(doc)
    return doc


def test_schema_ships_in_the_package() -> None:
    here = Path(__file__).resolve().parents[2] / "exhibit_engine" / "assets" / SCHEMA_FILE
    assert manifest_schema_text() == here.read_text(encoding="utf-8")
    schema = manifest_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"] == {"const": "exhibit-bundle/1"}
    schema["title"] = "changed"  # a fresh dict each time
    assert manifest_schema()["title"] != "changed"


def test_packed_manifests_follow_the_schema(validator: jsonschema.protocols.Validator,
                                            ice_exb: Path, tiny_source: Path,
                                            tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.exb"
    pack(tiny_source, tiny)
    for exb in (ice_exb, tiny):
        doc = json.loads(entries(exb)["manifest.json"])
        assert _errors(validator, doc) == [], exb


def test_base_document_is_valid_for_both(validator: jsonschema.protocols.Validator) -> None:
    parse_manifest(BASE)
    assert _errors(validator, BASE) == []


ACCEPTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "no items": lambda d: d.pop("items"),
    "no rights or licence": lambda d: (d.pop("rights"), d.pop("license")),
    "null optional texts": lambda d: d["items"][0].update(creator=None, description=None),
    "scene without title, params or assets": lambda d: d["scenes"].__setitem__(
        0, {"id": "s", "kind": "ice"}),
    "pre-release version": lambda d: d.update(version="2.0.0-rc.1"),
    "unknown keys are ignored": lambda d: d.update(x_note="for tools"),
    "nested file path": lambda d: (d["files"][0].update(path="a/b.c/d-e_f.bin"),
                                   d["scenes"][0].update(assets=["a/b.c/d-e_f.bin"])),
    "no files": lambda d: (d.update(files=[]), d["scenes"][0].update(assets=[])),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_both_accept(validator: jsonschema.protocols.Validator, case: str) -> None:
    doc = _edit(ACCEPTED[case])
    parse_manifest(doc)
    assert _errors(validator, doc) == []


def _file(**kw: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["files"][0].update(kw)


REJECTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "other format": lambda d: d.update(format="exhibit-bundle/2"),
    "no id": lambda d: d.pop("id"),
    "upper-case id": lambda d: d.update(id="Ice"),
    "id starting with a dot": lambda d: d.update(id=".ice"),
    "id too long": lambda d: d.update(id="a" * 65),
    "short version": lambda d: d.update(version="1.0"),
    "leading zero": lambda d: d.update(version="01.0.0"),
    "build metadata": lambda d: d.update(version="1.0.0+build"),
    "numeric version": lambda d: d.update(version=1),
    "empty title": lambda d: d.update(title={}),
    "title not a map": lambda d: d.update(title="Ice"),
    "title value not text": lambda d: d.update(title={"en": 1}),
    "no title": lambda d: d.pop("title"),
    "rights not text": lambda d: d.update(rights=3),
    "licence too long": lambda d: d.update(license="x" * 10_001),
    "items not a list": lambda d: d.update(items={}),
    "items null": lambda d: d.update(items=None),
    "item not an object": lambda d: d.update(items=["stone"]),
    "item without title": lambda d: d["items"][0].pop("title"),
    "item with bad id": lambda d: d["items"][0].update(id="Stone Age"),
    "item creator not text": lambda d: d["items"][0].update(creator=["a"]),
    "item description not a map": lambda d: d["items"][0].update(description="d"),
    "no scenes": lambda d: d.pop("scenes"),
    "empty scenes": lambda d: d.update(scenes=[]),
    "scene without kind": lambda d: d["scenes"][0].pop("kind"),
    "scene kind not an id": lambda d: d["scenes"][0].update(kind="Ice Kind"),
    "scene params a list": lambda d: d["scenes"][0].update(params=[1]),
    "scene params null": lambda d: d["scenes"][0].update(params=None),
    "scene assets not a list": lambda d: d["scenes"][0].update(assets="a/b.bin"),
    "scene asset not text": lambda d: d["scenes"][0].update(assets=[1]),
    "scene title not a map": lambda d: d["scenes"][0].update(title="S"),
    "no files": lambda d: d.pop("files"),
    "files not a list": lambda d: d.update(files={}),
    "too many files": lambda d: d.update(files=[{}] * 10_001),
    "file not an object": lambda d: d.update(files=["a"]),
    "file without hash": lambda d: d["files"][0].pop("sha256"),
    "upper-case hash": _file(sha256="A" * 64),
    "short hash": _file(sha256="0" * 63),
    "negative size": _file(size=-1),
    "size as text": _file(size="3"),
    "size as boolean": _file(size=True),
    "empty media type": _file(media_type=""),
    "blank media type": _file(media_type="   "),
    "absolute path": _file(path="/etc/passwd"),
    "drive letter": _file(path="C:x.bin"),
    "dot-dot segment": _file(path="a/../b.bin"),
    "leading dot-dot": _file(path="../b.bin"),
    "dot segment": _file(path="./b.bin"),
    "empty segment": _file(path="a//b.bin"),
    "trailing slash": _file(path="a/"),
    "backslash": _file(path="a\\b.bin"),
    "percent-encoded": _file(path="%2e%2e/b.bin"),
    "control character": _file(path="a\x01.bin"),
    "empty path": _file(path=""),
    "path too long": _file(path="a" * 256),
    "reserved manifest.json": _file(path="manifest.json"),
    "reserved manifest.sig": _file(path="manifest.sig"),
    "top level a list": lambda d: (d.clear(), d.update(_list=True)),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_both_reject(validator: jsonschema.protocols.Validator, case: str) -> None:
    doc: Any = _edit(REJECTED[case])
    if doc.get("_list"):
        doc = [BASE]
    with pytest.raises(ManifestError):
        parse_manifest(doc if isinstance(doc, dict) else json.dumps(doc))
    assert _errors(validator, doc), f"the schema accepts: {case}"


ONLY_PARSER: dict[str, Callable[[dict[str, Any]], None]] = {
    "duplicate scene id": lambda d: d["scenes"].append(dict(d["scenes"][0])),
    "scene asset not listed": lambda d: d["scenes"][0].update(assets=["missing.bin"]),
    "file listed twice": lambda d: d["files"].append(dict(d["files"][0])),
}


@pytest.mark.parametrize("case", list(ONLY_PARSER))
def test_rules_a_schema_cannot_state_are_named_in_its_description(
        validator: jsonschema.protocols.Validator, case: str) -> None:
    doc = _edit(ONLY_PARSER[case])
    with pytest.raises(ManifestError):
        parse_manifest(doc)
    assert _errors(validator, doc) == []
    description = manifest_schema()["description"]
    assert {"duplicate scene id": "scene ids unique",
            "scene asset not listed": "every scene asset listed in files",
            "file listed twice": "file paths unique"}[case] in description


@pytest.mark.parametrize("field", ["id", "version"])
def test_trailing_newline_is_refused_by_the_parser(field: str) -> None:
    doc = _edit(lambda d: d.update({field: d[field] + "\n"}))
    with pytest.raises(ManifestError):
        parse_manifest(doc)
