"""Interop: a real `pybgp speaker` peers with real BIRD 2, FRR, GoBGP and ExaBGP.

Each test runs pybgp and one daemon in two network namespaces joined by a veth pair
(tests/lab).  pybgp's side is read from its JSON event log, the daemon's side from its
own CLI.  Checked for every daemon: the session comes up over IPv4 with 4-octet AS,
ADD-PATH and graceful restart negotiated, routes with communities and large
communities cross both ways intact, a ROUTE-REFRESH from the daemon makes pybgp
re-advertise, and pybgp's administrative shutdown reaches the daemon with its message.
Separately: IPv6 transport, TCP MD5, the hold timer against a frozen daemon, and a
collision when both sides connect.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.lab import Bird, ExaBgp, Frr, GoBgp, Lab, open_lab
from tests.lab.netns import wait_for
from tests.lab.pybgp import PybgpSpeaker

pytestmark = pytest.mark.lab

P_AS = 4200000010  # pybgp: a 4-octet ASN
D_AS = 65020
DRIVERS = {"bird": Bird, "frr": Frr, "gobgp": GoBgp, "exabgp": ExaBgp}


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from open_lab(request, "bird", "frr", "gobgp", "exabgp")


_MIRROR = {"send": "receive", "receive": "send", "both": "both", "none": "none"}


def _setup(
    lab: Lab, kind: str, add_path: str = "none", **nb: object
) -> tuple[PybgpSpeaker, object, object]:
    """pybgp and a daemon on one link; ``add_path`` is pybgp's side, mirrored."""
    a, b, link = lab.pair()
    sp = PybgpSpeaker(lab, a, link.a4, P_AS, link.a4)
    d = DRIVERS[kind](lab, b, [link.b4, link.b6], D_AS, link.b4)
    sp.add_neighbor(link.b4, D_AS, ipv6=True, hold_time=9, add_path=add_path, **nb)  # type: ignore[arg-type]
    d.add_neighbor(link.a4, P_AS, ipv6=True, hold_time=9, add_path=_MIRROR[add_path], **nb)  # type: ignore[arg-type]
    return sp, d, link


@pytest.mark.parametrize("kind", sorted(DRIVERS))
def test_session_routes_refresh_and_shutdown(lab: Lab, kind: str) -> None:
    add_path = "both" if kind != "frr" else "send"  # the FRR driver sends one path each
    # FRR 8.4 reports a Hard Reset (RFC 8538, what a GR session sends) as "NSF peer
    # closed the session" and drops its message, so FRR runs this test without GR.
    gr = kind != "frr"
    sp, d, link = _setup(lab, kind, add_path=add_path, graceful_restart=gr)
    sp.announce(
        "192.0.2.0/24",
        communities=("65010:1", "no-export"),
        large_communities=(f"{P_AS}:1:2",),
        med=5,
    )
    sp.announce(
        "2001:db8:10::/48",
        next_hop=link.a6,
        communities=("65010:6",),
        large_communities=(f"{P_AS}:6:1",),
    )
    # FRR, rightly, does not advertise its own routes tagged no-advertise / no-export
    well_known = "graceful-shutdown" if kind == "frr" else "no-advertise"
    d.announce(  # type: ignore[attr-defined]
        "198.51.100.0/24",
        communities=["65020:7", well_known],
        large_communities=[f"{D_AS}:7:1"],
        med=30,
    )
    d.announce("2001:db8:20::/48", large_communities=[f"{D_AS}:8:1"])  # type: ignore[attr-defined]
    d.start()  # type: ignore[attr-defined]
    sp.start()

    est = sp.wait_established(link.b4, timeout=40)
    assert est["four_octet_as"] is True
    assert est["remote_as"] == D_AS
    assert est["graceful_restart"] is gr
    if kind == "frr":  # FRR only receives multiple paths in this setup
        assert [1, 1] in est["add_path_tx"]
    else:
        assert [1, 1] in est["add_path_tx"] and [1, 1] in est["add_path_rx"]

    # pybgp -> daemon, attributes intact
    got = d.wait_routes(lambda rs: len(rs) >= 2, timeout=20)  # type: ignore[attr-defined]
    v4 = next(r for r in got if r.prefix == "192.0.2.0/24")
    assert v4.next_hop == link.a4 and v4.as_path == (P_AS,) and v4.med == 5
    assert set(v4.communities) == {"65010:1", "no-export"}
    assert set(v4.large_communities) == {f"{P_AS}:1:2"}
    v6 = next(r for r in got if r.prefix == "2001:db8:10::/48")
    assert v6.next_hop == link.a6 and set(v6.large_communities) == {f"{P_AS}:6:1"}

    # daemon -> pybgp, attributes intact
    mine = sp.wait_routes(2, timeout=20)
    r4 = next(r for r in mine if r.prefix == "198.51.100.0/24")
    assert r4.as_path == (D_AS,) and r4.next_hop == link.b4
    if kind != "bird":  # BIRD does not send a statically set MED to an eBGP peer
        assert r4.med == 30
    assert set(r4.communities) == {"65020:7", well_known}
    assert set(r4.large_communities) == {f"{D_AS}:7:1"}
    r6 = next(r for r in mine if r.prefix == "2001:db8:20::/48")
    assert set(r6.large_communities) == {f"{D_AS}:8:1"}
    if add_path == "both":
        assert r4.path_id is not None  # the daemon sent path identifiers

    # pybgp asks for a ROUTE-REFRESH (SIGUSR1): the daemon re-sends its routes.  FRR
    # answers a refresh only after its End-of-RIB, which it sends only with GR: its
    # case is test_route_refresh_from_pybgp_to_frr.
    if gr:
        wait_for("End-of-RIB from the daemon", lambda: len(sp.events("end-of-rib")) >= 2, 20)
        before = len(sp.events("update"))
        sp.refresh_all()
        wait_for("routes re-sent to pybgp", lambda: len(sp.events("update")) > before, 30)
        assert len(sp.received_routes()) == 2
    # the daemon asks for one: pybgp re-advertises its Adj-RIB-Out.  GoBGP's soft reset
    # in re-applies its own policy to its Adj-RIB-In and sends no ROUTE-REFRESH.
    if kind != "gobgp":
        before = len(sp.events("route-refresh"))
        d.route_refresh(link.a4)  # type: ignore[attr-defined]
        wait_for("route refresh at pybgp", lambda: len(sp.events("route-refresh")) > before, 15)
        assert len(d.received_routes()) >= 2  # type: ignore[attr-defined]

    # administrative shutdown with a message (RFC 9003) reaches the daemon.  The daemon's
    # last error is read all along: FRR replaces it with "Waiting for peer OPEN" as soon
    # as a reconnect attempt fails, which can come before a single read after the stop.
    seen = _last_errors_during(d, link.a4, sp.stop)
    if kind == "exabgp":
        # ExaBGP 4.2.21 cannot decode a Cease with a shutdown message on Python 3 and
        # says so; that the session went down on our NOTIFICATION is what is checked.
        assert any(seen), seen
    else:
        assert any("pybgp speaker shutting down" in e for e in seen), seen


