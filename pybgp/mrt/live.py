"""MRT for a running daemon: dump its Loc-RIB, inject a file's routes as originated.

How this works: ``mrt_dump`` snapshots the Loc-RIB and writes TABLE_DUMP_V2 (a
PEER_INDEX_TABLE, then one RIB record per prefix with every path) in slices, letting
the event loop run between them, and renames the file into place when it is whole.
``mrt_inject`` reads a TABLE_DUMP_V2 or BGP4MP file in the daemon itself (decoding
once, no JSON on the socket) and originates its routes in batches of
``INJECT_BATCH``, pausing while a peer has more than 4 MiB unsent.
"""

from __future__ import annotations

import asyncio
import bz2
import contextlib
import gzip
import io
import ipaddress
import itertools
import os
import time
from typing import TYPE_CHECKING, Any, BinaryIO

from rib import PeerInfo
from rib.decision import Route

from ..codec.attributes import AttrSet, as4_merge
from ..codec.errors import BgpError
from ..codec.message import decode_message
from ..codec.options import SessionOptions
from ..codec.update import Update
from ..mrt.records import Bgp4mpMessage, MrtError, PeerIndexTable, RibEntry, RibRecord
from ..mrt.records import Peer as MrtPeer
from ..mrt.routes import RouteBatch, read_routes
from ..mrt.writer import MrtWriter

if TYPE_CHECKING:
    from ..control import Reply
    from ..speaker import Speaker

CHUNK = 2000
"""Prefixes per slice of a dump; the event loop runs between slices."""


__all__ = ["mrt_dump", "mrt_inject", "INJECT_BATCH"]

INJECT_BATCH = 10000
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


async def mrt_inject(
    speaker: Speaker, raw: BinaryIO, limit: int | None, keep_next_hop: bool, reply: Reply
) -> None:
    """Originate the routes of an MRT file, streaming progress items to ``reply``.

    TABLE_DUMP_V2 RIB records (through ``read_routes``) give the first path of each
    prefix; BGP4MP UPDATEs give their announcements, the last one of a prefix winning.
    Each batch is sent to the peers at once; the loop runs between batches, and waits
    while a peer's socket holds more than WRITE_HIGH octets.  Prefixes configured in
    ``[[originate]]`` are skipped.
    """
    size = os.fstat(raw.fileno()).st_size
    head = raw.read(3)
    raw.seek(0)
    source: BinaryIO = raw
    if head[:2] == b"\x1f\x8b":
        source = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    elif head == b"BZh":
        source = bz2.BZ2File(raw)  # type: ignore[assignment]
    configured = {(o.afi, o.nlri) for o in speaker.config.originate}
    seen: set[tuple[int, int]] = set()
    templates: dict[int, AttrSet] = {}
    opts = {a: SessionOptions(four_octet_as=a, extended_message=True) for a in (False, True)}
    total = skipped = 0
    start = time.monotonic()
    keepalive: list[AttrSet] = []

    def template(attrs: AttrSet) -> AttrSet:
        t = templates.get(id(attrs))
        if t is None:
            merged = as4_merge(attrs)
            t = templates[id(attrs)] = merged.replace(
                as4_path=None, as4_aggregator=None, originator_id=None, cluster_list=(),
                next_hop=merged.next_hop if keep_next_hop else None,
                mp_next_hop=(merged.mp_next_hop or b"")[:16] or None if keep_next_hop else None,
            )  # fmt: skip
            keepalive.append(attrs)  # ids stay unique while the originals live
        return t

    errors: list[str] = []
    batch: dict[tuple[int, int], AttrSet] = {}

    async def flush() -> None:
        nonlocal batch, total, skipped
        for key in [k for k in batch if k in configured]:
            del batch[key]
            skipped += 1
        if limit is not None and total + len(batch) > limit:
            batch = dict(itertools.islice(batch.items(), limit - total))
        if batch:
            speaker.originate(batch)
            total += len(batch)
            batch = {}
            await reply.line(ok=True, chunk=[{"routes": total, "bytes": raw.tell(), "size": size}])
            await _drained(speaker)

    for item in read_routes(source):
        if isinstance(item, RouteBatch):
            if item.safi != 1:
                continue
            afi = item.afi
            for prefix, attrs in zip(item.prefixes, item.attrs, strict=True):
                key = (afi, prefix)
                if key in seen:
                    continue  # the first path of a prefix
                seen.add(key)
                batch[key] = template(attrs)
        elif isinstance(item, Bgp4mpMessage) and item.data[18:19] == b"\x02":
            addpath = frozenset({(1, 1), (2, 1)}) if item.addpath else frozenset()
            try:
                u = decode_message(item.data, opts[item.as4].symmetric(addpath))
            except BgpError:
                continue
            if not isinstance(u, Update) or u.attrs is None or (u.errors and u.action >= 2):
                continue
            t = template(u.attrs)
            for p in u.nlri:
                batch[(1, p)] = t  # a later announcement replaces an earlier one
            r = u.mp_reach
            if r is not None and r.safi == 1 and r.afi in (1, 2):
                for p in r.nlri:
                    batch[(r.afi, p)] = t
        elif isinstance(item, MrtError):
            errors.append(item.reason)
        if len(batch) >= INJECT_BATCH:
            await flush()
        if limit is not None and total >= limit:
            break
    await flush()
    if total == 0 and not skipped:
        from ..control import ControlError  # imported here: control imports this module

        raise ControlError("no unicast routes" + (f": {errors[0]}" if errors else ""))
    seconds = round(time.monotonic() - start, 3)
    speaker.log.emit("control-inject", routes=total, skipped=skipped, seconds=seconds)
    final = {"routes": total, "bytes": size, "size": size, "skipped": skipped,
             "runtime": len(speaker.runtime), "seconds": seconds, "errors": len(errors),
             "final": True}  # fmt: skip
    await reply.line(ok=True, chunk=[final])
    await reply.line(ok=True, done=True)


async def _drained(speaker: Speaker) -> None:
    """Yield to the loop, then wait while some peer's socket is over WRITE_HIGH."""
    from ..connection import WRITE_HIGH

    await asyncio.sleep(0)
    while any(
        c.transport is not None and not c.closing
        and c.transport.get_write_buffer_size() > WRITE_HIGH
        for p in speaker.peers.values()
        for c in p.conns.values()
    ):  # fmt: skip
        await asyncio.sleep(0.005)
