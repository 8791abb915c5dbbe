"""Prometheus metrics (pybgp.metrics): a daemon's /metrics endpoint, scraped with urllib."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pybgp.codec.attributes import AttrSet
from pybgp.control import ControlServer
from pybgp.metrics import registry_for
from tests.test_speaker import _free_port, _pair, _wait

POLICY = '[[policies]]\nname = "all"\ndefault = "accept"\n'


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.asyncio
async def test_metrics_endpoint_counts() -> None:
    root = Path(tempfile.mkdtemp(prefix="pybgp-m-"))
    port = _free_port("127.0.0.1")
    ctl = f'{POLICY}[control]\nsocket = "{root}/a.sock"\nmetrics_port = {port}\n'
    async with _pair('import_policy = "all"', extra_a=ctl, extra_b=POLICY) as (a, la, b, lb):
        control = ControlServer(a, a.config.control.socket)
        await control.start()
        try:
            await _wait(lambda: len(la.of("end-of-rib")) >= 2 and len(lb.of("end-of-rib")) >= 2)
            m = await asyncio.to_thread(_scrape, port)
            peer = (("peer", "127.0.0.2"),)
            v4 = (("family", "ipv4-unicast"), ("peer", "127.0.0.2"))
            v6 = (("family", "ipv6-unicast"), ("peer", "127.0.0.2"))
            assert m[("bgp_peer_up", peer)] == 1
            assert m[("bgp_peer_state", peer)] == 6
            assert m[("bgp_prefixes_received", v4)] == 1  # B's 198.51.100.0/24
            assert m[("bgp_prefixes_accepted", v4)] == 1
            assert m[("bgp_prefixes_received", v6)] == 0
            assert m[("bgp_prefixes_advertised", v4)] == 1  # A's [[originate]]
            assert m[("bgp_prefixes_advertised", v6)] == 1
            assert m[("bgp_updates_received_total", peer)] >= 1
            assert m[("bgp_updates_sent_total", peer)] == a.peers["127.0.0.2"].sent
            assert m[("bgp_notifications_received_total", peer)] == 0
            assert m[("bgp_best_path_changes_total", ())] == 1
            # B announces one more route at run time: the counts follow
            b.originate({(1, (0xCB007100 << 8) | 24): AttrSet(origin=0, as_path=())})
            await _wait(lambda: len(a.peers["127.0.0.2"].adj_rib_in) == 2)
            m2 = await asyncio.to_thread(_scrape, port)
            assert m2[("bgp_prefixes_received", v4)] == 2
            assert m2[("bgp_best_path_changes_total", ())] == 2
            assert (
                m2[("bgp_updates_received_total", peer)]
                == m[("bgp_updates_received_total", peer)] + 1
            )
            # B shuts the session: a NOTIFICATION in, and the peer is down
            b.peers["127.0.0.1"].stop("bye")
            await _wait(lambda: a.peers["127.0.0.2"].notifications_received == 1)
            m3 = await asyncio.to_thread(_scrape, port)
            assert m3[("bgp_notifications_received_total", peer)] == 1
            assert m3[("bgp_peer_up", peer)] == 0
            # a registry per speaker: two speakers in one process do not collide
            assert registry_for(a) is not registry_for(b)
        finally:
            await control.stop()
            shutil.rmtree(root, ignore_errors=True)
