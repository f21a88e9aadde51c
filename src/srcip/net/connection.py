"""One echo connection, sans I/O: bytes in, replies out (h11's shape, httptools inside).

The shell (:mod:`srcip.net.echo`) owns the socket and the clock. It feeds what arrives to
:meth:`EchoConnection.receive_data`, takes the :class:`~srcip.net.app.Reply` objects that
appear in :attr:`EchoConnection.replies` and writes them in order, and calls
:meth:`EchoConnection.timed_out` when :attr:`EchoConnection.phase` has lasted too long.

Phases::

    PROXY   a PROXY header is required from this peer and has not arrived yet
    IDLE    waiting for the first byte of the next request
    HEAD    request line and header section arriving (slowloris: header_timeout)
    BODY    the body arriving
    CLOSED  nothing more is read: an error was answered, or the connection is ending

Parsing is llhttp (through httptools), strict: a malformed request, conflicting
``Content-Length`` / ``Transfer-Encoding`` (request smuggling) or an invalid method is
400. The limits of :class:`~srcip.net.limits.Limits` are checked as the parser reports
each part, before anything is buffered past them: 414 for the target, 431 for the header
section (also for one unterminated header line, whose bytes are counted as they are fed),
413 for the body (at once from ``Content-Length``). Any of these answers closes the
connection. An ``Upgrade`` or ``CONNECT`` request gets its echo, then the connection
closes (no protocol switch). Whatever the input, :meth:`receive_data` only ever produces
replies; the tests fuzz it with arbitrary bytes.

PROXY protocol (HAProxy spec §5): a peer listed in ``proxy_protocol_trusted`` must send a
header of the listener's version first, within ``proxy_header_timeout``; a malformed, late
or wrong-version header closes the connection with one log line and no answer (there is
no HTTP to answer yet). Other peers connect directly, and one that starts with a PROXY
signature is refused the same way (spec §5: a header from an untrusted peer is never
believed).
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

import httptools

from srcip.clientip.server import format_endpoint
from srcip.errors import ProxyProtocolError
from srcip.net.accesslog import ClosedEntry
from srcip.net.app import EchoApp, Reply, Request, Resolved
from srcip.net.document import FORWARDING_FIELDS, ConnectionFacts, connection_fragment
from srcip.net.peerkind import classify_peer
from srcip.net.responses import CONTINUE, error_response, with_close
from srcip.proxyproto import NEED_DATA, Parser, ProxyHeader

__all__ = ["EchoConnection", "Phase"]

#: HAProxy spec §2.1 and §2.2: how each version's header starts.
_V1_SIGNATURE = b"PROXY "
_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_CONTENT_LENGTH = b"content-length"
_ACCEPT = b"accept"
_EXPECT = b"expect"


class Phase(StrEnum):
    """Where the connection stands (the module docstring's table)."""

    PROXY = "proxy"
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    CLOSED = "closed"


class _HaltError(Exception):
    """Raised inside a parser callback to stop parsing (the reason is on the connection)."""


class EchoConnection:
    """The state of one connection; see the module docstring."""

    def __init__(
        self,
        app: EchoApp,
        peer: tuple[str, int],
        local: tuple[str, int],
        *,
        expect_proxy: bool = False,
    ) -> None:
        self.app = app
        self.limits = app.config.limits
        self.source = app.config.trust.header_name
        self.facts = ConnectionFacts(
            peer_ip=peer[0], peer_port=peer[1], local_ip=local[0], local_port=local[1],
            peer_kind=classify_peer(peer[0], app.config.environment),
        )  # fmt: skip
        self.peer_text = format_endpoint(peer[0], peer[1])
        self.fragment = connection_fragment(self.facts)
        self.resolved: dict[tuple[bytes, ...], Resolved] = {}
        self.replies: list[Reply] = []
        self.phase = Phase.PROXY if expect_proxy else Phase.IDLE
        self.requests = 0  # complete requests so far
        self._proxy_parser = Parser() if expect_proxy else None
        self._checked_signature = app.config.proxy_protocol == "off" or expect_proxy
        self._parser = httptools.HttpRequestParser(self)
        self._stop: tuple[int, str] | None = None
        self._head_fed = 0
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body_bytes = 0

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> None:
        """Feed bytes as they arrived; replies appear in :attr:`replies`."""
        if self.phase is Phase.CLOSED or not data:
            return
        if self.phase is Phase.PROXY:
            data = self._receive_proxy(data)
            if not data:
                return
        elif not self._checked_signature:
            self._checked_signature = True
            if data.startswith((_V1_SIGNATURE, _V2_SIGNATURE)):
                self._close("proxy_protocol", "PROXY header from a peer not allowed to send one")
                return
        self._feed(data)

    def receive_eof(self) -> None:
        """The peer closed its side: nothing more will be read."""
        if self.phase is Phase.PROXY:
            self._close("proxy_protocol", "connection ended before a complete PROXY header")
        elif self.phase is not Phase.CLOSED:
            self.phase = Phase.CLOSED
            self.replies.append(Reply(b"", 0.0, True))

    def timed_out(self) -> None:
        """The current phase lasted longer than its limit allows (the shell measures)."""
        if self.phase is Phase.PROXY:
            timeout = self.limits.proxy_header_timeout
            self._close("proxy_protocol", f"no complete PROXY header within {timeout:g} s")
        elif self.phase in (Phase.HEAD, Phase.BODY):
            self._fail(408, "the request did not arrive in time", "timeout")
        elif self.phase is Phase.IDLE:
            self.phase = Phase.CLOSED
            self.replies.append(Reply(b"", 0.0, True))

    def _receive_proxy(self, data: bytes) -> bytes:
        parser = self._proxy_parser
        assert parser is not None
        parser.receive_data(data)
        try:
            event = parser.next_event()
        except ProxyProtocolError as exc:
            self._close("proxy_protocol", f"malformed PROXY header ({exc})")
            return b""
        if event is NEED_DATA:
            return b""
        assert isinstance(event, ProxyHeader)
        setting = self.app.config.proxy_protocol
        if not setting.accepts(event.version):
            self._close("proxy_protocol", f"PROXY v{event.version} header on a {setting} listener")
            return b""
        self.facts = replace(self.facts, proxy=event)
        self.fragment = connection_fragment(self.facts)
        self.phase = Phase.IDLE
        self._proxy_parser = None
        return parser.trailing_data

    def _feed(self, data: bytes) -> None:
        continuing = self.phase is Phase.HEAD
        started = self.requests
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._end_after_last()  # the upgrade request was answered; what follows is not ours
        except httptools.HttpParserCallbackError as exc:
            if self._stop is None:  # a callback failed: a bug, reported by the shell
                raise exc.__context__ or exc from None
            code, detail = self._stop
            if code:
                self._fail(code, detail, "limit")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed request ({exc})", "bad_request")
        else:
            if self.phase is Phase.HEAD:
                # httptools buffers an unterminated header line whole: count what is fed
                # while a head is open (the chunk it began in is not counted, so the bound
                # is the limit plus one read)
                same = continuing and started == self.requests
                self._head_fed = self._head_fed + len(data) if same else 0
                if self._head_fed > self.limits.max_target + self.limits.max_header_bytes:
                    self._fail(431, "request header fields too large", "limit")

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        """A request starts."""
        self.phase = Phase.HEAD

    def on_url(self, url: bytes) -> None:
        """A piece of the request target (may come in several)."""
        self._url += url
        if len(self._url) > self.limits.max_target:
            self._halt(414, f"request target longer than {self.limits.max_target} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        """One complete field line."""
        headers = self._headers
        headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.limits.max_header_bytes:
            self._halt(431, f"header section larger than {self.limits.max_header_bytes} bytes")
        if len(headers) > self.limits.max_headers:
            self._halt(431, f"more than {self.limits.max_headers} header fields")

    def on_headers_complete(self) -> None:
        """The header section is complete: check the announced body, answer Expect."""
        self.phase = Phase.BODY
        expect = False
        for name, value in self._headers:
            if len(name) == 14 and name.lower() == _CONTENT_LENGTH:
                # llhttp has checked it is one decimal number below 2**64
                if len(value) > 20 or int(value) > self.limits.max_body:
                    self._halt(413, f"body larger than {self.limits.max_body} bytes")
            elif len(name) == 6 and name.lower() == _EXPECT:
                expect = value.lower() == b"100-continue"
        if expect:  # RFC 9110 §10.1.1: only once the announced body is acceptable
            self.replies.append(Reply(CONTINUE))

    def on_body(self, body: bytes) -> None:
        """A piece of the body."""
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body:
            self._halt(413, f"body larger than {self.limits.max_body} bytes")

    def on_message_complete(self) -> None:
        """A request is complete: answer it."""
        parser = self._parser
        source, accept = self.source, b""
        lines: list[bytes] = []
        forwarded: list[tuple[bytes, bytes]] = []
        for name, value in self._headers:
            lower = name.lower()
            if lower == source:
                lines.append(value)
                forwarded.append((name, value))
            elif lower in FORWARDING_FIELDS:
                forwarded.append((name, value))
            elif lower == _ACCEPT:
                accept = value
        request = Request(
            parser.get_method().decode("ascii"), self._url, parser.get_http_version(),
            self._headers, self._body_bytes, parser.should_keep_alive(), tuple(lines),
            forwarded, accept,
        )  # fmt: skip
        self.requests += 1
        self._reset()
        reply = self.app.respond(self, request)
        self.replies.append(reply)
        if not reply.close:
            self.phase = Phase.IDLE
            return
        self.phase = Phase.CLOSED
        self._halt(0, "")  # answer nothing pipelined after a closing reply

    # ------------------------------------------------------------------ endings

    def _halt(self, code: int, detail: str) -> None:
        self._stop = (code, detail)
        raise _HaltError

    def _fail(self, code: int, detail: str, reason: str) -> None:
        """Answer ``code`` (closing), log the reason, read nothing more."""
        self.phase = Phase.CLOSED
        self.replies.append(Reply(error_response(code, detail, date=self.app.date), 0.0, True))
        self.app.metrics.observe_response(code)
        self.app.metrics.observe_closed(reason)
        self.app.log.closed(ClosedEntry(self.peer_text, f"{code} {reason}", detail))

    def _close(self, reason: str, detail: str) -> None:
        """Close without an answer (no HTTP was spoken), with one log line."""
        self.phase = Phase.CLOSED
        self.replies.append(Reply(b"", 0.0, True))
        self.app.metrics.observe_closed(reason)
        self.app.log.closed(ClosedEntry(self.peer_text, reason, detail))

    def _end_after_last(self) -> None:
        self.phase = Phase.CLOSED
        if self.replies and not self.replies[-1].close:
            last = self.replies.pop()
            self.replies.append(last._replace(data=with_close(last.data), close=True))
        elif not self.replies:
            self.replies.append(Reply(b"", 0.0, True))
