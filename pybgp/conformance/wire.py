"""Crafted wire bytes for the checks: valid messages from the codec, broken ones by hand.

How this works: a check needs exact bytes, often wrong ones (a marker with a zero
octet, an ORIGIN of length 2, a prefix of length 33).  Valid pieces come from the
project's codec (``encode_message``, ``encode_nlri``); the helpers here build the
header, attribute TLVs and UPDATE bodies so that one field at a time can be broken.
Everything is a pure function from values to bytes, tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import pack

from ..codec.header import MARKER
from ..codec.nlri import Prefix, encode_nlri
from ..codec.open import Capability, Open, encode_open

__all__ = [
    "message",
    "keepalive",
    "attr",
    "origin",
    "as_path",
    "next_hop",
    "med",
    "local_pref",
    "communities",
    "update",
    "RouteSpec",
    "route_attrs",
    "open_message",
    "notification",
    "route_refresh",
    "cap",
    "mp_reach",
    "mp_unreach",
]


def message(
    mtype: int, body: bytes = b"", length: int | None = None, marker: bytes = MARKER
) -> bytes:
    """A message with its header; ``length`` overrides the Length field (to break it)."""
    n = 19 + len(body) if length is None else length
    return marker + pack("!HB", n, mtype) + body


def keepalive() -> bytes:
    return message(4)


def attr(flags: int, code: int, value: bytes, extended: bool | None = None) -> bytes:
    """One path attribute TLV; the Extended Length bit follows ``extended`` or the size."""
    ext = len(value) > 255 if extended is None else extended
    if ext:
        return bytes((flags | 0x10, code)) + pack("!H", len(value)) + value
    return bytes((flags & ~0x10 & 0xFF, code, len(value) & 0xFF)) + value


def origin(value: int = 0, flags: int = 0x40) -> bytes:
    return attr(flags, 1, bytes((value,)))


def as_path(
    asns: tuple[int, ...] = (), four: bool = True, flags: int = 0x40, seg_type: int = 2
) -> bytes:
    if not asns:
        return attr(flags, 2, b"")
    fmt = "!BB%d%s" % (len(asns), "I" if four else "H")
    return attr(flags, 2, pack(fmt, seg_type, len(asns), *asns))


def next_hop(address: bytes, flags: int = 0x40) -> bytes:
    return attr(flags, 3, address)


def med(value: int, flags: int = 0x80) -> bytes:
    return attr(flags, 4, pack("!I", value))


def local_pref(value: int = 100, flags: int = 0x40) -> bytes:
    return attr(flags, 5, pack("!I", value))


def communities(values: tuple[int, ...], flags: int = 0xC0) -> bytes:
    return attr(flags, 8, pack("!%dI" % len(values), *values))


def update(withdrawn: bytes = b"", attrs: bytes = b"", nlri: bytes = b"") -> bytes:
    """A whole UPDATE message from its three raw fields."""
    body = pack("!H", len(withdrawn)) + withdrawn + pack("!H", len(attrs)) + attrs + nlri
    return message(2, body)


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """The test route's attributes as the check's session sends them."""

    next_hop: bytes
    """NEXT_HOP: the sender's own address."""
    ibgp: bool
    local_as: int
    four_octet: bool = True
    marker: int = 1
    """The route's version, sent as the community 64999:marker (RFC 1997)."""


MARKER_ASN = 64999


def marker_community(n: int) -> int:
    return (MARKER_ASN << 16) | n


def route_attrs(spec: RouteSpec, *, skip: tuple[int, ...] = (), extra: bytes = b"") -> bytes:
    """ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF (iBGP) and the marker community.

    ``skip`` leaves attribute type codes out (to test missing or replaced ones);
    ``extra`` is appended (crafted attributes).
    """
    path = (
        ()
        if spec.ibgp
        else (spec.local_as if spec.four_octet or spec.local_as <= 0xFFFF else 23456,)
    )
    parts = {
        1: origin(0),
        2: as_path(path, spec.four_octet),
        3: next_hop(spec.next_hop),
        5: local_pref(100) if spec.ibgp else b"",
        8: communities((marker_community(spec.marker),)),
    }
    return b"".join(v for k, v in parts.items() if k not in skip) + extra


def nlri(prefixes: tuple[Prefix, ...], path_ids: tuple[int, ...] | None = None) -> bytes:
    return encode_nlri(prefixes, 32, path_ids)


def cap(code: int, value: bytes = b"") -> bytes:
    """A capability TLV (RFC 5492 4)."""
    return bytes((code, len(value))) + value


def open_message(o: Open, *, params: bytes | None = None, version: int | None = None) -> bytes:
    """An OPEN from the codec; ``params`` replaces the Optional Parameters (with their
    length octet), ``version`` the Version field."""
    body = encode_open(o)
    if params is not None:
        body = body[:9] + params
    if version is not None:
        body = bytes((version,)) + body[1:]
    return message(1, body)


def caps_param(*caps: bytes) -> bytes:
    """Optional Parameters: one Capabilities parameter (type 2) holding ``caps``."""
    inner = b"".join(caps)
    p = bytes((2, len(inner))) + inner
    return bytes((len(p),)) + p


def notification(code: int, subcode: int = 0, data: bytes = b"") -> bytes:
    return message(3, bytes((code, subcode)) + data)


def route_refresh(afi: int = 1, safi: int = 1, subtype: int = 0, extra: bytes = b"") -> bytes:
    return message(5, pack("!HBB", afi, subtype, safi) + extra)


def mp_reach(afi: int, safi: int, nh: bytes, nlri_bytes: bytes, nh_len: int | None = None) -> bytes:
    n = len(nh) if nh_len is None else nh_len
    return attr(0x80, 14, pack("!HBB", afi, safi, n) + nh + b"\x00" + nlri_bytes)


def mp_unreach(afi: int, safi: int, withdrawn: bytes) -> bytes:
    return attr(0x80, 15, pack("!HB", afi, safi) + withdrawn)


def capabilities_of(caps: tuple[Capability, ...]) -> bytes:
    return b"".join(cap(c.code, c.encode()) for c in caps)
