"""Public captures, MRT files and vectors (../shared/fixtures/public), when present.

Every file listed in MANIFEST.tsv decodes without an exception escaping; every message
that decodes cleanly re-encodes to its original bytes; the known-malformed inputs give
an RFC 7606 / RFC 4271 section 6 action.  ExaBGP's QA vectors are checked against
ExaBGP's own JSON for the unicast families.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybgp.codec.errors import Action, BgpError
from pybgp.codec.message import decode_message, encode_message
from pybgp.codec.nlri import format_prefix
from pybgp.codec.options import SessionOptions
from pybgp.codec.update import Update
from pybgp.decode import decode_file

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "public"
pytestmark = pytest.mark.public


def _manifest(*formats: str) -> list[str]:
    if not (PUBLIC / "MANIFEST.tsv").exists():
        return []
    out = []
    for line in (PUBLIC / "MANIFEST.tsv").read_text().splitlines():
        f = line.split("\t")
        if len(f) >= 2 and not line.startswith("#") and f[1] in formats:
            out.append(f[0])
    return out


def _need_public() -> None:
    if not PUBLIC.exists():
        pytest.skip("../shared/fixtures/public is not present on this machine")


# The inputs that do not decode cleanly, and why.  Everything else must decode with no
# error at all, and every message in it must re-encode to the same bytes.
EXPECTED_ERRORS = {
    "tcpdump-tests/bgp-addpath.pcap": "crafted: two MP_REACH_NLRI (RFC 7606 3g reset)",
    "tcpdump-tests/bgp-aigp-oobr.pcap": "crafted out-of-bounds lengths",
    "tcpdump-tests/bgp-as-path-oobr.pcap": "crafted out-of-bounds lengths",
    "tcpdump-tests/bgp-bgpsec.pcap": "BGPsec_PATH replaces AS_PATH; not negotiated here, "
    "so AS_PATH is missing (RFC 7606 3d treat-as-withdraw)",
    "tcpdump-tests/bgpsec_invalid_signature_block_length.pcap": "same, BGPsec",
    "tcpdump-tests/bgp-infinite-loop.pcap": "crafted: UPDATE of length 19",
    "tcpdump-tests/bgp-ub.pcap": "crafted undefined-behaviour lengths",
    "tcpdump-tests/bgp_mp_reach_nlri-oobr.pcap": "crafted out-of-bounds lengths",
    "tcpdump-tests/bgp_mvpn_6_and_7_oobr.pcap": "crafted out-of-bounds lengths",
    "tcpdump-tests/bgp_vpn_rt-oobr.pcap": "crafted out-of-bounds lengths",
    "bgpdump-test-data/test_data/updates.nlri_mask_trailing_bits.gz": "the NLRI field "
    "ends inside a prefix (RFC 7606 5.3 session reset)",
    "bgpkit-parser-fixtures/ripe/rrc01/2000.11/updates.20001104.0124.gz": "2000-era "
    "BGP4MP records with AFI 4 and 65535",
    "pyasn-rib-samples/rib.20140523.0600_firstMB.bz2": "cut at 1 MB: truncated bzip2",
    "pyasn-rib-samples/rib6.20151101.0600_firstMB.bz2": "cut at 1 MB: truncated bzip2",
}
# Captures of sessions on another TCP port than 179.
OTHER_PORT = 1179


@pytest.mark.parametrize("name", _manifest("pcap", "pcapng", "mrt") or ["-"])
def test_decodes_and_roundtrips(name: str) -> None:
    _need_public()
    if name == "-":
        pytest.skip("MANIFEST.tsv lists no captures")
    items = list(decode_file(str(PUBLIC / name)))
    if not items and name.endswith((".cap", ".pcap", ".pcapng")):
        items = list(decode_file(str(PUBLIC / name), port=OTHER_PORT))
    bad = 0
    for d in items:
        if d.error is not None:
            assert isinstance(d.error, BgpError) and d.error.action >= Action.ATTRIBUTE_DISCARD
        if not d.ok:
            bad += 1
            continue
        if d.message is None or d.raw is None or d.options is None:
            continue  # MRT records that are not BGP messages, capture gaps
        opts = d.options.symmetric(d.options.addpath_rx)
        assert encode_message(d.message, opts) == d.raw, (name, d.context)
    if name in EXPECTED_ERRORS:
        assert bad, f"{name}: expected errors ({EXPECTED_ERRORS[name]}) but it decoded cleanly"
    else:
        assert bad == 0, f"{name}: {bad} items did not decode"


def test_gobgp_fuzz_cases_error_or_roundtrip() -> None:
    _need_public()
    files = sorted((PUBLIC / "gobgp-testdata").rglob("*"))
    files = [f for f in files if f.is_file() and f.name != "SOURCES.md"]
    assert files
    for f in files:
        raw = f.read_bytes()
        try:
            msg = decode_message(raw)
        except BgpError as exc:
            assert exc.code in (1, 2, 3, 7), (f.name, exc)
            continue
        if isinstance(msg, Update) and msg.errors:
            continue
        assert encode_message(msg) == raw, f.name


# ExaBGP's "generic attribute" vectors send type 153 with the Optional bit clear: an
# unrecognized well-known attribute, which RFC 4271 6.3 answers with UPDATE error 3/2.
SESSION_RESET_VECTORS = {"conf-generic-attribute.ci": (3, 2)}


def _conf_options(conf: Path) -> SessionOptions:
    """The session options of an ExaBGP QA config: ``asn4 disable``, ``add-path``."""
    text = conf.read_text() if conf.exists() else ""
    opts = SessionOptions(four_octet_as="asn4 disable" not in text)
    if "add-path" in text:
        opts = opts.symmetric(frozenset({(1, 1), (2, 1)}))
    return opts


def _exabgp_vectors() -> Iterator[tuple[str, bytes, dict[str, Any], SessionOptions]]:
    for ci in sorted((PUBLIC / "exabgp-qa").glob("*/*.ci")):
        raw: bytes | None = None
        opts = SessionOptions()
        for line in ci.read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) < 3:
                continue
            if parts[:2] == ["option", "file"]:
                opts = _conf_options(PUBLIC / "exabgp-qa" / "conf" / parts[2])
            elif parts[1] == "raw":
                raw = bytes.fromhex(parts[2].replace(":", ""))
            elif parts[1] == "json" and raw is not None:
                try:
                    doc = json.loads(parts[2])
                except json.JSONDecodeError:
                    raw = None
                    continue
                yield ci.name, raw, doc, opts
                raw = None


def _unicast(update: dict[str, Any], key: str) -> set[str]:
    out: set[str] = set()
    for fam, body in update.get(key, {}).items():
        if fam not in ("ipv4 unicast", "ipv6 unicast"):
            continue
        entries = [e for v in body.values() for e in v] if isinstance(body, dict) else body
        out.update(e["nlri"] if isinstance(e, dict) else e for e in entries)
    return out


def test_exabgp_vectors_match_exabgp_json() -> None:
    _need_public()
    checked = resets = 0
    for name, raw, doc, opts in _exabgp_vectors():
        update = doc.get("neighbor", {}).get("message", {}).get("update")
        try:
            msg = decode_message(raw, opts)
        except BgpError as exc:
            assert (exc.code, exc.subcode) == SESSION_RESET_VECTORS.get(name), (name, exc)
            resets += 1
            continue
        assert encode_message(msg, opts) == raw, (name, raw.hex())
        if not isinstance(msg, Update) or update is None:
            continue
        assert not msg.errors, (name, msg.errors)
        ours: set[str] = {format_prefix(p, 1) for p in msg.nlri}
        if msg.mp_reach is not None and msg.mp_reach.safi == 1 and msg.mp_reach.raw_nlri is None:
            ours |= {format_prefix(p, msg.mp_reach.afi) for p in msg.mp_reach.nlri}
        assert ours == _unicast(update, "announce"), (name, raw.hex())
        gone: set[str] = {format_prefix(p, 1) for p in msg.withdrawn}
        u = msg.mp_unreach
        if u is not None and u.raw_nlri is None and u.safi == 1:
            gone |= {format_prefix(p, u.afi) for p in u.withdrawn}
        assert gone == _unicast(update, "withdraw"), (name, raw.hex())
        checked += 1
    assert checked > 50
    assert resets == 2
