"""What a peer's UPDATE means before the RIB sees it (RFC 6793, RFC 4760, RFC 4271 6.3).

Per UPDATE, so compiled with the RIB (pyproject ``[tool.pybgp] compiled``):
``normalize`` rewrites what the session's context changes, ``as_loop`` is the AS-loop
test the speaker logs (the RIB's import refuses such routes on its own, in
``rib.reflect.import_check``), and ``apply_updates`` feeds a run of UPDATEs to the
RIB in one loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pybgp.codec.attributes import AttrSet, as4_merge
from pybgp.codec.errors import Action
from pybgp.codec.update import Update

from .peer import PeerInfo
from .table import Rib

__all__ = ["apply_updates", "as_loop", "normalize", "noteworthy"]


def normalize(u: Update, four_octet_as: bool, local: bytes) -> Update:
    """What a peer's UPDATE means before the RIB sees it.

    - RFC 6793 4.2.3: from a 2-octet (OLD) speaker, AS_PATH and AS4_PATH are merged;
      from a NEW speaker, AS4_PATH and AS4_AGGREGATOR are discarded (RFC 6793 3).
    - RFC 4760 3: IPv4 unicast NLRI in MP_REACH_NLRI carry their next hop there; it
      becomes the NEXT_HOP, which is what an IPv4 route is sent on with.
    - RFC 4271 6.3: a NEXT_HOP that is our own address on the session is semantically
      incorrect; the classic NLRI of the UPDATE are ignored (withdrawn), no NOTIFICATION.
    """
    attrs = u.attrs
    assert attrs is not None
    if not four_octet_as:
        attrs = as4_merge(attrs)
    elif attrs.as4_path is not None or attrs.as4_aggregator is not None:
        attrs = attrs.replace(as4_path=None, as4_aggregator=None)
    r = u.mp_reach
    nh = attrs.mp_next_hop
    v4 = r is not None and (r.afi, r.safi) == (1, 1)
    if v4 and attrs.next_hop is None and nh is not None and len(nh) == 4:
        attrs = attrs.replace(next_hop=nh)
    if attrs is not u.attrs:
        u = u.replace(attrs=attrs)
    if u.nlri and local and attrs.next_hop == local:
        u = u.replace(
            withdrawn=u.withdrawn + u.nlri,
            withdrawn_ids=u.withdrawn_ids + u.nlri_ids,
            nlri=(),
            nlri_ids=(),
        )
    return u


def as_loop(attrs: AttrSet, local_as: int) -> bool:
    """RFC 4271 9.1.2: the AS_PATH (merged with AS4_PATH, RFC 6793 4.2.3) holds ``local_as``."""
    path = as4_merge(attrs).as_path if attrs.as4_path is not None else attrs.as_path
    return any(local_as in asns for _, asns in path or ())


def apply_updates(
    rib: Rib, peer: PeerInfo, updates: Iterable[Update], four_octet_as: bool | None
) -> None:
    """``normalize`` (unless ``four_octet_as`` is None: no session options) then
    ``rib.apply_update(..., flush=False)`` for each UPDATE, in order."""
    local = peer.local_address
    for u in updates:
        if u.attrs is not None and four_octet_as is not None:
            u = normalize(u, four_octet_as, local)
        rib.apply_update(peer, u, flush=False)


def noteworthy(updates: Sequence[Update], local_as: int) -> list[int]:
    """Indexes of the UPDATEs a speaker logs even without its update log: an RFC 7606
    outcome of treat-as-withdraw or worse, or announcements with an AS loop."""
    out: list[int] = []
    for i, u in enumerate(updates):
        if u.errors and u.action >= Action.TREAT_AS_WITHDRAW:
            out.append(i)
            continue
        attrs = u.attrs
        if attrs is None or not (u.nlri or (u.mp_reach is not None and u.mp_reach.nlri)):
            continue
        if as_loop(attrs, local_as):
            out.append(i)
    return out
