"""Reports: a readable table, JSON for scripts and CI, JUnit XML for CI dashboards.

How this works: every format is a pure function of the list of
:class:`~pybgp.conformance.runner.Result` (plus the target's name).  In JUnit a fail
is a ``<failure>`` and a not-applicable check is ``<skipped>``, each with what was
expected and what was seen.
"""

from __future__ import annotations

import json
from collections import Counter
from xml.etree import ElementTree as ET

from .check import Check, Verdict
from .runner import Result

__all__ = ["summary", "table", "to_json", "to_junit", "list_table"]


def summary(results: list[Result]) -> dict[str, int]:
    c = Counter(r.verdict for r in results)
    return {
        "pass": c[Verdict.PASS],
        "fail": c[Verdict.FAIL],
        "n/a": c[Verdict.NA],
        "total": len(results),
    }


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def table(results: list[Result], target: str = "") -> str:
    w = max((len(r.id) for r in results), default=10)
    lines = [f"{'check':<{w}}  {'verdict':<7}  {'rfc':<26}  seen"]
    for r in results:
        lines.append(
            f"{r.id:<{w}}  {r.verdict.value:<7}  {_clip(r.rfc, 26):<26}  {_clip(r.seen, 90)}"
        )
    s = summary(results)
    lines.append(
        f"{target + ': ' if target else ''}{s['pass']} pass, {s['fail']} fail, "
        f"{s['n/a']} n/a ({s['total']} checks)"
    )
    return "\n".join(lines)


def to_json(results: list[Result], target: str = "") -> str:
    doc = {
        "target": target,
        "summary": summary(results),
        "results": [
            {
                "id": r.id,
                "verdict": r.verdict.value,
                "rfc": r.rfc,
                "title": r.title,
                "expected": r.expected,
                "seen": r.seen,
                "seconds": r.seconds,
            }
            for r in results
        ],
    }
    return json.dumps(doc, indent=2)


def to_junit(results: list[Result], target: str = "") -> str:
    s = summary(results)
    suite = ET.Element(
        "testsuite",
        name=f"pybgp conformance {target}".strip(),
        tests=str(s["total"]),
        failures=str(s["fail"]),
        skipped=str(s["n/a"]),
        errors="0",
        time=f"{sum(r.seconds for r in results):.2f}",
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{r.id.split('.')[0]}",
            name=r.id,
            time=f"{r.seconds:.2f}",
        )
        text = f"{r.rfc}: {r.title}\nexpected: {r.expected}\nseen: {r.seen}"
        if r.verdict == Verdict.FAIL:
            ET.SubElement(case, "failure", message=r.seen).text = text
        elif r.verdict == Verdict.NA:
            ET.SubElement(case, "skipped", message=r.seen).text = text
        else:
            ET.SubElement(case, "system-out").text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def list_table(checks: list[Check]) -> str:
    w = max((len(c.id) for c in checks), default=10)
    lines = [f"{c.id:<{w}}  {c.rfc:<28}  {c.title}" for c in checks]
    lines.append(f"{len(checks)} checks")
    return "\n".join(lines)
