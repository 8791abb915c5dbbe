"""Sockets for BGP: listening, connecting, TCP MD5 (RFC 2385) and GTSM (RFC 5082).

How this works: these are the only functions that build sockets.  ``TCP_MD5SIG`` takes
a ``struct tcp_md5sig`` naming the peer address and the key; on a listening socket it
is set once per configured peer, so their SYNs are signed as well.  GTSM sends with
TTL 255 and sets ``IP_MINTTL`` (``IPV6_MINHOPCOUNT``) to 255 - hops + 1, so a packet
from further away is dropped by the kernel.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

__all__ = [
    "family_of",
    "set_md5",
    "set_gtsm",
    "set_ttl_255",
    "listen_socket",
    "client_socket",
    "normalize_address",
    "TransportError",
]

TCP_MD5SIG = 14
TCP_MD5SIG_MAXKEYLEN = 80
IP_MINTTL = 21
IPV6_MINHOPCOUNT = 73


class TransportError(Exception):
    """A socket option the kernel refused, with the option named."""


def family_of(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def normalize_address(address: str) -> str:
    """The canonical text of an address; IPv4-mapped IPv6 becomes IPv4."""
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _sockaddr_storage(address: str) -> bytes:
    """A ``struct sockaddr_storage`` (128 octets) holding ``address``, port 0."""
    addr = ipaddress.ip_address(address)
    if addr.version == 4:
        raw = struct.pack("=H", socket.AF_INET) + b"\x00\x00" + addr.packed
    else:
        raw = struct.pack("=H", socket.AF_INET6) + b"\x00\x00" + b"\x00" * 4 + addr.packed
    return raw.ljust(128, b"\x00")


def set_md5(sock: socket.socket, peer: str, password: str | None) -> None:
    """Sign (or, with ``password=None``, stop signing) segments to/from ``peer``."""
    key = (password or "").encode()
    if len(key) > TCP_MD5SIG_MAXKEYLEN:
        raise TransportError(f"TCP MD5 key for {peer} is longer than 80 octets")
    # struct tcp_md5sig: sockaddr_storage addr; u8 flags; u8 prefixlen; u16 keylen;
    # u32 ifindex; u8 key[80]
    value = _sockaddr_storage(peer) + struct.pack("=BBHI", 0, 0, len(key), 0)
    value += key.ljust(TCP_MD5SIG_MAXKEYLEN, b"\x00")
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, value)
    except OSError as exc:
        raise TransportError(f"TCP_MD5SIG for {peer} refused: {exc.strerror}") from None


def set_gtsm(sock: socket.socket, hops: int = 1) -> None:
    """RFC 5082: send with TTL 255, accept only TTL >= 256 - hops."""
    try:
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, 256 - hops)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, 256 - hops)
    except OSError as exc:
        raise TransportError(f"GTSM (IP_MINTTL) refused: {exc.strerror}") from None


def set_ttl_255(sock: socket.socket) -> None:
    """Send with TTL / hop limit 255 (RFC 5082 3), without a minimum on receive."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)


def listen_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket on ``host``:``port``."""
    fam = family_of(host)
    sock = socket.socket(fam, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(1024)  # a burst of peers (a restarted RR) must not overflow it
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def client_socket(
    peer: str,
    local_address: str | None = None,
    md5_password: str | None = None,
    gtsm: bool = False,
) -> socket.socket:
    """A non-blocking socket ready to connect to ``peer`` with the session's options."""
    sock = socket.socket(family_of(peer), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if md5_password:
            set_md5(sock, peer, md5_password)
        if gtsm:
            set_gtsm(sock)
        if local_address:
            sock.bind((local_address, 0))
    except BaseException:
        sock.close()
        raise
    return sock
