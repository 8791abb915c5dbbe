"""Tests for rib.policy: matches, actions, term order, RFC 8212, parse errors, caching, fuzzing."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rib.policy_eval as policy_eval
from pybgp.codec.attributes import AttrSet
from pybgp.codec.communities import parse_community
from pybgp.codec.nlri import parse_prefix
from pybgp.config import ConfigError
from rib.policy import (
    ACCEPT_ALL,
    POLICY_KEYS,
    REJECT_ALL,
    REJECTED,
    Policies,
    Policy,
    PolicyError,
    PolicyResult,
    effective_policy,
    parse_policies,
    render_as_path,
)
from rib.policy_match import BOUNDARY, PrefixTable, translate_as_path_regex

DOCS = Path(__file__).resolve().parents[1] / "docs" / "policy.md"
NO_EXPORT = parse_community("no-export")


def C(text: str) -> int:
    return parse_community(text)


def P(text: str) -> tuple[int, int]:
    return parse_prefix(text)


def nh(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def attrs(
    path: tuple[int, ...] | None = (65101,),
    communities: tuple[str, ...] = (),
    large: tuple[tuple[int, int, int], ...] = (),
    next_hop: str | None = "198.18.0.1",
    mp_next_hop: str | None = None,
    **kw: Any,
) -> AttrSet:
    return AttrSet(
        origin=0,
        as_path=((2, path),) if path else (),
        next_hop=nh(next_hop) if next_hop else None,
        mp_next_hop=nh(mp_next_hop) if mp_next_hop else None,
        communities=tuple(C(c) for c in communities),
        large_communities=large,
        **kw,
    )


def load(text: str, source: str = "test.toml") -> Policies:
    return parse_policies(tomllib.loads(text), source)


def policy(text: str, name: str = "p") -> Policy:
    return load(text).chain(name)


def run(pol: Policy, prefix: str, a: AttrSet, safi: int = 1) -> PolicyResult:
    afi, key = P(prefix)
    result = pol.apply(afi, safi, key, a)
    assert result == pol.evaluate(afi, safi, key, a)  # the cache agrees with the plain rules
    return result


def accepts(pol: Policy, prefix: str, a: AttrSet, safi: int = 1) -> bool:
    return run(pol, prefix, a, safi).accepted


def one_term(match: str, lists: str = "") -> Policy:
    return policy(f'{lists}\n[[policies]]\nname = "p"\n[[policies.terms]]\n'
                  f'match = {{ {match} }}\naction = "accept"\n')  # fmt: skip


# --- prefix lists: ge / le -------------------------------------------------------------

PREFIX_CASES = [
    # entry, route, matches
    ('"10.0.0.0/8"', "10.0.0.0/8", True),
    ('"10.0.0.0/8"', "10.0.0.0/9", False),
    ('"10.0.0.0/8"', "11.0.0.0/8", False),
    ('"10.0.0.0/8"', "0.0.0.0/0", False),
    ('{ prefix = "10.0.0.0/8" }', "10.0.0.0/8", True),
    ('{ prefix = "10.0.0.0/8", ge = 16 }', "10.1.0.0/16", True),
    ('{ prefix = "10.0.0.0/8", ge = 16 }', "10.1.2.3/32", True),
    ('{ prefix = "10.0.0.0/8", ge = 16 }', "10.0.0.0/15", False),
    ('{ prefix = "10.0.0.0/8", ge = 16 }', "10.0.0.0/8", False),
    ('{ prefix = "10.0.0.0/8", ge = 16 }', "11.1.0.0/16", False),
    ('{ prefix = "10.0.0.0/8", le = 16 }', "10.0.0.0/8", True),
    ('{ prefix = "10.0.0.0/8", le = 16 }', "10.1.0.0/16", True),
    ('{ prefix = "10.0.0.0/8", le = 16 }', "10.1.0.0/17", False),
    ('{ prefix = "10.0.0.0/8", le = 16 }', "10.0.0.0/7", False),
    ('{ prefix = "10.0.0.0/8", ge = 16, le = 24 }', "10.1.0.0/15", False),
    ('{ prefix = "10.0.0.0/8", ge = 16, le = 24 }', "10.1.0.0/16", True),
    ('{ prefix = "10.0.0.0/8", ge = 16, le = 24 }', "10.1.2.0/24", True),
    ('{ prefix = "10.0.0.0/8", ge = 16, le = 24 }', "10.1.2.0/25", False),
    ('{ prefix = "10.0.0.0/8", ge = 8, le = 8 }', "10.0.0.0/8", True),
    ('{ prefix = "192.0.2.0/24", ge = 32, le = 32 }', "192.0.2.1/32", True),
    ('{ prefix = "192.0.2.0/24", ge = 32, le = 32 }', "192.0.2.0/24", False),
    ('{ prefix = "192.0.2.0/24", ge = 32, le = 32 }', "192.0.3.1/32", False),
    ('"192.0.2.1/32"', "192.0.2.1/32", True),
    ('"192.0.2.1/32"', "192.0.2.0/32", False),
    ('{ prefix = "0.0.0.0/0" }', "0.0.0.0/0", True),
    ('{ prefix = "0.0.0.0/0" }', "10.0.0.0/8", False),
    ('{ prefix = "0.0.0.0/0", le = 32 }', "203.0.113.7/32", True),
    ('{ prefix = "0.0.0.0/0", ge = 25 }', "203.0.113.0/24", False),
    ('{ prefix = "0.0.0.0/0", ge = 25 }', "203.0.113.0/25", True),
    ('{ prefix = "2001:db8::/32", le = 128 }', "2001:db8:1::/48", True),
    ('{ prefix = "2001:db8::/32", le = 128 }', "2001:db8::1/128", True),
    ('{ prefix = "2001:db8::/32", le = 128 }', "2001:db9::/48", False),
    ('{ prefix = "2001:db8::/32", le = 128 }', "2001:db8::/31", False),
    ('{ prefix = "2001:db8::/32", ge = 64, le = 64 }', "2001:db8:0:1::/64", True),
    ('{ prefix = "2001:db8::/32", ge = 64, le = 64 }', "2001:db8::/63", False),
    ('"2001:db8::1/128"', "2001:db8::1/128", True),
    ('"2001:db8::1/128"', "2001:db8::2/128", False),
    ('{ prefix = "::/0", le = 128 }', "10.0.0.0/8", False),  # family matters
    ('{ prefix = "0.0.0.0/0", le = 32 }', "2001:db8::/32", False),
]


@pytest.mark.parametrize(("entry", "route", "expected"), PREFIX_CASES)
def test_prefix_list_ge_le(entry: str, route: str, expected: bool) -> None:
    lists = f'[[prefix_lists]]\nname = "l"\nentries = [ {entry} ]\n'
    assert accepts(one_term('prefix_list = "l"', lists), route, attrs()) is expected
    pl = load(lists).prefix_lists["l"]
    assert pl.matches(*P(route)) is expected


def test_prefix_list_entry_resolved_ranges() -> None:
    text = """[[prefix_lists]]
