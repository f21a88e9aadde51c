"""The differential matrix: the lab's observations and split must be ones the model allows.

Cases: policy (Local, Cluster) × LB mode (passthrough, snat, proxy v2 with an app that
expects PROXY, http) × hops (none, cdn, istio sidecar) × placement (even: examples/echo,
uneven: examples/uneven-placement), taken pairwise (every pair of values of two factors
appears in some case) rather than the full product, to stay well under 90 s. The ingress
hops (ingress-nginx default and use-forwarded-headers) are the user scenarios 08 and 07,
run in tests/integration/test_lab_hops.py with the same judge.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from ipaddress import IPv4Network, ip_address

import pytest

from srcip.lab import LabCluster
from srcip.lab.experiments import Observation, ShareResult, share
from srcip.manifests import load_cluster
from srcip.model.enums import TrafficPolicy
from srcip.model.objects import Cluster
from srcip.model.scenario import (
    AppSpec,
    EdgeHop,
    EdgeHopKind,
    HopSpec,
    LoadBalancerMode,
    Mesh,
    ProxyProtocolVersion,
    SidecarHop,
)
from tests.integration.test_lab_hops import judged

BASE = IPv4Network("127.82.0.0/16")  # apart from other lab runs on this machine
LEVEL = 0.001  # chi-square significance: a correct lab fails one case in a thousand
CONNECTIONS = 300
PLACEMENTS = {
    "even": ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"],
    "uneven": ["examples/uneven-placement/uneven.yaml"],
}
HOPS: dict[str, tuple[HopSpec, ...]] = {
    "none": (),
    "cdn": (EdgeHop(kind=EdgeHopKind.CDN, name="cdn", address=ip_address("198.18.0.5")),),
    "istio": (SidecarHop(mesh=Mesh.ISTIO, name="istio-proxy"),),
}
PROXY_APP = AppSpec(proxy_protocol=ProxyProtocolVersion.V2)


def case(policy: str, mode: str, hops: str, placement: str) -> Cluster:
    """One matrix case built from the example's YAML with the factors applied."""
    cluster = replace(
        load_cluster(PLACEMENTS[placement], default_scenario=True), network_policies=()
    )
    scenario = cluster.scenario
    assert scenario is not None
    lb = replace(scenario.load_balancer, mode=LoadBalancerMode(mode))
    app = scenario.app
    if mode == "proxy":
        lb = replace(lb, proxy_protocol=ProxyProtocolVersion.V2)
        app = PROXY_APP
    scenario = replace(scenario, load_balancer=lb, app=app, hops=HOPS[hops])
    services = tuple(
        replace(s, external_traffic_policy=TrafficPolicy(policy)) for s in cluster.services
    )
    return replace(cluster, scenario=scenario, services=services)


def run(cluster: Cluster) -> tuple[list[Observation], ShareResult]:
    """Visibility (judged) and share of ``cluster`` in a fresh lab."""

    async def go() -> tuple[list[Observation], ShareResult]:
        async with LabCluster(cluster, seed=7, time_scale=0.1, drop_hold=1.0, base=BASE) as lab:
            seen = await judged(lab, 6)
            return seen, await share(lab, connections=CONNECTIONS, timeout=3.0)

    return asyncio.run(go())


PAIRWISE = [
    ("Local", "passthrough", "none", "even"),
    ("Cluster", "passthrough", "cdn", "uneven"),
    ("Local", "snat", "istio", "uneven"),
    ("Cluster", "snat", "none", "even"),
    ("Local", "proxy", "cdn", "even"),
    ("Cluster", "proxy", "istio", "uneven"),
    ("Local", "http", "none", "uneven"),
    ("Cluster", "http", "istio", "even"),
    ("Cluster", "passthrough", "istio", "even"),
    ("Local", "http", "cdn", "uneven"),
    ("Cluster", "snat", "cdn", "even"),
    ("Local", "proxy", "none", "uneven"),
]


@pytest.mark.parametrize(
    ("policy", "mode", "hops", "placement"),
    [pytest.param(*factors, id="-".join(factors)) for factors in PAIRWISE],
)
def test_matrix_case_matches_the_model(policy: str, mode: str, hops: str, placement: str) -> None:
    """Every observation is allowed by the trace and the split passes chi-square."""
    observations, measured = run(case(policy, mode, hops, placement))
    assert observations
    bad = [o for o in observations if not o.allowed]
    assert not bad, bad
    assert measured.impossible == 0, measured
    assert measured.p_value is not None
    assert measured.p_value > LEVEL, measured