def _last_errors_during(d: object, neighbor: str, action: Callable[[], None]) -> list[str]:
    """Every distinct last error ``d`` shows for ``neighbor`` (read every 50 ms) from
    just before ``action`` until a second after the session left Established."""
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(Exception):
                err = d.last_error(neighbor)  # type: ignore[attr-defined]
                if err and err not in seen:
                    seen.append(err)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        action()
        d.wait_state(neighbor, lambda s: s != "established", timeout=15)  # type: ignore[attr-defined]
        time.sleep(1)
    finally:
        done.set()
        watcher.join(timeout=10)
    seen.append(d.last_error(neighbor))  # type: ignore[attr-defined]
    return seen


def test_ipv6_transport_with_frr(lab: Lab) -> None:
    a, b, link = lab.pair()
    sp = PybgpSpeaker(lab, a, link.a6, P_AS, link.a4)
    frr = Frr(lab, b, [link.b4, link.b6], D_AS, link.b4)
    sp.add_neighbor(link.b6, D_AS, hold_time=9)
    frr.add_neighbor(link.a6, P_AS, hold_time=9)
    sp.announce("2001:db8:30::/48", communities=("65010:30",))
    frr.announce("2001:db8:40::/48", large_communities=[f"{D_AS}:40:1"])
    frr.start()
    sp.start()
    sp.wait_established(link.b6, timeout=40)
    got = frr.wait_routes(lambda rs: len(rs) >= 1, timeout=20)
    assert got[0].prefix == "2001:db8:30::/48" and "65010:30" in got[0].communities
    mine = sp.wait_routes(1, timeout=20)
    assert [r.prefix for r in mine] == ["2001:db8:40::/48"]  # FRR's copy of ours is a loop
    assert set(mine[0].large_communities) == {f"{D_AS}:40:1"}


