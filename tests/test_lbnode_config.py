"""``pybgp lbnode``'s configuration: the speaker's tables plus [lbnode] and [[vips]];
every mistake is refused with the file, the key path and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lbnode.agent import Agent
from lbnode.config import GRACEFUL_SHUTDOWN, parse_lbnode_config
from lbnode.vip import Announce
from pybgp.config import ConfigError, parse_config

HEAD = """
[global]
asn = 65101
router_id = "10.0.0.2"

[[neighbors]]
address = "10.0.0.1"
remote_as = 65000
"""

GOOD = (
    HEAD
    + """
[lbnode]
drain_grace = 5
disable_file = "/run/lb/maintenance"

[[vips]]
prefix = "198.18.0.10/32"
communities = ["65000:80"]
large_communities = ["65000:1:2"]
med = 10
as_path_prepend = 2
announce = 2
drain_med = 500
bind = "lo"
flap_count = 4

[[vips.checks]]
type = "http"
url = "http://127.0.0.1:8080/healthz?full=1"
body = "^ok"
expect_status = [200, 204]
interval = 0.5
rise = 3

[[vips.checks]]
type = "tcp"
host = "127.0.0.1"
port = 443

[[vips.checks]]
type = "exec"
command = "/usr/bin/test -e '/run/ready file'"

[[vips]]
prefix = "2001:db8::10/128"
announce = "any"
drain_grace = 1.5

[[vips.checks]]
type = "dns"
query = "example.test"
qtype = "AAAA"
server = "::1"

