"""UPDATE checks: RFC 7606 sections 3-7 and RFC 4271 6.3.

How this works: every row of ``_ROWS`` is one check.  Its builder returns the crafted
UPDATE for the check's prefix, its expectation says what RFC 7606 asks: treat-as-withdraw
(:class:`Withdraw`), attribute discard (:class:`Keep`: the route stays, with the new
marker community), session reset (:class:`Notify`), or either of session reset and
AFI/SAFI disable (:class:`ResetOrWithdraw`).  ``Context.update_flow`` first announces a
valid route for the prefix and sees it echoed at the observer, so "withdrawn" and
"kept" can be told apart.  The crafted UPDATE carries marker 2 where a kept route is
expected, so that "the UPDATE was applied" differs from "the UPDATE was ignored".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from struct import pack

from . import wire
from .check import (
    Absent,
    Check,
    Expectation,
    Keep,
    Notify,
    Outcome,
    ResetOrWithdraw,
    StayUp,
    Withdraw,
    failed,
    passed,
    register,
)
from .probe import Probe
from .runner import Context

__all__: list[str] = []

Build = Callable[[Context, Probe, int], bytes]
TAW = Withdraw()
DISCARD = Keep()
ACCEPT = Keep("accepted")


def _route(
    ctx: Context,
    p: Probe,
    prefix: int,
    *,
    skip: tuple[int, ...] = (),
    extra: bytes = b"",
    marker: int = 2,
) -> bytes:
    attrs = wire.route_attrs(ctx.spec(p, marker), skip=skip, extra=extra)
    return wire.update(attrs=attrs, nlri=wire.nlri((prefix,)))


def _with(code: int, flags: int, value: bytes, extended: bool | None = None) -> Build:
    """The route with attribute ``code`` replaced by a crafted one."""

    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        tlv = wire.attr(flags, code, value, extended)
        return _route(ctx, p, prefix, skip=(code,), extra=tlv)

    return build


def _plus(flags: int, code: int, value: bytes) -> Build:
    """The route with one more crafted attribute."""

    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        return _route(ctx, p, prefix, extra=wire.attr(flags, code, value))

    return build


def _without(*codes: int) -> Build:
    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        return _route(ctx, p, prefix, skip=codes)

    return build


def _raw_nlri(nlri: bytes = b"", withdrawn: bytes = b"") -> Build:
    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        attrs = wire.route_attrs(ctx.spec(p, 2)) if nlri else b""
        return wire.update(withdrawn=withdrawn, attrs=attrs, nlri=nlri)

    return build


def _seg(
    seg_type: int, asns: tuple[int, ...], count: int | None = None, tail: bytes = b""
) -> bytes:
    n = len(asns) if count is None else count
    return bytes((seg_type, n)) + b"".join(pack("!I", a) for a in asns) + tail


def _prefix_bytes(prefix: int) -> bytes:
    return wire.nlri((prefix,))


def _withdrawn_overrun(ctx: Context, p: Probe, prefix: int) -> bytes:
    body = pack("!H", 200) + _prefix_bytes(prefix) + b"\x00\x00"
    return wire.message(2, body)


def _attr_total_overrun(ctx: Context, p: Probe, prefix: int) -> bytes:
    attrs = wire.route_attrs(ctx.spec(p, 2))
    body = b"\x00\x00" + pack("!H", len(attrs) + 50) + attrs + _prefix_bytes(prefix)
    return wire.message(2, body)


def _attr_overrun(ctx: Context, p: Probe, prefix: int) -> bytes:
    # the last attribute claims 200 octets but the path attributes end 4 octets later
    tail = bytes((0xC0, 8, 200)) + pack("!I", wire.marker_community(2))
    return _route(ctx, p, prefix, skip=(8,), extra=tail)


def _mp_v4(
    ctx: Context, p: Probe, prefix: int, nh_len: int | None = None, nlri: bytes | None = None
) -> bytes:
    nh = ctx.spec(p).next_hop
    mp = wire.mp_reach(
        1,
        1,
        nh + (b"\x00" if nh_len == 5 else b""),
        _prefix_bytes(prefix) if nlri is None else nlri,
        nh_len,
    )
    return wire.update(attrs=wire.route_attrs(ctx.spec(p, 2), skip=(3,), extra=mp))


def _mp_twice(ctx: Context, p: Probe, prefix: int) -> bytes:
    nh = ctx.spec(p).next_hop
    mp = wire.mp_reach(1, 1, nh, _prefix_bytes(prefix))
    return wire.update(attrs=wire.route_attrs(ctx.spec(p, 2), skip=(3,), extra=mp + mp))


def _mp_unreach(nlri: bytes | None = None) -> Build:
    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        return wire.update(
            attrs=wire.mp_unreach(1, 1, _prefix_bytes(prefix) if nlri is None else nlri)
        )

    return build


def _mp_short(ctx: Context, p: Probe, prefix: int) -> bytes:
    return _route(ctx, p, prefix, extra=wire.attr(0x80, 14, b"\x00\x01"))


def _duplicate(ctx: Context, p: Probe, prefix: int) -> bytes:
    second = wire.communities((wire.marker_community(3),))
    return _route(ctx, p, prefix, extra=second)


def _next_hop_target(ctx: Context, p: Probe, prefix: int) -> bytes:
    import ipaddress

    target = ipaddress.ip_address(ctx.config.target)
    if target.version != 4:
        return _route(ctx, p, prefix)
    return _route(ctx, p, prefix, skip=(3,), extra=wire.next_hop(target.packed))


def _as_path(value: bytes, flags: int = 0x40) -> Build:
    def build(ctx: Context, p: Probe, prefix: int) -> bytes:
        return _route(ctx, p, prefix, skip=(2,), extra=wire.attr(flags, 2, value))

    return build


C2 = pack("!I", wire.marker_community(2))
U = 3
_ROWS: tuple[tuple[str, str, str, Build, Expectation, frozenset[str]], ...] = (
    # ORIGIN, RFC 7606 7.1
    (
        "update.origin-length-2",
        "RFC 7606 7.1",
        "ORIGIN of length 2",
        _with(1, 0x40, b"\x00\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.origin-value-3",
        "RFC 7606 7.1",
        "ORIGIN with the undefined value 3",
        _with(1, 0x40, b"\x03"),
        TAW,
        frozenset(),
    ),
    (
        "update.origin-flags-optional",
        "RFC 7606 3c / 7.1",
        "ORIGIN flagged optional transitive",
        _with(1, 0xC0, b"\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.origin-flags-partial",
        "RFC 7606 3c / 7.1",
        "ORIGIN with the Partial bit",
        _with(1, 0x60, b"\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.origin-extended-length",
        "RFC 4271 4.3",
        "ORIGIN sent with the Extended Length bit (allowed)",
        _with(1, 0x40, b"\x00", extended=True),
        ACCEPT,
        frozenset(),
    ),
    # AS_PATH, RFC 7606 7.2
    (
        "update.as-path-segment-type-0",
        "RFC 7606 7.2",
        "AS_PATH segment of type 0",
        _as_path(_seg(0, (65010,))),
        TAW,
        frozenset(),
    ),
    (
        "update.as-path-segment-type-5",
        "RFC 7606 7.2",
        "AS_PATH segment of type 5",
        _as_path(_seg(5, (65010,))),
        TAW,
        frozenset(),
    ),
    (
        "update.as-path-zero-segment",
        "RFC 7606 7.2",
        "AS_PATH segment of length zero",
        _as_path(_seg(2, ())),
        TAW,
        frozenset(),
    ),
    (
        "update.as-path-overrun",
        "RFC 7606 7.2",
        "AS_PATH segment length overruns the attribute",
        _as_path(_seg(2, (65010,), count=3)),
        TAW,
        frozenset(),
    ),
    (
        "update.as-path-underrun",
        "RFC 7606 7.2",
        "AS_PATH with one octet after the last segment",
        _as_path(_seg(2, (65010,), tail=b"\x02")),
        TAW,
        frozenset(),
    ),
    (
        "update.as-path-flags-optional",
        "RFC 7606 3c / 7.2",
        "AS_PATH flagged optional",
        _as_path(b"", flags=0xC0),
        TAW,
        frozenset(),
    ),
    # NEXT_HOP, RFC 7606 7.3 / RFC 4271 6.3
    (
        "update.next-hop-length-5",
        "RFC 7606 7.3",
        "NEXT_HOP of 5 octets",
        _with(3, 0x40, b"\x0a\x00\x00\x01\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.next-hop-length-3",
        "RFC 7606 7.3",
        "NEXT_HOP of 3 octets",
        _with(3, 0x40, b"\x0a\x00\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.next-hop-flags-optional",
        "RFC 7606 3c / 7.3",
        "NEXT_HOP flagged optional transitive",
        lambda c, p, x: _route(c, p, x, skip=(3,), extra=wire.next_hop(c.spec(p).next_hop, 0xC0)),
        TAW,
        frozenset(),
    ),
    # MULTI_EXIT_DISC and LOCAL_PREF, RFC 7606 7.4 and 7.5
    (
        "update.med-length-3",
        "RFC 7606 7.4",
        "MULTI_EXIT_DISC of 3 octets",
        _plus(0x80, 4, b"\x00\x00\x01"),
        TAW,
        frozenset(),
    ),
    (
        "update.med-flags-transitive",
        "RFC 7606 3c / 7.4",
        "MULTI_EXIT_DISC flagged optional transitive",
        _plus(0xC0, 4, b"\x00\x00\x00\x01"),
        TAW,
        frozenset(),
    ),
    (
        "update.local-pref-length-3",
        "RFC 7606 7.5",
        "LOCAL_PREF of 3 octets (iBGP)",
        _with(5, 0x40, b"\x00\x00\x64"),
        TAW,
        frozenset({"ibgp"}),
    ),
    # ATOMIC_AGGREGATE and AGGREGATOR, RFC 7606 7.6 and 7.7: attribute discard
    (
        "update.atomic-aggregate-length-1",
        "RFC 7606 7.6",
        "ATOMIC_AGGREGATE of length 1",
        _plus(0x40, 6, b"\x00"),
        DISCARD,
        frozenset(),
    ),
    (
        "update.aggregator-length-5",
        "RFC 7606 7.7",
        "AGGREGATOR of 5 octets (4-octet session)",
        _plus(0xC0, 7, b"\x00\x00\xfd\xf2\x0a"),
        DISCARD,
        frozenset(),
    ),
    (
        "update.as4-aggregator-length-7",
        "RFC 6793 6",
        "AS4_AGGREGATOR of 7 octets",
        _plus(0xC0, 18, b"\x00\x00\xfd\xf2\x0a\x00\x00"),
        DISCARD,
        frozenset(),
    ),
    # COMMUNITIES, extended and large communities: RFC 7606 7.8, 7.14, RFC 8092 6
    (
        "update.communities-length-3",
        "RFC 7606 7.8",
        "COMMUNITIES of 3 octets",
        _with(8, 0xC0, C2[:3]),
        TAW,
        frozenset(),
    ),
    (
        "update.communities-length-0",
        "RFC 7606 7.8",
        "COMMUNITIES of length 0",
        _with(8, 0xC0, b""),
        TAW,
        frozenset(),
    ),
    (
        "update.communities-flags-well-known",
        "RFC 7606 3c / 7.8",
        "COMMUNITIES flagged well-known",
        _with(8, 0x40, C2),
        TAW,
        frozenset(),
    ),
    (
        "update.ext-communities-length-7",
        "RFC 7606 7.14",
        "EXTENDED_COMMUNITIES of 7 octets",
        _plus(0xC0, 16, b"\x00\x02\xfd\xe8\x00\x00\x00"),
        TAW,
        frozenset(),
    ),
    (
        "update.large-communities-length-11",
        "RFC 8092 6",
        "LARGE_COMMUNITY of 11 octets",
        _plus(0xC0, 32, bytes(11)),
        TAW,
        frozenset(),
    ),
    (
        "update.large-communities-length-0",
        "RFC 8092 6",
        "LARGE_COMMUNITY of length 0",
        _plus(0xC0, 32, b""),
        TAW,
        frozenset(),
    ),
    # ORIGINATOR_ID and CLUSTER_LIST, RFC 7606 7.9 and 7.10
    (
        "update.originator-id-length-3",
        "RFC 7606 7.9",
        "ORIGINATOR_ID of 3 octets",
        _plus(0x80, 9, b"\x0a\x00\x00"),
        TAW,
        frozenset({"ibgp"}),
    ),
    (
        "update.cluster-list-length-5",
        "RFC 7606 7.10",
        "CLUSTER_LIST of 5 octets",
        _plus(0x80, 10, b"\x0a\x00\x00\x01\x00"),
        TAW,
        frozenset({"ibgp"}),
    ),
    (
        "update.cluster-list-length-0",
        "RFC 7606 7.10",
        "CLUSTER_LIST of length 0",
        _plus(0x80, 10, b""),
        TAW,
        frozenset({"ibgp"}),
    ),
    # missing, repeated and unknown attributes, RFC 7606 3d, 3g, RFC 4271 5 and 6.3
    ("update.missing-origin", "RFC 7606 3d", "NLRI without ORIGIN", _without(1), TAW, frozenset()),
    (
        "update.missing-as-path",
        "RFC 7606 3d",
        "NLRI without AS_PATH",
        _without(2),
        TAW,
        frozenset(),
    ),
    (
        "update.missing-next-hop",
        "RFC 7606 3d",
        "IPv4 NLRI without NEXT_HOP",
        _without(3),
        TAW,
        frozenset(),
    ),
    (
        "update.duplicate-attribute",
        "RFC 7606 3g",
        "COMMUNITIES twice: all but the first are discarded",
        _duplicate,
        Keep("first kept, repeats discarded"),
        frozenset(),
    ),
    (
        "update.attribute-length-overrun",
        "RFC 7606 4",
        "last attribute's length runs past the path attributes",
        _attr_overrun,
        TAW,
        frozenset(),
    ),
    (
        "update.unrecognized-well-known",
        "RFC 4271 6.3",
        "unrecognized well-known attribute 250",
        _plus(0x40, 250, b"\x01"),
        Notify(U, (2,)),
        frozenset(),
    ),
    (
        "update.next-hop-is-target",
        "RFC 4271 6.3",
        "NEXT_HOP is the target's own address (semantic error)",
        _next_hop_target,
        Absent("route ignored, no NOTIFICATION"),
        frozenset(),
    ),
    # NLRI and length fields, RFC 4271 6.3, RFC 7606 5.3
    (
        "update.nlri-length-33",
        "RFC 4271 6.3 / RFC 7606 5.3",
        "NLRI prefix length 33",
        _raw_nlri(nlri=b"\x21\x0a\x00\x00\x01\x00"),
        Notify(U, (10,)),
        frozenset(),
    ),
    (
        "update.nlri-overrun",
        "RFC 4271 6.3 / RFC 7606 5.3",
        "NLRI prefix runs past the message",
        _raw_nlri(nlri=b"\x18\x0a\x00"),
        Notify(U, (10,)),
        frozenset(),
    ),
    (
        "update.withdrawn-length-33",
        "RFC 4271 6.3 / RFC 7606 5.3",
        "withdrawn prefix length 33",
        _raw_nlri(withdrawn=b"\x21\x0a\x00\x00\x01\x00"),
        Notify(U, (10,)),
        frozenset(),
    ),
    (
        "update.withdrawn-length-overrun",
        "RFC 4271 6.3",
        "Withdrawn Routes Length past the message",
        _withdrawn_overrun,
        Notify(U, (1,)),
        frozenset(),
    ),
    (
        "update.attributes-length-overrun",
        "RFC 4271 6.3",
        "Total Path Attribute Length past the message",
        _attr_total_overrun,
        Notify(U, (1,)),
        frozenset(),
    ),
    # MP_REACH_NLRI and MP_UNREACH_NLRI, RFC 4760 and RFC 7606 3g, 5.3, 7.11
    (
        "update.mp-reach-ipv4",
        "RFC 4760 3",
        "IPv4 unicast route in MP_REACH_NLRI",
        _mp_v4,
        ACCEPT,
        frozenset(),
    ),
    (
        "update.mp-unreach-withdraws",
        "RFC 4760 4",
        "MP_UNREACH_NLRI withdraws an IPv4 route",
        _mp_unreach(),
        Withdraw(),
        frozenset(),
    ),
    (
        "update.mp-reach-twice",
        "RFC 7606 3g",
        "MP_REACH_NLRI twice in one UPDATE",
        _mp_twice,
        Notify(U, (1,)),
        frozenset(),
    ),
    (
        "update.mp-reach-next-hop-length-5",
        "RFC 7606 7.11",
        "MP_REACH_NLRI next hop of 5 octets",
        partial(_mp_v4, nh_len=5),
        ResetOrWithdraw(),
        frozenset(),
    ),
    (
        "update.mp-reach-nlri-overrun",
        "RFC 7606 5.3 / 7.11",
        "MP_REACH_NLRI prefix runs past the attribute",
        partial(_mp_v4, nlri=b"\x18\x0a"),
        ResetOrWithdraw(),
        frozenset(),
    ),
    (
        "update.mp-unreach-nlri-overrun",
        "RFC 7606 5.3",
        "MP_UNREACH_NLRI prefix runs past the attribute",
        _mp_unreach(b"\x18\x0a"),
        ResetOrWithdraw(),
        frozenset(),
    ),
    (
        "update.mp-reach-too-short",
        "RFC 7606 7.11",
        "MP_REACH_NLRI too short for AFI and SAFI",
        _mp_short,
        Notify(U),
        frozenset(),
    ),
    # well-formed corner cases that must not hurt
    (
        "update.empty",
        "RFC 4271 4.3",
        "UPDATE with no routes and no attributes (End-of-RIB)",
        lambda c, p, x: wire.update(),
        StayUp("accepted"),
        frozenset(),
    ),
    (
        "update.withdraw-unknown",
        "RFC 4271 9",
        "withdrawal of a prefix never announced",
        _raw_nlri(withdrawn=b"\x18\x0a\xfa\x00"),
        StayUp("accepted"),
        frozenset(),
    ),
    (
        "update.attributes-without-nlri",
        "RFC 7606 5.2",
        "path attributes without any NLRI",
        lambda c, p, x: wire.update(attrs=wire.route_attrs(c.spec(p, 2))),
        StayUp("accepted"),
        frozenset(),
    ),
)


async def _flow(build: Build, expect: Expectation, ctx: Context) -> Outcome:
    if isinstance(expect, Absent):
        return await _fresh(build, expect, ctx)
    marker = 2 if isinstance(expect, Keep) else None
    return await ctx.update_flow(build, expect, marker=marker)


async def _fresh(build: Build, expect: Expectation, ctx: Context) -> Outcome:
    """A route that must never appear: no baseline announcement."""
    probe = await ctx.session()
    prefix = ctx.next_prefix()
    probe.send(build(ctx, probe, prefix))
    if ctx.echo:
        await probe.wait(
            lambda: probe.closed or probe.notification is not None or ctx.observer_has(prefix),
            ctx.echo_wait,
        )
    obs = await ctx.watch(probe, StayUp(), None)
    route = ("present" if ctx.observer_has(prefix) else "absent") if ctx.echo else "unknown"
    from dataclasses import replace

    return expect.judge(replace(obs, route=route))


for _id, _rfc, _title, _build, _expect, _needs in _ROWS:
    register(Check(_id, _rfc, _title, _expect.expected(), partial(_flow, _build, _expect), _needs))


# unknown optional attributes: what goes on to other peers (RFC 4271 5, 9.1.3)
async def _unknown_transitive(ctx: Context) -> Outcome:
    probe = await ctx.session()
    prefix = ctx.next_prefix()
    probe.send(_route(ctx, probe, prefix, extra=wire.attr(0xC0, 251, b"conformance")))
    obs = ctx.observer
    assert obs is not None
    if not await probe.wait(
        lambda: ctx.observer_has(prefix, 2) or probe.closed, ctx.config.timeout
    ):
        return failed("route not propagated")
    if probe.notification or probe.closed:
        return failed("session reset")
    attrs = next(iter(obs.paths(prefix).values()))
    got = [(f, c) for f, c, _ in attrs.unknown if c == 251]
    if not got:
        return failed("attribute 251 was dropped")
    if got[0][0] & 0x20:
        return passed(f"attribute 251 passed on with flags 0x{got[0][0]:02x} (Partial set)")
    return failed(f"attribute 251 passed on with flags 0x{got[0][0]:02x} (Partial not set)")


async def _unknown_nontransitive(ctx: Context) -> Outcome:
    probe = await ctx.session()
    prefix = ctx.next_prefix()
    probe.send(_route(ctx, probe, prefix, extra=wire.attr(0x80, 252, b"conformance")))
    obs = ctx.observer
    assert obs is not None
    if not await probe.wait(
        lambda: ctx.observer_has(prefix, 2) or probe.closed, ctx.config.timeout
    ):
        return failed("route not propagated")
    if probe.notification or probe.closed:
        return failed("session reset")
    attrs = next(iter(obs.paths(prefix).values()))
    if any(c == 252 for _, c, _ in attrs.unknown):
        return failed("attribute 252 (optional non-transitive) was passed on")
    return passed("route propagated without attribute 252")


register(
    Check(
        "update.unknown-transitive-partial",
        "RFC 4271 5 / 9.1.3",
        "unrecognized optional transitive attribute is passed on with Partial",
        "route propagated, attribute 251 kept with the Partial bit",
        _unknown_transitive,
        frozenset({"observer"}),
    )
)
register(
    Check(
        "update.unknown-nontransitive-dropped",
        "RFC 4271 5 / 9.1.3",
        "unrecognized optional non-transitive attribute is dropped",
        "route propagated without attribute 252",
        _unknown_nontransitive,
        frozenset({"observer"}),
    )
)
