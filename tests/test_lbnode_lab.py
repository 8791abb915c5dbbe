"""A real `pybgp lbnode` with real backends announces a VIP to real routers (BIRD 2,
GoBGP) in network namespaces.

The LB node's namespace runs the agent and its backend (``python -m http.server`` on
loopback, started and stopped as a process); BIRD is the router on one link and
GoBGP a second upstream on another.  What the routers hold is read from their own
CLIs.  Checked: a stopped backend takes the VIP off the router within interval x fall
plus a bound, and it comes back after rise; a drain shows GRACEFUL_SHUTDOWN at the
router first, then the withdraw; SIGTERM withdraws and sends the Cease message; a
failed upstream does not touch the other one; SIGUSR2 plus graceful restart keeps the
VIP at the router across a restart; the VIP is bound on ``lo`` while announced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab import Bird, GoBgp, Lab, Process, open_lab
from tests.lab.lbnode import LbNodeAgent, http_backend
from tests.lab.netns import wait_for

pytestmark = pytest.mark.lab

LB_AS, R_AS, R2_AS = 65101, 65000, 65002
VIP = "198.18.100.10/32"
BACKEND_PORT = 8080


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from open_lab(request, "bird", "gobgp")


def vips_toml(fall: int = 2, rise: int = 2, grace: float = 2.0, bind: bool = False) -> str:
    return f"""
[[vips]]
prefix = "{VIP}"
communities = ["65101:80"]
drain_grace = {grace}
{'bind = "lo"' if bind else ""}

