"""UPDATE messages (RFC 4271 4.3) with MP_REACH/MP_UNREACH (RFC 4760) and ADD-PATH.

How this works: ``decode_update`` checks the two length fields (RFC 4271 6.3, session
reset), decodes the withdrawn and NLRI fields with the hand-written NLRI loop, and
looks the path attribute block up in the :class:`Interner` before decoding it: a
table full of routes that share attribute sets decodes each set once.  Malformed
attributes do not raise unless RFC 7606 says session reset; the UPDATE carries its
``errors`` and ``action`` so the RIB can treat its NLRI as withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import pack
from typing import Any, Final, final

from .attributes import (
    AttrSet,
    Interner,
    decode_attributes,
    decode_fast,
    encode_attributes,
    raw_hit,
    split_hit,
    walk_attributes,
)
from .errors import Action, BgpError, ErrorSubcode, NotificationCode
from .nlri import Prefix, decode_nlri, encode_nlri
from .options import SessionOptions
from .splice import remember_encoding

__all__ = ["Update", "MpReach", "MpUnreach", "decode_update", "encode_update", "INTERNERS"]

U = ErrorSubcode.Update
_NLRI_BITS = {(1, 1): 32, (1, 2): 32, (2, 1): 128, (2, 2): 128}
# RFC 4760 3 / RFC 8950: an IPv4 next hop for IPv6 NLRI and the reverse are both seen
_NH_LENGTHS = {1: (4, 16, 32), 2: (4, 16, 32)}


_MP_REACH_FIELDS = ("afi", "safi", "nlri", "path_ids", "raw_nlri", "reserved")


@final
class MpReach:
    """MP_REACH_NLRI (RFC 4760 3) without its next hop, which lives in the AttrSet.

    Read-only, written out like :class:`Update` (one per IPv6 UPDATE of a full table).
    """

    __slots__ = _MP_REACH_FIELDS

    afi: Final[int]
    """Address Family Identifier."""
    safi: Final[int]
    """Subsequent Address Family Identifier."""
    nlri: Final[tuple[Prefix, ...]]
    """Network Layer Reachability Information, for IPv4/IPv6 unicast and multicast."""
    path_ids: Final[tuple[int, ...]]
    """ADD-PATH Path Identifiers, one per NLRI (RFC 7911 3)."""
    raw_nlri: Final[bytes | None]
    """The NLRI bytes of an AFI/SAFI this codec does not parse (VPN, EVPN, FlowSpec...)."""
    reserved: Final[bytes]
    """The Reserved octet (RFC 4760 3; it was the SNPA count in RFC 2858)."""

    def __init__(
        self,
        afi: int,
        safi: int,
        nlri: tuple[Prefix, ...] = (),
        path_ids: tuple[int, ...] = (),
        raw_nlri: bytes | None = None,
        reserved: bytes = b"\x00",
    ) -> None:
        self.afi = afi
        self.safi = safi
        self.nlri = nlri
        self.path_ids = path_ids
        self.raw_nlri = raw_nlri
        self.reserved = reserved

    def _key(self) -> tuple[Any, ...]:
        return (self.afi, self.safi, self.nlri, self.path_ids, self.raw_nlri, self.reserved)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MpReach) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return _repr("MpReach", _MP_REACH_FIELDS, self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (MpReach, self._key())


def _repr(name: str, fields: tuple[str, ...], values: tuple[Any, ...]) -> str:
    inner = ", ".join(f"{n}={v!r}" for n, v in zip(fields, values, strict=True))
    return f"{name}({inner})"


@dataclass(frozen=True, slots=True)
class MpUnreach:
    """MP_UNREACH_NLRI (RFC 4760 4)."""

    afi: int
    safi: int
    withdrawn: tuple[Prefix, ...] = ()
    """Withdrawn Routes."""
    path_ids: tuple[int, ...] = ()
    raw_nlri: bytes | None = None


_UPDATE_FIELDS = (
    "withdrawn",
    "withdrawn_ids",
    "attrs",
    "nlri",
    "nlri_ids",
    "mp_reach",
    "mp_unreach",
    "errors",
)


@final
class Update:
    """An UPDATE message (RFC 4271 4.3).

    Read-only like every message: each field is ``Final``, which mypy checks and the
    mypyc build enforces at run time.  Written out by hand rather than as a frozen
    dataclass (as ``AttrSet`` is): compiled, building one is a few stores, where a frozen
    dataclass's ``__init__`` runs in the interpreter, and a full table is hundreds of
    thousands of UPDATEs.  Equality and hashing cover every field but ``errors``;
    ``replace`` is ``dataclasses.replace``.
    """

    __slots__ = _UPDATE_FIELDS

    withdrawn: Final[tuple[Prefix, ...]]
    """Withdrawn Routes (IPv4 unicast)."""
    withdrawn_ids: Final[tuple[int, ...]]
    """Path Identifiers of the withdrawn routes when ADD-PATH is in use."""
    attrs: Final[AttrSet | None]
    """Path Attributes, interned; None when the UPDATE carries none."""
    nlri: Final[tuple[Prefix, ...]]
    """Network Layer Reachability Information (IPv4 unicast)."""
    nlri_ids: Final[tuple[int, ...]]
    """Path Identifiers of the NLRI when ADD-PATH is in use."""
    mp_reach: Final[MpReach | None]
    mp_unreach: Final[MpUnreach | None]
    errors: Final[tuple[BgpError, ...]]
    """Non-fatal RFC 7606 outcomes, strongest first."""

    def __init__(
        self,
        withdrawn: tuple[Prefix, ...] = (),
        withdrawn_ids: tuple[int, ...] = (),
        attrs: AttrSet | None = None,
        nlri: tuple[Prefix, ...] = (),
        nlri_ids: tuple[int, ...] = (),
        mp_reach: MpReach | None = None,
        mp_unreach: MpUnreach | None = None,
        errors: tuple[BgpError, ...] = (),
    ) -> None:
        self.withdrawn = withdrawn
        self.withdrawn_ids = withdrawn_ids
        self.attrs = attrs
        self.nlri = nlri
        self.nlri_ids = nlri_ids
        self.mp_reach = mp_reach
        self.mp_unreach = mp_unreach
        self.errors = errors

    def _key(self) -> tuple[Any, ...]:
        return (
            self.withdrawn,
            self.withdrawn_ids,
            self.attrs,
            self.nlri,
            self.nlri_ids,
            self.mp_reach,
            self.mp_unreach,
        )

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Update):
            return False  # ``bool``: compiled code has no NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return _repr("Update", _UPDATE_FIELDS, (*self._key(), self.errors))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Update, (*self._key(), self.errors))

    def replace(self, **changes: Any) -> Update:
        """A copy with ``changes`` (field names as in the constructor)."""
        values = dict(zip(_UPDATE_FIELDS, (*self._key(), self.errors), strict=True))
        for name in changes:
            if name not in values:
                raise TypeError(f"Update.replace() got an unexpected field {name!r}")
        values.update(changes)
        return Update(**values)

    @property
    def action(self) -> Action:
        """The strongest RFC 7606 action this UPDATE needs (NONE when it is clean)."""
        return self.errors[0].action if self.errors else Action.NONE

    @property
    def end_of_rib(self) -> tuple[int, int] | None:
        """The AFI/SAFI this End-of-RIB marker closes (RFC 4724 2), else None."""
        if self.withdrawn or self.nlri or self.mp_reach:
            return None
        if self.attrs is None and self.mp_unreach is None:
            return (1, 1)
        u = self.mp_unreach
        empty = self.attrs is None or self.attrs == AttrSet()
        if u is not None and not u.withdrawn and not u.raw_nlri and empty:
            return (u.afi, u.safi)
        return None


SESSION_INTERNER_LIMIT = 1 << 12
"""Sets kept by the sessions' interners (``Interner.limit``): about 2 MiB at most, not
a second copy of a full table's sets (116 B/route at 300k IPv4 prefixes)."""


