"""The load balancer's live probes agree with the model's ``probe_targets``."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from srcip.lab import LabCluster, visibility
from srcip.manifests import load_cluster
from srcip.model.loadbalancer import probe_targets
from srcip.model.scenario import HealthCheckProtocol as P
from srcip.model.scenario import HealthCheckSpec, TargetType
from srcip.model.scenario import HealthCheckTarget as T

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


@pytest.mark.parametrize(
    ("check", "targets"),
    [
        pytest.param(HealthCheckSpec(protocol=P.TCP), None, id="tcp-hcnodeport"),
        pytest.param(HealthCheckSpec(target=T.PROXY_HEALTHZ), None, id="http-proxy-healthz"),
        pytest.param(HealthCheckSpec(target=T.TRAFFIC_PORT), None, id="http-traffic-vip"),
        pytest.param(HealthCheckSpec(target=T.TRAFFIC_PORT), TargetType.NODE_PORT, id="http-nodeport"),
        pytest.param(HealthCheckSpec(protocol=P.TCP, target=T.TRAFFIC_PORT), TargetType.NODE_PORT, id="tcp-nodeport"),
        pytest.param(HealthCheckSpec(protocol=P.HTTPS), None, id="https-fails"),
    ],
)  # fmt: skip
def test_live_health_matches_the_model(check: HealthCheckSpec, targets: TargetType | None) -> None:
    """Every node's live health equals the model's, and traffic still matches the trace."""
    cluster = load_cluster(ECHO, default_scenario=True)
    scenario = cluster.scenario
    assert scenario is not None
    balancer = replace(scenario.load_balancer, health_check=check, targets=targets)
    cluster = replace(cluster, scenario=replace(scenario, load_balancer=balancer))

    async def run() -> tuple[dict[str, bool], dict[str, bool], bool]:
        async with LabCluster(cluster, seed=2, time_scale=0.1, drop_hold=1.0) as lab:
            assert lab.load_balancer is not None
            assert lab.load_balancer_model is not None
            live = {t.target: t.healthy for t in lab.load_balancer.health()}
            model = probe_targets(lab.controller.index(), lab.entry, lab.load_balancer_model)
            seen = await visibility(lab, requests=6, timeout=0.5)
        return live, {t.target: t.healthy for t in model}, seen.all_allowed

    live, model, allowed = asyncio.run(run())
    assert live == model
    assert allowed
