"""read_routes (columnar RIB loading) gives exactly what read_mrt gives, record for record."""

from __future__ import annotations

import io
from pathlib import Path
from struct import pack, unpack_from
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.mrt.reader import open_maybe_compressed, read_mrt, rib_key
from pybgp.mrt.records import MrtError, RibRecord
from pybgp.mrt.routes import RouteBatch, read_routes
from pybgp.mrt.synth import TIMESTAMP, synthesize

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "public"


def _flatten_mrt(data: bytes) -> list[Any]:
    out: list[Any] = []
    for r in read_mrt(io.BytesIO(data)):
        if isinstance(r, RibRecord) and r.subtype in (2, 4, 8, 10):
            for e in r.entries:
                pid = e.path_id if r.subtype >= 8 else None
                out.append(("route", r.afi, r.prefix, e.peer_index, pid, e.attrs, e.error))
        elif isinstance(r, MrtError):
            out.append(("error", r.reason))
        else:
            out.append(("record", r))
    return out


def _flatten_routes(data: bytes) -> list[Any]:
    out: list[Any] = []
    for b in read_routes(io.BytesIO(data)):
        if isinstance(b, RouteBatch):
            errors = dict(b.errors)
            for i, p in enumerate(b.prefixes):
                pid = b.path_ids[i] if b.path_ids else None
                out.append(("route", b.afi, p, b.peers[i], pid, b.attrs[i], errors.get(i)))
        elif isinstance(b, MrtError):
            out.append(("error", b.reason))
        elif isinstance(b, RibRecord):  # a record the fast loop handed to the generic path
            for e in b.entries:
                pid = e.path_id if b.subtype >= 8 else None
                out.append(("route", b.afi, b.prefix, e.peer_index, pid, e.attrs, e.error))
        else:
            out.append(("record", b))
    return out


def _same(data: bytes) -> None:
    a, b = _flatten_mrt(data), _flatten_routes(data)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x[0] == "route":
            assert x[:6] == y[:6]
            assert (x[6] is None) == (y[6] is None)
        else:
            assert x == y


@pytest.mark.parametrize("ipv6", [False, True])
def test_synthetic_table_matches_read_mrt(ipv6: bool) -> None:
    buf = io.BytesIO()
    synthesize(buf, 3000, seed=7, ipv6=ipv6)
    _same(buf.getvalue())


def test_truncated_file_reports_the_same_error() -> None:
    buf = io.BytesIO()
    synthesize(buf, 500, seed=3)
    data = buf.getvalue()
    for cut in (len(data) - 1, len(data) - 40, 5):
        _same(data[:cut])


def test_damaged_rib_records_are_errors_and_the_read_goes_on() -> None:
    """Each way a RIB record can be wrong is an MrtError, compiled or not.

    A prefix length past the address (BgpError), a body cut short by the end of the
    input (IndexError) and an entry cut by it (struct.error): read_mrt and read_routes
    both yield "truncated or malformed record" and go on with the next record.
    """
    buf = io.BytesIO()
    synthesize(buf, 20, seed=5)
    good = buf.getvalue()
    first_rib = good.index(pack("!IHH", TIMESTAMP, 13, 2))  # after the PEER_INDEX_TABLE
    one = good[first_rib : first_rib + 12 + unpack_from("!I", good, first_rib + 8)[0]]

    def rib(body: bytes) -> bytes:
        return pack("!IHHI", TIMESTAMP, 13, 2, len(body)) + body

    too_long = rib(b"\0\0\0\1" + b"\xff" + bytes(32) + b"\0\0")  # a /255
    short = rib(b"\0\0\0\2")  # the sequence number and nothing else
    cut = rib(b"\0\0\0\3\x18\x0a\x00\x00\x00\x01\x00")  # one entry, 1 of its 8 octets
    for tail, reason in ((short, "index out of range"), (cut, "unpack_from requires")):
        data = good + too_long + one + tail
        _same(data)
        flat = _flatten_routes(data)
        errors = [x[1] for x in flat if x[0] == "error"]
        assert errors == [
            "truncated or malformed record: prefix length 255 exceeds 32",
            errors[1],
        ]
        assert errors[1].startswith(f"truncated or malformed record: {reason}")
        assert len([x for x in flat if x[0] == "route"]) == 21


def test_interned_attributes_are_shared() -> None:
    buf = io.BytesIO()
    stats = synthesize(buf, 5000, seed=1)
    ids = {id(a) for b in read_routes(buf.getvalue()) if isinstance(b, RouteBatch) for a in b.attrs}
    assert len(ids) == stats.attribute_sets


