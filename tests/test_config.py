"""Tests for pybgp.config: the example, defaults, every error message, reload diffs, fuzzing."""

from __future__ import annotations

import contextlib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.codec.nlri import parse_prefix
from pybgp.config import (
    KEYS,
    Config,
    ConfigError,
    NeighborConfig,
    NeighborDiff,
    default_control_socket,
    diff_neighbors,
    load_config,
    parse_config,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"

EXAMPLE = """
[global]
asn = 65000
router_id = "192.0.2.1"
listen_address = "127.0.0.1"   # or "::"; several allowed as a list
listen_port = 179
cluster_id = "192.0.2.1"       # makes this speaker a route reflector (optional)

[control]
socket = "/run/pybgp/rr.sock"  # local control API

[[neighbors]]
address = "127.0.0.2"
remote_as = 65000
port = 179                     # remote port for active connects
local_address = "127.0.0.1"
passive = false
hold_time = 90
families = ["ipv4-unicast", "ipv6-unicast"]
route_reflector_client = false
add_path = "send"              # "none" | "receive" | "send" | "both"
md5_password = "..."
max_prefixes = 1000000
graceful_restart = true
"""

HEAD = '[global]\nasn = 65000\nrouter_id = "192.0.2.1"\n'


def _parse(body: str, head: str = HEAD) -> Config:
    return parse_config(head + body, "test.toml")


def _one(body: str, head: str = HEAD) -> NeighborConfig:
    (n,) = _parse(body, head).neighbors
    return n


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    return str(info.value)


# --- the example and the defaults ------------------------------------------------------


def test_example() -> None:
    c = parse_config(EXAMPLE, "rr.toml")
    g = c.global_
    assert (g.asn, g.router_id, g.listen_address, g.listen_port) == (
        65000,
        "192.0.2.1",
        ("127.0.0.1",),
        179,
    )
    assert g.cluster_id == "192.0.2.1" and g.is_route_reflector
    assert c.control.socket == "/run/pybgp/rr.sock"
    assert c.source == "rr.toml" and c.originate == ()
    (n,) = c.neighbors
    assert n == NeighborConfig(
        address="127.0.0.2",
        remote_as=65000,
        port=179,
        local_address="127.0.0.1",
        passive=False,
        hold_time=90,
        keepalive=30,
        families=("ipv4-unicast", "ipv6-unicast"),
        route_reflector_client=False,
        add_path="send",
        md5_password="...",
        max_prefixes=1_000_000,
        graceful_restart=True,
    )
    assert n.families_tuple() == ((1, 1), (2, 1))
    assert n.add_path_tuples() == ((1, 1, 2), (2, 1, 2))
    assert n.is_ibgp(65000) and not n.is_ibgp(65001)
    assert c.neighbor("127.0.0.2") is n and c.neighbor("127.0.0.3") is None


def test_password_not_in_repr() -> None:
    assert "..." not in repr(parse_config(EXAMPLE).neighbors[0])


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    c = parse_config(HEAD + '[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 65001\n')
    g = c.global_
    assert g.listen_address == ("0.0.0.0", "::") and g.listen_port == 179
    assert (g.hold_time, g.keepalive, g.connect_retry, g.delay_open, g.restart_time) == (
        90,
        None,
        120,
        0,
        120,
    )
    assert g.cluster_id is None and not g.is_route_reflector and g.hostname is None
    assert c.control.socket == "/run/user/1000/pybgp/speaker.sock"
    assert parse_config(HEAD, daemon="rr").control.socket == "/run/user/1000/pybgp/rr.sock"
    (n,) = c.neighbors
    assert n == NeighborConfig(address="192.0.2.2", remote_as=65001)
    assert (n.port, n.passive, n.shutdown, n.families, n.add_path) == (
        179,
        False,
        False,
        ("ipv4-unicast",),
        "none",
    )
    assert n.enhanced_route_refresh and n.extended_message and not n.graceful_restart
    assert n.add_path_tuples() == () and n.role_code() is None and not n.is_ibgp(65000)


def test_neighbor_inherits_global_timers() -> None:
    head = HEAD + "hold_time = 30\nkeepalive = 5\nconnect_retry = 7\ndelay_open = 2\n"
    head += "restart_time = 60\n"
    n = _one('[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 1\n', head)
    assert (n.hold_time, n.keepalive, n.connect_retry, n.delay_open, n.restart_time) == (
        30,
        5,
        7,
        2,
        60,
    )
    # its own hold_time: keepalive is a third of it, not [global]'s
    n = _one('[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 1\nhold_time = 9\n', head)
    assert (n.hold_time, n.keepalive) == (9, 3)
    n = _one('[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 1\nhold_time = 0\n', head)
    assert (n.hold_time, n.keepalive) == (0, 0)
    n = _one('[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 1\nkeepalive = 10\n', head)
    assert (n.hold_time, n.keepalive) == (30, 10)


def test_all_neighbor_keys() -> None:
    n = _one(
        """
[[neighbors]]
address = "192.0.2.9"
remote_as = 64512
description = "upstream"
ttl_security = true
connect_retry = 5
keepalive = 20
delay_open = 3
max_prefixes = 10
max_prefix_restart = 60
restart_time = 300
next_hop_self = true
enhanced_route_refresh = false
extended_message = false
role = "customer"
add_path = "both"
add_path_send_max = 4
shutdown = true
families = ["ipv4-unicast"]
"""
    )
    assert n.description == "upstream" and n.ttl_security and n.next_hop_self and n.shutdown
    assert (n.connect_retry, n.keepalive, n.delay_open, n.restart_time) == (5, 20, 3, 300)
    assert (n.max_prefixes, n.max_prefix_restart) == (10, 60)
    assert not n.enhanced_route_refresh and not n.extended_message
    assert n.role == "customer" and n.role_code() == 3
    assert n.add_path_tuples() == ((1, 1, 3),) and n.add_path_send_max == 4


def test_global_extras() -> None:
    c = _parse('hostname = "lb1.example"\ncluster_id = "10.0.0.1"\nlisten_port = 0\n')
    assert c.global_.hostname == "lb1.example" and c.global_.cluster_id == "10.0.0.1"
    assert c.global_.listen_port == 0  # tests: let the kernel pick a port


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"::"', ("::",)),
        ('["127.0.0.1", "::1"]', ("127.0.0.1", "::1")),
        ('["0:0::1"]', ("::1",)),
        ("[]", ()),
    ],
)
def test_listen_address(value: str, expected: tuple[str, ...]) -> None:
    assert _parse(f"listen_address = {value}\n").global_.listen_address == expected


