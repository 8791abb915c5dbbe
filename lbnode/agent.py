"""The LB node agent: health checks drive each VIP's state, the state drives BGP.

How this works: an :class:`Agent` sits beside a :class:`pybgp.speaker.Speaker`.  Every
check of every VIP runs in its own task (``interval`` plus up to ``jitter`` seconds
apart, each probe bounded by its ``timeout``) and feeds a
:class:`~lbnode.health.CheckState`; a change of a check's state re-applies the VIP's
announce policy and feeds the verdict to the VIP's
:class:`~lbnode.vip.VipMachine`.  A VIP transition is logged (``vip-state``, with the
reason) and applied at once: the VIP's route is originated through the speaker's
run-time table (``Speaker.originate``: to every Established peer, and in the initial
dump of every session that comes up later), re-announced with GRACEFUL_SHUTDOWN while
draining, or withdrawn (``Speaker.withdraw``).  With ``bind``, the VIP's address is
added to that interface while announced and removed when withdrawn.

Before the speaker starts, :meth:`Agent.first_round` runs every check once, so a
node that starts (or restarts with graceful restart) healthy has its VIPs in its
first UPDATEs and before its End-of-RIB.  The disable file of each VIP is polled once
a second.  :meth:`Agent.stop` withdraws every VIP (a clean stop);
:meth:`Agent.abandon` leaves them announced (a graceful restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
from dataclasses import dataclass, field
from typing import Any

from pybgp.codec.attributes import AttrSet
from pybgp.eventlog import EventLog
from pybgp.speaker import Speaker

from .checks import run_check
from .config import GRACEFUL_SHUTDOWN, CheckConfig, LbConfig, VipConfig
from .health import CheckState, verdict
from .vip import Announce, Transition, VipMachine

__all__ = ["Agent", "Vip"]
DISABLE_POLL = 1.0


@dataclass
class Check:
    config: CheckConfig
    state: CheckState


@dataclass
class Vip:
    config: VipConfig
    machine: VipMachine
    checks: list[Check]
    key: tuple[int, int]
    bound: bool = False
    timer: asyncio.TimerHandle | None = None
    announced: Announce = Announce.NONE
    changed_at: float = 0.0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Its check loops."""


