"""Streaming MRT reader (RFC 6396, RFC 8050).

How this works: ``read_mrt`` pulls the file in 1 MiB chunks and parses records out of
the buffer, so the first route comes out before the rest of a 1M-route file is read.
Gzip and bzip2 are detected from the first bytes (RouteViews and RIS publish both).
RIB entries are the hot loop: the attribute bytes of each entry are looked up in an
:class:`Interner` first and decoded only on a miss, so a full table decodes each of
its few hundred thousand attribute sets once.  A broken record becomes an
:class:`MrtError` in the stream; the reader goes on with the next record when the
record header could be read, and stops when it could not.
"""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zlib
from collections.abc import Iterator
from struct import unpack_from
from typing import TYPE_CHECKING, Any, BinaryIO

from ..codec.attributes import (
    AttrSet,
    Interner,
    decode_attributes,
    decode_fast,
    raw_hit,
    rib_next_hop,
    split_hit,
    walk_attributes,
)
from ..codec.errors import BgpError
from ..codec.nlri import decode_nlri
from .records import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    MrtRecord,
    Peer,
    PeerIndexTable,
    RibEntry,
    RibRecord,
    TableDumpEntry,
    UnknownRecord,
)

if TYPE_CHECKING:  # annotations only: compiled, a C int64_t; run as it is, an int
    from mypy_extensions import i64

__all__ = [
    "read_mrt",
    "open_maybe_compressed",
    "is_mrt",
    "decode_rib_attributes",
    "rib_key",
    "MrtReader",
]

CHUNK = 1 << 18
_RIB_AFI = {
    2: (1, 1),
    3: (1, 2),
    4: (2, 1),
    5: (2, 2),
    8: (1, 1),
    9: (1, 2),
    10: (2, 1),
    11: (2, 2),
}