def test_ipv6_neighbors() -> None:
    c = _parse(
        """
[[neighbors]]
address = "2001:DB8::2"
remote_as = 65000
local_address = "2001:db8:0::1"
[[neighbors]]
address = "fe80::2%eth0"
remote_as = 65001
families = ["ipv6-unicast", "ipv4-unicast"]
"""
    )
    a, b = c.neighbors
    assert (a.address, a.local_address, a.families) == (
        "2001:db8::2",
        "2001:db8::1",
        ("ipv6-unicast",),
    )
    assert a.families_tuple() == ((2, 1),)
    assert b.address == "fe80::2%eth0" and b.families_tuple() == ((2, 1), (1, 1))
    assert c.neighbor("2001:db8:0:0::2") is a


def test_originate() -> None:
    c = _parse(
        """
[[originate]]
prefix = "192.0.2.0/24"
[[originate]]
prefix = "2001:DB8:1::/48"
next_hop = "2001:db8::1"
communities = ["65000:1", "no-export"]
large_communities = ["65000:1:2"]
med = 10
local_pref = 200
origin = "incomplete"
as_path = [65000, 4200000000]
[[originate]]
prefix = "198.51.100.7/32"
next_hop = "self"
[[originate]]
prefix = "203.0.113.0/24"
next_hop = "2001:db8::1"
"""
    )
    a, b, s, v6nh = c.originate
    assert (a.prefix, a.afi, a.nlri, a.next_hop) == (
        "192.0.2.0/24",
        1,
        *parse_prefix("192.0.2.0/24")[1:],
        None,
    )
    assert (a.communities, a.med, a.local_pref, a.origin, a.as_path) == ((), None, None, 0, ())
    assert (b.prefix, b.afi, b.next_hop) == ("2001:db8:1::/48", 2, "2001:db8::1")
    assert b.nlri == parse_prefix("2001:db8:1::/48")[1]
    assert b.communities == ((65000 << 16) | 1, 0xFFFFFF01)
    assert b.large_communities == ((65000, 1, 2),)
    assert (b.med, b.local_pref, b.origin, b.as_path) == (10, 200, 2, (65000, 4200000000))
    assert s.next_hop is None
    assert v6nh.next_hop == "2001:db8::1"  # RFC 8950: IPv4 NLRI, IPv6 next hop