class Agent:
    def __init__(self, config: LbConfig, speaker: Speaker, log: EventLog) -> None:
        self.config = config
        self.speaker = speaker
        self.log = log
        self.loop = asyncio.get_running_loop()
        self.vips: dict[str, Vip] = {}
        for v in config.vips:
            self.vips[v.prefix] = self._make(v)
        self.tasks: list[asyncio.Task[None]] = []
        self.disable_loop: asyncio.Task[None] | None = None
        self.binding: asyncio.Task[None] | None = None  # the last bind/release, in order
        self.stopped = False

    def _make(self, v: VipConfig) -> Vip:
        machine = VipMachine(v.drain_grace, v.flap_count, v.flap_window, v.hold_down)
        checks = [Check(c, CheckState(c.rise, c.fall)) for c in v.checks]
        self.speaker.owned[(v.afi, v.nlri)] = "the lbnode agent (use pybgp vips)"
        return Vip(v, machine, checks, (v.afi, v.nlri))

    # ------------------------------------------------------------------ running
    async def first_round(self, vips: list[Vip] | None = None) -> None:
        """Run every check once and set every VIP's first state (before BGP starts)."""
        todo = list(self.vips.values()) if vips is None else vips

        async def one(vip: Vip, c: Check) -> None:
            ok, detail = await run_check(c.config)
            self._record(vip, c, ok, detail)

        await asyncio.gather(*(one(v, c) for v in todo for c in v.checks))
        for vip in todo:
            self._evaluate(vip)
            self._poll_disable_file(vip)

    def start(self, vips: list[Vip] | None = None) -> None:
        for vip in list(self.vips.values()) if vips is None else vips:
            for c in vip.checks:
                vip.tasks.append(self.loop.create_task(self._check_loop(vip, c)))
            self.tasks += vip.tasks
        if self.disable_loop is None and any(v.config.disable_file for v in self.vips.values()):
            self.disable_loop = self.loop.create_task(self._disable_loop())
            self.tasks.append(self.disable_loop)

    async def reconfigure(self, config: LbConfig) -> dict[str, list[str]]:
        """Apply a new ``[[vips]]`` (SIGHUP): the VIPs added, removed and changed.

        A removed VIP is withdrawn (and its address released).  An added one runs its
        checks once, then is announced if they pass, as at start.  A changed one (any
        setting) starts again with its new checks, but its route stays as the peers
        have it until their first round decides; then it is announced with its new
        attributes or withdrawn.  Its operator and signal drains carry over (a drain in
        its grace time ends at once).  An unchanged VIP is not touched.
        """
        if self.stopped:
            return {"added": [], "removed": [], "changed": []}
        old, new = self.vips, {v.prefix: v for v in config.vips}
        removed = [p for p in old if p not in new]
        changed = [p for p in old if p in new and new[p] != old[p].config]
        added = [p for p in new if p not in old]
        self.config = config
        fresh: list[Vip] = []
        for p in removed + changed:
            vip = old.pop(p)
            for task in vip.tasks:
                task.cancel()
                self.tasks.remove(task)
            if vip.timer is not None:
                vip.timer.cancel()
            if p in removed:
                del self.speaker.owned[vip.key]
                if vip.announced != Announce.NONE and not self.stopped:
                    peers = self.speaker.withdraw([vip.key])
                    self.log.emit("vip-announce", vip=p, announce="none", peers=peers)
                if vip.bound:
                    self._bind(vip, False)
                continue
            vip2 = self._make(new[p])
            vip2.announced, vip2.bound = vip.announced, vip.bound
            for source in vip.machine.drains - {"file"}:  # the file is polled again
                vip2.machine.drain(self.loop.time(), source)
            fresh.append(vip2)
        fresh += [self._make(new[p]) for p in added]
        for vip in fresh:
            old[vip.config.prefix] = vip
        await self.first_round(fresh)
        for vip in fresh:
            if vip.config.prefix in changed and vip.announced != Announce.NONE:
                vip.announced = Announce.NONE  # the same state, maybe other attributes
                self._announce(vip)
        self.start(fresh)
        summary = {"added": added, "removed": removed, "changed": changed}
        self.log.emit("vips-reloaded", **summary)
        return summary

    async def _check_loop(self, vip: Vip, c: Check) -> None:
        cfg = c.config
        rng = random.Random()
        while True:
            await asyncio.sleep(cfg.interval + (rng.uniform(0, cfg.jitter) if cfg.jitter else 0))
            ok, detail = await run_check(cfg)
            if self.stopped:
                return
            if self._record(vip, c, ok, detail):
                self._evaluate(vip)

    def _record(self, vip: Vip, c: Check, ok: bool, detail: str) -> bool:
        old = c.state.state
        changed = c.state.record(ok, detail)
        if changed:
            self.log.emit(
                "check-state",
                vip=vip.config.prefix,
                check=c.config.name,
                old=old,
                new=c.state.state,
                detail=detail,
            )
        return changed

    async def _disable_loop(self) -> None:
        while True:
            await asyncio.sleep(DISABLE_POLL)
            for vip in self.vips.values():
                self._poll_disable_file(vip)

    def _poll_disable_file(self, vip: Vip) -> None:
        path = vip.config.disable_file
        if path is None:
            return
        present = os.path.exists(path)
        if present and "file" not in vip.machine.drains:
            self._apply(vip, vip.machine.drain(self.loop.time(), "file"))
        elif not present and "file" in vip.machine.drains:
            self._apply(vip, vip.machine.undrain(self.loop.time(), ("file",)))

    def _evaluate(self, vip: Vip) -> None:
        ok, why = verdict([c.state for c in vip.checks], vip.config.announce, vip.config.at_least)
        self._apply(vip, vip.machine.health(self.loop.time(), ok, why))

    def _tick(self, vip: Vip) -> None:
        vip.timer = None
        self._apply(vip, vip.machine.tick(self.loop.time()))

    # ------------------------------------------------------------------ effects
    def _apply(self, vip: Vip, t: Transition | None) -> None:
        if t is not None:
            vip.changed_at = t.time
            self.log.emit(
                "vip-state",
                vip=vip.config.prefix,
                old=t.old.value,
                new=t.new.value,
                reason=t.reason,
            )
        self._announce(vip)
        if vip.timer is not None:
            vip.timer.cancel()
            vip.timer = None
        deadline = vip.machine.next_deadline()
        if deadline is not None:
            vip.timer = self.loop.call_at(deadline, self._tick, vip)

    def _announce(self, vip: Vip) -> None:
        want = vip.machine.announce
        if self.stopped or want == vip.announced:
            return
        if want == Announce.NONE:
            peers = self.speaker.withdraw([vip.key])
        else:
            asn = self.speaker.config.global_.asn
            peers = self.speaker.originate({vip.key: self.template(vip.config, want, asn)})
        self.log.emit("vip-announce", vip=vip.config.prefix, announce=want.value, peers=peers)
        vip.announced = want
        if vip.config.bind:
            self._bind(vip, want != Announce.NONE)

    @staticmethod
    def template(v: VipConfig, how: Announce, asn: int) -> AttrSet:
        """The stored attributes of the VIP's route (``Speaker.export_originated``).

        ``as_path_prepend`` puts our AS ``asn`` that many more times after the one the
        speaker adds towards eBGP peers.
        """
        nh = ipaddress.ip_address(v.next_hop).packed if v.next_hop else None
        communities, local_pref, med = v.communities, v.local_pref, v.med
        if how == Announce.GRACEFUL:  # RFC 8326 4.1 and 4.2
            communities = (*communities, GRACEFUL_SHUTDOWN)
            local_pref = v.drain_local_pref
            if v.drain_med is not None:
                med = v.drain_med
        return AttrSet(
            origin=0,
            as_path=((2, (asn,) * v.as_path_prepend),) if v.as_path_prepend else (),
            med=med,
            local_pref=local_pref,
            communities=communities,
            large_communities=v.large_communities,
            next_hop=nh if v.afi == 1 else None,
            mp_next_hop=nh if v.afi == 2 else None,
        )

    def _bind(self, vip: Vip, on: bool) -> None:
        """Bind or release the VIP's address, in order, off the event loop thread."""
        prev = self.binding
        self.binding = self.loop.create_task(self._bind_after(prev, vip, on))

    async def _bind_after(self, prev: asyncio.Task[None] | None, vip: Vip, on: bool) -> None:
        if prev is not None:
            with contextlib.suppress(BaseException):
                await prev
        if on == vip.bound:
            return
        from .bind import bind_address

        interface = vip.config.bind or "lo"
        err = await asyncio.to_thread(bind_address, interface, vip.config.prefix, on)
        if err:
            self.log.emit("vip-bind-error", vip=vip.config.prefix, error=err)
        else:
            vip.bound = on
            self.log.emit("vip-bind", vip=vip.config.prefix, interface=interface, bound=on)

    # ------------------------------------------------------------------ operator
    def find(self, text: str) -> Vip | None:
        v = self.config.vip(text)
        return None if v is None else self.vips[v.prefix]

    def drain(self, vips: list[Vip], source: str) -> None:
        for vip in vips:
            self._apply(vip, vip.machine.drain(self.loop.time(), source))

    def undrain(self, vips: list[Vip], sources: tuple[str, ...]) -> None:
        for vip in vips:
            self._apply(vip, vip.machine.undrain(self.loop.time(), sources))

    def status(self) -> list[dict[str, Any]]:
        now = self.loop.time()
        out = []
        for vip in self.vips.values():
            m = vip.machine
            out.append(
                {
                    "vip": vip.config.prefix,
                    "state": m.state.value,
                    "announce": vip.announced.value,
                    "healthy": m.healthy,
                    "reason": m.health_reason,
                    "since": round(now - vip.changed_at, 3) if m.count else None,
                    "drains": sorted(m.drains),
                    "drain_left": (
                        round(m.drain_until - now, 3) if m.drain_until is not None else None
                    ),
                    "held_left": (
                        round(m.held_until - now, 3) if m.held_until is not None else None
                    ),
                    "bound": vip.bound if vip.config.bind else None,
                    "transitions": m.count,
                    "checks": [
                        {
                            "name": c.config.name,
                            "type": c.config.kind,
                            "state": c.state.state,
                            "passes": c.state.passes,
                            "failures": c.state.failures,
                            "detail": c.state.last_detail,
                        }
                        for c in vip.checks
                    ],
                    "history": [
                        {
                            "ago": round(now - t.time, 3),
                            "old": t.old.value,
                            "new": t.new.value,
                            "reason": t.reason,
                        }
                        for t in list(m.transitions)[-5:]
                    ],
                }
            )
        return out

    # ------------------------------------------------------------------ stopping
    def _halt(self) -> None:
        for task in self.tasks:
            task.cancel()
        for vip in self.vips.values():
            if vip.timer is not None:
                vip.timer.cancel()

    async def stop(self) -> None:
        """Withdraw every VIP (a clean stop) and release bound addresses."""
        self._halt()
        keys = [v.key for v in self.vips.values() if v.announced != Announce.NONE]
        if keys:
            peers = self.speaker.withdraw(keys)
            self.log.emit("vips-withdrawn", count=len(keys), peers=peers)
        for vip in self.vips.values():
            vip.announced = Announce.NONE
            if vip.config.bind:
                self._bind(vip, False)
        self.stopped = True
        if self.binding is not None:
            with contextlib.suppress(BaseException):
                await self.binding
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task

    async def abandon(self) -> None:
        """Stop checking but leave every VIP announced (a graceful restart follows)."""
        self._halt()
        self.stopped = True
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task
