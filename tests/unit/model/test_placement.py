"""Placement: the seeds' workloads, pins, input pods, derived Pods and EndpointSlices."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.errors import ManifestError
from srcip.model.enums import AddressType, Protocol
from srcip.model.objects import Cluster, Endpoint, EndpointPort, EndpointSlice, ServicePort
from srcip.model.placement import default_selector, place_workloads
from srcip.model.schedstate import (
    BoundPod,
    SchedulerState,
    matches_node_affinity,
    untolerated_taint,
)
from srcip.model.spreading import effective_selector
from srcip.model.workloads import LabelSelector, PodTemplate, Toleration, Workload, WorkloadKind
from tests.unit.model.placement_builders import (
    CONTROL_PLANE,
    HOSTNAME,
    ZONE,
    anti_affinity,
    app,
    by_node,
    constraint,
    node,
    nodes,
    pin,
    pod,
    preferred_anti_affinity,
    scenario,
    service,
    workload,
    zones_of,
)


def seed_spread_workload() -> Cluster:
    """The seeds' deployment-with-spread (15 replicas) on three nodes."""
    web = workload(
        "web",
        15,
        topology_spread_constraints=(constraint(HOSTNAME, 1, hard=False, selector=app("web")),),
        preferred_pod_anti_affinity=(preferred_anti_affinity("web"),),
        container_ports=(("", 8080),),
    )
    return Cluster(nodes=nodes(3), workloads=(web,))


def test_seed_deployment_with_spread_lands_five_per_node() -> None:
    """15 replicas, hostname spread + preferred anti-affinity on 3 nodes: 5/5/5."""
    cluster = place_workloads(seed_spread_workload())
    assert by_node(cluster) == {"node-1": 5, "node-2": 5, "node-3": 5}
    assert [p.name for p in cluster.pods] == [f"web-{i}" for i in range(15)]
    assert cluster.notes == ()


def test_seed_echo_is_spread_by_the_default_constraints() -> None:
    """Two replicas without constraints land on two different nodes (system defaults)."""
    cluster = place_workloads(Cluster(nodes=nodes(3), workloads=(workload("echo", 2),)))
    assert by_node(cluster, "default/echo") == {"node-1": 1, "node-2": 1}


def test_zone_spread_with_uneven_zones() -> None:
    """DoNotSchedule zone spread puts half in the one-node zone, not a third."""
    zoned = (node("node-1", zone="a"), node("node-2", zone="a"), node("node-3", zone="b"))
    web = workload("web", 6, topology_spread_constraints=(constraint(ZONE, selector=app("web")),))
    cluster = place_workloads(Cluster(nodes=zoned, workloads=(web,)))
    assert zones_of(cluster) == {"a": 3, "b": 3}
    assert by_node(cluster)["node-3"] == 3


def test_required_anti_affinity_leaves_extra_replicas_unschedulable() -> None:
    """One pod per node; the rest fail with kube-scheduler's reason."""
    web = workload("web", 5, required_pod_anti_affinity=(anti_affinity("web"),))
    cluster = place_workloads(Cluster(nodes=nodes(3), workloads=(web,)))
    (placement,) = cluster.placements
    reason = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    assert placement.nodes == (("node-1", 1), ("node-2", 1), ("node-3", 1))
    assert (placement.unschedulable, placement.reasons) == (2, (reason,))
    assert cluster.notes == (f"Deployment default/web: 2 of 5 replica(s) unschedulable: {reason}",)


def test_control_plane_taint_and_zone_spread_give_the_documented_message() -> None:
    """A tainted zone still counts as a domain (nodeTaintsPolicy Ignore), blocking the third."""
    cluster_nodes = (
        node("node-1", zone="a"),
        node("node-2", zone="b"),
        node("node-3", zone="c", taints=(CONTROL_PLANE,)),
    )
    web = workload("web", 3, topology_spread_constraints=(constraint(ZONE, selector=app("web")),))
    (placement,) = place_workloads(Cluster(nodes=cluster_nodes, workloads=(web,))).placements
    assert placement.nodes == (("node-1", 1), ("node-2", 1))
    assert placement.reasons == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match pod topology spread constraints.",
    )


