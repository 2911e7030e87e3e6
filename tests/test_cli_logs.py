"""``exhibit logs --follow`` in a real process: it prints what is appended, goes on
across a rotation and a truncation, and waits out a partial line (deadline-based)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rec(msg: str) -> str:
    return json.dumps({"ts": "2026-12-02T03:00:00.000+00:00", "level": "info",
                       "logger": "exhibit_engine.sync.node", "role": "node", "host": "n1",
                       "pid": 1, "msg": msg}) + "\n"


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_logs_follow_prints_appended_lines_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    path.write_text(rec("before"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "exhibit_engine.cli", "logs", str(path),
                             "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def expect(text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not printed in time"
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                raise AssertionError(f"{text!r} not printed in time") from None
            if text in line:
                return line

    try:
        assert "before" in expect("before")
        append(path, rec("appended one"))
        assert "INFO" in expect("appended one")
        # A partial line is printed once it is whole.
        whole = rec("written in two parts")
        append(path, whole[:30])
        append(path, whole[30:])
        expect("written in two parts")
        # Rotation as RotatingFileHandler does it: the file renamed, a new one created.
        append(path, rec("last of the old file"))
        path.rename(path.with_name("node.log.1"))
        path.write_text(rec("first of the new file"))
        expect("last of the old file")
        expect("first of the new file")
        # Truncated in place (shorter than before): read again from the top.
        append(path, rec("more") * 3)
        expect("more")
        path.write_text("")
        append(path, rec("after truncation"))
        expect("after truncation")
        append(path, "a stranger line\n")
        expect("a stranger line")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stdout.close() if proc.stdout else None
        proc.stderr.close()
    assert "Traceback" not in err
