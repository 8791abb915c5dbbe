"""Reading ``[[prefix_lists]]``, ``[[policies]]`` and the neighbors' policy keys from TOML.

How this works: ``parse_policies`` takes the dict ``tomllib`` already produced and reads
only its own keys: ``prefix_lists``, ``policies`` and ``import_policy``/``export_policy``
inside each ``[[neighbors]]`` entry (``pybgp.config`` checks everything else).  As in
``pybgp.config``, one ``_Table`` wraps each TOML table on the way down, rejects keys it
does not know (naming the closest valid one) and hands out typed values; every problem
is a :class:`PolicyError` (a ``ConfigError``) naming the key path, e.g.
``policies[0].terms[1].match.prefix_list``.  Prefix lists are read first, then the
policies, which refer to them by name, then the neighbors, which refer to policies.
Addresses and prefixes go through ``ipaddress`` here, once; what comes out is compiled
(``policy_match``) and holds only ints.  The schema is documented in docs/policy.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, NoReturn, TypeVar

from pybgp.codec.communities import parse_community, parse_large
from pybgp.codec.nlri import format_prefix, parse_prefix
from pybgp.config import ConfigError, TomlTable, type_name

from .policy_eval import Policy
from .policy_match import (
    BITS,
    Actions,
    Match,
    Patterns,
    PrefixTable,
    Stage,
    Term,
    Verdict,
    large_int,
    translate_as_path_regex,
)

__all__ = [
    "PolicyError",
    "PrefixListEntry",
    "PrefixList",
    "NeighborPolicies",
    "Policies",
    "POLICY_KEYS",
    "parse_policies",
]

T = TypeVar("T")
U32 = 0xFFFFFFFF
AS_TRANS = 23456
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_FAMILY_NAMES = {1: "IPv4", 2: "IPv6"}

_MATCH_KEYS = """prefix_list communities_any communities_all large_communities_any
    large_communities_all as_path origin_as next_hop next_hop_prefix_list afi safi"""
_SET_KEYS = """local_pref med communities_add communities_remove large_communities_add
    large_communities_remove as_path_prepend next_hop"""
POLICY_KEYS: dict[str, tuple[str, ...]] = {
    "": ("prefix_lists", "policies"),
    "prefix_lists": ("name", "entries"),
    "entry": ("prefix", "ge", "le"),
    "policies": ("name", "terms", "default"),
    "terms": ("name", "match", "action", "set"),
    "match": tuple(_MATCH_KEYS.split()),
    "set": tuple(_SET_KEYS.split()),
    "neighbors": ("import_policy", "export_policy"),
}
"""The keys this module reads, per table (``""`` is the top level; ``entry`` a list entry)."""
_WHERE = {
    "prefix_lists": "in [[prefix_lists]]",
    "entry": "in a prefix list entry",
    "policies": "in [[policies]]",
    "terms": "in [[policies.terms]]",
    "match": "in a term's match",
    "set": "in a term's set",
}
VERDICTS = {"accept": Verdict.ACCEPT, "reject": Verdict.REJECT, "next": Verdict.NEXT}
AFIS = {"ipv4": 1, "ipv6": 2}
SAFIS = {"unicast": 1, "multicast": 2}


class PolicyError(ConfigError):
    """A bad policy setting: ``"<file>: <key path>: <problem>"``, like any ConfigError."""


@dataclass(frozen=True, slots=True)
class PrefixListEntry:
    """One entry: routes inside ``prefix`` whose length is in ``ge..le``."""

    afi: int
    prefix: int
    """``(network << 8) | length``, as ``pybgp.codec.nlri`` keys prefixes."""
    ge: int
    le: int

    def __str__(self) -> str:
        return f"{format_prefix(self.prefix, self.afi)} ge {self.ge} le {self.le}"


@dataclass(frozen=True, slots=True, eq=False)
class PrefixList:
    """A named ``[[prefix_lists]]`` entry, compiled per address family."""

    name: str
    entries: tuple[PrefixListEntry, ...]
    tables: dict[int, PrefixTable] = field(repr=False)

    def matches(self, afi: int, prefix: int) -> bool:
        table = self.tables.get(afi)
        return table is not None and prefix in table


@dataclass(frozen=True, slots=True)
class NeighborPolicies:
    """A neighbor's configured chains; None: not configured (see ``effective_policy``)."""

    import_policy: Policy | None = None
    export_policy: Policy | None = None


_NONE = NeighborPolicies()


