"""The daemons' TOML configuration: parsed with ``tomllib``, checked strictly, frozen.

How this works: ``tomllib`` turns the text into nested dicts, and one ``_Table`` wraps each
TOML table on the way down.  A ``_Table`` first rejects keys it does not know (naming the
closest valid one), then hands out typed values (``integer``, ``flag``, ``address``...)
that raise :class:`ConfigError` with the file, the key path (``neighbors[2].hold_time``,
indexes from 0) and the problem.  Nothing else escapes: no ``KeyError``, ``TypeError``
or ``TOMLDecodeError``.  Per-neighbor timers inherit from ``[global]`` and are resolved
here, so a :class:`NeighborConfig` is complete on its own and two of them compare
equal exactly when the session would be configured the same way; ``diff_neighbors``
builds on that for a SIGHUP reload.  The dataclass fields are named after the TOML keys
(``global`` becomes ``Config.global_``).  The schema is documented in docs/config.md.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from pathlib import Path
from typing import Any, NoReturn, Self, TypeVar, overload

from .codec.attributes import Origin
from .codec.communities import parse_community, parse_large
from .codec.nlri import Prefix, format_prefix, parse_prefix
from .codec.open import Role
from .codec.options import AfiSafi

__all__ = [
    "ConfigError",
    "GlobalConfig",
    "ControlConfig",
    "NeighborConfig",
    "OriginateConfig",
    "Config",
    "NeighborChange",
    "NeighborDiff",
    "FAMILIES",
    "ADD_PATH_MODES",
    "ROLES",
    "KEYS",
    "SOFT_FIELDS",
    "load_config",
    "parse_config",
    "read_toml",
    "config_from_doc",
    "ConfigTable",
    "read_config_text",
    "diff_neighbors",
    "default_control_socket",
]

FAMILIES: dict[str, AfiSafi] = {
    "ipv4-unicast": (1, 1),
    "ipv6-unicast": (2, 1),
    "ipv4-multicast": (1, 2),
    "ipv6-multicast": (2, 2),
}
"""Family names for ``families``, and their (AFI, SAFI)."""
ADD_PATH_MODES = {"none": 0, "receive": 1, "send": 2, "both": 3}
"""``add_path`` values and their RFC 7911 4 Send/Receive code (0: not advertised)."""
ROLES = {name.lower().replace("_", "-"): role for name, role in Role.__members__.items()}
"""``role`` values and their RFC 9234 4.1 BGP Role code."""
ORIGINS = {"igp": Origin.IGP, "egp": Origin.EGP, "incomplete": Origin.INCOMPLETE}

_GLOBAL_KEYS = """asn router_id listen_address listen_port cluster_id hold_time keepalive
    connect_retry delay_open restart_time hostname maximum_paths multipath_relax
    always_compare_med"""
_NEIGHBOR_KEYS = """address remote_as description port local_address passive shutdown hold_time
    keepalive connect_retry delay_open families route_reflector_client next_hop_self add_path
    add_path_send_max md5_password ttl_security max_prefixes max_prefix_restart
    max_prefixes_warning
    graceful_restart restart_time enhanced_route_refresh extended_message role import_policy
    export_policy"""
_ORIGINATE_KEYS = "prefix next_hop communities large_communities med local_pref origin as_path"
KEYS: dict[str, tuple[str, ...]] = {
    "": ("global", "control", "neighbors", "originate", "prefix_lists", "policies"),
    "global": tuple(_GLOBAL_KEYS.split()),
    "control": ("socket", "metrics_port", "metrics_address"),
    "neighbors": tuple(_NEIGHBOR_KEYS.split()),
    "originate": tuple(_ORIGINATE_KEYS.split()),
}
"""The valid keys of each table (``""`` is the top level): the schema, as docs/config.md has it."""

SOFT_FIELDS = frozenset(
    {
        "description",
        "shutdown",
        "max_prefixes",
        "max_prefix_restart",
        "next_hop_self",
        "max_prefixes_warning",
    }
)
"""NeighborConfig fields that can change without resetting an Established session."""

T = TypeVar("T")
DEFAULT_LISTEN = ("0.0.0.0", "::")  # two sockets: asyncio sets IPV6_V6ONLY on "::"
U32 = 0xFFFFFFFF
AS_TRANS = 23456
_DAEMON = re.compile(r"[a-z][a-z0-9-]*\Z")
_SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
_TCP_MD5SIG_MAXKEYLEN = 80


class ConfigError(Exception):
    """A configuration file that cannot be used: ``"<file>: <key path>: <problem>"``."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source, self.path, self.problem = source, path, problem
        super().__init__(f"{source}: {path}: {problem}" if path else f"{source}: {problem}")


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    """``[global]``: who this speaker is, where it listens, and timer defaults."""

    asn: int
    router_id: str
    """BGP Identifier (RFC 4271 4.2, RFC 6286): an IPv4 dotted quad, not 0.0.0.0."""
    listen_address: tuple[str, ...] = DEFAULT_LISTEN
    listen_port: int = 179
    cluster_id: str | None = None
    """RFC 4456 CLUSTER_ID; set means this speaker is a route reflector."""
    hold_time: int = 90
    keepalive: int | None = None
    """None: one third of the hold time."""
    connect_retry: int = 120
    delay_open: int = 0
    restart_time: int = 120
    hostname: str | None = None
    maximum_paths: int = 64
    """Largest ECMP set (RFC 4271 9.1.2.2 multipath); 1 turns multipath off."""
    multipath_relax: bool = False
    """ECMP across AS paths of equal length from different neighbour ASes."""
    always_compare_med: bool = False
    """Compare MED between routes from different neighbour ASes (RFC 4271 9.1.2.2 c)."""

    @property
    def is_route_reflector(self) -> bool:
        return self.cluster_id is not None


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """``[control]``: the local control API."""

    socket: str
    """Unix socket path; defaults to :func:`default_control_socket` for the daemon."""
    metrics_port: int | None = None
    """TCP port of the Prometheus ``/metrics`` endpoint; None: not served."""
    metrics_address: str = "127.0.0.1"
    """Address the metrics endpoint listens on."""


