"""Real HAProxy in front of the echo server: ``send-proxy`` and ``send-proxy-v2`` headers.

``client (127.0.0.9) -> HAProxy (127.0.0.1) -> srcip echo``: HAProxy relays each
connection with a PROXY header naming the client; the echo server, told to require one
from 127.0.0.1, reports the header and resolves the client from it, while the TCP peer
stays HAProxy's address. HAProxy comes from the Debian package (see ``.ci/run``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from srcip.clientip import TrustConfig
from srcip.net import ProxyProtocol
from tests.integration.conftest import StartDaemon
from tests.integration.echo_harness import echo_server, exchange, parse_answers
from tests.integration.processes import accepts_connections, free_port, run_checked

CONFIG = """\
global
    maxconn 64
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend monitor
    mode http
    bind 127.0.0.1:{monitor}
    monitor-uri /ready
frontend fe
    bind 127.0.0.1:{frontend}
    default_backend be
backend be
    server echo 127.0.0.1:{echo} {option}
"""


@pytest.mark.parametrize(
    ("option", "setting", "version"),
    [
        pytest.param("send-proxy-v2", ProxyProtocol.V2, 2, id="send-proxy-v2"),
        pytest.param("send-proxy", ProxyProtocol.V1, 1, id="send-proxy"),
        pytest.param("send-proxy-v2 proxy-v2-options crc32c", ProxyProtocol.ANY, 2, id="any-crc"),
    ],
)
def test_haproxy_relays_the_client(
    haproxy_bin: str,
    daemons: StartDaemon,
    tmp_path: Path,
    option: str,
    setting: ProxyProtocol,
    version: int,
) -> None:
    """The echo shows HAProxy as TCP peer (load-balancer), the client from the header."""
    ports = {"monitor": free_port(), "frontend": free_port(), "echo": free_port()}
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG.format(option=option, **ports))
    run_checked([haproxy_bin, "-c", "-f", str(config)], workdir=tmp_path)
    daemons(
        "haproxy",
        [haproxy_bin, "-db", "-f", str(config)],
        workdir=tmp_path,
        ready=lambda: accepts_connections("127.0.0.1", ports["monitor"]),
    )
    trust = TrustConfig(proxy_protocol_trusted=["127.0.0.1/32"])
    wire = b"GET /via-haproxy HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n"

    async def scenario() -> tuple[dict[str, Any], list[str]]:
        async with echo_server(port=ports["echo"], trust=trust, proxy_protocol=setting) as (_, log):
            data = await exchange(("127.0.0.1", ports["frontend"]), wire, source="127.0.0.9")
            (answer,) = parse_answers(data)
            return json.loads(answer.body), [entry.client or "-" for entry in log.requests]

    doc, clients = asyncio.run(scenario())
    header = doc["proxy_protocol"]
    assert header["version"] == version
    assert (header["command"], header["src"], header["dst"]) == (
        "PROXY", "127.0.0.9", "127.0.0.1",
    )  # fmt: skip
    assert header["dst_port"] == ports["frontend"]
    assert doc["peer"]["ip"] == "127.0.0.1"
    assert doc["client"]["ip"] == "127.0.0.9"
    assert doc["client"]["source"] == "proxy-protocol"
    assert doc["request"]["path"] == "/via-haproxy"
    assert clients == ["127.0.0.9"]
    if "crc32c" in option:
        assert [tlv["name"] for tlv in header["tlvs"]][:1] == ["CRC32C"]
