"""The conformance matrix: `pybgp conformance` against pybgp, BIRD 2, FRR, GoBGP and ExaBGP.

Run ``python -m tests.lab.conformance_matrix`` (root, the daemons installed) to rerun the
suite against every target in parallel namespaces and rewrite the generated part of
``docs/conformance.md`` and ``docs/conformance-matrix.json``.  ``--only PATTERN`` and
``--targets a,b`` narrow a run (the files are then not written unless ``--write``).

How this works: each target gets its own :class:`~tests.lab.netns.Lab` with two
namespaces joined by one link: the daemon on ``198.18.1.1`` (AS 65000, a route
reflector with both test addresses as passive clients, ADD-PATH both ways, graceful
restart on) and the test peer on ``198.18.1.2`` (sender) and ``198.18.1.3`` (observer).
One thread per target enters the test peer's namespace (``setns`` applies to the
calling thread only) and runs the suite there, so the checks' sockets live in that
namespace.  After each check a hook looks at the daemon's process: if it died, the
check fails with "target crashed" and the daemon is started again.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybgp import __version__
from pybgp.conformance.check import Check, Outcome, failed, select
from pybgp.conformance.runner import Result, RunConfig, run

from . import require_lab
from .daemons import BGPD, BIRD, EXABGP, GOBGPD, Bird, Daemon, ExaBgp, Frr, GoBgp
from .netns import Lab
from .pybgp import PybgpSpeaker

__all__ = ["TARGETS", "run_matrix", "TargetRun", "load_matrix", "render", "main"]

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "conformance.md"
MATRIX = REPO / "docs" / "conformance-matrix.json"
TARGETS = ("pybgp", "bird", "frr", "gobgp", "exabgp")
AS = 65000
SENDERS = 6
"""Sender addresses used in turn, so that no target's restart delay is waited for."""
SHARDS = {"gobgp": 2}
"""Targets whose checks are split over several labs run at once (GoBGP echoes slowly)."""
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"


class _BirdTarget(Bird):
    """BIRD as the test target: short error wait, extended messages, cluster id."""

    def _config(self) -> str:
        text = super()._config()
        extra = "error wait time 1, 2; enable extended messages on; rr cluster id 198.18.1.1;"
        return text.replace("error wait time 1, 10;", extra)


def _make(kind: str, lab: Lab, ns: str, target: str, clients: tuple[str, ...]) -> Any:
    if kind == "pybgp":
        d: Any = PybgpSpeaker(lab, ns, target, AS, target, cluster_id=target)
        for c in clients:
            d.add_neighbor(
                c,
                AS,
                rr_client=True,
                passive=True,
                add_path="both",
                graceful_restart=True,
                hold_time=9,
            )
        return d
    cls: type[Daemon] = {"bird": _BirdTarget, "frr": Frr, "gobgp": GoBgp, "exabgp": ExaBgp}[kind]
    d = cls(lab, ns, [target], AS, target)
    for c in clients:
        rr = kind != "exabgp"  # ExaBGP keeps no RIB: it cannot reflect (its checks are n/a)
        d.add_neighbor(
            c, AS, rr_client=rr, passive=True, add_path="both", graceful_restart=True, hold_time=9
        )
    return d


def _processes(d: Any) -> list[Any]:
    if isinstance(d, PybgpSpeaker):
        return [d.proc] if d.proc is not None else []
    return list(d.processes)


def _alive(d: Any) -> bool:
    procs = _processes(d)
    return bool(procs) and all(p.alive() for p in procs)


def _restart(d: Any, lab: Lab) -> None:
    for p in _processes(d):
        lab.stop(p, timeout=3)
    if not isinstance(d, PybgpSpeaker):
        d.processes.clear()
        d.started = False
    d.start()


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace ``name``."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


@dataclass
class TargetRun:
    kind: str
    results: list[Result]
    version: str
    crashes: int
    seconds: float
    error: str = ""


