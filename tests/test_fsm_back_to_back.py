"""Two sessions wired back to back in memory with a simulated clock (no sockets, no sleeps).

``Wire`` plays both adapters: it moves ``data_to_send()`` of one session into
``data_received`` of the other, turns ``CloseRequested`` into the peer's
``connection_failed`` (after flushing), and advances time to the next deadline.
"""

from __future__ import annotations

from typing import Any

from pybgp.codec.attributes import AttrSet, SegmentType
from pybgp.codec.nlri import make_prefix
from pybgp.codec.notification import Notification
from pybgp.codec.refresh import RouteRefresh
from pybgp.codec.update import MpReach, MpUnreach, Update
from pybgp.fsm import (
    CloseRequested,
    ConnectRequested,
    EndOfRib,
    Established,
    Event,
    NotificationReceived,
    OpenReceived,
    PeerSettings,
    RouteRefreshReceived,
    Session,
    SessionDown,
    State,
    UpdateReceived,
    collision_winner,
)
from pybgp.negotiation import unwrap_hard_reset

A_ID = bytes((192, 0, 2, 1))
B_ID = bytes((192, 0, 2, 2))
BIG_AS = 4_200_000_001


def pair_settings(**kw: Any) -> tuple[PeerSettings, PeerSettings]:
    common: dict[str, Any] = {"families": ((1, 1), (2, 1))}
    common.update(kw)
    a = PeerSettings(BIG_AS, A_ID, 65002, **common)
    b = PeerSettings(65002, B_ID, BIG_AS, passive=True, **common)
    return a, b


class Wire:
    """One TCP connection between ``a`` (connects) and ``b`` (listens)."""

    def __init__(self, a: Session, b: Session) -> None:
        self.a, self.b = a, b
        self.up = False
        self.now = 0.0
        self.events: dict[str, list[Event]] = {"a": [], "b": []}
        self.deliver = {"a": True, "b": True}  # whether each side's output reaches the other
        self.frozen: set[str] = set()
        self.keepalives = {"a": 0, "b": 0}

    def side(self, name: str) -> tuple[Session, Session]:
        return (self.a, self.b) if name == "a" else (self.b, self.a)

    def start(self) -> None:
        self.b.start(self.now)
        self.a.start(self.now)
        self.pump()

    def pump(self) -> None:
        for _ in range(1000):
            moved = False
            for name in ("a", "b"):
                me, other = self.side(name)
                if name in self.frozen:
                    continue
                for ev in iter(me.next_event, None):
                    self.events[name].append(ev)
                    if isinstance(ev, ConnectRequested) and name == "a" and not self.up:
                        self.up = True  # the SYN reaches b, which accepts
                        self.a.connection_made(self.now)
                        self.b.connection_made(self.now)
                        moved = True
                    elif isinstance(ev, CloseRequested) and self.up:
                        self.flush(name)
                        self.up = False
                        other.connection_failed(self.now)
                        moved = True
                if self.up and self.deliver[name]:
                    data = self.flush(name)
                    moved = moved or bool(data)
            if not moved:
                return
        raise AssertionError("the sessions never went quiet")

    def flush(self, name: str) -> bytes:
        me, other = self.side(name)
        data = me.data_to_send()
        if data and self.up and self.deliver[name]:
            self.keepalives[name] += count_keepalives(data)
            other.data_received(data, self.now)
        return data

    def run_until(self, end: float) -> None:
        """Advance the clock deadline by deadline to ``end``, firing timers and pumping."""
        while True:
            deadlines = [
                t
                for name, s in (("a", self.a), ("b", self.b))
                if name not in self.frozen and (t := s.get_timer()) is not None
            ]
            nxt = min(deadlines, default=end)
            if nxt > end:
                self.now = end
                return
            self.now = max(self.now, nxt)
            for name, s in (("a", self.a), ("b", self.b)):
                if name not in self.frozen:
                    s.handle_timer(self.now)
            self.pump()
            if nxt == end:
                return

    def of(self, name: str, cls: type) -> list[Any]:
        return [e for e in self.events[name] if isinstance(e, cls)]


def count_keepalives(data: bytes) -> int:
    n = 0
    while data:
        length = (data[16] << 8) | data[17]
        n += data[18] == 4
        data = data[length:]
    return n


def established_pair(**kw: Any) -> Wire:
    sa, sb = pair_settings(**kw)
    w = Wire(Session(sa, seed=1), Session(sb, seed=2))
    w.start()
    assert w.a.state == State.ESTABLISHED and w.b.state == State.ESTABLISHED
    return w


