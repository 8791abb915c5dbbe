"""Differential tests: the hand-written fast paths agree with ``pybgp.codec.layouts``.

The construct declarations in ``layouts`` are the layouts of record; ``decode_nlri``,
``encode_nlri``, ``walk_attributes``, the field split of ``decode_update``,
``check_header`` and ``decode_open`` are written by hand for speed.  Both run over every
message of the golden captures (real BIRD/FRR/GoBGP/ExaBGP sessions), of the public
fixtures (pcap, pcapng, MRT BGP4MP) and over hypothesis-generated messages.  Agreement
means the same prefixes and path ids, the same TLV boundaries, or that both reject.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.capture import CapturedMessage, read_capture
from pybgp.codec import layouts as L
from pybgp.codec.attributes import Interner, walk_attributes
from pybgp.codec.errors import Action, BgpError, ErrorSubcode
from pybgp.codec.header import check_header
from pybgp.codec.message import decode_message
from pybgp.codec.nlri import decode_nlri, encode_nlri
from pybgp.codec.open import decode_open
from pybgp.codec.options import SessionOptions
from pybgp.codec.update import decode_update
from pybgp.mrt.reader import open_maybe_compressed, read_mrt
from pybgp.mrt.records import Bgp4mpMessage

U = ErrorSubcode.Update
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "public"
PER_FILE = 600  # distinct messages taken from each public file (keeps the run short)
ALL_AP = frozenset({(1, 1), (1, 2), (2, 1), (2, 2)})
MARKER = b"\xff" * 16
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- comparisons


def _layout(fn: object, *args: object) -> object:
    """The layout's answer, or None when it rejects."""
    try:
        return fn(*args)  # type: ignore[operator]
    except L.ConstructError:
        return None


def _codec_nlri(
    data: bytes, bits: int, addpath: bool
) -> list[tuple[int | None, int, int]] | BgpError:
    try:
        prefixes, ids = decode_nlri(data, 0, len(data), bits, addpath)
    except BgpError as exc:
        return exc
    pids: list[int | None] = list(ids) if addpath else [None] * len(prefixes)
    return [(pid, p >> 8, p & 0xFF) for pid, p in zip(pids, prefixes, strict=True)]


def check_nlri(data: bytes, bits: int, addpath: bool) -> None:
    """decode_nlri and encode_nlri against ``layouts.nlri_list``."""
    ours = _codec_nlri(data, bits, addpath)
    ref = _layout(L.parse_nlri_list, data, bits, addpath)
    if ref is None:
        assert isinstance(ours, BgpError), (data.hex(), bits, addpath, ours)
        assert ours.subcode == U.INVALID_NETWORK_FIELD
        return
    assert ours == ref, (data.hex(), bits, addpath)
    assert isinstance(ours, list)
    prefixes = [(net << 8) | plen for _, net, plen in ours]
    ids = [pid or 0 for pid, _, _ in ours] if addpath else None
    encoded = encode_nlri(prefixes, bits, ids)
    assert encoded == L.build_nlri_list(ours, bits, addpath)
    assert L.parse_nlri_list(encoded, bits, addpath) == ref


def check_attribute_tlvs(data: bytes) -> list[tuple[int, int, bytes]] | None:
    """walk_attributes against ``layouts.PathAttributes``; returns the TLVs or None."""
    try:
        ours = [(f, c, data[vs:ve]) for f, c, vs, ve in walk_attributes(data, 0, len(data))]
    except BgpError as exc:
        assert exc.action == Action.TREAT_AS_WITHDRAW
        assert _layout(L.parse_attribute_tlvs, data) is None, data.hex()
        return None
    assert ours == L.parse_attribute_tlvs(data), data.hex()
    return ours


def check_header_(data: bytes) -> tuple[int, int] | None:
    try:
        ours: tuple[int, int] | None = check_header(data)
    except BgpError:
        ours = None
    assert ours == _layout(L.parse_header, data), data[:19].hex()
    return ours