def test_a_toleration_opens_a_tainted_node() -> None:
    """Tolerating the control-plane taint makes its node a candidate again."""
    tainted = (node("node-1", taints=(CONTROL_PLANE,)),)
    refused = place_workloads(Cluster(nodes=tainted, workloads=(workload("web", 1),)))
    tolerant = workload(
        "web", 1, tolerations=(Toleration(key=CONTROL_PLANE.key, operator="Exists"),)
    )
    accepted = place_workloads(Cluster(nodes=tainted, workloads=(tolerant,)))
    assert refused.placements[0].unschedulable == 1
    assert by_node(accepted) == {"node-1": 1}


def test_node_selector_keeps_pods_on_matching_nodes() -> None:
    """Only nodes with the selected label get pods; none matching is reported."""
    pool = (("pool", "edge"),)
    cluster_nodes = (node("node-1"), node("node-2", labels=pool), node("node-3", labels=pool))
    placed = place_workloads(
        Cluster(nodes=cluster_nodes, workloads=(workload("web", 4, node_selector=pool),))
    )
    assert by_node(placed) == {"node-2": 2, "node-3": 2}
    nowhere = place_workloads(
        Cluster(
            nodes=cluster_nodes, workloads=(workload("web", 1, node_selector=(("pool", "x"),)),)
        )
    )
    assert nowhere.placements[0].reasons == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
    )


def test_min_domains_holds_back_replicas_until_enough_domains_exist() -> None:
    """With 2 zones and minDomains 3, the global minimum is 0: one pod per zone at most."""
    zoned = (node("node-1", zone="a"), node("node-2", zone="b"))
    web = workload(
        "web",
        4,
        topology_spread_constraints=(constraint(ZONE, selector=app("web"), min_domains=3),),
    )
    (placement,) = place_workloads(Cluster(nodes=zoned, workloads=(web,))).placements
    assert placement.nodes == (("node-1", 1), ("node-2", 1))
    assert placement.unschedulable == 2


def test_input_pods_of_a_workload_are_kept_and_nothing_is_placed() -> None:
    """Pods of the workload already in the input win; a note says so (and the pin is unused)."""
    existing = (pod("web-abc", "node-2", ips=("10.244.2.9",)), pod("other", "node-1", "db"))
    cluster = place_workloads(
        Cluster(
            nodes=nodes(3),
            pods=existing,
            workloads=(workload("web", 3),),
            scenario=scenario(pin({"node-1": 3})),
        )
    )
    assert cluster.pods == existing
    assert cluster.placements == ()
    assert cluster.notes == (
        "Deployment default/web: the input has 1 Pod(s) of it on nodes; they are kept and none "
        "are placed (its spec.placement pin is not used)",
    )


def test_input_pods_count_for_spreading() -> None:
    """Running input pods of another workload with the same labels fill node-1 first."""
    existing = tuple(pod(f"old-{i}", "node-1", "web", phase="Running") for i in range(3))
    finished = (
        pod("done", "node-2", "web", phase="Succeeded"),
        pod("bye", "node-2", "web", terminating=True),
    )
    stray = (pod("lost", "node-9", "web"), pod("pending", None, "web"))
    web = Workload(
        name="web",
        replicas=3,
        selector=LabelSelector(match_labels=(("app", "web"), ("track", "new"))),
        template=PodTemplate(
            labels=(("app", "web"), ("track", "new")),
            topology_spread_constraints=(constraint(HOSTNAME, selector=app("web")),),
        ),
    )
    cluster = place_workloads(
        Cluster(nodes=nodes(3), pods=existing + finished + stray, workloads=(web,))
    )
    assert by_node(cluster) == {"node-2": 2, "node-3": 1}


# --------------------------------------------------------------------------- pins


