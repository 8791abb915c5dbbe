"""Capabilities in behaviour: route refresh (RFC 2918, RFC 7313), End-of-RIB and
graceful restart (RFC 4724, RFC 8538), ADD-PATH (RFC 7911), extended messages
(RFC 8654) and 4-octet AS numbers (RFC 6793).

How this works: a capability the target does not advertise makes its checks
not-applicable (with the reason).  Otherwise the check negotiates it on a sender
session, makes the target use it, and looks at the result at the observer: a route
sent again after a ROUTE-REFRESH, BoRR/EoRR around it, a route kept stale while its
sender restarts and flushed after End-of-RIB or the restart time, two paths of one
prefix, a long UPDATE, an AS path rebuilt from AS4_PATH.
"""

from __future__ import annotations

import time
from functools import partial

from ..codec.attributes import AttrSet
from ..codec.open import (
    AddPath,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs,
    GracefulRestart,
    RouteRefreshCap,
)
from ..codec.refresh import RouteRefresh
from ..codec.update import Update
from . import wire
from .check import (
    Check,
    Keep,
    Outcome,
    Runner,
    StayUp,
    failed,
    not_applicable,
    passed,
    register,
)
from .probe import Probe, ProbeError
from .runner import AS_TRANS, Context

__all__: list[str] = []

AS4 = 4200000001


def _obs(ctx: Context) -> Probe:
    assert ctx.observer is not None
    return ctx.observer


async def _announce_seen(
    ctx: Context, probe: Probe, marker: int = 1, extra: bytes = b""
) -> int | None:
    prefix = ctx.next_prefix()
    ctx.announce(probe, prefix, marker, extra)
    if await probe.wait(lambda: ctx.observer_has(prefix, marker), ctx.config.timeout):
        return prefix
    return None


# ---------------------------------------------------------------- route refresh
async def _ask_refresh(ctx: Context, cap: type, name: str) -> tuple[Probe, int, int] | Outcome:
    """Announce a route, see it echoed, then send ROUTE-REFRESH for IPv4 unicast:
    (observer, its log position before the request, the prefix), or n/a."""
    if not ctx.target_caps(cap):
        return not_applicable(f"target does not advertise {name}")
    s = await ctx.session()
    prefix = await _announce_seen(ctx, s)
    if prefix is None:
        return not_applicable("the route was not echoed")
    o = _obs(ctx)
    mark = len(o.log)
    o.send(wire.route_refresh(1, 1))
    return o, mark, prefix


async def _refresh(ctx: Context) -> Outcome:
    asked = await _ask_refresh(ctx, RouteRefreshCap, "Route Refresh")
    if isinstance(asked, Outcome):
        return asked
    o, mark, prefix = asked

    def again() -> bool:
        return any(
            isinstance(r.value, Update) and prefix in r.value.nlri for r in o.since(mark, "update")
        )

    if await o.wait(again, ctx.config.timeout):
        return passed("the route was sent again")
    return failed(f"no re-advertisement within {ctx.config.timeout:.0f} s")


def judge_borr_eorr(kinds: list[tuple[str, object]]) -> Outcome:
    """RFC 7313 4: BoRR, then the routes, then EoRR, in that order."""
    subtypes = [v.subtype for k, v in kinds if k == "refresh" and isinstance(v, RouteRefresh)]
    if 1 not in subtypes:
        return failed("no BoRR")
    if 2 not in subtypes:
        return failed("BoRR but no EoRR")
    order = [
        k if k != "refresh" else ("borr" if getattr(v, "subtype", 0) == 1 else "eorr")
        for k, v in kinds
    ]
    b, e = order.index("borr"), order.index("eorr")
    if e < b:
        return failed("EoRR before BoRR")
    n = sum(1 for k in order[b:e] if k == "update")
    return passed(f"BoRR, {n} UPDATE(s), EoRR")


async def _enhanced(ctx: Context) -> Outcome:
    asked = await _ask_refresh(ctx, EnhancedRouteRefresh, "Enhanced Route Refresh")
    if isinstance(asked, Outcome):
        return asked
    o, mark, _ = asked

    def eorr() -> bool:
        return any(
            isinstance(r.value, RouteRefresh) and r.value.subtype == 2
            for r in o.since(mark, "refresh")
        )

    await o.wait(eorr, ctx.config.timeout + 2)
    return judge_borr_eorr(
        [(r.kind, r.value) for r in o.since(mark) if r.kind in ("refresh", "update", "eor")]
    )


