"""Path attributes: one table drives flags, decoding, encoding and RFC 7606 handling.

How this works: ``ATTRIBUTES`` has one :class:`AttrRow` per known type code (as BIRD's
``bgp_attr_table``): its name, the Optional/Transitive flags it must carry, the
:class:`AttrSet` field it fills, a decoder, an encoder and the RFC 7606 action taken
when its value is malformed.  ``walk_attributes`` is the hand-written TLV walk (the
construct declaration in ``layouts`` must agree with it).

A decoded :class:`AttrSet` is interned: ``Interner`` maps the raw attribute bytes to
one shared object, so identical sets in a full table decode once and compare by
identity.  MP_REACH_NLRI is split in two: its next hop belongs to the route and lives
in the set (``mp_next_hop``), its NLRI belong to the UPDATE.  ``wire`` keeps the order
and flags seen on the wire so that re-encoding gives back the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from struct import pack
from typing import TYPE_CHECKING, Any, Final, cast, final

from .errors import Action, BgpError, ErrorSubcode, NotificationCode
from .options import SessionOptions

if TYPE_CHECKING:  # annotations only: compiled, a C int64_t; run as it is, an int
    from mypy_extensions import i64

__all__ = [
    "AttrType",
    "AttrFlag",
    "Origin",
    "SegmentType",
    "AsPath",
    "AttrSet",
    "AttrRow",
    "ATTRIBUTES",
    "Interner",
    "RawTlv",
    "walk_attributes",
    "decode_attributes",
    "decode_fast",
    "rib_next_hop",
    "encode_attributes",
    "as4_merge",
    "propagate",
    "as_path_length",
    "AS_TRANS",
]

AS_TRANS = 23456
U = ErrorSubcode.Update


class AttrType(IntEnum):
    """IANA BGP Path Attributes."""

    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8
    ORIGINATOR_ID = 9
    CLUSTER_LIST = 10
    MP_REACH_NLRI = 14
    MP_UNREACH_NLRI = 15
    EXTENDED_COMMUNITIES = 16
    AS4_PATH = 17
    AS4_AGGREGATOR = 18
    LARGE_COMMUNITY = 32


class AttrFlag(IntEnum):
    OPTIONAL = 0x80
    TRANSITIVE = 0x40
    PARTIAL = 0x20
    EXTENDED_LENGTH = 0x10


class Origin(IntEnum):
    IGP = 0
    EGP = 1
    INCOMPLETE = 2


class SegmentType(IntEnum):
    AS_SET = 1
    AS_SEQUENCE = 2
    AS_CONFED_SEQUENCE = 3
    AS_CONFED_SET = 4


AsPath = tuple[tuple[int, tuple[int, ...]], ...]
"""Segments as ``(SegmentType, (asn, ...))``."""
Aggregator = tuple[int, bytes]
RawTlv = tuple[int, int, bytes]
"""An attribute kept as bytes: ``(flags, type code, value)``."""


FIELD_NAMES: Final = (
    "origin",
    "as_path",
    "next_hop",
    "med",
    "local_pref",
    "atomic_aggregate",
    "aggregator",
    "communities",
    "originator_id",
    "cluster_list",
    "mp_next_hop",
    "ext_communities",
    "as4_path",
    "as4_aggregator",
    "large_communities",
    "unknown",
    "wire",
)
"""The constructor's parameters, in order."""


_HASH_MASK: Final = (1 << 61) - 1


