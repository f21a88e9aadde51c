"""An asyncio listener that reads the PROXY protocol header, then hands the stream on.

A ~150-line shell (hypercorn's ``asyncio/tcp_server.py`` is the model) around the sans-I/O
:class:`srcip.proxyproto.Parser`. Per connection:

1. **Gate** (HAProxy spec §5, reference §10 step 1): only socket peers in
   ``config.proxy_protocol_trusted`` may send a header. ``REQUIRED``: other peers are
   disconnected at once, before a byte is read. ``OPTIONAL``: other peers are served as
   direct connections and their bytes are never examined (HAProxy's
   ``tcp-request connection expect-proxy layer4 if <acl>``); trusted peers may send a
   header (one is recognised by its first bytes) or not.
2. **Header** under ``asyncio.timeout(header_timeout)`` (spec §5 recommends a few seconds;
   CVE-2021-23409): bytes go to the parser as they arrive; exactly one header is consumed;
   an invalid header, an early EOF or the timeout closes the connection (logged at INFO,
   with the error's ``kind``), and the handler is never called.
3. **Hand-off**: the transport is switched to a fresh :class:`asyncio.StreamReaderProtocol`
   (public ``Transport.set_protocol``), the bytes that followed the header are fed to the
   new reader first, and ``handler(ProxiedConnection(...))`` runs with that reader, a
   writer, the :class:`~srcip.proxyproto.ProxyHeader` (``None`` for a direct connection),
   the socket peer and the effective peer. Pass ``peer`` and ``header`` to
   :func:`srcip.clientip.resolve` for every request on the connection (the header applies
   to all of them, gunicorn#899).

Structured concurrency: ``async with ProxyProtocolServer(...) as server`` listens; leaving
the block stops accepting, lets running handlers finish for ``shutdown_timeout`` seconds,
cancels the rest and waits for them, so no task outlives the block. A handler's exception
is logged and closes only its connection. TCP only (a unix listener has no peer address to
gate on).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

from srcip.clientip.addresses import parse_peer
from srcip.clientip.trust import TrustConfig
from srcip.errors import ProxyProtocolError
from srcip.proxyproto import (
    DEFAULT_MAX_HEADER_SIZE,
    NEED_DATA,
    Command,
    ErrorKind,
    Family,
    Parser,
    ProxyHeader,
)

__all__ = ["Handler", "ProxiedConnection", "ProxyProtocolMode", "ProxyProtocolServer"]

logger = logging.getLogger(__name__)

_IP_FAMILIES = frozenset({Family.TCP4, Family.TCP6, Family.INET, Family.INET6})


class ProxyProtocolMode(StrEnum):
    """Whether trusted peers must send a PROXY header (untrusted peers never may)."""

    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxiedConnection:
    """What a handler gets: the stream after the header, the header, and both peers.

    ``peer`` is the socket peer (``"ip:port"`` or ``"[v6]:port"``); ``effective_peer`` the
    header's source for a ``PROXY`` command over IPv4/IPv6, else ``peer`` (LOCAL, UNSPEC,
    v1 UNKNOWN and UNIX keep the real endpoint, spec §2.1–2.2).
    """

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    header: ProxyHeader | None
    peer: str
    effective_peer: str


Handler = Callable[[ProxiedConnection], Awaitable[None]]


def format_endpoint(host: object, port: object) -> str:
    """``ip:port``, or ``[v6]:port`` when the host contains a colon."""
    text = str(host)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def effective_peer(peer: str, header: ProxyHeader | None) -> str:
    """The address the connection was relayed for, per the header, else the socket peer."""
    if (
        header is None
        or header.command is not Command.PROXY
        or header.family not in _IP_FAMILIES
        or header.src is None
    ):
        return peer
    return format_endpoint(header.src, header.src_port)


class _HeaderProtocol(asyncio.Protocol):
    """Collects bytes until the header is decided, then gives the transport away.

    ``outcome`` resolves to the header, ``None`` (a direct connection) or the exception
    that ended the connection; results rather than future exceptions, so an outcome
    nobody awaits (the server shut down first) is never reported as unretrieved.
    """

    def __init__(self, server: ProxyProtocolServer) -> None:
        self._server = server
        self._parser = Parser(max_header_size=server.max_header_size)
        self._received = bytearray()
        self._lost = False
        self.outcome: asyncio.Future[ProxyHeader | Exception | None] = server.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = format_endpoint(host, port)
        ip = parse_peer(self.peer).ip
        config, mode = self._server.config, self._server.mode
        if ip is None or not config.is_proxy_protocol_trusted(ip):
            if mode is ProxyProtocolMode.REQUIRED:
                logger.info("refused %s: not in proxy_protocol_trusted", self.peer)
                transport.close()
                return
            self._decide(None)  # a direct connection: its bytes are never examined
        self._server.spawn(self)

    # Reading is paused as soon as the outcome is decided (a header, a direct connection or
    # an error), so data_received and eof_received only ever see an undecided connection.

    def data_received(self, data: bytes) -> None:
        self._received += data
        self._parser.receive_data(data)
        self._advance()

    def eof_received(self) -> bool:
        self._parser.receive_data(b"")  # the parser reports "incomplete"
        self._advance()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        # Decided but not yet handed off (a reset racing the hand-off): tell the stream.
        self._lost = self.outcome.done()
        self._finish(ConnectionResetError("connection lost before a PROXY header"))

    def _advance(self) -> None:
        try:
            event = self._parser.next_event()
        except ProxyProtocolError as exc:
            direct = exc.kind == ErrorKind.NOT_PROXY_PROTOCOL
            if direct and self._server.mode is ProxyProtocolMode.OPTIONAL:
                self._decide(None)
            else:
                self._finish(exc)
            return
        if event is not NEED_DATA:
            assert isinstance(event, ProxyHeader)
            self._decide(event)

    def _decide(self, header: ProxyHeader | None) -> None:
        assert self.transport is not None
        self.transport.pause_reading()  # until the stream protocol takes over
        del self._received[: 0 if header is None else header.consumed]
        self.outcome.set_result(header)

    def _finish(self, exc: Exception) -> None:
        if not self.outcome.done():
            assert self.transport is not None
            self.transport.pause_reading()  # the parser takes no more bytes after an error
            self.outcome.set_result(exc)

    def hand_off(self, limit: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Switch the transport to a stream protocol, replaying what followed the header."""
        assert self.transport is not None
        reader = asyncio.StreamReader(limit=limit)
        protocol = asyncio.StreamReaderProtocol(reader)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if self._received:
            reader.feed_data(bytes(self._received))
        if self._lost:
            protocol.connection_lost(None)  # the reader ends after the replayed bytes
        else:
            self.transport.resume_reading()
        writer = asyncio.StreamWriter(self.transport, protocol, reader, self._server.loop)
        return reader, writer


