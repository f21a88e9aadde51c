"""The grouped summary against the exact per-node models: ``share`` and ``trace``.

Every figure :func:`summarize` gives per group, expanded to each member, must equal what
``share`` (per node, per pod, dropped) and ``trace`` (the pod's peer, the app's client, the
NetworkPolicy drops, the app's refusals) give node by node. Hypothesis varies placement,
zones, taints, policy, Service type, the load balancer's mode, targets, weighting,
cross-zone and announcement, the health check, and NetworkPolicies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from ipaddress import ip_network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.errors import UsageError
from srcip.model.grouped import GroupedService, NodeGroup, SeenKind, expanded, summarize
from srcip.model.index import ClusterIndex, build_index
from srcip.model.netpol import IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyRule
from srcip.model.objects import Cluster, IPAddress, Node
from srcip.model.scenario import (
    Announcement,
    AppSpec,
    ClientSpec,
    LoadBalancerMode,
    LoadBalancerSpec,
    Mesh,
    Scenario,
    SidecarHop,
    TargetType,
    Weighting,
)
from srcip.model.share import share
from srcip.model.trace import trace
from srcip.model.workloads import LabelSelector
from tests import factories as f
from tests.unit.manifests.builders import convert

LABELS = {"app": "web"}


def web(
    policy: str,
    pins: list[int],
    *,
    zones: list[str] | None = None,
    deleting: list[bool] | None = None,
    kind: str = "LoadBalancer",
    lb: dict[str, Any] | None = None,
    netpol: str | None = None,
    hc_port: int | None = None,
) -> Cluster:
    """Service ``web`` with ``pins[i]`` pods on node-(i+1), in ``zones[i]``."""
    nodes = []
    for i, _ in enumerate(pins):
        spec: dict[str, Any] = {"name": f"node-{i + 1}", "zone": (zones or ["zone-a"] * 99)[i]}
        if deleting and deleting[i]:
            spec["taints"] = [{"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}]
        nodes.append(spec)
    service_spec: dict[str, Any] = {
        "type": kind,
        "externalTrafficPolicy": policy,
        "selector": LABELS,
        "ports": [{"port": 80, "targetPort": 8080}],
    }
    if hc_port is not None:
        service_spec["healthCheckNodePort"] = hc_port
    scenario: dict[str, Any] = {"nodes": nodes, "loadBalancer": lb or {}}
    if sum(pins):
        scenario["placement"] = {f"node-{i + 1}": n for i, n in enumerate(pins) if n}
    docs: list[Any] = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": service_spec},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": sum(pins),
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {"containers": [{"name": "web", "image": "web"}]},
                },
            },
        },
        {
            "apiVersion": "srcip.dev/v1alpha1",
            "kind": "Scenario",
            "metadata": {"name": "test"},
            "spec": scenario,
        },
    ]
    if netpol is not None:
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "allow"},
                "spec": {
                    "podSelector": {"matchLabels": LABELS},
                    "ingress": [{"from": [{"ipBlock": {"cidr": netpol}}]}],
                },
            }
        )
    return convert(*docs)


def agrees(cluster: Cluster) -> GroupedService:
    """Assert every Service's summary equals share and trace node by node; return the first."""
    index = build_index(cluster)
    items = summarize(cluster, index=index)
    for item in items:
        agrees_on(cluster, index, item)
    return items[0]


def agrees_on(cluster: Cluster, index: ClusterIndex, item: GroupedService) -> None:
    """Assert one Service's summary equals what share and trace give node by node."""
    (exact,) = share(cluster, service=item.service, index=index).services
    per_node = {n: g for g in item.groups for n in g.nodes}
    if item.groups:
        assert sorted(per_node) == sorted(n.name for n in exact.nodes)
        for node in exact.nodes:
            group = per_node[node.name]
            assert (group.share, group.healthy, group.local_pods) == (
                node.share,
                node.healthy,
                node.local_pods,
            ), node.name
    assert [(p.name, p.share) for p in item.pods] == [(p.name, p.share) for p in exact.pods]
    assert item.dropped == exact.dropped
    assert item.fairness == exact.fairness
    (traced,) = trace(cluster, service=item.service, index=index).services
    pod: dict[IPAddress, Fraction] = defaultdict(Fraction)
    app: dict[IPAddress, Fraction] = defaultdict(Fraction)
    denied = refused = Fraction(0)
    for outcome in traced.outcomes:
        if outcome.dropped_at and outcome.dropped_at.startswith("NetworkPolicy"):
            denied += outcome.probability
        elif outcome.refused_at and outcome.refused_at.startswith("app in pod"):
            refused += outcome.probability
        if outcome.pod_peer is not None:
            pod[outcome.pod_peer] += outcome.probability
        if outcome.delivered:
            assert outcome.app_client_ip is not None
            app[outcome.app_client_ip] += outcome.probability
    assert expanded(item.pod_sees, index) == dict(pod)
    assert expanded(item.app_sees, index) == dict(app)
    assert (item.denied, item.refused) == (denied, refused)