def check_open(body: bytes) -> None:
    try:
        o = decode_open(body)
    except BgpError:
        assert _layout(L.parse_open, body) is None, body.hex()
        return
    ref = L.parse_open(body)
    my_as, hold, bgp_id, params, caps = ref
    assert (o.my_as, o.hold_time, o.bgp_id) == (my_as, hold, bgp_id)
    assert list(o.other_params) == params
    assert [c.code for c in o.capabilities] == [code for _, code, _ in caps]
    assert [c.encode() for c in o.capabilities] == [v for _, _, v in caps], body.hex()
    groups = [sum(1 for k, _, _ in caps if k == idx) for idx in sorted({k for k, _, _ in caps})]
    assert [n for n in o.param_groups if n] == groups


def check_update(body: bytes, options: SessionOptions) -> None:
    """The UPDATE field split, NLRI lists, TLV walk and MP attributes."""
    v4 = (1, 1) in options.addpath_rx
    try:
        u = decode_update(body, options, Interner())
        err = None
    except BgpError as exc:
        err = exc
    split = _layout(L.parse_update_fields, body)
    if split is None:
        assert err is not None and err.subcode == U.MALFORMED_ATTRIBUTE_LIST, body.hex()
        assert err.action == Action.SESSION_RESET
        return
    assert isinstance(split, tuple)
    wd, attrs, nlri = split
    check_nlri(wd, 32, v4)
    check_nlri(nlri, 32, v4)
    ref_wd = _layout(L.parse_nlri_list, wd, 32, v4)
    ref_nlri = _layout(L.parse_nlri_list, nlri, 32, v4)
    tlvs = check_attribute_tlvs(attrs)
    if ref_wd is None or ref_nlri is None:
        assert err is not None and err.subcode == U.INVALID_NETWORK_FIELD, body.hex()
        return
    if err is not None:  # only the attributes can still reset the session
        assert err.subcode in (U.MALFORMED_ATTRIBUTE_LIST, U.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE)
        assert tlvs is not None
        return
    assert isinstance(ref_wd, list) and isinstance(ref_nlri, list)
    assert [(pid, net, plen) for pid, net, plen in ref_wd] == [
        (pid, p >> 8, p & 0xFF)
        for pid, p in zip(
            u.withdrawn_ids if v4 else [None] * len(u.withdrawn), u.withdrawn, strict=True
        )
    ]
    assert [(net << 8) | plen for _, net, plen in ref_nlri] == list(u.nlri)
    if v4:
        assert [pid for pid, _, _ in ref_nlri] == list(u.nlri_ids)
    if tlvs is None:
        assert u.action == Action.TREAT_AS_WITHDRAW
        return
    _check_mp(u, tlvs, options)
    _check_as_path(u, tlvs, options)


def _first(tlvs: list[tuple[int, int, bytes]], code: int) -> tuple[int, bytes] | None:
    return next(((f, v) for f, c, v in tlvs if c == code), None)


def _check_mp(u: object, tlvs: list[tuple[int, int, bytes]], options: SessionOptions) -> None:
    from pybgp.codec.update import Update

    assert isinstance(u, Update)
    reach, unreach = _first(tlvs, 14), _first(tlvs, 15)
    mp_errors = [e for e in u.errors if e.action == Action.AFISAFI_DISABLE]
    if reach is not None:
        ref = _layout(L.parse_mp_reach, reach[1], options.addpath_rx)
        if ref is None:
            assert u.mp_reach is None and mp_errors, reach[1].hex()
        else:
            assert isinstance(ref, tuple)
            afi, safi, nh, nlri = ref
            r = u.mp_reach
            assert r is not None, reach[1].hex()
            assert (r.afi, r.safi) == (afi, safi)
            assert u.attrs is not None and u.attrs.mp_next_hop == nh
            if isinstance(nlri, bytes):
                assert r.raw_nlri == nlri
            else:
                assert list(r.nlri) == [(net << 8) | plen for _, net, plen in nlri]
                if (afi, safi) in options.addpath_rx:
                    assert list(r.path_ids) == [pid for pid, _, _ in nlri]
    if unreach is not None:
        ref2 = _layout(L.parse_mp_unreach, unreach[1], options.addpath_rx)
        if ref2 is None:
            assert u.mp_unreach is None and mp_errors, unreach[1].hex()
        else:
            assert isinstance(ref2, tuple)
            afi, safi, wd = ref2
            w = u.mp_unreach
            assert w is not None and (w.afi, w.safi) == (afi, safi)
            if isinstance(wd, bytes):
                assert w.raw_nlri == wd
            else:
                assert list(w.withdrawn) == [(net << 8) | plen for _, net, plen in wd]


