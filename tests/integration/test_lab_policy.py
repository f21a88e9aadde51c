"""NetworkPolicies in the lab: enforced at the pod against the source it really sees."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from ipaddress import IPv4Network, ip_address, ip_network

import pytest

from srcip.lab import LabCluster, visibility
from srcip.lab.experiments import RequestResult, Visibility
from srcip.manifests import load_cluster
from srcip.model.netpol import IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyRule
from srcip.model.objects import Cluster
from srcip.model.workloads import LabelSelector

BASE = IPv4Network("127.71.0.0/16")  # apart from other lab runs on this machine
POLICIES = ["examples/policy-comparison/services.yaml"]
NLB = [
    "examples/user-scenarios/18-aws-nlb-ip-targets/manifests.yaml",
    "examples/user-scenarios/18-aws-nlb-ip-targets/scenario.yaml",
]
CLIENT = ip_address("203.0.113.7")


def observe(cluster: Cluster, service: str, requests: int = 6) -> Visibility:
    async def scenario() -> Visibility:
        async with LabCluster(
            cluster, service=service, seed=5, time_scale=0.05, drop_hold=1.0, base=BASE
        ) as lab:
            return await visibility(lab, requests=requests, timeout=0.6)

    return asyncio.run(scenario())


def test_cluster_policy_times_out_at_the_network_policy() -> None:
    """web-cluster-policy: the pod sees a node address the ipBlock denies; every request hangs."""
    cluster = load_cluster(POLICIES, default_scenario=True)
    seen = observe(cluster, "default/web-cluster-policy")
    assert {o.result for o in seen.observations} == {RequestResult.TIMEOUT}
    assert seen.all_allowed
    assert seen.outcomes
    assert all("NetworkPolicy" in (o.dropped_at or "") for o in seen.outcomes)


def test_local_policy_admits_the_client() -> None:
    """web-local-policy: the pod sees the client, inside 203.0.113.0/24; every request served."""
    cluster = load_cluster(POLICIES, default_scenario=True)
    seen = observe(cluster, "default/web-local-policy")
    assert seen.all_allowed
    assert {o.result for o in seen.observations} == {RequestResult.OK}
    assert {o.pod_peer for o in seen.observations} == {CLIENT}


def test_without_the_policy_cluster_is_served() -> None:
    """The same Service with the policy removed: served, so the policy made the difference."""
    cluster = replace(load_cluster(POLICIES, default_scenario=True), network_policies=())
    seen = observe(cluster, "default/web-cluster-policy", requests=4)
    assert seen.all_allowed
    assert {o.result for o in seen.observations} == {RequestResult.OK}


def _client_network_only(cluster: Cluster) -> Cluster:
    policy = NetworkPolicy(
        name="clients-only",
        pod_selector=LabelSelector(match_labels=(("app", "api"),)),
        ingress=(
            NetworkPolicyRule(
                peers=(NetworkPolicyPeer(ip_block=IPBlock(cidr=ip_network("203.0.113.0/24"))),)
            ),
        ),
    )
    return replace(cluster, network_policies=(policy,))


@pytest.mark.parametrize(
    ("service", "result", "peer"),
    [
        pytest.param("default/api", RequestResult.TIMEOUT, None, id="nlb-address-denied"),
        pytest.param("default/api-fixed", RequestResult.OK, CLIENT, id="preserved-admitted"),
    ],
)
def test_pod_targets_meet_the_policy_at_the_pod(
    service: str, result: RequestResult, peer: object
) -> None:
    """IP targets: the NLB's own address is denied, the preserved client admitted."""
    cluster = _client_network_only(load_cluster(NLB, default_scenario=True))
    seen = observe(cluster, service, requests=4)
    assert seen.all_allowed
    assert {(o.result, o.pod_peer) for o in seen.observations} == {(result, peer)}