# --------------------------------------------------------------------------- examples


def test_cluster_policy_puts_alike_nodes_in_one_group() -> None:
    """Cluster, one zone: the nodes without pods form one group; each pod host is its own."""
    item = agrees(web("Cluster", [2, 0, 0, 1, 0, 0]))
    sizes = sorted(g.count for g in item.groups)
    assert sizes == [1, 1, 4]
    kinds = {s.kind for s in item.pod_sees}
    assert kinds == {SeenKind.NODE, SeenKind.GATEWAY}
    assert [w.split(":")[0] for w in item.why] == ["KP §3", "KP §4.2", "KP §5.2"]


def test_local_policy_with_one_pod_per_node_is_one_group() -> None:
    """Local, one pod on each of four nodes: one group of four, every pod 1/4."""
    item = agrees(web("Local", [1, 1, 1, 1, 0, 0]))
    assert [g.count for g in item.groups] == [4, 2]
    assert {p.share for p in item.pods} == {Fraction(1, 4)}
    assert [s.kind for s in item.pod_sees] == [SeenKind.CLIENT]
    assert [h.kind for h in item.path] == ["lb/passthrough", "kube-proxy", "pod", "app"]
    assert "KP §4.3: Local policy: only endpoints on this node, client IP preserved" in item.why
    assert {h.peer for h in item.path} == {item.pod_sees[0].address}


def test_metallb_layer_2_elects_one_node_of_a_group() -> None:
    """L2 with Cluster: the first healthy node answers alone, split from its group."""
    item = agrees(web("Cluster", [0, 1, 0, 0], lb={"provider": "metallb-l2"}))
    elected = [g for g in item.groups if g.share == 1]
    assert [g.nodes for g in elected] == [("node-1",)]


def test_zones_and_eligibility_split_groups() -> None:
    """Different zones or a ToBeDeleted taint: different groups."""
    item = agrees(
        web(
            "Cluster",
            [0, 0, 0, 0],
            zones=["zone-a", "zone-a", "zone-b", "zone-b"],
            deleting=[False, True, False, False],
        )
    )
    assert sorted(g.nodes for g in item.groups) == [("node-1",), ("node-2",), ("node-3", "node-4")]


def test_network_policy_bits_keep_nodes_apart() -> None:
    """An ipBlock admitting one node's address: that node is alone; the others are denied."""
    item = agrees(web("Cluster", [1, 0, 0, 0], netpol="10.0.1.3/32"))
    assert item.denied > 0


def test_pod_targets_have_no_node_groups() -> None:
    """AWS ip targets: the LB sends to pods; no node groups."""
    item = agrees(web("Local", [1, 2, 0], lb={"targets": "pod"}))
    assert item.groups == ()
    assert {p.share for p in item.pods} == {Fraction(1, 3)}


def test_hops_are_refused() -> None:
    """A Scenario with hops is traced, not summarised."""
    cluster = web("Local", [1])
    scenario = cluster.scenario
    assert scenario is not None
    with_hop = replace(
        cluster, scenario=replace(scenario, hops=(SidecarHop(name="istio", mesh=Mesh.ISTIO),))
    )
    with pytest.raises(UsageError, match="hops"):
        summarize(with_hop)


# --------------------------------------------------------------------------- properties

LB = st.fixed_dictionaries(
    {},
    optional={
        "provider": st.sampled_from(
            ["gke", "aws-nlb", "aws-clb", "aws-nlb-ip", "azure", "metallb-l2", "metallb-bgp", "k3s"]
        ),
        "mode": st.sampled_from(["passthrough", "snat", "proxy", "http"]),
        "proxyProtocol": st.sampled_from(["off", "v1", "v2"]),
        "weighting": st.sampled_from(["equal", "endpoints"]),
        "targets": st.sampled_from(["vip", "nodePort", "pod"]),
        "crossZone": st.booleans(),
        "healthCheck": st.fixed_dictionaries(
            {"target": st.sampled_from(["healthCheckNodePort", "trafficPort", "proxyHealthz"])}
        ),
    },
)