def test_seed_uneven_pin_replaces_the_scheduler() -> None:
    """node-1: 5, node-2: 3, node-3: 2 is used as given and recorded as pinned."""
    base = seed_spread_workload()
    web = replace(base.workloads[0], replicas=10)
    cluster = Cluster(
        nodes=base.nodes,
        workloads=(web,),
        services=(service(),),
        scenario=scenario(pin({"node-1": 5, "node-2": 3, "node-3": 2}), service="default/web"),
    )
    placed = place_workloads(cluster)
    (placement,) = placed.placements
    assert placement.pinned
    assert placement.nodes == (("node-1", 5), ("node-2", 3), ("node-3", 2))
    assert [p.node_name for p in placed.pods[:6]] == ["node-1"] * 5 + ["node-2"]
    assert placed.notes == ()


def test_pins_that_disagree_with_replicas_win_with_a_note() -> None:
    """A pin summing to 4 for a 3-replica workload places 4; zero counts are skipped."""
    cluster = Cluster(
        nodes=nodes(3),
        workloads=(workload("web", 3),),
        scenario=scenario(pin({"node-1": 4, "node-2": 0}, workload="web")),
    )
    placed = place_workloads(cluster)
    assert by_node(placed) == {"node-1": 4}
    assert placed.notes == (
        "Deployment default/web: spec.placement pins 4 replica(s) but spec.replicas is 3; "
        "the pins win",
    )


def test_pinned_pods_are_seen_by_later_workloads() -> None:
    """A later workload's anti-affinity avoids the node the pin filled."""
    api = workload("api", 2, required_pod_anti_affinity=(anti_affinity("web"),))
    cluster = Cluster(
        nodes=nodes(3),
        workloads=(workload("web", 2), api),
        scenario=scenario(pin({"node-1": 2}, workload="default/web")),
    )
    assert "node-1" not in by_node(place_workloads(cluster), "default/api")


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        pytest.param(
            Cluster(
                nodes=nodes(1),
                workloads=(workload("web"), workload("api")),
                scenario=scenario(pin({"node-1": 1})),
            ),
            "does not say which workload it pins: the input has 2 workload(s) "
            "(default/web, default/api)",
            id="ambiguous-without-service",
        ),
        pytest.param(
            Cluster(
                nodes=nodes(1),
                workloads=(workload("web"),),
                services=(service("web", selector=(("app", "nothing"),)),),
                scenario=scenario(pin({"node-1": 1}), service="default/web"),
            ),
            "does not say which workload it pins: Service default/web selects 0 workload(s)",
            id="service-selects-none",
        ),
        pytest.param(
            Cluster(
                nodes=nodes(1),
                workloads=(workload("web"),),
                scenario=scenario(pin({"node-1": 1}), service="default/missing"),
            ),
            "does not say which workload it pins: Service default/missing selects 0 workload(s)",
            id="service-missing",
        ),
        pytest.param(
            Cluster(
                nodes=nodes(1),
                workloads=(workload("web"),),
                scenario=scenario(pin({"node-1": 1}, workload="shop/web")),
            ),
            "field spec.placement = 'shop/web': names a workload that is not in the input",
            id="unknown-workload",
        ),
        pytest.param(
            Cluster(
                nodes=nodes(2),
                workloads=(workload("web"),),
                scenario=scenario(pin({"node-1": 1, "node-7": 1, "node-8": 1})),
            ),
            "names node(s) that are not in the input: node-7, node-8",
            id="unknown-nodes",
        ),
        pytest.param(
            Cluster(
                nodes=(),
                workloads=(workload("web"),),
                scenario=scenario(pin({"node-1": 1})),
            ),
            "pin to nodes of the input: (none)",
            id="no-nodes-at-all",
        ),
        pytest.param(
            Cluster(
                nodes=nodes(1),
                workloads=(workload("web"),),
                scenario=scenario(pin({"node-1": 1}), pin({"node-1": 2}, workload="web")),
            ),
            "pins the same workload twice",
            id="twice",
        ),
    ],
)
def test_bad_pins_are_manifest_errors(cluster: Cluster, message: str) -> None:
    """Pins naming unknown or ambiguous workloads or unknown nodes fail at the Scenario."""
    with pytest.raises(ManifestError) as caught:
        place_workloads(cluster)
    assert caught.value.where.kind == "Scenario"
    assert caught.value.field == "spec.placement"
    assert message in str(caught.value)


