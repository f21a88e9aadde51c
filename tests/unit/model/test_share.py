"""Expected shares of new connections per node and per pod, fairness, and policy comparison.

Clusters are YAML documents (Service, Deployment pinned per node by the Scenario's
``placement``) converted by :func:`srcip.manifests.convert_documents`; edge cases the
loader cannot produce use ``tests.factories``.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from srcip.model.enums import TrafficPolicy
from srcip.model.index import build_index
from srcip.model.objects import Cluster, LoadBalancerIngress
from srcip.model.scenario import LoadBalancerSpec, Scenario, TargetType
from srcip.model.share import COMPARISON_HC_PORT, Fairness, PodShare, ServiceShare, share
from tests import factories as f
from tests.unit.manifests.builders import convert


def web(policy: str, pins: dict[str, int], *, nodes: int = 3, **spec: Any) -> Cluster:
    """Service ``web`` (``type`` in ``spec``, default LoadBalancer) with pods pinned per node."""
    replicas = sum(pins.values())
    if replicas:
        spec["placement"] = {name: count for name, count in pins.items() if count}
    labels = {"app": "web"}
    service_spec: dict[str, Any] = {
        "type": spec.pop("type", "LoadBalancer"),
        "externalTrafficPolicy": policy,
        "selector": labels,
        "ports": [{"port": 80, "targetPort": 8080}],
    }
    return convert(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": service_spec},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "web"}]},
                },
            },
        },
        {
            "apiVersion": "srcip.dev/v1alpha1",
            "kind": "Scenario",
            "metadata": {"name": "test"},
            "spec": {"nodes": nodes, **spec},
        },
    )


def only(cluster: Cluster, **kwargs: Any) -> ServiceShare:
    """The single Service's share."""
    (item,) = share(cluster, **kwargs).services
    return item


def pod_shares(item: ServiceShare) -> dict[str, Fraction]:
    """Pod name → share."""
    return {p.name: p.share for p in item.pods}


def node_shares(item: ServiceShare) -> dict[str, Fraction]:
    """Node name → share."""
    return {n.name: n.share for n in item.nodes}


UNEVEN = {"node-1": 5, "node-2": 3, "node-3": 2}


# --------------------------------------------------------------------------- splits


def test_unweighted_local_gives_the_seeds_uneven_split() -> None:
    """5/3/2 pods, equal per node: 1/15, 1/9, 1/6 per pod — fairness shows the imbalance."""
    item = only(web("Local", UNEVEN))
    assert node_shares(item) == {name: Fraction(1, 3) for name in UNEVEN}
    expected = {"node-1": Fraction(1, 15), "node-2": Fraction(1, 9), "node-3": Fraction(1, 6)}
    assert all(p.share == expected[p.node or ""] for p in item.pods)
    assert [n.local_pods for n in item.nodes] == [5, 3, 2]
    assert all(n.healthy for n in item.nodes)
    assert item.dropped == 0
    fairness = item.fairness
    assert (fairness.pods, fairness.max_share, fairness.min_share, fairness.fair_share) == (
        10,
        Fraction(1, 6),
        Fraction(1, 15),
        Fraction(1, 10),
    )
    assert fairness.max_over_min == Fraction(5, 2)
    assert fairness.busiest_over_fair == Fraction(5, 3)
    assert item.policy is TrafficPolicy.LOCAL
    assert item.notes == ("equal over healthy targets",)


def test_weighted_local_gives_every_pod_the_same_share() -> None:
    """Weighting by local endpoints: every pod 1/P, nodes in proportion to their pods."""
    item = only(web("Local", UNEVEN, loadBalancer={"weighting": "endpoints"}))
    assert set(pod_shares(item).values()) == {Fraction(1, 10)}
    assert node_shares(item) == {
        "node-1": Fraction(1, 2),
        "node-2": Fraction(3, 10),
        "node-3": Fraction(1, 5),
    }
    assert item.fairness.max_over_min == 1
    assert item.fairness.busiest_over_fair == 1


def test_cluster_policy_spreads_evenly_over_pods() -> None:
    """Cluster: every node forwards over every pod, so each pod gets 1/P wherever it runs."""
    item = only(web("Cluster", {"node-1": 2, "node-2": 1}))
    assert set(pod_shares(item).values()) == {Fraction(1, 3)}
    assert node_shares(item) == {name: Fraction(1, 3) for name in ("node-1", "node-2", "node-3")}
    assert item.dropped == 0


