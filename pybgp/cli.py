"""The ``pybgp`` command line (click).

How this works: each command is a thin wrapper that parses options, calls the library
and prints a table or, with ``--json``, one JSON object per line.  Bad input gives a
one-line error and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__

__all__ = ["main"]


class _Group(click.Group):
    """The top-level group; ``pybgp conformance`` is imported only when it is used.

    It pulls in asyncio and the whole conformance runner (about 35 ms), which
    ``pybgp decode`` and the other commands do not need.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "conformance" and cmd_name not in self.commands:
            from .conformance.command import conformance

            self.add_command(conformance)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "conformance"})


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pybgp")
def main() -> None:
    """pybgp: a BGP speaker, route reflector and LB node toolkit."""


_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""What writing the output can fail with and nothing else does (click handles a closed
pipe on standard output itself)."""
_STANDALONE = False
"""True when ``run`` started the process: a command may then end it with ``_exit``."""


def run() -> None:
    """The ``pybgp`` console script: :func:`main` in a process of its own.

    Output that cannot be written (a full disk, a quota) ends the command with one
    line on standard error and status 1, not a traceback.
    """
    global _STANDALONE
    _STANDALONE = True
    try:
        try:
            main()
        finally:  # the output's last block: an error writing it is reported below
            if not sys.stdout.closed:
                sys.stdout.flush()
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS or sys.stdout.closed:
            raise
        import os

        # what is still buffered for the broken stream goes nowhere, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        with contextlib.suppress(OSError):
            sys.stderr.write(f"pybgp: cannot write the output: {exc.strerror or exc}\n")
            sys.stderr.flush()
        os._exit(1)


def _exit(code: int) -> None:
    """End the command with ``code``; in a process of its own, without a teardown.

    ``decode --count`` of a full table leaves a few hundred thousand interned sets,
    and freeing them one object at a time takes about 0.1 s that tells the user
    nothing.  The output is flushed first.
    """
    if _STANDALONE:
        import os

        sys.stdout.flush()  # an error here is reported by ``run``
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pcap", "mrt", "hex"]),
    help="Force the input format (default: detect from the content).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message/route.")
@click.option(
    "--roundtrip", is_flag=True, help="Re-encode every message and report those whose bytes differ."
)
@click.option("--count", is_flag=True, help="Print only message, prefix and error counts.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=179,
    show_default=True,
    help="TCP port of the BGP sessions in a capture.",
)
def decode(
    file: str, fmt: str | None, as_json: bool, roundtrip: bool, count: bool, port: int
) -> None:
    """Decode a pcap/pcapng capture, an MRT file or hex lines (gzip/bzip2 too)."""
    from .decode import DecodeFormatError, count_file, decode_file

    # Decoded objects hold no reference cycles, and a full table is millions of them:
    # the cyclic collector would only rescan them (40% of the time at 1M routes).
    gc.disable()
    try:
        if count:
            state: list[object] = []  # the decoded sets, freed by the exit
            c = count_file(file, fmt, port, state)
            if as_json:
                _emit(c.as_dict())
            else:
                for k, v in c.as_dict().items():
                    click.echo(f"{k:15} {v}")
            _exit(0 if c.errors == 0 else 1)
        from .codec.message import encode_message
        from .render import message_dict, message_line

        bad = differ = total = 0
        for d in decode_file(file, fmt, port):
            total += 1
            if not d.ok:
                bad += 1
            if roundtrip:
                if d.message is None or d.raw is None or d.options is None:
                    continue
                opts = d.options.symmetric(d.options.addpath_rx)
                try:
                    again = encode_message(d.message, opts)
                except (ValueError, KeyError, OverflowError) as exc:
                    again = f"encode failed: {exc}".encode()
                if again != d.raw:
                    differ += 1
                    out = {
                        "context": d.context,
                        "original": d.raw.hex(),
                        "reencoded": again.hex(),
                        "type": message_dict(d.message)["type"],
                    }
                    if as_json:
                        _emit(out)
                    else:
                        click.echo(
                            f"DIFFERS {d.context}: {out['type']}\n  original  "
                            f"{out['original']}\n  reencoded {out['reencoded']}"
                        )
                continue
            if as_json:
                obj: dict[str, Any] = {}
                if d.message is not None:
                    obj.update(message_dict(d.message))
                elif d.body is not None:
                    obj.update(d.body)
                if d.error is not None:
                    from .render import error_dict

                    obj.setdefault("type", _raw_type(d.raw))
                    obj["error"] = error_dict(d.error)
                    if d.raw is not None:
                        obj["hex"] = d.raw.hex()
                if d.context:
                    obj["context"] = d.context
                _emit(obj)
            else:
                click.echo(_line(d, message_line))
        if roundtrip:
            click.echo(f"{total} items, {differ} differ, {bad} did not decode", err=True)
            sys.exit(1 if differ or bad else 0)
        sys.exit(0 if bad == 0 else 1)
    except DecodeFormatError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)


def _raw_type(raw: bytes | None) -> str:
    names = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}
    if raw is not None and len(raw) >= 19:
        return names.get(raw[18], f"TYPE-{raw[18]}")
    return "UNKNOWN"


def _line(d: Any, message_line: Callable[[Any], str]) -> str:
    where = ""
    if "src" in d.context:
        where = f"{d.context['src']} > {d.context['dst']} "
    elif "peer_ip" in d.context:
        where = f"{d.context['peer_ip']} AS{d.context['peer_as']} "
    if d.message is not None:
        return where + message_line(d.message)
    if d.error is not None:
        return where + f"{_raw_type(d.raw)} ERROR {d.error.describe()}"
    body = dict(d.body or {})
    kind = body.pop("type", "?")
    if kind == "RIB":
        a = body.get("attributes", {})
        path = " ".join(str(x) for s in a.get("as_path", []) for x in s["asns"])
        text = (
            f"RIB {body['prefix']} peer {body.get('peer_ip', body['peer_index'])} "
            f"nh {a.get('next_hop', '-')} path {path or '-'}"
        )
        if "error" in body:
            text += f" ERROR {body['error']['reason']}"
        return text
    return f"{kind} " + " ".join(f"{k}={v}" for k, v in body.items())


def _daemon_options(config_help: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The options `pybgp speaker` and `pybgp rr` share."""

    def wrap(f: Callable[..., None]) -> Callable[..., None]:
        for option in reversed([
            click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
                         required=True, help=config_help),
            click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
                         show_default=True,
                         help="Event log on stdout: readable lines or JSON lines."),
            click.option("--check", is_flag=True, help="Validate the configuration and exit."),
            click.option("--restarted", is_flag=True,
                         help="This is a restart: set the graceful-restart R bit (RFC 4724) "
                         "so that peers keep our routes while we come back."),
            click.option("--updates", "updates", type=click.Path(dir_okay=False), default=None,
                         help="Record every received UPDATE to FILE as MRT BGP4MP_ET."),
        ]):  # fmt: skip
            f = option(f)
        return f

    return wrap


