"""rib.table and rib.adjout: diffs, UPDATE input, import policy, ADD-PATH send modes."""

from __future__ import annotations

from pybgp.codec.attributes import AttrSet, SegmentType
from pybgp.codec.errors import Action, BgpError, NotificationCode
from pybgp.codec.options import SessionOptions
from pybgp.codec.update import MpReach, MpUnreach, Update
from rib import AddPathSend, AdjRibOut, DecisionOptions, PeerInfo, Reason, Rib, RibConfig
from rib.adjout import ExportCache, fan_out, source_key
from rib.table import PATH_SHIFT

LOCAL_AS = 65000
SEQ = SegmentType.AS_SEQUENCE
P = (10 << 24 << 8) | 24  # 10.0.0.0/24
Q = (11 << 24 << 8) | 16


def mk(index: int, asn: int = LOCAL_AS, **kw: object) -> PeerInfo:
    return PeerInfo(
        f"10.0.0.{index}",
        asn,
        bytes((10, 0, 0, index)),
        LOCAL_AS,
        index,
        local_address=bytes((10, 0, 0, 254)),
        **kw,  # type: ignore[arg-type]
    )


def attrs(*path: int, **kw: object) -> AttrSet:
    return AttrSet(origin=0, as_path=((SEQ, path),), next_hop=b"\x01\x02\x03\x04", **kw)  # type: ignore[arg-type]


def rib_with(*peers: PeerInfo, **opts: object) -> Rib:
    rib = Rib(RibConfig(LOCAL_AS, b"\x09\x09\x09\x09", decision=DecisionOptions(**opts)))  # type: ignore[arg-type]
    for p in peers:
        rib.add_peer(p)
    return rib


E1, E2, E3 = mk(1, 65001), mk(2, 65002), mk(3, 65003)


def test_diff_carries_old_and_new_best_ecmp_and_reason() -> None:
    rib = rib_with(E1, E2, E3, maximum_paths=2, multipath_relax=True)
    (ch,) = rib.announce(E1, 1, 1, P, attrs(65001, 7))
    assert ch.old_best is None and ch.new_best is not None and ch.new_best.peer is E1
    assert ch.reason == Reason.ONLY_PATH and ch.best_changed
    (ch,) = rib.announce(E2, 1, 1, P, attrs(65002))  # shorter path
    assert ch.old_best is not None and ch.old_best.peer is E1
    assert ch.new_best is not None and ch.new_best.peer is E2
    assert ch.reason == Reason.AS_PATH and [r.peer for r in ch.new_ecmp] == [E2]
    (ch,) = rib.announce(E3, 1, 1, P, attrs(65003))  # equal length: ECMP with relax
    assert not ch.best_changed and ch.ecmp_changed
    assert [r.peer for r in ch.old_ecmp] == [E2]
    assert [r.peer for r in ch.new_ecmp] == [E2, E3] and ch.reason == Reason.ROUTER_ID
    assert rib.explain(1, 1, P).reason == Reason.ROUTER_ID
    # the same route again changes nothing
    assert rib.announce(E3, 1, 1, P, attrs(65003)) == ()
    (ch,) = rib.withdraw(E2, 1, 1, P)
    assert ch.new_best is not None and ch.new_best.peer is E3
    assert rib.withdraw(E2, 1, 1, P) == ()
    rib.withdraw(E3, 1, 1, P)
    (ch,) = rib.withdraw(E1, 1, 1, P)
    assert ch.new_best is None and ch.reason == Reason.NO_PATH and len(rib) == 0


