"""Interop: ECMP through a pybgp route reflector, into the kernel of FRR and BIRD.

Three pybgp LB nodes announce the same VIP /32 to `pybgp rr` (iBGP, route-reflector
clients).  A real FRR or BIRD router is another client, with ADD-PATH receive and
multipath.  With ADD-PATH the router learns one path per LB node and installs an ECMP
route with three next hops in its namespace's kernel table; without ADD-PATH it sees
one path (the classic mistake this project exists to avoid).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.lab import Bird, Frr, Lab, open_lab
from tests.lab.netns import wait_for
from tests.lab.pybgp import PybgpSpeaker

pytestmark = pytest.mark.lab
VIP = "192.0.2.10/32"
AS = 65000


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from open_lab(request, "bird", "frr")


def kernel_next_hops(lab: Lab, ns: str, prefix: str) -> set[str]:
    """The next hops the kernel of ``ns`` uses for ``prefix`` (multipath or nexthop group)."""

    def ip(*args: str) -> str:
        return subprocess.run(
            ["ip", "netns", "exec", ns, "ip", *args], capture_output=True, text=True, timeout=10
        ).stdout

    route = ip("route", "show", prefix)
    hops = set(re.findall(r"via (\S+)", route))
    nhid = re.search(r"nhid (\d+)", route)
    if nhid:
        group = ip("nexthop", "show", "id", nhid.group(1))
        members = re.search(r"group ([\d/,]+)", group)
        ids = re.findall(r"\d+", members.group(1).replace(",", " ")) if members else [nhid.group(1)]
        for nid in ids:
            hops |= set(re.findall(r"via (\S+)", ip("nexthop", "show", "id", nid)))
    return hops


@pytest.mark.parametrize("add_path", [True, False], ids=["addpath", "no-addpath"])
@pytest.mark.parametrize("kind", ["frr", "bird"])
def test_ecmp_through_pybgp_rr(lab: Lab, kind: str, add_path: bool) -> None:
    fabric, routerns, link = lab.pair("fabric", "router")
    nodes = [f"198.18.{link.index}.{11 + i}" for i in range(3)]
    for addr in nodes:
        lab.run(fabric, ["ip", "addr", "add", f"{addr}/24", "dev", link.if_a])
    rr = PybgpSpeaker(lab, fabric, link.a4, AS, link.a4, cluster_id="10.255.255.1")
    for addr in nodes:
        rr.add_neighbor(addr, AS, rr_client=True, passive=True, hold_time=9)
    rr.add_neighbor(
        link.b4, AS, rr_client=True, add_path="send" if add_path else "none", hold_time=9
    )
    speakers = []
    for i, addr in enumerate(nodes):
        node = PybgpSpeaker(lab, fabric, addr, AS, f"10.0.1.{i + 1}")
        node.add_neighbor(link.a4, AS, hold_time=9)
        node.announce(VIP, communities=("65000:80",))
        speakers.append(node)
    router = {"frr": Frr, "bird": Bird}[kind](lab, routerns, [link.b4], AS, link.b4)
    router.kernel = True
    router.add_neighbor(link.a4, AS, add_path="receive" if add_path else "none", hold_time=9)
    router.start()
    rr.start()
    for node in speakers:
        node.start()
    want = 3 if add_path else 1
    got = router.wait_routes(lambda rs: len([r for r in rs if r.prefix == VIP]) >= want, timeout=40)
    vip = [r for r in got if r.prefix == VIP]
    assert {r.next_hop for r in vip} <= set(nodes) and len(vip) == want
    hops = wait_for(
        f"{want} kernel next hops",
        lambda: h if len(h := kernel_next_hops(lab, routerns, VIP)) == want else None,
        timeout=20,
    )
    assert hops <= set(nodes)
    if add_path:
        # one LB node leaves: the router's ECMP route shrinks to two next hops
        speakers[1].stop()
        wait_for(
            "2 kernel next hops",
            lambda: kernel_next_hops(lab, routerns, VIP) == {nodes[0], nodes[2]},
            timeout=20,
        )
