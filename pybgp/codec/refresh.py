"""ROUTE-REFRESH (RFC 2918) and Enhanced Route Refresh BoRR/EoRR (RFC 7313).

How this works: the message is AFI (2), a subtype octet (0 normal, 1 BoRR, 2 EoRR;
it was Reserved in RFC 2918) and SAFI (1).  A BoRR or EoRR of any length but 23 is
Route-Refresh Message Error / Invalid Message Length (RFC 7313 5); a normal request
may carry Outbound Route Filters (RFC 5291), kept as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from struct import pack

from .errors import BgpError, ErrorSubcode, NotificationCode

__all__ = ["RouteRefresh", "RefreshSubtype", "decode_route_refresh", "encode_route_refresh"]


class RefreshSubtype(IntEnum):
    NORMAL = 0
    BORR = 1  # Beginning of Route Refresh
    EORR = 2  # End of Route Refresh


@dataclass(frozen=True, slots=True)
class RouteRefresh:
    """A ROUTE-REFRESH message."""

    afi: int
    """AFI."""
    safi: int
    """SAFI."""
    subtype: int = RefreshSubtype.NORMAL
    """Message Subtype (RFC 7313 3)."""
    orf: bytes = b""
    """Outbound Route Filtering entries (RFC 5291 4), kept as bytes."""


def decode_route_refresh(body: bytes) -> RouteRefresh:
    # RFC 7313 5: BoRR/EoRR must be exactly 4 octets; a normal one may carry ORFs
    if len(body) < 4 or (len(body) != 4 and body[2] in (1, 2)):
        raise BgpError(
            f"ROUTE-REFRESH body of {len(body)} octets, expected 4",
            NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR,
            ErrorSubcode.RouteRefresh.INVALID_MESSAGE_LENGTH,
            bytes(body),
        )
    return RouteRefresh((body[0] << 8) | body[1], body[3], body[2], bytes(body[4:]))


def encode_route_refresh(r: RouteRefresh) -> bytes:
    return pack("!HBB", r.afi, r.subtype, r.safi) + r.orf
