"""WSGI middleware: resolve the client once, then limit, guard, log and count by it.

:class:`ClientIPMiddleware` goes outermost. Per request it calls
:func:`~srcip.clientip.resolve.resolve` with

* the peer from ``REMOTE_ADDR`` and ``REMOTE_PORT`` (``"ip:port"``, ``"[v6]:port"``, or
  the bare address without a port). A missing or empty ``REMOTE_ADDR`` is what WSGI
  servers report for unix-socket listeners (gunicorn ``--bind unix:``), so it becomes
  ``"unix:"``, trusted only via the ``unix:`` token in ``trusted_proxies``;
* the configured source header, read from its CGI key (``x-forwarded-for`` →
  ``HTTP_X_FORWARDED_FOR``);
* the connection's PROXY protocol header, when the server read one and put it in
  ``environ["srcip.proxy_header"]`` (:data:`PROXY_HEADER_KEY`; a server built on
  :mod:`srcip.clientip.server` has it in ``ProxiedConnection.header``).

It stores the :class:`~srcip.clientip.resolve.Resolution` in
``environ["srcip.resolution"]``, the original ``REMOTE_ADDR`` in
``environ["srcip.original_remote_addr"]`` (``None`` if there was none), and sets
``REMOTE_ADDR`` to the resolved address. ``REMOTE_PORT`` is left alone, as werkzeug's
``ProxyFix`` leaves it. When no address was resolved, ``REMOTE_ADDR`` is removed, so that
nothing downstream mistakes the proxy for the client (reference §7.8);
``keep_remote_addr_on_failure=True`` keeps the server's value instead. The environ is
changed in place, as WSGI middleware do.

Limits of WSGI, which the raw-header ASGI path does not have (reference §7.5, §7.6):

* **Repeated field lines are already merged** by the server (joined with ``,``), so their
  order is kept for list headers but a single-IP header sent twice reads as one value
  holding a list: ``invalid_value``, not ``ambiguous_header``.
* **Underscores**: the server turns ``-`` into ``_``, so ``X-Forwarded-For`` and a
  client-sent ``X_Forwarded_For`` land in the same key, and a client may be able to
  inject or overwrite the value. gunicorn ≥ 22 and werkzeug drop underscore names, nginx
  drops them unless ``underscores_in_headers on``; other servers may not. The middleware
  logs one warning at construction when the source name contains ``-``
  (``warn_underscores=False`` silences it once you have checked your server).

The other middleware read ``environ["srcip.resolution"]`` (:func:`get_resolution`), so they
must sit *inside* :class:`ClientIPMiddleware`; without it they raise :class:`LookupError`:
:class:`AccessMiddleware` (``403``), :class:`RateLimitMiddleware` (``429`` with
``Retry-After``; a ``delay`` decision blocks the worker thread for the delay, as nginx
holds a delayed request), :class:`RequestLogMiddleware` and :class:`MetricsMiddleware`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from srcip.clientip.access import AccessPolicy
from srcip.clientip.metrics import ClientMetrics
from srcip.clientip.ratelimit import (
    Action,
    Clock,
    RateLimitConfig,
    RateLimiter,
    retry_after_header,
)
from srcip.clientip.requestlog import LOGGER_NAME, log_request
from srcip.clientip.resolve import Resolution, client_text, resolve
from srcip.clientip.trust import TrustConfig

__all__ = [
    "ORIGINAL_REMOTE_ADDR",
    "PROXY_HEADER_KEY",
    "RESOLUTION_KEY",
    "AccessMiddleware",
    "ClientIPMiddleware",
    "MetricsMiddleware",
    "RateLimitMiddleware",
    "RequestLogMiddleware",
    "environ_key",
    "environ_peer",
    "get_resolution",
    "refuse",
]

logger = logging.getLogger(__name__)

#: Key of the :class:`Resolution` in the environ.
RESOLUTION_KEY = "srcip.resolution"
#: Key of the server's ``REMOTE_ADDR`` before the middleware replaced it.
ORIGINAL_REMOTE_ADDR = "srcip.original_remote_addr"
#: Key through which a server hands over the connection's PROXY header.
PROXY_HEADER_KEY = "srcip.proxy_header"


def environ_key(header: str) -> str:
    """The CGI environ key of a header name (RFC 3875 §4.1.18): ``HTTP_X_REAL_IP``."""
    return "HTTP_" + header.upper().replace("-", "_")


def environ_peer(environ: WSGIEnvironment) -> str:
    """``REMOTE_ADDR``/``REMOTE_PORT`` as a peer for :func:`resolve`; none is a unix socket."""
    addr = environ.get("REMOTE_ADDR")
    if not addr:
        return "unix:"
    port = environ.get("REMOTE_PORT")
    if port is None or port == "":
        return str(addr)
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def get_resolution(environ: WSGIEnvironment) -> Resolution:
    """The resolution :class:`ClientIPMiddleware` stored; LookupError if it is not there."""
    resolution = environ.get(RESOLUTION_KEY)
    if not isinstance(resolution, Resolution):
        raise LookupError(
            f"no {RESOLUTION_KEY!r} in the WSGI environ. Fix: wrap the app in "
            "srcip.clientip.wsgi.ClientIPMiddleware outside this middleware"
        )
    return resolution


class ClientIPMiddleware:
    """Resolve the client of every request; see the module docstring."""

    def __init__(
        self,
        app: WSGIApplication,
        config: TrustConfig,
        *,
        keep_remote_addr_on_failure: bool = False,
        warn_underscores: bool = True,
    ) -> None:
        self.app = app
        self.config = config
        self.keep_remote_addr_on_failure = keep_remote_addr_on_failure
        self._key = environ_key(config.source)
        self._last_peer: tuple[object, object, str] = (None, None, "")
        if warn_underscores and "-" in config.source:
            logger.warning(
                "WSGI servers store %r and %r in the same key %s; unless your server drops "
                "header names with underscores (gunicorn >= 22, werkzeug and nginx do by "
                "default), a client can write that key. Pass warn_underscores=False once "
                "checked.",
                config.source,
                config.source.replace("-", "_"),
                self._key,
            )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        value = environ.get(self._key)
        headers = () if value is None else ((self.config.source, value),)
        # environ_peer(), skipped when the connection is the previous request's (keep-alive):
        # the same str address and port give the same text, and the very same str object
        # keeps its hash for the resolver's peer memo. One tuple, replaced whole: no lock.
        addr = environ.get("REMOTE_ADDR")
        port = environ.get("REMOTE_PORT")
        last = self._last_peer
        if port == last[1] and addr == last[0] and type(addr) is str and type(port) is str:
            peer = last[2]
        else:
            peer = environ_peer(environ)
            self._last_peer = (addr, port, peer)
        resolution = resolve(peer, headers, self.config, environ.get(PROXY_HEADER_KEY))
        environ[RESOLUTION_KEY] = resolution
        environ[ORIGINAL_REMOTE_ADDR] = addr
        if resolution.ip is not None:
            environ["REMOTE_ADDR"] = client_text(resolution)
        elif not self.keep_remote_addr_on_failure:
            environ.pop("REMOTE_ADDR", None)
        return self.app(environ, start_response)


def refuse(
    start_response: StartResponse,
    status: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer ``status`` (``"403 Forbidden"``) with its reason phrase as a text body."""
    body = f"{status.partition(' ')[2]}\n".encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return [body]


