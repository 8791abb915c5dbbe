"""MRT injection: the routes of a file originated by a running speaker, at full-table speed.

How this works: ``mrt_inject`` runs in the daemon, on the file the client named (no
routes cross the control socket).  It works in two phases inside the event loop,
which runs between slices of each, so keepalives and other requests go on:

1. **Read.**  ``read_routes`` decodes TABLE_DUMP_V2 RIB records a 1 MiB window at a
   time into columnar batches whose attribute sets are interned; BGP4MP UPDATEs are
   decoded one message at a time.  Each distinct set becomes one *template* (AS4_*
   merged, without ORIGINATOR_ID, CLUSTER_LIST and, unless kept, the next hop), and
   each template collects its prefixes in one list.  A route costs a slot in that
   list and its entry in the run-time table, nothing more.
2. **Send.**  The routes join ``Speaker.runtime``, then go out ``SEND_SLICE`` routes
   at a time.  Per peer, each set is exported once and all its prefixes are encoded
   straight to UPDATE bytes (``encode_packed``): as few UPDATEs as the message size
   allows, so a table with 289k distinct sets for 1M prefixes goes out as about 289k
   UPDATEs.  For a 4-octet-AS peer a RIB entry's set is exported from its own bytes
   (``raw_export``); anything else takes ``Speaker.export_originated`` and
   ``encode_announcements``.  Between slices the loop runs, and waits while a peer's
   socket holds more than ``WRITE_HIGH`` octets.

Reading the whole file before sending packs each set into the fewest UPDATEs (the
file is in prefix order, so a set's prefixes are spread over it); it costs no time,
since both phases run on the same core.  Progress items stream to the client: octets
read, then routes sent.  The cyclic GC is off while the daemon injects, and the new
objects are frozen after (``gc.freeze``, as the daemon does every 30 s): they hold no
cycles, and collections would only walk them.
"""

from __future__ import annotations

import asyncio
import bz2
import gc
import gzip
import ipaddress
import os
import time
from itertools import repeat
from operator import itemgetter
from struct import pack
from typing import TYPE_CHECKING, Any, BinaryIO

from ..codec.attributes import AttrSet, as4_merge
from ..codec.errors import BgpError
from ..codec.message import decode_message
from ..codec.options import SessionOptions
from ..codec.pack import encode_announcements, encode_packed
from ..codec.update import Update
from ..events import State
from ..routing import ORIGINATE_PATH_ID
from .reader import MrtReader
from .records import Bgp4mpMessage, MrtError
from .routes import RouteBatch, read_routes

if TYPE_CHECKING:
    from ..control import Reply
    from ..speaker import Peer, Speaker

__all__ = ["mrt_inject", "raw_export", "SEND_SLICE", "PROGRESS_EVERY"]

SEND_SLICE = 20000
"""Routes encoded and written per peer between two turns of the event loop."""
PROGRESS_EVERY = 0.05
"""Seconds of reading between two turns of the loop (and progress items)."""


