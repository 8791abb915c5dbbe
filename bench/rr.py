#!/usr/bin/env python3
"""Route reflector benchmark: a full table reflected to two clients, pybgp against
BIRD 2, FRR bgpd and GoBGP, side by side in one run.

    python bench/rr.py [--prefixes 1000000] [--ipv6] [--repeat 1]
                       [--only pybgp,pybgp-pure,bird,frr,gobgp] [--timeout 300] [--hold 9]

The table is ``pybgp mrt synth --seed 1`` (cached in ``bench/out/``).  It is turned
once into one blob of UPDATE messages (``pack_announcements`` + ``encode_message``,
4-octet AS, no ADD-PATH, 4096-octet messages, End-of-RIB last), with the next hop
rewritten to the injector's veth address and LOCAL_PREF 100 added where it is missing
(iBGP); the blob is cached in ``bench/out/`` too.

Per route reflector under test (RR), a fresh lab (``tests/lab``): four network
namespaces ``inj``, ``rr``, ``c1``, ``c2`` and three veth links inj-rr, rr-c1,
rr-c2.  Everyone is in AS 64900.  The RR has three route-reflector clients: the
injector (passive on the RR's side) and two BIRD 2 clients (``tests.lab.Bird`` with
``multihop``, ``gateway recursive`` through a static route to the injector's link via the
RR, ``export none``, no kernel protocol: the driver's ``gateway direct`` rejects a next
hop that is not on a shared link).  The RRs:

- pybgp: ``python -m pybgp rr -c FILE`` (cluster id = router id, default text log);
- BIRD 2.0.12: ``tests.lab.Bird`` with ``rr client``;
- FRR 8.4: ``tests.lab.Frr``: zebra plus ``bgpd -n`` (no FIB install; zebra only
  resolves the next hops);
- GoBGP 3.10: ``tests.lab.GoBgp`` (``route-reflector-client``).

The injector (``--inject``, a separate process in ``inj``) loads the blob into memory
*before* it connects, does the OPEN/KEEPALIVE handshake with pybgp's sans-IO
``Session``, waits for "go" on stdin (still answering keepalives), then writes the
blob as fast as the socket takes it, inserting its own KEEPALIVEs only between
messages.  UPDATEs that come back from the RR are counted and not decoded.

Measured per RR, from the injector's first ``send()`` of an UPDATE:

- time until both clients hold every prefix (``show protocols all`` of each client's
  BGP protocol, "Routes: N imported", over a persistent birdc socket every ``--poll``
  seconds);
- the injector's time to write all (the kernel took the last byte);
- the RR's CPU seconds (utime+stime from /proc/PID/stat, the RR process and its
  descendants; FRR: bgpd only, zebra is reported apart) until convergence;
- the RR's VmRSS before "go" (all sessions up, no routes), its VmHWM (peak) at the
  end, and its VmRSS a few seconds after convergence; bytes per route = (peak - idle)
  / prefixes and (after - idle) / prefixes;
- whether every session stayed Established: each client's protocol state and "since"
  time at every poll, the injector's Session, and the largest gap between two
  messages the injector received from the RR (hold time ``--hold``, keepalive a
  third of it).

``--repeat R`` keeps per RR the best of R runs (least time and CPU, highest RSS).
Prints a Markdown table and the ratios of pybgp to each daemon.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import ipaddress
import json
import os
import platform
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")
AS = 64900  # the synthetic table's paths start with 65000: loop-free for all of us
ALL = ("pybgp", "pybgp-pure", "bird", "frr", "gobgp")
LABELS = {
    "pybgp": "pybgp `rr`",
    "pybgp-pure": "pybgp `rr`, pure Python",
    "bird": "BIRD 2.0.12",
    "frr": "FRR 8.4 `bgpd`",
    "gobgp": "GoBGP 3.10",
}
RR_ID, INJ_ID, C1_ID, C2_ID = "10.255.0.1", "10.255.0.2", "10.255.0.3", "10.255.0.4"
KEEPALIVE_MSG = b"\xff" * 16 + b"\x00\x13\x04"


# --------------------------------------------------------------------------- the table


def table_path(prefixes: int, seed: int, ipv6: bool) -> Path:
    path = OUT / f"synth-{'v6' if ipv6 else 'v4'}-{prefixes}-seed{seed}.mrt"
    if path.exists():
        return path
    from pybgp.mrt.synth import synthesize

    OUT.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    t0 = time.perf_counter()
    with open(tmp, "wb") as f:
        stats = synthesize(f, prefixes, seed, ipv6)
    tmp.rename(path)
    print(
        f"generated {path.relative_to(ROOT)}: {stats.prefixes} prefixes, "
        f"{stats.attribute_sets} attribute sets in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return path


def encode_table(mrt: Path, next_hop: str) -> tuple[Path, dict[str, Any]]:
    """The UPDATE blob for ``mrt`` with ``next_hop`` (cached): path and metadata."""
    nh = ipaddress.ip_address(next_hop)
    blob = OUT / f"{mrt.stem}-updates-nh{next_hop.replace(':', '_')}.bin"
    meta_path = blob.with_suffix(".json")
    if blob.exists() and meta_path.exists():
        return blob, json.loads(meta_path.read_text())
    import gc

    from pybgp.codec.attributes import AttrSet
    from pybgp.codec.message import encode_message
    from pybgp.codec.options import SessionOptions
    from pybgp.codec.pack import pack_announcements
    from pybgp.codec.update import MpUnreach, Update
    from pybgp.mrt.routes import RouteBatch, read_routes

    gc.disable()
    t0 = time.perf_counter()
    opts = SessionOptions(four_octet_as=True)
    data = mrt.read_bytes()
    rewritten: dict[int, AttrSet] = {}
    keep: list[AttrSet] = []  # keeps the id() keys above alive
    prefixes: set[int] = set()
    families: set[tuple[int, int]] = set()
    routes: list[tuple[int, int, int, int, AttrSet]] = []
    for b in read_routes(data):
        if not isinstance(b, RouteBatch):
            continue
        families.add((b.afi, b.safi))
        for p, a in zip(b.prefixes, b.attrs, strict=True):
            new = rewritten.get(id(a))
            if new is None:
                changes: dict[str, Any] = {}
                if nh.version == 4:
                    changes["next_hop"] = nh.packed
                else:
                    changes["mp_next_hop"] = nh.packed
                if a.local_pref is None:
                    changes["local_pref"] = 100
                new = rewritten[id(a)] = a.replace(**changes)
                keep.append(a)
            routes.append((b.afi, b.safi, p, 0, new))
            prefixes.add(p)
    t1 = time.perf_counter()
    out = bytearray()
    messages = 0
    for u in pack_announcements(routes, opts):
        out += encode_message(u, opts)
        messages += 1
    for afi, safi in sorted(families):  # End-of-RIB
        eor = (
            Update()
            if (afi, safi) == (1, 1)
            else Update(mp_unreach=MpUnreach(afi, safi, raw_nlri=b""))
        )
        out += encode_message(eor, opts)
        messages += 1
    t2 = time.perf_counter()
    tmp = blob.with_suffix(".tmp")
    tmp.write_bytes(out)
    tmp.rename(blob)
    meta = {
        "routes": len(routes),
        "prefixes": len(prefixes),
        "attr_sets": len(rewritten),
        "messages": messages,
        "bytes": len(out),
        "load_s": t1 - t0,
        "encode_s": t2 - t1,
        "afi": sorted(families)[0][0],
    }
    meta_path.write_text(json.dumps(meta))
    return blob, meta


# --------------------------------------------------------------------------- the injector


def run_injector(args: argparse.Namespace) -> None:
    """Runs inside the ``inj`` namespace; JSON lines on stdout, commands on stdin."""
    import gc

    from pybgp.fsm import (
        CloseRequested,
        ConnectRequested,
        Established,
        NotificationReceived,
        NotificationSent,
        PeerSettings,
        Session,
        SessionDown,
    )

    gc.disable()

    def say(**kw: Any) -> None:
        print(json.dumps({"t": time.monotonic(), **kw}), flush=True)

    t_load = time.monotonic()
    blob = Path(args.blob).read_bytes()
    ends: list[int] = []  # offset after each message: where a KEEPALIVE may be inserted
    pos = 0
    while pos < len(blob):
        pos += int.from_bytes(blob[pos + 16 : pos + 18], "big")
        ends.append(pos)
    starts = {0, *ends}
    mv = memoryview(blob)
    say(phase="loaded", bytes=len(blob), messages=len(ends), load_s=time.monotonic() - t_load)

    afi = 2 if ipaddress.ip_address(args.rr_addr).version == 6 else 1
    settings = PeerSettings(
        local_as=AS,
        local_id=ipaddress.IPv4Address(INJ_ID).packed,
        remote_as=AS,
        hold_time=args.hold,
        connect_retry=1.0,
        families=((afi, 1),),
        idle_hold_time=None,
    )
    s = Session(settings, seed=7)
    sock: socket.socket | None = None
    fam = socket.AF_INET6 if afi == 2 else socket.AF_INET
    ctrl = bytearray()  # the Session's output (OPEN, KEEPALIVE, NOTIFICATION)
    rx = bytearray()
    off = 0
    going = stopping = False
    established = False
    t_first = t_done = None
    last_rx = None
    max_gap = 0.0
    max_gap_at = 0.0
    updates_rx = 0
    keepalives_rx = 0
    notes: list[str] = []
    downs = 0
    stdin_fd = sys.stdin.fileno()
    stdin_buf = b""
    nonlocal_close = [False]  # the Session asked to close the connection

    def connect() -> socket.socket:
        deadline = time.monotonic() + 60
        while True:
            c = socket.socket(fam, socket.SOCK_STREAM)
            try:
                c.bind((args.local_addr, 0))
                c.settimeout(2)
                c.connect((args.rr_addr, 179))
                break
            except OSError:
                c.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        c.setblocking(False)
        return c

    def drain() -> None:
        nonlocal sock, established, downs, max_gap, max_gap_at
        now = time.monotonic()
        ctrl.extend(s.data_to_send())
        while (ev := s.next_event()) is not None:
            if isinstance(ev, ConnectRequested):
                sock = connect()
                s.connection_made(time.monotonic())
                ctrl.extend(s.data_to_send())
            elif isinstance(ev, CloseRequested):
                nonlocal_close[0] = True
            elif isinstance(ev, Established):
                established = True
                say(phase="established", options=repr(s.options))
            elif isinstance(ev, SessionDown):
                if established:
                    if last_rx is not None and now - last_rx > max_gap:  # up to the drop
                        max_gap, max_gap_at = now - last_rx, now
                    downs += 1
                    notes.append(f"session down at {now:.3f}: {ev.reason}")
                    say(phase="down", reason=ev.reason)
                established = False
            elif isinstance(ev, NotificationReceived | NotificationSent):
                notes.append(f"{type(ev).__name__}: {ev.notification.describe()}")

    s.start(time.monotonic())
    drain()
    assert sock is not None
    while True:
        now = time.monotonic()
        deadline = s.get_timer()
        timeout = 1.0 if deadline is None else max(0.0, min(1.0, deadline - now))
        want_write = bool(ctrl) or (going and off < len(blob))
        rl = [sock, stdin_fd] if not stopping else [sock]
        r, _w, _ = select.select(rl, [sock] if want_write else [], [], timeout)
        now = time.monotonic()
        if sock in r:
            try:
                data = sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as exc:
                notes.append(f"recv: {exc}")
                data = b""
            if data == b"":
                s.connection_failed(now)
                drain()
                break
            if data:
                rx += data
                while len(rx) >= 19:
                    length = int.from_bytes(rx[16:18], "big")
                    if length < 19 or len(rx) < length:
                        break
                    if established:
                        if last_rx is not None and now - last_rx > max_gap:
                            max_gap, max_gap_at = now - last_rx, now
                        last_rx = now
                    mtype = rx[18]
                    if mtype == 2:  # count it; the Session sees a KEEPALIVE (same timers)
                        updates_rx += 1
                        s.data_received(KEEPALIVE_MSG, now)
                    else:
                        keepalives_rx += mtype == 4
                        s.data_received(bytes(rx[:length]), now)
                    del rx[:length]
                if established and last_rx is None:
                    last_rx = now
        if stdin_fd in r:
            chunk = os.read(stdin_fd, 4096)
            if not chunk:
                stopping = True
            stdin_buf += chunk
            while b"\n" in stdin_buf:
                line, stdin_buf = stdin_buf.split(b"\n", 1)
                cmd = line.strip().decode()
                if cmd == "go":
                    going = True
                    last_rx = now  # gaps are measured from here on
                elif cmd == "stop":
                    stopping = True
        deadline = s.get_timer()
        if deadline is not None and deadline <= time.monotonic():
            s.handle_timer(time.monotonic())
        drain()
        if stopping or nonlocal_close[0]:
            break
        # write: our control messages only between two UPDATEs
        try:
            while True:
                if ctrl and off in starts:
                    n = sock.send(ctrl)
                    del ctrl[:n]
                    if ctrl:
                        break
                elif going and off < len(blob) and established:
                    limit = len(blob)
                    if ctrl:  # finish the message under way, then the KEEPALIVE
                        limit = ends[bisect.bisect_right(ends, off)]
                    if t_first is None:
                        t_first = time.monotonic()
                    n = sock.send(mv[off:limit])
                    off += n
                    if off >= len(blob):
                        t_done = time.monotonic()
                        say(phase="written", t_first=t_first, t_done=t_done)
                    if n == 0:
                        break
                else:
                    break
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            notes.append(f"send: {exc}")
            s.connection_failed(time.monotonic())
            drain()
            break
    state = s.state.name
    now = time.monotonic()
    if established and last_rx is not None and now - last_rx > max_gap:  # the open gap
        max_gap, max_gap_at = now - last_rx, now
    if s.state.name == "ESTABLISHED":
        s.stop(time.monotonic(), "benchmark done")
        with contextlib.suppress(OSError):
            sock.setblocking(True)
            sock.sendall(s.data_to_send())
    ru = os.times()
    say(
        phase="final",
        state=state,
        established=established,
        downs=downs,
        t_first=t_first,
        t_done=t_done,
        written=off,
        total=len(blob),
        max_gap=max_gap,
        max_gap_at=max_gap_at,
        updates_rx=updates_rx,
        keepalives_rx=keepalives_rx,
        cpu=ru.user + ru.system,
        notes=notes[:10],
    )
    with contextlib.suppress(OSError):
        sock.close()


# --------------------------------------------------------------------------- /proc


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
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
    """utime+stime (+ reaped children's) of ``pid`` and its descendants, seconds."""
    ticks = 0
    for p in process_tree(pid):
        st = _proc_stat(p)
        if st is not None:
            ticks += sum(int(x) for x in st[11:15])
    return ticks / CLK_TCK


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_mem(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB, each summed over ``pid`` and its descendants."""
    tree = process_tree(pid)
    return sum(_status_kib(p, "VmRSS") for p in tree), sum(_status_kib(p, "VmHWM") for p in tree)


# --------------------------------------------------------------------------- BIRD clients


class BirdCtl:
    """A persistent connection to a BIRD control socket (cheaper than birdc per poll)."""

    _final = re.compile(rb"^\d{4} ", re.M)

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self._read()  # 0001 BIRD ... ready.

    def _read(self) -> str:
        buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("bird closed the control socket")
            buf += chunk
            # the reply ends with a line "NNNN text" (code and a space)
            last = buf.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            if buf.endswith(b"\n") and self._final.match(last):
                return buf.decode(errors="replace")

    def cmd(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\n")
        return self._read()

    def protocol(self, name: str) -> tuple[str, str, int]:
        """(BGP state, since, routes imported) of protocol ``name``."""
        out = self.cmd(f"show protocols all {name}")
        state = since = ""
        imported = 0
        for raw in out.splitlines():
            line = raw[5:] if re.match(r"^\d{4}[- ]", raw) else raw
            parts = line.split()
            if parts and parts[0] == name and len(parts) >= 5:
                since = " ".join(parts[4:6])
            m = re.match(r"\s*BGP state:\s+(\S+)", line)
            if m:
                state = m.group(1)
            m = re.match(r"\s*Routes:\s+(\d+) imported", line)
            if m:
                imported += int(m.group(1))
        return state, since, imported

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _bird_client_class() -> type:
    from tests.lab.daemons import Bird

    class BirdClient(Bird):
        """``tests.lab.Bird`` as an iBGP client that resolves the reflected next hop
        (the injector's address, one hop behind the RR) recursively through a static
        IGP route, as a client in a real network would, and exports nothing.

        The driver's ``gateway direct`` makes BIRD reject such routes ("Invalid
        NEXT_HOP attribute - address ... not directly reachable")."""

        igp_route: tuple[str, str] = ("", "")

        def _config(self) -> str:
            text = super()._config()
            net, via = self.igp_route
            fam = "ipv6" if ":" in net else "ipv4"
            text = text.replace("\n  direct;", "\n  multihop;")
            text = text.replace("gateway direct;", "gateway recursive;")
            text = text.replace("export where source ~ [RTS_STATIC, RTS_BGP];", "export none;")
            return text + f"protocol static s_igp {{ {fam}; route {net} via {via}; }}\n"

    return BirdClient


# --------------------------------------------------------------------------- RRs


def pure_tree() -> Path:
    """pybgp's packages without their mypyc-compiled modules, in bench/out/pure."""
    dst = OUT / "pure"
    shutil.rmtree(dst, ignore_errors=True)
    for package in ("pybgp", "rib", "ecmp", "lbnode"):
        shutil.copytree(
            ROOT / package, dst / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    return dst


class PybgpRR:
    """``python -m pybgp rr -c FILE`` in the lab (the same daemon as ``speaker``)."""

    kind = "pybgp"

    def __init__(self, lab: Any, ns: str, addresses: list[str], router_id: str) -> None:
        self.lab, self.ns, self.addresses, self.router_id = lab, ns, addresses, router_id
        self.neighbors: list[tuple[str, str, bool]] = []
        self.config = lab.workdir / "pybgp-rr.toml"
        self.processes: list[Any] = []
        self.profile: str | None = None
        self.pythonpath = str(ROOT)
        self.root = ROOT

    def add_neighbor(self, address: str, local: str, passive: bool, hold: int) -> None:
        self.neighbors.append((address, local, passive))
        self.hold = hold

    def start(self) -> None:
        lines = [
            "[global]",
            f"asn = {AS}",
            f'router_id = "{self.router_id}"',
            f'cluster_id = "{self.router_id}"',
            "",
        ]
        for addr, local, passive in self.neighbors:
            lines += [
                "[[neighbors]]",
                f'address = "{addr}"',
                f"remote_as = {AS}",
                f'local_address = "{local}"',
                f"passive = {str(passive).lower()}",
                f"hold_time = {self.hold}",
                "connect_retry = 1",
                "route_reflector_client = true",
                "",
            ]
        self.config.write_text("\n".join(lines))
        argv = [sys.executable, "-m", "pybgp", "rr", "-c", str(self.config)]
        if self.profile and self.profile.endswith(".raw"):  # py-spy sees compiled code
            spy = str(Path(sys.executable).with_name("py-spy"))
            argv[:0] = [
                spy,
                "record",
                "--native",
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                self.profile,
                "--",
            ]
        elif self.profile:  # cProfile writes the file when the daemon exits (SIGTERM)
            argv[1:1] = ["-m", "cProfile", "-o", self.profile]
        self.processes.append(
            self.lab.spawn(
                self.ns, argv, env={"PYTHONPATH": self.pythonpath}, name="pybgp-rr", cwd=self.root
            )
        )

    @property
    def proc(self) -> Any:
        return self.processes[-1]

    def downs(self) -> list[str]:
        """Session-down lines of the event log (text format)."""
        out = subprocess.run(
            ["grep", "-E", " (down|closed|notification-sent|notification-received|write-limit) ",
             str(self.proc.log_path)],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        return out.splitlines()


class PybgpInjector:
    """``--injector pybgp``: a ``pybgp speaker`` in ``inj`` and ``pybgp mrt inject`` of
    the synthetic table (next hop self, LOCAL_PREF 100: the blob's attributes).

    "go" launches the inject command; "written" is when it exits (the daemon has read
    the file and written every UPDATE to its socket).  The RR->injector keepalive gap
    is not measured: the speaker's own hold timer (``--hold``) is the check.
    """

    def __init__(self, lab: Any, ns: str, addr: str, rr: str, hold: int, mrt: Path) -> None:
        self.lab, self.mrt, self.rr = lab, mrt, rr
        self.sock = lab.workdir / "inj.sock"
        fam = "ipv6-unicast" if ":" in addr else "ipv4-unicast"
        cfg = lab.workdir / "inj.toml"
        cfg.write_text(
            f'[global]\nasn = {AS}\nrouter_id = "{INJ_ID}"\nlisten_address = "{addr}"\n'
            f'[control]\nsocket = "{self.sock}"\n'
            f'[[neighbors]]\naddress = "{rr}"\nremote_as = {AS}\nlocal_address = "{addr}"\n'
            f'hold_time = {hold}\nconnect_retry = 1\nfamilies = ["{fam}"]\n'
        )
        argv = [sys.executable, "-m", "pybgp", "speaker", "-c", str(cfg), "--log-format", "json"]
        self.proc = lab.spawn(ns, argv, env={"PYTHONPATH": str(ROOT)}, name="injector", cwd=ROOT)
        self.pid = self.proc.pid
        self.cli: subprocess.Popen[bytes] | None = None
        self.t_first: float | None = None
        self.t_done: float | None = None
        self.cpu0 = 0.0

    def _ctl(self, *args: str) -> Any:
        cmd = [sys.executable, "-m", "pybgp", *args, "--control", str(self.sock), "--json"]
        r = subprocess.run(cmd, capture_output=True, timeout=30, cwd=ROOT)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def state(self) -> str:
        for n in self._ctl("neighbors") or []:
            if n["address"] == self.rr:
                return str(n["state"])
        return "?"

    def alive(self) -> bool:
        """Running, and its session never went down (its JSON event log)."""
        return self.proc.alive() and '"event":"down"' not in self.log()

    def log(self) -> str:
        return str(self.proc.log())

    def go(self, now: float) -> None:
        self.cpu0 = tree_cpu(self.pid)
        self.t_first = now
        cmd = [sys.executable, "-m", "pybgp", "mrt", "inject", str(self.mrt),
               "--control", str(self.sock), "--json"]  # fmt: skip
        self.cli = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)

    def stop(self) -> None:
        pass

    def phase(self, name: str) -> dict[str, Any] | None:
        if name == "established":
            return {"phase": name} if self.state() == "ESTABLISHED" else None
        if self.cli is None or self.cli.poll() is None:
            return None
        if self.t_done is None:
            self.t_done = time.monotonic()
        if name == "written":
            return {"t_first": self.t_first, "t_done": self.t_done}
        out = (self.cli.stdout.read() if self.cli.stdout else b"").decode(errors="replace")
        downs = self.log().count('"event":"down"')
        notes = [] if self.cli.returncode == 0 else [f"inject: {out.strip()[-300:]}"]
        return {"phase": "final", "state": self.state(), "downs": downs,
                "t_first": self.t_first, "t_done": self.t_done,
                "cpu": tree_cpu(self.pid) - self.cpu0, "notes": notes}  # fmt: skip


def _settle(pids: list[int], limit: float = 15.0) -> None:
    """Wait until ``pids`` use under 5% of a core over 0.5 s."""
    end = time.monotonic() + limit
    last = sum(tree_cpu(p) for p in pids)
    while time.monotonic() < end:
        time.sleep(0.5)
        cur = sum(tree_cpu(p) for p in pids)
        if cur - last < 0.025:
            return
        last = cur


def _injector_lines(proc: Any) -> list[dict[str, Any]]:
    out = []
    for line in proc.log().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def _phase(lines: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for d in lines:
        if d.get("phase") == name:
            return d
    return None


def run_once(
    kind: str, args: argparse.Namespace, blob: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    from tests.lab.daemons import Bird, Frr, GoBgp
    from tests.lab.netns import Lab, wait_for

    BirdClient = _bird_client_class()
    v6 = args.ipv6
    n = meta["prefixes"]
    res: dict[str, Any] = {"kind": kind, "prefixes": n, "finished": False}
    with Lab(keep=True if args.keep else None) as lab:
        inj, rr, c1, c2 = (lab.add_ns(x) for x in ("inj", "rr", "c1", "c2"))
        l1, l2, l3 = lab.link(inj, rr), lab.link(rr, c1), lab.link(rr, c2)
        pick = 1 if v6 else 0
        a = lambda link, ns: link.addresses(ns)[pick]  # noqa: E731
        inj_addr, rr_inj = a(l1, inj), a(l1, rr)
        rr_c1, c1_addr = a(l2, rr), a(l2, c1)
        rr_c2, c2_addr = a(l3, rr), a(l3, c2)
        nh = inj_addr
        assert blob.name.endswith(f"nh{nh.replace(':', '_')}.bin"), (blob, nh)

        clients = []
        inj_net = str(ipaddress.ip_interface(f"{inj_addr}/{64 if v6 else 24}").network)
        for ns, addr, rid, peer in ((c1, c1_addr, C1_ID, rr_c1), (c2, c2_addr, C2_ID, rr_c2)):
            b = BirdClient(lab, ns, addr, AS, rid)
            b.igp_route = (inj_net, peer)
            b.add_neighbor(peer, AS, hold_time=args.hold)
            clients.append((b, peer))

        rr_addrs = [rr_inj, rr_c1, rr_c2]
        if kind.startswith("pybgp"):
            sut: Any = PybgpRR(lab, rr, rr_addrs, RR_ID)
            if kind == "pybgp-pure":  # the same source without its compiled modules
                sut.root = pure_tree()
                sut.pythonpath = str(sut.root)
            sut.profile = args.profile_pybgp
            if args.pybgp_pythonpath:  # e.g. a sitecustomize.py that tries a patch
                sut.pythonpath = f"{args.pybgp_pythonpath}:{ROOT}"
            sut.add_neighbor(inj_addr, rr_inj, True, args.hold)
            sut.add_neighbor(c1_addr, rr_c1, False, args.hold)
            sut.add_neighbor(c2_addr, rr_c2, False, args.hold)
        else:
            cls = {"bird": Bird, "frr": Frr, "gobgp": GoBgp}[kind]
            sut = cls(lab, rr, rr_addrs, AS, RR_ID)
            sut.add_neighbor(inj_addr, AS, passive=True, hold_time=args.hold, rr_client=True)
            for addr in (c1_addr, c2_addr):
                sut.add_neighbor(addr, AS, hold_time=args.hold, rr_client=True)
        sut.start()
        for b, _ in clients:
            b.start()
        rr_pid = sut.proc.pid
        zebra_pid = sut.processes[0].pid if kind == "frr" else None

        if args.injector == "pybgp":
            injector: Any = PybgpInjector(lab, inj, inj_addr, rr_inj, args.hold, args.mrt)
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--inject", "--blob", str(blob)]
            cmd += ["--rr-addr", rr_inj, "--local-addr", inj_addr, "--hold", str(args.hold)]
            injector = lab.spawn(inj, cmd, env={"PYTHONPATH": str(ROOT)}, name="injector",
                                 cwd=ROOT, stdin=subprocess.PIPE)  # fmt: skip
            assert injector.popen.stdin is not None

        def inj_phase(name: str, setup: bool = False) -> dict[str, Any] | None:
            if setup and not injector.alive():
                raise RuntimeError(f"injector exited:\n{injector.log()[-3000:]}")
            if isinstance(injector, PybgpInjector):
                return injector.phase(name)
            return _phase(_injector_lines(injector), name)

        try:
            wait_for("injector established", lambda: inj_phase("established", True), timeout=90)
            for b, peer in clients:
                b.wait_established(peer, timeout=60)
        except Exception as exc:
            res["error"] = f"setup: {exc}"
            res["rr_log"] = sut.log()[-3000:] if hasattr(sut, "log") else sut.proc.log()[-3000:]
            return res
        ctls = [BirdCtl(b.sock) for b, _ in clients]
        names = [Bird.proto_name(peer) for _, peer in clients]
        inj_pid = injector.pid
        _settle([rr_pid, inj_pid] + [b.proc.pid for b, _ in clients])
        rss_idle, _ = tree_mem(rr_pid)
        since0 = [ctl.protocol(nm)[1] for ctl, nm in zip(ctls, names, strict=True)]
        cpu0 = tree_cpu(rr_pid)
        ccpu0 = [tree_cpu(b.proc.pid) for b, _ in clients]
        zcpu0 = tree_cpu(zebra_pid) if zebra_pid else 0.0

        t_go = time.monotonic()
        if isinstance(injector, PybgpInjector):
            injector.go(t_go)
        else:
            injector.popen.stdin.write(b"go\n")
            injector.popen.stdin.flush()
        deadline = t_go + args.timeout
        flaps: list[str] = []
        counts = [0, 0]
        t_conv = None
        rss_max = rss_idle
        samples: list[tuple[float, int, int, int]] = []
        while True:
            now = time.monotonic()
            for i, (ctl, nm) in enumerate(zip(ctls, names, strict=True)):
                state, since, imported = ctl.protocol(nm)
                counts[i] = imported
                if state != "Established" or since != since0[i]:
                    msg = f"c{i + 1}: {state} since {since} at +{now - t_go:.1f} s"
                    if not flaps or flaps[-1].split(" at ")[0] != msg.split(" at ")[0]:
                        flaps.append(msg)
            rss, _ = tree_mem(rr_pid)
            rss_max = max(rss_max, rss)
            samples.append((now - t_go, counts[0], counts[1], rss))
            if min(counts) >= n:
                t_conv = now
                break
            if now > deadline or not sut.proc.alive():
                break
            if not injector.alive():  # its session failed: the routes are withdrawn
                flaps.append(f"injector exited at +{now - t_go:.1f} s")
                break
            time.sleep(args.poll)
        cpu1 = tree_cpu(rr_pid)
        ccpu1 = [tree_cpu(b.proc.pid) for b, _ in clients]
        written = inj_phase("written")
        time.sleep(args.after)
        rss_after, hwm = tree_mem(rr_pid)
        rr_alive = sut.proc.alive()
        cpu2 = tree_cpu(rr_pid)
        for i, (ctl, nm) in enumerate(zip(ctls, names, strict=True)):
            state, since, imported = ctl.protocol(nm)
            counts[i] = imported
            if state != "Established" or since != since0[i]:
                flaps.append(f"c{i + 1}: {state} since {since} after convergence")
        rr_view = None
        if not kind.startswith("pybgp"):
            rr_view = {addr: sut._safe_state(addr) for addr in (inj_addr, c1_addr, c2_addr)}
        else:
            res["rr_down_lines"] = sut.downs()[:10]
            res["rr_log_mb"] = sut.proc.log_path.stat().st_size / 1e6
        with contextlib.suppress(OSError):  # BrokenPipeError if it is gone already
            if isinstance(injector, PybgpInjector):
                injector.stop()
            else:
                injector.popen.stdin.write(b"stop\n")
                injector.popen.stdin.flush()
        with contextlib.suppress(Exception):
            wait_for("injector final", lambda: inj_phase("final"), timeout=20)
        final = inj_phase("final") or {}
        for ctl in ctls:
            ctl.close()
        if kind.startswith("pybgp"):  # SIGTERM and time to write a profile
            if sut.profile and sut.profile.endswith(".raw"):  # py-spy writes when its child ends
                for child in process_tree(sut.proc.pid)[1:]:
                    with contextlib.suppress(OSError):
                        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                        if b"py-spy" not in argv[0] and b"pybgp" in argv:
                            os.kill(child, 15)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    sut.proc.popen.wait(timeout=60)
            lab.stop(sut.proc, timeout=60)
        t_first = (written or final or {}).get("t_first")
        t_done = (written or final or {}).get("t_done")
        res.update(
            finished=t_conv is not None,
            counts=list(counts),
            count_reached=min(counts),
            converge_s=(t_conv - t_first) if (t_conv and t_first) else None,
            go_to_first_s=(t_first - t_go) if t_first else None,
            inject_s=(t_done - t_first) if (t_done and t_first) else None,
            elapsed_s=time.monotonic() - t_go,
            rr_cpu_s=cpu1 - cpu0,
            rr_cpu_total_s=cpu2 - cpu0,
            clients_cpu_s=[b - a for a, b in zip(ccpu0, ccpu1, strict=True)],
            zebra_cpu_s=(tree_cpu(zebra_pid) - zcpu0) if zebra_pid else None,
            zebra_hwm_kib=tree_mem(zebra_pid)[1] if zebra_pid else None,
            rss_idle_kib=rss_idle,
            rss_max_sampled_kib=rss_max,
            rss_after_kib=rss_after,
            hwm_kib=hwm,
            flaps=flaps,
            rr_view=rr_view,
            rr_alive=rr_alive,
            injector=final,
            max_gap_end_s=(final["max_gap_at"] - t_first)
            if final.get("max_gap_at") and t_first
            else None,
            samples=samples[:: max(1, len(samples) // 40)],
        )
        inj_ok = final.get("downs", 1) == 0 and final.get("state") == "ESTABLISHED"
        rr_ok = rr_view is None or all(v == "established" for v in rr_view.values())
        pyb_ok = not kind.startswith("pybgp") or not res.get("rr_down_lines")
        gap = final.get("max_gap")
        # RFC 4271 10: KeepaliveTime is a third of the hold time (jittered down); 1 s slack
        res["keepalive_s"] = args.hold / 3
        res["keepalives_on_time"] = gap is not None and gap <= args.hold / 3 + 1.0
        if isinstance(injector, PybgpInjector):  # no gap measured: its hold timer held
            res["keepalives_on_time"] = inj_ok
        res["sessions_ok"] = bool(not flaps and inj_ok and rr_ok and pyb_ok and res["rr_alive"])
        if not res["sessions_ok"] or not res["finished"]:
            res["rr_log_tail"] = "\n".join(p.log()[-2000:] for p in sut.processes)
    return res


# --------------------------------------------------------------------------- report


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r.get("finished")] or runs
    best = dict(ok[0])
    for r in ok[1:]:
        for key in ("converge_s", "inject_s", "rr_cpu_s"):
            if r.get(key) is not None and (best.get(key) is None or r[key] < best[key]):
                best[key] = r[key]
        for key in ("hwm_kib", "rss_after_kib", "rss_idle_kib"):
            best[key] = max(best[key], r[key])
    best["sessions_ok"] = all(r.get("sessions_ok") for r in runs)
    best["keepalives_on_time"] = all(r.get("keepalives_on_time") for r in runs)
    gaps = [r.get("injector", {}).get("max_gap") for r in runs]
    if all(g is not None for g in gaps):
        best["injector"] = {**best.get("injector", {}), "max_gap": max(gaps)}
    best["runs"] = len(runs)
    return best


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def _per_route(kib: int, b: dict[str, Any]) -> str:
    """Bytes per route held; for a run that did not finish, per route reached (marked)."""
    if b["finished"]:
        return f"{kib * 1024 / b['prefixes']:,.0f}"
    reached = b.get("count_reached") or 0
    return f"({kib * 1024 / reached:,.0f})" if reached else "-"


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, nproc {os.cpu_count()}, {platform.machine()}, "
        f"kernel {platform.release()}, load average {load}"
    )


def report(best: dict[str, dict[str, Any]], n: int) -> None:
    print()
    print(
        "| RR | both clients have all | time (s) | routes/s | injector write-all (s) | "
        "RR CPU (s) | RSS idle (MiB) | peak RSS (MiB) | RSS after (MiB) | "
        "B/route (peak) | B/route (after) | sessions up throughout | "
        "max gap RR->injector (s) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for kind, b in best.items():
        if "error" in b:
            print(f"| {LABELS[kind]} | error: {b['error'][:80]} |" + " - |" * 11)
            continue
        t = b.get("converge_s")
        fin = "yes" if b["finished"] else f"no: {b['count_reached']:,} in {b['elapsed_s']:.0f} s"
        inj = b.get("inject_s")
        gap = b.get("injector", {}).get("max_gap")
        cells = [
            LABELS[kind],
            fin,
            "-" if t is None else f"{t:.2f}",
            "-" if not t else f"{n / t:,.0f}",
            "-" if inj is None else f"{inj:.2f}",
            f"{b['rr_cpu_s']:.1f}",
            _mib(b["rss_idle_kib"]),
            _mib(b["hwm_kib"]),
            _mib(b["rss_after_kib"]),
            _per_route(b["hwm_kib"] - b["rss_idle_kib"], b),
            _per_route(b["rss_after_kib"] - b["rss_idle_kib"], b),
            ("yes" if b["sessions_ok"] else "NO")
            + ("" if b.get("keepalives_on_time") else ", keepalives late"),
            "-" if gap is None else f"{gap:.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    p = best.get("pybgp")
    if p and "error" not in p:
        print()
        for kind, b in best.items():
            if kind == "pybgp" or "error" in b:
                continue
            parts = []
            if p.get("converge_s") and b.get("converge_s"):
                parts.append(f"time {p['converge_s'] / b['converge_s']:.2f}x")
            else:
                parts.append("time - (not finished)")
            if b["rr_cpu_s"] > 0:
                parts.append(f"CPU {p['rr_cpu_s'] / b['rr_cpu_s']:.2f}x")
            parts.append(f"peak RSS {p['hwm_kib'] / b['hwm_kib']:.2f}x")
            pd, bd = p["hwm_kib"] - p["rss_idle_kib"], b["hwm_kib"] - b["rss_idle_kib"]
            if bd > 0:
                parts.append(f"bytes/route (peak) {pd / bd:.2f}x")
            print(f"- pybgp / {LABELS[kind]}: " + ", ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefixes", type=int, default=1_000_000)
    ap.add_argument("--ipv6", action="store_true", help="an IPv6 table over IPv6 sessions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per RR; the best counts")
    ap.add_argument("--only", default=",".join(ALL), help="comma-separated RRs")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per RR and run")
    ap.add_argument(
        "--injector",
        choices=("blob", "pybgp"),
        default="blob",
        help="blob: pre-encoded UPDATEs (the pipeline's floor); pybgp: `pybgp mrt inject`",
    )
    ap.add_argument("--hold", type=int, default=9, help="hold time of every session")
    ap.add_argument("--poll", type=float, default=0.1, help="client polling interval (s)")
    ap.add_argument("--after", type=float, default=3.0, help="seconds after convergence")
    ap.add_argument("--keep", action="store_true", help="keep the lab's configs and logs")
    ap.add_argument("--json", help="also write the raw runs to this file")
    ap.add_argument(
        "--profile-pybgp",
        metavar="FILE",
        help="profile the pybgp RR: py-spy (native, raw format) for a .raw FILE, else cProfile",
    )
    ap.add_argument("--pybgp-pythonpath", help=argparse.SUPPRESS)
    ap.add_argument("--inject", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--blob", help=argparse.SUPPRESS)
    ap.add_argument("--rr-addr", help=argparse.SUPPRESS)
    ap.add_argument("--local-addr", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inject:
        run_injector(args)
        return
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces)")
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ALL]
    if bad:
        ap.error(f"unknown RR {bad}; choose from {','.join(ALL)}")

    print(_machine(), flush=True)
    mrt = args.mrt = table_path(args.prefixes, args.seed, args.ipv6)
    # the injector's address on link 1 of every lab (tests.lab.Lab numbering)
    nh = "fd00:198:18:1::1" if args.ipv6 else "198.18.1.1"
    t0 = time.perf_counter()
    blob, meta = encode_table(mrt, nh)
    print(
        f"table {mrt.name}: {meta['prefixes']:,} prefixes, {meta['attr_sets']:,} attribute sets "
        f"-> {meta['messages']:,} UPDATEs, {meta['bytes'] / 1e6:.1f} MB "
        f"({meta['bytes'] / meta['prefixes']:.1f} B/prefix), next hop {nh}; "
        f"encoded in {meta['load_s'] + meta['encode_s']:.1f} s "
        f"({'cached' if time.perf_counter() - t0 < 1 else 'now'})",
        flush=True,
    )
    print(f"hold time {args.hold} s, timeout {args.timeout:g} s, repeat {args.repeat}", flush=True)
    raw: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        for r in range(args.repeat):
            res = run_once(kind, args, blob, meta)
            raw.setdefault(kind, []).append(res)
            if "error" in res:
                print(f"{kind} run {r + 1}: ERROR {res['error']}\n{res.get('rr_log', '')}")
                continue
            t, inj = res["converge_s"], res["inject_s"]
            print(
                f"{kind} run {r + 1}: {'converged' if res['finished'] else 'NOT finished'} "
                f"{res['counts']} in {'-' if t is None else f'{t:.2f}'} s "
                f"(injector wrote all in {'-' if inj is None else f'{inj:.2f}'} s, "
                f"first UPDATE {res['go_to_first_s'] or 0:.3f} s after go); RR CPU "
                f"{res['rr_cpu_s']:.1f} s "
                f"(+{res['rr_cpu_total_s'] - res['rr_cpu_s']:.1f} s after), "
                f"RSS idle/peak/after {_mib(res['rss_idle_kib'])}/{_mib(res['hwm_kib'])}/"
                f"{_mib(res['rss_after_kib'])} MiB; clients CPU "
                f"{', '.join(f'{c:.1f}' for c in res['clients_cpu_s'])} s; sessions "
                f"{'ok' if res['sessions_ok'] else 'NOT ok'}"
                f"{'' if res['keepalives_on_time'] else ' (keepalives late)'}; injector max gap "
                f"{res['injector'].get('max_gap', float('nan')):.2f} s "
                f"(ending at +{res['max_gap_end_s'] or 0:.1f} s), UPDATEs back "
                f"{res['injector'].get('updates_rx')}, injector CPU "
                f"{res['injector'].get('cpu', float('nan')):.1f} s",
                flush=True,
            )
            if kind == "frr":
                print(
                    f"  zebra: CPU {res['zebra_cpu_s']:.1f} s, "
                    f"VmHWM {_mib(res['zebra_hwm_kib'])} MiB"
                )
            if kind.startswith("pybgp"):
                print(f"  pybgp event log: {res.get('rr_log_mb', 0):.1f} MB")
            for f in res["flaps"][:5]:
                print(f"  flap: {f}")
            for note in res["injector"].get("notes", [])[:5]:
                print(f"  injector: {note}")
            for line in res.get("rr_down_lines", [])[:5]:
                print(f"  rr log: {line[:300]}")
            if res.get("rr_view"):
                print(f"  RR's view: {res['rr_view']}")
            if res.get("rr_log_tail") and (not res["sessions_ok"] or not res["finished"]):
                print("  RR log tail:\n    " + res["rr_log_tail"][-1500:].replace("\n", "\n    "))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    best = {k: _best(v) for k, v in raw.items()}
    print()
    print(_machine())
    report(best, meta["prefixes"])


if __name__ == "__main__":
    main()