@dataclass(frozen=True, slots=True, eq=False)
class Policies:
    """Everything ``parse_policies`` read."""

    prefix_lists: Mapping[str, PrefixList]
    policies: Mapping[str, Policy]
    neighbors: Mapping[str, NeighborPolicies]
    """By canonical neighbor address."""
    _chains: dict[tuple[str, ...], Policy] = field(default_factory=dict, repr=False)

    def chain(self, names: str | Sequence[str]) -> Policy:
        """The named policies applied in order, as one shared Policy (KeyError if unknown)."""
        key = (names,) if isinstance(names, str) else tuple(names)
        if len(key) == 1:
            return self.policies[key[0]]
        policy = self._chains.get(key)
        if policy is None:
            policy = Policy(",".join(key), [s for n in key for s in self.policies[n].stages])
            self._chains[key] = policy
        return policy

    def for_neighbor(self, address: str) -> NeighborPolicies:
        try:
            key = str(ipaddress.ip_address(address))
        except ValueError:
            return _NONE
        return self.neighbors.get(key, _NONE)


def parse_policies(doc: Mapping[str, Any], source: str = "<string>") -> Policies:
    """Read the policy keys of a loaded TOML document; :class:`PolicyError` on any problem."""
    top = _Table(source, "", doc, "", strict=False)  # pybgp.config checks the top level
    lists: dict[str, PrefixList] = {}
    for t in top.tables("prefix_lists"):
        name = t.name("name", lists, "a prefix list")
        lists[name] = _prefix_list(t, name)
    reader = _PolicyReader(lists)
    named: dict[str, Policy] = {}
    for t in top.tables("policies"):
        name = t.name("name", named, "a policy")
        named[name] = Policy(name, (reader.stage(t, name),))
    policies = Policies(lists, named, {})
    neighbors: dict[str, NeighborPolicies] = {}
    for t in top.tables("neighbors", strict=False):
        imp = _chain(t, "import_policy", policies)
        exp = _chain(t, "export_policy", policies)
        address = t.data.get("address")
        try:
            key = str(ipaddress.ip_address(address)) if isinstance(address, str) else None
        except ValueError:
            key = None  # pybgp.config reports a bad address
        if key is not None and key not in neighbors and (imp or exp):
            neighbors[key] = NeighborPolicies(imp, exp)
    return Policies(lists, named, neighbors, policies._chains)


def _chain(t: _Table, key: str, policies: Policies) -> Policy | None:
    names = t.names(key)
    if names is None:
        return None
    for i, n in enumerate(names):
        path = key if isinstance(t.data[key], str) else f"{key}[{i}]"
        if n not in policies.policies:
            t.fail(path, _undefined("policy", n, policies.policies))
    return policies.chain(names)


def _undefined(what: str, name: str, known: Mapping[str, object]) -> str:
    close = get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    else:
        hint = f"; defined: {', '.join(map(repr, known))}" if known else " (none are defined)"
    return f"{what} {name!r} is not defined{hint}"


# --- prefix lists --------------------------------------------------------------------


def _prefix_list(t: _Table, name: str) -> PrefixList:
    entries = tuple(_entry(e) for e in t.entry_tables("entries"))
    by_afi: dict[int, list[tuple[int, int, int, int]]] = {}
    for e in entries:
        length = e.prefix & 0xFF
        by_afi.setdefault(e.afi, []).append((e.prefix >> 8, length, e.ge, e.le))
    tables = {afi: PrefixTable(BITS[afi], rows) for afi, rows in by_afi.items()}
    return PrefixList(name, entries, tables)


def _entry(t: _Table) -> PrefixListEntry:
    afi, prefix = t.prefix("prefix")
    length, bits = prefix & 0xFF, BITS[afi]
    family = _FAMILY_NAMES[afi]
    ge = t.integer("ge", 0, 255)
    le = t.integer("le", 0, 255)
    where = f"the prefix length {length} of {format_prefix(prefix, afi)}"
    for key, value in (("ge", ge), ("le", le)):
        if value is not None and value < length:
            t.fail(key, f"{value} is below {where}")
        if value is not None and value > bits:
            t.fail(key, f"{value} is above {bits}, the longest {family} prefix")
    if ge is not None and le is not None and le < ge:
        t.fail("le", f"{le} is below ge {ge}")
    lo = length if ge is None else ge
    hi = le if le is not None else (bits if ge is not None else length)
    return PrefixListEntry(afi, prefix, lo, hi)


# --- policies ------------------------------------------------------------------------


