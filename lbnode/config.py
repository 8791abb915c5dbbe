"""The LB node agent's configuration: the speaker's TOML plus ``[lbnode]`` and ``[[vips]]``.

How this works: ``pybgp lbnode`` reads one TOML file.  Its ``[global]``,
``[[neighbors]]``, ``[control]`` and policy tables are the speaker's and are checked by
:func:`pybgp.config.config_from_doc`; this module takes out ``[lbnode]`` (agent-wide
defaults) and ``[[vips]]`` (each VIP with its announce attributes, announce policy,
drain settings and ``[[vips.checks]]``) and checks them the same way: every problem
is a :class:`~pybgp.config.ConfigError` naming the file, the key path and what is
wrong.  Times are seconds (an integer or a float).
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pybgp.codec.communities import parse_community, parse_large
from pybgp.codec.nlri import Prefix, parse_prefix
from pybgp.config import (
    Config,
    ConfigError,
    ConfigTable,
    config_from_doc,
    read_config_text,
    read_toml,
    type_name,
)

__all__ = [
    "CHECK_TYPES",
    "CheckConfig",
    "VipConfig",
    "LbConfig",
    "load_lbnode_config",
    "parse_lbnode_config",
]

CHECK_TYPES = ("tcp", "http", "https", "dns", "exec", "bound")
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
DNS_RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}
_CHECK_KEYS = """type name interval timeout rise fall jitter host port url expect_status body
    tls_verify server query qtype expect_rcode command address"""
_VIP_KEYS = """prefix next_hop communities large_communities med local_pref as_path_prepend
    announce drain_grace drain_local_pref drain_med disable_file bind flap_count
    flap_window hold_down checks"""
_LB_KEYS = "disable_file drain_grace drain_local_pref drain_med"
KEYS: dict[str, tuple[str, ...]] = {
    "lbnode": tuple(_LB_KEYS.split()),
    "vips": tuple(_VIP_KEYS.split()),
    "checks": tuple(_CHECK_KEYS.split()),
    "lbnode_top": ("lbnode", "vips"),  # the two tables taken out of the speaker's file
}
WHERE = {"lbnode": "in [lbnode]", "vips": "in [[vips]]", "checks": "in [[vips.checks]]"}
GRACEFUL_SHUTDOWN = 0xFFFF0000
"""The GRACEFUL_SHUTDOWN well-known community, 65535:0 (RFC 8326 4)."""


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """One health check of a VIP (``[[vips.checks]]``)."""

    kind: str
    """One of :data:`CHECK_TYPES`."""
    name: str
    interval: float = 1.0
    timeout: float = 1.0
    rise: int = 2
    """Consecutive passes that take a failed check up."""
    fall: int = 2
    """Consecutive failures that take a passing check down."""
    jitter: float = 0.0
    """Up to this many seconds are added at random to each interval."""
    host: str | None = None
    port: int | None = None
    path: str = "/"
    """HTTP: the request target."""
    tls_verify: bool = True
    expect_status: tuple[int, ...] = (200,)
    body: str | None = None
    """HTTP: a regular expression the response body must contain."""
    query: str | None = None
    """DNS: the name to ask for."""
    qtype: int = 1
    expect_rcode: int = 0
    command: tuple[str, ...] = ()
    address: str | None = None
    """bound: the address that must be configured on the host."""


@dataclass(frozen=True, slots=True)
class VipConfig:
    """One ``[[vips]]`` entry: a prefix the node announces while it can serve it."""

    prefix: str
    afi: int
    nlri: Prefix
    checks: tuple[CheckConfig, ...] = ()
    announce: str = "all"
    """``all``, ``any`` or ``at_least``: how many checks must pass (see ``at_least``)."""
    at_least: int = 0
    next_hop: str | None = None
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    med: int | None = None
    local_pref: int | None = None
    as_path_prepend: int = 0
    drain_grace: float = 30.0
    drain_local_pref: int = 0
    """LOCAL_PREF while draining (iBGP; RFC 8326 4.2 suggests 0)."""
    drain_med: int | None = None
    """MED while draining; None keeps the normal one."""
    disable_file: str | None = None
    bind: str | None = None
    """Interface to bind the VIP's address on while it is announced (e.g. ``lo``)."""
    flap_count: int = 0
    """Hold the VIP down after this many announce changes in ``flap_window`` (0: off)."""
    flap_window: float = 60.0
    hold_down: float = 30.0

    @property
    def address(self) -> str:
        return str(ipaddress.ip_network(self.prefix).network_address)


@dataclass(frozen=True, slots=True)
class LbConfig:
    speaker: Config
    vips: tuple[VipConfig, ...]
    source: str = "<string>"

    def vip(self, text: str) -> VipConfig | None:
        """The VIP named by ``text`` (a prefix, or an address of a /32 or /128)."""
        try:
            afi, nlri = parse_prefix(text.strip())
        except ValueError:
            return None
        return next((v for v in self.vips if (v.afi, v.nlri) == (afi, nlri)), None)