[[vips.checks]]
type = "bound"
"""
)


def test_a_full_configuration() -> None:
    cfg = parse_lbnode_config(GOOD, "lb.toml")
    assert cfg.speaker.neighbors[0].address == "10.0.0.1"
    v4, v6 = cfg.vips
    assert (v4.prefix, v4.afi, v4.announce, v4.at_least) == ("198.18.0.10/32", 1, "at_least", 2)
    assert v4.drain_grace == 5 and v4.disable_file == "/run/lb/maintenance"
    assert v4.drain_med == 500 and v4.bind == "lo" and v4.flap_count == 4
    http, tcp, ex = v4.checks
    assert (http.host, http.port, http.path) == ("127.0.0.1", 8080, "/healthz?full=1")
    assert http.expect_status == (200, 204) and http.rise == 3 and http.interval == 0.5
    assert http.timeout == 0.5  # defaults to the interval when that is under 1 s
    assert (tcp.name, tcp.fall) == ("tcp-1", 2)
    assert ex.command == ("/usr/bin/test", "-e", "/run/ready file")
    assert v6.drain_grace == 1.5 and v6.announce == "any"
    dns, bound = v6.checks
    assert (dns.host, dns.port, dns.qtype) == ("::1", 53, 28)
    assert bound.address == "2001:db8::10"
    assert cfg.vip("198.18.0.10") is v4 and cfg.vip("2001:db8::10/128") is v6
    assert cfg.vip("198.18.0.11/32") is None and cfg.vip("junk") is None
    assert cfg.speaker.control.socket.endswith("lbnode.sock")


def test_the_announced_attributes() -> None:
    v4 = parse_lbnode_config(GOOD).vips[0]
    normal = Agent.template(v4, Announce.NORMAL, 65101)
    assert normal.communities == (0xFDE80050,) and normal.med == 10
    assert normal.as_path == ((2, (65101, 65101)),)  # prepended twice after our own AS
    assert normal.next_hop is None  # next hop self
    drain = Agent.template(v4, Announce.GRACEFUL, 65101)
    assert drain.communities == (0xFDE80050, GRACEFUL_SHUTDOWN)  # RFC 8326
    assert drain.local_pref == 0 and drain.med == 500


BAD = [
    ("", "vips", "no [[vips]]"),
    ('[[vips]]\nprefix = "198.18.0.10/33"', "vips[0].prefix", "is not a prefix"),
    ('[[vips]]\nprefix = "198.18.0.1/24"', "vips[0].prefix", "is not a prefix"),
    ('[[vips]]\nprefix = "198.18.0.1/32"\nannounce = "most"', "vips[0].announce", "expected"),
    ('[[vips]]\nprefix = "198.18.0.1/32"\nannounce = 2', "vips[0].announce", "has 0"),
    ('[[vips]]\nprefix = "198.18.0.1/32"\ncolour = 1', "vips[0].colour", "unknown key"),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips]]\nprefix = "198.18.0.1/32"',
        "vips[1].prefix",
        "already vips[0]",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "ping"',
        "vips[0].checks[0].type",
        "is not one of",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "tcp"\nhost = "127.0.0.1"',
        "vips[0].checks[0].port",
        "missing",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "http"\nurl = "https://x/"',
        "vips[0].checks[0].url",
        "needs a http:// URL",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "tcp"\nurl = "http://x/"',
        "vips[0].checks[0].url",
        "not a key of a tcp check",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "exec"\ncommand = []',
        "vips[0].checks[0].command",
        "missing",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "exec"\n'
        'command = "x"\ninterval = 0',
        "vips[0].checks[0].interval",
        "out of range",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "http"\n'
        'url = "http://a/"\nbody = "("',
        "vips[0].checks[0].body",
        "not a regular expression",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "http"\n'
        'url = "http://a/"\nexpect_status = [99]',
        "vips[0].checks[0].expect_status",
        "not an HTTP status",
    ),
    (
        '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "exec"\ncommand = "a"\n'
        '[[vips.checks]]\ntype = "exec"\ncommand = "b"\nname = "exec-0"',
        "vips[0].checks[1].name",
        "already the name",
    ),
    (
        '[lbnode]\ndrain_grace = "long"\n[[vips]]\nprefix = "198.18.0.1/32"',
        "lbnode.drain_grace",
        "expected a number",
    ),
    (
        '[lbnode]\ndisable_file = "x"\n[[vips]]\nprefix = "198.18.0.1/32"',
        "lbnode.disable_file",
        "not an absolute path",
    ),
    (
        '[[originate]]\nprefix = "198.18.0.1/32"\n[[vips]]\nprefix = "198.18.0.1/32"',
        "originate",
        "both [[originate]] and a VIP",
    ),
    ('[[vips]]\nprefix = "2001:db8::1/128"\nnext_hop = "10.0.0.2"', "vips[0].next_hop", "IPv6"),
]


@pytest.mark.parametrize(("extra", "path", "problem"), BAD)
def test_mistakes_name_the_key(extra: str, path: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_lbnode_config(HEAD + extra, "lb.toml")
    assert err.value.path == path, str(err.value)
    assert problem in err.value.problem, str(err.value)
    assert str(err.value).startswith("lb.toml: ")


def test_speaker_tables_are_still_checked() -> None:
    with pytest.raises(ConfigError) as err:
        parse_lbnode_config(GOOD.replace("asn = 65101", "asn = 0"))
    assert err.value.path == "global.asn"


def test_the_speaker_refuses_vips() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(GOOD)
    assert "unknown key 'lbnode'" in str(err.value) or "unknown key 'vips'" in str(err.value)


def test_cli_refuses_a_broken_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lb.toml"
    path.write_text(HEAD + '[[vips]]\nprefix = "198.18.0.1/32"\n[[vips.checks]]\ntype = "tcp"\n')
    run = subprocess.run(
        [sys.executable, "-m", "pybgp", "lbnode", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.stderr.strip() == f"Error: {path}: vips[0].checks[0].host: missing (required)"
    path.write_text(GOOD)
    ok = subprocess.run(
        [sys.executable, "-m", "pybgp", "lbnode", "-c", str(path), "--check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0 and "2 VIPs, 5 checks" in ok.stdout
