"""Tests for pybgp.mrt.synth: the synthetic full table is deterministic and plausible."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from pybgp.codec.attributes import AttrSet, as_path_length
from pybgp.mrt.reader import read_mrt
from pybgp.mrt.records import PeerIndexTable, RibRecord
from pybgp.mrt.synth import PEER_AS, TIMESTAMP, SynthStats, synthesize

N = 20_000


def _table(prefixes: int, seed: int, ipv6: bool = False) -> tuple[bytes, SynthStats]:
    out = io.BytesIO()
    stats = synthesize(out, prefixes, seed, ipv6)
    return out.getvalue(), stats


@pytest.fixture(scope="module", params=[False, True], ids=["ipv4", "ipv6"])
def table(request: pytest.FixtureRequest) -> tuple[bool, bytes, SynthStats, list[object]]:
    ipv6: bool = request.param
    data, stats = _table(N, 7, ipv6)
    return ipv6, data, stats, list(read_mrt(data))


def test_same_seed_same_bytes() -> None:
    assert _table(3000, 1)[0] == _table(3000, 1)[0]
    assert _table(3000, 1, ipv6=True)[0] == _table(3000, 1, ipv6=True)[0]


def test_different_seed_different_bytes() -> None:
    assert _table(3000, 1)[0] != _table(3000, 2)[0]


def test_ipv6_differs_from_ipv4() -> None:
    assert _table(1000, 1)[0] != _table(1000, 1, ipv6=True)[0]


def test_reads_back_with_the_requested_prefixes(
    table: tuple[bool, bytes, SynthStats, list[object]],
) -> None:
    ipv6, data, stats, records = table
    assert isinstance(records[0], PeerIndexTable)
    (peer,) = records[0].peers
    assert peer.asn == PEER_AS
    assert len(peer.address) == (16 if ipv6 else 4)
    ribs = records[1:]
    assert all(isinstance(r, RibRecord) for r in ribs)
    assert stats.prefixes == len(ribs) == N
    assert stats.bytes_written == len(data)
    keys = [r.prefix for r in ribs if isinstance(r, RibRecord)]
    assert keys == sorted(set(keys)), "unique prefixes in address order"
    for seq, r in enumerate(ribs):
        assert isinstance(r, RibRecord)
        assert (r.subtype, r.afi, r.safi, r.sequence) == (
            (4, 2, 1, seq) if ipv6 else (2, 1, 1, seq)
        )
        assert r.timestamp == TIMESTAMP
        assert len(r.entries) == 1 and r.entries[0].error is None
        assert r.entries[0].originated < TIMESTAMP


def _entries(records: list[object]) -> list[AttrSet]:
    return [r.entries[0].attrs for r in records if isinstance(r, RibRecord)]


def test_distinct_attribute_sets_are_shared(
    table: tuple[bool, bytes, SynthStats, list[object]],
) -> None:
    _, _, stats, records = table
    attrs = _entries(records)
    distinct = len({id(a) for a in attrs})  # the reader interns identical sets
    assert distinct == stats.attribute_sets
    assert 0.2 * N <= distinct <= 0.4 * N
    popular = Counter(id(a) for a in attrs).most_common(1)[0][1]
    assert popular >= 5, "a skewed pick makes some sets popular"


def test_prefix_length_mix(table: tuple[bool, bytes, SynthStats, list[object]]) -> None:
    ipv6, _, _, records = table
    lengths = Counter(r.prefix & 0xFF for r in records if isinstance(r, RibRecord))
    top, count = lengths.most_common(1)[0]
    if ipv6:
        assert top == 48 and 0.40 * N <= count <= 0.55 * N
        assert lengths[32] > lengths[40] > lengths[36] > 0
        assert min(lengths) >= 16 and max(lengths) <= 64
    else:
        assert top == 24 and 0.55 * N <= count <= 0.65 * N
        assert lengths[22] > lengths[20] > lengths[16] > 0
        assert min(lengths) >= 8 and max(lengths) <= 24


def test_attributes_look_real(table: tuple[bool, bytes, SynthStats, list[object]]) -> None:
    ipv6, _, _, records = table
    attrs = _entries(records)
    lengths = Counter(as_path_length(a.as_path) for a in attrs)
    assert min(lengths) >= 1 and max(lengths) <= 10
    assert lengths.most_common(1)[0][0] in (3, 4, 5)
    assert all(a.as_path and a.as_path[0][1][0] == PEER_AS for a in attrs)
    asns = {asn for a in attrs for _, seg in a.as_path or () for asn in seg}
    assert len(asns) > 5000
    assert any(asn > 0xFFFF for asn in asns), "some 4-octet ASNs"
    assert any(len(set(seg)) < len(seg) for a in attrs for _, seg in a.as_path or ()), "prepends"
    origins = Counter(a.origin for a in attrs)
    assert origins[0] > 0.8 * len(attrs)
    assert 0.1 * len(attrs) < sum(a.med is not None for a in attrs) < 0.5 * len(attrs)
    assert max(len(a.communities) for a in attrs) <= 6
    assert any(a.communities for a in attrs) and any(a.large_communities for a in attrs)
    if ipv6:
        assert all(a.next_hop is None and a.mp_next_hop and len(a.mp_next_hop) == 16 for a in attrs)
    else:
        assert all(a.next_hop == bytes((198, 18, 0, 1)) and a.mp_next_hop is None for a in attrs)


def test_zero_prefixes_is_just_the_peer_index() -> None:
    data, stats = _table(0, 1)
    assert stats.prefixes == 0 and stats.attribute_sets == 0
    (record,) = list(read_mrt(data))
    assert isinstance(record, PeerIndexTable)


def test_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="prefixes"):
        synthesize(io.BytesIO(), -1, 1)
