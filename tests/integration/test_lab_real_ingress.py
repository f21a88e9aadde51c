"""``--engine real`` with an ingress: real nginx per controller pod gives the built-in's observations.

Each user scenario runs once per engine with the same seed. What must agree is the set of
(client, the backend pod's TCP peer = the ingress pod, X-Forwarded-For, the app's client)
and the set of backend pods reached; every observation of either engine must be one the
model allows. Which ingress pod and which backend pod a request meets are random draws, so
each client sends enough requests that a combination missing by chance is negligible
(2 ingress pods: 2 * 2**-16 per client).
"""

from __future__ import annotations

import asyncio
import glob
from dataclasses import replace
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from srcip.errors import UsageError
from srcip.lab import LabCluster
from srcip.lab.experiments import Observation, RequestResult
from srcip.manifests import load_cluster
from srcip.model.objects import Cluster
from srcip.model.scenario import LoadBalancerSpec
from tests.integration.processes import require_program
from tests.integration.test_lab_hops import judged

BASE = IPv4Network("127.91.0.0/16")  # apart from other lab runs on this machine
REQUESTS = 16


@pytest.fixture
def real_programs() -> None:
    """nginx and HAProxy installed (skip naming the package outside CI)."""
    require_program("nginx", "nginx")
    require_program("haproxy", "haproxy")


def scenario(directory: str) -> Cluster:
    """A user scenario's cluster, loaded as ``srcip lab run -f`` loads it."""
    files = sorted(glob.glob(f"examples/user-scenarios/{directory}/*.yaml"))
    return load_cluster(files, default_scenario=True)


def run(cluster: Cluster, engine: str) -> list[Observation]:
    """The judged observations of ``cluster`` under ``engine`` in a fresh lab."""

    async def go() -> list[Observation]:
        async with LabCluster(
            cluster, seed=3, time_scale=0.1, drop_hold=1.0, base=BASE, engine=engine
        ) as lab:
            return await judged(lab, REQUESTS)

    return asyncio.run(go())


def key(o: Observation) -> tuple[object, ...]:
    """What must agree between the engines (the node is not followed through nginx)."""
    return (o.client, o.pod_peer, o.forwarded_for, o.app_client_ip)


def cross_zone(cluster: Cluster) -> Cluster:
    """``cluster`` with cross-zone balancing on: HAProxy cannot balance per zone
    (srcip.lab.realengine), and the ingress knobs under test do not depend on it."""
    assert cluster.scenario is not None
    lb = cluster.scenario.load_balancer or LoadBalancerSpec()
    return replace(
        cluster, scenario=replace(cluster.scenario, load_balancer=replace(lb, cross_zone=True))
    )


@pytest.mark.parametrize(
    ("directory", "change"),
    [
        pytest.param("07-forwarded-headers-spoofing", None, id="07-forwarded-headers"),
        pytest.param("08-configmap-not-read", cross_zone, id="08-configmap-not-read"),
        pytest.param("02-do-proxy-protocol-cert-manager", None, id="02-proxy-protocol"),
    ],
)
def test_nginx_gives_the_built_in_observations(
    real_programs: None, directory: str, change: object
) -> None:
    """Both engines answer every request, all as the model allows, with the same set."""
    del real_programs
    cluster = scenario(directory)
    if callable(change):
        cluster = change(cluster)
    builtin, real = run(cluster, "builtin"), run(cluster, "real")
    for seen in (builtin, real):
        assert len(seen) >= REQUESTS
        assert all(o.result is RequestResult.OK for o in seen), seen
        bad = [o for o in seen if not o.allowed]
        assert not bad, bad
    assert {key(o) for o in real} == {key(o) for o in builtin}
    assert {o.pod for o in real} == {o.pod for o in builtin}


def test_nginx_writes_no_loopback_address_into_observations(real_programs: None) -> None:
    """X-Forwarded-For and the app's client are in scenario terms under nginx."""
    del real_programs
    seen = run(scenario("07-forwarded-headers-spoofing"), "real")
    texts = [*(v for o in seen for v in o.forwarded_for), *(str(o.app_client_ip) for o in seen)]
    assert texts
    assert not [t for t in texts if "127." in t], texts


def with_config(cluster: Cluster, **data: str) -> Cluster:
    """``cluster`` with the ingress controller's ConfigMap data extended by ``data``."""
    assert cluster.scenario is not None
    assert cluster.scenario.ingress is not None
    name = cluster.scenario.ingress.config_map
    maps = []
    for item in cluster.config_maps:
        if item.key == name:
            item = replace(item, data=tuple({**dict(item.data), **data}.items()))
        maps.append(item)
    return replace(cluster, config_maps=tuple(maps))


def test_forwarded_headers_with_proxy_protocol_is_refused() -> None:
    """use-forwarded-headers + use-proxy-protocol: refused, naming the missing module."""
    cluster = with_config(scenario("02-do-proxy-protocol-cert-manager"), **{
        "use-forwarded-headers": "true"
    })  # fmt: skip
    with pytest.raises(UsageError, match="headers-more"):
        LabCluster(cluster, base=BASE, engine="real")
    assert LabCluster(cluster, base=BASE, engine="builtin").hops.ingress
    assert LabCluster(scenario("02-do-proxy-protocol-cert-manager"), base=BASE, engine="real")


def test_sidecar_under_the_real_engine_is_refused() -> None:
    """A sidecar has no real stand-in: refused with the reason."""
    with pytest.raises(UsageError, match="sidecar under --engine real"):
        LabCluster(scenario("23-istio-sidecar-loopback"), base=BASE, engine="real")


DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


@pytest.mark.parametrize("engine", ["builtin", "real"])
def test_network_policy_holds_on_the_ingress_leg(
    real_programs: None, engine: str, tmp_path: Path
) -> None:
    """A deny-all policy at the backend pods stops every request through the ingress."""
    del real_programs
    policy = tmp_path / "deny.yaml"
    policy.write_text(DENY_ALL)
    files = sorted(glob.glob("examples/user-scenarios/07-forwarded-headers-spoofing/*.yaml"))
    cluster = load_cluster([*files, str(policy)], default_scenario=True)
    assert cluster.network_policies

    async def go() -> list[Observation]:
        async with LabCluster(
            cluster, seed=3, time_scale=0.1, drop_hold=0.5, base=BASE, engine=engine
        ) as lab:
            return await judged(lab, 1)

    seen = asyncio.run(go())
    assert seen
    assert not [o for o in seen if o.result is RequestResult.OK or o.pod is not None], seen
