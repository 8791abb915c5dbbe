"""The BGP-4 wire codec: bytes <-> frozen message dataclasses.  No I/O.

See the module headers: ``header``, ``open``, ``update``, ``attributes``, ``nlri``,
``notification``, ``refresh``, ``message``; ``layouts`` holds the construct
declarations the hand-written fast paths are tested against.
"""

from .attributes import AttrSet, AttrType, Interner, as4_merge, propagate
from .errors import Action, BgpError, NotificationCode
from .header import Framer, MessageType
from .message import Keepalive, Message, decode_message, encode_message
from .notification import Notification
from .open import Open
from .options import AFI, SAFI, SessionOptions
from .refresh import RouteRefresh
from .update import MpReach, MpUnreach, Update

__all__ = [
    "AFI",
    "SAFI",
    "Action",
    "AttrSet",
    "AttrType",
    "BgpError",
    "Framer",
    "Interner",
    "Keepalive",
    "Message",
    "MessageType",
    "MpReach",
    "MpUnreach",
    "Notification",
    "NotificationCode",
    "Open",
    "RouteRefresh",
    "SessionOptions",
    "Update",
    "as4_merge",
    "decode_message",
    "encode_message",
    "propagate",
]
