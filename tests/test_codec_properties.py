"""Hypothesis round trips for every message type: decode(encode(x)) == x.

Each message is encoded for a session, decoded by the peer (``options.reversed()``),
compared with the original, and re-encoded to the very same bytes.  Covered: OPEN with
every capability class, UPDATE with every ``AttrSet`` field (unknown optional
attributes included), IPv4 NLRI, MP_REACH/MP_UNREACH for IPv4 and IPv6, ADD-PATH,
2-octet AS sessions (AS_TRANS + AS4_PATH, restored by ``as4_merge``), NOTIFICATION,
KEEPALIVE, ROUTE-REFRESH (BoRR/EoRR) and End-of-RIB; and attribute set interning.
"""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.capture import CapturedMessage, read_capture
from pybgp.codec import (
    AttrSet,
    Interner,
    Keepalive,
    Message,
    MpReach,
    MpUnreach,
    Notification,
    Open,
    RouteRefresh,
    SessionOptions,
    Update,
    as4_merge,
    decode_message,
    encode_message,
)
from pybgp.codec.attributes import (
    AS_TRANS,
    ATTRIBUTES,
    decode_attributes,
    decode_fast,
    walk_attributes,
)
from pybgp.codec.errors import BgpError
from pybgp.codec.nlri import make_prefix
from pybgp.codec.open import (
    AddPath,
    BgpRole,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RawCapability,
    RouteRefreshCap,
)
from pybgp.codec.refresh import RefreshSubtype

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
FAMILIES = [(1, 1), (1, 2), (2, 1), (2, 2)]
BITS = {1: 32, 2: 128}
DEFAULT = SessionOptions()

EMPTY_PATH_MIN = 0
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
addr4 = st.binary(min_size=4, max_size=4)


def roundtrip(msg: Message, options: SessionOptions = DEFAULT) -> Message:
    """Encode for ``options``, decode as the peer, check the bytes survive; return it."""
    wire = encode_message(msg, options)
    back = decode_message(wire, options.reversed(), Interner())
    assert encode_message(back, options) == wire
    return back


# --------------------------------------------------------------------------- OPEN

_TEXT = st.text(max_size=20)
CAPABILITIES: list[st.SearchStrategy[Capability]] = [
    st.builds(Multiprotocol, u16, u8, u8),
    st.just(RouteRefreshCap()),
    st.just(EnhancedRouteRefresh()),
    st.just(ExtendedMessage()),
    st.builds(FourOctetAs, u32),
    st.builds(
        GracefulRestart,
        st.integers(0, 15),
        st.integers(0, 0xFFF),
        st.lists(st.tuples(u16, u8, u8), max_size=4).map(tuple),
    ),
    st.builds(AddPath, st.lists(st.tuples(u16, u8, st.integers(1, 3)), max_size=4).map(tuple)),
    st.builds(BgpRole, u8),
    st.builds(Fqdn, _TEXT, _TEXT),
    st.builds(
        RawCapability,
        st.integers(0, 255).filter(lambda c: c not in (1, 2, 6, 9, 64, 65, 69, 70, 73)),
        st.binary(max_size=30),
    ),
]


@st.composite
def opens(draw: st.DrawFn) -> Open:
    caps = tuple(draw(st.lists(st.one_of(CAPABILITIES), max_size=12)))
    cuts = sorted(draw(st.lists(st.integers(0, len(caps)), max_size=3)))
    bounds = [0, *cuts, len(caps)]
    groups = tuple(b - a for a, b in itertools.pairwise(bounds))
    if not caps:
        groups = ()
    other = tuple(
        draw(st.lists(st.tuples(u8.filter(lambda t: t != 2), st.binary(max_size=8)), max_size=2))
    )
    return Open(
        draw(u16),
        draw(u16),
        draw(addr4),
        caps,
        4,
        other,
        groups,
        draw(st.booleans()),
    )


@SETTINGS
@given(opens())
def test_open_roundtrip(o: Open) -> None:
    back = roundtrip(o)
    assert isinstance(back, Open)
    assert back == o
    assert [type(c) for c in back.capabilities] == [type(c) for c in o.capabilities]


