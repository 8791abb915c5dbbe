"""Interop lab: network namespaces plus drivers for real BGP daemons.

Typical use in a test::

    reason = require_lab("bird", "gobgp")
    if reason:
        skip_or_fail(reason)
    with Lab() as lab:
        a, b, link = lab.pair()
        bird = Bird(lab, a, [link.a4, link.a6], 65001, link.a4)
        ...

``require_lab`` returns why the lab cannot run here (not root, a daemon missing) or
``None``; ``skip_or_fail`` skips the test, or fails it when ``CI=true`` so that CI never
silently drops the interop tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from .daemons import (
    DEFAULT_HOLD,
    DRIVERS,
    AddPath,
    Bird,
    Daemon,
    ExaBgp,
    Frr,
    GoBgp,
    Neighbor,
    Route,
    binaries,
    normalize_community,
)
from .netns import Lab, LabError, Link, Process, remove_stale_namespaces, wait_for

__all__ = [
    "DEFAULT_HOLD",
    "AddPath",
    "Bird",
    "Daemon",
    "ExaBgp",
    "Frr",
    "GoBgp",
    "Lab",
    "LabError",
    "Link",
    "Neighbor",
    "Process",
    "Route",
    "normalize_community",
    "open_lab",
    "remove_stale_namespaces",
    "require_lab",
    "skip_or_fail",
    "wait_for",
]

TOOLS = ("ip", "sysctl")


def require_lab(*daemons: str) -> str | None:
    """Why the lab cannot run here, or ``None``.

    ``daemons`` are driver names (``"bird"``, ``"frr"``, ``"gobgp"``, ``"exabgp"``; default
    all of them); add ``"tcpdump"`` when the test captures.
    """
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    for kind in daemons or tuple(DRIVERS):
        if kind == "tcpdump":
            if shutil.which("tcpdump") is None:
                missing.append("tcpdump")
            continue
        if kind not in DRIVERS:
            raise ValueError(f"unknown daemon {kind!r}; known: {sorted(DRIVERS)}")
        missing += [b for b in binaries(kind) if not os.access(b, os.X_OK)]
    if missing:
        return f"lab daemons/tools not installed: {', '.join(missing)} (make daemons)"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip the current test, or fail it under ``CI=true`` (CI must run the lab)."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"lab test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def open_lab(
    request: pytest.FixtureRequest, *daemons: str, clean_stale: bool = False
) -> Iterator[Lab]:
    """The body of a ``lab`` fixture: skip (or fail in CI) without ``daemons``, then a
    fresh :class:`Lab` that keeps its configs and logs when the test failed.
    ``clean_stale`` first removes namespaces of pybgplab runs whose process is gone."""
    reason = require_lab(*daemons)
    if reason:
        skip_or_fail(reason)
    if clean_stale:
        remove_stale_namespaces()
    failed_before = request.session.testsfailed
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close(failed=request.session.testsfailed > failed_before)
