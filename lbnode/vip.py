"""The state machine of one VIP (pure: time comes in as ``now``; tested with a fake clock).

How this works: a VIP is in one of four states, and the state alone says what is
announced (:attr:`VipMachine.announce`):

- ``down``: withdrawn; its checks do not pass, or flap damping holds it down;
- ``up``: announced with its normal attributes;
- ``draining``: still announced, but with the GRACEFUL_SHUTDOWN community (RFC 8326)
  and a lower LOCAL_PREF or higher MED, so routers move new flows away; after
  ``drain_grace`` seconds it is withdrawn;
- ``disabled``: withdrawn by the operator (a finished drain) until ``undrain``.

Inputs are the health verdict (:meth:`health`), drain requests from named sources
(``operator`` for ``pybgp vips drain``, ``signal`` for SIGUSR1, ``file`` for the
disable file; :meth:`drain`, :meth:`undrain`) and the passing of time (:meth:`tick`,
at :meth:`next_deadline`).  Each input recomputes the one state the inputs call for
(:meth:`_target`); a change is recorded as a :class:`Transition` with its reason.
A VIP that is unhealthy while draining is withdrawn at once: it cannot serve.

Flap damping: every health-driven change of announcement is counted; ``flap_count``
of them within ``flap_window`` seconds hold the VIP down for ``hold_down`` seconds,
whatever its checks say.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["VipState", "Announce", "Transition", "VipMachine"]


class VipState(StrEnum):
    DOWN = "down"
    UP = "up"
    DRAINING = "draining"
    DISABLED = "disabled"


class Announce(StrEnum):
    NONE = "withdrawn"
    NORMAL = "announced"
    GRACEFUL = "graceful-shutdown"


_ANNOUNCE = {
    VipState.DOWN: Announce.NONE,
    VipState.UP: Announce.NORMAL,
    VipState.DRAINING: Announce.GRACEFUL,
    VipState.DISABLED: Announce.NONE,
}


@dataclass(frozen=True, slots=True)
class Transition:
    time: float
    old: VipState
    new: VipState
    reason: str


class VipMachine:
    def __init__(
        self,
        drain_grace: float = 30.0,
        flap_count: int = 0,
        flap_window: float = 60.0,
        hold_down: float = 30.0,
        history: int = 32,
    ) -> None:
        self.drain_grace = drain_grace
        self.flap_count, self.flap_window, self.hold_down = flap_count, flap_window, hold_down
        self.state = VipState.DOWN
        self.healthy = False
        self.health_reason = "no result yet"
        self.drains: set[str] = set()
        self.drain_until: float | None = None
        self.held_until: float | None = None
        self.changes: deque[float] = deque()
        self.transitions: deque[Transition] = deque(maxlen=history)
        self.count = 0
        """Transitions so far (a counter for metrics)."""

    @property
    def announce(self) -> Announce:
        return _ANNOUNCE[self.state]

    # ------------------------------------------------------------------ inputs
    def health(self, now: float, healthy: bool, reason: str) -> Transition | None:
        self.healthy, self.health_reason = healthy, reason
        return self._step(now, reason)

    def drain(self, now: float, source: str) -> Transition | None:
        self.drains.add(source)
        return self._step(now, f"drain requested ({source})")

    def undrain(self, now: float, sources: tuple[str, ...]) -> Transition | None:
        if not self.drains & set(sources):
            return None
        self.drains -= set(sources)
        if self.drains:
            return None  # another source still wants it drained
        self.drain_until = None
        return self._step(now, f"undrain ({', '.join(sources)})")

    def tick(self, now: float) -> Transition | None:
        if self.held_until is not None and now >= self.held_until:
            self.held_until = None
            return self._step(now, "flap damping hold-down over")
        if self.drain_until is not None and now >= self.drain_until:
            return self._step(now, f"drain grace time ({self.drain_grace:g} s) over")
        return None

    def next_deadline(self) -> float | None:
        times = [t for t in (self.held_until, self.drain_until) if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ rules
    def _target(self, now: float) -> tuple[VipState, str | None]:
        if self.drains:
            if not self.healthy:
                return VipState.DISABLED, "unhealthy while drained"
            if self.state == VipState.UP:
                return VipState.DRAINING, None
            if self.state == VipState.DRAINING:
                if self.drain_until is not None and now < self.drain_until:
                    return VipState.DRAINING, None
                return VipState.DISABLED, None
            return VipState.DISABLED, None
        if self.held_until is not None and now < self.held_until:
            return VipState.DOWN, None
        return (VipState.UP if self.healthy else VipState.DOWN), None

    def _step(self, now: float, reason: str) -> Transition | None:
        new, why = self._target(now)
        if new == self.state:
            return None
        if new == VipState.DRAINING:
            self.drain_until = now + self.drain_grace
            if self.drain_grace <= 0:
                new, self.drain_until = VipState.DISABLED, None
        elif self.state == VipState.DRAINING:
            self.drain_until = None
        if {new, self.state} == {VipState.UP, VipState.DOWN} and self._flapping(now):
            self.held_until = now + self.hold_down
            reason = (
                f"{reason}; flap damping: {self.flap_count} changes in "
                f"{self.flap_window:g} s, held down for {self.hold_down:g} s"
            )
            new = VipState.DOWN
            if new == self.state:
                self.transitions.append(Transition(now, self.state, new, reason))
                return None
        return self._go(now, new, f"{reason}: {why}" if why else reason)

    def _flapping(self, now: float) -> bool:
        if self.flap_count <= 0:
            return False
        self.changes.append(now)
        while self.changes and self.changes[0] <= now - self.flap_window:
            self.changes.popleft()
        if len(self.changes) >= self.flap_count:
            self.changes.clear()
            return True
        return False

    def _go(self, now: float, new: VipState, reason: str) -> Transition:
        t = Transition(now, self.state, new, reason)
        self.state = new
        self.transitions.append(t)
        self.count += 1
        return t