name = "l"
entries = ["10.0.0.0/8", { prefix = "10.0.0.0/8", ge = 16 }, { prefix = "10.0.0.0/8", le = 16 },
           { prefix = "2001:db8::/32", ge = 48, le = 64 }]
"""
    entries = load(text).prefix_lists["l"].entries
    assert [(e.ge, e.le) for e in entries] == [(8, 8), (16, 32), (8, 16), (48, 64)]
    assert str(entries[1]) == "10.0.0.0/8 ge 16 le 32"


def test_several_prefix_lists_any_of() -> None:
    lists = """[[prefix_lists]]
name = "a"
entries = ["10.0.0.0/8"]
[[prefix_lists]]
name = "b"
entries = ["2001:db8::/32"]
"""
    pol = one_term('prefix_list = ["a", "b"]', lists)
    assert accepts(pol, "10.0.0.0/8", attrs())
    assert accepts(pol, "2001:db8::/32", attrs(next_hop=None, mp_next_hop="2001:db8::1"))
    assert not accepts(pol, "10.0.0.0/9", attrs())


@st.composite
def _entries(draw: st.DrawFn) -> tuple[int, int, int, int]:
    length = draw(st.integers(0, 32))
    network = draw(st.integers(0, 2**32 - 1)) & ~((1 << (32 - length)) - 1)
    lo = draw(st.integers(length, 32))
    return network, length, lo, draw(st.integers(lo, 32))


def _naive(entries: list[tuple[int, int, int, int]], route: int) -> bool:
    net, plen = route >> 8, route & 0xFF
    return any(
        lo <= plen <= hi and length <= plen and net >> (32 - length) == n >> (32 - length)
        for n, length, lo, hi in entries
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_entries(), max_size=6), st.lists(_entries(), min_size=1, max_size=10))
def test_prefix_table_agrees_with_the_definition(
    entries: list[tuple[int, int, int, int]], routes: list[tuple[int, int, int, int]]
) -> None:
    table = PrefixTable(32, entries)
    probes = [(n << 8) | length for n, length, _, _ in routes + entries]
    probes += [(n << 8) | lo for n, _, lo, _ in entries] + [
        (n << 8) | hi for n, _, _, hi in entries
    ]
    for r in probes:
        r = ((r >> 8) & ~((1 << (32 - (r & 0xFF))) - 1)) << 8 | (r & 0xFF)
        assert (r in table) is _naive(entries, r)
    assert (33 in table) is False  # a length beyond the family never matches


# --- communities -----------------------------------------------------------------------


def test_communities_any_and_all() -> None:
    pol_any = one_term('communities_any = ["65000:80", "no-export"]')
    pol_all = one_term('communities_all = ["65000:80", "no-export"]')
    assert accepts(pol_any, "10.0.0.0/8", attrs(communities=("65000:80",)))
    assert accepts(pol_any, "10.0.0.0/8", attrs(communities=("no-export",)))
    assert not accepts(pol_any, "10.0.0.0/8", attrs(communities=("65000:81",)))
    assert not accepts(pol_any, "10.0.0.0/8", attrs())
    assert accepts(pol_all, "10.0.0.0/8", attrs(communities=("no-export", "1:1", "65000:80")))
    assert not accepts(pol_all, "10.0.0.0/8", attrs(communities=("65000:80",)))


def test_community_wildcards() -> None:
    assert accepts(
        one_term('communities_any = ["65000:*"]'), "10.0.0.0/8", attrs(communities=("65000:7",))
    )
    assert not accepts(
        one_term('communities_any = ["65000:*"]'), "10.0.0.0/8", attrs(communities=("65001:7",))
    )
    assert accepts(
        one_term('communities_any = ["*:80"]'), "10.0.0.0/8", attrs(communities=("1:80",))
    )
    assert not accepts(
        one_term('communities_any = ["*:80"]'), "10.0.0.0/8", attrs(communities=("1:81",))
    )
    assert accepts(
        one_term('communities_any = ["*:*"]'), "10.0.0.0/8", attrs(communities=("1:81",))
    )
    assert not accepts(one_term('communities_any = ["*:*"]'), "10.0.0.0/8", attrs())
    both = one_term('communities_all = ["65000:*", "*:80"]')
    assert accepts(both, "10.0.0.0/8", attrs(communities=("65000:1", "2:80")))
    assert accepts(both, "10.0.0.0/8", attrs(communities=("65000:80",)))
    assert not accepts(both, "10.0.0.0/8", attrs(communities=("65000:1",)))


def test_large_communities_any_all_and_wildcards() -> None:
    a = attrs(large=((65000, 1, 5), (65000, 2, 9)))
    cases = {
        'large_communities_any = ["65000:1:5"]': True,
        'large_communities_any = ["65000:1:6"]': False,
        'large_communities_any = ["65000:1:*"]': True,
        'large_communities_any = ["65000:3:*"]': False,
        'large_communities_any = ["*:*:9"]': True,
        'large_communities_any = ["*:2:*"]': True,
        'large_communities_any = ["65001:*:*", "*:*:5"]': True,
        'large_communities_all = ["65000:1:*", "65000:2:*"]': True,
        'large_communities_all = ["65000:1:*", "65000:3:*"]': False,
        'large_communities_all = ["*:*:*"]': True,
    }
    for match, expected in cases.items():
        assert accepts(one_term(match), "10.0.0.0/8", a) is expected, match
    assert not accepts(one_term('large_communities_all = ["*:*:*"]'), "10.0.0.0/8", attrs())


# --- AS path ---------------------------------------------------------------------------


def test_render_as_path() -> None:
    path = ((3, (64512, 64513)), (2, (65101, 65000)), (1, (1, 2)), (4, (7, 8)))
    assert render_as_path(path) == "(64512 64513) 65101 65000 {1,2} [7,8]"
    assert render_as_path(None) == render_as_path(()) == ""


@pytest.mark.parametrize(
    ("regex", "path", "expected"),
    [
        ("^65101_", (65101, 65000), True),
        ("^65101_", (65101,), True),  # _ matches the end too
        ("^65101_", (651011,), False),
        ("^65101_", (65000, 65101), False),
        ("_65000$", (65101, 65000), True),
        ("_65000_", (65101, 65000, 65002), True),
        ("_65000_", (165000, 650001), False),
        ("65000", (165000,), True),  # without boundaries a regex matches inside an ASN
        ("^65101_65000$", (65101, 65000), True),
        ("^65101_65000$", (65101, 65002, 65000), False),
        ("^65101(_[0-9]+)*_65000$", (65101, 7, 8, 65000), True),
        ("^$", (), True),
        ("^$", (65101,), False),
        (".*", (), True),
        ("^[0-9_]+$", (65101,), True),  # '_' inside a class stays literal
        ("^651\\_01$", (65101,), False),  # an escaped '_' is a literal underscore
    ],
)
def test_as_path_regex(regex: str, path: tuple[int, ...], expected: bool) -> None:
    pol = one_term(f"as_path = '{regex}'")  # a TOML literal string: no escapes
    assert accepts(pol, "10.0.0.0/8", attrs(path=path)) is expected


def test_as_path_regex_boundaries_around_sets() -> None:
    a = AttrSet(as_path=((2, (65101,)), (1, (64512, 64513))))
    assert accepts(one_term("as_path = '_64512_'"), "10.0.0.0/8", a)
    assert accepts(one_term("as_path = '^65101_'"), "10.0.0.0/8", a)
    assert translate_as_path_regex("[_]_") == "[_]" + BOUNDARY
    assert translate_as_path_regex("[]_]_") == "[]_]" + BOUNDARY
    assert translate_as_path_regex(r"\__") == r"\_" + BOUNDARY


def test_origin_as() -> None:
    pol = one_term("origin_as = 65101")
    assert accepts(pol, "10.0.0.0/8", attrs(path=(65000, 65101)))
    assert not accepts(pol, "10.0.0.0/8", attrs(path=(65101, 65000)))
    assert not accepts(pol, "10.0.0.0/8", attrs(path=()))
    assert not accepts(pol, "10.0.0.0/8", AttrSet(as_path=((2, (65101,)), (1, (65101,)))))
    several = one_term("origin_as = [65101, 65102]")
    assert accepts(several, "10.0.0.0/8", attrs(path=(65102,)))
    assert not accepts(several, "10.0.0.0/8", attrs(path=(65103,)))


# --- next hop and family ---------------------------------------------------------------


def test_next_hop_cidrs() -> None:
    pol = one_term('next_hop = ["198.18.0.0/16", "2001:db8::/32", "203.0.113.9"]')
    assert accepts(pol, "10.0.0.0/8", attrs(next_hop="198.18.7.1"))
    assert not accepts(pol, "10.0.0.0/8", attrs(next_hop="198.19.0.1"))
    assert accepts(pol, "10.0.0.0/8", attrs(next_hop="203.0.113.9"))
    assert not accepts(pol, "10.0.0.0/8", attrs(next_hop="203.0.113.8"))
    assert not accepts(pol, "10.0.0.0/8", attrs(next_hop=None))
    v6 = attrs(next_hop=None, mp_next_hop="2001:db8::1")
    assert accepts(pol, "2001:db8:1::/48", v6)
    assert accepts(pol, "10.0.0.0/8", v6)  # RFC 8950: IPv4 route, IPv6 next hop
    ll = AttrSet(mp_next_hop=nh("2001:db8::1") + nh("fe80::1"))  # global + link-local
    assert accepts(pol, "2001:db8:1::/48", ll)
    assert not accepts(pol, "2001:db8:1::/48", AttrSet(mp_next_hop=nh("2001:db9::1")))
    # an IPv4 route uses NEXT_HOP first; an IPv6 route the MP_REACH next hop first
    both = attrs(next_hop="192.0.2.1", mp_next_hop="2001:db8::1")
    assert not accepts(pol, "10.0.0.0/8", both)
    assert accepts(pol, "2001:db8:1::/48", both)
    assert accepts(one_term('next_hop = "198.18.0.0/15"'), "10.0.0.0/8", attrs())


def test_next_hop_prefix_list() -> None:
    lists = '[[prefix_lists]]\nname = "nh"\nentries = [{ prefix = "198.18.0.0/16", le = 32 }]\n'
    pol = one_term('next_hop_prefix_list = "nh"', lists)
    assert accepts(pol, "10.0.0.0/8", attrs(next_hop="198.18.3.4"))
    assert not accepts(pol, "10.0.0.0/8", attrs(next_hop="198.17.3.4"))
    exact = '[[prefix_lists]]\nname = "nh"\nentries = ["198.18.0.0/16"]\n'
    assert not accepts(one_term('next_hop_prefix_list = "nh"', exact), "10.0.0.0/8", attrs())


def test_afi_and_safi() -> None:
    v6 = attrs(next_hop=None, mp_next_hop="2001:db8::1")
    assert accepts(one_term('afi = "ipv4"'), "10.0.0.0/8", attrs())
    assert not accepts(one_term('afi = "ipv4"'), "2001:db8::/32", v6)
    assert accepts(one_term('afi = "ipv6"'), "2001:db8::/32", v6)
    assert accepts(one_term('safi = "multicast"'), "10.0.0.0/8", attrs(), safi=2)
    assert not accepts(one_term('safi = "multicast"'), "10.0.0.0/8", attrs(), safi=1)


def test_empty_match_matches_everything_and_all_keys_must_hold() -> None:
    assert accepts(one_term(""), "10.0.0.0/8", attrs())
    pol = one_term('origin_as = 65101, communities_any = ["65000:80"]')
    assert accepts(pol, "10.0.0.0/8", attrs(communities=("65000:80",)))
    assert not accepts(pol, "10.0.0.0/8", attrs())
    assert not accepts(pol, "10.0.0.0/8", attrs(path=(1,), communities=("65000:80",)))


# --- actions ---------------------------------------------------------------------------


def set_term(sets: str, match: str = "") -> Policy:
    return policy(f'[[policies]]\nname = "p"\n[[policies.terms]]\nmatch = {{ {match} }}\n'
                  f'action = "accept"\nset = {{ {sets} }}\n')  # fmt: skip


def test_set_local_pref_and_med() -> None:
    r = run(set_term("local_pref = 200, med = 10"), "10.0.0.0/8", attrs(local_pref=100))
    assert r.accepted and r.attrs is not None
    assert (r.attrs.local_pref, r.attrs.med) == (200, 10)
    assert not r.next_hop_self


def test_set_communities_remove_then_add() -> None:
    pol = set_term(
        'communities_remove = ["no-export", "65000:*"], communities_add = ["65000:99", "1:1"]'
    )
    r = run(pol, "10.0.0.0/8", attrs(communities=("1:1", "no-export", "65000:5", "2:2")))
    assert r.attrs is not None
    assert r.attrs.communities == (C("1:1"), C("2:2"), C("65000:99"))
    replace_all = set_term('communities_remove = ["*:*"], communities_add = ["65000:1"]')
    r = run(replace_all, "10.0.0.0/8", attrs(communities=("1:1", "no-export")))
    assert r.attrs is not None and r.attrs.communities == (C("65000:1"),)


def test_set_large_communities() -> None:
    pol = set_term(
        'large_communities_remove = ["65000:1:*"], large_communities_add = ["65000:2:1"]'
    )
    r = run(pol, "10.0.0.0/8", attrs(large=((65000, 1, 5), (7, 1, 5))))
    assert r.attrs is not None
    assert r.attrs.large_communities == ((7, 1, 5), (65000, 2, 1))


def test_as_path_prepend() -> None:
    pol = set_term("as_path_prepend = [65000, 65000]")
    r = run(pol, "10.0.0.0/8", attrs(path=(65101,)))
    assert r.attrs is not None and r.attrs.as_path == ((2, (65000, 65000, 65101)),)
    r = run(pol, "10.0.0.0/8", attrs(path=()))
    assert r.attrs is not None and r.attrs.as_path == ((2, (65000, 65000)),)
    r = run(pol, "10.0.0.0/8", AttrSet(as_path=((1, (1, 2)),)))
    assert r.attrs is not None and r.attrs.as_path == ((2, (65000, 65000)), (1, (1, 2)))
    assert render_as_path(r.attrs.as_path) == "65000 65000 {1,2}"


def test_set_next_hop() -> None:
    v4 = set_term('next_hop = "192.0.2.9"')
    r = run(v4, "10.0.0.0/8", attrs(next_hop="198.18.0.1"))
    assert r.attrs is not None and r.attrs.next_hop == nh("192.0.2.9")
    assert r.attrs.mp_next_hop is None and not r.next_hop_self
    r = run(v4, "2001:db8::/32", attrs(next_hop=None, mp_next_hop="2001:db8::1"))
    assert r.attrs is not None and r.attrs.mp_next_hop == nh("::ffff:192.0.2.9")
    v6 = set_term('next_hop = "2001:db8::9"')
    r = run(v6, "2001:db8::/32", attrs(next_hop=None, mp_next_hop="2001:db8::1"))
    assert r.attrs is not None and r.attrs.mp_next_hop == nh("2001:db8::9")
    r = run(v6, "10.0.0.0/8", attrs(next_hop="198.18.0.1"))  # RFC 8950
    assert r.attrs is not None and r.attrs.next_hop is None
    assert r.attrs.mp_next_hop == nh("2001:db8::9")


def test_next_hop_self_is_a_sentinel() -> None:
    a = attrs()
    r = run(set_term('next_hop = "self"'), "10.0.0.0/8", a)
    assert r == PolicyResult(True, a, True) and r.attrs is a
    text = """[[policies]]
