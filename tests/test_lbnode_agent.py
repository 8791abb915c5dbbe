"""The agent end to end on loopback (no root): a real HTTP backend, the agent with its
speaker, and a pybgp router speaker that records what it is sent.

Checked: the VIP is announced while the backend answers 200; a failing backend
withdraws it within interval x fall (plus a bound); recovery re-announces after rise;
a drain first re-announces with GRACEFUL_SHUTDOWN (RFC 8326), then withdraws after the
grace time; a disable file drains; a clean stop withdraws before the Cease; and the
``vips`` control commands.  The real daemons (BIRD, GoBGP) as routers are in
tests/test_lbnode_lab.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lbnode.agent import Agent
from lbnode.config import parse_lbnode_config
from lbnode.daemon import LbNode
from pybgp.config import ConfigError, parse_config
from pybgp.control import ControlServer
from pybgp.ctl import ControlClient
from pybgp.eventlog import EventLog
from pybgp.speaker import Speaker

ROUTER, NODE = "127.0.0.1", "127.0.0.2"
VIP = "198.18.0.10/32"


class Recorder(EventLog):
    """Keeps every event with its monotonic time."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), "json")
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        doc = json.loads(json.dumps({"event": event, **fields}, default=str))
        doc["t"] = time.monotonic()
        self.events.append(doc)


def port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Router:
    def __init__(self, log: Recorder) -> None:
        self.log = log

    def vip(self) -> dict[str, Any] | None:
        """The VIP's attributes as last announced to the router, or None if withdrawn."""
        state: dict[str, Any] | None = None
        for e in self.log.events:
            if e["event"] == "update":
                if VIP in e["withdrawn"]:
                    state = None
                if VIP in e["announced"]:
                    state = e["attributes"]
            elif e["event"] == "down":
                state = None
        return state

    async def wait(self, pred: Any, timeout: float = 10.0) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.vip()):
                return time.monotonic()
            await asyncio.sleep(0.01)
        raise AssertionError(f"router: timed out, VIP is {self.vip()}")


class Backend:
    def __init__(self) -> None:
        self.status = 200

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()


def router_config(rport: int, nport: int, extra: str = "") -> str:
    """The router speaker, peering with the node."""
    return f"""
[global]
asn = 65000
router_id = "10.0.0.1"
listen_address = "{ROUTER}"
listen_port = {rport}
[[neighbors]]
address = "{NODE}"
remote_as = 65101
port = {nport}
local_address = "{ROUTER}"
connect_retry = 1
{extra}
"""


def node_head(rport: int, nport: int, control: str, extra: str = "") -> str:
    """The LB node's speaker part; ``control`` is the [control] table's body."""
    return f"""
[global]
asn = 65101
router_id = "10.0.0.2"
listen_address = "{NODE}"
listen_port = {nport}
[control]
{control}
[[neighbors]]
address = "{ROUTER}"
remote_as = 65000
port = {rport}
local_address = "{NODE}"
connect_retry = 1
{extra}
"""


