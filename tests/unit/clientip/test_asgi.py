"""ASGI middleware called in-process with a fake app: scope handling, 403/429, logs, metrics."""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from srcip.clientip.access import AccessPolicy, UnresolvedAccess
from srcip.clientip.asgi import (
    PROXY_EXTENSION,
    RESOLUTION_KEY,
    AccessMiddleware,
    ASGIApp,
    ClientIPMiddleware,
    MetricsMiddleware,
    RateLimitMiddleware,
    RequestLogMiddleware,
    get_resolution,
    resolve_scope,
    scope_peer,
)
from srcip.clientip.metrics import ClientMetrics
from srcip.clientip.ratelimit import Limit, RateLimitConfig, Unresolved
from srcip.clientip.resolve import Resolution, Status
from srcip.clientip.trust import TrustConfig
from srcip.proxyproto import Family, ProxyHeader

Scope = dict[str, Any]
Message = dict[str, Any]

CONFIG = TrustConfig(trusted_proxies=["10.0.0.0/8"], proxy_protocol_trusted=["127.0.0.1"])
CLIENT = "203.0.113.7"
PROXY = ("10.0.0.2", 5555)
XFF = (b"x-forwarded-for", CLIENT.encode())
V1 = ProxyHeader(
    version=1,
    family=Family.TCP4,
    src=IPv4Address(CLIENT),
    dst=IPv4Address("198.51.100.10"),
    src_port=51234,
    dst_port=443,
)


class FakeApp:
    """An ASGI app that records the scopes it receives and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    @property
    def scope(self) -> Scope:
        """The only scope received."""
        (scope,) = self.scopes
        return scope


def http_scope(
    client: tuple[str, int | None] | None = PROXY,
    headers: Sequence[tuple[bytes, bytes]] = (XFF,),
    **extra: Any,
) -> Scope:
    """A minimal http scope."""
    return {
        "type": "http",
        "method": "GET",
        "path": "/hello",
        "headers": list(headers),
        "client": client,
        **extra,
    }


def call(app: ASGIApp, scope: Scope) -> list[Message]:
    """Run one request through ``app``; return the messages it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def resolved(scope: Scope, config: TrustConfig = CONFIG, **kwargs: Any) -> Scope:
    """The scope the app sees behind ClientIPMiddleware."""
    app = FakeApp()
    call(ClientIPMiddleware(app, config, **kwargs), scope)
    return app.scope


# ------------------------------------------------------------------ ClientIPMiddleware


def test_client_from_xff_behind_a_trusted_proxy() -> None:
    """A trusted peer's X-Forwarded-For names the client; its port is 0; state holds why."""
    scope = http_scope()
    original = copy.deepcopy(scope)
    inner = resolved(scope)
    assert inner["client"] == (CLIENT, 0)
    resolution = inner["state"][RESOLUTION_KEY]
    assert (resolution.status, resolution.source, resolution.index) == (
        Status.OK,
        "x-forwarded-for",
        0,
    )
    assert scope == original  # the caller's scope is not touched


def test_direct_client_keeps_its_port_and_is_normalised() -> None:
    """An untrusted peer is the client: IPv4-mapped form unmapped, the peer port kept."""
    inner = resolved(http_scope(client=("::ffff:198.51.100.7", 4242)))
    assert inner["client"] == ("198.51.100.7", 4242)
    assert get_resolution(inner).status is Status.DIRECT


def test_trusted_peer_without_header_keeps_peer_port() -> None:
    """A trusted peer that forwarded nothing is returned with its own port (no_header)."""
    inner = resolved(http_scope(headers=()))
    assert inner["client"] == PROXY
    assert get_resolution(inner).status is Status.NO_HEADER


def test_failure_clears_client_unless_asked_to_keep_it() -> None:
    """An invalid hop gives client None, so the proxy is never taken for the client."""
    scope = http_scope(headers=[(b"x-forwarded-for", b"not-an-ip")])
    assert resolved(scope)["client"] is None
    assert get_resolution(resolved(scope)).status is Status.INVALID_HOP
    assert resolved(scope, keep_client_on_failure=True)["client"] == PROXY


def test_existing_state_is_copied_not_mutated() -> None:
    """Lifespan state already in the scope is kept, in a copy; the caller's dict is intact."""
    state = {"db": "pool"}
    inner = resolved(http_scope(state=state))
    assert inner["state"]["db"] == "pool"
    assert RESOLUTION_KEY in inner["state"]
    assert state == {"db": "pool"}


