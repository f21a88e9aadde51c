"""Reserved paths, draining, metrics and the request log, through the app."""

from __future__ import annotations

import logging
from io import StringIO

import msgspec
import pytest

from srcip.clientip import TrustConfig
from srcip.net.accesslog import (
    AccessEntry,
    ClosedEntry,
    LoggingLog,
    StreamLog,
    format_closed,
    format_request,
    safe_field,
)
from srcip.net.config import LogFormat
from srcip.net.metrics import EchoMetrics
from srcip.net.peerkind import PodEnvironment
from srcip.net.responses import error_response, http_date, response, with_close
from tests.unit.net.helpers import DATE, answers_of, connect, make_app, take

NODE_ENV = PodEnvironment.from_env({"NODE_IP": "10.0.0.2"})


def _get(path: bytes, **kwargs: object) -> tuple[int, bytes]:
    app, _ = make_app(**kwargs)  # type: ignore[arg-type]
    conn = connect(app)
    conn.receive_data(b"GET " + path + b" HTTP/1.1\r\n\r\n")
    (answer,) = answers_of(take(conn))
    return answer.status, answer.body


def test_healthz_ok_then_draining() -> None:
    """/healthz is 200 ok, and 503 draining (closing) once shutdown began."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert [(a.status, a.body) for a in answers_of(take(conn))] == [(200, b"ok\n")]
    app.draining = True
    conn.receive_data(b"GET /healthz HTTP/1.1\r\n\r\n")
    replies = take(conn)
    assert [(a.status, a.body) for a in answers_of(replies)] == [(503, b"draining\n")]
    assert replies[-1].close


def test_metrics_count_echo_requests_not_probes() -> None:
    """Echo requests count by client, status and peer kind; /healthz and /metrics do not."""
    app, _ = make_app(trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]), environment=NODE_ENV)
    conn = connect(app)
    wire = b"GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
    conn.receive_data(wire * 2 + b"GET /healthz HTTP/1.1\r\n\r\nGET /status/502 HTTP/1.1\r\n\r\n")
    take(conn)
    conn.receive_data(b"GET /metrics HTTP/1.1\r\n\r\n")
    (answer,) = answers_of(take(conn))
    text = answer.body.decode()
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'srcip_echo_client_requests_total{client="203.0.113.7"} 2.0' in text
    assert 'srcip_echo_client_requests_total{client="10.0.0.2"} 1.0' in text
    assert 'srcip_echo_client_resolutions_total{source="x-forwarded-for",status="ok"} 2.0' in text
    assert 'srcip_echo_peer_kind_requests_total{peer_kind="node"} 3.0' in text
    assert 'srcip_echo_responses_total{code="200"} 3.0' in text
    assert 'srcip_echo_responses_total{code="502"} 1.0' in text


def test_log_entry_per_request() -> None:
    """Every request, reserved or not, logs the resolved client, peer and status."""
    app, log = make_app(trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]), environment=NODE_ENV)
    conn = connect(app)
    conn.receive_data(
        b"GET /x?delay=0 HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\n\r\n"
    )
    assert log.requests == [
        AccessEntry("203.0.113.7", "GET", "/x", "10.0.0.2:5555", 200, "ok", "x-forwarded-for",
                    "node"),
        AccessEntry("10.0.0.2", "GET", "/healthz", "10.0.0.2:5555", 200, "no_header", "peer",
                    "node"),
    ]  # fmt: skip


def test_refused_request_is_logged_without_client() -> None:
    """A well-formed request refused 400 (bad query) logs '-' for the client."""
    app, log = make_app()
    conn = connect(app)
    conn.receive_data(b"GET /?format=xml HTTP/1.1\r\n\r\n")
    assert log.requests[0].client is None
    assert log.requests[0].status == 400


# ------------------------------------------------------------------ log lines

ENTRY = AccessEntry("203.0.113.7", "GET", "/a", "10.0.0.2:5555", 200, "ok", "x-forwarded-for",
                    "node")  # fmt: skip


def test_text_line() -> None:
    """The seeds' 'Request from <ip>: <method> <path>' then peer, status and reasons."""
    assert format_request(ENTRY, LogFormat.TEXT, 0.0) == (
        "Request from 203.0.113.7: GET /a peer=10.0.0.2:5555 status=200 client_status=ok"
        " source=x-forwarded-for peer_kind=node"
    )


