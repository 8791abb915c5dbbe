"""MRT record types (RFC 6396, RFC 8050).

How this works: control-plane records (peer index tables, BGP4MP messages and state
changes) are frozen dataclasses.  The per-route records of a RIB dump are
``NamedTuple``s: a full table yields millions of them and a tuple is the cheapest
immutable object Python builds; their attribute sets are the codec's interned
:class:`~pybgp.codec.attributes.AttrSet`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from ..codec.attributes import AttrSet
from ..codec.errors import BgpError

__all__ = [
    "MrtType",
    "TableDumpV2",
    "Bgp4mp",
    "Peer",
    "PeerIndexTable",
    "RibEntry",
    "RibRecord",
    "Bgp4mpMessage",
    "Bgp4mpStateChange",
    "TableDumpEntry",
    "UnknownRecord",
    "MrtRecord",
    "MrtError",
]


class MrtType(IntEnum):
    """MRT Types (RFC 6396 4)."""

    TABLE_DUMP = 12
    TABLE_DUMP_V2 = 13
    BGP4MP = 16
    BGP4MP_ET = 17


class TableDumpV2(IntEnum):
    """TABLE_DUMP_V2 subtypes (RFC 6396 4.3, RFC 8050 4)."""

    PEER_INDEX_TABLE = 1
    RIB_IPV4_UNICAST = 2
    RIB_IPV4_MULTICAST = 3
    RIB_IPV6_UNICAST = 4
    RIB_IPV6_MULTICAST = 5
    RIB_GENERIC = 6
    RIB_IPV4_UNICAST_ADDPATH = 8
    RIB_IPV4_MULTICAST_ADDPATH = 9
    RIB_IPV6_UNICAST_ADDPATH = 10
    RIB_IPV6_MULTICAST_ADDPATH = 11
    RIB_GENERIC_ADDPATH = 12


class Bgp4mp(IntEnum):
    """BGP4MP subtypes (RFC 6396 4.4, RFC 8050 3)."""

    STATE_CHANGE = 0
    MESSAGE = 1
    MESSAGE_AS4 = 4
    STATE_CHANGE_AS4 = 5
    MESSAGE_LOCAL = 6
    MESSAGE_AS4_LOCAL = 7
    MESSAGE_ADDPATH = 8
    MESSAGE_AS4_ADDPATH = 9
    MESSAGE_LOCAL_ADDPATH = 10
    MESSAGE_AS4_LOCAL_ADDPATH = 11


class MrtError(Exception):
    """A record that cannot be parsed: the reader yields it and goes on when it can."""

    def __init__(
        self,
        reason: str,
        timestamp: int = 0,
        mrt_type: int = 0,
        subtype: int = 0,
        truncated: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.timestamp = timestamp
        self.mrt_type = mrt_type
        self.subtype = subtype
        self.truncated = truncated
        """The input ends early: a cut record, or a damaged compressed stream."""


@dataclass(frozen=True, slots=True)
class Peer:
    """A PEER_INDEX_TABLE entry (RFC 6396 4.3.1)."""

    bgp_id: bytes
    address: bytes
    """4 or 16 octets."""
    asn: int
    peer_type: int = 0
    """Bit 0: IPv6 address; bit 1: 4-octet AS."""


@dataclass(frozen=True, slots=True)
class PeerIndexTable:
    timestamp: int
    collector_id: bytes
    view_name: str
    peers: tuple[Peer, ...]


class RibEntry(NamedTuple):
    """One path in a RIB record (RFC 6396 4.3.4; RFC 8050 4 adds ``path_id``)."""

    peer_index: int
    originated: int
    attrs: AttrSet
    path_id: int = 0
    error: BgpError | None = None


class RibRecord(NamedTuple):
    """RIB_IPV4_UNICAST and friends: one prefix and its paths."""

    timestamp: int
    subtype: int
    afi: int
    safi: int
    sequence: int
    prefix: int
    """The codec's prefix key: ``(network << 8) | length``."""
    entries: tuple[RibEntry, ...]


@dataclass(frozen=True, slots=True)
class Bgp4mpMessage:
    """BGP4MP(_ET) MESSAGE*: a BGP message between two peers (RFC 6396 4.4.2)."""

    timestamp: float
    subtype: int
    peer_as: int
    local_as: int
    interface: int
    afi: int
    peer_ip: bytes
    local_ip: bytes
    data: bytes
    """The whole BGP message, header included."""
    extended: bool = False
    """BGP4MP_ET (microsecond timestamp)."""

    @property
    def as4(self) -> bool:
        return self.subtype in (4, 7, 9, 11)

    @property
    def addpath(self) -> bool:
        return self.subtype >= 8


@dataclass(frozen=True, slots=True)
class Bgp4mpStateChange:
    """BGP4MP STATE_CHANGE(_AS4) (RFC 6396 4.4.1)."""

    timestamp: float
    subtype: int
    peer_as: int
    local_as: int
    interface: int
    afi: int
    peer_ip: bytes
    local_ip: bytes
    old_state: int
    new_state: int
    extended: bool = False


@dataclass(frozen=True, slots=True)
class TableDumpEntry:
    """A legacy TABLE_DUMP record (RFC 6396 4.2): one prefix, one peer."""

    timestamp: int
    afi: int
    view: int
    sequence: int
    prefix: int
    status: int
    originated: int
    peer_ip: bytes
    peer_as: int
    attrs: AttrSet
    error: BgpError | None = None


@dataclass(frozen=True, slots=True)
class UnknownRecord:
    """A record type or subtype this reader does not parse, kept as bytes."""

    timestamp: int
    mrt_type: int
    subtype: int
    body: bytes


MrtRecord = (
    PeerIndexTable
    | RibRecord
    | Bgp4mpMessage
    | Bgp4mpStateChange
    | TableDumpEntry
    | UnknownRecord
    | MrtError
)
