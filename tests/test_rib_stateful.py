"""Model-based test: random announces/withdraws against an obviously-correct reference.

The reference recomputes everything from the final set of received routes, in the
plainest way: the decision by FRR-style deterministic MED (group by neighbour AS,
each group's best by one sort key, then the winners by a key without MED), the
multipath set straight from its definition, the RFC 4456 8 export rule as a table.
It shares only the attribute rewrite (``export_attrs``, unit-tested on its own).
Every Adj-RIB-Out is also checked against what its peer would hold after applying,
in order, every announcement and withdrawal it was sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pybgp.codec.attributes import AttrSet, SegmentType, as_path_length
from rib import AddPathSend, AdjRibOut, DecisionOptions, PeerInfo, Rib, RibConfig
from rib.adjout import ExportCache, OutUpdate, UpdateGroup
from rib.decision import Route
from rib.reflect import export_attrs
from rib.table import RibDiff

LOCAL_AS = 65000
RID = b"\x09\x09\x09\x09"
SEQ, SET = SegmentType.AS_SEQUENCE, SegmentType.AS_SET


def mk(index: int, asn: int, bgp_id: int, **kw: Any) -> PeerInfo:
    return PeerInfo(
        f"10.0.{index}.1", asn, bytes((1, 0, 0, bgp_id)), LOCAL_AS, index,
        local_address=bytes((10, 9, 9, index)), **kw,
    )  # fmt: skip


PEERS = [
    mk(1, 65001, 7),
    mk(2, 65002, 7, addpath_send=AddPathSend.BEST_N, addpath_n=2),
    mk(3, LOCAL_AS, 3, rr_client=True, igp_cost=10),
    mk(4, LOCAL_AS, 4, rr_client=True, addpath_send=AddPathSend.ALL),
    mk(5, LOCAL_AS, 1, addpath_send=AddPathSend.ECMP, next_hop_self=True),
    mk(6, LOCAL_AS, 2, igp_cost=10),
    mk(7, LOCAL_AS, 5, rr_client=True),  # an update group with 3 (same export profile)
    mk(8, LOCAL_AS, 6, rr_client=True),
]
GROUPED = [PEERS[2], PEERS[6], PEERS[7]]
PREFIXES = [(10 << 32) | 24, (11 << 32) | 24, (12 << 32) | 16]


def policy(peer: PeerInfo, afi: int, safi: int, prefix: int, a: AttrSet) -> AttrSet | None:
    if a.med == 7:
        return None
    return a.replace(local_pref=300) if 1 in a.communities else a


attrs_st = st.builds(
    lambda first, tail, aset, origin, med, lp, comm, oid, cl: AttrSet(
        origin=origin,
        as_path=((SEQ, (first, *tail)),) + (((SET, (5, 6)),) if aset else ()) if first else (),
        next_hop=b"\x0a\x00\x00\x01",
        med=med,
        local_pref=lp,
        communities=comm,
        originator_id=oid,
        cluster_list=cl,
    ),
    st.sampled_from([0, 100, 200, LOCAL_AS]),
    st.lists(st.sampled_from([1, 2]), max_size=2).map(tuple),
    st.booleans(),
    st.integers(0, 2),
    st.sampled_from([None, 0, 5, 7, 10]),
    st.sampled_from([None, 100, 200]),
    st.sampled_from([(), (1,)]),
    st.sampled_from([None, b"\x01\x00\x00\x03", RID]),
    st.sampled_from([(), (b"\x05\x05\x05\x05",), (RID,)]),
)


# --- the reference ------------------------------------------------------------------
def ref_import(peer: PeerInfo, a: AttrSet) -> AttrSet | None:
    if any(t in (SEQ, SET) and LOCAL_AS in asns for t, asns in a.as_path or ()):
        return None
    if a.originator_id == RID or RID in a.cluster_list:
        return None
    if not peer.ibgp:
        a = a.replace(local_pref=None)
    return policy(peer, 1, 1, 0, a)


def lp(r: Route) -> int:
    return 100 if r.attrs.local_pref is None else r.attrs.local_pref


def nbr_as(r: Route) -> int:
    path = r.attrs.as_path or ()
    if not path:
        return LOCAL_AS
    return path[0][1][0] if path[0][0] == SEQ else 0


def head(r: Route) -> tuple[int, int, int]:
    return (-lp(r), as_path_length(r.attrs.as_path), r.attrs.origin or 0)


def tail(r: Route) -> tuple[Any, ...]:
    return (
        0 if not r.peer.ibgp else 1,
        r.peer.igp_cost,
        r.attrs.originator_id or r.peer.bgp_id,
        len(r.attrs.cluster_list),
        r.peer.address_key,
        r.path_id,
        r.peer.index,
    )


def med(r: Route) -> int:
    return r.attrs.med or 0


def ref_best(routes: list[Route], o: DecisionOptions) -> Route:
    if o.always_compare_med:
        return min(routes, key=lambda r: (*head(r), med(r), *tail(r)))
    groups: dict[int, list[Route]] = defaultdict(list)
    for r in routes:
        groups[nbr_as(r)].append(r)
    winners = [min(g, key=lambda r: (*head(r), med(r), *tail(r))) for g in groups.values()]
    return min(winners, key=lambda r: (*head(r), *tail(r)))


def ref_select(routes: list[Route], o: DecisionOptions) -> tuple[list[Route], int]:
    if not routes:
        return [], 0
    best = ref_best(routes, o)
    top = min(head(r) for r in routes)

    def beaten_on_med(r: Route) -> bool:
        return any(
            head(q) == top
            and (o.always_compare_med or nbr_as(q) == nbr_as(r))
            and (q.attrs.med or 0) < (r.attrs.med or 0)
            for q in routes
        )

    equal = [
        r
        for r in routes
        if r is not best
        and head(r) == head(best)
        and tail(r)[:2] == tail(best)[:2]
        and not beaten_on_med(r)
        and (o.multipath_relax or r.attrs.as_path == best.attrs.as_path)
    ]
    ecmp = [best, *sorted(equal, key=lambda r: tail(r)[2:])[: o.maximum_paths - 1]]
    rest = [r for r in routes if r not in ecmp]
    ranked = list(ecmp)
    while rest:
        b = ref_best(rest, o)
        ranked.append(b)
        rest.remove(b)
    return ranked, len(ecmp)


def kind(p: PeerInfo) -> str:
    return "ebgp" if not p.ibgp else "client" if p.rr_client else "nonclient"


EXPORT = {  # (source, target) -> exported; RFC 4456 8 and RFC 4271 9.1.3
    ("ebgp", "ebgp"): True, ("ebgp", "client"): True, ("ebgp", "nonclient"): True,
    ("client", "ebgp"): True, ("client", "client"): True, ("client", "nonclient"): True,
    ("nonclient", "ebgp"): True, ("nonclient", "client"): True,
    ("nonclient", "nonclient"): False,
}  # fmt: skip


def ref_exported(r: Route, target: PeerInfo) -> bool:
    if r.peer is target or (
        r.peer.rr_client and target.ibgp
        and target.bgp_id == (r.attrs.originator_id or r.peer.bgp_id)
    ):  # fmt: skip
        return False
    return EXPORT[kind(r.peer), kind(target)]


# --- the machine --------------------------------------------------------------------
class RibMachine(RuleBasedStateMachine):
    options = DecisionOptions(maximum_paths=2, multipath_relax=True)

    def __init__(self) -> None:
        super().__init__()
        self.config = RibConfig(LOCAL_AS, RID, decision=self.options)
        self.rib = Rib(self.config, import_policy=policy)
        cache = ExportCache(self.config)
        self.outs = [AdjRibOut(p, self.config, cache) for p in PEERS]
        for p in PEERS:
            self.rib.add_peer(p)
        # the grouped peers' Adj-RIB-Out, shared: must send each member what its own sends
        self.group = UpdateGroup(GROUPED[0], self.config, cache, self.rib)
        for p in GROUPED:
            assert not self.group.join(p)
        self.received: dict[tuple[int, int, int], AttrSet] = {}  # (peer, prefix, id)
        self.wire: dict[int, dict[tuple[int, int], AttrSet]] = {p.index: {} for p in PEERS}
        self.ids: dict[int, dict[tuple[int, int], int]] = {p.index: {} for p in PEERS}

    def _push(self, diff: RibDiff) -> None:
        grouped = self.group.apply(diff)
        for out in self.outs:
            own = out.apply(diff)
            self._receive(out.peer, own)
            if out.peer in self.group.members:
                assert grouped.get(out.peer, OutUpdate()) == own
                assert self.group.table(out.peer, 1, 1) == out.table(1, 1)
                assert self.group.size(out.peer) == len(out)

    @rule(p=st.sampled_from(GROUPED))
    def rejoin_group(self, p: PeerInfo) -> None:
        """A member's session ends and comes back: it is sent the group's table as it
        sees it, which is what its own Adj-RIB-Out holds."""
        self.group.leave(p)
        sent = self.group.join(p)
        own = self.outs[p.index - 1].table(1, 1)
        assert {(prefix, pid): a for _, _, prefix, pid, a in sent.announce} == own
        assert self.group.size(p) == len(own)

    def _receive(self, peer: PeerInfo, u: OutUpdate) -> None:
        view = self.wire[peer.index]
        for afi, safi, prefix, pid in u.withdraw:
            assert (afi, safi) == (1, 1)
            assert view.pop((prefix, pid), None) is not None, "withdrew what was not sent"
        for _afi, _safi, prefix, pid, a in u.announce:
            view[prefix, pid] = a

    @rule(
        p=st.sampled_from(PEERS),
        prefix=st.sampled_from(PREFIXES),
        path_id=st.sampled_from([0, 0, 1]),
        a=attrs_st,
    )
    def announce(self, p: PeerInfo, prefix: int, path_id: int, a: AttrSet) -> None:
        self.received[p.index, prefix, path_id] = a
        self._push(self.rib.announce(p, 1, 1, prefix, a, path_id))

    @rule(
        p=st.sampled_from(PEERS), prefix=st.sampled_from(PREFIXES), path_id=st.sampled_from([0, 1])
    )
    def withdraw(self, p: PeerInfo, prefix: int, path_id: int) -> None:
        self.received.pop((p.index, prefix, path_id), None)
        self._push(self.rib.withdraw(p, 1, 1, prefix, path_id))

    @rule(
        p=st.sampled_from(PEERS), prefix=st.sampled_from(PREFIXES), path_id=st.sampled_from([0, 1])
    )
    def announce_equal_copy(self, p: PeerInfo, prefix: int, path_id: int) -> None:
        """The same attributes again as another (equal) object: the Loc-RIB may hold
        a lone route as its peer only, reading the set from the Adj-RIB-In."""
        a = self.received.get((p.index, prefix, path_id))
        if a is not None:
            copy = a.replace()
            self.received[p.index, prefix, path_id] = copy
            self._push(self.rib.announce(p, 1, 1, prefix, copy, path_id))

    @rule()
    def reimport(self) -> None:
        self._push(self.rib.reimport())

    @rule(p=st.sampled_from(PEERS))
    def peer_down(self, p: PeerInfo) -> None:
        self.received = {k: v for k, v in self.received.items() if k[0] != p.index}
        self._push(self.rib.peer_down(p))

    @invariant()
    def loc_rib_matches_the_reference(self) -> None:
        by_prefix: dict[int, list[Route]] = defaultdict(list)
        for (index, prefix, path_id), a in self.received.items():
            peer = PEERS[index - 1]
            post = ref_import(peer, a)
            if post is not None:
                by_prefix[prefix].append(Route(peer, path_id, post))
        for prefix in PREFIXES:
            ranked, n = ref_select(by_prefix[prefix], self.options)
            sel = self.rib.selection(1, 1, prefix)
            assert list(sel.ranked) == ranked
            assert sel.n_ecmp == n
            for target in PEERS:
                self._check_out(target, prefix, ranked, n)

    def _check_out(self, target: PeerInfo, prefix: int, ranked: list[Route], n: int) -> None:
        mode = target.addpath_send
        chosen = {
            AddPathSend.OFF: ranked[:1],
            AddPathSend.ALL: ranked,
            AddPathSend.BEST_N: ranked[: target.addpath_n],
            AddPathSend.ECMP: ranked[:n],
        }[mode]
        want = Counter(
            export_attrs(r, target, 1, self.config) for r in chosen if ref_exported(r, target)
        )
        out = self.outs[target.index - 1]
        table = {k: a for k, a in out.table(1, 1).items() if k[0] == prefix}
        assert Counter(table.values()) == want
        wire = {k: a for k, a in self.wire[target.index].items() if k[0] == prefix}
        assert wire == table  # the updates sent add up to the Adj-RIB-Out
        if mode != AddPathSend.OFF:  # a path keeps its id while it is advertised
            ids = out.path_ids(1, 1, prefix)
            for src, pid in ids.items():
                old = self.ids[target.index].get((prefix, src))
                assert old is None or old == pid
            self.ids[target.index] = {
                k: v for k, v in self.ids[target.index].items() if k[0] != prefix
            } | {(prefix, src): pid for src, pid in ids.items()}


class RibMachineAlwaysCompareMed(RibMachine):
    options = DecisionOptions(always_compare_med=True, maximum_paths=3)


class RibMachineNoMultipath(RibMachine):
    options = DecisionOptions()


for _machine in (RibMachine, RibMachineAlwaysCompareMed, RibMachineNoMultipath):
    _machine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)

TestRib = RibMachine.TestCase
TestRibAlwaysCompareMed = RibMachineAlwaysCompareMed.TestCase
TestRibNoMultipath = RibMachineNoMultipath.TestCase
