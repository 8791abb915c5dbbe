"""Adj-RIB-In and Loc-RIB (RFC 4271 3.2): routes in, decisions and diffs out.

How this works: :class:`Rib` is pure: calls go in (``announce``, ``withdraw``,
``apply_update``, ``peer_down``, ``reimport``) and a :class:`RibDiff` comes out,
one :class:`PrefixChange` per prefix whose candidate set changed: the old and new
:class:`~rib.decision.Selection` (ranked paths, ECMP count, reason).  Nothing else
leaves the table; Adj-RIB-Outs (``rib.adjout``) are driven by these diffs alone.

Storage is kept small because a full table is a million routes:

- Adj-RIB-In before policy: per peer and family, a dict from a key int to the
  received (interned, shared) ``AttrSet``.  The key is the prefix itself when the path
  id is 0, else ``prefix | path_id << 144`` (prefix keys are at most 136 bits).
- Loc-RIB: per family, a dict from prefix to its ``Selection``: a 3-tuple of the
  ranked routes, the ECMP count and the reason.  A route is the 3-tuple
  ``(peer, path_id, attrs)`` with the attributes *after* import policy.  A prefix
  with one route (most of a full table) stores just that route, and when that route
  has path id 0 and import left its attributes as received, just its ``PeerInfo``:
  the attributes are then the ones in that peer's Adj-RIB-In (so a full table from
  one peer costs one dict slot per prefix here, no tuple).  The Adj-RIB-In after
  policy is not stored twice: it is the Loc-RIB's candidates from that peer
  (``adj_rib_in(..., post_policy=True)`` reads it back).

Import runs, per route: the loop checks of ``rib.reflect.import_check``, the removal
of a LOCAL_PREF received over eBGP (RFC 4271 5.1.5), then the import policy hook.
A route the import rejects stays in the pre-policy Adj-RIB-In, so ``reimport`` can
run a changed policy without a ROUTE-REFRESH (soft reconfiguration inbound).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, final

from pybgp.codec.attributes import AttrSet
from pybgp.codec.errors import Action
from pybgp.codec.update import Update

from .config import RibConfig
from .decision import NO_SELECTION, Explanation, Reason, Route, Selection, explain, select
from .peer import PeerInfo
from .reflect import import_check

__all__ = [
    "Family",
    "ImportPolicy",
    "PrefixChange",
    "RibDiff",
    "Rib",
    "PATH_SHIFT",
]

Family = tuple[int, int]
"""(AFI, SAFI)."""
ImportPolicy = Callable[[PeerInfo, int, int, int, AttrSet], AttrSet | None]
"""``(peer, afi, safi, prefix, attrs) -> attrs or None (reject)``."""
PATH_SHIFT = 144
_LONE_MAX = 1 << 10  # the sets of the last few reads: an UPDATE's prefixes come together
_PREFIX_MASK = (1 << PATH_SHIFT) - 1
Key = Any
"""A prefix key (an int) on its way into the tables.  Typed ``Any`` so that the mypyc
build passes the int object itself along: as an ``int`` it would be unboxed and each
table would store a new copy of it (about 55 B/route more for a full table)."""


@final
class PrefixChange:
    """What happened to one prefix: its selection before and after.

    A full table makes a million of these, read once each by the Adj-RIB-Outs: the
    compiled build makes this a native object (a few stores to build, fields read
    directly), which a NamedTuple is not.  Read-only; equal when every field is.
    """

    __slots__ = ("afi", "new", "old", "prefix", "safi")

    afi: Final[int]
    safi: Final[int]
    prefix: Final[Key]
    old: Final[Selection]
    new: Final[Selection]

    def __init__(self, afi: int, safi: int, prefix: Key, old: Selection, new: Selection) -> None:
        self.afi = afi
        self.safi = safi
        self.prefix = prefix
        self.old = old
        self.new = new

    def _key(self) -> tuple[int, int, int, Selection, Selection]:
        return (self.afi, self.safi, self.prefix, self.old, self.new)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrefixChange) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "PrefixChange(afi={!r}, safi={!r}, prefix={!r}, old={!r}, new={!r})".format(
            *self._key()
        )

    @property
    def reason(self) -> Reason:
        """The decision step that chose the new best (NO_PATH when none is left)."""
        return self.new.reason

    @property
    def old_best(self) -> Route | None:
        return self.old.ranked[0] if self.old.ranked else None

    @property
    def new_best(self) -> Route | None:
        return self.new.ranked[0] if self.new.ranked else None

    @property
    def old_ecmp(self) -> tuple[Route, ...]:
        return self.old.ranked[: self.old.n_ecmp]

    @property
    def new_ecmp(self) -> tuple[Route, ...]:
        return self.new.ranked[: self.new.n_ecmp]

    @property
    def best_changed(self) -> bool:
        return self.old_best != self.new_best

    @property
    def ecmp_changed(self) -> bool:
        return set(self.old_ecmp) != set(self.new_ecmp)


RibDiff = tuple[PrefixChange, ...]


LocEntry = Selection | Route | PeerInfo
"""A Loc-RIB value: a Selection, a lone Route, or the PeerInfo of a lone route as received."""


def _key(prefix: Key, path_id: int) -> Key:
    return prefix | (path_id << PATH_SHIFT) if path_id else prefix


class Rib:
    """Adj-RIBs-In and the Loc-RIB of one speaker, for every address family."""

    def __init__(self, config: RibConfig, import_policy: ImportPolicy | None = None) -> None:
        self.config = config
        self.import_policy = import_policy
        self.peers: dict[int, PeerInfo] = {}
        self._pre: dict[int, dict[Family, dict[int, AttrSet]]] = {}
        self._loc: dict[Family, dict[Key, LocEntry]] = {}
        self._sets: dict[AttrSet, AttrSet] = {}
        self._no_lp: dict[AttrSet, AttrSet] = {}
        self._batch: dict[Family, dict[Key, Selection]] = {}
        """Per family, the selection before the first change of each prefix since the
        last diff."""
        self.best_changes = 0
        """Prefixes whose best path changed, over every diff (a counter for metrics)."""
        self._lone: dict[AttrSet, Selection] = {}
        """attrs -> the Selection of a lone route with them as received: prefixes with one
        route share it (checked by identity: the peer and the set must be the ones)."""

    # --- peers ------------------------------------------------------------------
    def add_peer(self, peer: PeerInfo) -> None:
        """Register ``peer``; its index must be unique."""
        known = self.peers.get(peer.index)
        if known is not None and known is not peer:
            raise ValueError(f"peer index {peer.index} is already {known.address}")
        self.peers[peer.index] = peer
        self._pre.setdefault(peer.index, {})

    def _sel(self, fam: Family, prefix: Key, value: LocEntry | None) -> Selection:
        """A stored Loc-RIB entry as a Selection (a lone route is stored bare or as its peer)."""
        if value is None:
            return NO_SELECTION
        if isinstance(value, PeerInfo):
            attrs = self._pre[value.index][fam][prefix]
            lone = self._lone.get(attrs)
            if lone is not None:
                r = lone.ranked[0]
                if r.peer is value and r.attrs is attrs:
                    return lone
            if len(self._lone) >= _LONE_MAX:
                self._lone.clear()
            lone = Selection((Route(value, 0, attrs),), 1, Reason.ONLY_PATH)
            self._lone[attrs] = lone
            return lone
        if isinstance(value, Route):
            return Selection((value,), 1, Reason.ONLY_PATH)
        return value

    def _check(self, peer: PeerInfo) -> dict[Family, dict[int, AttrSet]]:
        if self.peers.get(peer.index) is not peer:
            raise ValueError(f"unknown peer {peer.address} (index {peer.index}): add_peer first")
        return self._pre[peer.index]

    def peer_down(self, peer: PeerInfo) -> RibDiff:
        """Withdraw everything ``peer`` sent: its session went down (RFC 4271 8.2.2)."""
        pre = self._check(peer)
        for fam, routes in pre.items():
            for key in routes:
                self._set(fam, key & _PREFIX_MASK, peer, key >> PATH_SHIFT, None)
        pre.clear()
        return self._flush()

    def remove_peer(self, peer: PeerInfo) -> RibDiff:
        """``peer_down`` and forget the peer."""
        diff = self.peer_down(peer)
        del self.peers[peer.index], self._pre[peer.index]
        return diff

    # --- input ------------------------------------------------------------------
    def announce(
        self, peer: PeerInfo, afi: int, safi: int, prefix: int, attrs: AttrSet, path_id: int = 0
    ) -> RibDiff:
        """One route received (an NLRI of an UPDATE); replaces the same path id's route."""
        ids = (path_id,) if path_id else ()
        self._announce_all(self._check(peer), peer, afi, safi, (prefix,), ids, attrs)
        return self._flush()

    def withdraw(
        self, peer: PeerInfo, afi: int, safi: int, prefix: int, path_id: int = 0
    ) -> RibDiff:
        """One route withdrawn."""
        self._withdraw(self._check(peer), peer, afi, safi, prefix, path_id)
        return self._flush()

    def apply_update(self, peer: PeerInfo, u: Update, flush: bool = True) -> RibDiff:
        """Apply a decoded UPDATE: withdrawals, then announcements (RFC 4271 9.1).

        With an RFC 7606 treat-as-withdraw error (or worse) every NLRI it carries is
        withdrawn (RFC 7606 2).  Families the codec keeps as raw bytes are ignored.
        With ``flush=False`` the changes are kept for the next ``flush`` (or the next
        call that returns a diff), which gives one change per prefix for several
        UPDATEs: its selection before the first and after the last.
        """
        pre = self._check(peer)
        attrs = u.attrs
        if attrs is not None and u.action >= Action.TREAT_AS_WITHDRAW:
            attrs = None
        # families the codec keeps as raw bytes are left alone
        w = u.mp_unreach if u.mp_unreach is not None and u.mp_unreach.raw_nlri is None else None
        r = u.mp_reach if u.mp_reach is not None and u.mp_reach.raw_nlri is None else None
        # withdrawals first (RFC 4271 9.1); an error withdraws what was announced too
        self._withdraw_all(pre, peer, 1, 1, u.withdrawn, u.withdrawn_ids)
        if w is not None:
            self._withdraw_all(pre, peer, w.afi, w.safi, w.withdrawn, w.path_ids)
        if attrs is None:
            self._withdraw_all(pre, peer, 1, 1, u.nlri, u.nlri_ids)
            if r is not None:
                self._withdraw_all(pre, peer, r.afi, r.safi, r.nlri, r.path_ids)
        else:
            if u.nlri:
                self._announce_all(pre, peer, 1, 1, u.nlri, u.nlri_ids, attrs)
            if r is not None:
                self._announce_all(pre, peer, r.afi, r.safi, r.nlri, r.path_ids, attrs)
        return self._flush() if flush else ()

    def flush(self) -> RibDiff:
        """The changes kept by ``apply_update(..., flush=False)`` since the last diff."""
        return self._flush()

    def reimport(self, peer: PeerInfo | None = None) -> RibDiff:
        """Run the import (policy included) again over the stored pre-policy routes."""
        for p in [peer] if peer is not None else list(self.peers.values()):
            for fam, routes in self._check(p).items():
                for key, attrs in routes.items():
                    prefix, path_id = key & _PREFIX_MASK, key >> PATH_SHIFT
                    post = self._import(p, fam[0], fam[1], prefix, attrs)
                    self._set(fam, prefix, p, path_id, post, attrs)
        return self._flush()

    def set_import_policy(self, policy: ImportPolicy | None) -> RibDiff:
        """Swap the import policy and re-run it over every Adj-RIB-In."""
        self.import_policy = policy
        return self.reimport()

    # --- internals ----------------------------------------------------------------
    def _withdraw_all(
        self,
        pre: dict[Family, dict[int, AttrSet]],
        peer: PeerInfo,
        afi: int,
        safi: int,
        prefixes: tuple[Key, ...],
        ids: tuple[int, ...],
    ) -> None:
        for i, p in enumerate(prefixes):
            self._withdraw(pre, peer, afi, safi, p, ids[i] if ids else 0)

    def _announce_all(
        self,
        pre: dict[Family, dict[int, AttrSet]],
        peer: PeerInfo,
        afi: int,
        safi: int,
        prefixes: tuple[Key, ...],
        ids: tuple[int, ...],
        attrs: AttrSet,
    ) -> None:
        """Store an UPDATE's prefixes (one set) and decide each, the tables looked up
        once.  A new prefix (most of a full table) is stored here; the others go
        through ``_set``.  Without an import hook the import depends on the set alone,
        so it runs once."""
        fam = (afi, safi)
        table = pre.get(fam)
        if table is None:
            table = pre[fam] = {}
        loc = self._loc.get(fam)
        if loc is None:
            loc = self._loc[fam] = {}
        batch = self._batch.get(fam)
        if batch is None:
            batch = self._batch[fam] = {}
        hook = self.import_policy is not None
        post = None if hook else self._import(peer, afi, safi, 0, attrs)
        for i, prefix in enumerate(prefixes):
            path_id = ids[i] if ids else 0
            if hook:
                post = self._import(peer, afi, safi, prefix, attrs)
            if post is not None and prefix not in loc:
                if prefix not in batch:
                    batch[prefix] = NO_SELECTION
                loc[prefix] = peer if path_id == 0 and post is attrs else Route(peer, path_id, post)
            else:
                # decide first: the Loc-RIB may refer to the previous set in ``table``
                self._set(fam, prefix, peer, path_id, post, attrs)
            table[_key(prefix, path_id)] = attrs

    def _withdraw(
        self,
        pre: dict[Family, dict[int, AttrSet]],
        peer: PeerInfo,
        afi: int,
        safi: int,
        prefix: Key,
        path_id: int,
    ) -> None:
        fam = (afi, safi)
        table = pre.get(fam)
        key = _key(prefix, path_id)
        if table is not None and key in table:
            self._set(fam, prefix, peer, path_id, None)
            del table[key]

    def _import(
        self, peer: PeerInfo, afi: int, safi: int, prefix: int, attrs: AttrSet
    ) -> AttrSet | None:
        if import_check(peer, attrs, self.config) is not None:
            return None
        if not peer.ibgp and attrs.local_pref is not None:
            # RFC 4271 5.1.5: LOCAL_PREF from an external peer is ignored
            stripped = self._no_lp.get(attrs)
            if stripped is None:
                stripped = self._no_lp[attrs] = self._intern(attrs.replace(local_pref=None))
            attrs = stripped
        if self.import_policy is None:
            return attrs
        out = self.import_policy(peer, afi, safi, prefix, attrs)
        return out if out is None or out is attrs else self._intern(out)

    def _intern(self, attrs: AttrSet) -> AttrSet:
        return self._sets.setdefault(attrs, attrs)

    def _set(
        self,
        fam: Family,
        prefix: Key,
        peer: PeerInfo,
        path_id: int,
        attrs: AttrSet | None,
        received: AttrSet | None = None,
    ) -> None:
        """Put (or with None remove) ``peer``'s route and decide the prefix again.

        ``received`` is the route's pre-policy set, about to be stored (or still
        stored) in ``peer``'s Adj-RIB-In: the Loc-RIB's previous entry is read before
        the Adj-RIB-In changes.
        """
        loc = self._loc.get(fam)
        if loc is None:
            loc = self._loc[fam] = {}
        batch = self._batch.get(fam)
        if batch is None:
            batch = self._batch[fam] = {}
        stored = loc.get(prefix)
        if stored is None:  # a new prefix (most of a full table): no contest to run
            if attrs is not None:
                if prefix not in batch:
                    batch[prefix] = NO_SELECTION
                compact = path_id == 0 and received is attrs
                loc[prefix] = peer if compact else Route(peer, path_id, attrs)
            return
        old = self._sel(fam, prefix, stored)
        cands = [r for r in old.ranked if r.peer is not peer or r.path_id != path_id]
        if len(cands) == len(old.ranked):
            if attrs is None:
                return  # nothing to withdraw
        elif attrs is not None:
            prev = next(r for r in old.ranked if r.peer is peer and r.path_id == path_id)
            if prev.attrs is attrs or prev.attrs == attrs:
                stored = loc[prefix]
                if type(stored) is PeerInfo and received is not prev.attrs:
                    loc[prefix] = prev  # the Adj-RIB-In is about to hold another set
                return  # the same route again
        if prefix not in batch:
            batch[prefix] = old
        if attrs is not None:
            cands.append(Route(peer, path_id, attrs))
        new = select(cands, self.config.decision)
        if new.reason == Reason.ONLY_PATH:
            # the common case, stored as the bare route, or only its peer
            r = new.ranked[0]
            if r.path_id == 0:
                if r.peer is peer and path_id == 0 and attrs is not None:
                    got = received
                else:
                    got = self._pre[r.peer.index].get(fam, {}).get(prefix)
                loc[prefix] = r.peer if got is r.attrs else r
            else:
                loc[prefix] = r
        elif new.ranked:
            loc[prefix] = new
        else:
            del loc[prefix]

    def _flush(self) -> RibDiff:
        batches, self._batch = self._batch, {}
        out = []
        changed = 0
        for fam, batch in batches.items():
            loc = self._loc[fam]
            afi, safi = fam
            for prefix, old in batch.items():
                new = self._sel(fam, prefix, loc.get(prefix))
                if new != old:
                    ch = PrefixChange(afi, safi, prefix, old, new)
                    out.append(ch)
                    changed += ch.best_changed
        self.best_changes += changed
        return tuple(out)

    # --- queries ------------------------------------------------------------------
    def families(self) -> tuple[Family, ...]:
        return tuple(fam for fam, loc in self._loc.items() if loc)

    def selection(self, afi: int, safi: int, prefix: int) -> Selection:
        """The ranked routes, ECMP count and reason for ``prefix``."""
        fam = (afi, safi)
        return self._sel(fam, prefix, self._loc.get(fam, {}).get(prefix))

    def best(self, afi: int, safi: int, prefix: int) -> Route | None:
        ranked = self.selection(afi, safi, prefix).ranked
        return ranked[0] if ranked else None

    def ecmp(self, afi: int, safi: int, prefix: int) -> tuple[Route, ...]:
        """The multipath set, best first."""
        s = self.selection(afi, safi, prefix)
        return s.ranked[: s.n_ecmp]

    def explain(self, afi: int, safi: int, prefix: int) -> Explanation:
        """Which step decided ``prefix``, and what each step left standing."""
        return explain(self.selection(afi, safi, prefix).ranked, self.config.decision)

    def loc_rib(self, afi: int, safi: int) -> Iterator[tuple[int, Selection]]:
        """``(prefix, selection)`` for every prefix with a route."""
        fam = (afi, safi)
        return ((p, self._sel(fam, p, v)) for p, v in self._loc.get(fam, {}).items())

    def __len__(self) -> int:
        """Prefixes in the Loc-RIB, over all families."""
        return sum(len(loc) for loc in self._loc.values())

    def received(self, peer: PeerInfo) -> dict[Family, dict[int, AttrSet]]:
        """``peer``'s Adj-RIB-In before policy as stored, for reading only: per family,
        ``{prefix | path_id << PATH_SHIFT: attrs}`` (the prefix alone for path id 0).
        Empty for a peer the RIB does not know."""
        if self.peers.get(peer.index) is not peer:
            return {}
        return self._pre[peer.index]

    def received_count(self, peer: PeerInfo) -> int:
        """How many routes ``peer`` has in its Adj-RIB-In (before policy), all families."""
        return sum(len(t) for t in self.received(peer).values())

    def adj_rib_in(
        self, peer: PeerInfo, afi: int, safi: int, post_policy: bool = False
    ) -> dict[tuple[int, int], AttrSet]:
        """``{(prefix, path_id): attrs}`` as received, or as accepted by import."""
        pre = self._check(peer).get((afi, safi), {})
        out: dict[tuple[int, int], AttrSet] = {}
        loc = self._loc.get((afi, safi), {})
        for key, attrs in pre.items():
            prefix, path_id = key & _PREFIX_MASK, key >> PATH_SHIFT
            if not post_policy:
                out[prefix, path_id] = attrs
                continue
            for r in self._sel((afi, safi), prefix, loc.get(prefix)).ranked:
                if r.peer is peer and r.path_id == path_id:
                    out[prefix, path_id] = r.attrs
        return out

    def dump(self, afi: int, safi: int) -> RibDiff:
        """The whole Loc-RIB of a family as changes from nothing (to fill an Adj-RIB-Out)."""
        return tuple(
            PrefixChange(afi, safi, prefix, NO_SELECTION, sel)
            for prefix, sel in self.loc_rib(afi, safi)
        )
