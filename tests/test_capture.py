"""Tests for pybgp.capture: pcap/pcapng reading and BGP-over-TCP reassembly."""

from __future__ import annotations

import bz2
import gzip
import itertools
import random
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.capture import (
    CapturedMessage,
    CaptureError,
    CaptureGap,
    is_capture,
    read_capture,
)

MARKER = b"\xff" * 16
KEEPALIVE = MARKER + b"\x00\x13\x04"
OPEN = MARKER + b"\x00\x1d\x01" + b"\x04\xfd\xe8\x00\xb4" + bytes([10, 0, 0, 1]) + b"\x00"
UPDATE = MARKER + b"\x00\x17\x02" + b"\x00\x00\x00\x00"  # End-of-RIB
NOTIFICATION = MARKER + b"\x00\x15\x03\x06\x02"

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6 = bytes.fromhex("fd000000000000000000000000000001")
B6 = bytes.fromhex("fd000000000000000000000000000002")

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "public"


# --------------------------------------------------------------------------- builders


def tcp(sport: int, dport: int, seq: int, payload: bytes, flags: int = 0x18, ack: int = 0) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 8192, 0, 0) + payload


def ipv4(src: bytes, dst: bytes, seg: bytes, frag: int = 0, proto: int = 6) -> bytes:
    return (
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, frag, 64, proto, 0, src, dst) + seg
    )


def ipv6(src: bytes, dst: bytes, seg: bytes, hop_by_hop: bool = False) -> bytes:
    nh, ext = 6, b""
    if hop_by_hop:
        nh, ext = 0, bytes([6, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next=TCP, 8 bytes, PadN
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(seg), nh, 64, src, dst) + ext + seg


def ether(ip: bytes, vlan: bool = False, pad: bytes = b"") -> bytes:
    etype = b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd"
    tag = b"\x81\x00\x00\x64" if vlan else b""
    return b"\x02" * 6 + b"\x04" * 6 + tag + etype + ip + pad


def sll(ip: bytes) -> bytes:
    etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, etype) + ip


def sll2(ip: bytes) -> bytes:
    etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHIHBB8s", etype, 0, 1, 1, 0, 6, b"\x02" * 8) + ip


def pcap(
    frames: list[tuple[float, bytes]],
    linktype: int = 1,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 65535,
) -> bytes:
    unit = 10**9 if nano else 10**6
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for ts, frame in frames:
        cap = frame[:snaplen]
        sec, frac = int(ts), round((ts - int(ts)) * unit)
        out += [struct.pack(endian + "IIII", sec, frac, len(cap), len(frame)), cap]
    return b"".join(out)


def block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return (
        struct.pack(endian + "II", btype, len(body) + 12)
        + body
        + struct.pack(endian + "I", len(body) + 12)
    )


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, linktype: int, tsresol: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + b"\x00" * 4
    return block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 0) + opts)


def epb(endian: str, iface: int, ticks: int, frame: bytes) -> bytes:
    hdr = struct.pack(
        endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)
    )
    return block(endian, 6, hdr + frame)


