"""UPDATE packing: ``encode_announcements`` (bytes straight out, the MRT inject path)
against ``pack_announcements`` + ``encode_message`` (the reference), and the fast
``AttrSet.replace``.

A differential test: for any attribute set, family, session options (2- or 4-octet AS,
ADD-PATH, extended messages) and list of prefixes, both give the very same messages,
split at the same places.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybgp.codec import AttrSet, SessionOptions, attributes, decode_message, encode_message
from pybgp.codec import update as update_module
from pybgp.codec.attributes import FIELD_NAMES
from pybgp.codec.nlri import make_prefix
from pybgp.codec.pack import encode_announcements, encode_routes, pack_announcements
from pybgp.codec.update import MpReach, Update
from tests.test_codec_properties import SETTINGS, addr4, attr_sets, prefixes

FAMILIES = [(1, 1), (2, 1), (1, 2), (2, 2)]


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, int, AttrSet, list[int], SessionOptions, int]:
    afi, safi = draw(st.sampled_from(FAMILIES))
    four = draw(st.booleans())
    attrs = draw(attr_sets(four=four, as4_fields=False))
    if (afi, safi) == (1, 1):
        attrs = attrs.replace(next_hop=draw(addr4), mp_next_hop=None)
    else:
        nh = draw(st.sampled_from([bytes(4), bytes(range(16)), bytes(range(32))]))
        attrs = attrs.replace(next_hop=None, mp_next_hop=nh)
    bits = 32 if afi == 1 else 128
    # up to 1500 prefixes: several 4096-octet messages, or one extended one
    pfx = list(draw(prefixes(bits, max_size=draw(st.sampled_from([3, 60, 1500])))))
    fam = (afi, safi)
    opts = SessionOptions(
        four_octet_as=four,
        extended_message=draw(st.booleans()),
        addpath_tx=frozenset({fam}) if draw(st.booleans()) else frozenset(),
    )
    path_id = draw(st.integers(0, 0xFFFFFFFF))
    return afi, safi, attrs, pfx, opts, path_id


@SETTINGS
@given(cases())
def test_encode_announcements_matches_pack_and_encode(
    case: tuple[int, int, AttrSet, list[int], SessionOptions, int],
) -> None:
    afi, safi, attrs, pfx, opts, path_id = case
    routes = [(afi, safi, p, path_id, attrs) for p in pfx]
    want = [encode_message(u, opts) for u in pack_announcements(routes, opts)]
    assert encode_announcements(afi, safi, attrs, pfx, opts, path_id) == want


def test_encode_announcements_splits_and_decodes() -> None:
    """3000 /24s with communities: several 4096-octet UPDATEs carrying every prefix."""
    attrs = AttrSet(origin=0, as_path=((2, (65001, 65002)),), next_hop=bytes([192, 0, 2, 1]),
                    communities=tuple(range(100)))  # fmt: skip
    pfx = [((0x0A000000 + (i << 8)) << 8) | 24 for i in range(3000)]
    opts = SessionOptions(four_octet_as=True)
    msgs = encode_announcements(1, 1, attrs, pfx, opts)
    assert len(msgs) > 1 and all(len(m) <= 4096 for m in msgs)
    got: list[int] = []
    for m in msgs:
        u = decode_message(m, opts)
        assert isinstance(u, Update) and u.attrs == attrs
        got += u.nlri
    assert got == pfx
    assert encode_announcements(1, 1, attrs, [], opts) == []


def test_encode_announcements_needs_canonical_order() -> None:
    wired = AttrSet(origin=0, wire=((1, 0x40),))
    with pytest.raises(ValueError):
        encode_announcements(1, 1, wired, [0x0A000008], SessionOptions())


@SETTINGS
@given(attr_sets(), st.data())
def test_replace_sets_the_named_fields_and_canonical_order(a: AttrSet, data: st.DataObject) -> None:
    values = {n: getattr(a, n) for n in FIELD_NAMES}
    a = AttrSet(**{**values, "wire": ((1, 0x40),)})
    names = [n for n in FIELD_NAMES if n != "wire"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=4))
    other = data.draw(attr_sets())
    changes = {n: getattr(other, n) for n in chosen}
    got = a.replace(**changes)
    for n in names:
        assert getattr(got, n) == (changes[n] if n in changes else getattr(a, n))
    assert got == AttrSet(**{**values, **changes})
    assert got.wire == ()
    with pytest.raises(TypeError):
        a.replace(bogus=1)
    with pytest.raises(TypeError):
        a.replace(wire=())


def test_attr_set_value_semantics() -> None:
    a = AttrSet(origin=0, as_path=((2, (65001,)),), communities=(1, 2), wire=((1, 0x40),))
    b = AttrSet(origin=0, as_path=((2, (65001,)),), communities=(1, 2))
    assert a == b and hash(a) == hash(b)  # ``wire`` is not part of the value
    assert a != b.replace(med=5) and a != "origin"
    assert repr(b).startswith("AttrSet(origin=0, as_path=((2, (65001,)),), next_hop=None")
    assert pickle.loads(pickle.dumps(a)) == a
    assert pickle.loads(pickle.dumps(a)).wire == a.wire
    if not attributes.__file__.endswith(".py"):  # compiled: Final fields are read-only
        with pytest.raises(AttributeError):
            a.origin = 1  # type: ignore[misc]


def test_update_value_semantics() -> None:
    """``Update`` is written out by hand (compiled natively): it behaves as the frozen
    dataclass it replaced: keyword defaults, equality and hash without ``errors``, repr,
    pickle, ``replace``, read-only fields in the compiled build."""
    a = AttrSet(origin=0, as_path=((2, (65001,)),))
    p1 = make_prefix(0x0A000000, 8)
    u = Update(nlri=(p1,), attrs=a)
    again = decode_message(encode_message(u))
    assert again == u and hash(again) == hash(u) and again is not u
    assert Update() == Update((), (), None, (), (), None, None, ())
    assert u != Update(nlri=(p1,)) and u != "UPDATE"
    assert repr(Update()) == (
        "Update(withdrawn=(), withdrawn_ids=(), attrs=None, nlri=(), nlri_ids=(), "
        "mp_reach=None, mp_unreach=None, errors=())"
    )
    assert pickle.loads(pickle.dumps(u)) == u
    moved = u.replace(withdrawn=u.nlri, nlri=())
    assert moved.withdrawn == (p1,) and moved.nlri == () and moved.attrs is a
    with pytest.raises(TypeError):
        u.replace(bogus=1)
    r = MpReach(2, 1, (p1,))
    assert r == MpReach(2, 1, (p1,), (), None, b"\x00") and hash(r) == hash(MpReach(2, 1, (p1,)))
    assert r != MpReach(2, 1) and repr(MpReach(2, 1)) == (
        "MpReach(afi=2, safi=1, nlri=(), path_ids=(), raw_nlri=None, reserved=b'\\x00')"
    )
    assert pickle.loads(pickle.dumps(r)) == r
    if not update_module.__file__.endswith(".py"):  # compiled: Final fields are read-only
        with pytest.raises(AttributeError):
            u.nlri = ()  # type: ignore[misc]
        with pytest.raises(AttributeError):
            r.nlri = ()  # type: ignore[misc]


@st.composite
def route_lists(draw: st.DrawFn) -> tuple[list[tuple[int, int, int, int, AttrSet]], SessionOptions]:
    """Routes of several families and sets (some in wire order), for one session."""
    four = draw(st.booleans())
    fams = draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=3))
    opts = SessionOptions(
        four_octet_as=four,
        extended_message=draw(st.booleans()),
        addpath_tx=frozenset(f for f in fams if draw(st.booleans())),
    )
    routes: list[tuple[int, int, int, int, AttrSet]] = []
    for afi, safi in fams:
        for _ in range(draw(st.integers(1, 3))):
            attrs = draw(attr_sets(four=four, as4_fields=False))
            if (afi, safi) == (1, 1):
                attrs = attrs.replace(next_hop=draw(addr4), mp_next_hop=None)
            else:
                attrs = attrs.replace(next_hop=None, mp_next_hop=bytes(16 if afi == 2 else 4))
            if draw(st.booleans()):  # as received: decoded, so in wire order
                wire = encode_message(Update(attrs=attrs, nlri=(0x0A000008,)), opts)
                got = decode_message(wire, opts)
                assert isinstance(got, Update)
                if got.attrs is not None and not got.errors and got.attrs.wire:
                    attrs = got.attrs
            bits = 32 if afi == 1 else 128
            pfx = draw(prefixes(bits, max_size=draw(st.sampled_from([3, 400]))))
            ids = draw(st.lists(st.integers(0, 3), min_size=len(pfx), max_size=len(pfx)))
            routes += [(afi, safi, p, i, attrs) for p, i in zip(pfx, ids, strict=True)]
    draw(st.randoms()).shuffle(routes)
    return routes, opts


@SETTINGS
@given(route_lists())
def test_encode_routes_matches_pack_and_encode(
    case: tuple[list[tuple[int, int, int, int, AttrSet]], SessionOptions],
) -> None:
    """What a route reflector sends: ``encode_routes`` against the Update path."""
    routes, opts = case
    want = []
    for u in pack_announcements(routes, opts):
        fam = (1, 1) if u.mp_reach is None else (u.mp_reach.afi, u.mp_reach.safi)
        want.append((fam, encode_message(u, opts)))
    assert encode_routes(routes, opts) == want
