"""RFC 4271 8.2.2 transitions from OpenConfirm and Established, max-prefix (RFC 4486),
the Send Hold Timer (RFC 9687) and Graceful Restart (RFC 4724, RFC 8538)."""

from __future__ import annotations

from dataclasses import replace
from struct import pack

import pytest

from pybgp.codec.errors import Action
from pybgp.codec.message import Keepalive, Message, encode_message
from pybgp.codec.notification import Notification
from pybgp.codec.open import GracefulRestart
from pybgp.codec.options import DEFAULT_OPTIONS
from pybgp.codec.refresh import RouteRefresh
from pybgp.codec.update import MpUnreach, Update
from pybgp.fsm import (
    CloseRequested,
    ConnectRequested,
    EndOfRib,
    Established,
    FsmEvent,
    MaxPrefixExceeded,
    RouteRefreshReceived,
    Session,
    SessionDown,
    State,
    StateChanged,
    UpdateReceived,
    UpdatesReceived,
    UsageError,
)
from pybgp.negotiation import build_open

from .test_fsm import (
    KA,
    P10,
    PEER_ID,
    assert_dropped,
    drain,
    established,
    last_notification,
    of,
    openconfirm,
    opensent,
    peer_open,
    peer_settings,
    sent,
    settings,
    states,
)


# ---------------------------------------------------------------- OpenConfirm
def test_openconfirm_keepalive_establishes() -> None:
    s = openconfirm()
    s.data_received(KA, 2.0)
    events = drain(s)
    assert states(events) == [State.ESTABLISHED]
    (est,) = of(events, Established)
    assert est.peer_open.bgp_id == PEER_ID and est.options == s.options
    assert est.negotiated is not None and est.negotiated.families == {(1, 1)}
    assert s._timers[FsmEvent.HoldTimer_Expires] == 92.0


def test_openconfirm_keepalive_timer() -> None:
    s = openconfirm()
    s.handle_timer(31.0)
    assert sent(s) == [Keepalive()] and s.state == State.OPENCONFIRM
    assert s._timers[FsmEvent.KeepaliveTimer_Expires] == 61.0


def test_openconfirm_hold_timer_expires() -> None:
    s = openconfirm()
    s.handle_timer(91.0)  # a late call: the keepalive due at 31 fires first, then the hold
    events = drain(s)
    assert sent(s) == [Keepalive(), Notification(4, 0)]
    assert states(events) == [State.IDLE]


@pytest.mark.parametrize("message", [Update(), RouteRefresh(1, 1)], ids=["update", "route-refresh"])
def test_openconfirm_unexpected_message_is_fsm_error_2(message: Message) -> None:
    s = openconfirm()
    s.data_received(encode_message(message), 2.0)
    assert_dropped(s, 5, 2)


def test_openconfirm_second_open_is_fsm_error_2() -> None:
    s = openconfirm()
    s.data_received(peer_open(s.settings), 2.0)
    assert_dropped(s, 5, 2)


def test_openconfirm_bad_open_is_open_error() -> None:
    s = openconfirm()
    s.data_received(peer_open(s.settings, hold_time=2), 2.0)
    assert_dropped(s, 2, 6)


def test_openconfirm_connection_fails() -> None:
    s = openconfirm()
    s.connection_failed(3.0)
    events = drain(s)
    assert states(events) == [State.IDLE] and of(events, CloseRequested) == []
    assert of(events, SessionDown) == [SessionDown("TCP connection failed", None, False, False)]
    assert s.connect_retry_counter == 1


def test_openconfirm_notification_and_collision_and_stop() -> None:
    s = openconfirm()
    s.data_received(encode_message(Notification(6, 3)), 2.0)
    assert s.state == State.IDLE and s.data_to_send() == b""
    s = openconfirm()
    s.collision_dump(2.0)
    assert_dropped(s, 6, 7)
    s = openconfirm()
    s.stop(2.0)
    assert_dropped(s, 6, 2, b"")


# ---------------------------------------------------------------- Established
def test_established_keepalive_restarts_hold_timer() -> None:
    s = established()
    s.data_received(KA, 50.0)
    assert s._timers[FsmEvent.HoldTimer_Expires] == 140.0
    s.handle_timer(139.0)
    assert s.state == State.ESTABLISHED
    s.handle_timer(140.0)
    assert_dropped(s, 4, 0)


def test_established_keepalive_timer_and_update_restart() -> None:
    s = established()
    s.handle_timer(31.0)
    assert sent(s) == [Keepalive()]
    s.data_received(KA, 40.0)
    s.send_update(Update(withdrawn=(P10,)))  # sending an UPDATE restarts it
    assert s._timers[FsmEvent.KeepaliveTimer_Expires] == 70.0