async def _in_session(data: bytes, ctx: Context, cap: type | None = None) -> Outcome:
    if cap is not None and not ctx.target_caps(cap):
        return not_applicable(f"target does not advertise {cap.__name__}")
    return await ctx.message_flow(data, StayUp())


async def _borr_length(ctx: Context) -> Outcome:
    from .check import Notify

    if not ctx.target_caps(EnhancedRouteRefresh):
        return not_applicable("target does not advertise Enhanced Route Refresh")
    return await ctx.message_flow(wire.route_refresh(1, 1, 1, b"\x00"), Notify(7, (1,)))


# ---------------------------------------------------------------- End-of-RIB and GR
async def _eor(ctx: Context) -> Outcome:
    gr = GracefulRestart(0, 0, ((1, 1, 0),))
    probe = await ctx.session(ctx.our_open(graceful=gr))
    got = await probe.wait_message(0, ("eor",), ctx.config.timeout)
    if got is not None:
        return passed(f"End-of-RIB for AFI/SAFI {got.value}")
    if not ctx.target_caps(GracefulRestart):
        return not_applicable("no End-of-RIB, and the target does not advertise Graceful Restart")
    return failed(f"no End-of-RIB within {ctx.config.timeout:.0f} s")


async def _eor_after_routes(ctx: Context) -> Outcome:
    o = _obs(ctx)
    prefix = ctx.next_prefix()
    ctx.announce(o, prefix)  # the observer's route is reflected to every new client
    await o.drain()
    try:
        await o.wait(lambda: False, 0.5)
        gr = GracefulRestart(0, 0, ((1, 1, 0),))
        probe = await ctx.session(ctx.our_open(graceful=gr))
        await probe.wait_message(0, ("eor",), ctx.config.timeout)
        kinds = [(r.kind, r.value) for r in probe.log if r.kind in ("update", "eor")]
        seen = [
            i
            for i, (k, v) in enumerate(kinds)
            if k == "update" and isinstance(v, Update) and prefix in v.nlri
        ]
        eors = [i for i, (k, _) in enumerate(kinds) if k == "eor"]
        if not eors:
            if not ctx.target_caps(GracefulRestart):
                return not_applicable(
                    "no End-of-RIB, and the target does not advertise Graceful Restart"
                )
            return failed("no End-of-RIB")
        if not seen:
            return failed("End-of-RIB without the route that was in the table")
        if seen[0] < eors[0]:
            return passed("the table's route, then End-of-RIB")
        return failed("End-of-RIB before the initial table")
    finally:
        o.send(wire.update(withdrawn=wire.nlri((prefix,))))


def _gr_cap(ctx: Context, flags: int, restart: int, forwarding: int = 0x80) -> GracefulRestart:
    return GracefulRestart(
        flags, restart, tuple((a, s, forwarding) for a, s in ctx.config.families)
    )


def _target_gr(ctx: Context, n_bit: bool = False) -> str | None:
    caps = ctx.target_caps(GracefulRestart)
    if not caps:
        return "target does not advertise Graceful Restart"
    if n_bit and not caps[0].restart_flags & 0x4:
        return "target does not set the N bit (RFC 8538)"
    return None


async def _restart(ctx: Context, before: Probe, flags: int = 0x8, restart: int = 5) -> Probe:
    """The restarted session: same neighbor (address), R bit set."""
    return await ctx.session(ctx.our_open(graceful=_gr_cap(ctx, flags, restart)), before.local)


async def _gr_keeps(ctx: Context, eor: bool) -> Outcome:
    if (why := _target_gr(ctx)) is not None:
        return not_applicable(why)
    restart = 10
    s = await ctx.session(ctx.our_open(graceful=_gr_cap(ctx, 0, restart)))
    kept = await _announce_seen(ctx, s, 1)
    gone = ctx.next_prefix()
    ctx.announce(s, gone, 1)
    if kept is None or not await s.wait(lambda: ctx.observer_has(gone), ctx.config.timeout):
        return not_applicable("the routes were not echoed")
    await s.abort()  # TCP reset, no NOTIFICATION: a restart
    t0 = time.monotonic()
    await s.wait(lambda: False, 1.0)
    if not (ctx.observer_has(kept) and ctx.observer_has(gone)):
        return failed("routes withdrawn at once when the session reset")
    if not eor:
        return passed("routes kept for 1 s after the sender's TCP reset")
    s2 = await _restart(ctx, s, restart=restart)
    took = time.monotonic() - t0
    if not (ctx.observer_has(kept) and ctx.observer_has(gone)):
        if took >= restart:
            return not_applicable(f"the target took {took:.0f} s to accept the restarted session")
        return failed(f"stale routes flushed {took:.1f} s after the reset, before the restart time")
    ctx.announce(s2, kept, 1)
    s2.send(wire.update())  # End-of-RIB: ``gone`` was not sent again

    def settled() -> bool:
        return not ctx.observer_has(gone) and ctx.observer_has(kept)

    await s2.wait(settled, ctx.config.timeout)
    if ctx.observer_has(gone):
        return failed("stale route not flushed after End-of-RIB")
    if not ctx.observer_has(kept):
        return failed("the re-sent route was withdrawn too")
    return passed("stale route flushed by End-of-RIB, re-sent route kept")


