"""Whole messages: header + body, one entry point each way.

How this works: ``decode_message`` checks the header (RFC 4271 6.1) and dispatches on
the type; ``encode_message`` does the reverse and refuses a message longer than the
session allows (4096, or 65535 with RFC 8654).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import pack

from .attributes import Interner
from .errors import BgpError, ErrorSubcode, NotificationCode
from .header import HEADER_LEN, MARKER, MessageType, frame
from .notification import Notification, decode_notification, encode_notification
from .open import Open, decode_open, encode_open
from .options import DEFAULT_OPTIONS, SessionOptions
from .refresh import RouteRefresh, decode_route_refresh, encode_route_refresh
from .update import Update, decode_update, encode_update

__all__ = ["Keepalive", "Message", "decode_message", "encode_message", "message_type"]


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A KEEPALIVE message (RFC 4271 4.4): the header alone."""


Message = Open | Update | Notification | Keepalive | RouteRefresh

_TYPES: dict[type, int] = {
    Open: MessageType.OPEN,
    Update: MessageType.UPDATE,
    Notification: MessageType.NOTIFICATION,
    Keepalive: MessageType.KEEPALIVE,
    RouteRefresh: MessageType.ROUTE_REFRESH,
}


def message_type(msg: Message) -> MessageType:
    return MessageType(_TYPES[type(msg)])


def decode_message(
    data: bytes,
    options: SessionOptions = DEFAULT_OPTIONS,
    interner: Interner | None = None,
) -> Message:
    """Decode one whole message (header included).  Raises only ``BgpError``."""
    mtype = data[18] if len(data) > 18 else 0
    # RFC 8654 4: only UPDATE, NOTIFICATION and ROUTE-REFRESH may exceed 4096 octets
    frame(data, 4096 if mtype in (1, 4) else options.max_message)
    body = data[HEADER_LEN:]
    try:
        if mtype == MessageType.UPDATE:
            return decode_update(body, options, interner)
        if mtype == MessageType.KEEPALIVE:
            return Keepalive()
        if mtype == MessageType.OPEN:
            return decode_open(body)
        if mtype == MessageType.NOTIFICATION:
            return decode_notification(body)
        return decode_route_refresh(body)
    except BgpError as exc:
        if exc.code == NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR:
            exc.data = bytes(data)  # RFC 7313 5: the data is the whole ROUTE-REFRESH message
        raise
    except (IndexError, ValueError, OverflowError) as exc:  # a codec bug, never the peer's
        raise BgpError(
            f"undecodable message type {mtype}: {exc.__class__.__name__}: {exc}",
            NotificationCode.UPDATE_MESSAGE_ERROR
            if mtype == 2
            else (NotificationCode.MESSAGE_HEADER_ERROR),
            ErrorSubcode.Update.MALFORMED_ATTRIBUTE_LIST if mtype == 2 else 0,
        ) from exc


def encode_message(msg: Message, options: SessionOptions = DEFAULT_OPTIONS) -> bytes:
    """Encode ``msg`` with its header; ``ValueError`` if it exceeds the size limit."""
    if isinstance(msg, Update):
        body = encode_update(msg, options)
    elif isinstance(msg, Keepalive):
        body = b""
    elif isinstance(msg, Open):
        body = encode_open(msg)
    elif isinstance(msg, Notification):
        body = encode_notification(msg)
    else:
        body = encode_route_refresh(msg)
    length = HEADER_LEN + len(body)
    limit = options.max_message if not isinstance(msg, Open | Keepalive) else 4096
    if length > limit:
        raise ValueError(f"{type(msg).__name__} of {length} octets exceeds the limit {limit}")
    return MARKER + pack("!HB", length, _TYPES[type(msg)]) + body