class _PolicyReader:
    def __init__(self, lists: Mapping[str, PrefixList]) -> None:
        self.lists = lists
        self.tables: dict[tuple[str, ...], dict[int, PrefixTable]] = {}

    def stage(self, t: _Table, name: str) -> Stage:
        terms: list[Term] = []
        seen: dict[str, int] = {}
        for i, tt in enumerate(t.tables("terms")):
            term_name = tt.text("name") or f"#{i}"
            if tt.text("name") is not None:
                if not tt.text("name"):
                    tt.fail("name", "is empty")
                if term_name in seen:
                    tt.fail(
                        "name", f"{term_name!r} is already a term (at terms[{seen[term_name]}])"
                    )
                seen[term_name] = i
            terms.append(self.term(tt, term_name))
        default = t.choice("default", {"accept": True, "reject": False}, "reject")
        return Stage(name, tuple(terms), default == "accept")

    def term(self, t: _Table, name: str) -> Term:
        verdict = VERDICTS[t.choice("action", VERDICTS, required=True)]
        m = t.table("match", "match")
        s = t.table("set", "set")
        if s is not None and verdict == Verdict.REJECT:
            t.fail("set", 'has no effect with action = "reject"')
        return Term(
            name,
            self.match(m) if m is not None else Match(),
            verdict,
            _actions(s) if s is not None else Actions(),
        )

    def match(self, t: _Table) -> Match:
        names = t.names("prefix_list")
        nh_list = t.text("next_hop_prefix_list")
        as_path = t.text("as_path")
        origin = t.int_or_list("origin_as", _check_asn)
        afi = t.choice("afi", AFIS)
        safi = t.choice("safi", SAFIS)
        return Match(
            prefixes=self.prefix_tables(t, "prefix_list", names) if names is not None else None,
            communities_any=t.patterns("communities_any", _community_pattern),
            communities_all=t.patterns("communities_all", _community_pattern),
            large_any=t.patterns("large_communities_any", _large_pattern),
            large_all=t.patterns("large_communities_all", _large_pattern),
            as_path=_regex(t, as_path) if as_path is not None else None,
            origin_as=frozenset(origin) if origin is not None else None,
            next_hop=_networks(t, "next_hop"),
            next_hop_list=(
                self.prefix_tables(t, "next_hop_prefix_list", (nh_list,))
                if nh_list is not None
                else None
            ),
            afi=AFIS[afi] if afi is not None else None,
            safi=SAFIS[safi] if safi is not None else None,
        )

    def prefix_tables(self, t: _Table, key: str, names: tuple[str, ...]) -> dict[int, PrefixTable]:
        for i, n in enumerate(names):
            if n not in self.lists:
                path = key if isinstance(t.data[key], str) else f"{key}[{i}]"
                t.fail(path, _undefined("prefix list", n, self.lists))
        if len(names) == 1:
            return self.lists[names[0]].tables
        tables = self.tables.get(names)
        if tables is None:
            by_afi: dict[int, list[tuple[int, int, int, int]]] = {}
            for n in names:
                for e in self.lists[n].entries:
                    row = (e.prefix >> 8, e.prefix & 0xFF, e.ge, e.le)
                    by_afi.setdefault(e.afi, []).append(row)
            tables = {afi: PrefixTable(BITS[afi], rows) for afi, rows in by_afi.items()}
            self.tables[names] = tables
        return tables


def _actions(t: _Table) -> Actions:
    nh_text = t.text("next_hop")
    nh: bytes | None = None
    if nh_text is not None and nh_text != "self":
        try:
            ip = ipaddress.ip_address(nh_text.strip())
        except ValueError:
            t.fail("next_hop", f'{nh_text!r} is not "self" or an IPv4 or IPv6 address')
        if ip.is_multicast or ip.is_unspecified:
            t.fail("next_hop", f"{ip} is not a unicast address")
        nh = ip.packed
    prepend = t.asn_list("as_path_prepend")
    if "as_path_prepend" in t.data and not prepend:
        t.fail("as_path_prepend", "is empty")
    return Actions(
        local_pref=t.integer("local_pref", 0, U32),
        med=t.integer("med", 0, U32),
        communities_remove=t.patterns("communities_remove", _community_pattern),
        communities_add=t.values("communities_add", _no_wild(parse_community)),
        large_remove=t.patterns("large_communities_remove", _large_pattern),
        large_add=t.values("large_communities_add", _no_wild(parse_large)),
        as_path_prepend=prepend,
        next_hop=nh,
        next_hop_self=nh_text == "self",
    )


def _no_wild(parse: Callable[[str], T]) -> Callable[[str], T]:
    def check(text: str) -> T:
        if "*" in text:
            raise ValueError(f"{text!r}: wildcards are for matching and removing, not adding")
        return parse(text)

    return check


