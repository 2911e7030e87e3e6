"""A controller in its own process (``run_controller`` via ``sys.executable -c``): killed,
restarted, and stopped by signals."""

from __future__ import annotations

import signal
import time

import pytest

from exhibit_engine.sync.operator import OperatorClient

pytestmark = [pytest.mark.sync, pytest.mark.e2e]

HOST = "127.0.0.1"


def test_killed_controller_process_show_time_runs_on_then_rejoin(
        spawn_controller, make_node, free_ports, wait_for, run_for) -> None:
    state_port, publish_port = free_ports(2)
    first = spawn_controller(state_port, publish_port)
    link = make_node("left", state_port, publish_port)
    assert wait_for(lambda: link.joined and link.synced, [link], timeout=10.0)
    session = link.core.session
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    t0, s0 = time.monotonic(), link.show_time()
    run_for(0.5, [link])
    t1, s1 = time.monotonic(), link.show_time()
    assert s0 is not None and s1 is not None
    assert s1 - s0 == pytest.approx(t1 - t0, abs=0.01)
    # A new controller on the same ports: the node joins it without being restarted.
    spawn_controller(state_port, publish_port)
    assert wait_for(lambda: link.joined and link.core.session != session, [link],
                    timeout=10.0)
    with OperatorClient(HOST, state_port) as op:
        assert wait_for(lambda: [n["id"] for n in op.command("status")["nodes"]
                                        if n["role"] != "operator"] == ["left"],
                        [link], timeout=5.0, step=0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_controller_cleanly(spawn_controller, free_ports, sig: int) -> None:
    proc = spawn_controller(*free_ports(2))
    with OperatorClient(HOST, proc.state_port) as op:
        # Only this desk, which said hello to ask.
        assert [n["role"] for n in op.command("status")["nodes"]] == ["operator"]
    proc.signal(sig)
    assert proc.wait(timeout=10.0) == 0
    assert proc.proc.stderr is not None
    assert "Traceback" not in proc.proc.stderr.read()
