"""Render helpers shared by the render tests: frames as arrays, and the same frame drawn
in fresh processes (the determinism checks: a frame is a pure function of bundle, state
and show time, so two processes must draw the very same pixels)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ROOT", "broken_shader_render", "child_frame_hashes", "frame", "frame_hash",
           "start_child_frames"]

ROOT = Path(__file__).resolve().parents[1]

_CHILD_FRAME = """
import hashlib, json, sys
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.runtime.render import Renderer
path, scene, t, state = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
with Bundle.open(path) as b, Renderer((int(sys.argv[5]), int(sys.argv[6]))) as r:
    r.load(b, scene)
    r.render(t, state)
    print(hashlib.sha256(r.snapshot().tobytes()).hexdigest())
"""

_CHILD_BROKEN_SHADER = """
import sys
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.errors import RenderError
from exhibit_engine.runtime.render import Renderer
from exhibit_engine.scenes import base
path, scene, t, shader, old, new = sys.argv[1:7]
real = base.shader_source
def broken(name):
    text = real(name)
    return text.replace(old, new) if name == shader else text
base.shader_source = broken
with Bundle.open(path) as b, Renderer((320, 180)) as r:
    r.load(b, scene)
    try:
        r.render(float(t))
        print("rendered")
    except RenderError as exc:
        print("refused: RenderError", exc)
"""


def frame(renderer: Any, t: float, state: Mapping[str, Any] | None = None) -> np.ndarray:
    """Render show time ``t`` and return the frame as float64 (h, w, 3) in 0..255."""
    renderer.render(t, dict(state or {}))
    return np.asarray(renderer.snapshot(), dtype=np.float64)


def frame_hash(renderer: Any, t: float, state: Mapping[str, Any] | None = None) -> str:
    """Render show time ``t`` and return the SHA-256 of the frame's bytes."""
    renderer.render(t, dict(state or {}))
    return hashlib.sha256(renderer.snapshot().tobytes()).hexdigest()


def start_child_frames(exb: Path, scene: str, t: float, state: Mapping[str, Any] | None = None,
                       size: Sequence[int] = (320, 180), count: int = 2,
                       ) -> list[subprocess.Popen[str]]:
    """Start ``count`` fresh processes that each render one frame and print its hash."""
    args = [sys.executable, "-c", _CHILD_FRAME, str(exb), scene, repr(float(t)),
            json.dumps(dict(state or {})), str(size[0]), str(size[1])]
    return [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(count)]


def child_frame_hashes(procs: Sequence[subprocess.Popen[str]], timeout: float = 120.0
                       ) -> list[str]:
    """The hashes the processes of :func:`start_child_frames` printed (each must exit 0)."""
    hashes = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        hashes.append(out.strip().splitlines()[-1])
    return hashes


def broken_shader_render(exb: Path, scene: str, t: float, shader: str, old: str,
                         new: str) -> subprocess.CompletedProcess[str]:
    """Render one 320x180 frame in a child process with ``old`` replaced by ``new`` in
    the shader ``shader``; it prints ``refused: RenderError <message>`` if the renderer
    refuses. A child process, so the failed shader cannot disturb the caller's renderer."""
    return subprocess.run([sys.executable, "-c", _CHILD_BROKEN_SHADER, str(exb), scene,
                           repr(float(t)), shader, old, new], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)
