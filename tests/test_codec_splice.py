"""The spliced encoding of exported sets against the encoder, byte for byte.

``encode_attributes`` builds the block of a set made by ``AttrSet.replace`` from a
received set by copying the received bytes and encoding only the changed attributes
(``splice.splice``); ``decode_update`` records the bytes of each set it decodes
(``remember_encoding``).  These tests build attribute blocks in many shapes (canonical,
shuffled, with Partial or Extended Length flags), decode them as a session does, derive
sets as export does (and more), and check that every block equals ``_encode``'s from
the values.  They also check that the sessions' interners stay bounded.
"""

from __future__ import annotations

import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.codec import AttrSet, Interner, SessionOptions, Update, decode_message
from pybgp.codec import attributes as A
from pybgp.codec import splice as S
from pybgp.codec.attributes import encode_attributes
from pybgp.codec.message import encode_message
from pybgp.codec.update import decode_update

from .test_codec_properties import addr4, as_paths, attr_sets, u32

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AS4 = SessionOptions()
AS2 = SessionOptions(four_octet_as=False)
NLRI = ((0x0A000000 << 8) | 8,)


def _tlvs(block: bytes) -> list[tuple[int, int, bytes]]:
    out, i = [], 0
    while i < len(block):
        flags, code = block[i], block[i + 1]
        if flags & 0x10:
            n, vs = (block[i + 2] << 8) | block[i + 3], i + 4
        else:
            n, vs = block[i + 2], i + 3
        out.append((flags, code, block[vs : vs + n]))
        i = vs + n
    return out


def _body(block: bytes) -> bytes:
    """An UPDATE body with this attribute block and one IPv4 prefix."""
    return b"\x00\x00" + struct.pack("!H", len(block)) + block + b"\x08\x0a"


def _reshape(block: bytes, seed: int, shuffle: bool, ext: bool, partial: bool) -> bytes:
    """The same attributes with another order, Extended Length or Partial bits."""
    tlvs = _tlvs(block)
    rnd = random.Random(seed)
    if shuffle:
        rnd.shuffle(tlvs)
    out = []
    for flags, code, value in tlvs:
        if partial and flags & 0xC0 == 0xC0 and rnd.random() < 0.5:
            flags |= 0x20
        if ext and rnd.random() < 0.5:
            flags |= 0x10
        if flags & 0x10 or len(value) > 255:
            out.append(bytes((flags | 0x10, code)) + struct.pack("!H", len(value)) + value)
        else:
            out.append(bytes((flags, code, len(value))) + value)
    return b"".join(out)


changes = st.fixed_dictionaries(
    {},
    optional={
        "originator_id": st.one_of(st.none(), addr4),
        "cluster_list": st.lists(addr4, max_size=3).map(tuple),
        "local_pref": st.one_of(st.none(), u32),
        "med": st.one_of(st.none(), u32),
        "next_hop": st.one_of(st.none(), addr4),
        "as_path": st.one_of(st.none(), as_paths(True)),
        "communities": st.lists(u32, max_size=3).map(tuple),
        "atomic_aggregate": st.booleans(),
        "large_communities": st.lists(st.tuples(u32, u32, u32), max_size=2).map(tuple),
        "mp_next_hop": st.one_of(st.none(), st.binary(min_size=16, max_size=16)),
    },
)


def _check(attrs: AttrSet) -> None:
    """The (possibly spliced) block equals the encoder's, for both ASN widths."""
    for options in (AS4, AS2):
        assert encode_attributes(attrs, options) == A._encode(attrs, options, {}, False)


@SETTINGS
@given(
    attr_sets(four=True, as4_fields=True),
    st.integers(0, 2**32),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    changes,
    changes,
)
def test_spliced_export_equals_encoder(
    attrs: AttrSet,
    seed: int,
    shuffle: bool,
    ext: bool,
    partial: bool,
    first: dict[str, object],
    second: dict[str, object],
) -> None:
    received = _reshape(A._encode(attrs, AS4, {}, False), seed, shuffle, ext, partial)
    u = decode_update(_body(received), AS4, Interner())
    got = u.attrs
    if not received or got is None or u.errors:
        return  # no attributes, or ones a session would not accept as they are
    # a received set re-encodes to the bytes it came in (what remember_encoding records)
    assert encode_attributes(got, AS4) == received
    assert A._encode(got, AS4, {}, False) == received
    exported = got.replace(**first)  # one step from the received bytes
    _check(exported)
    again = exported.replace(**second)  # and from a canonical set
    _check(again)
    _check(got.replace())  # nothing changed: the canonical form of the received set


@SETTINGS
@given(attr_sets(four=True, as4_fields=False), addr4, st.lists(addr4, max_size=2))
def test_reflected_set_is_spliced(attrs: AttrSet, originator: bytes, clusters: list[bytes]) -> None:
    """What a route reflector does: ORIGINATOR_ID and CLUSTER_LIST into a received set."""
    attrs = attrs.replace(unknown=(), originator_id=None, cluster_list=(), origin=0)
    wire = A._encode(attrs, AS4, {}, False)
    got = decode_update(_body(wire), AS4, Interner()).attrs
    assert got is not None
    exported = got.replace(originator_id=originator, cluster_list=(b"\x0a\x00\x00\xfe", *clusters))
    assert S.splice(exported) is not None  # the splice, not the fallback
    _check(exported)
    # ``reflect`` is that ``replace`` written out (local_pref set to what it was)
    via = got.reflect(originator, exported.cluster_list, got.local_pref)
    assert via == exported and S.splice(via) is not None
    _check(via)


