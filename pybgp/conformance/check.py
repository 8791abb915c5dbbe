"""Checks, what a check observed, and the verdicts: the pure half of the suite.

How this works: a :class:`Check` is data (an id, the RFC clause it tests, a title, what
the RFC expects) plus one async function that drives the target through a
:class:`~pybgp.conformance.runner.Context` and returns an :class:`Outcome`.  Most checks
do not decide their verdict themselves: they collect an :class:`Observation` (the
NOTIFICATION the target sent, whether it closed the connection, whether the test route
was withdrawn or kept at the observer) and hand it to an expectation (:class:`Notify`,
:class:`Withdraw`, :class:`Keep`, :class:`StayUp`, :class:`ResetOrWithdraw`), whose
``judge`` is a pure function that unit tests drive directly.

``register`` adds a check to the global registry ``CHECKS``; the area modules
(``header``, ``open``, ``update``, ``fsm``, ``capabilities``, ``reflection``) register
their checks when imported.  Check ids are ``area.name`` and unique.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from ..codec.notification import Notification, code_name, subcode_name

if TYPE_CHECKING:
    from .runner import Context

__all__ = [
    "Verdict",
    "Outcome",
    "Observation",
    "Expectation",
    "Notify",
    "Withdraw",
    "Keep",
    "StayUp",
    "ResetOrWithdraw",
    "Absent",
    "Check",
    "Runner",
    "CHECKS",
    "register",
    "select",
    "describe_notification",
    "passed",
    "failed",
    "not_applicable",
]


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NA = "n/a"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A check's result before the runner adds the check's metadata and timing."""

    verdict: Verdict
    seen: str
    """What the target did, in one line."""


def passed(seen: str) -> Outcome:
    return Outcome(Verdict.PASS, seen)


def failed(seen: str) -> Outcome:
    return Outcome(Verdict.FAIL, seen)


def not_applicable(reason: str) -> Outcome:
    return Outcome(Verdict.NA, reason)


def describe_notification(n: Notification) -> str:
    text = (
        f"NOTIFICATION {n.code}/{n.subcode} ({code_name(n.code)}/{subcode_name(n.code, n.subcode)})"
    )
    if n.data and n.code != 6:
        text += f" data={n.data[:16].hex()}"
    return text


@dataclass(frozen=True, slots=True)
class Observation:
    """What the target did after a crafted message."""

    notification: Notification | None = None
    """The NOTIFICATION it sent on the test session, if any."""
    closed: bool = False
    """It closed the test session's connection."""
    route: str = "unknown"
    """The test route at the observer: "present", "absent" or "unknown" (not observable)."""
    marker: bool = False
    """The observer saw the test route's latest version (the changed community)."""
    crashed: bool = False
    """The target stopped answering (set by a harness that watches the process)."""
    note: str = ""
    """Anything else worth reporting (a malformed UPDATE the observer received)."""

    @property
    def reset(self) -> bool:
        return self.notification is not None or self.closed

    def session_text(self) -> str:
        if self.crashed:
            return "target crashed"
        if self.notification is not None:
            return describe_notification(self.notification) + (
                ", connection closed" if self.closed else ""
            )
        if self.closed:
            return "connection closed without NOTIFICATION"
        return "session stayed up"

    def text(self) -> str:
        parts = [self.session_text()]
        if self.route != "unknown" and not self.reset:
            parts.append(f"route {self.route} at the observer")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


class Expectation(Protocol):
    def expected(self) -> str: ...

    def judge(self, obs: Observation) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Notify:
    """Session reset: a NOTIFICATION with ``code`` and one of ``subcodes`` (any if empty)."""

    code: int
    subcodes: tuple[int, ...] = ()

    def expected(self) -> str:
        sub = "/".join(str(s) for s in self.subcodes) if self.subcodes else "any"
        names = ", ".join(subcode_name(self.code, s) for s in self.subcodes)
        return (
            f"NOTIFICATION {self.code}/{sub} ({code_name(self.code)}{'/' + names if names else ''})"
        )

    def judge(self, obs: Observation) -> Outcome:
        n = obs.notification
        if obs.crashed:
            return failed("target crashed")
        if (
            n is not None
            and n.code == self.code
            and (not self.subcodes or n.subcode in self.subcodes)
        ):
            return passed(obs.session_text())
        return failed(obs.session_text())


