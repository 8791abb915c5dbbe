"""The BGP decision process (RFC 4271 9.1) as an ordered list of named steps.

How this works: each :class:`Step` is an *elimination*: given the candidate routes
for one prefix it keeps only those most preferred by its one criterion, exactly as
RFC 4271 9.1.2.2 words it ("remove from consideration all routes that are not
tied for having ...").  Running the steps in order over the whole candidate set
gives the best route; the step that first leaves one route is the *reason*.

Because each step is a function of the *set* of candidates, the result cannot
depend on the order routes arrived.  That matters for the MED step, which is not
transitive as a pairwise comparison: RFC 4271 9.1.2.2 c removes a route when
another route *from the same neighbouring AS* has a lower MED.  Doing that over the
set gives what BIRD's and FRR's "deterministic MED" give (group by neighbour AS,
pick each group's best, compare the winners): the survivors of c are each group's
lowest-MED routes among the survivors of a and b, and the later steps are a total
order, so the best of the union is the best of the group winners.

The same list answers "are these equal for ECMP": the multipath set is every route
still standing just before the router-id step (``Step.multipath`` marks the steps
that count), and, unless ``multipath_relax``, only those whose AS_PATH is identical
to the best's.  ``maximum_paths`` caps it.  Beyond the RFC, two local steps (path id,
then peer index) make the order total, so the answer is deterministic.

``select`` returns a :class:`Selection`: all candidates ranked (the multipath set
first, best at index 0; then the rest, each the best of what remains), how many
of them form the ECMP set, and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from pybgp.codec.attributes import AttrSet, Origin, SegmentType, as_path_length

from .peer import PeerInfo

__all__ = [
    "Route",
    "Reason",
    "Step",
    "STEPS",
    "DecisionOptions",
    "Selection",
    "Explanation",
    "select",
    "prefer",
    "multipath_equal",
    "explain",
    "neighbor_as",
    "local_pref",
]


class Route(NamedTuple):
    """One path to a prefix: a plain 3-tuple, the attributes shared with other routes."""

    peer: PeerInfo
    path_id: int
    """ADD-PATH Path Identifier as received (RFC 7911), 0 without ADD-PATH."""
    attrs: AttrSet
    """Attributes after import policy."""


class Reason(IntEnum):
    """Why the best route is best: the step that left one route (or no contest)."""

    NO_PATH = 0
    ONLY_PATH = 1
    LOCAL_PREF = 2
    AS_PATH = 3
    ORIGIN = 4
    MED = 5
    EBGP_OVER_IBGP = 6
    IGP_COST = 7
    ROUTER_ID = 8
    CLUSTER_LIST = 9
    PEER_ADDRESS = 10
    PATH_ID = 11
    PEER_INDEX = 12

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True, slots=True)
class DecisionOptions:
    """Knobs of the decision process."""

    always_compare_med: bool = False
    """Compare MED between routes from different neighbour ASes (RFC 4271 9.1.2.2 c)."""
    multipath_relax: bool = False
    """ECMP across different AS_PATHs of equal length (FRR's ``as-path multipath-relax``)."""
    maximum_paths: int = 1
    """Size cap of the ECMP set; 1 turns multipath off."""
    default_local_pref: int = 100
    """LOCAL_PREF of a route that has none (eBGP-learned, before policy sets one)."""


Keep = Callable[[list[Route], DecisionOptions], list[Route]]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the decision process."""

    reason: Reason
    clause: str
    """Where the rule is written."""
    text: str
    keep: Keep
    """Keeps the most preferred of the candidates (never returns an empty list)."""
    multipath: bool
    """Routes tied up to here are equal for ECMP."""


def _keep_min(routes: list[Route], key: Callable[[Route], object]) -> list[Route]:
    values = [key(r) for r in routes]
    best = min(values)  # type: ignore[type-var]
    return [r for r, v in zip(routes, values, strict=True) if v == best]


def local_pref(route: Route, options: DecisionOptions) -> int:
    """The degree of preference (RFC 4271 9.1.1): LOCAL_PREF, else the default."""
    lp = route.attrs.local_pref
    return options.default_local_pref if lp is None else lp


def neighbor_as(route: Route) -> int:
    """RFC 4271 9.1.2.2 c "neighborAS": the first AS of the AS_PATH.

    Confederation segments are skipped (RFC 5065 5.3); an empty path is a route from
    our own AS.  A path that begins with an AS_SET has no single neighbour: 0.
    """
    for seg_type, asns in route.attrs.as_path or ():
        if seg_type == SegmentType.AS_SEQUENCE:
            return asns[0]
        if seg_type == SegmentType.AS_SET:
            return 0
    return route.peer.local_as


def _local_pref(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: -local_pref(r, o))


def _as_path(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: as_path_length(r.attrs.as_path))


def _origin(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(
        routes, lambda r: Origin.INCOMPLETE if r.attrs.origin is None else r.attrs.origin
    )


def _med(routes: list[Route], o: DecisionOptions) -> list[Route]:
    if o.always_compare_med:
        return _keep_min(routes, lambda r: r.attrs.med or 0)
    lowest: dict[int, int] = {}
    for r in routes:
        n, m = neighbor_as(r), r.attrs.med or 0
        if m < lowest.get(n, m + 1):
            lowest[n] = m
    return [r for r in routes if (r.attrs.med or 0) == lowest[neighbor_as(r)]]


def _ebgp(routes: list[Route], o: DecisionOptions) -> list[Route]:
    external = [r for r in routes if not r.peer.ibgp]
    return external or routes


def _igp_cost(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: r.peer.igp_cost)


def _router_id(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: r.attrs.originator_id or r.peer.bgp_id)


def _cluster_list(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: len(r.attrs.cluster_list))


def _peer_address(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: r.peer.address_key)


def _path_id(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: r.path_id)


def _peer_index(routes: list[Route], o: DecisionOptions) -> list[Route]:
    return _keep_min(routes, lambda r: r.peer.index)


R = Reason
STEPS: tuple[Step, ...] = (
    Step(
        R.LOCAL_PREF,
        "RFC 4271 9.1.1",
        "highest degree of preference (LOCAL_PREF)",
        _local_pref,
        True,
    ),
    Step(
        R.AS_PATH,
        "RFC 4271 9.1.2.2 a",
        "fewest AS numbers in AS_PATH (AS_SET counts 1, confederation segments 0)",
        _as_path,
        True,
    ),
    Step(R.ORIGIN, "RFC 4271 9.1.2.2 b", "lowest ORIGIN (IGP < EGP < INCOMPLETE)", _origin, True),
    Step(
        R.MED,
        "RFC 4271 9.1.2.2 c",
        "lowest MULTI_EXIT_DISC among routes from the same neighbour AS (missing = 0)",
        _med,
        True,
    ),
    Step(
        R.EBGP_OVER_IBGP,
        "RFC 4271 9.1.2.2 d",
        "routes learned by eBGP over routes learned by iBGP",
        _ebgp,
        True,
    ),
    Step(R.IGP_COST, "RFC 4271 9.1.2.2 e", "lowest interior cost to the NEXT_HOP", _igp_cost, True),
    Step(
        R.ROUTER_ID,
        "RFC 4271 9.1.2.2 f; RFC 4456 9",
        "lowest BGP Identifier, ORIGINATOR_ID standing in for it when present",
        _router_id,
        False,
    ),
    Step(
        R.CLUSTER_LIST,
        "RFC 4456 9",
        "shortest CLUSTER_LIST (inserted after the router-id rule)",
        _cluster_list,
        False,
    ),
    Step(R.PEER_ADDRESS, "RFC 4271 9.1.2.2 g", "lowest peer address", _peer_address, False),
    Step(
        R.PATH_ID,
        "local (RFC 7911: several paths from one peer)",
        "lowest received Path Identifier",
        _path_id,
        False,
    ),
    Step(R.PEER_INDEX, "local (determinism)", "lowest peer index", _peer_index, False),
)


class Selection(NamedTuple):
    """The outcome for one prefix."""

    ranked: tuple[Route, ...]
    """Every candidate: the ECMP set first (best at 0), then the rest in preference order."""
    n_ecmp: int
    """How many of ``ranked`` form the multipath set (1 without multipath, 0 with no route)."""
    reason: Reason


NO_SELECTION = Selection((), 0, Reason.NO_PATH)


def _best(routes: list[Route], o: DecisionOptions) -> Route:
    for step in STEPS:
        if len(routes) == 1:
            break
        routes = step.keep(routes, o)
    return routes[0]


def _rank(routes: list[Route], o: DecisionOptions) -> list[Route]:
    """Each route the best of those not yet ranked (order-independent, O(n^2))."""
    rest = list(routes)
    out: list[Route] = []
    while rest:
        b = _best(rest, o)
        out.append(b)
        rest.remove(b)
    return out


def select(candidates: Sequence[Route], options: DecisionOptions) -> Selection:
    """Run the decision process over all routes for one prefix."""
    n = len(candidates)
    if n == 0:
        return NO_SELECTION
    if n == 1:
        return Selection(tuple(candidates), 1, Reason.ONLY_PATH)
    routes = list(candidates)
    tied: list[Route] | None = None  # standing before the first non-multipath step
    reason = Reason.ONLY_PATH
    for step in STEPS:
        if tied is None and not step.multipath:
            tied = routes
        routes = step.keep(routes, options)
        if len(routes) == 1:
            reason = step.reason
            break
    best = routes[0]
    if tied is None:
        tied = [best]
    ecmp = [best]
    if options.maximum_paths > 1 and len(tied) > 1:
        others = [
            r
            for r in tied
            if r is not best and (options.multipath_relax or r.attrs.as_path == best.attrs.as_path)
        ]
        ecmp += _rank(others, options)[: options.maximum_paths - 1]
    chosen = set(map(id, ecmp))
    rest = [r for r in candidates if id(r) not in chosen]
    return Selection(tuple(ecmp + _rank(rest, options)), len(ecmp), reason)


def prefer(a: Route, b: Route, options: DecisionOptions) -> tuple[Route, Reason]:
    """Which of two routes is better, and the step that decided."""
    s = select((a, b), options)
    return s.ranked[0], s.reason


def multipath_equal(a: Route, b: Route, options: DecisionOptions) -> bool:
    """Whether ``a`` and ``b`` tie on every multipath step (and AS_PATH unless relaxed)."""
    routes = [a, b]
    for step in STEPS:
        if not step.multipath:
            break
        routes = step.keep(routes, options)
        if len(routes) == 1:
            return False
    return options.multipath_relax or a.attrs.as_path == b.attrs.as_path


@dataclass(frozen=True, slots=True)
class Explanation:
    """How the decision went for one prefix: the survivors after each step that ran."""

    reason: Reason
    best: Route | None
    steps: tuple[tuple[Step, tuple[Route, ...]], ...]

    def describe(self) -> str:
        if self.best is None:
            return "no path"
        if self.reason == Reason.ONLY_PATH:
            return "only path"
        step = next(s for s, _ in self.steps if s.reason == self.reason)
        return f"{self.reason.label}: {step.text} ({step.clause})"


def explain(candidates: Sequence[Route], options: DecisionOptions) -> Explanation:
    """The steps run over ``candidates`` and what each left standing."""
    if not candidates:
        return Explanation(Reason.NO_PATH, None, ())
    routes = list(candidates)
    trail: list[tuple[Step, tuple[Route, ...]]] = []
    reason = Reason.ONLY_PATH
    for step in STEPS:
        if len(routes) == 1:
            break
        routes = step.keep(routes, options)
        trail.append((step, tuple(routes)))
        if len(routes) == 1:
            reason = step.reason
    return Explanation(reason, routes[0], tuple(trail))
