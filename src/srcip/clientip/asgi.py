"""ASGI middleware: resolve the client once, then limit, guard, log and count by it.

:class:`ClientIPMiddleware` goes outermost. For ``http`` and ``websocket`` scopes it calls
:func:`~srcip.clientip.resolve.resolve` with

* the peer from ``scope["client"]``: ``(host, port)`` becomes ``"host:port"`` or
  ``"[v6]:port"``; ``None``, which ASGI servers report for unix-socket listeners
  (``uvicorn --uds``, ``hypercorn --bind unix:``), becomes ``"unix:"``, trusted only when
  ``trusted_proxies`` lists the ``unix:`` token (else ``no_peer_ip``);
* the headers from ``scope["headers"]``, every field line in order, as received;
* the connection's PROXY protocol header, when the server read one and attached it as the
  scope extension ``scope["extensions"]["srcip.proxy_protocol"] = {"header": ProxyHeader}``
  (:data:`PROXY_EXTENSION`; a server built on :mod:`srcip.clientip.server` has the header
  in ``ProxiedConnection.header``). Servers without PROXY support never set it.

It then passes on a **copy** of the scope (the caller's dict and its ``state`` are left
alone) in which ``scope["state"]["srcip.resolution"]`` holds the
:class:`~srcip.clientip.resolve.Resolution` (state is created if absent) and, when an
address was resolved, ``scope["client"] = (ip, port)``. The port is the peer's when the
client *is* the socket peer (``source == "peer"``), the PROXY header's source port when it
came from there, and ``0`` when the client came from a header, which carries no reliable
port (uvicorn's convention). When no address was resolved, ``scope["client"]`` becomes
``None``, so that nothing downstream mistakes the proxy for the client (reference §7.8);
``keep_client_on_failure=True`` keeps the server's value instead. ``lifespan`` and other
scope types pass through untouched.

The other middleware read the resolution from the scope state (:func:`get_resolution`),
so they must sit *inside* :class:`ClientIPMiddleware`; without it they raise
:class:`LookupError` rather than guess:

* :class:`AccessMiddleware` answers ``403`` when an :class:`~srcip.clientip.access.AccessPolicy`
  denies the client (websocket: close code 1008 before accept, which servers send as 403);
* :class:`RateLimitMiddleware` answers ``429`` with ``Retry-After`` when the
  :class:`~srcip.clientip.ratelimit.RateLimiter` rejects (websocket: close code 1013), and
  sleeps for a ``delay`` decision before calling the app (nginx's delayed requests);
* :class:`RequestLogMiddleware` logs ``Request from <ip>: <method> <path>``
  (:mod:`srcip.clientip.requestlog`);
* :class:`MetricsMiddleware` counts the request (:mod:`srcip.clientip.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

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
from srcip.clientip.resolve import PEER, PROXY_PROTOCOL, Resolution, client_text, resolve
from srcip.clientip.trust import TrustConfig
from srcip.proxyproto import ProxyHeader

__all__ = [
    "PROXY_EXTENSION",
    "RESOLUTION_KEY",
    "ASGIApp",
    "AccessMiddleware",
    "ClientIPMiddleware",
    "MetricsMiddleware",
    "RateLimitMiddleware",
    "RequestLogMiddleware",
    "get_resolution",
    "refuse",
    "resolve_scope",
    "scope_peer",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Key of the :class:`Resolution` in ``scope["state"]``.
RESOLUTION_KEY = "srcip.resolution"
#: Scope extension through which a server hands over the connection's PROXY header.
PROXY_EXTENSION = "srcip.proxy_protocol"

_RESOLVED = frozenset({"http", "websocket"})
_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1
_TRY_AGAIN_LATER = 1013  # IANA WebSocket close code registry


def scope_peer(client: Iterable[Any] | None) -> str:
    """``scope["client"]`` as a peer for :func:`resolve`; ``None`` is a unix socket."""
    if client is None:
        return "unix:"
    host, port = client
    host = str(host)
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _proxy_header(extensions: Any) -> ProxyHeader | None:
    if not extensions:
        return None
    extension = extensions.get(PROXY_EXTENSION)
    return None if extension is None else extension.get("header")


def _peer(client: Any) -> str | tuple[Any, ...]:
    """What :func:`resolve` takes for ``scope["client"]``: the pair itself when it is one
    (resolve reads it as :func:`scope_peer` would and memoises it per config), else text."""
    return client if type(client) is tuple else scope_peer(client)


def resolve_scope(scope: Scope, config: TrustConfig) -> Resolution:
    """Resolve an ``http`` or ``websocket`` scope's client (pure: the scope is not changed)."""
    proxy = _proxy_header(scope.get("extensions"))
    return resolve(_peer(scope.get("client")), scope.get("headers", ()), config, proxy)


