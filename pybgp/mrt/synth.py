"""A synthetic full table as TABLE_DUMP_V2 (RFC 6396 4.3), for benchmarks and tests.

How this works: everything comes from one ``random.Random(seed)`` and a fixed
timestamp, so a seed gives the same bytes on every run.  The table is what one peer
of a route collector sends: a PEER_INDEX_TABLE with one peer, then one
RIB_IPV4_UNICAST (or RIB_IPV6_UNICAST) record per prefix, in address order, each with
one entry.  Prefix lengths follow the Internet's mix (/24 and /48 dominate).  Routes
share attribute sets the way real ones do: a prefix takes a new set with probability
``NEW_SET``, the set of the prefix before it (same origin, same policy) with
probability ``SAME_AS_PREVIOUS``, and otherwise the set of a random earlier prefix, so
popular sets get more popular.  Each distinct set is encoded once (with
:func:`~pybgp.mrt.writer.encode_rib_attributes`) and its bytes are reused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from struct import pack
from typing import BinaryIO

from ..codec.attributes import AttrSet
from .records import Peer, PeerIndexTable
from .writer import MrtWriter, encode_rib_attributes, mrt_header

__all__ = ["SynthStats", "synthesize", "TIMESTAMP", "PEER_AS", "MAX_PREFIXES"]

TIMESTAMP = 1_700_000_000
"""The dump time of every synthetic table (no clock is read)."""
PEER_AS = 65000
PEER_IPV4 = bytes((198, 18, 0, 1))
PEER_IPV6 = bytes.fromhex("fd000000000000000000000000000001")
COLLECTOR_ID = bytes((198, 18, 0, 254))
MAX_PREFIXES = 10_000_000
NEW_SET = 0.30
SAME_AS_PREVIOUS = 0.20

# Prefix-length mix of the IPv4 and IPv6 default-free zone (share in percent).
_V4_LENGTHS = {
    24: 60.0, 22: 11.5, 23: 10.5, 20: 5.0, 21: 4.8, 16: 2.8, 19: 2.4, 18: 1.4,
    17: 0.9, 15: 0.3, 14: 0.2, 13: 0.12, 12: 0.08, 11: 0.04, 10: 0.03, 9: 0.015, 8: 0.01,
}  # fmt: skip
_V6_LENGTHS = {
    48: 47.0, 32: 11.0, 44: 8.0, 40: 6.0, 36: 3.5, 29: 3.5, 47: 3.0, 46: 2.5, 45: 2.0,
    42: 2.0, 33: 1.5, 38: 1.2, 34: 1.0, 39: 1.0, 41: 1.0, 43: 1.0, 30: 0.8, 35: 0.6,
    37: 0.5, 31: 0.5, 28: 0.5, 27: 0.2, 64: 0.2, 26: 0.1, 24: 0.1, 20: 0.05,
}  # fmt: skip
# IPv6 unicast space as allocated: the RIR /12s and 2001::/16, as (first 16 bits, /bits).
_V6_BLOCKS = ((0x2001, 16), (0x2400, 12), (0x2600, 12), (0x2800, 12), (0x2A00, 12), (0x2C00, 12))
_V4_RESERVED_FIRST_OCTET = frozenset({0, 10, 127})  # this network, private, loopback
_V4_FIRST_OCTETS = tuple(o for o in range(1, 224) if o not in _V4_RESERVED_FIRST_OCTET)


@dataclass(frozen=True, slots=True)
class SynthStats:
    """What ``synthesize`` wrote."""

    prefixes: int
    attribute_sets: int
    """Distinct attribute sets used by the RIB entries."""
    bytes_written: int


def _prefixes(rng: random.Random, count: int, ipv6: bool) -> list[int]:
    """``count`` distinct prefix keys, ``(network << 8) | length``, in address order."""
    table = _V6_LENGTHS if ipv6 else _V4_LENGTHS
    lengths, weights = list(table), list(table.values())
    bits = 128 if ipv6 else 32
    seen: set[int] = set()
    getrandbits, choice = rng.getrandbits, rng.choice
    while len(seen) < count:
        need = count - len(seen)
        for plen in rng.choices(lengths, weights, k=need + need // 16 + 16):
            if ipv6:
                top, top_bits = choice(_V6_BLOCKS)
                net = (top << 112) | getrandbits(128 - top_bits)
            else:
                net = (choice(_V4_FIRST_OCTETS) << 24) | getrandbits(24)
            net &= ((1 << plen) - 1) << (bits - plen)
            seen.add((net << 8) | plen)
            if len(seen) == count:
                break
    return sorted(seen)


class _AsnDraw:
    """Draws AS paths over tens of thousands of ASNs, with a transit hierarchy."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        asns: set[int] = set()
        while len(asns) < 60_000:
            if rng.random() < 0.2:  # RFC 6793 4-octet ASNs, as assigned since 2007
                asns.add(rng.randrange(131072, 402000))
            else:
                asn = rng.randrange(1, 64496)
                if asn != 23456:  # AS_TRANS
                    asns.add(asn)
        universe = sorted(asns)
        rng.shuffle(universe)
        self.tier1 = universe[:15]
        self.transit = universe[15:2000]
        self.edge = universe[2000:]

    def path(self) -> tuple[int, ...]:
        """An AS_SEQUENCE from the peer to the origin, 1 to 10 ASNs long."""
        rng = self.rng
        hops = rng.choices((1, 2, 3, 4, 5, 6, 7, 8), (3, 14, 30, 27, 14, 7, 3, 2))[0]
        path = [PEER_AS]
        if hops >= 2:
            path.append(rng.choice(self.tier1))
        for _ in range(hops - 3):
            path.append(rng.choice(self.transit))
        if hops >= 3:
            path.append(rng.choice(self.edge))
        if hops >= 2 and rng.random() < 0.08:  # the origin prepends
            path.extend([path[-1]] * rng.randint(1, 3))
        return tuple(path[:10])


