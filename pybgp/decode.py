"""``pybgp decode``: captures, MRT files and hex lines in, decoded messages out.

How this works: ``detect_format`` looks at the first bytes (after gzip/bz2), never at
the file name.  Each source becomes a stream of :class:`Decoded` items.  For captures,
the OPENs seen on each TCP connection give the session options of each direction
(4-octet AS, ADD-PATH), exactly as the speakers negotiated them; a capture that starts
mid-session is decoded with 4-octet ASNs and no ADD-PATH.  MRT BGP4MP records carry
their options in the subtype.  TABLE_DUMP_V2 records give one item per route.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .capture import CaptureError, CaptureGap, is_capture, read_capture
from .codec.attributes import Interner
from .codec.errors import BgpError
from .codec.options import SessionOptions
from .mrt.reader import MrtReader, is_mrt, open_maybe_compressed, read_mrt
from .mrt.records import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    MrtError,
    PeerIndexTable,
    RibRecord,
    TableDumpEntry,
    UnknownRecord,
)
from .mrt.routes import RouteBatch, read_routes

if TYPE_CHECKING:
    from .codec.message import Message
    from .codec.open import Open

# The message decoder (OPEN, NOTIFICATION, ...) and the renderer are imported where they
# are used: ``decode --count`` of an MRT RIB dump needs neither, and starts sooner.

__all__ = ["Decoded", "DecodeFormatError", "detect_format", "decode_file", "count_file"]

_ALL_UNICAST = frozenset({(1, 1), (1, 2), (2, 1), (2, 2)})
_AS2 = SessionOptions(four_octet_as=False)
_AS4X = SessionOptions(extended_message=True)  # MRT does not say; allow 65535 octets
_AS2X = SessionOptions(four_octet_as=False, extended_message=True)
_BGP4MP_OPTIONS = {
    (False, False): _AS2X,
    (True, False): _AS4X,
    (False, True): _AS2X.symmetric(_ALL_UNICAST),
    (True, True): _AS4X.symmetric(_ALL_UNICAST),
}


class DecodeFormatError(Exception):
    """The input is none of pcap, MRT or hex lines (or not the forced format)."""


@dataclass(slots=True)
class Decoded:
    """One decoded message, route or record, with where it came from."""

    context: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None
    raw: bytes | None = None
    options: SessionOptions | None = None
    error: BgpError | None = None
    body: dict[str, Any] | None = None  # MRT records that are not BGP messages
    failed: bool = False  # the item did not decode cleanly

    @property
    def ok(self) -> bool:
        if self.failed or self.error is not None:
            return False
        return not (self.message is not None and bool(getattr(self.message, "errors", None)))


def detect_format(head: bytes) -> str:
    if is_capture(head):
        return "pcap"
    if is_mrt(head):
        return "mrt"
    text = head[:4096]
    try:
        sample = text.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeFormatError(
            "input is not a pcap/pcapng capture, an MRT file or hex text"
        ) from None
    if re.search(r"[0-9a-fA-F]{38}", sample):
        return "hex"
    raise DecodeFormatError("input is not a pcap/pcapng capture, an MRT file or hex text")


def _read_all(path: str) -> bytes:
    with open_maybe_compressed(path) as f:
        try:
            return f.read()
        except (EOFError, OSError) as exc:
            raise DecodeFormatError(f"{path}: damaged compressed file: {exc}") from None


def _head(path: str) -> bytes:
    with open_maybe_compressed(path) as f:
        try:
            return f.read(4096)
        except (EOFError, OSError) as exc:
            raise DecodeFormatError(f"{path}: damaged compressed file: {exc}") from None


def decode_file(path: str, fmt: str | None = None, port: int = 179) -> Iterator[Decoded]:
    """Decode everything in ``path``; ``fmt`` forces ``pcap``, ``mrt`` or ``hex``.

    ``port`` is the TCP port whose streams a capture is searched for.
    """
    fmt = fmt or detect_format(_head(path))
    if fmt == "pcap":
        yield from _decode_capture(_read_all(path), port)
    elif fmt == "mrt":
        with open_maybe_compressed(path) as f:
            yield from _decode_mrt(f)
    elif fmt == "hex":
        yield from _decode_hex(_read_all(path))
    else:
        raise DecodeFormatError(f"unknown format {fmt!r}")


def _one(
    raw: bytes, options: SessionOptions, ctx: dict[str, Any], interner: Interner | None = None
) -> Decoded:
    from .codec.message import decode_message

    try:
        return Decoded(ctx, decode_message(raw, options, interner), raw, options)
    except BgpError as exc:
        return Decoded(ctx, None, raw, options, exc)


def _decode_hex(data: bytes) -> Iterator[Decoded]:
    for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if ":" in text and not re.fullmatch(r"[0-9a-fA-F:\s]+", text):
            text = text.rsplit(":", 1)[-1]  # "label: hex" lines
        text = re.sub(r"[\s:]", "", text)
        ctx = {"line": lineno}
        try:
            raw = binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            yield Decoded(ctx, failed=True, body={"error": {"reason": "not hex"}})
            continue
        yield _one(raw, _AS4X, ctx)  # hex lines say nothing of the session: allow 65535


def _decode_capture(data: bytes, port: int = 179) -> Iterator[Decoded]:
    from .codec.open import Open, negotiate_options

    opens: dict[tuple[str, str], Open] = {}
    options: dict[tuple[str, str], SessionOptions] = {}
    guessed: dict[tuple[str, str], SessionOptions] = {}
    try:
        items = list(read_capture(data, port))
    except CaptureError as exc:
        raise DecodeFormatError(str(exc)) from None
    for item in items:
        if isinstance(item, CaptureGap):
            # a capture artefact, not a malformed message: reported, not a failure
            what = (
                f"{item.missing} octets missing from the capture"
                if item.missing
                else "bytes skipped to resynchronize on a BGP marker"
            )
            yield Decoded(
                {"src": item.src, "dst": item.dst, "timestamp": item.timestamp},
                body={"type": "GAP", "missing": item.missing, "warning": what},
            )
            continue
        key = (item.src, item.dst)
        ctx: dict[str, Any] = {"src": item.src, "dst": item.dst, "timestamp": item.timestamp}
        known = options.get(key)
        if known is not None:
            d = _one(item.data, known, ctx)
        else:
            d = _guess(item.data, ctx, guessed.get(key))
            if d.ok and d.options is not None and item.data[18] == 2:
                guessed[key] = d.options
        if isinstance(d.message, Open):
            opens[key] = d.message
            back = (item.dst, item.src)
            if back in opens:
                # messages from src carry what src sends and dst receives
                sender = negotiate_options(d.message, opens[back])
                options[key] = SessionOptions(
                    sender.four_octet_as,
                    sender.addpath_tx,
                    sender.addpath_tx,
                    sender.extended_message,
                )
                options[back] = SessionOptions(
                    sender.four_octet_as,
                    sender.addpath_rx,
                    sender.addpath_rx,
                    sender.extended_message,
                )
        yield d


_GUESSES = (_AS4X, _AS2X, _AS4X.symmetric(_ALL_UNICAST), _AS2X.symmetric(_ALL_UNICAST))


def _guess(raw: bytes, ctx: dict[str, Any], last: SessionOptions | None) -> Decoded:
    """No OPEN seen for this direction: try the options a speaker could have agreed.

    As Wireshark does, the first that decodes cleanly wins and is kept for the
    direction; the item's context says the options were guessed.
    """
    first: Decoded | None = None
    for opts in ((last,) if last is not None else ()) + _GUESSES:
        d = _one(raw, opts, ctx)
        if d.ok:
            if opts != _GUESSES[0]:
                d.context = {**ctx, "options": "guessed"}
            return d
        first = first or d
    assert first is not None
    return first


def _decode_mrt(stream: Any) -> Iterator[Decoded]:
    from .render import attrs_dict, error_dict, ip_text

    reader = MrtReader()
    interners: dict[SessionOptions, Interner] = {}
    peers: tuple[Any, ...] = ()
    for rec in read_mrt(stream, reader):
        if isinstance(rec, RibRecord):
            for e in rec.entries:
                route: dict[str, Any] = {
                    "type": "RIB",
                    "subtype": rec.subtype,
                    "timestamp": rec.timestamp,
                    "sequence": rec.sequence,
                    "prefix": _fmt(rec.prefix, rec.afi),
                    "peer_index": e.peer_index,
                    "originated": e.originated,
                }
                if e.peer_index < len(peers):
                    route["peer_ip"] = ip_text(peers[e.peer_index].address)
                    route["peer_as"] = peers[e.peer_index].asn
                if rec.subtype >= 8:
                    route["path_id"] = e.path_id
                route["attributes"] = attrs_dict(e.attrs)
                if e.attrs.mp_next_hop is not None:
                    route["attributes"]["next_hop"] = ip_text(e.attrs.mp_next_hop[:16])
                if e.error is not None:
                    route["error"] = error_dict(e.error)
                yield Decoded({}, body=route, failed=e.error is not None)
        elif isinstance(rec, Bgp4mpMessage):
            yield _bgp4mp(rec, interners)
        elif isinstance(rec, PeerIndexTable):
            peers = rec.peers
            yield Decoded(
                {},
                body={
                    "type": "PEER_INDEX_TABLE",
                    "collector_id": ip_text(rec.collector_id),
                    "view_name": rec.view_name,
                    "peers": [
                        {"bgp_id": ip_text(p.bgp_id), "address": ip_text(p.address), "asn": p.asn}
                        for p in rec.peers
                    ],
                },
            )
        elif isinstance(rec, Bgp4mpStateChange):
            yield Decoded(
                {},
                body={
                    "type": "STATE_CHANGE",
                    "timestamp": rec.timestamp,
                    "peer_as": rec.peer_as,
                    "peer_ip": ip_text(rec.peer_ip),
                    "old_state": rec.old_state,
                    "new_state": rec.new_state,
                },
            )
        elif isinstance(rec, TableDumpEntry):
            body: dict[str, Any] = {
                "type": "TABLE_DUMP",
                "timestamp": rec.timestamp,
                "prefix": _fmt(rec.prefix, rec.afi),
                "peer_ip": ip_text(rec.peer_ip),
                "peer_as": rec.peer_as,
                "attributes": attrs_dict(rec.attrs),
            }
            if rec.error is not None:
                body["error"] = error_dict(rec.error)
            yield Decoded({}, body=body, failed=rec.error is not None)
        elif isinstance(rec, UnknownRecord):
            yield Decoded(
                {},
                body={
                    "type": "MRT_UNKNOWN",
                    "mrt_type": rec.mrt_type,
                    "subtype": rec.subtype,
                    "length": len(rec.body),
                },
            )
        elif isinstance(rec, MrtError):
            yield Decoded(
                {},
                failed=True,
                body={
                    "type": "MRT_ERROR",
                    "mrt_type": rec.mrt_type,
                    "subtype": rec.subtype,
                    "error": {"reason": rec.reason},
                },
            )


def _bgp4mp(rec: Bgp4mpMessage, interners: dict[SessionOptions, Interner]) -> Decoded:
    from .render import ip_text

    opts = _BGP4MP_OPTIONS[(rec.as4, rec.addpath)]
    ctx = {
        "timestamp": rec.timestamp,
        "peer_as": rec.peer_as,
        "peer_ip": ip_text(rec.peer_ip),
        "local_as": rec.local_as,
        "local_ip": ip_text(rec.local_ip),
    }
    d = _one(rec.data, opts, ctx, interners.setdefault(opts, Interner()))
    if not d.ok and rec.data[18:19] == b"\x02":
        # some writers (BIRD's mrtdump) log ADD-PATH sessions with the plain
        # subtypes: try the other ADD-PATH setting before calling it malformed
        alt = _BGP4MP_OPTIONS[(rec.as4, not rec.addpath)]
        d2 = _one(
            rec.data, alt, {**ctx, "options": "guessed"}, interners.setdefault(alt, Interner())
        )
        if d2.ok:
            return d2
    return d


def _fmt(prefix: int, afi: int) -> str:
    from .codec.nlri import format_prefix

    return format_prefix(prefix, afi)


@dataclass(slots=True)
class Counts:
    messages: int = 0
    announced: int = 0
    withdrawn: int = 0
    errors: int = 0
    attribute_sets: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "announced": self.announced,
            "withdrawn": self.withdrawn,
            "errors": self.errors,
            "attribute_sets": self.attribute_sets,
        }


def count_file(
    path: str, fmt: str | None = None, port: int = 179, keep: list[object] | None = None
) -> Counts:
    """Decode everything, keep only counts.  MRT RIB dumps take the columnar path.

    Each RIB entry counts as one message (a route), as ``decode`` prints one per route.
    ``keep`` receives the decoder's state (the interned sets), so that the caller
    decides when it is freed.
    """
    fmt = fmt or detect_format(_head(path))
    c = Counts()
    if fmt != "mrt":
        seen: set[int] = set()
        for d in decode_file(path, fmt, port):
            if d.message is None and d.error is None and d.body is not None:
                continue  # capture gaps are not messages
            c.messages += 1
            _count_message(c, d, seen)
        c.attribute_sets = len(seen)
        return c
    reader = MrtReader()
    if keep is not None:
        keep.append(reader)
    with open_maybe_compressed(path) as f:
        seen = set()
        interners: dict[SessionOptions, Interner] = {}
        for rec in read_routes(f, reader):
            c.messages += 1
            if type(rec) is RouteBatch:
                c.messages += len(rec.prefixes) - 1
                c.announced += len(rec.prefixes)
                c.errors += len(rec.errors)
            elif isinstance(rec, RibRecord):
                c.announced += len(rec.entries)
                c.errors += sum(e.error is not None for e in rec.entries)
            elif isinstance(rec, Bgp4mpMessage):
                _count_message(c, _bgp4mp(rec, interners), seen)
            elif isinstance(rec, MrtError) or (
                isinstance(rec, TableDumpEntry) and rec.error is not None
            ):
                c.errors += 1
            elif isinstance(rec, TableDumpEntry):
                c.announced += 1
        c.attribute_sets = len(reader.interner.by_raw) + len(seen)
    return c


def _count_message(c: Counts, d: Decoded, seen: set[int]) -> None:
    from .codec.update import Update

    if not d.ok:
        c.errors += 1
    m = d.message
    if isinstance(m, Update):
        c.announced += len(m.nlri) + (len(m.mp_reach.nlri) if m.mp_reach else 0)
        c.withdrawn += len(m.withdrawn) + (len(m.mp_unreach.withdrawn) if m.mp_unreach else 0)
        if m.attrs is not None:
            seen.add(id(m.attrs))
