"""Echo configuration and limits: validated at construction, errors name the fix."""

from __future__ import annotations

import pytest

from srcip.clientip import TrustConfig
from srcip.errors import UsageError
from srcip.net.config import EchoConfig, ProxyProtocol
from srcip.net.limits import Limits


def test_defaults() -> None:
    """Defaults: all addresses on 8080, PROXY off, 16 KiB headers, 1 MiB bodies."""
    config = EchoConfig()
    assert (config.hosts, config.port, config.proxy_protocol) == (("0.0.0.0", "::"), 8080, "off")
    assert (config.limits.max_header_bytes, config.limits.max_body) == (16384, 1048576)


@pytest.mark.parametrize(
    ("setting", "version", "accepted"),
    [("v1", 1, True), ("v1", 2, False), ("v2", 2, True), ("v2", 1, False), ("any", 1, True),
     ("any", 2, True), ("off", 1, False)],
)  # fmt: skip
def test_proxy_protocol_accepts(setting: str, version: int, accepted: bool) -> None:
    """Each listener setting accepts exactly its versions."""
    assert ProxyProtocol(setting).accepts(version) is accepted


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"hosts": ()}, "no address", id="no-hosts"),
        pytest.param({"port": 70000}, "port 70000", id="port"),
        pytest.param({"udp_port": -1}, "udp_port", id="udp-port"),
        pytest.param({"grace": -1.0}, "grace", id="grace"),
        pytest.param(
            {"trust": TrustConfig(proxy_protocol_trusted=["10.0.0.0/8"])},
            "PROXY protocol is off",
            id="peers-without-protocol",
        ),
        pytest.param({"proxy_protocol": ProxyProtocol.V2}, "needs the peers", id="no-peers"),
    ],
)
def test_bad_config(kwargs: dict[str, object], message: str) -> None:
    """Contradictory or out-of-range settings are refused with a fix."""
    with pytest.raises(UsageError, match=message):
        EchoConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_body": 0}, "at least 1", id="zero-body"),
        pytest.param({"max_delay_ms": -1}, "at least 0", id="negative-delay"),
        pytest.param({"header_timeout": 0.0}, "more than 0", id="zero-timeout"),
        pytest.param({"max_headers": 1.5}, "whole number", id="fraction"),
        pytest.param({"max_body": "1m"}, "not a number", id="text"),
        pytest.param({"max_body": True}, "not a number", id="bool"),
    ],
)
def test_bad_limits(kwargs: dict[str, object], message: str) -> None:
    """Limits must be positive numbers of the right kind."""
    with pytest.raises(UsageError, match=message):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_zero_delay_limit_and_integer_timeouts_are_fine() -> None:
    """max_delay_ms may be 0 (no delays); timeouts may be given as integers."""
    limits = Limits(max_delay_ms=0, idle_timeout=5)
    assert (limits.max_delay_ms, limits.idle_timeout) == (0, 5)
