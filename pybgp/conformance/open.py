"""OPEN checks: RFC 4271 4.2 and 6.2, RFC 5492, RFC 6286, RFC 6793, RFC 7607.

How this works: each check opens a connection, waits for the target's OPEN, and sends
its own crafted OPEN instead of a good one.  A bad OPEN must be answered with the
OPEN Message Error of RFC 4271 6.2 (:class:`Notify`); an unusual but valid one must
lead to Established (``_accepted``).  ``target-open`` judges the OPEN the target sent
us, with the pure function :func:`judge_target_open`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..codec.open import FourOctetAs, Open, RawCapability
from . import wire
from .check import Check, Expectation, Notify, Outcome, failed, not_applicable, passed, register
from .probe import ProbeError
from .runner import AS_TRANS, Context

__all__ = ["judge_target_open"]

OPEN_ERR = 2
VERSION, PEER_AS, BGP_ID, PARAM, HOLD, CAPABILITY = 1, 2, 3, 4, 6, 7
Build = Callable[[Context], bytes]


async def _rejected(build: Build, expect: Expectation, ctx: Context) -> Outcome:
    probe = await ctx.connect()
    probe.send(build(ctx))
    return expect.judge(await ctx.watch(probe, expect))


async def _accepted(make: Callable[[Context], tuple[Open, bytes | None]], ctx: Context) -> Outcome:
    probe = await ctx.connect()
    our, raw = make(ctx)
    try:
        await probe.establish(our, ctx.config.timeout, raw)
    except ProbeError as exc:
        return failed(str(exc))
    if await probe.wait_reset(ctx.config.window):
        return failed("established, then " + (probe._why("closed", probe.log[-1])))
    return passed("session established")


def _wrong_as(ctx: Context) -> int:
    asn = ctx.config.local_as
    return (
        asn + 1 if asn + 1 <= 0xFFFF and asn + 1 != AS_TRANS else 64512 if asn != 64512 else 64513
    )


def _hold(ctx: Context, hold: int) -> bytes:
    return wire.open_message(ctx.our_open(hold=hold))


def _bad_as(ctx: Context) -> bytes:
    wrong = _wrong_as(ctx)
    o = ctx.our_open(four_octet=False, my_as=wrong, extra=(FourOctetAs(wrong),))
    return wire.open_message(o)


def _as_zero(ctx: Context) -> bytes:
    return wire.open_message(ctx.our_open(four_octet=False, my_as=0, extra=(FourOctetAs(0),)))


def _as4_zero(ctx: Context) -> bytes:
    my = ctx.config.local_as if ctx.config.local_as <= 0xFFFF else AS_TRANS
    return wire.open_message(ctx.our_open(four_octet=False, my_as=my, extra=(FourOctetAs(0),)))


def _with_id(ctx: Context, bgp_id: bytes) -> bytes:
    raw = wire.open_message(ctx.our_open())
    return raw[:24] + bgp_id + raw[28:]  # header 19 + version 1 + AS 2 + hold 2


def _params(ctx: Context, params: bytes) -> bytes:
    return wire.open_message(ctx.our_open(), params=params)


def _caps(ctx: Context) -> bytes:
    return wire.capabilities_of(ctx.our_open().capabilities)


def _two_params(ctx: Context) -> tuple[Open, bytes | None]:
    o = ctx.our_open()
    caps = [wire.cap(c.code, c.encode()) for c in o.capabilities]
    p1 = b"".join(caps[:2])
    p2 = b"".join(caps[2:])
    params = bytes((2, len(p1))) + p1 + bytes((2, len(p2))) + p2
    return o, wire.open_message(o, params=bytes((len(params),)) + params)


def _unknown_cap(ctx: Context) -> tuple[Open, bytes | None]:
    o = ctx.our_open(extra=(RawCapability(250, b"\x01\x02\x03"),))
    return o, None


def _unknown_family(ctx: Context) -> tuple[Open, bytes | None]:
    from ..codec.open import Multiprotocol

    o = ctx.our_open(extra=(Multiprotocol(9999, 1),))
    return o, None


def _two_octet(ctx: Context) -> tuple[Open, bytes | None]:
    return ctx.our_open(four_octet=False), None


async def _hold_ok(hold: int, ctx: Context) -> Outcome:
    probe = await ctx.connect()
    try:
        await probe.establish(ctx.our_open(hold=hold), ctx.config.timeout)
    except ProbeError as exc:
        n = probe.notification
        if n is not None and (n.code, n.subcode) == (OPEN_ERR, HOLD):
            return not_applicable(f"target refuses Hold Time {hold} (RFC 4271 6.2 allows it)")
        return failed(str(exc))
    return passed(f"session established with Hold Time {hold}")


def judge_target_open(o: Open | None, target_as: int) -> Outcome:
    """RFC 4271 4.2 / RFC 6793 / RFC 6286: is the target's own OPEN well-formed?"""
    if o is None:
        return failed("no OPEN from the target")
    problems = []
    if o.version != 4:
        problems.append(f"version {o.version}")
    if o.hold_time in (1, 2):
        problems.append(f"hold time {o.hold_time}")
    if o.bgp_id == b"\0\0\0\0":
        problems.append("BGP Identifier 0")
    four = [c for c in o.capabilities if isinstance(c, FourOctetAs)]
    if four:
        asn = four[0].asn
        want_my = asn if asn <= 0xFFFF else AS_TRANS
        if o.my_as != want_my:
            problems.append(f"My AS {o.my_as} but 4-octet AS {asn} (RFC 6793 4.1 wants {want_my})")
        if asn != target_as:
            problems.append(f"4-octet AS capability {asn} is not --target-as {target_as}")
    elif o.my_as != target_as:
        problems.append(f"My AS {o.my_as} is not --target-as {target_as}")
    if problems:
        return failed("; ".join(problems))
    return passed(f"version 4, hold {o.hold_time}, AS {o.asn}, {len(o.capabilities)} capabilities")


