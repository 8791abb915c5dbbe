"""TCP connections of the speaker: one asyncio Protocol per connection.

How this works: a :class:`Connection` moves bytes between one transport and one
:class:`~pybgp.fsm.Session` and reports the transport's state (made, lost, paused)
to its :class:`~pybgp.speaker.Peer`.  :class:`Acceptor` is what the listening socket
creates: it finds the configured Peer by the remote address (refusing anyone else),
applies GTSM, and hands over to a Connection.  Closing is a half-close that keeps
reading until the peer closes, so a NOTIFICATION is never lost to a TCP RST.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .heap import settle
from .transport import TransportError, normalize_address, set_gtsm

if TYPE_CHECKING:
    from .fsm import Session
    from .speaker import Peer, Speaker

__all__ = ["Connection", "Acceptor", "WRITE_HIGH", "WRITE_LOW", "READ_SIZE", "WRITE_LIMIT"]

WRITE_HIGH = 4 << 20  # pause the session above 4 MiB of unsent data (backpressure)
WRITE_LOW = 1 << 20
READ_SIZE = 32 << 10  # a full-table burst is decoded in slices of this size (bench/README.md)
WRITE_LIMIT = 64 << 20  # beyond this the connection is dropped (RFC 9687 also applies)


class Connection(asyncio.Protocol):
    """Moves bytes between one TCP connection and one Session."""

    def __init__(self, peer: Peer, session: Session) -> None:
        self.peer = peer
        self.session = session
        self.transport: asyncio.Transport | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)
        if hasattr(transport, "max_size"):  # smaller reads: timers run between them
            transport.max_size = READ_SIZE
        self.peer.attached(self)

    def data_received(self, data: bytes) -> None:
        if not self.closing:  # after a NOTIFICATION the rest is read and dropped
            self.session.data_received(data, self.peer.now())
            self.peer.pump(self.session)
            settle(self.peer.speaker.routing.flush())

    def eof_received(self) -> bool | None:
        if self.closing and self.transport is not None:
            self.transport.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.peer.detached(self, exc)

    def pause_writing(self) -> None:
        self.session.write_blocked(self.peer.now())
        self.peer.pump(self.session)

    def resume_writing(self) -> None:
        self.session.write_unblocked(self.peer.now())
        self.peer.pump(self.session)

    def close(self) -> None:
        """Close after what is buffered (a NOTIFICATION) has left.

        The write side is shut first and the socket kept reading until the peer
        closes (or 2 s): closing a socket with unread data sends a TCP RST, and a peer
        that receives an RST drops the NOTIFICATION it had not read yet.
        """
        if self.closing or self.transport is None:
            self.closing = True
            return
        self.closing = True
        t = self.transport
        if t.can_write_eof():
            try:
                t.write_eof()  # FIN after the buffered data
            except OSError:  # the peer is already gone
                t.close()
                return
            self.peer.loop.call_later(2.0, t.close)
        else:
            t.close()

    lost = False


class Acceptor(asyncio.Protocol):
    """Waits for the peer's address, then hands the transport to its Peer."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.conn: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        name = transport.get_extra_info("peername")
        address = normalize_address(name[0]) if name else "?"
        peer = self.speaker.peers.get(address)
        if peer is None:
            self.speaker.log.emit("rejected", address=address, reason="not a configured neighbor")
            transport.abort()
            return
        if peer.config.ttl_security:
            sock = transport.get_extra_info("socket")
            try:
                set_gtsm(sock)
            except TransportError as exc:
                peer.log.emit("gtsm-error", peer=address, error=str(exc))
        session = peer.incoming()
        if session is None:
            peer.log.emit("rejected", address=address, reason="session already established")
            transport.abort()
            return
        self.conn = Connection(peer, session)
        self.conn.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.conn.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self.conn.eof_received() if self.conn is not None else None

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.conn.pause_writing()

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.conn.resume_writing()