@pytest.mark.parametrize("kind", ["bird", "frr"])
def test_md5(lab: Lab, kind: str) -> None:
    sp, d, link = _setup(lab, kind, md5_password="pybgp-md5")
    sp.announce("192.0.2.0/24")
    d.start()  # type: ignore[attr-defined]
    sp.start()
    sp.wait_established(link.b4, timeout=40)
    d.wait_routes(lambda rs: len(rs) >= 1, timeout=20)  # type: ignore[attr-defined]
    # the segments really carry the RFC 2385 option: a wrong key on pybgp's side fails
    ss = subprocess.run(
        ["ip", "netns", "exec", link.ns_a, "ss", "-tni", "state", "established"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    assert "md5" in ss, ss


def test_md5_mismatch_stays_down(lab: Lab) -> None:
    a, b, link = lab.pair()
    sp = PybgpSpeaker(lab, a, link.a4, P_AS, link.a4)
    bird = Bird(lab, b, [link.b4, link.b6], D_AS, link.b4)
    sp.add_neighbor(link.b4, D_AS, md5_password="right", hold_time=9)
    bird.add_neighbor(link.a4, P_AS, md5_password="wrong", hold_time=9)
    bird.start()
    sp.start()
    time.sleep(6)
    assert sp.state(link.b4) != "established"
    assert bird.state(link.a4) != "established"


def test_hold_timer_expires_when_the_daemon_freezes(lab: Lab) -> None:
    sp, d, link = _setup(lab, "gobgp")
    sp.neighbors[link.b4].hold_time = 3
    d.announce("198.51.100.0/24")  # type: ignore[attr-defined]
    d.start()  # type: ignore[attr-defined]
    sp.start()
    sp.wait_established(link.b4, timeout=40)
    sp.wait_routes(1, timeout=20)
    lab.pause(d.proc)  # type: ignore[attr-defined]
    try:
        down = wait_for(
            "pybgp hold timer",
            lambda: [
                e for e in sp.events("notification-sent") if (e["code"], e["subcode"]) == (4, 0)
            ],
            timeout=10,
        )
        assert down
        wait_for("routes flushed", lambda: sp.received_routes() == [], timeout=5)
    finally:
        lab.resume(d.proc)  # type: ignore[attr-defined]
    # and the session recovers once the daemon runs again
    wait_for("re-established", lambda: len(sp.events("established")) >= 2, timeout=60)
    sp.wait_routes(1, timeout=20)


def test_collision_ends_in_one_session(lab: Lab) -> None:
    sp, d, link = _setup(lab, "bird")  # both sides active
    d.start()  # type: ignore[attr-defined]
    sp.start()
    sp.wait_established(link.b4, timeout=40)
    d.wait_established(link.a4, timeout=20)  # type: ignore[attr-defined]
    time.sleep(3)  # let any second connection be resolved
    ss = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            link.ns_a,
            "ss",
            "-tn",
            "state",
            "established",
            "( sport = :179 or dport = :179 )",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    conns = [line for line in ss.splitlines()[1:] if line.strip()]
    assert len(conns) == 1, ss
    assert sp.state(link.b4) == "established"


@pytest.mark.parametrize("graceful", [True, False], ids=["gr", "no-gr"])
def test_lb_node_restart_keeps_the_vip_with_graceful_restart(lab: Lab, graceful: bool) -> None:
    """RFC 4724: BIRD (the router) keeps a restarting pybgp node's VIP as stale."""
    sp, bird, link = _setup(lab, "bird", graceful_restart=graceful)
    sp.announce("192.0.2.10/32", communities=("65010:80",))
    bird.start()  # type: ignore[attr-defined]
    sp.start()
    sp.wait_established(link.b4, timeout=40)
    bird.wait_routes(lambda rs: len(rs) == 1, timeout=20)  # type: ignore[attr-defined]
    sp.kill()  # no NOTIFICATION: the TCP connection just closes
    bird.wait_state(link.a4, lambda s: s != "established", timeout=15)  # type: ignore[attr-defined]
    time.sleep(1)
    held = [r.prefix for r in bird.received_routes()]  # type: ignore[attr-defined]
    if not graceful:
        assert held == []  # without GR the VIP is withdrawn at once
        return
    assert held == ["192.0.2.10/32"]  # kept as stale while the node restarts
    sp.start(restarted=True)
    wait_for("re-established", lambda: len(sp.events("established")) >= 1, timeout=40)
    bird.wait_state(link.a4, lambda s: s == "established", timeout=30)  # type: ignore[attr-defined]
    time.sleep(2)  # End-of-RIB has swept what was not re-announced
    assert [r.prefix for r in bird.received_routes()] == ["192.0.2.10/32"]  # type: ignore[attr-defined]


def test_route_refresh_from_pybgp_to_frr(lab: Lab) -> None:
    sp, frr, link = _setup(lab, "frr", graceful_restart=True)
    frr.announce("198.51.100.0/24", large_communities=[f"{D_AS}:9:1"])  # type: ignore[attr-defined]
    frr.start()  # type: ignore[attr-defined]
    sp.start()
    sp.wait_established(link.b4, timeout=40)
    wait_for("End-of-RIB from FRR", lambda: len(sp.events("end-of-rib")) >= 2, 20)
    before = len(sp.events("update"))
    sp.refresh_all()
    wait_for("FRR re-sent its routes", lambda: len(sp.events("update")) > before, 30)
    assert [r.prefix for r in sp.received_routes()] == ["198.51.100.0/24"]
