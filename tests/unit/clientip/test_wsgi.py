"""WSGI middleware through werkzeug's test client and hand-built environs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from ipaddress import IPv4Address
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from prometheus_client import CollectorRegistry
from werkzeug.test import Client, TestResponse, create_environ, run_wsgi_app

from srcip.clientip.access import AccessPolicy
from srcip.clientip.metrics import ClientMetrics
from srcip.clientip.ratelimit import Limit, RateLimitConfig
from srcip.clientip.resolve import Status
from srcip.clientip.trust import TrustConfig
from srcip.clientip.wsgi import (
    ORIGINAL_REMOTE_ADDR,
    PROXY_HEADER_KEY,
    RESOLUTION_KEY,
    AccessMiddleware,
    ClientIPMiddleware,
    MetricsMiddleware,
    RateLimitMiddleware,
    RequestLogMiddleware,
    environ_key,
    environ_peer,
    get_resolution,
)
from srcip.proxyproto import Family, ProxyHeader

CONFIG = TrustConfig(trusted_proxies=["10.0.0.0/8"], proxy_protocol_trusted=["127.0.0.1"])
CLIENT = "203.0.113.7"
PROXY_BASE = {"REMOTE_ADDR": "10.0.0.2", "REMOTE_PORT": "5555"}


class FakeApp:
    """A WSGI app that records the environs it receives and answers 200."""

    def __init__(self) -> None:
        self.environs: list[WSGIEnvironment] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environs.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    @property
    def environ(self) -> WSGIEnvironment:
        """The only environ received."""
        (environ,) = self.environs
        return environ


def get(
    app: WSGIApplication, headers: Any = (("X-Forwarded-For", CLIENT),), **base: Any
) -> TestResponse:
    """GET /hello through ``app`` from the proxy peer (or ``base``)."""
    return Client(app).get("/hello", headers=list(headers), environ_base={**PROXY_BASE, **base})


def quiet(app: WSGIApplication, config: TrustConfig = CONFIG, **kwargs: Any) -> ClientIPMiddleware:
    """ClientIPMiddleware without the underscore warning."""
    return ClientIPMiddleware(app, config, warn_underscores=False, **kwargs)


# ------------------------------------------------------------------ ClientIPMiddleware


def test_remote_addr_from_xff_behind_a_trusted_proxy() -> None:
    """REMOTE_ADDR becomes the client; the original and the resolution are kept."""
    app = FakeApp()
    assert get(quiet(app)).status_code == 200
    environ = app.environ
    assert environ["REMOTE_ADDR"] == CLIENT
    assert environ["REMOTE_PORT"] == "5555"  # left alone, as ProxyFix does
    assert environ[ORIGINAL_REMOTE_ADDR] == "10.0.0.2"
    assert environ[RESOLUTION_KEY].status is Status.OK


def test_direct_ipv6_peer() -> None:
    """An untrusted IPv6 peer is the client; its headers are not read."""
    app = FakeApp()
    get(quiet(app), REMOTE_ADDR="2001:db8::5", REMOTE_PORT=443)
    assert app.environ["REMOTE_ADDR"] == "2001:db8::5"
    assert get_resolution(app.environ).status is Status.DIRECT


def test_repeated_lines_merged_by_the_server_keep_their_order() -> None:
    """Two XFF lines arrive merged in order; the walk still finds the rightmost untrusted."""
    app = FakeApp()
    get(
        quiet(app),
        headers=[("X-Forwarded-For", f"192.0.2.1, {CLIENT}"), ("X-Forwarded-For", "10.0.0.9")],
    )
    assert app.environ["HTTP_X_FORWARDED_FOR"] == f"192.0.2.1, {CLIENT}, 10.0.0.9"
    assert app.environ["REMOTE_ADDR"] == CLIENT
    assert get_resolution(app.environ).index == 1


def test_single_ip_header_sent_twice_reads_as_invalid_value() -> None:
    """Documented limit: merged lines hide the repetition, so the value is not one address."""
    app = FakeApp()
    config = TrustConfig(trusted_proxies=["10.0.0.0/8"], source="x-real-ip")
    get(quiet(app, config), headers=[("X-Real-IP", CLIENT), ("X-Real-IP", "192.0.2.1")])
    assert get_resolution(app.environ).status is Status.INVALID_VALUE
    assert "REMOTE_ADDR" not in app.environ


def test_underscore_spelling_collides_and_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """X_Forwarded_For lands in the same key; construction warns once about it."""
    app = FakeApp()
    with caplog.at_level(logging.WARNING, logger="srcip.clientip.wsgi"):
        middleware = ClientIPMiddleware(app, CONFIG)
    (record,) = caplog.records
    assert "HTTP_X_FORWARDED_FOR" in record.getMessage()
    assert "'x_forwarded_for'" in record.getMessage()
    get(middleware, headers=[("X_Forwarded_For", "192.0.2.66"), ("X-Forwarded-For", CLIENT)])
    assert app.environ["HTTP_X_FORWARDED_FOR"] == f"192.0.2.66, {CLIENT}"


@pytest.mark.parametrize(
    ("config", "warn"),
    [
        pytest.param(
            TrustConfig(trusted_proxies=["10.0.0.0/8"], source="forwarded"), True, id="no-dash"
        ),
        pytest.param(CONFIG, False, id="silenced"),
    ],
)
def test_no_underscore_warning(
    config: TrustConfig, warn: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Names without '-' cannot collide; warn_underscores=False silences the warning."""
    with caplog.at_level(logging.WARNING, logger="srcip.clientip.wsgi"):
        ClientIPMiddleware(FakeApp(), config, warn_underscores=warn)
    assert caplog.records == []


