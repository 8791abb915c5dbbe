"""Run-time routes: ``pybgp routes announce|withdraw|list`` and ``pybgp mrt inject``.

Two real ``pybgp speaker`` processes (iBGP, loopback) are driven only through the
CLI: what A announces or injects must show up in B's ``rib``, with its attributes.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybgp.codec import AttrSet, MpReach, SessionOptions, Update, encode_message
from pybgp.codec.nlri import format_prefix, parse_prefix
from pybgp.config import parse_config
from pybgp.ctl import ControlClient
from pybgp.mrt.reader import read_mrt
from pybgp.mrt.records import Bgp4mpMessage, RibRecord
from pybgp.mrt.synth import synthesize
from pybgp.mrt.writer import MrtWriter
from pybgp.render import attrs_dict
from tests.test_control import Lab, _global, _neighbor
from tests.test_speaker import _free_port

A, B = "127.0.0.71", "127.0.0.72"
CONFIGURED = "192.0.2.0/24"


class Pair(Lab):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {a: _free_port(a) for a in (A, B)}
        self.socks = {a: str(root / a.rsplit(".", 1)[1] / "ctl.sock") for a in (A, B)}
        self.procs = []
        self.logs = []

    def start(self) -> None:
        p, s = self.ports, self.socks
        a = _global(A, p[A], s[A]) + _neighbor(B, p[B], A)
        a += f'\n[[originate]]\nprefix = "{CONFIGURED}"\n'
        b = _global(B, p[B], s[B]) + _neighbor(A, p[A], B)
        for name, text in (("a", a), ("b", b)):
            # not 65000: `pybgp mrt synth` paths start with AS 65000 (an AS loop here)
            text = text.replace("= 65000", "= 64999")
            path = self.root / f"{name}.toml"
            path.write_text(text)
            log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
            self.logs.append(log)
            cmd = [
                sys.executable,
                "-m",
                "pybgp",
                "speaker",
                "-c",
                str(path),
                "--log-format",
                "json",
            ]
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def prefixes(self, who: str, family: str = "ipv4-unicast") -> int:
        fams = self.cli(who, "rib", "summary")[0]["families"]
        return int(fams.get(family, {}).get("prefixes", 0))


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="pybgp-rt-"))
    lab = Pair(root)
    lab.start()
    try:
        lab.wait(lambda: lab.established(A, B) and lab.established(B, A))
        lab.wait(lambda: lab.prefixes(B) == 1)
        yield lab
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


def _route(pair: Pair, prefix: str) -> dict[str, Any]:
    rows = pair.cli(B, "rib", prefix)
    assert len(rows) == 1
    return dict(rows[0])


def test_announce_and_withdraw(pair: Pair) -> None:
    args = ["--community", "65000:7", "--community", "no-export", "--large-community"]
    args += ["65000:1:2", "--med", "50", "--local-pref", "200", "--as-path", "64512,64513"]
    out = pair.cli(A, "routes", "announce", "198.51.100.0/24", *args)[0]
    assert out == {"prefix": "198.51.100.0/24", "action": "announce", "peers": 1}
    pair.wait(lambda: pair.prefixes(B) == 2)
    r = _route(pair, "198.51.100.0/24")
    a = r["attributes"]
    assert r["peer"] == A and r["path_id"] == 0
    assert a["next_hop"] == A and a["local_pref"] == 200 and a["med"] == 50
    assert a["communities"] == ["65000:7", "NO_EXPORT"] or a["communities"][0] == "65000:7"
    assert a["large_communities"] == ["65000:1:2"]
    assert [x for seg in a["as_path"] for x in seg["asns"]] == [64512, 64513]
    # IPv6 with an explicit next hop, over the IPv4 session
    pair.cli(A, "routes", "announce", "2001:db8:71::/48", "--next-hop", "2001:db8::71")
    pair.wait(lambda: pair.prefixes(B, "ipv6-unicast") == 1)
    assert _route(pair, "2001:db8:71::/48")["attributes"]["next_hop"] == "2001:db8::71"
    listed = {r["prefix"] for r in pair.cli(A, "routes", "list")}
    assert listed == {"198.51.100.0/24", "2001:db8:71::/48"}
    # a new session gets them in its initial dump
    pair.cli(A, "neighbor", B, "reset")
    pair.wait(lambda: pair.established(A, B) and pair.prefixes(B) == 2)
    assert _route(pair, "198.51.100.0/24")["attributes"]["med"] == 50
    # re-announce with other attributes replaces the route
    pair.cli(A, "routes", "announce", "198.51.100.0/24", "--med", "9")
    pair.wait(lambda: _route(pair, "198.51.100.0/24")["attributes"].get("med") == 9)
    for prefix, family, left in (
        ("198.51.100.0/24", "ipv4-unicast", 1),
        ("2001:db8:71::/48", "ipv6-unicast", 0),
    ):
        out = pair.cli(A, "routes", "withdraw", prefix)[0]
        assert out["action"] == "withdraw" and out["peers"] == 1
        pair.wait(lambda f=family, n=left: pair.prefixes(B, f) == n)
    assert pair.cli(A, "routes", "list") == []


def test_bad_input_is_one_line_error(pair: Pair) -> None:
    cases = [
        (["routes", "announce", "300.1.2.0/24"], "not a prefix"),
        (["routes", "announce", "10.1.2.3/24"], "host bits"),
        (["routes", "announce", "10.1.2.0"], "has no length"),
        (["routes", "announce", "10.1.2.0/24", "--community", "bogus"], "communit"),
        (["routes", "announce", "10.1.2.0/24", "--large-community", "1:2"], "large"),
        (["routes", "announce", "10.1.2.0/24", "--next-hop", "2001:db8::1"], "IPv4 next hop"),
        (["routes", "announce", "2001:db8::/32", "--next-hop", "10.0.0.1"], "IPv6 next hop"),
        (["routes", "announce", "10.1.2.0/24", "--next-hop", "nope"], "not an IP address"),
        (["routes", "announce", "10.1.2.0/24", "--as-path", "1,x"], "--as-path"),
        (["routes", "announce", CONFIGURED], "[[originate]]"),
        (["routes", "withdraw", "10.9.9.0/24"], "is not announced"),
        (["mrt", "inject", "/etc/hostname"], "no unicast routes"),
    ]
    for args, want in cases:
        r = pair.cli(A, *args, check=False)
        err = r.stderr.decode()
        assert r.returncode != 0, args
        assert want.lower() in err.lower() and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err


def test_mrt_inject_20k(pair: Pair, tmp_path: Path) -> None:
    table = tmp_path / "t.mrt"
    subprocess.run(
        [sys.executable, "-m", "pybgp", "mrt", "synth", "--prefixes", "20000", "-o", str(table)],
        check=True,
        capture_output=True,
    )
    before = pair.prefixes(B)
    out = pair.cli(A, "mrt", "inject", str(table))[0]
    assert out["final"] and out["routes"] + out["skipped"] == 20000
    pair.wait(lambda: pair.prefixes(B) == before + out["routes"], timeout=60)
    assert out["routes"] >= 19990  # only a configured prefix may be skipped
    r = pair.cli(B, "rib", "--family", "ipv4")
    injected = [x for x in r if x["prefix"] != CONFIGURED]
    assert all(x["attributes"]["next_hop"] == A for x in injected)  # next hop self
    assert any(x["attributes"].get("as_path") for x in injected)  # the file's AS paths
    assert all("originator_id" not in x["attributes"] for x in injected)
    limited = pair.cli(A, "mrt", "inject", str(table), "--limit", "100")[0]
    assert limited["routes"] == 100


def test_export_matches_attrs_for() -> None:
    """The run-time route export builds what attrs_for builds for [[originate]]."""
    import asyncio

    from pybgp.control import route_template
    from pybgp.eventlog import EventLog
    from pybgp.speaker import Speaker

    cfg = parse_config(
        '[global]\nasn = 65000\nrouter_id = "10.0.0.1"\n'
        '[[neighbors]]\naddress = "10.0.0.2"\nremote_as = 65001\n'
        '[[neighbors]]\naddress = "10.0.0.3"\nremote_as = 65000\n'
        '[[originate]]\nprefix = "10.1.0.0/16"\ncommunities = ["65000:1"]\nmed = 5\n'
        "as_path = [64512]\nlocal_pref = 300\n"
        '[[originate]]\nprefix = "2001:db8::/32"\nnext_hop = "2001:db8::1"\n'
    )

    async def check() -> None:
        sp = Speaker(cfg, EventLog(io.StringIO()))
        from pybgp.speaker import Peer

        for n in cfg.neighbors:
            peer = Peer(sp, n)
            for o in cfg.originate:
                args: dict[str, Any] = {
                    "communities": ["65000:1"] if o.communities else [],
                    "as_path": list(o.as_path),
                    "med": o.med,
                    "local_pref": o.local_pref,
                    "next_hop": o.next_hop,
                }
                t = route_template(o.afi, {k: v for k, v in args.items() if v is not None})
                want = sp.attrs_for(peer, o, "10.0.0.1")
                assert sp.export_originated(peer, o.afi, t, "10.0.0.1") == want

    asyncio.run(check())


def _synth(path: Path, prefixes: int, seed: int) -> Path:
    with open(path, "wb") as f:
        synthesize(f, prefixes, seed)
    return path


def _expected(attrs: AttrSet, next_hop: str) -> dict[str, Any]:
    """The file's attributes as B must show them: next hop self (A), LOCAL_PREF 100
    unless the file has one (iBGP), no ORIGINATOR_ID or CLUSTER_LIST."""
    want = attrs_dict(attrs.replace(originator_id=None, cluster_list=(), mp_next_hop=None))
    want["next_hop"] = next_hop
    want.setdefault("local_pref", 100)
    return want


def test_mrt_inject_progress_and_attributes(pair: Pair, tmp_path: Path) -> None:
    """Every route of the file reaches B with the file's attributes; the daemon streams
    read progress, then send progress, then the final counts."""
    table = _synth(tmp_path / "t.mrt", 6000, 5)
    size = table.stat().st_size
    with ControlClient(pair.socks[A]) as c:
        items = list(c.request("mrt.inject", {"path": str(table)}))
    final = items[-1]
    assert final["final"] and final["routes"] + final["skipped"] == 6000
    assert final["peers"] == 1 and final["errors"] == 0
    assert 0 < final["updates"] < final["routes"]  # packed: several prefixes per UPDATE
    sends = [x for x in items if x.get("phase") == "send"]
    reads = [x for x in items if x.get("phase") == "read"]
    assert sends and sends[-1]["routes"] == sends[-1]["total"] == final["routes"]
    assert [x["routes"] for x in sends] == sorted(x["routes"] for x in sends)
    assert all(0 <= x["bytes"] <= size for x in reads)
    assert items.index(sends[0]) > max((items.index(x) for x in reads), default=-1)
    want: dict[str, dict[str, Any]] = {}
    for rec in read_mrt(table.read_bytes()):
        if isinstance(rec, RibRecord):
            want[format_prefix(rec.prefix, 1)] = _expected(rec.entries[0].attrs, A)
    want.pop(CONFIGURED, None)

    def arrived() -> bool:
        rows = {r["prefix"]: r for r in pair.cli(B, "rib", "--family", "ipv4")}
        return all(p in rows and rows[p]["attributes"] == a for p, a in want.items())

    pair.wait(arrived, timeout=60)


def test_mrt_inject_bgp4mp_gzip(pair: Pair, tmp_path: Path) -> None:
    """BGP4MP UPDATEs (gzip): announcements are injected, the last one of a prefix wins,
    IPv6 comes from MP_REACH_NLRI."""
    opts = SessionOptions(four_octet_as=True)
    x = AttrSet(origin=0, as_path=((2, (64512, 64513)),), next_hop=bytes([192, 0, 2, 1]),
                med=10)  # fmt: skip
    y = AttrSet(origin=2, as_path=((2, (64520,)),), next_hop=bytes([192, 0, 2, 1]),
                communities=(0xFDE80007,))  # fmt: skip
    v6 = AttrSet(origin=0, as_path=((2, (64530,)),), mp_next_hop=bytes(15) + b"\x01")
    p1, p2, p6 = (parse_prefix(t)[1] for t in ("203.0.113.0/25", "203.0.113.128/25",
                                               "2001:db8:77::/48"))  # fmt: skip
    updates = [
        Update(attrs=x, nlri=(p1, p2)),
        Update(attrs=y, nlri=(p2,)),
        Update(withdrawn=(p1,)),  # withdrawals are not replayed
        Update(attrs=v6, mp_reach=MpReach(2, 1, (p6,))),
    ]
    path = tmp_path / "updates.mrt.gz"
    with gzip.open(path, "wb") as f:
        w = MrtWriter(f)  # type: ignore[arg-type]
        for u in updates:
            data = encode_message(u, opts)
            w.bgp4mp_message(Bgp4mpMessage(0, 4, 64512, 64999, 0, 1, bytes(4), bytes(4), data))
    out = pair.cli(A, "mrt", "inject", str(path))[0]
    assert out["routes"] == 3 and out["errors"] == 0
    pair.wait(lambda: pair.prefixes(B, "ipv6-unicast") >= 1)
    pair.wait(lambda: _route(pair, "203.0.113.128/25")["attributes"].get("origin") == "INCOMPLETE")
    assert _route(pair, "203.0.113.0/25")["attributes"]["med"] == 10
    assert _route(pair, "203.0.113.128/25")["attributes"]["communities"] == ["65000:7"]
    assert _route(pair, "2001:db8:77::/48")["attributes"]["as_path"][0]["asns"] == [64530]


def test_mrt_inject_bad_input(pair: Pair, tmp_path: Path) -> None:
    """A missing, cut or damaged file, or no daemon: one line on stderr, a non-zero exit,
    and nothing injected."""
    table = _synth(tmp_path / "t.mrt", 2000, 9)
    cut = tmp_path / "cut.mrt"
    cut.write_bytes(table.read_bytes()[:-7])
    bad_gz = tmp_path / "bad.mrt.gz"
    bad_gz.write_bytes(gzip.compress(table.read_bytes())[:5000])
    runtime = len(pair.cli(A, "routes", "list"))
    cases = [
        ([str(tmp_path / "missing.mrt")], "cannot read"),
        ([str(cut)], "truncated at end of file; nothing injected"),
        ([str(bad_gz)], "compressed stream is damaged"),
        ([str(tmp_path)], "directory"),
    ]
    for args, want in cases:
        r = pair.cli(A, "mrt", "inject", *args, check=False)
        err = r.stderr.decode()
        assert r.returncode != 0, args
        assert want.lower() in err.lower() and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
    assert len(pair.cli(A, "routes", "list")) == runtime
    cmd = [sys.executable, "-m", "pybgp", "mrt", "inject", str(table), "--control",
           str(tmp_path / "nobody.sock")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    err = r.stderr.decode()
    assert r.returncode != 0 and "is the daemon running" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_mrt_inject_progress_bar_on_a_terminal(pair: Pair, tmp_path: Path) -> None:
    """With stderr on a terminal the CLI draws two bars: reading, then sending."""
    import os
    import pty

    table = _synth(tmp_path / "t.mrt", 3000, 11)
    master, slave = pty.openpty()
    try:
        cmd = [sys.executable, "-m", "pybgp", "mrt", "inject", str(table),
               "--control", pair.socks[A]]  # fmt: skip
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=60)
        os.close(slave)
        slave = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the writer is gone
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    assert b"sending" in drawn and b"100%" in drawn, drawn[-500:]
    assert b"routes injected" in r.stdout and b"Traceback" not in drawn


def test_new_session_gets_every_injected_route(pair: Pair) -> None:
    """A session that comes up after the injections gets the whole run-time table in its
    initial dump (``Speaker.runtime_updates``), with the same attributes."""
    listed = pair.cli(A, "routes", "list")
    assert len(listed) > 20000
    v4 = pair.prefixes(B)
    v6 = pair.prefixes(B, "ipv6-unicast")
    sample = {r["prefix"]: r for r in pair.cli(B, "rib", "--family", "ipv4")[:50]}
    ups = pair.event_text("a", "established").count(B)
    pair.cli(A, "neighbor", B, "reset")
    pair.wait(lambda: pair.event_text("a", "established").count(B) > ups, timeout=30)
    pair.wait(lambda: pair.established(A, B) and pair.prefixes(B) == v4, timeout=60)
    assert pair.prefixes(B, "ipv6-unicast") == v6
    for prefix, row in sample.items():
        assert _route(pair, prefix)["attributes"] == row["attributes"]
