"""Routing between peers: the speaker's glue to the pure RIB (``rib/``).

How this works: :class:`Routing` owns the one :class:`~rib.Rib` of the process, the
Adj-RIB-Outs of the Established peers and the shared export cache.  Best-path peers
with one export profile and no export policy (the clients of a route reflector)
share one :class:`~rib.UpdateGroup`; the others have an :class:`~rib.AdjRibOut` each.
The speaker calls ``up`` when a session is Established, ``update`` for every UPDATE
(the RIB keeps the changes), ``flush`` after each read, ``down`` when it ends and
``refresh`` for a ROUTE-REFRESH; each returns nothing and sends what the RIB diff
means for every peer.  What several peers get with the same session options is
packed and encoded once (:meth:`Peer.send_encoded`).  :class:`ReceivedRoutes` shows
a peer's Adj-RIB-In from the RIB (the speaker keeps no copy).
Import and export policy (``rib.policy``) are applied here, with RFC 8212 defaults:
an eBGP neighbor without a policy gets nothing into the RIB and nothing out of it.
Locally configured ``[[originate]]`` routes are not in the RIB; the speaker sends
them itself (their path ids start at ``ORIGINATE_PATH_ID`` so they never collide
with the ids an Adj-RIB-Out allocates).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rib import (
    AddPathSend,
    AdjRibOut,
    DecisionOptions,
    ExportCache,
    PeerInfo,
    Rib,
    RibConfig,
    RibDiff,
    fan_out,
)
from rib.adjout import GroupMember, OutUpdate, UpdateGroup, group_key
from rib.normalize import apply_updates
from rib.policy import ACCEPT_ALL
from rib.table import PATH_SHIFT, Family

from .codec.attributes import AttrSet
from .codec.message import encode_message
from .codec.options import SessionOptions
from .codec.pack import encode_routes, pack_withdrawals
from .codec.update import Update
from .config import Config

if TYPE_CHECKING:
    from .speaker import Peer

__all__ = [
    "Routing",
    "ReceivedRoutes",
    "ORIGINATE_PATH_ID",
    "not_refreshed",
    "rib_config",
    "stale_count",
]

ORIGINATE_PATH_ID = 0x80000000
RibKey = tuple[int, int, int, int]
"""(AFI, SAFI, prefix, path id)."""
PREFIX_MASK = (1 << PATH_SHIFT) - 1


def rib_config(cfg: Config) -> RibConfig:
    g = cfg.global_
    return RibConfig(
        local_as=g.asn,
        router_id=ipaddress.IPv4Address(g.router_id).packed,
        cluster_id=ipaddress.IPv4Address(g.cluster_id).packed if g.cluster_id else None,
        decision=DecisionOptions(
            always_compare_med=g.always_compare_med,
            multipath_relax=g.multipath_relax,
            maximum_paths=g.maximum_paths,
        ),
    )


class ReceivedRoutes(Mapping[RibKey, AttrSet]):
    """A neighbor's Adj-RIB-In as ``{(afi, safi, prefix, path id): attrs}``, read from the RIB.

    The RIB stores each received route once; this is a view of it, not a copy: the
    routes of the current session (``peer.info``) and, during a graceful restart, the
    stale ones of the previous session (``peer.stale_info``) that were not sent again.
    """

    __slots__ = ("_peer", "_rib")

    def __init__(self, rib: Rib, peer: Peer) -> None:
        self._rib = rib
        self._peer = peer

    def _tables(self) -> list[dict[Family, dict[int, AttrSet]]]:
        peer, rib = self._peer, self._rib
        return [rib.received(i) for i in (peer.info, peer.stale_info) if i is not None]

    def __getitem__(self, key: RibKey) -> AttrSet:
        afi, safi, prefix, path_id = key
        k = prefix | (path_id << PATH_SHIFT) if path_id else prefix
        for tables in self._tables():
            attrs = tables.get((afi, safi), {}).get(k)
            if attrs is not None:
                return attrs
        raise KeyError(key)

    def _keys(self) -> set[RibKey] | None:
        tables = self._tables()
        if len(tables) < 2:
            return None
        return {k for t in tables for k in _rib_keys(t)}

    def __iter__(self) -> Iterator[RibKey]:
        keys = self._keys()
        if keys is not None:
            return iter(keys)
        return (k for t in self._tables() for k in _rib_keys(t))

    def __len__(self) -> int:
        keys = self._keys()
        if keys is not None:
            return len(keys)
        return sum(len(r) for t in self._tables() for r in t.values())

    def family_counts(self) -> dict[Family, int]:
        """Routes per (AFI, SAFI)."""
        out: dict[Family, int] = {}
        keys = self._keys()
        if keys is None:
            for t in self._tables():
                for fam, routes in t.items():
                    if routes:
                        out[fam] = out.get(fam, 0) + len(routes)
        else:
            for afi, safi, _, _ in keys:
                out[afi, safi] = out.get((afi, safi), 0) + 1
        return out


def _rib_keys(tables: dict[Family, dict[int, AttrSet]]) -> Iterator[RibKey]:
    for (afi, safi), routes in tables.items():
        for k in routes:
            yield (afi, safi, k & PREFIX_MASK, k >> PATH_SHIFT)


def stale_count(rib: Rib, peer: Peer) -> int:
    """Routes kept from ``peer``'s previous session by graceful restart (RFC 4724 4.2)."""
    info = peer.stale_info
    return sum(len(r) for r in rib.received(info).values()) if info is not None else 0


