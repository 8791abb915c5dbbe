"""`pybgp decode`: the CLI contract other tools depend on."""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pybgp.cli import main
from pybgp.codec.attributes import AttrSet
from pybgp.codec.message import Keepalive, encode_message
from pybgp.codec.nlri import parse_prefix
from pybgp.codec.notification import Notification
from pybgp.codec.options import SessionOptions
from pybgp.codec.update import MpReach, Update

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _update() -> bytes:
    attrs = AttrSet(
        origin=0,
        as_path=((2, (65001, 4200000001)),),
        next_hop=bytes([192, 0, 2, 1]),
        med=7,
        local_pref=150,
        communities=(0xFFFFFF01, (65000 << 16) | 1),
        large_communities=((65000, 1, 2),),
    )
    return encode_message(Update(nlri=(parse_prefix("10.1.0.0/16")[1],), attrs=attrs))


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def _write(tmp_path: Path, name: str, lines: list[bytes]) -> Path:
    p = tmp_path / name
    p.write_text("".join(m.hex() + "\n" for m in lines))
    return p


def test_hex_json_keys(tmp_path: Path) -> None:
    p = _write(tmp_path, "msgs.txt", [_update(), encode_message(Keepalive())])
    code, out = _run(["decode", "--json", str(p)])
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["type"] == "UPDATE"
    assert first["nlri"] == ["10.1.0.0/16"]
    assert first["withdrawn"] == []
    a = first["attributes"]
    assert a["origin"] == "IGP"
    assert a["as_path"] == [{"type": "AS_SEQUENCE", "asns": [65001, 4200000001]}]
    assert a["next_hop"] == "192.0.2.1"
    assert a["med"] == 7 and a["local_pref"] == 150
    assert a["communities"] == ["no-export", "65000:1"]
    assert a["large_communities"] == ["65000:1:2"]
    assert second == {"type": "KEEPALIVE", "context": {"line": 2}}


def test_addpath_and_mp_reach_json(tmp_path: Path) -> None:
    opts = SessionOptions().symmetric(frozenset({(2, 1)}))
    attrs = AttrSet(origin=0, as_path=(), mp_next_hop=bytes.fromhex("20010db8" + "00" * 11 + "01"))
    msg = Update(attrs=attrs, mp_reach=MpReach(2, 1, (parse_prefix("2001:db8:1::/48")[1],), (7,)))
    raw = encode_message(msg, opts)
    # hex lines carry no OPEN, so this checks the JSON form through the renderer
    from pybgp.codec.message import decode_message
    from pybgp.render import message_dict

    d = message_dict(decode_message(raw, opts))
    assert d["attributes"]["mp_reach"] == {
        "afi": 2,
        "safi": 1,
        "next_hop": "2001:db8::1",
        "nlri": [{"prefix": "2001:db8:1::/48", "path_id": 7}],
    }


def test_malformed_message_reports_action_and_goes_on(tmp_path: Path) -> None:
    good = _update()
    # ORIGIN value 9 is undefined: RFC 7606 7.1 treat-as-withdraw, subcode 6
    bad = bytearray(good)
    i = bad.index(bytes([0x40, 0x01, 0x01])) + 3
    bad[i] = 9
    truncated = good[:16] + (30).to_bytes(2, "big") + good[18:30]
    p = _write(tmp_path, "bad.txt", [bytes(bad), truncated, good])
    code, out = _run(["decode", "--json", str(p)])
    assert code == 1
    objs = [json.loads(line) for line in out.splitlines()]
    assert len(objs) == 3
    assert objs[0]["error"]["action"] == "treat-as-withdraw"
    assert (objs[0]["error"]["code"], objs[0]["error"]["subcode"]) == (3, 6)
    assert objs[1]["error"]["action"] == "session-reset"
    assert "error" not in objs[2]


def test_count_and_exit_status(tmp_path: Path) -> None:
    p = _write(tmp_path, "ok.txt", [_update(), encode_message(Notification.shutdown("bye"))])
    code, out = _run(["decode", "--count", "--json", str(p)])
    assert code == 0
    counts = json.loads(out)
    assert counts["messages"] == 2 and counts["announced"] == 1 and counts["errors"] == 0


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [("ok", 0, 0), ("bad", 1, 1)],
)
def test_console_script_count_ends_the_process_with_its_status(
    tmp_path: Path, body: str, status: int, errors: int
) -> None:
    """The `pybgp` script ends `decode --count` without a teardown (``cli._exit``):
    the counts still reach a pipe whole, and the exit status still says whether every
    message decoded, from the MRT path as from the others."""
    from pybgp.mrt.synth import synthesize

    mrt = tmp_path / "t.mrt"
    with mrt.open("wb") as f:
        synthesize(f, 300, seed=3)
    if body == "bad":  # cut the last record short
        mrt.write_bytes(mrt.read_bytes()[:-5])
    script = Path(sys.executable).with_name("pybgp")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "pybgp"]
    for args in (["--count"], ["--count", "--json"]):
        proc = subprocess.run(
            [*cmd, "decode", *args, str(mrt)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == status, proc.stderr
        if "--json" in args:
            counts = json.loads(proc.stdout)
        else:
            counts = dict(line.split() for line in proc.stdout.splitlines())
            counts = {k: int(v) for k, v in counts.items()}
        assert counts["errors"] == errors
        assert counts["announced"] == 300 - errors


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["--count", "--json"], ["--json"]])
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    """A full disk under the output: status 1 and one line naming the problem."""
    p = _write(tmp_path, "ok.txt", [_update()] * 50)
    script = Path(sys.executable).with_name("pybgp")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "pybgp"]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*cmd, "decode", *args, str(p)], stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip() == "pybgp: cannot write the output: No space left on device"


def test_compressed_input_detected_from_content(tmp_path: Path) -> None:
    text = (_update().hex() + "\n").encode()
    for name, data in (("a.bin", gzip.compress(text)), ("b.dat", bz2.compress(text))):
        p = tmp_path / name
        p.write_bytes(data)
        code, out = _run(["decode", "--json", str(p)])
        assert code == 0, out
        assert json.loads(out)["nlri"] == ["10.1.0.0/16"]


def test_not_a_known_format_is_a_clean_error(tmp_path: Path) -> None:
    p = tmp_path / "junk"
    p.write_bytes(bytes(range(256)) * 4)
    code, out = _run(["decode", str(p)])
    assert code != 0
    assert "not a pcap/pcapng capture, an MRT file or hex text" in out
    assert "Traceback" not in out


def test_roundtrip_reports_differences(tmp_path: Path) -> None:
    good = _update()
    p = _write(tmp_path, "rt.txt", [good])
    code, out = _run(["decode", "--roundtrip", str(p)])
    assert code == 0 and "0 differ" in out
    # a prefix with bits set beyond its length: they are irrelevant (RFC 4271 4.3) and
    # cleared on decode, so the re-encoded bytes differ.  10.1.0.0/16 -> "10.1/15".
    assert good[-3:] == bytes([16, 10, 1])
    bad = good[:-3] + bytes([15, 10, 1])
    p2 = _write(tmp_path, "rt2.txt", [bytes(bad)])
    code, out = _run(["decode", "--roundtrip", str(p2)])
    assert code == 1
    assert "1 differ" in out


@pytest.mark.parametrize("pcap", sorted(GOLDEN.glob("*.pcap")), ids=lambda p: p.name)
def test_golden_captures_decode_and_roundtrip(pcap: Path) -> None:
    code, out = _run(["decode", "--roundtrip", str(pcap)])
    assert code == 0, out
    assert " 0 differ, 0 did not decode" in out
