"""``pybgp demo``: stretch one virtual IP over several LB nodes, on loopback, no root.

How this works: one process runs a "router" speaker and N LB nodes on 127.0.0.x
addresses with kernel-chosen ports.  Each LB node is the real agent of ``pybgp
lbnode`` (lbnode.agent) with its own speaker, health-checking its own backend (a tiny
HTTP server in the same process) every 0.2 s.  Every node announces the same VIP over
eBGP; the router's view (what its peers sent it, read from its UPDATE events) is the
ECMP set a router would install.  The demo then breaks one node's backend (its check
fails, the node withdraws), repairs it (the node announces again), drains another
(the VIP is re-announced with GRACEFUL_SHUTDOWN, then withdrawn after the grace
time), and shuts one node down cleanly (withdraw, then a Cease with a message),
printing the router's view after each step.
"""

from __future__ import annotations

import asyncio
import io
import socket
import time
from typing import Any

from .codec.nlri import format_prefix
from .codec.update import Update
from .config import parse_config
from .eventlog import EventLog
from .render import attrs_dict
from .speaker import Speaker

__all__ = ["run_demo"]

VIP = "192.0.2.10/32"
ROUTER = "127.0.0.1"
INTERVAL = 0.2


class _RouterView(EventLog):
    """The router's event log: keeps, per peer, what it was last sent for the VIP."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), "json")
        self.paths: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, str] = {}

    def update(
        self,
        peer: str,
        update: Update,
        withdrawn: list[tuple[int, int, int, int]],
        announced: list[tuple[int, int, int, int]],
    ) -> None:
        if any(format_prefix(k[2], k[0]) == VIP for k in withdrawn):
            self.paths.pop(peer, None)
        if update.attrs is not None and any(format_prefix(k[2], k[0]) == VIP for k in announced):
            self.paths[peer] = attrs_dict(update.attrs)

    def emit(self, event: str, **fields: Any) -> None:
        if event == "down":
            self.paths.pop(fields.get("peer", ""), None)
        if event == "notification-received" and fields.get("shutdown_message"):
            self.messages[fields["peer"]] = fields["shutdown_message"]


class _Quiet(EventLog):
    def __init__(self) -> None:
        super().__init__(io.StringIO(), "json")


class _Backend:
    """An HTTP server that answers 200 while healthy, 503 otherwise."""

    def __init__(self) -> None:
        self.healthy = True
        self.server: asyncio.Server | None = None

    async def start(self, host: str) -> int:
        self.server = await asyncio.start_server(self._client, host, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()).strip():
                pass
            status = "200 OK" if self.healthy else "503 Service Unavailable"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


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


def _node_config(i: int, port: int, router_port: int, backend: int, sock: str) -> str:
    addr = _node(i)
    return f"""
[global]
asn = {65101 + i}
router_id = "10.255.1.{i + 1}"
listen_address = "{addr}"
listen_port = {port}

[control]
socket = "{sock}"

[[neighbors]]
address = "{ROUTER}"
remote_as = 65000
port = {router_port}
local_address = "{addr}"
hold_time = 9
connect_retry = 1

[[vips]]
prefix = "{VIP}"
communities = ["65000:80"]
large_communities = ["65000:1:{i + 1}"]
drain_grace = 1

