"""read_routes (columnar RIB loading) gives exactly what read_mrt gives, record for record."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from pybgp.mrt.reader import open_maybe_compressed, read_mrt
from pybgp.mrt.records import MrtError, RibRecord
from pybgp.mrt.routes import RouteBatch, read_routes
from pybgp.mrt.synth import synthesize

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "public"


def _flatten_mrt(data: bytes) -> list[Any]:
    out: list[Any] = []
    for r in read_mrt(io.BytesIO(data)):
        if isinstance(r, RibRecord) and r.subtype in (2, 4, 8, 10):
            for e in r.entries:
                pid = e.path_id if r.subtype >= 8 else None
                out.append(("route", r.afi, r.prefix, e.peer_index, pid, e.attrs, e.error))
        elif isinstance(r, MrtError):
            out.append(("error", r.reason))
        else:
            out.append(("record", r))
    return out


def _flatten_routes(data: bytes) -> list[Any]:
    out: list[Any] = []
    for b in read_routes(io.BytesIO(data)):
        if isinstance(b, RouteBatch):
            errors = dict(b.errors)
            for i, p in enumerate(b.prefixes):
                pid = b.path_ids[i] if b.path_ids else None
                out.append(("route", b.afi, p, b.peers[i], pid, b.attrs[i], errors.get(i)))
        elif isinstance(b, MrtError):
            out.append(("error", b.reason))
        elif isinstance(b, RibRecord):  # a record the fast loop handed to the generic path
            for e in b.entries:
                pid = e.path_id if b.subtype >= 8 else None
                out.append(("route", b.afi, b.prefix, e.peer_index, pid, e.attrs, e.error))
        else:
            out.append(("record", b))
    return out


def _same(data: bytes) -> None:
    a, b = _flatten_mrt(data), _flatten_routes(data)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x[0] == "route":
            assert x[:6] == y[:6]
            assert (x[6] is None) == (y[6] is None)
        else:
            assert x == y


@pytest.mark.parametrize("ipv6", [False, True])
def test_synthetic_table_matches_read_mrt(ipv6: bool) -> None:
    buf = io.BytesIO()
    synthesize(buf, 3000, seed=7, ipv6=ipv6)
    _same(buf.getvalue())


def test_truncated_file_reports_the_same_error() -> None:
    buf = io.BytesIO()
    synthesize(buf, 500, seed=3)
    data = buf.getvalue()
    for cut in (len(data) - 1, len(data) - 40, 5):
        _same(data[:cut])


def test_interned_attributes_are_shared() -> None:
    buf = io.BytesIO()
    stats = synthesize(buf, 5000, seed=1)
    ids = {id(a) for b in read_routes(buf.getvalue()) if isinstance(b, RouteBatch) for a in b.attrs}
    assert len(ids) == stats.attribute_sets


@pytest.mark.public
@pytest.mark.parametrize(
    "name",
    [
        "bgpdump-test-data/test_data/bview.ipv4_unicast_add_path.gz",
        "bgpdump-test-data/test_data/bview.ipv6_unicast_add_path.gz",
        "pyasn-rib-samples/rib.20140523.0600_firstMB.complete-records.mrt.gz",
        "pyasn-rib-samples/rib6.20151101.0600_firstMB.bz2",
        "mrtparse-samples/openbgpd_rib_table-v2",
        "mrtparse-samples/quagga_rib",
        "bgpdump-test-data/test_data/updates.20160811.1600.gz",
    ],
)
def test_public_files_match_read_mrt(name: str) -> None:
    if not PUBLIC.exists():
        pytest.skip("../shared/fixtures/public is not present on this machine")
    with open_maybe_compressed(str(PUBLIC / name)) as f:
        try:
            data = f.read()
        except EOFError:  # a deliberately cut bz2: compare what can be read
            data = b""
    if not data:
        with open_maybe_compressed(str(PUBLIC / name)) as f:
            chunks = []
            try:
                while chunk := f.read(65536):
                    chunks.append(chunk)
            except EOFError:
                pass
            data = b"".join(chunks)
    _same(data)