# --- errors ----------------------------------------------------------------------------

N = '[[neighbors]]\naddress = "192.0.2.2"\nremote_as = 65001\n'
O = '[[originate]]\nprefix = "192.0.2.0/24"\n'


def g(extra: str = "", asn: str = "65000", rid: str = "192.0.2.1") -> str:
    """A document whose [global] has ``asn``, ``router_id`` and ``extra``."""
    return f'[global]\nasn = {asn}\nrouter_id = "{rid}"\n' + extra


def n(extra: str = "", address: str = "192.0.2.2", asn: int = 65001) -> str:
    """A document with one neighbor (eBGP by default) and ``extra`` in its table."""
    return g(f'[[neighbors]]\naddress = "{address}"\nremote_as = {asn}\n' + extra)


def o(extra: str = "", prefix: str = "192.0.2.0/24") -> str:
    """A document with one originated prefix and ``extra`` in its table."""
    return g(f'[[originate]]\nprefix = "{prefix}"\n' + extra)


CID = 'cluster_id = "1.1.1.1"\n'

ERRORS = [
    # unknown keys, at every level, with the closest valid key
    (g("hold_tme = 90\n"), "global.hold_tme", "'hold_tme' in [global]; did you mean 'hold_time'"),
    (g("[globals]\n"), "globals", "at the top level; did you mean 'global'"),
    (n("ttl_securty = 1\n"), "neighbors[0].ttl_securty", "in [[neighbors]]; did you mean 'ttl"),
    (n(N.replace(".2", ".3") + "adress = 'x'\n"), "neighbors[1].adress", "mean 'address'"),
    (o("comunities = []\n"), "originate[0].comunities", "in [[originate]]; did you mean 'comm"),
    (g("[control]\nsock = '/x'\n"), "control.sock", "in [control]; did you mean 'socket'"),
    (g("zzz = 1\n"), "global.zzz", "valid: asn, router_id"),
    # wrong types
    (g('hold_time = "90"\n'), "global.hold_time", "expected an integer, got a string"),
    (g(asn="true"), "global.asn", "expected an integer, got a boolean"),
    (g("listen_port = 1.5\n"), "global.listen_port", "expected an integer, got a float"),
    (g("listen_address = 5\n"), "global.listen_address", "expected an array, got an integer"),
    (g("listen_address = [5]\n"), "global.listen_address[0]", "expected a string"),
    (n("passive = 1\n"), "neighbors[0].passive", "expected a boolean, got an integer"),
    (n('families = "ipv4-unicast"\n'), "neighbors[0].families", "expected an array"),
    (g("neighbors = 5\n"), "global.neighbors", "unknown key"),
    ("neighbors = 5\n" + g(), "neighbors", "expected an array, got an integer"),
    ("neighbors = [1]\n" + g(), "neighbors[0]", "expected a table ([[neighbors]])"),
    ("global = 1\n", "global", "expected a table"),
    (o("communities = [1]\n"), "originate[0].communities[0]", "expected a string"),
    (o("as_path = ['65000']\n"), "originate[0].as_path[0]", "expected an integer"),
    (g("hostname = 1979-05-27\n"), "global.hostname", "got a date/time"),
    # out of range
    (g(asn="0"), "global.asn", "out of range 1..4294967295"),
    (g(asn="4294967296"), "global.asn", "out of range"),
    (g(asn="23456"), "global.asn", "AS_TRANS"),
    (n(asn=0), "neighbors[0].remote_as", "out of range"),
    (g("hold_time = 2\n"), "global.hold_time", "not 0 or 3..65535"),
    (n("hold_time = 65536\n"), "neighbors[0].hold_time", "not 0 or 3..65535"),
    (n("port = 0\n"), "neighbors[0].port", "0 is out of range 1..65535"),
    (n("port = 65536\n"), "neighbors[0].port", "out of range 1..65535"),
    (g("listen_port = 65536\n"), "global.listen_port", "out of range 0..65535"),
    (g("restart_time = 4096\n"), "global.restart_time", "out of range 0..4095"),
    (n("max_prefixes = 0\n"), "neighbors[0].max_prefixes", "out of range"),
    (o("med = -1\n"), "originate[0].med", "out of range 0..4294967295"),
    (o("as_path = [0]\n"), "originate[0].as_path[0]", "AS number 0 is out of range"),
    (g("keepalive = 90\n"), "global.keepalive", "not below hold_time 90"),
    (n("keepalive = 100\n"), "neighbors[0].keepalive", "100 is not below hold_time 90"),
    (n('md5_password = ""\n'), "neighbors[0].md5_password", "out of range 1..80"),
    (n(f'md5_password = "{"x" * 81}"\n'), "neighbors[0].md5_password", "81 bytes"),
    # addresses, prefixes, communities
    (g(rid="1.2.3"), "global.router_id", "'1.2.3' is not an IPv4 dotted quad"),
    (g(rid="::1"), "global.router_id", "not an IPv4 dotted quad"),
    (g(rid="01.2.3.4"), "global.router_id", "dotted quad"),
    (g(rid="0.0.0.0"), "global.router_id", "RFC 6286"),
    (g('cluster_id = "x"\n'), "global.cluster_id", "not an IPv4 dotted quad"),
    (g('listen_address = ["::1", "::0:1"]\n'), "global.listen_address[1]", "::1 is listed twice"),
    (g('listen_address = "localhost"\n'), "global.listen_address", "not an IPv4 or IPv6"),
    (n(address="127.0.0.256"), "neighbors[0].address", "'127.0.0.256' is not an IPv4 or IPv6"),
    (n(address="224.0.0.5"), "neighbors[0].address", "not a unicast"),
    (n('local_address = "::1"\n'), "neighbors[0].local_address", "not an IPv4 address"),
    (o(prefix="192.0.2.0/33"), "originate[0].prefix", "not a prefix"),
    (o(prefix="192.0.2.1/24"), "originate[0].prefix", "host bits set; did you mean '192.0.2.0/24'"),
    (o(prefix="192.0.2.1"), "originate[0].prefix", "no length; did you mean '192.0.2.1/32'"),
    (o('next_hop = "192.0.2.1"\n', "2001:db8::/32"), "originate[0].next_hop", "IPv6 next hop"),
    (o('next_hop = "me"\n'), "originate[0].next_hop", "not an IPv4 or IPv6 address"),
    (o('communities = ["65536:1"]\n'), "originate[0].communities[0]", "not a community: '65536"),
    (o('communities = ["1:1", "no-exprot"]\n'), "originate[0].communities[1]", "not a community"),
    (o('large_communities = ["1:2"]\n'), "originate[0].large_communities[0]", "not a large comm"),
    (o('origin = "IGP"\n'), "originate[0].origin", "'IGP' is not one of 'igp', 'egp', 'incomp"),
    (n('families = ["ipv4-flowspec"]\n'), "neighbors[0].families[0]", "not one of 'ipv4-unicast'"),
    (n('families = ["ipv4-unicast", "ipv4-unicast"]\n'), "neighbors[0].families[1]", "twice"),
    (n("families = []\n"), "neighbors[0].families", "need at least one family"),
    (n('add_path = "all"\n'), "neighbors[0].add_path", "not one of 'none', 'receive', 'send'"),
    (n('role = "upstream"\n'), "neighbors[0].role", "not one of 'provider'"),
    (g("[control]\nsocket = 'rr.sock'\n"), "control.socket", "not an absolute path"),
    (g(f"[control]\nsocket = '/{'x' * 107}'\n"), "control.socket", "out of range 1..107"),
    # duplicates and cross-key rules
    (n(N), "neighbors[1].address", "192.0.2.2 is already a neighbor (at neighbors[0])"),
    (n(N.replace("192.0.2.2", "0::1"), "::1"), "neighbors[1].address", "::1 is already a neigh"),
    (o(O), "originate[1].prefix", "192.0.2.0/24 is already an originated prefix"),
    (
        n("route_reflector_client = true\n", asn=65000),
        "neighbors[0].route_reflector_client",
        "needs global.cluster_id",
    ),
    (g(CID + N + "route_reflector_client = true\n"), "neighbors[0].route_reflector_client", "iBGP"),
    (n('role = "peer"\n', asn=65000), "neighbors[0].role", "eBGP sessions only"),
    (n("add_path_send_max = 2\n"), "neighbors[0].add_path_send_max", 'needs add_path = "send"'),
    (n("max_prefix_restart = 30\n"), "neighbors[0].max_prefix_restart", "needs max_prefixes"),
    # missing things
    ("[control]\n", "global", "missing [global] table"),
    ('[global]\nrouter_id = "1.1.1.1"\n', "global.asn", "missing (required)"),
    ("[global]\nasn = 1\n", "global.router_id", "missing (required)"),
    (g("[[neighbors]]\nremote_as = 1\n"), "neighbors[0].address", "missing (required)"),
    (g('[[neighbors]]\naddress = "192.0.2.2"\n'), "neighbors[0].remote_as", "missing (required)"),
    (g("[[originate]]\n"), "originate[0].prefix", "missing (required)"),
]


