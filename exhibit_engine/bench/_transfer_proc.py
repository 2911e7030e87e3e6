"""The raw loopback copy of ``exhibit bench transfer`` (its baseline).

``python -m exhibit_engine.bench._transfer_proc send HOST FILE N`` binds a free port,
prints ``port P``, accepts N connections, then sends FILE to all of them at once
(``socket.sendfile``, one thread per receiver) and prints ``start T`` (the monotonic
time the sending began). ``... recv HOST PORT OUT`` connects, writes what it receives to
OUT and prints ``end T BYTES`` once the sender closed. Plain TCP: no framing, hashing or
encryption. ``... hog SECONDS DUTY`` burns DUTY of a CPU at the transfer's nice value (the
floor of the sync figures: a load that only uses the CPU).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

__all__: list[str] = []


def _send(host: str, path: str, n: int) -> int:
    with socket.create_server((host, 0)) as srv:
        print("port", srv.getsockname()[1], flush=True)
        conns = [srv.accept()[0] for _ in range(n)]
    start = time.monotonic()

    def one(conn: socket.socket) -> None:
        with conn, open(path, "rb") as f:
            conn.sendfile(f)
            conn.shutdown(socket.SHUT_WR)

    threads = [threading.Thread(target=one, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("start", start, flush=True)
    return 0


def _recv(host: str, port: int, out: str) -> int:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    with socket.create_connection((host, port)) as conn, open(out, "wb") as f:
        while True:
            got = conn.recv_into(buf)
            if not got:
                break
            f.write(view[:got])
            total += got
        f.flush()
        os.fsync(f.fileno())
    print("end", time.monotonic(), total, flush=True)
    return 0


def _hog(seconds: float, duty: float) -> int:
    """Burn ``duty`` of one CPU (hashing in 10 ms periods) at the transfer's nice value for
    ``seconds``: the bench's floor, a load that uses the CPU and nothing else."""
    import hashlib

    from ..sync.transfer import TRANSFER_NICE

    os.nice(TRANSFER_NICE)
    data = bytes(1 << 16)
    end = time.monotonic() + seconds
    period = 0.01
    while time.monotonic() < end:
        t0 = time.monotonic()
        while time.monotonic() - t0 < period * duty:
            hashlib.sha256(data).digest()
        left = period - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["send"] and len(argv) == 4:
        return _send(argv[1], argv[2], int(argv[3]))
    if argv[:1] == ["recv"] and len(argv) == 4:
        return _recv(argv[1], int(argv[2]), argv[3])
    if argv[:1] == ["hog"] and len(argv) == 3:
        return _hog(float(argv[1]), float(argv[2]))
    print("usage: _transfer_proc send HOST FILE N | recv HOST PORT OUT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