class _Interners:
    """One interner per decoding context: 4-octet AS or not, MRT RIB entry or not."""

    def __init__(self) -> None:
        self.table: dict[tuple[bool, bool], Interner] = {}

    def get(self, as4: bool, mrt: bool = False) -> Interner:
        key = (as4, mrt)
        found = self.table.get(key)
        if found is None:
            found = self.table[key] = Interner(SESSION_INTERNER_LIMIT)
        return found

    def clear(self) -> None:
        for interner in self.table.values():
            interner.clear()


INTERNERS = _Interners()


def _reset(reason: str, subcode: int, data: bytes = b"") -> BgpError:
    return BgpError(reason, NotificationCode.UPDATE_MESSAGE_ERROR, subcode, data)


def _mp_error(reason: str) -> BgpError:
    # RFC 7606 7.11 / RFC 4760 7: a bad MP attribute disables the AFI/SAFI (or resets)
    return BgpError(
        reason,
        NotificationCode.UPDATE_MESSAGE_ERROR,
        U.OPTIONAL_ATTRIBUTE_ERROR,
        action=Action.AFISAFI_DISABLE,
    )


def decode_update(body: bytes, options: SessionOptions, interner: Interner | None = None) -> Update:
    """Decode an UPDATE body (the bytes after the 19-octet header)."""
    n = len(body)
    if n < 4:
        raise _reset("UPDATE shorter than its fixed fields", U.MALFORMED_ATTRIBUTE_LIST)
    wlen = (body[0] << 8) | body[1]
    if 2 + wlen + 2 > n:
        raise _reset("Withdrawn Routes Length exceeds the message", U.MALFORMED_ATTRIBUTE_LIST)
    alen_at = 2 + wlen
    alen = (body[alen_at] << 8) | body[alen_at + 1]
    astart = alen_at + 2
    aend = astart + alen
    if aend > n:
        raise _reset("Total Path Attribute Length exceeds the message", U.MALFORMED_ATTRIBUTE_LIST)
    v4_addpath = (1, 1) in options.addpath_rx
    withdrawn, withdrawn_ids = decode_nlri(body, 2, alen_at, 32, v4_addpath)
    nlri, nlri_ids = decode_nlri(body, aend, n, 32, v4_addpath)
    if alen == 0:
        if nlri:  # RFC 7606 3d / RFC 4271 6.3: NLRI without mandatory attributes
            return Update(
                withdrawn, withdrawn_ids, None, nlri, nlri_ids, errors=(_missing("ORIGIN", 1),)
            )
        return Update(withdrawn, withdrawn_ids)
    if interner is None:
        interner = INTERNERS.get(options.four_octet_as)
    block = body[astart:aend]
    hit = interner.by_raw.get(block)
    mp_reach = mp_unreach = None
    if hit is None:
        attrs, errors, mp_reach, mp_unreach = _decode_block(body, astart, aend, options, interner)
    else:
        attrs, errors = split_hit(hit)
    errors = errors + _mandatory(attrs, bool(nlri), mp_reach is not None and bool(mp_reach.nlri))
    return Update(
        withdrawn,
        withdrawn_ids,
        attrs,
        nlri,
        nlri_ids,
        mp_reach,
        mp_unreach,
        tuple(sorted(errors, key=lambda e: -e.action)),
    )