class AccessMiddleware:
    """Answer 403 to clients the policy denies (unresolved clients: per the policy)."""

    def __init__(self, app: WSGIApplication, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self.policy.is_allowed(get_resolution(environ).ip):
            return refuse(start_response, "403 Forbidden")
        return self.app(environ, start_response)


class RateLimitMiddleware:
    """nginx ``limit_req`` by resolved client: 429 on reject, a blocking sleep on delay.

    ``clock`` and ``sleep`` default to :func:`time.monotonic` and :func:`time.sleep`; tests
    pass fakes. WSGI servers run requests on several threads, which share the limiter; a
    lock makes each check atomic (the LRU eviction of one thread must not interleave with
    another thread's update of the same key).
    """

    def __init__(
        self,
        app: WSGIApplication,
        config: RateLimitConfig,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.app = app
        self.limiter = RateLimiter(config, clock)
        self._sleep = sleep
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        ip = get_resolution(environ).ip
        with self._lock:
            decision = self.limiter.check(ip)
        if decision.action is Action.REJECT:
            retry = retry_after_header(decision)
            headers = () if retry is None else (("Retry-After", retry),)
            return refuse(start_response, "429 Too Many Requests", headers)
        if decision.action is Action.DELAY:
            self._sleep(decision.delay)
        return self.app(environ, start_response)


class RequestLogMiddleware:
    """Log every request by resolved client (:mod:`.requestlog`)."""

    def __init__(
        self,
        app: WSGIApplication,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
    ) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.level = level

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        log_request(
            self.logger,
            get_resolution(environ),
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", ""),
            level=self.level,
        )
        return self.app(environ, start_response)


class MetricsMiddleware:
    """Count every request by client and resolution status (thread-safe, like the limiter)."""

    def __init__(self, app: WSGIApplication, metrics: ClientMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        resolution = get_resolution(environ)
        with self._lock:
            self.metrics.observe(resolution)
        return self.app(environ, start_response)
