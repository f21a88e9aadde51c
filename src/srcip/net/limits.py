"""The echo server's limits and timeouts: what keeps one client from taking it down.

Every bound a hostile or broken client could push is here, with nginx's and uvicorn's
defaults as the yardstick (nginx ``large_client_header_buffers 4 8k``,
``client_max_body_size 1m``, ``client_header_timeout 60s``, ``keepalive_timeout 75s``;
uvicorn ``h11_max_incomplete_event_size`` 16 KiB). What happens at each bound:

=======================  ======================================================  ======
limit                    exceeded when                                           answer
=======================  ======================================================  ======
``max_target``           the request target (path and query) is longer            414
``max_header_bytes``     the header section (names, values, 4 bytes a line)       431
``max_headers``          more field lines than this                               431
``max_body``             Content-Length, or the chunked body so far, is larger    413
``max_connections``      a connection arrives while this many are open            503
``header_timeout``       a request's header section is incomplete this long       408
``idle_timeout``         no byte arrives on a connection waiting for a request     close
``proxy_header_timeout`` no complete PROXY header this long after connecting      close
``max_delay_ms``         ``?delay=`` asks for longer                              400
``max_pipelined``        this many responses wait (delayed) on one connection     pause
=======================  ======================================================  ======

Every 4xx and the 503 close the connection after the answer (RFC 9112 §9.6: the server
cannot know where the next request starts). Timeouts are checked about once a second, so
they are accurate to a second, which is all slowloris protection needs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from srcip.errors import UsageError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what one connection may send and how long it may take; validated."""

    max_target: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body: int = 1024 * 1024
    max_connections: int = 4096
    header_timeout: float = 10.0
    idle_timeout: float = 75.0
    proxy_header_timeout: float = 5.0
    max_delay_ms: int = 60_000
    max_pipelined: int = 32

    def __post_init__(self) -> None:
        for spec in fields(self):
            _check(spec.name, getattr(self, spec.name), whole=spec.type == "int")


def _check(name: str, value: object, *, whole: bool) -> None:
    """A whole number ≥ 1 (``max_delay_ms`` ≥ 0), or seconds > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"limit {name}={value!r} is not a number. Fix: give one")
    if whole and not isinstance(value, int):
        raise UsageError(f"limit {name}={value!r} must be a whole number. Fix: drop the fraction")
    least = 0 if name == "max_delay_ms" else 1
    if (whole and value < least) or (not whole and value <= 0):
        bound = f"at least {least}" if whole else "more than 0"
        raise UsageError(f"limit {name}={value!r} is out of range. Fix: use a value {bound}")
