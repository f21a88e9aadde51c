"""One log line per request, and one per connection closed for a protocol reason.

The request line follows the seeds' ``Request from <ip>: <method> <path>`` (the Flask and
Express snippets), where ``<ip>`` is the *resolved* client (``-`` when none could be
named, so a proxy's address never stands in for it), followed by what a debugging user
needs beside it::

    Request from 203.0.113.7: GET / peer=10.0.1.2:41234 status=200 client_status=ok \
source=x-forwarded-for peer_kind=node

``--log-format json`` writes the same facts as one JSON object per line, with ``ts`` (POSIX
seconds) and the message. Method and path come from the client, so control and non-ASCII
characters are escaped and the path is cut (:func:`srcip.clientip.explain.safe_text`, as in
:mod:`srcip.clientip.requestlog`): a request cannot forge a log line.

Sinks: :class:`StreamLog` buffers lines and writes them once per event-loop iteration (the
server calls :meth:`StreamLog.flush`), which keeps logging off the per-request cost;
:class:`LoggingLog` hands each line to a :mod:`logging` logger, for embedding (the lab).
"""

from __future__ import annotations

import logging
import time
from typing import NamedTuple, Protocol, TextIO

import msgspec

from srcip.clientip.explain import safe_text
from srcip.clientip.requestlog import MAX_PATH
from srcip.net.config import LogFormat

__all__ = [
    "LOGGER_NAME",
    "AccessEntry",
    "ClosedEntry",
    "LoggingLog",
    "RequestLog",
    "StreamLog",
    "format_closed",
    "format_request",
    "safe_field",
]

#: The logger :class:`LoggingLog` writes to unless given another.
LOGGER_NAME = "srcip.echo"
_MAX_METHOD = 32


class AccessEntry(NamedTuple):
    """The facts of one request's line (a named tuple: one is built per request)."""

    client: str | None
    method: str
    path: str
    peer: str
    status: int
    client_status: str
    source: str
    peer_kind: str


class ClosedEntry(NamedTuple):
    """A connection closed before or instead of an HTTP answer."""

    peer: str
    reason: str
    detail: str


class RequestLog(Protocol):
    """Where the lines go."""

    def request(self, entry: AccessEntry) -> None:
        """Record one request."""

    def closed(self, entry: ClosedEntry) -> None:
        """Record one connection closed for a protocol reason."""


def safe_field(text: str, limit: int) -> str:
    """``text`` as it may appear in a log: printable ASCII, at most ``limit`` characters."""
    if len(text) <= limit and text.isascii() and text.isprintable() and "\\" not in text:
        return text  # the common case, without a per-character pass
    return safe_text(text, limit)


def format_request(entry: AccessEntry, fmt: LogFormat, ts: float) -> str:
    """The request's line, without the newline."""
    client = entry.client or "-"
    method = safe_field(entry.method, _MAX_METHOD)
    path = safe_field(entry.path, MAX_PATH)
    message = f"Request from {client}: {method} {path}"
    if fmt is LogFormat.TEXT:
        return (
            f"{message} peer={entry.peer} status={entry.status}"
            f" client_status={entry.client_status} source={entry.source}"
            f" peer_kind={entry.peer_kind}"
        )
    return msgspec.json.encode(
        {
            "ts": round(ts, 3),
            "message": message,
            "client_ip": entry.client,
            "method": method,
            "path": path,
            "peer": entry.peer,
            "status": entry.status,
            "client_status": entry.client_status,
            "source": entry.source,
            "peer_kind": entry.peer_kind,
        }
    ).decode()


def format_closed(entry: ClosedEntry, fmt: LogFormat, ts: float) -> str:
    """The line of a connection closed for a protocol reason, without the newline."""
    detail = safe_field(entry.detail, 300)
    if fmt is LogFormat.TEXT:
        return f"Closed {entry.peer}: {entry.reason}: {detail}"
    return msgspec.json.encode(
        {
            "ts": round(ts, 3),
            "message": f"Closed {entry.peer}: {entry.reason}",
            "peer": entry.peer,
            "reason": entry.reason,
            "detail": detail,
        }
    ).decode()


class StreamLog:
    """Buffered lines to a text stream; :meth:`flush` writes them (once per loop turn)."""

    def __init__(self, stream: TextIO, fmt: LogFormat = LogFormat.TEXT) -> None:
        self.stream = stream
        self.format = fmt
        self._lines: list[str] = []

    def request(self, entry: AccessEntry) -> None:
        """Buffer one request's line."""
        self._lines.append(format_request(entry, self.format, time.time()))

    def closed(self, entry: ClosedEntry) -> None:
        """Buffer one closed connection's line."""
        self._lines.append(format_closed(entry, self.format, time.time()))

    def note(self, message: str) -> None:
        """Buffer a line about the server itself (start, drain)."""
        if self.format is LogFormat.TEXT:
            self._lines.append(message)
        else:
            ts = round(time.time(), 3)
            self._lines.append(msgspec.json.encode({"ts": ts, "message": message}).decode())

    @property
    def pending(self) -> bool:
        """Whether lines wait to be written."""
        return bool(self._lines)

    def flush(self) -> None:
        """Write the buffered lines; a broken stream loses them, never the server."""
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or file: logging must not kill serving
            pass


class LoggingLog:
    """Each line through a :mod:`logging` logger at INFO (skipped when INFO is off)."""

    def __init__(
        self, logger: logging.Logger | None = None, fmt: LogFormat = LogFormat.TEXT
    ) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.format = fmt

    def request(self, entry: AccessEntry) -> None:
        """Log one request."""
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("%s", format_request(entry, self.format, time.time()))

    def closed(self, entry: ClosedEntry) -> None:
        """Log one closed connection."""
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("%s", format_closed(entry, self.format, time.time()))
