"""The health checks: each probe is one coroutine bounded by its timeout.

How this works: :func:`run_check` dispatches on the check's type and returns ``(ok,
detail)``; it never raises (a refused connection, a bad answer or the timeout are
all a failed check with the reason in ``detail``).

- ``tcp``: the connection is accepted.
- ``http``/``https``: ``GET`` with ``Connection: close``; the status must be one of
  ``expect_status`` and, with ``body``, the response body must match the regular
  expression (searched in the first 64 KiB, a chunked body decoded first).
  ``tls_verify = false`` accepts any certificate.
- ``dns``: one UDP query; the answer must carry the query id and ``expect_rcode``,
  and for NOERROR at least one answer record.
- ``exec``: the command (no shell) exits 0; at the timeout it is killed.
- ``bound``: the address is configured on this host (a socket can bind to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import ssl
import struct

from .config import CheckConfig

__all__ = ["run_check", "dns_query", "parse_dns_answer"]

BODY_LIMIT = 64 * 1024


async def run_check(check: CheckConfig) -> tuple[bool, str]:
    probe = _PROBES[check.kind]
    try:
        # ``asyncio.timeout``, not ``wait_for``: in Python 3.11, ``wait_for`` returns the
        # result when the probe ends as the caller is cancelled, and the cancellation
        # is lost (gh-86296), so a check loop could outlive the agent that stopped it
        async with asyncio.timeout(check.timeout):
            return await probe(check)
    except TimeoutError:
        return False, f"timeout after {check.timeout:g} s"
    except ssl.SSLError as exc:
        return False, f"TLS: {exc.reason or exc}"
    except OSError as exc:
        if exc.errno:  # asyncio's "Connect call failed (...)" hides the reason
            return False, os.strerror(exc.errno)
        return False, str(exc) or type(exc).__name__
    except (ValueError, UnicodeError, asyncio.IncompleteReadError) as exc:
        return False, f"bad answer: {exc}"


async def _tcp(c: CheckConfig) -> tuple[bool, str]:
    _, writer = await asyncio.open_connection(c.host, c.port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "connected"


async def _http(c: CheckConfig) -> tuple[bool, str]:
    tls: ssl.SSLContext | None = None
    if c.kind == "https":
        tls = ssl.create_default_context()
        if not c.tls_verify:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(
        c.host, c.port, ssl=tls, server_hostname=c.host if tls else None
    )
    try:
        host = f"[{c.host}]" if c.host and ":" in c.host else c.host
        request = (
            f"GET {c.path} HTTP/1.1\r\nHost: {host}:{c.port}\r\n"
            "User-Agent: pybgp-lbnode\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode())
        status_line = await reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return False, f"not an HTTP response: {status_line[:60]!r}"
        status = int(parts[1])
        if status not in c.expect_status:
            return False, f"status {status}"
        if c.body is None:
            return True, f"status {status}"
        chunked = False
        while line := (await reader.readline()).strip():  # the headers
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        body = await (_read_chunked(reader) if chunked else _read_body(reader))
        if re.search(c.body, body.decode("utf-8", "replace")):
            return True, f"status {status}, body matches"
        return False, f"status {status}, body does not match {c.body!r}"
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _read_body(reader: asyncio.StreamReader) -> bytes:
    """Up to ``BODY_LIMIT`` octets, until the server closes (``Connection: close``)."""
    body = b""
    while len(body) < BODY_LIMIT:
        chunk = await reader.read(BODY_LIMIT - len(body))
        if not chunk:
            break
        body += chunk
    return body


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 7.1), up to ``BODY_LIMIT`` octets."""
    body = b""
    while len(body) < BODY_LIMIT:
        line = await reader.readline()
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            break
        body += await reader.readexactly(size)
        await reader.readexactly(2)  # the CRLF after the chunk data
    return body[:BODY_LIMIT]


def dns_query(name: str, qtype: int, qid: int) -> bytes:
    """A DNS query message (RFC 1035 4.1) with recursion desired."""
    labels = b"".join(bytes([len(p)]) + p.encode("idna") for p in name.rstrip(".").split(".") if p)
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\x00"
        + struct.pack("!HH", qtype, 1)
    )


def parse_dns_answer(data: bytes, qid: int) -> tuple[int, int]:
    """``(rcode, answer count)`` of a response to query ``qid``; ValueError otherwise."""
    if len(data) < 12:
        raise ValueError(f"{len(data)}-octet DNS message")
    rid, flags, _, ancount = struct.unpack_from("!HHHH", data)
    if rid != qid or not flags & 0x8000:
        raise ValueError("not the response to our query")
    return flags & 0xF, ancount


class _Dns(asyncio.DatagramProtocol):
    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.answer: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        with contextlib.suppress(ValueError):
            result = parse_dns_answer(data, self.qid)
            if not self.answer.done():
                self.answer.set_result(result)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


async def _dns(c: CheckConfig) -> tuple[bool, str]:
    assert c.query is not None and c.host is not None and c.port is not None
    qid = secrets.randbelow(0x10000)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Dns(qid), remote_addr=(c.host, c.port)
    )
    try:
        transport.sendto(dns_query(c.query, c.qtype, qid))
        rcode, answers = await proto.answer
    finally:
        transport.close()
    name = _RCODES.get(rcode, str(rcode))
    if rcode != c.expect_rcode:
        return False, f"rcode {name}"
    if rcode == 0 and answers == 0:
        return False, "NOERROR with no answer"
    return True, f"rcode {name}, {answers} answers"


async def _exec(c: CheckConfig) -> tuple[bool, str]:
    proc = await asyncio.create_subprocess_exec(
        *c.command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = await proc.communicate()
    except asyncio.CancelledError:  # the timeout: the command is ours to kill
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    line = err.decode("utf-8", "replace").strip().splitlines()[:1]
    tail = f": {line[0][:120]}" if line else ""
    if proc.returncode == 0:
        return True, "exit 0"
    return False, f"exit {proc.returncode}{tail}"


async def _bound(c: CheckConfig) -> tuple[bool, str]:
    assert c.address is not None
    family = socket.AF_INET6 if ":" in c.address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((c.address, 0))
        except OSError as exc:
            if exc.errno == 99:  # EADDRNOTAVAIL
                return False, f"{c.address} is not configured on this host"
            raise
    return True, f"{c.address} is configured"


_PROBES = {
    "tcp": _tcp,
    "http": _http,
    "https": _http,
    "dns": _dns,
    "exec": _exec,
    "bound": _bound,
}
