"""Route reflection checks (RFC 4456 8 and 10), for a target that reflects between
the sender and the observer (both its iBGP clients).

How this works: the sender announces a route, with or without an ORIGINATOR_ID or
CLUSTER_LIST of its own, and the observer looks at what the reflector made of it.
The reflector's CLUSTER_ID is learnt from the first reflected route (the head of its
CLUSTER_LIST) and kept in ``ctx.memo`` for the loop-prevention checks.
``judge_reflected`` is the pure verdict on a reflected attribute set.
"""

from __future__ import annotations

import ipaddress
from functools import partial

from ..codec.attributes import AttrSet
from . import wire
from .check import Absent, Check, Outcome, failed, not_applicable, passed, register
from .probe import Probe
from .runner import Context

__all__ = ["judge_reflected"]


def _ip(b: bytes) -> str:
    return str(ipaddress.ip_address(b))


def judge_reflected(
    a: AttrSet,
    originator: bytes,
    cluster_tail: tuple[bytes, ...] = (),
    next_hop: bytes | None = None,
    med: int | None = None,
    local_pref: int | None = None,
) -> Outcome:
    """RFC 4456 8 and 10: ORIGINATOR_ID kept or set, CLUSTER_ID prepended, the rest as sent."""
    problems = []
    if a.originator_id != originator:
        got = _ip(a.originator_id) if a.originator_id else "none"
        problems.append(f"ORIGINATOR_ID {got}, expected {_ip(originator)}")
    cl = a.cluster_list
    if len(cl) != len(cluster_tail) + 1 or tuple(cl[1:]) != cluster_tail:
        problems.append(
            f"CLUSTER_LIST {[_ip(c) for c in cl]}, expected "
            f"[<cluster id>, {', '.join(_ip(c) for c in cluster_tail)}]"
        )
    if next_hop is not None and a.next_hop != next_hop:
        problems.append(f"NEXT_HOP {_ip(a.next_hop) if a.next_hop else None} changed")
    if med is not None and a.med != med:
        problems.append(f"MED {a.med}, sent {med}")
    if local_pref is not None and a.local_pref != local_pref:
        problems.append(f"LOCAL_PREF {a.local_pref}, sent {local_pref}")
    if problems:
        return failed("; ".join(problems))
    return passed(f"ORIGINATOR_ID {_ip(originator)}, CLUSTER_LIST {[_ip(c) for c in cl]}")


async def _reflect(
    ctx: Context, extra: bytes, skip: tuple[int, ...] = ()
) -> tuple[Probe, AttrSet | None]:
    s = await ctx.session()
    prefix = ctx.next_prefix()
    ctx.announce(s, prefix, 1, extra, skip)
    await s.wait(lambda: ctx.observer_has(prefix) or s.closed, ctx.config.timeout)
    assert ctx.observer is not None
    paths = ctx.observer.paths(prefix)
    a = next(iter(paths.values())) if paths else None
    if a is not None and a.cluster_list:
        ctx.memo.setdefault("cluster_id", a.cluster_list[0])
    return s, a


async def _basic(ctx: Context) -> Outcome:
    lp150 = wire.local_pref(150)
    s, a = await _reflect(ctx, wire.med(7) + lp150, skip=(5,))
    if a is None:
        return failed("route not reflected")
    nh = ctx.spec(s).next_hop
    return judge_reflected(a, ctx.local_id, (), nh, 7, 150)


async def _keeps_originator(ctx: Context) -> Outcome:
    other = bytes((192, 0, 2, 77))
    _, a = await _reflect(ctx, wire.attr(0x80, 9, other))
    if a is None:
        return failed("route not reflected")
    return judge_reflected(a, other)


async def _prepends(ctx: Context) -> Outcome:
    tail = bytes((192, 0, 2, 88))
    _, a = await _reflect(ctx, wire.attr(0x80, 10, tail))
    if a is None:
        return failed("route not reflected")
    return judge_reflected(a, ctx.local_id, (tail,))


async def _unchanged(ctx: Context) -> Outcome:
    s, a = await _reflect(ctx, wire.med(7))
    if a is None:
        return failed("route not reflected")
    nh = ctx.spec(s).next_hop
    problems = []
    if a.next_hop != nh:
        problems.append("NEXT_HOP changed")
    if a.med != 7:
        problems.append(f"MED {a.med}, sent 7")
    if a.local_pref != 100:
        problems.append(f"LOCAL_PREF {a.local_pref}, sent 100")
    if a.as_path not in ((), None) and any(asns for _, asns in a.as_path):
        problems.append(f"AS_PATH {a.as_path}, sent empty")
    if problems:
        return failed("; ".join(problems))
    return passed("NEXT_HOP, MED, LOCAL_PREF and AS_PATH as sent")


async def _dropped(ctx: Context, what: str) -> Outcome:
    if what == "cluster":
        cid = ctx.memo.get("cluster_id")
        if cid is None:
            await _reflect(ctx, b"")
            await ctx.finish()
            cid = ctx.memo.get("cluster_id")
        if not isinstance(cid, bytes):
            return not_applicable("the reflector's CLUSTER_ID could not be learnt")
        extra = wire.attr(0x80, 10, bytes((192, 0, 2, 99)) + cid)
    else:
        extra = wire.attr(0x80, 9, ctx.target_id)
    s = await ctx.session()
    prefix = ctx.next_prefix()
    ctx.announce(s, prefix, 1, extra)
    await s.wait(lambda: ctx.observer_has(prefix) or s.closed, ctx.echo_wait)
    obs = await ctx.watch(s, Absent(), None)
    from dataclasses import replace

    return Absent().judge(replace(obs, route="present" if ctx.observer_has(prefix) else "absent"))


NEEDS = frozenset({"observer", "ibgp"})
for _id, _rfc, _title, _expected, _run in (
    (
        "rr.originator-and-cluster",
        "RFC 4456 8",
        "a reflected route gets ORIGINATOR_ID (the sender's id) and a CLUSTER_LIST",
        "ORIGINATOR_ID = sender's BGP Identifier, CLUSTER_LIST = [cluster id]",
        _basic,
    ),
    (
        "rr.originator-id-kept",
        "RFC 4456 8",
        "an existing ORIGINATOR_ID is not replaced",
        "ORIGINATOR_ID as sent",
        _keeps_originator,
    ),
    (
        "rr.cluster-list-prepended",
        "RFC 4456 8",
        "the CLUSTER_ID is prepended to an existing CLUSTER_LIST",
        "CLUSTER_LIST = [cluster id, as sent]",
        _prepends,
    ),
    (
        "rr.attributes-unchanged",
        "RFC 4456 10",
        "NEXT_HOP, MED, LOCAL_PREF and AS_PATH are not changed",
        "attributes as sent",
        _unchanged,
    ),
    (
        "rr.own-cluster-id-dropped",
        "RFC 4456 8",
        "a route whose CLUSTER_LIST holds the reflector's CLUSTER_ID is ignored",
        "route not reflected, session up",
        partial(_dropped, what="cluster"),
    ),
    (
        "rr.own-originator-id-dropped",
        "RFC 4456 8",
        "a route whose ORIGINATOR_ID is the reflector's own id is ignored",
        "route not reflected, session up",
        partial(_dropped, what="originator"),
    ),
):
    register(Check(_id, _rfc, _title, _expected, _run, NEEDS))
