"""Message header checks (RFC 4271 4.1 and 6.1, RFC 8654 4).

How this works: each check sends one message with a broken header on an Established
session and expects the Message Header Error NOTIFICATION of RFC 4271 6.1 with the
subcode named there.  The table ``_HEADER`` is the whole module: one row per check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from . import wire
from .check import Check, Expectation, Notify, Outcome, register
from .runner import Context

__all__: list[str] = []

SYNC, LENGTH, TYPE = 1, 2, 3


async def _send(build: Callable[[], bytes], expect: Expectation, ctx: Context) -> Outcome:
    return await ctx.message_flow(build(), expect)


def _big_update() -> bytes:
    """A well-formed UPDATE of 4097 octets: withdrawn /32s fill it up."""
    body_len = 4097 - 19
    wd_len = body_len - 4
    withdrawn = b"".join(b"\x20\x0a\xfe" + bytes((i >> 8, i & 0xFF)) for i in range(wd_len // 5))
    withdrawn += b"\x08\x0a" * ((wd_len - len(withdrawn)) // 2)
    withdrawn += b"\x00" * (wd_len - len(withdrawn))
    msg = wire.update(withdrawn=withdrawn)
    assert len(msg) == 4097, len(msg)
    return msg


_HEADER: tuple[tuple[str, str, str, Callable[[], bytes], Expectation], ...] = (
    (
        "header.marker-zero",
        "RFC 4271 6.1",
        "KEEPALIVE whose Marker is all zeros",
        lambda: wire.message(4, marker=b"\x00" * 16),
        Notify(1, (SYNC,)),
    ),
    (
        "header.marker-one-bit",
        "RFC 4271 6.1",
        "KEEPALIVE whose Marker has one octet 0xfe",
        lambda: wire.message(4, marker=b"\xff" * 15 + b"\xfe"),
        Notify(1, (SYNC,)),
    ),
    (
        "header.length-18",
        "RFC 4271 6.1",
        "Length 18, below the 19-octet minimum",
        lambda: wire.message(4, length=18),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.length-zero",
        "RFC 4271 6.1",
        "Length 0",
        lambda: wire.message(4, length=0),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.keepalive-20",
        "RFC 4271 6.1",
        "KEEPALIVE of 20 octets (must be exactly 19)",
        lambda: wire.message(4, b"\x00"),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.update-22",
        "RFC 4271 6.1",
        "UPDATE of 22 octets (minimum 23)",
        lambda: wire.message(2, b"\x00\x00\x00"),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.notification-20",
        "RFC 4271 6.1",
        "NOTIFICATION of 20 octets (minimum 21)",
        lambda: wire.message(3, b"\x06"),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.length-4097",
        "RFC 8654 4 / RFC 4271 6.1",
        "UPDATE of 4097 octets without the Extended Message capability",
        _big_update,
        Notify(1, (LENGTH,)),
    ),
    (
        "header.length-65535",
        "RFC 4271 6.1",
        "Length field 65535 without Extended Message",
        lambda: wire.message(2, b"\x00\x00\x00\x00", length=65535),
        Notify(1, (LENGTH,)),
    ),
    (
        "header.type-0",
        "RFC 4271 6.1",
        "Message Type 0",
        lambda: wire.message(0),
        Notify(1, (TYPE,)),
    ),
    (
        "header.type-6",
        "RFC 4271 6.1",
        "Message Type 6 (unassigned)",
        lambda: wire.message(6, b"\x00\x00\x00\x00"),
        Notify(1, (TYPE,)),
    ),
    (
        "header.type-255",
        "RFC 4271 6.1",
        "Message Type 255",
        lambda: wire.message(255, b"\x00" * 8),
        Notify(1, (TYPE,)),
    ),
)

for _id, _rfc, _title, _build, _expect in _HEADER:
    register(Check(_id, _rfc, _title, _expect.expected(), partial(_send, _build, _expect)))
