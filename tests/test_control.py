"""The control API (pybgp.control) and its CLI (pybgp.ctl, ``pybgp neighbors`` ...).

Most tests start real ``pybgp rr`` and ``pybgp speaker`` processes on loopback and talk
to them only through ``python -m pybgp``: a route reflector with two clients, one of
which originates routes.  The full-table test runs in-process: a 100k-route RIB is
streamed through the socket while a hold_time 3 session must stay up.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybgp.codec.attributes import AttrSet
from pybgp.config import parse_config
from pybgp.control import CHUNK, ControlServer
from pybgp.speaker import Speaker
from rib import PeerInfo
from tests.test_speaker import Log, _config, _free_port, _wait

RR, A, B = "127.0.0.61", "127.0.0.62", "127.0.0.63"
ORIGINATED: dict[str, dict[str, Any]] = {
    "192.0.2.0/24": {"communities": ["65000:1"], "med": 7},
    "198.51.100.0/24": {"communities": ["65000:2"]},
    "203.0.113.128/25": {},
}
V6 = "2001:db8:5::/48"


def _neighbor(addr: str, port: int, me: str, extra: str = "") -> str:
    return f"""
[[neighbors]]
address = "{addr}"
remote_as = 65000
port = {port}
local_address = "{me}"
hold_time = 9
connect_retry = 1
families = ["ipv4-unicast", "ipv6-unicast"]
{extra}
"""


def _global(me: str, port: int, sock: str, extra: str = "") -> str:
    return f"""
[global]
asn = 65000
router_id = "{me.replace("127.", "10.")}"
listen_address = "{me}"
listen_port = {port}
{extra}
[control]
socket = "{sock}"
"""


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {a: _free_port(a) for a in (RR, A, B)}
        self.socks = {a: str(root / f"{a.rsplit('.', 1)[1]}" / "ctl.sock") for a in (RR, A, B)}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def start(self) -> None:
        p, s = self.ports, self.socks
        rr = _global(RR, p[RR], s[RR], 'cluster_id = "10.0.0.99"')
        rr += _neighbor(A, p[A], RR, "route_reflector_client = true")
        rr += _neighbor(B, p[B], RR, "route_reflector_client = true")
        a = _global(A, p[A], s[A]) + _neighbor(RR, p[RR], A)
        for prefix, attrs in ORIGINATED.items():
            a += f'\n[[originate]]\nprefix = "{prefix}"\n'
            if "communities" in attrs:
                a += f"communities = {json.dumps(attrs['communities'])}\n"
            if "med" in attrs:
                a += f"med = {attrs['med']}\n"
        a += f'\n[[originate]]\nprefix = "{V6}"\nnext_hop = "2001:db8::62"\n'
        b = _global(B, p[B], s[B]) + _neighbor(RR, p[RR], B)
        # a stale socket file where B's control socket goes: B must replace it
        os.makedirs(os.path.dirname(s[B]), exist_ok=True)
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(s[B])
        for name, kind, text in (("rr", "rr", rr), ("a", "speaker", a), ("b", "speaker", b)):
            path = self.root / f"{name}.toml"
            path.write_text(text)
            log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
            self.logs.append(log)
            cmd = [sys.executable, "-m", "pybgp", kind, "-c", str(path), "--log-format", "json"]
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()

    def cli(self, who: str, *args: str, check: bool = True, cwd: str | None = None) -> Any:
        """Run ``python -m pybgp ARGS --control <who's socket> --json``; the parsed lines."""
        cmd = [sys.executable, "-m", "pybgp", *args, "--control", self.socks[who], "--json"]
        r = subprocess.run(cmd, capture_output=True, timeout=60, cwd=cwd)
        if check:
            assert r.returncode == 0, r.stderr.decode()
            return [json.loads(line) for line in r.stdout.splitlines()]
        return r

    def event_text(self, name: str, event: str) -> str:
        lines = (self.root / f"{name}.log").read_text().splitlines()
        return "\n".join(x for x in lines if f'"event":"{event}"' in x)

    def neighbors(self, who: str) -> dict[str, dict[str, Any]]:
        return {n["address"]: n for n in self.cli(who, "neighbors")[0]}

    def wait(self, cond: Any, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                if cond():
                    return
            except AssertionError:
                pass
            if time.monotonic() > end:
                raise AssertionError("timed out")
            time.sleep(0.2)

    def established(self, who: str, peer: str) -> bool:
        return bool(self.neighbors(who)[peer]["state"] == "ESTABLISHED")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="pybgp-ctl-"))  # short: sun_path is 107 octets
    lab = Lab(root)
    lab.start()
    try:
        lab.wait(lambda: all(os.path.exists(s) for s in lab.socks.values()))
        lab.wait(lambda: lab.established(RR, A) and lab.established(RR, B))
        # B has learned A's routes through the RR
        lab.wait(lambda: len(lab.cli(B, "rib")) == len(ORIGINATED) + 1)
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_socket_is_private_and_stale_file_replaced(lab: Lab) -> None:
    for path in lab.socks.values():
        assert os.stat(path).st_mode & 0o777 == 0o600