def test_a_scenario_without_pins_schedules() -> None:
    """A Scenario with no placement leaves the scheduler in charge."""
    cluster = Cluster(nodes=nodes(2), workloads=(workload("web", 2),), scenario=scenario())
    assert not place_workloads(cluster).placements[0].pinned


# --------------------------------------------------------------------------- derived objects


def test_derived_pods_and_slice_resolve_named_target_ports() -> None:
    """Placed pods get CIDR addresses; the Service gets a slice with resolved ports."""
    web = workload("web", 2, container_ports=(("http", 8080), ("metrics", 9090)))
    svc = service(
        ports=(
            ServicePort(name="http", port=80, target_port="http"),
            ServicePort(name="metrics", port=9090),
            ServicePort(name="admin", port=81, target_port=8081, protocol=Protocol.UDP),
            ServicePort(name="grpc", port=82, target_port="grpc"),
        ),
        cluster_ips=(ip_address("10.96.0.10"),),
    )
    zoned = (node("node-1", zone="z1"), node("node-2", zone="z2"))
    cluster = place_workloads(Cluster(nodes=zoned, workloads=(web,), services=(svc,)))
    assert [(p.name, p.node_name, p.ips, p.ready, p.phase) for p in cluster.pods] == [
        ("web-0", "node-1", (ip_address("10.244.1.5"),), True, "Running"),
        ("web-1", "node-2", (ip_address("10.244.2.5"),), True, "Running"),
    ]
    assert cluster.endpoint_slices == (
        EndpointSlice(
            namespace="default",
            name="web-srcip",
            service_name="web",
            address_type=AddressType.IPV4,
            ports=(
                EndpointPort(name="http", port=8080),
                EndpointPort(name="metrics", port=9090),
                EndpointPort(name="admin", protocol=Protocol.UDP, port=8081),
            ),
            endpoints=(
                Endpoint(
                    address=ip_address("10.244.1.5"), node_name="node-1", zone="z1", target="web-0"
                ),
                Endpoint(
                    address=ip_address("10.244.2.5"), node_name="node-2", zone="z2", target="web-1"
                ),
            ),
        ),
    )
    assert cluster.notes == (
        "Service default/web port grpc: targetPort 'grpc' names no container port of its "
        "placed pods; the port is left out of the derived EndpointSlice",
    )


def test_services_with_slices_or_without_selectors_get_no_derived_slice() -> None:
    """A Service that has a slice keeps it; selector-less and other-app Services get none."""
    existing = EndpointSlice(name="web-abc", service_name="web")
    services = (service("web"), service("bare", selector=()), service("db"))
    cluster = place_workloads(
        Cluster(
            nodes=nodes(1),
            workloads=(workload("web", 1),),
            services=services,
            endpoint_slices=(existing,),
        )
    )
    assert cluster.endpoint_slices == (existing,)


def test_dual_stack_pods_get_a_slice_per_family() -> None:
    """A node with IPv4 and IPv6 pod CIDRs gives both; the Service without IPs gets both slices."""
    dual = replace(
        node("node-1"), pod_cidrs=(ip_network("10.244.1.0/24"), ip_network("fd00:1::/64"))
    )
    cluster = place_workloads(
        Cluster(nodes=(dual,), workloads=(workload("web", 1),), services=(service(),))
    )
    assert cluster.pods[0].ips == (ip_address("10.244.1.5"), ip_address("fd00:1::5"))
    assert [(s.name, s.address_type) for s in cluster.endpoint_slices] == [
        ("web-srcip", AddressType.IPV4),
        ("web-srcip-ipv6", AddressType.IPV6),
    ]
    assert cluster.endpoint_slices[1].endpoints[0].address == ip_address("fd00:1::5")