def open_maybe_compressed(path: str) -> BinaryIO:
    """Open ``path`` for reading, through gzip or bz2 when its first bytes say so."""
    with open(path, "rb") as f:
        head = f.read(3)
    if head[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if head == b"BZh":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def is_mrt(head: bytes) -> bool:
    """A plausible MRT common header at the start of ``head`` (at least 12 octets)."""
    if len(head) < 12:
        return False
    mrt_type, subtype, length = unpack_from("!HHI", head, 4)
    if mrt_type == 13:
        return bool(1 <= subtype <= 12 and length < 1 << 24)
    if mrt_type in (16, 17):
        return bool(subtype <= 11 and length < 1 << 20)
    return mrt_type == 12 and subtype in (1, 2) and length < 1 << 20


def decode_rib_attributes(
    data: bytes,
    start: int,
    end: int,
    as4: bool = True,
    cache: dict[bytes, Any] | None = None,
    fast: bool = True,
) -> tuple[AttrSet, tuple[BgpError, ...]]:
    """Decode the attributes of a RIB entry: MP_REACH_NLRI holds only the next hop.

    RFC 6396 4.3.4 abbreviates MP_REACH_NLRI to its Next Hop Length and Next Hop; some
    writers put the whole attribute there anyway, which is accepted too.  ``fast=False``:
    the caller already tried ``decode_fast``.
    """
    if cache is not None and fast:
        done = decode_fast(data, start, end, as4, True, cache)
        if done is not None:
            return done, ()
    try:
        tlvs = walk_attributes(data, start, end)
    except BgpError as exc:
        return AttrSet(), (exc,)
    nh = None
    for _flags, code, vs, ve in tlvs:
        if code == 14 and ve > vs:
            nhs, nhe = rib_next_hop(data, vs, ve)
            if nhs >= 0:
                nh = bytes(data[nhs:nhe])
            break
    try:
        return decode_attributes(data, tlvs, as4, True, nh, cache)
    except BgpError as exc:
        return AttrSet(), (exc,)


def rib_key(buf: bytes, a: i64, b: i64) -> bytes | None:
    """The interning key of a RIB entry's attributes ``buf[a:b]`` whose MP_REACH_NLRI is
    the whole attribute, or None when it is not.

    RFC 6396 4.3.4 keeps only the next hop's length and address there; Quagga (the
    RouteViews IPv6 dumps) writes the whole attribute, whose NLRI is the record's own
    prefix.  As a key, every entry of such a dump would then be distinct, and its set
    decoded once per entry, not once per distinct set.  The key is the block with that
    attribute in the RFC 6396 form: it decodes to the same set, with the same layout
    and outcomes (``decode_rib_attributes`` takes both forms, and skips the rest of
    the attribute).  Only a block that walks cleanly to its end, with one such
    attribute, well formed (flags Optional, a next hop that fits), is rewritten: for
    anything else the block stays its own key, so that its errors stay its own.
    """
    # the walk of ``walk_attributes``, without its list: this runs for every entry of
    # such a dump (a list of tuples per entry made it 18% slower)
    i = a
    at: i64 = -1  # the one MP_REACH_NLRI: where it starts, and its value
    vs14: i64 = 0
    ve14: i64 = 0
    while i < b:
        if i + 3 > b:
            return None
        flags: i64 = buf[i]
        code: i64 = buf[i + 1]
        hi: i64 = buf[i + 2]
        if flags & 0x10:
            if i + 4 > b:
                return None
            lo: i64 = buf[i + 3]
            vs = i + 4
            ve = vs + ((hi << 8) | lo)
        else:
            vs = i + 3
            ve = vs + hi
        if ve > b:
            return None
        if code == 14:
            if at >= 0:
                return None
            at, vs14, ve14 = i, vs, ve
        i = ve
    if at < 0:
        return None
    flags = buf[at]
    nhs, nhe = rib_next_hop(buf, vs14, ve14)
    if flags & 0xEF != 0x80 or nhs != vs14 + 4:  # not Optional, the short form, or neither
        return None
    size = nhe - nhs + 1  # up to 256: two octets when the flags say so
    head = bytes((flags, 14, size >> 8, size & 0xFF) if flags & 0x10 else (flags, 14, size))
    return b"".join((buf[a:at], head, bytes((nhe - nhs,)), buf[nhs:nhe], buf[ve14:b]))


class MrtReader:
    """Parses records from a byte buffer; ``read_mrt`` feeds it from a file."""

    def __init__(self, interner: Interner | None = None) -> None:
        self.interner = interner if interner is not None else Interner()
        self.interner_v1 = Interner()

    def _attrs(self, buf: bytes, a: int, b: int) -> tuple[AttrSet, BgpError | None]:
        key = buf[a:b]
        hit = self.interner.by_raw.get(key)
        if hit is None:
            short = rib_key(buf, a, b)
            if short is not None:
                key = short
                hit = self.interner.by_raw.get(key)
        if hit is None:
            attrs, errors = decode_rib_attributes(buf, a, b, True, self.interner.values)
            hit = self.interner.by_raw[key] = raw_hit(attrs, errors)
        attrs, errors = split_hit(hit)
        return attrs, (errors[0] if errors else None)

    def rib(self, ts: int, sub: int, buf: bytes, p: int, end: int) -> RibRecord:
        afi, safi = _RIB_AFI[sub]
        addpath = sub >= 8
        bits = 32 if afi == 1 else 128
        seq = unpack_from("!I", buf, p)[0]
        plen = buf[p + 4]
        n = (plen + 7) >> 3
        pfx, _ = decode_nlri(buf, p + 4, p + 5 + n, bits)
        p += 5 + n
        count = (buf[p] << 8) | buf[p + 1]
        p += 2
        entries = []
        by_raw = self.interner.by_raw
        for _ in range(count):
            peer, orig = unpack_from("!HI", buf, p)
            p += 6
            pid = 0
            if addpath:
                pid = unpack_from("!I", buf, p)[0]
                p += 4
            alen = (buf[p] << 8) | buf[p + 1]
            a = p + 2
            p = a + alen
            if p > end:
                raise MrtError("RIB entry attributes overrun the record", ts, 13, sub)
            hit = by_raw.get(buf[a:p])
            if isinstance(hit, AttrSet):
                entries.append(RibEntry(peer, orig, hit, pid))
            else:
                attrs, err = self._attrs(buf, a, p)
                entries.append(RibEntry(peer, orig, attrs, pid, err))
        return RibRecord(ts, sub, afi, safi, seq, pfx[0], tuple(entries))

    def peer_index(self, ts: int, buf: bytes, p: int, end: int) -> PeerIndexTable:
        collector = bytes(buf[p : p + 4])
        nlen = (buf[p + 4] << 8) | buf[p + 5]
        name = bytes(buf[p + 6 : p + 6 + nlen]).decode("utf-8", "replace")
        p += 6 + nlen
        count = (buf[p] << 8) | buf[p + 1]
        p += 2
        peers = []
        for _ in range(count):
            ptype = buf[p]
            bgp_id = bytes(buf[p + 1 : p + 5])
            alen = 16 if ptype & 1 else 4
            addr = bytes(buf[p + 5 : p + 5 + alen])
            p += 5 + alen
            if ptype & 2:
                asn = unpack_from("!I", buf, p)[0]
                p += 4
            else:
                asn = (buf[p] << 8) | buf[p + 1]
                p += 2
            peers.append(Peer(bgp_id, addr, asn, ptype))
        if p > end:
            raise MrtError("PEER_INDEX_TABLE overruns its record", ts, 13, 1)
        return PeerIndexTable(ts, collector, name, tuple(peers))

    def bgp4mp(
        self, ts: int, typ: int, sub: int, buf: bytes, p: int, end: int
    ) -> Bgp4mpMessage | Bgp4mpStateChange | UnknownRecord:
        when: float = float(ts)
        et = typ == 17
        if et:
            when = ts + unpack_from("!I", buf, p)[0] / 1e6
            p += 4
        if sub not in (0, 1, 4, 5, 6, 7, 8, 9, 10, 11):
            return UnknownRecord(ts, typ, sub, bytes(buf[p:end]))
        as4 = sub in (4, 5, 7, 9, 11)
        if as4:
            peer_as, local_as = unpack_from("!II", buf, p)
            p += 8
        else:
            peer_as, local_as = unpack_from("!HH", buf, p)
            p += 4
        ifindex, afi = unpack_from("!HH", buf, p)
        p += 4
        alen = 16 if afi == 2 else 4
        if afi not in (1, 2):
            raise MrtError(f"BGP4MP record with unknown AFI {afi}", ts, typ, sub)
        peer_ip = bytes(buf[p : p + alen])
        local_ip = bytes(buf[p + alen : p + 2 * alen])
        p += 2 * alen
        if p > end:
            raise MrtError("BGP4MP header overruns its record", ts, typ, sub)
        if sub in (0, 5):
            old, new = unpack_from("!HH", buf, p)
            return Bgp4mpStateChange(
                when, sub, peer_as, local_as, ifindex, afi, peer_ip, local_ip, old, new, et
            )
        return Bgp4mpMessage(
            when, sub, peer_as, local_as, ifindex, afi, peer_ip, local_ip, bytes(buf[p:end]), et
        )

    def table_dump(self, ts: int, sub: int, buf: bytes, p: int, end: int) -> TableDumpEntry:
        view, seq = unpack_from("!HH", buf, p)
        alen = 16 if sub == 2 else 4
        net = int.from_bytes(buf[p + 4 : p + 4 + alen], "big")
        p += 4 + alen
        plen, status = buf[p], buf[p + 1]
        if plen > alen * 8:
            raise MrtError(f"TABLE_DUMP prefix length {plen}", ts, 12, sub)
        orig = unpack_from("!I", buf, p + 2)[0]
        peer_ip = bytes(buf[p + 6 : p + 6 + alen])
        p += 6 + alen
        peer_as, attr_len = unpack_from("!HH", buf, p)
        a = p + 4
        if a + attr_len > end:
            raise MrtError("TABLE_DUMP attributes overrun the record", ts, 12, sub)
        key = buf[a : a + attr_len]
        hit = self.interner_v1.by_raw.get(key)
        if hit is None:
            attrs, errors = decode_rib_attributes(
                buf, a, a + attr_len, False, self.interner_v1.values
            )
            hit = self.interner_v1.by_raw[key] = raw_hit(attrs, errors)
        attrs, errors = split_hit(hit)
        return TableDumpEntry(
            ts,
            sub,
            view,
            seq,
            (net << 8) | plen,
            status,
            orig,
            peer_ip,
            peer_as,
            attrs,
            errors[0] if errors else None,
        )

    def record(self, ts: int, typ: int, sub: int, buf: bytes, p: int, end: int) -> MrtRecord:
        try:
            if typ == 13:
                if sub in _RIB_AFI:
                    return self.rib(ts, sub, buf, p, end)
                if sub == 1:
                    return self.peer_index(ts, buf, p, end)
            elif typ in (16, 17):
                return self.bgp4mp(ts, typ, sub, buf, p, end)
            elif typ == 12 and sub in (1, 2):
                return self.table_dump(ts, sub, buf, p, end)
        except MrtError as exc:
            return exc
        except (IndexError, ValueError, struct.error, BgpError) as bad:
            # a name of its own: compiled, ``exc`` above is typed MrtError
            return MrtError(f"truncated or malformed record: {bad}", ts, typ, sub)
        return UnknownRecord(ts, typ, sub, bytes(buf[p:end]))


class ByteWindow:
    """The unread part of an MRT stream, refilled in ``CHUNK`` reads.

    ``buf[pos:]`` is what has been read and not consumed.  A damaged gzip/bz2 stream
    ends the input; ``broken`` says why.
    """

    def __init__(self, source: BinaryIO | bytes) -> None:
        self.stream: BinaryIO = (
            io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        )
        self.buf: bytes = b""  # ``bytes``: compiled, ``buf[i]`` is then a C array read
        self.pos = 0
        self.eof = False
        self.broken: str | None = None

    def fill(self, need: int) -> bool:
        """Read until ``need`` octets are available; False at the end of the input."""
        while len(self.buf) - self.pos < need and not self.eof:
            try:
                more = self.stream.read(max(CHUNK, need - len(self.buf) + self.pos))
            except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip/bz2
                self.broken = f"compressed stream is damaged: {exc}"
                more = b""
            if not more:
                self.eof = True
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return len(self.buf) - self.pos >= need

    def tail_error(self) -> MrtError | None:
        """What is wrong with the end of the input, if anything."""
        left = len(self.buf) - self.pos
        if self.broken:
            return MrtError(self.broken, truncated=True)
        if 0 < left < 12:
            return MrtError(f"{left} trailing octets: truncated record header", truncated=True)
        if left:
            ts, typ, sub, length = unpack_from("!IHHI", self.buf, self.pos)
            reason = f"record of {length} octets truncated at end of file"
            return MrtError(reason, ts, typ, sub, truncated=True)
        return None


def read_mrt(source: BinaryIO | bytes, reader: MrtReader | None = None) -> Iterator[MrtRecord]:
    """Yield the records of an MRT stream, one at a time."""
    w = ByteWindow(source)
    rd = reader if reader is not None else MrtReader()
    rib = rd.rib
    half = CHUNK // 2
    while True:
        if len(w.buf) - w.pos < half and not w.eof:
            w.fill(half)
        buf, pos = w.buf, w.pos
        if len(buf) - pos < 12:
            err = w.tail_error()
            if err is not None:
                yield err
            return
        ts, typ, sub, length = unpack_from("!IHHI", buf, pos)
        start = pos + 12
        end = start + length
        if end > len(buf):
            if w.fill(12 + length):
                continue
            err = w.tail_error()
            if err is not None:
                yield err
            return
        if typ == 13 and 2 <= sub <= 11 and sub != 6 and sub != 7:
            try:
                yield rib(ts, sub, buf, start, end)
            except MrtError as exc:
                yield exc
            except (IndexError, ValueError, struct.error, BgpError) as bad:
                yield MrtError(f"truncated or malformed record: {bad}", ts, typ, sub)
        else:
            yield rd.record(ts, typ, sub, buf, start, end)
        w.pos = end
