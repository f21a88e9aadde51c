"""`srcip echo` options, run in-process: the configuration built, and bad input (exit 2)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest
from click.testing import CliRunner, Result

import srcip.cli.echo as echo_cli
from srcip.cli.main import cli
from srcip.net import EchoConfig, LogFormat, ProxyProtocol


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[EchoConfig]:
    """Replace the server run with a recorder of the configuration it was given."""
    seen: list[EchoConfig] = []

    def fake_run(config: EchoConfig, *, stream: Any) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(echo_cli, "run_echo", fake_run)
    return seen


def run(*args: str) -> Result:
    """Invoke ``srcip echo`` with ``args``."""
    return CliRunner().invoke(cli, ["echo", *args], catch_exceptions=False)


def test_defaults(captured: list[EchoConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without options: all addresses, port 8080, PROXY off, text log, env read."""
    monkeypatch.setenv("POD_NAME", "echo-1")
    monkeypatch.setenv("NODE_IP", "10.0.1.2")
    result = run()
    assert result.exit_code == 0, result.output
    (config,) = captured
    assert (config.hosts, config.port, config.udp_port) == (("0.0.0.0", "::"), 8080, None)
    assert config.proxy_protocol is ProxyProtocol.OFF
    assert config.log_format is LogFormat.TEXT
    assert config.environment.pod_name == "echo-1"
    assert str(config.environment.node_ips[0]) == "10.0.1.2"


def test_every_option(captured: list[EchoConfig]) -> None:
    """Each option lands in the configuration; lists may repeat or be comma-separated."""
    result = run(
        "--host", "127.0.0.1", "--host", "::1", "--port", "0", "--udp", "9000",
        "--trust", "10.0.0.0/8,192.168.0.0/16", "--trust", "unix:", "--source", "forwarded",
        "--proxy-protocol", "v2", "--proxy-protocol-from", "10.1.0.0/16",
        "--log-format", "json", "--grace", "3", "--max-target", "100",
        "--max-header-bytes", "2000", "--max-headers", "10", "--max-body", "5",
        "--max-connections", "7", "--header-timeout", "1.5", "--idle-timeout", "9",
        "--proxy-header-timeout", "2", "--max-delay", "50",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (config,) = captured
    assert config.hosts == ("127.0.0.1", "::1")
    assert (config.port, config.udp_port, config.grace) == (0, 9000, 3.0)
    assert config.trust.trusted_proxies == ("10.0.0.0/8", "192.168.0.0/16", "unix:")
    assert config.trust.source == "forwarded"
    assert config.trust.proxy_protocol_trusted == ("10.1.0.0/16",)
    assert config.proxy_protocol is ProxyProtocol.V2
    assert config.log_format is LogFormat.JSON
    limits = config.limits
    assert (limits.max_target, limits.max_header_bytes, limits.max_headers) == (100, 2000, 10)
    assert (limits.max_body, limits.max_connections, limits.max_delay_ms) == (5, 7, 50)
    assert (limits.header_timeout, limits.idle_timeout, limits.proxy_header_timeout) == (
        1.5, 9.0, 2.0,
    )  # fmt: skip


def test_proxy_protocol_defaults_to_every_peer(captured: list[EchoConfig]) -> None:
    """--proxy-protocol without --proxy-protocol-from requires a header from every peer."""
    assert run("--proxy-protocol", "any", "--trust", "10.0.0.0/8").exit_code == 0
    trust = captured[0].trust
    assert trust.is_proxy_protocol_trusted(ip_address("192.0.2.1"))
    assert trust.is_proxy_protocol_trusted(ip_address("2001:db8::1"))
    assert captured[0].trust.trusted_proxies == ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--trust", "10.0.0.0/33"], "trusted_proxies", id="bad-cidr"),
        pytest.param(
            ["--proxy-protocol", "any", "--trust", "0.0.0.0/0"], "trusts every", id="trust-all"
        ),
        pytest.param(["--proxy-protocol-from", "10.0.0.0/8"], "PROXY protocol on", id="pp-off"),
        pytest.param(["--source", "x-forwarded-host"], "source", id="bad-source"),
        pytest.param(["--max-body", "0"], "max_body", id="bad-limit"),
    ],
)
def test_bad_input_exits_2(captured: list[EchoConfig], args: list[str], message: str) -> None:
    """Bad values are a one-paragraph error on stderr and exit 2, before serving."""
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("srcip: error:")
    assert captured == []


def test_bad_environment_exits_2(
    captured: list[EchoConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A downward-API variable that does not parse is bad input."""
    monkeypatch.setenv("POD_IP", "not-an-ip")
    result = run()
    assert result.exit_code == 2
    assert "POD_IP" in result.stderr


def test_address_in_use_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that cannot be bound is reported with a fix, exit 2."""

    def busy(config: EchoConfig, *, stream: Any) -> int:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(echo_cli, "run_echo", busy)
    result = run("--host", "127.0.0.1", "--port", "8080")
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1 port 8080: Address already in use" in result.stderr
