"""Reference images for render tests: one tolerance, one place to refresh them.

Frames are compared per channel in 0..255: the mean absolute difference must stay below
:data:`MEAN_TOL` and the 99th percentile below :data:`P99_TOL`. llvmpipe is deterministic
here; the slack absorbs small driver differences, not a broken scene: a black or flat frame,
or a shader that stops compiling, fails (each scene test checks that). Refresh the
references after a deliberate change, and look at every image before committing it::

    EXHIBIT_UPDATE_REFERENCE=1 .venv/bin/python -m pytest tests/scenes
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["REFERENCE", "MEAN_TOL", "P99_TOL", "differs", "matches", "compare",
           "assert_matches_reference"]

REFERENCE = Path(__file__).resolve().parent / "reference"
MEAN_TOL, P99_TOL = 2.0, 24.0


def differs(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean, 99th percentile) of the absolute per-channel difference."""
    d = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(d.mean()), float(np.percentile(d, 99))


def matches(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two frames agree within the tolerance."""
    mean, p99 = differs(a, b)
    return mean < MEAN_TOL and p99 < P99_TOL


def compare(name: str, img: np.ndarray) -> tuple[float, float]:
    """Compare a frame with ``reference/<name>.png`` (rewritten first when refreshing)."""
    path = REFERENCE / f"{name}.png"
    if os.environ.get("EXHIBIT_UPDATE_REFERENCE") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(img).astype(np.uint8)).save(path)
    ref = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert ref.shape == np.asarray(img).shape, f"{name}: size differs from the reference"
    return differs(img, ref)


def assert_matches_reference(name: str, img: np.ndarray) -> None:
    """Fail unless ``img`` matches ``reference/<name>.png`` within the tolerance."""
    mean, p99 = compare(name, img)
    assert mean < MEAN_TOL and p99 < P99_TOL, f"{name}: mean {mean:.2f}, p99 {p99:.1f}"
