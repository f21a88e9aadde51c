"""The echo server on real loopback sockets: peers, PROXY, trust, keep-alive, limits, UDP."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import json
import socket
import time
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from srcip.clientip import TrustConfig
from srcip.net import Limits, PodEnvironment, ProxyProtocol
from srcip.proxyproto import Family, ProxyHeader, Transport, build
from tests.integration.echo_harness import (
    IO_TIMEOUT_S,
    echo_server,
    exchange,
    has_ipv6_loopback,
    parse_answers,
)

GET = b"GET / HTTP/1.1\r\nHost: echo\r\n\r\n"
CLOSE = b"GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n"


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run one asyncio scenario to completion."""
    return asyncio.run(scenario())


def body(data: bytes) -> dict[str, Any]:
    """The JSON document of the only answer in ``data``."""
    (answer,) = parse_answers(data)
    document: dict[str, Any] = json.loads(answer.body)
    return document


def test_peer_is_the_chosen_loopback_source() -> None:
    """The document's peer is the client's socket address; local is the listener's."""

    async def scenario() -> tuple[dict[str, Any], tuple[str, int]]:
        async with echo_server() as (server, log):
            data = await exchange(server.address, CLOSE, source="127.0.0.5")
            assert log.requests[0].peer.startswith("127.0.0.5:")
            return body(data), server.address

    doc, address = run(scenario)
    assert doc["peer"]["ip"] == "127.0.0.5"
    assert doc["local"] == {"ip": "127.0.0.1", "port": address[1]}
    assert doc["client"]["ip"] == "127.0.0.5"
    assert doc["peer_kind"] == "loopback-sidecar"


def test_peer_kind_and_pod_from_environment() -> None:
    """With NODE_IP set to the client's source, peer_kind says node; pod info is echoed."""
    env = PodEnvironment.from_env({"NODE_IP": "127.0.0.9", "POD_NAME": "echo-1"})

    async def scenario() -> dict[str, Any]:
        async with echo_server(environment=env) as (server, _):
            return body(await exchange(server.address, CLOSE, source="127.0.0.9"))

    doc = run(scenario)
    assert doc["peer_kind"] == "loopback-sidecar"  # rule 1: loopback wins over NODE_IP
    assert doc["pod"]["name"] == "echo-1"


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_forwarded_headers_with_and_without_trust(trusted: bool) -> None:
    """X-Forwarded-For is believed only from a trusted peer; it is echoed either way."""
    trust = TrustConfig(trusted_proxies=["127.0.0.8/32"] if trusted else [])
    wire = (
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.7\r\nConnection: close\r\n\r\n"
    )

    async def scenario() -> dict[str, Any]:
        async with echo_server(trust=trust) as (server, _):
            return body(await exchange(server.address, wire, source="127.0.0.8"))

    doc = run(scenario)
    assert doc["forwarded"] == [["X-Forwarded-For", "198.51.100.1, 203.0.113.7"]]
    if trusted:
        assert (doc["client"]["ip"], doc["client"]["status"]) == ("203.0.113.7", "ok")
    else:
        assert (doc["client"]["ip"], doc["client"]["status"]) == ("127.0.0.8", "direct")


V1 = ProxyHeader(
    version=1,
    family=Family.TCP4,
    src=IPv4Address("203.0.113.7"),
    dst=IPv4Address("198.51.100.10"),
    src_port=51234,
    dst_port=80,
)
V2 = ProxyHeader(
    version=2,
    family=Family.INET6,
    transport=Transport.STREAM,
    src=IPv6Address("2001:db8::7"),
    dst=IPv6Address("2001:db8::10"),
    src_port=4711,
    dst_port=80,
)


@pytest.mark.parametrize(
    ("header", "setting"),
    [(V1, ProxyProtocol.V1), (V2, ProxyProtocol.V2), (V2, ProxyProtocol.ANY)],
    ids=["v1", "v2", "any"],
)
def test_proxy_protocol_over_the_socket(header: ProxyHeader, setting: ProxyProtocol) -> None:
    """A PROXY header built with srcip.proxyproto is read; its source is the client."""
    trust = TrustConfig(proxy_protocol_trusted=["127.0.0.0/8"])

    async def scenario() -> dict[str, Any]:
        async with echo_server(trust=trust, proxy_protocol=setting) as (server, _):
            return body(await exchange(server.address, build(header) + CLOSE))

    doc = run(scenario)
    assert doc["peer"]["ip"] == "127.0.0.1"
    assert doc["proxy_protocol"]["src"] == str(header.src)
    assert doc["client"] == {
        "ip": str(header.src),
        "status": "direct",
        "source": "proxy-protocol",
        "hops": doc["client"]["hops"],
    }