def test_repeated_field_lines_are_joined_in_order() -> None:
    """Two XFF lines are one list: the rightmost untrusted element is the client."""
    headers = [
        (b"X-Forwarded-For", b"192.0.2.1, " + CLIENT.encode()),
        (b"x-forwarded-for", b"10.0.0.9"),
    ]
    inner = resolved(http_scope(headers=headers))
    assert inner["client"] == (CLIENT, 0)
    assert get_resolution(inner).index == 1


def test_websocket_scope_is_resolved() -> None:
    """websocket scopes are resolved like http ones."""
    inner = resolved(http_scope(type="websocket"))
    assert inner["client"] == (CLIENT, 0)


def test_lifespan_passes_through_untouched() -> None:
    """lifespan scopes reach the app as the very same object."""
    app = FakeApp()
    scope: Scope = {"type": "lifespan", "state": {}}
    call(ClientIPMiddleware(app, CONFIG), scope)
    assert app.scope is scope


@pytest.mark.parametrize(
    ("config", "client", "status"),
    [
        pytest.param(
            TrustConfig(trusted_proxies=["unix:"]), (CLIENT, 0), Status.OK, id="unix-trusted"
        ),
        pytest.param(CONFIG, None, Status.NO_PEER_IP, id="unix-not-trusted"),
    ],
)
def test_unix_socket_peer(
    config: TrustConfig, client: tuple[str, int] | None, status: Status
) -> None:
    """client None (a unix-socket listener) is trusted only through the unix: token."""
    inner = resolved(http_scope(client=None), config)
    assert inner["client"] == client
    assert get_resolution(inner).status is status


def test_proxy_protocol_header_from_the_scope_extension() -> None:
    """A PROXY header in the srcip extension makes its source the client, with its port."""
    scope = http_scope(
        client=("127.0.0.1", 40000), headers=(), extensions={PROXY_EXTENSION: {"header": V1}}
    )
    inner = resolved(scope)
    assert inner["client"] == (CLIENT, 51234)
    assert get_resolution(inner).source == "proxy-protocol"


def test_proxy_protocol_header_from_an_untrusted_peer_is_forbidden() -> None:
    """A PROXY header attached for a peer outside proxy_protocol_trusted resolves nothing."""
    scope = http_scope(extensions={PROXY_EXTENSION: {"header": V1}})
    inner = resolved(scope)
    assert inner["client"] is None
    assert get_resolution(inner).status is Status.PROXY_PROTOCOL_FORBIDDEN


def test_xff_behind_a_proxy_protocol_source_gets_port_zero() -> None:
    """PROXY source trusted as a proxy, XFF read behind it: the header's client, port 0."""
    config = TrustConfig(trusted_proxies=["192.0.2.0/24"], proxy_protocol_trusted=["127.0.0.1"])
    header = ProxyHeader(
        version=1,
        family=Family.TCP4,
        src=IPv4Address("192.0.2.5"),
        dst=IPv4Address("198.51.100.10"),
        src_port=1000,
        dst_port=443,
    )
    scope = http_scope(
        client=("127.0.0.1", 40000), extensions={PROXY_EXTENSION: {"header": header}}
    )
    assert resolved(scope, config)["client"] == (CLIENT, 0)


def test_other_extensions_are_ignored() -> None:
    """Extensions without the srcip key leave the PROXY header out."""
    scope = http_scope(extensions={"http.response.trailers": {}})
    assert resolve_scope(scope, CONFIG).status is Status.OK


@pytest.mark.parametrize(
    ("client", "peer"),
    [
        pytest.param(("192.0.2.1", 80), "192.0.2.1:80", id="v4"),
        pytest.param(["2001:db8::1", 80], "[2001:db8::1]:80", id="v6-list"),
        pytest.param(("192.0.2.1", None), "192.0.2.1", id="no-port"),
        pytest.param(None, "unix:", id="unix"),
    ],
)
def test_scope_peer(client: Any, peer: str) -> None:
    """scope["client"] is turned into the peer text resolve() parses."""
    assert scope_peer(client) == peer


@given(
    st.lists(
        st.one_of(
            st.ip_addresses().map(str),
            st.sampled_from(["unknown", "_hidden", "", " ", "10.0.0.1:80", "junk"]),
        ),
        max_size=6,
    ),
    st.sampled_from([PROXY, ("198.51.100.7", 1), None]),
)
def test_client_is_always_the_resolution_or_none(elements: list[str], client: Any) -> None:
    """Whatever the headers: client is (resolution.ip, port) or None; the scope is copied."""
    scope = http_scope(client=client, headers=[(b"x-forwarded-for", ", ".join(elements).encode())])
    original = copy.deepcopy(scope)
    inner = resolved(scope)
    resolution = get_resolution(inner)
    if resolution.ip is None:
        assert inner["client"] is None
    else:
        assert inner["client"][0] == str(resolution.ip)
    assert scope == original


