"""Pod events flow to the health servers; the load balancer's live checks follow."""

from __future__ import annotations

import asyncio

from srcip.lab import LabCluster, PodChange, visibility
from srcip.lab.experiments import Visibility
from srcip.manifests import load_cluster
from srcip.model.loadbalancer import TargetHealth

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


def test_an_unready_pod_takes_its_node_out_of_the_load_balancer() -> None:
    """echo-0 unready: node-1's healthCheckNodePort says 503, the LB drops node-1 after
    unhealthyThreshold (2) probes at 0.05x timing, and every request reaches echo-1."""
    cluster = load_cluster(ECHO, default_scenario=True)

    async def scenario() -> tuple[dict[str, bool], dict[str, bool], Visibility]:
        async with LabCluster(cluster, seed=3, time_scale=0.05, propagation_delay=0.05) as lab:
            assert lab.load_balancer is not None
            before = _healthy(lab.load_balancer.health())
            await lab.controller.apply("echo-0", PodChange.UNREADY)
            interval = 3.0 * 0.05
            await asyncio.sleep(interval * 4)  # two failing probes and some slack
            after = _healthy(lab.load_balancer.health())
            seen = await visibility(lab, requests=10)
        return before, after, seen

    before, after, seen = asyncio.run(scenario())
    assert before == {"node-1": True, "node-2": True, "node-3": False}
    assert after == {"node-1": False, "node-2": True, "node-3": False}
    assert {o.pod for o in seen.observations} == {"echo-1"}
    assert seen.all_allowed


def _healthy(health: tuple[TargetHealth, ...]) -> dict[str, bool]:
    return {t.target: t.healthy for t in health}
