"""FSM and timer checks: RFC 4271 4.4, 6.4, 6.8, 8.2.2 and 10, RFC 6608, RFC 9003.

How this works: these checks are about when things happen rather than about bytes.
Messages out of order must get the FSM Error NOTIFICATION (code 5, RFC 6608 subcodes);
the target must enforce the Hold Time it agreed and send KEEPALIVEs that keep the
session up without exceeding one per second; a NOTIFICATION is followed by a close; a
second connection that collides with an Established session is the one closed; a
Cease with a shutdown communication (RFC 9003) ends the session and does not stop the
target from accepting the next one.  ``judge_keepalives`` is the pure verdict on the
KEEPALIVE times, tested on its own.
"""

from __future__ import annotations

import itertools
import time

from ..codec.message import encode_message
from . import wire
from .check import Check, Notify, Outcome, Runner, failed, not_applicable, passed, register
from .probe import ProbeError
from .runner import Context

__all__ = ["judge_keepalives"]

FSM = 5


async def _keepalive_in_opensent(ctx: Context) -> Outcome:
    probe = await ctx.connect()
    probe.send(wire.keepalive())
    expect = Notify(FSM, (1,))
    return expect.judge(await ctx.watch(probe, expect))


async def _update_in_openconfirm(ctx: Context) -> Outcome:
    probe = await ctx.connect()
    probe.send(encode_message(ctx.our_open()))
    got = await probe.wait_message(0, ("keepalive", "notification", "closed"), ctx.config.timeout)
    if got is None or got.kind != "keepalive":
        return failed("no KEEPALIVE after the OPEN exchange: " + probe._why("timeout", got))
    probe.send(wire.update())
    expect = Notify(FSM, (2,))
    return expect.judge(await ctx.watch(probe, expect))


async def _open_in_established(ctx: Context) -> Outcome:
    expect = Notify(FSM, (3,))
    return await ctx.message_flow(encode_message(ctx.our_open()), expect)


async def _notification_then_close(ctx: Context) -> Outcome:
    probe = await ctx.session()
    probe.send(wire.message(4, marker=b"\x00" * 16))
    await probe.wait_reset(ctx.config.timeout)
    if probe.notification is None:
        return failed("closed without NOTIFICATION" if probe.closed else "no NOTIFICATION")
    closed = await probe.wait(lambda: probe.closed, ctx.config.timeout)
    if not closed:
        return failed("NOTIFICATION sent but the connection was left open")
    return passed("NOTIFICATION, then the connection closed")


async def _close_on_notification(ctx: Context) -> Outcome:
    probe = await ctx.session()
    mark = len(probe.log)
    probe.send(wire.notification(6, 4))  # Cease/Administrative Reset
    closed = await probe.wait(lambda: probe.closed, ctx.config.timeout)
    answered = probe.since(mark, "notification")
    if not closed:
        return failed("connection left open after our NOTIFICATION")
    if answered:
        return failed("closed, but answered our NOTIFICATION with one")
    return passed("connection closed, no NOTIFICATION in reply")


async def _hold_timer(ctx: Context) -> Outcome:
    probe = await ctx.session(ctx.our_open(hold=3))
    probe.keepalives = False
    hold = min(3, ctx.target_open.hold_time if ctx.target_open else 3)
    if hold == 0:
        return not_applicable("the target offers Hold Time 0")
    t0 = time.monotonic()
    await probe.wait_reset(hold + 2.0)
    took = time.monotonic() - t0
    n = probe.notification
    if n is not None and n.code == 4:
        return passed(f"Hold Timer Expired NOTIFICATION after {took:.1f} s (hold {hold} s)")
    if n is not None or probe.closed:
        return failed(f"{probe._why('closed', probe.log[-1])} after {took:.1f} s, not code 4")
    return failed(f"session still up {took:.1f} s after we went silent (hold {hold} s)")


