"""The model cache: content-addressed, checked before every load, rebuilt when damaged.

Each test says what it proves. Entries are written by the cache under test into a
temporary folder; nothing touches the user's cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exhibit_engine.bench.bundle import make_textured_glb
from exhibit_engine.errors import AssetError
from exhibit_engine.runtime import cache as cache_mod
from exhibit_engine.runtime.cache import ModelCache, default_cache_dir

ROOT = Path(__file__).resolve().parents[2]
CASTLE = (ROOT / "content" / "ice-festival" / "meshes" / "castle.glb").read_bytes()
LANTERN = (ROOT / "content" / "ice-festival" / "meshes" / "lantern.glb").read_bytes()


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Any default cache in these tests lives in the test's own folder."""
    folder = tmp_path / "default-cache"
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", str(folder))
    return folder


def shape(model) -> tuple[int, tuple[float, ...]]:
    """(GeomNode count, rounded tight bounds): enough to tell two models apart."""
    lo, hi = model.get_tight_bounds()
    return (model.find_all_matches("**/+GeomNode").get_num_paths(),
            tuple(round(v, 3) for v in (*lo, *hi)))


class Spy:
    """Counts conversions and records what reaches Panda3D's BAM decoder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from exhibit_engine.scenes.base import load_glb

        self.converted: list[str] = []
        self.decoded: list[bytes] = []
        real_decode = cache_mod.decode_bam

        def convert(data: bytes, name: str):
            self.converted.append(name)
            return load_glb(data, name)

        def decode(payload: bytes, name: str):
            self.decoded.append(bytes(payload))
            return real_decode(payload, name)

        self.convert = convert
        monkeypatch.setattr(cache_mod, "decode_bam", decode)


def test_second_load_is_a_hit_and_gives_the_same_model(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    cache = ModelCache(tmp_path / "c", convert=spy.convert)
    first = cache.load(CASTLE, "meshes/castle.glb")
    second = cache.load(CASTLE, "meshes/castle.glb")
    assert spy.converted == ["meshes/castle.glb"]
    assert (cache.stats.misses, cache.stats.hits, cache.stats.written) == (1, 1, 1)
    assert shape(first) == shape(second)
    assert first.get_name() == second.get_name() == "castle"
    assert first.node() is not second.node(), "every load decodes its own copy"
    entry = cache.entry_path(hashlib.sha256(CASTLE).hexdigest())
    assert entry.is_file() and entry.parent.parent == tmp_path / "c" / "models"
    assert [p.name for p in entry.parent.iterdir()] == [entry.name], "no temporary files left"


def test_a_replaced_model_with_the_same_name_is_never_served_stale(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "c")
    castle = cache.load(CASTLE, "meshes/model.glb")
    replaced = cache.load(LANTERN, "meshes/model.glb")
    assert shape(replaced) != shape(castle)
    assert shape(replaced) == shape(ModelCache(tmp_path / "other").load(LANTERN, "x.glb"))
    assert cache.stats.hits == 0 and cache.stats.misses == 2


def test_same_bytes_under_another_name_share_the_entry_but_take_their_name(tmp_path: Path
                                                                           ) -> None:
    cache = ModelCache(tmp_path / "c")
    cache.load(LANTERN, "meshes/lantern.glb")
    other = cache.load(LANTERN, "props/candle.glb")
    assert cache.stats.hits == 1 and other.get_name() == "candle"


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "magic", "empty"])
def test_a_damaged_entry_is_detected_never_decoded_and_rebuilt(
        damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    spy = Spy(monkeypatch)
    cache = ModelCache(tmp_path / "c", convert=spy.convert)
    good = shape(cache.load(CASTLE, "meshes/castle.glb"))
    entry = cache.entry_path(hashlib.sha256(CASTLE).hexdigest())
    raw = entry.read_bytes()
    payload = raw[48:]
    bad = {"truncate": raw[: len(raw) // 2],                 # a writer that died midway
           "flip": raw[:-100] + bytes([raw[-100] ^ 0x40]) + raw[-99:],
           "header": raw[:20],
           "magic": b"NOTCACHE" + raw[8:],
           "empty": b""}[damage]
    entry.write_bytes(bad)
    spy.decoded.clear()
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.runtime.cache"):
        model = cache.load(CASTLE, "meshes/castle.glb")
    assert shape(model) == good
    assert cache.stats.rebuilt == 1 and len(spy.converted) == 2
    assert "damaged" in caplog.text and entry.name in caplog.text
    # Panda3D only ever saw the complete, checked payload: never the damaged bytes.
    assert spy.decoded == [payload]
    assert entry.read_bytes() == raw, "the entry was rewritten whole"
    cache.load(CASTLE, "meshes/castle.glb")
    assert cache.stats.hits == 1 and len(spy.converted) == 2


def test_an_entry_that_checks_but_does_not_decode_is_rebuilt(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    """A well-formed entry whose payload is not a BAM (another build wrote it)."""
    cache = ModelCache(tmp_path / "c")
    sha = hashlib.sha256(LANTERN).hexdigest()
    entry = cache.entry_path(sha)
    entry.parent.mkdir(parents=True)
    junk = b"pbj\x00\n\r" + bytes(64)
    entry.write_bytes(cache_mod._HEADER.pack(cache_mod._MAGIC, len(junk),
                                             hashlib.sha256(junk).digest()) + junk)
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.runtime.cache"):
        model = cache.load(LANTERN, "meshes/lantern.glb")
    assert not model.is_empty() and cache.stats.rebuilt == 1
    assert "rebuilding" in caplog.text


def test_the_key_changes_with_the_converter_versions(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    sha = hashlib.sha256(CASTLE).hexdigest()
    before = ModelCache(tmp_path).entry_path(sha)
    versions = {**cache_mod.converter_versions(), "panda3d-gltf": "99.0"}
    monkeypatch.setattr(cache_mod, "converter_versions", lambda: versions)
    assert ModelCache(tmp_path).entry_path(sha) != before
    versions = {**cache_mod.converter_versions(), "format": "999"}
    assert ModelCache(tmp_path).entry_path(sha) != before


def test_fetch_reads_the_asset_only_on_a_miss_and_checks_its_hash(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "c")
    sha = hashlib.sha256(LANTERN).hexdigest()
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return LANTERN

    cache.fetch(sha, "meshes/lantern.glb", read)
    cache.fetch(sha, "meshes/lantern.glb", read)
    assert len(reads) == 1
    with pytest.raises(AssetError, match="do not match the SHA-256"):
        cache.fetch("0" * 64, "meshes/lantern.glb", read)
    assert not cache.entry_path("0" * 64).exists()


def test_a_textured_model_keeps_its_pixels_through_the_cache(tmp_path: Path) -> None:
    glb = make_textured_glb(2000, 64, seed=3)
    cache = ModelCache(tmp_path / "c")
    cache.load(glb, "meshes/relief.glb")
    hit = cache.load(glb, "meshes/relief.glb")
    assert cache.stats.hits == 1
    textures = hit.find_all_textures()
    assert textures.get_num_textures() == 1
    tex = textures.get_texture(0)
    assert tex.has_ram_image() and (tex.get_x_size(), tex.get_y_size()) == (64, 64)
    assert not tex.has_filename(), "pixels are embedded, nothing is read from a file"
    tris = sum(g.node().get_geom(i).get_primitive(0).get_num_faces()
               for g in hit.find_all_matches("**/+GeomNode")
               for i in range(g.node().get_num_geoms()))
    assert tris >= 2000


def test_an_unwritable_cache_still_gives_the_model(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"")
    cache = ModelCache(blocker)
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.runtime.cache"):
        model = cache.load(LANTERN, "meshes/lantern.glb")
    assert not model.is_empty()
    assert cache.stats.write_failures == 1 and "cannot write" in caplog.text


def test_least_recently_used_entries_go_when_over_the_bound(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "c", max_bytes=None)
    cache.load(CASTLE, "castle.glb")
    cache.load(LANTERN, "lantern.glb")
    castle = cache.entry_path(hashlib.sha256(CASTLE).hexdigest())
    lantern = cache.entry_path(hashlib.sha256(LANTERN).hexdigest())
    os.utime(lantern, (1_000_000, 1_000_000))       # lantern: used long ago
    os.utime(castle, (2_000_000, 2_000_000))
    cache.load(LANTERN, "lantern.glb")              # a hit makes it the most recent
    assert cache.prune(castle.stat().st_size + lantern.stat().st_size - 1) == 1
    assert lantern.exists() and not castle.exists()
    bounded = ModelCache(tmp_path / "c", max_bytes=1)
    bounded.load(CASTLE, "castle.glb")              # writing prunes: nothing fits in 1 byte
    assert bounded.size_bytes() == 0 and bounded.stats.evicted == 2
    assert cache.clear() == 0


def test_default_folder_follows_env_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "exhibit-engine"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "exhibit-engine"


_FILLER = """
import json, sys
from exhibit_engine.runtime.cache import ModelCache
folder, castle, lantern = sys.argv[1:4]
data = {"castle": open(castle, "rb").read(), "lantern": open(lantern, "rb").read()}
cache = ModelCache(folder)
shapes = set()
for i in range(12):
    name = "castle" if i % 2 else "lantern"
    model = cache.load(data[name], name + ".glb")
    shapes.add((name, model.find_all_matches("**/+GeomNode").get_num_paths()))
    if i % 4 == 3:
        cache.clear()          # deletes entries the other process may be reading