def test_node_port_only_service_sends_to_every_node() -> None:
    """No load balancer: each node gets 1/N; under Local the empty node drops its third."""
    item = only(web("Local", {"node-1": 2, "node-2": 1}, type="NodePort"))
    assert node_shares(item) == {name: Fraction(1, 3) for name in ("node-1", "node-2", "node-3")}
    assert all(n.healthy for n in item.nodes)
    assert item.dropped == Fraction(1, 3)
    assert pod_shares(item) == {
        "web-0": Fraction(1, 6),
        "web-1": Fraction(1, 6),
        "web-2": Fraction(1, 3),
    }


def test_client_of_another_family_reaches_no_node_port() -> None:
    """An IPv6 client and IPv4-only nodes: every NodePort connection is dropped."""
    item = only(web("Cluster", {"node-1": 1}, type="NodePort", clients=["2001:db8::7"]))
    assert item.dropped == 1
    assert [(p.name, p.share) for p in item.pods] == [("web-0", Fraction(0))]  # idle, listed


def test_unhealthy_nodes_are_marked() -> None:
    """Local behind an LB: the node without pods fails its health check and gets nothing."""
    item = only(web("Local", {"node-1": 1}))
    assert [(n.name, n.share, n.healthy) for n in item.nodes] == [
        ("node-1", Fraction(1), True),
        ("node-2", Fraction(0), False),
        ("node-3", Fraction(0), False),
    ]


def test_hints_give_overlapping_endpoint_sets() -> None:
    """Zone hints: each zone's node keeps its pod, the hint-less zone spreads over both."""
    service = f.service("web", type="NodePort", cluster_ip="10.96.0.10",
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice(
        "web",
        (
            f.endpoint("10.244.1.5", node="n1", zone="a", zone_hints=("a",)),
            f.endpoint("10.244.2.5", node="n2", zone="b", zone_hints=("b",)),
        ),
        ports=(("", 8080, "TCP"),),
    )
    nodes = tuple(
        f.node(f"n{i}", f"10.0.1.{i + 1}", zone=zone, pod_cidr=f"10.244.{i}.0/24")
        for i, zone in ((1, "a"), (2, "b"), (3, "c"))
    )
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=nodes,
                        config=f.proxy_config(cluster_cidr="10.244.0.0/16"))  # fmt: skip
    item = only(cluster)
    # n1 → 10.244.1.5 (1/3), n2 → 10.244.2.5 (1/3), n3 → both (1/6 each)
    assert [(p.name, p.node, p.share) for p in item.pods] == [
        ("10.244.1.5", "n1", Fraction(1, 2)),
        ("10.244.2.5", "n2", Fraction(1, 2)),
    ]


def test_hostname_only_load_balancer_is_split_by_its_health_checks() -> None:
    """An LB status with only a hostname: no VIP, so it sends to node ports it health-checks."""
    service = replace(
        f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", etp="Local",
                  hc_node_port=32000, ports=(f.port(80, node_port=30080, target_port=8080),)),
        load_balancer_ingress=(LoadBalancerIngress(hostname="lb.example.com"),),
    )  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    nodes = (f.node("n1", "10.0.1.2", pod_cidr="10.244.1.0/24"), f.node("n2", "10.0.1.3"))
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=nodes,
                        config=f.proxy_config(cluster_cidr="10.244.0.0/16"))  # fmt: skip
    item = only(cluster)
    assert node_shares(item) == {"n1": Fraction(1), "n2": Fraction(0)}
    assert item.dropped == 0
    assert pod_shares(item) == {"10.244.1.5": Fraction(1)}


def test_no_nodes_means_no_shares() -> None:
    """A NodePort Service in an input without nodes: every connection is lost."""
    service = f.service("web", type="NodePort", cluster_ip="10.96.0.10",
                        ports=(f.port(80, node_port=30080),))  # fmt: skip
    item = only(f.cluster(services=(service,)))
    assert item.nodes == ()
    assert item.pods == ()
    assert item.dropped == 1
    assert item.fairness == Fairness(
        pods=0, max_share=Fraction(0), min_share=Fraction(0), fair_share=Fraction(0)
    )
    assert item.fairness.max_over_min is None
    assert item.fairness.busiest_over_fair == 0


# --------------------------------------------------------------------------- pod targets


