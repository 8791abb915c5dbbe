"""Driver for a real ``pybgp lbnode`` process in a lab namespace.

The speaker driver (tests/lab/pybgp.py) writes the [global]/[[neighbors]] part and
reads the JSON event log; this adds the ``[[vips]]`` (as TOML text), the control socket
for ``pybgp vips``, and the agent's signals: SIGUSR1 (drain all), SIGUSR2 (exit for a
graceful restart).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

from .netns import Lab, Process, wait_for
from .pybgp import REPO, PybgpSpeaker

__all__ = ["LbNodeAgent", "http_backend"]


def http_backend(lab: Lab, ns: str, port: int) -> Process:
    """A backend: ``python -m http.server`` on 127.0.0.1:``port`` in ``ns``, listening."""
    proc = lab.spawn(
        ns,
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        name="backend",
    )

    def listening() -> bool:
        cp = lab.run(ns, ["ss", "-Htln", f"sport = :{port}"], check=False)
        return str(port) in cp.stdout

    wait_for("backend listening", listening, timeout=10, step=0.05)
    return proc


class LbNodeAgent(PybgpSpeaker):
    kind = "lbnode"
    command = "lbnode"

    def __init__(self, lab: Lab, ns: str, address: str, asn: int, router_id: str) -> None:
        super().__init__(lab, ns, address, asn, router_id)
        self.vips_toml = ""

    @property
    def socket(self) -> str:
        return f"{self.lab.workdir}/pybgp-{self.router_id}-{self.address}.sock"

    def _toml(self) -> str:
        return super()._toml() + "\n" + self.vips_toml

    def vips(self, *args: str) -> list[dict[str, Any]]:
        """``pybgp vips [ARGS] --json`` against this agent (run in its namespace)."""
        run = subprocess.run(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "pybgp", "vips", *args,
             "--control", self.socket, "--json"],
            capture_output=True, text=True, timeout=20, cwd=REPO,
        )  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"pybgp vips {' '.join(args)}: {run.stderr.strip()}")
        out: list[dict[str, Any]] = json.loads(run.stdout)
        return out

    def drain_all_signal(self) -> None:
        if self.proc is not None:
            self.proc.signal(signal.SIGUSR1)

    def restart_exit(self) -> None:
        """SIGUSR2: exit leaving the VIPs announced (graceful restart)."""
        if self.proc is not None:
            self.proc.signal(signal.SIGUSR2)
            self.proc.popen.wait(timeout=10)
