"""Running a daemon: the event loop, signals and reloads around a :class:`Speaker`.

How this works: ``run_speaker`` starts the loop (uvloop when it is installed), the
Speaker, its listeners and the control API (``pybgp.control``), then waits.  SIGHUP
re-reads the file: a bad file is reported and the running configuration stays.
SIGUSR1 sends ROUTE-REFRESH to every Established peer (per peer: ``pybgp neighbor
ADDR refresh in``).
SIGTERM and SIGINT stop every session
with Cease/Administrative Shutdown and a message, then exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

from .config import Config, ConfigError, load_config
from .control import ControlServer
from .eventlog import EventLog
from .heap import maintenance, tune_gc
from .speaker import Speaker

__all__ = ["run_speaker", "Extension", "tune_gc"]


class Extension:
    """What a daemon built on the speaker (``pybgp lbnode``) adds to its life cycle."""

    async def setup(self, speaker: Speaker, log: EventLog) -> None:
        """Before the speaker starts its sessions."""

    def started(
        self, speaker: Speaker, control: ControlServer, stop: Callable[[str], None]
    ) -> None:
        """Sessions and the control socket are up; ``stop(mode)`` ends the daemon."""

    async def stopping(self, mode: str) -> str:
        """Before the sessions end; returns the Cease message."""
        return "pybgp speaker shutting down"

    def reload(self, path: str) -> Config:
        """Read the file again for SIGHUP (``ConfigError`` keeps the running one)."""
        raise NotImplementedError


def run_speaker(
    path: str,
    config: Config,
    log_format: str = "text",
    restarted: bool = False,
    updates: str | None = None,
    log_updates: bool = True,
    daemon: str = "speaker",
    extension: Extension | None = None,
) -> int:
    log = EventLog(sys.stdout, log_format, log_updates)
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        return int(runner(_main(path, config, log, restarted, updates, daemon, extension)))
    except KeyboardInterrupt:
        return 0


async def _main(
    path: str,
    config: Config,
    log: EventLog,
    restarted: bool,
    updates: str | None = None,
    daemon: str = "speaker",
    extension: Extension | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    speaker = Speaker(config, log, restarted)
    if extension is not None:
        await extension.setup(speaker, log)
    if updates is not None:
        from .mrt.updates import UpdateDump

        speaker.update_dump = UpdateDump(updates)
    try:
        await speaker.start()
    except OSError as exc:
        log.emit("fatal", error=f"cannot listen: {exc.strerror or exc}")
        return 1
    control = ControlServer(speaker, config.control.socket)
    try:
        await control.start()
    except OSError as exc:
        log.emit("fatal", error=f"control socket {config.control.socket}: {exc.strerror or exc}")
        await speaker.stop("pybgp cannot start its control socket")
        return 1
    done = asyncio.Event()
    mode = ["stop"]

    def finish(how: str) -> None:
        mode[0] = how
        done.set()

    def reload() -> None:
        try:
            if extension is not None:
                speaker.reload(extension.reload(path))
            else:
                speaker.reload(load_config(path, daemon=daemon))
        except ConfigError as exc:
            log.emit("reload-failed", error=str(exc))

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGUSR1, speaker.refresh_all)
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    tune_gc()
    gc_task = loop.create_task(maintenance())
    message = "pybgp speaker shutting down"
    if extension is not None:
        extension.started(speaker, control, finish)
    await done.wait()
    gc_task.cancel()
    log.emit("stopping", mode=mode[0])
    if extension is not None:
        message = await extension.stopping(mode[0])
    await control.stop()
    if mode[0] == "restart":  # graceful restart: no NOTIFICATION, the peers keep our routes
        for peer in speaker.peers.values():
            peer.close()
    else:
        await speaker.stop(message)
    if speaker.update_dump is not None:
        speaker.update_dump.close()
    return 0
