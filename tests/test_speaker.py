"""The asyncio speaker on loopback: two pybgp speakers, and raw-socket bad peers.

Loopback has all of 127/8, so each speaker gets its own address and the peers are
told apart by address as in production.  Ports are picked by the kernel.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pybgp.codec.attributes import AttrSet
from pybgp.codec.message import Keepalive, decode_message, encode_message
from pybgp.codec.nlri import parse_prefix
from pybgp.codec.open import FourOctetAs, Multiprotocol, Open
from pybgp.codec.update import Update
from pybgp.config import parse_config
from pybgp.eventlog import EventLog
from pybgp.speaker import Speaker

pytestmark = pytest.mark.asyncio


class Log(EventLog):
    def __init__(self) -> None:
        super().__init__(io.StringIO(), "json")

    @property
    def events(self) -> list[dict[str, Any]]:
        assert isinstance(self.stream, io.StringIO)
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def _config(
    me: str,
    asn: int,
    port: int,
    peers: list[tuple[str, int, int]],
    extra: str = "",
    neighbor_extra: str = "",
    originate: str = "",
    hold: int = 9,
) -> str:
    text = f"""
[global]
asn = {asn}
router_id = "{me.replace("127.", "10.")}"
listen_address = "{me}"
listen_port = {port}
hold_time = 9
connect_retry = 1
{extra}
"""
    for addr, remote_as, rport in peers:
        text += f"""
[[neighbors]]
address = "{addr}"
remote_as = {remote_as}
port = {rport}
local_address = "{me}"
hold_time = {hold}
connect_retry = 1
families = ["ipv4-unicast", "ipv6-unicast"]
{neighbor_extra}
"""
    return text + originate


async def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _pair(
    neighbor_extra: str = "", extra_a: str = "", extra_b: str = ""
) -> AsyncIterator[tuple[Speaker, Log, Speaker, Log]]:
    pa, pb = _free_port("127.0.0.1"), _free_port("127.0.0.2")
    orig_a = """
[[originate]]
prefix = "192.0.2.0/24"
communities = ["65001:1", "no-export"]
large_communities = ["65001:1:2"]
med = 5
[[originate]]
prefix = "2001:db8:1::/48"
next_hop = "2001:db8::1"
"""
    orig_b = """