def test_apply_update_classic_mp_and_treat_as_withdraw() -> None:
    rib = rib_with(E1)
    a = attrs(65001)
    v6 = (0x20010DB8 << 96 << 8) | 32
    diff = rib.apply_update(E1, Update(attrs=a, nlri=(P, Q), mp_reach=MpReach(2, 1, (v6,))))
    assert {(c.afi, c.prefix) for c in diff} == {(1, P), (1, Q), (2, v6)}
    diff = rib.apply_update(E1, Update(withdrawn=(Q,), mp_unreach=MpUnreach(2, 1, (v6,))))
    assert {(c.afi, c.prefix) for c in diff} == {(1, Q), (2, v6)}
    bad = BgpError("x", NotificationCode.UPDATE_MESSAGE_ERROR, 1, action=Action.TREAT_AS_WITHDRAW)
    (ch,) = rib.apply_update(E1, Update(attrs=a, nlri=(P,), errors=(bad,)))
    assert ch.new_best is None  # RFC 7606 2: treat-as-withdraw
    assert rib.adj_rib_in(E1, 1, 1) == {}


def test_add_path_receive_keys_routes_by_path_id() -> None:
    i1 = mk(11)
    rib = rib_with(i1)
    rib.apply_update(i1, Update(attrs=attrs(7), nlri=(P, P), nlri_ids=(1, 2)))
    assert [r.path_id for r in rib.selection(1, 1, P).ranked] == [1, 2]
    rib.apply_update(i1, Update(withdrawn=(P,), withdrawn_ids=(1,)))
    assert [r.path_id for r in rib.selection(1, 1, P).ranked] == [2]


def test_import_policy_pre_and_post_and_reimport() -> None:
    def no_med_7(peer: PeerInfo, afi: int, safi: int, prefix: int, a: AttrSet) -> AttrSet | None:
        if a.med == 7:
            return None
        return a.replace(local_pref=250) if prefix == Q else a

    rib = rib_with(E1)
    rib.import_policy = no_med_7
    rib.announce(E1, 1, 1, P, attrs(65001, med=7))
    rib.announce(E1, 1, 1, Q, attrs(65001))
    assert set(rib.adj_rib_in(E1, 1, 1)) == {(P, 0), (Q, 0)}
    post = rib.adj_rib_in(E1, 1, 1, post_policy=True)
    assert set(post) == {(Q, 0)} and post[Q, 0].local_pref == 250
    diff = rib.set_import_policy(None)  # soft reconfiguration inbound
    assert {c.prefix for c in diff} == {P, Q}
    assert rib.best(1, 1, P) is not None


def test_ebgp_local_pref_is_ignored_on_import() -> None:
    """RFC 4271 5.1.5: LOCAL_PREF received from an external peer is ignored."""
    rib = rib_with(E1)
    rib.announce(E1, 1, 1, P, attrs(65001, local_pref=1000))
    best = rib.best(1, 1, P)
    assert best is not None and best.attrs.local_pref is None


def test_peer_down_withdraws_everything() -> None:
    rib = rib_with(E1, E2)
    rib.announce(E1, 1, 1, P, attrs(65001))
    rib.announce(E1, 1, 1, Q, attrs(65001))
    rib.announce(E2, 1, 1, P, attrs(65002, 5))
    diff = rib.peer_down(E1)
    assert {c.prefix for c in diff} == {P, Q}
    best = rib.best(1, 1, P)
    assert best is not None and best.peer is E2 and rib.best(1, 1, Q) is None


# --- Adj-RIB-Out ------------------------------------------------------------------------
def test_adj_rib_out_best_only_and_no_duplicates() -> None:
    client = mk(20, rr_client=True)
    rib = rib_with(E1, E2, client)
    out = AdjRibOut(client, rib.config)
    u = out.apply(rib.announce(E1, 1, 1, P, attrs(65001, 9)))
    assert [(x[2], x[3]) for x in u.announce] == [(P, 0)] and not u.withdraw
    assert u.announce[0][4].local_pref == 100
    assert not out.apply(rib.announce(E2, 1, 1, P, attrs(65002, 9, 9)))  # not best
    u = out.apply(rib.withdraw(E1, 1, 1, P))  # best moves to E2: implicit replace
    assert [x[4].as_path for x in u.announce] == [((SEQ, (65002, 9, 9)),)]
    u = out.apply(rib.withdraw(E2, 1, 1, P))
    assert u.withdraw == ((1, 1, P, 0),) and len(out) == 0
    assert list(u.updates(SessionOptions())) == [Update(withdrawn=(P,))]


