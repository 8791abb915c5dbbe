"""Compiled policy pieces: prefix tables, community patterns, AS path regexes, set actions.

How this works: everything here is built once, when the configuration is read, and then
only looked at.  A prefix list becomes a :class:`PrefixTable` per address family: one
dict per entry length ``L`` that maps the top ``L`` bits of an entry's network to a
bitmask of the route lengths it allows, plus, for each route length, the few levels
worth probing.  A route ``(network << 8) | length`` is then a handful of dict lookups
and shifts, with no address object.  A community pattern is ``(mask, value)`` over the
integer form (a large community is read as one 96-bit integer), so ``*`` is a zero
field in the mask.  An AS path regex is a Python regex over the rendered path, with
``_`` turned into a boundary.  :class:`Match` splits what a term tests into the part
that depends only on the attribute set and family (cached per interned ``AttrSet`` by
``policy_eval``) and the part that depends on the prefix.  :class:`Actions` turns one
attribute set into another, returning the very same object when nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pybgp.codec.attributes import AsPath, AttrSet, SegmentType

__all__ = [
    "BITS",
    "Verdict",
    "PrefixTable",
    "Patterns",
    "large_int",
    "render_as_path",
    "translate_as_path_regex",
    "origin_as",
    "next_hop_key",
    "Match",
    "Actions",
    "Term",
    "Stage",
    "NEVER",
]

BITS = {1: 32, 2: 128}
"""Address width per AFI (1 IPv4, 2 IPv6)."""


class Verdict(IntEnum):
    """What a matching term does: a term's ``action``."""

    ACCEPT = 1
    REJECT = 2
    NEXT = 3


class PrefixTable:
    """The entries of one or more prefix lists for one address family, compiled.

    An entry ``(network, length, lo, hi)`` matches a route whose first ``length`` bits
    equal the entry's and whose own length lies in ``lo..hi`` (``length <= lo``).
    """

    __slots__ = ("bits", "by_len")

    def __init__(self, bits: int, entries: Iterable[tuple[int, int, int, int]]) -> None:
        levels: dict[int, dict[int, int]] = {}
        for network, length, lo, hi in entries:
            allowed = ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
            level = levels.setdefault(length, {})
            top = network >> (bits - length)
            level[top] = level.get(top, 0) | allowed
        union = {length: _or(level.values()) for length, level in levels.items()}
        self.bits = bits
        self.by_len: tuple[tuple[tuple[int, dict[int, int]], ...], ...] = tuple(
            tuple(
                (bits - length, levels[length])
                for length in sorted(levels)
                if length <= plen and (union[length] >> plen) & 1
            )
            for plen in range(bits + 1)
        )

    def __contains__(self, prefix: int) -> bool:
        plen = prefix & 0xFF
        if plen > self.bits:
            return False
        network = prefix >> 8
        for shift, level in self.by_len[plen]:
            allowed = level.get(network >> shift)
            if allowed is not None and (allowed >> plen) & 1:
                return True
        return False


def _or(values: Iterable[int]) -> int:
    out = 0
    for v in values:
        out |= v
    return out


@dataclass(frozen=True, slots=True)
class Patterns:
    """Community patterns as ``(mask, value)``: ``c`` matches when ``c & mask == value``."""

    items: tuple[tuple[int, int], ...]

    def hit(self, value: int) -> bool:
        return any(value & mask == want for mask, want in self.items)

    def any_of(self, values: Iterable[int]) -> bool:
        return any(self.hit(v) for v in values)

    def all_of(self, values: Iterable[int]) -> bool:
        have = tuple(values)
        return all(any(v & mask == want for v in have) for mask, want in self.items)


def large_int(value: tuple[int, int, int]) -> int:
    """A large community ``(a, b, c)`` as one 96-bit integer, for :class:`Patterns`."""
    return (value[0] << 64) | (value[1] << 32) | value[2]


_OPEN: dict[int, str] = {
    SegmentType.AS_SET: "{",
    SegmentType.AS_CONFED_SEQUENCE: "(",
    SegmentType.AS_CONFED_SET: "[",
}
_CLOSE: dict[int, str] = {
    SegmentType.AS_SET: "}",
    SegmentType.AS_CONFED_SEQUENCE: ")",
    SegmentType.AS_CONFED_SET: "]",
}
_SEP: dict[int, str] = {SegmentType.AS_SET: ",", SegmentType.AS_CONFED_SET: ","}
BOUNDARY = r"(?:^|$|[ ,{}()\[\]])"
"""What ``_`` stands for in an AS path regex: an edge of the text or a delimiter."""


