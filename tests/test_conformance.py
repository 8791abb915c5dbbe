"""`pybgp conformance`: message builders, verdicts, reports and the CLI (no network).

The builders are checked against pybgp's own codec: a crafted header must fail the
header check with the subcode the check expects, a crafted OPEN must fail the OPEN
checks with the expected subcode, and a crafted UPDATE must get, from the codec, the
RFC 7606 action the check expects of the target.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from pybgp.cli import main
from pybgp.codec.errors import Action, BgpError
from pybgp.codec.header import check_header
from pybgp.codec.message import decode_message
from pybgp.codec.notification import Notification
from pybgp.codec.open import FourOctetAs, Open, RouteRefreshCap
from pybgp.codec.options import SessionOptions
from pybgp.codec.refresh import RouteRefresh
from pybgp.codec.update import Update
from pybgp.conformance import check as C
from pybgp.conformance import header, update, wire
from pybgp.conformance import open as open_checks
from pybgp.conformance.capabilities import judge_borr_eorr
from pybgp.conformance.fsm import judge_keepalives
from pybgp.conformance.probe import Probe, Target
from pybgp.conformance.reflection import judge_reflected
from pybgp.conformance.report import summary, table, to_json, to_junit
from pybgp.conformance.runner import Context, Result, RunConfig
from pybgp.negotiation import PeerSettings, check_open

CFG = RunConfig("192.0.2.1", 65000, 65000, "192.0.2.2", "192.0.2.3")


def _ctx() -> Context:
    ctx = Context(CFG)
    ctx.target_open = Open(65000, 9, bytes((192, 0, 2, 1)), (FourOctetAs(65000),))
    return ctx


def _probe() -> Probe:
    return Probe(Target("192.0.2.1"), "192.0.2.2")


# ------------------------------------------------------------------ the registry
def test_at_least_60_checks_each_citing_a_clause() -> None:
    checks = C.select(None)
    assert len(checks) >= 60
    assert len({c.id for c in checks}) == len(checks)
    for c in checks:
        assert c.rfc.startswith("RFC "), c.id
        assert c.title and c.expected, c.id
    areas = {c.area for c in checks}
    assert {"header", "open", "update", "fsm", "cap", "rr"} <= areas


def test_select_by_glob_substring_and_list() -> None:
    assert {c.id for c in C.select("header.type-*")} == {
        "header.type-0",
        "header.type-6",
        "header.type-255",
    }
    assert all("as-path" in c.id for c in C.select("as-path"))
    both = C.select("header.type-0,rr.")
    assert "header.type-0" in {c.id for c in both} and any(c.area == "rr" for c in both)
    assert C.select("no-such-check") == []


# ------------------------------------------------------------------ wire builders
def test_wire_message_and_attributes() -> None:
    assert wire.keepalive() == b"\xff" * 16 + b"\x00\x13\x04"
    assert wire.message(4, length=18)[16:18] == b"\x00\x12"
    assert wire.attr(0x40, 1, b"\x00") == b"\x40\x01\x01\x00"
    assert wire.attr(0x40, 1, b"\x00", extended=True) == b"\x50\x01\x00\x01\x00"
    assert wire.attr(0xC0, 8, bytes(300))[:4] == b"\xd0\x08\x01\x2c"
    u = wire.update(withdrawn=b"\x08\x0a", attrs=b"", nlri=b"")
    assert decode_message(u) == Update(withdrawn=((10 << 24 << 8) | 8,))


def test_route_attrs_decode_as_a_clean_route() -> None:
    ctx, p = _ctx(), _probe()
    prefix = ctx.next_prefix()
    msg = wire.update(attrs=wire.route_attrs(ctx.spec(p, 5)), nlri=wire.nlri((prefix,)))
    u = decode_message(msg)
    assert isinstance(u, Update) and u.action == Action.NONE
    assert u.nlri == (prefix,)
    assert u.attrs is not None
    assert u.attrs.next_hop == bytes((192, 0, 2, 2))
    assert u.attrs.local_pref == 100 and u.attrs.as_path == ()
    assert u.attrs.communities == (wire.marker_community(5),)
    skipped = wire.route_attrs(ctx.spec(p), skip=(3, 5))
    u2 = decode_message(wire.update(attrs=skipped, nlri=wire.nlri((prefix,))))
    assert isinstance(u2, Update) and u2.action == Action.TREAT_AS_WITHDRAW  # no NEXT_HOP


def test_prefixes_are_fresh() -> None:
    ctx = _ctx()
    seen = {ctx.next_prefix() for _ in range(600)}
    assert len(seen) == 600 and all(p & 0xFF == 24 for p in seen)


@pytest.mark.parametrize("row", header._HEADER, ids=[r[0] for r in header._HEADER])
def test_header_builders_fail_the_header_check_as_expected(row: tuple) -> None:
    _, _, _, build, expect = row
    data = build()
    with pytest.raises(BgpError) as info:
        if len(data) < 19:
            raise AssertionError("shorter than a header")
        check_header(data, 0, 4096)
        decode_message(data)
    assert (info.value.code, info.value.subcode) == (expect.code, expect.subcodes[0])


def test_big_update_is_4097_octets_and_well_formed_inside() -> None:
    data = header._big_update()
    assert len(data) == 4097
    u = decode_message(data, SessionOptions(extended_message=True))
    assert isinstance(u, Update) and len(u.withdrawn) > 800


@pytest.mark.parametrize("row", open_checks._REJECT, ids=[r[0] for r in open_checks._REJECT])
def test_open_builders_are_refused_as_expected(row: tuple) -> None:
    _, _, _, build, expect = row
    data = build(_ctx())
    settings = PeerSettings(65000, bytes((192, 0, 2, 1)), 65000)
    try:
        err = check_open(settings, decode_message(data))  # type: ignore[arg-type]
    except BgpError as exc:
        err = exc
    assert err is not None
    assert err.code == expect.code
    if expect.subcodes:
        assert err.subcode in expect.subcodes


def test_open_with_two_capability_parameters_decodes_to_the_same_capabilities() -> None:
    ours, raw = open_checks._two_params(_ctx())
    got = decode_message(raw)
    assert isinstance(got, Open)
    assert got.capabilities == ours.capabilities and got.param_groups == (
        2,
        len(ours.capabilities) - 2,
    )


_UPDATE_ROWS = [r for r in update._ROWS if not isinstance(r[4], C.StayUp)]


@pytest.mark.parametrize("row", _UPDATE_ROWS, ids=[r[0] for r in _UPDATE_ROWS])
def test_update_builders_get_the_expected_action_from_pybgps_codec(row: tuple) -> None:
    """pybgp's codec is the reference: what it decides is what the check expects."""
    id_, _, _, build, expect, _ = row
    ctx, p = _ctx(), _probe()
    data = build(ctx, p, ctx.next_prefix())
    try:
        u = decode_message(data)
        assert isinstance(u, Update)
        action = u.action
        code = u.errors[0].code if u.errors else 0
        subcode = u.errors[0].subcode if u.errors else 0
    except BgpError as exc:
        action, code, subcode = exc.action, exc.code, exc.subcode
    if isinstance(expect, C.Withdraw) and id_ != "update.mp-unreach-withdraws":
        assert action == Action.TREAT_AS_WITHDRAW
    elif isinstance(expect, C.Keep):
        assert action <= Action.ATTRIBUTE_DISCARD
    elif isinstance(expect, C.Notify):
        # pybgp's FSM resets the session for AFI/SAFI disable too (RFC 4760 7)
        assert action >= Action.AFISAFI_DISABLE and code == expect.code
        if expect.subcodes:
            assert subcode in expect.subcodes
    elif isinstance(expect, C.ResetOrWithdraw):
        assert action >= Action.AFISAFI_DISABLE