async def _gr_expiry(ctx: Context) -> Outcome:
    if (why := _target_gr(ctx)) is not None:
        return not_applicable(why)
    s = await ctx.session(ctx.our_open(graceful=_gr_cap(ctx, 0, 2)))
    prefix = await _announce_seen(ctx, s)
    if prefix is None:
        return not_applicable("the route was not echoed")
    await s.abort()
    await s.wait(lambda: False, 0.5)
    if not ctx.observer_has(prefix):
        return failed("route withdrawn at once, not kept for the restart time")
    if await s.wait(lambda: not ctx.observer_has(prefix), 2.0 + ctx.config.timeout + 1.5):
        return passed("route kept, then withdrawn when the 2 s restart time ran out")
    return failed("route still there after the restart time")


async def _gr_notification(
    ctx: Context, flags: int, data: bytes, subcode: int, flushed: bool
) -> Outcome:
    if (why := _target_gr(ctx, n_bit=bool(flags & 0x4))) is not None:
        return not_applicable(why)
    s = await ctx.session(ctx.our_open(graceful=_gr_cap(ctx, flags, 5)))
    prefix = await _announce_seen(ctx, s)
    if prefix is None:
        return not_applicable("the route was not echoed")
    s.send(wire.notification(6, subcode, data))
    await s.drain()
    gone = await s.wait(
        lambda: not ctx.observer_has(prefix), 1.5 if not flushed else ctx.config.timeout
    )
    if flushed:
        return passed("routes flushed") if gone else failed("routes kept as stale")
    if gone:
        return failed("routes flushed, not kept as stale")
    s2 = await _restart(ctx, s, 0x8 | flags)  # clean up: restart and send End-of-RIB
    s2.send(wire.update())
    await s2.wait(lambda: not ctx.observer_has(prefix), ctx.config.timeout)
    return passed("routes kept as stale after a Cease with the N bit")


async def _hard_reset_truncated(ctx: Context) -> Outcome:
    """RFC 8538 3: the Hard Reset data starts with the inner ErrCode and Subcode."""
    if (why := _target_gr(ctx, n_bit=True)) is not None:
        return not_applicable(why)
    s = await ctx.session(ctx.our_open(graceful=_gr_cap(ctx, 0x4, 5)))
    s.send(wire.notification(6, 9, b"\x02"))  # one octet: no room for the inner Subcode
    if not await s.wait(lambda: s.closed, ctx.config.timeout):
        return failed("connection left open after Cease/Hard Reset")
    await ctx.finish()
    try:
        await ctx.session()
    except ProbeError as exc:
        return failed(f"no new session after a truncated Hard Reset: {exc}")
    return passed("closed; a new session comes up")


# ---------------------------------------------------------------- ADD-PATH
def _addpath_dir(ctx: Context) -> int:
    caps = ctx.target_caps(AddPath)
    d = 0
    for c in caps:
        for a, s, x in c.afisafis:
            if (a, s) == (1, 1):
                d |= x
    return d


async def _two_paths(ctx: Context) -> tuple[Probe, int] | Outcome:
    if not _addpath_dir(ctx) & 1:
        return not_applicable("target does not advertise ADD-PATH receive for IPv4 unicast")
    s = await ctx.session(ctx.our_open(add_path=((1, 1, 2),)))
    if (1, 1) not in s.options.addpath_tx:
        return failed("ADD-PATH send was not negotiated")
    prefix = ctx.next_prefix()
    spec1 = ctx.spec(s, 1)
    nh2 = bytes(spec1.next_hop[:3]) + bytes(((spec1.next_hop[3] + 100) % 254 + 1,))
    a1 = wire.route_attrs(spec1)
    a2 = wire.route_attrs(ctx.spec(s, 2), skip=(3,), extra=wire.next_hop(nh2))
    s.send(wire.update(attrs=a1, nlri=wire.nlri((prefix,), (1,))))
    s.send(wire.update(attrs=a2, nlri=wire.nlri((prefix,), (2,))))
    return s, prefix


