"""Running a policy on a route: ``Policy.apply(afi, safi, prefix, attrs) -> PolicyResult``.

How this works: a :class:`Policy` is a chain of stages (named policies, applied in
order, each seeing what the one before produced).  Most of a verdict does not depend on
the prefix: the family and the attribute set decide which terms can match and what they
turn the attributes into, and attribute sets are interned, so a full table holds few
of them.  So the first time a policy sees an ``AttrSet`` in a family it builds a *plan*:
the terms whose attribute tests pass, in order, each reduced to a prefix test (or none)
and a precomputed outcome (a shared :class:`PolicyResult`, or where to continue after
a ``next`` term that changed something), and the default that follows them.  Applying
the policy to a route is then a walk over that short plan with one prefix test per
step.  Plans are cached by ``(id(attrs), afi, safi, position, next_hop_self)`` and keep
their ``AttrSet`` alive, so an id is never reused while cached; the cache is cleared
when it grows past :data:`CACHE_LIMIT`.  Output sets are interned per policy, so the
routes that shared an input set share the output set too.  :meth:`Policy.evaluate` is
the same semantics without any cache, the reference the tests compare against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pybgp.codec.attributes import AttrSet

from .policy_match import NEVER, Actions, Stage, Term, Verdict

__all__ = [
    "PolicyResult",
    "Policy",
    "REJECTED",
    "ACCEPT_ALL",
    "REJECT_ALL",
    "CACHE_LIMIT",
    "effective_policy",
]

CACHE_LIMIT = 1 << 16
"""Most plans (and output sets) a policy keeps before it starts again from empty."""


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """The verdict on one route."""

    accepted: bool
    attrs: AttrSet | None
    """The attributes to use (None when rejected); the input object when unchanged."""
    next_hop_self: bool = False
    """``set.next_hop = "self"``: the caller puts its own session address in."""


REJECTED = PolicyResult(False, None, False)

_Key = tuple[AttrSet, int, int, int, int, bool]
"""Where a walk continues: (attrs, afi, safi, stage, term, next_hop_self)."""
_Step = tuple[Callable[[int], bool] | None, PolicyResult | None, _Key | None]


class _Plan:
    __slots__ = ("attrs", "final", "steps")

    def __init__(self, attrs: AttrSet, steps: tuple[_Step, ...], final: PolicyResult) -> None:
        self.attrs = attrs  # keeps id(attrs) from being reused while the plan is cached
        self.steps = steps
        self.final = final


class Policy:
    """A compiled chain of named policies; share one object between neighbors."""

    __slots__ = ("_constant", "_outputs", "_plans", "name", "stages")

    def __init__(self, name: str, stages: Sequence[Stage]) -> None:
        self.name = name
        self.stages = tuple(stages)
        self._plans: dict[tuple[int, int, int, int, int, bool], _Plan] = {}
        self._outputs: dict[AttrSet, AttrSet] = {}
        first = self.stages[0] if self.stages else None
        rejects = first is not None and not first.terms and not first.default_accept
        self._constant = REJECTED if rejects else None

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, stages={[s.name for s in self.stages]!r})"

    def then(self, other: Policy) -> Policy:
        """This chain followed by ``other``'s."""
        return Policy(f"{self.name},{other.name}", self.stages + other.stages)

    @property
    def cache_size(self) -> int:
        return len(self._plans)

    def clear_cache(self) -> None:
        self._plans.clear()
        self._outputs.clear()

    def apply(self, afi: int, safi: int, prefix: int, attrs: AttrSet) -> PolicyResult:
        """The verdict on the route ``prefix`` (``(network << 8) | length``) in (afi, safi)."""
        if self._constant is not None:
            return self._constant
        plan = self._plan(attrs, afi, safi, 0, 0, False)
        while True:
            for check, result, cont in plan.steps:
                if check is None or check(prefix):
                    if result is not None:
                        return result
                    assert cont is not None
                    plan = self._plan(*cont)
                    break
            else:
                return plan.final

    def _plan(
        self, attrs: AttrSet, afi: int, safi: int, stage: int, term: int, nh_self: bool
    ) -> _Plan:
        key = (id(attrs), afi, safi, stage, term, nh_self)
        plan = self._plans.get(key)
        if plan is None or plan.attrs is not attrs:
            if len(self._plans) >= CACHE_LIMIT:
                self.clear_cache()
            plan = self._plans[key] = self._build(attrs, afi, safi, stage, term, nh_self)
        return plan

    def _build(
        self, attrs: AttrSet, afi: int, safi: int, start_stage: int, start_term: int, nh: bool
    ) -> _Plan:
        steps: list[_Step] = []
        last = len(self.stages) - 1
        for s in range(start_stage, last + 1):
            stage = self.stages[s]
            first = start_term if s == start_stage else 0
            for t in range(first, len(stage.terms)):
                term = stage.terms[t]
                if not term.match.attrs_match(afi, safi, attrs):
                    continue
                check = term.match.prefix_check(afi)
                if check is NEVER:
                    continue
                step = self._step(term, check, attrs, afi, safi, s, t, nh, s == last)
                if step is None:  # a "next" term that changes nothing
                    continue
                steps.append(step)
                if check is None:  # matches every prefix: nothing after it is reached
                    return _Plan(attrs, tuple(steps), REJECTED)
            if not stage.default_accept:
                return _Plan(attrs, tuple(steps), REJECTED)
        return _Plan(attrs, tuple(steps), PolicyResult(True, attrs, nh))

    def _step(
        self,
        term: Term,
        check: Callable[[int], bool] | None,
        attrs: AttrSet,
        afi: int,
        safi: int,
        s: int,
        t: int,
        nh: bool,
        last: bool,
    ) -> _Step | None:
        if term.verdict == Verdict.REJECT:
            return check, REJECTED, None
        new, nh2 = self._set(term.actions, afi, attrs, nh)
        if term.verdict == Verdict.ACCEPT:
            if last:
                return check, PolicyResult(True, new, nh2), None
            return check, None, (new, afi, safi, s + 1, 0, nh2)
        if new is attrs and nh2 == nh:
            return None
        return check, None, (new, afi, safi, s, t + 1, nh2)

    def _set(self, actions: Actions, afi: int, attrs: AttrSet, nh: bool) -> tuple[AttrSet, bool]:
        new = actions.apply(afi, attrs)
        if new is not attrs:
            if len(self._outputs) >= CACHE_LIMIT:
                self._outputs.clear()
            new = self._outputs.setdefault(new, new)
        if actions.next_hop_self:
            nh = True
        elif actions.next_hop is not None:
            nh = False
        return new, nh

    def evaluate(self, afi: int, safi: int, prefix: int, attrs: AttrSet) -> PolicyResult:
        """:meth:`apply` without plans or caches: the plain reading of the rules."""
        nh = False
        for stage in self.stages:
            for term in stage.terms:
                m = term.match
                if not m.attrs_match(afi, safi, attrs):
                    continue
                check = m.prefix_check(afi)
                if check is not None and not check(prefix):
                    continue
                if term.verdict == Verdict.REJECT:
                    return REJECTED
                attrs = term.actions.apply(afi, attrs)
                if term.actions.next_hop_self:
                    nh = True
                elif term.actions.next_hop is not None:
                    nh = False
                if term.verdict == Verdict.ACCEPT:
                    break
            else:
                if not stage.default_accept:
                    return REJECTED
        return PolicyResult(True, attrs, nh)


ACCEPT_ALL = Policy("accept-all", (Stage("accept-all", (), True),))
"""What an iBGP neighbor without a policy gets."""
REJECT_ALL = Policy("reject-all", (Stage("reject-all", (), False),))
"""What an eBGP neighbor without a policy gets (RFC 8212 2)."""


def effective_policy(neighbor_is_ebgp: bool, configured: Policy | None) -> Policy:
    """The policy to run: ``configured``, else RFC 8212's default.

    RFC 8212 2: with no import (or export) policy configured, routes from (or to) an
    eBGP neighbor are neither accepted nor advertised.  iBGP keeps accepting everything.
    """
    if configured is not None:
        return configured
    return REJECT_ALL if neighbor_is_ebgp else ACCEPT_ALL
