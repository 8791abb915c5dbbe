"""The control API: a versioned JSON-lines protocol on a Unix socket, served by every daemon.

How this works: :class:`ControlServer` listens on ``[control] socket`` (mode 0600, its
directory created 0700; a stale socket file is removed only when nothing answers on
it).  Each line a client sends is one request ``{"v": 1, "id": N, "cmd": "...",
"args": {...}}``.  The answer is either one line ``{"v": 1, "id": N, "ok": true,
"data": ...}``, or a stream of ``{"v": 1, "id": N, "ok": true, "chunk": [...]}`` lines
closed by ``{"v": 1, "id": N, "ok": true, "done": true}``, or one error line
``{"v": 1, "id": N, "ok": false, "error": "..."}``.  A bad request (not JSON, unknown
command, bad argument, unknown peer or prefix) gets an error line; nothing a client
sends can stop the server.

The queries (``neighbor_dict``, ``rib_rows``...) only read the Speaker; the actions
(``neighbor.reset``...) use the Peer's own start/stop.  Long answers are generators
that the server drains :data:`CHUNK` items at a time, waiting for the socket
(``drain``) and yielding to the event loop between chunks, so that keepalives and
UPDATEs keep flowing while a full table is dumped.  Tables are snapshotted (a list of
immutable selections) before the first chunk, so a dump is consistent even as the RIB
changes under it.  The protocol is documented in docs/control.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rib.decision import Selection

from .codec.attributes import AttrSet
from .codec.communities import parse_community, parse_large
from .codec.nlri import afi_bits, format_prefix, parse_prefix
from .config import FAMILIES, ORIGINS
from .events import State
from .render import attrs_dict, ip_text
from .routing import ORIGINATE_PATH_ID

if TYPE_CHECKING:
    from .metrics import MetricsServer
    from .speaker import Peer, Speaker

from .mrt.inject import mrt_inject
from .mrt.live import mrt_dump

__all__ = [
    "VERSION",
    "CHUNK",
    "COMMANDS",
    "ControlError",
    "Reply",
    "ExtraHandler",
    "ControlServer",
    "neighbor_dict",
    "rib_rows",
    "rib_summary",
]

VERSION = 1
CHUNK = 2000
"""Items per streamed chunk (and per MRT write); the event loop runs between chunks."""
MAX_LINE = 1 << 20
FAMILY_NAMES = {v: k for k, v in FAMILIES.items()}
AFI_NAMES = {"ipv4": 1, "ipv6": 2}
_RIB_SUBTYPE = {1: 2, 2: 4}
"""TABLE_DUMP_V2 RIB_IPV4_UNICAST / RIB_IPV6_UNICAST (RFC 6396 4.3); +6 for ADD-PATH."""


class ControlError(Exception):
    """A request that cannot be served: the message goes back in an error line."""


# ---------------------------------------------------------------------- queries


def _family(afi: int, safi: int) -> str:
    return FAMILY_NAMES.get((afi, safi), f"{afi}/{safi}")


def _attrs(attrs: AttrSet) -> dict[str, Any]:
    d = attrs_dict(attrs)
    if attrs.mp_next_hop is not None:  # as `pybgp decode` shows it
        d["next_hop"] = ip_text(attrs.mp_next_hop[:16])
    return d


def neighbor_dict(speaker: Speaker, peer: Peer, detail: bool = False) -> dict[str, Any]:
    """One neighbor: session state, negotiated capabilities and route counts."""
    s = peer.session
    up = peer.established_at
    d: dict[str, Any] = {
        "address": peer.address,
        "remote_as": peer.config.remote_as,
        "description": peer.config.description,
        "state": s.state.name,
        "admin_down": peer.config.shutdown,
        "uptime": round(speaker.loop.time() - up, 3) if up is not None else None,
        "received": len(peer.adj_rib_in),
        "accepted": _accepted(speaker, peer),
        "sent": _out_size(speaker, peer),
        "updates_sent": peer.sent,
        "last_error": peer.last_error,
    }
    neg, opts = s.negotiated, s.options
    if s.state == State.ESTABLISHED and neg is not None and opts is not None:
        d["remote_id"] = str(ipaddress.IPv4Address(s.peer_open.bgp_id)) if s.peer_open else None
        d["capabilities"] = {
            "four_octet_as": opts.four_octet_as,
            "add_path": {
                "rx": sorted(_family(*f) for f in opts.addpath_rx),
                "tx": sorted(_family(*f) for f in opts.addpath_tx),
            },
            "graceful_restart": neg.graceful_restart,
            "route_refresh": neg.route_refresh,
            "enhanced_route_refresh": neg.enhanced_route_refresh,
            "extended_message": opts.extended_message,
            "families": sorted(_family(*f) for f in neg.families),
            "hold_time": neg.hold_time,
        }
    else:
        d["capabilities"] = None
    if detail:
        c = peer.config
        d["config"] = {
            "port": c.port,
            "local_address": c.local_address,
            "passive": c.passive,
            "hold_time": c.hold_time,
            "families": list(c.families),
            "route_reflector_client": c.route_reflector_client,
            "add_path": c.add_path,
            "max_prefixes": c.max_prefixes,
        }
        d["stale"] = peer.stale
    return d


def _accepted(speaker: Speaker, peer: Peer) -> int:
    info = peer.info
    if info is None:
        return 0
    rib = speaker.routing.rib
    return sum(len(rib.adj_rib_in(info, afi, safi, True)) for afi, safi in rib.families())


def _out_size(speaker: Speaker, peer: Peer) -> int:
    out = speaker.routing.outs.get(peer.info) if peer.info is not None else None
    return len(out) if out is not None else 0


def rib_summary(speaker: Speaker) -> dict[str, Any]:
    """Prefixes and paths per family, and each neighbor's counts."""
    rib = speaker.routing.rib
    families = {}
    for afi, safi in rib.families():
        prefixes = paths = 0
        for _, sel in rib.loc_rib(afi, safi):
            prefixes += 1
            paths += len(sel.ranked)
        families[_family(afi, safi)] = {"prefixes": prefixes, "paths": paths}
    peers = [
        {
            "address": p.address,
            "state": p.session.state.name,
            "received": len(p.adj_rib_in),
            "accepted": _accepted(speaker, p),
            "sent": _out_size(speaker, p),
        }
        for p in speaker.peers.values()
    ]
    return {"families": families, "peers": peers}


