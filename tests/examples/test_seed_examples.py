"""The seeds' manifests, shipped in examples/, give the outcomes the articles describe."""

from __future__ import annotations

from fractions import Fraction
from ipaddress import ip_address
from pathlib import Path

import pytest

from srcip.manifests import load_cluster
from srcip.model.objects import Cluster
from srcip.model.share import share
from srcip.model.trace import trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLIENT = ip_address("203.0.113.7")


def load(*names: str) -> Cluster:
    """Load example files relative to examples/."""
    return load_cluster([str(EXAMPLES / name) for name in names])


def test_echo_local_preserves_the_client_on_pod_nodes_only() -> None:
    """echo (Local, 2 replicas, 3 nodes): the LB skips the empty node; pods see the client."""
    cluster = load("echo/echo.yaml", "echo/scenario.yaml")
    (item,) = trace(cluster).services
    healthy = [h.node for h in item.health if h.healthy]
    assert len(healthy) == 2
    assert sum(o.probability for o in item.outcomes) == 1
    assert all(o.delivered for o in item.outcomes)
    assert {o.pod_peer for o in item.outcomes} == {CLIENT}
    assert all(o.verdict == "client IP preserved" for o in item.outcomes)
    assert {o.node for o in item.outcomes} == set(healthy)


def test_policy_comparison_shows_the_network_policy_trap() -> None:
    """Cluster: the pod sees a node address and allow-specific-clients denies everyone."""
    cluster = load("policy-comparison/services.yaml")
    result = {t.service: t for t in trace(cluster).services}
    cluster_policy = result["default/web-cluster-policy"]
    local_policy = result["default/web-local-policy"]
    assert cluster_policy.outcomes
    assert not any(o.delivered for o in cluster_policy.outcomes)
    assert all("allow-specific-clients" in (o.dropped_at or "") for o in cluster_policy.outcomes)
    assert all(o.delivered for o in local_policy.outcomes)
    assert {o.app_client_ip for o in local_policy.outcomes} == {CLIENT}


def test_spread_deployment_shares_evenly() -> None:
    """15 replicas spread 5/5/5: every pod gets 1/15 of new connections under Local."""
    cluster = load("deployment-with-spread/deployment.yaml")
    (item,) = share(cluster).services
    assert len(item.pods) == 15
    assert {p.share for p in item.pods} == {Fraction(1, 15)}
    assert [n.share for n in item.nodes] == [Fraction(1, 3)] * 3


def test_uneven_placement_gives_the_seeds_imbalance() -> None:
    """5/3/2 pods: per pod 1/15, 1/9, 1/6 under an unweighted LB — not 50/30/20 by pods."""
    cluster = load("uneven-placement/uneven.yaml")
    (item,) = share(cluster).services
    by_node: dict[str, set[Fraction]] = {}
    for pod in item.pods:
        by_node.setdefault(pod.node or "", set()).add(pod.share)
    assert by_node == {
        "node-1": {Fraction(1, 15)},
        "node-2": {Fraction(1, 9)},
        "node-3": {Fraction(1, 6)},
    }
    assert item.fairness.busiest_over_fair == Fraction(1, 6) / Fraction(1, 10)


def test_weighted_load_balancing_gives_every_pod_the_same_share() -> None:
    """GKE pods-per-node weighting: each of the 10 pods gets 1/10."""
    cluster = load("uneven-placement/weighted.yaml")
    (item,) = share(cluster).services
    assert {p.share for p in item.pods} == {Fraction(1, 10)}


def test_hybrid_api_keeps_public_clients_and_loses_internal_ones() -> None:
    """public-api (Local) sees the client; internal-api (Cluster) sees node addresses."""
    cluster = load("hybrid-api/services.yaml")
    result = {t.service: t for t in trace(cluster).services}
    public = result["default/public-api"].outcomes
    internal = result["default/internal-api"].outcomes
    assert all(o.app_client_ip == CLIENT for o in public)
    assert all(o.delivered and o.app_client_ip != CLIENT for o in internal)
    assert all(o.verdict.startswith("lost at kube-proxy") for o in internal)


@pytest.mark.parametrize("policy", ["Local", "Cluster"])
def test_web_service_shares_sum_to_one(policy: str) -> None:
    """web-service on 4 nodes with 3 pods: shares of delivered traffic sum to 1."""
    cluster = load("web-service/web-service.yaml")
    report = share(cluster, compare_policies=True)
    item = report.services[0] if policy == "Local" else report.compared[0]
    assert str(item.policy) == policy
    assert sum(p.share for p in item.pods) + item.dropped == 1
