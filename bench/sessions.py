#!/usr/bin/env python3
"""Session benchmark: one BGP process holding N sessions on loopback, with keepalives.

    python bench/sessions.py [--sessions 200] [--window 30] [--repeat 1]
                             [--only pybgp,bird,gobgp,frr]

For each system under test (SUT): pybgp (``python -m pybgp speaker -c cfg.toml``),
BIRD 2, GoBGP and FRR bgpd, in turn and each in its own process, listening on
127.0.0.1 on a free unprivileged port with N passive neighbors 127.0.1.1 ..
127.0.1.N (eBGP, AS 65000 against 65001, hold time 9 s, keepalive 3 s, IPv4
unicast, no routes).  A driver subprocess (``--driver``) runs N of pybgp's own
sans-IO ``pybgp.fsm.Session`` over asyncio, one TCP connection per source address
127.0.1.x (``local_addr``), starts all N at once and times how long until all are
Established.  It then keeps them up for ``--window`` seconds while it samples the
SUT's CPU time (utime+stime of the process and its descendants, from
/proc/PID/stat) and RSS (VmRSS summed over the tree; VmHWM), and its own CPU
(``getrusage``), counts the KEEPALIVE bytes it receives and any session that drops.
The SUT's own view (how many neighbors it has Established) is queried after the
window, then the driver sends Cease to all and the SUT is stopped (SIGTERM, then
SIGKILL of that PID only).  ``--repeat R`` keeps the best of R runs per metric.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pybgp.fsm import (
    CloseRequested,
    ConnectRequested,
    Established,
    NotificationReceived,
    PeerSettings,
    Session,
    SessionDown,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
SUT_AS, DRIVER_AS = 65000, 65001
HOLD, KEEPALIVE = 9, 3
ALL = ("pybgp", "bird", "gobgp", "frr")
LABELS = {
    "pybgp": "pybgp `speaker`",
    "bird": "BIRD 2.0.12",
    "gobgp": "GoBGP 3.10 `gobgpd`",
    "frr": "FRR 8.4 `bgpd`",
}


def neighbor(i: int) -> str:
    """The i-th driver address (0-based): 127.0.1.1, 127.0.1.2, ..."""
    return str(ipaddress.IPv4Address("127.0.1.1") + i)


# --------------------------------------------------------------------------- /proc


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st is not None:
                children.setdefault(int(st[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def tree_cpu(pid: int) -> float:
    """CPU seconds (utime+stime, plus reaped children's) of ``pid`` and its descendants."""
    ticks = 0
    for p in process_tree(pid):
        st = _proc_stat(p)
        if st is not None:
            ticks += sum(int(x) for x in st[11:15])  # utime stime cutime cstime
    return ticks / CLK_TCK


def tree_cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of every live thread of ``pid`` and its descendants
    (/proc/PID/task/TID/schedstat): finer than the 10 ms ticks of ``tree_cpu``."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError, ValueError):
                    total += int(Path(f"/proc/{p}/task/{tid}/schedstat").read_text().split()[0])
    return total


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB, each summed over ``pid`` and its descendants."""
    tree = process_tree(pid)
    return sum(_status_kib(p, "VmRSS") for p in tree), sum(_status_kib(p, "VmHWM") for p in tree)


def listening(port: int) -> bool:
    """Something listens on 127.0.0.1:``port`` (or 0.0.0.0) in this namespace."""
    want = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] in want and cols[3] == "0A":
                return True
    return False


def listen_drops() -> int:
    """TcpExt ListenOverflows + ListenDrops (whole namespace): SYNs or ACKs dropped
    because an accept queue was full; the client retries after 1 s."""
    with contextlib.suppress(OSError, ValueError):
        lines = [ln.split() for ln in Path("/proc/net/netstat").read_text().splitlines()]
        for names, values in zip(lines[::2], lines[1::2], strict=False):
            if names[0] == "TcpExt:":
                d = dict(zip(names[1:], map(int, values[1:]), strict=True))
                return d.get("ListenOverflows", 0) + d.get("ListenDrops", 0)
    return 0


def _ports_in_use() -> set[int]:
    used = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as f:
            for line in f.readlines()[1:]:
                used.add(int(line.split()[1].rsplit(":", 1)[1], 16))
    return used


def free_port() -> int:
    """An unused port below the ephemeral range, so that no connection (TIME_WAIT
    included) holds it: a daemon that binds without SO_REUSEADDR then succeeds."""
    lo = 32768
    with contextlib.suppress(OSError, ValueError):
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    used = _ports_in_use()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, lo)
        if port in used:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


# --------------------------------------------------------------------------- driver


def run_driver(args: argparse.Namespace) -> None:
    """The driver process: N pybgp Sessions against the SUT; prints JSON lines."""
    import gc

    gc.freeze()
    result = asyncio.run(_drive(args))
    print(json.dumps(result), flush=True)


class _DriverPeer(asyncio.Protocol):
    """One driver session: a pybgp ``Session`` and its TCP connection."""

    def __init__(self, drv: _Driver, idx: int) -> None:
        self.drv = drv
        self.idx = idx
        self.src = neighbor(idx)
        rid = ipaddress.IPv4Address("10.0.0.1") + idx
        settings = PeerSettings(
            local_as=DRIVER_AS,
            local_id=rid.packed,
            remote_as=SUT_AS,
            hold_time=HOLD,
            keepalive=float(KEEPALIVE),
            connect_retry=5.0,
        )
        self.session = Session(settings, seed=idx + 1)
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.established = False
        self.rx = bytearray()
        self.counts = [0] * 6  # messages received, by type (1 OPEN .. 5 ROUTE-REFRESH)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.rx.clear()
        self.session.connection_made(self.drv.loop.time())
        self.pump()

    def data_received(self, data: bytes) -> None:
        buf = self.rx  # our own framing, only to count the messages by type
        buf += data
        while len(buf) >= 19:
            length = int.from_bytes(buf[16:18], "big")
            if len(buf) < length or length < 19:
                break
            self.counts[buf[18] % 6] += 1
            del buf[:length]
        self.session.data_received(data, self.drv.loop.time())
        self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.transport = None
            self.session.connection_failed(self.drv.loop.time())
            self.pump()

    # the adapter
    def pump(self) -> None:
        s = self.session
        out = s.data_to_send()
        if out and self.transport is not None:
            self.transport.write(out)
        while (ev := s.next_event()) is not None:
            if isinstance(ev, ConnectRequested):
                self.drv.loop.create_task(self._connect())
            elif isinstance(ev, CloseRequested):
                t, self.transport = self.transport, None
                if t is not None:
                    t.close()
            elif isinstance(ev, Established):
                self.established = True
                self.drv.on_established(self)
            elif isinstance(ev, SessionDown):
                if self.established:
                    self.established = False
                    self.drv.on_down(self, ev.reason)
                elif not self.drv.tearing_down:
                    self.drv.early_closes += 1
                    if len(self.drv.notes) < 50:
                        self.drv.notes.append(f"{self.src}: closed before Established: {ev.reason}")
            elif isinstance(ev, NotificationReceived):
                self.drv.notes.append(f"{self.src}: NOTIFICATION {ev.notification.describe()}")
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        deadline = s.get_timer()
        if deadline is not None:
            self.timer = self.drv.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.session.handle_timer(self.drv.loop.time())
        self.pump()

    async def _connect(self) -> None:
        try:
            await self.drv.loop.create_connection(
                lambda: self, "127.0.0.1", self.drv.port, local_addr=(self.src, 0)
            )
        except OSError as exc:
            self.drv.connect_errors += 1
            if len(self.drv.notes) < 50:
                self.drv.notes.append(f"{self.src}: connect: {exc}")
            self.session.connection_failed(self.drv.loop.time())
            self.pump()


class _Driver:
    def __init__(self, port: int, n: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.n = n
        self.up = 0
        self.ever = 0
        self.flaps = 0
        self.connect_errors = 0
        self.early_closes = 0
        self.notes: list[str] = []
        self.all_up = asyncio.Event()
        self.t_all: float | None = None
        self.tearing_down = False
        self.peers = [_DriverPeer(self, i) for i in range(n)]

    def on_established(self, p: _DriverPeer) -> None:
        self.up += 1
        self.ever += 1
        if self.up == self.n and self.t_all is None:
            self.t_all = time.perf_counter()
            self.all_up.set()

    def on_down(self, p: _DriverPeer, reason: str) -> None:
        self.up -= 1
        if self.tearing_down:
            return
        self.flaps += 1
        if len(self.notes) < 50:
            self.notes.append(f"{p.src}: down after Established: {reason}")


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def _drive(args: argparse.Namespace) -> dict[str, Any]:
    drv = _Driver(args.port, args.sessions)
    pid = args.sut_pid
    sut_c0, me_c0, sut_ns0 = tree_cpu(pid), _cpu_self(), tree_cpu_ns(pid)
    drops0 = listen_drops()
    t0, t0_wall = time.perf_counter(), time.time()
    now = drv.loop.time()
    for p in drv.peers:
        p.session.start(now)
        p.pump()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drv.all_up.wait(), args.establish_timeout)
    t1 = time.perf_counter()
    sut_c1, me_c1, sut_ns1 = tree_cpu(pid), _cpu_self(), tree_cpu_ns(pid)
    drops1 = listen_drops()
    established = drv.up
    flaps_before = drv.flaps
    establish_s = (drv.t_all - t0) if drv.t_all is not None else None

    # the window: keepalives only
    ka0 = sum(p.counts[4] for p in drv.peers)
    up0 = sum(p.counts[2] for p in drv.peers)
    rss_samples: list[int] = []
    min_up = drv.up
    w0 = time.perf_counter()
    end = w0 + args.window
    while (left := end - time.perf_counter()) > 0:
        await asyncio.sleep(min(1.0, left))
        rss_samples.append(tree_rss(pid)[0])
        min_up = min(min_up, drv.up)
    w1 = time.perf_counter()
    sut_c2, me_c2 = tree_cpu(pid), _cpu_self()
    rss_end, hwm = tree_rss(pid)
    ka1 = sum(p.counts[4] for p in drv.peers)
    up1 = sum(p.counts[2] for p in drv.peers)
    window = w1 - w0
    result: dict[str, Any] = {
        "sessions": args.sessions,
        "established": established,
        "established_ever": drv.ever,
        "establish_s": establish_s,
        "establish_phase_s": t1 - t0,
        "t0_wall": t0_wall,
        "sut_cpu_establish": sut_c1 - sut_c0,
        "sut_cpu_establish_ns": sut_ns1 - sut_ns0,
        "driver_cpu_establish": me_c1 - me_c0,
        "window_s": window,
        "sut_cpu_window": sut_c2 - sut_c1,
        "driver_cpu_window": me_c2 - me_c1,
        "rss_end_kib": rss_end,
        "rss_max_kib": max(rss_samples, default=rss_end),
        "hwm_kib": hwm,
        "up_end": drv.up,
        "min_up_window": min_up,
        "flaps_establish": flaps_before,
        "flaps_window": drv.flaps - flaps_before,
        "keepalives_rx_per_s": (ka1 - ka0) / window,
        "updates_rx_window": up1 - up0,
        "connect_errors": drv.connect_errors,
        "early_closes": drv.early_closes,
        "listen_drops": drops1 - drops0,
    }
    # the orchestrator asks the SUT for its own count, then says "go"
    print(json.dumps({"phase": "window-done", **result}), flush=True)
    await drv.loop.run_in_executor(None, sys.stdin.readline)
    drv.tearing_down = True
    now = drv.loop.time()
    for p in drv.peers:
        with contextlib.suppress(Exception):
            p.session.stop(now, "benchmark done")
            p.pump()
    await asyncio.sleep(0.5)
    for p in drv.peers:
        if p.transport is not None:
            p.transport.abort()
        if p.timer is not None:
            p.timer.cancel()
    result["notes"] = drv.notes[:20]
    return result


# --------------------------------------------------------------------------- SUTs


class Sut:
    """One daemon under test in a private temporary directory."""

    name = ""

    def __init__(self, n: int, tmp: Path) -> None:
        self.n = n
        self.tmp = tmp
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def count_established(self) -> int | None:
        """The SUT's own count of Established neighbors, or None if unknown."""
        return None

    def start(self) -> None:
        self.write_config()
        out = open(self.log, "wb")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp
        )
        out.close()

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()  # this PID only
            p.wait(5)

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class PybgpSut(Sut):
    name = "pybgp"

    def write_config(self) -> None:
        lines = [
            "[global]",
            f"asn = {SUT_AS}",
            'router_id = "192.0.2.1"',
            'listen_address = "127.0.0.1"',
            f"listen_port = {self.port}",
            f"hold_time = {HOLD}",
            f"keepalive = {KEEPALIVE}",
            "",
            "[control]",
            f'socket = "{self.tmp / "ctl.sock"}"',
        ]
        for i in range(self.n):
            lines += ["", "[[neighbors]]", f'address = "{neighbor(i)}"']
            lines += [f"remote_as = {DRIVER_AS}", "passive = true"]
        (self.tmp / "cfg.toml").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        cfg = str(self.tmp / "cfg.toml")
        return [sys.executable, "-m", "pybgp", "speaker", "-c", cfg, "--log-format", "json"]

    def count_established(self) -> int | None:
        up: set[str] = set()
        with contextlib.suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    if ev.get("event") == "established":
                        up.add(ev["peer"])
                    elif ev.get("event") == "down":
                        up.discard(ev["peer"])
        return len(up)

    def last_established(self) -> float | None:
        """Wall time of the speaker's last "established" event (its own view)."""
        last = None
        with contextlib.suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    if ev.get("event") == "established":
                        last = max(last or 0.0, float(ev["ts"]))
        return last

    def events(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in self.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    kind = json.loads(line).get("event", "?")
                    counts[kind] = counts.get(kind, 0) + 1
        return counts


class BirdSut(Sut):
    name = "bird"

    def write_config(self) -> None:
        lines = [
            "router id 192.0.2.1;",
            "log stderr { warning, error, fatal };",
            "template bgp drv {",
            f"  local 127.0.0.1 port {self.port} as {SUT_AS};",
            "  passive on;",
            "  multihop;",
            f"  hold time {HOLD};",
            f"  keepalive time {KEEPALIVE};",
            "  ipv4 { import none; export none; };",
            "}",
        ]
        for i in range(self.n):
            lines.append(
                f"protocol bgp d{i + 1} from drv {{ neighbor {neighbor(i)} as {DRIVER_AS}; }}"
            )
        (self.tmp / "bird.conf").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        t = self.tmp
        return ["bird", "-f", "-c", str(t / "bird.conf"), "-s", str(t / "bird.ctl")]

    def count_established(self) -> int | None:
        cmd = ["birdc", "-s", str(self.tmp / "bird.ctl"), "show", "protocols"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        return sum(1 for line in out.splitlines() if "Established" in line)


class GobgpSut(Sut):
    name = "gobgp"

    def __init__(self, n: int, tmp: Path) -> None:
        super().__init__(n, tmp)
        self.api = free_port()

    def write_config(self) -> None:
        lines = [
            "[global.config]",
            f"  as = {SUT_AS}",
            '  router-id = "192.0.2.1"',
            f"  port = {self.port}",
            '  local-address-list = ["127.0.0.1"]',
        ]
        for i in range(self.n):
            lines += [
                "",
                "[[neighbors]]",
                "  [neighbors.config]",
                f'    neighbor-address = "{neighbor(i)}"',
                f"    peer-as = {DRIVER_AS}",
                "  [neighbors.timers.config]",
                f"    hold-time = {HOLD}",
                f"    keepalive-interval = {KEEPALIVE}",
                "  [neighbors.transport.config]",
                "    passive-mode = true",
                "  [[neighbors.afi-safis]]",
                "    [neighbors.afi-safis.config]",
                '      afi-safi-name = "ipv4-unicast"',
            ]
        (self.tmp / "gobgpd.toml").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [
            "gobgpd",
            "-f",
            str(self.tmp / "gobgpd.toml"),
            "--api-hosts",
            f"127.0.0.1:{self.api}",
            "--pprof-disable",
            "-p",
            "-l",
            "warn",
        ]

    def count_established(self) -> int | None:
        cmd = ["gobgp", "-u", "127.0.0.1", "-p", str(self.api), "neighbor"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        return sum(1 for line in out.splitlines() if "Establ" in line)


class FrrSut(Sut):
    name = "frr"

    def write_config(self) -> None:
        lines = [
            "frr defaults traditional",
            "hostname pybgpbench",
            "log stdout warnings",
            f"router bgp {SUT_AS}",
            " bgp router-id 192.0.2.1",
            " no bgp ebgp-requires-policy",
            " no bgp network import-check",
            " neighbor DRV peer-group",
            f" neighbor DRV remote-as {DRIVER_AS}",
            " neighbor DRV passive",
            " neighbor DRV disable-connected-check",
            f" neighbor DRV timers {KEEPALIVE} {HOLD}",
        ]
        lines += [f" neighbor {neighbor(i)} peer-group DRV" for i in range(self.n)]
        (self.tmp / "bgpd.conf").write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        t = self.tmp
        return [
            "/usr/lib/frr/bgpd",
            "-Z",  # no zebra
            "-S",  # stay root, no capability dance
            "-p",
            str(self.port),
            "-l",
            "127.0.0.1",
            "-P",
            "0",
            "--vty_socket",
            str(t),
            "-i",
            str(t / "bgpd.pid"),
            "-f",
            str(t / "bgpd.conf"),
        ]

    def count_established(self) -> int | None:
        cmd = ["vtysh", "--vty_socket", str(self.tmp), "-d", "bgpd"]
        cmd += ["-c", "show bgp ipv4 unicast summary json"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
        try:
            peers = json.loads(out).get("peers", {})
        except ValueError:
            return None
        return sum(1 for p in peers.values() if p.get("state") == "Established")


SUTS: dict[str, type[Sut]] = {"pybgp": PybgpSut, "bird": BirdSut, "gobgp": GobgpSut, "frr": FrrSut}


# --------------------------------------------------------------------------- orchestrator


def _settle(pid: int, limit: float = 10.0) -> None:
    """Wait until the SUT uses under 5% of a core over 0.5 s (start-up done)."""
    end = time.monotonic() + limit
    last = tree_cpu(pid)
    while time.monotonic() < end:
        time.sleep(0.5)
        cur = tree_cpu(pid)
        if cur - last < 0.025:
            return
        last = cur


def run_once(kind: str, args: argparse.Namespace) -> dict[str, Any] | None:
    tmp = Path(tempfile.mkdtemp(prefix=f"pybgpbench-{os.getpid()}-{kind}-"))
    sut = SUTS[kind](args.sessions, tmp)
    driver: subprocess.Popen[str] | None = None
    try:
        sut.start()
        assert sut.proc is not None
        deadline = time.monotonic() + 30
        while not listening(sut.port):
            if sut.proc.poll() is not None or time.monotonic() > deadline:
                print(f"{kind}: not listening on 127.0.0.1:{sut.port}\n{sut.log_tail()}")
                return None
            time.sleep(0.05)
        _settle(sut.proc.pid)
        rss_idle = tree_rss(sut.proc.pid)[0]
        cmd = [sys.executable, str(Path(__file__).resolve()), "--driver"]
        cmd += ["--port", str(sut.port), "--sut-pid", str(sut.proc.pid)]
        cmd += ["--sessions", str(args.sessions), "--window", str(args.window)]
        cmd += ["--establish-timeout", str(args.establish_timeout)]
        driver = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert driver.stdin is not None and driver.stdout is not None
        line = driver.stdout.readline()
        if not line:
            print(f"{kind}: the driver died (exit {driver.wait()})")
            return None
        mid = json.loads(line)
        sut_view = None
        with contextlib.suppress(Exception):
            sut_view = sut.count_established()
        driver.stdin.write("go\n")
        driver.stdin.flush()
        final = json.loads(driver.stdout.readline() or "{}")
        driver.wait(30)
        result = {**mid, **final, "sut_established": sut_view, "rss_idle_kib": rss_idle}
        result.pop("phase", None)
        alive = sut.proc.poll() is None
        result["sut_alive"] = alive
        if isinstance(sut, PybgpSut):
            result["sut_events"] = sut.events()
            last = sut.last_established()
            if last is not None:
                result["sut_side_establish_s"] = last - result["t0_wall"]
        if not alive or result["flaps_window"] or result["established"] < args.sessions:
            result["log_tail"] = sut.log_tail()
        return result
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()  # our PID only
            driver.wait()
        sut.stop()
        if args.keep:
            print(f"{kind}: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric, the best of the runs: least time and CPU, the highest RSS."""
    best = dict(runs[0])
    for r in runs[1:]:
        for key in (
            "sut_cpu_window",
            "driver_cpu_window",
            "sut_cpu_establish",
            "sut_cpu_establish_ns",
            "driver_cpu_establish",
        ):
            best[key] = min(best[key], r[key])
        if r["establish_s"] is not None and (
            best["establish_s"] is None or r["establish_s"] < best["establish_s"]
        ):
            best["establish_s"] = r["establish_s"]
        for key in ("rss_end_kib", "hwm_kib", "rss_idle_kib"):
            best[key] = max(best[key], r[key])
        for key in ("flaps_window", "flaps_establish", "connect_errors", "early_closes"):
            best[key] = max(best[key], r[key])
        best["established"] = min(best["established"], r["established"])
    return best


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, nproc {os.cpu_count()}, {platform.machine()}, "
        f"kernel {platform.release()}, load average {load}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--window", type=float, default=30.0, help="seconds of keepalives measured")
    ap.add_argument("--repeat", type=int, default=1, help="runs per daemon; the best counts")
    ap.add_argument("--only", default="pybgp,bird,gobgp,frr", help="comma-separated SUTs")
    ap.add_argument("--establish-timeout", type=float, default=60.0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--json", help="also write the raw runs to this file")
    ap.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sut-pid", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.driver:
        run_driver(args)
        return
    if not 1 <= args.sessions <= 254:
        ap.error("--sessions must be 1..254 (sources 127.0.1.1 ..)")
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in kinds if k not in SUTS]
    if bad:
        ap.error(f"unknown SUT {bad}; choose from {','.join(ALL)}")

    print(_machine())
    print(
        f"{args.sessions} sessions, hold {HOLD} s / keepalive {KEEPALIVE} s, "
        f"window {args.window:g} s, repeat {args.repeat}"
    )
    raw: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        for r in range(args.repeat):
            res = run_once(kind, args)
            if res is None:
                continue
            raw.setdefault(kind, []).append(res)
            est = res["establish_s"]
            print(
                f"{kind} run {r + 1}: {res['established']}/{args.sessions} established "
                f"(SUT says {res['sut_established']}) in "
                f"{'-' if est is None else f'{est:.3f}'} s; window CPU SUT "
                f"{res['sut_cpu_window']:.2f} s, driver {res['driver_cpu_window']:.2f} s; "
                f"RSS {res['rss_end_kib'] / 1024:.1f} MiB; keepalives rx "
                f"{res['keepalives_rx_per_s']:.1f}/s, UPDATEs {res['updates_rx_window']}; "
                f"flaps {res['flaps_establish']}+"
                f"{res['flaps_window']}; connect errors {res['connect_errors']}; "
                f"closed before Established {res['early_closes']}; "
                f"listen queue drops {res['listen_drops']}",
                flush=True,
            )
            print(
                f"  establishing: SUT CPU {res['sut_cpu_establish_ns'] / 1e6:.1f} ms, driver CPU "
                f"{res['driver_cpu_establish']:.2f} s over {res['establish_phase_s']:.3f} s"
                + (
                    f"; the speaker logged its last Established at "
                    f"{res['sut_side_establish_s']:.3f} s"
                    if "sut_side_establish_s" in res
                    else ""
                )
            )
            for note in res.get("notes", [])[:5]:
                print(f"  note: {note}")
            if res.get("sut_events"):
                print(f"  SUT events: {res['sut_events']}")
            if res.get("log_tail"):
                print("  SUT log tail:\n    " + res["log_tail"].replace("\n", "\n    "))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))

    best = {k: _best(v) for k, v in raw.items()}
    print()
    print(
        "| daemon | established | time to all (s) | sessions/s | CPU to establish (ms) | "
        "window CPU (s) | CPU (% of a core) | RSS idle (MiB) | RSS end (MiB) | "
        "VmHWM (MiB) | driver CPU (% of a core) | accept-queue drops per run |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind, b in best.items():
        est = b["establish_s"]
        w = b["window_s"]
        cells = [
            LABELS[kind],
            f"{b['established']}/{args.sessions}",
            "-" if est is None else f"{est:.3f}",
            f"{args.sessions / est:,.0f}" if est else "-",
            f"{b['sut_cpu_establish_ns'] / 1e6:.0f}",
            f"{b['sut_cpu_window']:.2f}",
            f"{100 * b['sut_cpu_window'] / w:.1f}",
            f"{b['rss_idle_kib'] / 1024:.1f}",
            f"{b['rss_end_kib'] / 1024:.1f}",
            f"{b['hwm_kib'] / 1024:.1f}",
            f"{100 * b['driver_cpu_window'] / w:.1f}",
            ", ".join(str(r["listen_drops"]) for r in raw[kind]),
        ]
        print("| " + " | ".join(cells) + " |")
    if "pybgp" in best:
        p = best["pybgp"]
        print()
        for kind, b in best.items():
            if kind == "pybgp":
                continue
            parts = []
            if p["establish_s"] and b["establish_s"]:
                parts.append(f"time to all {p['establish_s'] / b['establish_s']:.1f}x")
            if b["sut_cpu_window"] > 0:
                parts.append(f"window CPU {p['sut_cpu_window'] / b['sut_cpu_window']:.1f}x")
            else:
                parts.append("window CPU - (the daemon used < 1 tick)")
            parts.append(f"RSS end {p['rss_end_kib'] / b['rss_end_kib']:.1f}x")
            print(f"- pybgp / {LABELS[kind]}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
