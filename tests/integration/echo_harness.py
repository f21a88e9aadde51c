"""An in-process echo server on loopback and a raw HTTP client for the integration tests.

Servers bind 127.0.0.1 (or ``::1``) on port 0; clients may bind another loopback source
(Linux routes all of 127.0.0.0/8 to ``lo``) so the peer address is one the test chose.
Every read is bounded by :data:`IO_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from srcip.net import EchoConfig, EchoServer
from tests.unit.net.helpers import Answer, MemoryLog, parse_answers

__all__ = [
    "IO_TIMEOUT_S",
    "Answer",
    "echo_server",
    "exchange",
    "has_ipv6_loopback",
    "parse_answers",
]

IO_TIMEOUT_S = 5.0


@contextlib.asynccontextmanager
async def echo_server(**settings: Any) -> AsyncIterator[tuple[EchoServer, MemoryLog]]:
    """An echo server on 127.0.0.1:0 (unless ``hosts`` says otherwise) and its log."""
    settings.setdefault("hosts", ("127.0.0.1",))
    settings.setdefault("port", 0)
    settings.setdefault("hostname", "echo-test")
    log = MemoryLog()
    async with EchoServer(EchoConfig(**settings), log=log) as server:
        yield server, log


async def exchange(
    address: tuple[str, int],
    data: bytes,
    *,
    source: str | None = None,
    half_close: bool = False,
) -> bytes:
    """Connect (from ``source``), send ``data``, read until the server closes."""
    async with asyncio.timeout(IO_TIMEOUT_S):
        local = (source, 0) if source else None
        reader, writer = await asyncio.open_connection(*address, local_addr=local)
        try:
            writer.write(data)
            await writer.drain()
            if half_close:
                writer.write_eof()
            return await reader.read()
        except ConnectionResetError:
            return b""
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