@pytest_asyncio.fixture
async def lab(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    backend = Backend()
    server = await asyncio.start_server(backend.client, NODE, 0)
    bport = server.sockets[0].getsockname()[1]
    rport, nport = port(ROUTER), port(NODE)
    router_log, node_log = Recorder(), Recorder()
    router = Speaker(parse_config(router_config(rport, nport)), router_log)
    await router.start()
    control = f'socket = "{tmp_path}/lb.sock"\nmetrics_port = {port(NODE)}\n'
    control += f'metrics_address = "{NODE}"'
    text = (
        node_head(rport, nport, control)
        + f"""
[[vips]]
prefix = "{VIP}"
communities = ["65000:80"]
drain_grace = 0.5
disable_file = "{tmp_path}/maintenance"
[[vips.checks]]
type = "http"
url = "http://{NODE}:{bport}/healthz"
interval = 0.1
timeout = 0.1
rise = 3
fall = 2
"""
    )
    cfg = parse_lbnode_config(text)
    (tmp_path / "node.toml").write_text(text)
    node = Speaker(cfg.speaker, node_log)
    ext = LbNode(cfg)
    await ext.setup(node, node_log)
    await node.start()
    control = ControlServer(node, cfg.speaker.control.socket)
    await control.start()
    ext.started(node, control, lambda mode: None)
    try:
        yield {
            "backend": backend,
            "router": Router(router_log),
            "agent": ext.agent,
            "node_log": node_log,
            "ext": ext,
            "control": cfg.speaker.control.socket,
            "tmp": tmp_path,
            "node": node,
            "metrics": cfg.speaker.control.metrics_port,
            "text": text,
        }
    finally:
        await control.stop()
        await node.stop("test over")
        await router.stop("test over")
        server.close()
        await server.wait_closed()


def vip_times(log: Recorder, new: str) -> list[float]:
    return [e["t"] for e in log.events if e["event"] == "vip-state" and e["new"] == new]


@pytest.mark.asyncio
async def test_backend_failure_withdraws_and_recovery_announces(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    attrs = router.vip()
    assert attrs is not None
    assert attrs["communities"] == ["65000:80"] and attrs["as_path"][0]["asns"] == [65101]
    failed = time.monotonic()
    lab["backend"].status = 503
    gone = await router.wait(lambda v: v is None)
    # fall=2 at 0.1 s: detected within 2 intervals + a probe, then one UPDATE
    assert gone - failed < 2 * 0.1 + 0.1 + 0.3
    detected = vip_times(lab["node_log"], "down")[-1]
    assert 0 <= gone - detected < 0.2
    back = time.monotonic()
    lab["backend"].status = 200
    await router.wait(lambda v: v is not None)
    assert time.monotonic() - back >= 2 * 0.1  # rise=3: at least 3 passing probes


@pytest.mark.asyncio
async def test_drain_is_graceful_shutdown_then_withdraw(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    with ControlClient(lab["control"]) as c:
        rows = await asyncio.to_thread(c.call, "vips.drain", {"vip": "198.18.0.10"})
    assert rows[0]["state"] == "draining" and rows[0]["announce"] == "graceful-shutdown"
    start = time.monotonic()
    await router.wait(lambda v: v is not None and "graceful-shutdown" in v["communities"])
    end = await router.wait(lambda v: v is None)
    assert end - start >= 0.4  # drain_grace = 0.5 s
    with ControlClient(lab["control"]) as c:
        status = await asyncio.to_thread(c.call, "vips", {})
        assert status[0]["state"] == "disabled" and status[0]["drains"] == ["operator"]
        await asyncio.to_thread(c.call, "vips.undrain", {"vip": VIP})
    await router.wait(lambda v: v is not None and "graceful-shutdown" not in v["communities"])


@pytest.mark.asyncio
async def test_disable_file_drains_until_removed(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    marker: Path = lab["tmp"] / "maintenance"
    marker.touch()
    await router.wait(lambda v: v is not None and "graceful-shutdown" in v["communities"])
    await router.wait(lambda v: v is None)
    with ControlClient(lab["control"]) as c:
        rows = await asyncio.to_thread(c.call, "vips.undrain", {"vip": VIP})
    assert rows[0]["state"] == "disabled" and "still drained" in rows[0]["note"]
    marker.unlink()
    await router.wait(lambda v: v is not None)


@pytest.mark.asyncio
async def test_clean_stop_withdraws_before_the_cease(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    message = await lab["ext"].stopping("stop")
    await lab["node"].stop(message)
    await router.wait(lambda v: v is None)
    events = [e for e in router.log.events if e["event"] in ("update", "notification-received")]
    assert events[-2]["event"] == "update" and events[-2]["withdrawn"] == [VIP]
    assert events[-1]["shutdown_message"] == "pybgp lbnode shutting down: VIPs withdrawn"


def routes(log: Recorder, prefix: str) -> list[dict[str, Any] | None]:
    """Every announcement (attributes) or withdrawal (None) of ``prefix``, in order."""
    out: list[dict[str, Any] | None] = []
    for e in log.events:
        if e["event"] == "update":
            if prefix in e["withdrawn"]:
                out.append(None)
            if prefix in e["announced"]:
                out.append(e["attributes"])
    return out


async def reload(lab: dict[str, Any], text: str) -> None:
    path = lab["tmp"] / "node.toml"
    path.write_text(text)
    ext: LbNode = lab["ext"]
    lab["node"].reload(ext.reload(str(path)))  # as pybgp.daemon does on SIGHUP
    await asyncio.gather(*ext.reloading)


@pytest.mark.asyncio
async def test_sighup_applies_vips_added_changed_and_removed(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    other = "198.18.0.11/32"
    text: str = lab["text"]
    check = text[text.index("[[vips.checks]]") :]
    changed = text.replace('communities = ["65000:80"]', 'communities = ["65000:81"]')
    await reload(lab, changed + f'\n[[vips]]\nprefix = "{other}"\n' + check)
    # the changed VIP is re-announced with its new attributes, never withdrawn
    await router.wait(lambda v: v is not None and v["communities"] == ["65000:81"])
    assert None not in routes(router.log, VIP)
    t0 = time.monotonic()
    while not routes(router.log, other) and time.monotonic() - t0 < 5:
        await asyncio.sleep(0.01)
    assert routes(router.log, other)[-1] is not None  # added, announced after its checks
    reloaded = [e for e in lab["node_log"].events if e["event"] == "vips-reloaded"]
    assert reloaded[-1] == {**reloaded[-1], "added": [other], "changed": [VIP], "removed": []}
    # removing it withdraws it; the other VIP stays as it is
    only_other = text[: text.index("[[vips]]")] + f'[[vips]]\nprefix = "{other}"\n' + check
    await reload(lab, only_other)
    await router.wait(lambda v: v is None)
    assert routes(router.log, other)[-1] is not None
    with ControlClient(lab["control"]) as c:
        rows = await asyncio.to_thread(c.call, "vips", {})
        assert [r["vip"] for r in rows] == [other]
        # the removed VIP's prefix is no longer the agent's: the routes API may use it
        await asyncio.to_thread(c.call, "routes.announce", {"prefix": VIP})
    await router.wait(lambda v: v is not None)
    # a broken file changes nothing
    with pytest.raises(ConfigError):
        await reload(lab, only_other.replace("rise = 3", "rise = -1"))
    assert [v.config.prefix for v in lab["agent"].vips.values()] == [other]


@pytest.mark.asyncio
async def test_control_api_errors(lab: dict[str, Any]) -> None:
    with ControlClient(lab["control"]) as c:
        for args, problem in [
            ({"vip": "198.18.0.99/32"}, "is not a VIP of this node"),
            ({"vip": 7}, "vip must be a string"),
            ({"colour": 1}, "unknown argument 'colour'"),
        ]:
            with pytest.raises(Exception) as err:
                await asyncio.to_thread(c.call, "vips.drain", args)
            assert problem in str(err.value)
        with pytest.raises(Exception) as err:
            await asyncio.to_thread(c.call, "routes.withdraw", {"prefix": VIP})  # the agent owns it
        assert "managed by the lbnode agent" in str(err.value)
    agent: Agent = lab["agent"]
    assert agent.vips[VIP].machine.drains == set()


async def scrape(port: int) -> str:
    reader, writer = await asyncio.open_connection(NODE, port)
    writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = await reader.read()
    writer.close()
    return body.decode()


@pytest.mark.asyncio
async def test_metrics_show_vip_and_check_state(lab: dict[str, Any]) -> None:
    router: Router = lab["router"]
    await router.wait(lambda v: v is not None)
    text = await scrape(lab["metrics"])
    assert f'lbnode_vip_announced{{vip="{VIP}"}} 1.0' in text
    assert f'lbnode_vip_state{{state="up",vip="{VIP}"}} 1.0' in text
    assert f'lbnode_check_up{{check="http-0",vip="{VIP}"}} 1.0' in text
    assert 'lbnode_check_results_total{check="http-0",result="pass"' in text
    assert "bgp_peer_up" in text  # the speaker's own series are there too
    lab["backend"].status = 500
    await router.wait(lambda v: v is None)
    text = await scrape(lab["metrics"])
    assert f'lbnode_vip_announced{{vip="{VIP}"}} 0.0' in text
    assert f'lbnode_vip_state{{state="down",vip="{VIP}"}} 1.0' in text


@pytest.mark.asyncio
async def test_an_ipv6_vip_over_an_ipv4_session(tmp_path: Path) -> None:
    """An IPv6 VIP goes out in MP_REACH_NLRI (RFC 4760) with its configured next hop."""
    rport, nport = port(ROUTER), port(NODE)
    router_log, node_log = Recorder(), Recorder()
    fams = 'families = ["ipv4-unicast", "ipv6-unicast"]'
    router = Speaker(parse_config(router_config(rport, nport, fams)), router_log)
    await router.start()
    control = f'socket = "{tmp_path}/lb6.sock"'
    cfg = parse_lbnode_config(
        node_head(rport, nport, control, fams)
        + """
[[vips]]
prefix = "2001:db8:10::/64"
next_hop = "2001:db8::2"
[[vips.checks]]
type = "exec"
command = ["true"]
interval = 0.1
"""
    )
    node = Speaker(cfg.speaker, node_log)
    ext = LbNode(cfg)
    await ext.setup(node, node_log)
    await node.start()
    try:
        end = time.monotonic() + 10
        got: list[dict[str, Any]] = []
        while time.monotonic() < end and not got:
            got = [
                e
                for e in router_log.events
                if e["event"] == "update" and "2001:db8:10::/64" in e["announced"]
            ]
            await asyncio.sleep(0.02)
        assert got, "the router never received the IPv6 VIP"
        assert got[0]["attributes"]["next_hop"] == "2001:db8::2"
    finally:
        if ext.agent is not None:
            await ext.agent.stop()
        await node.stop("test over")
        await router.stop("test over")
