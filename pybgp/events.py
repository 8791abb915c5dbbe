"""What a :class:`pybgp.fsm.Session` tells its owner: small frozen events.

How this works: the sans-IO session never calls back.  Every input method
(``start``, ``data_received``, ``handle_timer``...) may queue events, and the owner
drains them with ``Session.next_event()`` after each call, in order.  The adapter acts
on three of them: :class:`ConnectRequested` (open a TCP connection, aborting any
attempt in progress), :class:`CloseRequested` (flush ``data_to_send()`` then close)
and :class:`OpenReceived` (collision detection, RFC 4271 6.8).  The RIB acts on
:class:`Established`, :class:`UpdateReceived` (or :class:`UpdatesReceived`),
:class:`EndOfRib` and
:class:`SessionDown`.  The rest is for logs and operators.

Order of a teardown: ``NotificationSent`` (if any), ``CloseRequested`` (if the
adapter did not report the failure itself), ``StateChanged`` (to Idle or Active),
then ``SessionDown``.  ``SessionDown`` comes exactly once for every TCP connection that
the session had accepted (``connection_made``) and then lost or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .codec.notification import Notification
from .codec.open import Open
from .codec.options import SessionOptions
from .codec.refresh import RouteRefresh
from .codec.update import Update
from .negotiation import Negotiated

__all__ = [
    "State",
    "Event",
    "StateChanged",
    "ConnectRequested",
    "CloseRequested",
    "OpenReceived",
    "Established",
    "UpdateReceived",
    "UpdatesReceived",
    "EndOfRib",
    "RouteRefreshReceived",
    "NotificationSent",
    "NotificationReceived",
    "SessionDown",
    "MaxPrefixExceeded",
]


class State(IntEnum):
    """The six states of RFC 4271 section 8.2.2."""

    IDLE = 1
    CONNECT = 2
    ACTIVE = 3
    OPENSENT = 4
    OPENCONFIRM = 5
    ESTABLISHED = 6


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The FSM moved from ``old`` to ``new``."""

    old: State
    new: State


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """Open a TCP connection to the peer (RFC 4271 8.2.2 "initiates a TCP connection").

    If an attempt is already in progress, abort it and start again.  Report the outcome
    with ``connection_made`` or ``connection_failed``.
    """


@dataclass(frozen=True, slots=True)
class CloseRequested:
    """Send what ``data_to_send()`` holds (best effort), then close the transport."""


@dataclass(frozen=True, slots=True)
class OpenReceived:
    """A valid OPEN arrived; the adapter runs collision detection (RFC 4271 6.8).

    If another connection to the same peer is in OpenConfirm (or Established), compare
    BGP Identifiers with :func:`pybgp.negotiation.collision_winner` and call
    ``collision_dump(now)`` on the losing session.
    """

    open: Open


@dataclass(frozen=True, slots=True)
class Established:
    """The session reached Established (RFC 4271 8.2.2 OpenConfirm, KeepAliveMsg)."""

    options: SessionOptions
    """How to encode and decode UPDATEs on this session (our side's view)."""
    peer_open: Open
    """The peer's OPEN: its capabilities, Graceful Restart time (RFC 4724 3) and so on."""
    negotiated: Negotiated | None = None
    """Everything else that was negotiated: hold time, families, GR, refresh, role."""


@dataclass(frozen=True, slots=True)
class UpdateReceived:
    """An UPDATE for the RIB.  ``update.errors``/``update.action`` keep RFC 7606 outcomes
    weaker than session reset (treat-as-withdraw, attribute discard, AFI/SAFI disable)."""

    update: Update


@dataclass(frozen=True, slots=True)
class UpdatesReceived:
    """Several UPDATEs for the RIB, in order, each as :class:`UpdateReceived` would carry
    it: what an Established session with ``batch_updates`` emits for a run of UPDATEs in
    one read (a full table is hundreds of thousands; one event each costs)."""

    updates: tuple[Update, ...]


@dataclass(frozen=True, slots=True)
class EndOfRib:
    """The peer sent End-of-RIB for (AFI, SAFI) (RFC 4724 2)."""

    afi: int
    safi: int


@dataclass(frozen=True, slots=True)
class RouteRefreshReceived:
    """A ROUTE-REFRESH (RFC 2918) or a BoRR/EoRR marker (RFC 7313) for a negotiated family."""

    refresh: RouteRefresh


@dataclass(frozen=True, slots=True)
class NotificationSent:
    """We sent this NOTIFICATION (RFC 4271 4.5); the connection closes next."""

    notification: Notification


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    """The peer sent this NOTIFICATION; the connection closes next."""

    notification: Notification


@dataclass(frozen=True, slots=True)
class SessionDown:
    """A connection that had been made is gone.

    ``graceful`` is True when Graceful Restart was negotiated and the session went down
    in a way that keeps the peer's routes as stale (RFC 4724 4.2): without a NOTIFICATION,
    or, when both sides set the N bit, with any NOTIFICATION but Cease/Hard Reset
    (RFC 8538 4).  The RIB then keeps the routes until End-of-RIB or the peer's Restart
    Time.  ``established`` says whether the session had reached Established.
    """

    reason: str
    notification: Notification | None
    graceful: bool
    established: bool = False


@dataclass(frozen=True, slots=True)
class MaxPrefixExceeded:
    """The RIB reported ``count`` prefixes, over ``limit`` (RFC 4271 8.1.2 AutomaticStop)."""

    count: int
    limit: int


Event = (
    StateChanged
    | ConnectRequested
    | CloseRequested
    | OpenReceived
    | Established
    | UpdateReceived
    | UpdatesReceived
    | EndOfRib
    | RouteRefreshReceived
    | NotificationSent
    | NotificationReceived
    | SessionDown
    | MaxPrefixExceeded
)
"""Every event a session emits."""