class RibQuery:
    """Checked ``rib`` arguments: which table, which family, which prefixes."""

    def __init__(self, speaker: Speaker, args: dict[str, Any]) -> None:
        _only(args, {"prefix", "longer", "family", "peer", "direction", "post_policy"})
        self.longer = _flag(args, "longer")
        self.post_policy = _flag(args, "post_policy")
        fam = args.get("family")
        if fam is not None and fam not in AFI_NAMES:
            raise ControlError(f"family must be 'ipv4' or 'ipv6', not {fam!r}")
        self.afi: int | None = AFI_NAMES[fam] if fam is not None else None
        self.prefix: int | None = None
        text = args.get("prefix")
        if text is not None:
            if not isinstance(text, str):
                raise ControlError("prefix must be a string")
            try:
                afi, self.prefix = parse_prefix(text)
            except ValueError as exc:
                raise ControlError(str(exc)) from None
            if self.afi is not None and self.afi != afi:
                raise ControlError(f"prefix {text} is not in family {fam}")
            self.afi = afi
        if self.longer and self.prefix is None:
            raise ControlError("longer needs a prefix")
        self.direction = args.get("direction")
        if self.direction not in (None, "in", "out"):
            raise ControlError(f"direction must be 'in' or 'out', not {self.direction!r}")
        self.peer: Peer | None = None
        if args.get("peer") is not None:
            self.peer = _peer(speaker, args["peer"])
        if self.direction is not None and self.peer is None:
            raise ControlError(f"direction {self.direction!r} needs a peer")
        if self.post_policy and self.direction != "in":
            raise ControlError("post_policy applies to direction 'in' only")

    def matches(self, afi: int, prefix: int) -> bool:
        if self.afi is not None and afi != self.afi:
            return False
        q = self.prefix
        if q is None:
            return True
        if not self.longer:
            return prefix == q
        qlen, plen, bits = q & 0xFF, prefix & 0xFF, afi_bits(afi)
        shift = bits - qlen
        return plen >= qlen and (prefix >> 8) >> shift == (q >> 8) >> shift


def _row(
    afi: int, safi: int, prefix: int, path_id: int, attrs: AttrSet, peer: str | None
) -> dict[str, Any]:
    return {
        "prefix": format_prefix(prefix, afi),
        "family": _family(afi, safi),
        "path_id": path_id,
        "peer": peer,
        "attributes": _attrs(attrs),
    }


