"""Rise/fall state of a health check and a VIP's announce policy (pure: no I/O, no clock).

How this works: a :class:`CheckState` is fed one result at a time.  Its first result
decides its state directly (as ExaBGP's healthcheck leaves INIT), so a node that
starts healthy announces at once; after that it takes ``rise`` consecutive passes to
go up and ``fall`` consecutive failures to go down, so one lost probe does not flap a
VIP.  :func:`verdict` applies a VIP's announce policy (all, any, or at least N of its
checks up) to the states of its checks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CheckState", "verdict"]


@dataclass(slots=True)
class CheckState:
    rise: int
    fall: int
    up: bool | None = None
    """None until the first result."""
    streak: int = 0
    """Consecutive results that disagree with ``up``."""
    passes: int = 0
    failures: int = 0
    last_detail: str = ""

    def record(self, ok: bool, detail: str = "") -> bool:
        """Take one result; True when ``up`` changed."""
        self.last_detail = detail
        if ok:
            self.passes += 1
        else:
            self.failures += 1
        if self.up is None:
            self.up = ok
            return True
        if ok == self.up:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= (self.rise if ok else self.fall):
            self.up, self.streak = ok, 0
            return True
        return False

    @property
    def state(self) -> str:
        if self.up is None:
            return "init"
        if self.streak:
            return "falling" if self.up else "rising"
        return "up" if self.up else "down"


def verdict(states: list[CheckState], policy: str, at_least: int = 0) -> tuple[bool, str]:
    """Whether a VIP may be announced, and why (``policy``: all, any or at_least)."""
    if not states:
        return True, "no checks"
    passing = sum(1 for s in states if s.up)
    n = len(states)
    if policy == "all":
        return passing == n, f"{passing}/{n} checks up (all needed)"
    if policy == "any":
        return passing > 0, f"{passing}/{n} checks up (any needed)"
    return passing >= at_least, f"{passing}/{n} checks up ({at_least} needed)"
