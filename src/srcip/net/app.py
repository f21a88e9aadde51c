"""The echo server's answers: what each complete request gets back.

:class:`EchoApp` is shared by every connection of one server and does no I/O: it turns a
complete :class:`Request` into a :class:`Reply` (the response bytes, how long to hold them
back, whether the connection closes), counts it and logs it. Routes (issue 5 §1):

==================  ==========================================================================
``/healthz``        ``200 ok`` (``503 draining`` once shutdown began, so a probe on a kept-alive
                    connection sees it)
``/metrics``        Prometheus text (:mod:`srcip.net.metrics`)
``/status/<code>``  the echo document with status ``<code>`` (200–599; else 400)
anything else       the echo document (:mod:`srcip.net.document`), JSON, or text with
                    ``?format=text`` or an ``Accept`` naming ``text/plain`` but not JSON
==================  ==========================================================================

``?delay=<ms>`` (any path, at most ``limits.max_delay_ms``) holds the answer back; answers
still leave in request order. The client is resolved with :func:`srcip.clientip.resolve`
from the socket peer, the connection's PROXY header and the request's fields, exactly as
the library does for any app; the answer depends only on the lines of the configured
source field, so it is memoised per connection by those lines.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import msgspec

from srcip import __version__
from srcip.clientip import Resolution, resolve
from srcip.clientip.resolve import client_text
from srcip.net.accesslog import AccessEntry, RequestLog
from srcip.net.config import EchoConfig
from srcip.net.document import (
    ConnectionFacts,
    client_json,
    echo_document,
    pairs_json,
    render_text,
    request_json,
    tail_fragment,
)
from srcip.net.metrics import EchoMetrics
from srcip.net.peerkind import PeerKind
from srcip.net.responses import JSON, METRICS, TEXT, error_response, is_sendable_status, response

__all__ = ["SERVER_VERSION", "ConnectionView", "EchoApp", "Reply", "Request"]

SERVER_VERSION = f"srcip/{__version__}"
_encode = msgspec.json.encode
_MEMO_SIZE = 16
_HEALTHZ = b"/healthz"
_METRICS = b"/metrics"
_STATUS = b"/status/"


class Request(NamedTuple):
    """One complete request as the connection parsed it (built once per request)."""

    method: str
    target: bytes
    version: str
    headers: list[tuple[bytes, bytes]]
    body_bytes: int
    keep_alive: bool
    source_lines: tuple[bytes, ...]  # the values of the configured source field, in order
    forwarded: list[tuple[bytes, bytes]]
    accept: bytes


class Reply(NamedTuple):
    """Bytes to send, after ``delay`` seconds, in order; ``close`` ends the connection."""

    data: bytes
    delay: float = 0.0
    close: bool = False


Resolved = tuple[Resolution, bytes, str | None]


class ConnectionView(Protocol):
    """What the app reads of a connection."""

    facts: ConnectionFacts
    peer_text: str
    fragment: bytes
    resolved: dict[tuple[bytes, ...], Resolved]


class EchoApp:
    """Answers, counts and logs the requests of one server's connections."""

    def __init__(
        self, config: EchoConfig, *, hostname: str, metrics: EchoMetrics, log: RequestLog
    ) -> None:
        self.config = config
        self.hostname = hostname
        self.metrics = metrics
        self.log = log
        self.max_delay_ms = config.limits.max_delay_ms
        #: The ``Date`` line; the server refreshes it every second.
        self.date = b""
        #: Set when shutdown begins: answers close their connection, /healthz says 503.
        self.draining = False
        env = config.environment
        self._tails = {kind: tail_fragment(kind, env, hostname) for kind in PeerKind}

    def respond(self, conn: ConnectionView, request: Request) -> Reply:
        """The reply to one complete request (never raises on any request)."""
        path, _, query = request.target.partition(b"?")
        text, delay, problem = self._options(query, request.accept)
        if problem:
            return self.refuse(conn, request, 400, problem)
        resolved = self._resolve(conn, request)
        if path == _HEALTHZ:
            code, ctype, body = (
                (503, TEXT, b"draining\n") if self.draining else (200, TEXT, b"ok\n")
            )
        elif path == _METRICS:
            code, ctype, body = 200, METRICS, self.metrics.exposition()
        else:
            code = 200
            if path.startswith(_STATUS):
                code = _status_code(path[len(_STATUS) :])
                if code == 0:
                    return self.refuse(conn, request, 400, "/status/<code> needs a code 200-599")
            self.metrics.observe_echo(resolved[0], conn.facts.peer_kind)
            if text:
                ctype, body = TEXT, self._text(conn, request, resolved[0])
            else:
                ctype, body = JSON, self._json(conn, request, resolved[1])
        close = self.draining or not request.keep_alive
        data = response(
            code, ctype, body, date=self.date, close=close, head=request.method == "HEAD"
        )
        self._account(conn, request, code, resolved)
        return Reply(data, delay, close)

    def refuse(self, conn: ConnectionView, request: Request, code: int, detail: str) -> Reply:
        """A 4xx for a complete but unacceptable request; it is logged and closes."""
        self._account(conn, request, code, None)
        return Reply(error_response(code, detail, date=self.date), 0.0, True)

    def _options(self, query: bytes, accept: bytes) -> tuple[bool, float, str]:
        """(text wanted, delay in seconds, problem) from the query and ``Accept``."""
        text = b"text/plain" in accept and b"json" not in accept
        delay = 0.0
        if not query:
            return text, delay, ""
        for item in query.split(b"&"):
            key, _, value = item.partition(b"=")
            if key == b"format":
                if value not in (b"text", b"json"):
                    return text, delay, "format must be text or json"
                text = value == b"text"
            elif key == b"delay":
                if not (value.isdigit() and len(value) < 10 and int(value) <= self.max_delay_ms):
                    return text, delay, f"delay must be 0-{self.max_delay_ms} milliseconds"
                delay = int(value) / 1000
        return text, delay, ""

    def _resolve(self, conn: ConnectionView, request: Request) -> Resolved:
        found = conn.resolved.get(request.source_lines)
        if found is None:
            resolution = resolve(
                conn.peer_text, request.headers, self.config.trust, proxy=conn.facts.proxy
            )
            found = (resolution, _encode(client_json(resolution)), client_text(resolution))
            if len(conn.resolved) >= _MEMO_SIZE:
                conn.resolved.clear()
            conn.resolved[request.source_lines] = found
        return found

    def _json(self, conn: ConnectionView, request: Request, client: bytes) -> bytes:
        req = request_json(
            request.method, request.target, request.version, request.headers, request.body_bytes
        )
        return b"".join(
            (
                b"{",
                conn.fragment,
                b',"forwarded":',
                _encode(pairs_json(request.forwarded)),
                b',"client":',
                client,
                b",",
                self._tails[conn.facts.peer_kind],
                b',"request":',
                _encode(req),
                b"}\n",
            )
        )

    def _text(self, conn: ConnectionView, request: Request, resolution: Resolution) -> bytes:
        return render_text(self.document(conn, request, resolution)).encode("utf-8")

    def document(
        self, conn: ConnectionView, request: Request, resolution: Resolution
    ) -> dict[str, object]:
        """The echo document of ``request`` as plain data (what the JSON answer encodes)."""
        req = request_json(
            request.method, request.target, request.version, request.headers, request.body_bytes
        )
        env = self.config.environment
        return echo_document(conn.facts, request.forwarded, resolution, env, self.hostname, req)

    def _account(
        self, conn: ConnectionView, request: Request, code: int, resolved: Resolved | None
    ) -> None:
        self.metrics.observe_response(code)
        if resolved is None:  # a refusal: no resolution was made
            client, status, source = None, "-", "-"
        else:
            client, status, source = resolved[2], resolved[0].status, resolved[0].source
        path = request.target.partition(b"?")[0].decode("latin-1")
        entry = AccessEntry(
            client, request.method, path, conn.peer_text, code, status, source,
            conn.facts.peer_kind,
        )  # fmt: skip
        self.log.request(entry)


def _status_code(text: bytes) -> int:
    """``/status/<code>``'s code, or 0 when it is not a sendable status."""
    if not (text.isdigit() and len(text) == 3):
        return 0
    code = int(text)
    return code if is_sendable_status(code) else 0
