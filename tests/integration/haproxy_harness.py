"""HAProxy in front of a srcip listener: configs, the listener, and a client.

The path under test is ``client -> HAProxy (frontend) -> srcip listener``: the client
connects from a chosen loopback source, HAProxy relays the connection to the listener with
a PROXY protocol header (``send-proxy`` / ``send-proxy-v2`` and ``proxy-v2-options``),
and the listener reads it with :class:`srcip.proxyproto.Parser`, keeping the raw bytes so
tests can compare them byte for byte and recompute the CRC32C independently.

HAProxy 2.6 (Debian 12) decides which TLVs to send in ``make_proxy_line_v2``
(``src/connection.c``), in this order: CRC32C (``crc32c``), ALPN (when the client
negotiated one over TLS), AUTHORITY (``authority``: the TLS SNI, or the authority of a
PROXY header HAProxy itself received; 2.6 has no ``set-proxy-v2-tlv-fmt``), UNIQUE_ID
(``unique-id``: the frontend's ``unique-id-format``, only on proxied streams, not on
health checks), SSL (``ssl``: always sent, ``client`` 0 without TLS; sub-TLVs VERSION, CN
with ``cert-cn``, KEY_ALG with ``cert-key``, SIG_ALG with ``cert-sig``, CIPHER with
``ssl-cipher``; key and signature describe HAProxy's own certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import NEED_DATA, Parser, ProxyHeader
from tests.integration.processes import free_port, run_checked

IO_TIMEOUT_S = 5.0
REPLY = b"srcip-listener-ok\n"

CONFIG_TEMPLATE = """\
global
    maxconn 64
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout check 2s
frontend monitor
    mode http
    bind 127.0.0.1:{monitor_port}
    monitor-uri /ready
frontend fe
    bind {bind}
{frontend_lines}
    default_backend be
backend be
{backend_lines}
    server srcip 127.0.0.1:{backend_port} {server_options}
"""


@dataclass(frozen=True)
class HAProxyPorts:
    """Where HAProxy listens (frontend, monitor) and where it relays to (the listener)."""

    frontend: int
    monitor: int
    backend: int


def write_config(
    workdir: Path,
    *,
    bind_host: str,
    bind_options: str = "",
    server_options: str,
    frontend_lines: tuple[str, ...] = (),
    backend_lines: tuple[str, ...] = (),
) -> tuple[Path, HAProxyPorts]:
    """An HAProxy config relaying ``bind_host:<free port>`` to a listener on 127.0.0.1."""
    ports = HAProxyPorts(
        frontend=free_port(bind_host), monitor=free_port(), backend=free_port("127.0.0.1")
    )
    host = f"[{bind_host}]" if ":" in bind_host else bind_host
    text = CONFIG_TEMPLATE.format(
        monitor_port=ports.monitor,
        bind=f"{host}:{ports.frontend} {bind_options}".rstrip(),
        frontend_lines="".join(f"    {line}\n" for line in frontend_lines).rstrip("\n"),
        backend_lines="".join(f"    {line}\n" for line in backend_lines).rstrip("\n"),
        backend_port=ports.backend,
        server_options=server_options,
    )
    path = workdir / "haproxy.cfg"
    path.write_text(text)
    return path, ports


@dataclass(frozen=True)
class Received:
    """What the listener got on one connection."""

    header: ProxyHeader
    raw: bytes  # the header's bytes as received
    payload: bytes  # application bytes after the header
    peer_port: int  # the socket peer's port (HAProxy's side of the relayed connection)


async def _read_header(reader: asyncio.StreamReader) -> tuple[ProxyHeader, bytes, bytes]:
    parser = Parser()
    data = bytearray()
    while True:
        event = parser.next_event()
        if event is not NEED_DATA:
            assert isinstance(event, ProxyHeader)
            return event, bytes(data[: event.consumed]), parser.trailing_data
        chunk = await reader.read(4096)
        data += chunk
        parser.receive_data(chunk)


@contextlib.asynccontextmanager
async def srcip_listener(
    port: int, payload_size: int
) -> AsyncIterator[asyncio.Queue[Received | ProxyProtocolError]]:
    """Listen on 127.0.0.1:``port``; each connection's :class:`Received` goes to the queue.

    After the header the listener reads ``payload_size`` application bytes, answers
    :data:`REPLY` and closes. A refused header puts the ProxyProtocolError instead.
    """
    results: asyncio.Queue[Received | ProxyProtocolError] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                header, raw, payload = await _read_header(reader)
                if len(payload) < payload_size:
                    payload += await reader.readexactly(payload_size - len(payload))
                writer.write(REPLY)
                await writer.drain()
            peer_port = writer.get_extra_info("peername")[1]
            results.put_nowait(
                Received(header=header, raw=raw, payload=payload, peer_port=peer_port)
            )
        except ProxyProtocolError as exc:
            results.put_nowait(exc)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a client gone before the reply: nothing to record
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield results
    finally:
        server.close()
        await server.wait_closed()


async def next_result(
    results: asyncio.Queue[Received | ProxyProtocolError],
) -> Received | ProxyProtocolError:
    """The listener's next result, within IO_TIMEOUT_S."""
    async with asyncio.timeout(IO_TIMEOUT_S):
        return await results.get()


