"""Session options: everything the encoding depends on, as one immutable value.

How this works: the session negotiates capabilities (RFC 5492) and hands the codec a
:class:`SessionOptions`.  The codec never guesses: 2- or 4-octet AS numbers (RFC 6793),
ADD-PATH per AFI/SAFI and direction (RFC 7911), and the maximum message size
(RFC 8654) all come from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["AFI", "SAFI", "AfiSafi", "SessionOptions", "IPV4_UNICAST", "IPV6_UNICAST"]


class AFI(IntEnum):
    """IANA Address Family Numbers (the ones BGP uses)."""

    IPV4 = 1
    IPV6 = 2
    L2VPN = 25
    BGP_LS = 16388


class SAFI(IntEnum):
    """IANA SAFI values."""

    UNICAST = 1
    MULTICAST = 2
    MPLS_LABEL = 4
    MCAST_VPN = 5
    VPLS = 65
    EVPN = 70
    BGP_LS = 71
    SR_POLICY = 73
    MPLS_VPN = 128
    ROUTE_TARGET = 132
    FLOWSPEC = 133
    FLOWSPEC_VPN = 134


AfiSafi = tuple[int, int]
IPV4_UNICAST: AfiSafi = (1, 1)
IPV6_UNICAST: AfiSafi = (2, 1)

MAX_MESSAGE = 4096
MAX_EXTENDED_MESSAGE = 65535


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """What the codec needs to know about a session, fixed once it is Established."""

    four_octet_as: bool = True
    """Both sides sent the 4-octet AS capability (RFC 6793): AS_PATH carries 4-octet ASNs."""
    addpath_rx: frozenset[AfiSafi] = field(default_factory=frozenset)
    """AFI/SAFIs whose received NLRI carry a Path Identifier (RFC 7911 section 3)."""
    addpath_tx: frozenset[AfiSafi] = field(default_factory=frozenset)
    """AFI/SAFIs whose sent NLRI carry a Path Identifier."""
    extended_message: bool = False
    """RFC 8654 negotiated: messages up to 65535 octets."""

    @property
    def max_message(self) -> int:
        return MAX_EXTENDED_MESSAGE if self.extended_message else MAX_MESSAGE

    def reversed(self) -> SessionOptions:
        """The peer's view: what we send it receives, and the other way round."""
        return SessionOptions(
            self.four_octet_as, self.addpath_tx, self.addpath_rx, self.extended_message
        )

    def symmetric(self, afisafis: frozenset[AfiSafi]) -> SessionOptions:
        """A copy with ADD-PATH in both directions for ``afisafis`` (tests, MRT)."""
        return SessionOptions(self.four_octet_as, afisafis, afisafis, self.extended_message)


DEFAULT_OPTIONS = SessionOptions()
LEGACY_OPTIONS = SessionOptions(four_octet_as=False)