@pytest.mark.public
@pytest.mark.parametrize(
    "name",
    [
        "bgpdump-test-data/test_data/bview.ipv4_unicast_add_path.gz",
        "bgpdump-test-data/test_data/bview.ipv6_unicast_add_path.gz",
        "pyasn-rib-samples/rib.20140523.0600_firstMB.complete-records.mrt.gz",
        "pyasn-rib-samples/rib6.20151101.0600_firstMB.bz2",
        "mrtparse-samples/openbgpd_rib_table-v2",
        "mrtparse-samples/quagga_rib",
        "bgpdump-test-data/test_data/updates.20160811.1600.gz",
    ],
)
def test_public_files_match_read_mrt(name: str) -> None:
    if not PUBLIC.exists():
        pytest.skip("../shared/fixtures/public is not present on this machine")
    with open_maybe_compressed(str(PUBLIC / name)) as f:
        try:
            data = f.read()
        except EOFError:  # a deliberately cut bz2: compare what can be read
            data = b""
    if not data:
        with open_maybe_compressed(str(PUBLIC / name)) as f:
            chunks = []
            try:
                while chunk := f.read(65536):
                    chunks.append(chunk)
            except EOFError:
                pass
            data = b"".join(chunks)
    _same(data)


def _attr_blocks(data: bytes) -> list[bytes]:
    """Every distinct RIB-entry attribute block of an MRT stream."""
    from pybgp.mrt.reader import MrtReader

    rd = MrtReader()
    for _ in read_mrt(io.BytesIO(data), rd):
        pass
    return [k for k in rd.interner.by_raw if isinstance(k, bytes)]


def _check_fast_path(blocks: list[bytes]) -> int:
    from pybgp.codec.attributes import decode_attributes, decode_fast, walk_attributes
    from pybgp.mrt.reader import decode_rib_attributes

    fast_hits = 0
    for raw in blocks:
        fast = decode_fast(raw, 0, len(raw), True, True, {})
        slow, errors = decode_rib_attributes(raw, 0, len(raw))  # no cache: the slow path
        if fast is None:
            continue
        fast_hits += 1
        assert not errors
        assert fast == slow and fast.wire == slow.wire
        # and without MRT's abbreviated MP_REACH the update path agrees as well
        tlvs = walk_attributes(raw, 0, len(raw))
        if all(code != 14 for _, code, _, _ in tlvs):
            assert decode_attributes(raw, tlvs, True, True)[0] == slow
    return fast_hits


def test_fast_attribute_path_agrees_with_the_table_driven_one() -> None:
    buf = io.BytesIO()
    synthesize(buf, 5000, seed=11)
    blocks = _attr_blocks(buf.getvalue())
    assert _check_fast_path(blocks) == len(blocks)  # the synthetic table is all common case
    buf6 = io.BytesIO()
    synthesize(buf6, 2000, seed=11, ipv6=True)
    blocks6 = _attr_blocks(buf6.getvalue())
    assert _check_fast_path(blocks6) == len(blocks6)


@pytest.mark.public
@pytest.mark.parametrize(
    "name",
    [
        "pyasn-rib-samples/rib.20140523.0600_firstMB.complete-records.mrt.gz",
        # Quagga's IPv6 entries carry the whole MP_REACH_NLRI, not the RFC 6396 form
        "pyasn-rib-samples/rib6.20151101.0600_firstMB.complete-records.mrt.gz",
    ],
)
def test_fast_attribute_path_on_real_ribs(name: str) -> None:
    if not PUBLIC.exists():
        pytest.skip("../shared/fixtures/public is not present on this machine")
    with open_maybe_compressed(str(PUBLIC / name)) as f:
        blocks = _attr_blocks(f.read())
    assert _check_fast_path(blocks) > len(blocks) // 2


_NH6 = bytes.fromhex("20010db8000000000000000000000001")
_LL6 = bytes.fromhex("fe800000000000000000000000000001")