def segments(stream: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    """Split ``stream`` at ``cuts`` into (offset, bytes) pieces."""
    edges = [0, *cuts, len(stream)]
    return [(a, stream[a:b]) for a, b in itertools.pairwise(edges) if b > a]


def session(
    pieces: list[tuple[int, bytes]],
    isn: int = 1000,
    syn: bool = True,
    src: bytes = A4,
    dst: bytes = B4,
    sport: int = 51234,
    dport: int = 179,
) -> list[bytes]:
    """IPv4/IPv6 packets for one direction: optional SYN then the pieces at isn+1+offset."""
    ip = ipv4 if len(src) == 4 else ipv6
    pkts = [ip(src, dst, tcp(sport, dport, isn, b"", flags=0x02))] if syn else []
    pkts += [
        ip(src, dst, tcp(sport, dport, (isn + 1 + off) & 0xFFFFFFFF, data)) for off, data in pieces
    ]
    return pkts


def run(data: bytes, port: int = 179) -> list[CapturedMessage | CaptureGap]:
    return list(read_capture(data, port))


def datas(items: list[CapturedMessage | CaptureGap]) -> list[bytes]:
    return [i.data for i in items if isinstance(i, CapturedMessage)]


STREAM = OPEN + KEEPALIVE + UPDATE + KEEPALIVE + NOTIFICATION
ALL = [OPEN, KEEPALIVE, UPDATE, KEEPALIVE, NOTIFICATION]


# --------------------------------------------------------------------------- container formats


def test_is_capture() -> None:
    assert is_capture(b"\xd4\xc3\xb2\xa1rest")
    assert is_capture(b"\xa1\xb2\xc3\xd4")
    assert is_capture(b"\x4d\x3c\xb2\xa1")
    assert is_capture(b"\xa1\xb2\x3c\x4d")
    assert is_capture(b"\x0a\x0d\x0d\x0a")
    assert not is_capture(b"")
    assert not is_capture(MARKER)
    assert not is_capture(b"\x1f\x8b\x08\x00")


@pytest.mark.parametrize(
    "data", [b"", b"hello world", MARKER * 3, b"\xd4\xc3\xb2\xa1\x02\x00", b"\x0a\x0d\x0d\x0a\x1c"]
)
def test_not_a_capture(data: bytes) -> None:
    with pytest.raises(CaptureError):
        read_capture(data)


def test_pcapng_bad_byte_order_magic() -> None:
    bad = bytearray(shb("<"))
    bad[8:12] = b"abcd"
    with pytest.raises(CaptureError):
        read_capture(bytes(bad))


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_magics_and_timestamps(endian: str, nano: bool) -> None:
    pkts = session(segments(STREAM, [5, 40, 60]))
    frames = [(100.0 + i * 0.25, ether(p)) for i, p in enumerate(pkts)]
    items = run(pcap(frames, endian=endian, nano=nano))
    assert datas(items) == ALL
    assert [i.timestamp for i in items] == [100.5, 100.75, 101.0, 101.0, 101.0]
    assert items[0].src == "10.0.0.1:51234"
    assert items[0].dst == "10.0.0.2:179"


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_interfaces_tsresol_and_spb(endian: str) -> None:
    a = session(segments(OPEN + KEEPALIVE, [10]))
    b = session([(0, UPDATE)], src=B6, dst=A6, sport=179, dport=40000)
    data = (
        shb(endian)
        + idb(endian, 1)
        + idb(endian, 276, tsresol=9)
        + idb(endian, 113, tsresol=0x80 | 10)
    )
    data += epb(endian, 0, 5_000_000, ether(a[0]))  # 5 s in microseconds
    data += epb(endian, 1, 6_000_000_000, sll2(b[0]))  # 6 s in nanoseconds
    data += block(endian, 99, b"unknown block type")
    data += epb(endian, 0, 7_000_000, ether(a[1]))
    data += epb(endian, 2, 8 * 1024, sll(a[2]))  # 8 s in 1/1024 s
    data += epb(endian, 1, 9_000_000_000, sll2(b[1]))
    # a simple packet block carries no timestamp; it reuses the last one
    data += block(endian, 3, struct.pack(endian + "I", len(ether(a[0]))) + ether(a[0]))
    items = run(data)
    assert [(i.timestamp, i.data) for i in items if isinstance(i, CapturedMessage)] == [
        (8.0, OPEN),
        (8.0, KEEPALIVE),
        (9.0, UPDATE),
    ]
    assert items[2].src == "[fd00::2]:179"
    assert items[2].dst == "[fd00::1]:40000"


def test_pcapng_second_section_other_endian() -> None:
    a = session([(0, KEEPALIVE)])
    data = shb("<") + idb("<", 101) + epb("<", 0, 1_000_000, a[0])
    data += shb(">") + idb(">", 1) + epb(">", 0, 2_000_000, ether(a[1]))
    assert datas(run(data)) == [KEEPALIVE]


# --------------------------------------------------------------------------- link layers


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (1, lambda ip: ether(ip)),
        (1, lambda ip: ether(ip, vlan=True)),
        (1, lambda ip: ether(ip, pad=b"\x00" * 6)),  # trailing padding / FCS is not payload
        (113, sll),
        (276, sll2),
        (101, lambda ip: ip),
        (12, lambda ip: ip),
        (0, lambda ip: struct.pack("<I", 2 if ip[0] >> 4 == 4 else 24) + ip),
        (108, lambda ip: struct.pack(">I", 2 if ip[0] >> 4 == 4 else 30) + ip),
        (9, lambda ip: b"\xff\x03" + (b"\x00\x21" if ip[0] >> 4 == 4 else b"\x00\x57") + ip),
        (104, lambda ip: b"\x0f\x00" + (b"\x08\x00" if ip[0] >> 4 == 4 else b"\x86\xdd") + ip),
        (104, lambda ip: b"\x0f\x00\x88\x47\x00\x01\x21\xfe" + ip),  # MPLS, one label
    ],
)
@pytest.mark.parametrize("v6", [False, True])
def test_link_types(linktype: int, wrap: Callable[[bytes], bytes], v6: bool) -> None:
    src, dst = (A6, B6) if v6 else (A4, B4)
    pkts = session(segments(STREAM, [3, 50]), src=src, dst=dst)
    assert datas(run(pcap([(1.0, wrap(p)) for p in pkts], linktype=linktype))) == ALL