[[vips.checks]]
type = "http"
url = "http://{addr}:{backend}/healthz"
interval = {INTERVAL}
timeout = {INTERVAL}
rise = 2
fall = 2
"""


def _paths(view: _RouterView) -> list[str]:
    out = []
    for _peer, attrs in sorted(view.paths.items()):
        comms = attrs.get("communities", [])
        note = "  [GRACEFUL_SHUTDOWN: move new flows away]" if "graceful-shutdown" in comms else ""
        out.append(f"{attrs.get('next_hop')} (AS {attrs['as_path'][0]['asns'][0]}){note}")
    return out


async def _settle(view: _RouterView, pred: Any, timeout: float = 15.0) -> tuple[list[str], float]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred(view):
            break
        await asyncio.sleep(0.01)
    return _paths(view), time.monotonic() - start


def _show(step: str, paths: list[str], took: float | None = None) -> None:
    print(f"\n== {step}" + (f"  ({took:.2f} s)" if took is not None else ""))
    print(f"router's ECMP set for {VIP}: {len(paths)} next hop(s)")
    for p in paths:
        print(f"   via {p}")


async def _demo(count: int) -> int:
    import tempfile

    from lbnode.config import parse_lbnode_config
    from lbnode.daemon import LbNode

    router_port = _port(ROUTER)
    node_ports = [_port(_node(i)) for i in range(count)]
    view = _RouterView()
    peers = [(_node(i), node_ports[i]) for i in range(count)]
    router = Speaker(parse_config(_router_config(router_port, peers)), view)
    await router.start()
    backends = [_Backend() for _ in range(count)]
    nodes: list[tuple[Speaker, LbNode]] = []
    tmp = tempfile.TemporaryDirectory(prefix="pybgp-demo-")
    for i in range(count):
        bport = await backends[i].start(_node(i))
        text = _node_config(i, node_ports[i], router_port, bport, f"{tmp.name}/node{i}.sock")
        cfg = parse_lbnode_config(text)
        sp = Speaker(cfg.speaker, _Quiet())
        ext = LbNode(cfg)
        await ext.setup(sp, sp.log)  # the first round of health checks
        await sp.start()
        assert ext.agent is not None
        ext.agent.start()
        nodes.append((sp, ext))
    print(
        f"pybgp demo: {count} LB nodes (pybgp lbnode agents, each health-checking its "
        f"backend every {INTERVAL:g} s, fall 2, rise 2) announce {VIP} over eBGP to a "
        f"router ({ROUTER}:{router_port}), all on loopback"
    )
    ok = True
    victim, drained, leaver = _node(1 % count), _node(2 % count), _node(0)
    try:
        paths, _ = await _settle(view, lambda v: len(v.paths) == count)
        _show("all backends healthy", paths)
        ok &= len(paths) == count

        backends[1 % count].healthy = False
        paths, took = await _settle(view, lambda v: victim not in v.paths)
        _show("lb-node-2's backend fails its health check: the node withdraws", paths, took)
        ok &= len(paths) == count - 1

        backends[1 % count].healthy = True
        paths, took = await _settle(view, lambda v: len(v.paths) == count)
        _show("lb-node-2's backend recovers: announced again after rise", paths, took)
        ok &= len(paths) == count

        agent = nodes[2 % count][1].agent
        assert agent is not None
        agent.drain(list(agent.vips.values()), "operator")  # as `pybgp vips drain` does
        paths, took = await _settle(
            view, lambda v: "graceful-shutdown" in v.paths.get(drained, {}).get("communities", [])
        )
        _show("lb-node-3 is drained for maintenance (pybgp vips drain)", paths, took)
        ok &= len(paths) == count
        paths, took = await _settle(view, lambda v: drained not in v.paths)
        _show("lb-node-3: drain grace time over, withdrawn", paths, took)
        ok &= len(paths) == count - 1

        sp0, ext0 = nodes[0]
        message = await ext0.stopping("stop")  # SIGTERM: withdraw, then Cease
        await sp0.stop(message)
        paths, _ = await _settle(view, lambda v: leaver in v.messages)
        _show("lb-node-1 stops cleanly (SIGTERM: withdraw, then Cease)", paths)
        print(f"   the router was told: {view.messages.get(leaver, '(nothing)')!r}")
        ok &= len(paths) == count - 2
    finally:
        for sp, ext in nodes:
            if ext.agent is not None and not ext.agent.stopped:
                await ext.agent.abandon()
            await sp.stop("demo over")
        await router.stop("demo over")
        for b in backends:
            b.close()
        tmp.cleanup()
    print("\nok" if ok else "\nFAILED: the router did not see the expected paths")
    return 0 if ok else 1


def run_demo(nodes: int = 3) -> int:
    return asyncio.run(_demo(nodes))