def get_resolution(scope: Scope) -> Resolution:
    """The resolution :class:`ClientIPMiddleware` stored; LookupError if it is not there."""
    state = scope.get("state")
    resolution = None if state is None else state.get(RESOLUTION_KEY)
    if not isinstance(resolution, Resolution):
        raise LookupError(
            f"no {RESOLUTION_KEY!r} in the ASGI scope state. Fix: wrap the app in "
            "srcip.clientip.asgi.ClientIPMiddleware outside this middleware"
        )
    return resolution


class ClientIPMiddleware:
    """Resolve the client of every http/websocket scope; see the module docstring."""

    def __init__(
        self, app: ASGIApp, config: TrustConfig, *, keep_client_on_failure: bool = False
    ) -> None:
        self.app = app
        self.config = config
        self.keep_client_on_failure = keep_client_on_failure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _RESOLVED:
            await self.app(scope, receive, send)
            return
        # On the request path, so inlined: resolve_scope() and the port choice. A (host,
        # port) tuple goes to resolve() as is: its per-config memo is keyed by the pair,
        # which it formats as scope_peer() does only when it has to parse it.
        client = scope.get("client")
        extensions = scope.get("extensions")
        proxy = _proxy_header(extensions) if extensions else None
        resolution = resolve(_peer(client), scope.get("headers", ()), self.config, proxy)
        inner = {**scope}  # a copy: the caller's scope and state are left alone (ASGI spec)
        state = scope.get("state")
        inner["state"] = (
            {**state, RESOLUTION_KEY: resolution} if state else {RESOLUTION_KEY: resolution}
        )
        ip = resolution.ip
        if ip is not None:
            source = resolution.source
            if source == PEER:
                port = 0 if client is None or client[1] is None else client[1]
            elif source == PROXY_PROTOCOL and proxy is not None and proxy.src_port is not None:
                port = proxy.src_port
            else:
                port = 0  # from a header: no reliable port
            inner["client"] = (client_text(resolution), port)
        elif not self.keep_client_on_failure:
            inner["client"] = None
        await self.app(inner, receive, send)


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    reason: str,
    *,
    close_code: int,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer ``status`` with a short text body, or close a websocket with ``close_code``."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": close_code, "reason": reason})
        return
    body = f"{reason}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    """Answer 403 to clients the policy denies (unresolved clients: per the policy)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _RESOLVED and not self.policy.is_allowed(get_resolution(scope).ip):
            await refuse(scope, send, 403, "Forbidden", close_code=_POLICY_VIOLATION)
            return
        await self.app(scope, receive, send)


class RateLimitMiddleware:
    """nginx ``limit_req`` by resolved client: 429 on reject, a sleep on delay.

    ``clock`` and ``sleep`` default to :func:`time.monotonic` and :func:`asyncio.sleep`;
    tests pass fakes. The limiter is per middleware instance (per process): behind several
    replicas each enforces its own share, as each nginx instance does.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: RateLimitConfig,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.limiter = RateLimiter(config, clock)
        self._sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _RESOLVED:
            decision = self.limiter.check(get_resolution(scope).ip)
            if decision.action is Action.REJECT:
                retry = retry_after_header(decision)
                headers = () if retry is None else ((b"retry-after", retry.encode("ascii")),)
                await refuse(
                    scope,
                    send,
                    429,
                    "Too Many Requests",
                    close_code=_TRY_AGAIN_LATER,
                    headers=headers,
                )
                return
            if decision.action is Action.DELAY:
                await self._sleep(decision.delay)
        await self.app(scope, receive, send)


class RequestLogMiddleware:
    """Log every http/websocket request by resolved client (:mod:`.requestlog`)."""

    def __init__(
        self, app: ASGIApp, logger: logging.Logger | None = None, *, level: int = logging.INFO
    ) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _RESOLVED:
            method = scope.get("method", "WEBSOCKET")
            log_request(
                self.logger, get_resolution(scope), method, scope.get("path", ""), level=self.level
            )
        await self.app(scope, receive, send)


class MetricsMiddleware:
    """Count every http/websocket request by client and resolution status."""

    def __init__(self, app: ASGIApp, metrics: ClientMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _RESOLVED:
            self.metrics.observe(get_resolution(scope))
        await self.app(scope, receive, send)
