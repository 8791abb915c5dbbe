"""RFC 4271 8.2.2 transitions of pybgp.fsm, one state at a time, with a fake clock.

The peer is played by hand: its messages are encoded with the codec and fed to
``data_received``; what the session sends is decoded back.  Helpers here are shared by
the other tests/test_fsm_*.py modules.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pybgp.codec.message import Keepalive, Message, decode_message, encode_message
from pybgp.codec.nlri import make_prefix
from pybgp.codec.notification import Notification
from pybgp.codec.open import Open
from pybgp.codec.options import DEFAULT_OPTIONS, SessionOptions
from pybgp.codec.refresh import RouteRefresh
from pybgp.codec.update import Update
from pybgp.fsm import (
    TRANSITIONS,
    CloseRequested,
    ConnectRequested,
    Event,
    FsmEvent,
    NotificationReceived,
    NotificationSent,
    OpenReceived,
    PeerSettings,
    Session,
    SessionDown,
    State,
    StateChanged,
)
from pybgp.negotiation import build_open

LOCAL_ID = bytes((10, 0, 0, 1))
PEER_ID = bytes((10, 0, 0, 2))
KA = encode_message(Keepalive())
P10 = make_prefix(0x0A000000, 8)


def settings(**kw: Any) -> PeerSettings:
    base: dict[str, Any] = {"local_as": 65001, "local_id": LOCAL_ID, "remote_as": 65002}
    base["jitter"] = False
    base.update(kw)
    return PeerSettings(**base)


def peer_settings(s: PeerSettings, **kw: Any) -> PeerSettings:
    """The settings the peer of ``s`` would have."""
    return replace(
        s, local_as=s.remote_as, remote_as=s.local_as, local_id=PEER_ID, passive=False, **kw
    )


def peer_open(s: PeerSettings, **kw: Any) -> bytes:
    """The OPEN the peer of ``s`` sends, with fields of ``Open`` overridden."""
    return encode_message(replace(build_open(peer_settings(s)), **kw))


def drain(s: Session) -> list[Event]:
    out = []
    while (e := s.next_event()) is not None:
        out.append(e)
    return out


def sent(s: Session, options: SessionOptions = DEFAULT_OPTIONS) -> list[Message]:
    """Decode everything the session queued for the transport."""
    data = s.data_to_send()
    msgs = []
    while data:
        length = (data[16] << 8) | data[17]
        msgs.append(decode_message(data[:length], options))
        data = data[length:]
    return msgs


def of(events: list[Event], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def states(events: list[Event]) -> list[State]:
    return [e.new for e in events if isinstance(e, StateChanged)]


def opensent(**kw: Any) -> Session:
    """A session that connected at t=0 and sent its OPEN."""
    s = Session(settings(**kw))
    s.start(0.0)
    s.connection_made(0.0)
    drain(s)
    s.data_to_send()
    return s


def openconfirm(**kw: Any) -> Session:
    s = opensent(**kw)
    s.data_received(peer_open(s.settings), 1.0)
    assert s.state == State.OPENCONFIRM
    drain(s)
    s.data_to_send()
    return s


def established(**kw: Any) -> Session:
    s = openconfirm(**kw)
    s.data_received(KA, 2.0)
    assert s.state == State.ESTABLISHED
    drain(s)
    return s


def last_notification(s: Session) -> Notification:
    msgs = [m for m in sent(s) if isinstance(m, Notification)]
    assert len(msgs) == 1
    return msgs[0]


def assert_dropped(s: Session, code: int, subcode: int, data: bytes | None = None) -> list[Event]:
    """The session sent exactly this NOTIFICATION, asked to close and went Idle."""
    events = drain(s)
    n = last_notification(s)
    assert (n.code, n.subcode) == (code, subcode)
    if data is not None:
        assert n.data == data
    assert of(events, NotificationSent) == [NotificationSent(n)]
    assert of(events, CloseRequested) == [CloseRequested()]
    down = of(events, SessionDown)
    assert len(down) == 1 and down[0].notification == n
    assert s.state == State.IDLE and not s.connected
    assert s.options is None
    return events


# ---------------------------------------------------------------- Idle
def test_idle_manual_start_connects() -> None:
    s = Session(settings())
    s.start(10.0)
    events = drain(s)
    assert events == [StateChanged(State.IDLE, State.CONNECT), ConnectRequested()]
    assert s.get_timer() == 130.0  # ConnectRetryTimer, no jitter


def test_idle_passive_start_goes_active() -> None:
    s = Session(settings(passive=True))
    s.start(0.0)
    assert drain(s) == [StateChanged(State.IDLE, State.ACTIVE)]
    s.handle_timer(120.0)  # ConnectRetryTimer_Expires in Active: a passive peer keeps listening
    assert s.state == State.ACTIVE and drain(s) == []
    assert s.get_timer() == 240.0


def test_idle_ignores_everything_else() -> None:
    s = Session(settings())
    s.stop(0.0)
    s.connection_failed(0.0)
    s.data_received(KA, 0.0)
    s.collision_dump(0.0)
    s.prefix_count(10**6, 0.0)
    s.handle_timer(1e9)
    assert s.state == State.IDLE and drain(s) == [] and s.data_to_send() == b""
    s.connection_made(0.0)  # no connection is accepted in Idle
    assert drain(s) == [CloseRequested()] and s.state == State.IDLE


def test_every_idle_event_has_a_row() -> None:
    assert all((State.IDLE, e) in TRANSITIONS for e in FsmEvent)


def test_start_is_ignored_outside_idle() -> None:
    for factory in (opensent, openconfirm, established):
        s = factory()
        before = s.state
        s.start(5.0)
        assert s.state == before and drain(s) == []


# ---------------------------------------------------------------- Connect
def test_connect_retry_timer_expires_reconnects() -> None:
    s = Session(settings(connect_retry=30.0))
    s.start(0.0)
    drain(s)
    s.handle_timer(29.0)
    assert drain(s) == []
    s.handle_timer(30.0)
    assert drain(s) == [ConnectRequested()]
    assert s.state == State.CONNECT and s.get_timer() == 60.0


def test_connect_connection_made_sends_open() -> None:
    s = Session(settings())
    s.start(0.0)
    s.connection_made(1.0)
    assert states(drain(s)) == [State.CONNECT, State.OPENSENT]
    (o,) = sent(s)
    assert isinstance(o, Open) and o.bgp_id == LOCAL_ID and o.hold_time == 90
    assert s.get_timer() == 241.0  # the large HoldTimer of OpenSent, ConnectRetry stopped


def test_connect_fails_goes_idle_then_restarts_with_backoff() -> None:
    s = Session(settings(idle_hold_time=5.0))
    s.start(0.0)
    drain(s)
    s.connection_failed(1.0)
    events = drain(s)
    assert events == [StateChanged(State.CONNECT, State.IDLE)]  # no connection: no SessionDown
    assert s.get_timer() == 6.0
    s.handle_timer(6.0)  # IdleHoldTimer_Expires -> AutomaticStart
    assert drain(s) == [StateChanged(State.IDLE, State.CONNECT), ConnectRequested()]
    s.connection_failed(7.0)
    drain(s)
    assert s.get_timer() == 17.0  # DampPeerOscillations: doubled


def test_no_automatic_restart_without_idle_hold_time() -> None:
    s = Session(settings(idle_hold_time=None))
    s.start(0.0)
    s.connection_failed(1.0)
    assert s.state == State.IDLE and s.get_timer() is None


def test_connect_manual_stop() -> None:
    s = Session(settings())
    s.start(0.0)
    drain(s)
    s.stop(1.0)
    assert drain(s) == [StateChanged(State.CONNECT, State.IDLE)]
    assert s.get_timer() is None and s.data_to_send() == b""


def test_delay_open_timer_expires_sends_open() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    assert s.state == State.CONNECT and s.data_to_send() == b""
    assert s.get_timer() == 6.0  # DelayOpenTimer; ConnectRetryTimer stopped
    s.handle_timer(6.0)
    assert s.state == State.OPENSENT
    assert isinstance(sent(s)[0], Open)


def test_open_with_delay_open_timer_running() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.data_received(peer_open(s.settings), 2.0)
    assert s.state == State.OPENCONFIRM
    msgs = sent(s)
    assert isinstance(msgs[0], Open) and isinstance(msgs[1], Keepalive)
    assert FsmEvent.DelayOpenTimer_Expires not in s._timers
    assert s.get_timer() == 32.0  # keepalive at hold/3


def test_connect_fails_with_delay_open_goes_active() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.connection_failed(2.0)
    events = drain(s)
    assert states(events) == [State.ACTIVE]
    assert of(events, CloseRequested) == []  # the adapter told us
    assert len(of(events, SessionDown)) == 1
    assert s.get_timer() == 122.0  # ConnectRetryTimer restarted
    s.handle_timer(122.0)  # Active, ConnectRetryTimer_Expires: connect again
    assert drain(s) == [StateChanged(State.ACTIVE, State.CONNECT), ConnectRequested()]


def test_unexpected_message_in_connect_is_fsm_error_subcode_0() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.data_received(KA, 2.0)
    assert_dropped(s, 5, 0)


def test_header_error_in_connect_sends_notification() -> None:
    s = Session(settings(delay_open=5.0, passive=True))
    s.start(0.0)
    s.connection_made(1.0)
    assert s.state == State.ACTIVE
    drain(s)
    s.data_received(b"\x00" * 19, 2.0)
    assert_dropped(s, 1, 1)
    assert s.connect_retry_counter == 1


def test_notification_in_connect_is_not_answered() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.data_received(encode_message(Notification(6, 5)), 2.0)
    events = drain(s)
    assert s.data_to_send() == b"" and s.state == State.IDLE
    assert of(events, NotificationReceived) == [NotificationReceived(Notification(6, 5))]


def test_collision_dump_in_delay_open() -> None:
    s = Session(settings(delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.collision_dump(2.0)
    assert_dropped(s, 6, 7)
    assert s.get_timer() is None  # the other connection carries the session


# ---------------------------------------------------------------- Active
def test_active_connection_made_sends_open() -> None:
    s = Session(settings(passive=True))
    s.start(0.0)
    s.connection_made(3.0)
    assert s.state == State.OPENSENT and isinstance(sent(s)[0], Open)


def test_active_connection_fails_during_delay_open() -> None:
    s = Session(settings(passive=True, delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.connection_failed(2.0)
    assert states(drain(s)) == [State.IDLE]
    assert s.connect_retry_counter == 1


def test_active_manual_stop_with_connection_sends_cease() -> None:
    s = Session(settings(passive=True, delay_open=5.0))
    s.start(0.0)
    s.connection_made(1.0)
    drain(s)
    s.stop(2.0, "bye")
    assert_dropped(s, 6, 2, b"\x03bye")


# ---------------------------------------------------------------- OpenSent
def test_opensent_valid_open_goes_openconfirm() -> None:
    s = opensent()
    s.data_received(peer_open(s.settings), 1.0)
    events = drain(s)
    assert states(events) == [State.OPENCONFIRM]
    (received,) = of(events, OpenReceived)
    assert received.open.bgp_id == PEER_ID
    assert sent(s) == [Keepalive()]
    assert s._timers == {FsmEvent.HoldTimer_Expires: 91.0, FsmEvent.KeepaliveTimer_Expires: 31.0}
    assert s.options is not None and s.options.four_octet_as


def test_opensent_large_hold_timer_expires() -> None:
    s = opensent()
    s.handle_timer(240.0)
    events = assert_dropped(s, 4, 0)
    assert states(events) == [State.IDLE]


def test_opensent_connection_fails_goes_active() -> None:
    s = opensent()
    s.connection_failed(5.0)
    events = drain(s)
    assert states(events) == [State.ACTIVE]
    assert s.get_timer() == 125.0


def test_opensent_second_connection_is_tracked_elsewhere() -> None:
    s = opensent()
    s.connection_made(1.0)
    assert s.state == State.OPENSENT and drain(s) == []


@pytest.mark.parametrize(
    "message",
    [Keepalive(), Update(), RouteRefresh(1, 1)],
    ids=["keepalive", "update", "route-refresh"],
)
def test_opensent_unexpected_message_is_fsm_error_1(message: Message) -> None:
    s = opensent()
    s.data_received(encode_message(message), 1.0)
    assert_dropped(s, 5, 1)


@pytest.mark.parametrize(
    ("change", "subcode"),
    [
        ({"my_as": 65003}, 2),  # Bad Peer AS
        ({"bgp_id": b"\0\0\0\0"}, 3),  # Bad BGP Identifier
        ({"hold_time": 1}, 6),  # Unacceptable Hold Time
        ({"hold_time": 2}, 6),
    ],
)
def test_opensent_bad_open(change: dict[str, Any], subcode: int) -> None:
    s = opensent(four_octet_as=False)
    s.data_received(peer_open(s.settings, capabilities=(), **change), 1.0)
    assert_dropped(s, 2, subcode)
    assert s.connect_retry_counter == 1


def test_bad_peer_as_uses_the_four_octet_capability() -> None:
    s = opensent(remote_as=4_200_000_000)
    o = build_open(peer_settings(s.settings))
    assert o.my_as == 23456
    s.data_received(encode_message(o), 1.0)
    assert s.state == State.OPENCONFIRM
    s = opensent(remote_as=4_200_000_000)
    s.data_received(encode_message(replace(o, capabilities=())), 1.0)  # AS_TRANS alone
    assert_dropped(s, 2, 2)


def test_ibgp_same_identifier_is_refused_ebgp_allowed() -> None:
    s = opensent(remote_as=65001)
    s.data_received(peer_open(s.settings, bgp_id=LOCAL_ID), 1.0)
    assert_dropped(s, 2, 3)
    s = opensent()
    s.data_received(peer_open(s.settings, bgp_id=LOCAL_ID), 1.0)  # RFC 6286: eBGP may
    assert s.state == State.OPENCONFIRM


def test_unsupported_version_from_bytes() -> None:
    s = opensent()
    raw = bytearray(peer_open(s.settings))
    raw[19] = 3
    s.data_received(bytes(raw), 1.0)
    assert_dropped(s, 2, 1, b"\x00\x04")


def test_role_mismatch() -> None:
    s = opensent(role=3)  # customer
    s.data_received(peer_open(s.settings), 1.0)  # peer mirrors role customer
    assert_dropped(s, 2, 11)
    s = opensent(role=3)
    good = build_open(peer_settings(s.settings, role=0))  # provider
    s.data_received(encode_message(good), 1.0)
    assert s.state == State.OPENCONFIRM


def test_hold_time_zero_means_no_timers() -> None:
    s = opensent()
    s.data_received(peer_open(s.settings, hold_time=0), 1.0)
    assert s.state == State.OPENCONFIRM and s.get_timer() is None
    s.data_received(KA, 2.0)
    assert s.state == State.ESTABLISHED and s.get_timer() is None


def test_peer_hold_time_lower_wins() -> None:
    s = opensent()
    s.data_received(peer_open(s.settings, hold_time=9), 1.0)
    assert s.negotiated is not None and s.negotiated.hold_time == 9
    assert s._timers[FsmEvent.KeepaliveTimer_Expires] == 4.0


@pytest.mark.parametrize(
    ("data", "subcode", "notif_data"),
    [
        (b"\x00" * 16 + b"\x00\x13\x04", 1, b""),  # Connection Not Synchronized
        (b"\xff" * 16 + b"\x00\x12\x04", 2, b"\x00\x12"),  # Bad Message Length: the length
        (b"\xff" * 16 + b"\x00\x13\x09", 3, b"\x09"),  # Bad Message Type: the type
        (b"\xff" * 16 + b"\x10\x01\x02", 2, b"\x10\x01"),  # over 4096
    ],
)
def test_header_errors(data: bytes, subcode: int, notif_data: bytes) -> None:
    s = opensent()
    s.data_received(data, 1.0)
    assert_dropped(s, 1, subcode, notif_data)


def test_opensent_notification_received() -> None:
    s = opensent()
    s.data_received(encode_message(Notification(2, 2)), 1.0)
    events = drain(s)
    assert s.data_to_send() == b""
    assert of(events, NotificationReceived) == [NotificationReceived(Notification(2, 2))]
    assert of(events, CloseRequested) == [CloseRequested()]
    assert s.state == State.IDLE and s.connect_retry_counter == 1


def test_opensent_version_error_notification_does_not_count() -> None:
    s = opensent()
    s.data_received(encode_message(Notification(2, 1, b"\x00\x04")), 1.0)  # NotifMsgVerErr
    assert s.state == State.IDLE and s.connect_retry_counter == 0


def test_opensent_manual_stop_sends_admin_shutdown() -> None:
    s = opensent()
    s.stop(1.0, "maintenance")
    events = assert_dropped(s, 6, 2, b"\x0bmaintenance")
    assert of(events, SessionDown)[0].notification.shutdown_message == "maintenance"
    assert s.get_timer() is None


def test_admin_reset_and_long_message() -> None:
    s = opensent()
    with pytest.raises(ValueError):
        s.stop(1.0, "x" * 256)
    assert s.state == State.OPENSENT
    s.stop(1.0, "restart", reset=True)
    assert_dropped(s, 6, 4, b"\x07restart")


def test_messages_split_and_coalesced() -> None:
    s = opensent()
    data = peer_open(s.settings) + KA
    for i in range(len(data)):
        s.data_received(data[i : i + 1], 1.0)
    assert s.state == State.ESTABLISHED


def test_valid_message_before_a_bad_header_is_processed() -> None:
    s = opensent()
    s.data_received(peer_open(s.settings) + b"\x00" * 19, 1.0)
    events = drain(s)
    assert of(events, OpenReceived) and s.state == State.IDLE
    assert last_notification(s).code == 1


def test_every_row_cites_its_rfc_clause() -> None:
    for (state, event), handler in TRANSITIONS.items():
        doc = handler.__doc__ or ""
        assert "8.2.2" in doc or "RFC" in doc, (state, event, handler)


def test_bytes_of_a_lost_connection_never_reach_the_next() -> None:
    s = established()
    s.handle_timer(31.0)  # a KEEPALIVE is queued, the adapter has not drained it
    s.connection_failed(32.0)
    assert s.data_to_send() == b""
    s = Session(settings(passive=True))
    s.start(0.0)
    s.connection_made(1.0)
    s.connection_failed(2.0)  # OpenSent -> Active; the OPEN was never drained
    s.connection_made(3.0)
    assert len(sent(s)) == 1  # one OPEN, for this connection


def test_the_core_does_no_io() -> None:
    import ast
    from pathlib import Path

    import pybgp

    root = Path(pybgp.__file__).parent
    for name in ("fsm.py", "events.py", "negotiation.py"):
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            assert not {m.split(".")[0] for m in mods} & {"asyncio", "socket", "time"}
