#!/usr/bin/env python3
"""MRT injection benchmark: ``pybgp mrt inject`` into ``pybgp speaker`` against
``gobgp mrt inject global`` into ``gobgpd``, side by side in one run.

    python bench/inject.py [--prefixes 1000000] [--seed 1] [--repeat 1]
                           [--only pybgp,gobgp] [--timeout 300] [--hold 9]
                           [--format rib|bgp4mp] [--profile-pybgp FILE]

The table is ``pybgp mrt synth --seed 1`` (cached in ``bench/out/``, shared with
``rr.py``); ``--format bgp4mp`` turns it into BGP4MP_MESSAGE_AS4 UPDATEs, packed
per attribute set (cached too).

Per system under test (SUT), a fresh lab (``tests/lab``): two network namespaces
``sut`` and ``rcv`` and one veth link.  The SUT (AS 64900) has one eBGP neighbor, a
BIRD 2 (AS 64901, ``import all``, no kernel protocol) that counts what it
receives.  The SUTs:

- pybgp: ``python -m pybgp speaker -c FILE`` and ``python -m pybgp mrt inject FILE
  --control SOCK --json`` (the daemon reads the file itself);
- GoBGP 3.10: ``gobgpd`` (``tests.lab.GoBgp``) and ``gobgp mrt inject global
  --nexthop ADDR`` (the CLI decodes the file and sends the paths over gRPC; without
  ``--nexthop`` GoBGP keeps the file's next hop towards the eBGP peer, which BIRD
  rejects as not directly reachable).

Both send the routes with their AS path (our AS prepended) and next hop self.

Measured per SUT, from the launch of the inject command:

- **CLI**: the time until the inject command exits;
- **end to end**: the time until BIRD holds every prefix ("Routes: N imported" of
  ``show protocols all``, over a persistent birdc socket every ``--poll`` seconds);
  a SUT that stops short is reported with the count it reached (after the count
  stays the same for 10 s, or ``--timeout``);
- **CPU**: utime+stime of the daemon (from /proc) and of the inject command
  (``RUSAGE_CHILDREN``), and of BIRD;
- **RSS**: the daemon's VmRSS before and its VmHWM after;
- **sessions**: BIRD's session state and "since" time at every poll (the hold time is
  ``--hold``, keepalive a third of it), and the longest stretch in which BIRD's count
  did not move while the inject command ran (for pybgp that is mostly the file read,
  which comes before the first UPDATE).

``--baseline DIR`` adds a run of pybgp from another source tree (``git archive main
| tar -x -C DIR``), to measure a change side by side.  ``--repeat R`` keeps per SUT
the best of R runs.  Prints a Markdown table and the ratios of pybgp to GoBGP (and to
the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from rr import BirdCtl, _machine, _mib, _settle, table_path, tree_cpu, tree_mem  # noqa: E402

ALL = ("pybgp", "gobgp")
LABELS = {
    "pybgp": "pybgp `speaker` + `mrt inject`",
    "baseline": "the same, `--baseline` code",
    "gobgp": "GoBGP 3.10 `mrt inject global`",
}
SUT_AS, RCV_AS = 64900, 64901  # the synthetic table's paths start with 65000
SUT_ID, RCV_ID = "10.255.0.1", "10.255.0.2"


# --------------------------------------------------------------------------- the file


def bgp4mp_path(mrt: Path) -> Path:
    """``mrt`` as BGP4MP_MESSAGE_AS4 UPDATEs, packed per attribute set (cached)."""
    path = mrt.with_name(mrt.stem + "-bgp4mp.mrt")
    if path.exists():
        return path
    import gc

    from pybgp.codec.message import encode_message
    from pybgp.codec.options import SessionOptions
    from pybgp.codec.pack import pack_announcements
    from pybgp.mrt.records import Bgp4mpMessage
    from pybgp.mrt.routes import RouteBatch, read_routes
    from pybgp.mrt.writer import MrtWriter

    gc.disable()
    opts = SessionOptions(four_octet_as=True)
    routes = []
    for b in read_routes(mrt.read_bytes()):
        if isinstance(b, RouteBatch):
            routes += [(b.afi, b.safi, p, 0, a) for p, a in zip(b.prefixes, b.attrs, strict=True)]
    tmp = path.with_suffix(".tmp")
    peer, local = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    with open(tmp, "wb") as f:
        w = MrtWriter(f)
        for u in pack_announcements(routes, opts):
            data = encode_message(u, opts)
            w.bgp4mp_message(Bgp4mpMessage(0, 4, 65000, SUT_AS, 0, 1, peer, local, data))
    tmp.rename(path)
    return path


# --------------------------------------------------------------------------- SUTs


class PybgpSut:
    kind = "pybgp"

    def __init__(
        self, lab: Any, ns: str, addr: str, peer: str, hold: int, pythonpath: str = str(ROOT)
    ) -> None:
        self.lab, self.ns, self.pythonpath = lab, ns, pythonpath
        self.sock = lab.workdir / "pybgp.sock"
        self.config = lab.workdir / "pybgp.toml"
        self.config.write_text(
            f'[global]\nasn = {SUT_AS}\nrouter_id = "{SUT_ID}"\n'
            f'listen_address = "{addr}"\n\n[control]\nsocket = "{self.sock}"\n\n'
            f'[[neighbors]]\naddress = "{peer}"\nremote_as = {RCV_AS}\n'
            f'local_address = "{addr}"\nhold_time = {hold}\nconnect_retry = 1\n'
        )
        self.profile: str | None = None
        self.proc: Any = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "pybgp", "speaker", "-c", str(self.config)]
        if self.profile:  # cProfile writes the file when the daemon exits (SIGTERM)
            argv[1:1] = ["-m", "cProfile", "-o", self.profile]
        self.proc = self.lab.spawn(
            self.ns, argv, env={"PYTHONPATH": self.pythonpath}, name="pybgp",
            cwd=Path(self.pythonpath),  # `-m` puts the working directory first on sys.path
        )  # fmt: skip

    def inject_argv(self, path: Path) -> list[str]:
        # a Unix socket: no need to enter the namespace
        return ["env", "-C", self.pythonpath, f"PYTHONPATH={self.pythonpath}", sys.executable,
                "-m", "pybgp", "mrt", "inject", str(path), "--control", str(self.sock),
                "--json"]  # fmt: skip

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        self.lab.stop(self.proc, timeout=60)


class GobgpSut:
    kind = "gobgp"

    def __init__(self, lab: Any, ns: str, addr: str, peer: str, hold: int) -> None:
        from tests.lab.daemons import GoBgp

        self.lab, self.ns = lab, ns
        self.d = GoBgp(lab, ns, addr, SUT_AS, SUT_ID)
        self.d.add_neighbor(peer, RCV_AS, hold_time=hold)
        self.addr = addr

    def start(self) -> None:
        self.d.start()

    @property
    def proc(self) -> Any:
        return self.d.proc

    def inject_argv(self, path: Path) -> list[str]:
        from tests.lab.daemons import GOBGP

        return ["ip", "netns", "exec", self.ns, GOBGP, "-p", str(self.d.api_port),
                "mrt", "inject", "global", "--nexthop", self.addr, "--no-ipv6",
                str(path)]  # fmt: skip

    def pids(self) -> list[int]:
        return [self.d.proc.pid]

    def stop(self) -> None:
        self.d.stop()


# --------------------------------------------------------------------------- one run


def run_once(kind: str, args: argparse.Namespace, path: Path, n: int) -> dict[str, Any]:
    from tests.lab.daemons import Bird
    from tests.lab.netns import Lab

    res: dict[str, Any] = {"kind": kind, "prefixes": n, "finished": False}
    with Lab(keep=True if args.keep else None) as lab:
        sut_ns, rcv_ns = lab.add_ns("sut"), lab.add_ns("rcv")
        link = lab.link(sut_ns, rcv_ns)
        sut_addr, rcv_addr = link.addresses(sut_ns)[0], link.addresses(rcv_ns)[0]
        bird = Bird(lab, rcv_ns, rcv_addr, RCV_AS, RCV_ID)
        bird.add_neighbor(sut_addr, SUT_AS, hold_time=args.hold)
        sut: Any
        if kind == "gobgp":
            sut = GobgpSut(lab, sut_ns, sut_addr, rcv_addr, args.hold)
        elif kind == "baseline":
            sut = PybgpSut(lab, sut_ns, sut_addr, rcv_addr, args.hold, args.baseline)
        else:
            sut = PybgpSut(lab, sut_ns, sut_addr, rcv_addr, args.hold)
            sut.profile = args.profile_pybgp
        bird.start()
        sut.start()
        try:
            bird.wait_established(sut_addr, timeout=60)
        except Exception as exc:
            res["error"] = f"setup: {exc}\n{sut.proc.log()[-2000:]}"
            return res
        ctl = BirdCtl(bird.sock)
        name = Bird.proto_name(sut_addr)
        _settle([*sut.pids(), bird.proc.pid])
        _, since0, count0 = ctl.protocol(name)
        rss_idle, _ = tree_mem(sut.proc.pid)
        cpu0 = sum(tree_cpu(p) for p in sut.pids())
        bcpu0 = tree_cpu(bird.proc.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)

        out = open(lab.workdir / "inject.out", "wb")  # noqa: SIM115 - closed below
        t0 = time.monotonic()
        cli = subprocess.Popen(sut.inject_argv(path), stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
        deadline = t0 + args.timeout
        t_cli = t_conv = None
        cli_rc = None
        flaps: list[str] = []
        count = count0
        last_move, last_count = t0, count0
        max_still = 0.0
        samples: list[tuple[float, int]] = []
        while True:
            now = time.monotonic()
            if t_cli is None and cli.poll() is not None:
                t_cli, cli_rc = now, cli.returncode
            state, since, count = ctl.protocol(name)
            if state != "Established" or since != since0:
                msg = f"{state} since {since} at +{now - t0:.1f} s"
                if not flaps or flaps[-1].split(" at ")[0] != msg.split(" at ")[0]:
                    flaps.append(msg)
            samples.append((now - t0, count))
            if count != last_count:
                last_move, last_count = now, count
            elif t_cli is None:
                max_still = max(max_still, now - last_move)
            if count - count0 >= n:
                t_conv = now
                break
            if now > deadline or not sut.proc.alive():
                break
            if t_cli is not None and now - last_move > 10.0:
                break  # the SUT stopped short
            time.sleep(args.poll)
        if t_cli is None:
            try:
                cli.wait(timeout=max(1.0, deadline - time.monotonic()))
                t_cli, cli_rc = time.monotonic(), cli.returncode
            except subprocess.TimeoutExpired:
                cli.kill()
                cli.wait()
        out.close()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu1 = sum(tree_cpu(p) for p in sut.pids())
        bcpu1 = tree_cpu(bird.proc.pid)
        rss_after, hwm = tree_mem(sut.proc.pid)
        time.sleep(1.0)
        state, since, count_end = ctl.protocol(name)
        if state != "Established" or since != since0:
            flaps.append(f"{state} since {since} after the run")
        ctl.close()
        cli_out = (lab.workdir / "inject.out").read_text(errors="replace")
        if kind == "pybgp" and args.profile_pybgp:
            sut.stop()
        res.update(
            finished=t_conv is not None,
            count_reached=count_end - count0,
            cli_s=(t_cli - t0) if t_cli else None,
            cli_rc=cli_rc,
            cli_out=cli_out[-1500:],
            converge_s=(t_conv - t0) if t_conv else None,
            sut_cpu_s=cpu1 - cpu0,
            cli_cpu_s=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            bird_cpu_s=bcpu1 - bcpu0,
            rss_idle_kib=rss_idle,
            rss_after_kib=rss_after,
            hwm_kib=hwm,
            flaps=flaps,
            max_still_s=max_still,
            samples=samples[:: max(1, len(samples) // 40)],
        )
        res["sessions_ok"] = not flaps and sut.proc.alive()
        if not res["finished"] or not res["sessions_ok"]:
            res["sut_log_tail"] = sut.proc.log()[-2000:]
    return res


# --------------------------------------------------------------------------- report


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r.get("finished")] or runs
    best = dict(ok[0])
    for r in ok[1:]:
        for key in ("converge_s", "cli_s", "sut_cpu_s", "cli_cpu_s"):
            if r.get(key) is not None and (best.get(key) is None or r[key] < best[key]):
                best[key] = r[key]
        best["hwm_kib"] = max(best["hwm_kib"], r["hwm_kib"])
    best["sessions_ok"] = all(r.get("sessions_ok") for r in runs)
    return best


def _rate(n: int, s: float | None) -> str:
    return f"{n / s:,.0f}" if s else "-"


def report(best: dict[str, dict[str, Any]], n: int, fmt: str) -> None:
    print()
    print(f"**{n:,} IPv4 prefixes, {fmt}**")
    print()
    print("| SUT | BIRD has all | CLI (s) | end to end (s) | routes/s (end to end) | "
          "daemon CPU (s) | CLI CPU (s) | BIRD CPU (s) | RSS idle / peak (MiB) | "
          "session up throughout |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind, b in best.items():
        if "error" in b:
            print(f"| {LABELS[kind]} | error | | | | | | | | |")
            continue
        done = "yes" if b["finished"] else f"no: {b['count_reached']:,}"
        conv = b["converge_s"]
        print(
            f"| {LABELS[kind]} | {done} | {b['cli_s'] or 0:.2f} | "
            f"{'-' if conv is None else f'{conv:.2f}'} | {_rate(n, conv)} | "
            f"{b['sut_cpu_s']:.1f} | {b['cli_cpu_s']:.1f} | {b['bird_cpu_s']:.1f} | "
            f"{_mib(b['rss_idle_kib'])} / {_mib(b['hwm_kib'])} | "
            f"{'yes' if b['sessions_ok'] else 'NO'} |"
        )
    p, base = best.get("pybgp"), best.get("baseline")
    if p and base and p.get("converge_s") and base.get("converge_s"):
        print()
        print(f"- pybgp / baseline end-to-end rate: {base['converge_s'] / p['converge_s']:.1f}x")
    g = best.get("gobgp")
    if p and g and p.get("converge_s") and "error" not in g:
        gt = g.get("converge_s")
        if gt is None:  # GoBGP stopped short: compare rates over what it delivered
            reached = g["count_reached"]
            gt = g["cli_s"] * n / reached if g.get("cli_s") and reached > 0 else None
            note = " (GoBGP's time scaled to all prefixes from the count it reached)"
            if not reached:
                print()
                print("- GoBGP injected nothing from this file")
        else:
            note = ""
        if gt:
            print()
            print(f"- pybgp / GoBGP end-to-end rate: {gt / p['converge_s']:.1f}x{note}")
            total_p = p["sut_cpu_s"] + p["cli_cpu_s"]
            total_g = g["sut_cpu_s"] + g["cli_cpu_s"]
            print(f"- CPU (daemon + CLI): pybgp {total_p:.1f} s, GoBGP {total_g:.1f} s "
                  f"({total_p / total_g:.2f}x)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefixes", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per SUT (best is kept)")
    ap.add_argument("--only", default=",".join(ALL), help="comma-separated: pybgp,gobgp")
    ap.add_argument("--format", choices=("rib", "bgp4mp"), default="rib",
                    help="TABLE_DUMP_V2 RIB records or BGP4MP UPDATEs")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per SUT and run")
    ap.add_argument("--hold", type=int, default=9, help="hold time of the session")
    ap.add_argument("--poll", type=float, default=0.1, help="BIRD polling interval (s)")
    ap.add_argument("--keep", action="store_true", help="keep the lab's configs and logs")
    ap.add_argument("--json", help="also write the raw runs to this file")
    ap.add_argument(
        "--profile-pybgp", metavar="FILE", help="run the speaker under cProfile, stats to FILE"
    )
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run pybgp from this source tree (e.g. `git archive main`), to compare",
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces)")
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ALL]
    if bad:
        ap.error(f"unknown SUT {bad}; choose from {','.join(ALL)}")
    if args.baseline:
        kinds.insert(kinds.index("pybgp") + 1 if "pybgp" in kinds else 0, "baseline")
    print(_machine(), flush=True)
    path = table_path(args.prefixes, args.seed, False)
    if args.format == "bgp4mp":
        path = bgp4mp_path(path)
    n = args.prefixes
    mb = path.stat().st_size / 1e6
    print(f"file {path.name}: {mb:.1f} MB, {n:,} prefixes; hold time {args.hold} s, "
          f"timeout {args.timeout:g} s, repeat {args.repeat}", flush=True)  # fmt: skip
    raw: dict[str, list[dict[str, Any]]] = {}
    for kind in kinds:
        for r in range(args.repeat):
            res = run_once(kind, args, path, n)
            raw.setdefault(kind, []).append(res)
            if "error" in res:
                print(f"{kind} run {r + 1}: ERROR {res['error']}", flush=True)
                continue
            conv = res["converge_s"]
            print(
                f"{kind} run {r + 1}: {'all' if res['finished'] else 'NOT all'} "
                f"({res['count_reached']:,}) in {'-' if conv is None else f'{conv:.2f}'} s "
                f"({_rate(n, conv)} routes/s); CLI exited {res['cli_rc']} after "
                f"{res['cli_s'] or 0:.2f} s; CPU daemon {res['sut_cpu_s']:.1f} s, CLI "
                f"{res['cli_cpu_s']:.1f} s, BIRD {res['bird_cpu_s']:.1f} s; RSS "
                f"{_mib(res['rss_idle_kib'])}/{_mib(res['hwm_kib'])} MiB; session "
                f"{'ok' if res['sessions_ok'] else 'NOT ok'}; longest stretch without new "
                f"routes at BIRD while the command ran {res['max_still_s']:.1f} s",
                flush=True,
            )
            for f in res["flaps"][:5]:
                print(f"  flap: {f}")
            if res["cli_rc"] != 0 or not res["finished"]:
                print("  CLI output: " + res["cli_out"][-600:].replace("\n", "\n    "))
            if res.get("sut_log_tail"):
                print("  SUT log tail:\n    " + res["sut_log_tail"][-1200:].replace("\n", "\n    "))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    best = {k: _best(v) for k, v in raw.items()}
    print()
    print(_machine())
    report(best, n, "TABLE_DUMP_V2" if args.format == "rib" else "BGP4MP UPDATEs")


if __name__ == "__main__":
    main()
