"""The asyncio adapter: sockets and one timer per session around the sans-IO FSM.

How this works: a :class:`Speaker` owns the listening sockets and one :class:`Peer`
per configured neighbor.  A Peer owns the neighbor's :class:`~pybgp.fsm.Session`
and at most one TCP connection for it; a second connection that arrives while the
first is opening gets its own Session until RFC 4271 6.8 collision detection dumps
one of the two.  After every input the Peer ``pump``s the Session: it writes
``data_to_send()``, handles ``next_event()`` and re-arms the single timer at
``get_timer()``.  Time is the event loop's monotonic clock.

Nothing here decides routing: received UPDATEs are kept in a per-peer Adj-RIB-In
and reported through the :class:`EventLog`; originated routes are announced on
Established and again on ROUTE-REFRESH.  The RIB (``rib/``) plugs in at
``Peer.on_update``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from rib import PeerInfo
from rib.normalize import as_loop, noteworthy

from .codec.attributes import AttrSet
from .codec.notification import Notification
from .codec.open import Open
from .codec.options import SessionOptions
from .codec.pack import Route, encode_announcements, pack_announcements, pack_withdrawals
from .codec.update import Update
from .config import Config, NeighborConfig, diff_neighbors
from .connection import WRITE_LIMIT, Acceptor, Connection
from .eventlog import EventLog
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
from .fsm import Session, collision_winner
from .negotiation import PeerSettings, unwrap_hard_reset
from .routing import ORIGINATE_PATH_ID, ReceivedRoutes, Routing, not_refreshed, stale_count
from .transport import (
    TransportError,
    client_socket,
    listen_socket,
    normalize_address,
    set_md5,
    set_ttl_255,
)

__all__ = ["Speaker", "Peer", "settings_for"]


def settings_for(cfg: Config, n: NeighborConfig, restarted: bool = False) -> PeerSettings:
    """The FSM settings of one neighbor; ``restarted`` sets the GR R bit (RFC 4724 3)."""
    g = cfg.global_
    return PeerSettings(
        restarting=restarted and n.graceful_restart,
        local_as=g.asn,
        local_id=ipaddress.IPv4Address(g.router_id).packed,
        remote_as=n.remote_as,
        hold_time=n.hold_time,
        connect_retry=float(n.connect_retry),
        keepalive=float(n.keepalive) if n.keepalive else None,
        passive=n.passive,
        delay_open=float(n.delay_open),
        families=n.families_tuple(),
        add_path=n.add_path_tuples(),
        graceful_restart=n.graceful_restart,
        restart_time=n.restart_time,
        enhanced_route_refresh=n.enhanced_route_refresh,
        extended_message=n.extended_message,
        role=n.role_code(),
        hostname=g.hostname,
        max_prefixes=n.max_prefixes,
        max_prefix_restart=float(n.max_prefix_restart) if n.max_prefix_restart else None,
    )


class Peer:
    """One configured neighbor: its Session(s), connection, timer and Adj-RIB-In."""

    def __init__(self, speaker: Speaker, config: NeighborConfig) -> None:
        self.speaker = speaker
        self.config = config
        self.address = config.address
        self.loop = speaker.loop
        self.settings = settings_for(speaker.config, config, speaker.restarted)
        self.session = Session(
            self.settings, seed=hash(config.address) & 0xFFFF, batch_updates=True
        )
        self.conns: dict[Session, Connection] = {}
        self.candidate: Session | None = None  # a second, incoming session (collision)
        self.timers: dict[Session, asyncio.Handle] = {}
        self.armed: dict[Session, float | None] = {}  # the deadline each timer is set for
        self.connecting: asyncio.Task[None] | None = None
        self.stale_timer: asyncio.TimerHandle | None = None
        self.peer_restart_time = self.settings.restart_time
        """The Restart Time of the peer's last Established session (RFC 4724 3)."""
        self.sent = 0
        self.updates_received = 0  # these three are read by pybgp.metrics
        self.notifications_sent = 0
        self.notifications_received = 0
        self.last_error = ""
        self.closing_conns: list[Connection] = []
        self.info: PeerInfo | None = None  # the RIB's view of the Established session
        self.stale_info: PeerInfo | None = None  # a previous session's routes, kept by GR
        self.eor: set[tuple[int, int]] = set()
        self.warned = False  # the max-prefix warning threshold was crossed
        self.established_at: float | None = None  # loop time; read by the control API
        self.log = speaker.log

    @property
    def adj_rib_in(self) -> ReceivedRoutes:
        """What this neighbor sent us, as the RIB holds it (a view, not a copy)."""
        return ReceivedRoutes(self.speaker.routing.rib, self)

    @property
    def stale(self) -> int:
        """Routes kept from the previous session by graceful restart."""
        return stale_count(self.speaker.routing.rib, self)

    # ------------------------------------------------------------------ lifecycle
    def now(self) -> float:
        return self.loop.time()

    def start(self) -> None:
        if not self.config.shutdown:
            self.session.start(self.now())
            self.pump(self.session)

    def stop(self, message: str = "", reset: bool = False) -> None:
        for s in [self.session] + ([self.candidate] if self.candidate else []):
            s.stop(self.now(), message, reset)
            self.pump(s)
        if self.connecting is not None:
            self.connecting.cancel()

    def open_connections(self) -> int:
        return sum(1 for c in self.closing_conns if not c.lost) + len(self.conns)

    def close(self) -> None:
        """Forget everything: timers, tasks, transports (after ``stop``)."""
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        if self.stale_timer is not None:
            self.stale_timer.cancel()
        for conn in list(self.conns.values()):
            conn.close()

    # ------------------------------------------------------------------ connections
    def incoming(self) -> Session | None:
        """Pick the Session an accepted connection belongs to (RFC 4271 6.8)."""
        s = self.session
        if s.state == State.ESTABLISHED or self.candidate is not None or self.config.shutdown:
            return None  # collision with an Established session: the new one is closed
        if s not in self.conns:
            if self.connecting is not None:
                self.connecting.cancel()
                self.connecting = None
            if s.state == State.IDLE:
                s.start(self.now())
                self.pump(s)
            return s
        cand = Session(replace(self.settings, passive=True), seed=1, batch_updates=True)
        cand.start(self.now())
        self.candidate = cand
        return cand

    def attached(self, conn: Connection) -> None:
        self.conns[conn.session] = conn
        conn.session.connection_made(self.now())
        self.pump(conn.session)

    def detached(self, conn: Connection, exc: Exception | None) -> None:
        s = conn.session
        if self.conns.get(s) is conn:
            del self.conns[s]
            if not conn.closing:
                s.connection_failed(self.now())
                self.pump(s)
        if s is self.candidate and s not in self.conns:
            self._drop_candidate()

    def _drop_candidate(self) -> None:
        cand = self.candidate
        self.candidate = None
        if cand is not None and cand in self.timers:
            self.timers.pop(cand).cancel()

    async def _connect(self, session: Session) -> None:
        cfg = self.config
        sock = None
        try:
            sock = client_socket(cfg.address, cfg.local_address, cfg.md5_password, cfg.ttl_security)
            await asyncio.wait_for(
                self.loop.sock_connect(sock, (cfg.address, cfg.port)),
                timeout=max(5.0, min(float(cfg.connect_retry), 30.0)),
            )
            if session in self.conns or session is not self.session:
                sock.close()  # an incoming connection won the race
                return
            await self.loop.create_connection(lambda: Connection(self, session), sock=sock)
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
            raise
        except (OSError, TimeoutError, TransportError) as exc:
            if sock is not None:
                sock.close()
            self.log.emit("connect-failed", peer=self.address, error=str(exc) or repr(exc))
            if session not in self.conns:
                session.connection_failed(self.now())
                self.pump(session)
        finally:
            if self.connecting is asyncio.current_task():
                self.connecting = None

    # ------------------------------------------------------------------ the pump
    def pump(self, s: Session) -> None:
        """Drain the Session: bytes out, events handled, timer re-armed.

        Handling an event can make the Session queue more bytes (a NOTIFICATION from
        a max-prefix check, say), so bytes are flushed again before each event.
        """
        self._flush(s)
        while (event := s.next_event()) is not None:
            self._flush(s)
            self.handle(s, event)
        self._flush(s)
        self._arm(s)

    def _flush(self, s: Session) -> None:
        conn = self.conns.get(s)
        out = s.data_to_send()
        if not out or conn is None or conn.transport is None or conn.closing:
            return
        conn.transport.write(out)
        if conn.transport.get_write_buffer_size() > WRITE_LIMIT:
            # a peer that stopped reading cannot make us buffer without bound
            self.log.emit(
                "write-limit", peer=self.address, buffered=conn.transport.get_write_buffer_size()
            )
            conn.closing = True
            conn.transport.abort()
            del self.conns[s]
            s.connection_failed(self.now())  # the FSM drops the session

    def _arm(self, s: Session) -> None:
        """Keep one timer per Session at ``get_timer()``.

        An armed timer whose deadline has not changed is left alone: cancelling and
        re-creating it on every pump would starve it while the peer sends data in every
        loop iteration (a full-table load), and no KEEPALIVE would go out.
        """
        deadline = s.get_timer()
        handle = self.timers.get(s)
        if handle is not None and not handle.cancelled() and self.armed.get(s) == deadline:
            return
        if handle is not None:
            handle.cancel()
            del self.timers[s]
        self.armed[s] = deadline
        if deadline is not None:
            self.timers[s] = self.loop.call_at(deadline, self._fire, s)

    def _fire(self, s: Session) -> None:
        # run the timer after the I/O already waiting in this loop iteration, so that a
        # KEEPALIVE sitting in the socket is read before the HoldTimer is judged
        self.timers[s] = self.loop.call_soon(self._fire_now, s)

    def _fire_now(self, s: Session) -> None:
        self.timers.pop(s, None)
        self.armed.pop(s, None)
        s.handle_timer(self.now())
        self.pump(s)

    def handle(self, s: Session, event: Event) -> None:
        handler: Callable[[Session, Any], None] | None = getattr(
            self, "on_" + type(event).__name__, None
        )
        if handler is None:
            return
        try:
            handler(s, event)
        except Exception as exc:  # a bug here must not stall the session silently
            self.log.emit(
                "internal-error",
                peer=self.address,
                fsm_event=type(event).__name__,
                error=f"{type(exc).__name__}: {exc}",
            )
            if s.state == State.ESTABLISHED:
                s.stop(self.now(), "pybgp internal error", reset=True)

    # ------------------------------------------------------------------ events
    def on_ConnectRequested(self, s: Session, e: ConnectRequested) -> None:
        if s is self.session and self.connecting is None and s not in self.conns:
            self.connecting = self.loop.create_task(self._connect(s))

    def on_CloseRequested(self, s: Session, e: CloseRequested) -> None:
        conn = self.conns.pop(s, None)
        if conn is not None:
            conn.close()
            self.closing_conns = [c for c in self.closing_conns if not c.lost] + [conn]
        if s is self.candidate:
            self._drop_candidate()

    def on_StateChanged(self, s: Session, e: StateChanged) -> None:
        if s is self.session:
            self.log.emit("state", peer=self.address, old=e.old.name, new=e.new.name)

    def on_OpenReceived(self, s: Session, e: OpenReceived) -> None:
        other = self.candidate if s is self.session else self.session
        if other is None or other not in self.conns or self.candidate is None:
            return
        # RFC 4271 6.8: the connection opened by the higher BGP Identifier survives
        incoming_wins = collision_winner(self.settings.local_id, e.open.bgp_id) == "remote"
        loser = self.session if incoming_wins else self.candidate
        self.log.emit(
            "collision", peer=self.address, kept="incoming" if incoming_wins else "outgoing"
        )
        loser.collision_dump(self.now())
        self.pump(loser)
        if incoming_wins:
            self.session, self.candidate = self.candidate, None
            self.settings = self.session_settings()
        else:
            self._drop_candidate()

    def session_settings(self) -> PeerSettings:
        return settings_for(self.speaker.config, self.config)

    def on_Established(self, s: Session, e: Established) -> None:
        if s is not self.session:
            return
        self.last_error = ""
        self.established_at = self.now()
        restart = _restart_time(e.peer_open)
        self.peer_restart_time = self.settings.restart_time if restart is None else restart
        opts = e.options
        self.log.emit(
            "established",
            peer=self.address,
            remote_as=e.peer_open.asn,
            remote_id=str(ipaddress.IPv4Address(e.peer_open.bgp_id)),
            four_octet_as=opts.four_octet_as,
            add_path_rx=sorted(opts.addpath_rx),
            add_path_tx=sorted(opts.addpath_tx),
            graceful_restart=bool(e.negotiated and e.negotiated.graceful_restart),
        )
        if self.settings.restarting:  # the R bit is for the first session after a restart
            self.settings = replace(self.settings, restarting=False)
            s.settings = self.settings
        conn = self.conns.get(s)
        name = conn.transport.get_extra_info("sockname") if conn and conn.transport else None
        local = ipaddress.ip_address(normalize_address(name[0])).packed if name else b""
        self.eor = set()
        self.speaker.routing.up(self, local, e.peer_open.asn, e.peer_open.bgp_id)
        self.announce(s)

    def local_ip(self, s: Session) -> str | None:
        """The local address of ``s``'s connection (next hop self), if connected."""
        conn = self.conns.get(s)
        local = conn.transport.get_extra_info("sockname") if conn and conn.transport else None
        return normalize_address(local[0]) if local else None

    def send_updates(self, updates: Iterable[Update]) -> None:
        """Send UPDATEs on the Established session, for negotiated families only."""
        s = self.session
        neg = s.negotiated
        if s.state != State.ESTABLISHED or neg is None:
            return
        for u in updates:
            fam = (1, 1)
            if u.mp_reach is not None:
                fam = (u.mp_reach.afi, u.mp_reach.safi)
            elif u.mp_unreach is not None:
                fam = (u.mp_unreach.afi, u.mp_unreach.safi)
            if fam in neg.families:
                s.send_update(u)
                self.sent += 1
        self.pump(s)

    def send_encoded(self, data: bytes, count: int) -> None:
        """Send ``count`` UPDATEs already encoded for the Established session's options."""
        s = self.session
        if s.state != State.ESTABLISHED or not data:
            return
        s.send_encoded_updates(data)
        self.sent += count
        self.pump(s)

    def announce(self, s: Session, refresh: tuple[int, int] | None = None) -> None:
        """Send the originated routes of the negotiated families.

        After the initial dump each family gets End-of-RIB (RFC 4724 2).  For a
        ROUTE-REFRESH of one family the routes are re-sent, inside BoRR/EoRR when
        Enhanced Route Refresh was negotiated (RFC 7313 4).
        """
        conn = self.conns.get(s)
        opts, neg = s.options, s.negotiated
        if conn is None or opts is None or neg is None or conn.transport is None:
            return
        local = conn.transport.get_extra_info("sockname")
        local_ip = normalize_address(local[0]) if local else None
        families = set(neg.families) & set(self.settings.families)
        if refresh is not None:
            families &= {refresh}
        enhanced = refresh is not None and neg.enhanced_route_refresh
        for afi, safi in sorted(families):
            if enhanced:
                s.send_route_refresh(afi, safi, 1)  # BoRR
        encoded = self.speaker.runtime_updates(self, families, local_ip, opts)
        if encoded:
            s.send_encoded_updates(b"".join(encoded))
            self.sent += len(encoded)
        routes: list[Route] = []
        for o in self.speaker.config.originate:
            if (o.afi, 1) not in families:
                continue
            attrs = self.speaker.attrs_for(self, o, local_ip)
            if attrs is not None:
                routes.append((o.afi, 1, o.nlri, ORIGINATE_PATH_ID, attrs))
        for update in pack_announcements(routes, opts):
            s.send_update(update)
            self.sent += 1
        if refresh is not None:
            self.speaker.routing.refresh(self, *refresh)  # what the RIB sends this peer
        for afi, safi in sorted(families):
            if refresh is None:
                s.send_end_of_rib(afi, safi)
            elif enhanced:
                s.send_route_refresh(afi, safi, 2)  # EoRR
        self.pump(s)

    def on_UpdateReceived(self, s: Session, e: UpdateReceived) -> None:
        self.updates_received += 1
        dump = self.speaker.update_dump
        conn = self.conns.get(s)
        if dump is not None and conn is not None and conn.transport is not None and s.options:
            local = conn.transport.get_extra_info("sockname")
            dump.record(
                e.update,
                s.options,
                (self.address, self.config.remote_as),
                (normalize_address(local[0]), self.speaker.config.global_.asn),
            )
        self.on_update(e.update)
        self.speaker.routing.update(self, e.update)
        info = self.info
        count = self.speaker.routing.rib.received_count(info) if info is not None else 0
        limit = self.config.max_prefixes
        if limit is not None:
            over = count * 100 >= limit * self.config.max_prefixes_warning
            if over and not self.warned:
                self.log.emit(
                    "max-prefix-warning",
                    peer=self.address,
                    count=count,
                    limit=limit,
                    percent=self.config.max_prefixes_warning,
                )
            self.warned = over
        s.prefix_count(count, self.now())

    def on_UpdatesReceived(self, s: Session, e: UpdatesReceived) -> None:
        """A run of UPDATEs from one read, each taken as ``on_UpdateReceived`` takes it;
        without an update dump or a prefix limit, with the per-UPDATE work hoisted."""
        if self.speaker.update_dump is not None or self.config.max_prefixes is not None:
            for u in e.updates:
                self.on_UpdateReceived(s, UpdateReceived(u))
                if s.state != State.ESTABLISHED:
                    return  # a prefix limit stopped the session: the rest is dropped
            return
        updates = e.updates
        if self.log.updates:
            for u in updates:
                self.on_update(u)
        else:  # only the ones it logs anyway (a compiled pass over the run)
            for i in noteworthy(updates, self.speaker.config.global_.asn):
                self.on_update(updates[i])
        self.speaker.routing.updates(self, updates)
        self.updates_received += len(e.updates)

    def on_update(self, u: Update) -> None:
        """Log an UPDATE (RFC 7606 treat-as-withdraw and AS loops included); the RIB
        (``Routing.update``) stores it.  The route lists are built only for the update
        log: a full table arrives as hundreds of thousands of UPDATEs."""
        r = u.mp_reach if u.mp_reach is not None and u.mp_reach.raw_nlri is None else None
        announced = len(u.nlri) + (len(r.nlri) if r is not None else 0)
        attrs = u.attrs
        loop = False
        if u.errors and u.action >= 2:  # treat-as-withdraw (RFC 7606 2)
            loop = True
            self.log.emit(
                "update-error",
                peer=self.address,
                action=u.action.label,
                error=u.errors[0].describe(),
            )
        elif attrs is not None and announced and as_loop(attrs, self.speaker.config.global_.asn):
            # RFC 4271 9.1.2: a route whose AS_PATH holds our own AS is a loop
            loop = True
            self.log.emit("as-loop", peer=self.address, routes=announced)
        if not self.log.updates:
            return
        gone: list[tuple[int, int, int, int]] = []
        new: list[tuple[int, int, int, int]] = []
        for i, p in enumerate(u.withdrawn):
            gone.append((1, 1, p, u.withdrawn_ids[i] if u.withdrawn_ids else 0))
        if u.mp_unreach is not None and u.mp_unreach.raw_nlri is None:
            w = u.mp_unreach
            gone += [
                (w.afi, w.safi, p, w.path_ids[i] if w.path_ids else 0)
                for i, p in enumerate(w.withdrawn)
            ]
        for i, p in enumerate(u.nlri):
            new.append((1, 1, p, u.nlri_ids[i] if u.nlri_ids else 0))
        if r is not None:
            new += [
                (r.afi, r.safi, p, r.path_ids[i] if r.path_ids else 0) for i, p in enumerate(r.nlri)
            ]
        if loop:
            gone, new = gone + new, []
        if gone or new:
            self.log.update(self.address, u, gone, new)

    def on_EndOfRib(self, s: Session, e: EndOfRib) -> None:
        self.log.emit("end-of-rib", peer=self.address, afi=e.afi, safi=e.safi)
        self.eor.add((e.afi, e.safi))
        neg = s.negotiated
        if neg is not None and set(neg.families) <= self.eor:
            self._sweep_stale()  # RFC 4724 4.2: every family is back

    def on_RouteRefreshReceived(self, s: Session, e: RouteRefreshReceived) -> None:
        self.log.emit(
            "route-refresh",
            peer=self.address,
            afi=e.refresh.afi,
            safi=e.refresh.safi,
            subtype=e.refresh.subtype,
        )
        if e.refresh.subtype == 0:
            self.announce(s, (e.refresh.afi, e.refresh.safi))  # RFC 2918 / 7313

    def on_NotificationSent(self, s: Session, e: NotificationSent) -> None:
        self.notifications_sent += 1
        self.log.emit("notification-sent", peer=self.address, **_notification(e.notification))

    def on_NotificationReceived(self, s: Session, e: NotificationReceived) -> None:
        self.notifications_received += 1
        info = _notification(e.notification)
        self.last_error = info["text"]
        self.log.emit("notification-received", peer=self.address, **info)

    def on_MaxPrefixExceeded(self, s: Session, e: MaxPrefixExceeded) -> None:
        self.log.emit("max-prefix", peer=self.address, count=e.count, limit=e.limit)

    def on_SessionDown(self, s: Session, e: SessionDown) -> None:
        if s is not self.session:
            return
        self.established_at = None
        if not e.established:  # a connection that never reached Established
            self.log.emit("closed", peer=self.address, reason=e.reason)
            return
        self.log.emit("down", peer=self.address, reason=e.reason, graceful=e.graceful)
        info = self.info
        withdrawn = self.speaker.routing.rib.received_count(info) if info is not None else 0
        self.speaker.routing.down(self, graceful=e.graceful)
        stale = self.stale
        if e.graceful and stale:
            # RFC 4724 4.2: keep the routes as stale until End-of-RIB or the restart time
            # RFC 4724 4.2: the Restart Time the peer advertised in the session that ended
            delay = float(self.peer_restart_time)
            if self.stale_timer is not None:
                self.stale_timer.cancel()
            self.stale_timer = self.loop.call_later(delay, self._sweep_stale)
            self.log.emit("stale", peer=self.address, routes=stale, seconds=delay)
        elif withdrawn:
            self.log.emit("withdraw-all", peer=self.address, routes=withdrawn)

    def _sweep_stale(self) -> None:
        """Drop the routes the previous session left (every End-of-RIB is back, or the
        restart time ran out: RFC 4724 4.2)."""
        if self.stale_timer is not None:
            self.stale_timer.cancel()
            self.stale_timer = None
        doomed = not_refreshed(self.speaker.routing.rib, self)
        self.speaker.routing.sweep(self)
        if doomed:
            self.log.emit("stale-removed", peer=self.address, routes=doomed)