name = "p"
[[policies.terms]]
action = "next"
set = { next_hop = "self" }
[[policies.terms]]
match = { afi = "ipv6" }
action = "accept"
set = { next_hop = "2001:db8::9" }
[[policies.terms]]
action = "accept"
"""
    pol = policy(text)
    assert run(pol, "10.0.0.0/8", a).next_hop_self
    r = run(pol, "2001:db8::/32", a)
    assert not r.next_hop_self and r.attrs is not None
    assert r.attrs.mp_next_hop == nh("2001:db8::9")


def test_unchanged_attributes_are_the_same_object() -> None:
    a = attrs(local_pref=200, communities=("65000:99",))
    r = run(set_term('local_pref = 200, communities_add = ["65000:99"]'), "10.0.0.0/8", a)
    assert r.attrs is a
    assert run(one_term(""), "10.0.0.0/8", a).attrs is a


# --- term order, next, defaults, chains ------------------------------------------------

ORDERED = """
[[prefix_lists]]
name = "vips"
entries = [{ prefix = "192.0.2.0/24", ge = 32, le = 32 }]

[[policies]]
name = "p"
default = "accept"
[[policies.terms]]
name = "tag"
match = { prefix_list = "vips" }
action = "next"
set = { communities_add = ["65000:80"], local_pref = 150 }
[[policies.terms]]
name = "bogus"
match = { communities_any = ["65000:666"] }
action = "reject"
[[policies.terms]]
name = "tagged"
match = { communities_any = ["65000:80"] }
action = "accept"
set = { med = 5 }
[[policies.terms]]
name = "never-reached-for-tagged"
action = "accept"
set = { med = 99 }
"""


def test_term_order_and_next() -> None:
    pol = policy(ORDERED)
    r = run(pol, "192.0.2.1/32", attrs())
    assert r.attrs is not None
    assert (r.attrs.local_pref, r.attrs.med, r.attrs.communities) == (150, 5, (C("65000:80"),))
    r = run(pol, "198.51.100.0/24", attrs())  # not in vips: falls to the catch-all
    assert r.attrs is not None and (r.attrs.local_pref, r.attrs.med) == (None, 99)
    assert not accepts(pol, "192.0.2.1/32", attrs(communities=("65000:666",)))


def test_default_reject_and_accept() -> None:
    base = '[[policies]]\nname = "p"\n{}[[policies.terms]]\n'
    base += 'match = {{ afi = "ipv6" }}\naction = "accept"\n'
    assert not accepts(policy(base.format("")), "10.0.0.0/8", attrs())
    assert not accepts(policy(base.format('default = "reject"\n')), "10.0.0.0/8", attrs())
    a = attrs()
    r = run(policy(base.format('default = "accept"\n')), "10.0.0.0/8", a)
    assert r == PolicyResult(True, a, False)
    assert not accepts(policy('[[policies]]\nname = "p"\n'), "10.0.0.0/8", a)  # no terms


def test_next_falls_through_to_the_default() -> None:
    text = """[[policies]]
