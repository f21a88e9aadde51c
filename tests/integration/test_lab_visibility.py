"""The lab runs scenarios on loopback; every observation must be one the model allows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from ipaddress import ip_address

import pytest

from srcip.lab import LabCluster, visibility
from srcip.lab.experiments import RequestResult, Visibility
from srcip.manifests import load_cluster
from srcip.model.objects import Cluster
from srcip.model.scenario import AppSpec, LoadBalancerMode, ProxyProtocolVersion

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]
POLICIES = ["examples/policy-comparison/services.yaml"]
WEB = ["examples/web-service/web-service.yaml"]
CLIENT = ip_address("203.0.113.7")
LB = ip_address("10.0.0.10")


def loaded(files: list[str], **changes: object) -> Cluster:
    """The example without its NetworkPolicies, with Scenario load balancer/app changes."""
    cluster = replace(load_cluster(files, default_scenario=True), network_policies=())
    app = changes.pop("app", None)
    scenario = cluster.scenario
    assert scenario is not None
    balancer = replace(scenario.load_balancer, **changes)  # type: ignore[arg-type]
    scenario = replace(scenario, load_balancer=balancer, app=app or scenario.app)
    return replace(cluster, scenario=scenario)


def observe(cluster: Cluster, service: str | None = None, requests: int = 12) -> Visibility:
    async def scenario() -> Visibility:
        async with LabCluster(cluster, service=service, seed=11, time_scale=0.1) as lab:
            return await visibility(lab, requests=requests)

    return asyncio.run(scenario())


def test_local_preserves_the_client_on_every_request() -> None:
    """The seeds' echo Service (Local, passthrough LB): each pod sees the client itself."""
    seen = observe(loaded(ECHO))
    assert seen.all_allowed
    assert {o.result for o in seen.observations} == {RequestResult.OK}
    assert {o.pod_peer for o in seen.observations} == {CLIENT}
    assert {o.app_client_ip for o in seen.observations} == {CLIENT}
    assert {o.pod for o in seen.observations} <= {"echo-0", "echo-1"}
    assert all(o.node is not None for o in seen.observations)


def test_cluster_shows_node_addresses_to_the_pods() -> None:
    """web-cluster-policy (Cluster): pods see a node IP or the pod-network gateway."""
    cluster = loaded(POLICIES)
    seen = observe(cluster, service="default/web-cluster-policy", requests=30)
    assert seen.all_allowed
    nodes = {a.address for n in cluster.nodes for a in n.addresses}
    gateways = {c.network_address + 1 for n in cluster.nodes for c in n.pod_cidrs}
    peers = {o.pod_peer for o in seen.observations}
    assert CLIENT not in peers
    assert peers <= nodes | gateways
    assert len({o.node for o in seen.observations}) > 1  # the LB spread over the nodes


def test_local_with_two_clients_each_seen_as_itself() -> None:
    """web-service (Local, two clients): each request's pod peer is its own client."""
    seen = observe(loaded(WEB), requests=6)
    assert seen.all_allowed
    assert all(o.pod_peer == o.client == o.app_client_ip for o in seen.observations)
    assert len({o.client for o in seen.observations}) == 2


@pytest.mark.parametrize(
    ("changes", "peer", "proxy_src", "forwarded", "app"),
    [
        pytest.param({"mode": LoadBalancerMode.SNAT}, LB, None, (), LB, id="snat"),
        pytest.param(
            {"mode": LoadBalancerMode.PROXY, "proxy_protocol": ProxyProtocolVersion.V2,
             "app": AppSpec(proxy_protocol=ProxyProtocolVersion.V2)},
            LB, str(CLIENT), (), CLIENT, id="proxy-v2",
        ),
        pytest.param(
            {"mode": LoadBalancerMode.PROXY, "proxy_protocol": ProxyProtocolVersion.V1,
             "app": AppSpec(proxy_protocol=ProxyProtocolVersion.V1)},
            LB, str(CLIENT), (), CLIENT, id="proxy-v1",
        ),
        pytest.param(
            {"mode": LoadBalancerMode.HTTP, "app": AppSpec(trusted_proxies=("10.0.0.0/8",))},
            LB, None, (str(CLIENT),), CLIENT, id="http-trusted",
        ),
        pytest.param(
            {"mode": LoadBalancerMode.HTTP}, LB, None, (str(CLIENT),), LB, id="http-untrusted",
        ),
    ],
)  # fmt: skip
def test_load_balancer_modes(
    changes: dict[str, object],
    peer: object,
    proxy_src: str | None,
    forwarded: tuple[str, ...],
    app: object,
) -> None:
    """Each LB mode: the pod's peer, PROXY header, X-Forwarded-For and app client."""
    seen = observe(loaded(ECHO, **changes), requests=6)
    assert seen.all_allowed
    for o in seen.observations:
        assert (o.result, o.pod_peer, o.proxy_src, o.forwarded_for, o.app_client_ip) == (
            RequestResult.OK, peer, proxy_src, forwarded, app,
        )  # fmt: skip


def test_a_proxy_header_the_app_does_not_expect_is_refused_as_the_model_says() -> None:
    """PROXY v1 to an app without PROXY support: every request fails, as predicted."""
    cluster = loaded(ECHO, mode=LoadBalancerMode.PROXY, proxy_protocol=ProxyProtocolVersion.V1)
    seen = observe(cluster, requests=4)
    assert {o.result for o in seen.observations} == {RequestResult.REFUSED}
    assert seen.all_allowed