def _decode_block(
    body: bytes, astart: int, aend: int, options: SessionOptions, interner: Interner
) -> tuple[AttrSet, tuple[BgpError, ...], MpReach | None, MpUnreach | None]:
    interner.make_room()
    fast = decode_fast(body, astart, aend, options.four_octet_as, False, interner.values)
    if fast is not None:  # no MP attributes, nothing unusual: one pass
        block = body[astart:aend]
        interner.by_raw[block] = fast
        remember_encoding(fast, block, options.four_octet_as)
        return fast, (), None, None
    try:
        tlvs = walk_attributes(body, astart, aend)
    except BgpError as exc:
        # RFC 7606 4: the attributes cannot be parsed; withdraw what can be located
        return AttrSet(), (exc,), None, None
    mp_reach = mp_unreach = None
    mp_nh: bytes | None = None
    key_parts: list[bytes] = []
    plain: list[bytes] | None = [] if options.four_octet_as else None
    mp_errors: list[BgpError] = []
    seen_mp: set[int] = set()
    for flags, code, vs, ve in tlvs:
        if code == 14 and 14 not in seen_mp:
            seen_mp.add(14)
            try:
                mp_reach, mp_nh, hdr_end = _decode_mp_reach(body, vs, ve, options)
            except BgpError as exc:
                mp_errors.append(exc)
                continue
            key_parts.append(bytes((flags, 14)) + body[vs:hdr_end])
        elif code == 15 and 15 not in seen_mp:
            seen_mp.add(15)
            try:
                mp_unreach = _decode_mp_unreach(body, vs, ve, options)
            except BgpError as exc:
                mp_errors.append(exc)
                continue
            key_parts.append(bytes((flags, 15)))
        else:
            tlv = body[vs - (4 if flags & 0x10 else 3) : ve]
            key_parts.append(tlv)
            if plain is not None:
                if code == 14 or code == 15:
                    plain = None  # a second MP attribute: not spliced
                else:
                    plain.append(tlv)
    key: object
    if seen_mp:
        key = ("mp", b"".join(key_parts), len(key_parts))
        if mp_errors:
            key = None
    else:
        key = body[astart:aend]
    hit = interner.by_raw.get(key) if key is not None else None
    if hit is not None:
        return (*split_hit(hit), mp_reach, mp_unreach)
    fast = None
    errors: tuple[BgpError, ...]
    if not mp_errors:  # the MP attributes are decoded: the rest in one pass if clean
        fast = decode_fast(
            body, astart, aend, options.four_octet_as, False, interner.values, True, mp_nh
        )
    if fast is not None:
        attrs, errors = fast, ()
        if plain is not None and seen_mp == {14} and mp_reach is not None:
            # the block without MP_REACH_NLRI is what ``encode_attributes`` gives this
            # set (the MP attributes travel apart): a reflected copy is spliced from it
            remember_encoding(fast, b"".join(plain), True)
    else:
        attrs, errors = decode_attributes(
            body, tlvs, options.four_octet_as, False, mp_nh, interner.values
        )
    if key is not None:
        interner.by_raw[key] = raw_hit(attrs, errors)
    if mp_errors:
        errors = tuple(mp_errors) + errors
    return attrs, errors, mp_reach, mp_unreach