def test_pod_targets_split_over_pods_directly() -> None:
    """AWS ip targets: the LB splits over ready pods; nodes get what their pods get."""
    lb = {"targets": "pod", "healthCheck": {"target": "trafficPort"}}
    item = only(web("Local", {"node-1": 2, "node-2": 1}, loadBalancer=lb))
    assert [(p.name, p.node, p.share) for p in item.pods] == [
        ("web-0", "node-1", Fraction(1, 3)),
        ("web-1", "node-1", Fraction(1, 3)),
        ("web-2", "node-2", Fraction(1, 3)),
    ]
    assert [(n.name, n.share, n.local_pods) for n in item.nodes] == [
        ("node-1", Fraction(2, 3), 2),
        ("node-2", Fraction(1, 3), 1),
        ("node-3", Fraction(0), 0),
    ]
    assert item.dropped == 0
    assert item.notes[-1].startswith("pod targets: the load balancer sends to pod IPs")


def _slices_only_pod_targets() -> Cluster:
    service = f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", lb_ips=("1.2.3.4",),
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "10.0.1.2"),))
    return replace(
        cluster, scenario=Scenario(name="s", load_balancer=LoadBalancerSpec(targets=TargetType.POD))
    )


def test_pod_targets_without_pod_objects_are_named_by_endpoint() -> None:
    """EndpointSlices without Pod objects: each target is named ip:port and gets its share."""
    item = only(_slices_only_pod_targets())
    assert [(p.name, p.share) for p in item.pods] == [("10.244.1.5:8080", Fraction(1))]


def test_pod_targets_without_pod_objects_keep_the_endpoints_node() -> None:
    """The endpoint's nodeName says where the pod runs even without a Pod object."""
    item = only(_slices_only_pod_targets())
    assert [p.node for p in item.pods] == ["n1"]
    assert node_shares(item) == {"n1": Fraction(1)}


@pytest.mark.parametrize(
    "lb",
    [
        pytest.param({"provider": "azure"}, id="azure-no-healthy-node"),
        pytest.param({"targets": "pod"}, id="pod-targets-no-pod"),
    ],
)
def test_connections_the_load_balancer_drops_are_dropped(lb: dict[str, Any]) -> None:
    """No target at all: every connection is lost, so dropped is 1, as the trace says."""
    item = only(web("Local", {}, loadBalancer=lb))
    assert item.pods == ()
    assert item.dropped == 1


# --------------------------------------------------------------------------- comparison


@pytest.mark.parametrize(
    ("policy", "other"),
    [pytest.param("Local", "Cluster", id="local"), pytest.param("Cluster", "Local", id="cluster")],
)
def test_compare_policies_flips_each_service(policy: str, other: str) -> None:
    """--compare-policies: the same cluster with the other externalTrafficPolicy, side by side."""
    cluster = web(policy, {"node-1": 2, "node-2": 1})
    report = share(cluster, compare_policies=True)
    (item,) = report.services
    (compared,) = report.compared
    assert (str(item.policy), str(compared.policy)) == (policy, other)
    by_policy = {str(item.policy): item, str(compared.policy): compared}
    local, spread = by_policy["Local"], by_policy["Cluster"]
    assert pod_shares(local) == {"web-0": Fraction(1, 4), "web-1": Fraction(1, 4),
                                 "web-2": Fraction(1, 2)}  # fmt: skip
    assert set(pod_shares(spread).values()) == {Fraction(1, 3)}
    assert [n.healthy for n in local.nodes] == [True, True, False]
    assert share(cluster).compared == ()


def test_comparison_gives_a_health_check_port_when_the_service_has_none() -> None:
    """A Cluster Service has no healthCheckNodePort; flipped to Local it probes 32767."""
    cluster = web("Cluster", {"node-1": 1})
    assert cluster.services[0].health_check_node_port == 0
    (compared,) = share(cluster, compare_policies=True).compared
    assert COMPARISON_HC_PORT == 32767
    assert [n.healthy for n in compared.nodes] == [True, False, False]
    assert node_shares(compared)["node-1"] == 1


# --------------------------------------------------------------------------- defaults


def test_no_scenario_and_given_index() -> None:
    """Without a Scenario the defaults apply; a given index gives the same report."""
    cluster = web("Local", UNEVEN)
    bare = replace(cluster, scenario=None)
    assert share(bare) == share(bare, index=build_index(bare))
    assert pod_shares(only(bare)) == pod_shares(only(cluster))
    no_clients = replace(cluster, scenario=Scenario(name="s", clients=()))
    assert only(no_clients).dropped == 0


def test_service_option_selects_one() -> None:
    """--service narrows the report to that Service."""
    (item,) = share(web("Local", {"node-1": 1}), service="web").services
    assert item.name == "default/web"