def _family(u: Update) -> Family:
    if u.mp_reach is not None:
        return (u.mp_reach.afi, u.mp_reach.safi)
    if u.mp_unreach is not None:
        return (u.mp_unreach.afi, u.mp_unreach.safi)
    return (1, 1)


def not_refreshed(rib: Rib, peer: Peer) -> int:
    """Stale routes of ``peer`` that its new session has not sent again (RFC 4724 4.2)."""
    old, new = peer.stale_info, peer.info
    if old is None:
        return 0
    fresh = rib.received(new) if new is not None else {}
    return sum(
        sum(1 for k in routes if k not in fresh.get(fam, {}))
        for fam, routes in rib.received(old).items()
    )


class Routing:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rib_config = rib_config(config)
        self.rib = Rib(self.rib_config, import_policy=self._import)
        self.cache = ExportCache(self.rib_config)
        self.index = itertools.count(1)
        self.up_peers: dict[PeerInfo, Peer] = {}
        self.outs: dict[PeerInfo, AdjRibOut | GroupMember] = {}
        self.groups: dict[tuple[object, ...], UpdateGroup] = {}
        """Update groups by export profile (``rib.adjout.group_key``)."""
        self.policies: dict[str, tuple[Any, Any]] = {}

    @property
    def best_changes(self) -> int:
        """Prefixes whose best path changed (a counter for pybgp.metrics)."""
        return self.rib.best_changes

    # ------------------------------------------------------------------ policy
    def _policies(self, peer: Peer) -> tuple[Any, Any]:
        cached = self.policies.get(peer.address)
        if cached is None:
            from rib.policy import effective_policy

            ebgp = not peer.config.is_ibgp(self.config.global_.asn)
            pols = self.config.policies
            mine = pols.for_neighbor(peer.address) if pols is not None else None
            imp = mine.import_policy if mine is not None else None
            exp = mine.export_policy if mine is not None else None
            cached = (effective_policy(ebgp, imp), effective_policy(ebgp, exp))
            self.policies[peer.address] = cached
        return cached

    def _import(
        self, info: PeerInfo, afi: int, safi: int, prefix: int, attrs: AttrSet
    ) -> AttrSet | None:
        peer = self.up_peers.get(info)
        if peer is None:
            return attrs
        policy = self._policies(peer)[0]
        if policy is ACCEPT_ALL:
            return attrs  # iBGP without a policy: no per-set plan to build and keep
        result = policy.apply(afi, safi, prefix, attrs)
        return result.attrs if result.accepted else None

    def _import_hook(self) -> None:
        """The RIB calls ``_import`` only while an up peer has an import policy: the
        hook is a Python call per route, and an iBGP table has none to run."""
        needed = any(self._policies(p)[0] is not ACCEPT_ALL for p in self.up_peers.values())
        self.rib.import_policy = self._import if needed else None

    def _export(self, peer: Peer) -> Any:
        """The export hook of ``peer``'s Adj-RIB-Out; None when its policy accepts all."""
        if self._policies(peer)[1] is ACCEPT_ALL:
            return None

        def export(
            info: PeerInfo, afi: int, safi: int, prefix: int, attrs: AttrSet
        ) -> AttrSet | None:
            result = self._policies(peer)[1].apply(afi, safi, prefix, attrs)
            if not result.accepted or result.attrs is None:
                return None
            out: AttrSet = result.attrs
            if result.next_hop_self and info.local_address:
                if afi == 1 and len(info.local_address) == 4:
                    out = out.replace(next_hop=info.local_address)
                else:
                    out = out.replace(mp_next_hop=info.local_address)
            return out

        return export

    def reload(self, config: Config) -> None:
        """New policies apply to the stored Adj-RIB-In and every Adj-RIB-Out, no refresh."""
        self.config = config
        self.policies.clear()
        self._import_hook()
        self.propagate(self.rib.reimport())
        # the export side: each Adj-RIB-Out compares the whole Loc-RIB, under the new
        # export policies, with what it has sent, and sends the difference
        for info, out in list(self.outs.items()):
            peer = self.up_peers.get(info)
            opts = peer.session.options if peer is not None else None
            if peer is None or opts is None:
                continue
            export = self._export(peer)
            if isinstance(out, GroupMember):
                if export is None:
                    continue  # the group's turn comes below
                # an export policy now: its own Adj-RIB-Out, from what the group sent it
                own = AdjRibOut(info, self.rib_config, self.cache, export)
                for afi, safi in self.rib.families():
                    own.load(afi, safi, out.table(afi, safi))
                self._leave(out)
                out = self.outs[info] = own
            out.export_policy = export
            for afi, safi in self.rib.families():
                sent = out.apply(self.rib.dump(afi, safi))
                if sent:
                    peer.send_updates(sent.updates(opts))
        # update groups have no export policy (a member with one has left above), and
        # what they send follows from the Loc-RIB: the reimport's diff reached them

    # ------------------------------------------------------------------ sessions
    def up(self, peer: Peer, local: bytes, asn: int, bgp_id: bytes) -> None:
        """A session is Established: register it and send it the Loc-RIB."""
        s = peer.session
        opts, neg = s.options, s.negotiated
        assert opts is not None and neg is not None
        families = sorted(set(neg.families) & set(peer.settings.families))
        mode = AddPathSend.OFF
        if peer.config.add_path in ("send", "both") and all(f in opts.addpath_tx for f in families):
            n = peer.config.add_path_send_max
            mode = AddPathSend.BEST_N if n else AddPathSend.ECMP
        info = PeerInfo(
            address=peer.address,
            asn=asn,
            bgp_id=bgp_id,
            local_as=self.config.global_.asn,
            index=next(self.index),
            rr_client=peer.config.route_reflector_client,
            local_address=local,
            next_hop_self=peer.config.next_hop_self,
            addpath_send=mode,
            addpath_n=peer.config.add_path_send_max or 2,
        )
        self.flush()  # what is pending goes out first, so every table is in step
        peer.info = info
        self.rib.add_peer(info)
        self.up_peers[info] = peer
        self._import_hook()
        export = self._export(peer)
        key = group_key(info) if export is None else None
        if key is None:
            out = self.outs[info] = AdjRibOut(info, self.rib_config, self.cache, export)
            for afi, safi in families:
                sent = out.apply(self.rib.dump(afi, safi))
                if sent:
                    peer.send_updates(sent.updates(opts))
            return
        # an update group: peers with this export profile share one Adj-RIB-Out
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = UpdateGroup(info, self.rib_config, self.cache, self.rib)
        self.outs[info] = GroupMember(group, info)
        joined = group.join(info)
        if joined:
            peer.send_updates(joined.updates(opts))

    def update(self, peer: Peer, u: Update) -> None:
        self.updates(peer, (u,))

    def updates(self, peer: Peer, updates: Iterable[Update]) -> None:
        """UPDATEs received from ``peer``, in order, into the RIB (``rib.normalize``)."""
        info = peer.info
        if info is None:
            return
        opts = peer.session.options
        # the changes of every UPDATE in one read go out together (``flush``): fewer,
        # fuller UPDATEs to each peer, packed across the received messages
        apply_updates(self.rib, info, updates, opts.four_octet_as if opts is not None else None)

    def flush(self) -> int:
        """Send what the UPDATEs received since the last flush changed; how many prefixes."""
        diff = self.rib.flush()
        self.propagate(diff)
        return len(diff)

    def down(self, peer: Peer, graceful: bool) -> None:
        """The session ended.  With graceful restart the routes stay until ``sweep``."""
        info = peer.info
        if info is None:
            return
        peer.info = None
        out = self.outs.pop(info, None)
        if isinstance(out, GroupMember):
            self._leave(out)
        self.up_peers.pop(info, None)
        self._import_hook()
        if graceful:
            peer.stale_info = info  # RFC 4724 4.2: keep its routes for now
        else:
            self.propagate(self.rib.remove_peer(info))

    def _leave(self, member: GroupMember) -> None:
        group = member.group
        group.leave(member.peer)
        if not group.members:
            del self.groups[group.key]

    def sweep(self, peer: Peer) -> None:
        """Drop what a restarted peer did not send again (End-of-RIB or timer)."""
        old = peer.stale_info
        if old is not None:
            peer.stale_info = None
            self.propagate(self.rib.remove_peer(old))

    def refresh(self, peer: Peer, afi: int, safi: int) -> None:
        """Re-send the Adj-RIB-Out of one family (RFC 2918 4)."""
        info, opts = peer.info, peer.session.options
        if info is None or opts is None or info not in self.outs:
            return
        table = self.outs[info].table(afi, safi)
        routes = [(afi, safi, prefix, pid, attrs) for (prefix, pid), attrs in table.items()]
        from .codec.pack import pack_announcements

        peer.send_updates(pack_announcements(routes, opts))

    def propagate(self, diff: RibDiff) -> None:
        if not diff:
            return
        units: list[AdjRibOut | UpdateGroup] = [
            o for o in self.outs.values() if isinstance(o, AdjRibOut)
        ]
        units += self.groups.values()
        self._send(fan_out(diff, units))

    def _send(self, updates: dict[PeerInfo, OutUpdate]) -> None:
        # peers sent the same routes with the same options (the clients of a route
        # reflector, mostly) share the packing and the encoded bytes
        encoded: list[tuple[OutUpdate, SessionOptions, list[tuple[Family, bytes]]]] = []
        for info, sent in updates.items():
            peer = self.up_peers.get(info)
            opts = peer.session.options if peer is not None else None
            if peer is None or opts is None or not sent:
                continue
            messages = next((m for o, oo, m in encoded if oo == opts and o == sent), None)
            if messages is None:
                messages = [
                    (_family(u), encode_message(u, opts))
                    for u in pack_withdrawals(sent.withdraw, opts)
                ]
                messages += encode_routes(sent.announce, opts)
                encoded.append((sent, opts, messages))
            neg = peer.session.negotiated
            mine = [m for fam, m in messages if neg is not None and fam in neg.families]
            peer.send_encoded(b"".join(mine), len(mine))
