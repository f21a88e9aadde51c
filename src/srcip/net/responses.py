"""HTTP/1.1 response bytes for the echo server: status lines, heads, canned answers.

Everything a response needs but its body is precomputed at import (status lines, the
fixed header lines), so building one is a few byte concatenations. Every response
carries ``Content-Length`` (never chunked) and ``Date`` (RFC 9110 §6.6.1: an origin
server with a clock sends it; the shell refreshes the value once a second). A response
that closes the connection says ``Connection: close`` (RFC 9112 §9.6).
"""

from __future__ import annotations

from email.utils import formatdate
from http import HTTPStatus

__all__ = [
    "CONTINUE",
    "JSON",
    "METRICS",
    "TEXT",
    "error_response",
    "http_date",
    "is_sendable_status",
    "response",
    "with_close",
]

#: The interim answer to ``Expect: 100-continue`` (RFC 9110 §10.1.1).
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
#: Prometheus text exposition format 0.0.4.
METRICS = b"text/plain; version=0.0.4; charset=utf-8"

_STATUS_LINES = {
    code: f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\n".encode("ascii")
    for code in range(200, 600)
    if code in HTTPStatus._value2member_map_
}
#: Statuses whose responses carry no content (RFC 9110 §6.4.1, §15.3.5, §15.4.5).
_NO_CONTENT = frozenset({204, 304})


def is_sendable_status(code: int) -> bool:
    """Whether ``/status/<code>`` may answer with ``code``: a final status, 200 to 599."""
    return 200 <= code <= 599


def _status_line(code: int) -> bytes:
    line = _STATUS_LINES.get(code)
    return line if line is not None else f"HTTP/1.1 {code} Status {code}\r\n".encode("ascii")


def http_date(when: float) -> bytes:
    """The ``Date`` header line for a POSIX time (IMF-fixdate, RFC 9110 §5.6.7)."""
    return b"Date: " + formatdate(when, usegmt=True).encode("ascii") + b"\r\n"


def response(
    code: int,
    content_type: bytes,
    body: bytes,
    *,
    date: bytes,
    close: bool = False,
    head: bool = False,
) -> bytes:
    """One complete response; ``head`` leaves the body out but keeps its length."""
    if code in _NO_CONTENT:
        body, length = b"", b""
    else:
        length = b"Content-Type: %s\r\nContent-Length: %d\r\n" % (content_type, len(body))
    return b"".join(
        (
            _status_line(code),
            date,
            length,
            b"Connection: close\r\n\r\n" if close else b"\r\n",
            b"" if head else body,
        )
    )


def with_close(data: bytes) -> bytes:
    """A complete response made to announce ``Connection: close`` (a drain began after it
    was built); the head ends at the first blank line, so that is where the field goes."""
    if not data or b"\r\nConnection: close\r\n" in data.partition(b"\r\n\r\n")[0] + b"\r\n":
        return data
    return data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)


def error_response(code: int, detail: str, *, date: bytes) -> bytes:
    """A 4xx/5xx answer with a one-line plain-text reason; it always closes."""
    body = f"{code} {_phrase(code)}: {detail}\n".encode("utf-8", "backslashreplace")
    return response(code, TEXT, body, date=date, close=True)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"Status {code}"