def _loc_rows(afi: int, safi: int, prefix: int, sel: Selection) -> Iterator[dict[str, Any]]:
    reason = sel.reason.label
    for i, r in enumerate(sel.ranked):
        row = _row(afi, safi, prefix, r.path_id, r.attrs, r.peer.address)
        row.update(best=i == 0, ecmp=i < sel.n_ecmp, reason=reason)
        yield row


def rib_rows(speaker: Speaker, q: RibQuery) -> Iterator[dict[str, Any]]:
    """The routes ``q`` asks for, one dict per path, prefixes in order.

    The tables are copied when the generator starts, so it can be drained across
    event loop iterations while the RIB changes.
    """
    rib = speaker.routing.rib
    families = sorted({f for f in rib.families()} | {f for f in _peer_families(speaker, q.peer)})
    for afi, safi in families:
        if q.afi is not None and afi != q.afi:
            continue
        if q.peer is None or q.direction is None:
            if q.prefix is not None and not q.longer:
                sel = rib.selection(afi, safi, q.prefix)
                snap: list[tuple[int, Selection]] = [(q.prefix, sel)] if sel.ranked else []
            else:
                snap = sorted(rib.loc_rib(afi, safi))
            for prefix, sel in snap:
                if not q.matches(afi, prefix):
                    continue
                rows = _loc_rows(afi, safi, prefix, sel)
                if q.peer is not None:  # the Loc-RIB paths learned from one peer
                    info = q.peer.info
                    rows = (row for row, r in zip(rows, sel.ranked, strict=True) if r.peer is info)
                yield from rows
            continue
        table = _peer_table(speaker, q.peer, q.direction, q.post_policy, afi, safi)
        for (prefix, pid), attrs in sorted(table, key=lambda t: t[0]):
            if q.matches(afi, prefix):
                yield _row(afi, safi, prefix, pid, attrs, q.peer.address)


def _peer_families(speaker: Speaker, peer: Peer | None) -> set[tuple[int, int]]:
    if peer is None:
        return set()
    fams = set(peer.adj_rib_in.family_counts())
    neg = peer.session.negotiated
    if neg is not None:
        fams |= set(neg.families)
    return fams


def _peer_table(
    speaker: Speaker, peer: Peer, direction: str, post: bool, afi: int, safi: int
) -> list[tuple[tuple[int, int], AttrSet]]:
    info = peer.info
    if direction == "out":
        out = speaker.routing.outs.get(info) if info is not None else None
        return list(out.table(afi, safi).items()) if out is not None else []
    if post:
        if info is None:
            return []
        return list(speaker.routing.rib.adj_rib_in(info, afi, safi, True).items())
    return [
        ((k[2], k[3]), attrs)
        for k, attrs in list(peer.adj_rib_in.items())
        if k[0] == afi and k[1] == safi
    ]


# ---------------------------------------------------------------------- arguments


def _only(args: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(args) - allowed)
    if extra:
        raise ControlError(f"unknown argument {extra[0]!r}")


def _flag(args: dict[str, Any], key: str) -> bool:
    value = args.get(key, False)
    if not isinstance(value, bool):
        raise ControlError(f"{key} must be true or false")
    return value


def _peer(speaker: Speaker, address: Any) -> Peer:
    if not isinstance(address, str):
        raise ControlError("peer must be an address string")
    try:
        key = str(ipaddress.ip_address(address.strip()))
    except ValueError:
        raise ControlError(f"not an IP address: {address!r}") from None
    peer = speaker.peers.get(key)
    if peer is None:
        raise ControlError(f"no such neighbor: {key}")
    return peer


# ---------------------------------------------------------------------- the server

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Reply:
    """Writes the answer lines of one request."""

    def __init__(self, writer: asyncio.StreamWriter, rid: Any) -> None:
        self.writer = writer
        self.rid = rid

    async def line(self, **fields: Any) -> None:
        doc = {"v": VERSION, "id": self.rid, **fields}
        self.writer.write(json.dumps(doc, separators=(",", ":"), default=str).encode() + b"\n")
        await self.writer.drain()

    async def data(self, data: Any) -> None:
        await self.line(ok=True, data=data)

    async def error(self, message: str) -> None:
        await self.line(ok=False, error=message)

    async def stream(self, items: Iterator[Any]) -> int:
        """Chunks of CHUNK items, the loop running between them, then ``done``."""
        count = 0
        chunk: list[Any] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= CHUNK:
                count += len(chunk)
                await self.line(ok=True, chunk=chunk)
                chunk = []
                await asyncio.sleep(0)
        if chunk:
            count += len(chunk)
            await self.line(ok=True, chunk=chunk)
        await self.line(ok=True, done=True)
        return count