@final
class AttrSet:
    """The path attributes of a route (RFC 4271 5), shared between routes.

    Immutable: every field is ``Final``, which mypy checks everywhere and which the
    mypyc build enforces at run time too (read-only attributes).  It is written out by
    hand rather than as a frozen dataclass because mypyc compiles such a class to a
    native one: building a set then costs a few stores instead of a
    ``object.__setattr__`` per field, and a full table builds hundreds of thousands.
    Equality and hashing cover every field but ``wire``.

    ``mp_next_hop`` is the Next Hop field of MP_REACH_NLRI (RFC 4760 3); the NLRI of
    MP_REACH/MP_UNREACH travel in the UPDATE, not here.
    """

    __slots__ = (*FIELD_NAMES, "_hash")

    origin: Final[int | None]
    """ORIGIN (RFC 4271 5.1.1)."""
    as_path: Final[AsPath | None]
    """AS_PATH (RFC 4271 5.1.2) as on the wire: 2- or 4-octet per the session."""
    next_hop: Final[bytes | None]
    """NEXT_HOP (RFC 4271 5.1.3): 4 octets."""
    med: Final[int | None]
    """MULTI_EXIT_DISC (RFC 4271 5.1.4)."""
    local_pref: Final[int | None]
    """LOCAL_PREF (RFC 4271 5.1.5)."""
    atomic_aggregate: Final[bool]
    """ATOMIC_AGGREGATE (RFC 4271 5.1.6)."""
    aggregator: Final[Aggregator | None]
    """AGGREGATOR (RFC 4271 5.1.7): (AS, IPv4 address)."""
    communities: Final[tuple[int, ...]]
    """COMMUNITIES (RFC 1997)."""
    originator_id: Final[bytes | None]
    """ORIGINATOR_ID (RFC 4456 8)."""
    cluster_list: Final[tuple[bytes, ...]]
    """CLUSTER_LIST (RFC 4456 8)."""
    mp_next_hop: Final[bytes | None]
    """MP_REACH_NLRI Network Address of Next Hop (RFC 4760 3): 4, 16 or 32 octets."""
    ext_communities: Final[tuple[bytes, ...]]
    """EXTENDED_COMMUNITIES (RFC 4360): 8 octets each."""
    as4_path: Final[AsPath | None]
    """AS4_PATH (RFC 6793 3)."""
    as4_aggregator: Final[Aggregator | None]
    """AS4_AGGREGATOR (RFC 6793 3)."""
    large_communities: Final[tuple[tuple[int, int, int], ...]]
    """LARGE_COMMUNITY (RFC 8092)."""
    unknown: Final[tuple[RawTlv, ...]]
    """Unrecognized optional attributes as received; see ``propagate`` (RFC 4271 5)."""
    wire: Final[tuple[tuple[int, int], ...]]
    """(type code, flags) in wire order, for byte-exact re-encoding; () = canonical."""
    _hash: int
    """The hash, computed once (-1 before): sets are dict keys all along the routing
    path.  Kept to 61 bits, so that the compiled class stores it in the object itself
    rather than as an int object of its own (32 B per set)."""

    def __init__(
        self,
        origin: int | None = None,
        as_path: AsPath | None = None,
        next_hop: bytes | None = None,
        med: int | None = None,
        local_pref: int | None = None,
        atomic_aggregate: bool = False,
        aggregator: Aggregator | None = None,
        communities: tuple[int, ...] = (),
        originator_id: bytes | None = None,
        cluster_list: tuple[bytes, ...] = (),
        mp_next_hop: bytes | None = None,
        ext_communities: tuple[bytes, ...] = (),
        as4_path: AsPath | None = None,
        as4_aggregator: Aggregator | None = None,
        large_communities: tuple[tuple[int, int, int], ...] = (),
        unknown: tuple[RawTlv, ...] = (),
        wire: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.origin = origin
        self.as_path = as_path
        self.next_hop = next_hop
        self.med = med
        self.local_pref = local_pref
        self.atomic_aggregate = atomic_aggregate
        self.aggregator = aggregator
        self.communities = communities
        self.originator_id = originator_id
        self.cluster_list = cluster_list
        self.mp_next_hop = mp_next_hop
        self.ext_communities = ext_communities
        self.as4_path = as4_path
        self.as4_aggregator = as4_aggregator
        self.large_communities = large_communities
        self.unknown = unknown
        self.wire = wire
        self._hash = -1

    def _key(self) -> tuple[Any, ...]:
        return (
            self.origin,
            self.as_path,
            self.next_hop,
            self.med,
            self.local_pref,
            self.atomic_aggregate,
            self.aggregator,
            self.communities,
            self.originator_id,
            self.cluster_list,
            self.mp_next_hop,
            self.ext_communities,
            self.as4_path,
            self.as4_aggregator,
            self.large_communities,
            self.unknown,
        )

    def __hash__(self) -> int:
        h = self._hash
        if h < 0:
            h = self._hash = hash(self._key()) & _HASH_MASK
        return h

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, AttrSet):
            return False  # a set equals only a set (``bool``: compiled code has no NotImplemented)
        return self._key() == other._key()

    def __repr__(self) -> str:
        values = (*self._key(), self.wire)
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(FIELD_NAMES, values, strict=True))
        return f"AttrSet({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (AttrSet, (*self._key(), self.wire))

    def replace(self, **changes: Any) -> AttrSet:
        """A copy with ``changes`` and canonical wire order.

        The values are passed by position.  Export and MRT injection call it once per
        distinct set.
        """
        values: list[Any] = list(self._key())
        for name, value in changes.items():
            i = _FIELD_INDEX.get(name)
            if i is None:
                raise TypeError(f"AttrSet.replace() cannot set {name!r}")
            values[i] = value
        out = AttrSet(*values)
        if len(_DERIVED) >= _ENCODED_MAX:
            _DERIVED.clear()
        _DERIVED[out] = (out, self, changes)  # ``encode_attributes`` splices
        return out

    def reflect(
        self, originator_id: bytes | None, cluster_list: tuple[bytes, ...], local_pref: int | None
    ) -> AttrSet:
        """``replace(originator_id=..., cluster_list=..., local_pref=...)`` written out:
        what a route reflector does to each set it reflects (RFC 4456 8), a native call
        with no keyword dict to walk."""
        out = AttrSet(
            self.origin,
            self.as_path,
            self.next_hop,
            self.med,
            local_pref,
            self.atomic_aggregate,
            self.aggregator,
            self.communities,
            originator_id,
            cluster_list,
            self.mp_next_hop,
            self.ext_communities,
            self.as4_path,
            self.as4_aggregator,
            self.large_communities,
            self.unknown,
        )
        if len(_DERIVED) >= _ENCODED_MAX:
            _DERIVED.clear()
        changes = {
            "local_pref": local_pref,
            "originator_id": originator_id,
            "cluster_list": cluster_list,
        }
        _DERIVED[out] = (out, self, changes)  # ``encode_attributes`` splices
        return out


_FIELD_INDEX = {name: i for i, name in enumerate(FIELD_NAMES[:-1])}
_DERIVED: dict[AttrSet, tuple[AttrSet, AttrSet, dict[str, Any]]] = {}
"""set made by ``replace`` -> (that set, the set it was made from, the changes): a
read's worth, for :func:`encode_attributes` to splice the bytes of the second.  Keyed
by the set (its hash is kept) and checked by identity: an equal set is another entry's
key, not this one's."""


def as_path_length(path: AsPath | None) -> int:
    """RFC 4271 9.1.2.2 a: an AS_SET counts 1, confederation segments count 0."""
    n = 0
    for seg_type, asns in path or ():
        if seg_type == SegmentType.AS_SEQUENCE:
            n += len(asns)
        elif seg_type == SegmentType.AS_SET:
            n += 1
    return n


class _Ctx:
    """What a decoder/encoder needs: the ASN width and whether this is an MRT RIB entry."""

    __slots__ = ("as4", "mrt")

    def __init__(self, as4: bool, mrt: bool) -> None:
        self.as4 = as4
        self.mrt = mrt


_CTX: Final = {(a, m): _Ctx(a, m) for a in (False, True) for m in (False, True)}