def _check_as_path(u: object, tlvs: list[tuple[int, int, bytes]], options: SessionOptions) -> None:
    from pybgp.codec.update import Update

    assert isinstance(u, Update)
    found = _first(tlvs, 2)
    if found is None or u.attrs is None:
        return
    flags, value = found
    if flags & 0xE0 != 0x40:  # a flags error is reported before the value is read
        return
    ref = _layout(L.parse_as_path, value, options.four_octet_as)
    bad = [e for e in u.errors if e.data[1:2] == b"\x02" and e.subcode == U.MALFORMED_AS_PATH]
    if ref is None:
        assert bad and u.attrs.as_path is None, value.hex()
    else:
        assert not bad and u.attrs.as_path == ref, value.hex()


def check_message(data: bytes, options_list: tuple[SessionOptions, ...]) -> None:
    """Every comparison that applies to one whole message."""
    if len(data) < 19:
        return
    hdr = check_header_(data)
    if hdr is None or hdr[0] != len(data):
        return
    body = data[19:]
    mtype = hdr[1]
    if mtype == 2:
        for options in options_list:
            check_update(body, options)
        return
    if mtype == 1:
        check_open(body)
    try:
        decode_message(data)
        ours = True
    except BgpError:
        ours = False
    assert ours == (_layout(L.parse_message, data) is not None), data.hex()


BOTH = (SessionOptions(), SessionOptions(addpath_rx=ALL_AP))


# --------------------------------------------------------------------------- fixtures


def _golden() -> list[Path]:
    return sorted(GOLDEN.glob("*.pcap"))


@pytest.mark.parametrize("path", _golden(), ids=lambda p: p.name)
def test_golden_captures(path: Path) -> None:
    n = 0
    for item in read_capture(path.read_bytes()):
        if isinstance(item, CapturedMessage):
            check_message(item.data, BOTH)
            n += 1
    assert n > 0


def _public_messages(path: Path, fmt: str) -> Iterator[tuple[bytes, tuple[SessionOptions, ...]]]:
    if fmt in ("pcap", "pcapng"):
        for item in read_capture(path.read_bytes()):
            if isinstance(item, CapturedMessage):
                yield item.data, BOTH
    elif fmt == "mrt":
        found = False
        with open_maybe_compressed(str(path)) as f:
            for k, rec in enumerate(read_mrt(f)):
                if k > 1000 and not found:  # a RIB dump: no BGP messages in it
                    return
                if isinstance(rec, Bgp4mpMessage):
                    found = True
                    ap = ALL_AP if rec.addpath else frozenset()
                    yield rec.data, (SessionOptions(rec.as4, ap),)
    elif fmt == "raw-message":
        yield path.read_bytes(), BOTH


def _manifest() -> list[tuple[str, str]]:
    manifest = PUBLIC / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    rows = []
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        path, fmt = line.split("\t")[:2]
        if fmt in ("pcap", "pcapng", "mrt", "raw-message"):
            rows.append((path, fmt))
    return rows


def _public_params() -> list[tuple[str, str]]:
    return _manifest() or [("", "")]


@pytest.mark.public
@pytest.mark.parametrize(("rel", "fmt"), _public_params(), ids=lambda v: v or "none")
def test_public_fixtures(rel: str, fmt: str) -> None:
    if not rel:
        pytest.skip("public fixtures not present")
    path = PUBLIC / rel
    if not path.exists():
        pytest.skip(f"{rel} not present")
    seen: set[bytes] = set()
    for data, options in _public_messages(path, fmt):
        if data in seen:
            continue
        seen.add(data)
        check_message(data, options)
        if len(seen) >= PER_FILE:
            break


