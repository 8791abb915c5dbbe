"""``pybgp conformance``: pybgp as a test peer checks another BGP speaker against the RFCs.

How this works: ``check`` defines a check (data plus one async function) and the pure
verdicts; ``wire`` builds crafted bytes; ``probe`` is the raw TCP test peer; ``runner``
sets up the shared sessions (a long-lived observer that sees routes echoed by the
target, and one sender session per check) and runs checks in order; ``report`` prints
a table, JSON or JUnit XML.  The checks live in one module per RFC area: ``header``,
``open``, ``update``, ``fsm``, ``capabilities``, ``reflection``; importing them
registers them (``load_all``).  See docs/conformance.md for the target's configuration.
"""

from __future__ import annotations

__all__ = ["load_all"]

AREAS = ("header", "open", "update", "fsm", "capabilities", "reflection")


def load_all() -> None:
    """Import every area module, so that every check is registered."""
    import importlib

    for area in AREAS:
        importlib.import_module(f"{__name__}.{area}")
