"""The ``pybgp`` command line (click).

How this works: each command is a thin wrapper that parses options, calls the library
and prints a table or, with ``--json``, one JSON object per line.  Bad input gives a
one-line error and exit status 2, never a traceback.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .codec.message import encode_message

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pybgp")
def main() -> None:
    """pybgp: a BGP speaker, route reflector and LB node toolkit."""


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
    from .render import message_dict, message_line

    # Decoded objects hold no reference cycles, and a full table is millions of them:
    # the cyclic collector would only rescan them (40% of the time at 1M routes).
    gc.disable()
    try:
        if count:
            c = count_file(file, fmt, port)
            if as_json:
                _emit(c.as_dict())
            else:
                for k, v in c.as_dict().items():
                    click.echo(f"{k:15} {v}")
            sys.exit(0 if c.errors == 0 else 1)
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


@main.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="TOML configuration (see docs/config.md).",
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
    help="This is a restart: set the graceful-restart R bit (RFC 4724) so that "
    "peers keep our routes while we come back.",
)
def speaker(config_path: str, log_format: str, check: bool, restarted: bool) -> None:
    """Run a BGP speaker: peer with the neighbors, originate routes, log what arrives.

    SIGHUP reloads the file (unchanged sessions stay up); SIGUSR1 sends ROUTE-REFRESH
    to every Established peer; SIGTERM/SIGINT send Cease/Administrative Shutdown to
    every peer and exit.
    """
    from .config import ConfigError, load_config
    from .daemon import run_speaker

    try:
        cfg = load_config(config_path, daemon="speaker")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        click.echo(f"{config_path}: OK ({len(cfg.neighbors)} neighbors)")
        return
    sys.exit(run_speaker(config_path, cfg, log_format, restarted))


@main.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="TOML configuration; [global] cluster_id makes it a route reflector.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Event log on stdout: readable lines or JSON lines.",
)
@click.option("--check", is_flag=True, help="Validate the configuration and exit.")
@click.option("--restarted", is_flag=True, help="Set the graceful-restart R bit (RFC 4724).")
def rr(config_path: str, log_format: str, check: bool, restarted: bool) -> None:
    """Run the route reflector: every path kept, reflected per RFC 4456, ADD-PATH send.

    The same process also originates [[originate]] routes and speaks plain BGP to
    non-client neighbors.  Signals as for `pybgp speaker`.
    """
    from .config import ConfigError, load_config
    from .daemon import run_speaker

    try:
        cfg = load_config(config_path, daemon="rr")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if cfg.global_.cluster_id is None:
        click.echo("note: no [global] cluster_id: the router id is used (RFC 4456 7)", err=True)
    if check:
        click.echo(f"{config_path}: OK ({len(cfg.neighbors)} neighbors)")
        return
    sys.exit(run_speaker(config_path, cfg, log_format, restarted))


@main.command()
@click.option(
    "--nodes",
    type=click.IntRange(2, 20),
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


if __name__ == "__main__":  # pragma: no cover
    main()