def test_addresses_skip_those_of_input_pods_and_fall_back_without_a_cidr() -> None:
    """Input pods' IPs are skipped; a node without a pod CIDR uses 10.244.<n>.0/24, noted."""
    taken = (pod("db-0", "node-1", "db", ips=("10.244.1.5", "10.244.1.6")),)
    bare = (node("node-1"), node("node-2", cidr=None))
    web = workload("web", 4)
    cluster = place_workloads(Cluster(nodes=bare, pods=taken, workloads=(web,)))
    # node-1 already runs db-0, so the emptier node-2 comes first (LeastAllocated by count)
    assert [(p.node_name, p.ips) for p in cluster.pods[1:]] == [
        ("node-2", (ip_address("10.244.2.5"),)),
        ("node-1", (ip_address("10.244.1.7"),)),
        ("node-2", (ip_address("10.244.2.6"),)),
        ("node-1", (ip_address("10.244.1.8"),)),
    ]
    assert cluster.notes == (
        "1 node(s) have no pod CIDR; their placed pods got IPv4 addresses from "
        "10.244.<node number>.0/24: node-2 (10.244.2.0/24)",
    )


def test_a_full_pod_cidr_leaves_pods_without_addresses() -> None:
    """A /30 holds no pod at offset 5; the pod gets no address and a note names the node."""
    tiny = tuple(node(f"node-{i}", cidr=f"10.0.{i}.0/30") for i in range(1, 5))
    cluster = place_workloads(Cluster(nodes=tiny, workloads=(workload("web", 4),)))
    assert all(p.ips == () for p in cluster.pods)
    assert cluster.notes == (
        "4 placed pod(s) got no address: the node's pod CIDR is full: node-1 (10.0.1.0/30), "
        "node-2 (10.0.2.0/30), node-3 (10.0.3.0/30) and 1 more",
    )


def test_host_network_pods_take_their_node_addresses() -> None:
    """hostNetwork pods use the node's InternalIP; a node without one falls back to its CIDR."""
    cluster_nodes = (node("node-1", address="192.0.2.1"), node("node-2"))
    web = workload("web", 2, host_network=True, container_ports=(("http", 80),))
    cluster = place_workloads(Cluster(nodes=cluster_nodes, workloads=(web,)))
    assert [(p.node_name, p.ips, p.host_network) for p in cluster.pods] == [
        ("node-1", (ip_address("192.0.2.1"),), True),
        ("node-2", (ip_address("10.244.2.5"),), True),
    ]


def test_no_nodes_means_every_replica_is_unschedulable() -> None:
    """Without nodes the reason is kube-scheduler's 'no nodes available'."""
    (placement,) = place_workloads(Cluster(workloads=(workload("web", 2),))).placements
    assert (placement.unschedulable, placement.reasons) == (
        2,
        ("no nodes available to schedule pods",),
    )


def test_default_selector_merges_the_selecting_services() -> None:
    """The workload's selector plus the selectors of Services that select its template."""
    web = Workload(
        name="web",
        selector=app("web"),
        template=PodTemplate(labels=(("app", "web"), ("tier", "front"))),
    )
    services = (
        service("front", selector=(("tier", "front"),)),
        service("other", selector=(("tier", "back"),)),
        service("elsewhere", selector=(("app", "web"),), namespace="shop"),
        service("none", selector=()),
    )
    assert default_selector(services, web) == LabelSelector(
        match_labels=(("app", "web"), ("tier", "front"))
    )


def test_statefulset_pods_are_numbered_from_zero() -> None:
    """Every kind names its pods <workload>-<index>."""
    sts = replace(workload("db", 2), kind=WorkloadKind.STATEFUL_SET)
    cluster = place_workloads(Cluster(nodes=nodes(2), workloads=(sts,)))
    assert [p.name for p in cluster.pods] == ["db-0", "db-1"]


# --------------------------------------------------------------------------- properties

node_counts = st.integers(min_value=1, max_value=6)
replica_counts = st.integers(min_value=0, max_value=14)
zones = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=6)