[[vips.checks]]
type = "http"
url = "http://127.0.0.1:{BACKEND_PORT}/"
interval = 1
timeout = 0.5
rise = {rise}
fall = {fall}
"""


def backend(lab: Lab, ns: str) -> Process:
    return http_backend(lab, ns, BACKEND_PORT)


def setup(
    lab: Lab, graceful_restart: bool = False, gobgp: bool = False, **vip: Any
) -> dict[str, Any]:
    lb = lab.add_ns("lb")
    r1 = lab.add_ns("r1")
    l1 = lab.link(lb, r1)
    node = LbNodeAgent(lab, lb, l1.a4, LB_AS, l1.a4)
    node.add_neighbor(l1.b4, R_AS, hold_time=9, graceful_restart=graceful_restart)
    bird = Bird(lab, r1, l1.b4, R_AS, l1.b4)
    bird.add_neighbor(l1.a4, LB_AS, hold_time=9, graceful_restart=graceful_restart)
    out: dict[str, Any] = {"lb": lb, "node": node, "bird": bird, "l1": l1}
    if gobgp:
        r2 = lab.add_ns("r2")
        l2 = lab.link(lb, r2)
        node.add_neighbor(l2.b4, R2_AS, hold_time=9, local_address=l2.a4)
        gb = GoBgp(lab, r2, l2.b4, R2_AS, l2.b4)
        gb.add_neighbor(l2.a4, LB_AS, hold_time=9, passive=True)
        out |= {"gobgp": gb, "l2": l2}
        gb.start()
    node.vips_toml = vips_toml(**vip)
    out["backend"] = backend(lab, lb)
    bird.start()
    node.start()
    node.wait_established(l1.b4, timeout=40)
    return out


def bird_vip(bird: Bird) -> list[Any]:
    return [r for r in bird.received_routes() if r.prefix == VIP]


def wait_bird(bird: Bird, want: Any, what: str, timeout: float = 20.0) -> float:
    """Poll BIRD every 20 ms until ``want(routes)``; returns the time it became true."""

    def check() -> float | None:
        return time.monotonic() if want(bird_vip(bird)) else None

    return wait_for(what, check, timeout=timeout, step=0.02)


def test_backend_down_withdraws_and_up_announces(lab: Lab) -> None:
    s = setup(lab, bind=True)
    bird, node = s["bird"], s["node"]
    wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP")
    route = bird_vip(bird)[0]
    assert route.next_hop == s["l1"].a4 and "65101:80" in route.communities
    wait_for("the VIP bound on lo", lambda: "198.18.100.10/32" in lo_addresses(lab, s["lb"]))
    t0 = time.monotonic()
    lab.stop(s["backend"])
    gone = wait_bird(bird, lambda rs: rs == [], "BIRD lost the VIP", timeout=15) - t0
    # fall=2 at a 1 s interval: at most 2 intervals + the probe's timeout, plus a bound
    assert gone < 2 * 1 + 0.5 + 1.0, gone
    wait_for("the VIP released", lambda: "198.18.100.10" not in lo_addresses(lab, s["lb"]))
    t1 = time.monotonic()
    backend(lab, s["lb"])
    back = wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP again", timeout=15) - t1
    assert 1.0 <= back < 2 * 1 + 1.5, back  # rise=2: a second passing probe is needed
    states = [(e["old"], e["new"]) for e in node.events("vip-state")]
    assert states == [("down", "up"), ("up", "down"), ("down", "up")]


def test_drain_shows_graceful_shutdown_then_withdraws(lab: Lab) -> None:
    s = setup(lab, grace=2.0)
    bird, node = s["bird"], s["node"]
    wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP")
    rows = node.vips("drain", VIP)
    assert rows[0]["state"] == "draining"
    t0 = time.monotonic()
    wait_bird(
        bird,
        lambda rs: len(rs) == 1 and "graceful-shutdown" in rs[0].communities,
        "BIRD sees GRACEFUL_SHUTDOWN",
    )
    gone = wait_bird(bird, lambda rs: rs == [], "BIRD lost the VIP") - t0
    assert 1.7 <= gone < 3.5, gone  # drain_grace = 2 s
    assert node.vips()[0]["state"] == "disabled"
    node.vips("undrain", "all")
    wait_bird(
        bird,
        lambda rs: len(rs) == 1 and "graceful-shutdown" not in rs[0].communities,
        "BIRD has the VIP back",
    )
    node.drain_all_signal()  # SIGUSR1: the same drain
    wait_bird(
        bird,
        lambda rs: len(rs) == 1 and "graceful-shutdown" in rs[0].communities,
        "SIGUSR1 drains",
    )


def test_sigterm_withdraws_and_sends_the_cease_message(lab: Lab) -> None:
    s = setup(lab)
    bird, node = s["bird"], s["node"]
    wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP")
    node.stop()
    wait_bird(bird, lambda rs: rs == [], "BIRD lost the VIP")
    assert "pybgp lbnode shutting down: VIPs withdrawn" in bird.last_error(s["l1"].a4)
    wanted = ("vips-withdrawn", "notification-sent")
    kinds = [e["event"] for e in node.events() if e["event"] in wanted]
    assert kinds == ["vips-withdrawn", "notification-sent"]  # the withdraw goes first


def test_a_failed_upstream_does_not_touch_the_other(lab: Lab) -> None:
    s = setup(lab, gobgp=True)
    bird, gb, node = s["bird"], s["gobgp"], s["node"]
    node.wait_established(s["l2"].b4, timeout=40)
    wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP")
    wait_for("GoBGP has the VIP", lambda: [r for r in gb.received_routes() if r.prefix == VIP])
    for p in gb.processes:
        lab.stop(p)  # the second upstream dies
    wait_for("lbnode saw GoBGP go", lambda: node.state(s["l2"].b4) != "established", timeout=30)
    time.sleep(1)
    assert node.state(s["l1"].b4) == "established"
    assert len(bird_vip(bird)) == 1
    assert not [e for e in node.events("down") if e["peer"] == s["l1"].b4]


def test_graceful_restart_keeps_the_vip_at_the_router(lab: Lab) -> None:
    s = setup(lab, graceful_restart=True)
    bird, node = s["bird"], s["node"]
    wait_bird(bird, lambda rs: len(rs) == 1, "BIRD has the VIP")
    node.restart_exit()  # SIGUSR2: no withdraw, no NOTIFICATION
    bird.wait_state(s["l1"].a4, lambda st: st != "established", timeout=15)
    time.sleep(1)
    assert len(bird_vip(bird)) == 1  # stale, kept (RFC 4724)
    node.start(restarted=True)
    wait_for(
        "lbnode back",
        lambda: sum(1 for e in node.events("established")) >= 1,
        timeout=40,
    )
    bird.wait_state(s["l1"].a4, lambda st: st == "established", timeout=30)
    time.sleep(2)  # the End-of-RIB has swept what was not re-announced
    assert len(bird_vip(bird)) == 1


def lo_addresses(lab: Lab, ns: str) -> str:
    return lab.run(ns, ["ip", "-4", "addr", "show", "dev", "lo"]).stdout
