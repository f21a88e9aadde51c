"""Differential test: real HAProxy sends PROXY protocol headers, srcip must read them exactly.

HAProxy (Debian 12: 2.6) relays a client that connects from a chosen loopback source to
a srcip listener with ``send-proxy`` (v1) or ``send-proxy-v2`` and ``proxy-v2-options``.
The listener parses with :class:`srcip.proxyproto.Parser`; each test states the whole
header it expects (version, command, family, transport, both addresses and ports, every
TLV in wire order), checks the bytes after it reached the application untouched, and
that srcip's ``build`` gives HAProxy's bytes back. The other direction too: HAProxy
accepts (``accept-proxy``) headers that srcip built, verifies their CRC32C and relays
their authority. What HAProxy sends for each option: :mod:`.haproxy_harness`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crc32c
import pytest

from srcip.clientip import Resolution, Status, TrustConfig, resolve
from srcip.clientip.server import ProxiedConnection, ProxyProtocolServer
from srcip.errors import ProxyProtocolError
from srcip.proxyproto import (
    AlpnTLV,
    AuthorityTLV,
    Command,
    Crc32cTLV,
    ErrorKind,
    Family,
    ProxyHeader,
    SslCipherTLV,
    SslClient,
    SslCnTLV,
    SslKeyAlgTLV,
    SslSigAlgTLV,
    SslTLV,
    SslVersionTLV,
    Transport,
    UniqueIdTLV,
    build,
    parse,
)
from tests.integration.conftest import StartDaemon
from tests.integration.haproxy_harness import (
    CLIENT_CN,
    REPLY,
    SERVER_NAME,
    ClientSide,
    HAProxyPorts,
    Received,
    client_gets_nothing,
    client_tls_context,
    connect_through,
    make_certificates,
    next_result,
    srcip_listener,
    write_config,
)
from tests.integration.processes import accepts_connections, run_checked

CLIENT_V4 = "127.0.0.7"  # any 127/8 address is local; this one is not HAProxy's own
PAYLOAD = b"GET / HTTP/1.0\r\n\r\n"
StartHAProxy = Callable[..., HAProxyPorts]


@pytest.fixture
def haproxy(haproxy_bin: str, daemons: StartDaemon, tmp_path: Path) -> StartHAProxy:
    """Start HAProxy with a config from :func:`write_config` (checked with ``-c`` first)."""

    def start(**options: Any) -> HAProxyPorts:
        path, ports = write_config(tmp_path, **options)
        run_checked([haproxy_bin, "-c", "-f", str(path)], workdir=tmp_path)
        daemons(
            "haproxy",
            [haproxy_bin, "-db", "-f", str(path)],
            workdir=tmp_path,
            ready=lambda: accepts_connections("127.0.0.1", ports.monitor),
        )
        return ports

    return start


async def relay_once(
    ports: HAProxyPorts,
    *,
    connect_host: str = "127.0.0.1",
    source: str = CLIENT_V4,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[Received, int, ClientSide]:
    """One client connection through HAProxy; the listener's result and the client's view."""
    async with srcip_listener(ports.backend, len(PAYLOAD)) as results:
        client = await connect_through(
            connect_host,
            ports.frontend,
            source=source,
            payload=PAYLOAD,
            tls=tls,
            server_hostname=server_hostname,
        )
        result = await next_result(results)
    assert isinstance(result, Received), result
    assert client.reply == REPLY
    assert result.payload == PAYLOAD
    return result, client.source_port, client


def assert_crc_independently(raw: bytes) -> None:
    """Recompute the CRC32C with the ``crc32c`` package (the value zeroed, spec §2.2.3)."""
    at = raw.index(b"\x03\x00\x04", 16) + 3
    zeroed = raw[:at] + bytes(4) + raw[at + 4 :]
    assert int.from_bytes(raw[at : at + 4], "big") == crc32c.crc32c(zeroed)


def test_send_proxy_v1_tcp4(haproxy: StartHAProxy) -> None:
    """send-proxy: srcip reads HAProxy's TCP4 line exactly and builds the same bytes."""
    ports = haproxy(bind_host="127.0.0.1", server_options="send-proxy")
    got, source_port, _ = asyncio.run(relay_once(ports))
    line = f"PROXY TCP4 {CLIENT_V4} 127.0.0.1 {source_port} {ports.frontend}\r\n".encode()
    assert got.raw == line
    assert got.header == ProxyHeader(
        version=1,
        family=Family.TCP4,
        src=ipaddress.IPv4Address(CLIENT_V4),
        dst=ipaddress.IPv4Address("127.0.0.1"),
        src_port=source_port,
        dst_port=ports.frontend,
    )
    assert got.header.consumed == len(line)
    assert build(got.header) == line