def test_ipv6_extension_header() -> None:
    pkts = [ipv6(A6, B6, tcp(51234, 179, 1, KEEPALIVE), hop_by_hop=True)]
    items = run(pcap([(1.0, sll(p)) for p in pkts], linktype=113))
    assert datas(items) == [KEEPALIVE]
    assert items[0].src == "[fd00::1]:51234"


def test_port_filter_and_non_tcp() -> None:
    other = ipv4(A4, B4, tcp(1234, 80, 1, KEEPALIVE))
    udp = ipv4(A4, B4, b"\x00" * 8 + KEEPALIVE, proto=17)
    pkts = [other, udp, *session([(0, KEEPALIVE)], dport=1179)]
    data = pcap([(1.0, ether(p)) for p in pkts])
    assert datas(run(data)) == []
    assert datas(run(data, port=1179)) == [KEEPALIVE]


def test_ip_fragments_are_skipped() -> None:
    frag = ipv4(A4, B4, tcp(51234, 179, 1, KEEPALIVE), frag=0x2000)  # MF set
    frag2 = ipv4(A4, B4, tcp(51234, 179, 1, KEEPALIVE), frag=10)  # offset 80
    assert run(pcap([(1.0, ether(frag)), (2.0, ether(frag2))])) == []


# --------------------------------------------------------------------------- reassembly


def test_one_segment_several_messages() -> None:
    pkts = session([(0, STREAM)])
    assert datas(run(pcap([(1.0, ether(p)) for p in pkts]))) == ALL


def test_byte_by_byte() -> None:
    pkts = session(segments(STREAM, list(range(1, len(STREAM)))))
    assert datas(run(pcap([(1.0, ether(p)) for p in pkts]))) == ALL


def test_out_of_order_and_duplicates() -> None:
    pieces = segments(STREAM, [7, 20, 33, 45, 70, 90])
    syn, *pkts = session(pieces)
    order = [pkts[i] for i in (1, 0, 0, 3, 2, 1, 5, 4, 6, 6, 2)]
    # an overlapping retransmission covering pieces 3..4
    order.insert(4, ipv4(A4, B4, tcp(51234, 179, 1001 + 20, STREAM[20:60])))
    items = run(pcap([(float(i), ether(p)) for i, p in enumerate([syn, *order])]))
    assert not any(isinstance(i, CaptureGap) for i in items)
    assert datas(items) == ALL


def test_sequence_wraparound() -> None:
    pkts = session(segments(STREAM, [10, 30, 55, 70]), isn=0xFFFFFFF0)
    pkts[2], pkts[3] = pkts[3], pkts[2]
    assert datas(run(pcap([(1.0, ether(p)) for p in pkts]))) == ALL


def test_gap_detected_by_peer_ack_and_resync() -> None:
    pieces = segments(STREAM, [10, 40, 52])  # piece 1 = OPEN tail + KEEPALIVE head
    pkts = session(pieces)
    del pkts[2]  # lose STREAM[10:40]
    ack = ipv4(B4, A4, tcp(179, 51234, 5000, b"", flags=0x10, ack=1001 + 52))
    frames = [
        (1.0, ether(pkts[0])),
        (2.0, ether(pkts[1])),
        (3.0, ether(pkts[2])),
        (4.0, ether(ack)),
    ]
    frames.append((5.0, ether(pkts[3])))
    items = run(pcap(frames))
    assert items == [
        CaptureGap("10.0.0.1:51234", "10.0.0.2:179", 4.0, 30),
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 5.0, UPDATE),
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 5.0, KEEPALIVE),
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 5.0, NOTIFICATION),
    ]


def test_gap_detected_at_end_of_capture() -> None:
    pkts = session(segments(STREAM, [29, 48]))
    del pkts[2]  # lose KEEPALIVE
    items = run(pcap([(float(i), ether(p)) for i, p in enumerate(pkts)]))
    assert [type(i).__name__ for i in items] == [
        "CapturedMessage",
        "CaptureGap",
        *["CapturedMessage"] * 3,
    ]
    assert isinstance(items[1], CaptureGap)
    assert items[1].missing == len(KEEPALIVE)
    assert datas(items) == [OPEN, UPDATE, KEEPALIVE, NOTIFICATION]