def judge_keepalives(times: list[float], hold: float, established_at: float) -> Outcome:
    """RFC 4271 4.4 and 10: KEEPALIVEs keep the session up and come at most once a second."""
    stamps = [established_at, *times]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    if len(times) < 2:
        return failed(f"{len(times)} KEEPALIVE(s) in the window (hold {hold:.0f} s)")
    worst, least = max(gaps), min(gaps[1:]) if len(gaps) > 1 else gaps[0]
    if worst >= hold:
        return failed(
            f"a gap of {worst:.2f} s between KEEPALIVEs, not below the hold time {hold:.0f} s"
        )
    if least < 0.9:
        return failed(f"KEEPALIVEs {least:.2f} s apart: more than one per second (RFC 4271 4.4)")
    return passed(f"{len(times)} KEEPALIVEs, gaps {least:.2f}..{worst:.2f} s (hold {hold:.0f} s)")


async def _keepalives(ctx: Context) -> Outcome:
    probe = await ctx.session(ctx.our_open(hold=3))
    hold = min(3, ctx.target_open.hold_time if ctx.target_open else 3)
    if hold == 0:
        return not_applicable("the target offers Hold Time 0")
    t0 = time.monotonic()
    mark = len(probe.log)
    # three hold times: about eight gaps, so that a jittered timer (RFC 4271 10 allows
    # 0.75-1.0 of the interval) shows its short gaps in every run, not one in twenty
    await probe.wait(lambda: probe.closed, 3 * hold + 0.5)
    if probe.closed:
        return failed(probe._why("closed", probe.log[-1]))
    times = [r.at for r in probe.since(mark, "keepalive")]
    return judge_keepalives(times, hold, t0)


async def _hold_zero(ctx: Context) -> Outcome:
    probe = await ctx.connect()
    try:
        await probe.establish(ctx.our_open(hold=0), ctx.config.timeout)
    except ProbeError as exc:
        n = probe.notification
        if n is not None and (n.code, n.subcode) == (2, 6):
            return not_applicable("target refuses Hold Time 0 (RFC 4271 6.2 allows it)")
        return failed(str(exc))
    probe.keepalives = False
    mark = len(probe.log)
    await probe.wait(lambda: probe.closed, 3.5)
    kas = probe.since(mark, "keepalive")
    if probe.closed:
        return failed("session closed: " + probe._why("", probe.log[-1]))
    if kas:
        return failed(f"{len(kas)} KEEPALIVE(s) with a negotiated Hold Time of 0")
    return passed("no KEEPALIVEs in 3.5 s with Hold Time 0, session up")


async def _collision(ctx: Context) -> Outcome:
    first = await ctx.session()
    second = ctx.probe(first.local)
    try:
        await second.connect(ctx.config.timeout)
    except ProbeError:
        second.closed = True  # refused outright: that closes the new connection too
    second.send(encode_message(ctx.our_open()))
    await second.wait(lambda: second.closed, ctx.config.timeout)
    await first.wait_reset(ctx.config.window)
    if first.closed or first.notification is not None:
        return failed(
            "the Established session was torn down: " + first._why("closed", first.log[-1])
        )
    if not second.closed:
        got = second.since(0, "keepalive")
        return failed("the colliding connection was kept" + (" and answered" if got else ""))
    how = second._why("closed", second.log[-1]) if second.log else "connection refused"
    return passed(
        f"new connection closed ({how.removeprefix('target sent ')}), Established one kept"
    )


async def _cease_then_new(ctx: Context, data: bytes, what: str) -> Outcome:
    probe = await ctx.session()
    mark = len(probe.log)
    probe.send(wire.notification(6, 2, data))
    if not await probe.wait(lambda: probe.closed, ctx.config.timeout):
        return failed("connection left open after Cease/Administrative Shutdown")
    if probe.since(mark, "notification"):
        return failed("the target answered our Cease with a NOTIFICATION")
    await ctx.finish()
    try:
        await ctx.session()
    except ProbeError as exc:
        return failed(f"no new session after the Cease {what}: {exc}")
    return passed(f"closed after the Cease {what}; a new session comes up")


