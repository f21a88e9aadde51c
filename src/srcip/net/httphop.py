"""An HTTP/1.1 hop: one request per connection, its head rewritten, then spliced.

The lab's edge proxies (CDN, WAF) and ingress controllers are :class:`HttpHop` instances.
For each accepted connection the hop reads a PROXY protocol header if the bytes start
with one (v1 ``PROXY`` or the v2 signature), then the request head up to the blank line,
and asks ``decide(Incoming)``, which answers

* :class:`Onward`: connect to ``host:port`` **bound to** ``source`` (the address the next
  listener must see, DESIGN.md "The lab's address plan"), write the PROXY header
  ``proxy`` (if any), the request line and ``headers`` exactly as given, the body bytes
  already read, then copy bytes both ways until each side ends;
* :class:`Refuse`: answer ``status`` with ``reason`` as a plain-text body and close (an
  HTTP proxy's 400 to a request it cannot read, or a 502).

Whether a PROXY header is accepted is the decision's business (the hop only parses it),
so the hop does what the model of the hop says, no more. Every read runs under a timeout,
every connection's task is tracked and leaving ``async with`` cancels and awaits them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from srcip.errors import ProxyProtocolError
from srcip.net.listening import Listening
from srcip.proxyproto import ProxyHeader, build
from srcip.proxyproto.codec import DEFAULT_MAX_HEADER_SIZE, parse_prefix

__all__ = ["HttpHop", "Incoming", "Onward", "Refuse"]

Address = tuple[str, int]
_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024
_END = b"\r\n\r\n"
_STARTS = (b"PROXY", b"\r\n\r\n\x00\r\nQUIT\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    """One request as the hop received it: socket addresses, PROXY header, head."""

    peer: Address
    local: Address
    proxy: ProxyHeader | None
    request_line: str
    headers: tuple[tuple[str, str], ...]  # names as sent, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class Onward:
    """Send the request to ``host:port`` from ``source`` with this PROXY header and head."""

    host: str
    port: int
    source: str | None
    proxy: ProxyHeader | None
    headers: tuple[tuple[str, str], ...]
    tag: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refuse:
    """Answer ``status`` (an error) with ``reason`` and close."""

    status: int
    reason: str


HopDecide = Callable[[Incoming], Onward | Refuse]
OnForward = Callable[[Address, Address, str], None]  # (incoming peer, onward local, tag)


class _BadRequestError(Exception):
    """The bytes are no HTTP request (or PROXY header) the hop can read."""


class HttpHop(Listening):
    """``async with HttpHop(listeners, decide)``: an HTTP hop listening on ``listeners``."""

    def __init__(
        self,
        listeners: Sequence[Address],
        decide: HopDecide,
        *,
        on_forward: OnForward | None = None,
        head_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        idle_timeout: float = 30.0,
    ) -> None:
        self.listeners = tuple(listeners)
        self.decide = decide
        self.on_forward = on_forward
        self.head_timeout, self.connect_timeout = head_timeout, connect_timeout
        self.idle_timeout = idle_timeout
        super().__init__()

    @property
    def addresses(self) -> tuple[Address, ...]:
        """The bound (host, port) of every listener (port 0 resolved)."""
        return tuple(sock.getsockname()[:2] for server in self._servers for sock in server.sockets)

    async def __aenter__(self) -> HttpHop:
        try:
            for host, port in self.listeners:
                server = await asyncio.start_server(self._accepted, host, port, reuse_address=True)
                self._servers.append(server)
        except BaseException:
            await self.aclose()
            raise
        return self

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except _BadRequestError as exc:
            _answer(writer, 400, str(exc))
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        local = writer.get_extra_info("sockname")[:2]
        async with asyncio.timeout(self.head_timeout):
            proxy, head, rest = await _read_head(reader)
        lines = head.decode("latin-1").split("\r\n")
        fields = [line.split(":", 1) for line in lines[1:] if line]
        headers = tuple((n.strip(), v.strip()) for n, v in (f for f in fields if len(f) == 2))
        incoming = Incoming(
            peer=peer, local=local, proxy=proxy, request_line=lines[0], headers=headers
        )
        decision = self.decide(incoming)
        if isinstance(decision, Refuse):
            _answer(writer, decision.status, decision.reason)
            return
        await self._forward(incoming, decision, rest, reader, writer)

    async def _forward(
        self,
        incoming: Incoming,
        how: Onward,
        rest: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        local_addr = (how.source, 0) if how.source is not None else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                up_reader, up_writer = await asyncio.open_connection(
                    how.host, how.port, local_addr=local_addr
                )
        except (ConnectionRefusedError, TimeoutError):
            _answer(writer, 502, f"{how.host}:{how.port} did not accept the connection")
            return
        try:
            if self.on_forward is not None:
                self.on_forward(incoming.peer, up_writer.get_extra_info("sockname")[:2], how.tag)
            head = [incoming.request_line, *(f"{n}: {v}" for n, v in how.headers), "", ""]
            preamble = build(how.proxy) if how.proxy is not None else b""
            up_writer.write(preamble + "\r\n".join(head).encode("latin-1") + rest)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(reader, up_writer))
                group.create_task(self._pump(up_reader, writer))
        except* (OSError, TimeoutError):
            pass
        finally:
            up_writer.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while True:
            async with asyncio.timeout(self.idle_timeout):
                data = await src.read(_CHUNK)
            if not data:
                break
            dst.write(data)
            async with asyncio.timeout(self.idle_timeout):
                await dst.drain()
        if dst.can_write_eof() and not dst.transport.is_closing():
            dst.write_eof()


async def _read_head(reader: asyncio.StreamReader) -> tuple[ProxyHeader | None, bytes, bytes]:
    """(PROXY header or None, request head without the blank line, body bytes read)."""
    buf = await _more(reader, b"")
    proxy: ProxyHeader | None = None
    if any(s.startswith(buf[: len(s)]) for s in _STARTS):
        while True:
            try:
                found = parse_prefix(buf, DEFAULT_MAX_HEADER_SIZE)
            except ProxyProtocolError as exc:
                raise _BadRequestError(f"broken PROXY header: {exc}") from exc
            if isinstance(found, ProxyHeader):
                proxy = found
                break
            buf = await _more(reader, buf)
    start = proxy.consumed if proxy is not None else 0
    while (end := buf.find(_END, start)) < 0:
        buf = await _more(reader, buf)
    return proxy, buf[start:end], buf[end + len(_END) :]


async def _more(reader: asyncio.StreamReader, buf: bytes) -> bytes:
    """``buf`` and the next bytes; refuses an early end or an overlong head."""
    if len(buf) > _HEAD_LIMIT:
        raise _BadRequestError("request head too long")
    data = await reader.read(_CHUNK)
    if not data:
        raise _BadRequestError("the connection ended before the request head")
    return buf + data


def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    """A complete error answer (the connection closes after it)."""
    body = (reason + "\n").encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {status} {'Bad Request' if status == 400 else 'Error'}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        writer.write(head.encode("latin-1") + body)