def test_open_every_capability_class() -> None:
    caps: tuple[Capability, ...] = (
        Multiprotocol(2, 1),
        RouteRefreshCap(),
        EnhancedRouteRefresh(),
        ExtendedMessage(),
        FourOctetAs(4200000000),
        GracefulRestart(8, 120, ((1, 1, 0x80),)),
        AddPath(((1, 1, 3), (2, 1, 1))),
        BgpRole(3),
        Fqdn("router-1", "example.net"),
        RawCapability(71, b"\x00\x01\x01\x80\x00\x00\x10"),
    )
    back = roundtrip(Open(AS_TRANS, 90, b"\x0a\x00\x00\x01", caps))
    assert isinstance(back, Open)
    assert back.capabilities == caps
    assert back.asn == 4200000000


# --------------------------------------------------------------------------- UPDATE


def prefixes(bits: int, max_size: int = 6) -> st.SearchStrategy[tuple[int, ...]]:
    def make(t: tuple[int, int]) -> int:
        net, plen = t
        mask = ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)
        return ((net & mask) << 8) | plen

    one = st.tuples(st.integers(0, (1 << bits) - 1), st.integers(0, bits)).map(make)
    return st.lists(one, max_size=max_size).map(tuple)


def as_paths(
    four: bool, confed: bool = True
) -> st.SearchStrategy[tuple[tuple[int, tuple[int, ...]], ...]]:
    asn = u32 if four else u16
    seg_type = st.integers(1, 4 if confed else 2)
    seg = st.tuples(seg_type, st.lists(asn, min_size=1, max_size=6).map(tuple))
    return st.lists(seg, min_size=EMPTY_PATH_MIN, max_size=3).map(tuple)


_KNOWN = set(ATTRIBUTES) | {14, 15}
unknown_attrs = st.lists(
    st.tuples(
        st.integers(0, 0xFF).map(lambda f: f | 0x80),  # optional; any other bits
        st.integers(0, 255).filter(lambda c: c not in _KNOWN),
        st.binary(max_size=20),
    ),
    max_size=3,
    unique_by=lambda t: t[1],
).map(lambda x: tuple(sorted(x, key=lambda t: t[1])))  # canonical order: by type code


@st.composite
def attr_sets(draw: st.DrawFn, four: bool = True, as4_fields: bool = True) -> AttrSet:
    opt = st.none
    return AttrSet(
        origin=draw(st.one_of(opt(), st.integers(0, 2))),
        as_path=draw(st.one_of(opt(), as_paths(four))),
        next_hop=draw(st.one_of(opt(), addr4)),
        med=draw(st.one_of(opt(), u32)),
        local_pref=draw(st.one_of(opt(), u32)),
        atomic_aggregate=draw(st.booleans()),
        aggregator=draw(st.one_of(opt(), st.tuples(u32 if four else u16, addr4))),
        communities=tuple(draw(st.lists(u32, max_size=4))),
        originator_id=draw(st.one_of(opt(), addr4)),
        cluster_list=tuple(draw(st.lists(addr4, max_size=3))),
        ext_communities=tuple(draw(st.lists(st.binary(min_size=8, max_size=8), max_size=3))),
        as4_path=draw(st.one_of(opt(), as_paths(True, False))) if as4_fields else None,
        as4_aggregator=draw(st.one_of(opt(), st.tuples(u32, addr4))) if as4_fields else None,
        large_communities=tuple(draw(st.lists(st.tuples(u32, u32, u32), max_size=3))),
        unknown=draw(unknown_attrs),
    )


def _ids(draw: st.DrawFn, n: int, on: bool) -> tuple[int, ...]:
    return tuple(draw(st.lists(u32, min_size=n, max_size=n))) if on else ()