async def _addpath_receive(ctx: Context) -> Outcome:
    got = await _two_paths(ctx)
    if isinstance(got, Outcome):
        return got
    s, prefix = got
    if not await s.wait(lambda: ctx.observer_has(prefix), ctx.config.timeout):
        return failed("neither path was echoed")
    s.send(wire.update(withdrawn=wire.nlri((prefix,), (1,))))
    s.send(wire.update(withdrawn=wire.nlri((prefix,), (9,))))  # an unknown id: nothing
    await s.wait(
        lambda: ctx.observer_has(prefix, 2) and not ctx.observer_has(prefix, 1), ctx.config.timeout
    )
    if s.closed or s.notification is not None:
        return failed("session reset")
    if ctx.observer_has(prefix, 2) and not ctx.observer_has(prefix, 1):
        return passed("withdrawing path id 1 left path id 2")
    return failed("withdrawing path id 1 did not leave exactly path id 2")


async def _addpath_send(ctx: Context) -> Outcome:
    if not _addpath_dir(ctx) & 2:
        return not_applicable("target does not advertise ADD-PATH send for IPv4 unicast")
    o = _obs(ctx)
    if (1, 1) not in o.options.addpath_rx:
        return not_applicable("ADD-PATH receive not negotiated with the observer")
    got = await _two_paths(ctx)
    if isinstance(got, Outcome):
        return got
    s, prefix = got
    if await s.wait(lambda: len(o.paths(prefix)) >= 2, ctx.config.timeout):
        ids = sorted(o.paths(prefix))
        return passed(f"two paths with ids {ids}")
    return failed(f"{len(o.paths(prefix))} path(s) at the observer (configure ADD-PATH tx all)")


# ---------------------------------------------------------------- extended message
async def _extended(ctx: Context) -> Outcome:
    if not ctx.target_caps(ExtendedMessage):
        return not_applicable("target does not advertise Extended Message")
    s = await ctx.session(ctx.our_open(extended=True))
    prefix = ctx.next_prefix()
    extra = [(((10 << 24) | (239 << 16) | i) << 8) | 32 for i in range(1000)]
    msg = wire.update(attrs=wire.route_attrs(ctx.spec(s, 1)), nlri=wire.nlri((prefix, *extra)))
    s.send(msg)
    if not await s.wait(lambda: ctx.observer_has(prefix) or s.closed, ctx.config.timeout + 2):
        return failed(f"UPDATE of {len(msg)} octets not echoed")
    if s.closed:
        return failed(f"UPDATE of {len(msg)} octets: " + s._why("closed", s.log[-1]))
    return passed(f"UPDATE of {len(msg)} octets accepted")


# ---------------------------------------------------------------- 4-octet AS
async def _as4_cap(ctx: Context) -> Outcome:
    caps = ctx.target_caps(FourOctetAs)
    if not caps:
        return failed("no 4-octet AS capability (RFC 6793 is a NEW speaker's duty)")
    return passed(f"4-octet AS capability with AS {caps[0].asn}")


def _path_of(attrs: AttrSet) -> tuple[int, ...]:
    return tuple(a for _, asns in attrs.as_path or () for a in asns)


async def _as4_merge(ctx: Context) -> Outcome:
    s = await ctx.session(ctx.our_open(four_octet=False))
    prefix = ctx.next_prefix()
    four = wire.as_path((AS_TRANS,), four=False) + wire.attr(
        0xC0, 17, bytes((2, 1)) + AS4.to_bytes(4, "big")
    )
    spec = ctx.spec(s, 2)
    attrs = wire.route_attrs(spec, skip=(2,), extra=four)
    s.send(wire.update(attrs=attrs, nlri=wire.nlri((prefix,))))
    if not await s.wait(lambda: ctx.observer_has(prefix) or s.closed, ctx.config.timeout):
        return failed("route not echoed")
    if s.closed:
        return failed(s._why("closed", s.log[-1]))
    path = _path_of(next(iter(_obs(ctx).paths(prefix).values())))
    if path == (AS4,):
        return passed(f"AS_PATH {list(path)} rebuilt from AS4_PATH")
    return failed(f"observer sees AS_PATH {list(path)}, expected [{AS4}]")


