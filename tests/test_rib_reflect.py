"""rib.reflect: the RFC 4456 section 8 export rule, ORIGINATOR_ID / CLUSTER_LIST, loops."""

from __future__ import annotations

import pytest

from pybgp.codec.attributes import AttrSet, SegmentType
from rib import AdjRibOut, PeerInfo, Rib, RibConfig, fan_out
from rib.decision import Route
from rib.reflect import export_attrs, import_check, may_export, prepend_as

LOCAL_AS = 65000
RID = bytes((9, 9, 9, 9))
CONFIG = RibConfig(local_as=LOCAL_AS, router_id=RID)
SEQ = SegmentType.AS_SEQUENCE


def mk(index: int, kind: str, **kw: object) -> PeerInfo:
    asn = 65000 + index if kind == "ebgp" else LOCAL_AS
    kw.setdefault("local_address", bytes((10, 0, 0, 254)))
    return PeerInfo(
        address=f"10.0.0.{index}",
        asn=asn,
        bgp_id=bytes((10, 0, 0, index)),
        local_as=LOCAL_AS,
        index=index,
        rr_client=kind == "client",
        **kw,  # type: ignore[arg-type]
    )


A = AttrSet(origin=0, as_path=((SEQ, (65100,)),), next_hop=b"\x0a\x01\x01\x01", med=5)

# (source kind, target kind) -> exported?   RFC 4456 section 8
RULE = [
    ("ebgp", "ebgp", True),  # RFC 4271 9.1.3
    ("ebgp", "client", True),  # (3) from eBGP: to all clients and non-clients
    ("ebgp", "nonclient", True),
    ("client", "ebgp", True),
    ("client", "client", True),  # (2) from a client: to clients and non-clients
    ("client", "nonclient", True),
    ("nonclient", "ebgp", True),
    ("nonclient", "client", True),  # (1) from a non-client: to clients only
    ("nonclient", "nonclient", False),
]


@pytest.mark.parametrize(("src", "dst", "expected"), RULE)
def test_rfc4456_8_export_rule_table(src: str, dst: str, expected: bool) -> None:
    """RFC 4456 8: which best routes go where."""
    route = Route(mk(1, src), 0, A)
    assert may_export(route, mk(2, dst)) is expected


def test_never_back_to_the_sender_nor_the_originator() -> None:
    """RFC 4456 8 (2): "...to the Client peers" except the originator."""
    c1, c2 = mk(1, "client"), mk(2, "client")
    assert not may_export(Route(c1, 0, A), c1)
    reflected = A.replace(originator_id=c2.bgp_id)  # came back via another RR
    assert not may_export(Route(c1, 0, reflected), c2)


def test_rfc4456_8_reflection_sets_originator_id_and_prepends_cluster_id() -> None:
    c1, c2 = mk(1, "client"), mk(2, "client")
    out = export_attrs(Route(c1, 0, A), c2, 1, CONFIG)
    assert out.originator_id == c1.bgp_id
    assert out.cluster_list == (RID,)
    assert out.next_hop == A.next_hop  # RFC 4456 10: next hop untouched by default
    assert out.local_pref == 100  # RFC 4271 5.1.5: explicit on iBGP
    assert out.as_path == A.as_path and out.med == 5
    # an existing ORIGINATOR_ID is kept; our cluster id goes in front
    again = A.replace(originator_id=b"\x01\x02\x03\x04", cluster_list=(b"\x07" * 4,))
    out = export_attrs(Route(c1, 0, again), c2, 1, RibConfig(LOCAL_AS, RID, b"\x05" * 4))
    assert out.originator_id == b"\x01\x02\x03\x04"
    assert out.cluster_list == (b"\x05" * 4, b"\x07" * 4)


def test_next_hop_self_is_off_for_reflected_routes_unless_forced() -> None:
    c1 = mk(1, "client")
    e = mk(3, "ebgp")
    nhs = mk(2, "client", next_hop_self=True)
    force = mk(4, "client", next_hop_self_force=True)
    assert export_attrs(Route(c1, 0, A), nhs, 1, CONFIG).next_hop == A.next_hop
    assert export_attrs(Route(c1, 0, A), force, 1, CONFIG).next_hop == bytes((10, 0, 0, 254))
    # eBGP-learned routes: next-hop-self applies
    assert export_attrs(Route(e, 0, A), nhs, 1, CONFIG).next_hop == bytes((10, 0, 0, 254))
    assert export_attrs(Route(e, 0, A), mk(5, "client"), 1, CONFIG).next_hop == A.next_hop