def _afisafi(body: bytes, vs: int, ve: int, what: str) -> tuple[int, int]:
    if ve - vs < 3:
        raise _mp_error(f"{what} shorter than AFI and SAFI")
    return (body[vs] << 8) | body[vs + 1], body[vs + 2]


def _decode_mp_reach(
    body: bytes, vs: int, ve: int, options: SessionOptions
) -> tuple[MpReach, bytes, int]:
    afi, safi = _afisafi(body, vs, ve, "MP_REACH_NLRI")
    if ve - vs < 5:
        raise _mp_error("MP_REACH_NLRI truncated before the next hop")
    nhlen = body[vs + 3]
    nh_end = vs + 4 + nhlen
    if nh_end + 1 > ve:
        raise _mp_error(f"MP_REACH_NLRI next hop length {nhlen} overruns the attribute")
    bits = _NLRI_BITS.get((afi, safi))
    if bits is not None and nhlen not in _NH_LENGTHS[afi]:
        raise _mp_error(f"MP_REACH_NLRI next hop length {nhlen} invalid for AFI {afi}")
    nh = bytes(body[vs + 4 : nh_end])
    reserved = bytes(body[nh_end : nh_end + 1])
    if bits is None:
        return (
            MpReach(afi, safi, raw_nlri=bytes(body[nh_end + 1 : ve]), reserved=reserved),
            nh,
            (nh_end + 1),
        )
    addpath = (afi, safi) in options.addpath_rx
    nlri, ids = decode_nlri(body, nh_end + 1, ve, bits, addpath, Action.AFISAFI_DISABLE)
    return MpReach(afi, safi, nlri, ids, None, reserved), nh, nh_end + 1


