"""Community values and their text forms (RFC 1997, RFC 4360, RFC 8092).

How this works: communities stay as ints (standard), 8-byte ``bytes`` (extended) and
``(a, b, c)`` tuples (large) inside attribute sets; these helpers give the text forms
used by the CLI and the config: ``"65000:1"``, well-known names, ``"rt:65000:100"``,
``"a:b:c"``.
"""

from __future__ import annotations

import ipaddress
from struct import unpack

__all__ = [
    "WELL_KNOWN",
    "format_community",
    "parse_community",
    "format_large",
    "parse_large",
    "format_extended",
]

WELL_KNOWN: dict[int, str] = {
    0xFFFF0000: "graceful-shutdown",  # RFC 8326
    0xFFFF0001: "accept-own",  # RFC 7611
    0xFFFF0002: "route-filter-translated-v4",
    0xFFFF0003: "route-filter-v4",
    0xFFFF0004: "route-filter-translated-v6",
    0xFFFF0005: "route-filter-v6",
    0xFFFF0006: "llgr-stale",
    0xFFFF0007: "no-llgr",
    0xFFFF0008: "accept-own-nexthop",
    0xFFFF029A: "blackhole",  # RFC 7999
    0xFFFFFF01: "no-export",  # RFC 1997
    0xFFFFFF02: "no-advertise",  # RFC 1997
    0xFFFFFF03: "no-export-subconfed",  # RFC 1997
    0xFFFFFF04: "nopeer",  # RFC 3765
}
_BY_NAME = {name: value for value, name in WELL_KNOWN.items()}
_BY_NAME["local-as"] = 0xFFFFFF03


def format_community(value: int) -> str:
    name = WELL_KNOWN.get(value)
    return name if name is not None else f"{value >> 16}:{value & 0xFFFF}"


def parse_community(text: str) -> int:
    """``"65000:1"`` or a well-known name -> int; ``ValueError`` names the bad text."""
    t = text.strip().lower()
    if t in _BY_NAME:
        return _BY_NAME[t]
    hi, sep, lo = t.partition(":")
    if sep and hi.isdigit() and lo.isdigit() and int(hi) <= 0xFFFF and int(lo) <= 0xFFFF:
        return (int(hi) << 16) | int(lo)
    raise ValueError(f"not a community: {text!r} (want ASN:VALUE, both 0-65535, or a name)")


def format_large(value: tuple[int, int, int]) -> str:
    return f"{value[0]}:{value[1]}:{value[2]}"


def parse_large(text: str) -> tuple[int, int, int]:
    parts = text.strip().split(":")
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 0xFFFFFFFF for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise ValueError(f"not a large community: {text!r} (want A:B:C, each 0-4294967295)")


_SUBTYPE = {0x02: "rt", 0x03: "soo"}


def format_extended(value: bytes) -> str:
    """RFC 4360 text form for the common types, ``0x<hex>`` otherwise."""
    if len(value) != 8:
        return "0x" + value.hex()
    kind, sub = value[0] & 0x3F, value[1]
    name = _SUBTYPE.get(sub)
    if name is not None and kind in (0x00, 0x01, 0x02):
        if kind == 0x00:  # two-octet AS specific
            asn, local = unpack("!HI", value[2:])
            return f"{name}:{asn}:{local}"
        if kind == 0x01:  # IPv4 address specific
            return f"{name}:{ipaddress.IPv4Address(value[2:6])}:{unpack('!H', value[6:])[0]}"
        asn4, local2 = unpack("!IH", value[2:])  # four-octet AS specific
        return f"{name}:{asn4}:{local2}"
    return "0x" + value.hex()