@st.composite
def updates(
    draw: st.DrawFn, addpath: frozenset[tuple[int, int]] = frozenset(), four: bool = True
) -> Update:
    v4 = (1, 1) in addpath
    withdrawn = draw(prefixes(32))
    nlri = draw(prefixes(32))
    attrs: AttrSet | None = draw(attr_sets(four))
    reach = unreach = None
    if draw(st.booleans()):
        afi, safi = fam = draw(st.sampled_from([*FAMILIES, (1, 128), (25, 70)]))
        if fam in FAMILIES:
            nh = draw(st.binary(min_size=16, max_size=16) if afi == 2 else addr4)
            mp = draw(prefixes(BITS[afi]))
            reach = MpReach(afi, safi, mp, _ids(draw, len(mp), fam in addpath))
        else:
            nh = draw(st.binary(max_size=24))
            reach = MpReach(afi, safi, raw_nlri=draw(st.binary(max_size=20)))
        reach = MpReach(
            reach.afi,
            reach.safi,
            reach.nlri,
            reach.path_ids,
            reach.raw_nlri,
            draw(st.binary(min_size=1, max_size=1)),
        )
        attrs = (attrs or AttrSet()).replace(mp_next_hop=nh)
    if draw(st.booleans()):
        afi, safi = fam = draw(st.sampled_from([*FAMILIES, (1, 128)]))
        if fam in FAMILIES:
            wd = draw(prefixes(BITS[afi]))
            unreach = MpUnreach(afi, safi, wd, _ids(draw, len(wd), fam in addpath))
        else:
            unreach = MpUnreach(afi, safi, raw_nlri=draw(st.binary(max_size=20)))
        attrs = attrs or AttrSet()
    if reach is None and unreach is None and attrs == AttrSet():
        attrs = None  # an empty Path Attributes field decodes as "no attributes"
    return Update(
        withdrawn,
        _ids(draw, len(withdrawn), v4),
        attrs,
        nlri,
        _ids(draw, len(nlri), v4),
        reach,
        unreach,
    )


@SETTINGS
@given(updates())
def test_update_roundtrip(u: Update) -> None:
    back = roundtrip(u)
    assert back == u


addpath_sets = st.frozensets(st.sampled_from(FAMILIES), min_size=1)


@SETTINGS
@given(addpath_sets.flatmap(lambda ap: st.tuples(st.just(ap), updates(ap))))
def test_update_addpath_roundtrip(case: tuple[frozenset[tuple[int, int]], Update]) -> None:
    ap, u = case
    options = SessionOptions(addpath_tx=ap)
    assert options.reversed().addpath_rx == ap
    back = roundtrip(u, options)
    assert back == u


@st.composite
def legacy_updates(draw: st.DrawFn) -> Update:
    """An UPDATE as a 4-octet speaker holds it, to be sent to a 2-octet peer."""
    attrs = draw(attr_sets(True, as4_fields=False)).replace(
        as_path=draw(as_paths(True, confed=False)),
        origin=0,
        next_hop=b"\x0a\x00\x00\x01",
    )
    return Update(attrs=attrs, nlri=draw(prefixes(32, 3)))


LEGACY = SessionOptions(four_octet_as=False)


@SETTINGS
@given(legacy_updates())
def test_two_octet_session_as4_path(u: Update) -> None:
    wire = encode_message(u, LEGACY)
    back = decode_message(wire, LEGACY, Interner())
    assert isinstance(back, Update) and back.attrs is not None and u.attrs is not None
    assert encode_message(back, LEGACY) == wire
    sent = u.attrs
    got = back.attrs
    assert all(a <= 0xFFFF for _, asns in got.as_path or () for a in asns)
    four = [a for _, asns in sent.as_path or () for a in asns if a > 0xFFFF]
    if four:
        assert AS_TRANS in [a for _, asns in got.as_path or () for a in asns]
        assert got.as4_path == sent.as_path
    else:
        assert got.as4_path is None
    if sent.aggregator is not None and sent.aggregator[0] > 0xFFFF:
        assert got.aggregator == (AS_TRANS, sent.aggregator[1])
        assert got.as4_aggregator == sent.aggregator
    merged = as4_merge(got)
    assert merged == sent
    assert merged.as4_path is None and merged.as4_aggregator is None


