"""Linux network namespaces for multi-host tests: one private LAN, one namespace a host.

:class:`Lan` makes a ``hub`` namespace holding a bridge, and for every host a namespace of
its own with a veth pair: one end (``eth0``) in the host's namespace with its address on
the LAN's /24, the other end a port of the hub's bridge. Cutting a host off the LAN is
``ip link set PORT down`` on its bridge port (:meth:`Lan.cut`), as if its cable were
pulled; :meth:`Lan.restore` plugs it back. Every name carries the test's pid, so parallel
runs cannot collide, and nothing is reachable from the root namespace (the test talks to
its processes through pipes and files). :func:`lan` deletes every namespace it made, even
when the test fails. It skips the test (with the failing command and its stderr) where
namespaces cannot be made: not root, no ``ip``, or an unprivileged container.

Run as a script inside a namespace (``ip netns exec NS python tests/e2e/netns.py ...``):

- ``probe HOST:PORT ...``: an operator that answers each line ``N`` on stdin with one
  JSON line on stdout, the ``status`` of controller ``N`` (its reply or its error, and
  the monotonic time of the answer; every namespace shares the one monotonic clock);
- ``node ID HOST STATE PUBLISH BHOST BSTATE BPUBLISH OUT``: ``pair_node.py``, with the
  link's INFO log on stderr (its failovers) and every frame's ``(monotonic time, show
  time, controller time)`` written to ``OUT.samples.json`` when it ends;
- ``kiosk ID HOST STATE BHOST BSTATE OUT``: a kiosk (a :class:`~exhibit_engine.sync.kiosk
  .KioskClient` of the pair) asking ``status`` every 0.25 s; on SIGTERM it writes the
  controller that answered each time to OUT as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parents[1]
#: The script itself, for ``ip netns exec NS python SCRIPT ...``.
SCRIPT = Path(__file__).resolve()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({result.returncode}): "
                           f"{result.stderr.strip()}")
    return result


def require_netns() -> None:
    """Skip the test unless this process can make network namespaces."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (`ip netns add` as uid "
                    f"{os.geteuid()})")
    if shutil.which("ip") is None:
        pytest.skip("`ip` (iproute2) is not installed")
    name = f"ee{os.getpid()}-try"
    try:
        made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"`ip netns add {name}` failed: {exc}")
    if made.returncode != 0:
        _ip("netns", "del", name, check=False)      # (whatever half of it was made)
        pytest.skip(f"`ip netns add {name}` failed ({made.returncode}): "
                    f"{made.stderr.strip()}")
    _ip("netns", "del", name, check=False)


class Lan:
    """A bridge in a hub namespace and one namespace per host (see the module).

    Attributes:
        hosts: host name -> its address.
        ns: host name -> its namespace.
        hub: the hub namespace (the bridge and every host's port).
    """

    def __init__(self, hosts: dict[str, str], prefix: int = 24) -> None:
        tag = f"ee{os.getpid()}"
        self.hosts = dict(hosts)
        self.prefix = prefix
        self.hub = f"{tag}-hub"
        self.ns = {h: f"{tag}-{h}" for h in hosts}
        # Interface names are at most 15 characters (IFNAMSIZ); the pid keeps them apart
        # while both ends are still in the root namespace.
        self._port = {h: f"vb{os.getpid()}n{i}" for i, h in enumerate(hosts)}
        self._made: list[str] = []

    def create(self) -> None:
        """Make the hub, the bridge and every host's namespace, link and address."""
        self._netns(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for h, addr in self.hosts.items():
            ns, port = self.ns[h], self._port[h]
            self._netns(ns)
            inner = port.replace("vb", "vh", 1)
            _ip("link", "add", inner, "type", "veth", "peer", "name", port)
            # Both ends leave the root namespace at once (deleted with their namespace).
            moved = _ip("link", "set", inner, "netns", ns, check=False)
            moved2 = _ip("link", "set", port, "netns", self.hub, check=False)
            if moved.returncode or moved2.returncode:
                _ip("link", "del", port, check=False)
                _ip("link", "del", inner, check=False)
                raise RuntimeError(f"cannot move the veth pair of {h}: "
                                   f"{moved.stderr.strip()} {moved2.stderr.strip()}")
            _ip("-n", ns, "link", "set", inner, "name", "eth0")
            _ip("-n", ns, "addr", "add", f"{addr}/{self.prefix}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", self.hub, "link", "set", port, "master", "br0")
            _ip("-n", self.hub, "link", "set", port, "up")

    def _netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def cut(self, host: str) -> None:
        """Pull ``host``'s cable: its bridge port goes down."""
        _ip("-n", self.hub, "link", "set", self._port[host], "down")

    def restore(self, host: str) -> None:
        """Plug ``host``'s cable back in."""
        _ip("-n", self.hub, "link", "set", self._port[host], "up")

    def prefix_cmd(self, host: str) -> list[str]:
        """The command prefix that runs a program in ``host``'s namespace."""
        return ["ip", "netns", "exec", self.ns[host]]

    def delete(self) -> list[str]:
        """Delete every namespace made (their links go with them); the errors, if any."""
        errors = []
        for name in reversed(self._made):
            r = _ip("netns", "del", name, check=False)
            if r.returncode:
                errors.append(f"ip netns del {name}: {r.stderr.strip()}")
        self._made.clear()
        for port in self._port.values():       # a pair left behind by a failed create
            for end in (port, port.replace("vb", "vh", 1)):
                if Path("/sys/class/net", end).exists():
                    _ip("link", "del", end, check=False)
        return errors


@contextmanager
def lan(hosts: dict[str, str]) -> Iterator[Lan]:
    """A :class:`Lan` of ``hosts``, deleted afterwards whatever happens (skips the test
    where namespaces cannot be made)."""
    require_netns()
    net = Lan(hosts)
    try:
        net.create()
        yield net
    except BaseException:
        net.delete()          # the test's own failure is the one to see
        raise
    errors = net.delete()
    assert not errors, errors


class NsProcs:
    """Processes started in the namespaces of a :class:`Lan`; none outlives the test.

    Each one's stdout and stderr go to ``LOG_DIR/NAME.log``.
    """

    def __init__(self, net: Lan, log_dir: Path) -> None:
        self.net = net
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, host: str, *args: str, stdin: int | None = subprocess.DEVNULL,
              stdout: int | None = None) -> subprocess.Popen[bytes]:
        """Run ``python ARGS`` in ``host``'s namespace (``ip netns exec`` execs it, so the
        process is the Python one and takes the signals itself)."""
        env = {**os.environ, "PYTHONPATH": str(_ROOT), "PYTHONUNBUFFERED": "1",
               "EXHIBIT_STATE_FILE": str(self.log_dir / f"{name}.state.json")}
        with (self.log_dir / f"{name}.log").open("wb") as log:
            p = subprocess.Popen([*self.net.prefix_cmd(host), sys.executable, *args],
                                 env=env, cwd=_ROOT, stdin=stdin,
                                 stdout=log if stdout is None else stdout,
                                 stderr=log)
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop(self, *names: str) -> None:
        """SIGTERM, then SIGKILL after 15 s, and wait (``names``: all if none given)."""
        chosen = [self.procs[n] for n in (names or tuple(self.procs))]
        for p in chosen:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in chosen:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdin is not None:
                p.stdin.close()       # (a stdout pipe is its reader's to close)