def render_as_path(path: AsPath | None) -> str:
    """``"65101 65000 {1,2}"``: AS_SEQUENCE spaced, AS_SET ``{a,b}``, confed ``(a b)``/``[a,b]``."""
    parts: list[str] = []
    for seg_type, asns in path or ():
        text = _SEP.get(seg_type, " ").join(map(str, asns))
        parts.append(_OPEN.get(seg_type, "") + text + _CLOSE.get(seg_type, ""))
    return " ".join(parts)


def translate_as_path_regex(text: str) -> str:
    """Replace each unescaped ``_`` outside a character class by :data:`BOUNDARY`."""
    out: list[str] = []
    i, n, in_class = 0, len(text), False
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not _class_start(text, i):
                in_class = False
        elif ch == "[":
            in_class = True
        elif ch == "_":
            ch = BOUNDARY
        out.append(ch)
        i += 1
    return "".join(out)


def _class_start(text: str, i: int) -> bool:
    """Whether ``]`` at ``i`` is the first character of its class (then it is literal)."""
    j = i - 1
    if j >= 0 and text[j] == "^":
        j -= 1
    return j >= 0 and text[j] == "[" and (j == 0 or text[j - 1] != "\\")


def origin_as(path: AsPath | None) -> int | None:
    """The origin AS: the last ASN when the path ends in an AS_SEQUENCE (RFC 6811 2)."""
    if not path:
        return None
    seg_type, asns = path[-1]
    return asns[-1] if seg_type == SegmentType.AS_SEQUENCE and asns else None


def next_hop_key(afi: int, attrs: AttrSet) -> tuple[int, int] | None:
    """The route's next hop as ``(afi, host prefix key)``, or None.

    An IPv4 route uses NEXT_HOP, else the MP_REACH next hop; other families use the
    MP_REACH next hop, else NEXT_HOP.  Of a 32-octet IPv6 next hop the global
    address (the first 16 octets, RFC 2545 3) counts.
    """
    first, second = (
        (attrs.next_hop, attrs.mp_next_hop) if afi == 1 else (attrs.mp_next_hop, attrs.next_hop)
    )
    nh = first if first is not None else second
    if nh is None:
        return None
    if len(nh) == 4:
        return 1, (int.from_bytes(nh, "big") << 8) | 32
    if len(nh) in (16, 32):
        return 2, (int.from_bytes(nh[:16], "big") << 8) | 128
    return None


def _never(prefix: int) -> bool:
    return False


NEVER: Callable[[int], bool] = _never
"""The prefix check of a term that cannot match a family at all."""


@dataclass(frozen=True, slots=True, eq=False)
class Match:
    """What a term tests; every field that is set must match (None: not tested)."""

    prefixes: dict[int, PrefixTable] | None = None
    """Route prefix in one of the named prefix lists, per AFI."""
    communities_any: Patterns | None = None
    communities_all: Patterns | None = None
    large_any: Patterns | None = None
    large_all: Patterns | None = None
    as_path: re.Pattern[str] | None = None
    origin_as: frozenset[int] | None = None
    next_hop: dict[int, PrefixTable] | None = None
    """Next hop inside one of these networks, per AFI of the next hop."""
    next_hop_list: dict[int, PrefixTable] | None = None
    """Next hop, as a host prefix, in a prefix list, per AFI of the next hop."""
    afi: int | None = None
    safi: int | None = None

    def attrs_match(self, afi: int, safi: int, attrs: AttrSet) -> bool:
        """The prefix-independent part: family and attributes."""
        if self.afi is not None and afi != self.afi:
            return False
        if self.safi is not None and safi != self.safi:
            return False
        if self.origin_as is not None and origin_as(attrs.as_path) not in self.origin_as:
            return False
        if self.next_hop is not None and not _nh_in(self.next_hop, afi, attrs):
            return False
        if self.next_hop_list is not None and not _nh_in(self.next_hop_list, afi, attrs):
            return False
        if self.communities_any is not None and not self.communities_any.any_of(attrs.communities):
            return False
        if self.communities_all is not None and not self.communities_all.all_of(attrs.communities):
            return False
        if self.large_any is not None or self.large_all is not None:
            large = [large_int(c) for c in attrs.large_communities]
            if self.large_any is not None and not self.large_any.any_of(large):
                return False
            if self.large_all is not None and not self.large_all.all_of(large):
                return False
        return self.as_path is None or bool(self.as_path.search(render_as_path(attrs.as_path)))

    def prefix_check(self, afi: int) -> Callable[[int], bool] | None:
        """The prefix-dependent part for ``afi``: None (any prefix), NEVER, or a test."""
        if self.prefixes is None:
            return None
        table = self.prefixes.get(afi)
        return NEVER if table is None else table.__contains__