class _Table:
    """The routes read so far: run-time entries and, per template, its prefixes."""

    def __init__(self, keep_next_hop: bool, configured: set[tuple[int, int]]) -> None:
        self.keep_next_hop = keep_next_hop
        self.configured = configured
        self.new: dict[tuple[int, int], AttrSet] = {}
        """(AFI, prefix) -> template, in the order first read."""
        self.groups: list[tuple[int, AttrSet, list[int], AttrSet]] = []
        """(AFI, template, prefixes, file's set): one per file's set and AFI."""
        self.by_id: dict[int, dict[int, tuple[AttrSet, list[int]]]] = {}
        """Per AFI, id(file's set) -> (template, prefixes): the per-route lookup."""
        self.templates: dict[int, AttrSet] = {}
        self.originals: list[AttrSet] = []  # the ids above stay unique while these live
        self.raws: dict[int, bytes] = {}
        """id(file's set) -> its TABLE_DUMP_V2 attribute bytes (sets without errors)."""
        self.skipped = 0
        self.replaced = False  # a BGP4MP announcement replaced one of another set

    def template(self, attrs: AttrSet) -> AttrSet:
        t = self.templates.get(id(attrs))
        if t is None:
            merged = as4_merge(attrs)
            keep = self.keep_next_hop
            t = self.templates[id(attrs)] = merged.replace(
                as4_path=None, as4_aggregator=None, originator_id=None, cluster_list=(),
                next_hop=merged.next_hop if keep else None,
                mp_next_hop=(merged.mp_next_hop or b"")[:16] or None if keep else None,
            )  # fmt: skip
            self.originals.append(attrs)
        return t

    def group(self, afi: int, attrs: AttrSet) -> tuple[AttrSet, list[int]]:
        """The template of ``attrs`` and its prefix list in ``afi``."""
        cache = self.by_id.setdefault(afi, {})
        hit = cache.get(id(attrs))
        if hit is None:
            t = self.template(attrs)
            hit = cache[id(attrs)] = (t, [])
            self.groups.append((afi, t, hit[1], attrs))
        return hit

    def add_batch(self, b: RouteBatch, room: int | None) -> None:
        """A TABLE_DUMP_V2 batch: the first path of each prefix, at most ``room`` new.

        The usual batch (new prefixes only, none configured, no limit) is entered by C
        loops (``map``, ``zip``, ``dict.update``); only the append of each prefix to its
        set's list is a Python loop.
        """
        afi, new = b.afi, self.new
        cache = self.by_id.setdefault(afi, {})  # id(file's set) -> (template, prefixes)
        ids = list(map(id, b.attrs))
        missing = set(ids).difference(cache)
        if missing:
            objs = dict(zip(ids, b.attrs, strict=True))
            for i in missing:
                self.group(afi, objs[i])
        hits = list(map(cache.__getitem__, ids))
        keys = list(zip(repeat(afi), b.prefixes))
        if (
            room is None
            and self.configured.isdisjoint(keys)
            and len(set(keys)) == len(keys)
            and new.keys().isdisjoint(keys)
        ):
            new.update(zip(keys, map(itemgetter(0), hits), strict=True))
            for (_, lst), p in zip(hits, b.prefixes, strict=True):
                lst.append(p)
            return
        stop = -1 if room is None else len(new) + room
        for key, (t, lst) in zip(keys, hits, strict=True):
            if key in new:
                continue  # a later path of the same prefix
            if key in self.configured:
                self.skipped += 1
                continue
            new[key] = t
            lst.append(key[1])
            if len(new) == stop:
                return

    def add_update(self, afi: int, prefixes: tuple[int, ...], attrs: AttrSet) -> None:
        """BGP4MP announcements: the last one of a prefix wins."""
        t, lst = self.group(afi, attrs)
        new = self.new
        for p in prefixes:
            key = (afi, p)
            if key in self.configured:
                self.skipped += 1
                continue
            old = new.get(key)
            if old is not None:
                if old is t:
                    continue
                self.replaced = True
            new[key] = t
            lst.append(p)

    def regroup(self) -> None:
        """After replacements, rebuild the prefix lists from the final table."""
        lists = {(g[0], id(g[1])): [] for g in self.groups}  # type: dict[tuple[int, int], list[int]]
        for (afi, p), t in self.new.items():
            lists[(afi, id(t))].append(p)
        self.groups = [(afi, t, lists[(afi, id(t))], a) for afi, t, _, a in self.groups]


def _open(raw: BinaryIO) -> BinaryIO:
    head = raw.read(3)
    raw.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if head == b"BZh":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    return raw


async def mrt_inject(
    speaker: Speaker, raw: BinaryIO, limit: int | None, keep_next_hop: bool, reply: Reply
) -> None:
    """Originate the routes of an MRT file, streaming progress items to ``reply``.

    TABLE_DUMP_V2 RIB records give the first path of each prefix; BGP4MP UPDATEs give
    their announcements, the last one of a prefix winning.  Prefixes configured in
    ``[[originate]]`` are skipped.  The last item has ``"final": true``.
    """
    start = time.monotonic()
    collecting = gc.isenabled()
    gc.disable()
    try:
        table, errors = await _read(speaker, raw, limit, keep_next_hop, reply)
        read_s = time.monotonic() - start
        if not table.new and not table.skipped:
            from ..control import ControlError  # imported here: control imports this module

            raise ControlError("no unicast routes" + (f": {errors[0]}" if errors else ""))
        speaker.runtime.update(table.new)
        total = len(table.new)
        groups = [(afi, t, lst, table.raws.get(id(a))) for afi, t, lst, a in table.groups]
        table.new, table.by_id, table.templates, table.originals = {}, {}, {}, []
        table.groups, table.raws = [], {}
        updates, peers = await _send(speaker, groups, total, reply)
    finally:
        if collecting:
            gc.freeze()  # the table stays: the next collections need not walk it
            gc.enable()
    seconds = round(time.monotonic() - start, 3)
    speaker.log.emit("control-inject", routes=total, skipped=table.skipped, seconds=seconds,
                     updates=updates, peers=peers)  # fmt: skip
    size = os.fstat(raw.fileno()).st_size
    final = {"routes": total, "bytes": size, "size": size, "skipped": table.skipped,
             "runtime": len(speaker.runtime), "seconds": seconds,
             "read_seconds": round(read_s, 3), "updates": updates, "peers": peers,
             "errors": len(errors), "final": True}  # fmt: skip
    await reply.line(ok=True, chunk=[final])
    await reply.line(ok=True, done=True)


