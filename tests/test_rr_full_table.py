"""A synthetic full table (sized for CI: 100k prefixes) reflected to two clients, and
two redundant route reflectors sharing one cluster id.

The injector is a pybgp speaker session; its routes come from `pybgp mrt synth` and
are sent with the codec's packer.  Both clients must end up with every prefix and the
attributes the injector sent, plus ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 8).
"""

from __future__ import annotations

import asyncio
import io
import ipaddress

import pytest

from pybgp.codec.attributes import AttrSet
from pybgp.codec.pack import pack_announcements
from pybgp.config import parse_config
from pybgp.mrt.routes import RouteBatch, read_routes
from pybgp.mrt.synth import synthesize
from pybgp.speaker import Speaker
from tests.test_rr import _nb as _nb9
from tests.test_speaker import Log, _free_port, _wait

pytestmark = pytest.mark.asyncio

RR, RR2, INJ, C1, C2 = "127.0.0.51", "127.0.0.52", "127.0.0.53", "127.0.0.54", "127.0.0.55"
PREFIXES = 100_000
AS = 64900  # the synthetic table's paths start with 65000: keep them loop-free


def _nb(addr: str, asn: int, port: int, me: str, extra: str = "") -> str:
    """A neighbor with hold time 30: four speakers share this test's one event loop."""
    return _nb9(addr, asn, port, me, extra).replace("hold_time = 9", "hold_time = 30")


def _speaker(addr: str, rid: str, port: int, neighbors: str, cluster: str = "") -> Speaker:
    text = f"""
[global]
asn = 64900
router_id = "{rid}"
listen_address = "{addr}"
listen_port = {port}
{f'cluster_id = "{cluster}"' if cluster else ""}
{neighbors}
"""
    return Speaker(parse_config(text), Log())


def _table() -> list[tuple[int, AttrSet]]:
    buf = io.BytesIO()
    synthesize(buf, PREFIXES, seed=5)
    out: list[tuple[int, AttrSet]] = []
    for b in read_routes(buf.getvalue()):
        if isinstance(b, RouteBatch):
            out += list(zip(b.prefixes, b.attrs, strict=True))
    return out


async def test_full_table_reaches_both_clients_intact() -> None:
    table = _table()
    assert len(table) == PREFIXES
    ports = {a: _free_port(a) for a in (RR, INJ, C1, C2)}
    rr = _speaker(
        RR,
        "10.9.0.1",
        ports[RR],
        _nb(INJ, AS, ports[INJ], RR, "route_reflector_client = true\npassive = true")
        + _nb(C1, AS, ports[C1], RR, "route_reflector_client = true")
        + _nb(C2, AS, ports[C2], RR, "route_reflector_client = true"),
        cluster="10.9.9.9",
    )
    inj = _speaker(INJ, "10.9.0.2", ports[INJ], _nb(RR, AS, ports[RR], INJ))
    c1 = _speaker(C1, "10.9.0.3", ports[C1], _nb(RR, AS, ports[RR], C1))
    c2 = _speaker(C2, "10.9.0.4", ports[C2], _nb(RR, AS, ports[RR], C2))
    speakers = [rr, inj, c1, c2]
    for sp in speakers:
        await sp.start()
    try:
        await _wait(
            lambda: all(p.session.negotiated for sp in speakers for p in sp.peers.values()),
            timeout=15,
        )
        peer = inj.peers[RR]
        opts = peer.session.options
        assert opts is not None
        peer.send_updates(
            pack_announcements(((1, 1, prefix, 0, attrs) for prefix, attrs in table), opts)
        )
        for c in (c1, c2):
            await _wait(lambda c=c: len(c.peers[RR].adj_rib_in) == PREFIXES, timeout=120)
        for c in (c1, c2):
            rib = c.peers[RR].adj_rib_in
            for prefix, sent in table[:: PREFIXES // 2000]:  # 2000 spread samples
                got = rib[(1, 1, prefix, 0)]
                assert got.as_path == sent.as_path and got.next_hop == sent.next_hop
                assert got.communities == sent.communities
                assert got.large_communities == sent.large_communities
                assert got.med == sent.med and got.origin == sent.origin
                assert got.originator_id == ipaddress.IPv4Address("10.9.0.2").packed
                assert got.cluster_list == (ipaddress.IPv4Address("10.9.9.9").packed,)
        # the sessions kept their timers running during the load
        assert all(
            sp.peers[a].session.state.name == "ESTABLISHED"
            for sp, a in ((rr, INJ), (rr, C1), (c1, RR), (c2, RR))
        )
    finally:
        for sp in speakers:
            await sp.stop()


async def test_redundant_rrs_with_one_cluster_id() -> None:
    """Two RRs share a cluster id; the client keeps the VIP when either one dies."""
    ports = {a: _free_port(a) for a in (RR, RR2, INJ, C1)}
    cl = "route_reflector_client = true"
    rr1 = _speaker(
        RR,
        "10.9.1.1",
        ports[RR],
        _nb(INJ, AS, ports[INJ], RR, cl)
        + _nb(C1, AS, ports[C1], RR, cl)
        + _nb(RR2, AS, ports[RR2], RR),
        cluster="10.9.9.9",
    )
    rr2 = _speaker(
        RR2,
        "10.9.1.2",
        ports[RR2],
        _nb(INJ, AS, ports[INJ], RR2, cl)
        + _nb(C1, AS, ports[C1], RR2, cl)
        + _nb(RR, AS, ports[RR], RR2),
        cluster="10.9.9.9",
    )
    node = _speaker(
        INJ,
        "10.9.1.3",
        ports[INJ],
        _nb(RR, AS, ports[RR], INJ)
        + _nb(RR2, AS, ports[RR2], INJ)
        + '[[originate]]\nprefix = "192.0.2.10/32"\n',
    )
    client = _speaker(
        C1, "10.9.1.4", ports[C1], _nb(RR, AS, ports[RR], C1) + _nb(RR2, AS, ports[RR2], C1)
    )
    speakers = [rr1, rr2, node, client]
    for sp in speakers:
        await sp.start()
    try:

        def vip_from() -> set[str]:
            return {a for a, p in client.peers.items() if p.adj_rib_in}

        await _wait(lambda: vip_from() == {RR, RR2}, timeout=15)
        # each RR drops the other's reflection: its CLUSTER_LIST holds our cluster id
        for rr in (rr1, rr2):
            other = RR2 if rr is rr1 else RR
            await _wait(lambda rr=rr, other=other: bool(rr.peers[other].adj_rib_in), 15)
            # received ...
            assert rr.peers[other].info is not None
            got = rr.routing.rib.adj_rib_in(rr.peers[other].info, 1, 1, post_policy=True)
            assert got == {}  # ... but not accepted (RFC 4456 8 loop check)
        await rr1.stop("RR1 dies")
        await asyncio.sleep(0.5)
        assert vip_from() == {RR2}  # the client still has the VIP through RR2
    finally:
        for sp in (rr2, node, client):
            await sp.stop()