@settings(max_examples=200, deadline=None)
@given(
    policy=st.sampled_from(["Local", "Cluster"]),
    pins=st.lists(st.integers(0, 3), min_size=1, max_size=7),
    data=st.data(),
    kind=st.sampled_from(["LoadBalancer", "NodePort"]),
    lb=LB,
    netpol=st.sampled_from([None, None, "203.0.113.0/24", "10.0.1.0/30", "10.244.0.0/16"]),
)
def test_summary_equals_share_and_trace(
    policy: str,
    pins: list[int],
    data: st.DataObject,
    kind: str,
    lb: dict[str, Any],
    netpol: str | None,
) -> None:
    """Any placement, zones, taints, policy, LB and NetworkPolicy: the figures agree."""
    n = len(pins)
    zones = data.draw(st.lists(st.sampled_from(["zone-a", "zone-b"]), min_size=n, max_size=n))
    deleting = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if lb.get("targets") == "pod" and not sum(pins):
        lb = {**lb, "targets": "vip"}
    agrees(web(policy, pins, zones=zones, deleting=deleting, kind=kind, lb=lb, netpol=netpol))


# --------------------------------------------------------------------------- raw endpoints

CONDITIONS = st.sampled_from(
    [
        {"ready": True},
        {"ready": True},
        {"ready": False, "serving": True, "terminating": True},
        {"ready": False, "serving": False, "terminating": True},
        {"ready": False},
    ]
)


@st.composite
def raw_clusters(draw: st.DrawFn) -> Cluster:
    """Nodes, one external Service and endpoints of every condition, straight from factories."""
    count = draw(st.integers(1, 7))
    zones = [draw(st.sampled_from(["zone-a", "zone-b"])) for _ in range(count)]
    nodes = tuple(
        f.node(
            f"node-{i}",
            f"10.0.1.{i + 1}",
            pod_cidr=f"10.244.{i}.0/24",
            zone=zones[i],
            deleting=draw(st.booleans()) and i > 0,
        )
        for i in range(count)
    )
    endpoints = []
    for i in range(count):
        for j in range(draw(st.integers(0, 3))):
            hints = draw(st.sampled_from(["", "", "zone", "node"]))
            endpoints.append(
                f.endpoint(
                    f"10.244.{i}.{j + 10}",
                    node=f"node-{i}",
                    zone=zones[i],
                    zone_hints=(zones[i],) if hints == "zone" else (),
                    node_hints=(f"node-{i}",) if hints == "node" else (),
                    **draw(CONDITIONS),
                )
            )
    kind = draw(st.sampled_from(["LoadBalancer", "NodePort"]))
    ranges = draw(st.sampled_from([(), ("203.0.113.0/24",), ("10.0.1.0/30", "203.0.113.7/32")]))
    svc = f.service(
        "web",
        type=kind,
        cluster_ip="10.96.0.10",
        ports=(f.port(80, node_port=30080),),
        etp=draw(st.sampled_from(["Local", "Cluster"])),
        lb_ips=("198.51.100.10",) if kind == "LoadBalancer" else (),
        source_ranges=ranges if kind == "LoadBalancer" else (),
        hc_node_port=31234,
    )
    services = [svc]
    slices = [f.endpoint_slice("web", tuple(endpoints))] if endpoints else []
    if draw(st.booleans()):  # a second Service of the same namespace, on the same pods
        services.append(
            f.service(
                "api",
                type=kind,
                cluster_ip="10.96.0.11",
                ports=(f.port(80, node_port=30081),),
                etp=svc.external_traffic_policy.value,
                lb_ips=("198.51.100.11",) if kind == "LoadBalancer" else (),
                hc_node_port=31235,
            )
        )
        slices.append(f.endpoint_slice("api", tuple(endpoints), name="api-1"))
    base = f.cluster(services=tuple(services), slices=tuple(slices), nodes=nodes)
    policy = draw(st.sampled_from([None, "10.0.1.0/31", "203.0.113.0/24", "pods"]))
    if policy is not None:
        peer = (
            NetworkPolicyPeer(pod_selector=LabelSelector())
            if policy == "pods"
            else NetworkPolicyPeer(ip_block=IPBlock(cidr=ip_network(policy)))
        )
        allow = NetworkPolicy(
            namespace="ns1", name="allow", ingress=(NetworkPolicyRule(peers=(peer,)),)
        )
        base = replace(base, network_policies=(allow,))
    lb = LoadBalancerSpec(
        mode=draw(st.sampled_from([None, *LoadBalancerMode])),
        targets=draw(st.sampled_from([None, TargetType.VIP, TargetType.NODE_PORT])),
        weighting=draw(st.sampled_from([None, *Weighting])),
        cross_zone=draw(st.sampled_from([None, False])),
        announcement=draw(st.sampled_from([None, Announcement.L2])),
    )
    return replace(base, scenario=Scenario(name="raw", load_balancer=lb))