Handler = Callable[["ControlServer", dict[str, Any], Reply], Awaitable[None]]
ExtraHandler = Callable[[dict[str, Any], Reply], Awaitable[None]]


class ControlServer:
    """Serves the control API of ``speaker`` on the Unix socket ``path``."""

    def __init__(self, speaker: Speaker, path: str) -> None:
        self.speaker = speaker
        self.path = path
        self.server: asyncio.AbstractServer | None = None
        self.clients: set[asyncio.Task[None]] = set()
        self.metrics: MetricsServer | None = None
        self.extra: dict[str, ExtraHandler] = {}
        """Commands a daemon adds (``pybgp lbnode``'s ``vips``...): name -> handler."""

    async def start(self) -> None:
        """Listen; ``OSError`` if another process serves the path or it cannot be made."""
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.lexists(self.path):
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise OSError(f"{self.path} exists and is not a socket")
            if _listening(self.path):
                raise OSError(f"{self.path} is in use by another process")
            os.unlink(self.path)  # stale: left by a daemon that died
        old = os.umask(0o177)  # the socket is born 0600: no window with wider access
        try:
            self.server = await asyncio.start_unix_server(
                self._client, path=self.path, limit=MAX_LINE
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self.speaker.log.emit("control-listening", socket=self.path)
        cfg = self.speaker.config.control
        if cfg.metrics_port is not None:  # [control] metrics_port: Prometheus /metrics
            from .metrics import MetricsServer

            self.metrics = MetricsServer(self.speaker, cfg.metrics_address, cfg.metrics_port)
            await self.metrics.start()

    async def stop(self) -> None:
        if self.metrics is not None:
            await self.metrics.stop()
        if self.server is not None:
            self.server.close()
        for task in list(self.clients):
            task.cancel()
        for task in list(self.clients):
            with contextlib.suppress(BaseException):
                await task
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.clients.add(task)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # a line over MAX_LINE
                    await Reply(writer, None).error(f"request longer than {MAX_LINE} octets")
                    break
                if not raw:
                    break
                if raw.strip():
                    await self.handle(raw, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self.clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def handle(self, raw: bytes, writer: asyncio.StreamWriter) -> None:
        """Answer one request line."""
        try:
            req = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await Reply(writer, None).error("request is not JSON")
            return
        if not isinstance(req, dict):
            await Reply(writer, None).error("request must be a JSON object")
            return
        reply = Reply(writer, req.get("id"))
        if req.get("v", VERSION) != VERSION:
            await reply.error(f"unsupported protocol version {req.get('v')!r} (this is {VERSION})")
            return
        cmd, args = req.get("cmd"), req.get("args", {})
        handler = COMMANDS.get(cmd) if isinstance(cmd, str) else None
        extra = self.extra.get(cmd) if isinstance(cmd, str) else None
        if handler is None and extra is None:
            known = ", ".join(sorted([*COMMANDS, *self.extra]))
            await reply.error(f"unknown command {cmd!r}; known: {known}")
            return
        if not isinstance(args, dict):
            await reply.error("args must be a JSON object")
            return
        try:
            if extra is not None:
                await extra(args, reply)
            elif handler is not None:
                await handler(self, args, reply)
        except ControlError as exc:
            await reply.error(str(exc))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug must not take the daemon down
            self.speaker.log.emit("control-error", command=cmd, error=repr(exc))
            await reply.error(f"internal error: {exc!r}")

    # ------------------------------------------------------------------ commands
    async def cmd_neighbors(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, set())
        sp = self.speaker
        await reply.data([neighbor_dict(sp, p) for p in list(sp.peers.values())])

    async def cmd_neighbor(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"peer"})
        await reply.data(neighbor_dict(self.speaker, _peer(self.speaker, args.get("peer")), True))

    async def cmd_reset(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"peer", "message"})
        peer = _peer(self.speaker, args.get("peer"))
        message = _message(args, "reset by the operator")
        if peer.config.shutdown:
            raise ControlError(f"{peer.address} is shut down: use neighbor.enable")
        peer.stop(message, reset=True)  # Cease/Administrative Reset (RFC 4486)
        peer.start()
        self.speaker.log.emit("control-reset", peer=peer.address)
        await reply.data({"peer": peer.address, "action": "reset"})

    async def cmd_shutdown(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"peer", "message"})
        peer = _peer(self.speaker, args.get("peer"))
        message = _message(args, "")
        # kept down (incoming connections refused) until neighbor.enable or a reload
        peer.config = replace(peer.config, shutdown=True)
        peer.stop(message)  # Cease/Administrative Shutdown with the RFC 9003 message
        self.speaker.log.emit("control-shutdown", peer=peer.address, message=message)
        await reply.data({"peer": peer.address, "action": "shutdown"})

    async def cmd_enable(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"peer"})
        peer = _peer(self.speaker, args.get("peer"))
        was = peer.config.shutdown
        if was:
            peer.config = replace(peer.config, shutdown=False)
            peer.start()
            self.speaker.log.emit("control-enable", peer=peer.address)
        await reply.data({"peer": peer.address, "action": "enable", "changed": was})

    async def cmd_refresh(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"peer", "direction"})
        peer = _peer(self.speaker, args.get("peer"))
        direction = args.get("direction")
        if direction not in ("in", "out"):
            raise ControlError("direction must be 'in' or 'out'")
        s, neg = peer.session, peer.session.negotiated
        if s.state != State.ESTABLISHED or neg is None:
            raise ControlError(f"{peer.address} is not Established")
        families = sorted(neg.families)
        if direction == "in":  # RFC 2918: ask the peer to send its routes again
            if not neg.route_refresh:
                raise ControlError(f"{peer.address} did not advertise Route Refresh")
            for afi, safi in families:
                s.send_route_refresh(afi, safi)
            peer.pump(s)
        else:  # re-send what we announce: as on a ROUTE-REFRESH from the peer
            for fam in families:
                peer.announce(s, fam)
        self.speaker.log.emit("control-refresh", peer=peer.address, direction=direction)
        fams = [_family(*f) for f in families]
        await reply.data({"peer": peer.address, "action": "refresh", "direction": direction,
                          "families": fams})  # fmt: skip

    async def cmd_rib(self, args: dict[str, Any], reply: Reply) -> None:
        q = RibQuery(self.speaker, args)
        if q.prefix is not None and not q.longer:
            rows = list(rib_rows(self.speaker, q))
            if not rows:
                raise ControlError(f"prefix {format_prefix(q.prefix, q.afi or 1)} not found")
            await reply.stream(iter(rows))
            return
        await reply.stream(rib_rows(self.speaker, q))

    async def cmd_rib_summary(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, set())
        await reply.data(rib_summary(self.speaker))

    async def cmd_mrt_dump(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"path"})
        path = args.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ControlError("path must be an absolute file name")
        if not os.path.isdir(os.path.dirname(path)):
            raise ControlError(f"no such directory: {os.path.dirname(path)}")
        try:
            stats = await mrt_dump(self.speaker, path)
        except OSError as exc:
            raise ControlError(f"cannot write {path}: {exc.strerror or exc}") from None
        await reply.data(stats)

    async def cmd_routes_announce(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"prefix", "next_hop", "communities", "large_communities", "med",
                     "local_pref", "as_path", "origin"})  # fmt: skip
        sp = self.speaker
        key, text = _route_key(sp, args.get("prefix"))
        template = route_template(key[0], args)
        peers = sp.originate({key: template})
        sp.log.emit("control-announce", prefix=text, peers=peers)
        await reply.data({"prefix": text, "action": "announce", "peers": peers})

    async def cmd_routes_withdraw(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"prefix"})
        sp = self.speaker
        key, text = _route_key(sp, args.get("prefix"))
        if key not in sp.runtime:
            raise ControlError(f"{text} is not announced")
        peers = sp.withdraw([key])
        sp.log.emit("control-withdraw", prefix=text, peers=peers)
        await reply.data({"prefix": text, "action": "withdraw", "peers": peers})

    async def cmd_routes_list(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, set())
        snap = list(self.speaker.runtime.items())
        await reply.stream(_row(afi, 1, p, ORIGINATE_PATH_ID, a, None) for (afi, p), a in snap)

    async def cmd_mrt_inject(self, args: dict[str, Any], reply: Reply) -> None:
        _only(args, {"path", "limit", "keep_next_hop"})
        path = args.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ControlError("path must be an absolute file name")
        limit = args.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ControlError("limit must be a positive integer")
        keep = _flag(args, "keep_next_hop")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ControlError(f"cannot read {path}: {exc.strerror or exc}") from None
        with raw:
            try:
                await mrt_inject(self.speaker, raw, limit, keep, reply)
            except ControlError as exc:
                raise ControlError(f"{path}: {exc}") from None
            except (OSError, EOFError) as exc:  # a truncated gzip, say
                raise ControlError(f"cannot read {path}: {exc}") from None


