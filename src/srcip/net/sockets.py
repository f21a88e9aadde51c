"""Listening sockets for the net servers, bound the same way on every event loop.

asyncio's ``create_server(host=None)`` makes IPv6 sockets IPv6-only so that ``0.0.0.0`` and
``::`` can share a port; uvloop does not promise the same, so the servers bind their own
sockets and hand them over (``sock=``). :func:`is_missing_ipv6` tells a machine without
IPv6 (a container with it disabled) from a real bind failure.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["bound_socket", "is_missing_ipv6"]


def bound_socket(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket of ``kind`` bound to ``host:port`` (IPv6 sockets IPv6-only;
    TCP with ``SO_REUSEADDR`` so a restart does not wait for TIME_WAIT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def is_missing_ipv6(exc: OSError) -> bool:
    """Whether a bind failed because the machine has no IPv6."""
    return exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)