@pytest.mark.parametrize(("text", "path", "problem"), ERRORS)
def test_errors(text: str, path: str, problem: str) -> None:
    message = _error(text)
    assert message.startswith(f"test.toml: {path}"), message
    assert problem in message


def test_error_fields() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + N + "hold_time = 1\n", "x.toml")
    e = info.value
    assert (e.source, e.path) == ("x.toml", "neighbors[0].hold_time")
    assert "1 is not 0 or 3..65535" in e.problem


@pytest.mark.parametrize("text", ["a = " + "[" * 100_000, "a = " + "{b = " * 100_000])
def test_deep_nesting(text: str) -> None:
    assert "nested too deeply" in _error(text)


@pytest.mark.parametrize("text", ["", "  \n\n", "# only a comment\n"])
def test_empty(text: str) -> None:
    assert _error(text) == "test.toml: the configuration is empty (need at least [global])"


def test_syntax_error_has_line_and_column() -> None:
    message = _error(HEAD + "hold_time = = 3\n")
    assert message.startswith("test.toml: TOML syntax error")
    assert "line 4, column" in message


def test_load_config(tmp_path: Path) -> None:
    f = tmp_path / "speaker.toml"
    f.write_text(EXAMPLE)
    assert load_config(f) == parse_config(EXAMPLE)
    assert load_config(str(f)).source == str(f)
    f.write_text(EXAMPLE + "bogus = 1\n")
    with pytest.raises(ConfigError, match=re.escape(f"{f}: neighbors[0].bogus: unknown key")):
        load_config(f)
    f.write_bytes(b"[global]\nhostname = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_default_control_socket() -> None:
    env = {"XDG_RUNTIME_DIR": "/run/user/1000/"}
    assert default_control_socket("rr", environ=env, uid=1000) == "/run/user/1000/pybgp/rr.sock"
    assert default_control_socket("rr", environ={}, uid=0) == "/run/pybgp/rr.sock"
    assert default_control_socket("lbnode", environ={}, uid=1000) == "/tmp/pybgp-1000/lbnode.sock"
    with pytest.raises(ValueError, match="daemon name"):
        default_control_socket("../x")


# --- diff_neighbors ----------------------------------------------------------------------


def _cfg(*neighbors: str, head: str = HEAD) -> Config:
    return parse_config(head + "".join(f"[[neighbors]]\n{n}\n" for n in neighbors))


A = 'address = "192.0.2.2"\nremote_as = 65001'
B = 'address = "2001:db8::2"\nremote_as = 65002'
C = 'address = "192.0.2.3"\nremote_as = 65000'


def test_diff_added_removed_unchanged() -> None:
    d = diff_neighbors(_cfg(A, B), _cfg(B.replace("2001:db8::2", "2001:DB8:0::2"), C))
    assert [n.address for n in d.added] == ["192.0.2.3"]
    assert [n.address for n in d.removed] == ["192.0.2.2"]
    assert [n.address for n in d.unchanged] == ["2001:db8::2"]
    assert d.changed == ()
    assert diff_neighbors(_cfg(), _cfg()) == NeighborDiff()


def test_diff_changed() -> None:
    d = diff_neighbors(_cfg(A, B), _cfg(A + "\nhold_time = 30", B + '\ndescription = "x"'))
    assert d.added == d.removed == d.unchanged == ()
    hard, soft = d.changed
    assert hard.old.hold_time == 90 and hard.new.hold_time == 30
    assert hard.fields == ("hold_time", "keepalive") and hard.needs_reset
    assert soft.fields == ("description",) and not soft.needs_reset


def test_diff_inherited_and_global() -> None:
    d = diff_neighbors(_cfg(A), _cfg(A, head=HEAD + "connect_retry = 5\n"))
    assert d.changed[0].fields == ("connect_retry",)
    d = diff_neighbors(_cfg(A, B), _cfg(A, B, head=HEAD.replace("192.0.2.1", "192.0.2.9")))
    assert [c.fields for c in d.changed] == [("global.router_id",)] * 2
    assert all(c.needs_reset for c in d.changed)
    d = diff_neighbors(_cfg(A), _cfg(A, head=HEAD + "listen_port = 1179\n"))
    assert d.unchanged and not d.changed


# --- docs ----------------------------------------------------------------------------------


def test_docs_cover_every_key_and_example_parses() -> None:
    text = DOCS.read_text()
    for table, keys in KEYS.items():
        for key in keys:
            name = f"`[{key}]`" if not table else f"`{key}`"
            assert name in text.replace("[[", "[").replace("]]", "]"), f"docs lack {table}.{key}"
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        parse_config(block, "docs/config.md")


# --- hypothesis: nothing but ConfigError ---------------------------------------------------

INTERESTING: list[Any] = [
    "127.0.0.1", "::1", "192.0.2.0/24", "2001:db8::/32", "fe80::1%eth0", "65000:1", "1:2:3",
    "no-export", "send", "both", "ipv4-unicast", "ipv6-unicast", "igp", "rs", "self", "/tmp/x",
    "", 0, 1, 3, 90, 179, 23456, 65000, 65535, 4294967295, 4294967296, -1, True, False,
]  # fmt: skip
PICK = st.sampled_from(INTERESTING)
SCALARS = st.one_of(
    PICK, PICK, PICK, st.integers(-5, 70_000), st.integers(), st.floats(), st.text(max_size=12)
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4))


