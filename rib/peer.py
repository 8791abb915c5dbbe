"""Who a route came from and who it goes to: :class:`PeerInfo`.

How this works: a :class:`PeerInfo` is the RIB's whole view of a neighbor, fixed for
the life of a session: its address, AS, BGP Identifier, our AS on that session,
whether it is a route-reflector client, the IGP cost to reach it, and how we export
to it (next-hop-self, ADD-PATH send mode).  It is frozen and compared by identity
(one object per session), so a route can be the small tuple ``(peer, path_id,
attrs)`` and carry the peer by reference.  ``index`` is a small int unique per
peer, for compact keys and as the last, deterministic tie-break.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["PeerInfo", "AddPathSend"]


class AddPathSend(IntEnum):
    """What an Adj-RIB-Out sends per prefix (RFC 7911 send modes, as FRR/BIRD name them)."""

    OFF = 0
    """No ADD-PATH: the best path only, path id 0."""
    ALL = 1
    """Every path in the Loc-RIB that the export rule allows."""
    BEST_N = 2
    """The first ``addpath_n`` paths in decision-process order."""
    ECMP = 3
    """The multipath set (best plus the paths equal to it for ECMP)."""


def _address_key(address: str) -> tuple[int, int]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (9, 0)  # not an address (a test name): sorts last, ties break on index
    return (ip.version, int(ip))


@dataclass(frozen=True, slots=True, eq=False)
class PeerInfo:
    """A BGP neighbor as the RIB sees it.

    Compared and hashed by identity: one object per session, shared by its routes.
    """

    address: str
    """The peer's transport address (RFC 4271 9.1.2.2 g compares it)."""
    asn: int
    """The peer's AS (the My Autonomous System of its OPEN, RFC 6793 for 4 octets)."""
    bgp_id: bytes
    """The peer's BGP Identifier (RFC 4271 4.2), 4 octets."""
    local_as: int
    """Our AS on this session: equal to ``asn`` makes the session internal (iBGP)."""
    index: int
    """Small unique int: compact keys and the final tie-break."""
    rr_client: bool = False
    """The peer is a route-reflector client of ours (RFC 4456 2)."""
    igp_cost: int = 0
    """IGP cost to the peer's next hops (RFC 4271 9.1.2.2 e)."""
    local_address: bytes = b""
    """Our address on the session (4 or 16 octets): the next hop we set for next-hop-self."""
    next_hop_self: bool = False
    """Set the next hop to ``local_address`` on iBGP export of eBGP-learned routes."""
    next_hop_self_force: bool = False
    """Also for reflected (iBGP-learned) routes; off by default (RFC 4456 10)."""
    addpath_send: AddPathSend = AddPathSend.OFF
    """ADD-PATH send mode towards this peer (RFC 7911)."""
    addpath_n: int = 2
    """N for ``AddPathSend.BEST_N``."""
    address_key: tuple[int, int] = field(init=False, repr=False, compare=False)
    """``address`` as a sortable (version, int) pair."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "address_key", _address_key(self.address))

    @property
    def ibgp(self) -> bool:
        """An internal peer: same AS on both ends (RFC 4271 3)."""
        return self.asn == self.local_as

    @property
    def addpath(self) -> bool:
        return self.addpath_send != AddPathSend.OFF
