"""Golden captures from real BIRD 2, FRR, GoBGP and ExaBGP (fixtures/golden).

Each capture is decoded with pybgp and checked against what the sending daemon was
configured to send (expected.json, written by fixtures/golden/record.py): every
announced path with its attributes, the withdrawals by path id, the negotiated
options and the closing NOTIFICATION.  Every message must re-encode to its bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybgp.codec.message import encode_message
from pybgp.codec.notification import Notification
from pybgp.codec.open import AddPath, FourOctetAs, Open
from pybgp.codec.update import Update
from pybgp.decode import Decoded, decode_file
from pybgp.render import message_dict

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
EXPECTED: dict[str, Any] = json.loads((GOLDEN / "expected.json").read_text())["captures"]
FAMILY = {"ipv4_unicast": (1, 1), "ipv6_unicast": (2, 1)}


def _decoded(name: str, where: Path = GOLDEN) -> list[Decoded]:
    items = list(decode_file(str(where / name)))
    assert items, name
    return items


def _sender_items(spec: dict[str, Any], items: list[Decoded]) -> list[Decoded]:
    sender = spec["sender"]["address"]
    return [d for d in items if d.context["src"].rsplit(":", 1)[0].strip("[]") == sender]


def _paths(items: list[Decoded]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(announced, withdrawn) paths in wire order, each with family and attributes."""
    announced: list[dict[str, Any]] = []
    withdrawn: list[dict[str, Any]] = []
    for d in items:
        if not isinstance(d.message, Update):
            continue
        m = message_dict(d.message)
        attrs = m["attributes"]
        for fam, nlri, wd in (("ipv4_unicast", m["nlri"], m["withdrawn"]),):
            for n in nlri:
                announced.append({"family": fam, **_nlri(n), "attributes": attrs})
            for w in wd:
                withdrawn.append({"family": fam, **_nlri(w)})
        if "mp_reach" in attrs:
            r = attrs["mp_reach"]
            fam = _family(r["afi"], r["safi"])
            for n in r["nlri"]:
                nh = {"next_hop": r["next_hop"]}
                if "next_hop_link_local" in r:
                    nh["link_local"] = r["next_hop_link_local"]
                announced.append({"family": fam, **_nlri(n), "attributes": {**attrs, **nh}})
        if "mp_unreach" in attrs:
            u = attrs["mp_unreach"]
            for w in u["withdrawn"]:
                withdrawn.append({"family": _family(u["afi"], u["safi"]), **_nlri(w)})
    return announced, withdrawn


def _family(afi: int, safi: int) -> str:
    return {v: k for k, v in FAMILY.items()}[(afi, safi)]


def _nlri(n: Any) -> dict[str, Any]:
    if isinstance(n, dict):
        return {"prefix": n["prefix"], "path_id": n["path_id"]}
    return {"prefix": n, "path_id": None}


def _matches(want: dict[str, Any], got: dict[str, Any]) -> bool:
    a = got["attributes"]
    if want["prefix"] != got["prefix"]:
        return False
    if want.get("path_id") is not None and want["path_id"] != got["path_id"]:
        return False
    path = [asn for seg in a.get("as_path", []) for asn in seg["asns"]]
    checks = [
        ("next_hop", a.get("next_hop")),
        ("origin", a.get("origin", "").lower()),
        ("as_path", path),
        ("med", a.get("med")),
        ("local_pref", a.get("local_pref")),
        ("communities", a.get("communities", [])),
        ("large_communities", a.get("large_communities", [])),
        ("extended_communities", a.get("extended_communities", [])),
    ]
    return all(key not in want or want[key] == value for key, value in checks)


def check_announced(name: str, spec: dict[str, Any], items: list[Decoded]) -> None:
    announced, _ = _paths(_sender_items(spec, items))
    for fam, wants in spec["announced"].items():
        for want in wants:
            hits = [g for g in announced if g["family"] == fam and _matches(want, g)]
            assert hits, f"{name}: {fam} path {want} not found among {announced}"
            if want.get("next_hop_link_local_present"):
                assert "link_local" in hits[0]["attributes"]


def check_withdrawn(name: str, spec: dict[str, Any], items: list[Decoded]) -> None:
    announced, withdrawn = _paths(_sender_items(spec, items))
    for fam, wants in spec.get("withdrawn", {}).items():
        for want in wants:
            path_id = None
            if "announced_index" in want:  # ADD-PATH: the id the path was announced with
                origin = spec["announced"][fam][want["announced_index"]]
                path = next(g for g in announced if g["family"] == fam and _matches(origin, g))
                path_id = path["path_id"]
                assert path_id is not None
            expect = {"family": fam, "prefix": want["prefix"], "path_id": path_id}
            assert expect in withdrawn, f"{name}: {expect} not withdrawn; got {withdrawn}"


def check_negotiation(name: str, spec: dict[str, Any], items: list[Decoded]) -> None:
    # the last OPEN each side sent: FRR sometimes opens a second connection and drops it
    last: dict[str, Open] = {}
    for d in items:
        if isinstance(d.message, Open):
            last[d.context["src"].rsplit(":", 1)[0]] = d.message
    opens = list(last.values())
    assert len(opens) == 2
    four = all(o.find(FourOctetAs) for o in opens)
    assert four == spec["negotiated"]["four_octet_as"]
    for o in opens:
        if o.asn > 0xFFFF:
            assert o.my_as == 23456  # AS_TRANS in My Autonomous System (RFC 6793 4.1)
    sender = _sender_items(spec, items)
    for fam, direction in spec["negotiated"]["add_path"].items():
        assert direction == "sender->receiver"
        assert any(o.find(AddPath) for o in opens)
        ids = [d.message for d in sender if isinstance(d.message, Update)]
        afisafi = FAMILY[fam]
        carried = [
            u
            for u in ids
            if (afisafi == (1, 1) and u.nlri_ids)
            or (
                u.mp_reach is not None
                and (u.mp_reach.afi, u.mp_reach.safi) == afisafi
                and u.mp_reach.path_ids
            )
        ]
        assert carried, f"{name}: no {fam} NLRI carried path ids"
    notes = [d.message for d in sender if isinstance(d.message, Notification)]
    want = spec["notification"]
    assert [(n.code, n.subcode) for n in notes] == [(want["code"], want["subcode"])]


def check_roundtrip(name: str, spec: dict[str, Any], items: list[Decoded]) -> None:
    for d in items:
        assert d.ok, (d.context, d.error, d.body)
        assert d.message is not None and d.raw is not None and d.options is not None
        opts = d.options.symmetric(d.options.addpath_rx)
        assert encode_message(d.message, opts) == d.raw, d.context


CHECKS = (check_announced, check_withdrawn, check_negotiation, check_roundtrip)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_golden(name: str, check: Any) -> None:
    check(name, EXPECTED[name], _decoded(name))
