"""The asyncio PROXY listener on real loopback sockets: gate, header, hand-off, shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from srcip.clientip.server import (
    ProxiedConnection,
    ProxyProtocolMode,
    ProxyProtocolServer,
    _HeaderProtocol,
    effective_peer,
    format_endpoint,
)
from srcip.clientip.trust import TrustConfig
from srcip.proxyproto import AuthorityTLV, Command, Family, ProxyHeader, Transport, build

LOOPBACK_TRUSTED = TrustConfig(proxy_protocol_trusted=["127.0.0.0/8"])
ELSEWHERE_TRUSTED = TrustConfig(proxy_protocol_trusted=["192.0.2.1"])

V1 = ProxyHeader(
    version=1,
    family=Family.TCP4,
    src=IPv4Address("203.0.113.7"),
    dst=IPv4Address("198.51.100.10"),
    src_port=51234,
    dst_port=443,
)
V2 = ProxyHeader(
    version=2,
    family=Family.INET6,
    transport=Transport.STREAM,
    src=IPv6Address("2001:db8::7"),
    dst=IPv6Address("2001:db8::10"),
    src_port=4711,
    dst_port=443,
    tlvs=(AuthorityTLV(host="example.com"),),
)
LOCAL = ProxyHeader(
    version=2, command=Command.LOCAL, family=Family.UNSPEC, transport=Transport.UNSPEC
)


@dataclass
class Recorder:
    """A handler that reads to EOF, echoes, and remembers what it saw."""

    seen: list[tuple[ProxyHeader | None, str, str, bytes]] = field(default_factory=list)

    async def __call__(self, conn: ProxiedConnection) -> None:
        data = await conn.reader.read()
        self.seen.append((conn.header, conn.peer, conn.effective_peer, data))
        conn.writer.write(b"echo:" + data)
        await conn.writer.drain()


async def exchange(
    address: tuple[str, int], chunks: Sequence[bytes], *, pause: float = 0.0
) -> bytes:
    """Connect, send the chunks (pausing between them), half-close, read the answer."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        try:
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
            writer.write_eof()
        except OSError:  # the server may refuse us before we finish writing
            pass
        async with asyncio.timeout(5):
            return await reader.read()
    except ConnectionResetError:  # refused with our bytes unread: the kernel sends RST
        return b""
    finally:
        writer.close()


def run(
    chunks: Sequence[bytes],
    *,
    config: TrustConfig = LOOPBACK_TRUSTED,
    mode: ProxyProtocolMode | str = ProxyProtocolMode.REQUIRED,
    pause: float = 0.0,
    header_timeout: float = 5.0,
) -> tuple[Recorder, bytes]:
    """Serve one connection sending ``chunks``; return the handler's record and the answer."""
    recorder = Recorder()

    async def main() -> bytes:
        async with ProxyProtocolServer(
            recorder, config, mode=mode, header_timeout=header_timeout
        ) as server:
            return await exchange(server.address, chunks, pause=pause)

    return recorder, asyncio.run(main())


# ------------------------------------------------------------------ header and hand-off


@pytest.mark.parametrize(
    ("header", "effective"),
    [
        pytest.param(V1, "203.0.113.7:51234", id="v1-tcp4"),
        pytest.param(V2, "[2001:db8::7]:4711", id="v2-inet6-tlv"),
        pytest.param(LOCAL, None, id="v2-local-keeps-peer"),
        pytest.param(
            ProxyHeader(version=1, family=Family.UNKNOWN), None, id="v1-unknown-keeps-peer"
        ),
    ],
)
def test_header_then_data_in_one_packet(header: ProxyHeader, effective: str | None) -> None:
    """Header and first bytes in one write: the header is decoded, the data is preserved."""
    recorder, answer = run([build(header) + b"GET / HTTP/1.1\r\n\r\n"])
    ((seen_header, peer, seen_effective, data),) = recorder.seen
    assert seen_header == header
    assert peer.startswith("127.0.0.1:")
    assert seen_effective == (effective or peer)
    assert data == b"GET / HTTP/1.1\r\n\r\n"
    assert answer == b"echo:GET / HTTP/1.1\r\n\r\n"


def test_header_split_across_writes() -> None:
    """A v2 header arriving a few bytes at a time is reassembled; data after it is kept."""
    wire = build(V2, crc32c=True) + b"payload"
    chunks = [wire[i : i + 5] for i in range(0, len(wire), 5)]
    recorder, answer = run(chunks, pause=0.005)
    ((header, _, effective, data),) = recorder.seen
    assert header is not None
    assert header.src == V2.src
    assert effective == "[2001:db8::7]:4711"
    assert (data, answer) == (b"payload", b"echo:payload")


