"""Request logging by resolved client: ``Request from <ip>: <method> <path>`` plus fields.

The seed's Express and Flask snippets log ``Request from ${clientIP}: ${method} ${path}``
with whatever the framework calls the remote address. Here the address is the
:class:`~srcip.clientip.resolve.Resolution`'s, and the record carries the reasons as
structured fields (``logging`` ``extra=``, so a JSON formatter or ``%(client_ip)s`` in a
format string can use them):

==================== ==================================================================
``client_ip``        the resolved address (RFC 5952), or ``None``
``client_zone``      the IPv6 zone, or ``None``
``resolution_status`` the :class:`~srcip.clientip.resolve.Status` value (``ok``, …)
``resolution_source`` ``peer``, ``proxy-protocol`` or the header name
``resolution_index`` the client element's index in the header, or ``None``
``peer``             the socket peer the request came from (``ip:port``)
``method``, ``path`` the request line's method and path, escaped as in the message
==================== ==================================================================

An unresolved client is written ``-`` in the message (the common-log-format convention), so
the proxy's address never stands in for it. Method and path come from the client: control
and non-ASCII characters are escaped and the path is cut at :data:`MAX_PATH` characters, so
a request cannot forge log lines (uvicorn 0.11.7's log escaping fix, Envoy CVE-2024-45808).
The ASGI and WSGI middleware that call :func:`log_request` live in
:mod:`srcip.clientip.asgi` and :mod:`srcip.clientip.wsgi`.
"""

from __future__ import annotations

import logging

from srcip.clientip.explain import safe_text
from srcip.clientip.resolve import Resolution

__all__ = ["LOGGER_NAME", "MAX_PATH", "MESSAGE", "log_request", "peer_of", "request_fields"]

#: The logger the middleware use unless given another.
LOGGER_NAME = "srcip.clientip.requests"
#: The message format (``%``-style, so the formatting is skipped when the level is off).
MESSAGE = "Request from %s: %s %s"
#: Longest path written, in characters after escaping.
MAX_PATH = 2048
_MAX_METHOD = 32


def peer_of(resolution: Resolution) -> str:
    """The socket peer as the resolver saw it: the first hop's raw text (``""`` if none)."""
    return resolution.hops[0].raw if resolution.hops else ""


def _client(resolution: Resolution) -> str:
    if resolution.ip is None:
        return "-"
    if resolution.zone:
        return f"{resolution.ip}%{resolution.zone}"
    return str(resolution.ip)


def request_fields(resolution: Resolution, method: str, path: str) -> dict[str, object]:
    """The structured fields of one request's record (the table in the module docstring)."""
    return {
        "client_ip": None if resolution.ip is None else str(resolution.ip),
        "client_zone": resolution.zone,
        "resolution_status": str(resolution.status),
        "resolution_source": resolution.source,
        "resolution_index": resolution.index,
        "peer": safe_text(peer_of(resolution)),
        "method": safe_text(method, _MAX_METHOD),
        "path": safe_text(path, MAX_PATH),
    }


def log_request(
    logger: logging.Logger,
    resolution: Resolution,
    method: str,
    path: str,
    *,
    level: int = logging.INFO,
) -> None:
    """Log ``Request from <ip>: <method> <path>`` with the structured fields."""
    if not logger.isEnabledFor(level):
        return
    fields = request_fields(resolution, method, path)
    logger.log(level, MESSAGE, _client(resolution), fields["method"], fields["path"], extra=fields)
