"""``pybgp lbnode``: the speaker's daemon (pybgp.daemon) with the agent plugged in.

How this works: :class:`LbNode` is a :class:`pybgp.daemon.Extension`.  Before the
sessions start it builds the :class:`~lbnode.agent.Agent` and runs the first round of
checks; once they are up it starts the check tasks, adds the ``vips`` commands to the
control API and the VIP metrics to the Prometheus registry, and takes two signals:
SIGUSR1 drains every VIP (SIGUSR1 again undrains), SIGUSR2 exits for a graceful
restart.  On SIGTERM/SIGINT every VIP is withdrawn, the UPDATEs are given a moment to
leave, and the sessions end with a Cease that says so.  On SIGUSR2 the VIPs stay
announced and the TCP sessions close without a NOTIFICATION, so that peers with
graceful restart (RFC 4724) keep the routes until ``pybgp lbnode --restarted`` is back.
SIGHUP re-reads the file: neighbor and policy changes apply as for the speaker, and
``[[vips]]`` changes as ``Agent.reconfigure`` says (VIPs added, removed, changed).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from pybgp.config import Config
from pybgp.control import ControlError, ControlServer, Reply
from pybgp.daemon import Extension, run_speaker
from pybgp.eventlog import EventLog
from pybgp.speaker import Speaker

from .agent import Agent, Vip
from .config import LbConfig, load_lbnode_config

__all__ = ["LbNode", "run_lbnode", "FLUSH_WAIT"]

FLUSH_WAIT = 0.3
"""Seconds the withdrawals get to reach the peers before the Cease."""


class LbNode(Extension):
    def __init__(self, config: LbConfig) -> None:
        self.config = config
        self.agent: Agent | None = None
        self.log: EventLog | None = None
        self.reloading: set[asyncio.Task[dict[str, list[str]]]] = set()

    async def setup(self, speaker: Speaker, log: EventLog) -> None:
        self.log = log
        self.agent = Agent(self.config, speaker, log)
        await self.agent.first_round()

    def started(
        self, speaker: Speaker, control: ControlServer, stop: Callable[[str], None]
    ) -> None:
        agent = self.agent
        assert agent is not None
        agent.start()
        control.extra.update(
            {"vips": self.cmd_vips, "vips.drain": self.cmd_drain, "vips.undrain": self.cmd_undrain}
        )
        if control.metrics is not None:
            from .metrics import VipCollector

            control.metrics.registry.register(VipCollector(agent))
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self._toggle_drain)
        loop.add_signal_handler(signal.SIGUSR2, stop, "restart")

    def _toggle_drain(self) -> None:
        agent = self.agent
        assert agent is not None
        vips = list(agent.vips.values())
        if any("signal" in v.machine.drains for v in vips):
            agent.undrain(vips, ("signal",))
        else:
            agent.drain(vips, "signal")

    async def stopping(self, mode: str) -> str:
        agent = self.agent
        assert agent is not None
        if mode == "restart":
            await agent.abandon()
            return "pybgp lbnode restarting"
        await agent.stop()
        await asyncio.sleep(FLUSH_WAIT)
        return "pybgp lbnode shutting down: VIPs withdrawn"

    def reload(self, path: str) -> Config:
        """SIGHUP: the speaker's part as for ``pybgp speaker``; ``[[vips]]`` changes are
        applied by the agent (``Agent.reconfigure``) once the whole file is valid."""
        new = load_lbnode_config(path)
        agent = self.agent
        if new.vips != self.config.vips and agent is not None and not agent.stopped:
            self.config = new
            task = asyncio.get_running_loop().create_task(agent.reconfigure(new))
            self.reloading.add(task)
            task.add_done_callback(self._reloaded)
        return new.speaker

    def _reloaded(self, task: asyncio.Task[dict[str, list[str]]]) -> None:
        self.reloading.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None and self.log is not None:
            self.log.emit("vips-reload-failed", error=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ control API
    def _select(self, args: dict[str, Any]) -> list[Vip]:
        agent = self.agent
        assert agent is not None
        unknown = set(args) - {"vip"}
        if unknown:
            raise ControlError(f"unknown argument {sorted(unknown)[0]!r}")
        text = args.get("vip")
        if text is None or text == "all":
            return list(agent.vips.values())
        if not isinstance(text, str):
            raise ControlError("vip must be a string")
        vip = agent.find(text)
        if vip is None:
            known = ", ".join(agent.vips)
            raise ControlError(f"{text!r} is not a VIP of this node (its VIPs: {known})")
        return [vip]

    async def cmd_vips(self, args: dict[str, Any], reply: Reply) -> None:
        selected = {v.config.prefix for v in self._select(args)}
        assert self.agent is not None
        await reply.data([row for row in self.agent.status() if row["vip"] in selected])

    async def cmd_drain(self, args: dict[str, Any], reply: Reply) -> None:
        vips = self._select(args)
        assert self.agent is not None
        self.agent.drain(vips, "operator")
        await reply.data(self._states(vips))

    async def cmd_undrain(self, args: dict[str, Any], reply: Reply) -> None:
        vips = self._select(args)
        assert self.agent is not None
        self.agent.undrain(vips, ("operator", "signal"))
        rows = self._states(vips)
        for row, vip in zip(rows, vips, strict=True):
            if "file" in vip.machine.drains:
                row["note"] = f"still drained: {vip.config.disable_file} exists"
        await reply.data(rows)

    def _states(self, vips: list[Vip]) -> list[dict[str, Any]]:
        assert self.agent is not None
        rows = {row["vip"]: row for row in self.agent.status()}
        return [rows[v.config.prefix] for v in vips]


def run_lbnode(
    path: str, config: LbConfig, log_format: str = "text", restarted: bool = False
) -> int:
    return run_speaker(
        path, config.speaker, log_format, restarted, None, True, "lbnode", LbNode(config)
    )