@dataclass(frozen=True, slots=True)
class StayUp:
    """The message is ignored or accepted: no NOTIFICATION, no close."""

    why: str = "message ignored"

    def expected(self) -> str:
        return f"session stays up ({self.why})"

    def judge(self, obs: Observation) -> Outcome:
        if obs.reset or obs.crashed:
            return failed(obs.session_text())
        return passed(obs.session_text())


@dataclass(frozen=True, slots=True)
class Withdraw:
    """RFC 7606 treat-as-withdraw: the session stays up and the route is withdrawn."""

    def expected(self) -> str:
        return "treat-as-withdraw: session stays up, route withdrawn"

    def judge(self, obs: Observation) -> Outcome:
        if obs.reset or obs.crashed:
            return failed(obs.text())
        if obs.route == "absent":
            return passed(obs.text())
        if obs.route == "unknown":
            return not_applicable("session stayed up; the route is not observable (no echo)")
        return failed(obs.text() + " (not withdrawn)")


@dataclass(frozen=True, slots=True)
class Keep:
    """Attribute discard (or acceptance): the session stays up and the new route is used."""

    why: str = "attribute-discard"

    def expected(self) -> str:
        return f"{self.why}: session stays up, route kept with its update applied"

    def judge(self, obs: Observation) -> Outcome:
        if obs.reset or obs.crashed:
            return failed(obs.text())
        if obs.route == "unknown":
            return not_applicable("session stayed up; the route is not observable (no echo)")
        if obs.route == "present" and obs.marker:
            return passed(obs.text())
        if obs.route == "present":
            return failed(obs.text() + " (the UPDATE was ignored: old version kept)")
        return failed(obs.text())


@dataclass(frozen=True, slots=True)
class Absent:
    """The route is ignored (never used), and the session stays up."""

    why: str = "route ignored"

    def expected(self) -> str:
        return f"{self.why}: session stays up, route not propagated"

    def judge(self, obs: Observation) -> Outcome:
        if obs.reset or obs.crashed:
            return failed(obs.text())
        if obs.route == "unknown":
            return not_applicable("session stayed up; the route is not observable (no echo)")
        if obs.route == "absent":
            return passed(obs.text())
        return failed(obs.text())


@dataclass(frozen=True, slots=True)
class ResetOrWithdraw:
    """RFC 7606 5.3/7.11: session reset (code 3) or AFI/SAFI disable (routes withdrawn)."""

    def expected(self) -> str:
        return "session reset (NOTIFICATION 3) or AFI/SAFI disable (route withdrawn)"

    def judge(self, obs: Observation) -> Outcome:
        if obs.crashed:
            return failed("target crashed")
        n = obs.notification
        if n is not None:
            return passed(obs.text()) if n.code == 3 else failed(obs.text())
        if obs.closed:
            return failed(obs.text())
        if obs.route == "absent":
            return passed(obs.text())
        if obs.route == "unknown":
            return not_applicable("session stayed up; the route is not observable (no echo)")
        return failed(obs.text())


Runner = Callable[["Context"], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Check:
    """One conformance check: data plus the function that runs it."""

    id: str
    """``area.name``, unique."""
    rfc: str
    """The clause it tests, e.g. "RFC 7606 7.1"."""
    title: str
    expected: str
    run: Runner
    needs: frozenset[str] = frozenset()
    """Requirements: "observer" (route echo), "ibgp", "ebgp", "rr" (target reflects)."""

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    if check.id in CHECKS:
        raise ValueError(f"duplicate check id {check.id}")
    CHECKS[check.id] = check
    return check


def select(pattern: str | None = None) -> list[Check]:
    """Checks whose id matches the glob ``pattern`` (or contains it), in registry order."""
    from . import load_all

    load_all()
    checks = list(CHECKS.values())
    if not pattern:
        return checks
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return [
        c
        for c in checks
        if any(
            fnmatch.fnmatchcase(c.id, p) or (not any(x in p for x in "*?[") and p in c.id)
            for p in pats
        )
    ]