[[originate]]
prefix = "198.51.100.0/24"
communities = ["4200:7"]
"""
    ca = parse_config(
        _config(
            "127.0.0.1", 65001, pa, [("127.0.0.2", 4200000002, pb)], extra_a, neighbor_extra, orig_a
        )
    )
    cb = parse_config(
        _config(
            "127.0.0.2", 4200000002, pb, [("127.0.0.1", 65001, pa)], extra_b, neighbor_extra, orig_b
        )
    )
    la, lb = Log(), Log()
    a, b = Speaker(ca, la), Speaker(cb, lb)
    await a.start()
    await b.start()
    try:
        yield a, la, b, lb
    finally:
        await a.stop("test over")
        await b.stop("test over")


async def test_routes_cross_both_ways_with_attributes() -> None:
    async with _pair('add_path = "both"\ngraceful_restart = true') as (a, la, b, lb):
        await _wait(lambda: len(lb.of("end-of-rib")) >= 2 and len(la.of("end-of-rib")) >= 2)
        est = la.of("established")[0]
        assert est["four_octet_as"] is True and est["graceful_restart"] is True
        assert est["add_path_tx"] == [[1, 1], [2, 1]]
        got = {u["announced"][0]["prefix"]: u["attributes"] for u in lb.of("update")}
        v4 = got["192.0.2.0/24"]
        assert v4["communities"] == ["65001:1", "no-export"]
        assert v4["large_communities"] == ["65001:1:2"]
        assert v4["med"] == 5 and v4["next_hop"] == "127.0.0.1"
        assert v4["as_path"] == [{"type": "AS_SEQUENCE", "asns": [65001]}]
        assert got["2001:db8:1::/48"]["next_hop"] == "2001:db8::1"
        back = {u["announced"][0]["prefix"]: u["attributes"] for u in la.of("update")}
        assert back["198.51.100.0/24"]["as_path"][0]["asns"] == [4200000002]
        assert len(b.peers["127.0.0.1"].adj_rib_in) == 2
        # exactly one session each, although both sides connect actively
        assert len(la.of("established")) == 1 and len(lb.of("established")) == 1


async def test_administrative_shutdown_message_reaches_the_peer() -> None:
    async with _pair() as (a, la, b, lb):
        await _wait(lambda: bool(lb.of("established")))
        a.peers["127.0.0.2"].stop("maintenance window 42")
        await _wait(lambda: bool(lb.of("notification-received")))
        n = lb.of("notification-received")[0]
        assert (n["code"], n["subcode"]) == (6, 2)
        assert n["shutdown_message"] == "maintenance window 42"
        await _wait(lambda: bool(lb.of("withdraw-all")))
        assert not b.peers["127.0.0.1"].adj_rib_in


async def test_route_refresh_re_announces() -> None:
    async with _pair() as (a, la, b, lb):
        await _wait(lambda: len(lb.of("end-of-rib")) >= 2)
        before = len(lb.of("update"))
        peer = b.peers["127.0.0.1"]
        peer.session.send_route_refresh(1, 1)
        peer.pump(peer.session)
        await _wait(lambda: bool(la.of("route-refresh")))
        await _wait(lambda: len(lb.of("update")) > before)


async def test_reload_adds_a_neighbor_without_resetting_others() -> None:
    async with _pair() as (a, la, b, lb):
        await _wait(lambda: bool(la.of("established")))
        await asyncio.sleep(0.3)
        session = a.peers["127.0.0.2"].session
        downs = len(la.of("down"))
        text = _config(
            "127.0.0.1",
            65001,
            a.ports[0],
            [("127.0.0.2", 4200000002, b.ports[0]), ("127.0.0.9", 65009, 179)],
        )
        a.reload(
            parse_config(
                text
                + """
