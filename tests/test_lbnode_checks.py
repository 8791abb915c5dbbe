"""Each health check against real servers on loopback: pass, each way of failing, and
the timeout."""

from __future__ import annotations

import asyncio
import shutil
import socket
import struct
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lbnode.checks import dns_query, parse_dns_answer, run_check
from lbnode.config import CheckConfig

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def check(kind: str, **kw: object) -> CheckConfig:
    return CheckConfig(kind=kind, name=kind, **kw)  # type: ignore[arg-type]


Handler = Callable[[bytes], tuple[int, bytes]]


@pytest_asyncio.fixture
async def http_server() -> AsyncIterator[tuple[int, list[tuple[int, bytes]]]]:
    """An HTTP/1.1 server; the test sets ``answer[0] = (status, body)``."""
    answer = [(200, b"ok: healthy\n")]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        status, body = answer[0]
        if status == 0:  # hang until the client gives up: the check must time out
            await reader.read()
            writer.close()
            return
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(client, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, answer


@pytest.mark.asyncio
async def test_tcp_connect_and_refused() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), HOST, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        ok, detail = await run_check(check("tcp", host=HOST, port=port))
        assert ok, detail
    ok, detail = await run_check(check("tcp", host=HOST, port=free_port()))
    assert not ok and "refused" in detail.lower()


@pytest.mark.asyncio
async def test_http_status_and_body(http_server: tuple[int, list[tuple[int, bytes]]]) -> None:
    port, answer = http_server
    url = {"host": HOST, "port": port, "path": "/healthz"}
    assert await run_check(check("http", **url)) == (True, "status 200")
    ok, detail = await run_check(check("http", body=r"healthy$", **url))
    assert ok and "body matches" in detail
    ok, detail = await run_check(check("http", body="nope", **url))
    assert not ok and "does not match" in detail
    answer[0] = (503, b"draining")
    assert await run_check(check("http", **url)) == (False, "status 503")
    assert (await run_check(check("http", expect_status=(200, 503), **url)))[0]
    answer[0] = (0, b"")
    ok, detail = await run_check(check("http", timeout=0.2, **url))
    assert not ok and detail == "timeout after 0.2 s"


@pytest.mark.asyncio
async def test_http_chunked_body_is_decoded_before_matching() -> None:
    replies = [
        b"3\r\nhea\r\n8;ext=1\r\nlthy now\r\n0\r\n\r\n",  # "healthy now", split mid-word
        b"zz\r\nhealthy\r\n0\r\n\r\n",  # not a chunk size
    ]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head + replies.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(client, HOST, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ok, detail = await run_check(check("http", host=HOST, port=port, body=r"^healthy now$"))
        assert ok and "body matches" in detail, detail
        ok, detail = await run_check(check("http", host=HOST, port=port, body="healthy"))
    assert not ok and detail == "bad answer: bad chunk size b'zz'"


@pytest.mark.asyncio
async def test_http_on_something_else() -> None:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(client, HOST, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ok, detail = await run_check(check("http", host=HOST, port=port))
    assert not ok and detail.startswith("not an HTTP response")


@pytest.mark.asyncio
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
async def test_https_with_and_without_verification(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (await reader.readline()).strip():
                pass
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()

    server = await asyncio.start_server(client, HOST, 0, ssl=ctx)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ok, detail = await run_check(check("https", host=HOST, port=port, tls_verify=False))
        assert ok, detail
        ok, detail = await run_check(check("https", host=HOST, port=port))
        assert not ok and "TLS" in detail  # self-signed: refused when verifying


class DnsServer(asyncio.DatagramProtocol):
    """Answers A queries for ``good.test`` with one record, NXDOMAIN otherwise."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        qid = struct.unpack_from("!H", data)[0]
        question = data[12:]
        good = question.startswith(b"\x04good\x04test\x00")
        flags = 0x8180 if good else 0x8183
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        head = struct.pack("!HHHHHH", qid, flags, 1, 1 if good else 0, 0, 0)
        self.transport.sendto(head + question + (answer if good else b""), addr)


@pytest.mark.asyncio
async def test_dns_answer_rcode_and_silence() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(DnsServer, local_addr=(HOST, 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        base = {"host": HOST, "port": port, "timeout": 0.5}
        ok, detail = await run_check(check("dns", query="good.test", **base))
        assert ok and detail == "rcode NOERROR, 1 answers"
        ok, detail = await run_check(check("dns", query="bad.test", **base))
        assert not ok and detail == "rcode NXDOMAIN"
        assert (await run_check(check("dns", query="bad.test", expect_rcode=3, **base)))[0]
    finally:
        transport.close()
    ok, detail = await run_check(check("dns", query="good.test", host=HOST, port=port, timeout=0.3))
    assert not ok  # nobody answers: refused (ICMP) or the timeout


def test_dns_messages() -> None:
    q = dns_query("www.example.com.", 28, 0x1234)
    assert q[:12] == bytes.fromhex("123401000001000000000000")
    assert q[12:] == b"\x03www\x07example\x03com\x00\x00\x1c\x00\x01"
    reply = bytes.fromhex("1234818300010000") + b"\x00" * 4
    assert parse_dns_answer(reply, 0x1234) == (3, 0)
    with pytest.raises(ValueError):
        parse_dns_answer(reply, 0x9999)
    with pytest.raises(ValueError):
        parse_dns_answer(b"\x12", 0x1234)


@pytest.mark.asyncio
async def test_exec_exit_status_and_timeout(tmp_path: Path) -> None:
    assert await run_check(check("exec", command=("true",))) == (True, "exit 0")
    ok, detail = await run_check(check("exec", command=("sh", "-c", "echo broken >&2; exit 3")))
    assert (ok, detail) == (False, "exit 3: broken")
    marker = tmp_path / "alive"
    slow = ("sh", "-c", f"sleep 5; touch {marker}")
    ok, detail = await run_check(check("exec", command=slow, timeout=0.3))
    assert (ok, detail) == (False, "timeout after 0.3 s")
    await asyncio.sleep(0.2)
    assert not marker.exists()
    ok, detail = await run_check(check("exec", command=("/nonexistent/cmd",)))
    assert not ok and "No such file" in detail


@pytest.mark.asyncio
async def test_bound_address() -> None:
    assert await run_check(check("bound", address="127.0.0.1")) == (
        True,
        "127.0.0.1 is configured",
    )
    ok, detail = await run_check(check("bound", address="192.0.2.201"))
    assert not ok and detail == "192.0.2.201 is not configured on this host"


@pytest.mark.asyncio
async def test_a_cancel_as_the_probe_ends_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check cancelled in the same turn as its probe finishes ends cancelled.

    With Python 3.11's ``asyncio.wait_for`` it returned the probe's result instead and
    the cancellation was lost: the agent's check loop went on after the agent had
    cancelled it (seen as a CI run that hung in a test's teardown)."""
    import lbnode.checks as checks

    done: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()

    async def probe(c: CheckConfig) -> tuple[bool, str]:
        return await done

    monkeypatch.setitem(checks._PROBES, "tcp", probe)
    task = asyncio.create_task(run_check(CheckConfig("tcp", "t", host="127.0.0.1", port=1)))
    await asyncio.sleep(0)  # the probe is waiting
    done.set_result((True, "connected"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