def test_proxy_header_missing_times_out_and_malformed_closes() -> None:
    """No header in time, or a malformed one: the connection closes with no answer."""
    trust = TrustConfig(proxy_protocol_trusted=["127.0.0.0/8"])
    limits = Limits(proxy_header_timeout=0.2)

    async def scenario() -> tuple[bytes, bytes, float, list[str]]:
        async with echo_server(trust=trust, proxy_protocol=ProxyProtocol.V2, limits=limits) as (
            server,
            log,
        ):
            malformed = await exchange(server.address, b"PROXY garbage\r\n" + GET)
            started = time.monotonic()
            silent = await exchange(server.address, b"")
            waited = time.monotonic() - started
            return malformed, silent, waited, [c.detail for c in log.closures]

    malformed, silent, waited, details = run(scenario)
    assert (malformed, silent) == (b"", b"")
    assert waited < IO_TIMEOUT_S
    assert "malformed PROXY header" in details[0]
    assert "no complete PROXY header within 0.2 s" in details[1]


def test_keep_alive_and_pipelining_in_order() -> None:
    """One connection: pipelined requests, the first held back, answered in request order."""
    requests = b"GET /0?delay=200 HTTP/1.1\r\n\r\n" + b"".join(
        b"GET /%d HTTP/1.1\r\n\r\n" % i for i in range(1, 10)
    )

    async def scenario() -> tuple[list[Any], float]:
        async with echo_server() as (server, _):
            started = time.monotonic()
            data = await exchange(server.address, requests + CLOSE)
            return parse_answers(data), time.monotonic() - started

    answers, elapsed = run(scenario)
    paths = [json.loads(a.body)["request"]["path"] for a in answers]
    assert paths == [f"/{i}" for i in range(10)] + ["/"]
    ports = {json.loads(a.body)["peer"]["port"] for a in answers}
    assert len(ports) == 1
    assert elapsed >= 0.2


def test_many_delayed_pipelined_requests_pause_reading() -> None:
    """More delayed requests than max_pipelined: reading pauses, all are answered in order."""
    requests = b"".join(b"GET /%d?delay=5 HTTP/1.1\r\n\r\n" % i for i in range(20))

    async def scenario() -> list[Any]:
        async with echo_server(limits=Limits(max_pipelined=3)) as (server, _):
            return parse_answers(await exchange(server.address, requests + CLOSE))

    answers = run(scenario)
    assert [json.loads(a.body)["request"]["path"] for a in answers[:20]] == [
        f"/{i}" for i in range(20)
    ]


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        pytest.param(b"NOPE / HTTP/1.1\r\n\r\n", 400, id="400"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: 2048\r\n\r\n", 413, id="413"),
        pytest.param(b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n", 414, id="414"),
        pytest.param(b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 600 + b"\r\n\r\n", 431, id="431"),
        pytest.param(b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 11 + b"\r\n", 431, id="431-count"),
    ],
)
def test_limits_over_the_socket(wire: bytes, status: int) -> None:
    """Each limit's status is answered and the server closes the connection."""
    limits = Limits(max_target=256, max_header_bytes=512, max_headers=10, max_body=1024)

    async def scenario() -> bytes:
        async with echo_server(limits=limits) as (server, _):
            return await exchange(server.address, wire + GET)

    answers = parse_answers(run(scenario))
    assert [a.status for a in answers] == [status]
    assert answers[0].headers["connection"] == "close"


def test_slowloris_gets_408_and_idle_connections_close() -> None:
    """A head arriving too slowly is answered 408; an idle connection is just closed."""
    limits = Limits(header_timeout=0.2, idle_timeout=0.2)

    async def scenario() -> tuple[bytes, bytes]:
        async with echo_server(limits=limits) as (server, _):
            slow, idle = await asyncio.gather(
                exchange(server.address, b"GET / HTTP/1.1\r\nX-Slow: "),
                exchange(server.address, b""),
            )
            return slow, idle

    slow, idle = run(scenario)
    assert [a.status for a in parse_answers(slow)] == [408]
    assert idle == b""


def test_connection_limit_answers_503() -> None:
    """Past max_connections a new connection gets 503 and is closed; others are served."""

    async def scenario() -> tuple[bytes, bytes]:
        async with echo_server(limits=Limits(max_connections=1)) as (server, _):
            reader, writer = await asyncio.open_connection(*server.address)
            try:
                refused = await exchange(server.address, GET)
                writer.write(CLOSE)
                served = await asyncio.wait_for(reader.read(), IO_TIMEOUT_S)
            finally:
                writer.close()
            return refused, served

    refused, served = run(scenario)
    assert [a.status for a in parse_answers(refused)] == [503]
    assert [a.status for a in parse_answers(served)] == [200]


