"""An asyncio L4 relay: accept, decide, connect onward from a chosen source, splice.

The lab's load balancer and per-node data paths are :class:`TcpRelay` instances with
different ``decide`` functions. For each accepted connection ``decide(peer, local)``
returns one of

* :class:`Forward`: connect to ``host:port`` **bound to** ``source`` (the address the next
  hop must see, DESIGN.md "The lab's address plan"), write ``preamble`` first (a PROXY
  v1/v2 header from :func:`srcip.proxyproto.build`), optionally rewrite the first request
  head (an HTTP hop), then copy bytes both ways. Each direction is half-closed when its
  reader ends (``shutdown(SHUT_WR)``), so a client may send EOF and still read the answer;
* :class:`Drop`: kube-proxy's silent DROP (KP §6). In userspace the kernel has already
  completed the handshake before the relay sees the connection, so a drop cannot make
  ``connect()`` hang. The relay emulates it one step later: it accepts, reads and discards
  whatever arrives (EOF included) and never answers, then resets after ``hold``
  seconds. The client sees its request time out, as it would behind a real DROP (only
  the phase differs: read, not connect, timeout);
* :class:`Reject`: kube-proxy's REJECT (KP §6): the connection is reset at once
  (``SO_LINGER`` 0), which a client sees as ``ECONNRESET`` before any byte, where the
  kernel would answer ``ECONNREFUSED`` to the SYN. Clients count both as refused. An
  onward connection that is refused is passed back the same way.

Every read runs under a timeout (connect, request head, idle), every connection's task is
tracked, and leaving ``async with`` cancels and awaits them all: nothing outlives the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, TypeVar

from srcip.model.objects import IPAddress
from srcip.net.listening import Listening
from srcip.net.sockets import bound_socket

__all__ = [
    "Address",
    "Decide",
    "Decision",
    "Drop",
    "Forward",
    "OnForward",
    "Reject",
    "TcpRelay",
    "Translator",
    "reset",
    "sample",
]

Address = tuple[str, int]
T = TypeVar("T")

_HEAD_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


class Translator(Protocol):
    """Scenario addresses ↔ the local addresses that stand in for them (the lab's plan)."""

    def local(self, address: IPAddress) -> str:
        """The local address standing in for scenario ``address``."""
        ...

    def at_node(self, vip: IPAddress, node: str) -> str:
        """The local address on which ``node`` receives traffic for ``vip``."""
        ...

    def scenario(self, local: str) -> IPAddress | None:
        """The scenario address behind a local one (None: not in the plan)."""
        ...

    def port(self, port: int) -> int:
        """The local port bound for scenario ``port``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Forward:
    """Connect to ``host:port`` from ``source`` (None: any), send ``preamble``, splice.

    ``rewrite_head``, when set, receives the first request head (through the blank line)
    and returns the head to send instead. ``tag`` is passed to the relay's ``on_forward``.
    """

    host: str
    port: int
    source: str | None
    preamble: bytes = b""
    rewrite_head: Callable[[bytes], bytes] | None = None
    tag: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """Accept, never answer, abort after ``hold`` seconds (a silent DROP, see above)."""

    hold: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Reject:
    """Reset the connection at once (a REJECT, see above)."""

    reason: str = ""


Decision = Forward | Drop | Reject
Decide = Callable[[Address, Address], Decision | Awaitable[Decision]]
OnForward = Callable[[Address, str], None]  # (onward connection's local address, tag)


def sample(choices: Sequence[tuple[T, Fraction]], rng: random.Random) -> T:
    """One of ``choices`` drawn with its exact probability (the probabilities sum to 1)."""
    if not choices:
        raise ValueError("nothing to choose from")
    draw = Fraction(rng.random())  # exact: every float is a dyadic fraction
    total = Fraction(0)
    for item, probability in choices:
        total += probability
        if draw < total:
            return item
    return choices[-1][0]  # only reachable when the probabilities sum to less than 1


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST (``SO_LINGER`` 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # Already closed by the peer: abort() is all that is left.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpRelay(Listening):
    """``async with TcpRelay(listeners, decide) as relay``: one relay on every listener."""

    def __init__(
        self,
        listeners: Sequence[Address],
        decide: Decide,
        *,
        connect_timeout: float = 5.0,
        head_timeout: float = 5.0,
        idle_timeout: float = 30.0,
        on_forward: OnForward | None = None,
    ) -> None:
        self.listeners = tuple(listeners)
        self.decide = decide
        self.connect_timeout = connect_timeout
        self.head_timeout = head_timeout
        self.idle_timeout = idle_timeout
        self.on_forward = on_forward
        super().__init__()

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Every bound ``(host, port)``."""
        return tuple(s.sockets[0].getsockname()[:2] for s in self._servers)

    async def __aenter__(self) -> TcpRelay:
        try:
            for host, port in self.listeners:
                sock = bound_socket(host, port, socket.SOCK_STREAM)
                server = await asyncio.start_server(self._accepted, sock=sock, limit=_HEAD_LIMIT)
                self._servers.append(server)
        except BaseException:
            await self.aclose()
            raise
        return self

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that owns its task: asyncio 3.11's stream callback would log
        # the CancelledError of a connection task cancelled at shutdown.
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            reset(writer)
        finally:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        local = writer.get_extra_info("sockname")[:2]
        decision = self.decide(peer, local)
        if inspect.isawaitable(decision):
            decision = await decision
        if isinstance(decision, Reject):
            reset(writer)
        elif isinstance(decision, Drop):
            await _hold(reader, decision.hold)
            reset(writer)
        else:
            await self._forward(reader, writer, decision)

    async def _forward(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, how: Forward
    ) -> None:
        head = b""
        if how.rewrite_head is not None:
            async with asyncio.timeout(self.head_timeout):
                head = how.rewrite_head(await reader.readuntil(b"\r\n\r\n"))
        local_addr = (how.source, 0) if how.source is not None else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                up_reader, up_writer = await asyncio.open_connection(
                    how.host, how.port, local_addr=local_addr, limit=_HEAD_LIMIT
                )
        except ConnectionRefusedError:
            reset(writer)  # pass the refusal back
            return
        try:
            if self.on_forward is not None:
                self.on_forward(up_writer.get_extra_info("sockname")[:2], how.tag)
            if how.preamble or head:
                up_writer.write(how.preamble + head)
            await self._splice(reader, writer, up_reader, up_writer)
        finally:
            up_writer.transport.abort()

    async def _splice(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(reader, up_writer))
                group.create_task(self._pump(up_reader, writer))
        except* (OSError, TimeoutError):
            reset(writer)  # a reset (or a stall) on either side resets the other
            reset(up_writer)

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
            dst.write_eof()  # half-close: the other direction keeps flowing


async def _hold(reader: asyncio.StreamReader, hold: float) -> None:
    """Read and discard for ``hold`` seconds, never answering, even after an EOF.

    A half-close is not a give-up (a TCP health probe half-closes and waits), and a real
    DROP never answers either way; the bound keeps a client that left from costing more.
    """
    try:
        async with asyncio.timeout(hold):
            while await reader.read(_CHUNK):
                pass
            await asyncio.sleep(hold)
    except TimeoutError:
        return