async def _read(
    speaker: Speaker, raw: BinaryIO, limit: int | None, keep_next_hop: bool, reply: Reply
) -> tuple[_Table, list[str]]:
    size = os.fstat(raw.fileno()).st_size
    source = _open(raw)
    table = _Table(keep_next_hop, {(o.afi, o.nlri) for o in speaker.config.originate})
    opts = {a: SessionOptions(four_octet_as=a, extended_message=True) for a in (False, True)}
    addpath = {False: frozenset(), True: frozenset({(1, 1), (2, 1)})}
    errors: list[str] = []
    new = table.new
    loop = asyncio.get_running_loop()
    turn = loop.time() + PROGRESS_EVERY
    rd = MrtReader()
    for item in read_routes(source, rd):
        if isinstance(item, RouteBatch):
            if item.safi == 1:
                table.add_batch(item, None if limit is None else limit - len(new))
        elif isinstance(item, Bgp4mpMessage) and item.data[18:19] == b"\x02":
            try:
                u = decode_message(item.data, opts[item.as4].symmetric(addpath[item.addpath]))
            except BgpError:
                continue
            if not isinstance(u, Update) or u.attrs is None or (u.errors and u.action >= 2):
                continue
            if u.nlri:
                table.add_update(1, u.nlri, u.attrs)
            r = u.mp_reach
            if r is not None and r.safi == 1 and r.afi in (1, 2) and r.nlri:
                table.add_update(r.afi, r.nlri, u.attrs)
            if limit is not None and len(new) > limit:
                for key in list(new)[limit:]:  # the table is in reading order
                    del new[key]
                table.replaced = True
        elif isinstance(item, MrtError):
            if item.truncated:  # all or nothing: no route has gone out yet
                from ..control import ControlError

                if not new:
                    raise ControlError(f"no unicast routes: {item.reason}")
                raise ControlError(f"{item.reason}; nothing injected")
            errors.append(item.reason)
        if limit is not None and len(new) >= limit:
            break
        if loop.time() >= turn:
            progress = {"phase": "read", "routes": len(new), "bytes": raw.tell(), "size": size}
            await reply.line(ok=True, chunk=[progress])
            await asyncio.sleep(0)
            turn = loop.time() + PROGRESS_EVERY
    if table.replaced:
        table.regroup()
    if not keep_next_hop:  # the RIB entries' own bytes, for the raw export
        table.raws = {id(v): k for k, v in rd.interner.by_raw.items()
                      if isinstance(v, AttrSet) and isinstance(k, bytes)}  # fmt: skip
    return table, errors


def _targets(speaker: Speaker) -> list[tuple[Peer, Any, set[int], str | None]]:
    """(peer, session, AFIs, local address) of every Established peer."""
    out = []
    for peer in speaker.peers.values():
        s, neg = peer.session, peer.session.negotiated
        if s.state != State.ESTABLISHED or neg is None or s.options is None:
            continue
        fams = {afi for afi, safi in set(neg.families) & set(peer.settings.families) if safi == 1}
        if fams:
            out.append((peer, s, fams, peer.local_ip(s)))
    return out


Group = tuple[int, AttrSet, list[int], bytes | None]
"""(AFI, template, prefixes, the file's attribute bytes or None)."""


