"""RFC 4271 section 6 and RFC 7606 error handling, one test per rule, plus a fuzz test.

Each test builds the smallest message that breaks one rule and checks the RFC 7606
action and the NOTIFICATION code/subcode (and data, where the RFC says what it holds).
The fuzz tests push random and mutated messages through the decoders with several
session options: only ``BgpError`` may come out.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.capture import CapturedMessage, read_capture
from pybgp.codec import (
    Action,
    AttrSet,
    BgpError,
    Interner,
    SessionOptions,
    Update,
    decode_message,
    encode_message,
    propagate,
)
from pybgp.codec.attributes import walk_attributes
from pybgp.codec.errors import ErrorSubcode, NotificationCode
from pybgp.codec.nlri import decode_nlri
from pybgp.codec.notification import decode_notification
from pybgp.codec.open import decode_open
from pybgp.codec.refresh import decode_route_refresh
from pybgp.codec.update import MpReach, decode_update

MARKER = b"\xff" * 16
U = ErrorSubcode.Update
H = ErrorSubcode.Header
C = NotificationCode
TAW = Action.TREAT_AS_WITHDRAW
DISCARD = Action.ATTRIBUTE_DISCARD
RESET = Action.SESSION_RESET
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
NLRI = b"\x18\xc0\x00\x02"  # 192.0.2.0/24
ALL_AP = frozenset({(1, 1), (1, 2), (2, 1), (2, 2)})
DEFAULT = SessionOptions()


def msg(mtype: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def tlv(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return bytes((flags, code)) + struct.pack("!H", len(value)) + value
    return bytes((flags, code, len(value))) + value


ORIGIN = tlv(0x40, 1, b"\x00")
AS_PATH = tlv(0x40, 2, b"\x02\x01" + struct.pack("!I", 65001))
NEXT_HOP = tlv(0x40, 3, b"\x0a\x00\x00\x01")
BASE = ORIGIN + AS_PATH + NEXT_HOP


def update(attrs: bytes, nlri: bytes = NLRI, withdrawn: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn
    return msg(2, body + struct.pack("!H", len(attrs)) + attrs + nlri)


def decode(data: bytes, options: SessionOptions = DEFAULT) -> Update:
    u = decode_message(data, options, Interner())
    assert isinstance(u, Update)
    return u


def raises(data: bytes, options: SessionOptions = DEFAULT) -> BgpError:
    with pytest.raises(BgpError) as info:
        decode_message(data, options, Interner())
    return info.value


def only_error(u: Update) -> BgpError:
    assert len(u.errors) == 1, u.errors
    return u.errors[0]


def test_clean_update_has_no_errors() -> None:
    u = decode(update(BASE))
    assert u.errors == () and u.action == Action.NONE
    assert u.attrs is not None and u.attrs.as_path == ((2, (65001,)),)


# ----------------------------------------------------------------- header, RFC 4271 6.1


def test_bad_marker() -> None:
    data = bytearray(msg(4, b""))
    data[3] = 0
    err = raises(bytes(data))
    assert (err.code, err.subcode, err.action) == (C.MESSAGE_HEADER_ERROR, 1, RESET)


@pytest.mark.parametrize(
    ("data", "length"),
    [
        (MARKER + b"\x00\x14\x04\x00", 20),  # KEEPALIVE must be 19
        (MARKER + b"\x00\x12\x02", 18),  # shorter than the header
        (MARKER + b"\x00\x15\x02\x00\x00", 21),  # UPDATE shorter than 23
        (MARKER + b"\x00\x1c\x01" + bytes(9), 28),  # OPEN shorter than 29
    ],
)
def test_bad_message_length(data: bytes, length: int) -> None:
    err = raises(data)
    assert (err.code, err.subcode, err.action) == (
        C.MESSAGE_HEADER_ERROR,
        H.BAD_MESSAGE_LENGTH,
        RESET,
    )
    assert err.data == struct.pack("!H", length)  # RFC 4271 6.1: the erroneous Length field


def test_message_over_4096_without_extended_message() -> None:
    data = msg(3, b"\x06\x00" + bytes(4096 - 21 + 1))
    err = raises(data, SessionOptions(extended_message=False))
    assert (err.code, err.subcode) == (C.MESSAGE_HEADER_ERROR, H.BAD_MESSAGE_LENGTH)
    assert err.data == struct.pack("!H", 4097)


def test_extended_message_allows_over_4096() -> None:
    data = msg(3, b"\x06\x00" + bytes(5000))
    assert decode_message(data, SessionOptions(extended_message=True)) is not None


def test_length_field_disagrees_with_message() -> None:
    err = raises(MARKER + b"\x00\x17\x02" + bytes(5))
    assert (err.code, err.subcode) == (C.MESSAGE_HEADER_ERROR, H.BAD_MESSAGE_LENGTH)
    assert err.data == b"\x00\x17"


def test_bad_message_type() -> None:
    err = raises(msg(6, b""))
    assert (err.code, err.subcode, err.action) == (
        C.MESSAGE_HEADER_ERROR,
        H.BAD_MESSAGE_TYPE,
        RESET,
    )
    assert err.data == b"\x06"  # RFC 4271 6.1: the erroneous Type field


# ------------------------------------------------------------------- OPEN, RFC 4271 6.2


def test_open_bad_version() -> None:
    body = struct.pack("!BHH", 3, 65001, 90) + b"\x0a\x00\x00\x01\x00"
    err = raises(msg(1, body))
    assert (err.code, err.subcode, err.action) == (C.OPEN_MESSAGE_ERROR, 1, RESET)
    assert err.data == b"\x00\x04"  # the largest locally supported version


# --------------------------------------------------------------- attributes, RFC 7606 7


MALFORMED_TAW = [
    ("ORIGIN undefined value", tlv(0x40, 1, b"\x03"), U.INVALID_ORIGIN_ATTRIBUTE),
    ("ORIGIN length", tlv(0x40, 1, b"\x00\x00"), U.ATTRIBUTE_LENGTH_ERROR),
    ("AS_PATH overrun", tlv(0x40, 2, b"\x02\x02\x00\x00\xfd\xe9"), U.MALFORMED_AS_PATH),
    ("AS_PATH segment type", tlv(0x40, 2, b"\x07\x01\x00\x00\xfd\xe9"), U.MALFORMED_AS_PATH),
    ("AS_PATH zero count", tlv(0x40, 2, b"\x02\x00"), U.MALFORMED_AS_PATH),
    ("NEXT_HOP length", tlv(0x40, 3, b"\x0a\x00\x00"), U.ATTRIBUTE_LENGTH_ERROR),
    ("MED length", tlv(0x80, 4, b"\x00\x00\x01"), U.ATTRIBUTE_LENGTH_ERROR),
    ("LOCAL_PREF length", tlv(0x40, 5, b"\x00\x00\x00\x64\x00"), U.ATTRIBUTE_LENGTH_ERROR),
    ("COMMUNITIES length", tlv(0xC0, 8, b"\xfd\xe9\x00\x01\x00"), U.ATTRIBUTE_LENGTH_ERROR),
    ("LARGE_COMMUNITY length", tlv(0xC0, 32, bytes(8)), U.ATTRIBUTE_LENGTH_ERROR),
    ("ORIGINATOR_ID length", tlv(0x80, 9, b"\x01\x01\x01"), U.ATTRIBUTE_LENGTH_ERROR),
    ("CLUSTER_LIST length", tlv(0x80, 10, bytes(6)), U.ATTRIBUTE_LENGTH_ERROR),
    ("EXTENDED_COMMUNITIES length", tlv(0xC0, 16, bytes(7)), U.ATTRIBUTE_LENGTH_ERROR),
]


@pytest.mark.parametrize(
    ("bad", "subcode"), [c[1:] for c in MALFORMED_TAW], ids=[c[0] for c in MALFORMED_TAW]
)
def test_malformed_attribute_treat_as_withdraw(bad: bytes, subcode: int) -> None:
    code = bad[1]
    attrs = b"".join(a for a in (ORIGIN, AS_PATH, NEXT_HOP) if a[1] != code) + bad
    u = decode(update(attrs))
    err = u.errors[0]
    assert u.action == TAW
    assert (err.code, err.subcode, err.action) == (C.UPDATE_MESSAGE_ERROR, subcode, TAW)
    assert err.data == bad  # RFC 4271 6.3: the erroneous attribute (type, length, value)
    assert u.nlri == ((0xC0000200 << 8) | 24,)  # still located, so it can be withdrawn


MALFORMED_DISCARD = [
    ("ATOMIC_AGGREGATE length", tlv(0x40, 6, b"\x00"), "atomic_aggregate", False),
    ("AGGREGATOR length", tlv(0xC0, 7, bytes(7)), "aggregator", None),
    ("AS4_PATH overrun", tlv(0xC0, 17, b"\x02\x02\x00\x00\xfd\xe9"), "as4_path", None),
    ("AS4_AGGREGATOR length", tlv(0xC0, 18, bytes(6)), "as4_aggregator", None),
]


@pytest.mark.parametrize(
    ("bad", "slot", "empty"),
    [c[1:] for c in MALFORMED_DISCARD],
    ids=[c[0] for c in MALFORMED_DISCARD],
)
def test_malformed_attribute_discard(bad: bytes, slot: str, empty: object) -> None:
    u = decode(update(BASE + bad))
    err = only_error(u)
    assert u.action == DISCARD
    assert (err.code, err.action) == (C.UPDATE_MESSAGE_ERROR, DISCARD)
    assert err.data == bad
    assert u.attrs is not None and getattr(u.attrs, slot) == empty
    assert u.attrs.as_path == ((2, (65001,)),)  # the rest of the UPDATE is used


def test_aggregator_length_depends_on_session() -> None:
    six = tlv(0xC0, 7, b"\xfd\xe9\x0a\x00\x00\x01")
    assert decode(update(BASE + six), SessionOptions(four_octet_as=True)).action == DISCARD
    legacy = ORIGIN + tlv(0x40, 2, b"\x02\x01\xfd\xe9") + NEXT_HOP + six
    u = decode(update(legacy), SessionOptions(four_octet_as=False))
    assert (
        u.errors == ()
        and u.attrs is not None
        and u.attrs.aggregator == (65001, b"\x0a\x00\x00\x01")
    )


@pytest.mark.parametrize(
    "bad",
    [tlv(0xC0, 1, b"\x00"), tlv(0x00, 1, b"\x00"), tlv(0x60, 1, b"\x00")],
    ids=["optional-bit", "no-transitive-bit", "partial-on-well-known"],
)
def test_attribute_flags_error(bad: bytes) -> None:
    u = decode(update(bad + AS_PATH + NEXT_HOP))
    err = u.errors[0]
    # RFC 7606 3c: handled as a malformed attribute of that type (ORIGIN: treat-as-withdraw)
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.ATTRIBUTE_FLAGS_ERROR,
        TAW,
    )
    assert err.data == bad


def test_duplicate_attribute_second_discarded() -> None:
    med1, med2 = tlv(0x80, 4, struct.pack("!I", 1)), tlv(0x80, 4, struct.pack("!I", 2))
    u = decode(update(BASE + med1 + med2))
    assert u.errors == ()  # RFC 7606 3g: all but the first are discarded, silently
    assert u.attrs is not None and u.attrs.med == 1


def test_duplicate_mp_reach_resets() -> None:
    reach = tlv(
        0x80, 14, struct.pack("!HBB", 2, 1, 16) + bytes(16) + b"\x00" + b"\x20\x20\x01\x0d\xb8"
    )
    err = raises(update(ORIGIN + AS_PATH + reach + reach, nlri=b""))
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.MALFORMED_ATTRIBUTE_LIST,
        RESET,
    )


@pytest.mark.parametrize(
    ("attrs", "code"),
    [(AS_PATH + NEXT_HOP, 1), (ORIGIN + NEXT_HOP, 2), (ORIGIN + AS_PATH, 3), (b"", 1)],
    ids=["ORIGIN", "AS_PATH", "NEXT_HOP", "no-attributes"],
)
def test_missing_well_known_with_nlri(attrs: bytes, code: int) -> None:
    u = decode(update(attrs))
    err = only_error(u)
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.MISSING_WELL_KNOWN_ATTRIBUTE,
        TAW,
    )
    assert err.data == bytes((code,))  # RFC 4271 6.3: the type code of the missing attribute


def test_missing_well_known_without_nlri_is_fine() -> None:
    assert decode(update(NEXT_HOP, nlri=b"")).errors == ()


def test_unrecognized_well_known_resets() -> None:
    bad = tlv(0x40, 99, b"abc")
    err = raises(update(BASE + bad))
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
        RESET,
    )
    assert err.data == bad


def test_attribute_length_overrun_treat_as_withdraw() -> None:
    attrs = BASE + b"\x80\x04\x09" + b"\x00\x00\x00\x01"  # MED claims 9 octets, 4 remain
    u = decode(update(attrs))
    err = u.errors[0]  # RFC 7606 4: the walk stops; nothing of the attributes is used
    assert u.action == TAW
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.ATTRIBUTE_LENGTH_ERROR,
        TAW,
    )
    assert u.nlri == ((0xC0000200 << 8) | 24,)


def test_withdrawn_length_overrun_resets() -> None:
    err = raises(msg(2, b"\x00\x30" + NLRI + b"\x00\x00"))
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.MALFORMED_ATTRIBUTE_LIST,
        RESET,
    )


def test_total_attribute_length_overrun_resets() -> None:
    err = raises(msg(2, b"\x00\x00\x00\x40" + BASE))
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.MALFORMED_ATTRIBUTE_LIST,
        RESET,
    )


@pytest.mark.parametrize("field", ["nlri", "withdrawn"])
def test_prefix_length_over_32_resets(field: str) -> None:
    bad = b"\x21" + bytes(5)
    data = update(BASE, nlri=bad) if field == "nlri" else update(b"", nlri=b"", withdrawn=bad)
    err = raises(data)
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.INVALID_NETWORK_FIELD,
        RESET,
    )


def test_nlri_overrun_resets() -> None:
    err = raises(update(BASE, nlri=b"\x18\xc0\x00"))
    assert (err.code, err.subcode, err.action) == (
        C.UPDATE_MESSAGE_ERROR,
        U.INVALID_NETWORK_FIELD,
        RESET,
    )


@pytest.mark.parametrize(
    "value",
    [
        struct.pack("!HBB", 2, 1, 5)
        + bytes(5)
        + b"\x00"
        + b"\x20\x20\x01\x0d\xb8",  # next hop length
        struct.pack("!HBB", 2, 1, 16) + bytes(16) + b"\x00" + b"\x81" + bytes(17),  # prefix > 128
        struct.pack("!HBB", 2, 1, 16) + bytes(16) + b"\x00" + b"\x40\x20\x01",  # NLRI overrun
        struct.pack("!HB", 2, 1),  # truncated
    ],
    ids=["next-hop-length", "prefix-length", "nlri-overrun", "truncated"],
)
def test_malformed_mp_reach_disables_afisafi(value: bytes) -> None:
    u = decode(update(ORIGIN + AS_PATH + tlv(0x80, 14, value), nlri=b""))
    err = u.errors[0]
    assert u.action == Action.AFISAFI_DISABLE
    # RFC 7606 7.11 / RFC 4760 7; the subcode depends on what broke
    assert (err.code, err.action) == (C.UPDATE_MESSAGE_ERROR, Action.AFISAFI_DISABLE)
    assert err.subcode in (U.OPTIONAL_ATTRIBUTE_ERROR, U.INVALID_NETWORK_FIELD)
    assert u.mp_reach is None


def test_malformed_mp_unreach_disables_afisafi() -> None:
    u = decode(update(tlv(0x80, 15, struct.pack("!HB", 2, 1) + b"\x90" + bytes(18)), nlri=b""))
    assert u.action == Action.AFISAFI_DISABLE and u.mp_unreach is None


# ------------------------------------------------------------ ROUTE-REFRESH, RFC 7313 5


@pytest.mark.parametrize("subtype", [1, 2], ids=["BoRR", "EoRR"])
def test_borr_eorr_with_extra_octets(subtype: int) -> None:
    err = raises(msg(5, struct.pack("!HBB", 1, subtype, 1) + b"\x00"))
    assert (err.code, err.subcode, err.action) == (C.ROUTE_REFRESH_MESSAGE_ERROR, 1, RESET)


def test_normal_route_refresh_may_carry_orf() -> None:
    rr = decode_message(msg(5, struct.pack("!HBB", 1, 0, 1) + b"\x01\x00\x05"))
    assert rr.orf == b"\x01\x00\x05"  # type: ignore[union-attr]


# ------------------------------------------------------ unknown attributes, RFC 4271 5


def test_unknown_optional_transitive_kept_and_partial_on_propagate() -> None:
    unk = tlv(0xC0, 99, b"payload")
    u = decode(update(BASE + unk))
    assert u.errors == () and u.attrs is not None
    assert u.attrs.unknown == ((0xC0, 99, b"payload"),)
    out = propagate(u.attrs)
    assert out.unknown == ((0xE0, 99, b"payload"),)
    wire = encode_message(Update(attrs=out, nlri=u.nlri))
    assert tlv(0xE0, 99, b"payload") in wire


def test_unknown_optional_non_transitive_dropped_on_propagate() -> None:
    unk = tlv(0x80, 98, b"local")
    u = decode(update(BASE + unk))
    assert u.errors == () and u.attrs is not None
    assert u.attrs.unknown == ((0x80, 98, b"local"),)
    out = propagate(u.attrs)
    assert out.unknown == ()
    assert b"local" not in encode_message(Update(attrs=out, nlri=u.nlri))


def test_propagate_without_unknown_is_identity() -> None:
    a = AttrSet(origin=0)
    assert propagate(a) is a


# --------------------------------------------------------------------------------- fuzz


def _seeds() -> list[bytes]:
    seeds: list[bytes] = []
    for path in sorted(GOLDEN.glob("*.pcap")):
        for item in read_capture(path.read_bytes()):
            if isinstance(item, CapturedMessage) and item.data not in seeds:
                seeds.append(item.data)
    built = Update(
        attrs=AttrSet(
            origin=0,
            as_path=((2, (65001, 4200000001)), (1, (1, 2))),
            next_hop=b"\x0a\x00\x00\x01",
            med=1,
            local_pref=100,
            atomic_aggregate=True,
            aggregator=(4200000001, b"\x0a\x00\x00\x01"),
            communities=(1, 2),
            originator_id=b"\x01\x01\x01\x01",
            cluster_list=(b"\x02\x02\x02\x02",),
            mp_next_hop=bytes(16),
            ext_communities=(bytes(8),),
            large_communities=((1, 2, 3),),
            unknown=((0xC0, 99, b"x"),),
        ),
        nlri=((0xC0000200 << 8) | 24,),
        mp_reach=MpReach(2, 1, ((0x20010DB8 << 104) | 32,)),
    )
    for options in (SessionOptions(), SessionOptions(four_octet_as=False)):
        seeds.append(encode_message(built, options))
    ids = Update(
        nlri=built.nlri,
        nlri_ids=(7,),
        attrs=built.attrs,
        mp_reach=MpReach(2, 1, ((0x20010DB8 << 104) | 32,), (9,)),
    )
    seeds.append(encode_message(ids, SessionOptions(addpath_tx=ALL_AP)))
    return seeds


SEEDS = _seeds()
OPTIONS = [
    SessionOptions(),
    SessionOptions(four_octet_as=False),
    SessionOptions(addpath_rx=ALL_AP),
    SessionOptions(four_octet_as=False, addpath_rx=frozenset({(1, 1)}), extended_message=True),
]
FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 2:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == 3 and data:
            del data[pos : pos + draw(st.integers(1, 4))]
        else:
            del data[pos:]
    if draw(st.booleans()) and len(data) >= 19:  # keep the header consistent
        data[16:18] = struct.pack("!H", len(data) & 0xFFFF)
    return bytes(data)


def _random_message(draw: st.DrawFn) -> bytes:
    mtype = draw(st.integers(0, 6))
    body = draw(st.binary(max_size=120))
    return msg(mtype, body)


fuzz_input = st.one_of(
    mutated(), st.binary(max_size=200), st.composite(lambda draw: _random_message(draw))()
)


def _only_bgp_error(fn: object, *args: object) -> None:
    with contextlib.suppress(BgpError):
        fn(*args)  # type: ignore[operator]


@FUZZ
@given(fuzz_input)
def test_fuzz_decode_message_raises_only_bgp_error(data: bytes) -> None:
    for options in OPTIONS:
        _only_bgp_error(decode_message, data, options, Interner())


@FUZZ
@given(fuzz_input)
def test_fuzz_body_decoders_raise_only_bgp_error(data: bytes) -> None:
    """The body decoders themselves, without ``decode_message``'s safety net."""
    body = data[19:] if data[:16] == MARKER else data
    for options in OPTIONS:
        _only_bgp_error(decode_update, body, options, Interner())
    _only_bgp_error(decode_open, body)
    _only_bgp_error(walk_attributes, body, 0, len(body))
    for bits in (32, 128):
        _only_bgp_error(decode_nlri, body, 0, len(body), bits, bits == 128)
    if len(body) >= 4:
        _only_bgp_error(decode_route_refresh, body)
    if len(body) >= 2:
        _only_bgp_error(decode_notification, body)


@pytest.mark.parametrize(("code", "flags"), [(8, 0xC0), (10, 0x80), (16, 0xC0), (32, 0xC0)])
def test_empty_list_attributes_are_malformed(code: int, flags: int) -> None:
    """RFC 7606 7.8/7.10/7.14, RFC 8092 6: "not a non-zero multiple" is treat-as-withdraw."""
    from pybgp.codec.errors import Action

    attrs = b"\x40\x01\x01\x00" + b"\x40\x02\x00" + b"\x40\x03\x04\x0a\x00\x00\x01"
    attrs += bytes((flags, code, 0))
    body = b"\x00\x00" + struct.pack("!H", len(attrs)) + attrs + b"\x08\x0a"
    u = decode_update(body, SessionOptions())
    assert u.action == Action.TREAT_AS_WITHDRAW
