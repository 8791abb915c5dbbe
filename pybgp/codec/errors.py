"""Decode errors that carry their NOTIFICATION and their RFC 7606 action.

How this works: every failure the codec can see in bytes from the wire is a
:class:`BgpError`.  It names the NOTIFICATION (code, subcode, data) that RFC 4271
section 6 prescribes and the RFC 7606 action.  Actions are ordered, so when several
attributes of one UPDATE are bad the strongest action wins (as in GoBGP).  The codec
never lets an ``IndexError`` or ``struct.error`` escape: callers catch ``BgpError``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Action", "BgpError", "NotificationCode", "ErrorSubcode"]


class Action(IntEnum):
    """RFC 7606 section 2 error handling approaches, weakest first."""

    NONE = 0
    ATTRIBUTE_DISCARD = 1  # RFC 7606 2: the attribute is dropped, the UPDATE proceeds
    TREAT_AS_WITHDRAW = 2  # RFC 7606 2: every NLRI in the UPDATE is withdrawn
    AFISAFI_DISABLE = 3  # RFC 4760 7 / RFC 7606 2: stop the AFI/SAFI
    SESSION_RESET = 4  # RFC 4271 6: send a NOTIFICATION and close

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class NotificationCode(IntEnum):
    """IANA BGP Error (Notification) Codes."""

    MESSAGE_HEADER_ERROR = 1
    OPEN_MESSAGE_ERROR = 2
    UPDATE_MESSAGE_ERROR = 3
    HOLD_TIMER_EXPIRED = 4
    FSM_ERROR = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE_ERROR = 7
    SEND_HOLD_TIMER_EXPIRED = 8


class ErrorSubcode:
    """IANA subcode registries, one IntEnum per NOTIFICATION code."""

    class Header(IntEnum):
        CONNECTION_NOT_SYNCHRONIZED = 1
        BAD_MESSAGE_LENGTH = 2
        BAD_MESSAGE_TYPE = 3

    class Open(IntEnum):
        UNSUPPORTED_VERSION_NUMBER = 1
        BAD_PEER_AS = 2
        BAD_BGP_IDENTIFIER = 3
        UNSUPPORTED_OPTIONAL_PARAMETER = 4
        UNACCEPTABLE_HOLD_TIME = 6
        UNSUPPORTED_CAPABILITY = 7
        ROLE_MISMATCH = 11

    class Update(IntEnum):
        MALFORMED_ATTRIBUTE_LIST = 1
        UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
        MISSING_WELL_KNOWN_ATTRIBUTE = 3
        ATTRIBUTE_FLAGS_ERROR = 4
        ATTRIBUTE_LENGTH_ERROR = 5
        INVALID_ORIGIN_ATTRIBUTE = 6
        INVALID_NEXT_HOP_ATTRIBUTE = 8
        OPTIONAL_ATTRIBUTE_ERROR = 9
        INVALID_NETWORK_FIELD = 10
        MALFORMED_AS_PATH = 11

    class Fsm(IntEnum):
        UNSPECIFIED = 0
        UNEXPECTED_IN_OPENSENT = 1
        UNEXPECTED_IN_OPENCONFIRM = 2
        UNEXPECTED_IN_ESTABLISHED = 3

    class Cease(IntEnum):
        MAXIMUM_NUMBER_OF_PREFIXES_REACHED = 1
        ADMINISTRATIVE_SHUTDOWN = 2
        PEER_DE_CONFIGURED = 3
        ADMINISTRATIVE_RESET = 4
        CONNECTION_REJECTED = 5
        OTHER_CONFIGURATION_CHANGE = 6
        CONNECTION_COLLISION_RESOLUTION = 7
        OUT_OF_RESOURCES = 8
        HARD_RESET = 9
        BFD_DOWN = 10

    class RouteRefresh(IntEnum):
        INVALID_MESSAGE_LENGTH = 1


class BgpError(Exception):
    """A protocol error seen in bytes from the wire.

    ``code``/``subcode``/``data`` are the NOTIFICATION to send (RFC 4271 section 6);
    ``action`` is the RFC 7606 treatment.
    """

    def __init__(
        self,
        reason: str,
        code: int,
        subcode: int = 0,
        data: bytes = b"",
        action: Action = Action.SESSION_RESET,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.subcode = subcode
        self.data = data
        self.action = action

    def __repr__(self) -> str:
        return (
            f"BgpError({self.reason!r}, code={self.code}, subcode={self.subcode}, "
            f"action={self.action.label})"
        )

    def describe(self) -> str:
        """A one-line description: action, NOTIFICATION code/subcode names, reason."""
        from .notification import code_name, subcode_name

        return (
            f"{self.action.label}: {code_name(self.code)}/"
            f"{subcode_name(self.code, self.subcode)}: {self.reason}"
        )


def header_error(reason: str, subcode: int, data: bytes = b"") -> BgpError:
    return BgpError(reason, NotificationCode.MESSAGE_HEADER_ERROR, subcode, data)


def update_error(
    reason: str, subcode: int, data: bytes = b"", action: Action = Action.SESSION_RESET
) -> BgpError:
    return BgpError(reason, NotificationCode.UPDATE_MESSAGE_ERROR, subcode, data, action)