@dataclass(frozen=True, slots=True)
class NeighborConfig:
    """One ``[[neighbors]]`` entry, with the timers it inherits from ``[global]`` resolved."""

    address: str
    remote_as: int
    description: str = ""
    port: int = 179
    local_address: str | None = None
    passive: bool = False
    shutdown: bool = False
    hold_time: int = 90
    keepalive: int = 30
    connect_retry: int = 120
    delay_open: int = 0
    families: tuple[str, ...] = ("ipv4-unicast",)
    route_reflector_client: bool = False
    next_hop_self: bool = False
    add_path: str = "none"
    add_path_send_max: int | None = None
    """Paths sent per prefix with ADD-PATH send ("best N"); None: all of them."""
    md5_password: str | None = field(default=None, repr=False)
    ttl_security: bool = False
    max_prefixes: int | None = None
    max_prefixes_warning: int = 90
    """Percent of ``max_prefixes`` at which a warning is logged (once per crossing)."""
    max_prefix_restart: int | None = None
    """Seconds before reconnecting after a max-prefix Cease; None: stay down."""
    graceful_restart: bool = False
    restart_time: int = 120
    enhanced_route_refresh: bool = True
    extended_message: bool = True
    role: str | None = None

    def families_tuple(self) -> tuple[AfiSafi, ...]:
        """The (AFI, SAFI) of each configured family, in configuration order."""
        return tuple(FAMILIES[f] for f in self.families)

    def add_path_tuples(self) -> tuple[tuple[int, int, int], ...]:
        """ADD-PATH capability entries (RFC 7911 4): ``(afi, safi, 1|2|3)`` per family."""
        mode = ADD_PATH_MODES[self.add_path]
        return tuple((afi, safi, mode) for afi, safi in self.families_tuple()) if mode else ()

    def is_ibgp(self, local_as: int) -> bool:
        return self.remote_as == local_as

    def role_code(self) -> int | None:
        """The RFC 9234 BGP Role code to advertise, or None."""
        return None if self.role is None else int(ROLES[self.role])