def _route_key(speaker: Speaker, text: Any) -> tuple[tuple[int, int], str]:
    """(AFI, prefix key) of a run-time route, and its canonical text."""
    if not isinstance(text, str):
        raise ControlError("prefix must be a string")
    try:
        afi, prefix = parse_prefix(text)
        ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise ControlError(f"not a prefix (or host bits set): {text!r}") from None
    canonical = format_prefix(prefix, afi)
    if "/" not in text:
        raise ControlError(f"{text!r} has no length; did you mean {canonical!r}?")
    if any(o.afi == afi and o.nlri == prefix for o in speaker.config.originate):
        raise ControlError(f"{canonical} is configured in [[originate]]")
    owner = speaker.owned.get((afi, prefix))
    if owner is not None:
        raise ControlError(f"{canonical} is managed by {owner}")
    return (afi, prefix), canonical


def route_template(afi: int, args: dict[str, Any]) -> AttrSet:
    """The stored attributes of an operator route (see ``Speaker.export_originated``)."""
    nh: bytes | None = None
    text = args.get("next_hop")
    if text is not None:
        try:
            addr = ipaddress.ip_address(str(text).strip())
        except ValueError:
            raise ControlError(f"not an IP address: {text!r}") from None
        if addr.version != (4 if afi == 1 else 6):
            want = 4 if afi == 1 else 6
            raise ControlError(f"an IPv{want} prefix needs an IPv{want} next hop, not {addr}")
        nh = addr.packed
    try:
        communities = tuple(parse_community(c) for c in _strings(args, "communities"))
        large = tuple(parse_large(c) for c in _strings(args, "large_communities"))
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    path = tuple(_u32(args, "as_path", x) for x in _list(args, "as_path"))
    origin = args.get("origin", "igp")
    if origin not in ORIGINS:
        raise ControlError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    return AttrSet(
        origin=int(ORIGINS[origin]),
        as_path=((2, path),) if path else (),
        med=_u32(args, "med", args.get("med")),
        local_pref=_u32(args, "local_pref", args.get("local_pref")),
        communities=communities,
        large_communities=large,
        next_hop=nh if afi == 1 else None,
        mp_next_hop=nh if afi == 2 else None,
    )