async def _target_open(ctx: Context) -> Outcome:
    return judge_target_open(ctx.target_open, ctx.config.target_as)


_REJECT: tuple[tuple[str, str, str, Build, Expectation], ...] = (
    (
        "open.version-3",
        "RFC 4271 6.2",
        "Version 3",
        lambda c: wire.open_message(c.our_open(), version=3),
        Notify(OPEN_ERR, (VERSION,)),
    ),
    (
        "open.version-5",
        "RFC 4271 6.2",
        "Version 5",
        lambda c: wire.open_message(c.our_open(), version=5),
        Notify(OPEN_ERR, (VERSION,)),
    ),
    (
        "open.bad-peer-as",
        "RFC 4271 6.2",
        "My AS is not the configured peer AS",
        _bad_as,
        Notify(OPEN_ERR, (PEER_AS,)),
    ),
    ("open.as-zero", "RFC 7607 2", "My AS 0", _as_zero, Notify(OPEN_ERR, (PEER_AS,))),
    (
        "open.as4-capability-zero",
        "RFC 7607 2",
        "4-octet AS capability carrying AS 0",
        _as4_zero,
        Notify(OPEN_ERR, (PEER_AS,)),
    ),
    (
        "open.hold-time-1",
        "RFC 4271 6.2",
        "Hold Time 1",
        lambda c: _hold(c, 1),
        Notify(OPEN_ERR, (HOLD,)),
    ),
    (
        "open.hold-time-2",
        "RFC 4271 6.2",
        "Hold Time 2",
        lambda c: _hold(c, 2),
        Notify(OPEN_ERR, (HOLD,)),
    ),
    (
        "open.bgp-id-zero",
        "RFC 4271 6.2 / RFC 6286 2.2",
        "BGP Identifier 0.0.0.0",
        lambda c: _with_id(c, b"\0\0\0\0"),
        Notify(OPEN_ERR, (BGP_ID,)),
    ),
    (
        "open.unsupported-parameter",
        "RFC 4271 6.2",
        "Optional Parameter of type 200",
        lambda c: _params(c, bytes((len(_caps(c)) + 4, 2, len(_caps(c)))) + _caps(c) + b"\xc8\x00"),
        Notify(OPEN_ERR, (PARAM,)),
    ),
    (
        "open.truncated-capability",
        "RFC 4271 6.2 / RFC 5492",
        "capability longer than its parameter",
        lambda c: _params(c, b"\x06\x02\x04\x41\x04\x00\x00"),
        Notify(OPEN_ERR),
    ),
    (
        "open.parameter-overrun",
        "RFC 4271 6.2",
        "Optional Parameter longer than Opt Parm Len",
        lambda c: _params(c, b"\x04\x02\x08\x01\x04"),
        Notify(OPEN_ERR),
    ),
)

for _id, _rfc, _title, _build, _expect in _REJECT:
    register(Check(_id, _rfc, _title, _expect.expected(), partial(_rejected, _build, _expect)))


def _same_id(ctx: Context) -> bytes:
    return _with_id(ctx, ctx.target_id)


register(
    Check(
        "open.bgp-id-same-as-target",
        "RFC 6286 2.2",
        "iBGP peer with the target's own BGP Identifier",
        Notify(OPEN_ERR, (BGP_ID,)).expected(),
        partial(_rejected, _same_id, Notify(OPEN_ERR, (BGP_ID,))),
        frozenset({"ibgp"}),
    )
)

_ACCEPT: tuple[
    tuple[str, str, str, Callable[[Context], tuple[Open, bytes | None]], frozenset[str]], ...
] = (
    (
        "open.unknown-capability",
        "RFC 5492 4",
        "unknown capability 250 is ignored",
        _unknown_cap,
        frozenset(),
    ),
    (
        "open.unknown-family",
        "RFC 4760 8 / RFC 5492",
        "Multiprotocol capability for AFI 9999",
        _unknown_family,
        frozenset(),
    ),
    (
        "open.capabilities-in-two-parameters",
        "RFC 5492 4",
        "capabilities split over two Capabilities parameters",
        _two_params,
        frozenset(),
    ),
    (
        "open.two-octet-speaker",
        "RFC 6793 4.1",
        "an OLD speaker without the 4-octet AS capability",
        _two_octet,
        frozenset({"as2"}),
    ),
)

for _id, _rfc, _title, _make, _needs in _ACCEPT:
    register(Check(_id, _rfc, _title, "session established", partial(_accepted, _make), _needs))

register(
    Check(
        "open.hold-time-3",
        "RFC 4271 4.2",
        "Hold Time 3 (the smallest allowed)",
        "session established (or refused with 2/6, which RFC 4271 allows)",
        partial(_hold_ok, 3),
    )
)
register(
    Check(
        "open.hold-time-0",
        "RFC 4271 4.2",
        "Hold Time 0 (no keepalives)",
        "session established (or refused with 2/6, which RFC 4271 allows)",
        partial(_hold_ok, 0),
    )
)
register(
    Check(
        "open.target-open",
        "RFC 4271 4.2 / RFC 6793 4.1",
        "the target's own OPEN is well-formed",
        "version 4, hold 0 or >= 3, identifier not 0, My AS consistent with its 4-octet AS",
        _target_open,
    )
)
