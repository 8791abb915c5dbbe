"""pybgp passes every check of its own conformance suite (no root needed).

A real `pybgp rr` process listens on 127.0.0.1 (a free port) with the test addresses
127.0.0.2, .4, .5 (senders) and 127.0.0.3 (observer) as passive route-reflector clients,
and the whole suite runs against it.  Any fail is a regression in pybgp (or in a check:
the seen text says which).  Every check is applicable here, so n/a is a failure too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from pybgp.conformance.check import Verdict, select
from pybgp.conformance.runner import RunConfig, run

REPO = Path(__file__).resolve().parents[1]
SENDERS = ("127.0.0.2", "127.0.0.4", "127.0.0.5")
OBSERVER = "127.0.0.3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(port: int, sock: Path) -> str:
    lines = [
        "[global]",
        "asn = 65000",
        'router_id = "192.0.2.1"',
        'listen_address = "127.0.0.1"',
        f"listen_port = {port}",
        'cluster_id = "192.0.2.1"',
        "hold_time = 9",
        "",
        "[control]",
        f'socket = "{sock}"',
    ]
    for addr in (*SENDERS, OBSERVER):
        lines += [
            "",
            "[[neighbors]]",
            f'address = "{addr}"',
            "remote_as = 65000",
            "passive = true",
            "route_reflector_client = true",
            'add_path = "both"',
            "graceful_restart = true",
        ]
    return "\n".join(lines) + "\n"


def _listening(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def test_pybgp_passes_every_check(tmp_path: Path) -> None:
    port = _free_port()
    conf = tmp_path / "rr.toml"
    conf.write_text(_config(port, tmp_path / "rr.sock"))
    log = open(tmp_path / "rr.log", "w")  # noqa: SIM115 (closed below)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "pybgp", "rr", "-c", str(conf), "--log-format", "json"]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        assert _listening(port, 15), "pybgp rr did not start listening"
        cfg = RunConfig(
            "127.0.0.1", 65000, 65000, SENDERS[0], OBSERVER, port=port,
            timeout=2.0, window=0.5, more_addresses=SENDERS[1:],
        )  # fmt: skip
        results = asyncio.run(run(cfg, select(None)))
        assert proc.poll() is None, "pybgp rr died during the run"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    bad = [f"{r.id}: {r.verdict.value}: {r.seen}" for r in results if r.verdict != Verdict.PASS]
    assert len(results) == len(select(None))
    assert not bad, "pybgp does not pass its own conformance suite:\n" + "\n".join(bad)