def test_adj_rib_out_withdraws_when_the_best_cannot_be_exported() -> None:
    """A non-client's route is best: a non-client gets a withdrawal, not the second best."""
    n1, n2, c = mk(21), mk(22), mk(23, rr_client=True)
    rib = rib_with(n1, n2, c)
    out = AdjRibOut(n2, rib.config)
    out.apply(rib.announce(c, 1, 1, P, attrs(7)))
    assert out.table(1, 1)[P, 0].cluster_list == (b"\x09\x09\x09\x09",)
    u = out.apply(rib.announce(n1, 1, 1, P, attrs(7, local_pref=200)))
    assert u.withdraw == ((1, 1, P, 0),) and not u.announce


def _addpath_setup(mode: AddPathSend, n: int = 2) -> tuple[Rib, AdjRibOut, list[PeerInfo]]:
    src = [mk(30 + i, 65001 + i) for i in range(4)]
    target = mk(40, rr_client=True, addpath_send=mode, addpath_n=n)
    rib = rib_with(*src, target, maximum_paths=2, multipath_relax=True)
    return rib, AdjRibOut(target, rib.config), src


def test_add_path_send_all_and_stable_path_ids() -> None:
    """RFC 7911: every path, each with a local path id that stays with its source."""
    rib, out, src = _addpath_setup(AddPathSend.ALL)
    u = out.apply(rib.announce(src[0], 1, 1, P, attrs(65001, 5)))
    assert [x[3] for x in u.announce] == [1]
    u = out.apply(rib.announce(src[1], 1, 1, P, attrs(65002)))  # better, new id 2
    assert [x[3] for x in u.announce] == [2]
    u = out.apply(rib.announce(src[2], 1, 1, P, attrs(65003, 5, 5)))
    assert [x[3] for x in u.announce] == [3]
    ids = out.path_ids(1, 1, P)
    assert ids == {source_key(r): i + 1 for i, r in enumerate(
        sorted(rib.selection(1, 1, P).ranked, key=lambda r: r.peer.index)
    )}  # fmt: skip
    u = out.apply(rib.withdraw(src[0], 1, 1, P))
    assert u.withdraw == ((1, 1, P, 1),) and not u.announce  # names its own id
    u = out.apply(rib.announce(src[3], 1, 1, P, attrs(65004, 1, 1, 1)))
    assert [x[3] for x in u.announce] == [1]  # the lowest free id
    assert sorted(out.table(1, 1)) == [(P, 1), (P, 2), (P, 3)]
    u = out.apply(rib.announce(src[1], 1, 1, P, attrs(65002, med=3)))  # new attrs, same id
    assert [x[3] for x in u.announce] == [2] and not u.withdraw
    ups = list(u.updates(SessionOptions(addpath_tx=frozenset({(1, 1)}))))
    assert ups[0].nlri_ids == (2,)


def test_add_path_send_best_n() -> None:
    rib, out, src = _addpath_setup(AddPathSend.BEST_N, n=2)
    for i, p in enumerate(src):
        out.apply(rib.announce(p, 1, 1, P, attrs(65001 + i, *([9] * i))))
    assert len(out.table(1, 1)) == 2
    assert {a.as_path for a in out.table(1, 1).values()} == {
        ((SEQ, (65001,)),),
        ((SEQ, (65002, 9)),),
    }
    u = out.apply(rib.withdraw(src[0], 1, 1, P))  # the third moves up
    assert len(u.withdraw) == 1 and len(u.announce) == 1
    assert u.announce[0][3] != out.path_ids(1, 1, P)[source_key(rib.ecmp(1, 1, P)[0])]


def test_add_path_send_ecmp() -> None:
    rib, out, src = _addpath_setup(AddPathSend.ECMP)
    out.apply(rib.announce(src[0], 1, 1, P, attrs(65001, 5)))
    out.apply(rib.announce(src[1], 1, 1, P, attrs(65002, 5)))
    u = out.apply(rib.announce(src[2], 1, 1, P, attrs(65003, 5, 5)))
    assert not u  # not in the multipath set
    assert len(out.table(1, 1)) == 2
    u = out.apply(rib.announce(src[3], 1, 1, P, attrs(65004)))  # a new best alone
    assert len(u.withdraw) == 2 and len(u.announce) == 1 and len(out.table(1, 1)) == 1