def _version(kind: str) -> str:
    cmds = {
        "pybgp": None,
        "bird": [BIRD, "--version"],
        "frr": [BGPD, "--version"],
        "gobgp": [GOBGPD, "--version"],
        "exabgp": [EXABGP, "--version"],
    }
    argv = cmds[kind]
    if argv is None:
        return __version__
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", cp.stdout + cp.stderr)
    return m.group(1) if m else "?"


def run_target(kind: str, checks: list[Check], timeout: float = 2.0) -> TargetRun:
    """One target in its own lab: start it, run ``checks`` from the probe namespace."""
    t0 = time.monotonic()
    out: dict[str, Any] = {}
    with Lab() as lab:
        tns, pns, link = lab.pair("t", "p")
        target, sender = link.a4, link.b4
        observer = f"198.18.{link.index}.3"
        more = tuple(f"198.18.{link.index}.{i}" for i in range(4, 4 + SENDERS - 1))
        for a in (observer, *more):
            lab.run(pns, ["ip", "addr", "add", f"{a}/24", "dev", link.if_b])
        daemon = _make(kind, lab, tns, target, (sender, *more, observer))
        daemon.start()
        crashes = 0

        async def hook(check: Check, outcome: Outcome) -> Outcome:
            nonlocal crashes
            if _alive(daemon):
                await asyncio.sleep(0.05)  # a panic may take a moment to end the process
                if _alive(daemon):
                    return outcome
            crashes += 1
            _restart(daemon, lab)
            return failed(f"target crashed ({outcome.verdict.value}: {outcome.seen})")

        cfg = RunConfig(
            target=target,
            target_as=AS,
            local_as=AS,
            local_address=sender,
            more_addresses=more,
            observer_address=observer,
            timeout=timeout,
            window=1.0,
            setup_timeout=20.0,
        )

        def body() -> None:
            try:
                enter_netns(pns)
                out["results"] = asyncio.run(run(cfg, checks, hook))
            except Exception as exc:  # reported, and the matrix marks the target
                out["error"] = f"{type(exc).__name__}: {exc}"

        th = threading.Thread(target=body, name=f"conformance-{kind}")
        th.start()
        th.join()
    return TargetRun(
        kind,
        out.get("results", []),
        _version(kind),
        crashes,
        round(time.monotonic() - t0, 1),
        out.get("error", ""),
    )