def test_failure_removes_remote_addr_unless_asked_to_keep_it() -> None:
    """An invalid hop removes REMOTE_ADDR, so the proxy is never taken for the client."""
    app = FakeApp()
    get(quiet(app), headers=[("X-Forwarded-For", "junk")])
    assert "REMOTE_ADDR" not in app.environ
    assert app.environ[ORIGINAL_REMOTE_ADDR] == "10.0.0.2"
    kept = FakeApp()
    get(quiet(kept, keep_remote_addr_on_failure=True), headers=[("X-Forwarded-For", "junk")])
    assert kept.environ["REMOTE_ADDR"] == "10.0.0.2"


@pytest.mark.parametrize(
    ("config", "remote_addr", "status"),
    [
        pytest.param(TrustConfig(trusted_proxies=["unix:"]), CLIENT, Status.OK, id="unix-trusted"),
        pytest.param(CONFIG, None, Status.NO_PEER_IP, id="unix-untrusted"),
    ],
)
def test_empty_remote_addr_is_a_unix_socket(
    config: TrustConfig, remote_addr: str | None, status: Status
) -> None:
    """REMOTE_ADDR '' (gunicorn on a unix socket) is trusted only via the unix: token."""
    app = FakeApp()
    get(quiet(app, config), REMOTE_ADDR="")
    assert app.environ.get("REMOTE_ADDR") == remote_addr
    assert get_resolution(app.environ).status is status


def test_proxy_header_from_the_environ() -> None:
    """A PROXY header the server put in srcip.proxy_header names the client."""
    header = ProxyHeader(
        version=1,
        family=Family.TCP4,
        src=IPv4Address(CLIENT),
        dst=IPv4Address("198.51.100.10"),
        src_port=51234,
        dst_port=443,
    )
    app = FakeApp()
    get(quiet(app), headers=(), REMOTE_ADDR="127.0.0.1", **{PROXY_HEADER_KEY: header})
    assert app.environ["REMOTE_ADDR"] == CLIENT
    assert get_resolution(app.environ).source == "proxy-protocol"


@pytest.mark.parametrize(
    ("environ", "peer"),
    [
        pytest.param({"REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "80"}, "192.0.2.1:80", id="v4"),
        pytest.param(
            {"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": 80}, "[2001:db8::1]:80", id="v6-int"
        ),
        pytest.param({"REMOTE_ADDR": "192.0.2.1"}, "192.0.2.1", id="no-port"),
        pytest.param({"REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": ""}, "192.0.2.1", id="empty-port"),
        pytest.param({}, "unix:", id="missing"),
    ],
)
def test_environ_peer(environ: dict[str, Any], peer: str) -> None:
    """REMOTE_ADDR/REMOTE_PORT become the peer text resolve() parses."""
    assert environ_peer(environ) == peer


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("x-forwarded-for", "HTTP_X_FORWARDED_FOR"),
        ("forwarded", "HTTP_FORWARDED"),
        ("cf-connecting-ip", "HTTP_CF_CONNECTING_IP"),
    ],
)
def test_environ_key(header: str, key: str) -> None:
    """Header names map to CGI keys: upper case, '-' to '_', HTTP_ prefix."""
    assert environ_key(header) == key