def _run_daemon(
    daemon: str,
    config_path: str,
    log_format: str,
    check: bool,
    restarted: bool,
    updates: str | None,
    log_updates: bool,
) -> None:
    from .config import ConfigError, load_config
    from .daemon import run_speaker

    try:
        cfg = load_config(config_path, daemon=daemon)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if daemon == "rr" and cfg.global_.cluster_id is None:
        click.echo("note: no [global] cluster_id: the router id is used (RFC 4456 7)", err=True)
    if check:
        click.echo(f"{config_path}: OK ({len(cfg.neighbors)} neighbors)")
        return
    sys.exit(run_speaker(config_path, cfg, log_format, restarted, updates, log_updates, daemon))


@main.command()
@_daemon_options("TOML configuration (see docs/config.md).")
def speaker(
    config_path: str, log_format: str, check: bool, restarted: bool, updates: str | None
) -> None:
    """Run a BGP speaker: peer with the neighbors, originate routes, log what arrives.

    SIGHUP reloads the file (unchanged sessions stay up); SIGUSR1 sends ROUTE-REFRESH
    to every Established peer; SIGTERM/SIGINT send Cease/Administrative Shutdown to
    every peer and exit.
    """
    _run_daemon("speaker", config_path, log_format, check, restarted, updates, True)


