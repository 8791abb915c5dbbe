"""The wire layouts of BGP-4, declared with construct: the declaration of record.

How this works: every message and field layout the codec reads is declared here once,
as a construct ``Struct``: the header (RFC 4271 4.1), OPEN with its Optional
Parameters, the RFC 9072 extended form and capability TLVs (RFC 5492), UPDATE with
its withdrawn routes, path attribute TLVs (flags with the Extended Length bit) and
NLRI (RFC 4271 4.3), an NLRI entry with its optional ADD-PATH Path Identifier
(RFC 7911 3), MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 3, 4), AS_PATH segments with
2- or 4-octet ASNs (RFC 4271 4.3, RFC 6793), NOTIFICATION (RFC 4271 4.5) and
ROUTE-REFRESH (RFC 2918, RFC 7313).

The codec does not parse with these declarations: its hot loops (``nlri.decode_nlri``,
``attributes.walk_attributes``, ``update.decode_update``, ``header.check_header``,
``open.decode_open``) are written by hand for speed.  ``tests/test_layouts_differential``
runs both over captured and generated messages and requires the same prefixes, path
ids and TLV boundaries, or that both reject.  The layouts that depend on a session
(NLRI width, ADD-PATH) are built by small cached factories; the ``parse_*`` helpers
return plain tuples and raise ``construct.ConstructError`` on anything malformed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from construct import (
    BitStruct,
    Bytes,
    Check,
    Computed,
    Const,
    ConstructError,
    FixedSized,
    Flag,
    GreedyBytes,
    GreedyRange,
    If,
    IfThenElse,
    Int8ub,
    Int16ub,
    Int32ub,
    Nibble,
    PascalString,
    Peek,
    Prefixed,
    Struct,
    Switch,
    Terminated,
    this,
)

from .options import DEFAULT_OPTIONS, SessionOptions

__all__ = [
    "ConstructError",
    "MARKER",
    "MIN_LENGTH",
    "MessageHeader",
    "Capability",
    "OptionalParameter",
    "ExtendedOptionalParameter",
    "OpenBody",
    "AttributeFlags",
    "PathAttribute",
    "PathAttributes",
    "UpdateFields",
    "NotificationBody",
    "ShutdownCommunication",
    "RouteRefreshBody",
    "nlri_entry",
    "nlri_list",
    "as_path",
    "mp_reach",
    "mp_unreach",
    "update_body",
    "message",
    "parse_header",
    "parse_nlri_list",
    "build_nlri_list",
    "parse_attribute_tlvs",
    "parse_update_fields",
    "parse_as_path",
    "parse_mp_reach",
    "parse_mp_unreach",
    "parse_open",
    "parse_message",
]

MARKER = b"\xff" * 16
MIN_LENGTH = {1: 29, 2: 23, 3: 21, 4: 19, 5: 23}
"""RFC 4271 4.1 / 6.1: the smallest legal Length per message Type."""
NLRI_BITS = {(1, 1): 32, (1, 2): 32, (2, 1): 128, (2, 2): 128}
"""AFI/SAFIs whose NLRI are plain prefixes, and their address width."""
NEXT_HOP_LENGTHS = {1: (4, 16, 32), 2: (4, 16, 32)}  # RFC 8950 and the reverse
"""Next hop lengths accepted per AFI (RFC 4760 3, RFC 2545 3, RFC 8950 3)."""

# --- header (RFC 4271 4.1, 6.1) -----------------------------------------------------
MessageHeader = Struct(
    "marker" / Const(MARKER),
    "length" / Int16ub,
    "type" / Int8ub,
    Check(lambda c: c.type in MIN_LENGTH),
    Check(lambda c: MIN_LENGTH[c.type] <= c.length <= c._params.get("max_length", 65535)),
    Check(lambda c: c.type != 4 or c.length == 19),
)
"""Marker, Length, Type; pass ``max_length=`` to ``parse`` (default 65535)."""

# --- OPEN (RFC 4271 4.2, RFC 5492 4, RFC 9072 2) ------------------------------------
Capability = Struct(
    "code" / Int8ub,
    "value" / Prefixed(Int8ub, GreedyBytes),
)
"""A capability TLV: Capability Code, Capability Length, Capability Value."""

_Capabilities = Struct("capabilities" / GreedyRange(Capability), Terminated)


def _parameter(length_field: Any) -> Any:
    return Struct(
        "type" / Int8ub,
        "value"
        / Prefixed(
            length_field,
            Switch(this.type, {2: _Capabilities}, default=GreedyBytes),
        ),
    )


OptionalParameter = _parameter(Int8ub)
"""Parm. Type, Parm. Length (1 octet), Parameter Value; type 2 holds capabilities."""
ExtendedOptionalParameter = _parameter(Int16ub)
"""The RFC 9072 form: a 2-octet Parm. Length."""

OpenBody = Struct(
    "version" / Int8ub,
    Check(this.version == 4),
    "my_as" / Int16ub,
    "hold_time" / Int16ub,
    "bgp_id" / Bytes(4),
    "opt_len" / Int8ub,
    "ext_type" / If(this.opt_len == 255, Peek(Int8ub)),
    "extended" / Computed(lambda c: c.opt_len == 255 and c.ext_type == 255),
    "parameters"
    / IfThenElse(
        this.extended,
        Struct(
            Const(b"\xff"),
            "params"
            / Prefixed(
                Int16ub, Struct("items" / GreedyRange(ExtendedOptionalParameter), Terminated)
            ),
        ),
        Struct(
            "params"
            / FixedSized(
                this._.opt_len, Struct("items" / GreedyRange(OptionalParameter), Terminated)
            ),
        ),
    ),
    Terminated,
)
"""Version (must be 4), My AS, Hold Time, BGP Identifier, Optional Parameters."""

# --- NLRI (RFC 4271 4.3, RFC 4760 5.1, RFC 7911 3) ----------------------------------


@cache
def nlri_entry(bits: int = 32, addpath: bool = False) -> Any:
    """One NLRI: [Path Identifier (4)] Length (1) Prefix (ceil(Length/8) octets)."""
    return Struct(
        "path_id" / If(addpath, Int32ub),
        "length" / Int8ub,
        Check(this.length <= bits),
        "prefix" / Bytes(lambda c: (c.length + 7) // 8),
    )


@cache
def nlri_list(bits: int = 32, addpath: bool = False) -> Any:
    """NLRI entries filling the whole field (a partial trailing entry is malformed)."""
    return Struct("entries" / GreedyRange(nlri_entry(bits, addpath)), Terminated)


# --- path attributes (RFC 4271 4.3) -------------------------------------------------
AttributeFlags = BitStruct(
    "optional" / Flag,
    "transitive" / Flag,
    "partial" / Flag,
    "extended_length" / Flag,
    "unused" / Nibble,
)
"""Attribute Flags: Optional, Transitive, Partial, Extended Length, 4 unused bits."""

PathAttribute = Struct(
    "flags" / AttributeFlags,
    "type" / Int8ub,
    "value"
    / IfThenElse(
        this.flags.extended_length,
        Prefixed(Int16ub, GreedyBytes),
        Prefixed(Int8ub, GreedyBytes),
    ),
)
"""Attribute Type (flags, type code), Attribute Length (1 or 2 octets), value."""

PathAttributes = Struct("attributes" / GreedyRange(PathAttribute), Terminated)
"""The Path Attributes field: TLVs filling it exactly."""


@cache
def as_path(four_octet: bool = True) -> Any:
    """AS_PATH (or AS4_PATH): segments of type 1..4 with 1..255 ASNs of 2 or 4 octets."""
    segment = Struct(
        "type" / Int8ub,
        Check(lambda c: 1 <= c.type <= 4),
        "count" / Int8ub,
        Check(this.count > 0),
        "asns" / (Int32ub if four_octet else Int16ub)[this.count],
    )
    return Struct("segments" / GreedyRange(segment), Terminated)


def _nlri_switch(addpath: frozenset[tuple[int, int]]) -> Any:
    return Switch(
        lambda c: (c.afi, c.safi),
        {key: nlri_list(bits, key in addpath) for key, bits in NLRI_BITS.items()},
        default=GreedyBytes,
    )


@cache
def mp_reach(addpath: frozenset[tuple[int, int]] = frozenset()) -> Any:
    """MP_REACH_NLRI value: AFI, SAFI, Next Hop, Reserved, NLRI (RFC 4760 3)."""
    return Struct(
        "afi" / Int16ub,
        "safi" / Int8ub,
        "next_hop" / Prefixed(Int8ub, GreedyBytes),
        Check(
            lambda c: (c.afi, c.safi) not in NLRI_BITS or len(c.next_hop) in NEXT_HOP_LENGTHS[c.afi]
        ),
        "reserved" / Int8ub,
        "nlri" / _nlri_switch(addpath),
    )


@cache
def mp_unreach(addpath: frozenset[tuple[int, int]] = frozenset()) -> Any:
    """MP_UNREACH_NLRI value: AFI, SAFI, Withdrawn Routes (RFC 4760 4)."""
    return Struct(
        "afi" / Int16ub,
        "safi" / Int8ub,
        "withdrawn" / _nlri_switch(addpath),
    )


# --- UPDATE (RFC 4271 4.3) ----------------------------------------------------------
UpdateFields = Struct(
    "withdrawn" / Prefixed(Int16ub, GreedyBytes),
    "attributes" / Prefixed(Int16ub, GreedyBytes),
    "nlri" / GreedyBytes,
)
"""The three variable fields of an UPDATE, as bytes: the split RFC 4271 6.3 checks."""


@cache
def update_body(addpath: frozenset[tuple[int, int]] = frozenset()) -> Any:
    """A whole UPDATE body with the IPv4 withdrawn and NLRI lists parsed."""
    v4 = (1, 1) in addpath
    return Struct(
        "withdrawn" / Prefixed(Int16ub, nlri_list(32, v4)),
        "attributes" / Prefixed(Int16ub, PathAttributes),
        "nlri" / nlri_list(32, v4),
    )


# --- NOTIFICATION (RFC 4271 4.5, RFC 9003 2) and ROUTE-REFRESH (RFC 2918, 7313) -----
NotificationBody = Struct(
    "code" / Int8ub,
    "subcode" / Int8ub,
    "data" / GreedyBytes,
)
"""Error code, Error subcode, Data."""

ShutdownCommunication = Struct("message" / PascalString(Int8ub, "utf8"), "rest" / GreedyBytes)
"""The Data of Cease/Administrative Shutdown or Reset: length octet and UTF-8 text."""

RouteRefreshBody = Struct(
    "afi" / Int16ub,
    "subtype" / Int8ub,
    "safi" / Int8ub,
    "orf" / GreedyBytes,
    Check(lambda c: c.subtype not in (1, 2) or not c.orf),
)
"""AFI, Message Subtype (0 normal, 1 BoRR, 2 EoRR; RFC 7313 3), SAFI, ORF entries."""

# --- whole messages -----------------------------------------------------------------


@cache
def message(addpath: frozenset[tuple[int, int]] = frozenset()) -> Any:
    """Header plus the body its Type selects, sized by its Length."""
    return Struct(
        "header" / MessageHeader,
        "body"
        / FixedSized(
            this.header.length - 19,
            Switch(
                this.header.type,
                {
                    1: OpenBody,
                    2: update_body(addpath),
                    3: NotificationBody,
                    4: Terminated,
                    5: RouteRefreshBody,
                },
            ),
        ),
        Terminated,
    )


# --- helpers: plain tuples out, ConstructError on malformed input -------------------
NlriTuple = tuple[int | None, int, int]
"""``(path_id or None, network as an int, length)``."""
AttributeTlv = tuple[int, int, bytes]
"""``(flags, type code, value)``."""


def _flags(f: Any) -> int:
    return int(
        (f.optional << 7) | (f.transitive << 6) | (f.partial << 5) | (f.extended_length << 4)
    ) | int(f.unused)


def _prefixes(parsed: Any, bits: int) -> list[NlriTuple]:
    out: list[NlriTuple] = []
    for e in parsed.entries:
        n = len(e.prefix)
        net = int.from_bytes(e.prefix, "big") << (bits - 8 * n)
        net &= ((1 << bits) - 1) ^ ((1 << (bits - e.length)) - 1)  # RFC 4271 4.3: trailing bits
        out.append((e.path_id, net, int(e.length)))
    return out


def parse_header(data: bytes, max_length: int = 65535) -> tuple[int, int]:
    """``(length, type)`` of the header at the start of ``data``."""
    h = MessageHeader.parse(data, max_length=max_length)
    return int(h.length), int(h.type)


def parse_nlri_list(data: bytes, bits: int = 32, addpath: bool = False) -> list[NlriTuple]:
    """Every NLRI of a field that ``data`` fills exactly."""
    return _prefixes(nlri_list(bits, addpath).parse(data), bits)


def build_nlri_list(entries: list[NlriTuple], bits: int = 32, addpath: bool = False) -> bytes:
    """The inverse of ``parse_nlri_list`` (host bits beyond the length are dropped)."""
    items = []
    for path_id, net, length in entries:
        n = (length + 7) // 8
        prefix = (net >> (bits - 8 * n)).to_bytes(n, "big")
        items.append({"path_id": path_id if addpath else None, "length": length, "prefix": prefix})
    out: bytes = nlri_list(bits, addpath).build({"entries": items})
    return out


def parse_attribute_tlvs(data: bytes) -> list[AttributeTlv]:
    """The path attribute TLVs of a Path Attributes field."""
    return [
        (_flags(a.flags), int(a.type), bytes(a.value))
        for a in PathAttributes.parse(data).attributes
    ]


def parse_update_fields(body: bytes) -> tuple[bytes, bytes, bytes]:
    """``(withdrawn, path attributes, nlri)`` of an UPDATE body."""
    u = UpdateFields.parse(body)
    return bytes(u.withdrawn), bytes(u.attributes), bytes(u.nlri)


def parse_as_path(value: bytes, four_octet: bool = True) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """AS_PATH segments as ``(type, (asn, ...))``."""
    parsed = as_path(four_octet).parse(value)
    return tuple((int(s.type), tuple(int(a) for a in s.asns)) for s in parsed.segments)


def parse_mp_reach(
    value: bytes, addpath: frozenset[tuple[int, int]] = frozenset()
) -> tuple[int, int, bytes, list[NlriTuple] | bytes]:
    """``(afi, safi, next hop, NLRI)``; NLRI of unknown AFI/SAFIs stay bytes."""
    r = mp_reach(addpath).parse(value)
    bits = NLRI_BITS.get((r.afi, r.safi))
    nlri = bytes(r.nlri) if bits is None else _prefixes(r.nlri, bits)
    return int(r.afi), int(r.safi), bytes(r.next_hop), nlri


def parse_mp_unreach(
    value: bytes, addpath: frozenset[tuple[int, int]] = frozenset()
) -> tuple[int, int, list[NlriTuple] | bytes]:
    """``(afi, safi, withdrawn)``; withdrawn NLRI of unknown AFI/SAFIs stay bytes."""
    r = mp_unreach(addpath).parse(value)
    bits = NLRI_BITS.get((r.afi, r.safi))
    wd = bytes(r.withdrawn) if bits is None else _prefixes(r.withdrawn, bits)
    return int(r.afi), int(r.safi), wd


def parse_open(body: bytes) -> tuple[int, int, bytes, list[tuple[int, bytes]], list[AttributeTlv]]:
    """``(my_as, hold_time, bgp_id, [(type, value)], [(param index, code, value)])``.

    The last list holds the capabilities, each tagged with the index of the
    Capabilities Optional Parameter that carried it.
    """
    o = OpenBody.parse(body)
    params: list[tuple[int, bytes]] = []
    caps: list[AttributeTlv] = []
    for k, p in enumerate(o.parameters.params["items"]):
        if p.type == 2:
            caps.extend((k, int(c.code), bytes(c.value)) for c in p.value.capabilities)
        else:
            params.append((int(p.type), bytes(p.value)))
    return int(o.my_as), int(o.hold_time), bytes(o.bgp_id), params, caps


def parse_message(data: bytes, options: SessionOptions = DEFAULT_OPTIONS) -> Any:
    """The whole message as a construct ``Container`` (``header``, ``body``)."""
    return message(options.addpath_rx).parse(data)
