"""Run-time routes: ``pybgp routes announce|withdraw|list`` and ``pybgp mrt inject``.

Two real ``pybgp speaker`` processes (iBGP, loopback) are driven only through the
CLI: what A announces or injects must show up in B's ``rib``, with its attributes.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybgp.config import parse_config
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