def test_neighbors_json(lab: Lab) -> None:
    rr = lab.neighbors(RR)
    assert set(rr) == {A, B}
    n = rr[A]
    assert n["state"] == "ESTABLISHED" and n["remote_as"] == 65000
    assert n["uptime"] >= 0 and n["last_error"] == ""
    assert n["received"] == len(ORIGINATED) + 1 and n["accepted"] == len(ORIGINATED) + 1
    caps = n["capabilities"]
    assert caps["four_octet_as"] is True
    assert caps["families"] == ["ipv4-unicast", "ipv6-unicast"]
    assert caps["add_path"] == {"rx": [], "tx": []}
    assert rr[B]["sent"] == len(ORIGINATED) + 1  # reflected to B
    detail = lab.cli(RR, "neighbor", A)[0]
    assert detail["config"]["route_reflector_client"] is True
    text = subprocess.run(
        [sys.executable, "-m", "pybgp", "neighbors", "--control", lab.socks[RR]],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "ESTABLISHED" in text and A in text


def test_rib_matches_originated_routes(lab: Lab) -> None:
    rows = lab.cli(B, "rib")
    by_prefix = {r["prefix"]: r for r in rows}
    assert set(by_prefix) == {*ORIGINATED, V6}
    for prefix, want in ORIGINATED.items():
        r = by_prefix[prefix]
        assert r["best"] and r["ecmp"] and r["reason"] == "only-path"
        assert r["peer"] == RR and r["family"] == "ipv4-unicast" and r["path_id"] == 0
        a = r["attributes"]
        assert a["next_hop"] == A and a["local_pref"] == 100 and a["origin"] == "IGP"
        assert a["originator_id"] == "10.0.0.62" and a["cluster_list"] == ["10.0.0.99"]
        assert a.get("communities", []) == want.get("communities", [])
        assert a.get("med") == want.get("med")
    assert by_prefix[V6]["attributes"]["next_hop"] == "2001:db8::62"
    # filters
    assert [r["prefix"] for r in lab.cli(B, "rib", "--family", "ipv6")] == [V6]
    assert [r["prefix"] for r in lab.cli(B, "rib", "192.0.2.0/24")] == ["192.0.2.0/24"]
    longer = lab.cli(B, "rib", "203.0.113.0/24", "--longer")
    assert [r["prefix"] for r in longer] == ["203.0.113.128/25"]
    assert [r["prefix"] for r in lab.cli(B, "rib", "0.0.0.0/0", "--longer")] == sorted(
        ORIGINATED, key=lambda p: tuple(int(x) for x in p.split("/")[0].split("."))
    )
    # Adj-RIB-In of A on the RR (pre and post policy) and Adj-RIB-Out to B
    pre = lab.cli(RR, "rib", "--peer", A, "--in")
    post = lab.cli(RR, "rib", "--peer", A, "--in", "--post-policy")
    out = lab.cli(RR, "rib", "--peer", B, "--out")
    assert {r["prefix"] for r in pre} == {r["prefix"] for r in post} == set(by_prefix)
    assert {r["prefix"] for r in out} == set(by_prefix)
    assert all(r["attributes"]["originator_id"] == "10.0.0.62" for r in out)
    assert "originator_id" not in pre[0]["attributes"]
    summary = lab.cli(RR, "rib", "summary")[0]
    assert summary["families"]["ipv4-unicast"] == {"prefixes": 3, "paths": 3}
    assert summary["families"]["ipv6-unicast"] == {"prefixes": 1, "paths": 1}


def test_bad_input_is_one_line_error(lab: Lab, tmp_path: Path) -> None:
    cases = [
        (lab.socks[B], ["rib", "300.1.2.0/24"], "not a prefix"),
        (lab.socks[B], ["rib", "10.99.0.0/16"], "not found"),
        (lab.socks[B], ["rib", "--in"], "needs a peer"),
        (lab.socks[B], ["neighbor", "10.1.1.1"], "no such neighbor"),
        (lab.socks[B], ["neighbor", "bogus"], "not an IP address"),
        (lab.socks[B], ["neighbor", RR, "refresh"], "needs a direction"),
        (str(tmp_path / "none.sock"), ["neighbors"], "is the daemon running"),
    ]
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))
    cases.append((str(stale), ["neighbors"], "not running"))
    for sock, args, want in cases:
        r = subprocess.run(
            [sys.executable, "-m", "pybgp", *args, "--control", sock],
            capture_output=True,
            timeout=30,
        )
        err = r.stderr.decode()
        assert r.returncode != 0, args
        assert want in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err