def test_send_proxy_v1_tcp6(haproxy: StartHAProxy) -> None:
    """send-proxy over IPv6: a TCP6 line with ::1 on both ends."""
    ports = haproxy(bind_host="::1", server_options="send-proxy")
    got, source_port, _ = asyncio.run(relay_once(ports, connect_host="::1", source="::1"))
    assert got.header == ProxyHeader(
        version=1,
        family=Family.TCP6,
        src=ipaddress.IPv6Address("::1"),
        dst=ipaddress.IPv6Address("::1"),
        src_port=source_port,
        dst_port=ports.frontend,
    )
    assert build(got.header) == got.raw


@pytest.mark.parametrize(
    ("server_options", "family"),
    [
        pytest.param("send-proxy", Family.TCP6, id="v1"),
        pytest.param("send-proxy-v2", Family.INET6, id="v2"),
    ],
)
def test_ipv4_mapped_addresses_from_a_v6_socket(
    haproxy: StartHAProxy, server_options: str, family: Family
) -> None:
    """A frontend on ::ffff:127.0.0.1 sends IPv4-mapped IPv6; resolve() unmaps before trust."""
    ports = haproxy(bind_host="::ffff:127.0.0.1", server_options=server_options)
    got, source_port, _ = asyncio.run(relay_once(ports))
    assert (got.header.family, got.header.src, got.header.dst, got.header.src_port) == (
        family,
        ipaddress.IPv6Address(f"::ffff:{CLIENT_V4}"),
        ipaddress.IPv6Address("::ffff:127.0.0.1"),
        source_port,
    )
    # HAProxy's v1 text (inet_ntop) writes ::ffff:127.0.0.7; srcip's builder writes what
    # Python 3.11's ipaddress prints, ::ffff:7f00:7. Both are RFC 4291 text; srcip reads both.
    hex_spelling = got.raw.replace(b"::ffff:127.0.0.7", b"::ffff:7f00:7").replace(
        b"::ffff:127.0.0.1", b"::ffff:7f00:1"
    )
    assert build(got.header) in {got.raw, hex_spelling}
    assert parse(build(got.header)) == got.header
    config = TrustConfig(
        trusted_proxies=[f"{CLIENT_V4}/32"],
        proxy_protocol_trusted=["127.0.0.1/32"],
        source="x-forwarded-for",
    )
    headers = [("X-Forwarded-For", "203.0.113.9")]
    result = resolve(f"127.0.0.1:{got.peer_port}", headers, config, proxy=got.header)
    assert (result.status, result.ip, result.nearest_trusted) == (
        Status.OK,
        ipaddress.IPv4Address("203.0.113.9"),
        ipaddress.IPv4Address(CLIENT_V4),
    )


def test_send_proxy_v2_tcp4_with_tlvs(haproxy: StartHAProxy) -> None:
    """send-proxy-v2 with crc32c, unique-id and ssl: INET/STREAM and three TLVs, CRC checked."""
    ports = haproxy(
        bind_host="127.0.0.1",
        server_options="send-proxy-v2 proxy-v2-options crc32c,unique-id,ssl",
        frontend_lines=("unique-id-format srcip-%ci-%cp-%fp",),
    )
    got, source_port, _ = asyncio.run(relay_once(ports))
    unique_id = f"srcip-{CLIENT_V4}-{source_port}-{ports.frontend}".encode()
    assert got.header == ProxyHeader(
        version=2,
        command=Command.PROXY,
        family=Family.INET,
        transport=Transport.STREAM,
        src=ipaddress.IPv4Address(CLIENT_V4),
        dst=ipaddress.IPv4Address("127.0.0.1"),
        src_port=source_port,
        dst_port=ports.frontend,
        tlvs=(Crc32cTLV(), UniqueIdTLV(unique_id=unique_id), SslTLV(client=SslClient(0))),
    )
    assert got.header.consumed == len(got.raw) == 16 + 12 + 7 + 3 + len(unique_id) + 8
    assert_crc_independently(got.raw)
    assert build(got.header) == got.raw


def test_send_proxy_v2_crc_mismatch_is_refused(haproxy: StartHAProxy) -> None:
    """A real HAProxy v2 header with one TLV byte flipped fails srcip's CRC32C check."""
    ports = haproxy(
        bind_host="127.0.0.1",
        server_options="send-proxy-v2 proxy-v2-options crc32c,unique-id",
        frontend_lines=("unique-id-format srcip-%ci",),
    )
    got, _, _ = asyncio.run(relay_once(ports))
    flipped = got.raw[:-1] + bytes([got.raw[-1] ^ 0x01])
    with pytest.raises(ProxyProtocolError) as caught:
        parse(flipped)
    assert caught.value.kind == ErrorKind.V2_CRC32C_MISMATCH


