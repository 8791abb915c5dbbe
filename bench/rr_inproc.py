"""The route reflector's work for a full table, in one process, without sockets.

    .venv/bin/python bench/rr_inproc.py [--prefixes 100000] [--ipv6] [--profile FILE]

The blob of UPDATEs that ``bench/rr.py`` sends (cached in ``bench/out/``; run rr.py once
to make it) is cut into messages and fed, READ_SIZE octets at a time as the daemon reads it, to
the daemon's own :class:`pybgp.routing.Routing`: decode, ``Routing.update``, then
``Routing.flush`` fans the changes out to the Adj-RIB-Outs of two route-reflector
clients and the injector (all iBGP clients in one AS, as in rr.py), and each UPDATE is
encoded to bytes as a session would.  Prints the time, the bytes sent and the growth of
the process's RSS per route (the decoder's interned sets included, as in the daemon).
Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pybgp.codec.message import decode_message, encode_message
from pybgp.codec.options import SessionOptions
from pybgp.codec.update import Update
from pybgp.config import parse_config
from pybgp.connection import READ_SIZE
from pybgp.heap import settle, tune_gc
from pybgp.routing import Routing

OUT = Path(__file__).resolve().parent / "out"
AS = 64900


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _Session:
    def __init__(self, options: SessionOptions, families: frozenset[tuple[int, int]]) -> None:
        self.options = options
        self.negotiated = type("N", (), {"families": families})()
        self.bytes = 0
        self.messages = 0


class _Peer:
    """What ``Routing`` reads of a ``pybgp.speaker.Peer``."""

    def __init__(self, config: Any, session: _Session) -> None:
        self.config = config
        self.address = config.address
        self.session = session
        self.settings = type("S", (), {"families": config.families_tuple()})()
        self.info: Any = None
        self.stale_info: Any = None

    def send_encoded(self, data: bytes, count: int) -> None:
        self.session.bytes += len(data)
        self.session.messages += count

    def send_updates(self, updates: Any) -> None:
        s = self.session
        for u in updates:
            s.bytes += len(encode_message(u, s.options))
            s.messages += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=100_000)
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--profile", help="cProfile stats to this file")
    args = ap.parse_args()
    v = "v6" if args.ipv6 else "v4"
    blobs = sorted(OUT.glob(f"synth-{v}-{args.prefixes}-seed1-updates-*.bin"))
    if not blobs:
        sys.exit(f"no blob for {args.prefixes} {v} prefixes in {OUT}: run bench/rr.py once")
    blob = blobs[0].read_bytes()
    meta = json.loads(blobs[0].with_suffix(".json").read_text())
    fam = '"ipv6-unicast"' if args.ipv6 else '"ipv4-unicast"'
    addrs = ["fd00::1", "fd00::2", "fd00::3"] if args.ipv6 else ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    text = f'[global]\nasn = {AS}\nrouter_id = "10.0.0.254"\ncluster_id = "10.0.0.254"\n'
    for a in addrs:
        text += (
            f'[[neighbors]]\naddress = "{a}"\nremote_as = {AS}\n'
            f"families = [{fam}]\nroute_reflector_client = true\n"
        )
    config = parse_config(text, daemon="rr")
    routing = Routing(config)
    options = SessionOptions()
    families = frozenset({(2, 1) if args.ipv6 else (1, 1)})
    peers = [_Peer(n, _Session(options, families)) for n in config.neighbors]
    local = bytes(16) if args.ipv6 else bytes(4)
    for i, p in enumerate(peers):
        routing.up(p, local[:-1] + bytes([0xF0 + i]), AS, bytes([10, 0, 0, 1 + i]))  # type: ignore[arg-type]
    injector = peers[0]

    msgs: list[bytes] = []
    pos = 0
    while pos < len(blob):
        n = int.from_bytes(blob[pos + 16 : pos + 18], "big")
        msgs.append(blob[pos : pos + n])
        pos += n
    chunks: list[list[bytes]] = [[]]
    size = 0
    for m in msgs:
        if size + len(m) > READ_SIZE:
            chunks.append([])
            size = 0
        chunks[-1].append(m)
        size += len(m)

    gc.collect()
    gc.freeze()
    tune_gc()  # as the daemon does (its 30 s collect-and-freeze is not simulated)
    rss0 = _rss_kib()
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    c0 = time.process_time()
    if prof is not None:
        prof.enable()
    for chunk in chunks:
        for raw in chunk:
            u = decode_message(raw, options)
            assert isinstance(u, Update)
            if u.end_of_rib is None:
                routing.update(injector, u)  # type: ignore[arg-type]
        settle(routing.flush())  # as the daemon does after each read
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    gc.collect()
    rss1 = _rss_kib()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = meta["prefixes"]
    print(f"{n:,} {v} prefixes, {len(msgs):,} UPDATEs in: {wall:.2f} s ({cpu:.2f} s CPU)")
    for p in peers:
        print(f"  to {p.address}: {p.session.messages:,} UPDATEs, {p.session.bytes:,} bytes")
    print(
        f"RSS {rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MiB (peak {peak / 1024:.0f}):"
        f" {(rss1 - rss0) * 1024 / n:.0f} B/route"
    )


if __name__ == "__main__":
    main()
