"""``pybgp demo``: stretch one virtual IP over several LB nodes, on loopback, no root.

How this works: one process runs a "router" speaker and N "LB node" speakers on
127.0.0.x addresses with kernel-chosen ports.  Every node announces the same VIP over
eBGP; the router's Adj-RIB-Ins then hold one path per node, which is the ECMP set a
router would install.  The demo takes one node out (a Cease/Administrative Shutdown
with a message, as a failed health check would) and brings it back, printing the
router's view of the VIP after each step.
"""

from __future__ import annotations

import asyncio
import io
import socket

from .codec.nlri import parse_prefix
from .config import parse_config
from .eventlog import EventLog
from .render import ip_text
from .speaker import Speaker

__all__ = ["run_demo"]

VIP = "192.0.2.10/32"
ROUTER = "127.0.0.1"


class _Quiet(EventLog):
    """Keeps the speakers' event logs out of the demo's own output."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), "json")


def _port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _node(i: int) -> str:
    return f"127.0.0.{11 + i}"


def _router_config(port: int, nodes: list[tuple[str, int]]) -> str:
    text = f"""
[global]
asn = 65000
router_id = "10.255.0.1"
listen_address = "{ROUTER}"
listen_port = {port}
"""
    for i, (addr, nport) in enumerate(nodes):
        text += f"""
[[neighbors]]
address = "{addr}"
remote_as = {65101 + i}
port = {nport}
local_address = "{ROUTER}"
hold_time = 9
connect_retry = 1
description = "lb-node-{i + 1}"
"""
    return text


def _node_config(i: int, port: int, router_port: int) -> str:
    addr = _node(i)
    return f"""
[global]
asn = {65101 + i}
router_id = "10.255.1.{i + 1}"
listen_address = "{addr}"
listen_port = {port}

[[neighbors]]
address = "{ROUTER}"
remote_as = 65000
port = {router_port}
local_address = "{addr}"
hold_time = 9
connect_retry = 1

[[originate]]
prefix = "{VIP}"
communities = ["65000:80"]
large_communities = ["65000:1:{i + 1}"]
"""


def _vip_paths(router: Speaker) -> list[str]:
    _, vip = parse_prefix(VIP)
    out = []
    for addr, peer in router.peers.items():
        attrs = peer.adj_rib_in.get((1, 1, vip, 0))
        if attrs is not None and attrs.next_hop is not None:
            out.append(f"{ip_text(attrs.next_hop)} (AS {peer.config.remote_as}, {addr})")
    return sorted(out)


async def _settle(router: Speaker, want: int, timeout: float = 15.0) -> list[str]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        paths = _vip_paths(router)
        if len(paths) == want:
            return paths
        await asyncio.sleep(0.05)
    return _vip_paths(router)


def _show(step: str, paths: list[str]) -> None:
    print(f"\n== {step}")
    print(f"router's ECMP set for {VIP}: {len(paths)} next hop(s)")
    for p in paths:
        print(f"   via {p}")


async def _demo(count: int) -> int:
    router_port = _port(ROUTER)
    node_ports = [_port(_node(i)) for i in range(count)]
    nodes_cfg = [(_node(i), node_ports[i]) for i in range(count)]
    router = Speaker(parse_config(_router_config(router_port, nodes_cfg)), _Quiet())
    await router.start()
    nodes = []
    for i in range(count):
        sp = Speaker(parse_config(_node_config(i, node_ports[i], router_port)), _Quiet())
        await sp.start()
        nodes.append(sp)
    print(
        f"pybgp demo: {count} LB nodes announce {VIP} over eBGP to a router "
        f"({ROUTER}:{router_port}), all on loopback"
    )
    ok = True
    try:
        paths = await _settle(router, count)
        _show("all nodes healthy", paths)
        ok &= len(paths) == count
        victim = nodes[1 % count].peers[ROUTER]
        victim.stop("lb-node-2: health check failed, draining")
        paths = await _settle(router, count - 1)
        peer = router.peers[_node(1 % count)]
        _show("lb-node-2 withdrew (its session was shut down)", paths)
        print(f"   the router was told: {peer.last_error or '(nothing)'}")
        ok &= len(paths) == count - 1
        victim.start()
        paths = await _settle(router, count)
        _show("lb-node-2 is back", paths)
        ok &= len(paths) == count
    finally:
        for sp in nodes:
            await sp.stop("demo over")
        await router.stop("demo over")
    print("\nok" if ok else "\nFAILED: the router did not see the expected paths")
    return 0 if ok else 1


def run_demo(nodes: int = 3) -> int:
    return asyncio.run(_demo(nodes))
