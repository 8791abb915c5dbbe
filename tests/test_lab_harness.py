"""Proves the interop lab harness (tests/lab) with real daemons peering with each other.

Each daemon is a sender at least once and a receiver at least once:
GoBGP->BIRD, BIRD->FRR, FRR->BIRD, FRR->GoBGP, ExaBGP->GoBGP, GoBGP->ExaBGP.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.lab import (
    Bird,
    ExaBgp,
    Frr,
    GoBgp,
    Lab,
    Route,
    open_lab,
    skip_or_fail,
)

pytestmark = pytest.mark.lab


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from open_lab(request, "bird", "frr", "gobgp", "exabgp", "tcpdump", clean_stale=True)


def attrs(r: Route) -> tuple[object, ...]:
    """What the sender configured (communities as a set: daemons may reorder them)."""
    return (
        r.prefix, r.next_hop, r.as_path, frozenset(r.communities),
        frozenset(r.large_communities), r.med,
    )  # fmt: skip


def by_prefix(routes: list[Route], prefix: str) -> list[Route]:
    return [r for r in routes if r.prefix == prefix]


def test_gobgp_to_bird_addpath_ipv4_ipv6_then_shutdown_message(lab: Lab) -> None:
    a, b, link = lab.pair()
    g_as, b_as = 4200000001, 65002
    gob = GoBgp(lab, a, [link.a4, link.a6], g_as, link.a4)
    bird = Bird(lab, b, [link.b4, link.b6], b_as, link.b4)
    gob.add_neighbor(link.b4, b_as, add_path="send", ipv6=True, hold_time=6)
    bird.add_neighbor(link.a4, g_as, add_path="receive", ipv6=True, hold_time=6)

    p1 = gob.announce(
        "203.0.113.0/24",
        communities=["4200:1", "no-export"],
        large_communities=[f"{g_as}:1:1"],
        med=10,
    )
    p2 = gob.announce("203.0.113.0/24", communities=["4200:2"], med=20, as_path=[65100, 65101])
    gob.announce("203.0.113.0/24", large_communities=[f"{g_as}:1:3"], med=0)
    gob.announce("2001:db8:1::/48", communities=["4200:6", "no-advertise"], med=5)
    gob.announce("2001:db8:1::/48", large_communities=[f"{g_as}:6:2"], as_path=[g_as])
    bird.start()
    gob.start()
    bird.wait_established(link.a4, timeout=20)
    assert gob.state(link.b4) == "established"

    got = bird.wait_routes(lambda rs: len(rs) == 5, timeout=15)
    v4 = link.a4
    v6 = link.a6
    assert {attrs(r) for r in got} == {
        ("203.0.113.0/24", v4, (g_as,), frozenset({"4200:1", "no-export"}),
         frozenset({f"{g_as}:1:1"}), 10),
        ("203.0.113.0/24", v4, (g_as, 65100, 65101), frozenset({"4200:2"}), frozenset(), 20),
        ("203.0.113.0/24", v4, (g_as,), frozenset(), frozenset({f"{g_as}:1:3"}), 0),
        ("2001:db8:1::/48", v6, (g_as,), frozenset({"4200:6", "no-advertise"}), frozenset(), 5),
        ("2001:db8:1::/48", v6, (g_as, g_as), frozenset(), frozenset({f"{g_as}:6:2"}), None),
    }  # fmt: skip
    assert all(r.neighbor == link.a4 for r in got)

    gob.withdraw("203.0.113.0/24", key=p2)  # one path of three
    gob.withdraw("2001:db8:1::/48")  # both paths
    got = bird.wait_routes(lambda rs: len(rs) == 2, timeout=15)
    assert {r.med for r in got} == {10, 0}
    assert p1 != p2

    gob.shutdown_neighbor(link.b4, "pybgp lab: gobgp says bye")
    bird.wait_state(link.a4, lambda s: s != "established", timeout=10)
    assert gob.state(link.b4) == "down"
    err = bird.last_error(link.a4)
    assert "Administrative shutdown" in err
    assert "pybgp lab: gobgp says bye" in err
    assert bird.received_routes() == []


def test_bird_frr_ibgp_md5_addpath_refresh_both_ways(lab: Lab) -> None:
    a, b, link = lab.pair()
    asn = 65010
    bird = Bird(lab, a, [link.a4, link.a6], asn, link.a4)
    frr = Frr(lab, b, [link.b4, link.b6], asn, link.b4)
    bird.add_neighbor(link.b4, asn, add_path="send", ipv6=True, md5_password="s3cr3t", hold_time=6)
    frr.add_neighbor(
        link.a4, asn, add_path="receive", ipv6=True, md5_password="s3cr3t", hold_time=6
    )
    nh2 = "198.18.1.11"
    bird.announce(
        "192.0.2.0/24",
        local_pref=200,
        med=10,
        communities=["65010:1", "no-export"],
        large_communities=["4200000010:1:1"],
    )
    k2 = bird.announce("192.0.2.0/24", next_hop=nh2, local_pref=150, as_path=[64512, 64513])
    bird.announce("2001:db8:10::/48", local_pref=120, communities=["65010:6"])
    frr.announce("198.51.100.0/24", med=5, communities=["65010:9"], large_communities=["1:2:3"])
    frr.announce("2001:db8:99::/48", local_pref=300, communities=["65010:99"])

    pcap = lab.workdir / "bird-frr.pcap"
    cap = lab.capture(a, link.if_a, pcap)
    bird.start()
    frr.start()
    frr.wait_established(link.a4, timeout=20)
    bird.wait_established(link.b4, timeout=5)

    # BIRD -> FRR: two ADD-PATH paths for one prefix, iBGP attributes intact
    got = frr.wait_routes(lambda rs: len(rs) == 3, timeout=15)
    four = sorted(by_prefix(got, "192.0.2.0/24"), key=lambda r: -(r.local_pref or 0))
    assert [attrs(r) for r in four] == [
        ("192.0.2.0/24", link.a4, (), frozenset({"65010:1", "no-export"}),
         frozenset({"4200000010:1:1"}), 10),
        ("192.0.2.0/24", nh2, (64512, 64513), frozenset(), frozenset(), None),
    ]  # fmt: skip
    assert [r.local_pref for r in four] == [200, 150]
    ids = [r.path_id for r in four]
    assert None not in ids and len(set(ids)) == 2, ids
    (six,) = by_prefix(got, "2001:db8:10::/48")
    assert (six.local_pref, six.communities, six.next_hop) == (120, ("65010:6",), link.a6)

    # FRR -> BIRD (FRR originates MED 0 unless set; BIRD shows no path ids)
    got_b = bird.wait_routes(lambda rs: len(rs) == 2, timeout=15)
    r4 = by_prefix(got_b, "198.51.100.0/24")[0]
    assert attrs(r4) == (
        "198.51.100.0/24", link.b4, (), frozenset({"65010:9"}), frozenset({"1:2:3"}), 5,
    )  # fmt: skip
    r6 = by_prefix(got_b, "2001:db8:99::/48")[0]
    assert (r6.local_pref, r6.communities, r6.path_id) == (300, ("65010:99",), None)

    # soft reset in: FRR sends a ROUTE-REFRESH, BIRD re-sends its paths
    frr.route_refresh(link.a4)
    bird.route_refresh(link.b4)
    time.sleep(1.0)
    assert len(frr.received_routes(link.a4)) == 3

    bird.withdraw("192.0.2.0/24", key=k2)
    bird.withdraw("2001:db8:10::/48")
    got = frr.wait_routes(lambda rs: len(rs) == 1, timeout=15)
    assert got[0].local_pref == 200

    bird.shutdown_neighbor(link.b4, "pybgp lab: bird says bye")
    frr.wait_state(link.a4, lambda s: s != "established", timeout=10)
    err = frr.last_error(link.a4)
    assert "Administrative Shutdown" in err and "pybgp lab: bird says bye" in err
    assert bird.state(link.b4) == "down"
    lab.stop_capture(cap)

    text = subprocess.run(
        ["tcpdump", "-nr", str(pcap), "-v"], capture_output=True, text=True, check=True
    ).stdout
    assert "md5" in text.lower()  # TCP-MD5 signature option (RFC 2385) on the segments
    assert "Route Refresh" in text  # both route_refresh() calls put one on the wire
    assert "Administrative Shutdown" in text or "Cease" in text


def test_frr_to_gobgp_over_ipv6_transport(lab: Lab) -> None:
    a, b, link = lab.pair()
    f_as, g_as = 65020, 4200000003
    frr = Frr(lab, a, [link.a4, link.a6], f_as, link.a4)
    gob = GoBgp(lab, b, [link.b4, link.b6], g_as, link.b4)
    frr.add_neighbor(link.b6, g_as, hold_time=6)
    gob.add_neighbor(link.a6, f_as, hold_time=6)
    frr.announce(
        "2001:db8:20::/48",
        communities=["65020:1", "graceful-shutdown"],
        large_communities=["65020:1:1", f"{g_as}:0:7"],
        med=30,
        as_path=[f_as],
    )
    frr.announce("2001:db8:21::/48", communities=["65020:2", "65020:3"])
    frr.announce("2001:db8:22::/48")
    frr.start()
    gob.start()
    gob.wait_established(link.a6, timeout=20)
    assert frr.state(link.b6) == "established"

    got = gob.wait_routes(lambda rs: len(rs) == 3, timeout=15)
    assert {attrs(r) for r in got} == {
        ("2001:db8:20::/48", link.a6, (f_as, f_as), frozenset({"65020:1", "graceful-shutdown"}),
         frozenset({"65020:1:1", f"{g_as}:0:7"}), 30),
        ("2001:db8:21::/48", link.a6, (f_as,), frozenset({"65020:2", "65020:3"}), frozenset(), 0),
        ("2001:db8:22::/48", link.a6, (f_as,), frozenset(), frozenset(), 0),
    }  # fmt: skip
    assert all(r.path_id is None and r.local_pref is None for r in got)

    gob.route_refresh(link.a6)
    frr.withdraw("2001:db8:22::/48")
    got = gob.wait_routes(lambda rs: len(rs) == 2, timeout=15)
    assert "2001:db8:22::/48" not in {r.prefix for r in got}

    frr.shutdown_neighbor(link.b6, "pybgp lab: frr says bye")
    gob.wait_state(link.a6, lambda s: s != "established", timeout=10)
    err = gob.last_error(link.a6)
    assert 'Communicated-Reason="pybgp lab: frr says bye"' in err
    assert "Code=6" in err and "Subcode=2" in err
    assert frr.state(link.b6) == "down"


def test_exabgp_gobgp_explicit_path_ids_both_ways(lab: Lab) -> None:
    a, b, link = lab.pair()
    e_as, g_as = 65030, 4200000004
    exa = ExaBgp(lab, a, [link.a4, link.a6], e_as, link.a4)
    gob = GoBgp(lab, b, [link.b4, link.b6], g_as, link.b4)
    exa.add_neighbor(link.b4, g_as, add_path="send", ipv6=True, hold_time=6)
    gob.add_neighbor(link.a4, e_as, add_path="receive", ipv6=True, hold_time=6)
    exa.announce(
        "192.0.2.0/24",
        med=10,
        communities=["65030:1", "no-export"],
        large_communities=["65030:1:1"],
    )
    k2 = exa.announce("192.0.2.0/24", med=20, as_path=[64999])
    exa.announce("192.0.2.0/24", med=30, as_path=[64998, 64997])
    exa.announce("2001:db8:30::/48", communities=["65030:6"], large_communities=["65030:6:1"])
    gob.announce(
        "198.51.100.0/24",
        med=7,
        communities=["65004:1", "no-advertise"],
        large_communities=[f"{g_as}:1:1"],
    )
    exa.start()
    gob.start()
    gob.wait_established(link.a4, timeout=20)
    exa.wait_established(link.b4, timeout=10)

    got = gob.wait_routes(lambda rs: len(rs) == 4, timeout=15)
    paths = sorted(by_prefix(got, "192.0.2.0/24"), key=lambda r: r.path_id or 0)
    assert [(r.path_id, r.as_path, r.med) for r in paths] == [
        (1, (e_as,), 10),
        (2, (e_as, 64999), 20),
        (3, (e_as, 64998, 64997), 30),
    ]
    assert set(paths[0].communities) == {"65030:1", "no-export"}
    assert paths[0].large_communities == ("65030:1:1",)
    (six,) = by_prefix(got, "2001:db8:30::/48")
    assert attrs(six) == (
        "2001:db8:30::/48", link.a6, (e_as,), frozenset({"65030:6"}),
        frozenset({"65030:6:1"}), None,
    )  # fmt: skip

    # GoBGP -> ExaBGP: ExaBGP's "RIB-in" is rebuilt from its API JSON
    got_e = exa.wait_routes(lambda rs: len(rs) == 1, timeout=15)
    assert attrs(got_e[0]) == (
        "198.51.100.0/24", link.b4, (g_as,), frozenset({"65004:1", "no-advertise"}),
        frozenset({f"{g_as}:1:1"}), 7,
    )  # fmt: skip

    exa.withdraw("192.0.2.0/24", key=k2)
    got = gob.wait_routes(lambda rs: len(by_prefix(rs, "192.0.2.0/24")) == 2, timeout=15)
    assert sorted(r.path_id or 0 for r in by_prefix(got, "192.0.2.0/24")) == [1, 3]
    gob.withdraw("198.51.100.0/24")
    exa.wait_routes(lambda rs: rs == [], timeout=15)
    exa.route_refresh(link.b4)

    # ExaBGP's teardown sends Cease 6/2 with its own fixed text
    exa.shutdown_neighbor(link.b4, "ignored by exabgp")
    gob.wait_state(link.a4, lambda s: s != "established", timeout=10)
    err = gob.last_error(link.a4)
    assert "Code=6" in err and "Subcode=2" in err


def test_hold_timer_expires_while_peer_is_paused(lab: Lab) -> None:
    a, b, link = lab.pair()
    frr = Frr(lab, a, link.a4, 65040, link.a4)
    bird = Bird(lab, b, link.b4, 65041, link.b4)
    frr.add_neighbor(link.b4, 65041, hold_time=3)
    bird.add_neighbor(link.a4, 65040, hold_time=3)
    frr.announce("192.0.2.0/24", communities=["65040:1"])
    bird.start()
    frr.start()
    bird.wait_established(link.a4, timeout=20)
    bird.wait_routes(lambda rs: len(rs) == 1, timeout=15)

    lab.pause(frr.proc)  # bgpd stops sending KEEPALIVEs
    t0 = time.monotonic()
    try:
        bird.wait_state(link.a4, lambda s: s != "established", timeout=10)
        waited = time.monotonic() - t0
        assert 2.0 <= waited <= 6.0, waited
        assert "Hold timer expired" in bird.last_error(link.a4)
        assert bird.received_routes() == []
    finally:
        lab.resume(frr.proc)
    bird.wait_established(link.a4, timeout=20)
    bird.wait_routes(lambda rs: len(rs) == 1, timeout=15)


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_teardown_on_failure_kills_only_own_pids(lab: Lab) -> None:
    """Also a paused process dies, the namespaces go, and a process outside is untouched."""
    outside = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(RuntimeError, match="boom"), Lab(keep=False) as inner:
            ns = inner.add_ns("x")
            assert ns.startswith(f"pybgplab-{os.getpid()}-")
            other = inner.add_ns("y")
            link = inner.link(ns, other)
            assert (link.a4, link.b6) == ("198.18.1.1", "fd00:198:18:1::2")
            # nodad: the IPv6 address is usable at once (a tentative one cannot be bound)
            bind = f"import socket; socket.socket(socket.AF_INET6).bind(('{link.a6}', 0))"
            inner.run(ns, ["python3", "-c", bind])
            sleeper = inner.spawn(ns, ["sleep", "30"])
            inner.pause(sleeper)
            raise RuntimeError("boom")
        assert sleeper.popen.poll() is not None
        assert not {ns, other} & _netns_names()
        assert outside.poll() is None
        with pytest.raises(ValueError):
            lab.pause(sleeper)  # not a process of this lab
    finally:
        outside.kill()
        outside.wait()


def test_unsupported_features_raise_not_implemented(lab: Lab) -> None:
    a = lab.add_ns("a")
    frr = Frr(lab, a, "198.18.1.1", 65001, "198.18.1.1")
    frr.announce("192.0.2.0/24")
    with pytest.raises(NotImplementedError, match="one path per prefix"):
        frr.announce("192.0.2.0/24", med=5)
    exa = ExaBgp(lab, a, "198.18.1.1", 65001, "198.18.1.1")
    with pytest.raises(NotImplementedError, match="cannot reflect"):
        exa.add_neighbor("198.18.1.2", 65001, rr_client=True)


def test_skip_or_fail_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: why"):
        skip_or_fail("why")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("why")
