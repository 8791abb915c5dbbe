"""Driver for a real ``pybgp speaker`` process in a lab namespace.

It writes the TOML file, starts ``python -m pybgp speaker --log-format json`` in the
namespace, and reads the JSON event log to answer the same questions the daemon
drivers answer: session state, received routes, the last NOTIFICATION.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .daemons import Route
from .netns import Lab, Process, wait_for

__all__ = ["PybgpSpeaker"]

REPO = Path(__file__).resolve().parents[2]


@dataclass
class _Nb:
    address: str
    remote_as: int
    port: int = 179
    passive: bool = False
    add_path: str = "none"
    graceful_restart: bool = False
    md5_password: str | None = None
    hold_time: int | None = None
    ipv6: bool = False
    local_address: str | None = None
    rr_client: bool = False


class PybgpSpeaker:
    kind = "pybgp"
    command = "speaker"

    def __init__(
        self,
        lab: Lab,
        ns: str,
        address: str,
        asn: int,
        router_id: str,
        cluster_id: str | None = None,
    ) -> None:
        self.lab, self.ns, self.address = lab, ns, address
        self.cluster_id = cluster_id
        self.asn, self.router_id = asn, router_id
        self.neighbors: dict[str, _Nb] = {}
        self.routes: list[dict[str, Any]] = []
        self.proc: Process | None = None
        self.config = lab.workdir / f"pybgp-{router_id}.toml"

    def add_neighbor(self, address: str, remote_as: int, **kw: Any) -> _Nb:
        nb = self.neighbors[address] = _Nb(address, remote_as, **kw)
        return nb

    def announce(
        self,
        prefix: str,
        next_hop: str | None = None,
        communities: tuple[str, ...] = (),
        large_communities: tuple[str, ...] = (),
        med: int | None = None,
    ) -> None:
        self.routes.append(
            {
                "prefix": prefix,
                "next_hop": next_hop,
                "communities": communities,
                "large_communities": large_communities,
                "med": med,
            }
        )

    def _toml(self) -> str:
        lines = [
            "[global]",
            f"asn = {self.asn}",
            f'router_id = "{self.router_id}"',
            f'listen_address = "{self.address}"',
            "listen_port = 179",
            *([f'cluster_id = "{self.cluster_id}"'] if self.cluster_id else []),
            "",
            "[control]",  # one control socket per speaker: several run in one lab
            f'socket = "{self.lab.workdir}/pybgp-{self.router_id}-{self.address}.sock"',
            "",
        ]
        for nb in self.neighbors.values():
            v6 = ipaddress.ip_address(nb.address).version == 6
            fams = (
                ['"ipv6-unicast"']
                if v6
                else ['"ipv4-unicast"'] + (['"ipv6-unicast"'] if nb.ipv6 else [])
            )
            lines += [
                "[[neighbors]]",
                f'address = "{nb.address}"',
                f"remote_as = {nb.remote_as}",
                f"port = {nb.port}",
                f'local_address = "{nb.local_address or self.address}"',
                f"passive = {str(nb.passive).lower()}",
                f"families = [{', '.join(fams)}]",
                f'add_path = "{nb.add_path}"',
                f"graceful_restart = {str(nb.graceful_restart).lower()}",
                "connect_retry = 1",
                f"route_reflector_client = {str(nb.rr_client).lower()}",
            ]
            if nb.hold_time is not None:
                lines.append(f"hold_time = {nb.hold_time}")
            if nb.md5_password:
                lines.append(f'md5_password = "{nb.md5_password}"')
            lines.append("")
        for r in self.routes:
            lines += ["[[originate]]", f'prefix = "{r["prefix"]}"']
            if r["next_hop"]:
                lines.append(f'next_hop = "{r["next_hop"]}"')
            if r["communities"]:
                lines.append("communities = " + json.dumps(list(r["communities"])))
            if r["large_communities"]:
                lines.append("large_communities = " + json.dumps(list(r["large_communities"])))
            if r["med"] is not None:
                lines.append(f"med = {r['med']}")
            lines.append("")
        return "\n".join(lines)

    def start(self, restarted: bool = False) -> None:
        self.config.write_text(self._toml())
        argv = [
            sys.executable,
            "-m",
            "pybgp",
            self.command,
            "-c",
            str(self.config),
            "--log-format",
            "json",
        ] + (["--restarted"] if restarted else [])
        self.proc = self.lab.spawn(
            self.ns, argv, env={"PYTHONPATH": str(REPO)}, name=f"pybgp-{self.router_id}", cwd=REPO
        )

    def stop(self) -> None:
        """SIGTERM: Cease/Administrative Shutdown with a message to every peer."""
        if self.proc is not None:
            self.proc.signal(signal.SIGTERM)
            self.proc.popen.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: the process dies without a NOTIFICATION (a crash, or a restart)."""
        if self.proc is not None:
            self.proc.signal(signal.SIGKILL)
            self.proc.popen.wait(timeout=10)

    def refresh_all(self) -> None:
        """SIGUSR1: pybgp sends ROUTE-REFRESH to every Established peer."""
        if self.proc is not None:
            self.proc.signal(signal.SIGUSR1)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        text = self.proc.log() if self.proc is not None else ""
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if kind is None or doc.get("event") == kind:
                    out.append(doc)
        return out

    def state(self, address: str) -> str:
        states = [e["new"] for e in self.events("state") if e["peer"] == address]
        return states[-1].lower() if states else "idle"

    def wait_established(self, address: str, timeout: float = 30) -> dict[str, Any]:
        def est() -> dict[str, Any] | None:
            if self.state(address) != "established":
                return None
            got = [e for e in self.events("established") if e["peer"] == address]
            return got[-1] if got else None

        return wait_for(f"pybgp established with {address}", est, timeout)

    def received_routes(self, neighbor: str | None = None) -> list[Route]:
        rib: dict[tuple[str, str, int], Route] = {}
        for e in self.events():
            peer = e.get("peer")
            if neighbor is not None and peer != neighbor:
                continue
            if e["event"] in ("withdraw-all", "stale-removed"):
                rib = {k: v for k, v in rib.items() if k[0] != peer}
            if e["event"] != "update":
                continue
            for w in e["withdrawn"]:
                p, pid = (w["prefix"], w["path_id"]) if isinstance(w, dict) else (w, 0)
                rib.pop((peer, p, pid), None)
            a = e["attributes"]
            for n in e["announced"]:
                p, pid = (n["prefix"], n["path_id"]) if isinstance(n, dict) else (n, 0)
                rib[(peer, p, pid)] = Route(
                    prefix=p,
                    next_hop=a.get("next_hop", ""),
                    as_path=tuple(x for s in a.get("as_path", []) for x in s["asns"]),
                    communities=tuple(a.get("communities", [])),
                    large_communities=tuple(a.get("large_communities", [])),
                    med=a.get("med"),
                    local_pref=a.get("local_pref"),
                    path_id=pid or None,
                    neighbor=peer,
                )
        return list(rib.values())

    def wait_routes(self, n: int, neighbor: str | None = None, timeout: float = 20) -> list[Route]:
        return wait_for(
            f"{n} routes in pybgp",
            lambda: r if len(r := self.received_routes(neighbor)) >= n else None,
            timeout,
        )

    def last_error(self, address: str) -> str:
        got = [e for e in self.events("notification-received") if e["peer"] == address]
        if not got:
            return ""
        e = got[-1]
        return str(e.get("shutdown_message") or e.get("text", ""))
