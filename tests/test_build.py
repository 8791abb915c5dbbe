"""The mypyc build's bookkeeping (pybgp.compiled, `pybgp version`) and pybgp.heap."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

from click.testing import CliRunner

from pybgp.cli import main
from pybgp.compiled import loaded_compiled, modules, stale
from pybgp.heap import SETTLE_CHANGES, settle


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    pkg = tmp_path / "rib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = pkg / "table.py"
    source.write_text("x = 1\n")
    ext = pkg / "table.cpython-311-x86_64-linux-gnu.so"
    ext.write_bytes(b"\x7fELF")
    return source, ext


def test_an_extension_older_than_its_source_is_stale(tmp_path: Path) -> None:
    source, ext = _tree(tmp_path)
    os.utime(ext, (1_000_000, 1_000_000))
    os.utime(source, (2_000_000, 2_000_000))
    found = {m.name: m for m in modules(tmp_path)}
    assert found["rib.table"].extension == ext
    assert found["rib.__init__"].extension is None
    assert [m.name for m in stale(tmp_path)] == ["rib.table"]


def test_an_extension_built_after_its_source_is_current(tmp_path: Path) -> None:
    source, ext = _tree(tmp_path)
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(ext, (2_000_000, 2_000_000))
    assert stale(tmp_path) == []


def test_version_reports_what_this_interpreter_runs() -> None:
    result = CliRunner().invoke(main, ["version", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["compiled"] == loaded_compiled()
    assert out["stale"] == []
    for name in out["compiled"]:  # each one really is an extension module here
        assert not __import__(name, fromlist=["_"]).__file__.endswith(".py")
    text = CliRunner().invoke(main, ["version"]).output
    assert text.startswith("pybgp ") and "compiled with mypyc: " in text


def test_settle_freezes_only_after_a_bulk_read() -> None:
    if not gc.isenabled():  # the freeze is skipped with the collector off
        gc.enable()
    before = gc.get_freeze_count()
    try:
        settle(SETTLE_CHANGES - 1)
        assert gc.get_freeze_count() == before
        kept = [[i] for i in range(1000)]  # new tracked objects that survive
        settle(SETTLE_CHANGES)
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()
