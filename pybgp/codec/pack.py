"""UPDATE packing: many prefixes per message, split only at the size limit.

How this works: routes are grouped by (AFI/SAFI, attribute set) in the order they
first appear (BIRD's buckets).  Each group becomes as few UPDATEs as the session's
message size allows (4096, or 65535 with RFC 8654): the attribute block is encoded
once and prefixes are added while the encoded NLRI still fit.  Withdrawals are
batched the same way, per AFI/SAFI.  IPv4 unicast goes in the classic fields, every
other family in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .attributes import AttrSet, encode_attributes
from .header import HEADER_LEN
from .options import SessionOptions
from .update import MpReach, MpUnreach, Update

__all__ = ["Route", "pack_announcements", "pack_withdrawals"]

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