@main.command()
@_daemon_options("TOML configuration; [global] cluster_id makes it a route reflector.")
@click.option(
    "--log-updates/--no-log-updates",
    default=False,
    show_default=True,
    help="One event per received UPDATE (a full table is millions of lines).",
)
def rr(
    config_path: str,
    log_format: str,
    check: bool,
    restarted: bool,
    updates: str | None,
    log_updates: bool,
) -> None:
    """Run the route reflector: every path kept, reflected per RFC 4456, ADD-PATH send.

    The same process also originates [[originate]] routes and speaks plain BGP to
    non-client neighbors.  Signals as for `pybgp speaker`.
    """
    _run_daemon("rr", config_path, log_format, check, restarted, updates, log_updates)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def version(as_json: bool) -> None:
    """The version, and which modules run compiled by mypyc (see setup.py)."""
    from .compiled import loaded_compiled, stale

    names = loaded_compiled()
    old = [m.name for m in stale()]
    if as_json:
        _emit({"version": __version__, "compiled": names, "stale": old})
        return
    click.echo(f"pybgp {__version__}")
    click.echo(f"compiled with mypyc: {', '.join(names) if names else 'none (pure Python)'}")
    if old:
        click.echo(f"out of date (run `make setup`): {', '.join(old)}")


@main.command()
@click.option(
    "--nodes",
    type=click.IntRange(3, 20),
    default=3,
    show_default=True,
    help="How many LB nodes announce the VIP.",
)
def demo(nodes: int) -> None:
    """Stretch a VIP over LB nodes with BGP, on loopback (no root needed)."""
    from .demo import run_demo

    sys.exit(run_demo(nodes))


@main.group()
def mrt() -> None:
    """MRT (RFC 6396) tools."""