@st.composite
def random_clusters(draw: st.DrawFn) -> Cluster:
    """Nodes with random zones, taints and labels; one workload with random constraints."""
    zone_list = draw(zones)
    cluster_nodes = tuple(
        node(
            f"node-{i}",
            zone=zone,
            taints=(CONTROL_PLANE,) if draw(st.booleans()) and i == 1 else (),
            labels=(("pool", "edge"),) if draw(st.booleans()) else (),
            unschedulable=draw(st.integers(0, 9)) == 0,
            cpu=draw(st.sampled_from([0, 1000, 2000])),
        )
        for i, zone in enumerate(zone_list, start=1)
    )
    fields: dict[str, object] = {}
    if draw(st.booleans()):
        fields["topology_spread_constraints"] = (
            constraint(
                draw(st.sampled_from([HOSTNAME, ZONE])),
                draw(st.integers(1, 2)),
                selector=app("web"),
            ),
        )
    if draw(st.booleans()):
        fields["node_selector"] = (("pool", "edge"),)
    if draw(st.booleans()):
        fields["required_pod_anti_affinity"] = (
            anti_affinity("web", draw(st.sampled_from([HOSTNAME, ZONE]))),
        )
    fields["cpu_request_millis"] = draw(st.sampled_from([0, 300, 700]))
    return Cluster(
        nodes=cluster_nodes,
        workloads=(workload("web", draw(replica_counts), **fields),),  # type: ignore[arg-type]
    )


@settings(max_examples=150, deadline=None)
@given(random_clusters())
def test_every_placed_pod_passes_every_filter(cluster: Cluster) -> None:
    """Replaying the placement pod by pod, each pod's node passed the static filters, fit,
    anti-affinity and the hard spread constraint at the moment it was placed."""
    placed = place_workloads(cluster)
    web = cluster.workloads[0]
    template = web.template
    state = SchedulerState(cluster.nodes)
    index = {n.name: i for i, n in enumerate(cluster.nodes)}
    labels = dict(template.labels)
    total = 0
    for pod_ in placed.pods:
        i = index[pod_.node_name or ""]
        spec, node_labels = cluster.nodes[i], state.labels[i]
        assert not spec.unschedulable
        assert (
            untolerated_taint(spec.taints, template.tolerations, frozenset({"NoSchedule"})) is None
        )
        assert matches_node_affinity(template, node_labels)
        if spec.allocatable_cpu_millis:
            assert state.cpu[i] + template.cpu_request_millis <= spec.allocatable_cpu_millis
        for term in template.required_pod_anti_affinity:
            value = node_labels.get(term.topology_key)
            assert value is None or all(
                state.labels[p.node].get(term.topology_key) != value for p in state.pods
            )
        for c in template.topology_spread_constraints:
            assert c.topology_key in node_labels
        state.bind(BoundPod("default", labels, i, template))
        total += 1
    assert total + placed.placements[0].unschedulable == web.replicas


@settings(max_examples=150, deadline=None)
@given(node_counts, replica_counts)
def test_hostname_do_not_schedule_keeps_skew_at_most_one(count: int, replicas: int) -> None:
    """With only a hostname maxSkew 1 DoNotSchedule constraint, node counts differ by <= 1."""
    web = workload("web", replicas, topology_spread_constraints=(constraint(selector=app("web")),))
    placed = place_workloads(Cluster(nodes=nodes(count), workloads=(web,)))
    counts = [by_node(placed).get(f"node-{i}", 0) for i in range(1, count + 1)]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == replicas


@settings(max_examples=60, deadline=None)
@given(random_clusters())
def test_placement_is_deterministic(cluster: Cluster) -> None:
    """The same input gives the same pods, slices, placements and notes."""
    assert place_workloads(cluster) == place_workloads(cluster)


def test_effective_selector_without_match_label_keys_is_the_selector() -> None:
    """matchLabelKeys absent: the constraint's selector as is."""
    c = constraint(selector=app("web"))
    assert effective_selector(c, {"app": "web"}) == app("web")
