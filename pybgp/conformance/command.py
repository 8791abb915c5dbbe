"""The ``pybgp conformance`` click group: ``list`` and ``run``.

How this works: options are checked and turned into a
:class:`~pybgp.conformance.runner.RunConfig`; ``run`` drives the asyncio runner and
prints the report.  Bad input and an unreachable target give one line on stderr and a
non-zero exit (2 for usage, 3 when the target cannot be reached); a run with failing
checks exits 1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from pathlib import Path

import click

from .check import select
from .probe import ProbeError
from .report import list_table, table, to_json, to_junit
from .runner import FAMILIES, Result, RunConfig, run

__all__ = ["conformance"]


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address") from None


def _addresses(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    out = tuple(str(_address(ctx, param, v)) for v in value)
    if len(set(out)) != len(out):
        raise click.BadParameter("the same address twice")
    return out


def _families(
    ctx: click.Context, param: click.Parameter, value: str
) -> tuple[tuple[int, int], ...]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in FAMILIES]
    if bad or not names:
        raise click.BadParameter(
            f"unknown family {', '.join(bad) or '(none)'}; known: {', '.join(FAMILIES)}"
        )
    return tuple(FAMILIES[n] for n in names)


@click.group()
def conformance() -> None:
    """Check another BGP speaker against the RFCs, with pybgp as the test peer."""


@conformance.command("list")
@click.option(
    "--only", "pattern", metavar="PATTERN", help="Glob or substring of check ids; comma-separated."
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def list_checks(pattern: str | None, as_json: bool) -> None:
    """Show every check with the RFC clause it tests."""
    checks = select(pattern)
    if as_json:
        import json

        rows = [
            {
                "id": c.id,
                "rfc": c.rfc,
                "title": c.title,
                "expected": c.expected,
                "needs": sorted(c.needs),
            }
            for c in checks
        ]
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(list_table(checks))


ASN = click.IntRange(1, 2**32 - 1)


@conformance.command("run")
@click.option(
    "--target",
    required=True,
    callback=_address,
    help="The speaker under test (the only address contacted).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=179, show_default=True)
@click.option("--target-as", type=ASN, required=True, help="The target's AS number.")
@click.option(
    "--local-as", type=ASN, required=True, help="Our AS number (equal to --target-as: iBGP)."
)
@click.option(
    "--local-address",
    "local_addresses",
    required=True,
    multiple=True,
    callback=_addresses,
    help="Source address of the test sessions; repeat it to use several in turn.",
)
@click.option(
    "--observer-address",
    callback=_address,
    help="Second local address: a session that sees the routes the target echoes.",
)
@click.option(
    "--families",
    default="ipv4-unicast",
    show_default=True,
    callback=_families,
    help="Comma-separated families to negotiate.",
)
@click.option(
    "--only",
    "pattern",
    metavar="PATTERN",
    help="Only checks whose id matches (glob or substring; comma-separated).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.2, 60),
    default=3.0,
    show_default=True,
    help="Seconds to wait for an answer or an echoed route.",
)
@click.option(
    "--window",
    type=click.FloatRange(0.1, 30),
    default=1.0,
    show_default=True,
    help="Seconds a session must stay quiet to count as up.",
)
@click.option(
    "--setup-timeout",
    type=click.FloatRange(1, 300),
    default=15.0,
    show_default=True,
    help="Seconds to wait for the target to accept a session.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(10, 86400),
    default=900.0,
    show_default=True,
    help="Checks not started by then are reported n/a.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--junit",
    "junit",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write JUnit XML to FILE.",
)
def run_checks(
    target: str,
    port: int,
    target_as: int,
    local_as: int,
    local_addresses: tuple[str, ...],
    observer_address: str | None,
    families: tuple[tuple[int, int], ...],
    pattern: str | None,
    timeout: float,
    window: float,
    setup_timeout: float,
    max_time: float,
    as_json: bool,
    junit: str | None,
) -> None:
    """Run the checks against TARGET and report pass / fail / n/a for each."""
    local_address, more = local_addresses[0], local_addresses[1:]
    if observer_address is not None and observer_address in local_addresses:
        raise click.BadParameter(
            "must differ from --local-address", param_hint="--observer-address"
        )
    if target in (*local_addresses, observer_address):
        raise click.BadParameter(
            "the target cannot be one of our own addresses", param_hint="--target"
        )
    checks = select(pattern)
    if not checks:
        raise click.UsageError(f"no check matches {pattern!r} (see `pybgp conformance list`)")
    cfg = RunConfig(
        target, target_as, local_as, local_address, observer_address, port, families,
        timeout, window, setup_timeout, max_time, more_addresses=more,
    )  # fmt: skip

    def progress(r: Result) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"  {r.verdict.value:<4} {r.id}", err=True)

    try:
        results = asyncio.run(run(cfg, checks, progress=progress))
    except ProbeError as exc:
        click.echo(f"Error: {target}: {exc}", err=True)
        sys.exit(3)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(3)
    name = f"{target}:{port}" if port != 179 else target
    click.echo(to_json(results, name) if as_json else table(results, name))
    if junit:
        try:
            Path(junit).write_text(to_junit(results, name))
        except OSError as exc:
            click.echo(f"Error: cannot write {junit}: {exc}", err=True)
            sys.exit(2)
    sys.exit(1 if any(r.verdict.value == "fail" for r in results) else 0)
