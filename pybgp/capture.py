"""Extract BGP messages from pcap / pcapng captures (stdlib only).

How this works:

1. Container: ``_pcap_frames`` / ``_pcapng_frames`` walk the file and yield
   ``(linktype, timestamp, frame, original_length)``.  pcap: all four magics
   (micro/nano seconds, both byte orders).  pcapng: SHB/IDB/EPB/SPB/PB, one
   link type and ``if_tsresol``/``if_tsoffset`` per interface, both byte orders.
   A broken global header raises ``CaptureError``; a broken record later on
   ends the walk quietly.
2. Link layer: ``_link_to_ip`` strips Ethernet (+802.1Q/QinQ, MPLS), Linux SLL
   and SLL2, BSD null/loopback, raw IP, PPP, Cisco HDLC and Juniper Ethernet.
3. IP/TCP: ``_parse_ip`` reads IPv4/IPv6 (simple IPv6 extension headers
   skipped, fragments ignored) and the TCP header; only segments with one port
   equal to ``port`` are kept.  Bytes cut off by the snap length are "missing".
4. Reassembly: one ``_Stream`` per direction.  It starts at the SYN (or at the
   first segment seen, unsynchronised), trims retransmitted bytes, buffers
   out-of-order segments (sequence arithmetic is mod 2**32) and declares a gap
   when the hole cannot be filled any more: the peer ACKed past it, too many
   segments wait behind it, or the capture ended.  After a gap, or at the
   start of a mid-stream capture, it resynchronises on the 16-byte 0xFF marker
   (a candidate must also have a length >= 19 and a type in 1..5).
5. Framing: the stream buffer is cut into messages by the length at offset
   16; each message is yielded with the timestamp of the packet completing it,
   in capture order.  A garbled header inside a synchronised stream yields a
   ``CaptureGap`` with ``missing=0`` and the stream resynchronises.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["CaptureError", "CaptureGap", "CapturedMessage", "is_capture", "read_capture"]

MARKER = b"\xff" * 16
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 10**6),
    b"\xa1\xb2\xc3\xd4": (">", 10**6),
    b"\x4d\x3c\xb2\xa1": ("<", 10**9),
    b"\xa1\xb2\x3c\x4d": (">", 10**9),
}
_SHB = b"\x0a\x0d\x0d\x0a"
_MAX_PENDING = 64  # out-of-order segments held before declaring a gap
_FAR_BEHIND = 1 << 24  # a segment this far before the stream is not a retransmission


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One complete BGP message (header included) seen from ``src`` to ``dst``."""

    src: str
    dst: str
    timestamp: float
    data: bytes


@dataclass(frozen=True, slots=True)
class CaptureGap:
    """Bytes of the ``src`` -> ``dst`` stream are missing (``missing=0``: garbled)."""

    src: str
    dst: str
    timestamp: float
    missing: int


class CaptureError(Exception):
    """The data is not a pcap/pcapng capture, or its global header is broken."""


Frame = tuple[int, float, bytes, int]


def is_capture(head: bytes) -> bool:
    """True if ``head`` starts with a pcap or pcapng magic."""
    return head[:4] in _PCAP_MAGICS or head[:4] == _SHB


# --------------------------------------------------------------------------- containers


def _pcap_frames(data: bytes) -> Iterator[Frame]:
    if len(data) < 24:
        raise CaptureError("truncated pcap global header")
    endian, unit = _PCAP_MAGICS[data[:4]]
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0xFFFF
    rec = struct.Struct(endian + "IIII")
    off, end = 24, len(data)
    while off + 16 <= end:
        sec, frac, caplen, origlen = rec.unpack_from(data, off)
        off += 16
        frame = data[off : off + caplen]
        off += caplen
        yield linktype, sec + frac / unit, frame, max(origlen, caplen)