async def _send(speaker: Speaker, groups: list[Group], total: int, reply: Reply) -> tuple[int, int]:
    """Send the groups to the peers Established now; returns (UPDATEs, peers).

    A peer that comes up meanwhile gets the whole run-time table in its initial dump.
    """
    targets = _targets(speaker)
    asn = speaker.config.global_.asn
    updates = sent = 0
    i = 0
    while i < len(groups):
        j, n = i, 0
        while j < len(groups) and n < SEND_SLICE:
            n += len(groups[j][2])
            j += 1
        for peer, s, fams, local_ip in targets:
            opts = s.options
            if peer.session is not s or s.state != State.ESTABLISHED or opts is None:
                continue  # reset: its new session's initial dump has every route
            ebgp = not peer.config.is_ibgp(asn)
            nh = ipaddress.ip_address(local_ip).packed if local_ip else None
            fast = opts.four_octet_as and nh is not None
            msgs: list[bytes] = []
            for afi, template, prefixes, raw in groups[i:j]:
                if afi not in fams:
                    continue
                block = None
                if fast and raw is not None and nh is not None:
                    if afi == 1 and len(nh) != 4:
                        continue  # RFC 8950 next hops: export_originated says no too
                    block = raw_export(raw, afi, ebgp, asn, nh)
                if block is not None:
                    msgs += encode_packed(afi, 1, block, None if afi == 1 else nh, prefixes,
                                          opts, ORIGINATE_PATH_ID)  # fmt: skip
                    continue
                attrs = speaker.export_originated(peer, afi, template, local_ip)
                if attrs is not None:
                    msgs += encode_announcements(afi, 1, attrs, prefixes, opts, ORIGINATE_PATH_ID)
            peer.send_encoded(b"".join(msgs), len(msgs))
            updates += len(msgs)
        sent += n
        i = j
        progress = {"phase": "send", "routes": sent, "total": total}
        await reply.line(ok=True, chunk=[progress])
        await _drained(speaker)
    return updates, len(targets)


_DROP = frozenset({3, 5, 9, 10, 14, 15})  # re-made for the peer, or not exported
_GIVE_UP = frozenset({17, 18})  # AS4_PATH / AS4_AGGREGATOR: as4_merge, on AttrSets


def raw_export(raw: bytes, afi: int, ebgp: bool, asn: int, next_hop: bytes) -> bytes | None:
    """``encode_attributes(export_originated(...))`` for a 4-octet-AS peer, on bytes.

    ``raw`` is the attribute block of a TABLE_DUMP_V2 RIB entry (4-octet ASNs, RFC
    6396 4.3.4).  The attributes are kept as they are, in their order, except: our AS
    goes first in AS_PATH towards eBGP; NEXT_HOP becomes ``next_hop`` (IPv4 routes;
    for the others it goes in MP_REACH_NLRI, made by ``encode_packed``); LOCAL_PREF
    goes to iBGP only (the file's, else 100); ORIGINATOR_ID, CLUSTER_LIST and the
    abbreviated MP_REACH_NLRI are dropped.  None (use the AttrSet path) for anything
    else: AS4_* attributes to merge, no AS_PATH, a full first segment, bad lengths.
    A differential test keeps the result equal to the AttrSet path's on canonical
    input.
    """
    out: list[bytes] = []
    i, n = 0, len(raw)
    lp = b"\x00\x00\x00\x64"
    nh_tlv = b"\x40\x03\x04" + next_hop if afi == 1 else b""
    nh_done, lp_done, path_done = afi != 1, ebgp, False
    while i < n:
        if i + 3 > n:
            return None
        flags, code = raw[i], raw[i + 1]
        if flags & 0x10:
            if i + 4 > n:
                return None
            vs = i + 4
            ve = vs + ((raw[i + 2] << 8) | raw[i + 3])
        else:
            vs = i + 3
            ve = vs + raw[i + 2]
        if ve > n or code in _GIVE_UP:
            return None
        if code == 5 and ve - vs == 4:
            lp = raw[vs:ve]
        if not nh_done and code > 3:
            out.append(nh_tlv)
            nh_done = True
        if not lp_done and code > 5:
            out.append(b"\x40\x05\x04" + lp)
            lp_done = True
        if code == 2:
            path_done = True
            if ebgp:
                v = raw[vs:ve]
                if v and v[0] == 2:
                    if len(v) < 2 or v[1] == 255:
                        return None
                    v = bytes((2, v[1] + 1)) + pack("!I", asn) + v[2:]
                else:
                    v = b"\x02\x01" + pack("!I", asn) + v
                m = len(v)
                ext = m > 255 or flags & 0x10
                head = bytes((flags | 0x10, 2)) + pack("!H", m) if ext else bytes((flags, 2, m))
                out.append(head + v)
                i = ve
                continue
        if code not in _DROP:
            out.append(raw[i:ve])
        i = ve
    if not path_done:
        return None
    if not nh_done:
        out.append(nh_tlv)
    if not lp_done:
        out.append(b"\x40\x05\x04" + lp)
    return b"".join(out)


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