# --------------------------------------------------------------------------- fairness


@pytest.mark.parametrize(
    ("shares", "max_over_min", "busiest_over_fair"),
    [
        pytest.param((Fraction(1, 2), Fraction(1, 2)), Fraction(1), Fraction(1), id="even"),
        pytest.param((Fraction(3, 4), Fraction(1, 4)), Fraction(3), Fraction(3, 2), id="uneven"),
        pytest.param((Fraction(1), Fraction(0)), None, Fraction(2), id="idle-pod"),
    ],
)
def test_fairness_figures(
    shares: tuple[Fraction, ...], max_over_min: Fraction | None, busiest_over_fair: Fraction
) -> None:
    """max/min (None when a pod gets nothing) and busiest over the fair share 1/P."""
    fairness = Fairness(pods=len(shares), max_share=max(shares), min_share=min(shares),
                        fair_share=Fraction(sum(shares), len(shares)))  # fmt: skip
    assert fairness.max_over_min == max_over_min
    assert fairness.busiest_over_fair == busiest_over_fair


# --------------------------------------------------------------------------- properties

PINS = st.lists(st.integers(0, 4), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    policy=st.sampled_from(["Local", "Cluster"]),
    pins=PINS,
    kind=st.sampled_from(["LoadBalancer", "NodePort"]),
    weighting=st.sampled_from(["equal", "endpoints"]),
    targets=st.sampled_from(["vip", "nodePort", "pod"]),
)
def test_shares_sum_to_one(
    policy: str, pins: list[int], kind: str, weighting: str, targets: str
) -> None:
    """For every placement, policy and LB: pod shares plus dropped is exactly 1."""
    placement = {f"node-{i + 1}": count for i, count in enumerate(pins)}
    lb = {"weighting": weighting, "targets": targets, "healthCheck": {"target": "trafficPort"}}
    # pod targets without any pod: see test_connections_the_load_balancer_drops_are_dropped
    assume(targets != "pod" or sum(pins) > 0)
    item = only(web(policy, placement, nodes=len(pins), type=kind, loadBalancer=lb))
    assert sum((p.share for p in item.pods), Fraction(0)) + item.dropped == 1
    assert sum((n.share for n in item.nodes), Fraction(0)) == 1
    assert all(isinstance(p, PodShare) and p.share > 0 for p in item.pods)
    assert len(item.pods) <= sum(pins)


@settings(max_examples=60, deadline=None)
@given(pins=PINS.filter(lambda pins: sum(pins) > 0))
def test_weighted_local_is_fair_and_unweighted_local_is_one_over_n_p(pins: list[int]) -> None:
    """Weighted Local: each pod 1/P. Unweighted: 1/(n·p_i) over the n nodes with pods."""
    placement = {f"node-{i + 1}": count for i, count in enumerate(pins)}
    weighted = only(
        web("Local", placement, nodes=len(pins), loadBalancer={"weighting": "endpoints"})
    )
    assert set(pod_shares(weighted).values()) == {Fraction(1, sum(pins))}
    assert weighted.dropped == 0
    plain = only(web("Local", placement, nodes=len(pins)))
    serving = sum(1 for count in pins if count)
    for pod in plain.pods:
        assert pod.share == Fraction(1, serving * placement[pod.node or ""])


def test_terminating_endpoints_that_still_serve_get_the_traffic() -> None:
    """Only serving-terminating endpoints left: kube-proxy falls back to them (KP §7)."""
    service = f.service("web", type="NodePort", cluster_ip="10.96.0.10",
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice(
        "web",
        (f.endpoint("10.244.1.5", node="n1", ready=False, serving=True, terminating=True),),
        ports=(("", 8080, "TCP"),),
    )
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "10.0.1.2"),))
    item = only(cluster)
    assert [(p.name, p.share) for p in item.pods] == [("10.244.1.5", Fraction(1))]


def test_pod_targets_without_a_node_name_count_for_no_node() -> None:
    """An endpoint without nodeName: its pod has a share but no node gets it."""
    service = f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", lb_ips=("198.51.100.10",),
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5"),), ports=(("", 8080, "TCP"),))
    scenario = replace(Scenario(name="s"), load_balancer=LoadBalancerSpec(targets=TargetType.POD))
    cluster = replace(
        f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "10.0.1.2"),)),
        scenario=scenario,
    )
    item = only(cluster)
    assert [(p.node, p.share) for p in item.pods] == [(None, Fraction(1))]
    assert node_shares(item) == {"n1": Fraction(0)}