@mrt.command()
@click.option(
    "--prefixes",
    type=click.IntRange(1, 10_000_000),
    required=True,
    help="How many prefixes to write.",
)
@click.option("--ipv6", is_flag=True, help="Write an IPv6 table.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True)
def synth(prefixes: int, ipv6: bool, seed: int, output: str) -> None:
    """Write a realistic synthetic full table (TABLE_DUMP_V2), deterministic from SEED."""
    from .mrt.synth import synthesize

    with open(output, "wb") as f:
        stats = synthesize(f, prefixes, seed, ipv6=ipv6)
    click.echo(str(stats), err=True)


# ---------------------------------------------------------------------- control API
# These talk to a running daemon over its control socket (pybgp.control, docs/control.md).

F = TypeVar("F", bound=Callable[..., Any])


def _control_options(f: F) -> F:
    f = click.option("--json", "as_json", is_flag=True, help="JSON output for scripts.")(f)
    f = click.option(
        "--daemon",
        metavar="NAME",
        help="Use the default socket of this daemon (speaker, rr, lbnode).",
    )(f)
    f = click.option(
        "--control",
        metavar="PATH",
        help="The daemon's control socket ([control] socket).",
    )(f)
    return f


def _client(control: str | None, daemon: str | None) -> Any:
    from .ctl import ControlClient, CtlError, resolve_socket

    try:
        return ControlClient(resolve_socket(control, daemon))
    except CtlError as exc:
        raise click.ClickException(str(exc)) from None


def _ctl(control: str | None, daemon: str | None, cmd: str, args: dict[str, Any]) -> Any:
    from .ctl import CtlError

    with _client(control, daemon) as c:
        try:
            return c.call(cmd, args)
        except CtlError as exc:
            raise click.ClickException(str(exc)) from None


@main.command()
@_control_options
def neighbors(control: str | None, daemon: str | None, as_json: bool) -> None:
    """Show the neighbors of a running daemon: state, uptime, route counts."""
    from .ctl import format_neighbors

    rows = _ctl(control, daemon, "neighbors", {})
    if as_json:
        _emit_json(rows)
    else:
        click.echo("\n".join(format_neighbors(rows)))


@main.command()
@click.argument("address")
@click.argument(
    "action", required=False, type=click.Choice(["reset", "shutdown", "enable", "refresh"])
)
@click.argument("direction", required=False, type=click.Choice(["in", "out"]))
@click.option("--message", "-m", help="Shutdown/reset message sent to the peer (RFC 9003).")
@_control_options
def neighbor(
    address: str,
    action: str | None,
    direction: str | None,
    message: str | None,
    control: str | None,
    daemon: str | None,
    as_json: bool,
) -> None:
    """Show one neighbor, or act on it: reset, shutdown [-m TEXT], enable, refresh in|out."""
    from .ctl import format_neighbor

    if action is None:
        if direction is not None or message is not None:
            raise click.ClickException("give an ACTION (reset, shutdown, enable, refresh)")
        data = _ctl(control, daemon, "neighbor", {"peer": address})
        if as_json:
            _emit_json(data)
        else:
            click.echo("\n".join(format_neighbor(data)))
        return
    args: dict[str, Any] = {"peer": address}
    if action == "refresh":
        if direction is None:
            raise click.ClickException("refresh needs a direction: in or out")
        args["direction"] = direction
    elif direction is not None:
        raise click.ClickException(f"{action} takes no direction")
    if message is not None:
        if action not in ("reset", "shutdown"):
            raise click.ClickException(f"{action} takes no --message")
        args["message"] = message
    data = _ctl(control, daemon, f"neighbor.{action}", args)
    if as_json:
        _emit_json(data)
    else:
        what = f"{action} {direction}" if direction else action
        click.echo(f"{data['peer']}: {what} done")


@main.command()
@click.argument("prefix", required=False, metavar="[PREFIX|summary]")
@click.option("--peer", metavar="ADDR", help="Only routes from (or with --in/--out, of) ADDR.")
@click.option("--in", "direction", flag_value="in", help="The Adj-RIB-In of --peer.")
@click.option("--out", "direction", flag_value="out", help="The Adj-RIB-Out to --peer.")
@click.option("--post-policy", is_flag=True, help="With --in: after import policy.")
@click.option("--family", type=click.Choice(["ipv4", "ipv6"]), help="One address family.")
@click.option("--longer", is_flag=True, help="PREFIX and its more-specifics.")
@_control_options
def rib(
    prefix: str | None,
    peer: str | None,
    direction: str | None,
    post_policy: bool,
    family: str | None,
    longer: bool,
    control: str | None,
    daemon: str | None,
    as_json: bool,
) -> None:
    """Show the Loc-RIB (every path, best marked *, ECMP =) or a peer's Adj-RIB-In/Out.

    `pybgp rib summary` counts prefixes and paths per family and routes per neighbor.
    """
    from .ctl import RIB_HEADER, CtlError, format_rib_row, format_summary

    if prefix == "summary":
        data = _ctl(control, daemon, "rib.summary", {})
        if as_json:
            _emit_json(data)
        else:
            click.echo("\n".join(format_summary(data)))
        return
    args: dict[str, Any] = {"longer": longer, "post_policy": post_policy}
    for key, value in (("prefix", prefix), ("peer", peer), ("direction", direction)):
        if value is not None:
            args[key] = value
    if family is not None:
        args["family"] = family
    with _client(control, daemon) as c:
        try:
            first = True
            for row in c.request("rib", args):
                if as_json:
                    _emit(row)
                else:
                    if first:
                        click.echo(RIB_HEADER)
                    click.echo(format_rib_row(row))
                first = False
        except CtlError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)


@mrt.command()
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@_control_options
def dump(output: str, control: str | None, daemon: str | None, as_json: bool) -> None:
    """Have a running daemon write its Loc-RIB (every path) as MRT TABLE_DUMP_V2."""
    import os

    path = os.path.abspath(output)  # the daemon has its own working directory
    data = _ctl(control, daemon, "mrt.dump", {"path": path})
    if as_json:
        _emit_json(data)
    else:
        click.echo(
            f"{data['path']}: {data['prefixes']} prefixes, {data['routes']} routes, "
            f"{data['peers']} peers, {data['bytes']} bytes"
        )


