"""Route reflection (RFC 4456) and the eBGP/iBGP export rules, as one rule each way.

How this works: three pure functions.

- :func:`import_check` runs on receipt: the loop checks of RFC 4271 9.1.2 (our AS in
  the AS_PATH) and RFC 4456 8 (our BGP Identifier as ORIGINATOR_ID, our CLUSTER_ID in
  the CLUSTER_LIST).  Two reflectors of one cluster share a CLUSTER_ID, so each drops
  what the other reflected: that is how redundant RRs avoid loops.
- :func:`may_export` is THE export rule: may the best route from ``source`` go to
  ``target``?  Each branch carries the RFC 4456 section 8 text it implements.  A
  speaker with no clients is an ordinary iBGP speaker: iBGP-learned routes then go to
  eBGP peers only, because the "non-client -> clients" branch has no clients to hit.
- :func:`export_attrs` is what the attributes become on the way out: for eBGP the
  usual rewrite (prepend our AS, next hop self, no LOCAL_PREF / ORIGINATOR_ID /
  CLUSTER_LIST, no MED learned from another AS); for iBGP, LOCAL_PREF made explicit
  and, when reflecting, ORIGINATOR_ID set and our CLUSTER_ID prepended.
"""

from __future__ import annotations

from pybgp.codec.attributes import AsPath, AttrSet, SegmentType, propagate

from .config import RibConfig
from .decision import Route, local_pref
from .peer import PeerInfo

__all__ = ["import_check", "may_export", "export_attrs", "prepend_as"]


def import_check(peer: PeerInfo, attrs: AttrSet, config: RibConfig) -> str | None:
    """Why a received route must be ignored (a loop), or None to accept it."""
    for seg_type, asns in attrs.as_path or ():
        # RFC 4271 9.1.2: a route whose AS_PATH contains our own AS is not feasible
        # (confederation segments name member ASes, not ours: RFC 5065 5.3)
        if seg_type <= SegmentType.AS_SEQUENCE and peer.local_as in asns:
            return "as-loop"
    # RFC 4456 8: "A router that recognizes the ORIGINATOR_ID attribute SHOULD ignore a
    # route received with its BGP Identifier as the ORIGINATOR_ID."
    if attrs.originator_id is not None and attrs.originator_id == config.router_id:
        return "originator-id"
    # RFC 4456 8: "If the local CLUSTER_ID is found in the CLUSTER_LIST, the
    # advertisement received SHOULD be ignored."
    if config.cluster in attrs.cluster_list:
        return "cluster-list"
    return None


def may_export(route: Route, target: PeerInfo) -> bool:
    """The export rule: may ``route`` (our best, or an ADD-PATH path) go to ``target``?"""
    source = route.peer
    if target is source:
        return False  # never back to the peer it came from
    if not target.ibgp:
        return True  # RFC 4271 9.1.3: every selected route may go to an external peer
    if not source.ibgp:
        # RFC 4456 8 (3): "Route from an EBGP peer: Send to all the Client and
        # Non-Client Peers."
        return True
    if source.rr_client:
        # RFC 4456 8 (2): "A Route from a Client peer: Reflect to all the Non-Client
        # peers and also to the Client peers. (Hence the Client peers are not required
        # to be fully meshed.)"  ... except the originator.
        originator = route.attrs.originator_id or source.bgp_id
        return target.bgp_id != originator
    # RFC 4456 8 (1): "A Route from a Non-Client IBGP peer: Reflect to all the Clients."
    # (To non-clients never: RFC 4271 9.2, iBGP routes are not re-sent over iBGP.)
    return target.rr_client


def prepend_as(path: AsPath | None, asn: int) -> AsPath:
    """RFC 4271 5.1.2 b: our AS in front of the path, confederation segments removed.

    The first AS_SEQUENCE grows if it has room (255 ASNs a segment); otherwise a new
    one is started.
    """
    segs = [s for s in path or () if s[0] <= SegmentType.AS_SEQUENCE]  # RFC 5065 5.3
    if segs and segs[0][0] == SegmentType.AS_SEQUENCE and len(segs[0][1]) < 255:
        return ((SegmentType.AS_SEQUENCE, (asn, *segs[0][1])), *segs[1:])
    return ((SegmentType.AS_SEQUENCE, (asn,)), *segs)


def _next_hop(target: PeerInfo, afi: int) -> dict[str, bytes]:
    nh = target.local_address
    if not nh:
        return {}
    if afi == 1 and len(nh) == 4:
        return {"next_hop": nh}
    return {"mp_next_hop": nh}


_CLUSTER_LISTS: dict[tuple[bytes, tuple[bytes, ...]], tuple[bytes, ...]] = {}


def _cluster_list(cluster: bytes, received: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """``(cluster, *received)``, one tuple per distinct list (a few for a whole table)."""
    key = (cluster, received)
    out = _CLUSTER_LISTS.get(key)
    if out is None:
        if len(_CLUSTER_LISTS) >= 4096:
            _CLUSTER_LISTS.clear()
        out = _CLUSTER_LISTS[key] = (cluster, *received)
    return out


def export_attrs(route: Route, target: PeerInfo, afi: int, config: RibConfig) -> AttrSet:
    """The attributes ``route`` carries to ``target`` (a new, uninterned set or the same).

    ``may_export`` must have said yes.  Unrecognized optional attributes follow RFC 4271 5
    (``propagate``).
    """
    source, attrs = route.peer, propagate(route.attrs)
    if not target.ibgp:
        # RFC 4271 5.1.2 b (prepend), 5.1.3 (next hop: ourselves), 5.1.5 (no LOCAL_PREF
        # to an external peer), 5.1.4 (a MED from another AS goes no further),
        # RFC 4456 8 (ORIGINATOR_ID / CLUSTER_LIST are internal to the AS)
        changes: dict[str, object] = {
            "as_path": prepend_as(attrs.as_path, target.local_as),
            "local_pref": None,
            "originator_id": None,
            "cluster_list": (),
            **_next_hop(target, afi),
        }
        if not source.ibgp:
            changes["med"] = None
        return attrs.replace(**changes)
    lp = local_pref(route, config.decision)  # RFC 4271 5.1.5: iBGP UPDATEs carry it
    # RFC 4456 8: ORIGINATOR_ID "will be created by an RR in reflecting a route ... A
    # BGP speaker SHOULD NOT create an ORIGINATOR_ID attribute if one already exists."
    # CLUSTER_LIST: "When an RR reflects a route, it MUST prepend the local CLUSTER_ID
    # to the CLUSTER_LIST."  NEXT_HOP is left alone (RFC 4456 10) unless forced.
    if source.ibgp and not target.next_hop_self_force:  # most of what an RR sends
        oid = attrs.originator_id if attrs.originator_id is not None else source.bgp_id
        return attrs.reflect(oid, _cluster_list(config.cluster, attrs.cluster_list), lp)
    changes = {}
    if attrs.local_pref != lp:
        changes["local_pref"] = lp
    if source.ibgp:
        if attrs.originator_id is None:
            changes["originator_id"] = source.bgp_id
        changes["cluster_list"] = _cluster_list(config.cluster, attrs.cluster_list)
        if target.next_hop_self_force:
            changes.update(_next_hop(target, afi))
    elif target.next_hop_self or target.next_hop_self_force:
        changes.update(_next_hop(target, afi))
    return attrs.replace(**changes) if changes else attrs
