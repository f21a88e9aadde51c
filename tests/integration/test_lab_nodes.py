"""A node's kube-proxy servers in the lab: health answers and DROP/REJECT decisions."""

from __future__ import annotations

import asyncio
import json

import pytest

from srcip.lab import LabCluster
from srcip.manifests import load_cluster
from srcip.net.tcp_relay import Drop, Forward, Reject

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]
PROXY_LINE = b"PROXY TCP4 10.0.0.10 10.0.1.2 40000 31380\r\n"


async def _ask(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), fields, body


@pytest.mark.parametrize(
    ("node", "which", "probe", "status", "weight"),
    [
        pytest.param("node-1", "hc", b"GET /healthz HTTP/1.1\r\n\r\n", 200, "1", id="hc-local-pod"),
        pytest.param("node-3", "hc", b"GET / HTTP/1.1\r\n\r\n", 503, "0", id="hc-no-local-pod"),
        pytest.param("node-1", "hc", PROXY_LINE + b"GET / HTTP/1.1\r\n\r\n", 400, None, id="hc-proxy-line"),
        pytest.param("node-3", "healthz", b"GET /healthz HTTP/1.1\r\n\r\n", 200, None, id="healthz"),
        pytest.param("node-3", "healthz", b"HEAD /livez HTTP/1.1\r\n\r\n", 200, None, id="livez-head"),
        pytest.param("node-3", "healthz", b"GET /nope HTTP/1.1\r\n\r\n", 404, None, id="other-path"),
    ],
)  # fmt: skip
def test_health_servers_answer_as_kube_proxy(
    node: str, which: str, probe: bytes, status: int, weight: str | None
) -> None:
    """healthCheckNodePort (KP §13) and :10256 (KP §14) answer live from the index."""
    cluster = load_cluster(ECHO, default_scenario=True)
    service = cluster.services[0]

    async def scenario() -> tuple[int, dict[str, str], bytes]:
        async with LabCluster(cluster, seed=1) as lab:
            ip = next(n for n in cluster.nodes if n.name == node).addresses[0].address
            port = service.health_check_node_port if which == "hc" else 10256
            return await _ask(lab.plan.local(ip), lab.plan.port(port), probe)

    got, fields, body = asyncio.run(scenario())
    assert got == status
    assert fields.get("X-Load-Balancing-Endpoint-Weight") == weight
    if which == "hc" and status != 400:
        assert json.loads(body)["localEndpoints"] == int(weight or 0)
    if b"HEAD" in probe:
        assert body == b""


def test_node_without_local_endpoints_drops_and_unknown_sources_are_rejected() -> None:
    """Local: node-3 has no echo pod, so its NodePort DROPs (KP §6); node-1 forwards."""
    cluster = load_cluster(ECHO, default_scenario=True)
    port = cluster.services[0].ports[0].node_port

    async def scenario() -> tuple[object, object, object]:
        async with LabCluster(cluster, seed=1) as lab:
            client = (lab.plan.local(lab.scenario.clients[0].address), 5555)
            decisions = []
            for name in ("node-3", "node-1"):
                ip = next(n for n in cluster.nodes if n.name == name).addresses[0].address
                local = (lab.plan.local(ip), lab.plan.port(port))
                decisions.append(lab.nodes[name].decide(client, local))
            stranger = lab.nodes["node-1"].decide(("127.250.0.1", 5555), local)
            return decisions[0], decisions[1], stranger

    dropped, forwarded, stranger = asyncio.run(scenario())
    assert isinstance(dropped, Drop)
    assert isinstance(forwarded, Forward)
    assert forwarded.tag == "node-1"
    assert isinstance(stranger, Reject)
