"""pybgp: a pure-Python BGP-4 speaker and route-reflector toolkit.

The protocol core (``pybgp.codec``, the FSM, ``rib``) does no I/O; see ARCHITECTURE.md.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
