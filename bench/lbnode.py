#!/usr/bin/env python3
"""LB node agent benchmark: failure-to-router time, and the cost of many checks.

    python bench/lbnode.py [--runs 20] [--vips 200] [--seconds 30]
                           [--only failover,exabgp,scale]

**failover** (root, BIRD 2): a lab (``tests/lab``) with the agent's namespace ``lb``
(``pybgp lbnode``, one VIP, one HTTP check on a ``python -m http.server`` backend on
loopback, interval 1 s, timeout 0.5 s, fall 2, rise 2) and a router namespace ``r1``
(BIRD 2 with its kernel protocol, so the VIP is a kernel route there).  ``ip -ts
monitor route`` in ``r1`` timestamps the router's FIB changes.  Each run kills the
backend (t0), then reads three times: the agent's ``vip-state`` ``down`` event
(detection), and the kernel's ``Deleted`` line for the VIP in the router (removal).
It reports, over ``--runs`` runs, the distribution of detection (t_detect - t0),
propagation (t_removed - t_detect: the UPDATE, BIRD, the kernel) and total time.
Then it restarts the backend and waits for the route to come back.  The target from
the issue: propagation under 50 ms.  With ``exabgp`` in ``--only``, a second LB
namespace runs ExaBGP 4 with its own healthcheck helper (``python3 -m
exabgp.application.healthcheck``, a curl check, interval 1, timeout 1, rise 2,
fall 2, ``--withdraw-on-down``) for a second VIP on the same BIRD; both backends
are killed at the same moment and the totals are compared.

**scale** (no root): one agent with ``--vips`` VIPs of 4 checks each (tcp, http,
dns, bound) at a 1 s interval against local servers in a helper process (an asyncio
HTTP server, a TCP listener and a DNS responder on 127.0.0.1), and no BGP peer up.
After a warm-up it samples the agent's CPU time and RSS over ``--seconds``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VIP = "198.18.100.10/32"
PORT = 8080


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"| {name} | {min(ms):.0f} | {statistics.median(ms):.0f} | {pct(ms, 0.95):.0f} "
        f"| {max(ms):.0f} |"
    )


# --------------------------------------------------------------------------- failover


def failover(runs: int, exabgp: bool) -> None:
    from tests.lab import Bird, Lab
    from tests.lab.lbnode import LbNodeAgent, http_backend
    from tests.lab.netns import Process, wait_for

    with Lab() as lab:
        lb, r1 = lab.add_ns("lb"), lab.add_ns("r1")
        link = lab.link(lb, r1)
        node = LbNodeAgent(lab, lb, link.a4, 65101, link.a4)
        node.add_neighbor(link.b4, 65000, hold_time=9)
        node.vips_toml = f"""