class _Table(ConfigTable):
    KEYS = KEYS
    WHERE = WHERE

    def child_tables(self, key: str, kind: str) -> list[_Table]:
        items = self.get(key, list) or []
        out = []
        for i, item in enumerate(items):
            path = f"{self.path}.{key}[{i}]" if self.path else f"{key}[{i}]"
            if type(item) is not dict:
                self.fail(f"{key}[{i}]", f"expected a table, got {type_name(item)}")
            out.append(_Table(self.source, path, item, kind))
        return out

    def seconds(self, key: str, lo: float, hi: float, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        if type(value) not in (int, float):
            self.fail(key, f"expected a number of seconds, got {type_name(value)}")
        if not lo <= value <= hi:
            self.fail(key, f"{value} is out of range {lo:g}..{hi:g} seconds")
        return float(value)


def load_lbnode_config(path: str | Path) -> LbConfig:
    """Read and check ``pybgp lbnode``'s file; :class:`ConfigError` on any problem."""
    return parse_lbnode_config(read_config_text(path), str(path))


def parse_lbnode_config(text: str, source: str = "<string>") -> LbConfig:
    doc = read_toml(text, source)
    lb_raw, vips_raw = doc.pop("lbnode", None), doc.pop("vips", None)
    speaker = config_from_doc(doc, source, "lbnode")
    top = _Table(source, "", {"lbnode": lb_raw, "vips": vips_raw}, "lbnode_top")
    defaults = _defaults(top.table("lbnode") if lb_raw is not None else None)
    vips = tuple(_vip(t, defaults) for t in top.child_tables("vips", "vips"))
    if not vips:
        raise ConfigError(source, "vips", "no [[vips]]: the agent has nothing to announce")
    seen: dict[str, int] = {}
    for i, v in enumerate(vips):
        if v.prefix in seen:
            raise ConfigError(
                source, f"vips[{i}].prefix", f"{v.prefix} is already vips[{seen[v.prefix]}]"
            )
        seen[v.prefix] = i
    clash = {o.prefix for o in speaker.originate} & set(seen)
    if clash:
        raise ConfigError(source, "originate", f"{min(clash)} is both [[originate]] and a VIP")
    return LbConfig(speaker, vips, source)


def _defaults(t: _Table | None) -> dict[str, Any]:
    if t is None:
        return {}
    out: dict[str, Any] = {}
    if "disable_file" in t.data:
        out["disable_file"] = _path(t, "disable_file")
    if "drain_grace" in t.data:
        out["drain_grace"] = t.seconds("drain_grace", 0, 86400, 30.0)
    if "drain_local_pref" in t.data:
        out["drain_local_pref"] = t.integer("drain_local_pref", 0, 0xFFFFFFFF)
    if "drain_med" in t.data:
        out["drain_med"] = t.integer("drain_med", 0, 0xFFFFFFFF)
    return out


def _path(t: _Table, key: str) -> str | None:
    value = t.text(key, 1, 4096)
    if value is not None and not value.startswith("/"):
        t.fail(key, f"{value!r} is not an absolute path")
    return value


def _vip(t: _Table, defaults: dict[str, Any]) -> VipConfig:
    afi, nlri, canonical = t.route_prefix("prefix", need_length=False)
    next_hop = t.route_next_hop("next_hop", afi)
    net = ipaddress.ip_network(canonical)
    announce, at_least = _announce(t)
    checks = tuple(
        _check(c, str(net.network_address), i)
        for i, c in enumerate(t.child_tables("checks", "checks"))
    )
    if announce == "at_least" and at_least > len(checks):
        t.fail("announce", f"at least {at_least} checks must pass, but the VIP has {len(checks)}")
    names = [c.name for c in checks]
    for i, n in enumerate(names):
        if n in names[:i]:
            t.fail(f"checks[{i}].name", f"{n!r} is already the name of another check of this VIP")
    bind = t.text("bind", 1, 15)
    drain_med = t.integer("drain_med", 0, 0xFFFFFFFF)
    if drain_med is None:
        drain_med = defaults.get("drain_med")
    return VipConfig(
        prefix=canonical,
        afi=afi,
        nlri=nlri,
        checks=checks,
        announce=announce,
        at_least=at_least,
        next_hop=next_hop,
        communities=t.strings("communities", parse_community),
        large_communities=t.strings("large_communities", parse_large),
        med=t.integer("med", 0, 0xFFFFFFFF),
        local_pref=t.integer("local_pref", 0, 0xFFFFFFFF),
        as_path_prepend=t.integer("as_path_prepend", 0, 16, 0),
        drain_grace=t.seconds("drain_grace", 0, 86400, defaults.get("drain_grace", 30.0)),
        drain_local_pref=t.integer(
            "drain_local_pref", 0, 0xFFFFFFFF, defaults.get("drain_local_pref", 0)
        ),
        drain_med=drain_med,
        disable_file=_path(t, "disable_file") or defaults.get("disable_file"),
        bind=bind,
        flap_count=t.integer("flap_count", 0, 1000, 0),
        flap_window=t.seconds("flap_window", 1, 86400, 60.0),
        hold_down=t.seconds("hold_down", 0, 86400, 30.0),
    )


def _announce(t: _Table) -> tuple[str, int]:
    value = t.data.get("announce", "all")
    if type(value) is int:
        if value < 1:
            t.fail("announce", f"{value}: at least 1 check must pass")
        return "at_least", value
    if value not in ("all", "any"):
        t.fail("announce", f'{value!r}: expected "all", "any" or a number of checks')
    return str(value), 0


def _check(t: _Table, vip_address: str, index: int) -> CheckConfig:
    kind = t.choice("type", dict.fromkeys(CHECK_TYPES), "")
    if not kind:
        t.fail("type", f"missing (required): one of {', '.join(CHECK_TYPES)}")
    interval = t.seconds("interval", 0.05, 3600, 1.0)
    values: dict[str, Any] = {
        "kind": kind,
        "name": t.text("name", 1, 64) or f"{kind}-{index}",
        "interval": interval,
        "timeout": t.seconds("timeout", 0.01, 3600, min(1.0, interval)),
        "rise": t.integer("rise", 1, 100, 2),
        "fall": t.integer("fall", 1, 100, 2),
        "jitter": t.seconds("jitter", 0, 3600, 0.0),
    }
    allowed = {"tcp": {"host", "port"}, "dns": {"server", "port", "query", "qtype", "expect_rcode"}}
    allowed |= {"http": {"url", "expect_status", "body"}, "exec": {"command"}, "bound": {"address"}}
    allowed["https"] = allowed["http"] | {"tls_verify"}
    common = {"type", "name", "interval", "timeout", "rise", "fall", "jitter"}
    for key in t.data:
        if key not in common and key not in allowed[kind]:
            t.fail(
                key, f"not a key of a {kind} check (its keys: {', '.join(sorted(allowed[kind]))})"
            )
    if kind == "tcp":
        values["host"] = t.address("host", required=True)
        values["port"] = t.integer("port", 1, 65535)
        if values["port"] is None:
            t.fail("port", "missing (required)")
    elif kind in ("http", "https"):
        values.update(_url(t, kind))
        values["tls_verify"] = t.flag("tls_verify", True)
        values["expect_status"] = _statuses(t)
        body = t.text("body", 1, 1024)
        if body is not None:
            import re

            try:
                re.compile(body)
            except re.error as exc:
                t.fail("body", f"not a regular expression: {exc}")
        values["body"] = body
    elif kind == "dns":
        values["host"] = t.address("server") or "127.0.0.1"
        values["port"] = t.integer("port", 1, 65535, 53)
        query = t.text("query", 1, 253, required=True) or ""
        if any(len(label) > 63 for label in query.rstrip(".").split(".")) or ".." in query:
            t.fail("query", f"{query!r} is not a domain name")
        values["query"] = query
        values["qtype"] = QTYPES[t.choice("qtype", QTYPES, "A")]
        values["expect_rcode"] = DNS_RCODES[t.choice("expect_rcode", DNS_RCODES, "NOERROR")]
    elif kind == "exec":
        raw = t.data.get("command")
        if isinstance(raw, str):
            try:
                command = tuple(shlex.split(raw))
            except ValueError as exc:
                t.fail("command", f"cannot split {raw!r}: {exc}")
        else:
            command = t.strings("command", str)
        if not command:
            t.fail("command", "missing (required): a command line or an array of arguments")
        values["command"] = command
    elif kind == "bound":
        values["address"] = t.address("address") or vip_address
    return CheckConfig(**values)


def _url(t: _Table, kind: str) -> dict[str, Any]:
    url = t.text("url", 1, 2048, required=True) or ""
    parts = urlsplit(url)
    if parts.scheme != kind:
        t.fail("url", f"{url!r}: a {kind} check needs a {kind}:// URL")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        t.fail("url", f"{url!r}: {exc}")
    if not host:
        t.fail("url", f"{url!r} has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return {"host": host, "port": port or (443 if kind == "https" else 80), "path": path}


def _statuses(t: _Table) -> tuple[int, ...]:
    value = t.data.get("expect_status", 200)
    items = value if isinstance(value, list) else [value]
    if not items:
        t.fail("expect_status", "an empty list")
    for v in items:
        if type(v) is not int or not 100 <= v <= 599:
            t.fail("expect_status", f"{v!r} is not an HTTP status (100..599)")
    return tuple(items)
