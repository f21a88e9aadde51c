"""The lab's measured split passes a chi-square test against the model's shares."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from srcip.lab import LabCluster, share
from srcip.lab.experiments import ShareResult
from srcip.lab.stats import chi_square_test
from srcip.manifests import load_cluster
from srcip.model.scenario import Weighting

UNEVEN = ["examples/uneven-placement/uneven.yaml"]
LEVEL = 0.001  # the stated level: a correct lab fails it once in a thousand seeds


def measure(connections: int, *, weighted: bool = False, seed: int = 5) -> ShareResult:
    cluster = load_cluster(UNEVEN, default_scenario=True)
    if weighted:
        scenario = cluster.scenario
        assert scenario is not None
        balancer = replace(scenario.load_balancer, weighting=Weighting.ENDPOINTS)
        cluster = replace(cluster, scenario=replace(scenario, load_balancer=balancer))

    async def scenario() -> ShareResult:
        async with LabCluster(cluster, seed=seed, time_scale=0.1) as lab:
            return await share(lab, connections=connections)

    return asyncio.run(scenario())


def test_uneven_local_split_matches_the_model() -> None:
    """5/3/2 pods, equal LB: pods on node-3 get 1/6, on node-1 1/15 (p >= 0.001, 1500)."""
    result = measure(1500)
    assert result.impossible == 0
    assert not result.failed
    assert result.p_value is not None
    assert result.p_value >= LEVEL
    assert result.node_p_value is not None
    assert result.node_p_value >= LEVEL
    expected = {r.name: r.expected for r in result.pods}
    assert expected["web-0"] == expected["web-4"]  # both on node-1: 1/15 each
    assert max(expected.values()) / min(expected.values()) == 2.5  # (1/6) / (1/15)


def test_the_measurement_rejects_the_articles_fair_split() -> None:
    """The same counts fail against an equal 1/10 per pod: the test has power."""
    result = measure(1500)
    fair = chi_square_test([r.count for r in result.pods], [150.0] * len(result.pods))
    assert fair.p_value is not None
    assert fair.p_value < LEVEL


def test_weighted_load_balancing_evens_the_pods() -> None:
    """Weighting by X-Load-Balancing-Endpoint-Weight (read live from the health servers)."""
    result = measure(1000, weighted=True)
    assert result.p_value is not None
    assert result.p_value >= LEVEL
    assert {round(r.expected) for r in result.pods} == {100}
