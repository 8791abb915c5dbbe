"""OPEN (RFC 4271 4.2) and its capabilities (RFC 5492).

How this works: the Optional Parameters are walked (with the RFC 9072 extended
length form), Capabilities parameters (type 2) are split into capability TLVs, and
each known capability code decodes into a small frozen dataclass.  Unknown ones are
kept as :class:`RawCapability` bytes.  ``param_groups`` remembers how capabilities
were packed into parameters, so that re-encoding gives back the same bytes.
Semantic checks (peer AS, hold time, identifier) belong to the FSM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from struct import pack, unpack_from
from typing import ClassVar

from .errors import BgpError, ErrorSubcode, NotificationCode
from .options import SessionOptions

__all__ = [
    "CapabilityCode",
    "Open",
    "Multiprotocol",
    "RouteRefreshCap",
    "EnhancedRouteRefresh",
    "FourOctetAs",
    "GracefulRestart",
    "AddPath",
    "ExtendedMessage",
    "BgpRole",
    "Fqdn",
    "RawCapability",
    "Capability",
    "decode_open",
    "encode_open",
    "negotiate_options",
]

O = ErrorSubcode.Open


class CapabilityCode(IntEnum):
    """IANA Capability Codes."""

    MULTIPROTOCOL = 1
    ROUTE_REFRESH = 2
    EXTENDED_NEXT_HOP = 5
    EXTENDED_MESSAGE = 6
    BGP_ROLE = 9
    GRACEFUL_RESTART = 64
    FOUR_OCTET_AS = 65
    ADD_PATH = 69
    ENHANCED_ROUTE_REFRESH = 70
    LLGR = 71
    FQDN = 73
    SOFTWARE_VERSION = 75
    ROUTE_REFRESH_CISCO = 128


class _Bad(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Multiprotocol:
    """Multiprotocol Extensions (RFC 4760 8)."""

    code: ClassVar[int] = 1
    afi: int
    safi: int
    reserved: int = 0

    def encode(self) -> bytes:
        return pack("!HBB", self.afi, self.reserved, self.safi)

    @staticmethod
    def decode(v: bytes) -> Multiprotocol:
        if len(v) != 4:
            raise _Bad("multiprotocol capability length")
        return Multiprotocol((v[0] << 8) | v[1], v[3], v[2])


@dataclass(frozen=True, slots=True)
class RouteRefreshCap:
    """Route Refresh (RFC 2918 3)."""

    code: ClassVar[int] = 2

    def encode(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class EnhancedRouteRefresh:
    """Enhanced Route Refresh (RFC 7313 3.1)."""

    code: ClassVar[int] = 70

    def encode(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class ExtendedMessage:
    """Extended Message (RFC 8654 3)."""

    code: ClassVar[int] = 6

    def encode(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class FourOctetAs:
    """Support for 4-octet AS number space (RFC 6793 3)."""

    code: ClassVar[int] = 65
    asn: int

    def encode(self) -> bytes:
        return pack("!I", self.asn)

    @staticmethod
    def decode(v: bytes) -> FourOctetAs:
        if len(v) != 4:
            raise _Bad("4-octet AS capability length")
        return FourOctetAs(int.from_bytes(v, "big"))


@dataclass(frozen=True, slots=True)
class GracefulRestart:
    """Graceful Restart (RFC 4724 3): Restart Flags, Restart Time, per-AFI/SAFI flags."""

    code: ClassVar[int] = 64
    restart_flags: int = 0
    """R (0x8, restarted) and N (0x4, notification, RFC 8538) bits."""
    restart_time: int = 0
    """Seconds, 12 bits."""
    afisafis: tuple[tuple[int, int, int], ...] = ()
    """(AFI, SAFI, flags with F=0x80: forwarding state preserved)."""

    def encode(self) -> bytes:
        head = pack("!H", (self.restart_flags << 12) | (self.restart_time & 0xFFF))
        return head + b"".join(pack("!HBB", a, s, f) for a, s, f in self.afisafis)

    @staticmethod
    def decode(v: bytes) -> GracefulRestart:
        if len(v) < 2 or (len(v) - 2) % 4:
            raise _Bad("graceful restart capability length")
        word = (v[0] << 8) | v[1]
        entries = tuple(unpack_from("!HBB", v, i) for i in range(2, len(v), 4))
        return GracefulRestart(word >> 12, word & 0xFFF, entries)


@dataclass(frozen=True, slots=True)
class AddPath:
    """ADD-PATH (RFC 7911 4): (AFI, SAFI, Send/Receive) with 1 receive, 2 send, 3 both."""

    code: ClassVar[int] = 69
    afisafis: tuple[tuple[int, int, int], ...] = ()

    def encode(self) -> bytes:
        return b"".join(pack("!HBB", a, s, d) for a, s, d in self.afisafis)

    @staticmethod
    def decode(v: bytes) -> AddPath:
        if len(v) % 4:
            raise _Bad("ADD-PATH capability length")
        entries = tuple(unpack_from("!HBB", v, i) for i in range(0, len(v), 4))
        if any(not 1 <= d <= 3 for _, _, d in entries):
            raise _Bad("ADD-PATH Send/Receive value")
        return AddPath(entries)


class Role(IntEnum):
    PROVIDER = 0
    RS = 1
    RS_CLIENT = 2
    CUSTOMER = 3
    PEER = 4


@dataclass(frozen=True, slots=True)
class BgpRole:
    """BGP Role (RFC 9234 4.1)."""

    code: ClassVar[int] = 9
    role: int

    def encode(self) -> bytes:
        return bytes((self.role,))

    @staticmethod
    def decode(v: bytes) -> BgpRole:
        if len(v) != 1:
            raise _Bad("BGP role capability length")
        return BgpRole(v[0])


@dataclass(frozen=True, slots=True)
class Fqdn:
    """FQDN capability (draft-walton-bgp-hostname-capability): host and domain name."""

    code: ClassVar[int] = 73
    hostname: str
    domain: str = ""

    def encode(self) -> bytes:
        h, d = self.hostname.encode(), self.domain.encode()
        return bytes((len(h),)) + h + bytes((len(d),)) + d

    @staticmethod
    def decode(v: bytes) -> Fqdn:
        if not v or len(v) < 1 + v[0]:
            raise _Bad("FQDN capability length")
        hl = v[0]
        host = v[1 : 1 + hl]
        rest = v[1 + hl :]
        dom = b""
        if rest:
            if len(rest) != 1 + rest[0]:
                raise _Bad("FQDN capability domain length")
            dom = rest[1:]
        try:  # anything we could not re-encode exactly stays a RawCapability
            return Fqdn(host.decode("utf-8"), dom.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Bad("FQDN capability is not UTF-8") from None


@dataclass(frozen=True, slots=True)
class RawCapability:
    """A capability kept as bytes: unknown codes, and known ones we do not parse."""

    raw_code: int
    value: bytes = b""

    @property
    def code(self) -> int:
        return self.raw_code

    def encode(self) -> bytes:
        return self.value


Capability = (
    Multiprotocol
    | RouteRefreshCap
    | EnhancedRouteRefresh
    | ExtendedMessage
    | FourOctetAs
    | GracefulRestart
    | AddPath
    | BgpRole
    | Fqdn
    | RawCapability
)

_EMPTY: dict[int, Callable[[], Capability]] = {
    2: RouteRefreshCap,
    70: EnhancedRouteRefresh,
    6: ExtendedMessage,
}
_DECODERS: dict[int, Callable[[bytes], Capability]] = {
    1: Multiprotocol.decode,
    64: GracefulRestart.decode,
    65: FourOctetAs.decode,
    69: AddPath.decode,
    9: BgpRole.decode,
    73: Fqdn.decode,
}


def _decode_capability(code: int, v: bytes) -> Capability:
    if code in _EMPTY:
        if v:
            return RawCapability(code, bytes(v))  # tolerate, keep bytes for round trip
        return _EMPTY[code]()
    dec = _DECODERS.get(code)
    if dec is None:
        return RawCapability(code, bytes(v))
    try:
        return dec(bytes(v))
    except _Bad:
        # a malformed known capability is kept raw; the FSM decides what it means
        return RawCapability(code, bytes(v))


@dataclass(frozen=True, slots=True)
class Open:
    """An OPEN message (RFC 4271 4.2)."""

    my_as: int
    """My Autonomous System: AS_TRANS when the real ASN needs 4 octets (RFC 6793)."""
    hold_time: int
    """Hold Time in seconds."""
    bgp_id: bytes
    """BGP Identifier, 4 octets."""
    capabilities: tuple[Capability, ...] = ()
    """Capabilities from every Capabilities Optional Parameter (RFC 5492)."""
    version: int = 4
    """Version."""
    other_params: tuple[tuple[int, bytes], ...] = ()
    """Optional Parameters that are not Capabilities (type, value)."""
    param_groups: tuple[int, ...] = field(default=(), compare=False)
    """How many capabilities each Capabilities parameter held, for exact re-encoding."""
    extended_params: bool = field(default=False, compare=False)
    """RFC 9072 extended Optional Parameters Length was used."""

    def find(self, cls: type) -> list[Capability]:
        return [c for c in self.capabilities if isinstance(c, cls)]

    @property
    def asn(self) -> int:
        """The speaker's real ASN: the 4-octet AS capability when present."""
        for c in self.capabilities:
            if isinstance(c, FourOctetAs):
                return c.asn
        return self.my_as