def run_matrix(
    targets: tuple[str, ...], pattern: str | None = None, timeout: float = 2.0
) -> dict[str, TargetRun]:
    """Every target in parallel, each in its own namespaces.

    A slow target (``SHARDS``) is split: its checks run in several labs at once, each
    with its own daemon, and the results are put back in order.
    """
    checks = select(pattern)
    jobs = []
    for kind in targets:
        n = max(1, min(SHARDS.get(kind, 1), len(checks)))
        size = -(-len(checks) // n)
        jobs += [(kind, i, checks[i * size : (i + 1) * size]) for i in range(n)]
    parts: dict[tuple[str, int], TargetRun] = {}

    def one(kind: str, i: int, part: list[Check]) -> None:
        parts[(kind, i)] = run_target(kind, part, timeout)

    threads = [threading.Thread(target=one, args=job) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    runs: dict[str, TargetRun] = {}
    for kind in targets:
        mine = [parts[k] for k in sorted(parts) if k[0] == kind]
        runs[kind] = TargetRun(
            kind,
            [r for p in mine for r in p.results],
            mine[0].version,
            sum(p.crashes for p in mine),
            max(p.seconds for p in mine),
            "; ".join(p.error for p in mine if p.error),
        )
    return runs


# ------------------------------------------------------------------------- the files
def to_doc(runs: dict[str, TargetRun]) -> dict[str, Any]:
    return {
        "targets": {
            k: {
                "version": r.version,
                "crashes": r.crashes,
                "seconds": r.seconds,
                "error": r.error,
                "results": {x.id: {"verdict": x.verdict.value, "seen": x.seen} for x in r.results},
            }
            for k, r in runs.items()
        }
    }


def load_matrix(path: Path = MATRIX) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


_CELL = {"pass": "pass", "fail": "**FAIL**", "n/a": "n/a"}
_NAMES = {"pybgp": "pybgp", "bird": "BIRD", "frr": "FRR", "gobgp": "GoBGP", "exabgp": "ExaBGP"}


def render(doc: dict[str, Any]) -> str:
    """The generated part of docs/conformance.md: summary, matrix, failures."""
    targets = doc["targets"]
    kinds = [k for k in TARGETS if k in targets]
    checks = {c.id: c for c in select(None)}
    lines = [
        "| target | version | pass | fail | n/a | crashes | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in kinds:
        t = targets[k]
        vs = [r["verdict"] for r in t["results"].values()]
        lines.append(
            f"| {_NAMES[k]} | {t['version']} | {vs.count('pass')} | {vs.count('fail')} | "
            f"{vs.count('n/a')} | {t['crashes']} | {t['seconds']:.0f} |"
        )
    lines += [
        "",
        "| check | RFC | " + " | ".join(_NAMES[k] for k in kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    ids = [i for i in checks if any(i in targets[k]["results"] for k in kinds)]
    for i in ids:
        cells = [_CELL.get(targets[k]["results"].get(i, {}).get("verdict", ""), "") for k in kinds]
        lines.append(f"| `{i}` | {checks[i].rfc} | " + " | ".join(cells) + " |")
    lines += ["", "### What the failures were", ""]
    for k in kinds:
        fails = [(i, r["seen"]) for i, r in targets[k]["results"].items() if r["verdict"] == "fail"]
        if not fails:
            continue
        lines.append(f"**{_NAMES[k]}** ({len(fails)}):")
        lines.append("")
        lines += [f"- `{i}`: {seen.replace('|', '/')}" for i, seen in fails]
        lines.append("")
    lines += ["### Why checks were not applicable", ""]
    for k in kinds:
        nas: dict[str, list[str]] = {}
        for i, r in targets[k]["results"].items():
            if r["verdict"] == "n/a":
                nas.setdefault(r["seen"], []).append(i)
        if not nas:
            continue
        lines.append(f"**{_NAMES[k]}**:")
        lines.append("")
        for why, ids_ in sorted(nas.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"- {why} ({len(ids_)}): " + ", ".join(f"`{x}`" for x in ids_))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write(doc: dict[str, Any]) -> None:
    MATRIX.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + render(doc) + text[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.lab.conformance_matrix", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated, of " + ",".join(TARGETS)
    )
    ap.add_argument("--only", help="only checks matching PATTERN")
    ap.add_argument("--write", action="store_true", help="write the files even for a partial run")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--table", action="store_true", help="print each target's full table")
    ap.add_argument("--dump", help="also write the run's JSON (with timings) to FILE")
    args = ap.parse_args(argv)
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    bad = [t for t in targets if t not in TARGETS]
    if bad:
        print(f"error: unknown target {', '.join(bad)}", file=sys.stderr)
        return 2
    reason = require_lab(*[t for t in targets if t != "pybgp"])
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    runs = run_matrix(targets, args.only, args.timeout)
    doc = to_doc(runs)
    if args.dump:
        timings = {k: {x.id: x.seconds for x in r.results} for k, r in runs.items()}
        Path(args.dump).write_text(json.dumps({"doc": doc, "seconds": timings}, indent=1))
    for k, r in runs.items():
        vs = [x.verdict.value for x in r.results]
        err = f" ERROR {r.error}" if r.error else ""
        print(
            f"{k:7} {vs.count('pass')} pass, {vs.count('fail')} fail, {vs.count('n/a')} n/a, "
            f"{r.crashes} crashes, {r.seconds:.0f} s{err}"
        )
        if args.table:
            from pybgp.conformance.report import table

            print(table(r.results, k))
    full = args.only is None and set(targets) == set(TARGETS)
    if full or args.write:
        write(doc)
        print(f"wrote {DOC.relative_to(REPO)} and {MATRIX.relative_to(REPO)}")
    return 1 if any(r.error for r in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