def test_metrics_endpoint_content() -> None:
    """/metrics shows requests by resolved client, resolution status and peer kind."""
    trust = TrustConfig(trusted_proxies=["127.0.0.0/8"])
    xff = b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"

    async def scenario() -> str:
        async with echo_server(trust=trust) as (server, _):
            await exchange(server.address, xff * 3 + GET + CLOSE)
            metrics = b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n"
            (answer,) = parse_answers(await exchange(server.address, metrics))
            return answer.body.decode()

    text = run(scenario)
    assert 'srcip_echo_client_requests_total{client="203.0.113.7"} 3.0' in text
    assert 'srcip_echo_client_requests_total{client="127.0.0.1"} 2.0' in text
    assert 'srcip_echo_client_resolutions_total{source="peer",status="no_header"} 2.0' in text
    assert 'srcip_echo_peer_kind_requests_total{peer_kind="loopback-sidecar"} 5.0' in text
    assert "srcip_echo_open_connections 1.0" in text


def test_udp_echoes_the_datagram_source() -> None:
    """--udp: 'clientip' answers the datagram's source address, chosen by the client."""

    async def scenario() -> tuple[bytes, bytes]:
        async with echo_server(udp_port=0) as (server, _):
            loop = asyncio.get_running_loop()
            answers: asyncio.Queue[bytes] = asyncio.Queue()

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: Any) -> None:
                    answers.put_nowait(data)

            transport, _ = await loop.create_datagram_endpoint(
                Client, local_addr=("127.0.0.7", 0), remote_addr=server.udp_addresses[0]
            )
            try:
                port = transport.get_extra_info("sockname")[1]
                transport.sendto(b"clientip")
                first = await asyncio.wait_for(answers.get(), IO_TIMEOUT_S)
                transport.sendto(b"anything")
                second = await asyncio.wait_for(answers.get(), IO_TIMEOUT_S)
            finally:
                transport.close()
            assert first == f"127.0.0.7:{port}".encode()
            return first, second

    _, second = run(scenario)
    assert json.loads(second)["peer"]["ip"] == "127.0.0.7"


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback() -> None:
    """Listening on 127.0.0.1 and ::1 (one port): an IPv6 client is seen as ::1."""

    async def scenario() -> tuple[dict[str, Any], tuple[tuple[str, int], ...]]:
        async with echo_server(hosts=("127.0.0.1", "::1")) as (server, _):
            v6 = next(a for a in server.addresses if ":" in a[0])
            return body(await exchange(v6, CLOSE)), server.addresses

    doc, addresses = run(scenario)
    assert doc["peer"]["ip"] == "::1"
    assert doc["local"]["ip"] == "::1"
    assert addresses[0][1] == addresses[1][1]


def test_shutdown_finishes_requests_in_flight() -> None:
    """Draining answers the request in flight (closing), closes idle ones, accepts none."""

    async def scenario() -> tuple[bytes, bytes, bool]:
        async with echo_server(grace=5.0) as (server, _):
            address = server.address
            idle_reader, idle_writer = await asyncio.open_connection(*address)
            busy = asyncio.create_task(exchange(address, b"GET /?delay=300 HTTP/1.1\r\n\r\n"))
            await asyncio.sleep(0.1)
            await server.shutdown()
            idle = await asyncio.wait_for(idle_reader.read(), IO_TIMEOUT_S)
            idle_writer.close()
            try:
                await asyncio.open_connection(*address)
            except OSError:
                refused = True
            else:
                refused = False
            return await busy, idle, refused

    busy, idle, refused = run(scenario)
    (answer,) = parse_answers(busy)
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    assert idle == b""
    assert refused


def test_shutdown_grace_aborts_what_is_left() -> None:
    """Requests still held back when the grace period ends are cut off."""

    async def scenario() -> tuple[bytes, float]:
        async with echo_server(grace=0.1) as (server, _):
            busy = asyncio.create_task(
                exchange(server.address, b"GET /?delay=3000 HTTP/1.1\r\n\r\n")
            )
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await server.shutdown()
            return await busy, time.monotonic() - started

    data, took = run(scenario)
    assert data == b""
    assert took < 2.0


def test_half_close_still_gets_the_answers() -> None:
    """A client that shuts its sending side after a delayed request still gets the answer."""

    async def scenario() -> bytes:
        async with echo_server() as (server, _):
            wire = b"GET /?delay=100 HTTP/1.1\r\n\r\n" + GET
            return await exchange(server.address, wire, half_close=True)

    assert [a.status for a in parse_answers(run(scenario))] == [200, 200]


