"""The BGP finite state machine of RFC 4271 section 8, sans-IO.

How this works: a :class:`Session` is one neighbor's FSM over at most one TCP
connection at a time.  It never touches a socket or a clock.  The owner feeds it
inputs, each with ``now`` (monotonic seconds): ``start``, ``stop``,
``connection_made``, ``connection_failed``, ``data_received``, ``handle_timer``,
``write_blocked``/``write_unblocked``, ``collision_dump``, ``prefix_count``; and
after every call drains three outputs: ``data_to_send()`` (bytes for the transport),
``next_event()`` (the events of :mod:`pybgp.events`) and ``get_timer()`` (the earliest
deadline at which to call ``handle_timer``).

Each input becomes an :class:`FsmEvent` named and numbered after RFC 4271 8.1, and
``TRANSITIONS`` maps ``(State, FsmEvent)`` to the handler that performs the actions of
8.2.2 for that pair; each handler's docstring quotes the paragraph it implements.  An
event with no row is an FSM error (RFC 6608): in OpenSent, OpenConfirm and Established
a NOTIFICATION with code 5 and subcode 1, 2 or 3 is sent; in Connect/Active the
connection (if any) gets subcode 0; in Idle every unlisted event is ignored, as 8.2.2
says.  A NOTIFICATION is never answered with one.

Timers are deadlines keyed by the event their expiry raises.  ConnectRetry and
Keepalive are jittered (RFC 4271 10); the HoldTimer is 4 minutes in OpenSent, then the
negotiated hold time (0: no HoldTimer, no keepalives).  The Send Hold Timer of RFC 9687
runs while the adapter reports that the transport cannot take more data
(``write_blocked`` ... ``write_unblocked``, as asyncio's pause_writing/resume_writing).

After a failure the session restarts itself once the IdleHoldTimer expires
(``PeerSettings.idle_hold_time``, doubling per consecutive failure up to 300 s: the
DampPeerOscillations of 8.1.1) unless ``stop`` was called, a collision dumped the
connection, or max-prefix fired without ``max_prefix_restart``.

Two deliberate readings of 8.2.2: a ROUTE-REFRESH is accepted in Established (RFC 2918)
and restarts the HoldTimer like any message; a BGPHeaderErr in Established sends the
header error (RFC 4271 6.1) rather than an FSM error.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from struct import pack

from .codec.errors import Action, BgpError, ErrorSubcode, NotificationCode
from .codec.header import HEADER_LEN, MessageType, check_header
from .codec.message import Keepalive, Message, decode_message, encode_message
from .codec.notification import Notification
from .codec.open import Open
from .codec.options import DEFAULT_OPTIONS, MAX_MESSAGE, SessionOptions
from .codec.refresh import RouteRefresh
from .codec.update import MpUnreach, Update
from .events import (
    CloseRequested,
    ConnectRequested,
    EndOfRib,
    Established,
    Event,
    MaxPrefixExceeded,
    NotificationReceived,
    NotificationSent,
    OpenReceived,
    RouteRefreshReceived,
    SessionDown,
    State,
    StateChanged,
    UpdateReceived,
    UpdatesReceived,
)
from .negotiation import (
    LARGE_HOLD_TIME,
    Negotiated,
    PeerSettings,
    build_open,
    check_open,
    collision_winner,
    hard_reset,
    is_hard_reset,
    negotiate,
    unwrap_hard_reset,
)

__all__ = [
    "FsmEvent",
    "Session",
    "UsageError",
    "PeerSettings",
    "Negotiated",
    "TRANSITIONS",
    "collision_winner",
    # re-exported from pybgp.events, so that an adapter needs one import
    "State", "Event", "StateChanged", "ConnectRequested", "CloseRequested", "OpenReceived",
    "Established", "UpdateReceived", "UpdatesReceived", "EndOfRib", "RouteRefreshReceived",
    "NotificationSent", "NotificationReceived", "SessionDown", "MaxPrefixExceeded",
]  # fmt: skip

_MAX_IDLE_HOLD = 300.0
_CONNECTED = (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED)
_FSM_SUBCODE = {
    State.OPENSENT: ErrorSubcode.Fsm.UNEXPECTED_IN_OPENSENT,
    State.OPENCONFIRM: ErrorSubcode.Fsm.UNEXPECTED_IN_OPENCONFIRM,
    State.ESTABLISHED: ErrorSubcode.Fsm.UNEXPECTED_IN_ESTABLISHED,
}


class FsmEvent(IntEnum):
    """RFC 4271 8.1 events with their numbers; 29..31 are this module's numbers for the
    events of later RFCs."""

    ManualStart = 1
    ManualStop = 2
    AutomaticStart = 3
    ManualStart_with_PassiveTcpEstablishment = 4
    AutomaticStart_with_PassiveTcpEstablishment = 5
    AutomaticStop = 8
    ConnectRetryTimer_Expires = 9
    HoldTimer_Expires = 10
    KeepaliveTimer_Expires = 11
    DelayOpenTimer_Expires = 12
    IdleHoldTimer_Expires = 13
    Tcp_CR_Acked = 16
    TcpConnectionConfirmed = 17
    TcpConnectionFails = 18
    BGPOpen = 19
    BGPOpen_with_DelayOpenTimer_running = 20
    BGPHeaderErr = 21
    BGPOpenMsgErr = 22
    OpenCollisionDump = 23
    NotifMsgVerErr = 24
    NotifMsg = 25
    KeepAliveMsg = 26
    UpdateMsg = 27
    UpdateMsgErr = 28
    SendHoldTimer_Expires = 29
    """RFC 9687 SendHoldTimer_Expires."""
    RouteRefreshMsg = 30
    """RFC 2918 / RFC 7313: a ROUTE-REFRESH, BoRR or EoRR."""
    RouteRefreshMsgErr = 31
    """RFC 7313 5: a malformed ROUTE-REFRESH."""


class UsageError(Exception):
    """The caller used the API wrongly (h11's LocalProtocolError): not the peer's fault."""


@dataclass(slots=True)
class _In:
    """One FSM event with what it carries (internal, one per message received: not
    frozen, which makes it three times cheaper to build)."""

    event: FsmEvent
    now: float
    message: Message | None = None
    error: BgpError | None = None
    notification: Notification | None = None
    count: int = 0


class Session:
    """One BGP neighbor's FSM (RFC 4271 8).  See the module docstring."""

    def __init__(self, settings: PeerSettings, seed: int = 0, batch_updates: bool = False) -> None:
        self.settings = settings
        self.batch_updates = batch_updates
        """In Established, a run of clean UPDATEs in one read is one UpdatesReceived."""
        self.state = State.IDLE
        self.options: SessionOptions | None = None
        """The negotiated codec options; set from OpenConfirm until the connection ends."""
        self.negotiated: Negotiated | None = None
        self.peer_open: Open | None = None
        self.local_open: Open | None = None
        self.connect_retry_counter = 0
        """ConnectRetryCounter (RFC 4271 8.1.1)."""
        self.connected = False
        """A TCP connection is up (``connection_made`` and not yet dropped)."""
        self._rng = random.Random(seed)
        self._timers: dict[FsmEvent, float] = {}
        self._out = bytearray()
        self._in = bytearray()
        self._events: deque[Event] = deque()
        self._auto = False
        self._failures = 0
        self._max_prefix_restart: float | None = None
        self._clock = 0.0

    # ----------------------------------------------------------------- inputs
    def start(self, now: float) -> None:
        """ManualStart, or ManualStart_with_PassiveTcpEstablishment when ``passive``."""
        passive = self.settings.passive
        ev = FsmEvent.ManualStart_with_PassiveTcpEstablishment if passive else FsmEvent.ManualStart
        self._dispatch(_In(ev, now))

    def stop(self, now: float, message: str = "", reset: bool = False) -> None:
        """ManualStop: Cease/Administrative Shutdown (or Reset) with an RFC 9003 message.

        ``ValueError`` if the message is over 255 octets of UTF-8.
        """
        n = Notification.shutdown(message, reset)
        self._dispatch(_In(FsmEvent.ManualStop, now, notification=n))

    def connection_made(self, now: float) -> None:
        """Tcp_CR_Acked (we connected) or TcpConnectionConfirmed (the peer connected)."""
        active = self.state == State.ACTIVE
        ev = FsmEvent.TcpConnectionConfirmed if active else FsmEvent.Tcp_CR_Acked
        self._dispatch(_In(ev, now))

    def connection_failed(self, now: float) -> None:
        """TcpConnectionFails: the connect attempt failed, or the transport closed."""
        self._dispatch(_In(FsmEvent.TcpConnectionFails, now))

    def collision_dump(self, now: float) -> None:
        """OpenCollisionDump: RFC 4271 6.8 chose the other connection; close this one."""
        self._dispatch(_In(FsmEvent.OpenCollisionDump, now))

    def data_received(self, data: bytes, now: float) -> None:
        """Bytes from the transport.  Discarded when no connection is up.

        With ``batch_updates``, a run of UPDATEs in Established whose RFC 7606 outcomes
        are weaker than AFI/SAFI disable, End-of-RIB markers excepted, is queued as one
        :class:`UpdatesReceived` (the FSM does for each what Event 27 does: the
        HoldTimer restarts); any other message goes through the FSM alone, as without.
        """
        if not self.connected:
            return
        self._in += data
        while self.connected and len(self._in) >= HEADER_LEN:
            if self.batch_updates and self.state == State.ESTABLISHED and self._run(now):
                continue
            max_len = self.options.max_message if self.options is not None else MAX_MESSAGE
            try:
                length, _ = check_header(self._in, 0, max_len)
            except BgpError as exc:  # RFC 4271 6.1
                self._dispatch(_In(FsmEvent.BGPHeaderErr, now, error=exc))
                return
            if len(self._in) < length:
                return
            raw = bytes(self._in[:length])
            del self._in[:length]
            self._receive(raw, now)

    def _run(self, now: float) -> bool:
        """Take the run of plain UPDATEs at the start of the input (Established); False
        if the first message is anything else (including one that fails to decode)."""
        buf = self._in
        if buf[18] != MessageType.UPDATE:
            return False
        data = bytes(buf)  # one copy, then each message one slice of it
        opts = self.options or DEFAULT_OPTIONS
        max_len = opts.max_message
        n, pos = len(buf), 0
        got: list[Update] = []
        while n - pos >= HEADER_LEN and data[pos + 18] == MessageType.UPDATE:
            try:
                length, _ = check_header(data, pos, max_len)
                if n - pos < length:
                    break
                msg = decode_message(data[pos : pos + length], opts)
            except BgpError:
                break  # the message-at-a-time path reports it
            if not isinstance(msg, Update) or msg.action >= Action.AFISAFI_DISABLE:
                break
            if msg.end_of_rib is not None:
                break
            got.append(msg)
            pos += length
        if not got:
            return False
        del buf[:pos]
        self._clock = max(self._clock, now)
        self._arm_hold(now)  # RFC 4271 8.2.2, Established, Event 27
        self._events.append(UpdatesReceived(tuple(got)))
        return True

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        while True:
            due = [(t, ev) for ev, t in self._timers.items() if t <= now]
            if not due:
                return
            _, ev = min(due)
            del self._timers[ev]
            self._dispatch(_In(ev, now))

    def write_blocked(self, now: float) -> None:
        """The transport buffer is full: start the Send Hold Timer (RFC 9687)."""
        if self.state in _CONNECTED and FsmEvent.SendHoldTimer_Expires not in self._timers:
            hold = self.negotiated.hold_time if self.negotiated else self.settings.hold_time
            limit = self.settings.effective_send_hold(hold)
            if limit is not None:
                self._timers[FsmEvent.SendHoldTimer_Expires] = now + limit

    def write_unblocked(self, now: float) -> None:
        """The transport drains again: stop the Send Hold Timer."""
        self._timers.pop(FsmEvent.SendHoldTimer_Expires, None)

    def prefix_count(
        self, count: int, now: float, *, afi: int | None = None, safi: int | None = None
    ) -> None:
        """The RIB holds ``count`` accepted prefixes from this peer.

        Over ``max_prefixes``: AutomaticStop (RFC 4271 8.1.2), Cease/Maximum Number of
        Prefixes Reached with data AFI, SAFI, limit (RFC 4486 4).  ``afi``/``safi`` name
        the family for that data; the first configured family by default.
        """
        limit = self.settings.max_prefixes
        if limit is None or count <= limit:
            return
        fam = (afi, safi) if afi is not None and safi is not None else self.settings.families[0]
        data = pack("!HBI", fam[0], fam[1], limit & 0xFFFFFFFF)
        n = Notification(NotificationCode.CEASE, 1, data)
        self._dispatch(_In(FsmEvent.AutomaticStop, now, notification=n, count=count))

    # ------------------------------------------------------- user messages
    def send_update(self, update: Update) -> None:
        """Send an UPDATE (Established only); ``ValueError`` if it is too long."""
        options = self._require_established()
        self._out += encode_message(update, options)
        self._restart_keepalive_after_send()

    def send_encoded_updates(self, data: bytes) -> None:
        """Send whole UPDATE messages already encoded for ``options`` (headers included).

        The bulk path of ``send_update``, for ``pack.encode_announcements``."""
        self._require_established()
        self._out += data
        self._restart_keepalive_after_send()

    def send_end_of_rib(self, afi: int, safi: int) -> None:
        """Send End-of-RIB (RFC 4724 2) for (AFI, SAFI)."""
        if (afi, safi) == (1, 1):
            self.send_update(Update())
        else:
            self.send_update(Update(mp_unreach=MpUnreach(afi, safi, raw_nlri=b"")))

    def send_route_refresh(self, afi: int, safi: int, subtype: int = 0) -> None:
        """Send ROUTE-REFRESH (RFC 2918 3) or BoRR (1) / EoRR (2) (RFC 7313 4)."""
        options = self._require_established()
        neg = self.negotiated
        assert neg is not None
        if not neg.route_refresh:
            raise UsageError("the peer did not advertise Route Refresh (RFC 2918 4)")
        if subtype not in (0, 1, 2):
            raise UsageError(f"ROUTE-REFRESH subtype {subtype} is not 0, 1 or 2")
        if subtype and not neg.enhanced_route_refresh:
            raise UsageError("BoRR/EoRR need Enhanced Route Refresh (RFC 7313 4)")
        if (afi, safi) not in neg.families:
            raise UsageError(f"AFI/SAFI {afi}/{safi} was not negotiated")
        self._out += encode_message(RouteRefresh(afi, safi, subtype), options)

    # ---------------------------------------------------------------- outputs
    def data_to_send(self) -> bytes:
        """Everything queued for the transport; empties the queue."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event | None:
        """The oldest undelivered event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline at which ``handle_timer`` must be called, or None."""
        return min(self._timers.values(), default=None)

    # ---------------------------------------------------------- internals
    def _require_established(self) -> SessionOptions:
        if self.state != State.ESTABLISHED or self.options is None:
            raise UsageError(f"cannot send in state {self.state.name}, only in ESTABLISHED")
        return self.options

    def _receive(self, raw: bytes, now: float) -> None:
        """Classify one framed message as an FSM event (RFC 4271 8.1.4, 8.1.5)."""
        mtype = raw[18]
        try:
            msg = decode_message(raw, self.options or DEFAULT_OPTIONS)
        except BgpError as exc:
            if exc.code == NotificationCode.MESSAGE_HEADER_ERROR:
                ev = FsmEvent.BGPHeaderErr
            elif mtype == MessageType.OPEN:
                ev = FsmEvent.BGPOpenMsgErr
            elif mtype == MessageType.UPDATE:
                ev = FsmEvent.UpdateMsgErr
            else:
                ev = FsmEvent.RouteRefreshMsgErr
            self._dispatch(_In(ev, now, error=exc))
            return
        if isinstance(msg, Open):
            err = check_open(self.settings, msg)
            if err is not None:
                self._dispatch(_In(FsmEvent.BGPOpenMsgErr, now, msg, err))
            elif FsmEvent.DelayOpenTimer_Expires in self._timers:
                self._dispatch(_In(FsmEvent.BGPOpen_with_DelayOpenTimer_running, now, msg))
            else:
                self._dispatch(_In(FsmEvent.BGPOpen, now, msg))
        elif isinstance(msg, Notification):
            self._events.append(NotificationReceived(msg))
            version = msg.code == NotificationCode.OPEN_MESSAGE_ERROR and msg.subcode == 1
            ev = FsmEvent.NotifMsgVerErr if version else FsmEvent.NotifMsg
            self._dispatch(_In(ev, now, notification=msg))
        elif isinstance(msg, Keepalive):
            self._dispatch(_In(FsmEvent.KeepAliveMsg, now, msg))
        elif isinstance(msg, Update):
            # RFC 4760 7 / RFC 7606 2: AFI/SAFI disable may be a session reset, and is here
            if msg.action >= Action.AFISAFI_DISABLE:
                self._dispatch(_In(FsmEvent.UpdateMsgErr, now, msg, msg.errors[0]))
            else:
                self._dispatch(_In(FsmEvent.UpdateMsg, now, msg))
        else:
            self._dispatch(_In(FsmEvent.RouteRefreshMsg, now, msg))

    def _dispatch(self, ev: _In) -> None:
        self._clock = max(self._clock, ev.now)
        TRANSITIONS.get((self.state, ev.event), Session._fsm_error)(self, ev)

    def _set_state(self, new: State) -> None:
        if new != self.state:
            old, self.state = self.state, new
            self._events.append(StateChanged(old, new))

    def _jitter(self, seconds: float) -> float:
        """RFC 4271 10: a random factor in [0.75, 1] against synchronisation."""
        return seconds * self._rng.uniform(0.75, 1.0) if self.settings.jitter else seconds

    def _arm_connect_retry(self, now: float) -> None:
        self._timers[FsmEvent.ConnectRetryTimer_Expires] = now + self._jitter(
            self.settings.connect_retry
        )

    def _arm_hold(self, now: float) -> None:
        hold = self.negotiated.hold_time if self.negotiated else 0
        if hold:
            self._timers[FsmEvent.HoldTimer_Expires] = now + hold

    def _arm_keepalive(self, now: float) -> None:
        if self.negotiated and self.negotiated.keepalive_time:
            # RFC 4271 4.4: KEEPALIVEs MUST NOT be sent more often than once a second,
            # jitter included (a 3 s hold time would otherwise give 0.75 s)
            ka = max(1.0, self._jitter(self.negotiated.keepalive_time))
            self._timers[FsmEvent.KeepaliveTimer_Expires] = now + ka

    def _restart_keepalive_after_send(self) -> None:
        """8.2.2 Established: sending a KEEPALIVE or UPDATE restarts the KeepaliveTimer.

        ``send_update`` takes no ``now``: the latest ``now`` of any input is used."""
        if FsmEvent.KeepaliveTimer_Expires in self._timers:
            self._arm_keepalive(self._clock)

    def _send(self, msg: Message) -> None:
        self._out += encode_message(msg, self.options or DEFAULT_OPTIONS)

    def _send_keepalive(self, now: float) -> None:
        self._send(Keepalive())
        self._arm_keepalive(now)

    def _send_open(self, now: float) -> None:
        """Complete BGP initialization and send OPEN; HoldTimer to a large value (8.2.2)."""
        self.local_open = build_open(self.settings)
        self._send(self.local_open)
        self._timers[FsmEvent.HoldTimer_Expires] = now + LARGE_HOLD_TIME

    def _send_notification(self, n: Notification) -> Notification:
        if self.negotiated is not None and self.negotiated.notification_gr:
            n = hard_reset(n)  # RFC 8538 5
        room = (self.options or DEFAULT_OPTIONS).max_message - HEADER_LEN - 2
        if len(n.data) > room:
            n = Notification(n.code, n.subcode, n.data[:room])
        self._send(n)
        self._events.append(NotificationSent(n))
        return n

    def _drop(
        self,
        reason: str,
        now: float,
        notification: Notification | None = None,
        *,
        to: State = State.IDLE,
        failed: bool = False,
        count: bool = True,
    ) -> None:
        """Release the BGP resources and drop the TCP connection (RFC 4271 8.2.2).

        ``failed``: the adapter reported the failure, so no CloseRequested.  ``count``:
        increment ConnectRetryCounter (and the damping count).
        """
        had_connection, established = self.connected, self.state == State.ESTABLISHED
        neg = self.negotiated
        if had_connection and not failed:
            self._events.append(CloseRequested())  # the adapter flushes what is queued
        elif failed:
            self._out.clear()  # nowhere to send it
        self.connected = False
        self._in.clear()
        self._timers.clear()
        self.options = self.negotiated = self.peer_open = self.local_open = None
        if count:
            self.connect_retry_counter += 1
        self._failures += 1
        if to == State.ACTIVE:
            self._arm_connect_retry(now)
        elif self._auto:
            delay = self.settings.idle_hold_time
            if self._max_prefix_restart is not None:
                delay, self._max_prefix_restart = self._max_prefix_restart, None
            elif delay is not None:
                delay = min(delay * 2 ** max(self._failures - 1, 0), max(delay, _MAX_IDLE_HOLD))
            if delay is not None:
                self._timers[FsmEvent.IdleHoldTimer_Expires] = now + delay
        self._set_state(to)
        if had_connection:
            graceful = bool(
                established
                and neg is not None
                and neg.graceful_restart
                and (
                    notification is None
                    or (neg.notification_gr and not is_hard_reset(notification))
                )
            )
            self._events.append(SessionDown(reason, notification, graceful, established))

    # ------------------------------------------------------------ handlers
    def _ignore(self, ev: _In) -> None:
        """8.2.2: the event "does not cause change in the state" / "is ignored"."""

    def _refuse(self, ev: _In) -> None:
        """8.2.2 Idle: no connection is accepted in Idle; the adapter must close it."""
        self._events.append(CloseRequested())

    def _start(self, ev: _In) -> None:
        """8.2.2 Idle, Events 1/3 (ManualStart/AutomaticStart): initializes resources,
        sets ConnectRetryCounter to zero (manual only), starts the ConnectRetryTimer,
        initiates a TCP connection and changes to Connect.  Events 4/5 (passive): the
        same without initiating, changing to Active."""
        manual = ev.event in (
            FsmEvent.ManualStart,
            FsmEvent.ManualStart_with_PassiveTcpEstablishment,
        )
        if manual:
            self.connect_retry_counter = 0
            self._failures = 0
        self._auto = True
        self._timers.clear()
        self._arm_connect_retry(ev.now)
        if self.settings.passive:
            self._set_state(State.ACTIVE)
        else:
            self._set_state(State.CONNECT)
            self._events.append(ConnectRequested())

    def _idle_hold_expires(self, ev: _In) -> None:
        """8.2.2 Idle / 8.1.1 DampPeerOscillations: IdleHoldTimer_Expires (Event 13) is the
        automatic restart: AutomaticStart (with PassiveTcpEstablishment when passive)."""
        passive = self.settings.passive
        auto = FsmEvent.AutomaticStart_with_PassiveTcpEstablishment if passive else None
        self._start(_In(auto or FsmEvent.AutomaticStart, ev.now))

    def _stop_idle(self, ev: _In) -> None:
        """8.2.2 Idle: "ManualStop (Event 2) [is] ignored in the Idle state"; it also
        cancels the automatic restart."""
        self._auto = False
        self._timers.pop(FsmEvent.IdleHoldTimer_Expires, None)

    def _stop(self, ev: _In) -> None:
        """8.2.2 every other state, Event 2: sends the NOTIFICATION with a Cease (when a
        connection is up), drops the connection, releases all resources, sets
        ConnectRetryCounter to zero and changes to Idle."""
        self._auto = False
        n = None
        if self.connected and ev.notification is not None:
            n = self._send_notification(ev.notification)
        self._drop("administrative stop", ev.now, n, count=False)
        self.connect_retry_counter = 0

    def _automatic_stop(self, ev: _In) -> None:
        """8.2.2 OpenSent/OpenConfirm/Established, Event 8 (AutomaticStop, here max-prefix):
        sends the NOTIFICATION with a Cease, increments ConnectRetryCounter, changes to
        Idle.  The restart waits for ``max_prefix_restart`` (RFC 4486 4) or the operator."""
        limit = self.settings.max_prefixes or 0
        self._events.append(MaxPrefixExceeded(ev.count, limit))
        restart = self.settings.max_prefix_restart
        self._auto = restart is not None
        self._max_prefix_restart = restart
        assert ev.notification is not None
        n = self._send_notification(ev.notification)
        self._drop(f"maximum prefixes ({limit}) exceeded", ev.now, n)

    def _connect_retry_connect(self, ev: _In) -> None:
        """8.2.2 Connect, Event 9: drops the TCP connection, restarts the ConnectRetryTimer,
        stops the DelayOpenTimer, initiates a TCP connection, stays in Connect."""
        self._timers.pop(FsmEvent.DelayOpenTimer_Expires, None)
        self._arm_connect_retry(ev.now)
        self._events.append(ConnectRequested())

    def _connect_retry_active(self, ev: _In) -> None:
        """8.2.2 Active, Event 9: restarts the ConnectRetryTimer, initiates a TCP
        connection and changes to Connect.  A passive session keeps listening in Active."""
        self._arm_connect_retry(ev.now)
        if not self.settings.passive:
            self._set_state(State.CONNECT)
            self._events.append(ConnectRequested())

    def _tcp_up(self, ev: _In) -> None:
        """8.2.2 Connect/Active, Events 16/17: stops the ConnectRetryTimer; with DelayOpen,
        starts the DelayOpenTimer and stays; else sends OPEN, sets the HoldTimer to a large
        value and changes to OpenSent."""
        self.connected = True
        self._in.clear()
        self._out.clear()  # anything left belonged to an earlier connection
        self._timers.pop(FsmEvent.ConnectRetryTimer_Expires, None)
        if self.settings.delay_open > 0:
            self._timers[FsmEvent.DelayOpenTimer_Expires] = ev.now + self.settings.delay_open
        else:
            self._send_open(ev.now)
            self._set_state(State.OPENSENT)

    def _delay_open_expires(self, ev: _In) -> None:
        """8.2.2 Connect/Active, Event 12: sends OPEN, sets the HoldTimer to a large value,
        changes to OpenSent."""
        self._send_open(ev.now)
        self._set_state(State.OPENSENT)

    def _tcp_fails_connect(self, ev: _In) -> None:
        """8.2.2 Connect, Event 18: with the DelayOpenTimer running, restarts the
        ConnectRetryTimer, stops the DelayOpenTimer and changes to Active; otherwise stops
        the ConnectRetryTimer, releases resources and changes to Idle."""
        if FsmEvent.DelayOpenTimer_Expires in self._timers:
            self._drop("TCP connection failed", ev.now, to=State.ACTIVE, failed=True, count=False)
        else:
            self._drop("TCP connection failed", ev.now, failed=True, count=False)

    def _tcp_fails_active(self, ev: _In) -> None:
        """8.2.2 Active, Event 18: restarts the ConnectRetryTimer, stops the DelayOpenTimer,
        releases resources, increments ConnectRetryCounter, changes to Idle."""
        self._drop("TCP connection failed", ev.now, failed=True)

    def _tcp_fails_opensent(self, ev: _In) -> None:
        """8.2.2 OpenSent, Event 18: closes the BGP connection, restarts the
        ConnectRetryTimer, continues to listen and changes to Active."""
        self._drop("TCP connection failed", ev.now, to=State.ACTIVE, failed=True, count=False)

    def _tcp_fails(self, ev: _In) -> None:
        """8.2.2 OpenConfirm/Established, Event 18: releases resources, drops the
        connection, increments ConnectRetryCounter, changes to Idle."""
        self._drop("TCP connection failed", ev.now, failed=True)

    def _notif_received(self, ev: _In) -> None:
        """8.2.2 every connected state, Events 24/25: sets the ConnectRetryTimer to zero,
        releases resources, drops the connection, changes to Idle (counting Event 25).
        A NOTIFICATION is never answered with one (RFC 4271 6)."""
        n = ev.notification
        assert n is not None
        self._drop(
            f"NOTIFICATION received: {unwrap_hard_reset(n).describe()}",
            ev.now,
            n,
            count=ev.event == FsmEvent.NotifMsg,
        )

    def _negotiate(self, ev: _In) -> None:
        assert isinstance(ev.message, Open) and self.local_open is not None
        self.peer_open = ev.message
        self.negotiated = negotiate(self.settings, self.local_open, ev.message)
        self.options = self.negotiated.options
        self._events.append(OpenReceived(ev.message))

    def _open_with_delay(self, ev: _In) -> None:
        """8.2.2 Connect/Active, Event 20: stops the ConnectRetryTimer and the
        DelayOpenTimer, sends OPEN, sends KEEPALIVE, starts the KeepaliveTimer and the
        HoldTimer (unless the hold time is zero) and changes to OpenConfirm."""
        self._timers.pop(FsmEvent.DelayOpenTimer_Expires, None)
        self._send_open(ev.now)
        self._open_opensent(ev)

    def _open_opensent(self, ev: _In) -> None:
        """8.2.2 OpenSent, Event 19: sets the ConnectRetryTimer to zero, sends KEEPALIVE,
        sets the KeepaliveTimer and the HoldTimer to the negotiated value (neither when
        it is zero) and changes to OpenConfirm."""
        self._timers.pop(FsmEvent.HoldTimer_Expires, None)
        self._negotiate(ev)
        self._send_keepalive(ev.now)
        self._arm_hold(ev.now)
        self._set_state(State.OPENCONFIRM)

    def _error(self, ev: _In) -> None:
        """8.2.2 Connect/Active (SendNOTIFICATIONwithoutOPEN), OpenSent, OpenConfirm,
        Events 21/22; Established, Event 28 (and 21, and RFC 7313's ROUTE-REFRESH error):
        sends the NOTIFICATION with the error, releases resources, drops the connection,
        increments ConnectRetryCounter, changes to Idle."""
        assert ev.error is not None
        n = self._send_notification(Notification.from_error(ev.error))
        self._drop(ev.error.reason, ev.now, n)

    def _collision(self, ev: _In) -> None:
        """8.2.2 OpenSent/OpenConfirm/Established, Event 23: sends the NOTIFICATION with a
        Cease (Connection Collision Resolution, RFC 4486), drops the connection, changes
        to Idle.  No automatic restart: the other connection carries the session."""
        self._auto = False
        n = None
        if self.connected:
            n = self._send_notification(
                Notification(
                    NotificationCode.CEASE, ErrorSubcode.Cease.CONNECTION_COLLISION_RESOLUTION
                )
            )
        self._drop("connection collision (RFC 4271 6.8)", ev.now, n)

    def _hold_expires(self, ev: _In) -> None:
        """8.2.2 OpenSent/OpenConfirm/Established, Event 10: sends the NOTIFICATION with
        the Error Code Hold Timer Expired, drops the connection, changes to Idle."""
        n = self._send_notification(Notification(NotificationCode.HOLD_TIMER_EXPIRED))
        self._drop("hold timer expired", ev.now, n)

    def _send_hold_expires(self, ev: _In) -> None:
        """RFC 9687, OpenSent/OpenConfirm/Established: SendHoldTimer_Expires sends (best
        effort) the NOTIFICATION Send Hold Timer Expired, drops the connection and
        changes to Idle."""
        n = self._send_notification(Notification(NotificationCode.SEND_HOLD_TIMER_EXPIRED))
        self._drop("send hold timer expired: the peer does not read", ev.now, n)

    def _keepalive_expires(self, ev: _In) -> None:
        """8.2.2 OpenConfirm/Established, Event 11: sends a KEEPALIVE and restarts the
        KeepaliveTimer."""
        self._send_keepalive(ev.now)

    def _keepalive_confirm(self, ev: _In) -> None:
        """8.2.2 OpenConfirm, Event 26: restarts the HoldTimer and changes to Established."""
        self._arm_hold(ev.now)
        self._failures = 0
        self._set_state(State.ESTABLISHED)
        assert self.options is not None and self.peer_open is not None
        self._events.append(Established(self.options, self.peer_open, self.negotiated))

    def _keepalive(self, ev: _In) -> None:
        """8.2.2 Established, Event 26: restarts the HoldTimer."""
        self._arm_hold(ev.now)

    def _update(self, ev: _In) -> None:
        """8.2.2 Established, Event 27: processes the message, restarts the HoldTimer.
        An End-of-RIB marker (RFC 4724 2) becomes :class:`EndOfRib`."""
        self._arm_hold(ev.now)
        assert isinstance(ev.message, Update)
        eor = ev.message.end_of_rib
        if eor is not None:
            self._events.append(EndOfRib(*eor))
        else:
            self._events.append(UpdateReceived(ev.message))

    def _route_refresh(self, ev: _In) -> None:
        """RFC 2918 4, Established: a ROUTE-REFRESH for a negotiated AFI/SAFI is passed on;
        one for an AFI/SAFI not negotiated is ignored, and so is an unknown Message
        Subtype (RFC 7313 3.2)."""
        self._arm_hold(ev.now)
        rr = ev.message
        assert isinstance(rr, RouteRefresh) and self.negotiated is not None
        if (rr.afi, rr.safi) in self.negotiated.families and rr.subtype in (0, 1, 2):
            self._events.append(RouteRefreshReceived(rr))

    def _fsm_error(self, ev: _In) -> None:
        """No row: RFC 4271 8.2.2 "any other event" and RFC 6608.  Idle ignores it;
        OpenSent/OpenConfirm/Established send FSM Error with subcode 1/2/3, Connect/Active
        subcode 0 if a connection is up; then the connection drops and the state is Idle."""
        if self.state == State.IDLE:
            return
        n = None
        if self.connected:
            sub = _FSM_SUBCODE.get(self.state, ErrorSubcode.Fsm.UNSPECIFIED)
            n = self._send_notification(Notification(NotificationCode.FSM_ERROR, sub))
        self._drop(f"FSM error: {ev.event.name} in {self.state.name}", ev.now, n)


E, S = FsmEvent, State
_Handler = Callable[[Session, _In], None]
_TCP_UP = (E.Tcp_CR_Acked, E.TcpConnectionConfirmed)
_STARTS = (
    E.ManualStart,
    E.AutomaticStart,
    E.ManualStart_with_PassiveTcpEstablishment,
    E.AutomaticStart_with_PassiveTcpEstablishment,
)

TRANSITIONS: dict[tuple[State, FsmEvent], _Handler] = {
    # 8.2.2 Idle: start, automatic restart; "any other event ... is ignored"
    **{(S.IDLE, e): Session._start for e in _STARTS},
    (S.IDLE, E.IdleHoldTimer_Expires): Session._idle_hold_expires,
    (S.IDLE, E.ManualStop): Session._stop_idle,
    **{(S.IDLE, e): Session._refuse for e in _TCP_UP},
    # 8.2.2 Connect
    **{(S.CONNECT, e): Session._ignore for e in _STARTS},  # "ignored"
    (S.CONNECT, E.ManualStop): Session._stop,
    (S.CONNECT, E.ConnectRetryTimer_Expires): Session._connect_retry_connect,
    (S.CONNECT, E.DelayOpenTimer_Expires): Session._delay_open_expires,
    **{(S.CONNECT, e): Session._tcp_up for e in _TCP_UP},
    (S.CONNECT, E.TcpConnectionFails): Session._tcp_fails_connect,
    (S.CONNECT, E.BGPOpen_with_DelayOpenTimer_running): Session._open_with_delay,
    (S.CONNECT, E.BGPHeaderErr): Session._error,
    (S.CONNECT, E.BGPOpenMsgErr): Session._error,
    (S.CONNECT, E.NotifMsgVerErr): Session._notif_received,
    (S.CONNECT, E.NotifMsg): Session._notif_received,
    (S.CONNECT, E.OpenCollisionDump): Session._collision,
    (S.CONNECT, E.AutomaticStop): Session._ignore,
    # 8.2.2 Active
    **{(S.ACTIVE, e): Session._ignore for e in _STARTS},  # "ignored"
    (S.ACTIVE, E.ManualStop): Session._stop,
    (S.ACTIVE, E.ConnectRetryTimer_Expires): Session._connect_retry_active,
    (S.ACTIVE, E.DelayOpenTimer_Expires): Session._delay_open_expires,
    **{(S.ACTIVE, e): Session._tcp_up for e in _TCP_UP},
    (S.ACTIVE, E.TcpConnectionFails): Session._tcp_fails_active,
    (S.ACTIVE, E.BGPOpen_with_DelayOpenTimer_running): Session._open_with_delay,
    (S.ACTIVE, E.BGPHeaderErr): Session._error,
    (S.ACTIVE, E.BGPOpenMsgErr): Session._error,
    (S.ACTIVE, E.NotifMsgVerErr): Session._notif_received,
    (S.ACTIVE, E.NotifMsg): Session._notif_received,
    (S.ACTIVE, E.OpenCollisionDump): Session._collision,
    (S.ACTIVE, E.AutomaticStop): Session._ignore,
    # 8.2.2 OpenSent
    **{(S.OPENSENT, e): Session._ignore for e in _STARTS},  # "ignored"
    (S.OPENSENT, E.ManualStop): Session._stop,
    (S.OPENSENT, E.AutomaticStop): Session._automatic_stop,
    (S.OPENSENT, E.HoldTimer_Expires): Session._hold_expires,
    (S.OPENSENT, E.SendHoldTimer_Expires): Session._send_hold_expires,
    **{(S.OPENSENT, e): Session._ignore for e in _TCP_UP},  # a second connection (6.8)
    (S.OPENSENT, E.TcpConnectionFails): Session._tcp_fails_opensent,
    (S.OPENSENT, E.BGPOpen): Session._open_opensent,
    (S.OPENSENT, E.BGPHeaderErr): Session._error,
    (S.OPENSENT, E.BGPOpenMsgErr): Session._error,
    (S.OPENSENT, E.OpenCollisionDump): Session._collision,
    (S.OPENSENT, E.NotifMsgVerErr): Session._notif_received,
    (S.OPENSENT, E.NotifMsg): Session._notif_received,
    # 8.2.2 OpenConfirm
    **{(S.OPENCONFIRM, e): Session._ignore for e in _STARTS},  # "ignored"
    (S.OPENCONFIRM, E.ManualStop): Session._stop,
    (S.OPENCONFIRM, E.AutomaticStop): Session._automatic_stop,
    (S.OPENCONFIRM, E.HoldTimer_Expires): Session._hold_expires,
    (S.OPENCONFIRM, E.SendHoldTimer_Expires): Session._send_hold_expires,
    (S.OPENCONFIRM, E.KeepaliveTimer_Expires): Session._keepalive_expires,
    **{(S.OPENCONFIRM, e): Session._ignore for e in _TCP_UP},  # a second connection (6.8)
    (S.OPENCONFIRM, E.TcpConnectionFails): Session._tcp_fails,
    (S.OPENCONFIRM, E.NotifMsg): Session._notif_received,
    (S.OPENCONFIRM, E.NotifMsgVerErr): Session._notif_received,
    (S.OPENCONFIRM, E.BGPHeaderErr): Session._error,
    (S.OPENCONFIRM, E.BGPOpenMsgErr): Session._error,
    (S.OPENCONFIRM, E.OpenCollisionDump): Session._collision,
    (S.OPENCONFIRM, E.KeepAliveMsg): Session._keepalive_confirm,
    # 8.2.2 Established
    **{(S.ESTABLISHED, e): Session._ignore for e in _STARTS},  # "ignored"
    (S.ESTABLISHED, E.ManualStop): Session._stop,
    (S.ESTABLISHED, E.AutomaticStop): Session._automatic_stop,
    (S.ESTABLISHED, E.HoldTimer_Expires): Session._hold_expires,
    (S.ESTABLISHED, E.SendHoldTimer_Expires): Session._send_hold_expires,
    (S.ESTABLISHED, E.KeepaliveTimer_Expires): Session._keepalive_expires,
    **{(S.ESTABLISHED, e): Session._ignore for e in _TCP_UP},  # a second connection (6.8)
    (S.ESTABLISHED, E.OpenCollisionDump): Session._collision,
    (S.ESTABLISHED, E.NotifMsgVerErr): Session._notif_received,
    (S.ESTABLISHED, E.NotifMsg): Session._notif_received,
    (S.ESTABLISHED, E.TcpConnectionFails): Session._tcp_fails,
    (S.ESTABLISHED, E.KeepAliveMsg): Session._keepalive,
    (S.ESTABLISHED, E.UpdateMsg): Session._update,
    (S.ESTABLISHED, E.UpdateMsgErr): Session._error,
    (S.ESTABLISHED, E.BGPHeaderErr): Session._error,  # RFC 4271 6.1 (see module doc)
    (S.ESTABLISHED, E.RouteRefreshMsg): Session._route_refresh,
    (S.ESTABLISHED, E.RouteRefreshMsgErr): Session._error,
}
"""The FSM: (state, event) -> the actions of RFC 4271 8.2.2.  No row: FSM error."""
# Idle ignores everything it has no row for (8.2.2 Idle, "any other event").
for _e in FsmEvent:
    TRANSITIONS.setdefault((S.IDLE, _e), Session._ignore)
del _e
