"""The app's resolution: the library's resolver, PROXY expectations on both sides."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from srcip.clientip.resolve import Status
from srcip.errors import TrustConfigError
from srcip.model.appview import app_resolve, app_trust
from srcip.model.scenario import AppSpec, ProxyProtocolVersion
from srcip.model.view import View
from srcip.proxyproto import Family, ProxyHeader, Transport

POD = ip_address("10.244.1.5")
CLIENT = ip_address("203.0.113.7")
INGRESS = ip_address("10.244.2.9")


def header(version: int) -> ProxyHeader:
    """A PROXY header naming the client."""
    return ProxyHeader(
        version=version,  # type: ignore[arg-type]
        family=Family.INET,
        transport=Transport.STREAM,
        src=CLIENT,
        dst=ip_address("198.51.100.10"),
        src_port=40000,
        dst_port=80,
    )


def view(peer: object = CLIENT, **kwargs: object) -> View:
    """What the app receives."""
    return View(peer=peer, local=POD, local_port=8080, **kwargs)  # type: ignore[arg-type]


def test_no_trust_resolves_the_peer() -> None:
    """An app that trusts nobody resolves the TCP peer, ignoring any header."""
    result = app_resolve(AppSpec(), view(INGRESS, headers=(("x-forwarded-for", "1.2.3.4"),)))
    assert result.refused is None
    assert result.resolution is not None
    assert result.resolution.ip == INGRESS


def test_trusted_proxy_header_is_read() -> None:
    """Trusting the ingress pod range: the client comes from X-Forwarded-For."""
    app = AppSpec(trusted_proxies=("10.244.0.0/16",))
    result = app_resolve(app, view(INGRESS, headers=(("x-forwarded-for", str(CLIENT)),)))
    assert result.resolution is not None
    assert result.resolution.ip == CLIENT
    assert result.resolution.status is Status.OK


def test_proxy_header_is_read_by_a_proxy_listener() -> None:
    """An app listening for PROXY v2 takes the client from the header."""
    app = AppSpec(proxy_protocol=ProxyProtocolVersion.V2)
    result = app_resolve(app, view(ip_address("10.0.0.10"), proxy=header(2)))
    assert result.resolution is not None
    assert result.resolution.ip == CLIENT
    assert result.resolution.source == "proxy-protocol"


@pytest.mark.parametrize(
    ("app", "proxy", "text"),
    [
        pytest.param(AppSpec(), header(2), "does not expect one", id="unexpected-header"),
        pytest.param(
            AppSpec(proxy_protocol=ProxyProtocolVersion.V1), None, "got plain HTTP", id="missing"
        ),
        pytest.param(
            AppSpec(proxy_protocol=ProxyProtocolVersion.V1), header(2), "got v2", id="v2-at-v1"
        ),
        pytest.param(
            AppSpec(proxy_protocol=ProxyProtocolVersion.V2), header(1), "got v1", id="v1-at-v2"
        ),
    ],
)
def test_proxy_protocol_mismatches_refuse(
    app: AppSpec, proxy: ProxyHeader | None, text: str
) -> None:
    """A PROXY header on one side only breaks the request before any resolution."""
    result = app_resolve(app, view(proxy=proxy))
    assert result.resolution is None
    assert result.refused is not None
    assert text in result.refused


def test_bad_trust_is_refused_at_construction() -> None:
    """A malformed CIDR is a TrustConfigError, never trust-nothing."""
    with pytest.raises(TrustConfigError):
        app_trust(AppSpec(trusted_proxies=("10.0.0.0/33",)))
