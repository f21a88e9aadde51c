"""The L4 relay: forward from a chosen source with a PROXY header, drop, reject."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

import pytest

from srcip.net.tcp_relay import Decision, Drop, Forward, Reject, TcpRelay
from srcip.proxyproto import Family, ProxyHeader, Transport, build, parse

SOURCE = "127.3.0.7"
HEADER = ProxyHeader(
    version=2, family=Family.INET, transport=Transport.STREAM, src=ip_address("203.0.113.7"),
    dst=ip_address("198.51.100.10"), src_port=40000, dst_port=80,
)  # fmt: skip


async def _upstream() -> tuple[asyncio.Server, asyncio.Queue[tuple[str, bytes]]]:
    """A server that records (peer ip, bytes until EOF) and answers "done"."""
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the relay half-closes
        await got.put((writer.get_extra_info("peername")[0], data))
        writer.write(b"done")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(handle, "127.3.0.1", 0), got


async def _client(port: int, timeout: float = 2.0) -> bytes:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.3.0.2", port)
        writer.write(b"hello")
        writer.write_eof()
        try:
            return await reader.read()
        finally:
            writer.close()


def test_forward_binds_the_source_writes_the_preamble_and_half_closes() -> None:
    """The upstream sees the chosen source, the PROXY header, then the data; EOF passes on."""

    async def scenario() -> tuple[bytes, str, bytes]:
        server, got = await _upstream()
        port = server.sockets[0].getsockname()[1]

        def decide(peer: tuple[str, int], local: tuple[str, int]) -> Decision:
            return Forward(host="127.3.0.1", port=port, source=SOURCE, preamble=build(HEADER))

        async with server, TcpRelay([("127.3.0.2", 0)], decide) as relay:
            answer = await _client(relay.addresses[0][1])
            peer, data = await got.get()
        return answer, peer, data

    answer, peer, data = asyncio.run(scenario())
    assert answer == b"done"
    assert peer == SOURCE
    header = parse(data)
    assert header.src == HEADER.src
    assert data[header.consumed :] == b"hello"


def test_reject_resets_the_connection() -> None:
    """A REJECT reaches the client as a reset before any byte."""

    async def scenario() -> None:
        async with TcpRelay([("127.3.0.2", 0)], lambda peer, local: Reject()) as relay:
            await _client(relay.addresses[0][1])

    with pytest.raises(ConnectionResetError):
        asyncio.run(scenario())


def test_drop_never_answers() -> None:
    """A DROP holds the connection silently: the client's request times out."""

    async def scenario() -> str:
        async with asyncio.timeout(5):  # the relay's own exit must not wait for the hold
            async with TcpRelay([("127.3.0.2", 0)], lambda peer, local: Drop(hold=30)) as relay:
                reader, writer = await asyncio.open_connection(*relay.addresses[0])
                writer.write(b"GET / HTTP/1.1\r\n\r\n")
                try:
                    async with asyncio.timeout(0.3):
                        await reader.read()
                except TimeoutError:
                    return "timed out"
                finally:
                    writer.close()
        return "answered"

    assert asyncio.run(scenario()) == "timed out"


def test_a_refused_upstream_is_passed_back_as_a_reset() -> None:
    """Nothing listening behind the relay: the client is reset."""

    async def scenario() -> None:
        def decide(peer: tuple[str, int], local: tuple[str, int]) -> Decision:
            return Forward(host="127.3.0.9", port=9, source=None)

        async with TcpRelay([("127.3.0.2", 0)], decide) as relay:
            await _client(relay.addresses[0][1])

    with pytest.raises(ConnectionResetError):
        asyncio.run(scenario())
