"""The echo server's asyncio shell: sockets, the clock, order of replies, graceful drain.

A thin shell (hypercorn's ``asyncio/tcp_server.py`` is the model) around the sans-I/O
:class:`~srcip.net.connection.EchoConnection`: each accepted socket gets an
:class:`asyncio.Protocol` that feeds the bytes in, writes the replies out in request
order (a reply held back by ``?delay=`` holds back those behind it, so pipelined answers
never overtake), and closes when a reply says so. Flow control both ways: reading pauses
while the transport's write buffer is full or ``max_pipelined`` replies wait.

Time is read in one place: a tick every second refreshes the ``Date`` line and closes
connections whose phase outlasted its limit (PROXY header, request head, body, idle);
comparing a stored start time costs nothing per request, unlike a timer per request.

Structured lifetime: ``async with EchoServer(config) as server`` listens on every
configured host (``server.addresses``; port 0 picks one and the other hosts reuse it;
``::`` is skipped with a warning on a machine without IPv6 when listening on all
addresses); leaving the block, or :meth:`EchoServer.shutdown`, drains: stop accepting,
say ``/healthz`` 503, close idle connections, let requests in flight finish for
``config.grace`` seconds (their answers carry ``Connection: close``), then abort what is
left. No callback or connection outlives the block.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from ipaddress import ip_address
from types import TracebackType
from typing import cast

from srcip.net.accesslog import LoggingLog, RequestLog, StreamLog
from srcip.net.app import EchoApp, Reply
from srcip.net.config import ALL_ADDRESSES, EchoConfig, ProxyProtocol
from srcip.net.connection import EchoConnection, Phase
from srcip.net.metrics import EchoMetrics
from srcip.net.responses import error_response, http_date, with_close
from srcip.net.sockets import bound_socket, is_missing_ipv6
from srcip.net.udp import UdpEcho

__all__ = ["EchoServer"]

logger = logging.getLogger(__name__)

_TICK_S = 1.0
_BACKLOG = 1024


class _EchoProtocol(asyncio.Protocol):
    """One accepted connection: bytes to the :class:`EchoConnection`, replies out in order."""

    def __init__(self, server: EchoServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.conn: EchoConnection | None = None
        self.phase = Phase.CLOSED
        self.since = 0.0  # loop time the phase (or a stalled write) began
        self.queue: deque[list[object]] = deque()  # [data, close, ready] behind a delay
        self.timers: list[asyncio.TimerHandle] = []
        self.write_paused = False
        self.read_paused = False
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        server = self.server
        self.transport = transport
        server.connections.add(self)
        server.metrics.open_connections.inc()
        if len(server.connections) > server.config.limits.max_connections:
            server.metrics.observe_closed("max_connections")
            transport.write(error_response(503, "too many connections", date=server.app.date))
            self._close()
            return
        peer = transport.get_extra_info("peername")[:2]
        local = transport.get_extra_info("sockname")[:2]
        self.conn = EchoConnection(
            server.app, peer, local, expect_proxy=server.expects_proxy(peer[0])
        )
        self.phase = self.conn.phase
        self.since = server.loop.time()

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is None or self.closing:
            return
        try:
            conn.receive_data(data)
        except Exception:  # a bug: log it, answer 500, keep serving everyone else
            logger.exception("echo connection from %s failed", conn.peer_text)
            conn.phase = Phase.CLOSED
            date = self.server.app.date
            conn.replies.append(Reply(error_response(500, "internal error", date=date), 0, True))
        self._after_input(conn)

    def eof_received(self) -> bool:
        conn = self.conn
        if conn is not None and not self.closing:
            conn.receive_eof()
            self._after_input(conn)
        return True  # stay half-open until the replies still owed are written

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        self.queue.clear()
        server = self.server
        if self in server.connections:
            server.connections.discard(self)
            server.metrics.open_connections.dec()
            if not server.connections:
                server.all_closed.set()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.since = self.server.loop.time()
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.since = self.server.loop.time()
        self._update_reading()

    # ------------------------------------------------------------------ replies

    def _after_input(self, conn: EchoConnection) -> None:
        if conn.phase is not self.phase:
            self.phase = conn.phase
            self.since = self.server.loop.time()
        if conn.replies:
            replies, conn.replies = conn.replies, []
            for reply in replies:
                self._send(reply)
        self.server.request_flush()

    def _send(self, reply: Reply) -> None:
        if self.closing:
            return
        if not self.queue and not reply.delay:
            self._write(reply.data, reply.close)
            return
        slot: list[object] = [reply.data, reply.close, not reply.delay]
        self.queue.append(slot)
        if reply.delay:
            timer = self.server.loop.call_later(reply.delay, self._ready, slot)
            self.timers.append(timer)
        self._update_reading()

    def _ready(self, slot: list[object]) -> None:
        slot[2] = True
        self.timers = [timer for timer in self.timers if not timer.cancelled()]
        queue = self.queue
        draining = self.server.app.draining
        while queue and queue[0][2] and not self.closing:
            data, close, _ = queue.popleft()
            assert isinstance(data, bytes)
            if draining and not queue and self.conn is not None and self.conn.phase is Phase.IDLE:
                data, close = with_close(data), True  # the last answer owed while draining
            self._write(data, bool(close))
        if not queue:
            self.since = self.server.loop.time()  # the idle clock starts after the last answer
        self._update_reading()
        self.server.request_flush()

    def _write(self, data: bytes, close: bool) -> None:
        assert self.transport is not None
        if data:
            self.transport.write(data)
        if close:
            self._close()

    def _close(self) -> None:
        self.closing = True
        self.queue.clear()
        assert self.transport is not None
        self.transport.close()

    def _update_reading(self) -> None:
        if self.closing or self.transport is None:
            return
        limit = self.server.config.limits.max_pipelined
        pause = self.write_paused or len(self.queue) >= limit
        if pause and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        elif not pause and self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    # ------------------------------------------------------------------ the clock

    def check(self, now: float) -> None:
        """Close this connection if its phase (or a stalled write) outlasted its limit."""
        conn = self.conn
        if conn is None or self.closing:
            return
        limits = self.server.config.limits
        elapsed = now - self.since
        if self.write_paused:  # the peer stopped reading our answers
            if elapsed > limits.idle_timeout:
                self.abort()
            return
        if self.queue:
            return  # answers are being held back on purpose (?delay=)
        phase = conn.phase
        if phase is Phase.PROXY:
            limit = limits.proxy_header_timeout
        elif phase is Phase.HEAD:
            limit = limits.header_timeout
        elif phase is Phase.CLOSED:
            return  # the closing reply is on its way
        else:
            limit = limits.idle_timeout
        if elapsed > limit:
            conn.timed_out()
            self._after_input(conn)

    def drain(self) -> None:
        """Shutdown began: close now unless a request is in flight."""
        conn = self.conn
        if self.closing or conn is None:
            return
        if not self.queue and conn.phase in (Phase.IDLE, Phase.PROXY):
            self._close()

    def abort(self) -> None:
        """The grace period is over."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()