@dataclass(frozen=True)
class ClientSide:
    """What the client saw of its connection through HAProxy."""

    source_port: int
    reply: bytes
    tls_version: str | None = None
    tls_cipher: str | None = None
    alpn: str | None = None


async def connect_through(
    host: str,
    port: int,
    *,
    source: str,
    payload: bytes,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> ClientSide:
    """Connect from ``source`` (port chosen by the kernel), send ``payload``, read the reply."""
    async with asyncio.timeout(IO_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=(source, 0), ssl=tls, server_hostname=server_hostname
        )
        try:
            source_port = writer.get_extra_info("sockname")[1]
            tls_object = writer.get_extra_info("ssl_object")
            writer.write(payload)
            await writer.drain()
            reply = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    if tls_object is None:
        return ClientSide(source_port=source_port, reply=reply)
    return ClientSide(
        source_port=source_port,
        reply=reply,
        tls_version=tls_object.version(),
        tls_cipher=tls_object.cipher()[0],
        alpn=tls_object.selected_alpn_protocol(),
    )


async def client_gets_nothing(host: str, port: int, *, data: bytes) -> bool:
    """Send ``data`` and report whether the connection closed without a byte back."""
    async with asyncio.timeout(IO_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            await writer.drain()
            reply = await reader.read()
        except ConnectionResetError:
            reply = b""
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return reply == b""


@dataclass(frozen=True)
class Certificates:
    """A server certificate for HAProxy and a client certificate it verifies."""

    server_pem: Path  # certificate and key, as HAProxy's ``crt`` wants them
    server_crt: Path
    client_crt: Path
    client_key: Path


SERVER_NAME = "srcip.test"
CLIENT_CN = "srcip-client"


def make_certificates(openssl: str, workdir: Path) -> Certificates:
    """Self-signed P-256 certificates for ``SERVER_NAME`` and ``CLIENT_CN`` (openssl CLI)."""
    for name, subject, extra in (
        ("server", f"/CN={SERVER_NAME}", f"subjectAltName=DNS:{SERVER_NAME}"),
        ("client", f"/CN={CLIENT_CN}", "extendedKeyUsage=clientAuth"),
    ):
        run_checked(
            [
                openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", subject,
                "-addext", extra, "-keyout", f"{name}.key", "-out", f"{name}.crt",
            ],
            workdir=workdir,
        )  # fmt: skip
    pem = workdir / "server.pem"
    pem.write_bytes((workdir / "server.crt").read_bytes() + (workdir / "server.key").read_bytes())
    return Certificates(
        server_pem=pem,
        server_crt=workdir / "server.crt",
        client_crt=workdir / "client.crt",
        client_key=workdir / "client.key",
    )


def client_tls_context(certs: Certificates) -> ssl.SSLContext:
    """Trusts the server certificate, presents the client one, offers ALPN http/1.1."""
    context = ssl.create_default_context(cafile=str(certs.server_crt))
    context.load_cert_chain(str(certs.client_crt), str(certs.client_key))
    context.set_alpn_protocols(["http/1.1"])
    return context
