"""The user scenarios with hops (07, 08, 23, 24) run through the lab; the model allows all."""

from __future__ import annotations

import asyncio
import glob
from dataclasses import replace
from ipaddress import IPv4Network

import pytest

from srcip.lab import LabCluster
from srcip.lab.experiments import Observation, RequestResult, is_allowed, observe, request
from srcip.manifests import load_cluster
from srcip.model.objects import Cluster
from srcip.model.scenario import DEFAULT_CLIENT, ClientSpec
from srcip.model.trace import trace

BASE = IPv4Network("127.81.0.0/16")  # apart from other lab runs on this machine


async def judged(lab: LabCluster, requests: int) -> list[Observation]:
    """``requests`` requests per client, each judged against the trace of the backend.

    Two things differ from :func:`srcip.lab.experiments.visibility` (see srcip.lab.hops):
    the trace is of the Scenario's Service (the ingress's backend), and behind a sidecar
    the pod's peer is the one the sidecar received, not the app's.
    """
    scenario = lab.scenario
    clients = scenario.clients or (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)
    model = trace(lab.controller.cluster)
    outcomes = tuple(o for s in model.services for o in s.outcomes)
    seen = []
    for client in (c for c in clients if c.node is None and c.pod is None):
        mine = tuple(o for o in outcomes if o.client == client.name)
        for _ in range(requests):
            reply = await request(lab, client, lab.entry_address, timeout=3.0)
            peer = (reply.document or {}).get("peer") or {}
            pod_peer = lab.hops.pod_peer((peer.get("ip", ""), peer.get("port", 0)))
            found = observe(lab, client, reply, mine)
            if pod_peer is not None:
                found = replace(found, pod_peer=pod_peer)
                found = replace(found, allowed=is_allowed(found, mine))
            seen.append(found)
    return seen


def run(cluster: Cluster, requests: int = 8) -> list[Observation]:
    """The judged observations of ``cluster`` in a fresh lab."""

    async def go() -> list[Observation]:
        async with LabCluster(cluster, seed=3, time_scale=0.1, drop_hold=1.0, base=BASE) as lab:
            return await judged(lab, requests)

    return asyncio.run(go())


@pytest.mark.parametrize(
    "directory",
    [
        pytest.param("07-forwarded-headers-spoofing", id="07-ingress-spoofing"),
        pytest.param("08-configmap-not-read", id="08-ingress-configmap"),
        pytest.param("23-istio-sidecar-loopback", id="23-istio-sidecar"),
        pytest.param("24-linkerd-meshed-ingress", id="24-linkerd-ingress"),
    ],
)
def test_user_scenario_observations_are_allowed(directory: str) -> None:
    """Every request of a user scenario with hops is answered as the model allows."""
    files = sorted(glob.glob(f"examples/user-scenarios/{directory}/*.yaml"))
    observations = run(load_cluster(files, default_scenario=True))
    assert observations
    assert all(o.result is RequestResult.OK for o in observations), observations
    bad = [o for o in observations if not o.allowed]
    assert not bad, bad