class EchoServer:
    """``async with EchoServer(config) as server``: the echo server on every configured host.

    ``log`` receives the request lines (default: the ``srcip.echo`` logger).
    """

    def __init__(self, config: EchoConfig, *, log: RequestLog | None = None) -> None:
        self.config = config
        self.log: RequestLog = log or LoggingLog(fmt=config.log_format)
        self.metrics = EchoMetrics(top=config.metrics_top)
        hostname = config.hostname or socket.gethostname()
        self.app = EchoApp(config, hostname=hostname, metrics=self.metrics, log=self.log)
        self.app.date = http_date(time.time())
        self.connections: set[_EchoProtocol] = set()
        self.all_closed = asyncio.Event()
        self.all_closed.set()
        self.udp: UdpEcho | None = None
        self._servers: list[asyncio.Server] = []
        self._tick: asyncio.TimerHandle | None = None
        self._flush_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shut = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server runs in (set on entry)."""
        assert self._loop is not None, "use the server inside `async with`"
        return self._loop

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every bound TCP ``(host, port)``, in the order of ``config.hosts``."""
        return tuple(s.sockets[0].getsockname()[:2] for s in self._servers)

    @property
    def address(self) -> tuple[str, int]:
        """The first bound TCP ``(host, port)``."""
        return self.addresses[0]

    @property
    def udp_addresses(self) -> tuple[tuple[str, int], ...]:
        """Every bound UDP ``(host, port)`` (empty without ``udp_port``)."""
        return self.udp.addresses if self.udp is not None else ()

    def expects_proxy(self, peer_ip: str) -> bool:
        """Whether a peer at ``peer_ip`` must open with a PROXY header."""
        if self.config.proxy_protocol is ProxyProtocol.OFF:
            return False
        ip = ip_address(peer_ip.partition("%")[0])  # a socket's peer: always an address
        return self.config.trust.is_proxy_protocol_trusted(ip)

    async def __aenter__(self) -> EchoServer:
        self._loop = asyncio.get_running_loop()
        try:
            await self._listen()
            if self.config.udp_port is not None:
                self.udp = UdpEcho(self.app, self.config.udp_port, self._usable_hosts())
                await self.udp.start(self.loop)
        except BaseException:
            await self._close_listeners()
            raise
        self._tick = self.loop.call_later(_TICK_S, self._on_tick)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def _usable_hosts(self) -> tuple[str, ...]:
        return tuple(s.sockets[0].getsockname()[0] for s in self._servers)

    async def _listen(self) -> None:
        port = self.config.port
        for host in self.config.hosts:
            try:
                sock = bound_socket(host, port, socket.SOCK_STREAM)
            except OSError as exc:
                if host == "::" and self.config.hosts == ALL_ADDRESSES and is_missing_ipv6(exc):
                    logger.warning("no IPv6 on this machine: listening on IPv4 only")
                    continue
                raise
            server = await self.loop.create_server(
                lambda: _EchoProtocol(self), sock=sock, backlog=_BACKLOG
            )
            self._servers.append(server)
            port = port or sock.getsockname()[1]  # port 0: every host gets the first's port

    def request_flush(self) -> None:
        """Write buffered log lines once this loop turn's work is done."""
        if not self._flush_pending and isinstance(self.log, StreamLog) and self.log.pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if isinstance(self.log, StreamLog):
            self.log.flush()

    def _on_tick(self) -> None:
        self.app.date = http_date(time.time())
        now = self.loop.time()
        for proto in list(self.connections):
            proto.check(now)
        self.request_flush()
        self._tick = self.loop.call_later(_TICK_S, self._on_tick)

    async def shutdown(self, grace: float | None = None) -> None:
        """Drain (see the module docstring) within ``grace`` (default ``config.grace``)."""
        if self._shut or self._loop is None:
            return
        self._shut = True
        grace = self.config.grace if grace is None else grace
        self.app.draining = True
        for server in self._servers:
            server.close()
        if self.udp is not None:
            self.udp.close()
        await asyncio.sleep(0)  # read what already arrived before closing idle connections
        for proto in list(self.connections):
            proto.drain()
        if self.connections:
            self.all_closed.clear()
            try:
                async with asyncio.timeout(grace):
                    await self.all_closed.wait()
            except TimeoutError:
                logger.warning("%d connections still open after %g s", len(self.connections), grace)
        for proto in list(self.connections):
            proto.abort()
        await self._close_listeners()
        self._flush()

    async def _close_listeners(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        if self.udp is not None:
            self.udp.close()