def _attr_set(rng: random.Random, draw: _AsnDraw, ipv6: bool) -> AttrSet:
    path = draw.path()
    r = rng.random()
    origin = 0 if r < 0.88 else (2 if r < 0.995 else 1)
    med = None
    if rng.random() < 0.3:
        med = rng.choice((0, 0, 10, 100, 1000, rng.randrange(1 << 16)))
    peer16 = [a for a in path if a <= 0xFFFF]
    ncomm = rng.choices((0, 1, 2, 3, 4, 5, 6), (30, 20, 18, 12, 9, 6, 5))[0]
    communities = tuple(
        sorted({(rng.choice(peer16) << 16) | rng.randrange(1, 5000) for _ in range(ncomm)})
    )
    large: tuple[tuple[int, int, int], ...] = ()
    if rng.random() < 0.12:
        large = tuple(
            sorted({(rng.choice(path), rng.randrange(1, 1000), rng.randrange(1, 100))
                    for _ in range(rng.randint(1, 3))})
        )  # fmt: skip
    aggregator = None
    atomic = False
    if rng.random() < 0.15:
        aggregator = (path[-1], pack("!I", rng.getrandbits(32)))
        atomic = rng.random() < 0.3
    return AttrSet(
        origin=origin,
        as_path=((2, path),),
        next_hop=None if ipv6 else PEER_IPV4,
        med=med,
        atomic_aggregate=atomic,
        aggregator=aggregator,
        communities=communities,
        mp_next_hop=PEER_IPV6 if ipv6 else None,
        large_communities=large,
    )


def synthesize(out: BinaryIO, prefixes: int, seed: int, ipv6: bool = False) -> SynthStats:
    """Write a deterministic one-peer full table of ``prefixes`` routes to ``out``."""
    if not 0 <= prefixes <= MAX_PREFIXES:
        raise ValueError(f"prefixes must be between 0 and {MAX_PREFIXES}")
    rng = random.Random(seed)
    writer = MrtWriter(out)
    peer = Peer(COLLECTOR_ID, PEER_IPV6 if ipv6 else PEER_IPV4, PEER_AS, 3 if ipv6 else 2)
    view = "synthetic"
    writer.peer_index(PeerIndexTable(TIMESTAMP, COLLECTOR_ID, view, (peer,)))
    keys = _prefixes(rng, prefixes, ipv6)
    draw = _AsnDraw(rng)
    bits, subtype = (128, 4) if ipv6 else (32, 2)
    sets: list[bytes] = []  # encoded attribute block per distinct set: [length][attrs]
    index: dict[bytes, int] = {}  # two draws can give the same set: count it once
    chosen: list[int] = []  # set index per prefix so far
    rand, randrange = rng.random, rng.randrange
    chunk: list[bytes] = []
    written = writer.bytes_written
    for seq, key in enumerate(keys):
        r = rand()
        if r < NEW_SET or not chosen:
            raw = encode_rib_attributes(_attr_set(rng, draw, ipv6))
            idx = index.setdefault(raw, len(sets))
            if idx == len(sets):
                sets.append(pack("!H", len(raw)) + raw)
        elif r < NEW_SET + SAME_AS_PREVIOUS:
            idx = chosen[-1]
        else:
            idx = chosen[randrange(len(chosen))]
        chosen.append(idx)
        plen = key & 0xFF
        n = (plen + 7) >> 3
        nlri = bytes((plen,)) + ((key >> 8) >> (bits - 8 * n)).to_bytes(n, "big")
        # Sequence, prefix, entry count 1, peer index 0, originated time (RFC 6396 4.3.2).
        body = b"".join(
            (
                pack("!I", seq),
                nlri,
                pack("!HHI", 1, 0, TIMESTAMP - randrange(1, 90 * 86400)),
                sets[idx],
            )
        )
        chunk.append(mrt_header(TIMESTAMP, 13, subtype, len(body)))
        chunk.append(body)
        if len(chunk) >= 8192:
            data = b"".join(chunk)
            out.write(data)
            written += len(data)
            chunk.clear()
    data = b"".join(chunk)
    out.write(data)
    written += len(data)
    return SynthStats(len(keys), len(sets), written)
