"""The Khronos glTF-Validator (npm ``gltf-validator``) for tests, through tools/gltf_validate.mjs.

:func:`validate_glbs` runs it on files and returns each file's errors;
:func:`require_validator` finds Node.js and the package or skips the test with the reason.
The package is looked up where ``.ci/run`` installs it (``.ci/node/``) or in
``$GLTF_VALIDATOR_DIR``; where Node.js and npm exist but the package does not, it is
installed into ``.ci/node/`` once (this needs the npm registry).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PACKAGE", "SCRIPT", "require_validator", "validate_glbs", "validator_missing"]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gltf_validate.mjs"
#: The npm package and version .ci/run installs.
PACKAGE = "gltf-validator@2.0.0-dev.3.10"
_PREFIX = ROOT / ".ci" / "node"


def _found() -> bool:
    dirs = [Path(d) for d in (os.environ.get("GLTF_VALIDATOR_DIR"),) if d] + [_PREFIX]
    return any((d / "node_modules" / "gltf-validator" / "package.json").is_file() for d in dirs)


def validator_missing() -> str | None:
    """Why the validator cannot run here (None when it can), installing it if npm can."""
    if shutil.which("node") is None:
        return "Node.js is not installed (the Khronos glTF-Validator runs on Node.js)"
    if not _found():
        npm = shutil.which("npm")
        if npm is None:
            return f"npm package gltf-validator is not installed in {_PREFIX} (no npm)"
        try:
            subprocess.run([npm, "install", "--prefix", str(_PREFIX), "--no-save",
                            "--no-package-lock", PACKAGE], capture_output=True, timeout=180,
                           check=True)
        except (subprocess.SubprocessError, OSError) as exc:
            return f"cannot install {PACKAGE} into {_PREFIX} ({type(exc).__name__})"
        if not _found():
            return f"npm did not install {PACKAGE} into {_PREFIX}"
    return None


def require_validator() -> None:
    """Skip the calling test, with the reason, where the validator cannot run."""
    import pytest

    reason = validator_missing()
    if reason is not None:
        pytest.skip(reason)


def validate_glbs(paths: Iterable[Path | str]) -> dict[Path, list[str]]:
    """Each file's glTF-Validator errors (``"CODE /pointer message"``; [] when valid).

    Raises:
        RuntimeError: the validator could not run (see :func:`validator_missing`).
    """
    files = [Path(p) for p in paths]
    if not files:
        return {}
    res = subprocess.run(["node", str(SCRIPT), *map(str, files)], capture_output=True,
                         text=True, timeout=300)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"gltf-validator did not run: {res.stderr.strip()}")
    out: dict[Path, list[str]] = {}
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        out[Path(rec["file"])] = (rec["messages"] or [f"{rec['errors']} errors"]
                                  if rec["errors"] else [])
    missing = set(files) - set(out)
    if missing:
        raise RuntimeError(f"gltf-validator gave no result for {sorted(map(str, missing))}")
    return out
