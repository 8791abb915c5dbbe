"""Per-neighbor settings, our OPEN, the checks on the peer's OPEN, and what they agree.

How this works: :class:`PeerSettings` is everything configurable for one neighbor.
:func:`build_open` turns it into our OPEN (RFC 4271 4.2 with the capabilities of
RFC 5492).  :func:`check_open` applies the semantic checks of RFC 4271 6.2 that the
codec leaves to the session (peer AS, BGP Identifier, Hold Time, RFC 9234 Role) and
returns the :class:`~pybgp.codec.errors.BgpError` to send, or None.
:func:`negotiate` folds both OPENs into a frozen :class:`Negotiated`: the codec's
:class:`~pybgp.codec.options.SessionOptions` plus hold/keepalive times, families,
refresh and Graceful Restart facts.  :func:`collision_winner` is RFC 4271 6.8.
Nothing here has state or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec.errors import BgpError, ErrorSubcode, NotificationCode
from .codec.notification import Notification
from .codec.open import (
    AddPath,
    BgpRole,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RawCapability,
    Role,
    RouteRefreshCap,
    negotiate_options,
)
from .codec.open import Open as OpenMessage
from .codec.options import AfiSafi, SessionOptions

__all__ = [
    "AS_TRANS",
    "LARGE_HOLD_TIME",
    "GR_RESTART",
    "GR_NOTIFICATION",
    "GR_FORWARDING",
    "PeerSettings",
    "Negotiated",
    "build_open",
    "check_open",
    "negotiate",
    "collision_winner",
    "hard_reset",
    "is_hard_reset",
    "unwrap_hard_reset",
]

AS_TRANS = 23456
"""RFC 6793 9: the 2-octet My Autonomous System of a speaker with a 4-octet ASN."""
LARGE_HOLD_TIME = 240.0
"""RFC 4271 8.2.2: "a large value" for the HoldTimer in OpenSent; 4 minutes is suggested."""
GR_RESTART = 0x8
"""RFC 4724 3: Restart State (R) bit of the Restart Flags."""
GR_NOTIFICATION = 0x4
"""RFC 8538 2: Graceful Notification (N) bit of the Restart Flags."""
GR_FORWARDING = 0x80
"""RFC 4724 3: Forwarding State (F) bit of the per-AFI/SAFI flags."""

O = ErrorSubcode.Open
_ROLE_PAIRS = {
    (Role.PROVIDER, Role.CUSTOMER),
    (Role.CUSTOMER, Role.PROVIDER),
    (Role.RS, Role.RS_CLIENT),
    (Role.RS_CLIENT, Role.RS),
    (Role.PEER, Role.PEER),
}
"""RFC 9234 4.2 Table 2: the allowed (local, remote) Role pairs."""


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """Everything configurable for one neighbor.  Invalid values raise ``ValueError``."""

    local_as: int
    local_id: bytes
    """Our BGP Identifier, 4 octets."""
    remote_as: int
    hold_time: int = 90
    """Hold Time we offer (RFC 4271 4.2): 0, or 3 and more."""
    connect_retry: float = 120.0
    """ConnectRetryTime (RFC 4271 10)."""
    keepalive: float | None = None
    """KeepaliveTime; None means a third of the negotiated Hold Time (RFC 4271 10)."""
    passive: bool = False
    """PassiveTcpEstablishment (RFC 4271 8.1.1): wait for the peer to connect."""
    delay_open: float = 0.0
    """DelayOpenTime (RFC 4271 8.1.1); 0 turns DelayOpen off."""
    send_hold_time: float | None = None
    """RFC 9687 SendHoldTime; None means max(480, 2 * Hold Time), 0 turns it off."""
    families: tuple[AfiSafi, ...] = ((1, 1),)
    """Multiprotocol capabilities (RFC 4760 8) to advertise."""
    add_path: tuple[tuple[int, int, int], ...] = ()
    """ADD-PATH (RFC 7911 4): (AFI, SAFI, 1 receive | 2 send | 3 both)."""
    graceful_restart: bool = False
    """Advertise Graceful Restart (RFC 4724) with the N bit (RFC 8538)."""
    restart_time: int = 120
    """Restart Time we advertise, seconds (12 bits)."""
    restarting: bool = False
    """We are the restarting speaker: set the R bit and the F bit of every family."""
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = False
    four_octet_as: bool = True
    role: int | None = None
    """Our BGP Role (RFC 9234 4.1)."""
    hostname: str | None = None
    """FQDN capability host name (draft-walton-bgp-hostname-capability)."""
    max_prefixes: int | None = None
    max_prefix_restart: float | None = None
    """Seconds after a max-prefix teardown before the session starts itself again."""
    jitter: bool = True
    """RFC 4271 10: multiply ConnectRetry and Keepalive times by a random 0.75..1."""
    idle_hold_time: float | None = 5.0
    """IdleHoldTime (RFC 4271 8.1.1): after an error the session restarts itself once
    this long has passed, doubling per consecutive failure up to 300 s
    (DampPeerOscillations).  None: stay Idle until ``start`` is called again."""

    def __post_init__(self) -> None:
        if len(self.local_id) != 4 or self.local_id == b"\0\0\0\0":
            raise ValueError("local_id must be 4 octets and not 0.0.0.0 (RFC 6286)")
        for name, asn in (("local_as", self.local_as), ("remote_as", self.remote_as)):
            if not 0 < asn < 2**32:
                raise ValueError(f"{name} {asn} is not a valid ASN")
        if self.local_as > 0xFFFF and not self.four_octet_as:
            raise ValueError("a 4-octet local_as needs four_octet_as (RFC 6793)")
        if self.hold_time in (1, 2) or not 0 <= self.hold_time <= 0xFFFF:
            raise ValueError(f"hold_time {self.hold_time}: must be 0 or 3..65535 (RFC 4271 4.2)")
        if not 0 <= self.restart_time <= 0xFFF:
            raise ValueError("restart_time is 12 bits (RFC 4724 3)")
        if self.connect_retry <= 0 or self.delay_open < 0:
            raise ValueError("connect_retry must be > 0 and delay_open >= 0")
        if self.keepalive is not None and self.keepalive <= 0:
            raise ValueError("keepalive must be > 0")
        if any(not 1 <= d <= 3 for _, _, d in self.add_path):
            raise ValueError("add_path direction is 1 (receive), 2 (send) or 3 (both)")

    def effective_send_hold(self, hold_time: float) -> float | None:
        """RFC 9687: the SendHoldTime for a session with ``hold_time``; None if off."""
        if self.send_hold_time is not None:
            return self.send_hold_time or None
        return max(480.0, 2.0 * hold_time) if hold_time > 0 else None


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What both OPENs agree on, from our side."""

    options: SessionOptions
    """The codec options (RFC 6793, RFC 7911, RFC 8654)."""
    hold_time: int
    """The smaller of both Hold Times (RFC 4271 4.2); 0: no keepalives, no HoldTimer."""
    keepalive_time: float
    """Seconds between KEEPALIVEs before jitter; 0 when hold_time is 0."""
    families: frozenset[AfiSafi]
    """AFI/SAFIs both advertised (RFC 4760 8); IPv4 unicast when neither sent any."""
    route_refresh: bool = False
    """The peer advertised Route Refresh (RFC 2918 3): we may send ROUTE-REFRESH."""
    enhanced_route_refresh: bool = False
    """Both advertised Enhanced Route Refresh (RFC 7313 3.1): BoRR/EoRR may be used."""
    graceful_restart: bool = False
    """Both advertised Graceful Restart (RFC 4724 3)."""
    notification_gr: bool = False
    """Both set the N bit (RFC 8538 2): NOTIFICATIONs other than Hard Reset are graceful."""
    peer_restart_time: int = 0
    """The peer's Restart Time, seconds."""
    peer_restarting: bool = False
    """The peer set the R bit: it restarted and will send End-of-RIB (RFC 4724 4.2)."""
    peer_forwarding: frozenset[AfiSafi] = field(default_factory=frozenset)
    """Families whose forwarding state the peer preserved (F bit)."""
    peer_role: int | None = None
    """The peer's BGP Role (RFC 9234)."""