def test_raw_socket_bad_requests_get_errors(lab: Lab) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(lab.socks[RR])
        f = s.makefile("rwb")

        def ask(line: bytes) -> dict[str, Any]:
            f.write(line + b"\n")
            f.flush()
            return dict(json.loads(f.readline()))

        assert ask(b"not json") == {"v": 1, "id": None, "ok": False, "error": "request is not JSON"}
        assert "unknown command" in ask(b'{"v":1,"id":3,"cmd":"nope"}')["error"]
        r = ask(b'{"v":1,"id":4,"cmd":"neighbor","args":{"peer":"10.9.9.9"}}')
        assert r["id"] == 4 and not r["ok"] and "no such neighbor" in r["error"]
        assert "not a prefix" in ask(b'{"v":1,"id":5,"cmd":"rib","args":{"prefix":"x"}}')["error"]
        assert "args must be" in ask(b'{"v":1,"id":6,"cmd":"rib","args":[]}')["error"]
        assert "unknown argument" in ask(b'{"v":1,"id":7,"cmd":"rib","args":{"x":1}}')["error"]
        assert "version" in ask(b'{"v":2,"id":8,"cmd":"neighbors"}')["error"]
        assert "must be a JSON object" in ask(b"[1]")["error"]
        r = ask(b'{"v":1,"id":9,"cmd":"neighbors"}')  # the connection still serves
        assert r["ok"] and r["id"] == 9 and len(r["data"]) == 2
        f.write(b'{"v":1,"id":10,"cmd":"rib"}\n')
        f.flush()
        lines = [json.loads(f.readline()) for _ in range(2)]
        assert len(lines[0]["chunk"]) == 4 and lines[1] == {
            "v": 1,
            "id": 10,
            "ok": True,
            "done": True,
        }
        f.close()


def test_reset_and_refresh(lab: Lab) -> None:
    before = lab.neighbors(RR)[A]["uptime"]
    time.sleep(0.5)
    assert lab.cli(RR, "neighbor", A, "reset")[0] == {"peer": A, "action": "reset"}
    # A was told why (last_error is cleared again when the session comes back)
    lab.wait(lambda: "ADMINISTRATIVE_RESET" in lab.event_text("a", "notification-received"))
    lab.wait(lambda: lab.established(RR, A) and lab.neighbors(RR)[A]["received"] == 4)
    assert lab.neighbors(RR)[A]["uptime"] < before + 0.5
    lab.wait(lambda: len(lab.cli(B, "rib")) == 4)
    for direction in ("in", "out"):
        r = lab.cli(RR, "neighbor", A, "refresh", direction)[0]
        assert r["direction"] == direction and r["families"] == ["ipv4-unicast", "ipv6-unicast"]
    assert lab.established(RR, A)


def test_shutdown_message_reaches_the_peer_then_enable(lab: Lab) -> None:
    lab.cli(RR, "neighbor", B, "shutdown", "--message", "maintenance ticket 42")
    lab.wait(lambda: "maintenance ticket 42" in lab.neighbors(B)[RR]["last_error"])
    n = lab.neighbors(RR)[B]
    assert n["state"] != "ESTABLISHED" and n["admin_down"] is True
    time.sleep(1.5)  # B retries (connect_retry 1) and is refused
    assert not lab.established(RR, B)
    assert lab.cli(RR, "neighbor", B, "enable")[0]["changed"] is True
    lab.wait(lambda: lab.established(RR, B) and lab.established(B, RR))
    lab.wait(lambda: len(lab.cli(B, "rib")) == 4)