[[originate]]
prefix = "192.0.2.0/24"
communities = ["65001:1", "no-export"]
large_communities = ["65001:1:2"]
med = 5
[[originate]]
prefix = "2001:db8:1::/48"
next_hop = "2001:db8::1"
"""
            )
        )
        await asyncio.sleep(0.3)
        assert la.of("reloaded")[0]["added"] == 1
        assert len(la.of("down")) == downs  # the existing session stayed up
        assert a.peers["127.0.0.2"].session is session
        assert "127.0.0.9" in a.peers


async def test_md5_protects_the_session() -> None:
    async with _pair('md5_password = "s3cret"') as (a, la, b, lb):
        await _wait(lambda: bool(la.of("established")))


async def test_md5_mismatch_never_establishes() -> None:
    pa, pb = _free_port("127.0.0.1"), _free_port("127.0.0.2")
    ca = parse_config(
        _config(
            "127.0.0.1",
            65001,
            pa,
            [("127.0.0.2", 65002, pb)],
            neighbor_extra='md5_password = "one"',
        )
    )
    cb = parse_config(
        _config(
            "127.0.0.2",
            65002,
            pb,
            [("127.0.0.1", 65001, pa)],
            neighbor_extra='md5_password = "two"',
        )
    )
    la, lb = Log(), Log()
    a, b = Speaker(ca, la), Speaker(cb, lb)
    await a.start()
    await b.start()
    try:
        await asyncio.sleep(2.5)
        assert not la.of("established") and not lb.of("established")
    finally:
        await a.stop()
        await b.stop()


async def test_gtsm_on_loopback() -> None:
    async with _pair("ttl_security = true") as (a, la, b, lb):
        await _wait(lambda: bool(la.of("established")))


# --------------------------------------------------------------------- bad peers
@asynccontextmanager
async def _target(hold: int = 9) -> AsyncIterator[tuple[Speaker, Log, int]]:
    port = _free_port("127.0.0.1")
    cfg = parse_config(
        _config(
            "127.0.0.1",
            65001,
            port,
            [("127.0.0.3", 65003, 9)],
            neighbor_extra="passive = true",
            hold=hold,
        )
    )
    log = Log()
    sp = Speaker(cfg, log)
    await sp.start()
    try:
        yield sp, log, port
    finally:
        await sp.stop()


async def _raw_client(
    port: int, source: str = "127.0.0.3", hold: int = 9
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    o = Open(65003, hold, bytes([10, 0, 0, 3]), (Multiprotocol(1, 1), FourOctetAs(65003)))
    writer.write(encode_message(o) + encode_message(Keepalive()))
    await writer.drain()
    return reader, writer


async def _read_messages(reader: asyncio.StreamReader, until: int, timeout: float = 8) -> list[Any]:
    out = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            head = await asyncio.wait_for(reader.readexactly(19), deadline - loop.time())
            body = await reader.readexactly(int.from_bytes(head[16:18], "big") - 19)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            break
        msg = decode_message(head + body)
        out.append(msg)
        if type(msg).__name__ == "Notification" and until == 3:
            break
    return out


async def test_unknown_peer_is_refused() -> None:
    async with _target() as (sp, log, port):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.0.4", 0)
        )
        data = await asyncio.wait_for(reader.read(100), 5)
        assert data == b""
        writer.close()
        assert log.of("rejected")[0]["address"] == "127.0.0.4"


async def test_malformed_attribute_is_treat_as_withdraw_not_a_crash() -> None:
    async with _target() as (sp, log, port):
        reader, writer = await _raw_client(port)
        await _wait(lambda: bool(log.of("established")))
        good = AttrSet(origin=0, as_path=((2, (65003,)),), next_hop=bytes([10, 0, 0, 3]))
        pfx = parse_prefix("203.0.113.0/24")[1]
        writer.write(encode_message(Update(attrs=good, nlri=(pfx,))))
        raw = bytearray(encode_message(Update(attrs=good.replace(med=1), nlri=(pfx,))))
        i = raw.index(bytes([0x80, 0x04, 0x04]))
        raw[i + 2] = 0x03  # MED of length 3: RFC 7606 7.4 treat-as-withdraw
        raw[i + 3 : i + 7] = raw[i + 3 : i + 6]
        raw = raw[:16] + (len(raw)).to_bytes(2, "big") + raw[18:]
        body_len = int.from_bytes(raw[21:23], "big")
        raw[21:23] = (body_len - 1).to_bytes(2, "big")
        writer.write(bytes(raw))
        await writer.drain()
        await _wait(lambda: bool(log.of("update-error")))
        assert log.of("update-error")[0]["action"] == "treat-as-withdraw"
        assert not sp.peers["127.0.0.3"].adj_rib_in  # the route was withdrawn
        assert not log.of("down")  # the session stays up
        writer.close()


@pytest.mark.parametrize("update_log", [True, False])
async def test_a_run_of_updates_logs_its_as_loop(update_log: bool) -> None:
    """Three UPDATEs in one write (on loopback one read, so one UpdatesReceived run; the
    FSM tests check the batching itself): the
    one whose AS_PATH holds our AS (65001) is logged as an AS loop, with or without the
    per-UPDATE log (without it, ``rib.normalize.noteworthy`` picks it out of the run),
    and the update log shows it withdrawn between the two others (RFC 4271 9.1.2)."""
    async with _target() as (sp, log, port):
        log.updates = update_log
        reader, writer = await _raw_client(port)
        await _wait(lambda: bool(log.of("established")))
        nh = bytes([10, 0, 0, 3])
        ok = AttrSet(origin=0, as_path=((2, (65003,)),), next_hop=nh)
        loop = AttrSet(origin=0, as_path=((2, (65003, 65001, 65009)),), next_hop=nh)
        p1, p2, p3 = (parse_prefix(f"203.0.{i}.0/24")[1] for i in (1, 2, 3))
        writer.write(
            encode_message(Update(attrs=ok, nlri=(p1,)))
            + encode_message(Update(attrs=loop, nlri=(p2,)))
            + encode_message(Update(attrs=ok.replace(med=5), nlri=(p3,)))
        )
        await writer.drain()
        peer = sp.peers["127.0.0.3"]
        await _wait(lambda: peer.updates_received == 3)
        assert [e["routes"] for e in log.of("as-loop")] == [1]
        if update_log:
            got = [(e["announced"], e["withdrawn"]) for e in log.of("update")]
            assert got == [
                (["203.0.1.0/24"], []),
                ([], ["203.0.2.0/24"]),
                (["203.0.3.0/24"], []),
            ]
        assert not log.of("down")
        writer.close()


async def test_session_reset_error_sends_notification() -> None:
    async with _target() as (sp, log, port):
        reader, writer = await _raw_client(port)
        await _wait(lambda: bool(log.of("established")))
        # an UPDATE whose Withdrawn Routes Length runs past the message: RFC 4271 6.3
        bad = b"\xff" * 16 + (23).to_bytes(2, "big") + b"\x02" + b"\x00\x10\x00\x00"
        writer.write(bad)
        await writer.drain()
        msgs = await _read_messages(reader, until=3)
        notes = [m for m in msgs if type(m).__name__ == "Notification"]
        assert notes and (notes[-1].code, notes[-1].subcode) == (3, 1)
        await _wait(lambda: bool(log.of("down")))
        writer.close()


async def test_hold_timer_expires_on_a_silent_peer() -> None:
    async with _target(hold=3) as (sp, log, port):
        reader, writer = await _raw_client(port, hold=3)
        msgs = await _read_messages(reader, until=3, timeout=8)
        notes = [m for m in msgs if type(m).__name__ == "Notification"]
        assert notes and (notes[-1].code, notes[-1].subcode) == (4, 0)
        writer.close()


async def test_max_prefix_warning_then_cease() -> None:
    """A warning at max_prefixes_warning percent, then Cease/1 over the limit (RFC 4486)."""
    port = _free_port("127.0.0.1")
    cfg = parse_config(
        _config(
            "127.0.0.1",
            65001,
            port,
            [("127.0.0.3", 65003, 9)],
            neighbor_extra="passive = true\nmax_prefixes = 4\nmax_prefixes_warning = 50",
        )
    )
    log = Log()
    sp = Speaker(cfg, log)
    await sp.start()
    try:
        reader, writer = await _raw_client(port)
        await _wait(lambda: bool(log.of("established")))
        attrs = AttrSet(origin=0, as_path=((2, (65003,)),), next_hop=bytes([10, 0, 0, 3]))
        for i in range(2):
            pfx = parse_prefix(f"203.0.{i}.0/24")[1]
            writer.write(encode_message(Update(attrs=attrs, nlri=(pfx,))))
        await writer.drain()
        await _wait(lambda: bool(log.of("max-prefix-warning")))
        assert not log.of("notification-sent")
        more = tuple(parse_prefix(f"203.0.{i}.0/24")[1] for i in range(2, 5))
        writer.write(encode_message(Update(attrs=attrs, nlri=more)))
        await writer.drain()
        msgs = await _read_messages(reader, until=3)
        notes = [m for m in msgs if type(m).__name__ == "Notification"]
        assert notes and (notes[-1].code, notes[-1].subcode) == (6, 1)
        writer.close()
    finally:
        await sp.stop()


async def test_updates_are_recorded_as_mrt(tmp_path: Path) -> None:
    """--updates: received UPDATEs land in an MRT file that `pybgp decode` reads back."""
    from pybgp.decode import decode_file
    from pybgp.mrt.updates import UpdateDump

    path = tmp_path / "updates.mrt"
    async with _pair() as (a, la, b, lb):
        b.update_dump = UpdateDump(str(path))
        await _wait(lambda: len(lb.of("end-of-rib")) >= 2)
        b.peers["127.0.0.1"].session.send_route_refresh(1, 1)  # make A send them again
        b.peers["127.0.0.1"].pump(b.peers["127.0.0.1"].session)
        await _wait(lambda: b.update_dump.count >= 1)
        b.update_dump.close()
    got = [d for d in decode_file(str(path)) if d.message is not None]
    assert got and all(d.ok for d in got)
    assert got[0].context["peer_ip"] == "127.0.0.1" and got[0].context["peer_as"] == 65001
    prefixes = {p for d in got for p in getattr(d.message, "nlri", ())}
    assert parse_prefix("192.0.2.0/24")[1] in prefixes