def test_established_update_received() -> None:
    s = established()
    u = Update(withdrawn=(P10,))
    s.data_received(encode_message(u, s.options or DEFAULT_OPTIONS), 10.0)
    (ev,) = drain(s)
    assert ev == UpdateReceived(u)
    assert s._timers[FsmEvent.HoldTimer_Expires] == 100.0


def test_batched_updates_are_one_event_split_where_the_fsm_must_see_one() -> None:
    """``batch_updates``: a run of UPDATEs in one read is one UpdatesReceived, in order,
    and restarts the HoldTimer.  A treat-as-withdraw UPDATE is passed up in the run, as
    alone; a KEEPALIVE, an End-of-RIB and a malformed UPDATE each end the run and take
    the message-at-a-time path (the last resets the session, after the run before it
    was passed up)."""
    s = established()
    s.batch_updates = True
    opts = s.options or DEFAULT_OPTIONS
    us = [Update(withdrawn=(P10 + (i << 32),)) for i in range(3)]  # 10-12.0.0.0/8
    raw = b"".join(encode_message(u, opts) for u in us)
    eor = encode_message(Update(), opts)
    taw = encode_message(Update(nlri=(P10,)), opts)  # no attributes: treat-as-withdraw
    s.data_received(raw + KA + raw[:10], 10.0)  # and the start of a header
    assert drain(s) == [UpdatesReceived(tuple(us))]
    assert s._timers[FsmEvent.HoldTimer_Expires] == 100.0
    s.data_received(raw[10:] + eor + taw + raw, 20.0)
    events = drain(s)
    assert events[0] == UpdatesReceived(tuple(us))
    assert events[1] == EndOfRib(1, 1)
    assert isinstance(events[2], UpdatesReceived) and len(events) == 3
    assert events[2].updates[0].action == Action.TREAT_AS_WITHDRAW
    assert events[2].updates[1:] == tuple(us)
    assert s._timers[FsmEvent.HoldTimer_Expires] == 110.0
    body = pack("!H", 100) + b"\x00\x00"  # Withdrawn Routes Length beyond the message
    bad = b"\xff" * 16 + pack("!HB", 19 + len(body), 2) + body
    s.data_received(raw + bad, 30.0)
    assert drain(s)[0] == UpdatesReceived(tuple(us))
    assert s.state == State.IDLE and last_notification(s).code == 3


def test_established_end_of_rib() -> None:
    s = established(families=((1, 1), (2, 1)))
    s.data_received(encode_message(Update()), 10.0)
    s.data_received(encode_message(Update(mp_unreach=MpUnreach(2, 1))), 10.0)
    assert drain(s) == [EndOfRib(1, 1), EndOfRib(2, 1)]


def test_established_treat_as_withdraw_is_passed_up() -> None:
    s = established()
    # NLRI without path attributes: RFC 7606 treat-as-withdraw, the session stays
    s.data_received(encode_message(Update(nlri=(P10,))), 10.0)
    (ev,) = drain(s)
    assert isinstance(ev, UpdateReceived) and ev.update.action == Action.TREAT_AS_WITHDRAW
    assert s.state == State.ESTABLISHED


def test_established_malformed_update_resets() -> None:
    s = established()
    body = pack("!H", 100) + b"\x00\x00"  # Withdrawn Routes Length beyond the message
    raw = b"\xff" * 16 + pack("!HB", 19 + len(body), 2) + body
    s.data_received(raw, 10.0)
    assert_dropped(s, 3, 1)


def test_established_open_is_fsm_error_3() -> None:
    s = established()
    s.data_received(peer_open(s.settings), 10.0)
    assert_dropped(s, 5, 3)


def test_established_header_error() -> None:
    s = established()
    s.data_received(b"\xff" * 16 + b"\x00\x13\x07", 10.0)
    assert_dropped(s, 1, 3, b"\x07")


def test_established_route_refresh() -> None:
    s = established()
    s.data_received(encode_message(RouteRefresh(1, 1)), 10.0)
    s.data_received(encode_message(RouteRefresh(1, 1, 1)), 10.0)
    s.data_received(encode_message(RouteRefresh(2, 1)), 10.0)  # not negotiated: ignored
    s.data_received(encode_message(RouteRefresh(1, 1, 7)), 10.0)  # unknown subtype: ignored
    assert drain(s) == [
        RouteRefreshReceived(RouteRefresh(1, 1)),
        RouteRefreshReceived(RouteRefresh(1, 1, 1)),
    ]


def test_established_bad_borr_length() -> None:
    s = established()
    raw = b"\xff" * 16 + pack("!HB", 24, 5) + b"\x00\x01\x01\x01\x00"
    s.data_received(raw, 10.0)
    assert_dropped(s, 7, 1)