def test_two_octet_session_example() -> None:
    attrs = AttrSet(
        origin=0,
        as_path=((2, (65001, 4200000001, 65002)),),
        next_hop=b"\xc0\x00\x02\x01",
        aggregator=(4200000001, b"\xc0\x00\x02\x01"),
    )
    back = roundtrip(Update(attrs=attrs, nlri=((0xC0000200 << 8) | 24,)), LEGACY)
    assert isinstance(back, Update) and back.attrs is not None
    assert back.attrs.as_path == ((2, (65001, AS_TRANS, 65002)),)
    assert back.attrs.aggregator == (AS_TRANS, b"\xc0\x00\x02\x01")
    assert as4_merge(back.attrs) == attrs


def test_update_every_attribute() -> None:
    attrs = AttrSet(
        origin=2,
        as_path=((2, (65001, 4200000001)), (1, (1, 2)), (3, (64512,)), (4, (64513, 64514))),
        next_hop=b"\xc0\x00\x02\x01",
        med=10,
        local_pref=200,
        atomic_aggregate=True,
        aggregator=(65001, b"\xc0\x00\x02\x01"),
        communities=(0xFDE80001, 0xFFFFFF01),
        originator_id=b"\x01\x01\x01\x01",
        cluster_list=(b"\x02\x02\x02\x02", b"\x03\x03\x03\x03"),
        mp_next_hop=bytes(16),
        ext_communities=(bytes.fromhex("0002fdf200000064"),),
        as4_path=((2, (4200000001,)),),
        as4_aggregator=(4200000001, b"\xc0\x00\x02\x01"),
        large_communities=((4200000010, 1, 1),),
        unknown=((0xC0, 99, b"transitive"), (0x80, 100, b"non-transitive")),
    )
    u = Update(attrs=attrs, nlri=((0xC0000200 << 8) | 24,), mp_reach=MpReach(2, 1, (32,)))
    assert roundtrip(u) == u


# --------------------------------------------------------------------------- the others

notifications = st.builds(Notification, u8, u8, st.binary(max_size=64))


@SETTINGS
@given(notifications)
def test_notification_roundtrip(n: Notification) -> None:
    assert roundtrip(n) == n


@SETTINGS
@given(st.text(min_size=1, max_size=60), st.booleans())
def test_shutdown_communication_roundtrip(text: str, reset: bool) -> None:
    n = Notification.shutdown(text, reset)
    back = roundtrip(n)
    assert isinstance(back, Notification)
    assert back == n
    assert back.shutdown_message == text
    assert back.subcode == (4 if reset else 2)


def test_keepalive_roundtrip() -> None:
    assert encode_message(Keepalive()) == b"\xff" * 16 + b"\x00\x13\x04"
    assert roundtrip(Keepalive()) == Keepalive()


route_refreshes = st.one_of(
    st.builds(RouteRefresh, u16, u8, st.just(0), st.binary(max_size=20)),
    st.builds(RouteRefresh, u16, u8, st.sampled_from([1, 2])),
    st.builds(RouteRefresh, u16, u8, st.integers(3, 255), st.binary(max_size=8)),
)


@SETTINGS
@given(route_refreshes)
def test_route_refresh_roundtrip(r: RouteRefresh) -> None:
    assert roundtrip(r) == r


@pytest.mark.parametrize("subtype", list(RefreshSubtype))
def test_borr_eorr(subtype: RefreshSubtype) -> None:
    r = RouteRefresh(2, 1, subtype)
    wire = encode_message(r)
    assert len(wire) == 23
    assert roundtrip(r) == r


def test_end_of_rib_ipv4() -> None:
    wire = encode_message(Update())
    assert wire == b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x00"
    back = decode_message(wire)
    assert isinstance(back, Update) and back.end_of_rib == (1, 1)
    assert encode_message(back) == wire