def test_unknown_attribute_flags_survive_the_codec() -> None:
    ctx, p = _ctx(), _probe()
    data = update._route(ctx, p, ctx.next_prefix(), extra=wire.attr(0xC0, 251, b"x"))
    u = decode_message(data)
    assert isinstance(u, Update) and u.attrs is not None
    assert u.attrs.unknown == ((0xC0, 251, b"x"),)


# ------------------------------------------------------------------ verdicts
N31 = Notification(3, 1)


def test_notify_judge() -> None:
    e = C.Notify(3, (1,))
    assert e.judge(C.Observation(N31, closed=True)).verdict == C.Verdict.PASS
    assert e.judge(C.Observation(Notification(3, 10))).verdict == C.Verdict.FAIL
    assert e.judge(C.Observation(closed=True)).seen == "connection closed without NOTIFICATION"
    assert e.judge(C.Observation()).verdict == C.Verdict.FAIL
    assert C.Notify(3).judge(C.Observation(Notification(3, 7))).verdict == C.Verdict.PASS
    assert e.judge(C.Observation(N31, crashed=True)).seen == "target crashed"
    assert "UPDATE_MESSAGE_ERROR/MALFORMED_ATTRIBUTE_LIST" in e.expected()


def test_withdraw_keep_absent_judges() -> None:
    up_gone = C.Observation(route="absent")
    up_kept = C.Observation(route="present", marker=True)
    up_old = C.Observation(route="present", marker=False)
    reset = C.Observation(N31, closed=True, route="absent")
    blind = C.Observation()
    assert C.Withdraw().judge(up_gone).verdict == C.Verdict.PASS
    assert C.Withdraw().judge(reset).verdict == C.Verdict.FAIL  # a reset is not treat-as-withdraw
    assert C.Withdraw().judge(up_old).verdict == C.Verdict.FAIL
    assert C.Withdraw().judge(blind).verdict == C.Verdict.NA
    assert C.Keep().judge(up_kept).verdict == C.Verdict.PASS
    assert "ignored" in C.Keep().judge(up_old).seen
    assert C.Keep().judge(up_gone).verdict == C.Verdict.FAIL
    assert C.Keep().judge(blind).verdict == C.Verdict.NA
    assert C.Absent().judge(up_gone).verdict == C.Verdict.PASS
    assert C.Absent().judge(up_old).verdict == C.Verdict.FAIL
    assert C.StayUp().judge(blind).verdict == C.Verdict.PASS
    assert C.StayUp().judge(reset).verdict == C.Verdict.FAIL