def _pcapng_frames(data: bytes) -> Iterator[Frame]:
    if len(data) < 28:
        raise CaptureError("truncated pcapng section header block")
    off, end, endian = 0, len(data), "<"
    ifaces: list[tuple[int, int, int]] = []  # (linktype, ticks per second, offset seconds)
    ts = 0.0
    while off + 12 <= end:
        if data[off : off + 4] == _SHB:
            bom = data[off + 8 : off + 12]
            if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                if off == 0:
                    raise CaptureError("pcapng section header has a bad byte-order magic")
                return
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or blen % 4 or off + blen > end:
            if off == 0:
                raise CaptureError("pcapng section header has a bad length")
            return
        body = data[off + 8 : off + blen - 4]
        off += blen
        if btype == 1 and len(body) >= 8:  # IDB
            ifaces.append(_idb(body, endian))
        elif btype == 6 and len(body) >= 20:  # EPB
            iface, hi, lo, caplen, origlen = struct.unpack_from(endian + "IIIII", body)
            if iface < len(ifaces):
                lt, res, tsoff = ifaces[iface]
                ts = ((hi << 32) | lo) / res + tsoff
                yield lt, ts, body[20 : 20 + caplen], max(origlen, caplen)
        elif btype == 3 and len(body) >= 4 and ifaces:  # SPB
            origlen = struct.unpack_from(endian + "I", body)[0]
            frame = body[4 : 4 + origlen]
            yield ifaces[0][0], ts, frame, max(origlen, len(frame))
        elif btype == 2 and len(body) >= 20:  # obsolete PB
            iface, _, hi, lo, caplen, origlen = struct.unpack_from(endian + "HHIIII", body)
            if iface < len(ifaces):
                lt, res, tsoff = ifaces[iface]
                ts = ((hi << 32) | lo) / res + tsoff
                yield lt, ts, body[20 : 20 + caplen], max(origlen, caplen)


def _idb(body: bytes, endian: str) -> tuple[int, int, int]:
    linktype = struct.unpack_from(endian + "H", body)[0]
    res, tsoff, off = 10**6, 0, 8
    while off + 4 <= len(body):
        code, olen = struct.unpack_from(endian + "HH", body, off)
        value = body[off + 4 : off + 4 + olen]
        if code == 0:
            break
        if code == 9 and olen >= 1:
            v = value[0]
            res = 2 ** (v & 0x7F) if v & 0x80 else 10 ** min(v, 30)
        elif code == 14 and olen >= 8:
            tsoff = struct.unpack_from(endian + "q", value)[0]
        off += 4 + ((olen + 3) & ~3)
    return linktype, res, tsoff


# --------------------------------------------------------------------------- link / IP / TCP

_ETH_IP = {0x0800, 0x86DD}
_ETH_MPLS = {0x8847, 0x8848}
_ETH_VLAN = {0x8100, 0x88A8, 0x9100}


def _by_ethertype(frame: bytes, off: int, etype: int) -> bytes | None:
    while etype in _ETH_VLAN and off + 4 <= len(frame):
        etype = (frame[off + 2] << 8) | frame[off + 3]
        off += 4
    if etype in _ETH_MPLS:
        while off + 4 <= len(frame):
            off += 4
            if frame[off - 2] & 1:  # bottom of stack
                return frame[off:]
        return None
    return frame[off:] if etype in _ETH_IP else None


def _link_to_ip(lt: int, f: bytes) -> bytes | None:
    if lt == 1:
        return _by_ethertype(f, 14, (f[12] << 8) | f[13]) if len(f) >= 14 else None
    if lt in (101, 12, 14, 228, 229):
        return f
    if lt in (0, 108):
        return f[4:]
    if lt == 113:
        return _by_ethertype(f, 16, (f[14] << 8) | f[15]) if len(f) >= 16 else None
    if lt == 276:
        return _by_ethertype(f, 20, (f[0] << 8) | f[1]) if len(f) >= 20 else None
    if lt in (9, 50):  # PPP, optionally with ff 03 address/control
        off = 2 if f[:2] == b"\xff\x03" else 0
        proto = f[off : off + 2]
        return f[off + 2 :] if proto in (b"\x00\x21", b"\x00\x57") else None
    if lt == 104:  # Cisco HDLC
        return _by_ethertype(f, 4, (f[2] << 8) | f[3]) if len(f) >= 4 else None
    if lt == 178 and f[:3] == b"MGC" and len(f) >= 4:  # Juniper Ethernet
        off = 4 + (2 + ((f[4] << 8) | f[5]) if f[3] & 0x80 and len(f) >= 6 else 0)
        return _link_to_ip(1, f[off:])
    return None


