"""Presets only fill a TrustConfig; the trust decisions stay visible (reference §10)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from srcip.clientip import presets
from srcip.clientip.resolve import PROXY_PROTOCOL, Status, resolve
from srcip.clientip.trust import SourceKind, TrustConfig
from srcip.errors import TrustConfigError
from srcip.proxyproto.header import Command, Family, ProxyHeader, Transport

CLIENT = "203.0.113.7"


def test_ingress_nginx() -> None:
    """Trust the ingress pods, read the X-Forwarded-For it writes (or X-Real-IP)."""
    config = presets.ingress_nginx(["10.244.1.0/24"])
    assert config == TrustConfig(trusted_proxies=["10.244.1.0/24"], source="x-forwarded-for")
    result = resolve("10.244.1.7:5000", [("x-forwarded-for", CLIENT)], config)
    assert (result.status, str(result.ip)) == (Status.OK, CLIENT)
    real_ip = presets.ingress_nginx(["10.244.1.0/24"], source="x-real-ip")
    assert real_ip.source_kind is SourceKind.SINGLE


def test_aws_alb() -> None:
    """The ALB's subnets plus any in-cluster proxy are trusted; XFF is walked."""
    config = presets.aws_alb(["172.31.0.0/16"], extra_proxies=["10.244.0.0/16"])
    assert config.trusted_proxies == ("172.31.0.0/16", "10.244.0.0/16")
    headers = [("x-forwarded-for", f"6.6.6.6, {CLIENT}, 172.31.4.4")]
    result = resolve("10.244.3.3:1", headers, config)
    assert (result.status, str(result.ip)) == (Status.OK, CLIENT)


def test_gclb_trusts_frontends_and_the_load_balancer_ip() -> None:
    """GFEs append ``<client>, <LB IP>``: both Google ranges and the LB IP are trusted."""
    config = presets.gclb(["34.120.0.10"])
    assert config.trusted_proxies[:2] == ("35.191.0.0/16", "130.211.0.0/22")
    headers = [("x-forwarded-for", f"6.6.6.6, {CLIENT}, 34.120.0.10")]
    result = resolve("35.191.8.8:1", headers, config)
    assert (result.status, str(result.ip)) == (Status.OK, CLIENT)


def test_cloudflare_ranges_come_from_the_user() -> None:
    """Cloudflare ranges are arguments (they drift); CF-Connecting-IP is an option."""
    config = presets.cloudflare(["173.245.48.0/20"], extra_proxies=["10.0.0.0/8"])
    result = resolve("10.0.0.2:1", [("x-forwarded-for", f"{CLIENT}, 173.245.48.9")], config)
    assert (result.status, str(result.ip)) == (Status.OK, CLIENT)
    direct = presets.cloudflare(["173.245.48.0/20"], source="cf-connecting-ip")
    result = resolve("173.245.48.9:1", [("CF-Connecting-IP", CLIENT)], direct)
    assert (result.status, result.source) == (Status.OK, "cf-connecting-ip")


def test_nlb_proxy_v2() -> None:
    """Only the NLB may send PROXY; its source is the client, no header is read."""
    config = presets.nlb_proxy_v2(["172.31.0.0/16"])
    proxy = ProxyHeader(
        version=2,
        command=Command.PROXY,
        family=Family.INET,
        transport=Transport.STREAM,
        src=IPv4Address(CLIENT),
        dst=IPv4Address("172.31.9.9"),
        src_port=5555,
        dst_port=443,
    )
    result = resolve("172.31.1.1:1", [("x-forwarded-for", "6.6.6.6")], config, proxy)
    assert (result.status, str(result.ip), result.source) == (Status.DIRECT, CLIENT, PROXY_PROTOCOL)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: presets.ingress_nginx([]), id="ingress-empty"),
        pytest.param(lambda: presets.aws_alb("10.0.0.0/8"), id="alb-string"),
        pytest.param(lambda: presets.gclb([]), id="gclb-empty"),
        pytest.param(lambda: presets.cloudflare([]), id="cloudflare-empty"),
        pytest.param(lambda: presets.nlb_proxy_v2(()), id="nlb-empty"),
        pytest.param(lambda: presets.ingress_nginx(["0.0.0.0/0"]), id="trust-all"),
    ],
)
def test_presets_need_your_addresses(call: object) -> None:
    """A preset without the proxies' addresses (or with trust-all) is refused."""
    with pytest.raises(TrustConfigError, match="Fix:"):
        call()  # type: ignore[operator]
