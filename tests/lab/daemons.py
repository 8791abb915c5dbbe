"""Drivers for real BGP daemons in a :class:`~tests.lab.netns.Lab`: BIRD 2, FRR, GoBGP, ExaBGP.

Every driver has the same interface (:class:`Daemon`).  Configure neighbors with
:meth:`Daemon.add_neighbor` before :meth:`Daemon.start`; routes can be announced and
withdrawn before or after the start.  Conventions shared by all drivers:

* ``as_path`` given to :meth:`Daemon.announce` is the path *behind* the speaker: an eBGP
  peer receives ``(local_as, *as_path)``, an iBGP peer ``as_path``.
* ``next_hop=None`` means the speaker's own address of the prefix's family.
* families: IPv4 unicast on an IPv4 session, IPv6 unicast on an IPv6 session, and
  ``ipv6=True`` adds IPv6 unicast (MP-BGP) to an IPv4 session.
* states are normalised to ``idle``, ``connect``, ``active``, ``opensent``,
  ``openconfirm``, ``established`` (and ``down`` for an administratively disabled peer).
* several ``announce`` calls for one prefix make several paths (ADD-PATH tx), except on
  FRR, which originates one path per prefix (NotImplementedError).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import ipaddress
import itertools
import json
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from .netns import Lab, LabError, Process, wait_for

AddPath = Literal["none", "receive", "send", "both"]
ADD_PATH_MODES: tuple[str, ...] = ("none", "receive", "send", "both")

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
ZEBRA = "/usr/lib/frr/zebra"
BGPD = "/usr/lib/frr/bgpd"
VTYSH = "/usr/bin/vtysh"
GOBGPD = "/usr/bin/gobgpd"
GOBGP = "/usr/bin/gobgp"
EXABGP = "/usr/sbin/exabgp"
HELPER_PYTHON = "/usr/bin/python3"  # the API helper is stdlib-only

DEFAULT_HOLD = 9  # short, so that a broken session is noticed quickly; keepalive = hold // 3

WELL_KNOWN_COMMUNITIES: dict[int, str] = {
    0xFFFF0000: "graceful-shutdown",
    0xFFFF0001: "accept-own",
    0xFFFF0006: "llgr-stale",
    0xFFFF0007: "no-llgr",
    0xFFFF029A: "blackhole",
    0xFFFFFF01: "no-export",
    0xFFFFFF02: "no-advertise",
    0xFFFFFF03: "no-export-subconfed",
    0xFFFFFF04: "no-peer",
}
COMMUNITY_VALUES: dict[str, int] = {v: k for k, v in WELL_KNOWN_COMMUNITIES.items()}

STATES = ("idle", "connect", "active", "opensent", "openconfirm", "established", "down")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Route:
    """One path as a daemon holds it after receiving it.

    ``communities`` are ``"a:b"`` strings or well-known names (``"no-export"``);
    ``large_communities`` are ``"a:b:c"``; ``med``/``local_pref`` are ``None`` when the
    attribute is absent (or the daemon does not show it); ``path_id`` is the received
    ADD-PATH path identifier when the daemon shows it (GoBGP, FRR, ExaBGP), else ``None``.
    ``neighbor`` (not part of equality) is the address the path was learnt from.
    """

    prefix: str
    next_hop: str
    as_path: tuple[int, ...] = ()
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    med: int | None = None
    local_pref: int | None = None
    path_id: int | None = None
    neighbor: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Neighbor:
    address: str
    remote_as: int
    port: int = 179
    passive: bool = False
    add_path: AddPath = "none"
    graceful_restart: bool = False
    md5_password: str | None = None
    hold_time: int | None = None
    ipv6: bool = False
    rr_client: bool = False

    @property
    def v6_transport(self) -> bool:
        return ipaddress.ip_address(self.address).version == 6

    @property
    def families(self) -> tuple[str, ...]:
        """``"ipv4"`` / ``"ipv6"`` unicast families negotiated on this session."""
        if self.v6_transport:
            return ("ipv6",)
        return ("ipv4", "ipv6") if self.ipv6 else ("ipv4",)

    @property
    def hold(self) -> int:
        return self.hold_time if self.hold_time is not None else DEFAULT_HOLD

    @property
    def keepalive(self) -> int:
        return 0 if self.hold == 0 else max(1, self.hold // 3)

    @property
    def add_path_rx(self) -> bool:
        return self.add_path in ("receive", "both")

    @property
    def add_path_tx(self) -> bool:
        return self.add_path in ("send", "both")


@dataclass(frozen=True)
class Announcement:
    prefix: str
    next_hop: str | None
    communities: tuple[str, ...]
    large_communities: tuple[str, ...]
    med: int | None
    local_pref: int | None
    as_path: tuple[int, ...]
    key: int  # unique per daemon; path_index below counts per prefix
    path_index: int

    @property
    def v6(self) -> bool:
        return ipaddress.ip_network(self.prefix, strict=False).version == 6


def normalize_community(value: int | str | tuple[int, int] | list[int]) -> str:
    """32-bit value, ``(a, b)`` pair, ``"a:b"`` or a name -> ``"a:b"`` / well-known name."""
    if isinstance(value, str):
        if value in COMMUNITY_VALUES:
            return value
        a, b = value.split(":")
        n = (int(a) << 16) | int(b)
    elif isinstance(value, int):
        n = value
    else:
        n = (int(value[0]) << 16) | int(value[1])
    return WELL_KNOWN_COMMUNITIES.get(n, f"{n >> 16}:{n & 0xFFFF}")


def _community_pair(c: str) -> tuple[int, int]:
    n = COMMUNITY_VALUES.get(c)
    if n is not None:
        return n >> 16, n & 0xFFFF
    a, b = c.split(":")
    return int(a), int(b)


def _is_v6(addr: str) -> bool:
    return ipaddress.ip_address(addr).version == 6


def _decode_shutdown_data(data: bytes) -> str:
    """RFC 8203/9003 Shutdown Communication: length octet + UTF-8 text."""
    if not data:
        return ""
    n = data[0]
    return data[1 : 1 + n].decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- base


class Daemon(abc.ABC):
    """Common interface of the daemon drivers."""

    kind: ClassVar[str] = "daemon"
    _api_ports: ClassVar[itertools.count[int]] = itertools.count(50151)

    def __init__(
        self,
        lab: Lab,
        ns: str,
        address: str | Sequence[str],
        asn: int,
        router_id: str,
    ) -> None:
        self.lab = lab
        self.ns = ns
        addrs = [address] if isinstance(address, str) else list(address)
        self.addresses = addrs
        self.local4 = next((a for a in addrs if not _is_v6(a)), None)
        self.local6 = next((a for a in addrs if _is_v6(a)), None)
        if self.local4 is None and self.local6 is None:
            raise ValueError("need at least one local address")
        self.asn = asn
        self.router_id = router_id
        self.neighbors: dict[str, Neighbor] = {}
        self.announcements: list[Announcement] = []
        self._keys = itertools.count(1)
        self.started = False
        self.kernel = False  # BIRD/FRR: install routes (ECMP merged) in the namespace's FIB
        self.processes: list[Process] = []
        tag = f"{self.kind}-{ns.rsplit('-', 1)[-1]}-{router_id}"
        self.dir = lab.workdir / tag
        self.dir.mkdir(parents=True, exist_ok=True)

    # -- configuration -----------------------------------------------------------------
    def add_neighbor(
        self,
        address: str,
        remote_as: int,
        *,
        port: int = 179,
        passive: bool = False,
        add_path: AddPath = "none",
        graceful_restart: bool = False,
        md5_password: str | None = None,
        hold_time: int | None = None,
        ipv6: bool = False,
        rr_client: bool = False,
    ) -> Neighbor:
        """Configure a neighbor (before :meth:`start`)."""
        if self.started:
            raise NotImplementedError(f"{self.kind}: add neighbors before start()")
        if add_path not in ADD_PATH_MODES:
            raise ValueError(f"add_path must be one of {ADD_PATH_MODES}")
        if hold_time is not None and hold_time != 0 and hold_time < 3:
            raise ValueError("hold_time must be 0 or >= 3")
        nb = Neighbor(
            address, remote_as, port, passive, add_path, graceful_restart,
            md5_password, hold_time, ipv6, rr_client,
        )  # fmt: skip
        if nb.v6_transport and self.local6 is None:
            raise ValueError(f"{self.kind}: IPv6 neighbor {address} but no local IPv6 address")
        if not nb.v6_transport and self.local4 is None:
            raise ValueError(f"{self.kind}: IPv4 neighbor {address} but no local IPv4 address")
        if rr_client and remote_as != self.asn:
            raise ValueError("rr_client needs an iBGP neighbor")
        self._check_neighbor(nb)
        self.neighbors[address] = nb
        return nb

    def _check_neighbor(self, nb: Neighbor) -> None:  # noqa: B027 (optional hook)
        """Raise NotImplementedError for options this daemon cannot do."""

    def local_address_for(self, nb: Neighbor, version: int | None = None) -> str:
        """Our address toward ``nb``: of the transport's family, the local address sharing the
        longest prefix with the neighbor; of the other family (``version``), the address on
        the same lab link, else the first one of that family."""
        tv = 6 if nb.v6_transport else 4
        peer = int(ipaddress.ip_address(nb.address))
        bits = 128 if tv == 6 else 32
        same = [a for a in self.addresses if ipaddress.ip_address(a).version == tv]
        if not same:
            raise ValueError(f"{self.kind}: no local IPv{tv} address toward {nb.address}")
        best = max(same, key=lambda a: bits - (int(ipaddress.ip_address(a)) ^ peer).bit_length())
        if version is None or version == tv:
            return best
        for link in self.lab.links:
            for v4, v6 in ((link.a4, link.a6), (link.b4, link.b6)):
                want = v6 if version == 6 else v4
                if best in (v4, v6) and want in self.addresses:
                    return want
        other = [a for a in self.addresses if ipaddress.ip_address(a).version == version]
        if not other:
            raise ValueError(f"{self.kind}: no local IPv{version} address")
        return other[0]

    def default_next_hop(self, prefix: str) -> str:
        v6 = ipaddress.ip_network(prefix, strict=False).version == 6
        nh = self.local6 if v6 else self.local4
        if nh is None:
            raise ValueError(f"{self.kind}: no local address of the family of {prefix}")
        return nh

    # -- routes ------------------------------------------------------------------------
    def announce(
        self,
        prefix: str,
        next_hop: str | None = None,
        communities: Iterable[str] = (),
        large_communities: Iterable[str] = (),
        med: int | None = None,
        local_pref: int | None = None,
        as_path: Iterable[int] = (),
    ) -> int:
        """Originate a path for ``prefix``; returns a key for :meth:`withdraw`."""
        prefix = str(ipaddress.ip_network(prefix, strict=False))
        same = [a for a in self.announcements if a.prefix == prefix]
        ann = Announcement(
            prefix, next_hop,
            tuple(normalize_community(c) for c in communities),
            tuple(large_communities), med, local_pref, tuple(as_path),
            next(self._keys), max((a.path_index for a in same), default=0) + 1,
        )  # fmt: skip
        self.announcements.append(ann)
        if self.started:
            self._announce(ann)
        return ann.key

    def withdraw(self, prefix: str, key: int | None = None) -> None:
        """Withdraw every path of ``prefix`` (or only the one ``announce`` returned ``key`` for)."""
        prefix = str(ipaddress.ip_network(prefix, strict=False))
        gone = [
            a for a in self.announcements if a.prefix == prefix and (key is None or a.key == key)
        ]
        if not gone:
            raise KeyError(f"{prefix} (key {key}) was not announced")
        self.announcements = [a for a in self.announcements if a not in gone]
        if self.started:
            self._withdraw(gone)

    @abc.abstractmethod
    def _announce(self, ann: Announcement) -> None: ...

    @abc.abstractmethod
    def _withdraw(self, gone: list[Announcement]) -> None: ...

    # -- lifecycle ---------------------------------------------------------------------
    @abc.abstractmethod
    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop the daemon's processes (by PID)."""
        for p in reversed(self.processes):
            if p.alive():
                self.lab.stop(p)
        self.started = False

    @property
    def proc(self) -> Process:
        """The BGP process (for :meth:`Lab.pause`/:meth:`Lab.resume`)."""
        return self.processes[-1]

    def log(self) -> str:
        return "\n".join(p.log() for p in self.processes)

    # -- state -------------------------------------------------------------------------
    @abc.abstractmethod
    def state(self, neighbor: str) -> str: ...

    def wait_established(self, neighbor: str, timeout: float = 30.0) -> None:
        self._known(neighbor)
        try:
            wait_for(
                f"{self.kind} {neighbor} established",
                lambda: self.state(neighbor) == "established",
                timeout=timeout,
            )
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; state={self._safe_state(neighbor)}") from None

    def wait_state(self, neighbor: str, pred: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Wait until ``pred(state)`` holds; returns that state."""
        self._known(neighbor)

        def check() -> str | None:
            s = self.state(neighbor)
            return s if pred(s) else None

        return wait_for(f"{self.kind} {neighbor} state", check, timeout=timeout)

    def wait_routes(
        self,
        pred: Callable[[list[Route]], bool],
        neighbor: str | None = None,
        timeout: float = 20.0,
    ) -> list[Route]:
        """Wait until ``pred(received_routes(neighbor))`` is true; returns those routes."""
        last: list[Route] = []

        def check() -> tuple[list[Route]] | None:
            nonlocal last
            last = self.received_routes(neighbor)
            return (last,) if pred(last) else None  # a tuple: an empty list is a valid answer

        try:
            return wait_for(f"{self.kind} routes", check, timeout=timeout, step=0.3)[0]
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last routes: {last}") from None

    def _safe_state(self, neighbor: str) -> str:
        try:
            return self.state(neighbor)
        except Exception as exc:
            return f"<{exc}>"

    @abc.abstractmethod
    def received_routes(self, neighbor: str | None = None) -> list[Route]: ...

    @abc.abstractmethod
    def route_refresh(self, neighbor: str) -> None: ...

    @abc.abstractmethod
    def shutdown_neighbor(self, neighbor: str, message: str = "") -> None: ...

    def enable_neighbor(self, neighbor: str) -> None:
        """Undo :meth:`shutdown_neighbor`."""
        raise NotImplementedError(f"{self.kind}: enable_neighbor")

    @abc.abstractmethod
    def last_error(self, neighbor: str) -> str: ...

    def _known(self, neighbor: str) -> Neighbor:
        try:
            return self.neighbors[neighbor]
        except KeyError:
            raise KeyError(f"{self.kind}: {neighbor} is not a configured neighbor") from None

    def _require_started(self) -> None:
        if not self.started:
            raise RuntimeError(f"{self.kind} is not running")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} AS{self.asn} {self.router_id} in {self.ns}>"


# --------------------------------------------------------------------------- BIRD

_BIRD_STATES = {
    "established": "established",
    "active": "active",
    "connect": "connect",
    "idle": "idle",
    "opensent": "opensent",
    "openconfirm": "openconfirm",
    "passive": "active",
}


def parse_bird_routes(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """``birdc show route all`` text -> [(prefix, protocol, {attribute: value})]."""
    out: list[tuple[str, str, dict[str, str]]] = []
    prefix = ""
    cur: dict[str, str] | None = None
    head = re.compile(r"^(\S+)\s+(\w+)\s+\[(\S+)\s")
    cont = re.compile(r"^\s+(\w+)\s+\[(\S+)\s")
    attr = re.compile(r"^\s+([A-Za-z][\w.]*):\s?(.*)$")
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Table ", "BIRD ")):
            continue
        m = head.match(line)
        if m and not line[0].isspace():
            prefix = m.group(1)
            cur = {"_type": m.group(2)}
            out.append((prefix, m.group(3), cur))
            continue
        m = cont.match(line)
        if m and prefix:
            cur = {"_type": m.group(1)}
            out.append((prefix, m.group(2), cur))
            continue
        m = attr.match(line)
        if m and cur is not None:
            cur[m.group(1)] = m.group(2).strip()
            continue
        if cur is not None and line.strip().startswith("via "):
            cur["_via"] = line.split()[1]
    return out


def _bird_route(prefix: str, a: dict[str, str], neighbor: str | None) -> Route:
    comms = tuple(
        normalize_community((int(x), int(y)))
        for x, y in re.findall(r"\((\d+),\s*(\d+)\)", a.get("BGP.community", ""))
    )
    larges = tuple(
        f"{x}:{y}:{z}"
        for x, y, z in re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", a.get("BGP.large_community", ""))
    )
    nh = a.get("BGP.next_hop", a.get("_via", "")).split()
    return Route(
        prefix=prefix,
        next_hop=nh[0] if nh else "",
        as_path=tuple(int(x) for x in re.findall(r"\d+", a.get("BGP.as_path", ""))),
        communities=comms,
        large_communities=larges,
        med=int(a["BGP.med"]) if "BGP.med" in a else None,
        local_pref=int(a["BGP.local_pref"]) if "BGP.local_pref" in a else None,
        path_id=None,  # BIRD 2.0 does not show received path ids
        neighbor=neighbor,
    )


class Bird(Daemon):
    """BIRD 2.0: config file + ``birdc configure`` for changes.

    One ``protocol static`` per announcement (so ``add paths tx`` exports several paths for a
    prefix); BGP protocols are named ``n_<address>``; ``protocol direct`` so that iBGP next hops
    resolve.  ``path_id`` of received routes is not available (``None``).
    """

    kind = "bird"

    def __init__(
        self, lab: Lab, ns: str, address: str | Sequence[str], asn: int, router_id: str
    ) -> None:
        super().__init__(lab, ns, address, asn, router_id)
        self.sock = self.dir / "bird.ctl"
        self.conf = self.dir / "bird.conf"

    @staticmethod
    def proto_name(address: str) -> str:
        # `router`, `rr` etc. are keywords: always prefix the generated names
        return "n_" + re.sub(r"[^0-9A-Za-z]", "_", address)

    def _config(self) -> str:
        lines = [
            f"router id {self.router_id};",
            f'log "{self.dir}/bird.log" all;',
            "timeformat protocol iso long;",
            "protocol device { scan time 1; }",
            "protocol direct { ipv4; ipv6; }",
        ]
        if self.kernel:  # install best routes, merging equal ones into multipath (ECMP)
            lines.append("protocol kernel { ipv4 { export all; }; merge paths on limit 16; }")
        for ann in self.announcements:
            acts: list[str] = []
            if ann.med is not None:
                acts.append(f"bgp_med = {ann.med};")
            if ann.local_pref is not None:
                acts.append(f"bgp_local_pref = {ann.local_pref};")
            for c in ann.communities:
                a, b = _community_pair(c)
                acts.append(f"bgp_community.add(({a}, {b}));")
            for lc in ann.large_communities:
                acts.append(f"bgp_large_community.add(({lc.replace(':', ', ')}));")
            for asn in reversed(ann.as_path):
                acts.append(f"bgp_path.prepend({asn});")
            dest = f"via {ann.next_hop}" if ann.next_hop else "blackhole"
            lines.append(
                f"protocol static a{ann.key} {{ {'ipv6' if ann.v6 else 'ipv4'} "
                f"{{ import filter {{ {' '.join(acts)} accept; }}; }}; "
                f"route {ann.prefix} {dest}; }}"
            )
        for nb in self.neighbors.values():
            local = self.local_address_for(nb)
            ibgp = nb.remote_as == self.asn
            opts = [
                f"local {local} as {self.asn};",
                f"neighbor {nb.address} port {nb.port} as {nb.remote_as};",
                f"hold time {nb.hold}; keepalive time {nb.keepalive};",
                "connect delay time 1; connect retry time 1; error wait time 1, 10;",
                "debug { states, events };",
            ]
            if nb.passive:
                opts.append("passive on;")
            if nb.md5_password:
                opts.append(f'password "{nb.md5_password}";')
            # BIRD is GR "aware" by default: a hold timer expiry would then keep the routes
            # as stale and record no error
            opts.append(f"graceful restart {'on' if nb.graceful_restart else 'off'};")
            if nb.rr_client:
                opts.append("rr client;")
            if ibgp:
                opts.append("direct;")
            for fam in nb.families:
                ch = [
                    "import all;",
                    "export where source ~ [RTS_STATIC, RTS_BGP];",
                ]
                mode = {"receive": "rx", "send": "tx", "both": "on"}.get(nb.add_path)
                if mode:
                    ch.append(f"add paths {mode};")
                if fam == "ipv6" and not nb.v6_transport:
                    ch.append(f"next hop address {self.local_address_for(nb, 6)};")
                if ibgp:
                    ch.append("gateway direct;")
                opts.append(f"{fam} {{ {' '.join(ch)} }};")
            body = "\n  ".join(opts)
            lines.append(f"protocol bgp {self.proto_name(nb.address)} {{\n  {body}\n}}")
        return "\n".join(lines) + "\n"

    def _write_config(self) -> None:
        self.conf.write_text(self._config())

    def start(self) -> None:
        self._write_config()
        pidfile = ["-P", str(self.dir / "bird.pid")]
        self.processes.append(
            self.lab.spawn(
                self.ns,
                [BIRD, "-f", "-c", str(self.conf), "-s", str(self.sock), *pidfile],
                name=f"bird-{self.router_id}",
            )
        )
        wait_for("bird control socket", self._ready, timeout=10, step=0.1)
        self.started = True

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise LabError(f"bird exited: {self.proc.log()[-2000:]}")
        return self.sock.exists() and "ready" in self.cli("show status", check=False)

    def cli(self, cmd: str, check: bool = True) -> str:
        cp = self.lab.run(self.ns, [BIRDC, "-s", str(self.sock), cmd], check=check)
        return cp.stdout + cp.stderr

    def _reconfigure(self) -> None:
        self._write_config()
        out = self.cli(f'configure "{self.conf}"')
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise LabError(f"bird configure failed: {out}")

    def _announce(self, ann: Announcement) -> None:
        self._reconfigure()

    def _withdraw(self, gone: list[Announcement]) -> None:
        self._reconfigure()

    def state(self, neighbor: str) -> str:
        self._known(neighbor)
        name = self.proto_name(neighbor)
        for line in self.cli(f"show protocols {name}").splitlines():
            parts = line.split()
            if parts and parts[0] == name:
                if parts[3] == "down":
                    return "down"
                info = " ".join(parts[5:]).lower()
                for word, st in _BIRD_STATES.items():
                    if word in info:
                        return st
                return "idle"
        raise LabError(f"bird has no protocol {name}")

    def received_routes(self, neighbor: str | None = None) -> list[Route]:
        self._require_started()
        names = {self.proto_name(a): a for a in self.neighbors}
        if neighbor is not None:
            self._known(neighbor)
            names = {self.proto_name(neighbor): neighbor}
        routes = []
        for name, addr in names.items():
            text = self.cli(f"show route all protocol {name}")
            for prefix, proto, attrs in parse_bird_routes(text):
                if proto == name:
                    routes.append(_bird_route(prefix, attrs, addr))
        return routes

    def route_refresh(self, neighbor: str) -> None:
        self._known(neighbor)
        out = self.cli(f"reload in {self.proto_name(neighbor)}")
        if "reload" not in out.lower():
            raise LabError(f"bird reload in: {out}")

    def shutdown_neighbor(self, neighbor: str, message: str = "") -> None:
        self._known(neighbor)
        msg = f' "{message}"' if message else ""
        self.cli(f"disable {self.proto_name(neighbor)}{msg}")

    def enable_neighbor(self, neighbor: str) -> None:
        self._known(neighbor)
        self.cli(f"enable {self.proto_name(neighbor)}")

    def last_error(self, neighbor: str) -> str:
        self._known(neighbor)
        out = self.cli(f"show protocols all {self.proto_name(neighbor)}")
        keep = [
            ln.strip()
            for ln in out.splitlines()
            if ln.strip().startswith(("Last error:", "Message:"))
        ]
        return "\n".join(keep)


# --------------------------------------------------------------------------- FRR


class Frr(Daemon):
    """FRR 8.4: zebra + ``bgpd -n`` with a vty socket directory per instance, vtysh JSON.

    Announcements are ``network`` statements with a route-map each, so FRR originates one
    path per prefix (a second ``announce`` of a prefix raises NotImplementedError).  FRR accepts
    ADD-PATH rx by default; ``add_path="send"``/``"both"`` is ``addpath-tx-all-paths``
    (it re-advertises every path it learnt).  FRR does not send routes that carry
    ``no-export`` to an eBGP peer, even locally originated ones.
    """

    kind = "frr"

    def __init__(
        self, lab: Lab, ns: str, address: str | Sequence[str], asn: int, router_id: str
    ) -> None:
        super().__init__(lab, ns, address, asn, router_id)
        shutil.chown(self.dir, "frr", "frr")

    def announce(
        self,
        prefix: str,
        next_hop: str | None = None,
        communities: Iterable[str] = (),
        large_communities: Iterable[str] = (),
        med: int | None = None,
        local_pref: int | None = None,
        as_path: Iterable[int] = (),
    ) -> int:
        norm = str(ipaddress.ip_network(prefix, strict=False))
        if any(a.prefix == norm for a in self.announcements):
            raise NotImplementedError(
                "frr originates one path per prefix (a `network` statement): withdraw it "
                "first, or let FRR re-advertise learnt paths with add_path='send'"
            )
        return super().announce(
            prefix, next_hop, communities, large_communities, med, local_pref, as_path
        )

    def _route_map(self, ann: Announcement) -> list[str]:
        lines = [f"route-map PYBGPLAB-{ann.key} permit 10"]
        if ann.communities:
            lines.append(" set community " + " ".join(ann.communities))
        if ann.large_communities:
            lines.append(" set large-community " + " ".join(ann.large_communities))
        if ann.med is not None:
            lines.append(f" set metric {ann.med}")
        if ann.local_pref is not None:
            lines.append(f" set local-preference {ann.local_pref}")
        if ann.as_path:
            lines.append(" set as-path prepend " + " ".join(map(str, ann.as_path)))
        if ann.next_hop:
            lines.append(
                f" set ipv6 next-hop global {ann.next_hop}"
                if ann.v6
                else f" set ip next-hop {ann.next_hop}"
            )
        return lines

    def _config(self) -> str:
        lines = [
            "frr defaults traditional",
            f"hostname frr-{self.router_id}",
            "log stdout informational",
            # route-map changes are otherwise applied after 5 s: initial routes came late
            "bgp route-map delay-timer 0",
            "!",
        ]
        for ann in self.announcements:  # define the route-maps before `network` refers to them
            lines += [*self._route_map(ann), "!"]
        lines += [
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp default ipv4-unicast",
            " no bgp network import-check",
            " coalesce-time 100",  # default ~1 s before the first UPDATEs to a new peer
            # FRR 8.4 suppresses UPDATEs identical to what it already sent, which also
            # swallows the re-advertisement a ROUTE-REFRESH asks for
            " no bgp suppress-duplicates",
        ]
        for nb in self.neighbors.values():
            a = nb.address
            lines += [
                f" neighbor {a} remote-as {nb.remote_as}",
                f" neighbor {a} update-source {self.local_address_for(nb)}",
                f" neighbor {a} timers {nb.keepalive} {nb.hold}",
                f" neighbor {a} timers connect 1",
                f" neighbor {a} advertisement-interval 0",
            ]
            if nb.port != 179:
                lines.append(f" neighbor {a} port {nb.port}")
            if nb.passive:
                lines.append(f" neighbor {a} passive")
            if nb.md5_password:
                lines.append(f" neighbor {a} password {nb.md5_password}")
            # FRR is a GR helper by default and advertises the capability; make it explicit
            gr = "graceful-restart" if nb.graceful_restart else "graceful-restart-disable"
            lines.append(f" neighbor {a} {gr}")
        for fam in ("ipv4", "ipv6"):
            lines.append(f" address-family {fam} unicast")
            if self.kernel:  # ECMP: install every equal path (FRR 8.4: iBGP and eBGP)
                lines += ["  maximum-paths 16", "  maximum-paths ibgp 16"]
            for ann in self.announcements:
                if ann.v6 == (fam == "ipv6"):
                    lines.append(f"  network {ann.prefix} route-map PYBGPLAB-{ann.key}")
            for nb in self.neighbors.values():
                if fam not in nb.families:
                    continue
                lines.append(f"  neighbor {nb.address} activate")
                if nb.add_path_tx:
                    lines.append(f"  neighbor {nb.address} addpath-tx-all-paths")
                if nb.rr_client:
                    lines.append(f"  neighbor {nb.address} route-reflector-client")
            lines.append(" exit-address-family")
        lines.append("!")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        d = self.dir
        (d / "zebra.conf").write_text("hostname zebra\nlog stdout informational\n")
        (d / "bgpd.conf").write_text(self._config())
        for f in ("zebra.conf", "bgpd.conf"):
            shutil.chown(d / f, "frr", "frr")
        common = ["-P", "0", "--vty_socket", str(d), "-z", f"{d}/zserv.api", "--log", "stdout"]
        self.processes.append(
            self.lab.spawn(
                self.ns,
                [ZEBRA, *common, "-i", f"{d}/zebra.pid", "-f", f"{d}/zebra.conf"],
                name=f"zebra-{self.router_id}",
            )
        )
        wait_for("zebra vty", lambda: (d / "zebra.vty").exists(), timeout=15, step=0.1)
        self.processes.append(
            self.lab.spawn(
                self.ns,
                [
                    BGPD,
                    *common,
                    *([] if self.kernel else ["-n"]),
                    "-i",
                    f"{d}/bgpd.pid",
                    "-f",
                    f"{d}/bgpd.conf",
                ],
                name=f"bgpd-{self.router_id}",
            )
        )
        wait_for("bgpd vty", lambda: (d / "bgpd.vty").exists(), timeout=15, step=0.1)
        self.started = True

    def vtysh(self, *cmds: str, check: bool = True) -> str:
        argv = [VTYSH, "--vty_socket", str(self.dir)]
        for c in cmds:
            argv += ["-c", c]
        cp = self.lab.run(self.ns, argv, check=check)
        out = cp.stdout + cp.stderr
        if check and re.search(r"^% (Unknown|Invalid|Command incomplete)", out, re.M):
            raise LabError(f"vtysh {cmds}: {out}")
        return cp.stdout

    def configure(self, *lines: str) -> str:
        return self.vtysh("configure terminal", *lines)

    def _json(self, cmd: str) -> Any:
        out = self.vtysh(cmd)
        return json.loads(out) if out.strip() else {}

    def _announce(self, ann: Announcement) -> None:
        af = "ipv6" if ann.v6 else "ipv4"
        self.configure(
            *self._route_map(ann),
            "exit",
            f"router bgp {self.asn}",
            f"address-family {af} unicast",
            f"network {ann.prefix} route-map PYBGPLAB-{ann.key}",
        )

    def _withdraw(self, gone: list[Announcement]) -> None:
        cmds: list[str] = [f"router bgp {self.asn}"]
        for ann in gone:
            af = "ipv6" if ann.v6 else "ipv4"
            cmds += [f"address-family {af} unicast", f"no network {ann.prefix}", "exit"]
        cmds += [f"no route-map PYBGPLAB-{ann.key}" for ann in gone]
        self.configure(*cmds)

    def state(self, neighbor: str) -> str:
        self._known(neighbor)
        data = self._json(f"show bgp neighbors {neighbor} json").get(neighbor, {})
        st = str(data.get("bgpState", "")).lower()
        if data.get("adminShutDown"):
            return "down"
        return st or "idle"

    def received_routes(self, neighbor: str | None = None) -> list[Route]:
        self._require_started()
        if neighbor is not None:
            self._known(neighbor)
        routes: list[Route] = []
        for afi in ("ipv4", "ipv6"):
            summary = self._json(f"show bgp {afi} unicast json")
            prefixes = list(summary.get("routes", {}))
            if not prefixes:
                continue
            out = self.vtysh(*(f"show bgp {afi} unicast {p} json" for p in prefixes))
            dec = json.JSONDecoder()
            pos = 0
            while pos < len(out):
                while pos < len(out) and out[pos].isspace():
                    pos += 1
                if pos >= len(out):
                    break
                obj, pos = dec.raw_decode(out, pos)
                routes += self._frr_paths(obj, neighbor)
        return routes

    def _frr_paths(self, obj: dict[str, Any], neighbor: str | None) -> list[Route]:
        prefix = obj.get("prefix", "")
        routes = []
        for p in obj.get("paths", []):
            peer = p.get("peer", {}).get("peerId", "")
            if peer in ("", "0.0.0.0", "::") or p.get("sourced") or p.get("local"):
                continue  # originated here
            if neighbor is not None and peer != neighbor:
                continue
            nhs = p.get("nexthops", [])
            nh = nhs[0].get("ip", "") if nhs else ""
            segs = p.get("aspath", {}).get("segments", [])
            as_path = tuple(int(a) for s in segs for a in s.get("list", []))
            comm = p.get("community", {}).get("string", "")
            large = p.get("largeCommunity", {}).get("string", "")
            routes.append(
                Route(
                    prefix=prefix,
                    next_hop=nh,
                    as_path=as_path,
                    communities=tuple(_frr_community(c) for c in comm.split()),
                    large_communities=tuple(large.split()),
                    med=p.get("metric"),
                    local_pref=p.get("locPrf", p.get("localpref")),
                    path_id=p.get("addpathRxId"),
                    neighbor=peer,
                )
            )
        return routes

    def route_refresh(self, neighbor: str) -> None:
        self._known(neighbor)
        self.vtysh(f"clear bgp {neighbor} soft in")

    def shutdown_neighbor(self, neighbor: str, message: str = "") -> None:
        self._known(neighbor)
        msg = f" message {message}" if message else ""
        self.configure(f"router bgp {self.asn}", f"neighbor {neighbor} shutdown{msg}")

    def enable_neighbor(self, neighbor: str) -> None:
        self._known(neighbor)
        self.configure(f"router bgp {self.asn}", f"no neighbor {neighbor} shutdown")

    def last_error(self, neighbor: str) -> str:
        self._known(neighbor)
        data = self._json(f"show bgp neighbors {neighbor} json").get(neighbor, {})
        keys = (
            "lastNotificationReason",
            "lastResetDueTo",
            "lastErrorCodeSubcode",
            "lastShutdownDescription",
            "lastNotificationHardReset",
        )
        return "; ".join(f"{k}: {data[k]}" for k in keys if k in data)


_FRR_WELL_KNOWN = {
    "noExport": "no-export",
    "noAdvertise": "no-advertise",
    "localAs": "no-export-subconfed",
    "noPeer": "no-peer",
    "gracefulShutdown": "graceful-shutdown",
    "acceptOwn": "accept-own",
    "blackhole": "blackhole",
    "llgrStale": "llgr-stale",
    "noLlgr": "no-llgr",
}


def _frr_community(c: str) -> str:
    if c in _FRR_WELL_KNOWN:
        return _FRR_WELL_KNOWN[c]
    if c in COMMUNITY_VALUES:
        return c
    return normalize_community(c)


# --------------------------------------------------------------------------- GoBGP

_GOBGP_STATES = {
    "0": "idle",
    "1": "idle",
    "2": "connect",
    "3": "active",
    "4": "opensent",
    "5": "openconfirm",
    "6": "established",
}


class GoBgp(Daemon):
    """GoBGP 3: TOML config, ``gobgp -j`` queries, one gRPC API port per instance.

    Several ``announce`` calls for one prefix become separate paths (``identifier`` N); on the
    wire GoBGP numbers ADD-PATH ids itself (1, 2, 3 per prefix).  ``last_error`` comes from
    gobgpd's log (it logs the NOTIFICATION and its shutdown communication).  Seen here: its
    active connect attempts came ~8 s apart despite ``connect-retry = 1``, so start a passive
    or slow peer first.  ``received_routes`` takes path ids from the text listing (``-j``
    omits them).
    """

    kind = "gobgp"

    def __init__(
        self, lab: Lab, ns: str, address: str | Sequence[str], asn: int, router_id: str
    ) -> None:
        super().__init__(lab, ns, address, asn, router_id)
        self.api_port = next(Daemon._api_ports)
        self.conf = self.dir / "gobgpd.toml"

    def _config(self) -> str:
        locals_ = self.addresses
        out = [
            "[global.config]",
            f"  as = {self.asn}",
            f'  router-id = "{self.router_id}"',
            "  port = 179",
            "  local-address-list = [" + ", ".join(f'"{a}"' for a in locals_) + "]",
        ]
        for nb in self.neighbors.values():
            out += [
                "[[neighbors]]",
                "  [neighbors.config]",
                f'    neighbor-address = "{nb.address}"',
                f"    peer-as = {nb.remote_as}",
            ]
            if nb.md5_password:
                out.append(f'    auth-password = "{nb.md5_password}"')
            out += [
                "  [neighbors.timers.config]",
                "    connect-retry = 1",
                f"    hold-time = {nb.hold}",
                f"    keepalive-interval = {nb.keepalive}",
                "    idle-hold-time-after-reset = 1",
                "  [neighbors.transport.config]",
                f'    local-address = "{self.local_address_for(nb)}"',
            ]
            if nb.passive:
                out.append("    passive-mode = true")
            if nb.port != 179:
                out.append(f"    remote-port = {nb.port}")
            if nb.graceful_restart:
                out += [
                    "  [neighbors.graceful-restart.config]",
                    "    enabled = true",
                    "    restart-time = 120",
                ]
            if nb.rr_client:
                out += [
                    "  [neighbors.route-reflector.config]",
                    "    route-reflector-client = true",
                    f'    route-reflector-cluster-id = "{self.router_id}"',
                ]
            for fam in nb.families:
                out += [
                    "  [[neighbors.afi-safis]]",
                    "    [neighbors.afi-safis.config]",
                    f'      afi-safi-name = "{fam}-unicast"',
                ]
                if nb.add_path != "none":
                    out.append("    [neighbors.afi-safis.add-paths.config]")
                    if nb.add_path_rx:
                        out.append("      receive = true")
                    if nb.add_path_tx:
                        out.append("      send-max = 16")
                if nb.graceful_restart:
                    out += [
                        "    [neighbors.afi-safis.mp-graceful-restart.config]",
                        "      enabled = true",
                    ]
        return "\n".join(out) + "\n"

    def start(self) -> None:
        self.conf.write_text(self._config())
        api = f"127.0.0.1:{self.api_port}"
        opts = ["--pprof-disable", "--log-level", "info"]
        self.processes.append(
            self.lab.spawn(
                self.ns,
                [GOBGPD, "-f", str(self.conf), "-p", "--api-hosts", api, *opts],
                name=f"gobgpd-{self.router_id}",
            )
        )
        wait_for("gobgp api", self._ready, timeout=15, step=0.1)
        self.started = True
        for ann in self.announcements:
            self._announce(ann)

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise LabError(f"gobgpd exited: {self.proc.log()[-2000:]}")
        cp = self.lab.run(self.ns, [GOBGP, "-p", str(self.api_port), "global"], check=False)
        return cp.returncode == 0 and "AS" in cp.stdout

    def cli(self, *args: str, check: bool = True) -> str:
        cp = self.lab.run(self.ns, [GOBGP, "-p", str(self.api_port), *args], check=check)
        return cp.stdout

    def _path_args(self, ann: Announcement) -> list[str]:
        afi = "ipv6" if ann.v6 else "ipv4"
        return ["global", "rib", "-a", afi, "add", ann.prefix, "identifier", str(ann.path_index)]

    def _announce(self, ann: Announcement) -> None:
        args = self._path_args(ann)
        args += ["origin", "igp", "nexthop", ann.next_hop or self.default_next_hop(ann.prefix)]
        if ann.as_path:
            args += ["aspath", ",".join(map(str, ann.as_path))]
        if ann.med is not None:
            args += ["med", str(ann.med)]
        if ann.local_pref is not None:
            args += ["local-pref", str(ann.local_pref)]
        if ann.communities:
            args += ["community", ",".join(ann.communities)]
        if ann.large_communities:
            args += ["large-community", ",".join(ann.large_communities)]
        self.cli(*args)

    def _withdraw(self, gone: list[Announcement]) -> None:
        for ann in gone:
            args = self._path_args(ann)
            args[4] = "del"
            self.cli(*args)

    def state(self, neighbor: str) -> str:
        self._known(neighbor)
        data = json.loads(self.cli("neighbor", neighbor, "-j"))
        st = data.get("state", {})
        if str(st.get("admin_state", "")) in ("1", "down", "ADMIN_STATE_DOWN"):
            return "down"
        raw = str(st.get("session_state", "idle")).lower()
        return _GOBGP_STATES.get(raw, raw.replace("bgp_fsm_", ""))

    def received_routes(self, neighbor: str | None = None) -> list[Route]:
        self._require_started()
        addrs = [neighbor] if neighbor is not None else list(self.neighbors)
        if neighbor is not None:
            self._known(neighbor)
        routes: list[Route] = []
        for addr in addrs:
            for fam in self.neighbors[addr].families:
                out = self.cli("neighbor", addr, "adj-in", "-a", fam, "-j", check=False)
                if not out.strip().startswith(("{", "[")):
                    continue
                data = json.loads(out)
                items = data.values() if isinstance(data, dict) else [data]
                ids = self._path_ids(addr, fam)
                for paths in items:
                    for i, p in enumerate(paths):
                        route = _gobgp_route(p, addr)
                        pid = ids.get(route.prefix, [])
                        if len(pid) == len(paths) and pid[i]:
                            route = dataclasses.replace(route, path_id=pid[i])
                        routes.append(route)
        return routes

    def _path_ids(self, neighbor: str, fam: str) -> dict[str, list[int]]:
        """Received ADD-PATH ids per prefix, in listing order: ``gobgp -j`` leaves them out,
        the text listing has an ``ID`` column."""
        out = self.cli("neighbor", neighbor, "adj-in", "-a", fam, check=False)
        ids: dict[str, list[int]] = {}
        lines = out.splitlines()
        if not lines or "ID" not in lines[0].split():
            return ids
        for line in lines[1:]:
            m = re.match(r"^\W*(\d+)\s+(\S+/\d+)\s", line)
            if m:
                ids.setdefault(m.group(2), []).append(int(m.group(1)))
        return ids

    def route_refresh(self, neighbor: str) -> None:
        self._known(neighbor)
        self.cli("neighbor", neighbor, "softresetin")

    def shutdown_neighbor(self, neighbor: str, message: str = "") -> None:
        self._known(neighbor)
        # GoBGP 3.10: `shutdown --reason` sends Cease 6/2 with the communication but lets the
        # session come back; `disable --reason` keeps it down but sends an empty communication.
        # So: shutdown (the NOTIFICATION on the wire), then disable (admin down).
        self.cli("neighbor", neighbor, "shutdown", *(["--reason", message] if message else []))
        self.cli("neighbor", neighbor, "disable")

    def enable_neighbor(self, neighbor: str) -> None:
        self._known(neighbor)
        self.cli("neighbor", neighbor, "enable")

    def last_error(self, neighbor: str) -> str:
        """The last "received notification" line of gobgpd's log for ``neighbor`` (it holds
        code, subcode and ``Communicated-Reason``), else its last "Peer Down" line."""
        self._known(neighbor)
        key = re.compile(rf'Key="?{re.escape(neighbor)}"?(\s|$)')
        lines = [ln for ln in self.proc.log().splitlines() if key.search(ln)]
        for marker in ("received notification", "Peer Down"):
            hits = [ln for ln in lines if marker in ln]
            if hits:
                return hits[-1]
        return ""


def _gobgp_route(p: dict[str, Any], neighbor: str) -> Route:
    nlri = p.get("nlri", {})
    prefix = nlri.get("prefix", "")
    nh = ""
    as_path: list[int] = []
    comms: list[str] = []
    larges: list[str] = []
    med = lp = None
    for a in p.get("attrs", []):
        t = a.get("type")
        if t == 2:
            for seg in a.get("as_paths", []):
                as_path += [int(x) for x in seg.get("asns", [])]
        elif t == 3:
            nh = a.get("nexthop", nh)
        elif t == 4:
            med = a.get("metric")
        elif t == 5:
            lp = a.get("value")
        elif t == 8:
            comms = [normalize_community(int(c)) for c in a.get("communities", [])]
        elif t == 14:
            nh = a.get("nexthop", nh)
        elif t == 32:
            larges = [f"{v['ASN']}:{v['LocalData1']}:{v['LocalData2']}" for v in a.get("value", [])]
    pid = p.get("id")
    return Route(
        prefix=prefix,
        next_hop=nh,
        as_path=tuple(as_path),
        communities=tuple(comms),
        large_communities=tuple(larges),
        med=med,
        local_pref=lp,
        path_id=int(pid) if pid else None,
        neighbor=p.get("neighbor-ip", neighbor),
    )


# --------------------------------------------------------------------------- ExaBGP

EXABGP_HELPER = r'''
"""pybgplab ExaBGP API helper: forwards DIR/commands.txt to ExaBGP and logs what it receives."""
import os, sys, threading, time

DIR = sys.argv[1]


def reader():
    with open(os.path.join(DIR, "received.jsonl"), "a") as out:
        for line in sys.stdin:
            out.write(line)
            out.flush()
    os._exit(0)


threading.Thread(target=reader, daemon=True).start()
path = os.path.join(DIR, "commands.txt")
pos = 0
while True:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        data = b""
    end = data.rfind(b"\n") + 1
    if end:
        for line in data[:end].decode().splitlines():
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            time.sleep(0.02)
        pos += end
    time.sleep(0.05)
'''


class ExaBgp(Daemon):
    """ExaBGP 4.2: config file, API process fed through ``commands.txt``.

    ExaBGP has no RIB-in to query: the API process logs ``receive { parsed; update; }`` JSON
    (plus state changes and NOTIFICATIONs) to ``received.jsonl``, which the driver replays.
    Paths carry explicit ``path-information`` ids 1, 2, ... per prefix.  ``shutdown_neighbor``
    is the API ``teardown 2``: ExaBGP sends its own fixed text, so ``message`` is ignored.
    Route reflection is not implemented (ExaBGP keeps no RIB).
    """

    kind = "exabgp"

    def __init__(
        self, lab: Lab, ns: str, address: str | Sequence[str], asn: int, router_id: str
    ) -> None:
        super().__init__(lab, ns, address, asn, router_id)
        self.conf = self.dir / "exabgp.conf"
        self.commands = self.dir / "commands.txt"
        self.received = self.dir / "received.jsonl"
        self._offset = 0
        self._rib: dict[tuple[str, str, str, int | None], Route] = {}
        self._states: dict[str, str] = {}
        self._errors: dict[str, str] = {}

    def _check_neighbor(self, nb: Neighbor) -> None:
        if nb.rr_client:
            raise NotImplementedError("exabgp keeps no RIB and cannot reflect routes")

    def _config(self) -> str:
        out = [
            "process pybgplab {",
            f"  run {HELPER_PYTHON} {self.dir / 'api.py'} {self.dir};",
            "  encoder json;",
            "}",
        ]
        for nb in self.neighbors.values():
            out += [
                f"neighbor {nb.address} {{",
                f"  router-id {self.router_id};",
                f"  local-address {self.local_address_for(nb)};",
                f"  local-as {self.asn};",
                f"  peer-as {nb.remote_as};",
                f"  hold-time {nb.hold};",
            ]
            if nb.passive:
                out.append("  passive true;")
            if nb.port != 179:
                out.append(f"  connect {nb.port};")
            if nb.md5_password:
                out.append(f"  md5-password {nb.md5_password};")
            out.append("  family {")
            out += [f"    {fam} unicast;" for fam in nb.families]
            out.append("  }")
            out += ["  capability {", "    asn4 enable;", "    route-refresh enable;"]
            if nb.add_path != "none":
                mode = {"receive": "receive", "send": "send", "both": "send/receive"}
                out.append(f"    add-path {mode[nb.add_path]};")
            if nb.graceful_restart:
                out.append("    graceful-restart 120;")
            out.append("  }")
            out += [
                "  api {",
                "    processes [ pybgplab ];",
                "    neighbor-changes;",
                "    receive { parsed; update; notification; }",
                "  }",
                "}",
            ]
        return "\n".join(out) + "\n"

    def start(self) -> None:
        (self.dir / "api.py").write_text(EXABGP_HELPER)
        self.conf.write_text(self._config())
        self.commands.touch()
        self.received.touch()
        binds = []
        if any(nb.passive for nb in self.neighbors.values()):
            binds = self.addresses
        env = {
            "exabgp.daemon.user": "root",
            "exabgp.daemon.daemonize": "false",
            "exabgp.daemon.drop": "false",
            "exabgp.log.destination": "stdout",
            "exabgp.log.level": "INFO",
            "exabgp.api.cli": "false",
            "exabgp.api.ack": "false",
            "exabgp.tcp.bind": " ".join(binds),
            "exabgp.tcp.port": "179",
        }
        for ann in self.announcements:
            self._announce(ann)
        self.processes.append(
            self.lab.spawn(self.ns, [EXABGP, str(self.conf)], env, name=f"exabgp-{self.router_id}")
        )
        self.started = True

    def api(self, command: str) -> None:
        """Send one ExaBGP API command (text)."""
        with open(self.commands, "a") as f:
            f.write(command + "\n")

    def _route_spec(self, ann: Announcement, nb: Neighbor) -> str:
        nh = ann.next_hop or self.local_address_for(nb, 6 if ann.v6 else 4)
        pid = ".".join(str(b) for b in ann.path_index.to_bytes(4, "big"))
        parts = [f"route {ann.prefix} next-hop {nh} path-information {pid} origin igp"]
        path = ann.as_path if nb.remote_as == self.asn else (self.asn, *ann.as_path)
        if path:
            # ExaBGP sends an explicit as-path as given (it does not prepend its own AS)
            parts.append("as-path [ " + " ".join(map(str, path)) + " ]")
        if ann.med is not None:
            parts.append(f"med {ann.med}")
        if ann.local_pref is not None:
            parts.append(f"local-preference {ann.local_pref}")
        if ann.communities:
            parts.append("community [ " + " ".join(ann.communities) + " ]")
        if ann.large_communities:
            parts.append("large-community [ " + " ".join(ann.large_communities) + " ]")
        return " ".join(parts)

    def _targets(self, ann: Announcement) -> list[Neighbor]:
        fam = "ipv6" if ann.v6 else "ipv4"
        return [nb for nb in self.neighbors.values() if fam in nb.families]

    def _announce(self, ann: Announcement) -> None:
        for nb in self._targets(ann):
            self.api(f"neighbor {nb.address} announce {self._route_spec(ann, nb)}")

    def _withdraw(self, gone: list[Announcement]) -> None:
        for ann in gone:
            for nb in self._targets(ann):
                spec = self._route_spec(ann, nb).split(" origin ")[0]
                self.api(f"neighbor {nb.address} withdraw {spec}")

    # received JSON -------------------------------------------------------------------
    def _replay(self) -> None:
        with open(self.received, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for raw in data[:end].decode(errors="replace").splitlines():
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            try:
                msg = json.loads(raw, strict=False)  # reasons may hold control chars
            except json.JSONDecodeError:
                continue
            self._handle(msg)

    def _handle(self, msg: dict[str, Any]) -> None:
        nbd = msg.get("neighbor", {})
        peer = str(nbd.get("address", {}).get("peer", ""))
        kind = msg.get("type")
        if kind == "state":
            st = str(nbd.get("state", ""))
            self._states[peer] = {"up": "established", "connected": "opensent"}.get(st, "idle")
            if st == "down":
                self._flush(peer)
                if nbd.get("reason"):
                    self._errors[peer + "#down"] = str(nbd.get("reason"))
        elif kind == "notification":
            n = nbd.get("message", {}).get("notification", nbd.get("notification", {}))
            data = str(n.get("data", ""))
            text = data
            with contextlib.suppress(ValueError):
                text = _decode_shutdown_data(bytes.fromhex(data.removeprefix("0x")))
            self._errors[peer] = (
                f"NOTIFICATION {n.get('code')}/{n.get('subcode')} {n.get('message', '')} {text}"
            ).strip()
        elif kind == "update":
            upd = nbd.get("message", {}).get("update", {})
            attrs = upd.get("attribute", {})
            for fam, entries in upd.get("withdraw", {}).items():
                if not fam.endswith("unicast"):
                    continue
                for e in entries:
                    prefix, pid = _exa_nlri(e)
                    self._rib.pop((peer, fam, prefix, pid), None)
            for fam, by_nh in upd.get("announce", {}).items():
                if not fam.endswith("unicast"):
                    continue
                for nh, entries in by_nh.items():
                    for e in entries:
                        prefix, pid = _exa_nlri(e)
                        self._rib[(peer, fam, prefix, pid)] = _exa_route(
                            prefix, pid, nh, attrs, peer
                        )

    def _flush(self, peer: str) -> None:
        for k in [k for k in self._rib if k[0] == peer]:
            del self._rib[k]

    def state(self, neighbor: str) -> str:
        self._known(neighbor)
        self._replay()
        return self._states.get(neighbor, "idle")

    def received_routes(self, neighbor: str | None = None) -> list[Route]:
        self._require_started()
        if neighbor is not None:
            self._known(neighbor)
        self._replay()
        return [r for k, r in self._rib.items() if neighbor is None or k[0] == neighbor]

    def route_refresh(self, neighbor: str) -> None:
        nb = self._known(neighbor)
        for fam in nb.families:
            self.api(f"neighbor {neighbor} announce route-refresh {fam} unicast")

    def shutdown_neighbor(self, neighbor: str, message: str = "") -> None:
        self._known(neighbor)
        self.api(f"neighbor {neighbor} teardown 2")

    def last_error(self, neighbor: str) -> str:
        self._known(neighbor)
        self._replay()
        return self._errors.get(neighbor, self._errors.get(neighbor + "#down", ""))


def _exa_nlri(e: Any) -> tuple[str, int | None]:
    if isinstance(e, str):
        return e, None
    prefix = str(e.get("nlri", ""))
    pi = e.get("path-information")
    if pi is None:
        return prefix, None
    return prefix, int(ipaddress.IPv4Address(pi)) if "." in str(pi) else int(pi)


def _exa_route(prefix: str, pid: int | None, nh: str, a: dict[str, Any], peer: str) -> Route:
    as_path: list[int] = []
    raw = a.get("as-path", [])
    if isinstance(raw, dict):  # newer encoders: {"0": {"element": ..., "value": [..]}}
        for seg in raw.values():
            as_path += [int(x) for x in seg.get("value", [])]
    else:
        for x in raw:
            if isinstance(x, list):
                as_path += [int(y) for y in x]
            else:
                as_path.append(int(x))
    return Route(
        prefix=prefix,
        next_hop=nh,
        as_path=tuple(as_path),
        communities=tuple(normalize_community(tuple(c)) for c in a.get("community", [])),
        large_communities=tuple(":".join(str(x) for x in c) for c in a.get("large-community", [])),
        med=a.get("med"),
        local_pref=a.get("local-preference"),
        path_id=pid,
        neighbor=peer,
    )


DRIVERS: dict[str, type[Daemon]] = {"bird": Bird, "frr": Frr, "gobgp": GoBgp, "exabgp": ExaBgp}


def binaries(kind: str) -> tuple[str, ...]:
    """The executables a driver needs."""
    return {
        "bird": (BIRD, BIRDC),
        "frr": (ZEBRA, BGPD, VTYSH),
        "gobgp": (GOBGPD, GOBGP),
        "exabgp": (EXABGP, HELPER_PYTHON),
    }[kind]


def all_daemon_paths() -> Iterable[Path]:
    for kind in DRIVERS:
        for b in binaries(kind):
            yield Path(b)