async def _as4_from_new(ctx: Context) -> Outcome:
    s = await ctx.session()
    prefix = ctx.next_prefix()
    extra = wire.as_path((65010,)) + wire.attr(0xC0, 17, bytes((2, 1)) + AS4.to_bytes(4, "big"))
    s.send(
        wire.update(
            attrs=wire.route_attrs(ctx.spec(s, 2), skip=(2,), extra=extra),
            nlri=wire.nlri((prefix,)),
        )
    )
    if not await s.wait(lambda: ctx.observer_has(prefix) or s.closed, ctx.config.timeout):
        return failed("route not echoed")
    if s.closed:
        return failed(s._why("closed", s.log[-1]))
    a = next(iter(_obs(ctx).paths(prefix).values()))
    if _path_of(a) != (65010,):
        return failed(f"AS_PATH became {list(_path_of(a))}")
    if a.as4_path is not None:
        return failed("AS4_PATH from a NEW speaker was passed on")
    return passed("AS_PATH [65010] kept, AS4_PATH discarded")


async def _as4_malformed(ctx: Context) -> Outcome:
    bad = wire.attr(0xC0, 17, bytes((7, 1)) + AS4.to_bytes(4, "big"))  # segment type 7
    s = await ctx.session(ctx.our_open(four_octet=False))
    prefix = ctx.next_prefix()
    ctx.announce(s, prefix, 1, skip=(2,), extra=wire.as_path((AS_TRANS,), four=False))
    if not await s.wait(lambda: ctx.observer_has(prefix), ctx.config.timeout):
        return not_applicable("the route was not echoed")
    s.send(
        wire.update(
            attrs=wire.route_attrs(
                ctx.spec(s, 2), skip=(2,), extra=wire.as_path((AS_TRANS,), four=False) + bad
            ),
            nlri=wire.nlri((prefix,)),
        )
    )
    return Keep().judge(await ctx.watch(s, Keep(), prefix, 2))


async def _as_trans_to_old(ctx: Context) -> Outcome:
    o = _obs(ctx)
    prefix = ctx.next_prefix()
    attrs = wire.route_attrs(ctx.spec(o, 1), skip=(2,), extra=wire.as_path((AS4,)))
    o.send(wire.update(attrs=attrs, nlri=wire.nlri((prefix,))))
    try:
        s = await ctx.session(ctx.our_open(four_octet=False))
        if not await s.wait(lambda: bool(s.paths(prefix)), ctx.config.timeout):
            return failed("route not sent to the 2-octet session")
        a = next(iter(s.paths(prefix).values()))
        path, as4 = _path_of(a), a.as4_path
        as4_flat = tuple(x for _, xs in as4 or () for x in xs)
        if path == (AS_TRANS,) and as4_flat == (AS4,):
            return passed(f"AS_PATH [{AS_TRANS}] with AS4_PATH [{AS4}]")
        return failed(f"AS_PATH {list(path)}, AS4_PATH {list(as4_flat) if as4 else None}")
    finally:
        o.send(wire.update(withdrawn=wire.nlri((prefix,))))


def _reg(
    id_: str, rfc: str, title: str, expected: str, run: Runner, needs: tuple[str, ...] = ()
) -> None:
    register(Check(id_, rfc, title, expected, run, frozenset(needs)))


