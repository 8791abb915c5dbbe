"""What a daemon reports: one event per line, as text for people or JSON for tools.

How this works: the speaker calls ``emit(kind, **fields)`` for sessions coming up and
down, NOTIFICATIONs (with their RFC 9003 message), collisions and errors, and
``update(...)`` for every UPDATE that changed the Adj-RIB-In.  ``--log-format json``
writes each as one JSON object with ``ts``, ``event`` and the fields; the default text
form is one readable line.  Tests and tools read the JSON form.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from .codec.nlri import format_prefix
from .codec.update import Update
from .render import attrs_dict

__all__ = ["EventLog"]


class EventLog:
    def __init__(
        self, stream: TextIO | None = None, fmt: str = "text", updates: bool = True
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.json = fmt == "json"
        self.updates = updates  # one event per received UPDATE (off for `pybgp rr`)

    def emit(self, event: str, **fields: Any) -> None:
        if self.json:
            doc = {"ts": round(time.time(), 6), "event": event, **fields}
            self.stream.write(json.dumps(doc, separators=(",", ":"), default=str) + "\n")
        else:
            stamp = time.strftime("%H:%M:%S")
            rest = " ".join(f"{k}={v}" for k, v in fields.items())
            self.stream.write(f"{stamp} {event} {rest}\n")
        self.stream.flush()

    def update(
        self,
        peer: str,
        update: Update,
        withdrawn: list[tuple[int, int, int, int]],
        announced: list[tuple[int, int, int, int]],
    ) -> None:
        if not self.updates:
            return
        attrs = attrs_dict(update.attrs) if update.attrs is not None and announced else {}
        if update.attrs is not None and update.attrs.mp_next_hop is not None and announced:
            from .render import ip_text

            attrs["next_hop"] = ip_text(update.attrs.mp_next_hop[:16])
        self.emit(
            "update",
            peer=peer,
            withdrawn=[_route(k) for k in withdrawn],
            announced=[_route(k) for k in announced],
            attributes=attrs,
        )


def _route(key: tuple[int, int, int, int]) -> dict[str, Any] | str:
    afi, _safi, prefix, path_id = key
    text = format_prefix(prefix, afi)
    return {"prefix": text, "path_id": path_id} if path_id else text
