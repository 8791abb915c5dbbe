"""Exported attribute blocks spliced from the received bytes, not encoded again.

How this works: ``decode_update`` hands each attribute block it decodes to
:func:`remember_encoding`, which keeps ``(set, bytes)`` for a read's worth of sets
(``wire`` gives back the bytes seen, so that is the set's encoding).  ``AttrSet.replace``
notes what a set was made from and the changes (``attributes._DERIVED``).  When
``encode_attributes`` meets a set in canonical order that it has not encoded yet (for a
4-octet-AS session, no MP attributes), :func:`splice` takes the block of the set it was
made from, if that block is canonical itself (type-code order, table flags), copies it
and encodes only the attributes that changed, at their place in type-code order: a
reflected route gets ORIGINATOR_ID and CLUSTER_LIST after COMMUNITIES, and the rest of
its bytes are those received.  Anything else returns None and is encoded from the
values.  A differential test (``tests/test_codec_splice.py``) keeps the bytes equal to
the encoder's.
"""

from __future__ import annotations

from typing import Any

from .attributes import (
    _CTX,
    _DERIVED,
    _ENCODED,
    _ENCODED_MAX,
    _SLOT_CODE,
    ATTRIBUTES,
    AttrSet,
    _Ctx,
    _header,
)

__all__ = ["remember_encoding", "splice"]


def remember_encoding(attrs: AttrSet, block: bytes, as4: bool) -> None:
    """Record that ``block``, just decoded into ``attrs`` (not MRT), is its encoding.

    True of every set ``decode_fast`` returns: ``wire`` gives back the bytes seen (a
    differential test checks it), so re-encoding a received set costs nothing and a
    set made from it by ``replace`` can be spliced from these bytes.
    """
    cache = _ENCODED[2 if as4 else 0]
    if len(cache) >= _ENCODED_MAX:
        cache.clear()
    # received: its ``wire`` lists exactly the attributes it holds, so (with 4-octet
    # ASNs) its bytes can be spliced
    cache[attrs] = (attrs, block, True)


def _canonical_layout(layout: tuple[tuple[int, int], ...]) -> int:
    """The type codes of ``layout`` as a bit mask if it is canonical, else -1.

    Canonical (4-octet ASNs): ascending type codes, each with its table flags exactly
    (no Partial, no Extended Length, which the canonical encoder sets only on values
    over 255 octets), no MP_UNREACH and no unknown attribute.  An MP_REACH_NLRI is
    passed over: the bytes recorded for such a set leave it out (``decode_update``).
    """
    hit = _CANONICAL.get(layout)
    if hit is None:
        last = hit = 0
        for code, flags in layout:
            if code == 14:
                continue
            row = ATTRIBUTES.get(code)
            if row is None or code <= last or flags != row.flags:
                hit = -1
                break
            hit |= 1 << code
            last = code
        if len(_CANONICAL) < 65536:
            _CANONICAL[layout] = hit
    return hit


_CANONICAL: dict[tuple[tuple[int, int], ...], int] = {}


def splice(attrs: AttrSet) -> bytes | None:
    """The canonical 4-octet encoding of ``attrs``, from the bytes of the set it came from.

    ``attrs`` (canonical order) was made by ``replace`` from a set whose encoding is
    cached and canonical: a received set in type-code order with table flags (most of
    a full table), or another canonical set.  Its attribute block is copied and only
    the attributes whose values differ are encoded: for a reflected route, ORIGINATOR_ID
    and CLUSTER_LIST go in after COMMUNITIES.  None when there is no such base (the
    caller encodes from the values); a differential test keeps the bytes equal to
    ``_encode``'s.
    """
    hit = _DERIVED.get(attrs)
    if hit is None or hit[0] is not attrs or attrs.unknown:
        return None
    _, base, changes = hit
    got = _ENCODED[2].get(base)  # 4-octet ASNs, not MRT
    if got is None or got[0] is not base:
        return None
    if base.wire:  # only bytes recorded as received, and in canonical order
        if not got[2] or _canonical_layout(base.wire) < 0:
            return None
    elif base.unknown:  # else canonical by construction
        return None
    block = got[1]
    changed: dict[int, Any] = {}
    for name, value in changes.items():
        code = _SLOT_CODE.get(name)
        if code is not None:  # else mp_next_hop, which is not in the block
            was = getattr(base, name)
            if value is not was and value != was:
                changed[code] = value
    if not changed:
        return block
    pending = sorted(changed)
    out: list[bytes] = []
    kept = 0  # start of the run of base bytes not yet copied
    i, n = 0, len(block)
    ctx = _CTX[True, False]
    while i < n and pending:
        code = block[i + 1]
        ext = block[i] & 0x10
        end = i + 4 + ((block[i + 2] << 8) | block[i + 3]) if ext else i + 3 + block[i + 2]
        if pending[0] <= code:
            out.append(block[kept:i])
            while pending and pending[0] <= code:
                c = pending.pop(0)
                out.append(_canonical_tlv(c, changed[c], ctx))
            kept = end if c == code else i
        i = end
    out.append(block[kept:])
    for c in pending:
        out.append(_canonical_tlv(c, changed[c], ctx))
    return b"".join(out)


def _canonical_tlv(code: int, value: Any, ctx: _Ctx) -> bytes:
    """One attribute as ``_encode`` writes it in canonical order, or b"" if left out."""
    if value is None or value is False or (value == () and code not in (2, 17)):
        return b""
    row = ATTRIBUTES[code]
    enc = row.encode(value, ctx)
    return _header(row.flags, code, len(enc), False) + enc
