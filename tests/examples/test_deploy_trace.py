"""The deploy/ manifests trace as docs/how-to/debug-source-ip.md §5 says they do."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path

from srcip.manifests import load_cluster
from srcip.model.trace import trace

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
FILES = [
    str(DEPLOY / name) for name in ("deployment.yaml", "service-local.yaml", "service-cluster.yaml")
]
CLIENT = ip_address("203.0.113.7")


def test_echo_local_and_echo_cluster_predictions() -> None:
    """echo-local: the client, on the two pod nodes; echo-cluster: node addresses, every node."""
    cluster = load_cluster(FILES, default_scenario=True)
    result = {t.service: t for t in trace(cluster).services}
    local = result["default/echo-local"]
    assert sorted(h.healthy for h in local.health) == [False, True, True]
    assert {o.pod_peer for o in local.outcomes} == {CLIENT}
    assert {o.app_client_ip for o in local.outcomes} == {CLIENT}
    spread = result["default/echo-cluster"]
    assert all(h.healthy for h in spread.health)
    nodes = ip_network("10.0.1.0/24")
    gateways = ip_network("10.244.0.0/16")
    for outcome in spread.outcomes:
        assert outcome.pod_peer is not None
        assert outcome.pod_peer in nodes or outcome.pod_peer in gateways
        assert outcome.verdict.startswith("lost at kube-proxy")