def _open_error(reason: str, subcode: int, data: bytes = b"") -> BgpError:
    return BgpError(reason, NotificationCode.OPEN_MESSAGE_ERROR, subcode, data)


def decode_open(body: bytes) -> Open:
    """Decode an OPEN body (after the header)."""
    if len(body) < 10:
        raise BgpError(
            "OPEN shorter than its fixed fields",
            NotificationCode.MESSAGE_HEADER_ERROR,
            ErrorSubcode.Header.BAD_MESSAGE_LENGTH,
        )
    version = body[0]
    if version != 4:  # RFC 4271 6.2: data is the largest supported version
        raise _open_error(
            f"unsupported version {version}", O.UNSUPPORTED_VERSION_NUMBER, b"\x00\x04"
        )
    my_as, hold, bgp_id = (body[1] << 8) | body[2], (body[3] << 8) | body[4], bytes(body[5:9])
    plen = body[9]
    i = 10
    extended = False
    if plen == 255 and len(body) > 10 and body[10] == 255:  # RFC 9072 2
        if len(body) < 13:
            raise _open_error("truncated extended optional parameters length", 0)
        plen = (body[11] << 8) | body[12]
        i = 13
        extended = True
    end = i + plen
    if end != len(body):
        raise _open_error(f"optional parameters length {plen} does not match the message", 0)
    caps: list[Capability] = []
    groups: list[int] = []
    other: list[tuple[int, bytes]] = []
    hdr = 3 if extended else 2
    while i < end:
        if i + hdr > end:
            raise _open_error("truncated optional parameter", 0)
        ptype = body[i]
        pl = ((body[i + 1] << 8) | body[i + 2]) if extended else body[i + 1]
        vs, ve = i + hdr, i + hdr + pl
        if ve > end:
            raise _open_error("optional parameter overruns the OPEN", 0)
        if ptype == 2:
            count = 0
            j = vs
            while j < ve:
                if j + 2 > ve:
                    raise _open_error("truncated capability", 0)
                code, cl = body[j], body[j + 1]
                if j + 2 + cl > ve:
                    raise _open_error(f"capability {code} overruns its parameter", 0)
                caps.append(_decode_capability(code, body[j + 2 : j + 2 + cl]))
                count += 1
                j += 2 + cl
            groups.append(count)
        else:
            other.append((ptype, bytes(body[vs:ve])))
        i = ve
    return Open(my_as, hold, bgp_id, tuple(caps), version, tuple(other), tuple(groups), extended)