OBS = ("observer",)
_reg(
    "cap.route-refresh",
    "RFC 2918 3",
    "ROUTE-REFRESH makes the target send its routes again",
    "the route is re-advertised",
    _refresh,
    OBS,
)
_reg(
    "cap.enhanced-route-refresh",
    "RFC 7313 4",
    "with Enhanced Route Refresh, the re-advertisement is framed by BoRR and EoRR",
    "BoRR, UPDATEs, EoRR",
    _enhanced,
    OBS,
)
_reg(
    "cap.refresh-unknown-family",
    "RFC 2918 4",
    "ROUTE-REFRESH for an AFI/SAFI that was not negotiated",
    "ignored, session stays up",
    partial(_in_session, wire.route_refresh(1, 2)),
)
_reg(
    "cap.refresh-unknown-subtype",
    "RFC 7313 5",
    "ROUTE-REFRESH with subtype 3",
    "ignored, session stays up",
    partial(_in_session, wire.route_refresh(1, 1, 3), cap=EnhancedRouteRefresh),
)
_reg(
    "cap.borr-bad-length",
    "RFC 7313 5",
    "BoRR with a 5-octet body",
    "NOTIFICATION 7/1 (ROUTE_REFRESH_MESSAGE_ERROR/INVALID_MESSAGE_LENGTH)",
    _borr_length,
)
_reg(
    "cap.end-of-rib",
    "RFC 4724 2",
    "End-of-RIB after the initial table",
    "End-of-RIB for IPv4 unicast",
    _eor,
)
_reg(
    "cap.end-of-rib-after-routes",
    "RFC 4724 2",
    "End-of-RIB comes after the routes of the initial table",
    "the route, then End-of-RIB",
    _eor_after_routes,
    OBS,
)
_reg(
    "cap.gr-routes-kept",
    "RFC 4724 4.2",
    "routes of a restarting speaker are kept when its TCP session resets",
    "routes still there 1 s after the reset",
    partial(_gr_keeps, eor=False),
    OBS,
)
_reg(
    "cap.gr-eor-flushes-stale",
    "RFC 4724 4.2",
    "after the restart, End-of-RIB flushes the routes not sent again",
    "stale route withdrawn, re-sent one kept",
    partial(_gr_keeps, eor=True),
    OBS,
)
_reg(
    "cap.gr-restart-time",
    "RFC 4724 4.2",
    "stale routes are flushed when the Restart Time runs out",
    "route withdrawn after 2 s",
    _gr_expiry,
    OBS,
)
_reg(
    "cap.gr-notification-flushes",
    "RFC 4724 4 / RFC 8538",
    "without the N bit, a NOTIFICATION ends the session without GR",
    "routes flushed",
    partial(_gr_notification, flags=0, data=b"", subcode=2, flushed=True),
    OBS,
)
_reg(
    "cap.gr-n-bit-keeps",
    "RFC 8538 4",
    "with the N bit, a Cease other than Hard Reset keeps the routes",
    "routes kept as stale",
    partial(_gr_notification, flags=0x4, data=b"", subcode=2, flushed=False),
    OBS,
)
_reg(
    "cap.gr-hard-reset-flushes",
    "RFC 8538 5",
    "with the N bit, Cease/Hard Reset flushes the routes",
    "routes flushed",
    partial(_gr_notification, flags=0x4, data=b"\x06\x02", subcode=9, flushed=True),
    OBS,
)
_reg(
    "cap.gr-hard-reset-truncated",
    "RFC 8538 3",
    "Cease/Hard Reset whose data is too short for the inner code and subcode",
    "connection closed; the target survives and takes a new session",
    _hard_reset_truncated,
)
_reg(
    "cap.add-path-receive",
    "RFC 7911 3",
    "two paths with ids 1 and 2; withdrawing id 1 keeps id 2",
    "path 2 kept, path 1 gone",
    _addpath_receive,
    OBS,
)
_reg(
    "cap.add-path-send",
    "RFC 7911 3",
    "the target sends both paths of a prefix with distinct ids",
    "two paths at the observer",
    _addpath_send,
    OBS,
)
_reg(
    "cap.extended-message",
    "RFC 8654 3",
    "an UPDATE longer than 4096 octets once Extended Message is negotiated",
    "accepted, route echoed",
    _extended,
    OBS,
)
_reg(
    "cap.four-octet-as",
    "RFC 6793 3",
    "the target advertises the 4-octet AS capability",
    "capability present",
    _as4_cap,
)
_reg(
    "cap.as4-path-merge",
    "RFC 6793 4.2.3",
    "from an OLD speaker, AS_TRANS + AS4_PATH become the 4-octet path",
    f"observer sees AS_PATH [{AS4}]",
    _as4_merge,
    (*OBS, "as2"),
)
_reg(
    "cap.as4-path-from-new-speaker",
    "RFC 6793 4.1",
    "AS4_PATH from a NEW speaker is discarded",
    "AS_PATH unchanged, no AS4_PATH",
    _as4_from_new,
    OBS,
)
_reg(
    "cap.as4-path-malformed",
    "RFC 6793 6 / RFC 7606 7",
    "malformed AS4_PATH from an OLD speaker is discarded",
    "attribute-discard: route kept",
    _as4_malformed,
    (*OBS, "as2"),
)
_reg(
    "cap.as-trans-to-old-speaker",
    "RFC 6793 4.2.2",
    "an OLD speaker gets AS_TRANS and AS4_PATH for a 4-octet AS",
    f"AS_PATH [{AS_TRANS}], AS4_PATH [{AS4}]",
    _as_trans_to_old,
    (*OBS, "as2"),
)
