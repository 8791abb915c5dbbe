"""Adj-RIB-Out (RFC 4271 3.2): what each peer has been sent, driven by RIB diffs alone.

How this works: an :class:`AdjRibOut` belongs to one peer.  ``apply(diff)`` takes the
:class:`~rib.table.PrefixChange` values the :class:`~rib.table.Rib` returned, works
out for each prefix what the peer should now have, compares that with what it was
sent, and returns an :class:`OutUpdate`: announcements ``(afi, safi, prefix, path_id,
attrs)`` and withdrawals ``(afi, safi, prefix, path_id)``, ready for
``pybgp.codec.pack``.  Nothing is sent twice: an unchanged attribute set (the same
interned object) produces no output.

What a peer should have per prefix depends on its ADD-PATH send mode (RFC 7911):
``OFF`` the best route only (path id 0; if the export rule refuses the best, the
prefix is withdrawn, never replaced by the second best); ``ALL`` every path;
``BEST_N`` the first N in decision order; ``ECMP`` the multipath set.  Each chosen
path passes :func:`rib.reflect.may_export`, then :func:`rib.reflect.export_attrs`
(memoised in an :class:`ExportCache` shared by all peers, so peers with the same
export profile share the output sets), then the optional export policy hook.

ADD-PATH path ids are local to the Adj-RIB-Out and stable: a path keeps the id it
was first announced with for as long as the peer has it, keyed by its source
``(peer index, received path id)``.  A new path takes the lowest id that is neither
in use nor freed by the same change, so a withdrawal always names its own id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

from pybgp.codec.attributes import AttrSet
from pybgp.codec.options import SessionOptions
from pybgp.codec.pack import Route as PackRoute
from pybgp.codec.pack import pack_announcements, pack_withdrawals
from pybgp.codec.update import Update

from .config import RibConfig
from .decision import Route
from .peer import AddPathSend, PeerInfo
from .reflect import export_attrs, may_export
from .table import Family, PrefixChange, Rib, RibDiff

__all__ = [
    "AdjRibOut",
    "GroupMember",
    "UpdateGroup",
    "group_key",
    "ExportCache",
    "ExportPolicy",
    "OutUpdate",
    "Withdrawal",
    "fan_out",
    "source_key",
]

ExportPolicy = Callable[[PeerInfo, int, int, int, AttrSet], AttrSet | None]
"""``(target peer, afi, safi, prefix, attrs) -> attrs or None (do not send)``."""
Withdrawal = tuple[int, int, int, int]
"""(AFI, SAFI, prefix, path id)."""
OutPath = tuple[int, int, AttrSet]
"""(source key, local path id, attrs) as sent with ADD-PATH."""

CACHE_LIMIT = 1 << 13
"""Exported sets memoised before the memo starts again: an UPDATE's prefixes come
together, so a recent window is enough.  Update groups store no table, so the memo is
all that keeps exported sets alive: at 1 << 16 it held all 57,643 of a 200k IPv6
table, 72 B per route (bench/README.md, round 4)."""


def source_key(route: Route) -> int:
    """The source of a path, as one int: ``peer index << 32 | received path id``."""
    return (route.peer.index << 32) | route.path_id


@dataclass(frozen=True, slots=True)
class OutUpdate:
    """What to send one peer."""

    announce: tuple[PackRoute, ...] = ()
    withdraw: tuple[Withdrawal, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.announce or self.withdraw)

    def updates(self, options: SessionOptions) -> Iterator[Update]:
        """Packed UPDATEs: withdrawals first, then announcements per attribute set."""
        yield from pack_withdrawals(self.withdraw, options)
        yield from pack_announcements(self.announce, options)


class ExportCache:
    """``export_attrs`` memoised per (source kind, target profile, attrs), with interning.

    The memo is one dict per (target export profile, AFI, source iBGP, source BGP
    Identifier) keyed by the received set: a lookup allocates nothing, and an entry
    costs one dict slot.  Each Adj-RIB-Out keeps the dicts it uses (``table``).
    """

    __slots__ = ("_memo", "_sets", "_size", "config")

    def __init__(self, config: RibConfig) -> None:
        self.config = config
        self._memo: dict[tuple[object, ...], dict[AttrSet, AttrSet]] = {}
        self._sets: dict[AttrSet, AttrSet] = {}
        self._size = 0

    def table(self, source: PeerInfo, target: PeerInfo, afi: int) -> dict[AttrSet, AttrSet]:
        """The memo for routes from ``source`` to ``target``: ``{attrs: exported}``."""
        # what ``export_attrs`` reads: our AS and address only where it puts them in
        nh = not target.ibgp or target.next_hop_self or target.next_hop_self_force
        key = (
            source.ibgp,
            source.bgp_id,
            target.ibgp,
            target.local_as if not target.ibgp else 0,
            target.local_address if nh else b"",
            target.next_hop_self,
            target.next_hop_self_force,
            afi,
        )
        memo = self._memo.get(key)
        if memo is None:
            memo = self._memo[key] = {}
        return memo

    def export(
        self, memo: dict[AttrSet, AttrSet], route: Route, target: PeerInfo, afi: int
    ) -> AttrSet:
        """``export_attrs`` of ``route``, recorded in ``memo`` (from ``table``)."""
        if self._size >= CACHE_LIMIT:
            for m in self._memo.values():
                m.clear()  # in place: Adj-RIB-Outs hold these dicts
            self._sets.clear()
            self._size = 0
        out = export_attrs(route, target, afi, self.config)
        out = memo[route.attrs] = self._sets.setdefault(out, out)
        self._size += 1
        return out

    def get(self, route: Route, target: PeerInfo, afi: int) -> AttrSet:
        memo = self.table(route.peer, target, afi)
        out = memo.get(route.attrs)
        if out is None:
            out = self.export(memo, route, target, afi)
        return out


class AdjRibOut:
    """The routes one peer has been sent."""

    def __init__(
        self,
        peer: PeerInfo,
        config: RibConfig,
        cache: ExportCache | None = None,
        export_policy: ExportPolicy | None = None,
    ) -> None:
        self.peer = peer
        self.config = config
        self.cache = cache if cache is not None else ExportCache(config)
        self.export_policy = export_policy
        self._best: dict[Family, dict[int, AttrSet]] = {}
        self._paths: dict[Family, dict[int, tuple[OutPath, ...]]] = {}
        self._memos: dict[tuple[PeerInfo, int], dict[AttrSet, AttrSet]] = {}

    def load(self, afi: int, safi: int, table: dict[tuple[int, int], AttrSet]) -> None:
        """Take ``table`` (``{(prefix, 0): attrs}``) as sent: a peer that leaves its
        update group keeps what the group sent it (best-path peers only)."""
        if self.peer.addpath:
            raise ValueError("load is for peers without ADD-PATH")
        self._best[afi, safi] = {prefix: attrs for (prefix, _), attrs in table.items()}

    def clear(self) -> None:
        """Forget everything sent (the session went down)."""
        self._best.clear()
        self._paths.clear()

    def _exported(self, r: Route, afi: int) -> AttrSet | None:
        """``r`` as this peer is sent it before the export policy (the export memo's
        ``export_attrs``), or None where the export rule refuses it."""
        peer = self.peer
        if not may_export(r, peer):
            return None
        mkey = (r.peer, afi)
        memo = self._memos.get(mkey)
        if memo is None:
            memo = self._memos[mkey] = self.cache.table(r.peer, peer, afi)
        attrs = memo.get(r.attrs)
        if attrs is None:
            attrs = self.cache.export(memo, r, peer, afi)
        return attrs

    def _chosen(self, ch: PrefixChange) -> list[tuple[int, AttrSet]]:
        """(source key, attrs) of the paths this peer should have for ``ch.prefix``."""
        peer, sel = self.peer, ch.new
        mode = peer.addpath_send
        if mode == AddPathSend.OFF:
            paths = sel.ranked[:1]
        elif mode == AddPathSend.ECMP:
            paths = sel.ranked[: sel.n_ecmp]
        elif mode == AddPathSend.BEST_N:
            paths = sel.ranked[: peer.addpath_n]
        else:
            paths = sel.ranked
        out: list[tuple[int, AttrSet]] = []
        for r in paths:
            attrs = self._exported(r, ch.afi)
            if self.export_policy is not None and attrs is not None:
                attrs = self.export_policy(peer, ch.afi, ch.safi, ch.prefix, attrs)
            if attrs is not None:
                out.append((source_key(r), attrs))
        return out

    def _apply_best(self, diff: Iterable[PrefixChange]) -> OutUpdate:
        """``apply`` without ADD-PATH: the best route only (``_chosen`` inlined)."""
        announce: list[PackRoute] = []
        withdraw: list[Withdrawal] = []
        peer, memos, policy = self.peer, self._memos, self.export_policy
        best = self._best
        fam: Family | None = None
        sent: dict[int, AttrSet] = {}
        for ch in diff:
            afi, safi = ch.afi, ch.safi
            prefix: Any = cast(Any, ch).prefix  # the int object itself: ``rib.table.Key``
            if fam is None or fam[0] != afi or fam[1] != safi:
                fam = (afi, safi)
                sent = best.setdefault(fam, {})
            ranked = ch.new.ranked
            attrs: AttrSet | None = None
            if ranked:
                r = ranked[0]
                if may_export(r, peer):
                    mkey = (r.peer, afi)
                    memo = memos.get(mkey)
                    if memo is None:
                        memo = memos[mkey] = self.cache.table(r.peer, peer, afi)
                    attrs = memo.get(r.attrs)
                    if attrs is None:
                        attrs = self.cache.export(memo, r, peer, afi)
                    if policy is not None:
                        attrs = policy(peer, afi, safi, prefix, attrs)
            old = sent.get(prefix)
            if attrs is not None:
                if old is not attrs and old != attrs:
                    sent[prefix] = attrs
                    announce.append((afi, safi, prefix, 0, attrs))
            elif old is not None:
                del sent[prefix]
                withdraw.append((afi, safi, prefix, 0))
        return OutUpdate(tuple(announce), tuple(withdraw))

    def apply(self, diff: Iterable[PrefixChange]) -> OutUpdate:
        """Bring the peer up to date with ``diff``; what to send it."""
        addpath = self.peer.addpath
        if not addpath:
            return self._apply_best(diff)
        announce: list[PackRoute] = []
        withdraw: list[Withdrawal] = []
        for ch in diff:
            fam = (ch.afi, ch.safi)
            chosen = self._chosen(ch)
            prefix: Any = cast(Any, ch).prefix  # the int object itself: ``rib.table.Key``
            if not addpath:
                sent = self._best.setdefault(fam, {})
                old = sent.get(prefix)
                if chosen:
                    attrs = chosen[0][1]
                    if old is not attrs and old != attrs:
                        sent[prefix] = attrs
                        announce.append((ch.afi, ch.safi, prefix, 0, attrs))
                elif old is not None:
                    del sent[prefix]
                    withdraw.append((ch.afi, ch.safi, prefix, 0))
                continue
            table = self._paths.setdefault(fam, {})
            before = table.get(prefix, ())
            by_source = {src: (pid, attrs) for src, pid, attrs in before}
            used = {pid for _, pid, _ in before}
            now: list[OutPath] = []
            for src, attrs in chosen:
                had = by_source.pop(src, None)
                if had is None:
                    pid = 1
                    while pid in used:
                        pid += 1
                    used.add(pid)
                else:
                    pid = had[0]
                if had is None or (had[1] is not attrs and had[1] != attrs):
                    announce.append((ch.afi, ch.safi, prefix, pid, attrs))
                now.append((src, pid, attrs))
            for pid, _ in by_source.values():
                withdraw.append((ch.afi, ch.safi, prefix, pid))
            if now:
                table[prefix] = tuple(now)
            elif before:
                del table[prefix]
        return OutUpdate(tuple(announce), tuple(withdraw))

    def table(self, afi: int, safi: int) -> dict[tuple[int, int], AttrSet]:
        """``{(prefix, path_id): attrs}`` as the peer has it."""
        fam = (afi, safi)
        if not self.peer.addpath:
            return {(p, 0): a for p, a in self._best.get(fam, {}).items()}
        return {(p, pid): a for p, paths in self._paths.get(fam, {}).items() for _, pid, a in paths}

    def path_ids(self, afi: int, safi: int, prefix: int) -> dict[int, int]:
        """``{source key: local path id}`` for ``prefix`` (ADD-PATH only)."""
        return {src: pid for src, pid, _ in self._paths.get((afi, safi), {}).get(prefix, ())}

    def __len__(self) -> int:
        return sum(len(t) for t in self._best.values()) + sum(
            len(paths) for t in self._paths.values() for paths in t.values()
        )


def group_key(peer: PeerInfo) -> tuple[object, ...] | None:
    """What two peers must share to share an Adj-RIB-Out (an update group), or None.

    Everything ``may_export`` and ``export_attrs`` read of a target except who it is;
    ADD-PATH peers do not share (their path ids are their own).
    """
    if peer.addpath:
        return None
    nh = not peer.ibgp or peer.next_hop_self or peer.next_hop_self_force
    return (
        peer.ibgp,
        peer.rr_client,
        peer.local_as if not peer.ibgp else 0,
        peer.local_address if nh else b"",
        peer.next_hop_self,
        peer.next_hop_self_force,
    )


_Record = tuple[int, int, int, "AttrSet | None", "AttrSet | None", "Route | None", "Route | None"]
"""(AFI, SAFI, prefix, group's old, group's new, old best, new best).  When the group's
new is None, its old is only None or not (the set it was sent is not worked out)."""


class UpdateGroup:
    """The Adj-RIB-Out of best-path peers with one export profile and no export policy.

    How this works: the group stores no table (as BIRD keeps none by default).  What a
    member has been sent follows from the Loc-RIB: for each prefix, the export of its
    best route towards a stand-in peer with the members' profile and no identity, or
    nothing where the export rule refuses that route.  Each change carries the old and
    the new selection, so ``apply`` works out the old and new exports of a diff once
    (the export memo makes both a dict lookup) and compares them; a full table costs
    no dict slot and keeps no exported set here.  A member differs from the group only
    where the export rule refuses it a best route because of who it is (RFC 4456 8:
    not back to the peer it came from, nor to its originator); that follows from the
    best route too.  Members the diff does not concern by identity share the group's
    :class:`OutUpdate` (and, in ``pybgp.routing``, its encoding); the others get theirs
    worked out from the same records.

    ``apply`` trusts a diff's old side: every diff of the Loc-RIB must reach the group
    while it has members (``Rib.dump`` is a diff from nothing, so it re-announces).
    """

    def __init__(self, template: PeerInfo, config: RibConfig, cache: ExportCache, rib: Rib) -> None:
        key = group_key(template)
        if key is None:
            raise ValueError("ADD-PATH peers are not grouped")
        self.key = key
        stand_in = replace(template, address="update-group", index=0, bgp_id=b"")
        self.out = AdjRibOut(stand_in, config, cache)
        """Only its export memo is used: it stores nothing."""
        self.rib = rib
        self.members: dict[PeerInfo, int] = {}
        """Member -> how many prefixes of the group's table it does not have."""
        self._by_id: dict[bytes, list[PeerInfo]] = {}
        self._count = 0
        """Routes in the group's table (counted by ``join``, kept by ``apply``)."""

    def __bool__(self) -> bool:
        return bool(self.members)

    def _routes(self, families: Iterable[Family]) -> Iterator[tuple[PackRoute, Route]]:
        """The group's table, from the Loc-RIB: each route as sent, with its best route."""
        for afi, safi in families:
            for prefix, sel in self.rib.loc_rib(afi, safi):
                b = sel.ranked[0]
                attrs = self.out._exported(b, afi)
                if attrs is not None:
                    yield (afi, safi, prefix, 0, attrs), b

    def join(self, peer: PeerInfo) -> OutUpdate:
        """Add ``peer``; what it must be sent now (the group's table, as it sees it)."""
        if group_key(peer) != self.key:
            raise ValueError(f"{peer.address} does not fit this update group")
        announce: list[PackRoute] = []
        hidden = count = 0
        for route, b in self._routes(self.rib.families()):
            count += 1
            if may_export(b, peer):
                announce.append(route)
            else:
                hidden += 1
        self._count = count
        self.members[peer] = hidden
        self._by_id.setdefault(peer.bgp_id, []).append(peer)
        return OutUpdate(tuple(announce))

    def leave(self, peer: PeerInfo) -> None:
        """Remove ``peer`` (its session ended)."""
        if self.members.pop(peer, None) is None:
            return
        same = self._by_id[peer.bgp_id]
        same.remove(peer)
        if not same:
            del self._by_id[peer.bgp_id]

    def _apply(self, diff: Iterable[PrefixChange], records: list[_Record]) -> OutUpdate:
        """The group's own updates for ``diff``; ``records`` gets each change that
        involves a route the group is or was sent."""
        announce: list[PackRoute] = []
        withdraw: list[Withdrawal] = []
        count = self._count
        for ch in diff:
            new_ranked, old_ranked = ch.new.ranked, ch.old.ranked
            new_best = new_ranked[0] if new_ranked else None
            old_best = old_ranked[0] if old_ranked else None
            if old_best is new_best:
                continue  # the same route object: nothing changed for anyone here
            afi = ch.afi
            attrs = self.out._exported(new_best, afi) if new_best is not None else None
            old: AttrSet | None
            if attrs is None:
                # nothing to send now (a withdrawal, mostly): only whether the group had
                # the old route matters, not the set it was sent, which is not worked out
                if old_best is None or not may_export(old_best, self.out.peer):
                    continue
                old = old_best.attrs  # a stand-in: read for its presence only
            else:
                old = self.out._exported(old_best, afi) if old_best is not None else None
            prefix: Any = cast(Any, ch).prefix  # the int object itself: ``rib.table.Key``
            if attrs is not None:
                if old is None:
                    count += 1
                    announce.append((afi, ch.safi, prefix, 0, attrs))
                elif old is not attrs and old != attrs:
                    announce.append((afi, ch.safi, prefix, 0, attrs))
            else:
                count -= 1
                withdraw.append((afi, ch.safi, prefix, 0))
            records.append((afi, ch.safi, prefix, old, attrs, old_best, new_best))
        self._count = count
        return OutUpdate(tuple(announce), tuple(withdraw))

    def _touched(self, r: Route | None, into: set[PeerInfo]) -> None:
        if r is None:
            return
        if r.peer in self.members:
            into.add(r.peer)
        by_id = self._by_id
        for bid in (r.attrs.originator_id, r.peer.bgp_id):
            same = by_id.get(bid) if bid is not None else None
            if same:
                into.update(same)

    def apply(self, diff: Iterable[PrefixChange]) -> dict[PeerInfo, OutUpdate]:
        """Bring every member up to date with ``diff``: what to send each (none if empty)."""
        if not self.members:
            return {}
        records: list[_Record] = []
        touched: set[PeerInfo] = set()
        group = self._apply(diff, records)
        last: PeerInfo | None = None
        for _, _, _, _, _, old_best, new_best in records:
            self._touched(old_best, touched)
            if new_best is not None:
                if new_best.peer is last and new_best.attrs.originator_id is None:
                    continue  # as the record before: a table from one peer
                last = new_best.peer
            self._touched(new_best, touched)
        result: dict[PeerInfo, OutUpdate] = {}
        for peer in self.members:
            update = self._member(peer, records) if peer in touched else group
            if update:
                result[peer] = update
        return result

    def _member(self, peer: PeerInfo, records: list[_Record]) -> OutUpdate:
        announce: list[PackRoute] = []
        withdraw: list[Withdrawal] = []
        hidden = self.members[peer]
        for afi, safi, prefix, g_old, g_new, old_best, new_best in records:
            if g_old is None and new_best is not None and new_best.peer is peer:
                # a new route of its own (a table it sends): never back to it
                hidden += g_new is not None
                continue
            # what the member had and should have: the group's, unless the best route
            # is refused to this member in particular
            m_old = g_old if old_best is None or may_export(old_best, peer) else None
            m_new = g_new if new_best is None or may_export(new_best, peer) else None
            hidden += (g_new is not None and m_new is None) - (g_old is not None and m_old is None)
            if m_new is not None:
                if m_old is not m_new and m_old != m_new:
                    announce.append((afi, safi, prefix, 0, m_new))
            elif m_old is not None:
                withdraw.append((afi, safi, prefix, 0))
        self.members[peer] = hidden
        return OutUpdate(tuple(announce), tuple(withdraw))

    def table(self, peer: PeerInfo, afi: int, safi: int) -> dict[tuple[int, int], AttrSet]:
        """``{(prefix, 0): attrs}`` as the member has it."""
        routes = self._routes(((afi, safi),))
        return {(p, 0): a for (_, _, p, _, a), b in routes if may_export(b, peer)}

    def size(self, peer: PeerInfo) -> int:
        """How many routes the member has (all families)."""
        return self._count - self.members[peer]


class GroupMember:
    """One member's view of its :class:`UpdateGroup`, read like an :class:`AdjRibOut`."""

    __slots__ = ("group", "peer")

    def __init__(self, group: UpdateGroup, peer: PeerInfo) -> None:
        self.group = group
        self.peer = peer

    def table(self, afi: int, safi: int) -> dict[tuple[int, int], AttrSet]:
        return self.group.table(self.peer, afi, safi)

    def path_ids(self, afi: int, safi: int, prefix: int) -> dict[int, int]:
        return {}

    def __len__(self) -> int:
        return self.group.size(self.peer)


def fan_out(diff: RibDiff, outs: Iterable[AdjRibOut | UpdateGroup]) -> dict[PeerInfo, OutUpdate]:
    """Turn one RIB diff into, per peer, announcements and withdrawals (empty ones left out)."""
    result: dict[PeerInfo, OutUpdate] = {}
    for out in outs:
        if isinstance(out, UpdateGroup):
            result.update(out.apply(diff))
            continue
        update = out.apply(diff)
        if update:
            result[out.peer] = update
    return result