@dataclass(frozen=True, slots=True)
class OriginateConfig:
    """One ``[[originate]]`` route."""

    prefix: str
    """Canonical text, e.g. ``"192.0.2.0/24"``."""
    afi: int
    nlri: Prefix
    """The prefix as ``pybgp.codec.nlri`` keys it: ``(network << 8) | length``."""
    next_hop: str | None = None
    """None: the session's local address (next hop self)."""
    communities: tuple[int, ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    med: int | None = None
    local_pref: int | None = None
    origin: int = Origin.IGP
    as_path: tuple[int, ...] = ()
    """ASNs prepended after our own AS is added (AS_SEQUENCE, leftmost first)."""


@dataclass(frozen=True, slots=True)
class Config:
    global_: GlobalConfig
    control: ControlConfig
    neighbors: tuple[NeighborConfig, ...] = ()
    originate: tuple[OriginateConfig, ...] = ()
    source: str = field(default="<string>", compare=False)
    policies: Any = field(default=None, compare=False)
    """``rib.policy.Policies``: prefix lists, policies, per-neighbor import/export."""

    def neighbor(self, address: str) -> NeighborConfig | None:
        key = _canonical(address)
        return next((n for n in self.neighbors if n.address == key), None)


@dataclass(frozen=True, slots=True)
class NeighborChange:
    old: NeighborConfig
    new: NeighborConfig
    fields: tuple[str, ...]
    """Names of the NeighborConfig fields that differ."""

    @property
    def needs_reset(self) -> bool:
        """Whether the session must be torn down (a field outside SOFT_FIELDS changed)."""
        return not set(self.fields) <= SOFT_FIELDS


@dataclass(frozen=True, slots=True)
class NeighborDiff:
    added: tuple[NeighborConfig, ...] = ()
    removed: tuple[NeighborConfig, ...] = ()
    changed: tuple[NeighborChange, ...] = ()
    unchanged: tuple[NeighborConfig, ...] = ()


# --- reading -------------------------------------------------------------------------


def load_config(path: str | Path, daemon: str = "speaker") -> Config:
    """Read and check the file at ``path``; :class:`ConfigError` on any problem."""
    return parse_config(read_config_text(path), str(path), daemon)


def read_config_text(path: str | Path) -> str:
    """The text of a configuration file; :class:`ConfigError` if unreadable or not UTF-8."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 (byte {exc.start})") from None


def parse_config(text: str, source: str = "<string>", daemon: str = "speaker") -> Config:
    """Check TOML ``text``; ``source`` names it in errors, ``daemon`` picks the socket name."""
    return config_from_doc(read_toml(text, source), source, daemon)


def read_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML ``text``; :class:`ConfigError` on a syntax error or an empty file."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"TOML syntax error: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(source, "", "TOML syntax error: nested too deeply") from None
    if not doc:
        raise ConfigError(source, "", "the configuration is empty (need at least [global])")
    return doc


def config_from_doc(doc: dict[str, Any], source: str, daemon: str = "speaker") -> Config:
    """The speaker's part of a parsed TOML document (``pybgp lbnode`` adds its own tables)."""
    socket_default = default_control_socket(daemon)
    top = _Table(source, "", doc, "")
    glob = _global(top.required_table("global"))
    control = top.table("control")
    socket = control.path_("socket") if control is not None else None
    metrics_port = control.integer("metrics_port", 1, 65535) if control is not None else None
    metrics_address = (control.address("metrics_address") if control is not None else None) or (
        "127.0.0.1"
    )
    neighbors = tuple(_neighbor(t, glob) for t in top.tables("neighbors"))
    _unique(top, "neighbors", "address", [n.address for n in neighbors], "a neighbor")
    originate = tuple(_originate(t) for t in top.tables("originate"))
    _unique(top, "originate", "prefix", [o.prefix for o in originate], "an originated prefix")
    from rib.policy import parse_policies  # rib.policy's errors subclass ConfigError

    policies = parse_policies(doc, source)
    return Config(
        glob,
        ControlConfig(socket or socket_default, metrics_port, metrics_address),
        neighbors,
        originate,
        source,
        policies,
    )


def default_control_socket(
    daemon: str, *, environ: Mapping[str, str] | None = None, uid: int | None = None
) -> str:
    """``$XDG_RUNTIME_DIR/pybgp/<daemon>.sock``, else ``/run/pybgp/`` as root, else ``/tmp``."""
    if not _DAEMON.match(daemon):
        raise ValueError(f"not a daemon name: {daemon!r}")
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/"):
        return f"{runtime.rstrip('/')}/pybgp/{daemon}.sock"
    uid = os.geteuid() if uid is None else uid
    return f"/run/pybgp/{daemon}.sock" if uid == 0 else f"/tmp/pybgp-{uid}/{daemon}.sock"


def diff_neighbors(old: Config, new: Config) -> NeighborDiff:
    """What a reload from ``old`` to ``new`` does to each neighbor, keyed by address.

    A change to ``[global]`` asn, router_id, cluster_id or hostname (they go into the OPEN
    or into every reflected route) marks every neighbor present in both as changed.
    """
    before = {n.address: n for n in old.neighbors}
    after = {n.address: n for n in new.neighbors}
    g_old, g_new = old.global_, new.global_
    identity = ("asn", "router_id", "cluster_id", "hostname")
    g_diff = tuple(f"global.{k}" for k in identity if getattr(g_old, k) != getattr(g_new, k))
    changed: list[NeighborChange] = []
    unchanged: list[NeighborConfig] = []
    for addr, n in after.items():
        o = before.get(addr)
        if o is None:
            continue
        diff = tuple(f.name for f in fields(n) if getattr(o, f.name) != getattr(n, f.name))
        if diff or g_diff:
            changed.append(NeighborChange(o, n, diff + g_diff))
        else:
            unchanged.append(n)
    return NeighborDiff(
        added=tuple(n for a, n in after.items() if a not in before),
        removed=tuple(n for a, n in before.items() if a not in after),
        changed=tuple(changed),
        unchanged=tuple(unchanged),
    )


# --- the tables ----------------------------------------------------------------------


def _global(t: _Table) -> GlobalConfig:
    asn = t.asn("asn", required=True)
    router_id = t.ipv4_id("router_id", required=True)
    listen = t.address_list("listen_address")
    hold = t.hold_time("hold_time")
    hold = 90 if hold is None else hold
    keepalive = t.integer("keepalive", 1, 65535)
    if keepalive is not None and hold and keepalive >= hold:
        t.fail("keepalive", f"{keepalive} is not below hold_time {hold}")
    return GlobalConfig(
        asn=asn if asn is not None else 0,
        router_id=router_id or "",
        listen_address=listen if listen is not None else DEFAULT_LISTEN,
        listen_port=t.integer("listen_port", 0, 65535, 179),
        cluster_id=t.ipv4_id("cluster_id"),
        hold_time=hold,
        keepalive=keepalive,
        connect_retry=t.integer("connect_retry", 1, 65535, 120),
        delay_open=t.integer("delay_open", 0, 65535, 0),
        restart_time=t.integer("restart_time", 0, 4095, 120),
        hostname=t.text("hostname", 1, 255),
        maximum_paths=t.integer("maximum_paths", 1, 1024, 64),
        multipath_relax=t.flag("multipath_relax", False),
        always_compare_med=t.flag("always_compare_med", False),
    )


def _neighbor(t: _Table, g: GlobalConfig) -> NeighborConfig:
    address = t.address("address", required=True) or ""
    ip = ipaddress.ip_address(address)
    if ip.is_multicast or ip.is_unspecified:
        t.fail("address", f"{address} is not a unicast address")
    remote_as = t.asn("remote_as", required=True) or 0
    local = t.address("local_address")
    if local is not None and ipaddress.ip_address(local).version != ip.version:
        t.fail("local_address", f"{local} is not an IPv{ip.version} address like {address}")
    # keepalive: the neighbor's own, else [global]'s unless the neighbor sets its own
    # hold_time, else a third of the hold time (RFC 4271 10); none at all with hold_time 0
    hold = t.hold_time("hold_time")
    keepalive = t.integer("keepalive", 1, 65535)
    if keepalive is None and hold is None:
        keepalive = g.keepalive
    hold = g.hold_time if hold is None else hold
    if keepalive is None or not hold:
        keepalive = hold // 3
    elif keepalive >= hold:
        t.fail("keepalive", f"{keepalive} is not below hold_time {hold}")
    ibgp = remote_as == g.asn
    families = t.families("families") or ("ipv4-unicast" if ip.version == 4 else "ipv6-unicast",)
    rr_client = t.flag("route_reflector_client", False)
    if rr_client and not ibgp:
        t.fail("route_reflector_client", f"needs an iBGP neighbor (remote_as {g.asn})")
    if rr_client and g.cluster_id is None:
        t.fail("route_reflector_client", "needs global.cluster_id (this is no route reflector)")
    add_path = t.choice("add_path", ADD_PATH_MODES, "none")
    send_max = t.integer("add_path_send_max", 1, 65535)
    if send_max is not None and add_path not in ("send", "both"):
        t.fail("add_path_send_max", 'needs add_path = "send" or "both"')
    max_prefixes = t.integer("max_prefixes", 1, U32)
    restart = t.integer("max_prefix_restart", 1, 65535)
    if restart is not None and max_prefixes is None:
        t.fail("max_prefix_restart", "needs max_prefixes")
    warning = t.integer("max_prefixes_warning", 1, 100)
    if warning is not None and max_prefixes is None:
        t.fail("max_prefixes_warning", "needs max_prefixes")
    role = t.choice("role", ROLES)
    if role is not None and ibgp:
        t.fail("role", "BGP roles (RFC 9234) are for eBGP sessions only")
    return NeighborConfig(
        address=address,
        remote_as=remote_as,
        description=t.text("description", 0, 255) or "",
        port=t.integer("port", 1, 65535, 179),
        local_address=local,
        passive=t.flag("passive", False),
        shutdown=t.flag("shutdown", False),
        hold_time=hold,
        keepalive=keepalive,
        connect_retry=t.integer("connect_retry", 1, 65535, g.connect_retry),
        delay_open=t.integer("delay_open", 0, 65535, g.delay_open),
        families=families,
        route_reflector_client=rr_client,
        next_hop_self=t.flag("next_hop_self", False),
        add_path=add_path,
        add_path_send_max=send_max,
        md5_password=t.text("md5_password", 1, _TCP_MD5SIG_MAXKEYLEN),
        ttl_security=t.flag("ttl_security", False),
        max_prefixes=max_prefixes,
        max_prefix_restart=restart,
        max_prefixes_warning=warning if warning is not None else 90,
        graceful_restart=t.flag("graceful_restart", False),
        restart_time=t.integer("restart_time", 0, 4095, g.restart_time),
        enhanced_route_refresh=t.flag("enhanced_route_refresh", True),
        extended_message=t.flag("extended_message", True),
        role=role,
    )


def _originate(t: _Table) -> OriginateConfig:
    afi, nlri, canonical = t.route_prefix("prefix", need_length=True)
    next_hop = t.route_next_hop("next_hop", afi)
    return OriginateConfig(
        prefix=canonical,
        afi=afi,
        nlri=nlri,
        next_hop=next_hop,
        communities=t.strings("communities", parse_community),
        large_communities=t.strings("large_communities", parse_large),
        med=t.integer("med", 0, U32),
        local_pref=t.integer("local_pref", 0, U32),
        origin=int(ORIGINS[t.choice("origin", ORIGINS, "igp")]),
        as_path=t.asn_list("as_path"),
    )


def _unique(top: _Table, table: str, key: str, values: list[str], what: str) -> None:
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        if v in seen:
            top.fail(f"{table}[{i}].{key}", f"{v} is already {what} (at {table}[{seen[v]}])")
        seen[v] = i


def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))  # keeps an IPv6 zone: "fe80::1%eth0"