def test_ebgp_export_rewrites() -> None:
    """RFC 4271 5.1.2-5.1.5 and RFC 4456 8 on the way to an external peer."""
    c1, e1, e2 = mk(1, "client"), mk(2, "ebgp"), mk(3, "ebgp")
    internal = A.replace(local_pref=300, originator_id=b"\x01" * 4, cluster_list=(b"\x02" * 4,))
    out = export_attrs(Route(c1, 0, internal), e2, 1, CONFIG)
    assert out.as_path == ((SEQ, (LOCAL_AS, 65100)),)
    assert out.next_hop == bytes((10, 0, 0, 254))
    assert out.local_pref is None and out.originator_id is None and out.cluster_list == ()
    assert out.med == 5  # a MED set inside our AS may go out
    out = export_attrs(Route(e1, 0, A), e2, 1, CONFIG)
    assert out.med is None  # RFC 4271 5.1.4: not to another AS
    v6 = mk(7, "ebgp", local_address=b"\x20\x01" + b"\x00" * 14)
    assert export_attrs(Route(e1, 0, A), v6, 2, CONFIG).mp_next_hop == v6.local_address


def test_prepend_as_strips_confed_and_starts_a_segment_when_full() -> None:
    confed = ((SegmentType.AS_CONFED_SEQUENCE, (1, 2)), (SEQ, (7,)))
    assert prepend_as(confed, 5) == ((SEQ, (5, 7)),)
    assert prepend_as(None, 5) == ((SEQ, (5,)),)
    full = ((SEQ, tuple(range(255))),)
    assert prepend_as(full, 5) == ((SEQ, (5,)), (SEQ, tuple(range(255))))
    aset = ((SegmentType.AS_SET, (3, 4)),)
    assert prepend_as(aset, 5) == ((SEQ, (5,)), (SegmentType.AS_SET, (3, 4)))


def test_rfc4456_8_loop_checks_on_receipt() -> None:
    c1 = mk(1, "client")
    assert import_check(c1, A, CONFIG) is None
    assert import_check(c1, A.replace(originator_id=RID), CONFIG) == "originator-id"
    assert import_check(c1, A.replace(cluster_list=(b"\x01" * 4, RID)), CONFIG) == "cluster-list"
    looped = A.replace(as_path=((SEQ, (65100, LOCAL_AS)),))
    assert import_check(mk(2, "ebgp"), looped, CONFIG) == "as-loop"


def test_redundant_reflectors_sharing_a_cluster_id() -> None:
    """Two RRs, one cluster id: each drops what the other reflected (RFC 4456 8)."""
    cluster = b"\x0c\x0c\x0c\x0c"
    rr1 = RibConfig(LOCAL_AS, b"\x01\x01\x01\x01", cluster)
    rr2 = RibConfig(LOCAL_AS, b"\x02\x02\x02\x02", cluster)
    rib1, rib2 = Rib(rr1), Rib(rr2)
    client_on_1, client_on_2 = mk(1, "client"), mk(1, "client")
    rr2_on_1 = PeerInfo("10.0.0.102", LOCAL_AS, rr2.router_id, LOCAL_AS, 2)
    rr1_on_2 = PeerInfo("10.0.0.101", LOCAL_AS, rr1.router_id, LOCAL_AS, 2)
    for rib, ps in ((rib1, (client_on_1, rr2_on_1)), (rib2, (client_on_2, rr1_on_2))):
        for p in ps:
            rib.add_peer(p)
    out1_to_rr2 = AdjRibOut(rr2_on_1, rr1)
    # the client announces to both reflectors
    d1 = rib1.announce(client_on_1, 1, 1, 0x0A000018, A)
    rib2.announce(client_on_2, 1, 1, 0x0A000018, A)
    sent = fan_out(d1, [out1_to_rr2])[rr2_on_1]
    assert sent.announce[0][4].cluster_list == (cluster,)
    # RR2 receives RR1's reflection and ignores it: its cluster id is in the list
    _, _, prefix, path_id, reflected = sent.announce[0]
    assert rib2.announce(rr1_on_2, 1, 1, prefix, reflected, path_id) == ()
    assert rib2.ecmp(1, 1, prefix)[0].peer is client_on_2
    assert rib2.adj_rib_in(rr1_on_2, 1, 1) == {(prefix, 0): reflected}
    assert rib2.adj_rib_in(rr1_on_2, 1, 1, post_policy=True) == {}
