"""Binding a VIP's address on a local interface through netlink (pyroute2).

How this works: it is blocking (pyroute2's synchronous IPRoute, which runs its own
event loop), so the agent calls it in a worker thread.  ``bind_address("lo",
"198.18.0.10/32", True)`` adds the address with the VIP's prefix length (on ``lo``
a /28 makes the whole range local), ``False`` removes it.  Adding an address that is
already there, or removing one that is gone, is not an error.  Problems come back as
a message for the event log, never raised: a failed bind must not stop the agent's
BGP side.
"""

from __future__ import annotations

import ipaddress

__all__ = ["bind_address"]

_EEXIST, _EADDRNOTAVAIL = 17, 99


def bind_address(interface: str, prefix: str, on: bool) -> str | None:
    try:
        from pyroute2 import IPRoute, NetlinkError
    except ImportError:  # pragma: no cover - pyroute2 is a dependency
        return "pyroute2 is not installed"
    net = ipaddress.ip_network(prefix)
    try:
        with IPRoute() as ipr:
            links = ipr.link_lookup(ifname=interface)
            if not links:
                return f"no interface {interface!r}"
            try:
                ipr.addr(
                    "add" if on else "del",
                    index=links[0],
                    address=str(net.network_address),
                    prefixlen=net.prefixlen,
                )
            except NetlinkError as exc:
                if (on and exc.code == _EEXIST) or (not on and exc.code == _EADDRNOTAVAIL):
                    return None
                return f"netlink: {exc}"
    except OSError as exc:
        return f"netlink: {exc.strerror or exc}"
    except Exception as exc:  # pyroute2 raises its own types; never take the agent down
        return f"netlink: {exc!r}"
    return None