def test_send_proxy_v2_tcp6_without_tlvs(haproxy: StartHAProxy) -> None:
    """Plain send-proxy-v2 over IPv6: INET6/STREAM, a 36-byte address block, no TLVs."""
    ports = haproxy(bind_host="::1", server_options="send-proxy-v2")
    got, source_port, _ = asyncio.run(relay_once(ports, connect_host="::1", source="::1"))
    assert got.header == ProxyHeader(
        version=2,
        family=Family.INET6,
        transport=Transport.STREAM,
        src=ipaddress.IPv6Address("::1"),
        dst=ipaddress.IPv6Address("::1"),
        src_port=source_port,
        dst_port=ports.frontend,
    )
    assert got.header.consumed == len(got.raw) == 16 + 36
    assert build(got.header) == got.raw


def test_send_proxy_v2_over_tls_with_every_option(
    haproxy: StartHAProxy, openssl_bin: str, tmp_path: Path
) -> None:
    """TLS frontend: ALPN, AUTHORITY (SNI), UNIQUE_ID and SSL with all five sub-TLVs."""
    certs = make_certificates(openssl_bin, tmp_path)
    ports = haproxy(
        bind_host="127.0.0.1",
        bind_options=(
            f"ssl crt {certs.server_pem} alpn h2,http/1.1 "
            f"ca-file {certs.client_crt} verify required"
        ),
        server_options=(
            "send-proxy-v2 proxy-v2-options "
            "authority,crc32c,unique-id,ssl,cert-cn,ssl-cipher,cert-sig,cert-key"
        ),
        frontend_lines=("unique-id-format tls-%cp",),
    )
    got, source_port, client = asyncio.run(
        relay_once(ports, tls=client_tls_context(certs), server_hostname=SERVER_NAME)
    )
    assert client.alpn == "http/1.1"
    ssl_tlv = SslTLV(
        client=SslClient.SSL | SslClient.CERT_CONN | SslClient.CERT_SESS,
        verify=0,
        sub_tlvs=(
            SslVersionTLV(version=client.tls_version),
            SslCnTLV(common_name=CLIENT_CN),
            SslKeyAlgTLV(algorithm="EC256"),
            SslSigAlgTLV(algorithm="ecdsa-with-SHA256"),
            SslCipherTLV(cipher=client.tls_cipher),
        ),
    )
    assert got.header.tlvs == (
        Crc32cTLV(),
        AlpnTLV(protocol=b"http/1.1"),
        AuthorityTLV(host=SERVER_NAME),
        UniqueIdTLV(unique_id=f"tls-{source_port}".encode()),
        ssl_tlv,
    )
    assert (got.header.family, got.header.src, got.header.src_port) == (
        Family.INET,
        ipaddress.IPv4Address(CLIENT_V4),
        source_port,
    )
    assert_crc_independently(got.raw)
    assert build(got.header) == got.raw


def test_haproxy_relays_headers_srcip_built(haproxy: StartHAProxy) -> None:
    """accept-proxy: HAProxy takes srcip's v2 header (CRC verified) and relays its authority."""
    ports = haproxy(
        bind_host="127.0.0.1",
        bind_options="accept-proxy",
        server_options="send-proxy-v2 proxy-v2-options authority,crc32c",
    )
    sent = ProxyHeader(
        version=2,
        family=Family.INET,
        transport=Transport.STREAM,
        src=ipaddress.IPv4Address("192.0.2.10"),
        dst=ipaddress.IPv4Address("198.51.100.1"),
        src_port=4242,
        dst_port=443,
        tlvs=(AuthorityTLV(host="relay.srcip.test"),),
    )

    async def scenario() -> Received:
        async with srcip_listener(ports.backend, len(PAYLOAD)) as results:
            client = await connect_through(
                "127.0.0.1",
                ports.frontend,
                source=CLIENT_V4,
                payload=build(sent, crc32c=True) + PAYLOAD,
            )
            assert client.reply == REPLY
            result = await next_result(results)
        assert isinstance(result, Received), result
        return result

    got = asyncio.run(scenario())
    assert got.header == ProxyHeader(
        version=2,
        family=Family.INET,
        transport=Transport.STREAM,
        src=sent.src,
        dst=sent.dst,
        src_port=4242,
        dst_port=443,
        tlvs=(Crc32cTLV(), AuthorityTLV(host="relay.srcip.test")),
    )
    assert got.payload == PAYLOAD