def test_missing_remote_addr_in_a_hand_built_environ() -> None:
    """An environ with no REMOTE_ADDR at all records None as the original."""
    app = FakeApp()
    environ = create_environ("/")
    environ.pop("REMOTE_ADDR", None)
    run_wsgi_app(quiet(app), environ)
    assert app.environ[ORIGINAL_REMOTE_ADDR] is None
    assert get_resolution(app.environ).status is Status.NO_PEER_IP


def test_get_resolution_without_the_middleware_is_a_lookup_error() -> None:
    """Middleware stacked without ClientIPMiddleware fail loudly, naming the fix."""
    with pytest.raises(LookupError, match="ClientIPMiddleware"):
        get(AccessMiddleware(FakeApp(), AccessPolicy(allow=())))


# ------------------------------------------------------------------ access, rate limit


@pytest.mark.parametrize(
    ("cidr", "status"),
    [
        pytest.param("203.0.113.0/24", 200, id="allowed"),
        pytest.param("192.0.2.0/24", 403, id="denied"),
    ],
)
def test_access_middleware(cidr: str, status: int) -> None:
    """Clients outside the allowed blocks get 403 Forbidden with a text body."""
    response = get(quiet(AccessMiddleware(FakeApp(), AccessPolicy.from_cidrs([cidr]))))
    assert response.status_code == status
    if status == 403:
        assert response.get_data() == b"Forbidden\n"
        assert response.headers["Content-Length"] == "10"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_delays_then_rejects_with_retry_after() -> None:
    """burst=1 delayed: the 2nd request sleeps 0.5 s, the 3rd gets 429 and Retry-After."""
    slept: list[float] = []
    app = FakeApp()
    limiter = RateLimitMiddleware(
        app,
        RateLimitConfig(default=Limit(rate="2r/s", burst=1)),
        clock=FakeClock(),
        sleep=slept.append,
    )
    stacked = quiet(limiter)
    codes = [get(stacked).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert slept == [0.5]
    rejected = get(stacked)
    assert rejected.headers["Retry-After"] == "1"
    assert rejected.get_data() == b"Too Many Requests\n"
    assert len(app.environs) == 2


def test_rate_limit_unresolved_rejected_without_retry_after() -> None:
    """Unresolved clients are rejected by default and told nothing about retrying."""
    stacked = quiet(RateLimitMiddleware(FakeApp(), RateLimitConfig(default=Limit(rate="1r/s"))))
    response = get(stacked, headers=[("X-Forwarded-For", "junk")])
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


# ------------------------------------------------------------------ logging, metrics


def test_request_log(caplog: pytest.LogCaptureFixture) -> None:
    """'Request from <ip>: <method> <path>' with the structured fields."""
    with caplog.at_level(logging.INFO, logger="srcip.clientip.requests"):
        get(quiet(RequestLogMiddleware(FakeApp())))
    (record,) = caplog.records
    assert record.getMessage() == f"Request from {CLIENT}: GET /hello"
    assert record.__dict__["peer"] == "10.0.0.2:5555"
    assert record.__dict__["resolution_source"] == "x-forwarded-for"


def test_request_log_custom_logger_and_level(caplog: pytest.LogCaptureFixture) -> None:
    """A given logger and level are used."""
    with caplog.at_level(logging.DEBUG, logger="app.access"):
        get(
            quiet(
                RequestLogMiddleware(
                    FakeApp(), logging.getLogger("app.access"), level=logging.DEBUG
                )
            )
        )
    assert caplog.records[0].levelno == logging.DEBUG


def test_metrics_middleware() -> None:
    """Each request is counted by client and resolution status."""
    registry = CollectorRegistry()
    stacked = quiet(MetricsMiddleware(FakeApp(), ClientMetrics(registry)))
    get(stacked)
    get(stacked, REMOTE_ADDR="198.51.100.7")
    value = registry.get_sample_value
    assert value("srcip_client_requests_total", {"client": CLIENT}) == 1
    assert value("srcip_client_resolutions_total", {"status": "direct", "source": "peer"}) == 1
