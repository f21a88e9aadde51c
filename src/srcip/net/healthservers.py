"""kube-proxy's two health servers on one node, answering live from the current index.

Per node, :class:`HealthServers` listens on the node's address on

* every ``healthCheckNodePort`` kube-proxy opens (KP §13.1: Services that need one, with a
  port): any method and path gets :func:`~srcip.model.healthcheck.service_health_answer`
  for the node's count of local Ready endpoints *now* (KP §13.2–§13.6), including the
  ``X-Load-Balancing-Endpoint-Weight`` header;
* the proxy's ``healthzBindAddress`` port (10256 by default): ``/healthz`` and ``/livez``
  get :func:`~srcip.model.healthcheck.proxy_health_answers` (KP §14), other paths 404.
  The lab's kube-proxy applies every change at once, so its state is always synced.

The bytes are kube-proxy's (status line, the answer's headers, ``Content-Length``, the body
as :meth:`HealthAnswer.body_bytes` writes it). A request that does not start with an HTTP
request line — a probe's PROXY header, say — gets 400 as Go's server answers (ecosystem
§1.2). Every connection is answered once and closed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus

from srcip.model.enums import IPFamily
from srcip.model.healthcheck import (
    DEFAULT_PROXIER_FAMILIES,
    HealthAnswer,
    ProxyHealthState,
    proxy_health_answers,
    service_health_answer,
)
from srcip.model.index import ClusterIndex
from srcip.model.objects import Service
from srcip.net.listening import Listening
from srcip.net.sockets import bound_socket
from srcip.net.tcp_relay import Address, Translator

__all__ = ["HealthServers", "render_answer"]

_HEAD_LIMIT = 16 * 1024
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


def render_answer(answer: HealthAnswer, *, head: bool = False) -> bytes:
    """The HTTP/1.1 response kube-proxy writes for ``answer`` (``Connection: close``)."""
    status = HTTPStatus(answer.status)
    body = answer.body_bytes()
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{name}: {value}" for name, value in answer.headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + (b"" if head else body)


def _plain(status: HTTPStatus, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path) of a request head, or None when it is not HTTP."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] not in _METHODS or not parts[2].startswith("HTTP/1."):
        return None
    return parts[0], parts[1].partition("?")[0]


class HealthServers(Listening):
    """``async with HealthServers(node, index=..., translate=...)``: the node's listeners."""

    def __init__(
        self,
        node: str,
        *,
        index: Callable[[], ClusterIndex],
        translate: Translator,
        family: IPFamily = IPFamily.IPV4,
        timeout: float = 5.0,
    ) -> None:
        self.node = node
        self.index = index
        self.translate = translate
        self.family = family
        self.timeout = timeout
        super().__init__()
        self._ports: dict[int, Service | None] = {}  # local port → Service (None: healthz)

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Every bound ``(host, port)``."""
        return tuple(s.sockets[0].getsockname()[:2] for s in self._servers)

    async def __aenter__(self) -> HealthServers:
        index = self.index()
        address = index.node(self.node).primary_ip(self.family)
        if address is None:
            return self  # no address of the family: nothing to listen on
        host = self.translate.local(address)
        wanted: dict[int, Service | None] = {
            self.translate.port(s.health_check_node_port): s
            for s in index.health_checked_services()
        }
        wanted[self.translate.port(index.config.healthz_port)] = None
        try:
            for port, service in wanted.items():
                sock = bound_socket(host, port, socket.SOCK_STREAM)
                server = await asyncio.start_server(self._accepted, sock=sock, limit=_HEAD_LIMIT)
                self._servers.append(server)
                self._ports[server.sockets[0].getsockname()[1]] = service
        except BaseException:
            await self.aclose()
            raise
        return self

    def answer(self, service: Service | None, path: str) -> HealthAnswer | None:
        """What kube-proxy on this node answers now (None: 404 on the healthz port)."""
        index = self.index()
        if service is not None:  # any path (KP §13.2)
            count = index.local_ready_counts(service).get(self.node, 0)
            return service_health_answer(service, count, proxy_healthy=True)
        if path not in ("/healthz", "/livez"):
            return None
        now = datetime.now(UTC)
        state = ProxyHealthState.synced(DEFAULT_PROXIER_FAMILIES, now)
        answers = proxy_health_answers(
            index.node(self.node), state, now=now, timeout=index.config.health_timeout_seconds
        )
        return answers[0] if path == "/healthz" else answers[1]

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that owns its task: asyncio 3.11's stream callback would log
        # the CancelledError of a connection task cancelled at shutdown.
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                head = await reader.readuntil(b"\r\n\r\n")
            writer.write(self._respond(writer.get_extra_info("sockname")[1], head))
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a probe that hung up or sent nothing: nothing to answer
        finally:
            writer.transport.abort()  # the answer is in the kernel's buffer: FIN follows it

    def _respond(self, port: int, head: bytes) -> bytes:
        request = _request_line(head)
        if request is None:
            return _plain(HTTPStatus.BAD_REQUEST, "400 Bad Request")
        method, path = request
        answer = self.answer(self._ports.get(port), path)
        if answer is None:
            return _plain(HTTPStatus.NOT_FOUND, "404 page not found\n")
        return render_answer(answer, head=method == "HEAD")
