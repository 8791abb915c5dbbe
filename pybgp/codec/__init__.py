"""The BGP-4 wire codec: bytes <-> frozen message dataclasses.  No I/O.

See the module headers: ``header``, ``open``, ``update``, ``attributes``, ``nlri``,
``notification``, ``refresh``, ``message``; ``layouts`` holds the construct
declarations the hand-written fast paths are tested against.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attributes import AttrSet, AttrType, Interner, as4_merge, propagate
    from .errors import Action, BgpError, NotificationCode
    from .header import Framer, MessageType
    from .message import Keepalive, Message, decode_message, encode_message
    from .notification import Notification
    from .open import Open
    from .options import AFI, SAFI, SessionOptions
    from .refresh import RouteRefresh
    from .update import MpReach, MpUnreach, Update

_HOME = {
    **dict.fromkeys(("AttrSet", "AttrType", "Interner", "as4_merge", "propagate"), "attributes"),
    **dict.fromkeys(("Action", "BgpError", "NotificationCode"), "errors"),
    **dict.fromkeys(("Framer", "MessageType"), "header"),
    **dict.fromkeys(("Keepalive", "Message", "decode_message", "encode_message"), "message"),
    "Notification": "notification",
    "Open": "open",
    **dict.fromkeys(("AFI", "SAFI", "SessionOptions"), "options"),
    "RouteRefresh": "refresh",
    **dict.fromkeys(("MpReach", "MpUnreach", "Update"), "update"),
}
"""Where each name of ``__all__`` lives.  They are imported on first use (PEP 562), so
that ``import pybgp.codec.attributes`` does not load OPEN, NOTIFICATION and the rest:
``pybgp decode --count`` of an MRT file starts about 10 ms sooner."""


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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
