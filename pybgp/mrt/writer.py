"""MRT writer (RFC 6396, RFC 8050): the reader's records back to bytes.

How this works: each record type has one method that packs its body and hands it to
``_emit``, which prefixes the common header (RFC 6396 2) and writes it to the stream.
``write`` dispatches on the record's type, so ``for r in read_mrt(f): w.write(r)``
copies a file.  RIB entry attributes use 4-octet ASNs and the abbreviated
MP_REACH_NLRI of RFC 6396 4.3.4 (``[next hop length][next hop]``).  Encoding an
attribute set is the costly part, so the bytes of each set are cached by object
identity: the reader interns its sets, and a full table encodes each distinct set
once.  The writer does no I/O of its own beyond ``stream.write``.
"""

from __future__ import annotations

from struct import pack
from typing import BinaryIO

from ..codec.attributes import AttrSet, encode_attributes
from ..codec.nlri import encode_nlri
from ..codec.options import SessionOptions
from .records import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    MrtRecord,
    PeerIndexTable,
    RibRecord,
    TableDumpEntry,
    UnknownRecord,
)

__all__ = ["MrtWriter", "encode_rib_attributes", "mrt_header"]

_AS4 = SessionOptions(four_octet_as=True)
_AS2 = SessionOptions(four_octet_as=False)
_RIB_BITS = {2: 32, 3: 32, 4: 128, 5: 128, 8: 32, 9: 32, 10: 128, 11: 128}
"""TABLE_DUMP_V2 AFI/SAFI-specific RIB subtypes (RFC 6396 4.3.2, RFC 8050 4): width."""
_CACHE_LIMIT = 1 << 20


def mrt_header(timestamp: int, mrt_type: int, subtype: int, length: int) -> bytes:
    """The MRT common header (RFC 6396 2): Timestamp, Type, Subtype, Length."""
    return pack("!IHHI", timestamp, mrt_type, subtype, length)


def encode_rib_attributes(attrs: AttrSet) -> bytes:
    """The attributes of a TABLE_DUMP_V2 RIB entry (RFC 6396 4.3.4).

    AS numbers are 4 octets; MP_REACH_NLRI holds only the next hop length and next hop.
    """
    nh = attrs.mp_next_hop
    mp = {14: bytes((len(nh),)) + nh} if nh else None
    return encode_attributes(attrs, _AS4, mp=mp, mrt=True)


def _split_time(when: float, extended: bool) -> tuple[int, int]:
    """Seconds and, for BGP4MP_ET, microseconds (RFC 6396 3)."""
    sec = int(when)
    if not extended:
        return sec, 0
    usec = round((when - sec) * 1e6)
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return sec, usec