def test_back_to_back_establishes_with_4_octet_as_add_path_and_gr() -> None:
    w = established_pair(add_path=((1, 1, 3), (2, 1, 1)), graceful_restart=True)
    (ea,) = w.of("a", Established)
    (eb,) = w.of("b", Established)
    assert ea.peer_open.asn == 65002 and eb.peer_open.asn == BIG_AS
    assert eb.peer_open.my_as == 23456  # AS_TRANS in the 2-octet field
    assert ea.options.four_octet_as and eb.options.four_octet_as
    assert ea.options.addpath_tx == {(1, 1)} and ea.options.addpath_rx == {(1, 1)}
    assert ea.options == eb.options  # both sides ask for receive only on IPv6: no id there
    assert ea.negotiated is not None and ea.negotiated.graceful_restart
    assert ea.negotiated.peer_restart_time == 120
    assert ea.negotiated.families == {(1, 1), (2, 1)}
    assert len(w.of("a", OpenReceived)) == 1


def test_back_to_back_updates_with_communities() -> None:
    w = established_pair(add_path=((1, 1, 3), (2, 1, 3)))
    attrs = AttrSet(
        origin=0,
        as_path=((SegmentType.AS_SEQUENCE, (BIG_AS, 64512)),),
        next_hop=bytes((192, 0, 2, 1)),
        med=10,
        communities=((65002 << 16) | 100, 0xFFFFFF01),
        large_communities=((BIG_AS, 1, 2), (BIG_AS, 3, 4)),
    )
    p1, p2 = make_prefix(0xC6336400, 24), make_prefix(0x0A000000, 8)
    v4 = Update(attrs=attrs, nlri=(p1, p2), nlri_ids=(1, 2))
    w.a.send_update(v4)
    v6attrs = AttrSet(
        origin=0,
        as_path=((SegmentType.AS_SEQUENCE, (BIG_AS,)),),
        mp_next_hop=bytes.fromhex("20010db8000000000000000000000001"),
        large_communities=((BIG_AS, 9, 9),),
    )
    v6 = Update(
        attrs=v6attrs,
        mp_reach=MpReach(2, 1, (make_prefix(0x20010DB8 << 96, 32),), (7,)),
    )
    w.a.send_update(v6)
    w.a.send_update(Update(withdrawn=(p2,), withdrawn_ids=(2,)))
    w.a.send_update(Update(mp_unreach=MpUnreach(2, 1, (make_prefix(0x20010DB8 << 96, 32),), (7,))))
    w.pump()
    got = [e.update for e in w.of("b", UpdateReceived)]
    assert len(got) == 4
    assert got[0].nlri == (p1, p2) and got[0].nlri_ids == (1, 2)
    assert got[0].attrs is not None
    assert got[0].attrs.communities == attrs.communities
    assert got[0].attrs.large_communities == attrs.large_communities
    assert got[0].attrs.as_path == attrs.as_path
    assert got[1].mp_reach == v6.mp_reach and got[1].attrs is not None
    assert got[1].attrs.large_communities == ((BIG_AS, 9, 9),)
    assert got[2].withdrawn_ids == (2,)
    assert got[3].mp_unreach is not None and got[3].mp_unreach.path_ids == (7,)
    assert all(u.errors == () for u in got)


def test_back_to_back_route_refresh_and_end_of_rib() -> None:
    w = established_pair()
    w.b.send_route_refresh(2, 1)
    w.pump()
    assert w.of("a", RouteRefreshReceived) == [RouteRefreshReceived(RouteRefresh(2, 1))]
    # RFC 7313 4: answer with BoRR, the routes, EoRR; then End-of-RIB at startup
    w.a.send_route_refresh(2, 1, 1)
    w.a.send_route_refresh(2, 1, 2)
    w.a.send_end_of_rib(1, 1)
    w.a.send_end_of_rib(2, 1)
    w.pump()
    assert [e.refresh.subtype for e in w.of("b", RouteRefreshReceived)] == [1, 2]
    assert w.of("b", EndOfRib) == [EndOfRib(1, 1), EndOfRib(2, 1)]


def test_back_to_back_keepalives_over_an_hour() -> None:
    w = established_pair()
    w.run_until(3600.0)
    assert w.a.state == State.ESTABLISHED and w.b.state == State.ESTABLISHED
    for name in ("a", "b"):  # every 30 s jittered to 22.5..30 s
        assert 3600 / 30 <= w.keepalives[name] <= 3600 / 22.5 + 2


def test_back_to_back_hold_timer_expires_when_one_side_stops() -> None:
    w = established_pair(hold_time=9)
    w.run_until(100.0)
    assert w.a.state == State.ESTABLISHED
    w.deliver["b"] = False  # b keeps running but nothing it sends reaches a
    t0 = w.now
    w.run_until(t0 + 20.0)
    (down,) = w.of("a", SessionDown)
    assert down.notification == Notification(4, 0)
    assert w.of("b", NotificationReceived) == [NotificationReceived(Notification(4, 0))]
    # both restarted themselves (IdleHoldTimer); b's OPEN never reaches a
    assert w.a.state == State.OPENSENT and w.b.state == State.OPENCONFIRM