def test_reset_or_withdraw_judge() -> None:
    e = C.ResetOrWithdraw()
    assert e.judge(C.Observation(Notification(3, 9), closed=True)).verdict == C.Verdict.PASS
    assert e.judge(C.Observation(route="absent")).verdict == C.Verdict.PASS
    assert e.judge(C.Observation(Notification(6, 2))).verdict == C.Verdict.FAIL
    assert e.judge(C.Observation(closed=True)).verdict == C.Verdict.FAIL
    assert e.judge(C.Observation(route="present")).verdict == C.Verdict.FAIL


def test_judge_target_open() -> None:
    good = Open(65000, 9, b"\x01\x02\x03\x04", (FourOctetAs(65000),))
    assert open_checks.judge_target_open(good, 65000).verdict == C.Verdict.PASS
    big = Open(23456, 9, b"\x01\x02\x03\x04", (FourOctetAs(4200000000),))
    assert open_checks.judge_target_open(big, 4200000000).verdict == C.Verdict.PASS
    wrong_my = Open(100, 9, b"\x01\x02\x03\x04", (FourOctetAs(4200000000),))
    assert "RFC 6793" in open_checks.judge_target_open(wrong_my, 4200000000).seen
    assert (
        open_checks.judge_target_open(Open(65000, 2, b"\0\0\0\0"), 65000).verdict == C.Verdict.FAIL
    )
    assert open_checks.judge_target_open(None, 1).verdict == C.Verdict.FAIL


def test_judge_keepalives() -> None:
    assert judge_keepalives([1.0, 2.0, 3.0], 3, 0.0).verdict == C.Verdict.PASS
    assert "per second" in judge_keepalives([1.0, 1.5, 2.5], 3, 0.0).seen
    assert "hold" in judge_keepalives([1.0, 4.5], 3, 0.0).seen
    assert judge_keepalives([1.0], 3, 0.0).verdict == C.Verdict.FAIL