def build_open(s: PeerSettings) -> OpenMessage:
    """Our OPEN from the settings (RFC 4271 4.2, capabilities per RFC 5492)."""
    caps: list[Capability] = [Multiprotocol(a, f) for a, f in s.families]
    if s.route_refresh:
        caps.append(RouteRefreshCap())
        if s.enhanced_route_refresh:
            caps.append(EnhancedRouteRefresh())
    if s.extended_message:
        caps.append(ExtendedMessage())
    if s.graceful_restart:
        flags = GR_NOTIFICATION | (GR_RESTART if s.restarting else 0)
        fbit = GR_FORWARDING if s.restarting else 0
        entries = tuple((a, f, fbit) for a, f in s.families)
        caps.append(GracefulRestart(flags, s.restart_time, entries))
    if s.four_octet_as:
        caps.append(FourOctetAs(s.local_as))
    if s.add_path:
        caps.append(AddPath(s.add_path))
    if s.role is not None:
        caps.append(BgpRole(s.role))
    if s.hostname is not None:
        caps.append(Fqdn(s.hostname))
    my_as = s.local_as if s.local_as <= 0xFFFF else AS_TRANS
    return OpenMessage(my_as, s.hold_time, s.local_id, tuple(caps))


def _open_error(reason: str, subcode: int, data: bytes = b"") -> BgpError:
    return BgpError(reason, NotificationCode.OPEN_MESSAGE_ERROR, subcode, data)