@mrt.command()
@click.argument("file", type=click.Path())
@click.option("--limit", type=click.IntRange(1), help="Inject at most N prefixes.")
@click.option(
    "--keep-next-hop", is_flag=True, help="Keep the file's next hops (default: next hop self)."
)
@_control_options
def inject(
    file: str,
    limit: int | None,
    keep_next_hop: bool,
    control: str | None,
    daemon: str | None,
    as_json: bool,
) -> None:
    """Have a running daemon originate the routes of an MRT file (RIB dump or UPDATEs).

    The daemon reads FILE itself (see docs/control.md); a progress bar is shown on a
    terminal.
    """
    import os

    from .ctl import CtlError

    try:  # here, not by click: a missing file is a one-line error like the others
        size = os.path.getsize(file)
        with open(file, "rb"):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    args: dict[str, Any] = {"path": os.path.abspath(file), "keep_next_hop": keep_next_hop}
    if limit is not None:
        args["limit"] = limit
    last: dict[str, Any] = {}
    show = not as_json and sys.stderr.isatty()
    with _client(control, daemon) as c, _InjectProgress(show, size) as bar:
        try:
            for item in c.request("mrt.inject", args):
                bar.update(item)
                last = item
        except CtlError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        _emit_json(last)
    else:
        rate = last["routes"] / last["seconds"] if last.get("seconds") else 0.0
        click.echo(
            f"{last['routes']} routes injected in {last['seconds']} s ({rate:.0f} routes/s), "
            f"{last['skipped']} skipped; {last['updates']} UPDATEs to {last['peers']} peers; "
            f"{last['runtime']} run-time routes"
            + (f"; {last['errors']} bad records ignored" if last.get("errors") else "")
        )


@main.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="TOML configuration: the speaker's tables plus [lbnode] and [[vips]].",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Event log on stdout: readable lines or JSON lines.",
)
@click.option("--check", is_flag=True, help="Validate the configuration and exit.")
@click.option(
    "--restarted",
    is_flag=True,
    help="This is a restart (after SIGUSR2): set the graceful-restart R bit.",
)
def lbnode(config_path: str, log_format: str, check: bool, restarted: bool) -> None:  # fmt: skip
    """Run the LB node agent: health checks announce, drain and withdraw VIPs.

    SIGUSR1 drains every VIP (again: undrain); SIGTERM/SIGINT withdraw every VIP, then
    end the sessions with a Cease; SIGUSR2 exits leaving the VIPs announced, for a
    graceful restart with --restarted; SIGHUP reloads neighbors and policies.
    """
    from lbnode.config import load_lbnode_config
    from lbnode.daemon import run_lbnode

    from .config import ConfigError

    try:
        cfg = load_lbnode_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        checks = sum(len(v.checks) for v in cfg.vips)
        click.echo(f"{config_path}: OK ({len(cfg.speaker.neighbors)} neighbors, "
                   f"{len(cfg.vips)} VIPs, {checks} checks)")  # fmt: skip
        return
    sys.exit(run_lbnode(config_path, cfg, log_format, restarted))


@main.group(invoke_without_command=True)
@_control_options
@click.pass_context
def vips(ctx: click.Context, control: str | None, daemon: str | None, as_json: bool) -> None:
    """The VIPs of a running `pybgp lbnode`: state, checks, drains.

    `pybgp vips drain VIP|all` re-announces with GRACEFUL_SHUTDOWN (RFC 8326), then
    withdraws after the grace time; `pybgp vips undrain VIP|all` reverses it.
    """
    if ctx.invoked_subcommand is None:
        _vips_action(control, daemon, as_json, "vips", None)


@vips.command("show")
@click.argument("vip")
@_control_options
def vips_show(vip: str, control: str | None, daemon: str | None, as_json: bool) -> None:
    """One VIP in detail."""
    _vips_action(control, daemon, as_json, "vips", vip)


@vips.command("drain")
@click.argument("vip")
@_control_options
def vips_drain(vip: str, control: str | None, daemon: str | None, as_json: bool) -> None:
    """Drain VIP (or all): GRACEFUL_SHUTDOWN now, withdrawn after the grace time."""
    _vips_action(control, daemon, as_json, "vips.drain", vip)


@vips.command("undrain")
@click.argument("vip")
@_control_options
def vips_undrain(vip: str, control: str | None, daemon: str | None, as_json: bool) -> None:
    """Undo `drain` for VIP (or all)."""
    _vips_action(control, daemon, as_json, "vips.undrain", vip)


def _vips_action(
    control: str | None, daemon: str | None, as_json: bool, cmd: str, vip: str | None
) -> None:
    from .ctl import format_vips

    rows = _ctl(control, daemon or "lbnode", cmd, {} if vip is None else {"vip": vip})
    if as_json:
        _emit_json(rows)
    else:
        click.echo("\n".join(format_vips(rows, detail=vip is not None and cmd == "vips")))