Segment = tuple[bytes, int, bytes, int, int, int, int, bytes, int]


def _parse_ip(ip: bytes, frame_missing: int) -> Segment | None:
    """(src ip, sport, dst ip, dport, seq, ack, flags, payload, missing tail) or None."""
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 15) * 4
        if ihl < 20 or len(ip) < ihl or ip[9] != 6 or struct.unpack_from("!H", ip, 6)[0] & 0x3FFF:
            return None
        total = (ip[2] << 8) | ip[3]
        src, dst, off = ip[12:16], ip[16:20], ihl
    elif version == 6:
        if len(ip) < 40:
            return None
        nh, off, src, dst = ip[6], 40, ip[8:24], ip[24:40]
        plen = (ip[4] << 8) | ip[5]
        total = plen + 40 if plen else 0
        while nh in (0, 43, 60, 51) and off + 8 <= len(ip):
            nh, off = ip[off], off + ((ip[off + 1] + 2) * 4 if nh == 51 else (ip[off + 1] + 1) * 8)
        if nh != 6:
            return None  # fragment (44), unknown extension, or not TCP
    else:
        return None
    if total:
        missing = max(0, total - len(ip))
        ip = ip[:total]
    else:
        missing = frame_missing
    if off + 20 > len(ip):
        return None
    sport, dport, seq, ack, doff, flags = struct.unpack_from("!HHIIBB", ip, off)
    doff = (doff >> 4) * 4
    if doff < 20 or off + doff > len(ip):
        return None
    return src, sport, dst, dport, seq, ack, flags, ip[off + doff :], missing


def _endpoint(ip: bytes, port: int) -> str:
    if len(ip) == 4:
        return f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}:{port}"
    return f"[{ipaddress.IPv6Address(ip)}]:{port}"


# --------------------------------------------------------------------------- reassembly

Item = CapturedMessage | CaptureGap


