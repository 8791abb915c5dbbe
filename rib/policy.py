"""Import and export policy per neighbor: match routes, accept, reject or rewrite them.

How this works: the configuration names prefix lists and policies (``[[prefix_lists]]``,
``[[policies]]``, docs/policy.md) and each ``[[neighbors]]`` entry names the chain of
policies for its imports and its exports.  ``parse_policies`` reads them from the loaded
TOML document and compiles them (``policy_parse``): prefix lists become per-length
tables of ints, communities become mask/value patterns, AS path regexes become Python
regexes (``policy_match``).  ``Policy.apply(afi, safi, prefix, attrs)`` is a pure
function to a :class:`PolicyResult`; it evaluates everything that does not depend on
the prefix once per interned attribute set and caches it (``policy_eval``).
``effective_policy`` applies RFC 8212's default to a neighbor without a policy.
"""

from __future__ import annotations

from .policy_eval import (
    ACCEPT_ALL,
    REJECT_ALL,
    REJECTED,
    Policy,
    PolicyResult,
    effective_policy,
)
from .policy_match import render_as_path
from .policy_parse import (
    POLICY_KEYS,
    NeighborPolicies,
    Policies,
    PolicyError,
    PrefixList,
    PrefixListEntry,
    parse_policies,
)

__all__ = [
    "ACCEPT_ALL",
    "REJECT_ALL",
    "REJECTED",
    "POLICY_KEYS",
    "NeighborPolicies",
    "Policies",
    "Policy",
    "PolicyError",
    "PolicyResult",
    "PrefixList",
    "PrefixListEntry",
    "effective_policy",
    "parse_policies",
    "render_as_path",
]