@pytest.mark.parametrize(
    ("mp_value", "next_hop"),
    [
        (bytes([16]) + _NH6, _NH6),  # RFC 6396 4.3.4: length, next hop
        (bytes([32]) + _NH6 + _LL6, _NH6 + _LL6),
        # the whole attribute: AFI, SAFI, length, next hop, reserved, NLRI
        (bytes.fromhex("00020110") + _NH6 + bytes.fromhex("001820010d"), _NH6),
        (bytes.fromhex("00020120") + _NH6 + _LL6 + b"\x00", _NH6 + _LL6),
        (bytes.fromhex("00020110") + _NH6, _NH6),  # no reserved octet, no NLRI
        (bytes.fromhex("00020120") + _NH6, None),  # the next hop overruns the attribute
        (bytes.fromhex("000201"), None),  # too short for either form
    ],
)
def test_fast_path_reads_both_forms_of_mp_reach_in_a_rib_entry(
    mp_value: bytes, next_hop: bytes | None
) -> None:
    """decode_fast takes the abbreviated and the whole MP_REACH_NLRI of a RIB entry
    and gives the set the table-driven path gives; what neither form fits goes to the
    slow path."""
    from pybgp.codec.attributes import decode_fast
    from pybgp.mrt.reader import decode_rib_attributes

    raw = (
        bytes.fromhex("40010100")  # ORIGIN IGP
        + bytes.fromhex("50020006020100000001")  # AS_PATH 1 (extended length)
        + bytes([0x80, 14, len(mp_value)])
        + mp_value
    )
    fast = decode_fast(raw, 0, len(raw), True, True, {})
    slow, errors = decode_rib_attributes(raw, 0, len(raw))
    short = rib_key(raw, 0, len(raw))
    if next_hop is None:
        assert fast is None
        assert slow.mp_next_hop is None
        assert short is None  # what does not parse stays its own key
        return
    assert fast is not None and not errors
    assert fast.mp_next_hop == next_hop
    assert fast == slow and fast.wire == slow.wire
    if mp_value[0] == len(mp_value) - 1:
        assert short is None  # the RFC 6396 form is its own key
    else:  # the interning key is the RFC 6396 form, and decodes to the same set
        assert short == raw[:14] + bytes([0x80, 14, len(next_hop) + 1, len(next_hop)]) + next_hop
        assert decode_rib_attributes(short, 0, len(short)) == (slow, errors)
        assert decode_rib_attributes(short, 0, len(short))[0].wire == slow.wire


def _whole_mp_reach(data: bytes) -> bytes:
    """``data`` (an MRT dump) with the MP_REACH_NLRI of every IPv6 RIB entry written
    whole, AFI to NLRI (the record's prefix), as Quagga writes it."""
    out, pos = [], 0
    while pos < len(data):
        ts, typ, sub, length = unpack_from("!IHHI", data, pos)
        body = data[pos + 12 : pos + 12 + length]
        pos += 12 + length
        if (typ, sub) != (13, 4):
            out.append(pack("!IHHI", ts, typ, sub, length) + body)
            continue
        n = (body[4] + 7) >> 3
        nlri = body[4 : 5 + n]
        p = 5 + n
        count = unpack_from("!H", body, p)[0]
        parts = [body[: p + 2]]
        p += 2
        for _ in range(count):
            alen = unpack_from("!H", body, p + 6)[0]
            attrs, a, new = body[p + 8 : p + 8 + alen], 0, b""
            while a < len(attrs):
                flags, code = attrs[a], attrs[a + 1]
                vs = a + (4 if flags & 0x10 else 3)
                ve = vs + (unpack_from("!H", attrs, a + 2)[0] if flags & 0x10 else attrs[a + 2])
                if code == 14:  # the RFC 6396 form: length, next hop
                    value = b"\x00\x02\x01" + attrs[vs:ve] + b"\x00" + nlri
                    new += bytes((0x90, 14)) + pack("!H", len(value)) + value
                else:
                    new += attrs[a:ve]
                a = ve
            parts.append(body[p : p + 6] + pack("!H", len(new)) + new)
            p += 8 + alen
        body = b"".join(parts)
        out.append(pack("!IHHI", ts, typ, sub, len(body)) + body)
    return b"".join(out)


@pytest.mark.parametrize("nhl", [16, 32, 255])
def test_whole_mp_reach_key_with_an_extended_length(nhl: int) -> None:
    """An extended-length MP_REACH_NLRI keeps two length octets in its key, also for
    a 255-octet next hop (256 octets in the short form)."""
    from pybgp.mrt.reader import decode_rib_attributes

    nh = bytes(range(nhl))
    value = bytes([0, 2, 1, nhl]) + nh + b"\x00" + bytes([24, 1, 2, 3])
    raw = bytes.fromhex("40010100") + bytes([0x90, 14]) + pack("!H", len(value)) + value
    short = rib_key(raw, 0, len(raw))
    assert short == bytes.fromhex("40010100") + bytes([0x90, 14]) + pack("!HB", nhl + 1, nhl) + nh
    got, want = decode_rib_attributes(short, 0, len(short)), decode_rib_attributes(raw, 0, len(raw))
    assert got == want and got[0].wire == want[0].wire
    assert got[0].mp_next_hop == nh


