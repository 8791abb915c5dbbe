"""Run checks against one target: the session setup they share, and the common flows.

How this works: :class:`Context` holds the run's settings and two kinds of session.
The *observer* is one long-lived session from ``observer_address`` that only listens:
the target is configured to echo routes to it (an iBGP route reflector with both
pybgp addresses as clients, or eBGP with an export policy), so a route the check's
*sender* session announced, withdrew or broke can be seen from the outside.  Each
check opens its own sender session (``ctx.session()``), retried while the target is
still recovering from the previous check, and closes it with a Cease at the end:
every route a check announced goes away with its session, so the target is left as
it was found.

``update_flow`` is the shape of most UPDATE checks: announce a valid route, see it at
the observer, send the crafted UPDATE for the same prefix, and collect an
:class:`~pybgp.conformance.check.Observation` for the check's expectation.
``message_flow`` sends bytes on an Established session and watches the session.

Safety: only ``target.address`` is ever contacted, at most three connections are open
at a time, every wait is bounded, and ``run`` stops after ``max_time`` seconds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..codec.errors import BgpError
from ..codec.open import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs,
    GracefulRestart,
    Multiprotocol,
    Open,
    RouteRefreshCap,
)
from ..codec.options import AfiSafi
from . import wire
from .check import (
    Check,
    Expectation,
    Keep,
    Notify,
    Observation,
    Outcome,
    ResetOrWithdraw,
    Verdict,
    Withdraw,
    failed,
    not_applicable,
)
from .probe import Probe, ProbeError, Target

__all__ = ["RunConfig", "Context", "Result", "run", "FAMILIES", "Hook"]

FAMILIES: dict[str, AfiSafi] = {
    "ipv4-unicast": (1, 1),
    "ipv6-unicast": (2, 1),
    "ipv4-multicast": (1, 2),
    "ipv6-multicast": (2, 2),
}
AS_TRANS = 23456
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class RunConfig:
    target: str
    target_as: int
    local_as: int
    local_address: str
    """Source address of the sender sessions."""
    observer_address: str | None = None
    port: int = 179
    families: tuple[AfiSafi, ...] = ((1, 1),)
    timeout: float = 3.0
    """Longest wait for the target to answer or to echo a route."""
    window: float = 1.0
    """How long a session must stay quiet to count as "stayed up"."""
    setup_timeout: float = 15.0
    """Longest wait for the target to accept a new session (after an error it may wait)."""
    max_time: float = 900.0
    local_id: str | None = None
    observer_id: str | None = None
    more_addresses: tuple[str, ...] = ()
    """More sender addresses, used in turn with ``local_address``: a target that waits
    after an error before it accepts the same neighbor again (BIRD's error wait, idle
    hold timers) is not waited for while another neighbor is ready."""

    @property
    def senders(self) -> tuple[str, ...]:
        return (self.local_address, *self.more_addresses)

    @property
    def ibgp(self) -> bool:
        return self.target_as == self.local_as


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    rfc: str
    title: str
    expected: str
    verdict: Verdict
    seen: str
    seconds: float


Hook = Callable[[Check, Outcome], Awaitable[Outcome]]


def _id(address: str, fallback: str) -> bytes:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ip.packed
    return ipaddress.ip_address(fallback).packed


@dataclass
class Context:
    config: RunConfig
    target_open: Open | None = None
    observer: Probe | None = None
    echo: bool = False
    echo_reason: str = "no --observer-address"
    memo: dict[str, object] = field(default_factory=dict)
    echo_wait: float = 1.0
    """How long to wait before concluding a route will not be echoed: three times the
    echo time measured at setup, between ``window`` and ``timeout``."""
    _probes: list[Probe] = field(default_factory=list)
    _prefix: int = 0
    _turn: int = -1

    @property
    def target(self) -> Target:
        c = self.config
        return Target(c.target, c.port, c.target_as)

    @property
    def local_id(self) -> bytes:
        c = self.config
        return (
            ipaddress.ip_address(c.local_id).packed
            if c.local_id
            else _id(c.local_address, "10.255.255.1")
        )

    @property
    def observer_id(self) -> bytes:
        c = self.config
        if c.observer_id:
            return ipaddress.ip_address(c.observer_id).packed
        return _id(c.observer_address or "10.255.255.2", "10.255.255.2")

    @property
    def target_id(self) -> bytes:
        return self.target_open.bgp_id if self.target_open else b"\0\0\0\0"

    def target_caps(self, cls: type[C]) -> list[C]:
        """The target's capabilities of type ``cls`` (from the OPEN it sent at setup)."""
        caps = self.target_open.capabilities if self.target_open else ()
        return [c for c in caps if isinstance(c, cls)]

    # ------------------------------------------------------------------ messages
    def our_open(
        self,
        *,
        hold: int = 30,
        bgp_id: bytes | None = None,
        four_octet: bool = True,
        add_path: tuple[tuple[int, int, int], ...] = (),
        graceful: GracefulRestart | None = None,
        extended: bool = False,
        extra: tuple[Capability, ...] = (),
        my_as: int | None = None,
    ) -> Open:
        asn = self.config.local_as
        caps: list[Capability] = [Multiprotocol(a, s) for a, s in self.config.families]
        caps += [RouteRefreshCap(), EnhancedRouteRefresh()]
        if four_octet:
            caps.append(FourOctetAs(asn))
        if add_path:
            caps.append(AddPath(add_path))
        if graceful is not None:
            caps.append(graceful)
        if extended:
            caps.append(ExtendedMessage())
        caps += extra
        if my_as is None:
            my_as = asn if asn <= 0xFFFF else AS_TRANS
        return Open(my_as, hold, bgp_id or self.local_id, tuple(caps))

    def next_prefix(self) -> int:
        """A fresh /24 for each use: 10.251.0.0/24, 10.251.1.0/24, ..."""
        n = self._prefix
        self._prefix += 1
        net = (10 << 24) | ((251 + n // 256) << 16) | ((n % 256) << 8)
        return (net << 8) | 24

    def spec(self, probe: Probe, marker: int = 1) -> wire.RouteSpec:
        return wire.RouteSpec(
            next_hop=ipaddress.ip_address(probe.local).packed,
            ibgp=self.config.ibgp,
            local_as=self.config.local_as,
            four_octet=probe.options.four_octet_as,
            marker=marker,
        )

    def announce(
        self,
        probe: Probe,
        prefix: int,
        marker: int = 1,
        extra: bytes = b"",
        skip: tuple[int, ...] = (),
    ) -> bytes:
        data = wire.update(
            attrs=wire.route_attrs(self.spec(probe, marker), extra=extra, skip=skip),
            nlri=wire.nlri((prefix,)),
        )
        probe.send(data)
        return data

    # ------------------------------------------------------------------ sessions
    def probe(self, local: str | None = None, name: str = "sender") -> Probe:
        """A new, unconnected probe, closed by ``finish``."""
        p = Probe(self.target, local or self.next_sender(), name)
        self._probes.append(p)
        return p

    def next_sender(self) -> str:
        senders = self.config.senders
        self._turn = (self._turn + 1) % len(senders)
        return senders[self._turn]

    async def connect(self, local: str | None = None, name: str = "sender") -> Probe:
        """A connected probe that has seen the target's OPEN (retried while refused)."""
        deadline = time.monotonic() + self.config.setup_timeout
        last = "timeout"
        while True:
            p = Probe(self.target, local or self.next_sender(), name)
            self._probes.append(p)
            try:
                await p.connect(min(5.0, self.config.setup_timeout))
                got = await p.wait_message(0, ("open", "notification", "closed"), 2.0)
                if got is None or got.kind == "open":
                    return p  # an OPEN, or a target that waits for ours (DelayOpen)
                last = p._why("", got)
            except ProbeError as exc:
                last = str(exc)
            await p.close()
            if time.monotonic() >= deadline:
                raise ProbeError(f"target does not accept a session: {last}")
            await asyncio.sleep(0.3)

    async def session(
        self, our_open: Open | None = None, local: str | None = None, name: str = "sender"
    ) -> Probe:
        """An Established sender session (retried while the target refuses it)."""
        deadline = time.monotonic() + self.config.setup_timeout
        while True:
            p = await self.connect(local, name)
            try:
                await p.establish(our_open or self.our_open(), self.config.timeout)
                return p
            except ProbeError as exc:
                await p.close()
                if time.monotonic() >= deadline:
                    raise ProbeError(f"cannot establish a session: {exc}") from None
                await asyncio.sleep(0.3)

    async def finish(self) -> None:
        """Close every probe a check opened with Cease/Administrative Shutdown."""
        bye = wire.notification(6, 2)
        for p in self._probes:
            if p is not self.observer:
                await p.close(bye if p.established and not p.closed else None)
        self._probes = [p for p in self._probes if p is self.observer]

    async def setup(self) -> None:
        """Learn the target's OPEN, start the observer and find out whether routes echo."""
        p = await self.session()
        self.target_open = p.peer_open
        await self.finish()
        await self.start_observer()

    async def start_observer(self) -> None:
        c = self.config
        if c.observer_address is None:
            return
        ap = tuple((a, s, 1) for a, s in c.families)
        gr = GracefulRestart(0, 0, tuple((a, s, 0) for a, s in c.families))
        o = self.our_open(hold=90, bgp_id=self.observer_id, add_path=ap, graceful=gr)
        self.observer = await self.session(o, c.observer_address, "observer")
        self._probes.remove(self.observer)
        # the echo test: a route from a sender must reach the observer
        s = await self.session()
        prefix = self.next_prefix()
        self.announce(s, prefix)
        t0 = time.monotonic()
        self.echo = await self.observer.wait(lambda: self.observer_has(prefix), max(5.0, c.timeout))
        self.echo_wait = min(c.timeout, max(c.window, 3 * (time.monotonic() - t0)))
        if not self.echo:
            self.echo_reason = "the target did not echo a route to the observer"
        await self.finish()
        if self.echo:
            await self.observer.wait(lambda: not self.observer_has(prefix), c.timeout)

    async def ensure_observer(self) -> None:
        if self.config.observer_address is not None and (
            self.observer is None or self.observer.closed
        ):
            if self.observer is not None:
                await self.observer.close()
            self.observer = None
            try:
                await self.start_observer()
            except ProbeError:
                self.observer = None

    def observer_has(self, prefix: int, marker: int | None = None) -> bool:
        o = self.observer
        if o is None:
            return False
        paths = o.paths(prefix)
        if marker is None:
            return bool(paths)
        want = wire.marker_community(marker)
        return any(want in a.communities for a in paths.values())

    async def teardown(self) -> None:
        await self.finish()
        if self.observer is not None:
            await self.observer.close(wire.notification(6, 2) if not self.observer.closed else None)
            self.observer = None

    # ------------------------------------------------------------------ flows
    async def watch(
        self,
        probe: Probe,
        expect: Expectation,
        prefix: int | None = None,
        marker: int | None = None,
    ) -> Observation:
        """Wait for the target's reaction to what ``probe`` just sent, as ``expect`` needs.

        A reset is waited for up to ``timeout``; a withdrawal or the new marker at the
        observer up to ``timeout`` (then a short grace for a late NOTIFICATION); a
        session staying up for ``window``.
        """
        c = self.config
        echo = self.echo and prefix is not None
        mark = len(self.observer.log) if self.observer is not None else 0

        def reset() -> bool:
            return probe.closed or probe.notification is not None

        if isinstance(expect, Notify):
            await probe.wait_reset(c.timeout)
        elif echo and prefix is not None and isinstance(expect, Keep):
            await probe.wait(lambda: reset() or self.observer_has(prefix, marker), c.timeout)
            await probe.wait_reset(0.3)
        elif echo and prefix is not None and isinstance(expect, Withdraw | ResetOrWithdraw):
            await probe.wait(lambda: reset() or not self.observer_has(prefix), c.timeout)
            await probe.wait_reset(0.3)
        else:
            await probe.wait_reset(max(c.window, self.echo_wait if echo else 0.0))
        route = "unknown"
        if echo and prefix is not None:
            route = "present" if self.observer_has(prefix) else "absent"
        seen_marker = (
            echo and prefix is not None and marker is not None and self.observer_has(prefix, marker)
        )
        note = ""
        if echo and self.observer is not None:
            bad = self.observer.since(mark, "bad")
            if bad:
                err = bad[0].value
                why = err.describe() if isinstance(err, BgpError) else str(err)
                note = f"the observer received a malformed UPDATE ({why})"
        return Observation(
            note=note,
            notification=probe.notification,
            closed=probe.closed,
            route=route,
            marker=seen_marker,
        )

    async def update_flow(
        self,
        build: Callable[[Context, Probe, int], bytes],
        expect: Expectation,
        *,
        marker: int | None = None,
        our_open: Open | None = None,
    ) -> Outcome:
        """Announce a route, see it echoed, send the crafted UPDATE, judge."""
        probe = await self.session(our_open)
        prefix = self.next_prefix()
        if not isinstance(expect, Notify) and self.echo:
            self.announce(probe, prefix)
            if not await probe.wait(lambda: self.observer_has(prefix), self.config.timeout):
                return not_applicable("the baseline route was not echoed in time")
        probe.send(build(self, probe, prefix))
        obs = await self.watch(probe, expect, prefix if self.echo else None, marker)
        return expect.judge(obs)

    async def message_flow(
        self, data: bytes, expect: Expectation, our_open: Open | None = None
    ) -> Outcome:
        probe = await self.session(our_open)
        probe.send(data)
        return expect.judge(await self.watch(probe, expect))


def needs_met(ctx: Context, check: Check) -> str | None:
    """Why ``check`` cannot run against this target, or None."""
    for need in sorted(check.needs):
        if need == "observer" and not ctx.echo:
            return f"needs route echo: {ctx.echo_reason}"
        if need == "ibgp" and not ctx.config.ibgp:
            return "needs an iBGP session (--target-as equal to --local-as)"
        if need == "ebgp" and ctx.config.ibgp:
            return "needs an eBGP session"
        if need == "as2" and ctx.config.local_as > 0xFFFF:
            return "needs a 2-octet --local-as"
    return None


async def run(
    config: RunConfig,
    checks: list[Check],
    hook: Hook | None = None,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run ``checks`` in order; ``ProbeError`` if the target cannot be reached at all."""
    ctx = Context(config)
    started = time.monotonic()
    await ctx.setup()
    results: list[Result] = []
    try:
        for check in checks:
            t0 = time.monotonic()
            why = needs_met(ctx, check)
            if t0 - started > config.max_time:
                outcome = not_applicable(
                    f"not run: the run exceeded --max-time {config.max_time:.0f}s"
                )
            elif why is not None:
                outcome = not_applicable(why)
            else:
                try:
                    outcome = await asyncio.wait_for(check.run(ctx), 60.0)
                except ProbeError as exc:
                    outcome = failed(f"setup: {exc}")
                except TimeoutError:
                    outcome = failed("the check did not finish within 60 s")
                finally:
                    await ctx.finish()
                if hook is not None:
                    outcome = await hook(check, outcome)
                await ctx.ensure_observer()
            r = Result(
                check.id,
                check.rfc,
                check.title,
                check.expected,
                outcome.verdict,
                outcome.seen,
                round(time.monotonic() - t0, 2),
            )
            results.append(r)
            if progress is not None:
                progress(r)
    finally:
        await ctx.teardown()
    return results
