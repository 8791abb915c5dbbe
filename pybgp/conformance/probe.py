"""The test peer: one raw TCP connection to the target that sends crafted bytes.

How this works: a :class:`Probe` is deliberately not a BGP speaker.  It opens one
TCP connection from a given local address to the target (and only the target), sends
whatever bytes a check gives it, and reads back whole messages with the project's
header check and decoder in a background task.  It keeps a log of what arrived (with
times), the last NOTIFICATION, whether the connection closed, and a small Adj-RIB-In
(``rib``: ``(afi, prefix, path id) -> AttrSet``) built from the UPDATEs it decoded, with
the End-of-RIB, BoRR and EoRR markers it saw.  While ``keepalives`` is on it sends a
KEEPALIVE every second, so that a session stays up while a check watches it.

``establish`` runs the OPEN exchange (RFC 4271 8.2.2: OPEN, OPEN, KEEPALIVE,
KEEPALIVE) and negotiates the codec options with the codec's own
``negotiate_options``.  Nothing here decides pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..codec.attributes import AttrSet
from ..codec.errors import BgpError
from ..codec.message import Keepalive, decode_message, encode_message
from ..codec.notification import Notification
from ..codec.open import Open, negotiate_options
from ..codec.options import SessionOptions
from ..codec.refresh import RouteRefresh
from ..codec.update import Update

__all__ = ["Probe", "ProbeError", "Target", "Received"]


class ProbeError(Exception):
    """The session could not be set up (refused, closed, NOTIFICATION, timeout)."""


@dataclass(frozen=True, slots=True)
class Target:
    address: str
    port: int = 179
    asn: int = 0


@dataclass(frozen=True, slots=True)
class Received:
    at: float
    kind: str
    """"open", "keepalive", "update", "notification", "refresh", "eor", "bad", "closed"."""
    value: object = None


@dataclass
class Probe:
    target: Target
    local: str
    name: str = "probe"
    reader: asyncio.StreamReader | None = field(default=None, repr=False)
    writer: asyncio.StreamWriter | None = field(default=None, repr=False)
    log: list[Received] = field(default_factory=list)
    notification: Notification | None = None
    closed: bool = False
    peer_open: Open | None = None
    local_open: Open | None = None
    options: SessionOptions = field(default_factory=SessionOptions)
    established: bool = False
    keepalives: bool = True
    rib: dict[tuple[int, int, int], AttrSet] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ transport
    async def connect(self, timeout: float) -> None:
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.target.address, self.target.port, local_addr=(self.local, 0)
                ),
                timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise ProbeError(
                f"cannot connect to {self.target.address}: {exc or 'timeout'}"
            ) from None
        self._tasks.append(asyncio.create_task(self._read_loop()))

    def send(self, data: bytes) -> None:
        if self.writer is None or self.closed:
            return
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.write(data)

    async def drain(self) -> None:
        if self.writer is not None and not self.closed:
            with contextlib.suppress(OSError, RuntimeError, ConnectionError):
                await self.writer.drain()

    async def close(self, notification: bytes | None = None) -> None:
        """Send ``notification`` (if still connected), then close and stop the tasks."""
        if notification is not None and not self.closed:
            self.send(notification)
            await self.drain()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        self.closed = True

    async def abort(self) -> None:
        """Drop the connection without a NOTIFICATION (RST), as a crashed speaker does."""
        if self.writer is not None:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                import socket
                import struct

                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self.close()

    # ------------------------------------------------------------------ reading
    async def _read_loop(self) -> None:
        assert self.reader is not None
        try:
            while True:
                head = await self.reader.readexactly(19)
                length = (head[16] << 8) | head[17]
                body = await self.reader.readexactly(max(0, length - 19))
                self._received(head + body)
        except (asyncio.IncompleteReadError, OSError, ConnectionError):
            pass
        self.closed = True
        self.established = False
        self.log.append(Received(time.monotonic(), "closed"))

    def _received(self, raw: bytes) -> None:
        now = time.monotonic()
        try:
            msg = decode_message(raw, self.options)
        except BgpError as exc:
            self.log.append(Received(now, "bad", exc))
            return
        if isinstance(msg, Keepalive):
            self.log.append(Received(now, "keepalive"))
        elif isinstance(msg, Open):
            self.peer_open = msg
            self.log.append(Received(now, "open", msg))
        elif isinstance(msg, Notification):
            self.notification = msg
            self.log.append(Received(now, "notification", msg))
        elif isinstance(msg, RouteRefresh):
            self.log.append(Received(now, "refresh", msg))
        else:
            self._update(msg, now)

    def _update(self, u: Update, now: float) -> None:
        eor = u.end_of_rib
        if eor is not None:
            self.log.append(Received(now, "eor", eor))
            return
        self.log.append(Received(now, "update", u))
        for i, p in enumerate(u.withdrawn):
            self.rib.pop((1, p, u.withdrawn_ids[i] if u.withdrawn_ids else 0), None)
        if u.mp_unreach is not None:
            m = u.mp_unreach
            for i, p in enumerate(m.withdrawn):
                self.rib.pop((m.afi, p, m.path_ids[i] if m.path_ids else 0), None)
        if u.errors:
            self.log.append(Received(now, "bad", u.errors[0]))
        if u.errors or u.attrs is None:
            for i, p in enumerate(u.nlri):  # a malformed one: what we saw is withdrawn
                self.rib.pop((1, p, u.nlri_ids[i] if u.nlri_ids else 0), None)
            return
        for i, p in enumerate(u.nlri):
            self.rib[(1, p, u.nlri_ids[i] if u.nlri_ids else 0)] = u.attrs
        if u.mp_reach is not None:
            r = u.mp_reach
            for i, p in enumerate(r.nlri):
                self.rib[(r.afi, p, r.path_ids[i] if r.path_ids else 0)] = u.attrs

    async def _keepalive_loop(self) -> None:
        while not self.closed:
            await asyncio.sleep(1.0)
            if self.keepalives and not self.closed:
                self.send(encode_message(Keepalive()))

    # ------------------------------------------------------------------ queries
    def paths(self, prefix: int, afi: int = 1) -> dict[int, AttrSet]:
        """The paths of ``prefix`` this probe holds, by path id."""
        return {pid: a for (f, p, pid), a in self.rib.items() if f == afi and p == prefix}

    def since(self, mark: int, kind: str | None = None) -> list[Received]:
        return [r for r in self.log[mark:] if kind is None or r.kind == kind]

    async def wait(self, pred: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
        """Poll ``pred`` until true or ``timeout``; true if it became true."""
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(step)

    async def wait_message(
        self, mark: int, kinds: tuple[str, ...], timeout: float
    ) -> Received | None:
        found: list[Received] = []

        def pred() -> bool:
            found[:] = [r for r in self.log[mark:] if r.kind in kinds]
            return bool(found)

        await self.wait(pred, timeout)
        return found[0] if found else None

    async def wait_reset(self, timeout: float) -> bool:
        """Wait for a NOTIFICATION or a close; true if one came."""
        return await self.wait(lambda: self.closed or self.notification is not None, timeout)

    # ------------------------------------------------------------------ sessions
    async def establish(
        self, our_open: Open, timeout: float, raw_open: bytes | None = None
    ) -> Open:
        """OPEN exchange up to Established; ``ProbeError`` says why it did not get there."""
        self.local_open = our_open
        self.send(raw_open if raw_open is not None else encode_message(our_open))
        got = await self.wait_message(0, ("open", "notification", "closed"), timeout)
        if got is None or got.kind != "open":
            raise ProbeError(self._why("no OPEN from the target", got))
        assert self.peer_open is not None
        self.options = negotiate_options(our_open, self.peer_open)
        self.send(encode_message(Keepalive()))
        mark = len(self.log)
        got = await self.wait_message(
            mark, ("keepalive", "notification", "closed", "update"), timeout
        )
        if got is None or got.kind not in ("keepalive", "update"):
            raise ProbeError(self._why("no KEEPALIVE after the OPENs", got))
        self.established = True
        self._tasks.append(asyncio.create_task(self._keepalive_loop()))
        return self.peer_open

    def _why(self, default: str, got: Received | None) -> str:
        if got is not None and got.kind == "notification":
            from .check import describe_notification

            assert isinstance(got.value, Notification)
            return "target sent " + describe_notification(got.value)
        if got is not None and got.kind == "closed":
            return "target closed the connection"
        return default
