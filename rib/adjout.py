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
from dataclasses import dataclass

from pybgp.codec.attributes import AttrSet
from pybgp.codec.options import SessionOptions
from pybgp.codec.pack import Route as PackRoute
from pybgp.codec.pack import pack_announcements, pack_withdrawals
from pybgp.codec.update import Update

from .config import RibConfig
from .decision import Route
from .peer import AddPathSend, PeerInfo
from .reflect import export_attrs, may_export
from .table import Family, PrefixChange, RibDiff

__all__ = [
    "AdjRibOut",
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

CACHE_LIMIT = 1 << 18


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

    def clear(self) -> None:
        """Forget everything sent (the session went down)."""
        self._best.clear()
        self._paths.clear()

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
        memos = self._memos
        for r in paths:
            if not may_export(r, peer):
                continue
            mkey = (r.peer, ch.afi)
            memo = memos.get(mkey)
            if memo is None:
                memo = memos[mkey] = self.cache.table(r.peer, peer, ch.afi)
            attrs: AttrSet | None = memo.get(r.attrs)
            if attrs is None:
                attrs = self.cache.export(memo, r, peer, ch.afi)
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
            afi, safi, prefix = ch.afi, ch.safi, ch.prefix
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
            if not addpath:
                sent = self._best.setdefault(fam, {})
                old = sent.get(ch.prefix)
                if chosen:
                    attrs = chosen[0][1]
                    if old is not attrs and old != attrs:
                        sent[ch.prefix] = attrs
                        announce.append((ch.afi, ch.safi, ch.prefix, 0, attrs))
                elif old is not None:
                    del sent[ch.prefix]
                    withdraw.append((ch.afi, ch.safi, ch.prefix, 0))
                continue
            table = self._paths.setdefault(fam, {})
            before = table.get(ch.prefix, ())
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
                    announce.append((ch.afi, ch.safi, ch.prefix, pid, attrs))
                now.append((src, pid, attrs))
            for pid, _ in by_source.values():
                withdraw.append((ch.afi, ch.safi, ch.prefix, pid))
            if now:
                table[ch.prefix] = tuple(now)
            elif before:
                del table[ch.prefix]
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


def fan_out(diff: RibDiff, outs: Iterable[AdjRibOut]) -> dict[PeerInfo, OutUpdate]:
    """Turn one RIB diff into, per peer, announcements and withdrawals (empty ones left out)."""
    result: dict[PeerInfo, OutUpdate] = {}
    for out in outs:
        update = out.apply(diff)
        if update:
            result[out.peer] = update
    return result
