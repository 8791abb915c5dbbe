"""rib: the pure RIB — Adj-RIB-In, decision process, Loc-RIB, Adj-RIB-Out, reflection.

How this works: :class:`Rib` (``rib.table``) takes routes in and returns diffs
(:class:`PrefixChange` per prefix: old and new ranked paths, ECMP set, the decision
step that decided).  ``rib.decision`` is RFC 4271 9.1 as a list of named steps;
``rib.reflect`` is the RFC 4456 export rule and loop checks; ``rib.adjout`` turns
diffs into per-peer announcements and withdrawals (with ADD-PATH send modes), one
table per update group of best-path peers with the same export profile.  No
I/O, no clock, no asyncio anywhere in this package.
"""

from .adjout import (
    AdjRibOut,
    ExportCache,
    ExportPolicy,
    GroupMember,
    OutUpdate,
    UpdateGroup,
    fan_out,
    group_key,
)
from .config import RibConfig
from .decision import STEPS, DecisionOptions, Explanation, Reason, Route, Selection, Step
from .peer import AddPathSend, PeerInfo
from .table import ImportPolicy, PrefixChange, Rib, RibDiff

__all__ = [
    "AddPathSend",
    "AdjRibOut",
    "DecisionOptions",
    "ExportCache",
    "ExportPolicy",
    "Explanation",
    "GroupMember",
    "ImportPolicy",
    "OutUpdate",
    "PeerInfo",
    "PrefixChange",
    "Reason",
    "Rib",
    "RibConfig",
    "RibDiff",
    "Route",
    "STEPS",
    "Selection",
    "Step",
    "UpdateGroup",
    "fan_out",
    "group_key",
]