_WHERE = {"": "at the top level", "neighbors": "in [[neighbors]]", "originate": "in [[originate]]"}
_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a float"}
_TYPE_NAMES |= {list: "an array", dict: "a table"}


def type_name(value: object) -> str:
    """How a TOML value's type is named in error messages."""
    return _TYPE_NAMES.get(type(value), "a date/time")


class TomlTable:
    """One TOML table being read; every getter raises ``ERROR`` naming the key path.

    Subclasses name their schema (``KEYS``: valid keys per kind of table), where each
    kind sits (``WHERE``, for messages) and their error type.
    """

    KEYS: Mapping[str, tuple[str, ...]] = {}
    WHERE: Mapping[str, str] = {}
    ERROR: type[ConfigError] = ConfigError

    def __init__(self, source: str, path: str, data: Mapping[str, Any], kind: str) -> None:
        self.source, self.path, self.data = source, path, data
        valid = self.KEYS[kind]
        where = self.WHERE.get(kind, f"in [{kind}]")
        for key in data:
            if key not in valid:
                close = get_close_matches(key, valid, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(valid)}"
                self.fail(key, f"unknown key {key!r} {where}{hint}")

    def fail(self, key: str, problem: str) -> NoReturn:
        raise self.ERROR(self.source, f"{self.path}.{key}" if self.path else key, problem)

    def get(self, key: str, kind: type, required: bool = False) -> Any:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "missing (required)")
            return None
        if type(value) is not kind:
            self.fail(key, f"expected {_TYPE_NAMES[kind]}, got {type_name(value)}")
        return value