class _InjectProgress:
    """Two bars on a terminal: octets of the file read, then routes sent."""

    def __init__(self, show: bool, size: int) -> None:
        self.show, self.size = show, size
        self.bar: Any = None
        self.phase = ""
        self.pos = 0

    def __enter__(self) -> _InjectProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def update(self, item: dict[str, Any]) -> None:
        phase = item.get("phase")
        if not self.show or phase not in ("read", "send"):
            return
        if phase != self.phase:
            self._close()
            self.phase, self.pos = phase, 0
            length = self.size if phase == "read" else int(item.get("total") or 1)
            label = "reading" if phase == "read" else "sending"
            self.bar = click.progressbar(length=length, label=label, file=sys.stderr)
            self.bar.__enter__()
        pos = int(item["bytes"] if phase == "read" else item["routes"])
        self.bar.update(pos - self.pos)
        self.pos = pos


@main.group()
def routes() -> None:
    """Announce and withdraw routes on a running daemon (not kept across restarts)."""


@routes.command()
@click.argument("prefix")
@click.option("--next-hop", metavar="IP", help="Next hop (default: next hop self).")
@click.option("--community", "communities", multiple=True, metavar="C", help="e.g. 65000:1")
@click.option("--large-community", "large", multiple=True, metavar="L", help="e.g. 65000:1:2")
@click.option("--med", type=click.IntRange(0, 0xFFFFFFFF), help="MULTI_EXIT_DISC.")
@click.option("--local-pref", type=click.IntRange(0, 0xFFFFFFFF), help="LOCAL_PREF (iBGP).")
@click.option("--as-path", metavar="ASN,...", help="ASNs after our own, leftmost first.")
@click.option("--origin", type=click.Choice(["igp", "egp", "incomplete"]), default="igp")
@_control_options
def announce(
    prefix: str,
    next_hop: str | None,
    communities: tuple[str, ...],
    large: tuple[str, ...],
    med: int | None,
    local_pref: int | None,
    as_path: str | None,
    origin: str,
    control: str | None,
    daemon: str | None,
    as_json: bool,
) -> None:
    """Originate PREFIX now, to every Established peer of its family."""
    args: dict[str, Any] = {"prefix": prefix, "origin": origin}
    if next_hop is not None:
        args["next_hop"] = next_hop
    if communities:
        args["communities"] = list(communities)
    if large:
        args["large_communities"] = list(large)
    if med is not None:
        args["med"] = med
    if local_pref is not None:
        args["local_pref"] = local_pref
    if as_path:
        try:
            args["as_path"] = [int(x) for x in as_path.replace(" ", ",").split(",") if x]
        except ValueError:
            msg = f"--as-path must be ASNs separated by commas: {as_path!r}"
            raise click.ClickException(msg) from None
    _route_action(control, daemon, as_json, "routes.announce", args)


@routes.command()
@click.argument("prefix")
@_control_options
def withdraw(prefix: str, control: str | None, daemon: str | None, as_json: bool) -> None:
    """Withdraw a PREFIX announced with `pybgp routes announce` (or `mrt inject`)."""
    _route_action(control, daemon, as_json, "routes.withdraw", {"prefix": prefix})


@routes.command("list")
@_control_options
def list_routes(control: str | None, daemon: str | None, as_json: bool) -> None:
    """The routes announced at run time (`routes announce`, `mrt inject`)."""
    from .ctl import CtlError, format_rib_row

    with _client(control, daemon) as c:
        try:
            for row in c.request("routes.list", {}):
                click.echo(json.dumps(row) if as_json else format_rib_row(row))
        except CtlError as exc:
            raise click.ClickException(str(exc)) from None


def _route_action(
    control: str | None, daemon: str | None, as_json: bool, cmd: str, args: dict[str, Any]
) -> None:
    data = _ctl(control, daemon, cmd, args)
    if as_json:
        _emit_json(data)
    else:
        click.echo(f"{data['prefix']}: {data['action']} sent to {data['peers']} peers")


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")


if __name__ == "__main__":  # pragma: no cover
    main()
