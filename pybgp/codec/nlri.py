"""NLRI lists and the compact prefix key (RFC 4271 4.3, RFC 4760 5, RFC 7911 3).

How this works: a prefix is one Python ``int``, ``(network << 8) | length``, so that a
million routes cost a million small ints, not a million objects.  The address family
is known from context (the classic fields are IPv4; MP_REACH/MP_UNREACH name the AFI).
``decode_nlri`` is the hand-written hot loop; ``pybgp.codec.layouts`` declares the same
layout with construct, and a differential test keeps the two equal.  Trailing bits
beyond the prefix length are irrelevant (RFC 4271 4.3) and are cleared.
"""

from __future__ import annotations

import ipaddress
from struct import pack

from .errors import Action, BgpError, ErrorSubcode, NotificationCode

__all__ = [
    "Prefix",
    "decode_nlri",
    "encode_nlri",
    "format_prefix",
    "parse_prefix",
    "prefix_length",
    "prefix_network",
    "make_prefix",
    "afi_bits",
]

Prefix = int
"""``(network << 8) | length``: the network as an integer, host bits clear."""

_BITS = {1: 32, 2: 128}


def afi_bits(afi: int) -> int:
    """Address width in bits for an AFI whose NLRI are plain prefixes (IPv4/IPv6)."""
    return _BITS[afi]


def _masks(bits: int) -> tuple[int, ...]:
    full = (1 << bits) - 1
    return tuple(full ^ ((1 << (bits - n)) - 1) for n in range(bits + 1))


_MASK = {32: _masks(32), 128: _masks(128)}
_SHIFT = {bits: tuple(bits - 8 * n for n in range(bits // 8 + 1)) for bits in (32, 128)}


def make_prefix(network: int, length: int) -> Prefix:
    return (network << 8) | length


def prefix_length(p: Prefix) -> int:
    return p & 0xFF


def prefix_network(p: Prefix) -> int:
    return p >> 8


def format_prefix(p: Prefix, afi: int = 1) -> str:
    """``"192.0.2.0/24"`` or ``"2001:db8::/32"``."""
    net = p >> 8
    if afi == 1:
        return f"{ipaddress.IPv4Address(net)}/{p & 0xFF}"
    return f"{ipaddress.IPv6Address(net)}/{p & 0xFF}"


def parse_prefix(text: str) -> tuple[int, Prefix]:
    """``"192.0.2.0/24"`` -> ``(afi, prefix)``; raises ``ValueError`` naming the text."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"not a prefix: {text!r} ({exc})") from None
    afi = 1 if net.version == 4 else 2
    return afi, (int(net.network_address) << 8) | net.prefixlen


def _bad(reason: str, action: Action) -> BgpError:
    return BgpError(
        reason,
        NotificationCode.UPDATE_MESSAGE_ERROR,
        ErrorSubcode.Update.INVALID_NETWORK_FIELD,
        action=action,
    )


def decode_nlri(
    data: bytes,
    start: int,
    end: int,
    bits: int = 32,
    addpath: bool = False,
    action: Action = Action.SESSION_RESET,
) -> tuple[tuple[Prefix, ...], tuple[int, ...]]:
    """Decode the NLRI list in ``data[start:end]``.

    Returns the prefixes and, with ADD-PATH, their Path Identifiers (else ``()``).
    A length over ``bits`` or a prefix running past ``end`` is an error
    (RFC 7606 5.3): ``action`` says how bad (session reset for the classic fields,
    AFI/SAFI disable inside MP_REACH/MP_UNREACH).
    """
    masks = _MASK[bits]
    shifts = _SHIFT[bits]
    out: list[int] = []
    ids: list[int] = []
    i = start
    if end > len(data):
        raise _bad("NLRI field runs past the message", action)
    frombytes = int.from_bytes
    append = out.append
    while i < end:
        if addpath:
            if i + 4 >= end:
                raise _bad("truncated ADD-PATH Path Identifier", action)
            ids.append(frombytes(data[i : i + 4], "big"))
            i += 4
        plen = data[i]
        n = (plen + 7) >> 3
        if plen > bits:
            raise _bad(f"prefix length {plen} exceeds {bits}", action)
        j = i + 1 + n
        if j > end:
            raise _bad(f"prefix of length {plen} runs past the NLRI field", action)
        append((((frombytes(data[i + 1 : j], "big") << shifts[n]) & masks[plen]) << 8) | plen)
        i = j
    return tuple(out), tuple(ids)


def encode_nlri(
    prefixes: tuple[Prefix, ...] | list[Prefix],
    bits: int = 32,
    path_ids: tuple[int, ...] | list[int] | None = None,
) -> bytes:
    """Encode prefixes; with ``path_ids`` (ADD-PATH), each is preceded by its id."""
    parts: list[bytes] = []
    for k, p in enumerate(prefixes):
        plen = p & 0xFF
        n = (plen + 7) >> 3
        if path_ids is not None:
            parts.append(pack("!I", path_ids[k] if k < len(path_ids) else 0))
        parts.append(bytes((plen,)) + ((p >> 8) >> (bits - 8 * n)).to_bytes(n, "big"))
    return b"".join(parts)
