"""Hypothesis: random input sequences never break a Session.

Whatever arrives, in whatever order, a session raises only its documented API errors
(``UsageError`` from the send methods, ``ValueError`` for a shutdown message over 255
octets) and stays in a consistent state: timers allowed in its state, a connection
exactly when the state needs one, options exactly when negotiated, a StateChanged chain
without gaps, and one SessionDown per connection lost.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.codec.attributes import AttrSet
from pybgp.codec.message import Keepalive, encode_message
from pybgp.codec.notification import Notification
from pybgp.codec.refresh import RouteRefresh
from pybgp.codec.update import MpUnreach, Update
from pybgp.fsm import (
    Event,
    FsmEvent,
    PeerSettings,
    Session,
    SessionDown,
    State,
    StateChanged,
    UsageError,
)
from pybgp.negotiation import build_open

from .test_fsm import LOCAL_ID, P10, peer_open, peer_settings

E = FsmEvent
ALLOWED_TIMERS = {
    State.IDLE: {E.IdleHoldTimer_Expires},
    State.CONNECT: {E.ConnectRetryTimer_Expires, E.DelayOpenTimer_Expires},
    State.ACTIVE: {E.ConnectRetryTimer_Expires, E.DelayOpenTimer_Expires},
    State.OPENSENT: {E.HoldTimer_Expires, E.SendHoldTimer_Expires},
    State.OPENCONFIRM: {E.HoldTimer_Expires, E.KeepaliveTimer_Expires, E.SendHoldTimer_Expires},
    State.ESTABLISHED: {E.HoldTimer_Expires, E.KeepaliveTimer_Expires, E.SendHoldTimer_Expires},
}

settings_st = st.builds(
    PeerSettings,
    local_as=st.just(65001),
    local_id=st.just(LOCAL_ID),
    remote_as=st.sampled_from([65002, 65001]),
    hold_time=st.sampled_from([0, 3, 90]),
    passive=st.booleans(),
    delay_open=st.sampled_from([0.0, 0.0, 2.0]),
    graceful_restart=st.booleans(),
    max_prefixes=st.sampled_from([None, 5]),
    max_prefix_restart=st.sampled_from([None, 30.0]),
    idle_hold_time=st.sampled_from([None, 0.0, 5.0]),
    jitter=st.booleans(),
)


def messages(s: PeerSettings) -> list[bytes]:
    o = build_open(peer_settings(s))
    update = Update(attrs=AttrSet(origin=0, as_path=(), next_hop=bytes(4)), nlri=(P10,))
    return [
        peer_open(s),
        peer_open(s, hold_time=1),
        peer_open(s, my_as=1, capabilities=()),
        encode_message(replace(o, hold_time=0)),
        encode_message(Keepalive()),
        encode_message(update),
        encode_message(Update()),
        encode_message(Update(mp_unreach=MpUnreach(2, 1))),
        encode_message(Update(nlri=(P10,))),
        encode_message(Notification(6, 2, b"\x03bye")),
        encode_message(Notification(2, 1, b"\x00\x04")),
        encode_message(RouteRefresh(1, 1)),
        encode_message(RouteRefresh(1, 1, 1)),
        b"\xff" * 16 + b"\x00\x18\x05\x00\x01\x01\x01\x00",  # BoRR of bad length
        b"\xff" * 16 + b"\x00\x13\x09",
    ]


op_st = st.one_of(
    st.tuples(st.just("start")),
    st.tuples(st.just("stop"), st.text(max_size=300), st.booleans()),
    st.tuples(st.just("made")),
    st.tuples(st.just("failed")),
    st.tuples(st.just("message"), st.integers(0, 14), st.integers(1, 40)),
    st.tuples(st.just("garbage"), st.binary(max_size=60)),
    st.tuples(st.just("wait"), st.floats(0, 500)),
    st.tuples(st.just("fire")),
    st.tuples(st.just("blocked")),
    st.tuples(st.just("unblocked")),
    st.tuples(st.just("dump")),
    st.tuples(st.just("prefixes"), st.integers(0, 10)),
    st.tuples(st.just("send"), st.integers(0, 4)),
)


class Checker:
    """Follows the event stream and checks a session after every input."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.state = s.state
        self.connections = 0
        self.downs = 0

    def check(self) -> None:
        s = self.s
        events: list[Event] = []
        while (e := s.next_event()) is not None:
            events.append(e)
        for e in events:
            if isinstance(e, StateChanged):
                assert e.old == self.state and e.new != e.old
                self.state = e.new
            elif isinstance(e, SessionDown):
                self.downs += 1
            else:
                assert type(e).__module__ == "pybgp.events"
        assert self.state == s.state
        assert isinstance(s.state, State)
        assert set(s._timers) <= ALLOWED_TIMERS[s.state], (s.state, s._timers)
        if s.state in (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED):
            assert s.connected
        elif s.state == State.IDLE:
            assert not s.connected
        else:
            assert s.connected == (E.DelayOpenTimer_Expires in s._timers)
            assert s._timers  # Connect/Active always wait for something
        assert (s.options is not None) == (s.state in (State.OPENCONFIRM, State.ESTABLISHED))
        assert (s.negotiated is not None) == (s.options is not None)
        assert self.downs <= self.connections
        if not s.connected:
            assert self.downs == self.connections
        s.data_to_send()


