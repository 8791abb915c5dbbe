"""``pybgp mrt inject`` into a real ``pybgp speaker`` whose eBGP peer is a real BIRD 2.

Sized for CI: a 50k-prefix ``pybgp mrt synth`` table.  BIRD must import every prefix,
with the file's AS path behind ours, next hop self and the file's MED and communities,
and its session must stay up (hold time 9 s) while the table streams.  The full-size
figures (1M routes, against ``gobgp mrt inject``) are in ``bench/inject.py``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybgp.codec.nlri import format_prefix
from pybgp.mrt.reader import read_mrt
from pybgp.mrt.records import RibRecord
from pybgp.mrt.synth import synthesize
from tests.lab import Bird, Lab, open_lab
from tests.lab.daemons import _bird_route, parse_bird_routes
from tests.lab.netns import wait_for

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
N = 50_000
SUT_AS, RCV_AS = 64900, 64901  # the synthetic paths start with 65000


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from open_lab(request, "bird")


def _imported(bird: Bird, name: str) -> tuple[str, int]:
    """(since when the protocol is in its state, routes imported)."""
    since = ""
    count = 0
    for line in bird.cli(f"show protocols all {name}").splitlines():
        parts = line.split()
        if parts and parts[0] == name and len(parts) >= 6:
            since = " ".join(parts[4:6])
        if line.strip().startswith("Routes:"):
            count = int(line.split()[1])
    return since, count


def test_inject_full_path_into_bird(lab: Lab) -> None:
    sut, rcv = lab.add_ns("sut"), lab.add_ns("rcv")
    link = lab.link(sut, rcv)
    sut_addr, rcv_addr = link.addresses(sut)[0], link.addresses(rcv)[0]
    table = lab.workdir / "table.mrt"
    with open(table, "wb") as f:
        synthesize(f, N, 21)
    sock = lab.workdir / "pybgp.sock"
    cfg = lab.workdir / "pybgp.toml"
    cfg.write_text(
        f'[global]\nasn = {SUT_AS}\nrouter_id = "10.255.0.1"\nlisten_address = "{sut_addr}"\n'
        f'[control]\nsocket = "{sock}"\n'
        f'[[neighbors]]\naddress = "{rcv_addr}"\nremote_as = {RCV_AS}\n'
        f'local_address = "{sut_addr}"\nhold_time = 9\nconnect_retry = 1\n'
    )
    bird = Bird(lab, rcv, rcv_addr, RCV_AS, "10.255.0.2")
    bird.add_neighbor(sut_addr, SUT_AS, hold_time=9)
    bird.start()
    argv = [sys.executable, "-m", "pybgp", "speaker", "-c", str(cfg), "--log-format", "json"]
    lab.spawn(sut, argv, env={"PYTHONPATH": str(REPO)}, name="pybgp", cwd=REPO)
    bird.wait_established(sut_addr, timeout=60)
    name = Bird.proto_name(sut_addr)
    since, _ = _imported(bird, name)
    assert since

    cmd = [sys.executable, "-m", "pybgp", "mrt", "inject", str(table), "--control", str(sock),
           "--json"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr.decode()
    final = json.loads(r.stdout)
    assert final["routes"] == N and final["peers"] == 1 and final["updates"] < N

    wait_for("BIRD has every route", lambda: _imported(bird, name)[1] >= N, timeout=120)
    since_after, count = _imported(bird, name)
    assert bird.state(sut_addr) == "established"
    assert count == N
    assert since_after == since  # the session never went down

    want = {}
    for rec in read_mrt(table.read_bytes()):
        if isinstance(rec, RibRecord):
            want[format_prefix(rec.prefix, 1)] = rec.entries[0].attrs
    for prefix in random.Random(5).sample(sorted(want), 40):
        rows = parse_bird_routes(bird.cli(f"show route {prefix} all"))
        assert len(rows) == 1, rows
        got = _bird_route(rows[0][0], rows[0][2], sut_addr)
        a = want[prefix]
        path = tuple(x for _, asns in a.as_path or () for x in asns)
        assert got.as_path == (SUT_AS, *path), prefix
        assert got.next_hop == sut_addr
        assert got.med == a.med
        assert len(got.communities) == len(a.communities)
        assert got.local_pref is None or got.local_pref == 100  # not sent over eBGP
