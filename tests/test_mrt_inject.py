"""``pybgp.mrt.inject`` without sockets: the table it reads and the bytes it exports.

- ``raw_export`` (attribute bytes of a RIB entry -> the bytes sent to a peer) against
  the AttrSet path it replaces, ``encode_attributes(export_originated(template))``:
  on a synthetic table (IPv4 and IPv6, eBGP and iBGP peers) and on any attribute set
  hypothesis draws.
- ``_Table``: the first path of a prefix wins in a RIB dump, the last announcement in
  BGP4MP; configured prefixes are skipped; ``limit`` is exact; each file set's
  prefixes form one group.

Routes through real sessions: ``tests/test_control_routes.py``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybgp.codec import AttrSet, SessionOptions
from pybgp.codec.attributes import encode_attributes
from pybgp.config import parse_config
from pybgp.eventlog import EventLog
from pybgp.mrt.inject import _Table, raw_export
from pybgp.mrt.reader import MrtReader, decode_rib_attributes
from pybgp.mrt.routes import RouteBatch, read_routes
from pybgp.mrt.synth import synthesize
from pybgp.mrt.writer import encode_rib_attributes
from pybgp.speaker import Peer, Speaker
from tests.test_codec_properties import SETTINGS, attr_sets

AS4 = SessionOptions(four_octet_as=True)
LOCAL = {1: "10.0.0.1", 2: "2001:db8::1"}
NH = {1: bytes([10, 0, 0, 1]), 2: bytes.fromhex("20010db8000000000000000000000001")}

CONFIG = (
    '[global]\nasn = 64900\nrouter_id = "10.0.0.1"\n'
    '[[neighbors]]\naddress = "10.0.0.2"\nremote_as = 64901\n'  # eBGP
    '[[neighbors]]\naddress = "10.0.0.3"\nremote_as = 64900\n'  # iBGP
)


@pytest.fixture(scope="module")
def peers() -> Iterator[tuple[Speaker, dict[bool, Peer]]]:
    """A Speaker (never started) and its eBGP and iBGP Peer objects."""
    loop = asyncio.new_event_loop()
    cfg = parse_config(CONFIG)

    async def make() -> tuple[Speaker, dict[bool, Peer]]:
        sp = Speaker(cfg, EventLog(io.StringIO()))
        return sp, {n.remote_as != 64900: Peer(sp, n) for n in cfg.neighbors}

    try:
        yield loop.run_until_complete(make())
    finally:
        loop.close()


def _reference(sp: Speaker, peer: Peer, afi: int, template: AttrSet) -> bytes | None:
    attrs = sp.export_originated(peer, afi, template, LOCAL[afi])
    return None if attrs is None else encode_attributes(attrs, AS4)


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_raw_export_matches_attrset_path_on_synth(
    peers: tuple[Speaker, dict[bool, Peer]], ipv6: bool
) -> None:
    sp, by_ebgp = peers
    out = io.BytesIO()
    synthesize(out, 4000, 3, ipv6)
    rd = MrtReader()
    table = _Table(False, set())
    for item in read_routes(out.getvalue(), rd):
        if isinstance(item, RouteBatch):
            table.add_batch(item, None)
    raws = {id(v): k for k, v in rd.interner.by_raw.items() if isinstance(v, AttrSet)}
    assert len(table.new) == 4000 and table.groups
    checked = 0
    for afi, template, prefixes, attrs in table.groups:
        raw = raws[id(attrs)]
        assert isinstance(raw, bytes) and prefixes
        for ebgp, peer in by_ebgp.items():
            got = raw_export(raw, afi, ebgp, 64900, NH[afi])
            assert got is not None  # the synthetic table is all plain sets
            assert got == _reference(sp, peer, afi, template), (afi, ebgp, template)
            checked += 1
    assert checked == 2 * len(table.groups)


@SETTINGS
@given(attr_sets(four=True, as4_fields=False), st.sampled_from([1, 2]), st.booleans())
def test_raw_export_matches_attrset_path(
    peers: tuple[Speaker, dict[bool, Peer]], attrs: AttrSet, afi: int, ebgp: bool
) -> None:
    """Any set a RIB entry can hold (LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST, unknown
    optional attributes, AS_SETs...): the same bytes, or None (the AttrSet path)."""
    sp, by_ebgp = peers
    raw = encode_rib_attributes(attrs)
    decoded, errors = decode_rib_attributes(raw, 0, len(raw))
    if errors:
        return  # not exported from bytes: the injector only takes clean sets
    template = _Table(False, set()).template(decoded)
    got = raw_export(raw, afi, ebgp, 64900, NH[afi])
    if attrs.as_path is None:
        assert got is None
        return
    assert got is not None
    assert got == _reference(sp, by_ebgp[ebgp], afi, template)


def test_raw_export_gives_up_on_as4_attributes() -> None:
    a = AttrSet(origin=0, as_path=((2, (23456,)),), as4_path=((2, (4200000000,)),))
    assert raw_export(encode_rib_attributes(a), 1, True, 64900, NH[1]) is None
    full = AttrSet(origin=0, as_path=((2, tuple(range(1, 256))),))
    assert raw_export(encode_rib_attributes(full), 1, True, 64900, NH[1]) is None
    assert raw_export(encode_rib_attributes(full), 1, False, 64900, NH[1]) is not None
    assert raw_export(b"\x40\x01", 1, True, 64900, NH[1]) is None  # cut short


# --------------------------------------------------------------------------- _Table

A = AttrSet(origin=0, as_path=((2, (65001,)),), next_hop=bytes(4))
B = AttrSet(origin=1, as_path=((2, (65002,)),), next_hop=bytes(4))
P1, P2, P3, P4 = (((0x0A000000 + (i << 8)) << 8) | 24 for i in range(4))


def _batch(prefixes: list[int], attrs: list[AttrSet]) -> RouteBatch:
    n = len(prefixes)
    return RouteBatch(1, 1, prefixes, [0] * n, [], attrs, [])


def _groups(t: _Table) -> dict[int, list[int]]:
    return {g[3].origin or 0: g[2] for g in t.groups}  # keyed by the file set's ORIGIN


def test_table_rib_first_path_wins() -> None:
    t = _Table(False, set())
    t.add_batch(_batch([P1, P2, P3], [A, B, A]), None)  # the fast path: all new
    t.add_batch(_batch([P1, P4, P4], [B, B, A]), None)  # P1 again; P4 twice
    assert list(t.new) == [(1, P1), (1, P2), (1, P3), (1, P4)]
    assert t.new[(1, P1)] is t.template(A) and t.new[(1, P4)] is t.template(B)
    assert _groups(t) == {0: [P1, P3], 1: [P2, P4]}
    tm = t.template(A)
    assert tm.next_hop is None and tm.as_path == A.as_path and tm.wire == ()


def test_table_configured_skipped_and_limit() -> None:
    t = _Table(False, {(1, P2)})
    t.add_batch(_batch([P1, P2, P3, P4], [A, A, B, B]), 2)
    assert list(t.new) == [(1, P1), (1, P3)] and t.skipped == 1
    assert _groups(t) == {0: [P1], 1: [P3]}


def test_table_keep_next_hop() -> None:
    t = _Table(True, set())
    assert t.template(A).next_hop == bytes(4)


def test_table_bgp4mp_last_announcement_wins() -> None:
    t = _Table(False, set())
    t.add_update(1, (P1, P2), A)
    t.add_update(1, (P2, P3), B)
    t.add_update(1, (P3,), B)  # the same again: no change
    assert t.replaced
    t.regroup()
    assert t.new == {(1, P1): t.template(A), (1, P2): t.template(B), (1, P3): t.template(B)}
    assert _groups(t) == {0: [P1], 1: [P2, P3]}