s = cache.stats
print(json.dumps({"shapes": sorted(shapes), "rebuilt": s.rebuilt, "hits": s.hits}))
"""


def test_two_processes_filling_one_cache_never_corrupt_it(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    castle, lantern = ROOT / "content/ice-festival/meshes/castle.glb", \
        ROOT / "content/ice-festival/meshes/lantern.glb"
    procs = [subprocess.Popen([sys.executable, "-c", _FILLER, str(folder), str(castle),
                               str(lantern)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["shapes"] == results[1]["shapes"]
    assert all(r["rebuilt"] == 0 for r in results), "no process ever saw a half entry"
    cache = ModelCache(folder)
    for data, name in ((CASTLE, "castle.glb"), (LANTERN, "lantern.glb")):
        cache.load(data, name)
    assert cache.stats.rebuilt == 0
    assert not [p for p in folder.rglob("*.tmp")], "no temporary files left"


def test_scene_context_without_a_loader_converts_uncached() -> None:
    from panda3d.core import NodePath

    from exhibit_engine.assets.manifest import SceneSpec
    from exhibit_engine.scenes.base import SceneContext

    spec = SceneSpec("s", "ice", {"en": "S"}, {}, ("m.glb",))
    ctx = SceneContext(NodePath("root"), NodePath("rig"), lambda p: LANTERN, spec)
    assert ctx.load_model("m.glb").get_name() == "m"


# --------------------------------------------------------------------------- in the renderer

_SCENE_TOML = """\
[bundle]
id = "swap"
version = "1.0.0"
title = { en = "Swap" }

