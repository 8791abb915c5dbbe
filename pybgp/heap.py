"""The cyclic garbage collector and a routing table of millions of objects.

A full table is millions of objects that hold no reference cycles.  Left to itself,
CPython's collector walks them again and again while they arrive: full collections
took 18 of the 31 CPU seconds of a 1M-route load in ``bench/rr_inproc.py``, and the
young collections still 12% of the compiled build's.  So:

- ``tune_gc``: young-generation collections only, the first one every 20,000
  allocations rather than 700; full ones never start on their own.
- ``maintenance``: every ``GC_INTERVAL`` seconds one collection over what is new, then
  ``gc.freeze`` moves the survivors out of the collector's reach.
- ``settle``: after a read that changed many prefixes (a table arriving), one
  young collection, then ``gc.freeze``: the new routes are walked once, not once per
  generation.  The young collection first frees the short-lived cycles (asyncio's,
  exceptions') that would otherwise be frozen with them.

Frozen objects are still freed by reference counting; only a cycle among them would
outlive its use.
"""

from __future__ import annotations

import asyncio
import gc

__all__ = ["GC_INTERVAL", "GC_NO_FULL", "SETTLE_CHANGES", "maintenance", "settle", "tune_gc"]

GC_INTERVAL = 30.0
GC_NO_FULL = 1 << 30
"""The third threshold of ``gc.set_threshold``: full collections never start on their own."""
SETTLE_CHANGES = 256
"""Prefix changes in one read from which ``settle`` freezes what survived.  A full
table arrives in reads of a few hundred to a few thousand changes; an ordinary read
changes a few, and then nothing is frozen before the periodic full collection has
seen it (a cycle that dies after its freeze is never collected)."""


def tune_gc() -> None:
    """Young-generation collections only; the full ones are ``maintenance``'s."""
    t0, t1, _ = gc.get_threshold()
    gc.set_threshold(max(t0, 20_000), t1, GC_NO_FULL)


def settle(changes: int) -> None:
    """After a read that changed ``changes`` prefixes: freeze a bulk load's new objects."""
    if changes >= SETTLE_CHANGES and gc.isenabled():
        gc.collect(0)
        gc.freeze()


async def maintenance() -> None:
    """Every ``GC_INTERVAL`` seconds: collect what is new, then freeze the survivors."""
    while True:
        await asyncio.sleep(GC_INTERVAL)
        gc.collect()
        gc.freeze()