[[vips]]
prefix = "{VIP}"
[[vips.checks]]
type = "http"
url = "http://127.0.0.1:{PORT}/"
interval = 1
timeout = 0.5
rise = 2
fall = 2
"""
        addrs = [link.b4]
        if exabgp:
            lb2 = lab.add_ns("lb2")
            link2 = lab.link(lb2, r1)
            addrs.append(link2.b4)
        bird = Bird(lab, r1, addrs, 65000, link.b4)
        bird.kernel = True
        bird.add_neighbor(link.a4, 65101, hold_time=9)
        if exabgp:
            bird.add_neighbor(link2.a4, 65102, hold_time=9)
        monitor = lab.spawn(r1, ["ip", "-ts", "monitor", "route"], name="monitor")

        def backend(ns: str) -> Process:
            return http_backend(lab, ns, PORT)

        be = [backend(lb)] + ([backend(lb2)] if exabgp else [])
        bird.start()
        node.start()
        if exabgp:
            _start_exabgp(lab, lb2, link2.a4, link2.b4)
        node.wait_established(link.b4, timeout=40)

        def in_fib(vip: str) -> bool:
            out = lab.run(r1, ["ip", "route", "show", vip], check=False).stdout
            return vip.split("/")[0] in out

        vips = [VIP] + ([VIP2] if exabgp else [])
        for v in vips:
            wait_for(f"{v} in the router's FIB", lambda v=v: in_fib(v), timeout=60, step=0.02)
        detect, propagate, total, total_exa = [], [], [], []
        for i in range(runs):
            time.sleep(0.3 + (i % 10) * 0.1)  # spread the failure over the check phase
            t0 = time.time()
            for proc in be:
                lab.stop(proc)
            for v in vips:
                wait_for(f"{v} gone", lambda v=v: not in_fib(v), timeout=20, step=0.02)
            time.sleep(0.2)
            downs = [e["ts"] for e in node.events("vip-state") if e["new"] == "down"]
            td = downs[-1]
            tr = _deleted(monitor.log(), VIP)
            detect.append(td - t0)
            propagate.append(tr - td)
            total.append(tr - t0)
            line = (
                f"run {i + 1}: pybgp detection {1000 * (td - t0):.0f} ms, "
                f"propagation {1000 * (tr - td):.1f} ms"
            )
            if exabgp:
                total_exa.append(_deleted(monitor.log(), VIP2) - t0)
                line += f"; ExaBGP healthcheck total {1000 * total_exa[-1]:.0f} ms"
            print(line, flush=True)
            be = [backend(lb)] + ([backend(lb2)] if exabgp else [])
            for v in vips:
                wait_for(f"{v} back", lambda v=v: in_fib(v), timeout=20, step=0.02)
        print(f"\nfailover: {runs} runs, interval 1 s, fall 2 (ms)\n")
        print("| | min | median | p95 | max |\n|---|---|---|---|---|")
        print(summary("pybgp detection (backend killed -> agent's vip-state down)", detect))
        print(summary("pybgp propagation (agent -> BIRD's kernel route deleted)", propagate))
        print(summary("pybgp total (backend killed -> route deleted)", total))
        if exabgp:
            print(summary("ExaBGP healthcheck total (same)", total_exa))
        over = sum(1 for p in propagate if p >= 0.05)
        print(f"\npybgp propagation >= 50 ms in {over} of {runs} runs")
        if exabgp:
            ratio = statistics.median(total) / statistics.median(total_exa)
            print(f"median total, pybgp / ExaBGP healthcheck: {ratio:.2f}")


VIP2 = "198.18.100.11/32"


def _deleted(text: str, vip: str) -> float:
    addr = vip.split("/")[0]
    times = [ts for ts, line in _monitor(text) if line.startswith("Deleted") and addr in line]
    return times[-1]


def _start_exabgp(lab: object, ns: str, local: str, peer: str) -> None:
    """ExaBGP 4 with its own healthcheck helper, as its documentation sets it up."""
    d = Path(lab.workdir) / "exabgp-lb2"  # type: ignore[attr-defined]
    d.mkdir(exist_ok=True)
    check = f"curl -sf -m 1 -o /dev/null http://127.0.0.1:{PORT}/"
    hc = (
        "/usr/bin/python3 -m exabgp.application.healthcheck --no-ack "
        f"--cmd '{check}' --interval 1 --fast-interval 1 "
        f"--timeout 1 --rise 2 --fall 2 --ip {VIP2} --no-ip-setup --withdraw-on-down "
        f"--no-syslog --next-hop {local}"
    )
    (d / "exabgp.conf").write_text(
        f"process hc {{\n  run {hc};\n  encoder text;\n}}\n"
        f"neighbor {peer} {{\n  router-id {local};\n  local-address {local};\n"
        f"  local-as 65102;\n  peer-as 65000;\n  hold-time 9;\n"
        f"  api {{ processes [ hc ]; }}\n}}\n"
    )
    env = {
        "exabgp.daemon.user": "root",
        "exabgp.daemon.daemonize": "false",
        "exabgp.daemon.drop": "false",
        "exabgp.log.destination": "stdout",
        "exabgp.api.cli": "false",
        "exabgp.api.ack": "false",
        "exabgp.tcp.bind": local,
        "exabgp.tcp.port": "179",
    }
    lab.spawn(ns, ["/usr/sbin/exabgp", str(d / "exabgp.conf")], env, name="exabgp-hc")  # type: ignore[attr-defined]


_TS = re.compile(r"^\[(\S+)\]\s*(.*)$")


def _monitor(text: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        m = _TS.match(line)
        if m:
            try:
                ts = datetime.fromisoformat(m.group(1)).timestamp()
            except ValueError:
                continue
            out.append((ts, m.group(2)))
    return out


# --------------------------------------------------------------------------- scale

SERVERS = r"""
import asyncio, struct, sys
async def http(reader, writer):
    try:
        while (await reader.readline()).strip():
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()
async def tcp(reader, writer):
    writer.close()
