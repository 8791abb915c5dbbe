"""`pybgp demo`: the README's first command, on loopback, without root."""

from __future__ import annotations

import pytest

from pybgp.demo import run_demo


def test_demo_shows_health_checks_drain_and_stop(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(3) == 0
    out = capsys.readouterr().out
    sets = [line for line in out.splitlines() if "ECMP set" in line]
    assert [s.split(": ")[1] for s in sets] == [
        "3 next hop(s)",  # all healthy
        "2 next hop(s)",  # lb-node-2's backend fails
        "3 next hop(s)",  # it recovers
        "3 next hop(s)",  # lb-node-3 drains: still there, with GRACEFUL_SHUTDOWN
        "2 next hop(s)",  # grace time over
        "1 next hop(s)",  # lb-node-1 stops
    ]
    assert out.count("[GRACEFUL_SHUTDOWN") == 1
    assert "the router was told: 'pybgp lbnode shutting down: VIPs withdrawn'" in out
    assert out.rstrip().endswith("ok")
