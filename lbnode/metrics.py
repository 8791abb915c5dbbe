"""Prometheus metrics of the LB node agent (added to the speaker's registry).

How this works: like pybgp.metrics, :class:`VipCollector` keeps no state and reads
the agent at scrape time: each VIP's state and what is announced, its transitions,
and each check's state and pass/fail counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .vip import Announce, VipState

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["VipCollector"]


class VipCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "lbnode_vip_state", "1 for the VIP's current state", labels=["vip", "state"]
        )
        announced = GaugeMetricFamily(
            "lbnode_vip_announced",
            "0 withdrawn, 1 announced, 2 announced with GRACEFUL_SHUTDOWN (draining)",
            labels=["vip"],
        )
        transitions = CounterMetricFamily(
            "lbnode_vip_transitions", "VIP state changes", labels=["vip"]
        )
        check_up = GaugeMetricFamily(
            "lbnode_check_up", "1 when the check is up (after rise/fall)", labels=["vip", "check"]
        )
        results = CounterMetricFamily(
            "lbnode_check_results", "Health check results", labels=["vip", "check", "result"]
        )
        level = {Announce.NONE: 0, Announce.NORMAL: 1, Announce.GRACEFUL: 2}
        for vip in self.agent.vips.values():
            name = vip.config.prefix
            for s in VipState:
                state.add_metric([name, s.value], 1 if vip.machine.state == s else 0)
            announced.add_metric([name], level[vip.announced])
            transitions.add_metric([name], vip.machine.count)
            for c in vip.checks:
                check_up.add_metric([name, c.config.name], 1 if c.state.up else 0)
                results.add_metric([name, c.config.name, "pass"], c.state.passes)
                results.add_metric([name, c.config.name, "fail"], c.state.failures)
        yield from (state, announced, transitions, check_up, results)
