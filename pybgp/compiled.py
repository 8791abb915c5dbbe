"""Which of pybgp's modules run compiled by mypyc, and whether any is out of date.

The compiled modules are the same source (see setup.py): Python imports an extension
module in preference to the ``.py`` beside it, so an edited source whose extension was
not rebuilt would silently run the old code.  ``stale()`` finds those; the test suite
refuses to run with any, and ``make setup`` rebuilds them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModuleBuild", "modules", "stale"]

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pybgp", "rib", "ecmp", "lbnode")


@dataclass(frozen=True)
class ModuleBuild:
    name: str
    source: Path
    extension: Path | None
    """The compiled module beside ``source``, if there is one."""

    @property
    def stale(self) -> bool:
        """The source changed after the extension was built."""
        ext = self.extension
        return ext is not None and ext.stat().st_mtime < self.source.stat().st_mtime


def modules(root: Path = ROOT) -> list[ModuleBuild]:
    """Every module of the packages under ``root`` with its compiled extension, if any."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    out = []
    for package in PACKAGES:
        for source in sorted((root / package).rglob("*.py")):
            ext = next(
                (e for s in suffixes if (e := source.with_name(source.stem + s)).exists()), None
            )
            name = ".".join(source.relative_to(root).with_suffix("").parts)
            out.append(ModuleBuild(name, source, ext))
    return out


def stale(root: Path = ROOT) -> list[ModuleBuild]:
    return [m for m in modules(root) if m.stale]


def loaded_compiled() -> list[str]:
    """Names of the compiled modules that this interpreter imports as extensions."""
    names = []
    for m in modules():
        if m.extension is None:
            continue
        mod = importlib.import_module(m.name)
        if not str(mod.__file__).endswith(".py"):
            names.append(m.name)
    return names
