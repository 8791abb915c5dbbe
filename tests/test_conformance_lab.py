"""The conformance suite against BIRD, FRR, GoBGP and ExaBGP still gives the published matrix.

The four daemons run in parallel namespaces (``tests/lab/conformance_matrix.py``).  The
test checks that the suite runs to completion against each of them and that every
verdict equals the one in ``docs/conformance-matrix.json``: a changed verdict means a
check changed (or a daemon did), and the matrix must be regenerated
(``make conformance-matrix``) and reviewed.  pybgp's own column is checked by
``test_conformance_pybgp.py``.
"""

from __future__ import annotations

import pytest

from pybgp.conformance.check import select
from tests.lab import require_lab, skip_or_fail
from tests.lab.conformance_matrix import MATRIX, load_matrix, run_matrix

pytestmark = pytest.mark.lab
DAEMONS = ("bird", "frr", "gobgp", "exabgp")
UNSTABLE = {
    ("exabgp", "fsm.collision-established"): "ExaBGP closes the new or the Established "
    "connection, depending on timing",
}
"""Verdicts seen to change between runs on an unchanged daemon, with why."""


def test_daemons_match_the_published_matrix() -> None:
    reason = require_lab(*DAEMONS)
    if reason:
        skip_or_fail(reason)
    published = load_matrix()["targets"]
    runs = run_matrix(DAEMONS)
    ids = [c.id for c in select(None)]
    problems = []
    for kind, r in runs.items():
        if r.error:
            problems.append(f"{kind}: the run did not complete: {r.error}")
            continue
        got = {x.id: x for x in r.results}
        if list(got) != ids:
            problems.append(f"{kind}: {len(got)} results for {len(ids)} checks")
        want = published[kind]["results"]
        for i in ids:
            w = want.get(i, {}).get("verdict")
            g = got[i].verdict.value if i in got else None
            if w != g and (kind, i) not in UNSTABLE:
                problems.append(f"{kind} {i}: published {w}, now {g} ({got[i].seen if g else ''})")
    assert not problems, f"results differ from {MATRIX.name}:\n" + "\n".join(problems)
