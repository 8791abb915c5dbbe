"""rib.decision: one test per step of RFC 4271 9.1 (and RFC 4456 9), multipath, order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.codec.attributes import AttrSet, SegmentType
from rib.decision import (
    STEPS,
    DecisionOptions,
    Reason,
    Route,
    explain,
    multipath_equal,
    neighbor_as,
    prefer,
    select,
)
from rib.peer import PeerInfo

LOCAL_AS = 65000
SEQ, SET = SegmentType.AS_SEQUENCE, SegmentType.AS_SET
CONFED_SEQ = SegmentType.AS_CONFED_SEQUENCE
OPTS = DecisionOptions()


def peer(
    index: int, asn: int = 65001, bgp_id: int | None = None, cost: int = 0, addr: str = ""
) -> PeerInfo:
    return PeerInfo(
        address=addr or f"10.0.0.{index}",
        asn=asn,
        bgp_id=bytes((1, 1, 1, bgp_id if bgp_id is not None else index)),
        local_as=LOCAL_AS,
        index=index,
        igp_cost=cost,
    )


def attrs(*path: int, **kw: object) -> AttrSet:
    kw.setdefault("origin", 0)
    return AttrSet(as_path=((SEQ, path),) if path else (), **kw)  # type: ignore[arg-type]


def r(p: PeerInfo, a: AttrSet, path_id: int = 0) -> Route:
    return Route(p, path_id, a)


P1, P2, P3 = peer(1), peer(2, asn=65002), peer(3, asn=65003)
I1, I2 = peer(11, asn=LOCAL_AS), peer(12, asn=LOCAL_AS)


def test_steps_are_in_rfc_order_and_cite_their_clause() -> None:
    reasons = [s.reason for s in STEPS]
    assert reasons == sorted(reasons)
    assert [s.clause.split(";")[0] for s in STEPS[:9]] == [
        "RFC 4271 9.1.1",
        "RFC 4271 9.1.2.2 a",
        "RFC 4271 9.1.2.2 b",
        "RFC 4271 9.1.2.2 c",
        "RFC 4271 9.1.2.2 d",
        "RFC 4271 9.1.2.2 e",
        "RFC 4271 9.1.2.2 f",
        "RFC 4456 9",
        "RFC 4271 9.1.2.2 g",
    ]
    # ECMP = equal on every step before the router-id step
    assert [s.multipath for s in STEPS] == [True] * 6 + [False] * 5


def test_rfc4271_9_1_1_highest_local_pref() -> None:
    """RFC 4271 9.1.1: the highest degree of preference wins, before AS_PATH length."""
    a, b = r(I1, attrs(1, 2, 3, local_pref=200)), r(I2, attrs(1, local_pref=100))
    assert prefer(a, b, OPTS) == (a, Reason.LOCAL_PREF)
    assert prefer(b, a, OPTS) == (a, Reason.LOCAL_PREF)


def test_rfc4271_9_1_1_missing_local_pref_is_the_default() -> None:
    """RFC 4271 9.1.1: a route without LOCAL_PREF gets the configured default (100)."""
    a, b = r(P1, attrs(1)), r(I1, attrs(1, local_pref=99))
    assert prefer(a, b, OPTS) == (a, Reason.LOCAL_PREF)
    assert prefer(a, b, DecisionOptions(default_local_pref=50)) == (b, Reason.LOCAL_PREF)


def test_rfc4271_9_1_2_2_a_shortest_as_path() -> None:
    """RFC 4271 9.1.2.2 a: fewest ASes; an AS_SET counts 1, confed segments count 0."""
    a = r(P1, AttrSet(origin=0, as_path=((SEQ, (1, 2)), (SET, (7, 8, 9)))))  # 3
    b = r(P2, AttrSet(origin=0, as_path=((CONFED_SEQ, (5, 6, 7)), (SEQ, (1, 2, 3, 4)))))  # 4
    assert prefer(a, b, OPTS) == (a, Reason.AS_PATH)


def test_rfc4271_9_1_2_2_b_lowest_origin() -> None:
    """RFC 4271 9.1.2.2 b: IGP < EGP < INCOMPLETE."""
    a, b = r(P1, attrs(1, origin=1)), r(P2, attrs(2, origin=2))
    assert prefer(a, b, OPTS) == (a, Reason.ORIGIN)


def test_rfc4271_9_1_2_2_c_med_same_neighbor_as_only() -> None:
    """RFC 4271 9.1.2.2 c: MED compared only between routes from the same neighbour AS."""
    a, b = r(P1, attrs(5, 9, med=10)), r(P2, attrs(5, 8, med=20))
    assert prefer(a, b, OPTS) == (a, Reason.MED)
    assert prefer(b, a, OPTS) == (a, Reason.MED)
    # different neighbour AS: MED is skipped, the decision falls through to router id
    c = r(P2, attrs(6, 8, med=1))
    assert prefer(a, c, OPTS) == (a, Reason.ROUTER_ID)
    assert prefer(a, c, DecisionOptions(always_compare_med=True)) == (c, Reason.MED)


def test_rfc4271_9_1_2_2_c_missing_med_is_lowest() -> None:
    """RFC 4271 9.1.2.2 c: a route without MULTI_EXIT_DISC counts as MED 0."""
    a, b = r(P2, attrs(5, med=1)), r(P3, attrs(5))
    assert prefer(a, b, OPTS) == (b, Reason.MED)


def test_rfc4271_9_1_2_2_c_neighbor_as() -> None:
    """RFC 4271 9.1.2.2 c neighborAS: first AS of the path, confed skipped, ours if empty."""
    assert neighbor_as(r(P1, attrs(7, 8))) == 7
    confed = AttrSet(as_path=((CONFED_SEQ, (1,)), (SEQ, (9,))))
    assert neighbor_as(r(P1, confed)) == 9
    assert neighbor_as(r(I1, attrs())) == LOCAL_AS


def test_rfc4271_9_1_2_2_d_ebgp_over_ibgp() -> None:
    """RFC 4271 9.1.2.2 d: a route learned over eBGP beats one learned over iBGP."""
    a, b = r(I1, attrs(5, local_pref=100)), r(P1, attrs(6))
    assert prefer(a, b, OPTS) == (b, Reason.EBGP_OVER_IBGP)


def test_rfc4271_9_1_2_2_e_lowest_igp_cost() -> None:
    """RFC 4271 9.1.2.2 e: lowest interior cost to the next hop."""
    near, far = peer(21, asn=LOCAL_AS, cost=5), peer(22, asn=LOCAL_AS, cost=10)
    a, b = r(far, attrs(5)), r(near, attrs(6))
    assert prefer(a, b, OPTS) == (b, Reason.IGP_COST)


def test_rfc4271_9_1_2_2_f_lowest_bgp_identifier() -> None:
    """RFC 4271 9.1.2.2 f: lowest BGP Identifier."""
    a, b = r(peer(31, bgp_id=9), attrs(5)), r(peer(32, bgp_id=3), attrs(6))
    assert prefer(a, b, OPTS) == (b, Reason.ROUTER_ID)


def test_rfc4456_9_originator_id_stands_in_for_the_bgp_identifier() -> None:
    """RFC 4456 9: ORIGINATOR_ID is used as the BGP Identifier of a reflected route."""
    a = r(peer(41, asn=LOCAL_AS, bgp_id=1), attrs(5, originator_id=b"\x09\x00\x00\x00"))
    b = r(peer(42, asn=LOCAL_AS, bgp_id=2), attrs(6))
    assert prefer(a, b, OPTS) == (b, Reason.ROUTER_ID)


def test_rfc4456_9_shortest_cluster_list() -> None:
    """RFC 4456 9: with equal router ids, the shorter CLUSTER_LIST wins."""
    oid = b"\x05\x05\x05\x05"
    a = r(I1, attrs(5, originator_id=oid, cluster_list=(b"a" * 4, b"b" * 4)))
    b = r(I2, attrs(5, originator_id=oid, cluster_list=(b"c" * 4,)))
    assert prefer(a, b, OPTS) == (b, Reason.CLUSTER_LIST)


def test_rfc4271_9_1_2_2_g_lowest_peer_address() -> None:
    """RFC 4271 9.1.2.2 g: lowest peer address (numerically, not as text)."""
    a = r(peer(51, bgp_id=7, addr="10.0.0.10"), attrs(5))
    b = r(peer(52, bgp_id=7, addr="10.0.0.9"), attrs(6))
    assert prefer(a, b, OPTS) == (b, Reason.PEER_ADDRESS)


def test_local_tiebreak_path_id_for_add_path_routes_from_one_peer() -> None:
    """Beyond the RFC: two ADD-PATH paths from one peer are ordered by path id."""
    a, b = r(P1, attrs(5), path_id=7), r(P1, attrs(6), path_id=3)
    assert prefer(a, b, OPTS) == (b, Reason.PATH_ID)


def test_only_path_and_no_path() -> None:
    a = r(P1, attrs(5))
    assert select([a], OPTS) == ((a,), 1, Reason.ONLY_PATH)
    assert select([], OPTS) == ((), 0, Reason.NO_PATH)


def test_explain_names_the_deciding_step_and_the_survivors() -> None:
    a, b, c = r(P1, attrs(5, 1)), r(P2, attrs(6)), r(P3, attrs(7, origin=2))
    e = explain([a, b, c], OPTS)
    assert e.reason == Reason.ORIGIN and e.best == b
    assert [(s.reason, set(left)) for s, left in e.steps] == [
        (Reason.LOCAL_PREF, {a, b, c}),
        (Reason.AS_PATH, {b, c}),
        (Reason.ORIGIN, {b}),
    ]
    assert "RFC 4271 9.1.2.2 b" in e.describe()


# --- multipath ------------------------------------------------------------------------
MP = DecisionOptions(maximum_paths=4)
MP_RELAX = DecisionOptions(maximum_paths=4, multipath_relax=True)


def test_multipath_needs_identical_as_path_unless_relaxed() -> None:
    a, b = r(P1, attrs(5, 1)), r(P2, attrs(5, 1))
    c = r(P3, attrs(7, 1))  # same length, other neighbour AS
    s = select([a, b, c], MP)
    assert s.ranked[: s.n_ecmp] == (a, b) and s.reason == Reason.ROUTER_ID
    s = select([a, b, c], MP_RELAX)
    assert s.ranked[: s.n_ecmp] == (a, b, c)
    assert not multipath_equal(a, c, MP) and multipath_equal(a, c, MP_RELAX)
    assert select([a, b, c], OPTS).n_ecmp == 1  # maximum_paths 1: no multipath


def test_multipath_stops_before_the_router_id_step() -> None:
    """Paths differing only at f/g are equal for ECMP; a worse IGP cost is not."""
    far = peer(61, asn=65001, cost=10)
    a, b, c = r(P1, attrs(5)), r(peer(62, asn=65001), attrs(5)), r(far, attrs(5))
    s = select([c, b, a], MP)
    assert s.ranked == (a, b, c) and s.n_ecmp == 2
    assert multipath_equal(a, b, MP) and not multipath_equal(a, c, MP)


def test_multipath_maximum_paths_keeps_the_best_ranked() -> None:
    ps = [peer(70 + i, asn=65001) for i in range(6)]
    routes = [r(p, attrs(5)) for p in ps]
    s = select(list(reversed(routes)), DecisionOptions(maximum_paths=3))
    assert s.n_ecmp == 3 and s.ranked[:3] == tuple(routes[:3])
    assert s.ranked == tuple(routes)  # the rest ranked after


def test_ranking_puts_the_ecmp_set_first() -> None:
    """Even when MED makes a non-ECMP route rank between ECMP members."""
    x = r(peer(81, asn=LOCAL_AS, bgp_id=1), attrs(100, med=5))
    y = r(peer(82, asn=65001, bgp_id=2), attrs(100, med=10))  # eBGP, MED-beaten by x
    z = r(peer(83, asn=LOCAL_AS, bgp_id=3), attrs(200, med=0))
    s = select([x, y, z], DecisionOptions(maximum_paths=4, multipath_relax=True))
    assert s.ranked[: s.n_ecmp] == (x, z)
    assert s.ranked[2] == y


# --- order independence -----------------------------------------------------------------
PEERS = [peer(90 + i, asn=a, bgp_id=b, cost=c) for i, (a, b, c) in enumerate(
    [(65001, 5, 0), (65001, 4, 0), (65002, 3, 0), (LOCAL_AS, 2, 0), (LOCAL_AS, 1, 3), (65003, 5, 0)]
)]  # fmt: skip

route_st = st.builds(
    lambda i, first, n, med, origin, lp, path_id: Route(
        PEERS[i],
        path_id,
        AttrSet(
            origin=origin,
            as_path=((SEQ, (first,) + (9,) * n),),
            med=med,
            local_pref=lp,
        ),
    ),
    st.integers(0, len(PEERS) - 1),
    st.sampled_from([100, 200, 300]),
    st.integers(0, 2),
    st.sampled_from([None, 0, 5, 10]),
    st.integers(0, 1),
    st.sampled_from([None, 100]),
    st.integers(0, 3),
)


def _unique(routes: list[Route]) -> list[Route]:
    seen: dict[tuple[int, int], Route] = {}
    for x in routes:
        seen.setdefault((x.peer.index, x.path_id), x)
    return list(seen.values())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(route_st, min_size=1, max_size=8).map(_unique),
    st.randoms(use_true_random=False),
    st.sampled_from([OPTS, MP, MP_RELAX, DecisionOptions(always_compare_med=True)]),
)
def test_result_does_not_depend_on_arrival_order(
    routes: list[Route], rnd: object, options: DecisionOptions
) -> None:
    """Permutations give the same best, ECMP set, ranking and reason (MED included)."""
    base = select(routes, options)
    shuffled = list(routes)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert select(shuffled, options) == base
    assert select(list(reversed(routes)), options) == base


def test_med_intransitive_triangle_is_order_independent() -> None:
    """The classic MED cycle: pairwise a>b (MED), b>c and c>a (router id)."""
    a = r(peer(101, asn=LOCAL_AS, bgp_id=3), attrs(1, med=0))
    b = r(peer(102, asn=LOCAL_AS, bgp_id=1), attrs(1, med=10))
    c = r(peer(103, asn=LOCAL_AS, bgp_id=2), attrs(2, med=5))
    assert prefer(a, b, OPTS)[0] == a
    assert prefer(b, c, OPTS)[0] == b
    assert prefer(c, a, OPTS)[0] == c
    # deterministic MED: AS 1's winner is a, then a vs c by router id: c
    for order in ([a, b, c], [b, c, a], [c, a, b], [c, b, a], [a, c, b], [b, a, c]):
        assert select(order, OPTS).ranked[0] == c