def test_a_failing_request_is_a_500_and_others_are_served(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug while answering closes that connection with 500, logged; the server goes on."""
    from srcip.net.app import EchoApp

    original = EchoApp.respond

    def flaky(self: EchoApp, conn: Any, request: Any) -> Any:
        if request.target == b"/boom":
            raise RuntimeError("boom")
        return original(self, conn, request)

    monkeypatch.setattr(EchoApp, "respond", flaky)

    async def scenario() -> tuple[bytes, bytes]:
        async with echo_server() as (server, _):
            failed = await exchange(server.address, b"GET /boom HTTP/1.1\r\n\r\n" + GET)
            return failed, await exchange(server.address, CLOSE)

    failed, served = run(scenario)
    assert [a.status for a in parse_answers(failed)] == [500]
    assert [a.status for a in parse_answers(served)] == [200]
    assert "echo connection from 127.0.0.1:" in caplog.text


def test_a_client_that_stops_reading_is_cut_off() -> None:
    """Answers pile up unread: reading pauses, and past idle_timeout the connection ends."""
    target = b"/" + b"x" * 7000

    async def scenario() -> tuple[int, int]:
        async with echo_server(limits=Limits(idle_timeout=0.3)) as (server, _):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(sock, server.address)
            reader, writer = await asyncio.open_connection(sock=sock)
            sent = 2000
            writer.write((b"GET " + target + b" HTTP/1.1\r\n\r\n") * sent)
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.drain(), IO_TIMEOUT_S)
            deadline = loop.time() + IO_TIMEOUT_S
            while server.connections and loop.time() < deadline:
                await asyncio.sleep(0.1)
            try:
                data = await asyncio.wait_for(reader.read(), IO_TIMEOUT_S)
            except ConnectionError:
                data = b""
            writer.close()
            return len(server.connections), data.count(b"HTTP/1.1 200 OK")

    left, answered = run(scenario)
    assert left == 0
    assert answered < 2000


def test_port_in_use_fails_to_start() -> None:
    """Entering a server whose port is taken raises OSError and leaves nothing listening."""

    async def scenario() -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            async with echo_server(port=holder.getsockname()[1]):
                pass  # not reached

    with pytest.raises(OSError, match="in use"):
        run(scenario)


def test_udp_port_in_use_fails_to_start() -> None:
    """A taken UDP port fails the start, and the TCP listener already bound is closed."""

    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
            holder.bind(("127.0.0.1", 0))
            async with echo_server(udp_port=holder.getsockname()[1]):
                pass  # not reached

    with pytest.raises(OSError, match="in use"):
        run(scenario)


def test_all_addresses_without_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listening on all addresses where IPv6 is missing: IPv4 only, with a warning."""
    import srcip.net.echo as shell

    real = shell.bound_socket

    def no_v6(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
        if host == "::":
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        return real("127.0.0.1", port, kind)  # stands in for 0.0.0.0: tests stay on loopback

    monkeypatch.setattr(shell, "bound_socket", no_v6)

    async def scenario() -> tuple[tuple[str, int], ...]:
        async with echo_server(hosts=("0.0.0.0", "::")) as (server, _):
            return server.addresses

    addresses = run(scenario)
    assert [host for host, _ in addresses] == ["127.0.0.1"]


def test_explicit_ipv6_failure_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IPv6 address that was asked for explicitly and cannot be bound is an error."""
    import srcip.net.echo as shell

    def refuse(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
        raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")

    monkeypatch.setattr(shell, "bound_socket", refuse)

    async def scenario() -> None:
        async with echo_server(hosts=("::1",)):
            pass  # not reached

    with pytest.raises(OSError, match="Cannot assign"):
        run(scenario)


def test_stream_log_lines_are_written_per_loop_turn() -> None:
    """With a StreamLog, each request's line is on the stream right after it is answered."""
    from srcip.net import EchoConfig, EchoServer, StreamLog

    stream = io.StringIO()

    async def scenario() -> str:
        config = EchoConfig(hosts=("127.0.0.1",), port=0)
        async with EchoServer(config, log=StreamLog(stream)) as server:
            await exchange(server.address, b"GET /logged HTTP/1.1\r\n\r\n" + CLOSE)
            await asyncio.sleep(0)
            return stream.getvalue()

    lines = run(scenario).splitlines()
    assert lines[0].startswith("Request from 127.0.0.1: GET /logged peer=127.0.0.1:")
    assert len(lines) == 2