class _Malformed(Exception):
    """Raised by a row's decoder; the walk turns it into the row's RFC 7606 action."""

    def __init__(self, reason: str, subcode: int = U.ATTRIBUTE_LENGTH_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subcode = subcode


def _fixed(n: int, value: bytes) -> None:
    if len(value) != n:
        raise _Malformed(f"length {len(value)}, expected {n}")


# --- decoders: bytes -> value --------------------------------------------------------
# The value decoders read ``data[vs:ve]`` in place, with byte indexing and int
# arithmetic: compiled by mypyc, ``data[i]`` on a ``bytes`` is a C array read and the
# shifts are C shifts, where ``Struct.unpack_from`` would be a generic call.  Offsets
# and octets are ``i64``: compiled, C integers, where an ``int`` is a tagged value
# whose shifts and adds are calls.  The ``(value, ctx)`` forms in the attribute table
# wrap them for the slow path.
def _u16(data: bytes, i: i64) -> i64:
    a: i64 = data[i]
    b: i64 = data[i + 1]
    return (a << 8) | b


def _u32(data: bytes, i: i64) -> i64:
    a: i64 = data[i]
    b: i64 = data[i + 1]
    c: i64 = data[i + 2]
    d: i64 = data[i + 3]
    return (a << 24) | (b << 16) | (c << 8) | d


def _fixed_at(n: i64, vs: i64, ve: i64) -> None:
    if ve - vs != n:
        raise _Malformed(f"length {ve - vs}, expected {n}")


def _multiple_at(n: i64, vs: i64, ve: i64) -> None:
    # RFC 7606 7.8, 7.10, 7.14 and RFC 8092 6: "not a non-zero multiple of n" is malformed
    if (ve - vs) % n or ve == vs:
        raise _Malformed(f"length {ve - vs} is not a non-zero multiple of {n}")


_INTS: Final[list[Any]] = [None] * 0x1000
"""Shared int objects for ASNs, MED and LOCAL_PREF: a full table repeats the transit
ASNs in most AS paths (28-32 octets each).  The last value seen per slot, by a hash of
the value: 4,096 slots stay in the CPU cache, so the common values cost a cached read
and the rare ones a new int.  One slot for every 2-octet ASN (64k) shared them all,
but the read of a rarely seen ASN's object missed the cache: decoding the synthetic
full table was 8% slower, for 10 MiB less; real RIB dumps decode at the same speed
and size either way (bench/README.md).  COMMUNITIES values are not shared: the
synthetic table repeats few of them, and a table like this one for them made its
decoding about 3% slower; real RIB dumps then took about 7% less memory at the same
speed."""


def _shared(x: i64) -> Any:
    """The shared int object of value ``x``, if its slot holds it (see ``_INTS``).

    The objects are typed ``Any`` (``cast``): compiled, an ``int`` would be a native
    int, boxed into a new object wherever it is stored or returned.
    """
    h = (x ^ (x >> 12)) & 0xFFF
    o = _INTS[h]
    if o is None or cast(int, o) != x:
        o = cast(Any, x)
        _INTS[h] = o
    return o


def _dec_origin(v: bytes, c: _Ctx) -> int:
    _fixed(1, v)
    if v[0] > 2:
        raise _Malformed(f"undefined ORIGIN value {v[0]}", U.INVALID_ORIGIN_ATTRIBUTE)
    return v[0]


def _path(data: bytes, i: i64, n: i64, four: bool, confed_ok: bool = True) -> AsPath:
    """The AS_PATH (or AS4_PATH) segments in ``data[i:n]``."""
    width: i64 = 4 if four else 2
    segs: list[tuple[int, tuple[int, ...]]] = []
    while i < n:
        if i + 2 > n:
            raise _Malformed("truncated AS_PATH segment header", U.MALFORMED_AS_PATH)
        seg_type = data[i]
        count: i64 = data[i + 1]
        if not 1 <= seg_type <= 4 or (not confed_ok and seg_type > 2):
            raise _Malformed(f"bad AS_PATH segment type {seg_type}", U.MALFORMED_AS_PATH)
        if count == 0:
            raise _Malformed("zero-length AS_PATH segment", U.MALFORMED_AS_PATH)
        end = i + 2 + count * width
        if end > n:
            raise _Malformed("AS_PATH segment overruns the attribute", U.MALFORMED_AS_PATH)
        asns = _asns(data, i + 2, count, width)
        if end == n and not segs:  # one segment, as most paths are: no list
            return ((seg_type, asns),)
        segs.append((seg_type, asns))
        i = end
    return tuple(segs)


def _asn(data: bytes, j: i64, width: i64) -> Any:
    return _shared(_u32(data, j) if width == 4 else _u16(data, j))


def _asns(data: bytes, j: i64, count: i64, width: i64) -> tuple[Any, ...]:
    """``count`` ASNs of ``width`` octets from ``data[j:]``.  Paths of up to five are
    built as tuples directly (compiled: no list to fill, convert and free)."""
    if count <= 5:
        a = _asn(data, j, width)
        if count == 1:
            return (a,)
        b = _asn(data, j + width, width)
        if count == 2:
            return (a, b)
        c = _asn(data, j + 2 * width, width)
        if count == 3:
            return (a, b, c)
        d = _asn(data, j + 3 * width, width)
        if count == 4:
            return (a, b, c, d)
        return (a, b, c, d, _asn(data, j + 4 * width, width))
    out: list[Any] = []
    end = j + count * width
    while j < end:
        out.append(_asn(data, j, width))
        j += width
    return tuple(out)


def _dec_as_path(v: bytes, c: _Ctx) -> AsPath:
    return _path(v, 0, len(v), c.as4)


def _dec_as4_path(v: bytes, c: _Ctx) -> AsPath:
    return _path(v, 0, len(v), True)


def _dec_u32(v: bytes, c: _Ctx) -> int:
    _fixed(4, v)
    return _u32(v, 0)


def _dec_addr4(v: bytes, c: _Ctx) -> bytes:
    _fixed(4, v)
    return bytes(v)


def _dec_atomic(v: bytes, c: _Ctx) -> bool:
    _fixed(0, v)
    return True


def _aggregator(data: bytes, vs: i64, ve: i64, as4: bool, mrt: bool) -> Aggregator:
    if as4 or (mrt and ve - vs == 8):  # OpenBGPD's TABLE_DUMP has a 4-octet AGGREGATOR
        _fixed_at(8, vs, ve)
        return _u32(data, vs), bytes(data[vs + 4 : ve])
    _fixed_at(6, vs, ve)
    return _u16(data, vs), bytes(data[vs + 2 : ve])


def _dec_aggregator(v: bytes, c: _Ctx) -> Aggregator:
    return _aggregator(v, 0, len(v), c.as4, c.mrt)


def _dec_as4_aggregator(v: bytes, c: _Ctx) -> Aggregator:
    return _aggregator(v, 0, len(v), True, c.mrt)


def _communities(data: bytes, vs: i64, ve: i64) -> tuple[int, ...]:
    _multiple_at(4, vs, ve)
    # the values are not ``_shared`` (see ``_INTS``)
    if ve - vs <= 8:  # one or two, as most are: tuples built directly (see ``_asns``)
        if ve - vs == 4:
            return (_u32(data, vs),)
        return (_u32(data, vs), _u32(data, vs + 4))
    out: list[int] = []
    while vs < ve:
        out.append(_u32(data, vs))
        vs += 4
    return tuple(out)


def _dec_communities(v: bytes, c: _Ctx) -> tuple[int, ...]:
    return _communities(v, 0, len(v))


def _chunks(data: bytes, vs: i64, ve: i64, n: i64) -> tuple[bytes, ...]:
    _multiple_at(n, vs, ve)
    out: list[bytes] = []
    while vs < ve:
        out.append(bytes(data[vs : vs + n]))
        vs += n
    return tuple(out)


def _dec_cluster_list(v: bytes, c: _Ctx) -> tuple[bytes, ...]:
    return _chunks(v, 0, len(v), 4)


def _dec_ext(v: bytes, c: _Ctx) -> tuple[bytes, ...]:
    return _chunks(v, 0, len(v), 8)


def _large(data: bytes, vs: i64, ve: i64) -> tuple[tuple[int, int, int], ...]:
    _multiple_at(12, vs, ve)
    out: list[tuple[int, int, int]] = []
    while vs < ve:
        out.append((_u32(data, vs), _u32(data, vs + 4), _u32(data, vs + 8)))
        vs += 12
    return tuple(out)


def _dec_large(v: bytes, c: _Ctx) -> tuple[tuple[int, int, int], ...]:
    return _large(v, 0, len(v))


def _decode_value(code: i64, data: bytes, vs: i64, ve: i64, as4: bool, mrt: bool) -> Any:
    """What ``ATTRIBUTES[code].decode(data[vs:ve], ctx)`` gives, without the slice."""
    if code == 2:
        return _path(data, vs, ve, as4)
    if code == 8:
        return _communities(data, vs, ve)
    if code == 3 or code == 9:
        _fixed_at(4, vs, ve)
        return bytes(data[vs:ve])
    if code == 4 or code == 5:
        _fixed_at(4, vs, ve)
        return _shared(_u32(data, vs))
    if code == 7:
        return _aggregator(data, vs, ve, as4, mrt)
    if code == 32:
        return _large(data, vs, ve)
    if code == 17:
        return _path(data, vs, ve, True)
    if code == 18:
        return _aggregator(data, vs, ve, True, mrt)
    if code == 10:
        return _chunks(data, vs, ve, 4)
    if code == 16:
        return _chunks(data, vs, ve, 8)
    return ATTRIBUTES[code].decode(bytes(data[vs:ve]), _CTX[as4, mrt])


# --- encoders: value -> bytes --------------------------------------------------------
def _enc_origin(x: int, c: _Ctx) -> bytes:
    return bytes((x,))


def _enc_path(path: AsPath, four: bool) -> bytes:
    code = "I" if four else "H"
    out = []
    for seg_type, asns in path:
        for k in range(0, len(asns), 255) or (0,):
            chunk = asns[k : k + 255]
            out.append(pack("!BB%d%s" % (len(chunk), code), seg_type, len(chunk), *chunk))
    return b"".join(out)


def _enc_as_path(x: AsPath, c: _Ctx) -> bytes:
    if not c.as4:  # RFC 6793 4.2.2: a 2-octet peer sees AS_TRANS for a 4-octet ASN
        x = tuple((t, tuple(a if a <= 0xFFFF else AS_TRANS for a in asns)) for t, asns in x)
    return _enc_path(x, c.as4)


def _enc_as4_path(x: AsPath, c: _Ctx) -> bytes:
    return _enc_path(x, True)


def _enc_u32(x: int, c: _Ctx) -> bytes:
    return pack("!I", x)


def _enc_bytes(x: bytes, c: _Ctx) -> bytes:
    return x


def _enc_atomic(x: bool, c: _Ctx) -> bytes:
    return b""


def _enc_aggregator(x: Aggregator, c: _Ctx) -> bytes:
    if c.as4:
        return pack("!I", x[0]) + x[1]
    return pack("!H", x[0] if x[0] <= 0xFFFF else AS_TRANS) + x[1]


def _enc_as4_aggregator(x: Aggregator, c: _Ctx) -> bytes:
    return pack("!I", x[0]) + x[1]


def _enc_communities(x: tuple[int, ...], c: _Ctx) -> bytes:
    return pack("!%dI" % len(x), *x)


def _enc_join(x: tuple[bytes, ...], c: _Ctx) -> bytes:
    return b"".join(x)


def _enc_large(x: tuple[tuple[int, int, int], ...], c: _Ctx) -> bytes:
    return b"".join(pack("!III", *t) for t in x)


WK = AttrFlag.TRANSITIVE  # well-known
OPT = AttrFlag.OPTIONAL  # optional non-transitive
OPT_T = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE  # optional transitive
TAW = Action.TREAT_AS_WITHDRAW
DISCARD = Action.ATTRIBUTE_DISCARD


@dataclass(frozen=True, slots=True)
class AttrRow:
    """One attribute type: how it looks on the wire and what a bad one costs."""

    code: int
    name: str
    flags: int  # the Optional and Transitive bits it must carry
    slot: str  # the AttrSet field
    decode: Callable[[bytes, _Ctx], Any]
    encode: Callable[[Any, _Ctx], bytes]
    action: Action  # RFC 7606 action for a malformed value
    rfc: str


_ROWS = (
    AttrRow(1, "ORIGIN", WK, "origin", _dec_origin, _enc_origin, TAW, "RFC 7606 7.1"),
    AttrRow(2, "AS_PATH", WK, "as_path", _dec_as_path, _enc_as_path, TAW, "RFC 7606 7.2"),
    AttrRow(3, "NEXT_HOP", WK, "next_hop", _dec_addr4, _enc_bytes, TAW, "RFC 7606 7.3"),
    AttrRow(4, "MULTI_EXIT_DISC", OPT, "med", _dec_u32, _enc_u32, TAW, "RFC 7606 7.4"),
    AttrRow(5, "LOCAL_PREF", WK, "local_pref", _dec_u32, _enc_u32, TAW, "RFC 7606 7.5"),
    AttrRow(
        6,
        "ATOMIC_AGGREGATE",
        WK,
        "atomic_aggregate",
        _dec_atomic,
        _enc_atomic,
        DISCARD,
        "RFC 7606 7.6",
    ),
    AttrRow(
        7,
        "AGGREGATOR",
        OPT_T,
        "aggregator",
        _dec_aggregator,
        _enc_aggregator,
        DISCARD,
        "RFC 7606 7.7",
    ),
    AttrRow(
        8,
        "COMMUNITIES",
        OPT_T,
        "communities",
        _dec_communities,
        _enc_communities,
        TAW,
        "RFC 7606 7.8",
    ),
    AttrRow(9, "ORIGINATOR_ID", OPT, "originator_id", _dec_addr4, _enc_bytes, TAW, "RFC 7606 7.9"),
    AttrRow(
        10,
        "CLUSTER_LIST",
        OPT,
        "cluster_list",
        _dec_cluster_list,
        _enc_join,
        TAW,
        "RFC 7606 7.10",
    ),
    AttrRow(
        16,
        "EXTENDED_COMMUNITIES",
        OPT_T,
        "ext_communities",
        _dec_ext,
        _enc_join,
        TAW,
        "RFC 7606 7.14",
    ),
    AttrRow(
        17,
        "AS4_PATH",
        OPT_T,
        "as4_path",
        _dec_as4_path,
        _enc_as4_path,
        DISCARD,
        "RFC 6793 6",
    ),
    AttrRow(
        18,
        "AS4_AGGREGATOR",
        OPT_T,
        "as4_aggregator",
        _dec_as4_aggregator,
        _enc_as4_aggregator,
        DISCARD,
        "RFC 6793 6",
    ),
    AttrRow(
        32,
        "LARGE_COMMUNITY",
        OPT_T,
        "large_communities",
        _dec_large,
        _enc_large,
        TAW,
        "RFC 8092 6",
    ),
)
ATTRIBUTES: dict[int, AttrRow] = {row.code: row for row in _ROWS}
_SLOTS = {row.code: row.slot for row in _ROWS}
"""The attribute table.  MP_REACH/MP_UNREACH (14, 15) are handled by ``update``."""
MP_FLAGS = OPT  # RFC 4760 3/4: optional non-transitive
_SLOT_CODE = {row.slot: row.code for row in _ROWS}
_O_T = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE


def walk_attributes(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The TLV walk: ``(flags, type, value_start, value_end)`` for each attribute.

    An attribute whose length runs past ``end`` cannot be skipped; RFC 7606 4 makes
    that treat-as-withdraw, raised here as a ``BgpError``.
    """
    out = []
    i = start
    while i < end:
        if i + 3 > end:
            raise BgpError(
                "truncated path attribute header",
                NotificationCode.UPDATE_MESSAGE_ERROR,
                U.MALFORMED_ATTRIBUTE_LIST,
                action=TAW,
            )
        flags, code = data[i], data[i + 1]
        if flags & 0x10:
            if i + 4 > end:
                raise BgpError(
                    "truncated extended-length attribute header",
                    NotificationCode.UPDATE_MESSAGE_ERROR,
                    U.MALFORMED_ATTRIBUTE_LIST,
                    action=TAW,
                )
            vs = i + 4
            ve = vs + ((data[i + 2] << 8) | data[i + 3])
        else:
            vs = i + 3
            ve = vs + data[i + 2]
        if ve > end:
            raise BgpError(
                f"attribute {code} length runs past the path attributes",
                NotificationCode.UPDATE_MESSAGE_ERROR,
                U.ATTRIBUTE_LENGTH_ERROR,
                bytes(data[i:end]),
                action=TAW,
            )
        out.append((flags, code, vs, ve))
        i = ve
    return out


_REQUIRED: Final = bytes(
    next((row.flags for row in _ROWS if row.code == code), 0) for code in range(256)
)
"""The Optional/Transitive bits each known type code must carry; 0 for the others."""
_CACHED: Final = (1 << 3) | (1 << 9) | (1 << 10) | (1 << 16)
"""The type codes whose decoded values go through the value cache: NEXT_HOP,
ORIGINATOR_ID, CLUSTER_LIST and EXTENDED_COMMUNITIES have few distinct values, each in
many sets.  Distinct sets mostly differ in AS_PATH, COMMUNITIES and AGGREGATOR, so a
cache of those missed 85-94% of the time on a full table and cost more (a key and a
probe per value, about 0.2 s for 1M routes) than it saved (bench/README.md)."""
_LAYOUT_SIGS: Final[dict[int, tuple[tuple[int, int], ...]]] = {}
"""The shared ``wire`` tuple by signature: 9 bits per attribute in wire order, the type
code's low 5 bits (the fast path knows codes 1-18 and 32, so they are exact: 0 is 32)
and the high 4 bits of its flags (the fast path leaves sets with any of the 4 unused
flag bits to the slow path).  Six attributes fit a machine int, which compiled code
shifts without allocating; 16 bits each did not, and cost 4% of a table's decoding."""


def _sig_layout(sig: int) -> tuple[tuple[int, int], ...]:
    """The ``wire`` tuple a signature stands for, shared through ``_LAYOUTS``."""
    wire: list[tuple[int, int]] = []
    s = sig
    while s:  # flags are never 0 on the fast path: each 9-bit part is non-zero
        wire.append((((s >> 4) & 0x1F) or 32, (s & 0xF) << 4))
        s >>= 9
    wire.reverse()
    layout = tuple(wire)
    layout = _LAYOUTS.get(layout) or _layout(layout)
    if len(_LAYOUT_SIGS) < 65536:  # bounded, as _LAYOUTS
        _LAYOUT_SIGS[sig] = layout
    return layout


def decode_fast(
    data: bytes,
    start: int,
    end: int,
    as4: bool,
    mrt: bool,
    cache: dict[bytes, Any],
    mp: bool = False,
    mp_nh: bytes | None = None,
) -> AttrSet | None:
    """The common case in one pass: walk and decode, or None for ``decode_attributes``.

    It gives up (None) on anything that is not a clean set of known attributes: an
    unknown or repeated type, flags the table does not accept, a value its decoder
    rejects, a length that runs past ``end``, MP_REACH/MP_UNREACH outside an MRT RIB
    entry.  The slow path then produces the same set, or the RFC 7606 outcome; a
    differential test checks that the two agree.

    The fields are locals and the layout an int signature, so that compiled it is a C
    loop that makes only the decoded values, the set and (rarely) a new layout.

    ``mp``: the UPDATE's MP attributes were decoded by the caller (``codec.update``),
    which gives their next hop ``mp_nh``: MP_REACH_NLRI and MP_UNREACH_NLRI then keep
    only their place in the layout, as in ``decode_attributes``.
    """
    origin: int | None = None
    as_path: Any = None
    next_hop: Any = None
    med: Any = None
    local_pref: Any = None
    atomic = False
    aggregator: Any = None
    communities: Any = ()
    originator_id: Any = None
    cluster_list: Any = ()
    mp_next_hop: bytes | None = None
    ext_communities: Any = ()
    as4_path: Any = None
    as4_aggregator: Any = None
    large: Any = ()
    required = _REQUIRED
    sig = 0  # an int: 9 bits per attribute overflow 64 bits past seven
    seen: i64 = 0
    i: i64 = start
    stop: i64 = end
    while i < stop:
        if i + 3 > stop:
            return None
        flags: i64 = data[i]
        code: i64 = data[i + 1]
        if flags & 0x0F:  # unused flag bits (RFC 4271 4.3), kept by the slow path
            return None
        if flags & 0x10:
            if i + 4 > stop:
                return None
            vs = i + 4
            ve = vs + _u16(data, i + 2)
        else:
            vs = i + 3
            ln: i64 = data[i + 2]
            ve = vs + ln
        if ve > stop:
            return None
        bits = flags & 0xE0
        if mp and (code == 14 or code == 15):
            if bits != 0x80 or seen & (0x4000 << (code - 14)):
                return None
            seen |= 0x4000 << (code - 14)
        elif code == 14:
            # an MRT RIB entry's MP_REACH_NLRI: only its next hop counts
            if not mrt or bits != 0x80 or seen & 0x4000:
                return None
            seen |= 0x4000
            nhs, nhe = rib_next_hop(data, vs, ve)
            if nhs < 0:
                return None
            mp_next_hop = bytes(data[nhs:nhe])
        else:
            want = required[code]
            # the table's flags; Partial only on an optional transitive attribute
            if want == 0 or (bits != want and (want != 0xC0 or bits != 0xE0)):
                return None
            if seen >> code & 1:
                return None
            seen |= 1 << code
            if code == 1:  # ORIGIN: 0, 1 or 2 (shared small ints), no cache needed
                if ve - vs != 1 or data[vs] > 2:
                    return None
                origin = data[vs]
            elif code == 6:  # ATOMIC_AGGREGATE: empty
                if ve != vs:
                    return None
                atomic = True
            else:
                key = data[i:ve] if _CACHED >> code & 1 else None
                value = cache.get(key) if key is not None else None
                if value is None:
                    try:
                        value = _decode_value(code, data, vs, ve, as4, mrt)
                    except _Malformed:
                        return None
                    if key is not None:
                        cache[key] = value
                if code == 2:
                    as_path = value
                elif code == 8:
                    communities = value
                elif code == 3:
                    next_hop = value
                elif code == 4:
                    med = value
                elif code == 5:
                    local_pref = value
                elif code == 7:
                    aggregator = value
                elif code == 32:
                    large = value
                elif code == 9:
                    originator_id = value
                elif code == 10:
                    cluster_list = value
                elif code == 16:
                    ext_communities = value
                elif code == 17:
                    as4_path = value
                else:  # 18
                    as4_aggregator = value
        tag: int = ((code & 0x1F) << 4) | (flags >> 4)  # an int, as ``sig`` is
        sig = (sig << 9) | tag
        i = ve
    layout = _LAYOUT_SIGS.get(sig)
    if layout is None:
        layout = _sig_layout(sig)
    if mp:
        mp_next_hop = mp_nh
    return AttrSet(
        origin, as_path, next_hop, med, local_pref, atomic, aggregator, communities,
        originator_id, cluster_list, mp_next_hop, ext_communities, as4_path,
        as4_aggregator, large, (), layout,
    )  # fmt: skip


def rib_next_hop(data: bytes, vs: i64, ve: i64) -> tuple[i64, i64]:
    """Where the next hop is in ``data[vs:ve]``, the MP_REACH_NLRI value of an MRT RIB
    entry: ``(start, end)``, or ``(-1, -1)`` when neither form fits.

    RFC 6396 4.3.4 keeps only the next hop's length and address there.  Some writers
    (Quagga's RouteViews IPv6 dumps) put the whole attribute: AFI, SAFI, next hop
    length, next hop, reserved octet and NLRI (the record's own prefix).  The short
    form is tried first.
    """
    if ve > vs:
        first: i64 = data[vs]
        if first == ve - vs - 1:
            return vs + 1, ve
    if ve - vs >= 4:
        nhl: i64 = data[vs + 3]
        if vs + 4 + nhl <= ve:
            return vs + 4, vs + 4 + nhl
    return -1, -1


def decode_attributes(
    data: bytes,
    tlvs: list[tuple[int, int, int, int]],
    as4: bool,
    mrt: bool = False,
    mp_next_hop: bytes | None = None,
    cache: dict[bytes, Any] | None = None,
) -> tuple[AttrSet, tuple[BgpError, ...]]:
    """Decode walked TLVs into an (uninterned) set plus the RFC 7606 outcomes.

    MP_REACH/MP_UNREACH TLVs are skipped here (``update`` decodes them) but keep their
    place in ``wire``.  Errors with a session-reset action are raised; weaker ones are
    returned, strongest first.  ``cache`` maps a whole attribute TLV (flags included)
    to its decoded value, for the attributes of few distinct values (``_CACHED``): a
    full table's NEXT_HOP is decoded once, not once per set.  It must belong to one
    decoding context (ASN width, MRT), as an :class:`Interner` does.
    """
    ctx = _CTX[as4, mrt]
    if cache is None:
        cache = {}
    values: dict[str, Any] = {}
    wire: list[tuple[int, int]] = []
    unknown: list[RawTlv] = []
    seen: set[int] = set()
    errors: list[BgpError] = []
    for flags, code, vs, ve in tlvs:
        if code in seen:
            if code in (14, 15):  # RFC 7606 3g: a repeated MP attribute resets
                raise BgpError(
                    f"attribute {code} appears twice",
                    NotificationCode.UPDATE_MESSAGE_ERROR,
                    U.MALFORMED_ATTRIBUTE_LIST,
                )
            continue  # RFC 7606 3g: all but the first occurrence are discarded
        seen.add(code)
        if code in (14, 15):
            wire.append((code, flags))
            continue
        key = b""
        if _CACHED >> code & 1:
            key = data[vs - (4 if flags & 0x10 else 3) : ve]
            hit = cache.get(key)
            if hit is not None:
                values[_SLOTS[code]] = hit
                wire.append((code, flags))
                continue
        row = ATTRIBUTES.get(code)
        value = data[vs:ve]
        if row is None:
            if not flags & AttrFlag.OPTIONAL:  # RFC 4271 6.3
                raise BgpError(
                    f"unrecognized well-known attribute {code}",
                    NotificationCode.UPDATE_MESSAGE_ERROR,
                    U.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    _tlv(flags, code, value),
                )
            # kept as bytes; ``propagate`` drops the non-transitive ones (RFC 4271 5)
            unknown.append((flags, code, bytes(value)))
            wire.append((code, flags))
            continue
        try:
            if (flags & _O_T) != row.flags or (flags & AttrFlag.PARTIAL and row.flags != OPT_T):
                # RFC 7606 3c: a flags error is handled as a length error of the attribute
                raise _Malformed(
                    f"flags 0x{flags:02x} wrong for {row.name}", U.ATTRIBUTE_FLAGS_ERROR
                )
            values[row.slot] = row.decode(value, ctx)
            if key:
                cache[key] = values[row.slot]
            wire.append((code, flags))
        except _Malformed as exc:
            err = BgpError(
                f"malformed {row.name}: {exc.reason} ({row.rfc})",
                NotificationCode.UPDATE_MESSAGE_ERROR,
                exc.subcode,
                _tlv(flags, code, value),
                row.action,
            )
            if row.action == Action.SESSION_RESET:
                raise err from None
            errors.append(err)
    if unknown:
        values["unknown"] = tuple(unknown)
    if mp_next_hop is not None:
        values["mp_next_hop"] = mp_next_hop
    errors.sort(key=lambda e: -e.action)
    layout = tuple(wire)
    layout = _LAYOUTS.get(layout) or _layout(layout)
    return AttrSet(wire=layout, **values), tuple(errors)


_LAYOUTS: Final[dict[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]] = {}


def _layout(layout: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Share the few distinct attribute layouts (order and flags) between sets."""
    if len(_LAYOUTS) < 65536:  # bounded: a hostile peer cannot grow it for ever
        _LAYOUTS[layout] = layout
    return layout


def _tlv(flags: int, code: int, value: bytes) -> bytes:
    if flags & AttrFlag.EXTENDED_LENGTH:
        return bytes((flags, code)) + pack("!H", len(value)) + value
    return bytes((flags, code, len(value) & 0xFF)) + value


def _header(flags: int, code: int, n: int, force_ext: bool) -> bytes:
    if n > 255 or force_ext:
        return bytes((flags | 0x10, code)) + pack("!H", n)
    return bytes((flags & ~0x10, code, n))


def encode_attributes(
    attrs: AttrSet,
    options: SessionOptions,
    mp: dict[int, bytes] | None = None,
    mrt: bool = False,
) -> bytes:
    """Encode ``attrs``; ``mp`` maps 14/15 to the MP_REACH/MP_UNREACH values.

    With ``wire`` set, order and flags follow it; otherwise attributes go out in
    type-code order with their table flags.  For a 2-octet peer, 4-octet ASNs become
    AS_TRANS and AS4_PATH/AS4_AGGREGATOR are added (RFC 6793 4.2.2).

    Without MP attributes the result depends only on the (immutable, shared) set and
    the ASN width, so it is kept per set object: a route reflector sends one set to
    many peers and in many UPDATEs, and packing measures it before encoding it.
    """
    if not mp:
        cache = _ENCODED[(2 if options.four_octet_as else 0) + (1 if mrt else 0)]
        hit = cache.get(attrs)
        if hit is not None and hit[0] is attrs:
            return hit[1]
        raw = None
        if not attrs.wire and options.four_octet_as and not mrt:
            raw = splice.splice(attrs)
        if raw is None:
            raw = _encode(attrs, options, {}, mrt)
        if hit is None:  # an equal set's entry (bytes recorded as received) is kept
            if len(cache) >= _ENCODED_MAX:
                cache.clear()
            cache[attrs] = (attrs, raw, False)
        return raw
    return _encode(attrs, options, mp, mrt)


_ENCODED: tuple[dict[AttrSet, tuple[AttrSet, bytes, bool]], ...] = ({}, {}, {}, {})
"""Per context (``2 * four_octet_as + mrt``), set -> (that set, its block, whether
``splice.remember_encoding`` recorded the block as received), checked by identity."""
_ENCODED_MAX = 1 << 13  # enough for one read's worth of sets; not a second copy of the RIB


def _encode(attrs: AttrSet, options: SessionOptions, mp: dict[int, bytes], mrt: bool) -> bytes:
    ctx = _Ctx(options.four_octet_as, mrt)
    mp = mp or {}
    order = attrs.wire
    if not order:
        order = _canonical_order(attrs, options, mp)
    elif not options.four_octet_as:
        order = order + tuple((c, OPT_T) for c in _as4_needed(attrs) if (c, OPT_T) not in order)
    out = []
    unknown = {code: (flags, value) for flags, code, value in attrs.unknown}
    for code, flags in order:
        if code in (14, 15):
            if code in mp:
                out.append(_header(flags, code, len(mp[code]), bool(flags & 0x10)) + mp[code])
            continue
        if code in unknown:
            uflags, value = unknown[code]
            out.append(_header(uflags, code, len(value), bool(uflags & 0x10)) + value)
            continue
        row = ATTRIBUTES[code]
        value_obj = getattr(attrs, row.slot)
        if code == 17 and value_obj is None and attrs.as_path is not None:
            value_obj = attrs.as_path  # synthesized AS4_PATH for a 2-octet peer
        if code == 18 and value_obj is None:
            value_obj = attrs.aggregator
        if value_obj is None:
            continue
        enc = row.encode(value_obj, ctx)
        out.append(_header(flags, code, len(enc), bool(flags & 0x10)) + enc)
    return b"".join(out)


def _canonical_order(
    attrs: AttrSet, options: SessionOptions, mp: dict[int, bytes]
) -> tuple[tuple[int, int], ...]:
    present: list[tuple[int, int]] = [(code, MP_FLAGS) for code in mp]
    for row in _ROWS:
        value = getattr(attrs, row.slot)
        if value is None or value is False or (value == () and row.code not in (2, 17)):
            continue  # an empty AS_PATH is still sent (RFC 4271 5.1.2: iBGP origination)
        present.append((row.code, row.flags))
    if not options.four_octet_as:
        present.extend((code, OPT_T) for code in _as4_needed(attrs))
    present.extend((code, flags) for flags, code, _ in attrs.unknown)
    present.sort()
    return tuple(present)


def _as4_needed(attrs: AttrSet) -> list[int]:
    """RFC 6793 4.2.2: AS4_PATH / AS4_AGGREGATOR a 2-octet peer needs to see the real ASNs."""
    codes = []
    if attrs.as4_path is None and _needs_as4(attrs.as_path):
        codes.append(17)
    if attrs.as4_aggregator is None and attrs.aggregator and attrs.aggregator[0] > 0xFFFF:
        codes.append(18)
    return codes


def _needs_as4(path: AsPath | None) -> bool:
    return any(a > 0xFFFF for _, asns in path or () for a in asns)


def as4_merge(attrs: AttrSet) -> AttrSet:
    """RFC 6793 4.2.3: rebuild the 4-octet path a 2-octet peer sent us.

    Returns ``attrs`` itself when there is nothing to merge.
    """
    if attrs.as4_path is None and attrs.as4_aggregator is None:
        return attrs
    aggregator = attrs.aggregator
    as4_path = attrs.as4_path
    if attrs.as4_aggregator is not None and aggregator is not None:
        if aggregator[0] != AS_TRANS:  # AS4_PATH and AS4_AGGREGATOR are both ignored
            return attrs.replace(as4_path=None, as4_aggregator=None)
        aggregator = attrs.as4_aggregator
    path = attrs.as_path or ()
    if as4_path is not None:
        as4_path = tuple(s for s in as4_path if s[0] <= 2)  # confed segments are dropped
        need = as_path_length(path) - as_path_length(as4_path)
        if need >= 0:
            head: list[tuple[int, tuple[int, ...]]] = []
            for seg_type, asns in path:
                if need <= 0:
                    break
                if seg_type == SegmentType.AS_SEQUENCE:
                    take = asns[:need]
                    head.append((seg_type, take))
                    need -= len(take)
                elif seg_type == SegmentType.AS_SET:
                    head.append((seg_type, asns))
                    need -= 1
                else:
                    head.append((seg_type, asns))
            path = tuple(head) + as4_path
    return attrs.replace(as_path=path, aggregator=aggregator, as4_path=None, as4_aggregator=None)


def propagate(attrs: AttrSet) -> AttrSet:
    """RFC 4271 5: what goes on to other peers of the unrecognized attributes.

    An unrecognized optional transitive attribute is passed on with the Partial bit
    set; an unrecognized optional non-transitive one is quietly dropped.
    """
    if not attrs.unknown:
        return attrs
    kept = tuple(
        (f | AttrFlag.PARTIAL, c, v) for f, c, v in attrs.unknown if f & AttrFlag.TRANSITIVE
    )
    return attrs.replace(unknown=kept)


Flawed = tuple[AttrSet, tuple[BgpError, ...]]
"""A set decoded with RFC 7606 outcomes, and those outcomes."""


def raw_hit(attrs: AttrSet, errors: tuple[BgpError, ...]) -> AttrSet | Flawed:
    """What ``Interner.by_raw`` stores for a decoded block: the set, or with errors
    ``(set, errors)``.  The clean case, nearly every set, costs no tuple (64 B and a
    memory read per lookup, for each of 300k sets and 1M lookups of a full table)."""
    return (attrs, errors) if errors else attrs


def split_hit(hit: AttrSet | Flawed) -> Flawed:
    """``(set, errors)`` of a ``by_raw`` value."""
    return (hit, ()) if isinstance(hit, AttrSet) else hit


class Interner:
    """Identical attribute sets are one object (BIRD's ``rta`` cache).

    ``by_raw`` maps the raw wire key of a set to the set, or ``(set, errors)`` when
    it has RFC 7606 outcomes (``raw_hit``); ``by_value`` maps a
    set to its canonical object, for sets built in code.  One interner serves one
    decoding context (ASN width, MRT or not).

    With ``limit``, ``by_raw`` and the value cache are emptied when they reach it
    (``make_room``, called before each decode): a session's interner then holds the
    recent sets (an UPDATE stream repeats a set close to where it first came), not a
    second index of the whole table.  Sets decoded again later are equal, not
    identical; the RIB compares by value where identity fails.  An MRT file's
    interner has no limit: its sets are the table.
    """

    __slots__ = ("by_raw", "by_value", "limit", "values")

    def __init__(self, limit: int | None = None) -> None:
        self.by_raw: dict[object, AttrSet | Flawed] = {}
        self.values: dict[bytes, Any] = {}  # attribute TLV -> decoded value
        self.by_value: dict[tuple[AttrSet, tuple[tuple[int, int], ...]], AttrSet] = {}
        self.limit = limit

    def make_room(self) -> None:
        """Empty the raw-set index and the value cache if they reached ``limit``."""
        limit = self.limit
        if limit is not None:
            if len(self.by_raw) >= limit:
                self.by_raw.clear()
            if len(self.values) >= 4 * limit:  # a few attributes per set
                self.values.clear()

    def intern(self, attrs: AttrSet) -> AttrSet:
        """The shared object equal to ``attrs`` with the same wire form."""
        return self.by_value.setdefault((attrs, attrs.wire), attrs)

    def __len__(self) -> int:
        return len(self.by_raw)

    def clear(self) -> None:
        self.by_raw.clear()
        self.by_value.clear()
        self.values.clear()


from . import splice  # noqa: E402  (it reads this module's caches)
