"""UPDATE packing: many prefixes per message, split only at the size limit.

How this works: routes are grouped by (AFI/SAFI, attribute set) in the order they
first appear (BIRD's buckets).  Each group becomes as few UPDATEs as the session's
message size allows (4096, or 65535 with RFC 8654): the attribute block is encoded
once and prefixes are added while the encoded NLRI still fit.  Withdrawals are
batched the same way, per AFI/SAFI.  IPv4 unicast goes in the classic fields, every
other family in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760).

``encode_announcements`` is the same packing for one group, straight to message
bytes: no ``Update`` object, the attribute block encoded once (and cached per set),
the NLRI written by one loop.  MRT injection sends a full table through it, and
``encode_routes`` the routes a route reflector sends; differential tests keep their
bytes equal to ``encode_message`` of ``pack_announcements``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from struct import pack
from typing import Any

from .attributes import AttrSet, encode_attributes
from .header import HEADER_LEN, MARKER
from .message import encode_message
from .options import SessionOptions
from .update import MpReach, MpUnreach, Update

__all__ = [
    "Route",
    "pack_announcements",
    "pack_withdrawals",
    "encode_announcements",
    "encode_packed",
    "encode_routes",
]

Route = tuple[int, int, int, int, AttrSet]
"""(AFI, SAFI, prefix key, path id, attributes)."""

_BITS = {1: 32, 2: 128}


def _nlri_size(prefix: int, addpath: bool) -> int:
    return 1 + ((prefix & 0xFF) + 7) // 8 + (4 if addpath else 0)


def pack_announcements(routes: Iterable[Route], options: SessionOptions) -> Iterator[Update]:
    """UPDATEs announcing ``routes``, grouped by attribute set and split at the limit."""
    groups: dict[tuple[int, int, AttrSet], list[tuple[int, int]]] = {}
    for afi, safi, prefix, path_id, attrs in routes:
        groups.setdefault((afi, safi, attrs), []).append((prefix, path_id))
    limit = options.max_message
    for (afi, safi, attrs), nlri in groups.items():
        addpath = (afi, safi) in options.addpath_tx
        classic = (afi, safi) == (1, 1)
        if classic:
            base = HEADER_LEN + 4 + len(encode_attributes(attrs, options))
        else:
            nh = attrs.mp_next_hop or b""
            # MP_REACH_NLRI header: flags, type, 2-octet length, AFI, SAFI, NH length, NH, 0
            base = HEADER_LEN + 4 + len(encode_attributes(attrs, options)) + 4 + 5 + len(nh)
        start = 0
        size = base
        for i, (prefix, _) in enumerate(nlri):
            n = _nlri_size(prefix, addpath)
            if size + n > limit and i > start:
                yield _announce(afi, safi, attrs, nlri[start:i], addpath, classic)
                start, size = i, base
            size += n
        if start < len(nlri):
            yield _announce(afi, safi, attrs, nlri[start:], addpath, classic)


def _announce(
    afi: int,
    safi: int,
    attrs: AttrSet,
    nlri: list[tuple[int, int]],
    addpath: bool,
    classic: bool,
) -> Update:
    prefixes = tuple(p for p, _ in nlri)
    ids = tuple(i for _, i in nlri) if addpath else ()
    if classic:
        return Update(attrs=attrs, nlri=prefixes, nlri_ids=ids)
    return Update(attrs=attrs, mp_reach=MpReach(afi, safi, prefixes, ids))


def pack_withdrawals(
    withdrawn: Iterable[tuple[int, int, int, int]], options: SessionOptions
) -> Iterator[Update]:
    """UPDATEs withdrawing ``(afi, safi, prefix, path_id)``, batched per AFI/SAFI."""
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for afi, safi, prefix, path_id in withdrawn:
        groups.setdefault((afi, safi), []).append((prefix, path_id))
    limit = options.max_message
    for (afi, safi), nlri in groups.items():
        addpath = (afi, safi) in options.addpath_tx
        classic = (afi, safi) == (1, 1)
        base = HEADER_LEN + 4 + (0 if classic else 7)  # MP_UNREACH: 4 header + 3 AFI/SAFI
        start, size = 0, base
        for i, (prefix, _) in enumerate(nlri):
            n = _nlri_size(prefix, addpath)
            if size + n > limit and i > start:
                yield _withdraw(afi, safi, nlri[start:i], addpath, classic)
                start, size = i, base
            size += n
        if start < len(nlri):
            yield _withdraw(afi, safi, nlri[start:], addpath, classic)


def _withdraw(
    afi: int, safi: int, nlri: list[tuple[int, int]], addpath: bool, classic: bool
) -> Update:
    prefixes = tuple(p for p, _ in nlri)
    ids = tuple(i for _, i in nlri) if addpath else ()
    if classic:
        return Update(withdrawn=prefixes, withdrawn_ids=ids)
    return Update(mp_unreach=MpUnreach(afi, safi, prefixes, ids))


def _split_at_mp(block: bytes) -> int:
    """Offset of the first attribute with a type code above 14 (MP_REACH_NLRI's place)."""
    i, n = 0, len(block)
    while i < n:
        flags, code = block[i], block[i + 1]
        if code > 14:
            return i
        if flags & 0x10:
            i += 4 + ((block[i + 2] << 8) | block[i + 3])
        else:
            i += 3 + block[i + 2]
    return n


def encode_announcements(
    afi: int,
    safi: int,
    attrs: AttrSet,
    prefixes: list[int] | tuple[int, ...],
    options: SessionOptions,
    path_id: int = 0,
) -> list[bytes]:
    """Whole UPDATE messages announcing ``prefixes`` with ``attrs``, split at the limit.

    The bytes and the split are those of ``pack_announcements`` + ``encode_message``
    for routes of one attribute set; ``path_id`` goes before each prefix when ADD-PATH
    send was negotiated.  ``attrs`` must have canonical order (``wire == ()``, as
    every ``replace`` gives).
    """
    if attrs.wire:
        raise ValueError("encode_announcements needs an attribute set in canonical order")
    block = encode_attributes(attrs, options)
    return encode_packed(afi, safi, block, attrs.mp_next_hop, prefixes, options, path_id)


def encode_routes(
    routes: Iterable[Route], options: SessionOptions
) -> list[tuple[tuple[int, int], bytes]]:
    """``pack_announcements`` + ``encode_message``, each message with its (AFI, SAFI).

    The same grouping (by family and attribute set, in the order of first appearance)
    and the same bytes, but straight to bytes through ``encode_packed`` where it gives
    them: unicast and multicast of IPv4 and IPv6 without ADD-PATH, any attribute set
    for IPv4 unicast, sets in canonical order for the others.  The rest goes through
    ``Update`` objects.  A differential test checks the two agree.
    """
    groups: dict[tuple[int, int, AttrSet], tuple[list[Any], list[int]]] = {}
    last: AttrSet | None = None
    last_afi = last_safi = 0
    prefixes: list[Any] = []
    ids: list[int] = []
    for afi, safi, prefix, path_id, attrs in routes:
        # an UPDATE's prefixes come one after the other: no dict probe for those
        if attrs is not last or afi != last_afi or safi != last_safi:
            prefixes, ids = groups.setdefault((afi, safi, attrs), ([], []))
            last, last_afi, last_safi = attrs, afi, safi
        prefixes.append(prefix)
        ids.append(path_id)
    out: list[tuple[tuple[int, int], bytes]] = []
    for (afi, safi, attrs), (prefixes, ids) in groups.items():
        fam = (afi, safi)
        if fam in _DIRECT and fam not in options.addpath_tx and (fam == (1, 1) or not attrs.wire):
            block = encode_attributes(attrs, options)
            for m in encode_packed(afi, safi, block, attrs.mp_next_hop, prefixes, options):
                out.append((fam, m))
        else:
            routes_of = [(afi, safi, p, i, attrs) for p, i in zip(prefixes, ids, strict=True)]
            out.extend(
                (fam, encode_message(u, options)) for u in pack_announcements(routes_of, options)
            )
    return out


_DIRECT = frozenset({(1, 1), (1, 2), (2, 1), (2, 2)})


def encode_packed(
    afi: int,
    safi: int,
    block: bytes,
    mp_next_hop: bytes | None,
    prefixes: list[int] | tuple[int, ...],
    options: SessionOptions,
    path_id: int = 0,
) -> list[bytes]:
    """``encode_announcements`` for an attribute block encoded already (no MP_REACH).

    For a family other than IPv4 unicast, MP_REACH_NLRI with ``mp_next_hop`` goes
    before the first attribute whose type code is above 14 (the block must be in
    ascending order of type code).
    """
    if not prefixes:
        return []
    addpath = (afi, safi) in options.addpath_tx
    classic = (afi, safi) == (1, 1)
    bits = _BITS[afi]
    limit = options.max_message
    if classic:
        base = HEADER_LEN + 4 + len(block)
        head = tail = b""
        mp_fixed = b""
    else:
        nh = mp_next_hop or b""
        base = HEADER_LEN + 4 + len(block) + 4 + 5 + len(nh)
        cut = _split_at_mp(block)
        head, tail = block[:cut], block[cut:]
        mp_fixed = pack("!HBB", afi, safi, len(nh)) + nh + b"\x00"
    width = _WIDTH[afi]
    top = 8 * (bits // 8)  # the length octet goes above the address
    parts = [(((p & 0xFF) << top) | (p >> 8)).to_bytes(width, "big")[: _SIZE[p & 0xFF]]
             for p in prefixes]  # fmt: skip
    if addpath:
        pid = pack("!I", path_id)
        parts = [pid + x for x in parts]
    if base + sum(map(len, parts)) <= limit:
        return [_message(parts, block, head, tail, mp_fixed, classic)]
    out: list[bytes] = []
    start, size = 0, base
    for i, x in enumerate(parts):
        if size + len(x) > limit and i > start:
            out.append(_message(parts[start:i], block, head, tail, mp_fixed, classic))
            start, size = i, base
        size += len(x)
    out.append(_message(parts[start:], block, head, tail, mp_fixed, classic))
    return out


_WIDTH = {1: 5, 2: 17}  # the length octet and the whole address
_SIZE = tuple(1 + ((n + 7) >> 3) for n in range(129))  # octets of one NLRI by length


def _message(
    parts: list[bytes], block: bytes, head: bytes, tail: bytes, mp_fixed: bytes, classic: bool
) -> bytes:
    nlri = b"".join(parts)
    if classic:
        body = b"\x00\x00" + pack("!H", len(block)) + block + nlri
    else:
        value = mp_fixed + nlri
        n = len(value)
        # MP_REACH_NLRI: optional, non-transitive (RFC 4760 3); extended length over 255
        mp = (b"\x90\x0e" + pack("!H", n) if n > 255 else bytes((0x80, 14, n))) + value
        attrs = head + mp + tail
        body = b"\x00\x00" + pack("!H", len(attrs)) + attrs
    return MARKER + pack("!HB", HEADER_LEN + len(body), 2) + body