def test_a_second_header_is_application_data() -> None:
    """Exactly one header is consumed; a client-written second one reaches the handler."""
    spoofed = build(V1).replace(b"203.0.113.7", b"192.0.2.66")
    recorder, _ = run([build(LOCAL) + spoofed])
    ((header, _, _, data),) = recorder.seen
    assert header == LOCAL
    assert data == spoofed


def test_header_with_no_data_then_eof() -> None:
    """A header followed directly by EOF gives the handler an empty stream."""
    recorder, answer = run([build(V1)])
    assert recorder.seen[0][3] == b""
    assert answer == b"echo:"


# ------------------------------------------------------------------ refusals


def test_untrusted_peer_is_refused_in_required_mode(caplog: pytest.LogCaptureFixture) -> None:
    """A peer outside proxy_protocol_trusted is disconnected before its bytes are read."""
    with caplog.at_level(logging.INFO, logger="srcip.clientip.server"):
        recorder, answer = run([build(V1) + b"data"], config=ELSEWHERE_TRUSTED)
    assert (recorder.seen, answer) == ([], b"")
    assert "not in proxy_protocol_trusted" in caplog.text


@pytest.mark.parametrize(
    ("chunks", "kind"),
    [
        pytest.param([b"GET / HTTP/1.1\r\n\r\n"], "not_proxy_protocol", id="plain-http"),
        pytest.param([b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"], "v1_bad_terminator", id="lone-lf"),
        pytest.param([b"PROXY TCP4 1.2.3"], "incomplete", id="eof-inside-header"),
        pytest.param([], "incomplete", id="eof-before-header"),
    ],
)
def test_invalid_header_closes_without_handler(
    chunks: list[bytes], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad or truncated header closes the connection; the log names the error kind."""
    with caplog.at_level(logging.INFO, logger="srcip.clientip.server"):
        recorder, answer = run(chunks)
    assert (recorder.seen, answer) == ([], b"")
    assert kind in caplog.text


def test_header_timeout_closes_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    """A trusted peer that sends half a header and stalls is cut off after the timeout."""
    recorder = Recorder()

    async def main() -> bytes:
        async with ProxyProtocolServer(recorder, LOOPBACK_TRUSTED, header_timeout=0.05) as srv:
            reader, writer = await asyncio.open_connection(*srv.address)
            writer.write(b"PROXY TCP4 ")
            async with asyncio.timeout(5):
                answer = await reader.read()
            writer.close()
            return answer

    with caplog.at_level(logging.INFO, logger="srcip.clientip.server"):
        assert asyncio.run(main()) == b""
    assert recorder.seen == []
    assert "no PROXY header within 0.05 s" in caplog.text


# ------------------------------------------------------------------ optional mode


def test_optional_mode_trusted_peer_without_header_is_direct() -> None:
    """OPTIONAL: a trusted peer that sends no header is served directly, bytes intact."""
    recorder, answer = run([b"GET / HTTP/1.1\r\n\r\n"], mode=ProxyProtocolMode.OPTIONAL)
    ((header, peer, effective, data),) = recorder.seen
    assert header is None
    assert effective == peer
    assert data == b"GET / HTTP/1.1\r\n\r\n"
    assert answer == b"echo:GET / HTTP/1.1\r\n\r\n"


def test_optional_mode_trusted_peer_with_header() -> None:
    """OPTIONAL: a trusted peer's header is still read and applied."""
    recorder, _ = run([build(V1) + b"x"], mode=ProxyProtocolMode.OPTIONAL)
    assert recorder.seen[0][0] == V1
    assert recorder.seen[0][3] == b"x"


def test_optional_mode_untrusted_header_is_never_parsed() -> None:
    """OPTIONAL: an untrusted peer's PROXY-looking bytes are application data (spec §5)."""
    wire = build(V1) + b"data"
    recorder, _ = run([wire], config=ELSEWHERE_TRUSTED, mode="optional")
    ((header, peer, effective, data),) = recorder.seen
    assert (header, effective, data) == (None, peer, wire)


def test_optional_mode_invalid_header_from_trusted_peer_is_refused() -> None:
    """OPTIONAL does not excuse a broken header: it starts like one, so it must be one."""
    recorder, answer = run([b"PROXY TCP4 nonsense\r\n"], mode=ProxyProtocolMode.OPTIONAL)
    assert (recorder.seen, answer) == ([], b"")


# ------------------------------------------------------------------ lifecycle


def test_handler_failure_is_logged_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in one handler closes that connection only; the next one is served."""
    calls: list[str] = []

    async def flaky(conn: ProxiedConnection) -> None:
        calls.append(conn.effective_peer)
        if len(calls) == 1:
            raise RuntimeError("boom")
        conn.writer.write(b"ok")

    async def main() -> tuple[bytes, bytes]:
        async with ProxyProtocolServer(flaky, LOOPBACK_TRUSTED) as server:
            first = await exchange(server.address, [build(V1)])
            second = await exchange(server.address, [build(V1)])
            return first, second

    with caplog.at_level(logging.ERROR, logger="srcip.clientip.server"):
        assert asyncio.run(main()) == (b"", b"ok")
    assert "handler failed" in caplog.text
    assert calls == ["203.0.113.7:51234"] * 2


def test_shutdown_cancels_stuck_handlers_and_leaves_no_task() -> None:
    """Leaving the block waits shutdown_timeout, cancels what is left, and orphans nothing."""
    cancelled: list[bool] = []

    async def stuck(conn: ProxiedConnection) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> tuple[set[asyncio.Task[object]], bytes]:
        async with ProxyProtocolServer(stuck, LOOPBACK_TRUSTED, shutdown_timeout=0.01) as server:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(build(V1))
            await writer.drain()
            await asyncio.sleep(0.05)  # the handler is running
        async with asyncio.timeout(5):
            answer = await reader.read()  # the server closed the connection
        writer.close()
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}, answer

    leftovers, answer = asyncio.run(main())
    assert (leftovers, answer, cancelled) == (set(), b"", [True])


def test_shutdown_while_waiting_for_a_header_closes_it() -> None:
    """A connection still inside its header wait is cancelled and closed at shutdown."""

    async def main() -> bytes:
        async with ProxyProtocolServer(Recorder(), LOOPBACK_TRUSTED, shutdown_timeout=0) as srv:
            reader, writer = await asyncio.open_connection(*srv.address)
            await asyncio.sleep(0.02)
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        return answer

    assert asyncio.run(main()) == b""


def test_graceful_drain_lets_running_handlers_finish() -> None:
    """Handlers that finish within shutdown_timeout complete normally."""
    finished: list[bool] = []

    async def slow(conn: ProxiedConnection) -> None:
        await asyncio.sleep(0.05)
        conn.writer.write(b"done")
        finished.append(True)

    async def main() -> bytes:
        async with ProxyProtocolServer(slow, LOOPBACK_TRUSTED, shutdown_timeout=5) as server:
            reader, writer = await asyncio.open_connection(*server.address)
            writer.write(build(V1))
            await asyncio.sleep(0.01)
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        return answer

    assert asyncio.run(main()) == b"done"
    assert finished == [True]


def test_address_is_the_bound_loopback_port() -> None:
    """Port 0 binds a free port; address reports it."""

    async def main() -> tuple[str, int]:
        async with ProxyProtocolServer(Recorder(), LOOPBACK_TRUSTED, port=0) as server:
            return server.address

    host, port = asyncio.run(main())
    assert host == "127.0.0.1"
    assert port > 0


# ------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, "10.0.0.1:80", id="no-header"),
        pytest.param(V1, "203.0.113.7:51234", id="tcp4"),
        pytest.param(V2, "[2001:db8::7]:4711", id="inet6"),
        pytest.param(LOCAL, "10.0.0.1:80", id="local"),
        pytest.param(
            ProxyHeader(
                version=2,
                family=Family.UNIX,
                transport=Transport.STREAM,
                src="/run/a.sock",
                dst="/run/b.sock",
            ),
            "10.0.0.1:80",
            id="unix",
        ),
    ],
)
def test_effective_peer(header: ProxyHeader | None, expected: str) -> None:
    """Only PROXY over IPv4/IPv6 replaces the socket peer."""
    assert effective_peer("10.0.0.1:80", header) == expected


def test_format_endpoint_brackets_ipv6() -> None:
    """IPv6 hosts are bracketed so the port stays unambiguous."""
    assert format_endpoint("::1", 8080) == "[::1]:8080"
    assert format_endpoint("127.0.0.1", 8080) == "127.0.0.1:8080"


class FakeTransport(asyncio.Transport):
    """Just enough transport to drive the header protocol by hand (no socket can order
    a reset between the header's arrival and the hand-off deterministically)."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.reading = True
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_reset_between_header_and_hand_off_ends_the_stream() -> None:
    """A connection lost after the header but before the hand-off still ends the reader."""
    recorder = Recorder()

    async def main() -> FakeTransport:
        server = ProxyProtocolServer(recorder, LOOPBACK_TRUSTED)
        protocol = _HeaderProtocol(server)
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(build(V1) + b"tail")
        assert not transport.reading  # paused until the hand-off
        protocol.connection_lost(None)  # delivered to the old protocol
        (task,) = server._tasks
        async with asyncio.timeout(5):
            await task
        return transport

    transport = asyncio.run(main())
    assert recorder.seen[0][0] == V1
    assert recorder.seen[0][3] == b"tail"
    assert not transport.reading  # never resumed: the connection is gone
    assert transport.closed