def _table(kind: str, base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some keys of ``kind`` (mostly valid ones) set to random values."""
    valid = st.sampled_from(KEYS[kind])
    keys = st.one_of(valid, valid, valid, st.text(min_size=1, max_size=8))
    return st.builds(lambda extra: {**base, **extra}, st.dictionaries(keys, VALUES, max_size=4))


def _distinct(key: str, fmt: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give entries that kept the base ``key`` distinct values, so most are not duplicates."""
    base = fmt.format(0)
    return [{**t, key: fmt.format(i)} if t[key] == base else t for i, t in enumerate(items)]


NEIGHBORS = st.lists(_table("neighbors", {"address": "192.0.2.0", "remote_as": 1}), max_size=3)
ORIGINATE = st.lists(_table("originate", {"prefix": "198.51.0.0/24"}), max_size=3)
DOCS_ST = st.fixed_dictionaries(
    {"global": _table("global", {"asn": 65000, "router_id": "192.0.2.1"})},
    optional={
        "control": _table("control", {}),
        "neighbors": NEIGHBORS.map(lambda ns: _distinct("address", "192.0.2.{}", ns)),
        "originate": ORIGINATE.map(lambda os: _distinct("prefix", "198.51.{}.0/24", os)),
    },
)


def _string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")  # TOML bans raw DEL


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _string(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        )
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _string(v)
    return "[" + ", ".join(_value(x) for x in v) + "]"


def _toml(doc: dict[str, Any]) -> str:
    """A tiny TOML writer: top-level scalars, then [tables], then [[arrays of tables]]."""
    out = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict | list)]
    out += [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if isinstance(v, list) and not v]
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(f"[{_key(k)}]")
            out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in v.items()]
    for k, v in doc.items():
        if isinstance(v, list) and v:
            for item in v:
                if isinstance(item, dict):
                    out.append(f"[[{_key(k)}]]")
                    out += [f"{_key(kk)} = {_value(vv)}" for kk, vv in item.items()]
    return "\n".join(out) + "\n"


def test_writer_round_trips() -> None:
    doc = {"global": {"asn": 1, "odd key": [1.5, 'a"b']}, "neighbors": [{"x": True}]}
    assert tomllib.loads(_toml(doc)) == doc


@settings(max_examples=400, deadline=None)
@given(DOCS_ST)
def test_random_documents_raise_only_config_error(doc: dict[str, Any]) -> None:
    try:
        config = parse_config(_toml(doc), "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")
    else:
        assert config.global_.asn == doc["global"]["asn"]
        assert len(config.neighbors) == len(doc.get("neighbors", []))
        assert len(config.originate) == len(doc.get("originate", []))
        for nb in config.neighbors:
            assert 0 <= nb.keepalive < max(nb.hold_time, 1) and nb.families


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text)
