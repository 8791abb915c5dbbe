"""Refuse to test compiled modules whose source changed since they were built."""

from __future__ import annotations

import os

import pytest

from pybgp.compiled import loaded_compiled, stale


def pytest_sessionstart(session: pytest.Session) -> None:
    old = stale()
    if old:
        names = ", ".join(m.name for m in old)
        pytest.exit(f"compiled modules older than their source: {names}; run `make setup`", 2)
    if os.environ.get("PYBGP_EXPECT_PURE") == "1" and loaded_compiled():
        pytest.exit("PYBGP_EXPECT_PURE=1 but compiled modules were imported", 2)
    if os.environ.get("PYBGP_EXPECT_COMPILED") == "1" and not loaded_compiled():
        pytest.exit("PYBGP_EXPECT_COMPILED=1 but every module imported as pure Python", 2)
