"""The control API client: one blocking Unix socket, requests out, answer lines back.

How this works: :class:`ControlClient` sends one JSON request line (see
``pybgp.control``) and reads the answer lines for its id: ``request`` yields each
item of a streamed answer (or the one ``data``) as it arrives, so a full table is
printed while it is still being read.  Any failure (no socket, nobody listening,
permission denied, an error line from the daemon) is a :class:`CtlError` with a
one-line message.  The ``format_*`` functions turn answers into readable tables for
``pybgp neighbors``, ``pybgp rib`` and friends.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

from .config import default_control_socket

__all__ = [
    "CtlError",
    "ControlClient",
    "resolve_socket",
    "format_neighbors",
    "format_vips",
    "format_neighbor",
    "format_rib_row",
    "RIB_HEADER",
    "format_summary",
]

VERSION = 1


class CtlError(Exception):
    """The request failed; the message is one line, meant for people."""


def resolve_socket(control: str | None, daemon: str | None) -> str:
    """``--control`` wins; else the default socket of ``--daemon``.

    With neither, the default socket of the first of the speaker, the route reflector
    and the LB node agent that exists (the speaker's when none does).
    """
    if control:
        return control
    try:
        if daemon:
            return default_control_socket(daemon)
        paths = [default_control_socket(d) for d in ("speaker", "rr", "lbnode")]
    except ValueError as exc:
        raise CtlError(str(exc)) from None
    return next((p for p in paths if os.path.exists(p)), paths[0])


class ControlClient:
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.path = path
        self.ids = itertools.count(1)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except FileNotFoundError:
            sock.close()
            raise CtlError(f"no control socket at {path}: is the daemon running?") from None
        except ConnectionRefusedError:
            sock.close()
            raise CtlError(f"nothing listens on {path}: the daemon is not running") from None
        except PermissionError:
            sock.close()
            raise CtlError(f"permission denied: {path}") from None
        except OSError as exc:
            sock.close()
            raise CtlError(f"cannot connect to {path}: {exc.strerror or exc}") from None
        self.sock = sock
        self.file = sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, cmd: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield the answer: the one ``data`` value, or every item of every chunk."""
        rid = next(self.ids)
        line = {"v": VERSION, "id": rid, "cmd": cmd, "args": args or {}}
        try:
            self.sock.sendall(json.dumps(line).encode() + b"\n")
            while True:
                raw = self.file.readline()
                if not raw:
                    raise CtlError("the daemon closed the connection")
                try:
                    msg = json.loads(raw)
                except ValueError:
                    raise CtlError("the daemon sent a line that is not JSON") from None
                if msg.get("id") not in (rid, None):
                    continue
                if not msg.get("ok"):
                    raise CtlError(str(msg.get("error", "unknown error")))
                if "data" in msg:
                    yield msg["data"]
                    return
                if "chunk" in msg:
                    yield from msg["chunk"]
                if msg.get("done"):
                    return
        except TimeoutError:
            raise CtlError(f"no answer from {self.path}") from None
        except OSError as exc:
            raise CtlError(f"{self.path}: {exc.strerror or exc}") from None

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a one-line answer."""
        for data in self.request(cmd, args):
            return data
        return None


# ---------------------------------------------------------------------- tables


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d{h:02}h{m:02}m" if d else f"{h:02}:{m:02}:{s:02}"


def format_neighbors(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'NEIGHBOR':<26} {'AS':>10} {'STATE':<12} {'UPTIME':>9} "
        f"{'RCVD':>8} {'ACCEPTED':>8} {'SENT':>8}  LAST ERROR"
    )
    out = [head]
    for n in rows:
        state = "ADMIN-DOWN" if n.get("admin_down") and n["state"] == "IDLE" else n["state"]
        out.append(
            f"{n['address']:<26} {n['remote_as']:>10} {state:<12} {_uptime(n['uptime']):>9} "
            f"{n['received']:>8} {n['accepted']:>8} {n['sent']:>8}  {n['last_error'] or '-'}"
        )
    return out


def format_vips(rows: list[dict[str, Any]], detail: bool = False) -> list[str]:
    """``pybgp vips``: a line per VIP; with ``detail`` its checks and recent transitions."""
    out = [f"{'VIP':<24} {'STATE':<9} {'ANNOUNCE':<18} {'CHECKS':>7} {'SINCE':>9}  REASON"]
    for v in rows:
        up = sum(1 for c in v.get("checks", []) if c["state"] in ("up", "falling"))
        checks = f"{up}/{len(v.get('checks', []))}"
        since = _uptime(v["since"]) if v.get("since") is not None else "-"
        reason = v.get("reason", "")
        if v.get("drains"):
            reason = f"drained by {', '.join(v['drains'])}; {reason}"
        if v.get("drain_left") is not None:
            reason += f"; withdrawn in {v['drain_left']:.1f} s"
        if v.get("held_left") is not None:
            reason += f"; flap hold-down {v['held_left']:.1f} s"
        if v.get("note"):
            reason = v["note"]
        out.append(
            f"{v['vip']:<24} {v['state']:<9} {v['announce']:<18} {checks:>7} {since:>9}  {reason}"
        )
        if detail:
            for c in v.get("checks", []):
                out.append(
                    f"    check {c['name']:<16} {c['type']:<6} {c['state']:<8} "
                    f"pass {c['passes']} fail {c['failures']}  {c['detail']}"
                )
            for t in v.get("history", []):
                out.append(f"    {t['ago']:>9.1f} s ago  {t['old']} -> {t['new']}: {t['reason']}")
    return out


def format_neighbor(n: dict[str, Any]) -> list[str]:
    out = [
        f"neighbor {n['address']} AS {n['remote_as']}"
        + (f" ({n['description']})" if n.get("description") else ""),
        f"  state        {n['state']}" + ("  (shut down)" if n.get("admin_down") else ""),
        f"  uptime       {_uptime(n['uptime'])}",
        f"  routes       received {n['received']}, accepted {n['accepted']}, "
        f"sent {n['sent']} ({n['updates_sent']} UPDATEs)",
        f"  last error   {n['last_error'] or '-'}",
    ]
    caps = n.get("capabilities")
    if caps:
        out += [
            f"  remote id    {n.get('remote_id')}",
            f"  hold time    {caps['hold_time']}",
            f"  families     {', '.join(caps['families'])}",
            f"  4-octet AS   {caps['four_octet_as']}",
            f"  ADD-PATH     rx {', '.join(caps['add_path']['rx']) or '-'}; "
            f"tx {', '.join(caps['add_path']['tx']) or '-'}",
            f"  graceful restart {caps['graceful_restart']}, route refresh "
            f"{caps['route_refresh']} (enhanced {caps['enhanced_route_refresh']})",
        ]
    return out


RIB_HEADER = f"   {'PREFIX':<24} {'NEXT HOP':<20} {'FROM':<18} {'ID':>4}  {'REASON':<14} AS PATH"


def format_rib_row(r: dict[str, Any]) -> str:
    a = r["attributes"]
    mark = ("*" if r.get("best") else " ") + ("=" if r.get("ecmp") and not r.get("best") else " ")
    path = " ".join(str(x) for seg in a.get("as_path", []) for x in seg["asns"]) or "-"
    reason = r.get("reason", "") if r.get("best") else ""
    return (
        f"{mark} {r['prefix']:<24} {a.get('next_hop', '-'):<20} {r.get('peer') or '-':<18} "
        f"{r['path_id']:>4}  {reason:<14} {path}"
    )


def format_summary(s: dict[str, Any]) -> list[str]:
    out = [f"{'FAMILY':<16} {'PREFIXES':>10} {'PATHS':>10}"]
    for fam, c in s["families"].items():
        out.append(f"{fam:<16} {c['prefixes']:>10} {c['paths']:>10}")
    out.append("")
    out.append(f"{'NEIGHBOR':<26} {'STATE':<12} {'RCVD':>8} {'ACCEPTED':>8} {'SENT':>8}")
    for p in s["peers"]:
        out.append(
            f"{p['address']:<26} {p['state']:<12} {p['received']:>8} "
            f"{p['accepted']:>8} {p['sent']:>8}"
        )
    return out