def _nh_in(tables: dict[int, PrefixTable], afi: int, attrs: AttrSet) -> bool:
    key = next_hop_key(afi, attrs)
    if key is None:
        return False
    table = tables.get(key[0])
    return table is not None and key[1] in table


@dataclass(frozen=True, slots=True, eq=False)
class Actions:
    """What a term sets.  Removals happen before additions."""

    local_pref: int | None = None
    med: int | None = None
    communities_remove: Patterns | None = None
    communities_add: tuple[int, ...] = ()
    large_remove: Patterns | None = None
    large_add: tuple[tuple[int, int, int], ...] = ()
    as_path_prepend: tuple[int, ...] = ()
    next_hop: bytes | None = None
    """A packed address: 4 octets (IPv4) or 16 (IPv6)."""
    next_hop_self: bool = False

    def apply(self, afi: int, attrs: AttrSet) -> AttrSet:
        """``attrs`` with the changes; ``attrs`` itself when nothing differs."""
        changes: dict[str, Any] = {}
        if self.local_pref is not None and attrs.local_pref != self.local_pref:
            changes["local_pref"] = self.local_pref
        if self.med is not None and attrs.med != self.med:
            changes["med"] = self.med
        if self.communities_remove is not None or self.communities_add:
            comms = _edit(attrs.communities, self.communities_remove, self.communities_add, int)
            if comms != attrs.communities:
                changes["communities"] = comms
        if self.large_remove is not None or self.large_add:
            large = _edit(attrs.large_communities, self.large_remove, self.large_add, large_int)
            if large != attrs.large_communities:
                changes["large_communities"] = large
        if self.as_path_prepend:
            changes["as_path"] = _prepend(attrs.as_path, self.as_path_prepend)
        if self.next_hop is not None:
            changes.update(_next_hop(afi, attrs, self.next_hop))
        return attrs.replace(**changes) if changes else attrs


def _edit(
    values: tuple[Any, ...],
    remove: Patterns | None,
    add: tuple[Any, ...],
    as_int: Callable[[Any], int],
) -> tuple[Any, ...]:
    kept = [v for v in values if not remove.hit(as_int(v))] if remove is not None else list(values)
    kept.extend(v for v in add if v not in kept)
    return tuple(kept)


def _prepend(path: AsPath | None, asns: tuple[int, ...]) -> AsPath:
    """Prepend into the leading AS_SEQUENCE, or in front of the path as a new one."""
    path = path or ()
    seq = int(SegmentType.AS_SEQUENCE)  # plain ints, as the decoder produces
    if path and path[0][0] == seq:
        return ((seq, asns + path[0][1]), *path[1:])
    return ((seq, asns), *path)


def _next_hop(afi: int, attrs: AttrSet, nh: bytes) -> dict[str, Any]:
    """As the speaker builds routes: an IPv4 route with an IPv4 next hop uses NEXT_HOP,
    anything else MP_REACH (RFC 4760), an IPv4 address for a non-IPv4 route mapped to
    ``::ffff:a.b.c.d`` (RFC 4291 2.5.5.2) and an IPv6 one for an IPv4 route per RFC 8950.
    """
    if afi == 1:
        if len(nh) == 4:
            return (
                {"next_hop": nh, "mp_next_hop": None}
                if attrs.next_hop != nh or attrs.mp_next_hop
                else {}
            )
        return (
            {"next_hop": None, "mp_next_hop": nh}
            if attrs.mp_next_hop != nh or attrs.next_hop
            else {}
        )
    if len(nh) == 4:
        nh = b"\x00" * 10 + b"\xff\xff" + nh
    return {"mp_next_hop": nh} if attrs.mp_next_hop != nh else {}


@dataclass(frozen=True, slots=True, eq=False)
class Term:
    """One ``[[policies.terms]]`` entry, compiled."""

    name: str
    match: Match
    verdict: Verdict
    actions: Actions


@dataclass(frozen=True, slots=True, eq=False)
class Stage:
    """One named policy in a chain: its terms, then its default."""

    name: str
    terms: tuple[Term, ...]
    default_accept: bool
