"""Bytes per route held by the pure RIB for one peer's full table (tracemalloc).

    .venv/bin/python bench/rib_memory.py [--prefixes 200000] [--seed 1]

The routes come from the MRT synthesizer's generators (Internet-like prefix lengths,
AS paths and communities, about 0.29 distinct attribute sets per prefix).  Prefix
ints and attribute sets are made *before* tracing starts: the decoder creates and
interns those, the RIB only holds references.  What is traced is what the RIB itself
allocates: the Adj-RIB-In (pre-policy), the Loc-RIB selections and routes, then one
Adj-RIB-Out towards an eBGP peer (best only) and one towards an ADD-PATH iBGP client.
Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pybgp.mrt.synth import _AsnDraw, _attr_set, _prefixes
from rib import AddPathSend, AdjRibOut, PeerInfo, Rib, RibConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    n = args.prefixes

    rng = random.Random(args.seed)
    prefixes = _prefixes(rng, n, False)
    draw = _AsnDraw(rng)
    pool = [_attr_set(rng, draw, False) for _ in range(max(1, int(n * 0.29)))]
    routes = [(p, pool[rng.randrange(len(pool))]) for p in prefixes]

    local_as = 64999  # the synthesizer's peer is AS 65000
    config = RibConfig(local_as=local_as, router_id=b"\x0a\x00\x00\xfe")
    source = PeerInfo("192.0.2.1", 65000, b"\xc0\x00\x02\x01", local_as, 1)
    ebgp = PeerInfo(
        "192.0.2.2", 64501, b"\xc0\x00\x02\x02", local_as, 2, local_address=b"\xc0\x00\x02\xfe"
    )
    client = PeerInfo(
        "10.0.0.3",
        local_as,
        b"\x0a\x00\x00\x03",
        local_as,
        3,
        rr_client=True,
        addpath_send=AddPathSend.ALL,
    )
    rib = Rib(config)
    for p in (source, ebgp, client):
        rib.add_peer(p)

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    t0 = time.perf_counter()
    for prefix, attrs in routes:
        rib.announce(source, 1, 1, prefix, attrs)
    t_rib = time.perf_counter() - t0
    gc.collect()
    after_rib = tracemalloc.take_snapshot()
    rib_bytes = sum(s.size_diff for s in after_rib.compare_to(base, "filename"))

    diff = rib.dump(1, 1)
    gc.collect()
    before_out = tracemalloc.take_snapshot()
    out = AdjRibOut(ebgp, config)
    t0 = time.perf_counter()
    sent = out.apply(diff)
    t_out = time.perf_counter() - t0
    del sent
    gc.collect()
    after_out = tracemalloc.take_snapshot()
    out_bytes = sum(s.size_diff for s in after_out.compare_to(before_out, "filename"))

    out2 = AdjRibOut(client, config, out.cache)
    sent = out2.apply(diff)
    del sent, diff
    gc.collect()
    after_out2 = tracemalloc.take_snapshot()
    out2_bytes = sum(s.size_diff for s in after_out2.compare_to(after_out, "filename"))
    tracemalloc.stop()
    assert len(rib) == n and len(out) == n and len(out2) == n, "routes were dropped"

    print(f"routes: {n} from one peer, {len(pool)} distinct attribute sets")
    print(
        f"Adj-RIB-In + Loc-RIB: {rib_bytes / n:.0f} bytes/route "
        f"({rib_bytes / 2**20:.1f} MiB), {n / t_rib:,.0f} routes/s"
    )
    print(
        f"Adj-RIB-Out, eBGP peer, best only: {out_bytes / n:.0f} bytes/route "
        f"(export-rewritten sets included), {n / t_out:,.0f} routes/s"
    )
    print(f"Adj-RIB-Out, iBGP client, ADD-PATH all: {out2_bytes / n:.0f} bytes/route")
    print(
        f"total for the table held in and out to one peer: {(rib_bytes + out_bytes) / n:.0f}"
        " bytes/route (prefix ints and received attribute sets excluded: the decoder owns them)"
    )
    print(f"  for reference: one prefix int is {sys.getsizeof(prefixes[0])} bytes")


if __name__ == "__main__":
    main()