def _delta(a: int, b: int) -> int:
    """Signed distance a - b in 32-bit sequence space."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


class _Stream:
    __slots__ = ("buf", "dst", "isn", "next_seq", "pending", "src", "synced")

    def __init__(self, src: str, dst: str) -> None:
        self.src, self.dst = src, dst
        self.buf = bytearray()
        self.pending: dict[int, bytes] = {}
        self.next_seq: int | None = None
        self.isn: int | None = None
        self.synced = False

    def syn(self, seq: int) -> None:
        if self.isn != seq:
            self.isn, self.next_seq, self.synced = seq, (seq + 1) & 0xFFFFFFFF, True
            self.buf.clear()
            self.pending.clear()

    def feed(self, seq: int, payload: bytes, missing: int, ts: float) -> list[Item]:
        if self.next_seq is None:
            self.next_seq = seq
        out: list[Item] = []
        delta = _delta(seq, self.next_seq)
        if delta < -_FAR_BEHIND:  # no retransmission: a new connection whose SYN was not seen
            self.pending.clear()
            self._lost(0, ts, out)
            self.next_seq = seq
        elif delta > 0:
            if len(payload) > len(self.pending.get(seq, b"")):
                self.pending[seq] = payload
            if len(self.pending) > _MAX_PENDING:
                self.gap(ts, out)
            return out
        self._append(seq, payload)
        missing = _delta((seq + len(payload) + missing) & 0xFFFFFFFF, self.next_seq)
        if missing > 0:  # snaplen cut the segment: its tail is gone for good
            self._frame(ts, out)
            self._lost(missing, ts, out)
        self._drain()
        self._frame(ts, out)
        return out

    def ack(self, ack: int, ts: float) -> list[Item]:
        """The peer acknowledged ``ack``: holes before it will never be filled."""
        out: list[Item] = []
        if self.pending and self.next_seq is not None and _delta(ack, self.next_seq) > 0:
            self.gap(ts, out)
        return out

    def gap(self, ts: float, out: list[Item]) -> None:
        assert self.next_seq is not None
        while self.pending:
            base = self.next_seq
            hole = min(_delta(s, base) for s in self.pending)
            if hole > 0:
                self._lost(hole, ts, out)
            self._drain()
            self._frame(ts, out)

    def _append(self, seq: int, payload: bytes) -> None:
        assert self.next_seq is not None
        skip = -_delta(seq, self.next_seq)
        if skip < len(payload):
            self.buf += payload[skip:]
            self.next_seq = (self.next_seq + len(payload) - skip) & 0xFFFFFFFF

    def _drain(self) -> None:
        assert self.next_seq is not None
        progress = True
        while progress and self.pending:
            progress = False
            for seq in list(self.pending):
                if _delta(seq, self.next_seq) <= 0:
                    self._append(seq, self.pending.pop(seq))
                    progress = True

    def _lost(self, missing: int, ts: float, out: list[Item]) -> None:
        assert self.next_seq is not None
        out.append(CaptureGap(self.src, self.dst, ts, missing))
        self.next_seq = (self.next_seq + missing) & 0xFFFFFFFF
        self.buf.clear()
        self.synced = False

    def _frame(self, ts: float, out: list[Item]) -> None:
        buf, pos = self.buf, 0
        while True:
            if not self.synced:
                i = buf.find(MARKER, pos)
                if i < 0:
                    pos = max(pos, len(buf) - 15)
                    break
                pos = i
                if len(buf) - pos < 19:
                    break
                if _valid_header(buf, pos):
                    self.synced = True
                else:
                    pos += 1
                    continue
            if len(buf) - pos < 19:
                break
            if not _valid_header(buf, pos):
                out.append(CaptureGap(self.src, self.dst, ts, 0))
                self.synced = False
                pos += 1
                continue
            length = (buf[pos + 16] << 8) | buf[pos + 17]
            if len(buf) - pos < length:
                break
            out.append(CapturedMessage(self.src, self.dst, ts, bytes(buf[pos : pos + length])))
            pos += length
        del buf[:pos]


def _valid_header(buf: bytearray, pos: int) -> bool:
    return (
        buf[pos : pos + 16] == MARKER
        and ((buf[pos + 16] << 8) | buf[pos + 17]) >= 19
        and 1 <= buf[pos + 18] <= 5
    )


# --------------------------------------------------------------------------- entry point


def read_capture(data: bytes, port: int = 179) -> Iterator[CapturedMessage | CaptureGap]:
    """Yield the BGP messages (and gaps) of every TCP stream to or from ``port``."""
    head = bytes(data[:4])
    if head in _PCAP_MAGICS:
        frames = _pcap_frames(data)
    elif head == _SHB:
        frames = _pcapng_frames(data)
    else:
        raise CaptureError(f"not a pcap/pcapng capture (magic {head.hex() or 'missing'})")
    first = next(frames, None)  # checks the global header now, not at the first next()
    return _messages(itertools.chain([first] if first else [], frames), port)


def _messages(frames: Iterator[Frame], port: int) -> Iterator[Item]:
    streams: dict[tuple[bytes, int, bytes, int], _Stream] = {}
    last_ts = 0.0
    for lt, ts, frame, origlen in frames:
        last_ts = ts
        try:
            ip = _link_to_ip(lt, frame)
            seg = _parse_ip(ip, origlen - len(frame)) if ip is not None else None
        except (IndexError, struct.error):
            continue
        if seg is None:
            continue
        src, sport, dst, dport, seq, ack, flags, payload, missing = seg
        if port not in (sport, dport):
            continue
        key = (src, sport, dst, dport)
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = _Stream(_endpoint(src, sport), _endpoint(dst, dport))
        if flags & 0x10:  # ACK: tell the reverse direction
            rev = streams.get((dst, dport, src, sport))
            if rev is not None:
                yield from rev.ack(ack, ts)
        if flags & 0x02:  # SYN
            stream.syn(seq)
            seq = (seq + 1) & 0xFFFFFFFF
        if payload or missing:
            yield from stream.feed(seq, payload, missing, ts)
    for stream in streams.values():
        if stream.pending:
            out: list[Item] = []
            stream.gap(last_ts, out)
            yield from out