@settings(max_examples=300, deadline=None)
@given(
    flags=st.sampled_from([0x80, 0x90, 0xC0, 0x81, 0x00]),
    value=st.one_of(
        st.binary(max_size=40),
        st.tuples(st.integers(0, 40), st.binary(max_size=40), st.binary(max_size=8)).map(
            lambda t: bytes([0, 2, 1, t[0]]) + t[1] + t[2]
        ),
    ),
    tail=st.sampled_from([b"", bytes.fromhex("80040400000005"), b"\x80\x04"]),
)
def test_rib_key_never_changes_what_an_entry_decodes_to(
    flags: int, value: bytes, tail: bytes
) -> None:
    """Whatever the bytes, ``rib_key`` gives None or a key that decodes exactly as
    the entry itself (set, layout and RFC 7606 outcomes), and raises nothing."""
    from pybgp.mrt.reader import decode_rib_attributes

    size = pack("!H", len(value)) if flags & 0x10 else bytes([len(value)])
    raw = bytes.fromhex("40010100") + bytes([flags, 14]) + size + value + tail
    short = rib_key(raw, 0, len(raw))
    if short is not None:
        got, want = (
            decode_rib_attributes(short, 0, len(short)),
            decode_rib_attributes(raw, 0, len(raw)),
        )
        assert got == want and got[0].wire == want[0].wire


def test_whole_mp_reach_entries_share_their_sets() -> None:
    """A dump whose IPv6 entries carry the whole MP_REACH_NLRI (each with its own
    prefix in it) interns its sets as the RFC 6396 form of the same dump does: one
    object per distinct set, the same sets, from read_routes and read_mrt alike."""
    from pybgp.mrt.reader import MrtReader

    buf = io.BytesIO()
    stats = synthesize(buf, 3000, seed=5, ipv6=True)
    plain = buf.getvalue()
    whole = _whole_mp_reach(plain)
    assert len(whole) > len(plain)
    _same(whole)
    routes = [x for x in _flatten_routes(whole) if x[0] == "route"]
    assert [x[:6] for x in routes] == [x[:6] for x in _flatten_routes(plain) if x[0] == "route"]
    assert all(x[6] is None for x in routes)
    assert len({id(x[5]) for x in routes}) == stats.attribute_sets
    assert len({id(x[5]) for x in _flatten_mrt(whole) if x[0] == "route"}) == stats.attribute_sets
    rd = MrtReader()
    for _ in read_routes(whole, rd):
        pass
    assert len(rd.interner.by_raw) == stats.attribute_sets


@pytest.mark.public
def test_whole_mp_reach_keys_decode_as_the_entries_on_a_real_rib() -> None:
    """Every RIB entry of Quagga's IPv6 dump decodes from its interning key exactly
    as from its own bytes."""
    from pybgp.mrt.reader import decode_rib_attributes

    if not PUBLIC.exists():
        pytest.skip("../shared/fixtures/public is not present on this machine")
    name = "pyasn-rib-samples/rib6.20151101.0600_firstMB.complete-records.mrt.gz"
    with open_maybe_compressed(str(PUBLIC / name)) as f:
        data = f.read()
    keys = 0
    for raw in _entry_blocks(data):
        short = rib_key(raw, 0, len(raw))
        if short is not None:
            keys += 1
            got, want = (
                decode_rib_attributes(short, 0, len(short)),
                decode_rib_attributes(raw, 0, len(raw)),
            )
            assert got == want and got[0].wire == want[0].wire
    assert keys > 100_000  # all of them carry the whole attribute


def _entry_blocks(data: bytes) -> list[bytes]:
    """The attribute block of every RIB_IPV6_UNICAST entry of an MRT dump."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        _, typ, sub, length = unpack_from("!IHHI", data, pos)
        body = data[pos + 12 : pos + 12 + length]
        pos += 12 + length
        if (typ, sub) == (13, 4):
            p = 5 + ((body[4] + 7) >> 3)
            count = unpack_from("!H", body, p)[0]
            p += 2
            for _ in range(count):
                alen = unpack_from("!H", body, p + 6)[0]
                out.append(body[p + 8 : p + 8 + alen])
                p += 8 + alen
    return out