def test_judge_borr_eorr() -> None:
    b, e = RouteRefresh(1, 1, 1), RouteRefresh(1, 1, 2)
    u = Update()
    ok = judge_borr_eorr([("refresh", b), ("update", u), ("update", u), ("refresh", e)])
    assert ok.verdict == C.Verdict.PASS and "2 UPDATE" in ok.seen
    assert judge_borr_eorr([("update", u)]).seen == "no BoRR"
    assert judge_borr_eorr([("refresh", b)]).seen == "BoRR but no EoRR"
    assert judge_borr_eorr([("refresh", e), ("refresh", b)]).verdict == C.Verdict.FAIL


def test_judge_reflected() -> None:
    from pybgp.codec.attributes import AttrSet

    me, cid, tail = b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01", b"\xc0\x00\x02\x58"
    a = AttrSet(originator_id=me, cluster_list=(cid, tail), next_hop=me, med=7)
    assert judge_reflected(a, me, (tail,), me, 7).verdict == C.Verdict.PASS
    assert "CLUSTER_LIST" in judge_reflected(a, me, ()).seen
    assert "ORIGINATOR_ID" in judge_reflected(a, cid, (tail,)).seen
    assert "MED" in judge_reflected(a, me, (tail,), med=8).seen


# ------------------------------------------------------------------ reports
RESULTS = [
    Result("header.type-0", "RFC 4271 6.1", "t", "e", C.Verdict.PASS, "NOTIFICATION 1/3", 0.1),
    Result("update.x", "RFC 7606 7.1", "t", "e", C.Verdict.FAIL, "session <reset>", 0.2),
    Result("cap.y", "RFC 7911 3", "t", "e", C.Verdict.NA, "not advertised", 0.0),
]


def test_reports() -> None:
    assert summary(RESULTS) == {"pass": 1, "fail": 1, "n/a": 1, "total": 3}
    text = table(RESULTS, "t1")
    assert "1 pass, 1 fail, 1 n/a" in text and "update.x" in text
    doc = json.loads(to_json(RESULTS, "t1"))
    assert doc["summary"]["fail"] == 1 and doc["results"][1]["seen"] == "session <reset>"
    suite = ET.fromstring(to_junit(RESULTS, "t1"))
    assert (
        suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    )
    cases = suite.findall("testcase")
    assert cases[1].find("failure") is not None and cases[2].find("skipped") is not None


# ------------------------------------------------------------------ CLI
def test_cli_list() -> None:
    out = CliRunner().invoke(main, ["conformance", "list"])
    assert out.exit_code == 0
    assert "RFC 7606 7.1" in out.output and out.output.strip().endswith("checks")
    rows = json.loads(
        CliRunner().invoke(main, ["conformance", "list", "--json", "--only", "rr."]).output
    )
    assert rows and all(r["id"].startswith("rr.") and "observer" in r["needs"] for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "nope"], "is not an IP address"),
        (["--target", "127.0.0.1", "--families", "ipv9"], "unknown family"),
        (["--target", "127.0.0.1", "--observer-address", "127.0.0.2"], "must differ"),
        (["--target", "127.0.0.2"], "cannot be one of our own"),
        (["--target", "127.0.0.1", "--only", "zzz"], "no check matches"),
    ],
)
def test_cli_bad_input_is_one_line(args: list[str], message: str) -> None:
    base = [
        "conformance",
        "run",
        "--target-as",
        "65000",
        "--local-as",
        "65000",
        "--local-address",
        "127.0.0.2",
    ]
    out = CliRunner().invoke(main, base + args)
    assert out.exit_code == 2
    assert message in out.output and "Traceback" not in out.output


def test_cli_unreachable_target_is_one_line() -> None:
    args = ["conformance", "run", "--target", "127.0.0.1", "--port", "9", "--target-as", "65000"]
    args += ["--local-as", "65000", "--local-address", "127.0.0.2", "--setup-timeout", "1"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 3
    lines = [ln for ln in out.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "target does not accept a session" in lines[0]


def test_the_capabilities_we_offer() -> None:
    o = _ctx().our_open(four_octet=False)
    assert not o.find(FourOctetAs) and o.find(RouteRefreshCap) and o.my_as == 65000