# --------------------------------------------------------------------------- generated


def _prefix(bits: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.integers(0, bits).flatmap(
        lambda n: st.tuples(st.integers(0, (1 << bits) - 1), st.just(n))
    )


def _entry_bytes(bits: int, addpath: bool) -> st.SearchStrategy[bytes]:
    def enc(t: tuple[int, tuple[int, int]]) -> bytes:
        pid, (net, plen) = t
        n = (plen + 7) // 8
        head = struct.pack("!I", pid) if addpath else b""
        return head + bytes((plen,)) + (net >> (bits - 8 * n)).to_bytes(n, "big")

    return st.tuples(st.integers(0, 2**32 - 1), _prefix(bits)).map(enc)


def _nlri_field(bits: int, addpath: bool) -> st.SearchStrategy[bytes]:
    valid = st.lists(_entry_bytes(bits, addpath), max_size=8).map(b"".join)
    return st.one_of(valid, st.binary(max_size=40), valid.flatmap(_mutate))


def _mutate(data: bytes) -> st.SearchStrategy[bytes]:
    if not data:
        return st.binary(max_size=4)
    pos = st.integers(0, len(data) - 1)
    return st.one_of(
        st.tuples(pos, st.integers(0, 255)).map(
            lambda t: data[: t[0]] + bytes((t[1],)) + data[t[0] + 1 :]
        ),
        pos.map(lambda i: data[:i]),
        st.tuples(pos, st.binary(min_size=1, max_size=3)).map(
            lambda t: data[: t[0]] + t[1] + data[t[0] :]
        ),
        pos.map(lambda i: data[:i] + data[i + 1 :]),
    )


@SETTINGS
@given(
    st.sampled_from([(32, False), (32, True), (128, False), (128, True)]).flatmap(
        lambda ba: st.tuples(st.just(ba), _nlri_field(*ba))
    )
)
def test_generated_nlri(case: tuple[tuple[int, bool], bytes]) -> None:
    (bits, addpath), data = case
    check_nlri(data, bits, addpath)


def _tlv(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10 or len(value) > 255:
        return bytes((flags | 0x10, code)) + struct.pack("!H", len(value)) + value
    return bytes((flags, code, len(value))) + value


_flags = st.sampled_from([0x40, 0x50, 0x80, 0x90, 0xC0, 0xD0, 0xE0, 0x00, 0x10, 0xFF])
_tlvs = st.lists(
    st.tuples(_flags, st.integers(0, 40), st.binary(max_size=20)).map(lambda t: _tlv(*t)),
    max_size=6,
).map(b"".join)
_attr_block = st.one_of(_tlvs, _tlvs.flatmap(_mutate), st.binary(max_size=30))


@SETTINGS
@given(_attr_block)
def test_generated_attribute_tlvs(data: bytes) -> None:
    check_attribute_tlvs(data)


def _as_path_value(four: bool) -> st.SearchStrategy[bytes]:
    fmt = "!%d" + ("I" if four else "H")
    seg = st.tuples(
        st.integers(0, 5), st.lists(st.integers(0, 2**32 - 1 if four else 0xFFFF), max_size=4)
    ).map(lambda t: bytes((t[0], len(t[1]))) + struct.pack(fmt % len(t[1]), *t[1]))
    valid = st.lists(seg, max_size=3).map(b"".join)
    return st.one_of(valid, valid.flatmap(_mutate))


def _mp_value(reach: bool) -> st.SearchStrategy[bytes]:
    def build(t: tuple[tuple[int, int], int, bytes]) -> bytes:
        (afi, safi), nhlen, nlri = t
        head = struct.pack("!HB", afi, safi)
        if reach:
            head += bytes((nhlen,)) + bytes(range(nhlen)) + b"\x00"
        return head + nlri

    fam = st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2), (1, 128), (25, 70)])
    nhl = st.sampled_from([0, 4, 12, 16, 32])
    nlri = st.sampled_from([32, 128]).flatmap(lambda b: _nlri_field(b, False))
    valid = st.tuples(fam, nhl, nlri).map(build)
    return st.one_of(valid, valid.flatmap(_mutate))