name = "p"
default = "accept"
[[policies.terms]]
action = "next"
set = { local_pref = 7 }
"""
    r = run(policy(text), "10.0.0.0/8", attrs())
    assert r.attrs is not None and r.attrs.local_pref == 7
    rejecting = text.replace('default = "accept"', 'default = "reject"')
    assert run(policy(rejecting), "10.0.0.0/8", attrs()) is REJECTED


CHAIN = """
[[prefix_lists]]
name = "vips"
entries = [{ prefix = "192.0.2.0/24", ge = 32 }]

[[policies]]
name = "scrub"
default = "accept"
[[policies.terms]]
action = "accept"
set = { communities_remove = ["65000:*"] }

[[policies]]
name = "vips-only"
[[policies.terms]]
match = { prefix_list = "vips" }
action = "accept"
set = { local_pref = 200 }

[[neighbors]]
address = "2001:DB8::2"
import_policy = ["scrub", "vips-only"]
export_policy = "vips-only"

[[neighbors]]
address = "192.0.2.99"
"""


def test_chain_applies_policies_in_order() -> None:
    pols = load(CHAIN)
    chain = pols.for_neighbor("2001:db8::2").import_policy
    assert chain is not None and chain is pols.chain(["scrub", "vips-only"])
    r = run(chain, "192.0.2.1/32", attrs(communities=("65000:1", "1:1")))
    assert r.attrs is not None
    assert (r.attrs.communities, r.attrs.local_pref) == ((C("1:1"),), 200)
    assert not accepts(chain, "198.51.100.0/24", attrs())
    export = pols.for_neighbor("2001:0db8:0::2").export_policy
    assert export is pols.policies["vips-only"]
    assert pols.for_neighbor("192.0.2.99").import_policy is None
    assert pols.for_neighbor("192.0.2.100").export_policy is None
    assert pols.for_neighbor("not an address").import_policy is None
    both = pols.policies["scrub"].then(pols.policies["vips-only"])
    assert run(both, "192.0.2.1/32", attrs()) == run(chain, "192.0.2.1/32", attrs())


def test_rfc8212_defaults() -> None:
    pol = load(CHAIN).policies["vips-only"]
    assert effective_policy(True, None) is REJECT_ALL
    assert effective_policy(False, None) is ACCEPT_ALL
    assert effective_policy(True, pol) is pol and effective_policy(False, pol) is pol
    a = attrs()
    assert REJECT_ALL.apply(1, 1, P("10.0.0.0/8")[1], a) is REJECTED
    assert ACCEPT_ALL.apply(2, 1, P("2001:db8::/32")[1], a) == PolicyResult(True, a, False)


# --- parse errors ----------------------------------------------------------------------

PL = '[[prefix_lists]]\nname = "vips"\nentries = ["192.0.2.0/24"]\n'
POL = '[[policies]]\nname = "p"\n[[policies.terms]]\naction = "accept"\n'
E = '[[prefix_lists]]\nname = "a"\nentries = '
EP = "prefix_lists[0].entries[0]"
M, S, NB = POL + "match = ", POL + "set = ", POL + '[[neighbors]]\naddress = "192.0.2.2"\n'
TM, TS = "policies[0].terms[0].match.", "policies[0].terms[0].set."

ERRORS = [
    # (toml, key path, words in the problem)
    ('prefix_lists = "x"', "prefix_lists", "expected an array of tables"),
    ("prefix_lists = [1]", "prefix_lists[0]", "expected a table"),
    ("[[prefix_lists]]\nentries = []", "prefix_lists[0].name", "missing"),
    ('[[prefix_lists]]\nname = "a b"\nentries = []', "prefix_lists[0].name", "not a name"),
    (E + "[]\nsize = 3", "prefix_lists[0].size", "unknown key"),
    (
        '[[prefix_lists]]\nname = "a"\nentrys = []',
        "prefix_lists[0].entrys",
        "did you mean 'entries'",
    ),
    ('[[prefix_lists]]\nname = "a"', "prefix_lists[0].entries", "missing"),
    (PL + '[[prefix_lists]]\nname = "vips"\nentries = []', "prefix_lists[1].name", "already"),
    (E + "[3]", EP, "expected a table"),
    (E + '["10.0.0.0/33"]', EP, "not a prefix"),
    (E + '["10.0.0.1/8"]', EP, "host bits"),
    (E + '["10.0.0.0"]', EP, "no length"),
    (E + "[{ le = 9 }]", EP + ".prefix", "missing"),
    (E + '[{ prefix = "x" }]', EP + ".prefix", "not a prefix"),
    (E + '[{ prefix = "10.0.0.0/8", gt = 9 }]', EP + ".gt", "valid: prefix, ge, le"),
    (E + '[{ prefix = "10.0.0.0/8", ge = 7 }]', EP + ".ge", "below the prefix length 8"),
    (E + '[{ prefix = "10.0.0.0/8", le = 7 }]', EP + ".le", "below the prefix length 8"),
    (E + '[{ prefix = "10.0.0.0/8", ge = 16, le = 12 }]', EP + ".le", "below ge 16"),
    (E + '[{ prefix = "10.0.0.0/8", le = 33 }]', EP + ".le", "above 32"),
    (E + '[{ prefix = "10.0.0.0/8", ge = 33 }]', EP + ".ge", "above 32"),
    (E + '[{ prefix = "::/0", le = 129 }]', EP + ".le", "above 128"),
    (E + '[{ prefix = "::/0", le = true }]', EP + ".le", "expected an integer"),
    (E + '[{ prefix = "::/0", ge = -1 }]', EP + ".ge", "out of range"),
    (
        '[[policies]]\nname = "p"\ndefualt = "accept"',
        "policies[0].defualt",
        "did you mean 'default'",
    ),
    ('[[policies]]\nname = "p"\ndefault = "permit"', "policies[0].default", "not one of"),
    ('[[policies]]\nname = "p"\n[[policies]]\nname = "p"', "policies[1].name", "already a policy"),
    (
        '[[policies]]\nname = "p"\n[[policies.terms]]\nmatch = {}',
        "policies[0].terms[0].action",
        "missing",
    ),
    (
        '[[policies]]\nname = "p"\n[[policies.terms]]\naction = "permit"',
        "policies[0].terms[0].action",
        "not one of",
    ),
    (
        '[[policies]]\nname = "p"\n[[policies.terms]]\naction = "accept"\nmatches = {}',
        "policies[0].terms[0].matches",
        "did you mean 'match'",
    ),
    (
        '[[policies]]\nname = "p"\n[[policies.terms]]\naction = "reject"\nset = { med = 1 }',
        "policies[0].terms[0].set",
        "no effect",
    ),
    (
        '[[policies]]\nname = "p"\n' + '[[policies.terms]]\nname = "t"\naction = "next"\n' * 2,
        "policies[0].terms[1].name",
        "already a term",
    ),
    (M + '{ prefx_list = "vips" }', TM + "prefx_list", "did you mean 'prefix_list'"),
    (M + '{ prefix_list = "vips" }', TM + "prefix_list", "'vips' is not defined"),
    (PL + M + '{ prefix_list = "vip" }', TM + "prefix_list", "did you mean 'vips'"),
    (PL + M + '{ prefix_list = ["vips", "x"] }', TM + "prefix_list[1]", "not defined"),
    (PL + M + '{ prefix_list = ["vips", "vips"] }', TM + "prefix_list[1]", "listed twice"),
    (PL + M + "{ prefix_list = [] }", TM + "prefix_list", "empty"),
    (PL + M + "{ prefix_list = 3 }", TM + "prefix_list", "expected a string or an array"),
    (M + '{ next_hop_prefix_list = "nh" }', TM + "next_hop_prefix_list", "not defined"),
    (M + '{ communities_any = ["65000:70000"] }', TM + "communities_any[0]", "not a community"),
    (
        M + '{ communities_all = ["65000:x*"] }',
        TM + "communities_all[0]",
        "not a community pattern",
    ),
    (M + "{ communities_any = [] }", TM + "communities_any", "empty"),
    (M + "{ communities_any = [1] }", TM + "communities_any[0]", "expected a string"),
    (
        M + '{ large_communities_any = ["1:2"] }',
        TM + "large_communities_any[0]",
        "not a large community",
    ),
    (
        M + '{ large_communities_all = ["1:*:4294967296"] }',
        TM + "large_communities_all[0]",
        "not a large community pattern",
    ),
    (M + '{ as_path = "(" }', TM + "as_path", "bad regular expression"),
    (M + '{ as_path = "a{99999999999}" }', TM + "as_path", "bad regular expression"),
    (M + "{ as_path = 5 }", TM + "as_path", "expected a string"),
    (M + "{ origin_as = 23456 }", TM + "origin_as", "AS_TRANS"),
    (M + "{ origin_as = [1, 0] }", TM + "origin_as[1]", "out of range"),
    (M + '{ origin_as = "65000" }', TM + "origin_as", "expected an integer"),
    (M + '{ next_hop = ["198.18.0.1/16"] }', TM + "next_hop[0]", "not an address or a network"),
    (M + '{ next_hop = "nope" }', TM + "next_hop", "not an address"),
    (M + '{ afi = "inet" }', TM + "afi", "'ipv4', 'ipv6'"),
    (M + '{ safi = "vpn" }', TM + "safi", "not one of"),
    (S + "{ local_pref = -1 }", TS + "local_pref", "out of range"),
    (S + "{ med = 4294967296 }", TS + "med", "out of range"),
    (S + '{ med = "1" }', TS + "med", "expected an integer"),
    (S + "{ localpref = 1 }", TS + "localpref", "did you mean 'local_pref'"),
    (S + '{ communities_add = ["65000:*"] }', TS + "communities_add[0]", "wildcards"),
    (S + '{ communities_remove = ["x"] }', TS + "communities_remove[0]", "not a community"),
    (S + '{ large_communities_add = ["1:2:*"] }', TS + "large_communities_add[0]", "wildcards"),
    (
        S + '{ large_communities_remove = ["1:2"] }',
        TS + "large_communities_remove[0]",
        "not a large",
    ),
    (S + "{ as_path_prepend = [65000, 23456] }", TS + "as_path_prepend[1]", "AS_TRANS"),
    (S + "{ as_path_prepend = [] }", TS + "as_path_prepend", "empty"),
    (S + '{ next_hop = "me" }', TS + "next_hop", 'not "self" or an IPv4'),
    (S + '{ next_hop = "224.0.0.1" }', TS + "next_hop", "not a unicast"),
    (
        '[[neighbors]]\naddress = "192.0.2.2"\nimport_policy = "x"',
        "neighbors[0].import_policy",
        "policy 'x' is not defined",
    ),
    (NB + 'export_policy = ["p", "q"]', "neighbors[0].export_policy[1]", "not defined"),
    (NB + "export_policy = []", "neighbors[0].export_policy", "empty"),
    (NB + 'export_policy = ["p", "p"]', "neighbors[0].export_policy[1]", "listed twice"),
    (NB + "import_policy = 1", "neighbors[0].import_policy", "expected a string"),
]


@pytest.mark.parametrize(("text", "path", "words"), ERRORS)
def test_parse_errors_name_the_key_path(text: str, path: str, words: str) -> None:
    with pytest.raises(PolicyError) as info:
        load(text, "lab.toml")
    err = info.value
    assert isinstance(err, ConfigError)
    assert (err.source, err.path) == ("lab.toml", path), str(err)
    assert words in err.problem, str(err)
    assert str(err) == f"lab.toml: {path}: {err.problem}"


def test_other_keys_are_left_to_pybgp_config() -> None:
    doc = {"global": {"asn": 1}, "neighbors": [{"address": "x", "remote_as": 1}], "zzz": 1}
    pols = parse_policies(doc, "f")
    assert not pols.policies and not pols.prefix_lists and not pols.neighbors


# --- caching ---------------------------------------------------------------------------

CACHED = """
[[prefix_lists]]
name = "vips"
entries = [{ prefix = "192.0.2.0/24", ge = 32 }]
[[policies]]
name = "p"
[[policies.terms]]
match = { prefix_list = "vips", communities_any = ["65000:80"] }
action = "accept"
set = { local_pref = 200 }
[[policies.terms]]
match = { communities_any = ["65000:80"] }
action = "accept"
set = { local_pref = 50 }
"""


def test_cache_same_attrs_different_prefix() -> None:
    pol = policy(CACHED)
    a = attrs(communities=("65000:80",))
    vip, other = P("192.0.2.1/32")[1], P("198.51.100.0/24")[1]
    r1 = pol.apply(1, 1, vip, a)
    r2 = pol.apply(1, 1, other, a)
    assert r1.attrs is not None and r1.attrs.local_pref == 200
    assert r2.attrs is not None and r2.attrs.local_pref == 50
    assert pol.cache_size == 1  # one plan for the attribute set, prefixes checked per route
    assert pol.apply(1, 1, vip, a) is r1 and pol.apply(1, 1, other, a) is r2
    # another family is another plan; the IPv6 route is in no prefix list
    r3 = pol.apply(2, 1, P("2001:db8::/32")[1], a)
    assert r3.attrs is not None and r3.attrs.local_pref == 50 and pol.cache_size == 2
    # an equal but distinct set is its own key, with the same verdicts
    b = attrs(communities=("65000:80",))
    assert b is not a and pol.apply(1, 1, vip, b) == r1 and pol.cache_size == 3
    # a different set gets its own verdict
    assert pol.apply(1, 1, vip, attrs()) is REJECTED


def test_outputs_are_shared() -> None:
    pol = policy(CACHED)
    a = attrs(communities=("65000:80",), local_pref=100)
    b = attrs(communities=("65000:80",), local_pref=120)
    ra = pol.apply(1, 1, P("192.0.2.1/32")[1], a)
    rb = pol.apply(1, 1, P("192.0.2.2/32")[1], b)
    assert ra.attrs is rb.attrs  # both became the same set: one object


def test_cache_limit_and_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_eval, "CACHE_LIMIT", 4)
    pol = policy(CACHED)
    sets = [attrs(communities=("65000:80",), med=i) for i in range(10)]
    for a in sets:
        assert pol.apply(1, 1, P("192.0.2.1/32")[1], a).accepted
        assert pol.cache_size <= 4
    pol.clear_cache()
    assert pol.cache_size == 0
    assert pol.apply(1, 1, P("192.0.2.1/32")[1], sets[0]).accepted


# --- docs ------------------------------------------------------------------------------


def test_docs_cover_every_key_and_examples_parse() -> None:
    text = DOCS.read_text()
    for table, keys in POLICY_KEYS.items():
        for key in keys:
            name = f"`[[{key}]]`" if not table else f"`{key}`"
            assert name in text, f"docs/policy.md lacks {table}.{key}"
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        parse_policies(tomllib.loads(block), "docs/policy.md")


# --- hypothesis ------------------------------------------------------------------------

NAMES = ["a", "b", "vips"]
VALUES: list[Any] = [
    "192.0.2.0/24", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", "::/0", "192.0.2.1/32",
    "198.18.0.0/16", "198.18.0.1", "2001:db8::1", "10.0.0.1/8", "x", "", "self",
    "65000:80", "65000:*", "*:*", "no-export", "65000:1:*", "*:*:1", "65000:1:5", "1:2:3:4",
    "^65101_", "_65000$", "^$", "(", ".*", "ipv4", "ipv6", "unicast", "multicast",
    "accept", "reject", "next", "a", "b", "vips",
    0, 1, 8, 16, 24, 32, 33, 64, 128, 129, 200, 65000, 65101, 23456, -1, 2**32, True, 1.5,
]  # fmt: skip
SCALAR = st.sampled_from(VALUES)
VALUE = st.one_of(SCALAR, SCALAR, st.lists(SCALAR, max_size=3), st.text(max_size=6))


def _tbl(kind: str, base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.one_of(*[st.sampled_from(POLICY_KEYS[kind])] * 4, st.text(min_size=1, max_size=5))
    return st.builds(lambda extra: {**base, **extra}, st.dictionaries(keys, VALUE, max_size=3))


ENTRY = st.one_of(SCALAR, _tbl("entry", {"prefix": "10.0.0.0/8"}))
PREFIX_LISTS = st.lists(
    st.builds(
        lambda name, entries, extra: {"name": name, "entries": entries, **extra},
        st.sampled_from(NAMES),
        st.lists(ENTRY, max_size=3),
        st.dictionaries(st.sampled_from(["size", "name"]), SCALAR, max_size=1),
    ),
    max_size=3,
)
TERM = st.builds(
    lambda action, m, s, extra: {"action": action, "match": m, "set": s, **extra},
    st.sampled_from(["accept", "next", "next", "reject", "x"]),
    _tbl("match", {}),
    _tbl("set", {}),
    st.dictionaries(st.sampled_from(["name", "extra"]), SCALAR, max_size=1),
).map(lambda t: {k: v for k, v in t.items() if not (k == "set" and t["action"] == "reject")})
POLICIES = st.lists(
    st.builds(
        lambda name, terms, default: {"name": name, "terms": terms, "default": default},
        st.sampled_from(NAMES),
        st.lists(TERM, max_size=4),
        st.sampled_from(["accept", "reject"]),
    ),
    max_size=3,
)
NEIGHBORS = st.lists(_tbl("neighbors", {"address": "192.0.2.2"}), max_size=2)
DOCS_ST = st.fixed_dictionaries(
    {}, optional={"prefix_lists": PREFIX_LISTS, "policies": POLICIES, "neighbors": NEIGHBORS}
)

PATHS = [(), (65101,), (65101, 65000), (65000, 65101), (1, 23456, 65101)]
COMMS = ["65000:80", "65000:1", "no-export", "1:80"]
ATTRS = st.builds(
    lambda path, comms, large, hop, lp: attrs(
        path=path,
        communities=tuple(comms),
        large=tuple(large),
        next_hop=hop if hop and ":" not in hop else None,
        mp_next_hop=hop if hop and ":" in hop else None,
        local_pref=lp,
    ),
    st.sampled_from(PATHS),
    st.lists(st.sampled_from(COMMS), max_size=3, unique=True),
    st.lists(st.sampled_from([(65000, 1, 5), (1, 2, 3)]), max_size=2, unique=True),
    st.sampled_from([None, "198.18.0.1", "192.0.2.1", "2001:db8::1"]),
    st.sampled_from([None, 100, 200]),
)


@st.composite
def _route(draw: st.DrawFn) -> tuple[int, int, int]:
    afi = draw(st.sampled_from([1, 2]))
    base = draw(
        st.sampled_from(["192.0.2.1", "10.1.2.3", "0.0.0.0"] if afi == 1 else ["2001:db8::1", "::"])
    )
    bits = 32 if afi == 1 else 128
    length = draw(st.integers(0, bits))
    net = int(ipaddress.ip_address(base)) & ~((1 << (bits - length)) - 1)
    return afi, draw(st.sampled_from([1, 2])), (net << 8) | length


@settings(max_examples=500, deadline=None)
@given(DOCS_ST, st.lists(ATTRS, min_size=1, max_size=3), st.lists(_route(), min_size=1, max_size=6))
def test_random_policies_raise_only_policy_error_and_always_decide(
    doc: dict[str, Any], sets: list[AttrSet], routes: list[tuple[int, int, int]]
) -> None:
    try:
        pols = parse_policies(doc, "fuzz.toml")
    except PolicyError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    candidates = [*pols.policies.values(), ACCEPT_ALL, REJECT_ALL]
    candidates += [pols.chain(list(pols.policies)), pols.chain(list(pols.policies)[::-1])]
    for pol in candidates:
        for i, (afi, safi, prefix) in enumerate(routes):
            a = sets[i % len(sets)]
            result = pol.apply(afi, safi, prefix, a)
            assert isinstance(result, PolicyResult)
            assert result.accepted is (result.attrs is not None)
            assert result == pol.evaluate(afi, safi, prefix, a)
            assert pol.apply(afi, safi, prefix, a) is result


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["as_path", "next_hop", "communities_any"]))
def test_random_match_strings_raise_only_policy_error(text: str, key: str) -> None:
    value: Any = [text] if key == "communities_any" else text
    doc = {"policies": [{"name": "p", "terms": [{"action": "accept", "match": {key: value}}]}]}
    try:
        pol = parse_policies(doc, "f").chain("p")
    except PolicyError:
        return
    assert isinstance(pol.apply(1, 1, P("10.0.0.0/8")[1], attrs()), PolicyResult)


# valid policies, to run the plan cache against the plain rules on many shapes
VALID_MATCH: dict[str, list[Any]] = {
    "prefix_list": ["a", ["a", "b"]],
    "communities_any": [["65000:80"], ["65000:*", "no-export"]],
    "communities_all": [["65000:80", "*:80"], ["65000:1"]],
    "large_communities_any": [["65000:1:*"], ["*:*:3"]],
    "large_communities_all": [["65000:1:5", "1:*:*"]],
    "as_path": ["^65101_", "_65000$", "^$", "_23456_"],
    "origin_as": [65101, [65000, 65101]],
    "next_hop": [["198.18.0.0/16"], "2001:db8::/32", ["192.0.2.1", "2001:db8::1"]],
    "next_hop_prefix_list": ["b"],
    "afi": ["ipv4", "ipv6"],
    "safi": ["unicast", "multicast"],
}
VALID_SET: dict[str, list[Any]] = {
    "local_pref": [50, 200],
    "med": [0, 10],
    "communities_add": [["65000:80"], ["65000:1", "no-export"]],
    "communities_remove": [["65000:*"], ["*:*"], ["no-export"]],
    "large_communities_add": [["65000:1:5"], ["9:9:9"]],
    "large_communities_remove": [["65000:*:*"], ["*:*:3"]],
    "as_path_prepend": [[65000], [65000, 65000]],
    "next_hop": ["self", "192.0.2.9", "2001:db8::9"],
}


def _valid_table(pools: dict[str, list[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.lists(st.sampled_from(sorted(pools)), max_size=3, unique=True)
    return keys.flatmap(
        lambda ks: st.fixed_dictionaries({k: st.sampled_from(pools[k]) for k in ks})
    )


VALID_TERM = st.builds(
    lambda action, m, s: (
        {"action": action, "match": m} | ({"set": s} if action != "reject" else {})
    ),
    st.sampled_from(["accept", "next", "next", "reject"]),
    _valid_table(VALID_MATCH),
    _valid_table(VALID_SET),
)
VALID_ENTRIES = st.lists(
    st.sampled_from(
        [
            "10.0.0.0/8",
            {"prefix": "192.0.2.0/24", "ge": 32},
            {"prefix": "192.0.2.0/24", "le": 28},
            {"prefix": "0.0.0.0/0", "ge": 8, "le": 24},
            {"prefix": "198.18.0.0/15", "le": 32},
            {"prefix": "2001:db8::/32", "le": 128},
            {"prefix": "::/0", "ge": 48, "le": 64},
        ]
    ),
    max_size=3,
)
VALID_DOC = st.builds(
    lambda la, lb, pols: {
        "prefix_lists": [{"name": "a", "entries": la}, {"name": "b", "entries": lb}],
        "policies": [
            {"name": f"p{i}", "terms": terms, "default": d} for i, (terms, d) in enumerate(pols)
        ],
    },
    VALID_ENTRIES,
    VALID_ENTRIES,
    st.lists(
        st.tuples(st.lists(VALID_TERM, max_size=5), st.sampled_from(["accept", "reject"])),
        min_size=1,
        max_size=3,
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    VALID_DOC, st.lists(ATTRS, min_size=1, max_size=4), st.lists(_route(), min_size=1, max_size=8)
)
def test_valid_policies_cache_agrees_with_the_rules(
    doc: dict[str, Any], sets: list[AttrSet], routes: list[tuple[int, int, int]]
) -> None:
    pols = parse_policies(doc, "valid.toml")
    names = list(pols.policies)
    for pol in [pols.chain(n) for n in names] + [pols.chain(names)]:
        for _ in range(2):  # the second round runs from the cache
            for i, (afi, safi, prefix) in enumerate(routes):
                a = sets[i % len(sets)]
                result = pol.apply(afi, safi, prefix, a)
                assert result == pol.evaluate(afi, safi, prefix, a)
                assert result.accepted is (result.attrs is not None)