@settings(max_examples=250, deadline=None)
@given(cluster=raw_clusters())
def test_summary_equals_share_and_trace_for_any_endpoints(cluster: Cluster) -> None:
    """Ready, serving-terminating, not-ready and hinted endpoints, source ranges: they agree."""
    agrees(cluster)


# --------------------------------------------------------------------------- edges


def test_some_lists_the_first_members_only() -> None:
    """NodeGroup.some: the first members in node order, the excluded ones left out."""
    group = NodeGroup(
        pool=("a", "b", "c", "d"),
        excluded=frozenset({"b"}),
        count=3,
        first="a",
        share=Fraction(1, 3),
        healthy=True,
        health="",
        local_pods=0,
    )
    assert group.some(2) == ("a", "c")
    assert group.some(9) == group.nodes == ("a", "c", "d")


def test_an_app_that_trusts_proxies_keeps_every_node_apart() -> None:
    """Trust by address may single out nodes: no two nodes share a group then."""
    cluster = web("Cluster", [1, 0, 0, 0])
    assert cluster.scenario is not None
    app = AppSpec(trusted_proxies=("10.0.1.0/30",), trusted_hops=1)
    item = agrees(replace(cluster, scenario=replace(cluster.scenario, app=app)))
    assert [g.count for g in item.groups] == [1, 1, 1, 1]


def test_only_external_services_with_a_cluster_ip_are_summarised() -> None:
    """A ClusterIP Service has nothing to summarise: a usage error names it."""
    svc = f.service("db", cluster_ip="10.96.0.20", ports=(f.port(5432),))
    with pytest.raises(UsageError, match="ns1/db \\(ClusterIP\\)"):
        summarize(f.cluster(services=(svc,)), services=[svc])


def _node_port_cluster(*nodes: Node, node_port: int = 30080) -> Cluster:
    svc = f.service(
        "web", type="NodePort", cluster_ip="10.96.0.10", ports=(f.port(80, node_port=node_port),)
    )
    eps = (f.endpoint("10.244.0.10", node="node-0"),)
    return f.cluster(services=(svc,), slices=(f.endpoint_slice("web", eps),), nodes=nodes)


@pytest.mark.parametrize(
    ("nodes", "node_port"),
    [
        pytest.param((), 30080, id="no-nodes"),
        pytest.param((f.node("node-0", "10.0.1.1", pod_cidr="10.244.0.0/24"),), 0, id="no-port"),
    ],
)
def test_node_port_without_nodes_or_port_loses_everything(
    nodes: tuple[Node, ...], node_port: int
) -> None:
    """No node to send to, or no NodePort: every connection is lost, as share says."""
    item = agrees(_node_port_cluster(*nodes, node_port=node_port))
    assert item.dropped == 1


def test_a_client_of_another_family_reaches_no_node_port() -> None:
    """An IPv6 client of an IPv4 Service: lost where the node has no IPv6 address and where
    it has one (the Service has no IPv6 NodePort)."""
    cluster = _node_port_cluster(
        f.node("node-0", "10.0.1.1", pod_cidr="10.244.0.0/24"),
        f.node("node-1", "10.0.1.2", "2001:db8::2", pod_cidr="10.244.1.0/24"),
    )
    client = ClientSpec(name="v6", address=f.ip("2001:db8:1::7"))
    item = agrees(replace(cluster, scenario=Scenario(name="v6", clients=(client,))))
    assert item.dropped == 1


def test_a_node_without_the_vips_family_gets_nothing_through_node_ports() -> None:
    """NodePort targets and a node with no IPv4 address: its share is lost."""
    svc = f.service(
        "web",
        type="LoadBalancer",
        cluster_ip="10.96.0.10",
        ports=(f.port(80, node_port=30080),),
        lb_ips=("198.51.100.10",),
    )
    eps = (f.endpoint("10.244.0.10", node="node-0"),)
    nodes = (
        f.node("node-0", "10.0.1.1", pod_cidr="10.244.0.0/24"),
        f.node("node-1", "2001:db8::2", pod_cidr="10.244.1.0/24"),
    )
    base = f.cluster(services=(svc,), slices=(f.endpoint_slice("web", eps),), nodes=nodes)
    # MetalLB probes nothing under Cluster, so the node without IPv4 still gets its half.
    lb = LoadBalancerSpec(provider="metallb-bgp", targets=TargetType.NODE_PORT)
    item = agrees(replace(base, scenario=Scenario(name="v6", load_balancer=lb)))
    assert item.dropped == Fraction(1, 2)