class ProxyProtocolServer:
    """``async with`` listener on ``host:port`` (port 0: any free port, see ``address``)."""

    def __init__(
        self,
        handler: Handler,
        config: TrustConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: ProxyProtocolMode | str = ProxyProtocolMode.REQUIRED,
        header_timeout: float = 5.0,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        shutdown_timeout: float = 5.0,
        limit: int = 2**16,
    ) -> None:
        self.handler = handler
        self.config = config
        self.host, self.port = host, port
        self.mode = ProxyProtocolMode(mode)
        self.header_timeout = header_timeout
        self.max_header_size = max_header_size
        self.shutdown_timeout = shutdown_timeout
        self.limit = limit
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (the server only exists inside one)."""
        return asyncio.get_running_loop()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        assert self._server is not None, "use the server inside `async with`"
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def __aenter__(self) -> ProxyProtocolServer:
        self._server = await self.loop.create_server(
            lambda: _HeaderProtocol(self), self.host, self.port
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.shutdown_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()

    def spawn(self, protocol: _HeaderProtocol) -> None:
        """Run one connection in a task the server owns until it ends."""
        task = self.loop.create_task(self._serve(protocol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, protocol: _HeaderProtocol) -> None:
        assert protocol.transport is not None
        transport = protocol.transport
        try:
            async with asyncio.timeout(self.header_timeout):
                outcome = await asyncio.shield(protocol.outcome)
        except TimeoutError:
            outcome = TimeoutError(f"no PROXY header within {self.header_timeout} s")
        except asyncio.CancelledError:
            transport.close()
            raise
        if isinstance(outcome, Exception):
            logger.info("closed %s before the handler: %r", protocol.peer, outcome)
            transport.close()
            return
        reader, writer = protocol.hand_off(self.limit)
        connection = ProxiedConnection(
            reader=reader,
            writer=writer,
            header=outcome,
            peer=protocol.peer,
            effective_peer=effective_peer(protocol.peer, outcome),
        )
        try:
            await self.handler(connection)
        except Exception:
            logger.exception("handler failed for %s", protocol.peer)
        finally:
            writer.close()
