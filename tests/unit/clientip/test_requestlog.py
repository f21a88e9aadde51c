"""Request logging: the seed's message, structured fields, escaping, unresolved clients."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.requestlog import (
    LOGGER_NAME,
    MAX_PATH,
    log_request,
    peer_of,
    request_fields,
)
from srcip.clientip.resolve import Resolution, Status, resolve
from srcip.clientip.trust import TrustConfig

LOGGER = logging.getLogger(LOGGER_NAME)
CONFIG = TrustConfig(trusted_proxies=["10.0.0.0/8"])
PEER = "10.0.0.2:5555"
OK = resolve(PEER, [("X-Forwarded-For", "192.0.2.1, 203.0.113.7")], CONFIG)
FAILED = resolve(PEER, [("X-Forwarded-For", "junk")], CONFIG)


def record_of(
    caplog: pytest.LogCaptureFixture, resolution: Resolution, method: str, path: str
) -> logging.LogRecord:
    """Log one request and return its record."""
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        log_request(LOGGER, resolution, method, path)
    (record,) = caplog.records
    return record


def test_message_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    """The seed's message with the resolved client, and every structured field."""
    record = record_of(caplog, OK, "GET", "/")
    assert record.getMessage() == "Request from 203.0.113.7: GET /"
    assert record.levelno == logging.INFO
    fields = {k: record.__dict__[k] for k in request_fields(OK, "GET", "/")}
    assert fields == {
        "client_ip": "203.0.113.7",
        "client_zone": None,
        "resolution_status": "ok",
        "resolution_source": "x-forwarded-for",
        "resolution_index": 1,
        "peer": "10.0.0.2:5555",
        "method": "GET",
        "path": "/",
    }


def test_unresolved_client_is_a_dash(caplog: pytest.LogCaptureFixture) -> None:
    """No address: '-' in the message, None in the field, never the proxy's address."""
    record = record_of(caplog, FAILED, "POST", "/login")
    assert record.getMessage() == "Request from -: POST /login"
    assert record.__dict__["client_ip"] is None
    assert record.__dict__["resolution_status"] == "invalid_hop"


def test_zone_is_shown(caplog: pytest.LogCaptureFixture) -> None:
    """A link-local client is written with its zone."""
    resolution = resolve("[fe80::1%eth0]:80", [], CONFIG)
    record = record_of(caplog, resolution, "GET", "/")
    assert record.getMessage() == "Request from fe80::1%eth0: GET /"
    assert record.__dict__["client_zone"] == "eth0"
    assert record.__dict__["peer"] == "[fe80::1%eth0]:80"


def test_forged_log_lines_are_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """A newline or ANSI escape in the path cannot start a new log line."""
    record = record_of(caplog, OK, "GET\r\n", "/a\nRequest from 1.2.3.4: GET /\x1b[31m")
    message = record.getMessage()
    assert "\n" not in message
    assert "\x1b" not in message
    assert (
        message
        == r"Request from 203.0.113.7: GET\x0d\x0a /a\x0aRequest from 1.2.3.4: GET /\x1b[31m"
    )


def test_long_paths_are_cut(caplog: pytest.LogCaptureFixture) -> None:
    """Paths longer than MAX_PATH are truncated with an ellipsis."""
    record = record_of(caplog, OK, "GET", "/" + "a" * 10_000)
    assert len(record.__dict__["path"]) == MAX_PATH
    assert record.__dict__["path"].endswith("…")


def test_disabled_level_skips_formatting(caplog: pytest.LogCaptureFixture) -> None:
    """Below the logger's level nothing is built or emitted."""
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        log_request(LOGGER, OK, "GET", "/")
    assert caplog.records == []


def test_peer_of_is_the_first_hop() -> None:
    """The peer is the first hop's raw text; a resolution without hops has none."""
    assert peer_of(OK) == "10.0.0.2:5555"
    assert peer_of(Resolution(status=Status.NO_PEER_IP, ip=None)) == ""


@given(st.text(max_size=300), st.text(max_size=20))
def test_message_is_always_one_printable_line(path: str, method: str) -> None:
    """Whatever the client sends, the message is a single line of printable characters."""
    fields = request_fields(OK, method, path)
    line = f"Request from 203.0.113.7: {fields['method']} {fields['path']}"
    assert all(c == "…" or " " <= c <= "~" for c in line)