def _list(args: dict[str, Any], key: str) -> list[Any]:
    value = args.get(key, [])
    if not isinstance(value, list):
        raise ControlError(f"{key} must be a list")
    return value


def _strings(args: dict[str, Any], key: str) -> list[str]:
    value = _list(args, key)
    if not all(isinstance(v, str) for v in value):
        raise ControlError(f"{key} must be a list of strings")
    return value


def _u32(args: dict[str, Any], key: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
        raise ControlError(f"{key} must be an integer from 0 to 4294967295, not {value!r}")
    return value


def _message(args: dict[str, Any], default: str) -> str:
    message = args.get("message", default)
    if not isinstance(message, str):
        raise ControlError("message must be a string")
    if len(message.encode()) > 255:  # RFC 9003 2: at most 255 octets of UTF-8
        raise ControlError("message is over 255 octets of UTF-8 (RFC 9003)")
    return message


def _listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
        return True


COMMANDS: dict[str, Handler] = {
    "neighbors": ControlServer.cmd_neighbors,
    "neighbor": ControlServer.cmd_neighbor,
    "neighbor.reset": ControlServer.cmd_reset,
    "neighbor.shutdown": ControlServer.cmd_shutdown,
    "neighbor.enable": ControlServer.cmd_enable,
    "neighbor.refresh": ControlServer.cmd_refresh,
    "rib": ControlServer.cmd_rib,
    "rib.summary": ControlServer.cmd_rib_summary,
    "mrt.dump": ControlServer.cmd_mrt_dump,
    "mrt.inject": ControlServer.cmd_mrt_inject,
    "routes.announce": ControlServer.cmd_routes_announce,
    "routes.withdraw": ControlServer.cmd_routes_withdraw,
    "routes.list": ControlServer.cmd_routes_list,
}
"""Command name -> handler; an unknown name gets an error naming these."""


# ---------------------------------------------------------------------- MRT
