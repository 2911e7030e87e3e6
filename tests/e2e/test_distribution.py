"""Bundle distribution with real processes: nodes started with empty bundle folders fetch
every bundle of the show from the controller (a 100 MB one among them), verify and install
them and join the show, which waits for them ("when-ready"); a bundle signed by a key the
venue does not trust is refused, reported, and never played."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exhibit_engine.assets.library import installed
from exhibit_engine.assets.signing import sign_manifest, write_key_pair
from exhibit_engine.bench.transfer import make_bundle
from exhibit_engine.cli.demo import free_ports
from exhibit_engine.errors import SyncTimeout
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

EXHIBIT = Path(sys.executable).with_name("exhibit")
DISPLAYS = ("left", "centre", "right")


def _status(op: OperatorClient) -> dict[str, Any]:
    try:
        return op.command("status")
    except SyncTimeout:             # the controller process is still starting
        return {}


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _show(tmp_path: Path, extra_id: str, *, when_ready: bool) -> Path:
    """content/show.toml with one more bundle (no cue plays it)."""
    text = (CONTENT / "show.toml").read_text(encoding="utf-8")
    if when_ready:
        text = text.replace("[control]\n", '[control]\nstart = "when-ready"\n', 1)
    text = text.replace('[[bundles]]\nid = "heritage"', f'[[bundles]]\nid = "{extra_id}"\n'
                        f'file = "{extra_id}.exb"\n\n[[bundles]]\nid = "heritage"', 1)
    show = tmp_path / "show.toml"
    show.write_text(text, encoding="utf-8")
    return show


def _controller_folder(tmp_path: Path, bundle_dir: Path) -> Path:
    folder = tmp_path / "controller-bundles"
    folder.mkdir()
    for exb in bundle_dir.glob("*.exb"):
        os.link(exb, folder / exb.name)
    return folder


def test_nodes_with_empty_bundle_folders_fetch_the_show_and_join_it(
        procs: Procs, bundle_dir: Path, tmp_path: Path) -> None:
    served = _controller_folder(tmp_path, bundle_dir)
    make_bundle(served / "archive.exb", "archive", 100 * 1024 * 1024)
    show = _show(tmp_path, "archive", when_ready=True)
    state, pub, transfer = free_ports(3)
    venue = str(CONTENT / "venue.toml")
    common = ["--venue", venue, "--show", str(show), "--host", "127.0.0.1",
              "--state-port", str(state), "--publish-port", str(pub)]
    procs.start("controller", "controller", *common, "--no-state", "--bundle-dir",
                str(served), "--transfer-port", str(transfer))
    libraries = {d: tmp_path / f"library-{d}" for d in DISPLAYS}
    for d, lib in libraries.items():
        procs.start(f"node-{d}", "node", *common, "--display", d, "--bundle-dir", str(lib),
                    "--transfer-port", str(transfer), "--headless", "--render-scale", "0.05")
    op = OperatorClient("127.0.0.1", state, timeout_s=2.0)
    seen: set[str] = set()          # transfer states the nodes reported on the way
    try:
        def started() -> dict[str, Any] | None:
            st = _status(op)
            for n in st.get("nodes", []):
                seen.update(t["state"] for t in (n.get("transfer") or {}).values())
            nodes = {n["id"]: n for n in st.get("nodes", [])}
            ok = (st.get("gate", {}).get("released") == "ready"
                  and all(nodes.get(d, {}).get("ready") for d in DISPLAYS))
            return st if ok else None

        st = wait_until(started, 240, "every node to fetch the show and the show to start")
        assert "fetching" in seen or "verifying" in seen or "waiting" in seen
        for n in (n for n in st["nodes"] if n["role"] == "projector"):
            assert {k: t["state"] for k, t in n["transfer"].items()} == {
                "ice-festival": "installed", "northern-prints": "installed",
                "archive": "installed", "heritage": "installed"}
            assert n["bundles"]["archive"] == "1.0.0"
        for d, lib in libraries.items():
            for exb in served.glob("*.exb"):
                rec = installed(lib, exb.stem)
                assert rec is not None, f"{d} lacks {exb.stem}"
                assert rec.sha256 == _sha(exb) == _sha(lib / exb.name)
            assert not list((lib / ".fetch").glob("*.part"))
        assert st["transfer"]["bytes_sent"] >= 3 * 100 * 1024 * 1024
        # The show plays on from its start, in every node.
        wait_until(lambda: all(n["show_time"] > 1.0 for n in _status(op).get("nodes", [])
                               if n["role"] == "projector"), 60, "the nodes to play")
        looked = subprocess.run([str(EXHIBIT), "status", "--venue", venue, "--host",
                                 "127.0.0.1", "--state-port", str(state)],
                                capture_output=True, text=True, timeout=60)
        assert looked.returncode == 0, looked.stderr
        assert "bundles: serving 4" in looked.stdout and "4/4" in looked.stdout
    finally:
        op.close()


def test_a_bundle_signed_by_an_untrusted_key_is_refused_and_never_played(
        procs: Procs, bundle_dir: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    curator_pub = write_key_pair("curator", keys).public_path
    stranger = Ed25519PrivateKey.generate()
    served = _controller_folder(tmp_path, bundle_dir)
    make_bundle(served / "extra.exb", "extra", 64 * 1024,
                sign=lambda m: sign_manifest(m, stranger))
    venue = tmp_path / "venue.toml"
    venue.write_text((CONTENT / "venue.toml").read_text(encoding="utf-8")
                     + f'\n[bundles]\ntrusted_keys = ["{curator_pub}"]\n', encoding="utf-8")
    show = _show(tmp_path, "extra", when_ready=False)
    state, pub, transfer = free_ports(3)
    common = ["--venue", str(venue), "--show", str(show), "--host", "127.0.0.1",
              "--state-port", str(state), "--publish-port", str(pub)]
    procs.start("controller", "controller", *common, "--no-state", "--bundle-dir",
                str(served), "--transfer-port", str(transfer))
    lib = tmp_path / "library"
    procs.start("node-left", "node", *common, "--display", "left", "--bundle-dir", str(lib),
                "--transfer-port", str(transfer), "--headless", "--render-scale", "0.05")
    op = OperatorClient("127.0.0.1", state, timeout_s=2.0)
    try:
        def refused() -> dict[str, Any] | None:
            nodes = {n["id"]: n for n in _status(op).get("nodes", [])}
            t = (nodes.get("left", {}).get("transfer") or {})
            done = t.get("extra", {}).get("state") == "refused" and all(
                t.get(b, {}).get("state") == "installed"
                for b in ("ice-festival", "northern-prints", "heritage"))
            return nodes["left"] if done else None

        node = wait_until(refused, 180, "the node to refuse the stranger's bundle")
        assert "not trusted" in node["transfer"]["extra"]["error"] or (
            "key" in node["transfer"]["extra"]["error"])
        assert node["bundles"].get("extra") in (None, "fetching", "broken")
        assert not node["ready"]
        assert installed(lib, "extra") is None and not (lib / "extra.exb").exists()
        assert not list((lib / ".fetch").glob("*.part"))
        looked = subprocess.run([str(EXHIBIT), "status", "--venue", str(venue), "--host",
                                 "127.0.0.1", "--state-port", str(state)],
                                capture_output=True, text=True, timeout=60)
        assert looked.returncode == 0, looked.stderr
        assert "left: refused extra 1.0.0:" in looked.stdout
        assert "REFUSED" in looked.stdout
        # The rest of the show plays.
        wait_until(lambda: any(n["show_time"] > 1.0 and n.get("cue")
                               for n in _status(op).get("nodes", [])
                               if n["role"] == "projector"), 60, "the node to play the show")
    finally:
        op.close()
