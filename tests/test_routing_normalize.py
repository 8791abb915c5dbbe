"""What a peer's UPDATE means before the RIB sees it (rib.normalize)."""

from __future__ import annotations

from pybgp.codec.attributes import AttrSet
from pybgp.codec.errors import Action, BgpError
from pybgp.codec.update import MpReach, Update
from rib.normalize import as_loop, noteworthy
from rib.normalize import normalize as _normalize

ME = b"\x0a\x00\x00\x01"
NH = b"\x0a\x00\x00\x02"
P = (0x0A010000 << 8) | 16
BASE = AttrSet(origin=0, as_path=((2, (65010,)),), next_hop=NH)


def test_as4_path_from_a_new_speaker_is_discarded() -> None:
    """RFC 6793 3: AS4_PATH/AS4_AGGREGATOR between NEW speakers are discarded."""
    a = BASE.replace(as4_path=((2, (4200000001,)),), as4_aggregator=(4200000001, NH))
    u = _normalize(Update(attrs=a, nlri=(P,)), True, ME)
    assert u.attrs is not None and u.attrs.as4_path is None and u.attrs.as4_aggregator is None
    assert u.attrs.as_path == ((2, (65010,)),)


def test_as4_path_from_an_old_speaker_is_merged() -> None:
    a = BASE.replace(as_path=((2, (23456,)),), as4_path=((2, (4200000001,)),))
    u = _normalize(Update(attrs=a, nlri=(P,)), False, ME)
    assert u.attrs is not None and u.attrs.as_path == ((2, (4200000001,)),)


def test_ipv4_route_in_mp_reach_gets_its_next_hop() -> None:
    """RFC 4760 3: the next hop of an IPv4 route in MP_REACH_NLRI becomes NEXT_HOP."""
    a = BASE.replace(next_hop=None, mp_next_hop=NH)
    u = _normalize(Update(attrs=a, mp_reach=MpReach(1, 1, (P,))), True, ME)
    assert u.attrs is not None and u.attrs.next_hop == NH


def test_next_hop_equal_to_our_address_is_ignored() -> None:
    """RFC 4271 6.3: a semantically incorrect NEXT_HOP; the NLRI are withdrawn, no reset."""
    a = BASE.replace(next_hop=ME)
    u = _normalize(Update(attrs=a, nlri=(P,), nlri_ids=(3,)), True, ME)
    assert u.nlri == () and u.withdrawn == (P,) and u.withdrawn_ids == (3,)
    kept = _normalize(Update(attrs=BASE, nlri=(P,)), True, ME)
    assert kept.nlri == (P,)


def test_as_loop_reads_the_merged_path() -> None:
    """RFC 4271 9.1.2 on the AS_PATH, merged with AS4_PATH from a 2-octet peer."""
    assert as_loop(BASE.replace(as_path=((2, (65010, 64999)),)), 64999)
    assert not as_loop(BASE, 64999)
    merged = BASE.replace(as_path=((2, (23456,)),), as4_path=((2, (4200000001,)),))
    assert as_loop(merged, 4200000001)


def test_noteworthy_picks_errors_and_loops_with_announcements() -> None:
    looped = BASE.replace(as_path=((2, (64999,)),))
    taw = BgpError("bad MED", 3, 5, action=Action.TREAT_AS_WITHDRAW)
    run = (
        Update(attrs=BASE, nlri=(P,)),
        Update(attrs=looped, nlri=(P,)),
        Update(attrs=looped),  # nothing announced: nothing to log
        Update(attrs=BASE, nlri=(P,), errors=(taw,)),
        Update(attrs=looped, mp_reach=MpReach(2, 1, (P,))),
    )
    assert noteworthy(run, 64999) == [1, 3, 4]
