"""Lab: record fresh sessions between real BIRD, FRR, GoBGP and ExaBGP, then decode them.

fixtures/golden/record.py builds its own network namespaces (prefix ``pybgpgold-``),
runs each pair of daemons, captures the session with tcpdump and writes what the
sender was configured to send.  The same checks as the committed golden files then
run against these new captures, so every CI run verifies the codec against the
daemons that are installed now.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_golden import CHECKS, _decoded

RECORD = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "record.py"
NEEDED = ("bird", "gobgpd", "exabgp", "tcpdump", "/usr/lib/frr/bgpd")


def _missing() -> list[str]:
    return [n for n in NEEDED if shutil.which(n) is None and not os.path.exists(n)]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = None
    if os.geteuid() != 0:
        reason = "needs root for network namespaces"
    elif _missing():
        reason = f"daemons not installed: {', '.join(_missing())} (make daemons)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"lab test cannot run in CI: {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("golden")
    proc = subprocess.run(
        [sys.executable, str(RECORD), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.mark.lab
def test_fresh_recordings_decode_as_configured(recorded: Path) -> None:
    spec = json.loads((recorded / "expected.json").read_text())["captures"]
    assert len(spec) >= 5, sorted(spec)
    daemons = {c["sender"]["daemon"] for c in spec.values()}
    assert daemons == {"bird", "frr", "gobgp", "exabgp"}
    for name, cap in spec.items():
        items = _decoded(name, recorded)
        for check in CHECKS:
            check(name, cap, items)