def test_json_line() -> None:
    """The JSON line carries the same facts as fields."""
    line = msgspec.json.decode(format_request(ENTRY._replace(client=None), LogFormat.JSON, 12.5))
    assert line["message"] == "Request from -: GET /a"
    assert (line["ts"], line["client_ip"], line["status"], line["peer"]) == (
        12.5, None, 200, "10.0.0.2:5555",
    )  # fmt: skip


def test_log_lines_cannot_be_forged() -> None:
    """Control characters in the path are escaped, long paths are cut."""
    line = format_request(ENTRY._replace(path="/a\nRequest from 1.2.3.4"), LogFormat.TEXT, 0)
    assert "\n" not in line
    assert "\\x0a" in line
    assert safe_field("x" * 50, 10) == "x" * 9 + "…"
    assert safe_field("/ok", 10) == "/ok"


def test_closed_lines() -> None:
    """A closed connection logs peer, reason and detail, text or JSON."""
    entry = ClosedEntry("10.0.0.2:5555", "proxy_protocol", "malformed\x00")
    assert format_closed(entry, LogFormat.TEXT, 0) == (
        "Closed 10.0.0.2:5555: proxy_protocol: malformed\\x00"
    )
    assert msgspec.json.decode(format_closed(entry, LogFormat.JSON, 1.0))["reason"] == (
        "proxy_protocol"
    )


def test_stream_log_buffers_until_flush() -> None:
    """StreamLog writes nothing until flush, then every line; a broken stream is ignored."""
    stream = StringIO()
    log = StreamLog(stream, LogFormat.JSON)
    log.request(ENTRY)
    log.closed(ClosedEntry("p", "r", "d"))
    log.note("hello")
    assert log.pending
    assert stream.getvalue() == ""
    log.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert msgspec.json.decode(lines[2])["message"] == "hello"
    assert not log.pending
    log.flush()  # nothing to write
    stream.close()
    log.request(ENTRY)
    log.flush()  # a closed stream: the line is lost, the server goes on
    assert not log.pending
    text = StreamLog(StringIO())
    text.note("plain")
    assert text._lines == ["plain"]


def test_logging_log(caplog: pytest.LogCaptureFixture) -> None:
    """LoggingLog sends each line to the srcip.echo logger at INFO."""
    log = LoggingLog()
    with caplog.at_level(logging.INFO, logger="srcip.echo"):
        log.request(ENTRY)
        log.closed(ClosedEntry("p", "r", "d"))
    assert [r.getMessage() for r in caplog.records] == [
        format_request(ENTRY, LogFormat.TEXT, 0),
        "Closed p: r: d",
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="srcip.echo"):
        log.request(ENTRY)
        log.closed(ClosedEntry("p", "r", "d"))
    assert caplog.records == []


# ------------------------------------------------------------------ responses and metrics


def test_response_bytes() -> None:
    """Status line, Date, type and length, Connection: close when closing, HEAD bodyless."""
    data = response(200, b"text/plain", b"hi", date=DATE, close=True)
    assert data == (
        b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Type: text/plain\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nhi"
    )
    assert (
        response(204, b"x", b"ignored", date=DATE)
        == b"HTTP/1.1 204 No Content\r\n" + DATE + b"\r\n"
    )
    assert response(299, b"x", b"", date=DATE).startswith(b"HTTP/1.1 299 Status 299\r\n")
    assert response(200, b"x", b"body", date=DATE, head=True).endswith(b"\r\n\r\n")
    assert error_response(431, "too big", date=DATE).endswith(
        b"Connection: close\r\n\r\n431 Request Header Fields Too Large: too big\n"
    )
    assert b"599 Status 599: x" in error_response(599, "x", date=DATE)
    assert http_date(0) == b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"


def test_metrics_closed_and_gauge() -> None:
    """Closed connections count by reason; the open-connections gauge is exposed."""
    metrics = EchoMetrics()
    metrics.observe_closed("proxy_protocol")
    metrics.open_connections.inc()
    text = metrics.exposition().decode()
    assert 'srcip_echo_connections_closed_total{reason="proxy_protocol"} 1.0' in text
    assert "srcip_echo_open_connections 1.0" in text


def test_with_close_adds_the_field_once() -> None:
    """A built response gains Connection: close in its head, never twice, body untouched."""
    data = response(200, b"text/plain", b"a\r\n\r\nb", date=DATE)
    closed = with_close(data)
    head, _, body = closed.partition(b"\r\n\r\n")
    assert head.endswith(b"\r\nConnection: close")
    assert body == b"a\r\n\r\nb"
    assert with_close(closed) == closed
    assert with_close(b"") == b""