[[scenes]]
id = "s"
kind = "ice"
title = { en = "S" }
assets = ["meshes/castle.glb"]
[scenes.params]
snowflakes = 0
lanterns = 0
"""


def _bundle_with(tmp_path: Path, tag: str, glb: bytes) -> Path:
    from exhibit_engine.assets.pack import pack

    src = tmp_path / f"src-{tag}"
    (src / "meshes").mkdir(parents=True)
    (src / "bundle.toml").write_text(_SCENE_TOML, encoding="utf-8")
    (src / "meshes" / "castle.glb").write_bytes(glb)
    out = tmp_path / f"{tag}.exb"
    pack(src, out)
    return out


def _architecture(renderer) -> tuple[float, ...]:
    lo, hi = renderer.scene_root.find("**/architecture").get_tight_bounds()
    return tuple(round(v, 3) for v in (*lo, *hi))


@pytest.mark.render
def test_the_renderer_draws_a_replaced_model_not_the_cached_one(tmp_path: Path) -> None:
    from exhibit_engine.assets.bundle import Bundle
    from exhibit_engine.runtime.render import Renderer

    old = _bundle_with(tmp_path, "old", CASTLE)
    new = _bundle_with(tmp_path, "new", make_textured_glb(500, 32))
    cache = ModelCache(tmp_path / "c")
    with Renderer((64, 40), cache=cache) as r:
        with Bundle.open(old) as b:
            r.load(b, "s")
            before = _architecture(r)
        with Bundle.open(new) as b:
            r.load(b, "s")
            after = _architecture(r)
    with Renderer((64, 40), cache=ModelCache(tmp_path / "fresh")) as r, Bundle.open(new) as b:
        r.load(b, "s")
        fresh = _architecture(r)
    assert after == fresh != before
    assert cache.stats.misses == 2 and cache.stats.hits == 0


@pytest.mark.render
def test_cold_warm_and_uncached_loads_draw_identical_pixels(ice_bundle, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A node that converted and a node that hit the cache draw the same frame."""
    from exhibit_engine.runtime.render import Renderer
    from exhibit_engine.scenes.base import load_glb

    def frame(cache: ModelCache) -> bytes:
        with Renderer((160, 100), cache=cache) as r:
            r.load(ice_bundle, "castle-night")
            r.render(33.5)
            return r.snapshot().tobytes()

    cold_cache, warm_cache = ModelCache(tmp_path / "c"), ModelCache(tmp_path / "c")
    cold = frame(cold_cache)
    warm = frame(warm_cache)
    assert (cold_cache.stats.misses, cold_cache.stats.hits) == (3, 0)     # castle,
    assert (warm_cache.stats.misses, warm_cache.stats.hits) == (0, 3)     # sculptures, lantern
    monkeypatch.setattr(ModelCache, "loader_for",
                        lambda self, bundle: lambda p: load_glb(bundle.read(p), p))
    plain = frame(ModelCache(tmp_path / "unused"))
    assert cold == warm == plain


@pytest.mark.render
def test_renderer_default_cache_follows_the_environment(make_renderer,
                                                        private_cache_dir: Path) -> None:
    r = make_renderer((32, 20))
    assert r.cache.root == private_cache_dir