def test_get_resolution_without_the_middleware_is_a_lookup_error() -> None:
    """Middleware stacked without ClientIPMiddleware fail loudly, naming the fix."""
    with pytest.raises(LookupError, match="ClientIPMiddleware"):
        get_resolution(http_scope())
    with pytest.raises(LookupError):
        get_resolution(http_scope(state={}))


# ------------------------------------------------------------------ access


def stack(inner: Any, config: TrustConfig = CONFIG) -> ClientIPMiddleware:
    """ClientIPMiddleware around ``inner``."""
    return ClientIPMiddleware(inner, config)


def test_access_allows_matching_clients() -> None:
    """A client inside an allowed ipBlock reaches the app."""
    app = FakeApp()
    sent = call(
        stack(AccessMiddleware(app, AccessPolicy.from_cidrs(["203.0.113.0/24"]))), http_scope()
    )
    assert sent[0]["status"] == 200


@pytest.mark.parametrize(
    ("headers", "unresolved", "status"),
    [
        pytest.param([XFF], UnresolvedAccess.DENY, 403, id="outside"),
        pytest.param([(b"x-forwarded-for", b"junk")], UnresolvedAccess.DENY, 403, id="unresolved"),
        pytest.param([(b"x-forwarded-for", b"junk")], UnresolvedAccess.ALLOW, 200, id="allowed"),
    ],
)
def test_access_denies_with_403(
    headers: list[tuple[bytes, bytes]], unresolved: UnresolvedAccess, status: int
) -> None:
    """Clients outside the blocks get 403 with a text body; unresolved ones per the policy."""
    policy = AccessPolicy.from_cidrs(["192.0.2.0/24"], unresolved=unresolved)
    sent = call(stack(AccessMiddleware(FakeApp(), policy)), http_scope(headers=headers))
    assert sent[0]["status"] == status
    if status == 403:
        assert (b"content-length", b"10") in sent[0]["headers"]
        assert sent[1]["body"] == b"Forbidden\n"


def test_access_closes_denied_websockets() -> None:
    """A denied websocket is closed with 1008 before accept (servers answer 403)."""
    policy = AccessPolicy.from_cidrs(["192.0.2.0/24"])
    sent = call(stack(AccessMiddleware(FakeApp(), policy)), http_scope(type="websocket"))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Forbidden"}]


# ------------------------------------------------------------------ rate limiting


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limited(limit: Limit, **config: Any) -> tuple[ClientIPMiddleware, FakeApp, list[float]]:
    """ClientIP → RateLimit → app with a fake clock and recorded sleeps."""
    app = FakeApp()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    middleware = RateLimitMiddleware(
        app, RateLimitConfig(default=limit, **config), clock=FakeClock(), sleep=sleep
    )
    return stack(middleware), app, slept


def test_rate_limit_delays_then_rejects_with_retry_after() -> None:
    """burst=1 delayed: the 2nd request sleeps 1 s, the 3rd gets 429 with Retry-After."""
    app, inner, slept = limited(Limit(rate="1r/s", burst=1))
    statuses = [call(app, http_scope())[0]["status"] for _ in range(2)]
    rejected = call(app, http_scope())
    assert statuses == [200, 200]
    assert slept == [1.0]
    assert rejected[0]["status"] == 429
    assert (b"retry-after", b"1") in rejected[0]["headers"]
    assert rejected[1]["body"] == b"Too Many Requests\n"
    assert len(inner.scopes) == 2


def test_rate_limit_unresolved_rejected_without_retry_after() -> None:
    """Unresolved clients are rejected by default, without a Retry-After."""
    app, _, _ = limited(Limit(rate="10r/s"), unresolved=Unresolved.REJECT)
    sent = call(app, http_scope(headers=[(b"x-forwarded-for", b"junk")]))
    assert sent[0]["status"] == 429
    assert not any(name == b"retry-after" for name, _ in sent[0]["headers"])


def test_rate_limit_closes_websockets_with_try_again_later() -> None:
    """A rejected websocket is closed with 1013."""
    app, _, _ = limited(Limit(rate="1r/s"))
    call(app, http_scope(type="websocket"))
    sent = call(app, http_scope(type="websocket"))
    assert sent == [{"type": "websocket.close", "code": 1013, "reason": "Too Many Requests"}]


