"""Who we are, as the RIB needs it: :class:`RibConfig`.

How this works: one frozen value holds our AS, our BGP Identifier, the cluster id
used when reflecting (RFC 4456 7: it defaults to the BGP Identifier) and the
decision-process knobs.  Everything in ``rib/`` reads it; nothing changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .decision import DecisionOptions

__all__ = ["RibConfig"]


@dataclass(frozen=True, slots=True)
class RibConfig:
    """The local speaker's identity and RIB options."""

    local_as: int
    """Our AS (RFC 4271 4.2 My Autonomous System)."""
    router_id: bytes
    """Our BGP Identifier (RFC 4271 4.2), 4 octets."""
    cluster_id: bytes | None = None
    """Our CLUSTER_ID (RFC 4456 7); None means the BGP Identifier."""
    decision: DecisionOptions = field(default_factory=DecisionOptions)

    @property
    def cluster(self) -> bytes:
        """The CLUSTER_ID in effect."""
        return self.router_id if self.cluster_id is None else self.cluster_id
