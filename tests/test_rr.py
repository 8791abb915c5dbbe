"""Route reflection through a pybgp RR on loopback (RFC 4456, RFC 7911, RFC 8212).

Three LB nodes (iBGP route-reflector clients) announce the same VIP; a router, also a
client, learns it from the RR.  With ADD-PATH the router gets one path per node (the
ECMP set), each with ORIGINATOR_ID and CLUSTER_LIST; without ADD-PATH it gets one.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from pybgp.codec.nlri import parse_prefix
from pybgp.config import parse_config
from pybgp.speaker import Speaker
from tests.test_speaker import Log, _free_port, _wait

pytestmark = pytest.mark.asyncio

RR = "127.0.0.1"
NODES = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
ROUTER = "127.0.0.30"
EBGP = "127.0.0.40"
VIP = "192.0.2.10/32"


def _nb(addr: str, asn: int, port: int, me: str, extra: str = "") -> str:
    return f"""
[[neighbors]]
address = "{addr}"
remote_as = {asn}
port = {port}
local_address = "{me}"
hold_time = 9
connect_retry = 1
{extra}
"""


@asynccontextmanager
async def _topology(router_add_path: str) -> AsyncIterator[tuple[Speaker, Speaker, Speaker, Log]]:
    ports = {a: _free_port(a) for a in [RR, *NODES, ROUTER, EBGP]}
    rr_text = f"""
[global]
asn = 65000
router_id = "10.0.0.1"
cluster_id = "10.0.0.99"
listen_address = "{RR}"
listen_port = {ports[RR]}
"""
    for n in NODES:
        rr_text += _nb(n, 65000, ports[n], RR, "route_reflector_client = true\npassive = true")
    rr_text += _nb(
        ROUTER,
        65000,
        ports[ROUTER],
        RR,
        f'route_reflector_client = true\nadd_path = "{router_add_path}"',
    )
    rr_text += _nb(EBGP, 65099, ports[EBGP], RR, "passive = true")
    speakers = [Speaker(parse_config(rr_text), Log())]
    speakers[0].text = rr_text  # type: ignore[attr-defined]
    for i, n in enumerate(NODES):
        text = f"""
[global]
asn = 65000
router_id = "10.0.1.{i + 1}"
listen_address = "{n}"
listen_port = {ports[n]}
{_nb(RR, 65000, ports[RR], n)}
[[originate]]
prefix = "{VIP}"
communities = ["65000:80"]
"""
        speakers.append(Speaker(parse_config(text), Log()))
    rlog = Log()
    router_ap = {"send": "receive", "none": "none"}[router_add_path]
    router = Speaker(
        parse_config(f"""
[global]
asn = 65000
router_id = "10.0.2.1"
listen_address = "{ROUTER}"
listen_port = {ports[ROUTER]}
{_nb(RR, 65000, ports[RR], ROUTER, f'add_path = "{router_ap}"')}
"""),
        rlog,
    )
    ebgp = Speaker(
        parse_config(f"""
[global]
asn = 65099
router_id = "10.0.3.1"
listen_address = "{EBGP}"
listen_port = {ports[EBGP]}
{_nb(RR, 65000, ports[RR], EBGP)}
"""),
        Log(),
    )
    speakers += [router, ebgp]
    for sp in speakers:
        await sp.start()
    try:
        yield speakers[0], router, ebgp, rlog
    finally:
        for sp in speakers:
            await sp.stop()


def _vip_paths(router: Speaker) -> list[tuple[int, object]]:
    _, vip = parse_prefix(VIP)
    rib = router.peers[RR].adj_rib_in
    return sorted(((k[3], a) for k, a in rib.items() if k[2] == vip), key=lambda x: x[0])


async def test_addpath_reflects_one_path_per_lb_node() -> None:
    async with _topology("send") as (rr, router, ebgp, rlog):
        await _wait(lambda: len(_vip_paths(router)) == 3, timeout=15)
        paths = _vip_paths(router)
        assert len({pid for pid, _ in paths}) == 3  # distinct ADD-PATH path ids
        originators = set()
        for _, attrs in paths:
            assert attrs.cluster_list == (ipaddress.IPv4Address("10.0.0.99").packed,)
            assert attrs.local_pref == 100 and attrs.as_path == ()
            originators.add(str(ipaddress.IPv4Address(attrs.originator_id)))
            assert str(ipaddress.IPv4Address(attrs.next_hop)) in NODES  # next hop unchanged
        assert originators == {"10.0.1.1", "10.0.1.2", "10.0.1.3"}
        # the RR's Loc-RIB holds the three paths as one ECMP set
        _, vip = parse_prefix(VIP)
        assert len(rr.routing.rib.ecmp(1, 1, vip)) == 3

        # a node drops out: the router sees two paths, then three again
        node = rr.peers[NODES[1]]
        node.stop("drain")
        await _wait(lambda: len(_vip_paths(router)) == 2, timeout=10)
        node.start()
        await _wait(lambda: len(_vip_paths(router)) == 3, timeout=15)

        # RFC 8212: the eBGP neighbor has no export policy, so it is sent nothing
        await asyncio.sleep(0.3)
        assert ebgp.peers[RR].adj_rib_in == {}


async def test_without_addpath_the_router_sees_one_path() -> None:
    async with _topology("none") as (rr, router, ebgp, rlog):
        _, vip = parse_prefix(VIP)
        await _wait(lambda: len(rr.routing.rib.ecmp(1, 1, vip)) == 3, timeout=15)
        await _wait(lambda: len(_vip_paths(router)) == 1, timeout=10)
        await asyncio.sleep(0.5)
        assert len(_vip_paths(router)) == 1


async def test_export_policy_reload_without_session_reset() -> None:
    """A new export policy applies from the stored routes: no reset, no refresh."""
    async with _topology("send") as (rr, router, ebgp, rlog):
        await _wait(lambda: len(_vip_paths(router)) == 3, timeout=15)
        text = rr.text  # type: ignore[attr-defined]
        text = text.replace(
            f'address = "{ROUTER}"', f'address = "{ROUTER}"\nexport_policy = "no-vips"'
        )
        text += """
[[prefix_lists]]
name = "vips"
entries = [{ prefix = "192.0.2.0/24", ge = 32 }]

[[policies]]
name = "no-vips"
default = "accept"
[[policies.terms]]
name = "drop-vips"
match = { prefix_list = "vips" }
action = "reject"
"""
        downs = len(rlog.of("down"))
        rr.reload(parse_config(text))
        await _wait(lambda: _vip_paths(router) == [], timeout=10)
        assert len(rlog.of("down")) == downs  # the session stayed up
        rr.reload(parse_config(rr.text))  # type: ignore[attr-defined]
        await _wait(lambda: len(_vip_paths(router)) == 3, timeout=10)