def test_middlewares_pass_lifespan_without_a_resolution() -> None:
    """Access, rate-limit, log and metrics middleware let lifespan through untouched."""
    registry = CollectorRegistry()
    for make in (
        lambda app: AccessMiddleware(app, AccessPolicy(allow=())),
        lambda app: RateLimitMiddleware(app, RateLimitConfig(default=Limit(rate="1r/s"))),
        lambda app: RequestLogMiddleware(app),
        lambda app: MetricsMiddleware(app, ClientMetrics(registry)),
    ):
        app = FakeApp()
        scope: Scope = {"type": "lifespan"}
        call(make(app), scope)
        assert app.scope is scope


# ------------------------------------------------------------------ logging and metrics


def test_request_log_names_the_resolved_client(caplog: pytest.LogCaptureFixture) -> None:
    """'Request from <ip>: <method> <path>' with status, source, index and peer fields."""
    app = stack(RequestLogMiddleware(FakeApp()))
    with caplog.at_level(logging.INFO, logger="srcip.clientip.requests"):
        call(app, http_scope())
    (record,) = caplog.records
    assert record.getMessage() == f"Request from {CLIENT}: GET /hello"
    assert record.__dict__["resolution_status"] == "ok"
    assert record.__dict__["resolution_source"] == "x-forwarded-for"
    assert record.__dict__["resolution_index"] == 0
    assert record.__dict__["peer"] == "10.0.0.2:5555"


def test_request_log_websocket_and_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    """Websockets log as WEBSOCKET; a given logger and level are used."""
    log = logging.getLogger("app.access")
    app = stack(RequestLogMiddleware(FakeApp(), log, level=logging.WARNING))
    scope = http_scope(type="websocket", path="/ws")
    del scope["method"]  # websocket scopes have none
    with caplog.at_level(logging.WARNING, logger="app.access"):
        call(app, scope)
    assert caplog.records[0].getMessage() == f"Request from {CLIENT}: WEBSOCKET /ws"


def test_metrics_count_by_client_and_status() -> None:
    """Each request is counted by client label and by resolution status."""
    registry = CollectorRegistry()
    app = stack(MetricsMiddleware(FakeApp(), ClientMetrics(registry)))
    call(app, http_scope())
    call(app, http_scope(headers=[(b"x-forwarded-for", b"junk")]))
    value = registry.get_sample_value
    assert value("srcip_client_requests_total", {"client": CLIENT}) == 1
    assert value("srcip_client_requests_total", {"client": "unresolved"}) == 1
    assert (
        value(
            "srcip_client_resolutions_total", {"status": "invalid_hop", "source": "x-forwarded-for"}
        )
        == 1
    )


def test_resolution_type_is_exported() -> None:
    """The stored object is the core's Resolution."""
    assert isinstance(get_resolution(resolved(http_scope())), Resolution)


def test_each_port_of_a_client_is_its_own_peer() -> None:
    """The middleware and resolve_scope name the peer by host and port, on a miss and a hit."""
    for port in (1, 2, 3, 1):
        inner = resolved(http_scope(client=("198.51.100.7", port)))
        assert inner["client"] == ("198.51.100.7", port)
        scope = http_scope(client=("198.51.100.7", port))
        for _ in range(2):  # a miss, then a hit
            assert resolve_scope(scope, CONFIG).hops[0].raw == f"198.51.100.7:{port}"


def test_resolve_scope_without_extensions_or_client() -> None:
    """resolve_scope reads a unix-socket scope (client None) with no extensions."""
    scope = http_scope(client=None)
    assert "extensions" not in scope
    assert resolve_scope(scope, CONFIG).status is Status.NO_PEER_IP
    unix = TrustConfig(trusted_proxies=["unix:"])
    assert resolve_scope(scope, unix).ip == IPv4Address(CLIENT)


def test_client_pairs_are_memoised_per_config_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The middleware hands the client pair to resolve(), whose per-config memo stays bounded."""
    monkeypatch.setattr(importlib.import_module("srcip.clientip.resolve"), "_MEMO_SIZE", 2)
    config = TrustConfig(trusted_proxies=["10.0.0.0/8"])
    for port in (1, 2, 3, 1):
        inner = resolved(http_scope(client=("10.0.0.2", port)), config)
        assert inner["client"] == (CLIENT, 0)
        assert get_resolution(inner).hops[0].raw == f"10.0.0.2:{port}"
        assert len(config.peer_memo) <= 2
    direct = resolved(http_scope(client=["198.51.100.7", 8]), config)  # a list: not memoised
    assert direct["client"] == ("198.51.100.7", 8)