def test_back_to_back_clean_shutdown_message() -> None:
    w = established_pair()
    w.a.stop(w.now, "maintenance: back at 14:00 UTC")
    w.pump()
    (got,) = w.of("b", NotificationReceived)
    assert got.notification.shutdown_message == "maintenance: back at 14:00 UTC"
    (down_b,) = w.of("b", SessionDown)
    assert "maintenance" in down_b.reason and not down_b.graceful
    assert w.a.state == State.IDLE and w.b.state == State.IDLE
    w.run_until(1000.0)  # a was stopped by hand: no automatic restart
    assert w.a.state == State.IDLE and w.a.get_timer() is None


def test_back_to_back_graceful_restart_cycle() -> None:
    w = established_pair(graceful_restart=True)
    w.b.stop(w.now, "upgrade", reset=True)  # Admin Reset stays graceful with the N bit
    w.pump()
    assert all(d.graceful for d in w.of("a", SessionDown) + w.of("b", SessionDown))
    # b comes back as the restarting speaker
    sa, sb = pair_settings(graceful_restart=True)
    from dataclasses import replace

    w2 = Wire(Session(sa), Session(replace(sb, restarting=True)))
    w2.start()
    (est,) = w2.of("a", Established)
    assert est.negotiated is not None and est.negotiated.peer_restarting
    assert est.negotiated.peer_forwarding == {(1, 1), (2, 1)}


def test_back_to_back_hard_reset_carries_shutdown_message() -> None:
    w = established_pair(graceful_restart=True)
    w.a.stop(w.now, "decommissioned")
    w.pump()
    (got,) = w.of("b", NotificationReceived)
    assert got.notification.subcode == 9  # RFC 8538 Hard Reset
    assert unwrap_hard_reset(got.notification).shutdown_message == "decommissioned"
    assert not w.of("b", SessionDown)[0].graceful


def test_back_to_back_transport_loss_restarts_automatically() -> None:
    w = established_pair(graceful_restart=True, idle_hold_time=5.0)
    w.up = False
    w.a.connection_failed(w.now)
    w.b.connection_failed(w.now)
    w.pump()
    assert [d.graceful for d in w.of("a", SessionDown)] == [True]
    w.run_until(w.now + 10.0)  # a's IdleHoldTimer -> AutomaticStart -> connect
    assert w.a.state == State.ESTABLISHED and w.b.state == State.ESTABLISHED


def test_back_to_back_delay_open() -> None:
    w = Wire(*(Session(s) for s in pair_settings(delay_open=3.0, jitter=False)))
    w.start()
    assert w.a.state == State.CONNECT and w.b.state == State.ACTIVE
    w.run_until(3.0)
    assert w.a.state == State.ESTABLISHED and w.b.state == State.ESTABLISHED


def test_back_to_back_send_hold_timer() -> None:
    w = established_pair(hold_time=0, send_hold_time=200.0)
    assert w.a.get_timer() is None
    w.frozen.add("b")  # b stops reading and writing; a's writes block
    w.a.write_blocked(w.now)
    w.run_until(w.now + 199.0)
    assert w.a.state == State.ESTABLISHED
    w.run_until(w.now + 1.0)
    (down,) = w.of("a", SessionDown)
    assert down.notification == Notification(8, 0)


def test_collision_resolution_with_two_connections() -> None:
    """Both speakers connect at once (RFC 4271 6.8): two Wires, one survives."""
    sa, sb = pair_settings(jitter=False)
    sb_active = PeerSettings(65002, B_ID, BIG_AS, families=sb.families)
    sa_passive = PeerSettings(BIG_AS, A_ID, 65002, passive=True, families=sa.families)
    by_a = Wire(Session(sa), Session(sb))  # the connection a initiated
    by_b = Wire(Session(sb_active), Session(sa_passive))  # the one b initiated
    by_a.start()
    by_b.start()
    # each adapter saw OpenReceived on both connections; the higher identifier keeps its own
    assert collision_winner(A_ID, B_ID) == "remote"
    assert collision_winner(B_ID, A_ID) == "local"
    # both connections may already be Established back to back; RFC 4271 6.8 also covers
    # collisions with an Established session (CollisionDetectEstablishedState)
    loser = by_a  # a's connection loses: B's identifier is higher
    loser.a.collision_dump(loser.now)
    loser.pump()
    assert loser.a.state == State.IDLE and loser.b.state == State.IDLE
    (n,) = loser.of("b", NotificationReceived)
    assert (n.notification.code, n.notification.subcode) == (6, 7)
    assert by_b.a.state == State.ESTABLISHED and by_b.b.state == State.ESTABLISHED


def test_collision_winner_compares_unsigned() -> None:
    assert collision_winner(bytes((200, 0, 0, 1)), bytes((10, 0, 0, 1))) == "local"
    assert collision_winner(bytes((10, 0, 0, 1)), bytes((200, 0, 0, 1))) == "remote"
    assert collision_winner(b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff") == "local"