@pytest.mark.parametrize("family", [(2, 1), (1, 2), (2, 2)])
def test_end_of_rib_mp(family: tuple[int, int]) -> None:
    eor = Update(attrs=AttrSet(), mp_unreach=MpUnreach(*family))
    wire = encode_message(eor)
    assert wire[19:] == b"\x00\x00\x00\x06\x80\x0f\x03" + struct.pack("!HB", *family)
    back = roundtrip(eor)
    assert isinstance(back, Update) and back.end_of_rib == family
    assert back == eor


# --------------------------------------------------------------------------- interning


@SETTINGS
@given(updates(), prefixes(32, 3))
def test_interning_same_update_same_object(u: Update, other_nlri: tuple[int, ...]) -> None:
    wire = encode_message(u)
    interner = Interner()
    a = decode_message(wire, interner=interner)
    b = decode_message(wire, interner=interner)
    assert isinstance(a, Update) and isinstance(b, Update)
    assert a.attrs is b.attrs
    if u.attrs is not None and not a.errors:
        # another UPDATE with the same attributes but other NLRI shares the set too
        other = Update(attrs=u.attrs, nlri=other_nlri, mp_reach=u.mp_reach, mp_unreach=u.mp_unreach)
        c = decode_message(encode_message(other), interner=interner)
        assert isinstance(c, Update)
        assert c.attrs is a.attrs


def test_interning_identity_across_nlri() -> None:
    attrs = AttrSet(origin=0, as_path=((2, (65001,)),), next_hop=b"\x0a\x00\x00\x01", med=5)
    interner = Interner()
    a = decode_message(
        encode_message(Update(attrs=attrs, nlri=((0x0A000000 << 8) | 8,))), interner=interner
    )
    b = decode_message(
        encode_message(Update(attrs=attrs, nlri=((0x0B000000 << 8) | 8,))), interner=interner
    )
    assert isinstance(a, Update) and isinstance(b, Update)
    assert a.attrs is b.attrs
    v6 = attrs.replace(next_hop=None, mp_next_hop=bytes(16))
    c = decode_message(
        encode_message(Update(attrs=v6, mp_reach=MpReach(2, 1, (0x20010DB8 << 104 | 32,)))),
        interner=interner,
    )
    d = decode_message(
        encode_message(Update(attrs=v6, mp_reach=MpReach(2, 1, (0x20010DB9 << 104 | 32,)))),
        interner=interner,
    )
    assert isinstance(c, Update) and isinstance(d, Update)
    assert c.attrs is d.attrs
    assert c.mp_reach != d.mp_reach


# --------------------------------------------------------------------------- real bytes


def _golden_cases() -> list[tuple[str, SessionOptions, bytes]]:
    expected = json.loads((GOLDEN / "expected.json").read_text())["captures"]
    names = {"ipv4_unicast": (1, 1), "ipv6_unicast": (2, 1)}
    cases = []
    for name, info in sorted(expected.items()):
        path = GOLDEN / name
        if not path.exists():
            continue
        neg = info["negotiated"]
        ap = frozenset(names[k] for k in neg.get("add_path", {}) if k in names)
        sender = info["sender"]["address"]
        for item in read_capture(path.read_bytes()):
            if isinstance(item, CapturedMessage):
                from_sender = item.src.rsplit(":", 1)[0].strip("[]") == sender
                options = SessionOptions(
                    neg["four_octet_as"], ap if from_sender else frozenset(), frozenset()
                )
                cases.append((name, options, item.data))
    return cases


def test_golden_messages_reencode_byte_exact() -> None:
    cases = _golden_cases()
    assert cases
    for name, options, wire in cases:
        msg = decode_message(wire, options, Interner())
        assert encode_message(msg, options.reversed()) == wire, (name, wire.hex())


def test_empty_as_path_survives_canonical_encoding() -> None:
    attrs = AttrSet(origin=0, as_path=(), next_hop=b"\x0a\x00\x00\x01", local_pref=100)
    u = Update(
        attrs=attrs.replace(originator_id=b"\x01\x01\x01\x01"), nlri=((0x0A000000 << 8) | 8,)
    )
    back = decode_message(encode_message(u), interner=Interner())
    assert isinstance(back, Update)
    assert back.errors == ()
    assert back == u


