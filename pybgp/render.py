"""Messages as JSON-ready dicts and as one-line text: the ``pybgp decode`` output.

How this works: ``message_dict`` turns any decoded message into a dict with the RFC
field names that other tools depend on (``type``, ``withdrawn``, ``nlri``,
``attributes`` with ``origin``, ``as_path``, ``next_hop``...).  ``message_line`` is
the human form.  Nothing here parses; it only reads the codec's dataclasses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .codec.attributes import AttrSet, Origin, SegmentType
from .codec.communities import format_community, format_extended, format_large
from .codec.errors import BgpError
from .codec.message import Keepalive, Message
from .codec.nlri import format_prefix
from .codec.notification import Notification, code_name, subcode_name
from .codec.open import Open, RawCapability
from .codec.refresh import RefreshSubtype, RouteRefresh
from .codec.update import MpReach, MpUnreach, Update

__all__ = ["message_dict", "message_line", "error_dict", "attrs_dict", "ip_text", "prefix_list"]


def ip_text(raw: bytes) -> str:
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return raw.hex()


def error_dict(err: BgpError) -> dict[str, Any]:
    return {
        "action": err.action.label,
        "code": err.code,
        "subcode": err.subcode,
        "code_name": code_name(err.code),
        "subcode_name": subcode_name(err.code, err.subcode),
        "reason": err.reason,
        "data": err.data.hex(),
    }


def prefix_list(prefixes: tuple[int, ...], ids: tuple[int, ...], afi: int) -> list[Any]:
    if ids:
        return [
            {"prefix": format_prefix(p, afi), "path_id": i}
            for p, i in zip(prefixes, ids, strict=False)
        ]
    return [format_prefix(p, afi) for p in prefixes]


def _path(path: tuple[tuple[int, tuple[int, ...]], ...]) -> list[dict[str, Any]]:
    return [{"type": _seg_name(t), "asns": list(asns)} for t, asns in path]


def _seg_name(t: int) -> str:
    try:
        return SegmentType(t).name
    except ValueError:
        return str(t)


def _next_hop(raw: bytes) -> dict[str, str]:
    if len(raw) == 32:
        return {"next_hop": ip_text(raw[:16]), "next_hop_link_local": ip_text(raw[16:])}
    if len(raw) == 24 and raw[:8] == bytes(8):  # VPNv6: route distinguisher 0
        return {"next_hop": ip_text(raw[8:])}
    if len(raw) == 12 and raw[:8] == bytes(8):  # VPNv4
        return {"next_hop": ip_text(raw[8:])}
    return {"next_hop": ip_text(raw)}


def attrs_dict(a: AttrSet) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if a.origin is not None:
        d["origin"] = Origin(a.origin).name
    if a.as_path is not None:
        d["as_path"] = _path(a.as_path)
    if a.next_hop is not None:
        d["next_hop"] = ip_text(a.next_hop)
    if a.med is not None:
        d["med"] = a.med
    if a.local_pref is not None:
        d["local_pref"] = a.local_pref
    if a.atomic_aggregate:
        d["atomic_aggregate"] = True
    if a.aggregator is not None:
        d["aggregator"] = {"asn": a.aggregator[0], "address": ip_text(a.aggregator[1])}
    if a.communities:
        d["communities"] = [format_community(c) for c in a.communities]
    if a.originator_id is not None:
        d["originator_id"] = ip_text(a.originator_id)
    if a.cluster_list:
        d["cluster_list"] = [ip_text(c) for c in a.cluster_list]
    if a.ext_communities:
        d["extended_communities"] = [format_extended(c) for c in a.ext_communities]
    if a.as4_path is not None:
        d["as4_path"] = _path(a.as4_path)
    if a.as4_aggregator is not None:
        d["as4_aggregator"] = {"asn": a.as4_aggregator[0], "address": ip_text(a.as4_aggregator[1])}
    if a.large_communities:
        d["large_communities"] = [format_large(c) for c in a.large_communities]
    if a.unknown:
        d["unknown"] = [{"type": c, "flags": f, "value": v.hex()} for f, c, v in a.unknown]
    return d


def _mp_reach(r: MpReach, attrs: AttrSet | None) -> dict[str, Any]:
    d: dict[str, Any] = {"afi": r.afi, "safi": r.safi}
    if attrs is not None and attrs.mp_next_hop is not None:
        d.update(_next_hop(attrs.mp_next_hop))
    if r.raw_nlri is not None:
        d["nlri_raw"] = r.raw_nlri.hex()
    else:
        d["nlri"] = prefix_list(r.nlri, r.path_ids, r.afi)
    return d


def _mp_unreach(u: MpUnreach) -> dict[str, Any]:
    d: dict[str, Any] = {"afi": u.afi, "safi": u.safi}
    if u.raw_nlri is not None:
        d["withdrawn_raw"] = u.raw_nlri.hex()
    else:
        d["withdrawn"] = prefix_list(u.withdrawn, u.path_ids, u.afi)
    return d


def message_dict(msg: Message) -> dict[str, Any]:
    """The JSON form of one decoded message."""
    if isinstance(msg, Update):
        d: dict[str, Any] = {"type": "UPDATE"}
        d["withdrawn"] = prefix_list(msg.withdrawn, msg.withdrawn_ids, 1)
        attrs = dict(attrs_dict(msg.attrs)) if msg.attrs is not None else {}
        if msg.mp_reach is not None:
            attrs["mp_reach"] = _mp_reach(msg.mp_reach, msg.attrs)
        if msg.mp_unreach is not None:
            attrs["mp_unreach"] = _mp_unreach(msg.mp_unreach)
        d["attributes"] = attrs
        d["nlri"] = prefix_list(msg.nlri, msg.nlri_ids, 1)
        eor = msg.end_of_rib
        if eor is not None:
            d["end_of_rib"] = {"afi": eor[0], "safi": eor[1]}
        if msg.errors:
            d["error"] = error_dict(msg.errors[0])
            if len(msg.errors) > 1:
                d["other_errors"] = [error_dict(e) for e in msg.errors[1:]]
        return d
    if isinstance(msg, Open):
        return {
            "type": "OPEN",
            "version": msg.version,
            "my_as": msg.my_as,
            "hold_time": msg.hold_time,
            "bgp_id": ip_text(msg.bgp_id),
            "capabilities": [_capability(c) for c in msg.capabilities],
        }
    if isinstance(msg, Notification):
        n: dict[str, Any] = {
            "type": "NOTIFICATION",
            "code": msg.code,
            "subcode": msg.subcode,
            "code_name": code_name(msg.code),
            "subcode_name": subcode_name(msg.code, msg.subcode),
            "data": msg.data.hex(),
        }
        if msg.shutdown_message is not None:
            n["shutdown_communication"] = msg.shutdown_message
        return n
    if isinstance(msg, RouteRefresh):
        return {
            "type": "ROUTE-REFRESH",
            "afi": msg.afi,
            "safi": msg.safi,
            "subtype": RefreshSubtype(msg.subtype).name if msg.subtype <= 2 else msg.subtype,
        }
    assert isinstance(msg, Keepalive)
    return {"type": "KEEPALIVE"}


def _capability(c: Any) -> dict[str, Any]:
    if isinstance(c, RawCapability):
        return {"code": c.raw_code, "value": c.value.hex()}
    d: dict[str, Any] = {"code": c.code, "name": type(c).__name__}
    for name in getattr(c, "__dataclass_fields__", {}):
        d[name] = getattr(c, name)
    return d


def message_line(msg: Message) -> str:
    """A one-line human summary."""
    if isinstance(msg, Update):
        parts = ["UPDATE"]
        eor = msg.end_of_rib
        if eor is not None:
            return f"UPDATE End-of-RIB afi={eor[0]} safi={eor[1]}"
        d = message_dict(msg)
        if d["withdrawn"]:
            parts.append("withdraw " + " ".join(map(_nlri_text, d["withdrawn"])))
        a = d["attributes"]
        mpu = a.pop("mp_unreach", None)
        mpr = a.pop("mp_reach", None)
        if mpu:
            parts.append("withdraw " + " ".join(map(_nlri_text, mpu.get("withdrawn", []))))
        if d["nlri"]:
            parts.append("announce " + " ".join(map(_nlri_text, d["nlri"])))
        if mpr:
            parts.append("announce " + " ".join(map(_nlri_text, mpr.get("nlri", []))))
            if "next_hop" in mpr:
                parts.append(f"next-hop {mpr['next_hop']}")
        if "as_path" in a:
            a["as_path"] = " ".join(
                " ".join(map(str, s["asns"]))
                if s["type"] == "AS_SEQUENCE"
                else "{" + ",".join(map(str, s["asns"])) + "}"
                for s in a["as_path"]
            )
        for k, v in a.items():
            parts.append(
                f"{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            )
        if msg.errors:
            parts.append(f"ERROR {msg.errors[0].describe()}")
        return " ".join(parts)
    if isinstance(msg, Notification):
        return f"NOTIFICATION {msg.describe()}"
    if isinstance(msg, Open):
        caps = ", ".join(
            f"{k['name']}" if "name" in k else f"cap{k['code']}"
            for k in (_capability(c) for c in msg.capabilities)
        )
        return f"OPEN as {msg.asn} hold {msg.hold_time} id {ip_text(msg.bgp_id)} caps [{caps}]"
    if isinstance(msg, RouteRefresh):
        return f"ROUTE-REFRESH afi={msg.afi} safi={msg.safi} subtype={msg.subtype}"
    return "KEEPALIVE"


def _nlri_text(x: Any) -> str:
    if isinstance(x, dict):
        return f"{x['prefix']}#{x['path_id']}"
    return str(x)
