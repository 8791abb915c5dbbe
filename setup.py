"""Optional mypyc build of pybgp's hot modules.

pybgp is pure Python: every module runs as it is.  With ``PYBGP_COMPILE=1`` this
compiles the modules listed under ``[tool.pybgp] compiled`` in pyproject.toml with
mypyc (part of mypy, which the dev extras install) into extension modules beside
their sources, as mypy and black ship themselves.  ``make setup`` does it; ``make
clean`` removes them.  ``pybgp version`` says which modules run compiled.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from setuptools import setup


def _compiled() -> list[str]:
    if os.environ.get("PYBGP_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("pybgp: mypyc is not installed; the modules stay pure Python", file=sys.stderr)
        return []
    conf = tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())
    # one shared library, inside the package: pybgp/_native__mypyc.*.so
    modules = conf["tool"]["pybgp"]["compiled"]
    return mypycify(modules, opt_level="3", group_name="pybgp._native")  # type: ignore[no-any-return]


setup(ext_modules=_compiled())
