"""``--updates FILE``: a running daemon records the UPDATEs it receives as BGP4MP.

How this works: each UPDATE an Established session receives is written as one
BGP4MP_ET MESSAGE_AS4 record (MESSAGE_AS4_ADDPATH when the session receives path
identifiers) with the peer's and our addresses and ASNs, the same form RouteViews
and RIS publish, so `pybgp decode`, bgpdump and mrtparse read it.  The message bytes
are the codec's re-encoding of the decoded UPDATE, which is byte-exact for what it
decoded (the round-trip tests hold it to that).  Writes are buffered; ``close``
flushes.
"""

from __future__ import annotations

import ipaddress
import time
from typing import BinaryIO

from ..codec.message import encode_message
from ..codec.options import SessionOptions
from ..codec.update import Update
from .records import Bgp4mp, Bgp4mpMessage
from .writer import MrtWriter

__all__ = ["UpdateDump"]


class UpdateDump:
    def __init__(self, path: str) -> None:
        self.file: BinaryIO = open(path, "ab", buffering=1 << 16)  # noqa: SIM115
        self.writer = MrtWriter(self.file)
        self.count = 0

    def record(
        self,
        update: Update,
        options: SessionOptions,
        peer: tuple[str, int],
        local: tuple[str, int],
    ) -> None:
        """Write one received UPDATE; ``peer``/``local`` are (address, ASN)."""
        peer_ip = ipaddress.ip_address(peer[0])
        local_ip = ipaddress.ip_address(local[0])
        if peer_ip.version != local_ip.version:
            return  # BGP4MP needs both addresses in one family
        sender = options.reversed()  # the bytes as the peer sent them
        data = encode_message(update, sender.symmetric(options.addpath_rx))
        subtype = Bgp4mp.MESSAGE_AS4_ADDPATH if options.addpath_rx else Bgp4mp.MESSAGE_AS4
        self.writer.bgp4mp_message(
            Bgp4mpMessage(
                timestamp=time.time(),
                subtype=subtype,
                peer_as=peer[1],
                local_as=local[1],
                interface=0,
                afi=1 if peer_ip.version == 4 else 2,
                peer_ip=peer_ip.packed,
                local_ip=local_ip.packed,
                data=data,
                extended=True,
            )
        )
        self.count += 1

    def close(self) -> None:
        self.file.close()