def test_mid_stream_capture_resyncs_on_marker() -> None:
    pkts = session(segments(STREAM, [35, 60, 80]), syn=False)[1:]  # starts inside KEEPALIVE
    assert datas(run(pcap([(1.0, ether(p)) for p in pkts]))) == [UPDATE, KEEPALIVE, NOTIFICATION]


def test_resync_skips_longer_ff_runs() -> None:
    junk = b"\x01\x02" + b"\xff" * 20  # mid-stream junk ending in 0xFF bytes
    pkts = session([(0, junk + KEEPALIVE + UPDATE)], syn=False)
    assert datas(run(pcap([(1.0, ether(p)) for p in pkts]))) == [KEEPALIVE, UPDATE]


def test_garbled_header_in_stream_yields_gap_and_resyncs() -> None:
    bad = MARKER + b"\x00\x05\x04"  # length < 19
    pkts = session([(0, OPEN + bad + KEEPALIVE)])
    items = run(pcap([(1.0, ether(p)) for p in pkts]))
    assert items[1] == CaptureGap("10.0.0.1:51234", "10.0.0.2:179", 1.0, 0)
    assert datas(items) == [OPEN, KEEPALIVE]


def test_snaplen_truncation_is_a_gap() -> None:
    pkts = session([(0, OPEN), (29, UPDATE + KEEPALIVE), (29 + 42, NOTIFICATION)])
    frames = [(float(i), ether(p)) for i, p in enumerate(pkts)]
    cut = 14 + 20 + 20 + 30  # keep 30 payload bytes of the second packet
    data = pcap(frames[:2]) + pcap(frames[2:3], snaplen=cut)[24:] + pcap(frames[3:])[24:]
    items = run(data)
    assert items[1:] == [
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 2.0, UPDATE),
        CaptureGap("10.0.0.1:51234", "10.0.0.2:179", 2.0, 12),
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 3.0, NOTIFICATION),
    ]


def test_new_connection_same_ports() -> None:
    first = session([(0, OPEN[:10])], isn=100)
    second = session([(0, KEEPALIVE)], isn=90000)
    items = run(pcap([(1.0, ether(p)) for p in first + second]))
    assert items == [CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 1.0, KEEPALIVE)]


def test_new_connection_without_syn() -> None:
    first = session([(0, OPEN[:10])], isn=1_000_000_000, syn=False)
    second = session([(0, KEEPALIVE)], isn=1000, syn=False)
    items = run(pcap([(1.0, ether(p)) for p in first + second]))
    assert items == [
        CaptureGap("10.0.0.1:51234", "10.0.0.2:179", 1.0, 0),
        CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 1.0, KEEPALIVE),
    ]


def test_both_directions_interleaved() -> None:
    a = session(segments(OPEN + KEEPALIVE, [20]))
    b = session(
        segments(OPEN + KEEPALIVE + UPDATE, [5, 35]), src=B4, dst=A4, sport=179, dport=51234
    )
    frames = [
        (float(i), ether(p)) for i, p in enumerate([a[0], b[0], a[1], b[1], b[2], a[2], b[3]])
    ]
    items = [i for i in run(pcap(frames)) if isinstance(i, CapturedMessage)]
    assert [(i.src[:8], i.timestamp, i.data) for i in items] == [
        ("10.0.0.2", 4.0, OPEN),
        ("10.0.0.1", 5.0, OPEN),
        ("10.0.0.1", 5.0, KEEPALIVE),
        ("10.0.0.2", 6.0, KEEPALIVE),
        ("10.0.0.2", 6.0, UPDATE),
    ]


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 2**32 - 1))
def test_random_segmentation_reordering_duplication(rnd: random.Random, isn: int) -> None:
    msgs = [rnd.choice([OPEN, KEEPALIVE, UPDATE, NOTIFICATION]) for _ in range(rnd.randint(1, 30))]
    stream = b"".join(msgs)
    cuts = sorted(rnd.sample(range(1, len(stream)), rnd.randint(0, min(40, len(stream) - 1))))
    syn, *pkts = session(segments(stream, cuts), isn=isn)
    for _ in range(rnd.randint(0, 10)):  # duplicates
        pkts.insert(rnd.randrange(len(pkts) + 1), rnd.choice(pkts))
    for _ in range(rnd.randint(0, 10)):  # local reordering
        i = rnd.randrange(len(pkts))
        j = min(len(pkts) - 1, i + rnd.randint(1, 4))
        pkts[i], pkts[j] = pkts[j], pkts[i]
    items = run(pcap([(1.0, ether(p)) for p in [syn, *pkts]]))
    assert items == [CapturedMessage("10.0.0.1:51234", "10.0.0.2:179", 1.0, m) for m in msgs]


