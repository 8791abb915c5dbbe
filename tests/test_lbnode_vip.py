"""The pure parts of the LB node agent, driven by a fake clock: rise/fall, the announce
policy, and the VIP state machine (drain timing, flap damping)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lbnode.health import CheckState, verdict
from lbnode.vip import Announce, VipMachine, VipState


def feed(s: CheckState, results: str) -> list[bool | None]:
    """'+' a pass, '-' a failure; the state after each."""
    out = []
    for r in results:
        s.record(r == "+")
        out.append(s.up)
    return out


def test_first_result_decides_then_rise_and_fall_count() -> None:
    s = CheckState(rise=3, fall=2)
    assert s.state == "init"
    assert feed(s, "+") == [True]  # the first result decides (ExaBGP's INIT)
    assert feed(s, "-+-+") == [True, True, True, True]  # isolated failures do not flap
    assert feed(s, "--") == [True, False]  # fall=2 consecutive failures
    assert s.state == "down"
    assert feed(s, "++-+++") == [False, False, False, False, False, True]  # rise=3
    assert s.passes == 8 and s.failures == 5


def test_rising_and_falling_are_visible() -> None:
    s = CheckState(rise=2, fall=2)
    s.record(True)
    s.record(False)
    assert s.state == "falling"
    s.record(False)
    s.record(True)
    assert s.state == "rising"


@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(1, 5), st.integers(1, 5))
def test_state_changes_only_after_a_full_streak(results: list[bool], rise: int, fall: int) -> None:
    s = CheckState(rise, fall)
    run, last = 0, None
    for i, ok in enumerate(results):
        before = s.up
        s.record(ok)
        run = run + 1 if ok == last else 1
        last = ok
        if i and s.up != before:
            assert run >= (rise if ok else fall)
            assert s.up == ok


def test_verdict_policies() -> None:
    up, down = CheckState(1, 1, up=True), CheckState(1, 1, up=False)
    init = CheckState(1, 1)
    assert verdict([], "all") == (True, "no checks")
    assert verdict([up, up], "all")[0] and not verdict([up, down], "all")[0]
    assert verdict([up, down], "any")[0] and not verdict([down, init], "any")[0]
    assert verdict([up, up, down], "at_least", 2)[0]
    assert not verdict([up, down, init], "at_least", 2)[0]
    assert verdict([up, down], "all")[1] == "1/2 checks up (all needed)"


def test_health_moves_between_down_and_up() -> None:
    m = VipMachine()
    assert m.state == VipState.DOWN and m.announce == Announce.NONE
    t = m.health(0.0, True, "2/2 up")
    assert t is not None and (t.old, t.new, t.reason) == (VipState.DOWN, VipState.UP, "2/2 up")
    assert m.announce == Announce.NORMAL
    assert m.health(1.0, True, "2/2 up") is None  # no change, no transition
    t = m.health(2.0, False, "1/2 up")
    assert t is not None and t.new == VipState.DOWN


def test_drain_announces_graceful_then_withdraws_after_the_grace_time() -> None:
    m = VipMachine(drain_grace=30)
    m.health(0, True, "ok")
    t = m.drain(10, "operator")
    assert t is not None and t.new == VipState.DRAINING
    assert m.announce == Announce.GRACEFUL
    assert m.next_deadline() == 40
    assert m.tick(39.9) is None and m.state == VipState.DRAINING
    t = m.tick(40)
    assert t is not None and t.new == VipState.DISABLED and "grace" in t.reason
    assert m.announce == Announce.NONE and m.next_deadline() is None
    assert m.health(50, True, "ok") is None  # healthy does not bring it back while drained
    t = m.undrain(60, ("operator",))
    assert t is not None and t.new == VipState.UP


def test_undrain_during_the_grace_time_returns_to_up() -> None:
    m = VipMachine(drain_grace=30)
    m.health(0, True, "ok")
    m.drain(1, "operator")
    t = m.undrain(5, ("operator",))
    assert t is not None and (t.old, t.new) == (VipState.DRAINING, VipState.UP)
    assert m.next_deadline() is None


def test_unhealthy_while_draining_is_withdrawn_at_once() -> None:
    m = VipMachine(drain_grace=30)
    m.health(0, True, "ok")
    m.drain(1, "signal")
    t = m.health(2, False, "0/1 up")
    assert t is not None and t.new == VipState.DISABLED and m.announce == Announce.NONE
    t = m.undrain(3, ("signal",))
    assert t is not None and t.new == VipState.DOWN  # still unhealthy


def test_draining_a_down_vip_disables_it_and_zero_grace_skips_draining() -> None:
    m = VipMachine(drain_grace=30)
    t = m.drain(0, "operator")
    assert t is not None and t.new == VipState.DISABLED
    m2 = VipMachine(drain_grace=0)
    m2.health(0, True, "ok")
    t = m2.drain(1, "operator")
    assert t is not None and t.new == VipState.DISABLED


def test_every_drain_source_must_be_cleared() -> None:
    m = VipMachine(drain_grace=5)
    m.health(0, True, "ok")
    m.drain(1, "file")
    m.drain(2, "operator")
    assert m.undrain(3, ("operator",)) is None and m.state == VipState.DRAINING
    assert m.next_deadline() == 6  # the file's drain keeps its grace time
    assert m.undrain(4, ("signal",)) is None  # not a source of this drain
    t = m.undrain(4, ("file",))
    assert t is not None and t.new == VipState.UP


def test_flap_damping_holds_the_vip_down() -> None:
    m = VipMachine(flap_count=4, flap_window=60, hold_down=30)
    m.health(0, True, "ok")  # change 1
    m.health(5, False, "bad")  # 2
    m.health(10, True, "ok")  # 3
    t = m.health(15, False, "bad")  # 4: hold down from now
    assert t is not None and t.new == VipState.DOWN and "flap damping" in t.reason
    assert m.held_until == 45 and m.next_deadline() == 45
    assert m.health(20, True, "ok") is None and m.state == VipState.DOWN  # held
    assert m.tick(44) is None
    t = m.tick(45)
    assert t is not None and t.new == VipState.UP and "hold-down over" in t.reason


def test_flap_damping_can_refuse_an_up() -> None:
    m = VipMachine(flap_count=3, flap_window=60, hold_down=10)
    m.health(0, True, "ok")
    m.health(1, False, "bad")
    assert m.health(2, True, "ok") is None  # the third change is held down
    assert m.state == VipState.DOWN and m.held_until == 12
    assert m.transitions[-1].reason.endswith("held down for 10 s")
    m.health(5, False, "bad")
    t = m.tick(12)
    assert t is None and m.state == VipState.DOWN  # unhealthy when the hold ends


def test_changes_outside_the_window_do_not_count() -> None:
    m = VipMachine(flap_count=3, flap_window=10, hold_down=100)
    m.health(0, True, "ok")
    m.health(8, False, "bad")
    m.health(16, True, "ok")  # 0 fell out of the window: two in it
    assert m.state == VipState.UP and m.held_until is None
    m.health(20, False, "bad")  # 8 left the window (20 - 10): only 16 and 20 count
    assert m.held_until is None


def test_transition_history_is_bounded() -> None:
    m = VipMachine(history=4)
    for i in range(10):
        m.health(float(i), i % 2 == 0, "x")
    assert len(m.transitions) == 4 and m.count == 10
