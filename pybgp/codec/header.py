"""The message header (RFC 4271 4.1) and stream framing.

How this works: every message starts with a 16-octet all-ones Marker, a 2-octet
Length (19..4096, or 65535 with RFC 8654) and a 1-octet Type.  ``Framer`` is the
sans-IO splitter: feed it bytes as they arrive and take whole messages out.
"""

from __future__ import annotations

from enum import IntEnum

from .errors import ErrorSubcode, header_error

__all__ = ["MessageType", "MARKER", "HEADER_LEN", "check_header", "Framer", "frame"]

MARKER = b"\xff" * 16
HEADER_LEN = 19
H = ErrorSubcode.Header


class MessageType(IntEnum):
    """IANA BGP Message Types."""

    OPEN = 1
    UPDATE = 2
    NOTIFICATION = 3
    KEEPALIVE = 4
    ROUTE_REFRESH = 5


_MIN_LEN = {1: 29, 2: 23, 3: 21, 4: 19, 5: 23}


def check_header(data: bytes | bytearray, offset: int = 0, max_len: int = 65535) -> tuple[int, int]:
    """Validate the header at ``offset``; return ``(length, type)``.

    Errors are RFC 4271 6.1 NOTIFICATIONs: Connection Not Synchronized, Bad Message
    Length (data: the length field), Bad Message Type (data: the type field).
    """
    if data[offset : offset + 16] != MARKER:
        raise header_error("marker is not all ones", H.CONNECTION_NOT_SYNCHRONIZED)
    length = (data[offset + 16] << 8) | data[offset + 17]
    mtype = data[offset + 18]
    if mtype not in _MIN_LEN:
        raise header_error(f"unknown message type {mtype}", H.BAD_MESSAGE_TYPE, bytes((mtype,)))
    if length < _MIN_LEN[mtype] or length > max_len or (mtype == 4 and length != 19):
        raise header_error(
            f"bad length {length} for message type {mtype}",
            H.BAD_MESSAGE_LENGTH,
            bytes(data[offset + 16 : offset + 18]),
        )
    return length, mtype


def frame(data: bytes, max_len: int = 65535) -> bytes:
    """Check that ``data`` is exactly one whole message of at most ``max_len``."""
    if len(data) < HEADER_LEN:
        raise header_error(
            f"message of {len(data)} octets is shorter than a header", H.BAD_MESSAGE_LENGTH
        )
    length, _ = check_header(data, 0, max_len)
    if length != len(data):
        raise header_error(
            f"length field {length} but {len(data)} octets",
            H.BAD_MESSAGE_LENGTH,
            data[16:18],
        )
    return data


class Framer:
    """Split a TCP byte stream into messages (sans-IO)."""

    def __init__(self, max_len: int = 4096) -> None:
        self.buffer = bytearray()
        self.max_len = max_len

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def messages(self) -> list[bytes]:
        """Whole messages received so far; raises ``BgpError`` on a bad header."""
        out = []
        buf = self.buffer
        i = 0
        while len(buf) - i >= HEADER_LEN:
            length, _ = check_header(buf, i, self.max_len)
            if len(buf) - i < length:
                break
            out.append(bytes(buf[i : i + length]))
            i += length
        if i:
            del buf[:i]
        return out