def _mp_reach(nh: bytes) -> bytes:
    """An MP_REACH_NLRI TLV for IPv6 unicast: 2001:db8::/32 via ``nh``."""
    value = struct.pack("!HBB", 2, 1, len(nh)) + nh + b"\x00\x20" + bytes.fromhex("20010db8")
    return bytes((0x80, 14, len(value))) + value


@SETTINGS
@given(attr_sets(four=True, as4_fields=False), st.integers(0, 2**32), st.booleans(), changes)
def test_mp_reach_set_is_recorded_and_spliced_without_it(
    attrs: AttrSet, seed: int, shuffle: bool, first: dict[str, object]
) -> None:
    """An IPv6 UPDATE: the bytes recorded for its set are its attributes without the
    MP_REACH_NLRI (wherever it was), which is what the encoder gives that set; a
    reflected copy is spliced from them when the rest is in canonical order."""
    attrs = attrs.replace(unknown=(), origin=0, as_path=attrs.as_path or ((2, (65001,)),))
    plain = _reshape(A._encode(attrs, AS4, {}, False), seed, shuffle, False, False)
    tlvs = [bytes((f, c)) + (struct.pack("!H", len(v)) if f & 0x10 else bytes((len(v),))) + v
            for f, c, v in _tlvs(plain)]  # fmt: skip
    tlvs.insert(random.Random(seed).randrange(len(tlvs) + 1), _mp_reach(b"\xfd" + bytes(15)))
    block = b"".join(tlvs)
    u = decode_update(b"\x00\x00" + struct.pack("!H", len(block)) + block, AS4, Interner())
    got = u.attrs
    if got is None or u.errors:
        return  # attributes a session would not accept as they are
    assert u.mp_reach is not None and len(u.mp_reach.nlri) == 1
    assert encode_attributes(got, AS4) == plain
    assert A._encode(got, AS4, {}, False) == plain
    _check(got.replace(**first))
    reflected = got.replace(originator_id=b"\x0a\x00\x00\x01", cluster_list=(b"\x0a\x00\x00\xfe",))
    if not shuffle:
        assert S.splice(reflected) is not None  # the splice, not the fallback
    _check(reflected)


def test_splice_inserts_between_communities_and_extended() -> None:
    attrs = AttrSet(
        origin=0,
        as_path=((2, (65001, 4200000000)),),
        next_hop=b"\xc6\x12\x01\x01",
        local_pref=100,
        communities=(1, 2),
        ext_communities=(bytes(8),),
        large_communities=((1, 2, 3),),
    )
    wire = encode_message(Update(attrs=attrs, nlri=NLRI), AS4)
    u = decode_message(wire, AS4, Interner())
    assert isinstance(u, Update) and u.attrs is not None
    out = u.attrs.replace(originator_id=b"\x0a\x00\x00\x01", cluster_list=(b"\x0a\x00\x00\xfe",))
    spliced = S.splice(out)
    assert spliced is not None
    assert [c for _, c, _ in _tlvs(spliced)] == [1, 2, 3, 5, 8, 9, 10, 16, 32]
    assert spliced == A._encode(out, AS4, {}, False)


def test_hand_built_wire_is_not_spliced() -> None:
    """A set whose ``wire`` is not the received one is encoded from its values."""
    attrs = AttrSet(origin=0, as_path=(), local_pref=100, wire=((1, 0x40), (2, 0x40)))
    encode_attributes(attrs, AS4)  # cached, but not as received bytes
    out = attrs.replace(med=5)
    assert S.splice(out) is None
    _check(out)


def test_session_interner_is_bounded() -> None:
    interner = Interner(limit=8)
    for i in range(50):
        attrs = AttrSet(origin=0, as_path=((2, (65000 + i,)),), next_hop=bytes(4), med=i)
        body = encode_message(Update(attrs=attrs, nlri=NLRI), AS4)[19:]
        u = decode_update(body, AS4, interner)
        assert u.attrs == attrs.replace()
        assert len(interner.by_raw) <= 8
        assert len(interner.values) <= 4 * 8 + 5
    unbounded = Interner()
    for i in range(50):
        attrs = AttrSet(origin=0, as_path=((2, (65000 + i,)),), next_hop=bytes(4), med=i)
        decode_update(encode_message(Update(attrs=attrs, nlri=NLRI), AS4)[19:], AS4, unbounded)
    assert len(unbounded.by_raw) == 50


@SETTINGS
@given(attr_sets(four=False, as4_fields=True), st.integers(0, 2**32), st.booleans())
def test_two_octet_session_recorded_bytes(attrs: AttrSet, seed: int, shuffle: bool) -> None:
    """``remember_encoding`` for a 2-octet session: the bytes are those a 2-octet peer gets."""
    received = _reshape(A._encode(attrs, AS2, {}, False), seed, shuffle, False, False)
    u = decode_update(_body(received), AS2, Interner())
    if not received or u.attrs is None or u.errors:
        return
    assert encode_attributes(u.attrs, AS2) == received == A._encode(u.attrs, AS2, {}, False)
    _check(u.attrs.replace(originator_id=b"\x0a\x00\x00\x01", cluster_list=(b"\x0a\x00\x00\xfe",)))