def test_no_healthy_node_on_a_provider_that_does_not_fail_open() -> None:
    """MetalLB with Local and no pod anywhere: the VIP is withdrawn, everything is lost."""
    item = agrees(web("Local", [0, 0, 0], lb={"provider": "metallb-l2"}))
    assert (item.dropped, item.pods) == (Fraction(1), ())


def _dual_stack(kind: str) -> Cluster:
    """IPv6-primary dual-stack Service, Local, one pod on each of three nodes."""
    svc = f.service(
        "web",
        type=kind,
        cluster_ip=("fd00::10", "10.96.0.10"),
        ports=(f.port(80, node_port=30080),),
        etp="Local",
        lb_ips=("198.51.100.10",) if kind == "LoadBalancer" else (),
        hc_node_port=31234,
    )
    nodes = tuple(
        f.node(
            f"node-{i}",
            f"10.0.1.{i + 1}",
            f"fd00:1::{i + 1}",
            pod_cidr=(f"10.244.{i}.0/24", f"fd00:244:{i}::/64"),
            zone="zone-a",
        )
        for i in range(3)
    )
    v4 = tuple(f.endpoint(f"10.244.{i}.10", node=f"node-{i}") for i in range(3))
    v6 = tuple(f.endpoint(f"fd00:244:{i}::10", node=f"node-{i}") for i in range(3))
    slices = (
        f.endpoint_slice("web", v4, name="web-v4"),
        f.endpoint_slice("web", v6, name="web-v6", address_type="IPv6"),
    )
    return f.cluster(services=(svc,), slices=slices, nodes=nodes)


@pytest.mark.parametrize(
    ("kind", "targets"),
    [
        pytest.param("NodePort", None, id="node-port"),
        pytest.param("LoadBalancer", TargetType.VIP, id="vip"),
    ],
)
def test_traffic_of_the_secondary_family_routes_every_member(
    kind: str, targets: TargetType | None
) -> None:
    """IPv4 traffic to an IPv6-primary Service: each member of a group is routed itself."""
    cluster = _dual_stack(kind)
    lb = LoadBalancerSpec(targets=targets)
    item = agrees(replace(cluster, scenario=Scenario(name="ds", load_balancer=lb)))
    assert [g.count for g in item.groups] == [3]
    assert {p.share for p in item.pods if p.name.startswith("10.")} == {Fraction(1, 3)}


def test_layer_2_with_counts_needs_the_elected_target_alone() -> None:
    """split: a layer-2 winner that stands for several nodes is a caller's mistake."""
    from srcip.model.loadbalancer import TargetHealth, split
    from srcip.model.providers import effective_load_balancer

    cluster = web("Cluster", [1, 0], lb={"provider": "metallb-l2"})
    (svc,) = cluster.services
    assert cluster.scenario is not None
    lb = effective_load_balancer(
        svc, cluster.scenario.load_balancer, nodes=cluster.nodes, address=f.ip("10.0.0.10")
    )
    health = (
        TargetHealth(
            target="node-1", node="node-1", address=None, healthy=True, status=200,
            weight=None, reason="ok",
        ),
    )  # fmt: skip
    with pytest.raises(ValueError, match="stands for more"):
        split(lb, health, counts={"node-1": 2})


@pytest.mark.parametrize(
    ("pins", "preserve", "seen"),
    [
        pytest.param([1, 1], False, SeenKind.ADDRESS, id="lb-address"),
        pytest.param([0, 0], True, None, id="no-pod"),
    ],
)
def test_pod_targets_without_client_ip_or_pods(
    pins: list[int], preserve: bool, seen: SeenKind | None
) -> None:
    """ip targets without preserve_client_ip: pods see the LB; without pods nothing is sent."""
    lb = {"targets": "pod", "preserveClientIP": preserve}
    item = agrees(web("Local", pins, lb=lb))
    assert [s.kind for s in item.pod_sees] == ([seen] if seen else [])
    assert item.dropped == (0 if seen else 1)