class Dns(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
    def datagram_received(self, data, addr):
        q = data[12:]
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        self.t.sendto(data[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + q + ans, addr)
async def main():
    h = await asyncio.start_server(http, "127.0.0.1", 0, backlog=1024)
    t = await asyncio.start_server(tcp, "127.0.0.1", 0, backlog=1024)
    loop = asyncio.get_running_loop()
    d, _ = await loop.create_datagram_endpoint(Dns, local_addr=("127.0.0.1", 0))
    print(h.sockets[0].getsockname()[1], t.sockets[0].getsockname()[1],
          d.get_extra_info("sockname")[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def scale(vips: int, seconds: float) -> None:
    servers = subprocess.Popen([sys.executable, "-c", SERVERS], stdout=subprocess.PIPE, text=True)
    assert servers.stdout is not None
    hport, tport, dport = map(int, servers.stdout.readline().split())
    with tempfile.TemporaryDirectory() as tmp:
        lines = [
            "[global]", "asn = 65101", 'router_id = "10.0.0.2"', 'listen_address = "127.0.0.1"',
            "listen_port = 0", "[control]", f'socket = "{tmp}/lb.sock"',
            "[[neighbors]]", 'address = "127.0.0.99"', "remote_as = 65000", "port = 1",
            "connect_retry = 30",
        ]  # fmt: skip
        for i in range(vips):
            lines += [
                "[[vips]]", f'prefix = "198.19.{i // 250}.{i % 250 + 1}/32"',
                "[[vips.checks]]", 'type = "tcp"', 'host = "127.0.0.1"', f"port = {tport}",
                "jitter = 0.2",
                "[[vips.checks]]", 'type = "http"', f'url = "http://127.0.0.1:{hport}/"',
                "jitter = 0.2",
                "[[vips.checks]]", 'type = "dns"', 'server = "127.0.0.1"', f"port = {dport}",
                'query = "vip.test"', "jitter = 0.2",
                "[[vips.checks]]", 'type = "bound"', 'address = "127.0.0.1"', "jitter = 0.2",
            ]  # fmt: skip
        cfg = Path(tmp) / "lb.toml"
        cfg.write_text("\n".join(lines) + "\n")
        log = open(Path(tmp) / "lb.log", "w")  # noqa: SIM115
        agent = subprocess.Popen(
            [sys.executable, "-m", "pybgp", "lbnode", "-c", str(cfg), "--log-format", "json"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        try:
            time.sleep(5)  # warm-up: the first round, every task started
            c0, t0 = _cpu(agent.pid), time.monotonic()
            rss = []
            while time.monotonic() - t0 < seconds:
                time.sleep(1)
                rss.append(_rss(agent.pid))
            c1, t1 = _cpu(agent.pid), time.monotonic()
            ups = _vips_up(tmp)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=20)
            servers.kill()
            servers.wait()
            log.close()
        checks = vips * 4
        print(f"\nscale: {vips} VIPs x 4 checks (tcp, http, dns, bound) at 1 s, {seconds:.0f} s")
        print(f"  CPU: {100 * (c1 - c0) / (t1 - t0):.1f}% of one core "
              f"({1e6 * (c1 - c0) / (checks * (t1 - t0)):.0f} us per check)")  # fmt: skip
        print(f"  RSS: {max(rss) / 2**20:.1f} MiB (peak of the samples)")
        print(f"  VIPs up at the end: {ups}/{vips}")


def _vips_up(tmp: str) -> int:
    from pybgp.ctl import ControlClient

    with ControlClient(f"{tmp}/lb.sock") as c:
        rows = c.call("vips", {})
    return sum(1 for r in rows if r["state"] == "up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--vips", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--only", default="failover,exabgp,scale")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if "failover" in only:
        if os.geteuid() != 0:
            print("failover: needs root (network namespaces); skipped")
        else:
            failover(a.runs, "exabgp" in only)
    if "scale" in only:
        scale(a.vips, a.seconds)


if __name__ == "__main__":
    main()
