"""MRT for a running daemon: dump its Loc-RIB (``pybgp mrt dump``).

How this works: ``mrt_dump`` snapshots the Loc-RIB and writes TABLE_DUMP_V2 (a
PEER_INDEX_TABLE, then one RIB record per prefix with every path) in slices, letting
the event loop run between them, and renames the file into place when it is whole.
The other direction, ``pybgp mrt inject``, is ``pybgp.mrt.inject``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import os
import time
from typing import TYPE_CHECKING, Any

from rib import PeerInfo
from rib.decision import Route

from ..mrt.records import Peer as MrtPeer
from ..mrt.records import PeerIndexTable, RibEntry, RibRecord
from ..mrt.writer import MrtWriter

if TYPE_CHECKING:
    from ..speaker import Speaker

CHUNK = 2000
"""Prefixes per slice of a dump; the event loop runs between slices."""


__all__ = ["mrt_dump"]

_RIB_SUBTYPE = {1: 2, 2: 4}


async def mrt_dump(speaker: Speaker, path: str) -> dict[str, Any]:
    """Write the Loc-RIB, every path, as TABLE_DUMP_V2 (RFC 6396 4.3) to ``path``.

    A PEER_INDEX_TABLE of the peers that have routes comes first; a family whose
    routes carry ADD-PATH ids uses the RFC 8050 ADD-PATH RIB subtypes.  The records
    are encoded CHUNK prefixes at a time, written from a thread, and the file is
    renamed into place when complete.
    """
    loop = asyncio.get_running_loop()
    rib = speaker.routing.rib
    now = int(time.time())
    tables = {fam: sorted(rib.loc_rib(*fam)) for fam in rib.families()}
    index: dict[PeerInfo, int] = {}
    addpath: set[tuple[int, int]] = set()
    for fam, snap in tables.items():
        for n, (_, sel) in enumerate(snap, 1):
            for r in sel.ranked:
                index.setdefault(r.peer, len(index))
                if r.path_id:
                    addpath.add(fam)
            if n % CHUNK == 0:
                await asyncio.sleep(0)
    peers = tuple(_mrt_peer(p) for p in index)
    router_id = ipaddress.IPv4Address(speaker.config.global_.router_id).packed
    tmp = f"{path}.tmp{os.getpid()}"
    f = await loop.run_in_executor(None, open, tmp, "wb")
    try:
        buf = io.BytesIO()
        w = MrtWriter(buf)
        w.peer_index(PeerIndexTable(now, router_id, "pybgp", peers))
        seq = routes = prefixes = 0
        for (afi, safi), snap in sorted(tables.items()):
            if safi != 1 or afi not in _RIB_SUBTYPE:
                continue
            subtype = _RIB_SUBTYPE[afi] + (6 if (afi, safi) in addpath else 0)
            for prefix, sel in snap:
                entries = tuple(_entry(r, index, now) for r in sel.ranked)
                w.rib(RibRecord(now, subtype, afi, safi, seq, prefix, entries))
                seq += 1
                prefixes += 1
                routes += len(entries)
                if prefixes % CHUNK == 0:  # the loop runs while the thread writes
                    await loop.run_in_executor(None, f.write, buf.getvalue())
                    buf.seek(0)
                    buf.truncate()
        await loop.run_in_executor(None, f.write, buf.getvalue())
        await loop.run_in_executor(None, f.close)
        os.replace(tmp, path)
    except BaseException:
        f.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return {
        "path": path,
        "peers": len(peers),
        "prefixes": prefixes,
        "routes": routes,
        "bytes": w.bytes_written,
    }


def _mrt_peer(p: PeerInfo) -> MrtPeer:
    addr = ipaddress.ip_address(p.address).packed
    return MrtPeer(p.bgp_id, addr, p.asn, (1 if len(addr) == 16 else 0) | 2)


def _entry(r: Route, index: dict[PeerInfo, int], now: int) -> RibEntry:
    return RibEntry(index[r.peer], now, r.attrs, r.path_id)
