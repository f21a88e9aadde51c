"""In-cluster clients and pod-target load balancers in the lab, judged by the model."""

from __future__ import annotations

import asyncio
import glob
from ipaddress import IPv4Network, ip_address

import pytest

from srcip.lab import LabCluster, share, visibility
from srcip.lab.experiments import RequestResult, ShareResult, Visibility
from srcip.manifests import load_cluster
from srcip.model.loadbalancer import TargetHealth, probe_targets
from srcip.model.objects import Cluster

BASE = IPv4Network("127.72.0.0/16")  # apart from other lab runs on this machine
POD = ip_address("10.244.3.20")
HOST = ip_address("10.0.1.4")  # node-3
CLIENT = ip_address("203.0.113.7")
NLB = ip_address("10.0.0.10")


def example(number: str) -> Cluster:
    files = sorted(glob.glob(f"examples/user-scenarios/{number}-*/*.yaml"))
    return load_cluster(files, default_scenario=True)


def observe(cluster: Cluster, service: str | None = None, requests: int = 6) -> Visibility:
    async def scenario() -> Visibility:
        async with LabCluster(
            cluster, service=service, seed=7, time_scale=0.05, drop_hold=1.0, base=BASE
        ) as lab:
            return await visibility(lab, requests=requests, timeout=1.0)

    return asyncio.run(scenario())


def by_client(seen: Visibility) -> dict[object, set[tuple[object, ...]]]:
    found: dict[object, set[tuple[object, ...]]] = {}
    for o in seen.observations:
        found.setdefault(o.client, set()).add((o.result, o.pod_peer, o.app_client_ip))
    return found


def test_local_in_cluster_clients_are_short_circuited_on_their_node() -> None:
    """#12 (Local): a pod and a host on node-3 reach both endpoints and are seen as themselves."""
    seen = observe(example("12"), requests=8)
    assert seen.all_allowed
    assert by_client(seen)[POD] == {(RequestResult.OK, POD, POD)}
    assert by_client(seen)[HOST] == {(RequestResult.OK, HOST, HOST)}
    inside = [o for o in seen.observations if o.client in (POD, HOST)]
    assert {o.node for o in inside} == {"node-3"}  # no endpoint on node-3, still served
    assert {o.pod for o in inside} == {"web-0", "web-1"}


def test_programmed_vip_skips_the_proxy_protocol_load_balancer() -> None:
    """#01: the in-cluster client bypasses the PROXY v2 LB, so the app refuses it."""
    seen = observe(example("01"))
    assert seen.all_allowed
    assert {o.result for o in seen.observations if o.client == CLIENT} == {RequestResult.OK}
    assert {o.result for o in seen.observations if o.client == POD} == {RequestResult.REFUSED}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param("default/web", {(RequestResult.OK, HOST)}, id="ipmode-proxy-via-lb"),
        pytest.param("default/web-old-ccm", {(RequestResult.REFUSED, None)}, id="vip-bypass"),
    ],
)
def test_ipmode_proxy_sends_in_cluster_clients_through_the_load_balancer(
    service: str, expected: set[tuple[RequestResult, object]]
) -> None:
    """#03: ipMode Proxy goes out to the LB from node-3's address (PROXY header names it)."""
    seen = observe(example("03"), service=service)
    assert seen.all_allowed
    inside = [o for o in seen.observations if o.client == POD]
    assert {(o.result, o.app_client_ip) for o in inside} == expected
    if service == "default/web":
        assert {o.proxy_src for o in inside} == {str(HOST)}


@pytest.mark.parametrize(
    ("service", "peer"),
    [
        pytest.param("default/api", NLB, id="ip-targets-default"),
        pytest.param("default/api-fixed", CLIENT, id="preserve-client-ip"),
    ],
)
def test_pod_targets_connect_straight_to_the_pods(service: str, peer: object) -> None:
    """#18: the NLB sends to the pods (no kube-proxy); their peer is the NLB or the client."""
    seen = observe(example("18"), service=service, requests=9)
    assert seen.all_allowed
    assert {(o.result, o.pod_peer, o.app_client_ip) for o in seen.observations} == {
        (RequestResult.OK, peer, peer)
    }
    assert len({o.pod for o in seen.observations}) > 1
    assert all(o.node is not None for o in seen.observations)


def test_pod_targets_health_and_share_match_the_model() -> None:
    """#18: the LB probes each pod's traffic port as the model does; the split is even."""
    cluster = example("18")

    async def scenario() -> tuple[tuple[TargetHealth, ...], ShareResult]:
        async with LabCluster(cluster, service="default/api", seed=3, base=BASE) as lab:
            assert lab.load_balancer is not None
            assert lab.load_balancer_model is not None
            live = lab.load_balancer.health()
            model = probe_targets(lab.controller.index(), lab.entry, lab.load_balancer_model)
            assert [(h.target, h.address, h.healthy) for h in live] == [
                (h.target, h.address, h.healthy) for h in model
            ]
            return live, await share(lab, connections=300, timeout=2.0)

    live, result = asyncio.run(scenario())
    assert {h.target for h in live} == {"api-0", "api-1", "api-2"}
    assert all(h.healthy for h in live)
    assert result.impossible == 0
    assert sum(r.count for r in result.pods) == 300
    assert result.p_value is not None
    assert result.p_value > 0.001