def test_wire_ordered_set_to_two_octet_peer_carries_as4_path() -> None:
    attrs = AttrSet(
        origin=0,
        as_path=((2, (4200000001, 65001)),),
        next_hop=b"\x0a\x00\x00\x01",
        aggregator=(4200000001, b"\x0a\x00\x00\x01"),
    )
    received = decode_message(encode_message(Update(attrs=attrs, nlri=((0x0A000000 << 8) | 8,))))
    assert isinstance(received, Update) and received.attrs is not None
    assert received.attrs.wire  # decoded sets remember their wire order
    back = decode_message(encode_message(received, LEGACY), LEGACY, Interner())
    assert isinstance(back, Update) and back.attrs is not None
    assert as4_merge(back.attrs) == attrs


def _attribute_block(raw: bytes) -> tuple[int, int]:
    """(start, end) of the Path Attributes of an encoded UPDATE."""
    wlen = int.from_bytes(raw[19:21], "big")
    start = 21 + wlen + 2
    return start, start + int.from_bytes(raw[start - 2 : start], "big")


@SETTINGS
@given(updates(), st.binary(max_size=16), st.lists(st.integers(0, 10_000), max_size=3))
def test_fast_path_with_mp_attributes_agrees_with_the_table_driven_one(
    u: Update, nh: bytes, flips: list[int]
) -> None:
    """decode_fast(mp=True) skips MP_REACH/MP_UNREACH as decode_attributes does, on
    clean blocks and on blocks with bytes changed; where it answers, it agrees."""
    raw = bytearray(encode_message(u, DEFAULT))
    start, end = _attribute_block(bytes(raw))
    for f in flips:
        if end > start:
            raw[start + f % (end - start)] ^= 0x5A
    data = bytes(raw)
    fast = decode_fast(data, start, end, True, False, {}, True, nh)
    try:
        tlvs = walk_attributes(data, start, end)
        slow, errors = decode_attributes(data, tlvs, True, False, nh)
    except BgpError:
        assert fast is None
        return
    if fast is not None:
        assert not errors
        assert fast == slow and fast.wire == slow.wire
    elif not flips and u.attrs is not None and not u.attrs.unknown:
        raise AssertionError("a clean block of known attributes left the fast path")


def test_fast_path_layout_signature_is_exact() -> None:
    """The fast path keys its layouts by 5 bits of each type code (``_LAYOUT_SIGS``):
    every code it accepts must come back from those bits."""
    from pybgp.codec.attributes import _REQUIRED, _sig_layout

    taken = [c for c in range(256) if _REQUIRED[c]] + [14, 15]
    assert all(((c & 0x1F) or 32) == c for c in taken)
    sig = 0
    wire = [(1, 0x40), (2, 0x50), (32, 0xC0), (14, 0x90), (18, 0xE0), (8, 0xD0)]
    for code, flags in wire:
        sig = (sig << 9) | ((code & 0x1F) << 4) | (flags >> 4)
    assert _sig_layout(sig) == tuple(wire)


@pytest.mark.parametrize("low", [0x01, 0x08, 0x0F])
def test_unused_flag_bits_are_kept(low: int) -> None:
    """RFC 4271 4.3: the low four flag bits are unused; a received set keeps them in its
    layout (the slow path), and it re-encodes byte for byte."""
    attrs = AttrSet(
        origin=0, as_path=((2, (65001, 70000)),), next_hop=bytes(4), communities=(65001 << 16 | 7,)
    )
    u = Update(attrs=attrs, nlri=(make_prefix(10 << 24, 8),))
    raw = bytearray(encode_message(u, DEFAULT))
    start, _ = _attribute_block(bytes(raw))
    raw[start] |= low  # ORIGIN's flags
    back = decode_message(bytes(raw), DEFAULT, Interner())
    assert isinstance(back, Update) and back.attrs is not None
    assert back.attrs.wire[0] == (1, 0x40 | low)
    assert back.attrs == u.attrs
    assert encode_message(back, DEFAULT) == bytes(raw)