# --------------------------------------------------------------------------- robustness


def _valid_capture() -> bytes:
    pkts = session(segments(STREAM, [10, 40]))
    return pcap([(1.0, ether(p)) for p in pkts])


def _consume(data: bytes) -> None:
    try:
        items = run(data)
    except CaptureError:
        return
    for item in items:
        if isinstance(item, CapturedMessage):
            assert item.data[:16] == MARKER
            assert int.from_bytes(item.data[16:18], "big") == len(item.data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.sampled_from([0, 1, 9, 12, 101, 104, 108, 113, 178, 276]))
def test_random_bytes_after_pcap_header(body: bytes, linktype: int) -> None:
    _consume(pcap([], linktype=linktype) + body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_after_pcapng_header(body: bytes) -> None:
    _consume(shb("<") + idb("<", 1) + body)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_captures(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from([_valid_capture(), _valid_pcapng()])))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    _consume(bytes(base[:cut]))


def _valid_pcapng() -> bytes:
    pkts = session(segments(STREAM, [10, 40]), src=A6, dst=B6)
    return shb("<") + idb("<", 113) + b"".join(epb("<", 0, 10**6, sll(p)) for p in pkts)


# --------------------------------------------------------------------------- public fixtures


def _public_captures() -> list[tuple[str, str]]:
    manifest = PUBLIC / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    rows = [
        line.split("\t") for line in manifest.read_text().splitlines() if not line.startswith("#")
    ]
    return [(r[0], r[2]) for r in rows if len(r) >= 3 and r[1] in ("pcap", "pcapng")]


def _load(rel: str, compression: str) -> bytes:
    raw = (PUBLIC / rel).read_bytes()
    if compression == "gz":
        return gzip.decompress(raw)
    if compression == "bz2":
        return bz2.decompress(raw)
    return raw


def _types(rel: str, port: int = 179) -> tuple[Counter[int], list[int]]:
    if not PUBLIC.is_dir():
        pytest.skip("public fixtures folder not present")
    items = list(read_capture((PUBLIC / rel).read_bytes(), port))
    types = Counter(i.data[18] for i in items if isinstance(i, CapturedMessage))
    return types, [i.missing for i in items if isinstance(i, CaptureGap)]


@pytest.mark.public
@pytest.mark.parametrize(
    ("rel", "compression"), _public_captures() or [pytest.param("", "", id="absent")]
)
def test_public_captures_never_raise(rel: str, compression: str) -> None:
    if not rel:
        pytest.skip("public fixtures folder not present")
    data = _load(rel, compression)
    assert is_capture(data[:4])
    for item in read_capture(data):
        if isinstance(item, CapturedMessage):
            assert item.data[:16] == MARKER
            assert int.from_bytes(item.data[16:18], "big") == len(item.data)
            assert 1 <= item.data[18] <= 5
        else:
            assert item.missing >= 0


@pytest.mark.public
@pytest.mark.parametrize(
    ("rel", "port", "types", "gaps"),
    [
        ("osken-packet-data/bgp4/bgp4-open.pcap", 179, {1: 1}, []),
        ("osken-packet-data/bgp4/bgp4-keepalive.pcap", 179, {4: 1}, []),
        ("osken-packet-data/bgp4/bgp4-update_ipv6.pcap", 179, {2: 2}, []),
        ("tcpdump-tests/bgp-4byte-asn.pcap", 179, {1: 8, 2: 10, 3: 1, 4: 16}, []),
        ("tcpdump-tests/bgp-enhanced-route-refresh-subtype.pcapng", 179, {2: 5, 5: 3}, []),
        ("tcpdump-tests/bgp-role.pcapng", 179, {1: 1, 2: 9, 4: 2}, [38]),  # capture lost 38 bytes
        ("tcpdump-tests/bgp-aigp.pcap", 179, {2: 2}, []),  # Juniper Ethernet link type
        ("tcpdump-tests/bgp_vpn_attrset.pcap", 179, {2: 1}, []),  # PPP
        ("bgp-rs-res/pcap/BGP_redist.cap", 179, {2: 2}, []),  # Cisco HDLC + MPLS
        ("bgp-rs-res/pcap/BGP_soft_reset.cap", 179, {2: 12, 4: 8, 5: 1}, []),
        ("bgp-rs-res/pcap/bgp_withdraw.cap", 1179, {2: 2}, [19]),  # BSD loopback, port 1179
    ],
)
def test_public_known_counts(rel: str, port: int, types: dict[int, int], gaps: list[int]) -> None:
    got_types, got_gaps = _types(rel, port)
    assert dict(got_types) == types
    assert got_gaps == gaps