class _Table(TomlTable):
    """A table of the daemon configuration."""

    KEYS = KEYS
    WHERE = _WHERE

    def required_table(self, key: str) -> Self:
        table = self.table(key)
        if table is None:
            self.fail(key, f"missing [{key}] table (required)")
        return table

    def table(self, key: str) -> Self | None:
        value = self.get(key, dict)
        return None if value is None else type(self)(self.source, key, value, key)

    def tables(self, key: str) -> list[Self]:
        items = self.get(key, list) or []
        out: list[Self] = []
        for i, item in enumerate(items):
            path = f"{key}[{i}]"
            if type(item) is not dict:
                self.fail(path, f"expected a table ([[{key}]]), got {type_name(item)}")
            out.append(type(self)(self.source, path, item, key))
        return out

    @overload
    def integer(self, key: str, lo: int, hi: int) -> int | None: ...
    @overload
    def integer(self, key: str, lo: int, hi: int, default: int) -> int: ...
    def integer(self, key: str, lo: int, hi: int, default: int | None = None) -> int | None:
        value: int | None = self.get(key, int)
        if value is None:
            return default
        if not lo <= value <= hi:
            self.fail(key, f"{value} is out of range {lo}..{hi}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, bool)
        return default if value is None else bool(value)

    def text(self, key: str, lo: int, hi: int, required: bool = False) -> str | None:
        value: str | None = self.get(key, str, required)
        if value is not None and not lo <= len(value.encode()) <= hi:
            self.fail(key, f"length {len(value.encode())} bytes is out of range {lo}..{hi}")
        return value

    @overload
    def choice(self, key: str, choices: Mapping[str, object]) -> str | None: ...
    @overload
    def choice(self, key: str, choices: Mapping[str, object], default: str) -> str: ...
    def choice(
        self, key: str, choices: Mapping[str, object], default: str | None = None
    ) -> str | None:
        value: str | None = self.get(key, str)
        if value is not None and value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
        return default if value is None else value

    def asn(self, key: str, required: bool = False) -> int | None:
        value: int | None = self.get(key, int, required)
        if value is not None:
            self._check_asn(key, value)
        return value

    def _check_asn(self, key: str, value: int) -> None:
        if not 1 <= value <= U32:
            self.fail(key, f"AS number {value} is out of range 1..{U32}")
        if value == AS_TRANS:
            self.fail(key, f"{AS_TRANS} is AS_TRANS (RFC 6793), not a usable AS number")

    def asn_list(self, key: str) -> tuple[int, ...]:
        values = self.get(key, list) or []
        for i, v in enumerate(values):
            if type(v) is not int:
                self.fail(f"{key}[{i}]", f"expected an integer, got {type_name(v)}")
            self._check_asn(f"{key}[{i}]", v)
        return tuple(values)

    def hold_time(self, key: str) -> int | None:
        value: int | None = self.get(key, int)
        if value is not None and not (value == 0 or 3 <= value <= 65535):
            self.fail(key, f"{value} is not 0 or 3..65535 seconds (RFC 4271 4.2)")
        return value

    def ipv4_id(self, key: str, required: bool = False) -> str | None:
        value = self.get(key, str, required)
        if value is None:
            return None
        try:
            ip = ipaddress.IPv4Address(value)
        except ValueError:
            self.fail(key, f"{value!r} is not an IPv4 dotted quad (a 4-octet BGP identifier)")
        if not int(ip):
            self.fail(key, "0.0.0.0 is not a valid identifier (RFC 6286)")
        return str(ip)

    def address(self, key: str, required: bool = False, allow_self: bool = False) -> str | None:
        value = self.get(key, str, required)
        if value is None or (allow_self and value == "self"):
            return None
        return self._address(key, value)

    def _address(self, key: str, value: str) -> str:
        try:
            return _canonical(value)
        except ValueError:
            self.fail(key, f"{value!r} is not an IPv4 or IPv6 address")

    def address_list(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if type(value) is str:
            return (self._address(key, value),)
        items = self.get(key, list)
        out: list[str] = []
        for i, v in enumerate(items):
            if type(v) is not str:
                self.fail(f"{key}[{i}]", f"expected a string, got {type_name(v)}")
            a = self._address(f"{key}[{i}]", v)
            if a in out:
                self.fail(f"{key}[{i}]", f"{a} is listed twice")
            out.append(a)
        return tuple(out)

    def families(self, key: str) -> tuple[str, ...]:
        values = self.strings(key, lambda s: s)
        if key in self.data and not values:
            self.fail(key, "is empty (need at least one family)")
        for i, v in enumerate(values):
            if v not in FAMILIES:
                self.fail(f"{key}[{i}]", f"{v!r} is not one of {', '.join(map(repr, FAMILIES))}")
            if v in values[:i]:
                self.fail(f"{key}[{i}]", f"{v!r} is listed twice")
        return values

    def strings(self, key: str, parse: Callable[[str], T]) -> tuple[T, ...]:
        values = self.get(key, list) or []
        out: list[T] = []
        for i, v in enumerate(values):
            if type(v) is not str:
                self.fail(f"{key}[{i}]", f"expected a string, got {type_name(v)}")
            try:
                out.append(parse(v))
            except ValueError as exc:
                self.fail(f"{key}[{i}]", str(exc))
        return tuple(out)

    def route_prefix(self, key: str, need_length: bool) -> tuple[int, Prefix, str]:
        """A route's prefix: (AFI, prefix key, canonical text).  Without ``need_length``
        a bare address is its host route."""
        text = self.text(key, 1, 64, required=True) or ""
        try:
            afi, nlri = parse_prefix(text)  # takes "192.0.2.1/24" and "192.0.2.1"
        except ValueError as exc:
            self.fail(key, f"{text!r} is not a prefix: {exc}")
        canonical = format_prefix(nlri, afi)
        if need_length and "/" not in text:
            self.fail(key, f"{text!r} has no length; did you mean {canonical!r}?")
        try:
            ipaddress.ip_network(text.strip(), strict=True)
        except ValueError:
            self.fail(key, f"{text!r} is not a prefix: host bits set; did you mean {canonical!r}?")
        return afi, nlri, canonical

    def route_next_hop(self, key: str, afi: int) -> str | None:
        """A route's next hop (None: ``"self"`` or absent); an IPv6 route needs IPv6."""
        next_hop = self.address(key, allow_self=True)
        if next_hop is not None and afi == 2 and ipaddress.ip_address(next_hop).version == 4:
            self.fail(key, f"an IPv6 prefix needs an IPv6 next hop, not {next_hop}")
        return next_hop

    def path_(self, key: str) -> str | None:
        value = self.text(key, 1, _SUN_PATH_MAX)
        if value is not None and not value.startswith("/"):
            self.fail(key, f"{value!r} is not an absolute path")
        return value


ConfigTable = _Table
"""The daemon configuration's table reader, for ``lbnode.config`` to subclass."""
