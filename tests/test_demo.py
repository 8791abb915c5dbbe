"""`pybgp demo`: the README's first command, on loopback, without root."""

from __future__ import annotations

import pytest

from pybgp.demo import run_demo


def test_demo_shows_the_ecmp_set_shrink_and_grow(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(3) == 0
    out = capsys.readouterr().out
    sets = [line for line in out.splitlines() if "ECMP set" in line]
    assert [s.split(": ")[1] for s in sets] == ["3 next hop(s)", "2 next hop(s)", "3 next hop(s)"]
    assert 'ADMINISTRATIVE_SHUTDOWN "lb-node-2: health check failed, draining"' in out