def test_send_route_refresh_checks() -> None:
    s = established()
    s.send_route_refresh(1, 1)
    s.send_route_refresh(1, 1, 2)
    assert sent(s) == [RouteRefresh(1, 1), RouteRefresh(1, 1, 2)]
    with pytest.raises(UsageError):
        s.send_route_refresh(2, 1)
    with pytest.raises(UsageError):
        s.send_route_refresh(1, 1, 9)
    s = Session(settings(enhanced_route_refresh=False))
    s.start(0.0)
    s.connection_made(0.0)
    s.data_received(peer_open(s.settings) + KA, 1.0)
    with pytest.raises(UsageError):
        s.send_route_refresh(1, 1, 1)
    s = opensent()
    s.data_received(peer_open(s.settings, capabilities=()) + KA, 1.0)
    with pytest.raises(UsageError):
        s.send_route_refresh(1, 1)  # RFC 2918: the peer did not advertise it


def test_send_outside_established_is_usage_error() -> None:
    for s in (Session(settings()), opensent(), openconfirm()):
        with pytest.raises(UsageError):
            s.send_update(Update())
        with pytest.raises(UsageError):
            s.send_end_of_rib(1, 1)
        with pytest.raises(UsageError):
            s.send_route_refresh(1, 1)


def test_send_end_of_rib() -> None:
    s = established(families=((1, 1), (2, 1)))
    s.send_end_of_rib(1, 1)
    s.send_end_of_rib(2, 1)
    eors = [m.end_of_rib for m in sent(s) if isinstance(m, Update)]
    assert eors == [(1, 1), (2, 1)]


def test_established_connection_fails_without_gr() -> None:
    s = established()
    s.connection_failed(10.0)
    (down,) = of(drain(s), SessionDown)
    assert down == SessionDown("TCP connection failed", None, False, True)


def test_established_notification_received() -> None:
    s = established()
    s.data_received(encode_message(Notification.shutdown("bye")), 10.0)
    events = drain(s)
    (down,) = of(events, SessionDown)
    assert down.notification is not None and down.notification.shutdown_message == "bye"
    assert "bye" in down.reason and not down.graceful


# ---------------------------------------------------------------- max-prefix
def test_max_prefix_without_restart() -> None:
    s = established(max_prefixes=100)
    s.prefix_count(100, 10.0)
    assert drain(s) == [] and s.state == State.ESTABLISHED
    s.prefix_count(101, 10.0)
    events = assert_dropped(s, 6, 1, pack("!HBI", 1, 1, 100))
    assert of(events, MaxPrefixExceeded) == [MaxPrefixExceeded(101, 100)]
    assert s.get_timer() is None


def test_max_prefix_with_restart() -> None:
    s = established(max_prefixes=10, max_prefix_restart=60.0, families=((1, 1), (2, 1)))
    s.prefix_count(11, 10.0, afi=2, safi=1)
    assert_dropped(s, 6, 1, pack("!HBI", 2, 1, 10))
    assert s.get_timer() == 70.0
    s.handle_timer(70.0)
    assert drain(s) == [StateChanged(State.IDLE, State.CONNECT), ConnectRequested()]


def test_max_prefix_ignored_before_a_session() -> None:
    s = Session(settings(max_prefixes=1))
    s.start(0.0)
    drain(s)
    s.prefix_count(5, 1.0)
    assert s.state == State.CONNECT and drain(s) == []


# ---------------------------------------------------------------- send hold timer
def test_send_hold_timer_expires() -> None:
    s = established()
    s.write_blocked(10.0)
    s.write_blocked(20.0)  # already running
    assert s._timers[FsmEvent.SendHoldTimer_Expires] == 490.0  # max(480, 2 * 90)
    s.data_received(KA, 450.0)  # the peer still talks, but does not read
    s.handle_timer(490.0)
    assert_dropped(s, 8, 0)


def test_send_hold_timer_stopped_when_writes_resume() -> None:
    s = established(send_hold_time=30.0)
    s.write_blocked(10.0)
    s.write_unblocked(20.0)
    assert FsmEvent.SendHoldTimer_Expires not in s._timers
    s = established(send_hold_time=0.0)  # off
    s.write_blocked(10.0)
    assert FsmEvent.SendHoldTimer_Expires not in s._timers


def test_send_hold_default_in_opensent_uses_configured_hold() -> None:
    s = opensent(hold_time=300)
    s.write_blocked(0.0)
    s.handle_timer(240.0)  # the OpenSent HoldTimer first
    assert last_notification(s).code == 4


