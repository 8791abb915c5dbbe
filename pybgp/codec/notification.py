"""NOTIFICATION (RFC 4271 4.5) and the shutdown communication (RFC 9003).

How this works: the codes and subcodes are the IANA registries in ``errors``; this
module names them for humans and carries the Administrative Shutdown/Reset message
(a length octet and up to 255 octets of UTF-8, RFC 9003 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BgpError, ErrorSubcode, NotificationCode

__all__ = [
    "Notification",
    "decode_notification",
    "encode_notification",
    "code_name",
    "subcode_name",
]

_SUBCODES: dict[int, type] = {
    1: ErrorSubcode.Header,
    2: ErrorSubcode.Open,
    3: ErrorSubcode.Update,
    5: ErrorSubcode.Fsm,
    6: ErrorSubcode.Cease,
    7: ErrorSubcode.RouteRefresh,
}


def code_name(code: int) -> str:
    try:
        return NotificationCode(code).name
    except ValueError:
        return f"code-{code}"


def subcode_name(code: int, subcode: int) -> str:
    enum = _SUBCODES.get(code)
    if enum is not None:
        try:
            return str(enum(subcode).name)
        except ValueError:
            pass
    return "UNSPECIFIC" if subcode == 0 else f"subcode-{subcode}"


_SHUTDOWN = (ErrorSubcode.Cease.ADMINISTRATIVE_SHUTDOWN, ErrorSubcode.Cease.ADMINISTRATIVE_RESET)


@dataclass(frozen=True, slots=True)
class Notification:
    """A NOTIFICATION message (RFC 4271 4.5)."""

    code: int
    """Error code."""
    subcode: int = 0
    """Error subcode."""
    data: bytes = b""
    """Data."""

    @property
    def shutdown_message(self) -> str | None:
        """The RFC 9003 communication of a Cease/Administrative Shutdown or Reset."""
        if self.code != NotificationCode.CEASE or self.subcode not in _SHUTDOWN:
            return None
        if not self.data:
            return None
        n = self.data[0]
        if n > 255 or len(self.data) < 1 + n:
            return None
        try:
            return self.data[1 : 1 + n].decode("utf-8")
        except UnicodeDecodeError:
            return None

    @staticmethod
    def shutdown(message: str = "", reset: bool = False) -> Notification:
        """Cease/Administrative Shutdown (or Reset) with an RFC 9003 message."""
        raw = message.encode("utf-8")
        if len(raw) > 255:
            raise ValueError("RFC 9003: the shutdown message is at most 255 octets of UTF-8")
        sub = (
            ErrorSubcode.Cease.ADMINISTRATIVE_RESET
            if reset
            else (ErrorSubcode.Cease.ADMINISTRATIVE_SHUTDOWN)
        )
        return Notification(NotificationCode.CEASE, sub, bytes((len(raw),)) + raw if raw else b"")

    @staticmethod
    def from_error(err: BgpError) -> Notification:
        return Notification(err.code, err.subcode, err.data)

    def describe(self) -> str:
        text = f"{code_name(self.code)}/{subcode_name(self.code, self.subcode)}"
        msg = self.shutdown_message
        if msg is not None:
            text += f' "{msg}"'
        elif self.data:
            text += f" data={self.data.hex()}"
        return text


def decode_notification(body: bytes) -> Notification:
    # RFC 4271 4.5: code and subcode; length already checked by the header (>= 21)
    return Notification(body[0], body[1], bytes(body[2:]))


def encode_notification(n: Notification) -> bytes:
    return bytes((n.code, n.subcode)) + n.data