class MrtWriter:
    """Writes MRT records to a binary stream; ``bytes_written`` counts what went out."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.bytes_written = 0
        self._attr_cache: dict[int, tuple[AttrSet, bytes]] = {}

    def _emit(self, timestamp: int, mrt_type: int, subtype: int, body: bytes) -> None:
        data = mrt_header(timestamp, mrt_type, subtype, len(body)) + body
        self.stream.write(data)
        self.bytes_written += len(data)

    def _rib_attrs(self, attrs: AttrSet) -> bytes:
        # Keyed by id() with the set kept alive beside its bytes, so an id is never reused.
        hit = self._attr_cache.get(id(attrs))
        if hit is not None:
            return hit[1]
        if len(self._attr_cache) >= _CACHE_LIMIT:
            self._attr_cache.clear()
        raw = encode_rib_attributes(attrs)
        self._attr_cache[id(attrs)] = (attrs, raw)
        return raw

    def peer_index(self, table: PeerIndexTable) -> None:
        """PEER_INDEX_TABLE (RFC 6396 4.3.1)."""
        if len(table.collector_id) != 4:
            raise ValueError("collector BGP ID must be 4 octets")
        name = table.view_name.encode()
        parts = [table.collector_id, pack("!H", len(name)), name, pack("!H", len(table.peers))]
        for peer in table.peers:
            if len(peer.address) not in (4, 16) or len(peer.bgp_id) != 4:
                raise ValueError(f"peer {peer}: address must be 4 or 16 octets, BGP ID 4")
            # Peer Type bit 0: IPv6 address; bit 1: 4-octet AS.  Set them when needed.
            ptype = peer.peer_type | (1 if len(peer.address) == 16 else 0)
            ptype |= 2 if peer.asn > 0xFFFF else 0
            if (ptype & 1) != (len(peer.address) == 16):
                raise ValueError(f"peer {peer}: peer_type says IPv6, address is IPv4")
            asn = pack("!I", peer.asn) if ptype & 2 else pack("!H", peer.asn)
            parts += [bytes((ptype,)), peer.bgp_id, peer.address, asn]
        self._emit(table.timestamp, 13, 1, b"".join(parts))

    def rib(self, record: RibRecord) -> None:
        """RIB_IPV4/IPV6_UNICAST/MULTICAST, with or without ADD-PATH (RFC 8050 4)."""
        bits = _RIB_BITS.get(record.subtype)
        if bits is None:
            raise ValueError(f"TABLE_DUMP_V2 subtype {record.subtype} is not a RIB subtype")
        addpath = record.subtype >= 8
        parts = [
            pack("!I", record.sequence),
            encode_nlri((record.prefix,), bits),
            pack("!H", len(record.entries)),
        ]
        for e in record.entries:
            attrs = self._rib_attrs(e.attrs)
            if len(attrs) > 0xFFFF:
                raise ValueError(f"RIB entry attributes of {len(attrs)} octets")
            if addpath:  # RFC 8050 4: the Path Identifier follows the Originated Time
                parts.append(pack("!HIIH", e.peer_index, e.originated, e.path_id, len(attrs)))
            else:
                parts.append(pack("!HIH", e.peer_index, e.originated, len(attrs)))
            parts.append(attrs)
        self._emit(record.timestamp, 13, record.subtype, b"".join(parts))

    def _bgp4mp_head(
        self, r: Bgp4mpMessage | Bgp4mpStateChange, as4: bool
    ) -> tuple[int, int, bytes]:
        sec, usec = _split_time(r.timestamp, r.extended)
        alen = 16 if r.afi == 2 else 4
        if r.afi not in (1, 2) or len(r.peer_ip) != alen or len(r.local_ip) != alen:
            raise ValueError(f"AFI {r.afi} with addresses of {len(r.peer_ip)} octets")
        if not as4 and max(r.peer_as, r.local_as) > 0xFFFF:
            raise ValueError(f"subtype {r.subtype} carries 2-octet AS numbers")
        head = pack("!I", usec) if r.extended else b""
        head += pack("!II" if as4 else "!HH", r.peer_as, r.local_as)
        head += pack("!HH", r.interface, r.afi) + r.peer_ip + r.local_ip
        return sec, 17 if r.extended else 16, head

    def bgp4mp_message(self, msg: Bgp4mpMessage) -> None:
        """BGP4MP(_ET) MESSAGE, _AS4, _LOCAL and ADD-PATH (RFC 6396 4.4.2, RFC 8050 3)."""
        if msg.subtype not in (1, 4, 6, 7, 8, 9, 10, 11):
            raise ValueError(f"BGP4MP subtype {msg.subtype} is not a MESSAGE subtype")
        sec, typ, head = self._bgp4mp_head(msg, msg.as4)
        self._emit(sec, typ, msg.subtype, head + msg.data)

    def bgp4mp_state_change(self, change: Bgp4mpStateChange) -> None:
        """BGP4MP(_ET) STATE_CHANGE and STATE_CHANGE_AS4 (RFC 6396 4.4.1, 4.4.4)."""
        if change.subtype not in (0, 5):
            raise ValueError(f"BGP4MP subtype {change.subtype} is not a STATE_CHANGE subtype")
        sec, typ, head = self._bgp4mp_head(change, change.subtype == 5)
        body = head + pack("!HH", change.old_state, change.new_state)
        self._emit(sec, typ, change.subtype, body)

    def table_dump(self, entry: TableDumpEntry) -> None:
        """A legacy TABLE_DUMP entry (RFC 6396 4.2): 2-octet ASNs.

        RFC 6396 abbreviates MP_REACH_NLRI only in TABLE_DUMP_V2, so an IPv6 next hop
        goes out as a full MP_REACH_NLRI with no NLRI.
        """
        alen = 16 if entry.afi == 2 else 4
        nh = entry.attrs.mp_next_hop
        mp = None
        if nh:
            mp = {14: pack("!HBB", entry.afi, 1, len(nh)) + nh + b"\x00"}
        attrs = encode_attributes(entry.attrs, _AS2, mp=mp, mrt=True)
        body = b"".join(
            (
                pack("!HH", entry.view, entry.sequence),
                ((entry.prefix >> 8).to_bytes(alen, "big")),
                pack("!BBI", entry.prefix & 0xFF, entry.status, entry.originated),
                entry.peer_ip,
                pack("!HH", entry.peer_as, len(attrs)),
                attrs,
            )
        )
        self._emit(entry.timestamp, 12, entry.afi, body)

    def unknown(self, record: UnknownRecord) -> None:
        body = record.body
        if record.mrt_type == 17:  # the reader kept the body after the microseconds
            body = b"\x00\x00\x00\x00" + body
        self._emit(record.timestamp, record.mrt_type, record.subtype, body)

    def write(self, record: MrtRecord) -> None:
        """Write any record ``read_mrt`` yields, except an :class:`MrtError`."""
        if isinstance(record, RibRecord):
            self.rib(record)
        elif isinstance(record, Bgp4mpMessage):
            self.bgp4mp_message(record)
        elif isinstance(record, Bgp4mpStateChange):
            self.bgp4mp_state_change(record)
        elif isinstance(record, PeerIndexTable):
            self.peer_index(record)
        elif isinstance(record, TableDumpEntry):
            self.table_dump(record)
        elif isinstance(record, UnknownRecord):
            self.unknown(record)
        elif isinstance(record, MrtError):
            raise TypeError(f"an MrtError has no bytes to write: {record.reason}")
        else:
            raise TypeError(f"not an MRT record: {type(record).__name__}")