@st.composite
def _update(data: st.DrawFn) -> bytes:
    v4 = data(st.booleans())
    wd = data(_nlri_field(32, v4))
    four = data(st.booleans())
    parts = [
        _tlv(0x40, 1, data(st.sampled_from([b"\x00", b"\x02", b"\x03", b""]))),
        _tlv(data(st.sampled_from([0x40, 0x50, 0xC0])), 2, data(_as_path_value(four))),
        _tlv(0x40, 3, data(st.binary(min_size=3, max_size=5))),
    ]
    if data(st.booleans()):
        parts.append(_tlv(0x80, 14, data(_mp_value(True))))
    if data(st.booleans()):
        parts.append(_tlv(0x80, 15, data(_mp_value(False))))
    parts.extend(
        data(st.lists(st.sampled_from([_tlv(0xC0, 99, b"x"), _tlv(0x40, 6, b"")]), max_size=2))
    )
    attrs = b"".join(data(st.permutations(parts)))
    nlri = data(_nlri_field(32, v4))
    body = struct.pack("!H", len(wd)) + wd + struct.pack("!H", len(attrs)) + attrs + nlri
    if data(st.integers(0, 3)) == 0:
        body = data(_mutate(body))
    return body


@SETTINGS
@given(_update(), st.booleans())
def test_generated_updates(body: bytes, four: bool) -> None:
    for ap in (frozenset(), ALL_AP):
        check_update(body, SessionOptions(four, ap))
    check_message(MARKER + struct.pack("!HB", 19 + len(body), 2) + body, BOTH)


_cap = st.tuples(
    st.sampled_from([1, 2, 6, 9, 64, 65, 69, 70, 73, 128, 200]), st.binary(max_size=12)
)


@st.composite
def _open_body(data: st.DrawFn) -> bytes:
    groups = data(st.lists(st.lists(_cap, max_size=4), max_size=3))
    params = [(2, b"".join(bytes((c, len(v))) + v for c, v in g)) for g in groups]
    params += data(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=6)), max_size=2))
    if data(st.booleans()):
        raw = b"".join(bytes((t,)) + struct.pack("!H", len(v)) + v for t, v in params)
        opt = b"\xff\xff" + struct.pack("!H", len(raw)) + raw
    else:
        raw = b"".join(bytes((t, len(v))) + v for t, v in params)
        opt = bytes((len(raw) & 0xFF,)) + raw
    version = data(st.sampled_from([4, 4, 4, 3]))
    body = struct.pack("!BHH", version, 65000, 90) + b"\x0a\x00\x00\x01" + opt
    if data(st.integers(0, 2)) == 0:
        body = data(_mutate(body))
    return body


@SETTINGS
@given(_open_body())
def test_generated_opens(body: bytes) -> None:
    check_open(body)


@SETTINGS
@given(
    st.one_of(
        st.binary(min_size=19, max_size=40),
        st.tuples(st.integers(0, 0xFFFF), st.integers(0, 8), st.binary(max_size=24)).map(
            lambda t: MARKER + struct.pack("!HB", t[0], t[1]) + t[2]
        ),
        st.tuples(st.integers(1, 6), st.binary(max_size=12)).map(
            lambda t: MARKER + struct.pack("!HB", 19 + len(t[1]), t[0]) + t[1]
        ),
    )
)
def test_generated_headers_and_messages(data: bytes) -> None:
    check_message(data, BOTH)


@pytest.mark.parametrize(
    "value",
    [bytes([2, 0xFF, 0xFE, 0]), bytes([1, 0x61, 1, 0x62, 9, 9])],
    ids=["invalid-utf8", "trailing-octets"],
)
def test_open_fqdn_capability_keeps_its_bytes(value: bytes) -> None:
    caps = bytes((73, len(value))) + value
    opt = bytes((2, len(caps))) + caps
    check_open(struct.pack("!BHH", 4, 65000, 90) + b"\x0a\x00\x00\x01" + bytes((len(opt),)) + opt)
