"""UDP echo: the source address of each datagram (source preservation matters for UDP too).

agnhost ``netexec``'s UDP protocol, which the Kubernetes e2e tests speak, plus a JSON
default: a datagram saying ``hostname`` gets the host name, ``clientip`` the sender as
``ip:port``, ``echo <text>`` the text; any other datagram gets one JSON object with the
sender (``peer``), the local address, ``peer_kind``, ``pod``, ``hostname`` and the size of
what was received (``bytes``). :func:`udp_reply` is the pure part; :class:`UdpEcho` binds
the same hosts as the TCP listeners. Answers are capped at :data:`MAX_REPLY` bytes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, cast

import msgspec

from srcip.clientip.server import format_endpoint
from srcip.net.document import pod_json
from srcip.net.peerkind import PeerKind, PodEnvironment, classify_peer
from srcip.net.sockets import bound_socket

if TYPE_CHECKING:
    from srcip.net.app import EchoApp

__all__ = ["MAX_REPLY", "UdpEcho", "udp_reply"]

logger = logging.getLogger(__name__)

#: Largest answer: what fits one IPv4 UDP datagram.
MAX_REPLY = 65507


def udp_reply(
    data: bytes,
    peer: tuple[str, int],
    local: tuple[str, int],
    *,
    hostname: str,
    env: PodEnvironment,
    peer_kind: PeerKind,
) -> bytes:
    """The answer to one datagram (see the module docstring)."""
    command = data.strip()
    if command == b"hostname":
        return hostname.encode()
    if command == b"clientip":
        return format_endpoint(peer[0], peer[1]).encode()
    if command == b"echo" or command.startswith(b"echo "):
        return data.lstrip()[5:][:MAX_REPLY]
    document = {
        "peer": {"ip": peer[0], "port": peer[1]},
        "local": {"ip": local[0], "port": local[1]},
        "peer_kind": str(peer_kind),
        "pod": pod_json(env),
        "hostname": hostname,
        "bytes": len(data),
    }
    return msgspec.json.encode(document) + b"\n"


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, app: EchoApp) -> None:
        self.app = app
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport is not a DatagramTransport subclass
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.local = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        assert self.transport is not None
        peer = (str(addr[0]), int(str(addr[1])))
        env = self.app.config.environment
        kind = classify_peer(peer[0], env)
        reply = udp_reply(
            data, peer, self.local, hostname=self.app.hostname, env=env, peer_kind=kind
        )
        self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        logger.info("UDP error: %r", exc)  # an ICMP error for an earlier answer: nothing to do


class UdpEcho:
    """UDP echo sockets on ``hosts`` at ``port`` (0: any free port, shared by the hosts)."""

    def __init__(self, app: EchoApp, port: int, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.port = port
        self.hosts = hosts
        self.transports: list[asyncio.DatagramTransport] = []

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every bound ``(host, port)``."""
        return tuple(t.get_extra_info("sockname")[:2] for t in self.transports)

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind every host."""
        port = self.port
        for host in self.hosts:
            sock = bound_socket(host, port, socket.SOCK_DGRAM)
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.app), sock=sock
            )
            self.transports.append(transport)
            port = port or sock.getsockname()[1]

    def close(self) -> None:
        """Close every socket."""
        for transport in self.transports:
            transport.close()