# ---------------------------------------------------------------- graceful restart
def test_graceful_restart_flags_and_session_down() -> None:
    s = established(graceful_restart=True)
    neg = s.negotiated
    assert neg is not None and neg.graceful_restart and neg.notification_gr
    s.connection_failed(10.0)
    (down,) = of(drain(s), SessionDown)
    assert down.graceful and down.established


def test_hold_timer_with_n_bit_is_graceful_admin_shutdown_is_hard() -> None:
    s = established(graceful_restart=True)
    s.handle_timer(92.0)
    (down,) = of(drain(s), SessionDown)
    assert down.notification == Notification(4, 0) and down.graceful
    s = established(graceful_restart=True)
    s.stop(10.0, "bye")
    # RFC 8538 5: Administrative Shutdown travels as Cease/Hard Reset
    events = assert_dropped(s, 6, 9, b"\x06\x02\x03bye")  # RFC 8538 3: code, subcode, data
    assert not of(events, SessionDown)[0].graceful


def test_received_hard_reset_is_not_graceful() -> None:
    s = established(graceful_restart=True)
    s.data_received(encode_message(Notification(6, 9, b"\x02")), 10.0)
    assert not of(drain(s), SessionDown)[0].graceful
    s = established(graceful_restart=True)
    s.data_received(encode_message(Notification(6, 4)), 10.0)  # Admin Reset: graceful
    assert of(drain(s), SessionDown)[0].graceful


def test_notification_without_n_bit_is_not_graceful() -> None:
    s = opensent(graceful_restart=True)
    o = build_open(peer_settings(s.settings))
    caps = tuple(c for c in o.capabilities if c.code != 64)
    o = replace(o, capabilities=(*caps, GracefulRestart(0, 90, ((1, 1, 0x80),))))
    s.data_received(encode_message(o) + KA, 1.0)
    neg = s.negotiated
    assert neg is not None and neg.graceful_restart and not neg.notification_gr
    assert neg.peer_restart_time == 90 and neg.peer_forwarding == {(1, 1)}
    s.data_received(encode_message(Notification(6, 4)), 10.0)
    assert not of(drain(s), SessionDown)[0].graceful


def test_restarting_speaker_sets_r_and_f_bits() -> None:
    o = build_open(settings(graceful_restart=True, restarting=True, restart_time=200))
    (gr,) = o.find(GracefulRestart)
    assert isinstance(gr, GracefulRestart)
    assert gr.restart_flags == 0xC and gr.restart_time == 200 and gr.afisafis == ((1, 1, 0x80),)
    o = build_open(settings(graceful_restart=True))
    (gr,) = o.find(GracefulRestart)
    assert isinstance(gr, GracefulRestart) and gr.restart_flags == 0x4
    assert gr.afisafis == ((1, 1, 0),)


def test_hold_timer_not_jittered_keepalive_is() -> None:
    s = Session(settings(jitter=True), seed=7)
    s.start(0.0)
    assert 90.0 <= s._timers[FsmEvent.ConnectRetryTimer_Expires] <= 120.0
    s.connection_made(0.0)
    s.data_received(peer_open(s.settings), 0.0)
    assert s._timers[FsmEvent.HoldTimer_Expires] == 90.0
    assert 22.5 <= s._timers[FsmEvent.KeepaliveTimer_Expires] <= 30.0
    t = Session(settings(jitter=True), seed=7)
    t.start(0.0)
    assert t._timers[FsmEvent.ConnectRetryTimer_Expires] == pytest.approx(
        Session(settings(jitter=True), seed=7)._jitter(120.0)
    )


def test_keepalives_never_more_than_one_per_second() -> None:
    """RFC 4271 4.4: with hold 3 the jittered interval (0.75..1 s) is raised to 1 s."""
    for seed in range(20):
        s = Session(settings(jitter=True, hold_time=3), seed=seed)
        s.start(0.0)
        s.connection_made(0.0)
        s.data_received(peer_open(s.settings, hold_time=3), 0.0)
        assert s._timers[FsmEvent.KeepaliveTimer_Expires] >= 1.0


def test_mp_reach_error_resets_the_session() -> None:
    """RFC 4760 7: AFI/SAFI disable may be a session reset; pybgp resets (3/9)."""
    s = established()
    # MP_REACH_NLRI whose next hop length (5) runs past the attribute
    attr = bytes((0x80, 14, 6)) + pack("!HBB", 1, 1, 5) + b"\x0a\x00"
    body = b"\x00\x00" + pack("!H", len(attr)) + attr
    s.data_received(b"\xff" * 16 + pack("!HB", 19 + len(body), 2) + body, 3.0)
    assert_dropped(s, 3, 9)