def _community_pattern(text: str) -> tuple[int, int]:
    """``"65000:80"``, a well-known name, or ``*`` in either half -> ``(mask, value)``."""
    if "*" not in text:
        return 0xFFFFFFFF, parse_community(text)
    parts = text.strip().split(":")
    if len(parts) != 2 or not all(p == "*" or (p.isdigit() and int(p) <= 0xFFFF) for p in parts):
        raise ValueError(
            f"not a community pattern: {text!r} (want ASN:VALUE, each 0-65535 or *, or a name)"
        )
    return _fields(parts, 16)


def _large_pattern(text: str) -> tuple[int, int]:
    """``"65000:1:2"`` or with ``*`` in any field -> ``(mask, value)`` over 96 bits."""
    if "*" not in text:
        return (1 << 96) - 1, large_int(parse_large(text))
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p == "*" or (p.isdigit() and int(p) <= U32) for p in parts):
        raise ValueError(
            f"not a large community pattern: {text!r} (want A:B:C, each 0-4294967295 or *)"
        )
    return _fields(parts, 32)


def _fields(parts: list[str], width: int) -> tuple[int, int]:
    mask = value = 0
    full = (1 << width) - 1
    for p in parts:
        mask, value = mask << width, value << width
        if p != "*":
            mask |= full
            value |= int(p)
    return mask, value


def _regex(t: _Table, text: str) -> re.Pattern[str]:
    try:
        return re.compile(translate_as_path_regex(text))
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        t.fail("as_path", f"bad regular expression {text!r}: {exc}")


def _networks(t: _Table, key: str) -> dict[int, PrefixTable] | None:
    """``next_hop`` in a match: addresses or CIDRs, as tables of host routes."""
    raw = t.data.get(key)
    if raw is None:
        return None
    items = t.str_or_list(key)
    by_afi: dict[int, list[tuple[int, int, int, int]]] = {}
    for i, text in enumerate(items):
        path = key if isinstance(raw, str) else f"{key}[{i}]"
        try:
            net = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            t.fail(path, f"{text!r} is not an address or a network ({exc})")
        afi = 1 if net.version == 4 else 2
        bits = BITS[afi]
        by_afi.setdefault(afi, []).append(
            (int(net.network_address), net.prefixlen, net.prefixlen, bits)
        )
    return {afi: PrefixTable(BITS[afi], rows) for afi, rows in by_afi.items()}


def _check_asn(value: int) -> str | None:
    if not 1 <= value <= U32:
        return f"AS number {value} is out of range 1..{U32}"
    if value == AS_TRANS:
        return f"{AS_TRANS} is AS_TRANS (RFC 6793), not a usable AS number"
    return None


# --- the TOML reader -----------------------------------------------------------------