def check_open(s: PeerSettings, peer: OpenMessage) -> BgpError | None:
    """RFC 4271 6.2 checks of a decoded OPEN; the error to send, or None if it is valid.

    Version is checked by the codec.  Peer AS is the real ASN (RFC 6793 4.1: the
    4-octet AS capability when present).  BGP Identifier must be non-zero, and differ
    from ours on an internal session (RFC 6286 2.2).  Hold Time 1 and 2 are refused.
    Two incompatible Roles are a Role Mismatch (RFC 9234 4.2).  An Optional Parameter
    other than Capabilities is Unsupported Optional Parameters.
    """
    if peer.other_params:  # RFC 4271 6.2: only Capabilities (RFC 5492) are supported
        ptype = peer.other_params[0][0]
        return _open_error(
            f"unsupported optional parameter type {ptype}", O.UNSUPPORTED_OPTIONAL_PARAMETER
        )
    if peer.asn != s.remote_as:
        return _open_error(f"peer AS {peer.asn}, expected {s.remote_as}", O.BAD_PEER_AS)
    if peer.bgp_id == b"\0\0\0\0" or (s.local_as == s.remote_as and peer.bgp_id == s.local_id):
        return _open_error(f"bad BGP Identifier {peer.bgp_id.hex()}", O.BAD_BGP_IDENTIFIER)
    if peer.hold_time in (1, 2):
        return _open_error(f"unacceptable hold time {peer.hold_time}", O.UNACCEPTABLE_HOLD_TIME)
    roles = {c.role for c in peer.capabilities if isinstance(c, BgpRole)}
    if s.role is not None and roles and (len(roles) > 1 or (s.role, min(roles)) not in _ROLE_PAIRS):
        return _open_error("BGP Role mismatch", O.ROLE_MISMATCH)
    return None


def _gr(o: OpenMessage) -> GracefulRestart | None:
    for c in o.capabilities:
        if isinstance(c, GracefulRestart):
            return c
    return None


def _families(o: OpenMessage) -> set[AfiSafi]:
    found = {(c.afi, c.safi) for c in o.capabilities if isinstance(c, Multiprotocol)}
    return found or {(1, 1)}  # RFC 4760 8 / RFC 4271: no MP capability means IPv4 unicast


def negotiate(s: PeerSettings, local: OpenMessage, peer: OpenMessage) -> Negotiated:
    """Fold our OPEN and the peer's (already checked) into a :class:`Negotiated`."""
    hold = min(local.hold_time, peer.hold_time)
    keepalive = 0.0
    if hold:
        keepalive = hold / 3.0 if s.keepalive is None else min(s.keepalive, hold / 3.0)
    caps = peer.capabilities
    rr = any(
        isinstance(c, RouteRefreshCap) or (isinstance(c, RawCapability) and c.raw_code == 128)
        for c in caps
    )
    err = s.enhanced_route_refresh and any(isinstance(c, EnhancedRouteRefresh) for c in caps)
    ours, theirs = _gr(local), _gr(peer)
    gr = ours is not None and theirs is not None
    role = next((c.role for c in caps if isinstance(c, BgpRole)), None)
    return Negotiated(
        options=negotiate_options(local, peer),
        hold_time=hold,
        keepalive_time=keepalive,
        families=frozenset(_families(local) & _families(peer)),
        route_refresh=rr,
        enhanced_route_refresh=err and s.route_refresh,
        graceful_restart=gr,
        notification_gr=(
            gr
            and ours is not None
            and theirs is not None
            and bool(ours.restart_flags & theirs.restart_flags & GR_NOTIFICATION)
        ),
        peer_restart_time=theirs.restart_time if theirs is not None else 0,
        peer_restarting=bool(theirs.restart_flags & GR_RESTART) if theirs is not None else False,
        peer_forwarding=frozenset(
            (a, f) for a, f, flags in (theirs.afisafis if theirs else ()) if flags & GR_FORWARDING
        ),
        peer_role=role,
    )


def collision_winner(local_id: bytes, remote_id: bytes) -> str:
    """RFC 4271 6.8: which connection survives a collision.

    "local" when the connection the local speaker initiated survives: the speaker with
    the higher BGP Identifier (compared as unsigned 4-octet integers) keeps the
    connection it opened.  "remote" otherwise.
    """
    return (
        "local" if int.from_bytes(local_id, "big") > int.from_bytes(remote_id, "big") else "remote"
    )


_HARD_CEASE = (1, 2, 3, 9)
"""RFC 8538 5: Cease subcodes that mean "flush the routes" once the N bit is agreed."""


def hard_reset(n: Notification) -> Notification:
    """RFC 8538 3: wrap a Cease whose subcode must flush routes in a Cease/Hard Reset."""
    if n.code == NotificationCode.CEASE and n.subcode in _HARD_CEASE and n.subcode != 9:
        # the data is the wrapped NOTIFICATION's ErrCode, Subcode and Data (RFC 8538 3)
        inner = bytes((n.code, n.subcode)) + n.data
        return Notification(n.code, ErrorSubcode.Cease.HARD_RESET, inner)
    return n


def is_hard_reset(n: Notification) -> bool:
    return n.code == NotificationCode.CEASE and n.subcode == ErrorSubcode.Cease.HARD_RESET


def unwrap_hard_reset(n: Notification) -> Notification:
    """RFC 8538 3: the Cease inside a Hard Reset (e.g. to read an RFC 9003 message)."""
    if is_hard_reset(n) and len(n.data) >= 2:
        return Notification(n.data[0], n.data[1], n.data[2:])
    return n