def test_fan_out_and_shared_export_cache() -> None:
    c1, c2, n1 = mk(50, rr_client=True), mk(51, rr_client=True), mk(52)
    rib = rib_with(E1, c1, c2, n1)
    cache = ExportCache(rib.config)
    outs = [AdjRibOut(p, rib.config, cache) for p in (E1, c1, c2, n1)]
    result = fan_out(rib.announce(c1, 1, 1, P, attrs(7)), outs)
    assert set(result) == {E1, c2, n1}  # not back to c1
    assert result[c2].announce[0][4] is result[n1].announce[0][4]  # one shared set


def test_export_policy_hook() -> None:
    def only_q(peer: PeerInfo, afi: int, safi: int, prefix: int, a: AttrSet) -> AttrSet | None:
        return a if prefix == Q else None

    rib = rib_with(E1, E2)
    out = AdjRibOut(E2, rib.config, export_policy=only_q)
    rib.announce(E1, 1, 1, P, attrs(65001))
    u = out.apply(rib.announce(E1, 1, 1, Q, attrs(65001)))
    assert [x[2] for x in u.announce] == [Q]
    assert out.apply(rib.dump(1, 1)).announce == ()  # P stays filtered


def test_dump_fills_a_new_adj_rib_out() -> None:
    rib = rib_with(E1, E2)
    rib.announce(E1, 1, 1, P, attrs(65001))
    rib.announce(E1, 1, 1, Q, attrs(65001))
    out = AdjRibOut(E2, rib.config)
    u = out.apply(rib.dump(1, 1))
    assert sorted(x[2] for x in u.announce) == sorted([P, Q])
    assert u.announce[0][4].as_path == ((SEQ, (LOCAL_AS, 65001)),)


def test_updates_kept_for_flush_give_one_change_per_prefix() -> None:
    """apply_update(flush=False): several UPDATEs, one change per prefix, first old to
    last new; a prefix announced then withdrawn in one batch is no change at all."""
    rib = rib_with(E1, E2)
    a, b = attrs(65001), attrs(65001, 5)
    assert rib.apply_update(E1, Update(attrs=a, nlri=(P,)), flush=False) == ()
    assert rib.apply_update(E1, Update(attrs=b, nlri=(P, Q)), flush=False) == ()
    assert rib.apply_update(E1, Update(withdrawn=(Q,)), flush=False) == ()
    (ch,) = rib.flush()
    assert ch.prefix == P and ch.old_best is None
    assert ch.new_best is not None and ch.new_best.attrs is b
    assert rib.flush() == ()


def test_received_routes_and_lone_routes_stored_compactly() -> None:
    """Rib.received is the Adj-RIB-In as stored; a lone route whose attributes import
    left alone is kept in the Loc-RIB as its peer and read back whole."""
    rib = rib_with(E1, E2)
    a = attrs(65001)
    rib.announce(E1, 1, 1, P, a)
    rib.announce(E1, 1, 1, Q, a, path_id=7)
    table = rib.received(E1)[1, 1]
    assert table == {P: a, Q | (7 << PATH_SHIFT): a}
    assert rib.received_count(E1) == 2 and rib.received(mk(9)) == {}
    assert rib._loc[1, 1][P] is E1  # compact: the peer alone
    best = rib.best(1, 1, P)
    assert best is not None and best.peer is E1 and best.path_id == 0 and best.attrs is a
    assert rib.best(1, 1, Q) == (E1, 7, a)  # a path id: the route itself
    # LOCAL_PREF from an eBGP peer is stripped on import: not the received set
    lp = attrs(65002, local_pref=50)
    rib.announce(E2, 1, 1, (12 << 32) | 24, lp)
    stored = rib._loc[1, 1][(12 << 32) | 24]
    assert stored is not E2 and stored.attrs.local_pref is None  # type: ignore[union-attr]