def test_mrt_dump_matches_rib(lab: Lab, tmp_path: Path) -> None:
    r = lab.cli(RR, "mrt", "dump", "-o", "table.mrt", cwd=str(tmp_path))[0]
    path = tmp_path / "table.mrt"  # relative: resolved by the client, written by the daemon
    assert r["path"] == str(path) and r["prefixes"] == 4 and r["routes"] == 4 and r["peers"] == 1
    decoded = subprocess.run(
        [sys.executable, "-m", "pybgp", "decode", "--json", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    lines = [json.loads(x) for x in decoded.stdout.splitlines()]
    assert lines[0]["type"] == "PEER_INDEX_TABLE"
    mrt = {
        (x["prefix"], x["peer_ip"], json.dumps(x["attributes"], sort_keys=True)) for x in lines[1:]
    }
    rib = {
        (x["prefix"], x["peer"], json.dumps(x["attributes"], sort_keys=True))
        for x in lab.cli(RR, "rib")
    }
    assert mrt == rib and len(rib) == 4


# ---------------------------------------------------------------------- in-process

ROUTES = 100_000


@pytest.mark.asyncio
async def test_full_table_streams_while_sessions_stay_up(tmp_path: Path) -> None:
    pa, pb = _free_port("127.0.0.64"), _free_port("127.0.0.65")
    ca = parse_config(_config("127.0.0.64", 65001, pa, [("127.0.0.65", 65001, pb)], hold=3))
    cb = parse_config(_config("127.0.0.65", 65001, pb, [("127.0.0.64", 65001, pa)], hold=3))
    la, lb = Log(), Log()
    a, b = Speaker(ca, la), Speaker(cb, lb)
    await a.start()
    await b.start()
    control = ControlServer(b, str(tmp_path / "b.sock"))
    await control.start()
    try:
        await _wait(lambda: all(p.info is not None for p in [*a.peers.values(), *b.peers.values()]))
        # a 100k-route table in B's RIB, learned from a (fake) third peer
        rib = b.routing.rib
        fake = PeerInfo("127.0.0.99", 65001, b"\x0a\x00\x00\x63", 65001, 999)
        rib.add_peer(fake)
        attrs = AttrSet(origin=0, as_path=((2, (65010, 65020)),), next_hop=b"\x0a\x00\x00\x01")
        for i in range(ROUTES):
            rib.announce(fake, 1, 1, ((0x0A000000 + (i << 8)) << 8) | 24, attrs)
        gaps: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            last = loop.time()
            while not stop.is_set():
                await asyncio.sleep(0.05)
                now = loop.time()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "b.sock"), limit=1 << 24)
        started = asyncio.get_running_loop().time()
        writer.write(b'{"v":1,"id":1,"cmd":"rib"}\n{"v":1,"id":2,"cmd":"mrt.dump","args":{"path":"'
                     + str(tmp_path / "full.mrt").encode() + b'"}}\n')  # fmt: skip
        rows = chunks = 0
        while True:
            msg = json.loads(await reader.readline())
            assert msg["ok"] and msg["id"] == 1, msg
            if msg.get("done"):
                break
            rows += len(msg["chunk"])
            chunks += 1
        dump = json.loads(await reader.readline())
        took = asyncio.get_running_loop().time() - started
        stop.set()
        await tick
        writer.close()
        await writer.wait_closed()
        assert rows == ROUTES and chunks == ROUTES // CHUNK
        assert dump["ok"] and dump["data"]["prefixes"] == ROUTES and dump["data"]["peers"] == 1
        assert (tmp_path / "full.mrt").stat().st_size == dump["data"]["bytes"]
        # the loop never stalled anywhere near the 3 s hold time, and the session is up
        assert max(gaps) < 1.0, (max(gaps), took)
        assert not la.of("down") and not lb.of("down")
        assert all(p.info is not None for p in [*a.peers.values(), *b.peers.values()])
    finally:
        await control.stop()
        await a.stop("test over")
        await b.stop("test over")
    assert not os.path.exists(tmp_path / "b.sock")


@pytest.mark.asyncio
async def test_socket_in_use_is_not_taken_over(tmp_path: Path) -> None:
    cfg = parse_config(_config("127.0.0.66", 65001, _free_port("127.0.0.66"), []))
    speaker = Speaker(cfg, Log())
    path = str(tmp_path / "sub" / "s.sock")
    first = ControlServer(speaker, path)
    await first.start()
    try:
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        with pytest.raises(OSError, match="in use"):
            await ControlServer(speaker, path).start()
        reader, writer = await asyncio.open_unix_connection(path)  # the first still serves
        writer.write(b'{"id":1,"cmd":"neighbors"}\n')
        assert json.loads(await reader.readline()) == {"v": 1, "id": 1, "ok": True, "data": []}
        writer.close()
        await writer.wait_closed()
    finally:
        await first.stop()
    Path(path).write_text("not a socket")
    with pytest.raises(OSError, match="not a socket"):
        await ControlServer(speaker, path).start()