def run(s: Session, ops: list[tuple[Any, ...]]) -> None:
    c = Checker(s)
    now = 0.0
    pool = messages(s.settings)
    for op in ops:
        kind = op[0]
        try:
            if kind == "start":
                s.start(now)
            elif kind == "stop":
                s.stop(now, op[1], op[2])
            elif kind == "made":
                was = s.connected
                s.connection_made(now)
                c.connections += s.connected and not was
            elif kind == "failed":
                s.connection_failed(now)
            elif kind == "message":
                data = pool[op[1]]
                for i in range(0, len(data), op[2]):
                    s.data_received(data[i : i + op[2]], now)
            elif kind == "garbage":
                s.data_received(op[1], now)
            elif kind == "wait":
                now += op[1]
                s.handle_timer(now)
            elif kind == "fire":
                t = s.get_timer()
                if t is not None:
                    now = max(now, t)
                    s.handle_timer(now)
            elif kind == "blocked":
                s.write_blocked(now)
            elif kind == "unblocked":
                s.write_unblocked(now)
            elif kind == "dump":
                s.collision_dump(now)
            elif kind == "prefixes":
                s.prefix_count(op[1], now)
            elif kind == "send":
                [
                    lambda: s.send_update(Update(withdrawn=(P10,))),
                    lambda: s.send_end_of_rib(1, 1),
                    lambda: s.send_route_refresh(1, 1),
                    lambda: s.send_route_refresh(1, 1, 1),
                    lambda: s.send_end_of_rib(2, 1),
                ][op[1]]()
        except UsageError:
            assert kind == "send"
        except ValueError:
            assert kind == "stop" and len(op[1].encode()) > 255
        c.check()
        t = s.get_timer()
        assert t is None or t >= 0


@settings(max_examples=300, deadline=None)
@given(settings_st, st.lists(op_st, max_size=40), st.integers(0, 2**16))
def test_random_inputs_keep_a_valid_state(
    ps: PeerSettings, ops: list[tuple[Any, ...]], seed: int
) -> None:
    run(Session(ps, seed), ops)


@settings(max_examples=200, deadline=None)
@given(settings_st, st.lists(op_st, max_size=30))
def test_random_inputs_after_establishing(ps: PeerSettings, ops: list[tuple[Any, ...]]) -> None:
    prefix: list[tuple[Any, ...]] = [("start",), ("made",), ("fire",), ("message", 0, 100)]
    prefix += [("message", 4, 19)]
    run(Session(ps), prefix + ops)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.sampled_from(["wait", "stop", "start", "drop", "block", "deliver"]),
            st.floats(0, 200),
        ),
        max_size=25,
    ),
    st.booleans(),
)
def test_random_back_to_back_then_recovers(ops: list[tuple[str, str, float]], gr: bool) -> None:
    """Two wired sessions survive random stops, drops and stalls, and come back."""
    from .test_fsm_back_to_back import Wire, pair_settings

    sa, sb = pair_settings(graceful_restart=gr, hold_time=9, idle_hold_time=1.0)
    w = Wire(Session(sa, 1), Session(sb, 2))
    w.start()
    for who, what, dt in ops:
        me = w.a if who == "a" else w.b
        if what == "wait":
            w.run_until(w.now + dt)
        elif what == "stop":
            me.stop(w.now, "x")
        elif what == "start":
            me.start(w.now)
        elif what == "drop" and w.up:
            w.up = False
            w.a.connection_failed(w.now)
            w.b.connection_failed(w.now)
        elif what == "block":
            w.deliver[who] = not w.deliver[who]
        w.pump()
        for s in (w.a, w.b):
            assert set(s._timers) <= ALLOWED_TIMERS[s.state]
            assert (s.options is not None) == (s.state in (State.OPENCONFIRM, State.ESTABLISHED))
    # heal the wire, restart both by hand and give them time: they must establish
    w.deliver = {"a": True, "b": True}
    if w.up:
        w.up = False
        w.a.connection_failed(w.now)
        w.b.connection_failed(w.now)
    w.pump()
    w.a.start(w.now)
    w.b.start(w.now)
    w.pump()
    w.run_until(w.now + 1000.0)
    assert w.a.state == State.ESTABLISHED and w.b.state == State.ESTABLISHED