def test_haproxy_drops_srcip_header_with_bad_crc(haproxy: StartHAProxy) -> None:
    """accept-proxy: HAProxy refuses a srcip-built v2 header whose CRC32C was altered."""
    ports = haproxy(bind_host="127.0.0.1", bind_options="accept-proxy", server_options="")
    header = build(
        ProxyHeader(
            version=2,
            family=Family.INET,
            transport=Transport.STREAM,
            src=ipaddress.IPv4Address("192.0.2.10"),
            dst=ipaddress.IPv4Address("198.51.100.1"),
            src_port=4242,
            dst_port=443,
        ),
        crc32c=True,
    )
    corrupted = header[:-1] + bytes([header[-1] ^ 0xFF])

    async def scenario() -> bool:
        async with srcip_listener(ports.backend, len(PAYLOAD)):
            return await client_gets_nothing("127.0.0.1", ports.frontend, data=corrupted + PAYLOAD)

    assert asyncio.run(scenario())


#: A check that waits for the listener's reply, so HAProxy never resets the connection
#: before the header is read (a bare TCP check closes at once, with RST).
CHECK_LINES = ("option tcp-check", f"tcp-check expect string {REPLY.decode().strip()}")


def health_check_expected(version: int, got: Received, backend_port: int) -> ProxyHeader:
    """v2: LOCAL without addresses; v1 has no LOCAL, so HAProxy names its own connection."""
    if version == 2:
        return ProxyHeader(
            version=2,
            command=Command.LOCAL,
            family=Family.UNSPEC,
            transport=Transport.UNSPEC,
            tlvs=(Crc32cTLV(), SslTLV(client=SslClient(0))),
        )
    loopback = ipaddress.IPv4Address("127.0.0.1")
    return ProxyHeader(
        version=1,
        family=Family.TCP4,
        src=loopback,
        dst=loopback,
        src_port=got.peer_port,
        dst_port=backend_port,
    )


@pytest.mark.parametrize(
    ("version", "server_options"),
    [
        pytest.param(2, "send-proxy-v2 proxy-v2-options crc32c,ssl,unique-id", id="v2"),
        pytest.param(1, "send-proxy", id="v1"),
    ],
)
def test_health_check_headers(haproxy: StartHAProxy, version: int, server_options: str) -> None:
    """Health checks: v2 sends LOCAL/UNSPEC (CRC, SSL; no UNIQUE_ID), v1 HAProxy's own TCP4."""
    ports = haproxy(
        bind_host="127.0.0.1",
        server_options=f"{server_options} check inter 100ms",
        backend_lines=CHECK_LINES,
    )

    async def scenario() -> Received:
        async with srcip_listener(ports.backend, 0) as results:
            result = await next_result(results)
        assert isinstance(result, Received), result
        return result

    got = asyncio.run(scenario())
    assert got.header == health_check_expected(version, got, ports.backend)
    assert got.header.consumed == len(got.raw)
    assert build(got.header, crc32c=version == 2) == got.raw
    if version == 2:
        assert_crc_independently(got.raw)


def test_proxy_protocol_server_resolves_the_haproxy_client(haproxy: StartHAProxy) -> None:
    """srcip's asyncio server behind HAProxy: the effective peer and resolve() name the client."""
    ports = haproxy(bind_host="127.0.0.1", server_options="send-proxy-v2 proxy-v2-options crc32c")
    config = TrustConfig(
        trusted_proxies=["127.0.0.1/32"],
        proxy_protocol_trusted=["127.0.0.1/32"],
        source="x-forwarded-for",
    )
    seen: asyncio.Queue[tuple[ProxiedConnection, Resolution]] = asyncio.Queue()

    async def handler(conn: ProxiedConnection) -> None:
        request = await conn.reader.readexactly(len(PAYLOAD))
        assert request == PAYLOAD
        seen.put_nowait((conn, resolve(conn.peer, [], config, proxy=conn.header)))
        conn.writer.write(REPLY)
        await conn.writer.drain()

    async def scenario() -> tuple[int, ProxiedConnection, Resolution]:
        server = ProxyProtocolServer(handler, config, host="127.0.0.1", port=ports.backend)
        async with server:
            client = await connect_through(
                "127.0.0.1", ports.frontend, source=CLIENT_V4, payload=PAYLOAD
            )
            async with asyncio.timeout(5):
                conn, result = await seen.get()
        assert client.reply == REPLY
        return client.source_port, conn, result

    source_port, conn, result = asyncio.run(scenario())
    assert conn.effective_peer == f"{CLIENT_V4}:{source_port}"
    assert conn.peer.startswith("127.0.0.1:")
    assert (result.status, result.ip, result.source) == (
        Status.DIRECT,
        ipaddress.IPv4Address(CLIENT_V4),
        "proxy-protocol",
    )
