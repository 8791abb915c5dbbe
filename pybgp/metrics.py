"""Prometheus metrics of a running daemon, served on ``[control] metrics_port``.

How this works: each :class:`Speaker` gets its own ``CollectorRegistry`` (never the
global one, so several speakers in one process do not collide) holding one
:class:`SpeakerCollector`.  The collector keeps no state: at each scrape it reads the
Speaker's counters (``Peer.updates_received``, ``Peer.sent``, ``Routing.best_changes``
...) and table sizes, so nothing on the hot path changes.  :class:`MetricsServer` is
a tiny asyncio HTTP/1.0 server: the scrape is rendered in the event loop thread,
between BGP events, so it never races the tables and never blocks on a client (the
answer is written with ``drain`` like the control API's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .config import FAMILIES
from .events import State

if TYPE_CHECKING:
    from .speaker import Speaker

__all__ = ["SpeakerCollector", "MetricsServer", "registry_for", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAMES = {v: k for k, v in FAMILIES.items()}


def _family(afi: int, safi: int) -> str:
    return _NAMES.get((afi, safi), f"{afi}/{safi}")


class SpeakerCollector(Collector):
    """Reads one Speaker at scrape time."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    def collect(self) -> Iterator[Metric]:
        sp = self.speaker
        peer_l = ["peer"]
        fam_l = ["peer", "family"]
        state = GaugeMetricFamily(
            "bgp_peer_state", "RFC 4271 8.2.2 FSM state: 1 Idle ... 6 Established", labels=peer_l
        )
        up = GaugeMetricFamily("bgp_peer_up", "1 when the session is Established", labels=peer_l)
        received = GaugeMetricFamily(
            "bgp_prefixes_received", "Adj-RIB-In size, before import policy", labels=fam_l
        )
        accepted = GaugeMetricFamily(
            "bgp_prefixes_accepted", "Adj-RIB-In size, after import policy", labels=fam_l
        )
        advertised = GaugeMetricFamily(
            "bgp_prefixes_advertised",
            "Routes sent: Adj-RIB-Out plus run-time and configured originated routes",
            labels=fam_l,
        )
        upd_in = CounterMetricFamily("bgp_updates_received", "UPDATE messages in", labels=peer_l)
        upd_out = CounterMetricFamily("bgp_updates_sent", "UPDATE messages out", labels=peer_l)
        ntf_in = CounterMetricFamily(
            "bgp_notifications_received", "NOTIFICATION messages in", labels=peer_l
        )
        ntf_out = CounterMetricFamily(
            "bgp_notifications_sent", "NOTIFICATION messages out", labels=peer_l
        )
        rib = sp.routing.rib
        originated = Counter((o.afi, 1) for o in sp.config.originate)
        originated.update((afi, 1) for afi, _ in sp.runtime)
        for peer in list(sp.peers.values()):
            a = peer.address
            s = peer.session
            state.add_metric([a], int(s.state))
            up.add_metric([a], 1 if s.state == State.ESTABLISHED else 0)
            upd_in.add_metric([a], peer.updates_received)
            upd_out.add_metric([a], peer.sent)
            ntf_in.add_metric([a], peer.notifications_received)
            ntf_out.add_metric([a], peer.notifications_sent)
            counts = peer.adj_rib_in.family_counts()
            neg = s.negotiated if s.state == State.ESTABLISHED else None
            fams = set(counts) | (set(neg.families) if neg is not None else set())
            info = peer.info
            out = sp.routing.outs.get(info) if info is not None else None
            for afi, safi in sorted(fams):
                labels = [a, _family(afi, safi)]
                received.add_metric(labels, counts.get((afi, safi), 0))
                acc = len(rib.adj_rib_in(info, afi, safi, True)) if info is not None else 0
                accepted.add_metric(labels, acc)
                sent = len(out.table(afi, safi)) if out is not None else 0
                if neg is not None and (afi, safi) in neg.families:
                    sent += originated.get((afi, safi), 0)
                advertised.add_metric(labels, sent)
        yield from (state, up, received, accepted, advertised, upd_in, upd_out, ntf_in, ntf_out)
        yield CounterMetricFamily(
            "bgp_best_path_changes",
            "Prefixes whose best path changed in the Loc-RIB",
            value=sp.routing.best_changes,
        )
        paths = GaugeMetricFamily("bgp_rib_prefixes", "Loc-RIB prefixes", labels=["family"])
        for afi, safi in rib.families():
            paths.add_metric([_family(afi, safi)], sum(1 for _ in rib.loc_rib(afi, safi)))
        yield paths


def registry_for(speaker: Speaker) -> CollectorRegistry:
    """A registry of its own for ``speaker``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SpeakerCollector(speaker))
    return registry


class MetricsServer:
    """``GET /metrics`` over HTTP/1.0 on ``address:port``, from the event loop."""

    def __init__(self, speaker: Speaker, address: str, port: int) -> None:
        self.speaker = speaker
        self.address = address
        self.port = port
        self.registry = registry_for(speaker)
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, self.address, self.port)
        self.port = int(self.server.sockets[0].getsockname()[1])
        self.speaker.log.emit("metrics-listening", address=self.address, port=self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)).strip():
                pass  # the headers: nothing in them matters here
            parts = request.split()
            if (
                len(parts) >= 2
                and parts[0] == b"GET"
                and parts[1].split(b"?")[0]
                in (
                    b"/metrics",
                    b"/",
                )
            ):
                body, status, ctype = generate_latest(self.registry), "200 OK", CONTENT_TYPE
            else:
                body, status, ctype = b"not found\n", "404 Not Found", "text/plain"
            head = f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