def encode_open(o: Open) -> bytes:
    caps = [bytes((c.code, len(v))) + v for c in o.capabilities for v in (c.encode(),)]
    groups = o.param_groups if sum(o.param_groups) == len(caps) else ((len(caps),) if caps else ())
    params: list[tuple[int, bytes]] = []
    k = 0
    for n in groups:
        params.append((2, b"".join(caps[k : k + n])))
        k += n
    params.extend(o.other_params)
    body = b"".join(bytes((t, len(v))) + v for t, v in params)
    if o.extended_params or len(body) > 255 or any(len(v) > 255 for _, v in params):
        body = b"".join(bytes((t,)) + pack("!H", len(v)) + v for t, v in params)
        opt = b"\xff\xff" + pack("!H", len(body)) + body
    else:
        opt = bytes((len(body),)) + body
    return pack("!BHH", o.version, o.my_as & 0xFFFF, o.hold_time) + o.bgp_id + opt


def negotiate_options(sent: Open, received: Open) -> SessionOptions:
    """The codec options of a session, from the side that sent ``sent`` (RFC 5492).

    4-octet AS needs both (RFC 6793 4); ADD-PATH goes our way for an AFI/SAFI we may
    send and the peer may receive (RFC 7911 5); Extended Message needs both (RFC 8654).
    """

    def addpath(o: Open) -> dict[tuple[int, int], int]:
        return {
            (a, s): d for c in o.capabilities if isinstance(c, AddPath) for a, s, d in c.afisafis
        }

    ours, theirs = addpath(sent), addpath(received)
    tx = frozenset(k for k, d in ours.items() if d & 2 and theirs.get(k, 0) & 1)
    rx = frozenset(k for k, d in ours.items() if d & 1 and theirs.get(k, 0) & 2)

    def has(o: Open, cls: type) -> bool:
        return any(isinstance(c, cls) for c in o.capabilities)

    return SessionOptions(
        four_octet_as=has(sent, FourOctetAs) and has(received, FourOctetAs),
        addpath_rx=rx,
        addpath_tx=tx,
        extended_message=has(sent, ExtendedMessage) and has(received, ExtendedMessage),
    )