@functools.lru_cache(maxsize=64)
def _packed_ip(text: str) -> bytes:
    """The session's local address as next hop: parsed once, not once per route set."""
    return ipaddress.ip_address(text).packed


def _restart_time(o: Open) -> int | None:
    from .codec.open import GracefulRestart

    for c in o.capabilities:
        if isinstance(c, GracefulRestart):
            return c.restart_time
    return None


def _notification(n: Notification) -> dict[str, Any]:
    inner = unwrap_hard_reset(n) if n.code == 6 and n.subcode == 9 else n
    info: dict[str, Any] = {"code": n.code, "subcode": n.subcode, "text": n.describe()}
    if inner is not None and inner.shutdown_message is not None:
        info["shutdown_message"] = inner.shutdown_message
    return info


class Speaker:
    """The process: listeners plus one Peer per neighbor."""

    def __init__(self, config: Config, log: EventLog, restarted: bool = False) -> None:
        self.config = config
        self.log = log
        self.restarted = restarted  # set the GR R bit in the first OPEN to each peer
        self.update_dump: Any = None  # pybgp.mrt.updates.UpdateDump with --updates
        self.loop = asyncio.get_running_loop()
        self.peers: dict[str, Peer] = {}
        self.routing = Routing(config)
        self.runtime: dict[tuple[int, int], AttrSet] = {}
        """Run-time originated routes, (AFI, prefix) -> attributes before export
        (no next hop: next hop self); set by the control API (routes, mrt inject)."""
        self.owned: dict[tuple[int, int], str] = {}
        """Run-time routes that a component owns (lbnode's VIPs): the control API's
        ``routes announce/withdraw`` refuse them, naming the owner."""
        self.servers: list[asyncio.Server] = []
        self.listen_sockets: list[Any] = []

    async def start(self) -> None:
        g = self.config.global_
        for host in g.listen_address:
            try:
                sock = listen_socket(host, g.listen_port)
            except OSError as exc:
                if len(g.listen_address) > 1 and exc.errno in (97, 99):  # no such family
                    self.log.emit("listen-skipped", address=host, error=exc.strerror)
                    continue
                raise
            if any(n.ttl_security for n in self.config.neighbors):
                # RFC 5082 3: our SYN-ACKs must leave with TTL 255 too
                set_ttl_255(sock)
            self.listen_sockets.append(sock)
            server = await self.loop.create_server(self._accept_protocol, sock=sock)
            self.servers.append(server)
            self.log.emit("listening", address=host, port=sock.getsockname()[1])
        for n in self.config.neighbors:
            self._add_peer(n)

    @property
    def ports(self) -> list[int]:
        return [int(s.getsockname()[1]) for s in self.listen_sockets]

    def _add_peer(self, n: NeighborConfig) -> None:
        peer = self.peers[n.address] = Peer(self, n)
        if n.md5_password:
            self._set_md5(n.address, n.md5_password)
        peer.start()

    def _set_md5(self, address: str, password: str | None) -> None:
        fam = ":" in address
        for sock in self.listen_sockets:
            if (sock.family.name == "AF_INET6") == fam:
                try:
                    set_md5(sock, address, password)
                except TransportError as exc:
                    self.log.emit("md5-error", peer=address, error=str(exc))

    def _accept_protocol(self) -> asyncio.Protocol:
        return Acceptor(self)

    def attrs_for(self, peer: Peer, o: Any, local_ip: str | None) -> AttrSet | None:
        """The attributes of an originated route as sent to ``peer``."""
        g = self.config.global_
        ebgp = not peer.config.is_ibgp(g.asn)
        path = ((g.asn,) if ebgp else ()) + tuple(o.as_path)
        nh_text = o.next_hop or local_ip
        if nh_text is None:
            return None
        nh = ipaddress.ip_address(nh_text).packed
        values: dict[str, Any] = {
            "origin": o.origin,
            "as_path": ((2, path),) if path else (),
            "med": o.med,
            "local_pref": None if ebgp else (o.local_pref if o.local_pref is not None else 100),
            "communities": tuple(o.communities),
            "large_communities": tuple(o.large_communities),
        }
        if o.afi == 1 and len(nh) == 4:
            values["next_hop"] = nh
        else:
            values["mp_next_hop"] = nh
            if o.afi == 1:  # RFC 8950: an IPv4 route with an IPv6 next hop
                return None
        return AttrSet(**values)

    # ------------------------------------------------------------------ run-time routes
    def export_originated(
        self, peer: Peer, afi: int, template: AttrSet, local_ip: str | None
    ) -> AttrSet | None:
        """``attrs_for`` for a run-time route: ``template`` as stored in ``runtime``.

        The same rules: our AS first towards eBGP, LOCAL_PREF only to iBGP (100 unless
        set), the template's next hop if it has one, else the session's local address.
        """
        g = self.config.global_
        ebgp = not peer.config.is_ibgp(g.asn)
        path = template.as_path or ()
        if ebgp:
            if path and path[0][0] == 2:
                path = ((2, (g.asn, *path[0][1])), *path[1:])
            else:
                path = ((2, (g.asn,)), *path)
        nh = template.next_hop or template.mp_next_hop
        if nh is None:
            if local_ip is None:
                return None
            nh = _packed_ip(local_ip)
        lp = None if ebgp else (template.local_pref if template.local_pref is not None else 100)
        if afi == 1 and len(nh) == 4:
            return template.replace(as_path=path, local_pref=lp, next_hop=nh, mp_next_hop=None)
        if afi == 1:  # RFC 8950: an IPv4 route with an IPv6 next hop
            return None
        return template.replace(as_path=path, local_pref=lp, next_hop=None, mp_next_hop=nh)

    def runtime_routes(
        self,
        peer: Peer,
        families: Iterable[tuple[int, int]],
        local_ip: str | None,
        keys: Iterable[tuple[int, int]] | None = None,
    ) -> list[Route]:
        """The run-time routes (all, or ``keys``) of ``families`` as sent to ``peer``."""
        fams = {afi for afi, safi in families if safi == 1}
        done: dict[int, AttrSet | None] = {}  # templates are shared: export each once
        routes: list[Route] = []
        table = self.runtime
        for key in table if keys is None else keys:
            afi = key[0]
            template = table.get(key)
            if afi not in fams or template is None:
                continue
            tid = id(template)
            if tid in done:
                attrs = done[tid]
            else:
                attrs = done[tid] = self.export_originated(peer, afi, template, local_ip)
            if attrs is not None:
                routes.append((afi, 1, key[1], ORIGINATE_PATH_ID, attrs))
        return routes

    def runtime_updates(
        self,
        peer: Peer,
        families: Iterable[tuple[int, int]],
        local_ip: str | None,
        options: SessionOptions,
    ) -> list[bytes]:
        """Every run-time route of ``families`` as UPDATE messages for ``peer``.

        Routes are grouped by template (one pass over the table), each template is
        exported once and its prefixes packed by ``encode_announcements``: a session
        that comes up after a full-table ``mrt inject`` gets it in a few seconds.
        """
        fams = {afi for afi, safi in families if safi == 1}
        groups: dict[tuple[int, int], tuple[int, AttrSet, list[int]]] = {}
        for (afi, prefix), template in self.runtime.items():
            g = groups.get((afi, id(template)))
            if g is None:
                if afi not in fams:
                    continue
                g = groups[(afi, id(template))] = (afi, template, [])
            g[2].append(prefix)
        out: list[bytes] = []
        for afi, template, prefixes in groups.values():
            attrs = self.export_originated(peer, afi, template, local_ip)
            if attrs is not None:
                out += encode_announcements(afi, 1, attrs, prefixes, options, ORIGINATE_PATH_ID)
        return out

    def originate(self, routes: dict[tuple[int, int], AttrSet]) -> int:
        """Add or replace run-time routes and send them to every Established peer.

        Returns how many peers they were sent to.
        """
        self.runtime.update(routes)
        sent = 0
        for peer in list(self.peers.values()):
            s, neg = peer.session, peer.session.negotiated
            if s.state != State.ESTABLISHED or neg is None or s.options is None:
                continue
            families = set(neg.families) & set(peer.settings.families)
            out = self.runtime_routes(peer, families, peer.local_ip(s), routes)
            if out:
                peer.send_updates(pack_announcements(out, s.options))
                sent += 1
        return sent

    def withdraw(self, keys: list[tuple[int, int]]) -> int:
        """Remove run-time routes and withdraw them from every Established peer."""
        for key in keys:
            self.runtime.pop(key, None)
        sent = 0
        for peer in list(self.peers.values()):
            s, neg = peer.session, peer.session.negotiated
            if s.state != State.ESTABLISHED or neg is None or s.options is None:
                continue
            gone = [(afi, 1, p, ORIGINATE_PATH_ID) for afi, p in keys if (afi, 1) in neg.families]
            if gone:
                peer.send_updates(pack_withdrawals(gone, s.options))
                sent += 1
        return sent

    async def stop(self, message: str = "") -> None:
        # stop listening first: a peer that reconnects while we wind down is refused,
        # not accepted and then dropped
        for server in self.servers:
            server.close()
        for peer in self.peers.values():
            peer.stop(message)
        # let the NOTIFICATIONs reach the peers and their FINs come back (at most 2 s)
        end = self.loop.time() + 2.0
        while self.loop.time() < end and any(p.open_connections() for p in self.peers.values()):
            await asyncio.sleep(0.02)
        for peer in self.peers.values():
            peer.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def refresh_all(self) -> int:
        """Ask every Established peer to re-send its routes (ROUTE-REFRESH, RFC 2918)."""
        asked = 0
        for peer in self.peers.values():
            s = peer.session
            if s.state != State.ESTABLISHED or s.negotiated is None:
                continue
            if not s.negotiated.route_refresh:
                continue
            for afi, safi in s.negotiated.families:
                s.send_route_refresh(afi, safi)
            peer.pump(s)
            self.log.emit("route-refresh-sent", peer=peer.address)
            asked += 1
        return asked

    def reload(self, new: Config) -> None:
        """Apply a new configuration without touching unchanged sessions."""
        diff = diff_neighbors(self.config, new)
        self.config = new
        self.routing.reload(new)
        for n in diff.removed:
            peer = self.peers.pop(n.address)
            peer.stop("neighbor removed from the configuration")
            peer.close()
            if n.md5_password:
                self._set_md5(n.address, None)
        for ch in diff.changed:
            peer = self.peers[ch.new.address]
            if ch.needs_reset:
                peer.stop("configuration changed", reset=True)
                peer.close()
                self._add_peer(ch.new)
            else:
                peer.config = ch.new
                if ch.new.shutdown and not ch.old.shutdown:
                    peer.stop("administratively shut down")
                elif ch.old.shutdown and not ch.new.shutdown:
                    peer.start()
        for n in diff.added:
            self._add_peer(n)
        self.log.emit(
            "reloaded",
            added=len(diff.added),
            removed=len(diff.removed),
            changed=len(diff.changed),
            unchanged=len(diff.unchanged),
        )