def _msg(text: str) -> bytes:
    raw = text.encode()
    return bytes((len(raw),)) + raw


async def _unknown_code(ctx: Context) -> Outcome:
    probe = await ctx.session()
    probe.send(wire.notification(99, 1))
    if not await probe.wait(lambda: probe.closed, ctx.config.timeout):
        return failed("connection left open after a NOTIFICATION with code 99")
    return passed("connection closed")


def _reg(id_: str, rfc: str, title: str, expected: str, run: Runner) -> None:
    register(Check(id_, rfc, title, expected, run))


_reg(
    "fsm.keepalive-in-opensent",
    "RFC 4271 8.2.2 / RFC 6608",
    "KEEPALIVE before our OPEN",
    Notify(FSM, (1,)).expected(),
    _keepalive_in_opensent,
)
_reg(
    "fsm.update-in-openconfirm",
    "RFC 4271 8.2.2 / RFC 6608",
    "UPDATE in OpenConfirm",
    Notify(FSM, (2,)).expected(),
    _update_in_openconfirm,
)
_reg(
    "fsm.open-in-established",
    "RFC 4271 8.2.2 / RFC 6608",
    "a second OPEN in Established",
    Notify(FSM, (3,)).expected(),
    _open_in_established,
)
_reg(
    "fsm.notification-then-close",
    "RFC 4271 6.1 / 8.2.2",
    "an error is reported with a NOTIFICATION, then the connection closes",
    "NOTIFICATION, then close",
    _notification_then_close,
)
_reg(
    "fsm.close-on-notification",
    "RFC 4271 8.2.2",
    "a NOTIFICATION received closes the connection",
    "close, no NOTIFICATION in reply",
    _close_on_notification,
)
_reg(
    "fsm.unknown-notification-code",
    "RFC 4271 6.4 / 8.2.2",
    "a NOTIFICATION with unknown code 99",
    "connection closed",
    _unknown_code,
)
_reg(
    "fsm.hold-timer",
    "RFC 4271 6.5 / 8.2.2",
    "the Hold Timer is enforced (hold 3 s, we go silent)",
    "NOTIFICATION 4/0 within the hold time",
    _hold_timer,
)
_reg(
    "fsm.keepalive-interval",
    "RFC 4271 4.4 / 10",
    "KEEPALIVEs keep a 3 s hold time and come at most once a second",
    "gaps >= 1 s and < hold time",
    _keepalives,
)
_reg(
    "fsm.hold-time-0",
    "RFC 4271 4.4",
    "no KEEPALIVEs when the Hold Time is 0",
    "no KEEPALIVE, session up",
    _hold_zero,
)
_reg(
    "fsm.collision-established",
    "RFC 4271 6.8",
    "a connection that collides with an Established session",
    "the new connection is closed, the Established one kept",
    _collision,
)
_reg(
    "fsm.cease-shutdown-message",
    "RFC 9003 2",
    "Cease/Administrative Shutdown with a shutdown communication",
    "connection closed; a new session comes up",
    lambda c: _cease_then_new(c, _msg("pybgp conformance: maintenance"), "with a message"),
)
_reg(
    "fsm.cease-long-message",
    "RFC 9003 2",
    "shutdown communication of 255 octets of multibyte UTF-8",
    "connection closed; a new session comes up",
    lambda c: _cease_then_new(c, _msg("é" * 127 + "x"), "with a 255-octet message"),
)
_reg(
    "fsm.cease-bad-message-length",
    "RFC 9003 2",
    "shutdown communication whose length overruns the data",
    "connection closed; a new session comes up",
    lambda c: _cease_then_new(c, b"\x64abc", "with a bad length"),
)