def _decode_mp_unreach(body: bytes, vs: int, ve: int, options: SessionOptions) -> MpUnreach:
    afi, safi = _afisafi(body, vs, ve, "MP_UNREACH_NLRI")
    bits = _NLRI_BITS.get((afi, safi))
    if bits is None:
        return MpUnreach(afi, safi, raw_nlri=bytes(body[vs + 3 : ve]))
    addpath = (afi, safi) in options.addpath_rx
    wd, ids = decode_nlri(body, vs + 3, ve, bits, addpath, Action.AFISAFI_DISABLE)
    return MpUnreach(afi, safi, wd, ids)


def _missing(name: str, code: int) -> BgpError:
    return BgpError(
        f"missing well-known attribute {name} (RFC 7606 3d)",
        NotificationCode.UPDATE_MESSAGE_ERROR,
        U.MISSING_WELL_KNOWN_ATTRIBUTE,
        bytes((code,)),
        Action.TREAT_AS_WITHDRAW,
    )


def _mandatory(attrs: AttrSet, v4_nlri: bool, mp_nlri: bool) -> tuple[BgpError, ...]:
    """RFC 4271 5 / RFC 7606 3d: ORIGIN, AS_PATH, and NEXT_HOP when IPv4 NLRI are sent."""
    if not (v4_nlri or mp_nlri):
        return ()
    if attrs.origin is None:
        return (_missing("ORIGIN", 1),)
    if attrs.as_path is None:
        return (_missing("AS_PATH", 2),)
    if v4_nlri and attrs.next_hop is None:
        return (_missing("NEXT_HOP", 3),)
    return ()


def encode_update(update: Update, options: SessionOptions) -> bytes:
    """Encode an UPDATE body (without the 19-octet header), for a peer with ``options``.

    ``options`` is the sender's view: ADD-PATH ids go out for ``addpath_tx``.
    """
    v4 = (1, 1) in options.addpath_tx
    wd = encode_nlri(update.withdrawn, 32, update.withdrawn_ids if v4 else None)
    mp: dict[int, bytes] = {}
    attrs = update.attrs
    if update.mp_reach is not None:
        r = update.mp_reach
        nh = attrs.mp_next_hop if attrs is not None and attrs.mp_next_hop is not None else b""
        if r.raw_nlri is not None:
            body = r.raw_nlri
        else:
            ap = (r.afi, r.safi) in options.addpath_tx
            body = encode_nlri(r.nlri, _NLRI_BITS[(r.afi, r.safi)], r.path_ids if ap else None)
        mp[14] = pack("!HBB", r.afi, r.safi, len(nh)) + nh + r.reserved + body
    if update.mp_unreach is not None:
        u = update.mp_unreach
        if u.raw_nlri is not None:
            body = u.raw_nlri
        else:
            ap = (u.afi, u.safi) in options.addpath_tx
            body = encode_nlri(u.withdrawn, _NLRI_BITS[(u.afi, u.safi)], u.path_ids if ap else None)
        mp[15] = pack("!HB", u.afi, u.safi) + body
    if attrs is None:
        attrs = AttrSet()
    pa = encode_attributes(attrs, options, mp)
    nl = encode_nlri(update.nlri, 32, update.nlri_ids if v4 else None)
    return pack("!H", len(wd)) + wd + pack("!H", len(pa)) + pa + nl
