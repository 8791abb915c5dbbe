"""Columnar route loading from TABLE_DUMP_V2 RIB dumps: the fast path to the RIB.

How this works: ``read_routes`` walks the same stream as ``read_mrt`` but does not
build a record object per prefix.  Runs of unicast RIB records (RFC 6396 4.3.2,
RFC 8050 4) are decoded by one tight loop into a :class:`RouteBatch` of parallel
lists: prefix keys, peer indexes, path ids and interned attribute sets.  That is the
shape a RIB loads.  The loop reads the buffer with byte indexing and int arithmetic
only, which mypyc compiles to C (about 0.25 us per route with the attribute sets
already interned, most of it the dict probe of the interner).  Any other record, or a
RIB record the loop cannot parse, ends the batch and goes through :class:`MrtReader`
as usual, so errors are reported exactly as ``read_mrt`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from ..codec.attributes import AttrSet, Flawed, _u16, _u32, decode_fast, raw_hit
from ..codec.errors import BgpError
from .reader import ByteWindow, MrtReader, decode_rib_attributes, rib_key
from .records import MrtRecord

if TYPE_CHECKING:  # annotations only: compiled, a C int64_t; run as it is, an int
    from mypy_extensions import i64

__all__ = ["RouteBatch", "read_routes"]

WINDOW = 1 << 18
"""Octets scanned per batch.  A batch's sets are still in the CPU cache when the caller
drops it: with 1 MiB windows, ``decode --count`` of a full table was 5-8% slower."""


class RouteBatch(NamedTuple):
    """Routes of one AFI/SAFI, in file order, as parallel lists."""

    afi: int
    safi: int
    prefixes: list[int]
    """The codec's prefix keys, ``(network << 8) | length``."""
    peers: list[int]
    """PEER_INDEX_TABLE indexes."""
    path_ids: list[int]
    """RFC 8050 Path Identifiers; empty for the plain subtypes."""
    attrs: list[AttrSet]
    """Interned attribute sets."""
    errors: list[tuple[int, BgpError]]
    """(index in this batch, RFC 7606 outcome) for entries whose attributes are bad."""


def read_routes(
    source: BinaryIO | bytes, reader: MrtReader | None = None
) -> Iterator[RouteBatch | MrtRecord]:
    """Yield :class:`RouteBatch` runs and, in order between them, every other record."""
    w = ByteWindow(source)
    rd = reader if reader is not None else MrtReader()
    while True:
        w.fill(WINDOW)
        out, w.pos = _scan(rd, w.buf, w.pos)
        yield from out
        if (w.eof and len(w.buf) - w.pos < 12) or not w.fill(_need(w)):
            err = w.tail_error()
            if err is not None:
                yield err
            return


def _need(w: ByteWindow) -> int:
    """Octets needed for the next whole record."""
    if len(w.buf) - w.pos < 12:
        return 12
    return 12 + _u32(w.buf, w.pos + 8)


def _scan(rd: MrtReader, buf: bytes, pos: i64) -> tuple[list[RouteBatch | MrtRecord], int]:
    """Parse every whole record in ``buf[pos:]``; return the items and the new position.

    Written with byte indexing and int arithmetic only.  Compiled, ``buf[i]`` on a
    ``bytes`` is a C array read, and offsets, lengths and octets are ``i64`` locals,
    so that their arithmetic is plain C arithmetic (an ``int`` is a tagged value
    whose every shift and add is a call).  The prefix key stays an ``int``: an IPv6
    key does not fit 64 bits.
    """
    out: list[RouteBatch | MrtRecord] = []
    n: i64 = len(buf)
    batch: RouteBatch | None = None
    kind: i64 = -1
    interner = rd.interner
    by_raw = interner.by_raw
    cache = interner.values
    prefixes: list[int] = []
    peers: list[int] = []
    ids: list[int] = []
    attrs: list[AttrSet] = []
    errors: list[tuple[int, BgpError]] = []
    last = b""
    runs = False
    last_hit: AttrSet | Flawed = AttrSet()
    while pos + 12 <= n:
        typ = _u16(buf, pos + 4)
        sub = _u16(buf, pos + 6)
        start = pos + 12
        end = start + _u32(buf, pos + 8)
        if end > n:
            break
        if typ != 13 or (sub != 2 and sub != 4 and sub != 8 and sub != 10):
            batch = None
            out.append(rd.record(_u32(buf, pos), typ, sub, buf, start, end))
            pos = end
            continue
        addpath = sub >= 8
        v4 = sub == 2 or sub == 8
        bits: i64 = 32 if v4 else 128
        if batch is None or kind != sub:
            prefixes, peers, ids, attrs, errors = [], [], [], [], []
            batch = RouteBatch(1 if v4 else 2, 1, prefixes, peers, ids, attrs, errors)
            kind = sub
            out.append(batch)
        mark: i64 = len(prefixes)
        try:
            plen: i64 = buf[start + 4]
            nb = (plen + 7) >> 3
            q = start + 5 + nb
            if plen > bits or q + 2 > end:
                raise IndexError("prefix overruns the record")
            # keep the first plen bits, then shift the network into place
            key: int
            if v4:  # 40 bits: C shifts
                net4: i64 = 0
                for j in range(start + 5, q):
                    octet: i64 = buf[j]
                    net4 = (net4 << 8) | octet
                key = (((net4 >> (8 * nb - plen)) << (32 - plen)) << 8) | plen
            else:  # 136 bits: an int
                net = 0
                for j in range(start + 5, q):
                    net = (net << 8) | buf[j]
                p6: int = plen  # int operands: an i64 one would make the int one i64
                cut: int = 8 * nb - plen
                key = (((net >> cut) << (128 - p6)) << 8) | p6
            count = _u16(buf, q)
            q += 2
            for _ in range(count):
                peer = _u16(buf, q)
                if addpath:
                    ids.append(_u32(buf, q + 6))
                    a = q + 12
                else:
                    a = q + 8
                q = a + _u16(buf, a - 2)
                if q > end:
                    raise IndexError("RIB entry attributes overrun the record")
                raw = buf[a:q]
                if raw == last and runs:  # a run of routes with one set: no dict probe
                    hit = last_hit
                else:
                    got = by_raw.get(raw)
                    if got is None:
                        rkey = raw
                        if not v4:  # a whole MP_REACH_NLRI (Quagga): key the short form
                            short = rib_key(buf, a, q)
                            if short is not None:
                                rkey = short
                                got = by_raw.get(rkey)
                    if got is None:
                        got = decode_fast(buf, a, q, True, True, cache)
                        if got is None:  # not clean: the table-driven decoder says why
                            got = raw_hit(*decode_rib_attributes(buf, a, q, True, cache, False))
                        by_raw[rkey] = got
                    hit = last_hit = got
                    last = raw
                    runs = True
                if isinstance(hit, AttrSet):
                    attrs.append(hit)
                else:
                    errors.append((len(prefixes), hit[1][0]))
                    attrs.append(hit[0])
                prefixes.append(key)
                peers.append(peer)
        except (IndexError, ValueError):
            # undo the partial record; the generic path reports it as read_mrt would
            del prefixes[mark:], peers[mark:], attrs[mark:]
            if addpath:
                del ids[mark:]
            while errors and errors[-1][0] >= mark:
                errors.pop()
            out.append(rd.record(_u32(buf, pos), typ, sub, buf, start, end))
            batch = None
        pos = end
    return [b for b in out if not isinstance(b, RouteBatch) or b.prefixes], pos