class _Table(TomlTable):
    """A policy table; every getter raises PolicyError naming the key path."""

    KEYS = POLICY_KEYS
    WHERE = _WHERE
    ERROR = PolicyError

    def __init__(
        self, source: str, path: str, data: Mapping[str, Any], kind: str, strict: bool = True
    ) -> None:
        if strict:
            super().__init__(source, path, data, kind)
        else:
            self.source, self.path, self.data = source, path, data

    def table(self, key: str, kind: str) -> _Table | None:
        value = self.get(key, dict)
        if value is None:
            return None
        return _Table(self.source, f"{self.path}.{key}" if self.path else key, value, kind)

    def tables(self, key: str, strict: bool = True) -> list[_Table]:
        return self._tables(key, key, f"an array of tables ([[{key}]])", strict)

    def entry_tables(self, key: str) -> list[_Table]:
        """``entries``: tables, or plain prefix strings (an exact match)."""
        items = self.get(key, list, required=True)
        out: list[_Table] = []
        for i, item in enumerate(items):
            path = f"{self.path}.{key}[{i}]"
            if type(item) is str:
                out.append(_StringEntry(self.source, path, item))
                continue
            if type(item) is not dict:
                self.fail(
                    f"{key}[{i}]", f"expected a table or a prefix string, got {type_name(item)}"
                )
            out.append(_Table(self.source, path, item, "entry"))
        return out

    def _tables(self, key: str, kind: str, want: str, strict: bool) -> list[_Table]:
        value = self.data.get(key)
        if value is None:
            return []
        if type(value) is not list:
            self.fail(key, f"expected {want}, got {type_name(value)}")
        out: list[_Table] = []
        for i, item in enumerate(value):
            path = f"{self.path}.{key}[{i}]" if self.path else f"{key}[{i}]"
            if type(item) is not dict:
                self.fail(f"{key}[{i}]", f"expected a table ([[{key}]]), got {type_name(item)}")
            out.append(_Table(self.source, path, item, kind, strict))
        return out

    def name(self, key: str, seen: Mapping[str, object], what: str) -> str:
        value: str = self.get(key, str, required=True)
        if not _NAME.match(value):
            self.fail(key, f"{value!r} is not a name (letters, digits, '_.:-', at most 64)")
        if value in seen:
            self.fail(key, f"{value!r} is already {what}")
        return value

    def text(self, key: str) -> str | None:
        value: str | None = self.get(key, str)
        return value

    def integer(self, key: str, lo: int, hi: int) -> int | None:
        value: int | None = self.get(key, int)
        if value is not None and not lo <= value <= hi:
            self.fail(key, f"{value} is out of range {lo}..{hi}")
        return value

    def choice(
        self,
        key: str,
        choices: Mapping[str, object],
        default: str | None = None,
        required: bool = False,
    ) -> Any:
        value: str | None = self.get(key, str, required)
        if value is not None and value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
        return default if value is None else value

    def str_or_list(self, key: str) -> list[str]:
        value = self.data[key]
        if type(value) is str:
            return [value]
        if type(value) is not list:
            self.fail(key, f"expected a string or an array of strings, got {type_name(value)}")
        if not value:
            self.fail(key, "is empty")
        for i, v in enumerate(value):
            if type(v) is not str:
                self.fail(f"{key}[{i}]", f"expected a string, got {type_name(v)}")
        return list(value)

    def names(self, key: str) -> tuple[str, ...] | None:
        """A name or a list of names (no repeats)."""
        if self.data.get(key) is None:
            return None
        items = self.str_or_list(key)
        for i, v in enumerate(items):
            if v in items[:i]:
                self.fail(f"{key}[{i}]", f"{v!r} is listed twice")
        return tuple(items)

    def values(self, key: str, parse: Callable[[str], T]) -> tuple[T, ...]:
        value = self.get(key, list)
        out: list[T] = []
        for i, v in enumerate(value or ()):
            if type(v) is not str:
                self.fail(f"{key}[{i}]", f"expected a string, got {type_name(v)}")
            try:
                out.append(parse(v))
            except ValueError as exc:
                self.fail(f"{key}[{i}]", str(exc))
        if value is not None and not out:
            self.fail(key, "is empty")
        return tuple(out)

    def patterns(self, key: str, parse: Callable[[str], tuple[int, int]]) -> Patterns | None:
        items = self.values(key, parse)
        return Patterns(tuple(dict.fromkeys(items))) if items else None

    def int_or_list(self, key: str, check: Callable[[int], str | None]) -> tuple[int, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        items = [value] if type(value) is int else value
        if type(items) is not list:
            self.fail(key, f"expected an integer or an array of integers, got {type_name(value)}")
        if not items:
            self.fail(key, "is empty")
        for i, v in enumerate(items):
            path = key if type(value) is int else f"{key}[{i}]"
            if type(v) is not int:
                self.fail(path, f"expected an integer, got {type_name(v)}")
            problem = check(v)
            if problem is not None:
                self.fail(path, problem)
        return tuple(items)

    def asn_list(self, key: str) -> tuple[int, ...]:
        values = self.get(key, list) or []
        for i, v in enumerate(values):
            if type(v) is not int:
                self.fail(f"{key}[{i}]", f"expected an integer, got {type_name(v)}")
            problem = _check_asn(v)
            if problem is not None:
                self.fail(f"{key}[{i}]", problem)
        return tuple(values)

    def prefix(self, key: str) -> tuple[int, int]:
        text: str = self.get(key, str, required=True)
        return _parse_prefix(self, key, text)


class _StringEntry(_Table):
    """An entry written as a plain string: its key path is the array element itself."""

    def __init__(self, source: str, path: str, text: str) -> None:
        super().__init__(source, path, {"prefix": text}, "entry", strict=False)

    def fail(self, key: str, problem: str) -> NoReturn:
        raise PolicyError(self.source, self.path, problem)


def _parse_prefix(t: _Table, key: str, text: str) -> tuple[int, int]:
    try:
        afi, prefix = parse_prefix(text)
    except ValueError as exc:
        t.fail(key, str(exc))
    canonical = format_prefix(prefix, afi)
    if "/" not in text:
        t.fail(key, f"{text!r} has no length; did you mean {canonical!r}?")
    try:
        ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        t.fail(key, f"{text!r} has host bits set; did you mean {canonical!r}?")
    return afi, prefix