class Probe:
    """The test's operator inside the LAN: ``status`` of a controller, on request.

    Args:
        procs: where to start it.
        host: the namespace it runs in.
        controllers: ``(host, state_port)`` of each controller it may ask.
    """

    def __init__(self, procs: NsProcs, host: str, controllers: Sequence[tuple[str, int]],
                 timeout_s: float = 0.5) -> None:
        import queue

        self._lines: queue.Queue[bytes] = queue.Queue()
        self.proc = procs.start("probe", host, str(SCRIPT), "probe", str(timeout_s),
                                *(f"{h}:{p}" for h, p in controllers),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = self.proc.stdout
        assert out is not None
        self._reader = threading.Thread(target=self._read, args=(out,), daemon=True)
        self._reader.start()

    def close(self) -> None:
        """After the process ended (:meth:`NsProcs.stop`): join the reader, close the pipe."""
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def _read(self, out: Any) -> None:
        for line in iter(out.readline, b""):
            self._lines.put(line)
        self._lines.put(b"")

    def status(self, index: int, timeout_s: float = 10.0) -> dict[str, Any]:
        """Ask controller ``index``: ``{"t", "ok", "status" | "error"}``."""
        import queue

        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{index}\n".encode())
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"the probe did not answer within {timeout_s} s") from None
        if not line:
            raise AssertionError(f"the probe ended (exit status {self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer


# --------------------------------------------------------------------------- in a namespace


def _probe(timeout_s: str, *ends: str) -> int:
    from exhibit_engine.errors import SyncError
    from exhibit_engine.sync.operator import OperatorClient

    clients: dict[int, OperatorClient] = {}
    try:
        for line in sys.stdin:
            i = int(line)
            if i not in clients:
                host, port = ends[i].rsplit(":", 1)
                clients[i] = OperatorClient(host, int(port), float(timeout_s),
                                            peer_id="netns-probe")
            try:
                st = clients[i].command("status", request_id="")
                answer: dict[str, Any] = {"ok": True, "status": st}
            except SyncError as exc:
                answer = {"ok": False, "error": str(exc)}
            answer["t"] = time.monotonic()
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        for c in clients.values():
            c.close()
    return 0


def _node(*argv: str) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.path.insert(0, str(_HERE))
    import pair_node  # type: ignore[import-not-found]

    samples: list[tuple[float, float, float]] = []

    class SamplingLink(pair_node.NodeLink):  # type: ignore[misc, name-defined]
        def frame_time(self) -> tuple[float, float] | None:
            before = time.monotonic()
            times: tuple[float, float] | None = super().frame_time()
            after = time.monotonic()
            if times is not None and after - before < 0.001:   # not preempted meanwhile
                samples.append(((before + after) / 2, times[0], times[1]))
            return times

    pair_node.NodeLink = SamplingLink
    sys.argv = ["pair_node.py", *argv]
    try:
        return int(pair_node.main())
    finally:
        with open(argv[7] + ".samples.json", "w", encoding="utf-8") as f:
            json.dump(samples, f)


def _kiosk(kiosk_id: str, host: str, sp: str, bhost: str, bsp: str, out: str) -> int:
    from exhibit_engine.errors import SyncError
    from exhibit_engine.sync.kiosk import KioskClient

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    answers: list[tuple[float, str, bool]] = []
    client = KioskClient(host, int(sp), kiosk_id, timeout_s=2.0, backup=(bhost, int(bsp)))
    try:
        while not stop.is_set():
            try:
                client.command("status", request_id="")
                answers.append((time.monotonic(), client.address, True))
            except SyncError:
                answers.append((time.monotonic(), client.address, False))
            stop.wait(0.25)      # the kiosk's own cadence (a visitor's taps)
    finally:
        result = {"answers": answers, "failovers": client.failovers,
                  "address": client.address}
        client.close()
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f)
    return 0


def main() -> int:
    kind, *args = sys.argv[1:]
    run = {"probe": _probe, "node": _node, "kiosk": _kiosk}[kind]
    return run(*args)


if __name__ == "__main__":
    sys.exit(main())
