"""The scheduler plugins one by one: filters, scores, their reasons, and the selector types."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srcip.model.interpod import InterPodAffinity
from srcip.model.objects import Cluster, Taint
from srcip.model.placement import place_workloads
from srcip.model.schedstate import BoundPod, SchedulerState
from srcip.model.scheduler import fit_error, schedule_pods
from srcip.model.spreading import spread_plugins
from srcip.model.workloads import (
    LabelRequirement,
    LabelSelector,
    NodeSelectorTerm,
    PodAffinityTerm,
    PodTemplate,
    SelectorOperator,
    Toleration,
    WeightedNodeSelectorTerm,
    WeightedPodAffinityTerm,
    Workload,
)
from tests.unit.model.placement_builders import (
    HOSTNAME,
    ZONE,
    anti_affinity,
    app,
    by_node,
    constraint,
    node,
    nodes,
    pod,
    workload,
)

GiB = 2**30


def placed(cluster_nodes: tuple[object, ...], *workloads: Workload, **fields: object) -> Cluster:
    """place_workloads on ``cluster_nodes`` with ``workloads``."""
    return place_workloads(Cluster(nodes=cluster_nodes, workloads=workloads, **fields))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- node filters


def test_cordoned_nodes_are_skipped_unless_tolerated() -> None:
    """spec.unschedulable filters a node; the unschedulable taint's toleration lifts it."""
    cordoned = (node("node-1", unschedulable=True),)
    refused = placed(cordoned, workload("web", 1))
    assert refused.placements[0].reasons == (
        "0/1 nodes are available: 1 node(s) were unschedulable.",
    )
    tolerant = workload(
        "web",
        1,
        tolerations=(Toleration(key="node.kubernetes.io/unschedulable", operator="Exists"),),
    )
    assert by_node(placed(cordoned, tolerant)) == {"node-1": 1}


def test_required_node_affinity_terms_are_ored_and_empty_terms_match_nothing() -> None:
    """A node matching either term qualifies; a term without expressions matches no node."""
    arm = (("arch", "arm64"),)
    cluster_nodes = (
        node("node-1"),
        node("node-2", labels=arm),
        node("node-3", labels=(("gpu", "1"),)),
    )
    terms = (
        NodeSelectorTerm(),
        NodeSelectorTerm(
            match_expressions=(
                LabelRequirement(key="arch", operator=SelectorOperator.IN, values=("arm64",)),
            )
        ),
        NodeSelectorTerm(
            match_expressions=(
                LabelRequirement(key="gpu", operator=SelectorOperator.GT, values=("0",)),
            )
        ),
    )
    result = placed(cluster_nodes, workload("web", 2, required_node_affinity=terms))
    assert by_node(result) == {"node-2": 1, "node-3": 1}


def test_preferred_node_affinity_and_prefer_no_schedule_taints_steer_scores() -> None:
    """The preferred label wins over an empty node; a PreferNoSchedule taint repels."""
    soft = Taint(key="spot", effect="PreferNoSchedule")
    cluster_nodes = (
        node("node-1", taints=(soft,)),
        node("node-2"),
        node("node-3", labels=(("ssd", "yes"),)),
    )
    ssd = WeightedNodeSelectorTerm(
        weight=50,
        term=NodeSelectorTerm(
            match_expressions=(LabelRequirement(key="ssd", operator=SelectorOperator.EXISTS),)
        ),
    )
    assert by_node(placed(cluster_nodes, workload("web", 1, preferred_node_affinity=(ssd,)))) == {
        "node-3": 1
    }
    assert by_node(placed(cluster_nodes[:2], workload("web", 1))) == {"node-2": 1}
    cordoned = (replace(cluster_nodes[0], unschedulable=True), *cluster_nodes[1:])
    assert by_node(placed(cordoned, workload("web", 1, preferred_node_affinity=(ssd,)))) == {
        "node-3": 1
    }
    tolerant = workload("web", 1, tolerations=(Toleration(key="spot", operator="Exists"),))
    assert by_node(placed(cluster_nodes[:2], tolerant)) == {"node-1": 1}


# --------------------------------------------------------------------------- resources


def test_requests_beyond_allocatable_are_insufficient() -> None:
    """cpu and memory are checked against allocatable; both reasons are counted."""
    small = (node("node-1", cpu=1000, memory=GiB), node("node-2", cpu=4000, memory=GiB))
    heavy = workload("web", 3, cpu_request_millis=1500, memory_request_bytes=GiB // 2)
    (placement,) = placed(small, heavy).placements
    assert placement.nodes == (("node-2", 2),)
    assert placement.reasons == (
        "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
    )


def test_least_allocated_prefers_the_node_with_more_room() -> None:
    """With allocatable known, the bigger node takes the first pods."""
    sizes = (node("node-1", cpu=1000, memory=4 * GiB), node("node-2", cpu=8000, memory=4 * GiB))
    web = workload("web", 1, cpu_request_millis=500, memory_request_bytes=GiB)
    assert by_node(placed(sizes, web)) == {"node-2": 1}


def test_balanced_allocation_prefers_the_node_where_use_stays_even() -> None:
    """Both nodes keep half free on average; node-2 stays balanced (cpu 50 %, memory 50 %)."""
    sizes = (
        node("node-1", cpu=1250, memory=5 * GiB),  # after the pod: cpu 80 %, memory 20 %
        node("node-2", cpu=2000, memory=2 * GiB),  # after the pod: cpu 50 %, memory 50 %
    )
    web = workload("web", 1, cpu_request_millis=1000, memory_request_bytes=GiB)
    assert by_node(placed(sizes, web)) == {"node-2": 1}


def test_host_ports_of_host_network_pods_collide() -> None:
    """Two hostNetwork pods with the same port cannot share a node (NodePorts)."""
    ingress = workload("ingress", 3, host_network=True, container_ports=(("http", 80),))
    (placement,) = placed(nodes(2), ingress).placements
    assert placement.unschedulable == 1
    assert placement.reasons == (
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.",
    )


# --------------------------------------------------------------------------- spreading


def test_a_node_without_the_zone_label_fails_a_zone_constraint() -> None:
    """DoNotSchedule on a key the node lacks: missing required label."""
    (placement,) = placed(
        (node("node-1"),), workload("web", 1, topology_spread_constraints=(constraint(ZONE),))
    ).placements
    assert placement.reasons == (
        "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints "
        "(missing required label).",
    )


def test_a_nil_spread_selector_counts_nothing() -> None:
    """A constraint without a labelSelector matches no pod, so it never blocks."""
    web = workload("web", 3, topology_spread_constraints=(constraint(HOSTNAME, selector=None),))
    assert sum(by_node(placed(nodes(1), web)).values()) == 3


def test_match_label_keys_narrow_the_selector_to_the_pods_revision() -> None:
    """Old-revision pods do not count once pod-template-hash is a matchLabelKey."""
    old = tuple(
        replace(pod(f"old-{i}", "node-1"), labels=(("app", "web"), ("pod-template-hash", "a")))
        for i in range(2)
    )
    template = PodTemplate(
        labels=(("app", "web"), ("pod-template-hash", "b")),
        topology_spread_constraints=(
            constraint(
                HOSTNAME, selector=app("web"), match_label_keys=("pod-template-hash", "absent")
            ),
        ),
    )
    new = Workload(
        name="web-b",
        replicas=2,
        selector=LabelSelector(match_labels=template.labels),
        template=template,
    )
    result = placed(nodes(2), new, pods=old)
    assert by_node(result, "default/web-b") == {"node-1": 1, "node-2": 1}
    nil_selector = replace(
        template,
        topology_spread_constraints=(
            constraint(HOSTNAME, selector=None, match_label_keys=("app",)),
        ),
    )
    narrowed = replace(new, template=nil_selector)
    assert by_node(placed(nodes(2), narrowed, pods=old), "default/web-b") == {"node-2": 2}


def test_node_inclusion_policies_decide_which_domains_count() -> None:
    """nodeAffinityPolicy Honor (default) leaves out a zone the pod cannot reach; Ignore counts
    it, and its emptiness holds the other zones to one pod each."""
    cluster_nodes = (
        node("node-1", zone="a", labels=(("pool", "edge"),)),
        node("node-2", zone="b", labels=(("pool", "edge"),)),
        node("node-3", zone="c"),
    )
    front = LabelSelector(match_labels=(("tier", "front"),))
    template = PodTemplate(
        labels=(("app", "web"), ("tier", "front")),
        node_selector=(("pool", "edge"),),
        topology_spread_constraints=(constraint(ZONE, selector=front),),
    )
    honor = Workload(name="web", replicas=4, selector=app("web"), template=template)
    old = (replace(pod("old", "node-3", "old"), labels=(("app", "old"), ("tier", "front"))),)
    assert by_node(placed(cluster_nodes, honor, pods=old)) == {"node-1": 2, "node-2": 2}
    ignore = replace(
        honor,
        template=replace(
            template,
            topology_spread_constraints=(
                constraint(ZONE, selector=front, node_affinity_policy="Ignore"),
            ),
        ),
    )
    (placement,) = placed(cluster_nodes, ignore).placements
    assert (placement.nodes, placement.unschedulable) == ((("node-1", 1), ("node-2", 1)), 2)


def test_explicit_soft_constraints_ignore_nodes_without_the_key() -> None:
    """ScheduleAnyway on zone: a zoneless node scores 0, so zoned nodes are preferred."""
    cluster_nodes = (node("node-1"), node("node-2", zone="a"))
    web = workload(
        "web", 1, topology_spread_constraints=(constraint(ZONE, hard=False, selector=app("web")),)
    )
    assert by_node(placed(cluster_nodes, web)) == {"node-2": 1}


def test_system_defaults_favour_zoneless_nodes() -> None:
    """Under the system defaults a node without a zone label skips the zone term (scoring.go
    Score), so its raw score is lower and it takes more pods: upstream's behaviour."""
    zoned = (
        node("node-1", zone="a"),
        node("node-2", zone="a"),
        node("node-3", zone="b"),
        node("node-4"),
    )
    result = placed(zoned, workload("web", 4))
    assert by_node(result) == {"node-1": 1, "node-3": 1, "node-4": 2}


def test_spread_plugins_without_a_default_selector_do_nothing() -> None:
    """No constraints and no default selector: neither filter nor score."""
    state = SchedulerState(nodes(2))
    assert spread_plugins(state, "default", {}, (), None, ([True] * 2, [True] * 2)) == (None, None)


def test_taints_policy_honor_drops_tainted_domains() -> None:
    """nodeTaintsPolicy Honor: a tainted zone is no domain, so the other zones fill up."""
    cluster_nodes = (
        node("node-1", zone="a"),
        node("node-2", zone="b"),
        node("node-3", zone="c", taints=(Taint(key="gpu", effect="NoSchedule"),)),
    )
    web = workload(
        "web",
        4,
        topology_spread_constraints=(
            constraint(ZONE, selector=app("web"), node_taints_policy="Honor"),
        ),
    )
    assert by_node(placed(cluster_nodes, web)) == {"node-1": 2, "node-2": 2}


# --------------------------------------------------------------------------- inter-pod affinity


def test_required_affinity_follows_the_target_and_the_first_pod_may_start_alone() -> None:
    """api must share a zone with cache; a self-affine group starts anywhere."""
    cluster_nodes = (node("node-1", zone="a"), node("node-2", zone="b"))
    cache = workload("cache", 1, node_selector=((HOSTNAME, "node-2"),))
    api = workload(
        "api",
        2,
        required_pod_affinity=(PodAffinityTerm(label_selector=app("cache"), topology_key=ZONE),),
    )
    result = placed(cluster_nodes, cache, api)
    assert by_node(result, "default/api") == {"node-2": 2}
    lonely = placed(cluster_nodes, api)
    assert lonely.placements[0].reasons == (
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules.",
    )
    flock = workload(
        "flock",
        3,
        required_pod_affinity=(PodAffinityTerm(label_selector=app("flock"), topology_key=ZONE),),
    )
    assert len(by_node(placed(cluster_nodes, flock), "default/flock")) == 1


def test_existing_pods_anti_affinity_keeps_newcomers_away() -> None:
    """A placed pod's required anti-affinity against app=api repels api pods (symmetry)."""
    guard = workload("guard", 1, required_pod_anti_affinity=(anti_affinity("api"),))
    (_, api) = placed(nodes(2), guard, workload("api", 2)).placements
    assert api.nodes == (("node-2", 2),)
    (_, lone) = placed(nodes(1), guard, workload("api", 1)).placements
    assert lone.reasons == (
        "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.",
    )


def test_existing_pods_preferred_terms_and_required_affinity_score_for_newcomers() -> None:
    """A placed pod preferring or requiring app=api pulls api pods; preferring against repels."""
    cluster_nodes = nodes(3)
    likes = workload(
        "likes",
        1,
        node_selector=((HOSTNAME, "node-3"),),
        preferred_pod_affinity=(WeightedPodAffinityTerm(weight=100, term=anti_affinity("api")),),
    )
    assert by_node(placed(cluster_nodes, likes, workload("api", 1)), "default/api") == {"node-3": 1}
    needs = workload(
        "needs",
        1,
        node_selector=((HOSTNAME, "node-3"),),
        required_pod_affinity=(anti_affinity("needs"),),
    )
    follower = Workload(
        name="follower",
        selector=LabelSelector(match_labels=(("role", "follower"),)),
        template=PodTemplate(labels=(("app", "needs"), ("role", "follower"))),
    )
    assert by_node(placed(cluster_nodes, needs, follower), "default/follower") == {"node-3": 1}
    shuns = workload(
        "shuns",
        1,
        node_selector=((HOSTNAME, "node-1"),),
        preferred_pod_anti_affinity=(
            WeightedPodAffinityTerm(weight=100, term=anti_affinity("api")),
        ),
        required_pod_anti_affinity=(anti_affinity("nobody"),),
    )
    assert by_node(placed(cluster_nodes[:2], shuns, workload("api", 1)), "default/api") == {
        "node-2": 1
    }


def test_affinity_terms_read_their_namespaces() -> None:
    """A term with namespaces selects pods there; by default only the owner's namespace."""
    cluster_nodes = nodes(2)
    db = workload("db", 1, namespace="data", node_selector=((HOSTNAME, "node-2"),))
    near = PodAffinityTerm(label_selector=app("db"), topology_key=HOSTNAME, namespaces=("data",))
    api = workload(
        "api", 1, preferred_pod_affinity=(WeightedPodAffinityTerm(weight=50, term=near),)
    )
    assert by_node(placed(cluster_nodes, db, api), "default/api") == {"node-2": 1}
    local = replace(near, namespaces=())
    blind = workload(
        "api", 1, preferred_pod_affinity=(WeightedPodAffinityTerm(weight=50, term=local),)
    )
    assert by_node(placed(cluster_nodes, db, blind), "default/api") == {"node-1": 1}


def test_interpod_state_ignores_pods_on_nodes_without_the_key() -> None:
    """A term's count skips pods whose node lacks the topology key."""
    state = SchedulerState(nodes(1), [BoundPod("default", {"app": "db"}, 0)])
    term = PodAffinityTerm(label_selector=app("db"), topology_key="rack")
    inter = InterPodAffinity(
        state, "default", {"app": "api"}, PodTemplate(required_pod_anti_affinity=(term,))
    )
    assert inter.filters
    assert inter.reason(0) is None
    assert not inter.scores


# --------------------------------------------------------------------------- helpers and types


def test_fit_error_sorts_the_reasons_like_kube_scheduler() -> None:
    """Reasons are '<count> <reason>' strings in sorted order, ended by a period."""
    from collections import Counter

    assert fit_error(3, Counter({"b": 1, "a": 2})) == "0/3 nodes are available: 1 b, 2 a."
    assert fit_error(0, Counter()) == "no nodes available to schedule pods"


def test_schedule_pods_binds_into_the_state() -> None:
    """schedule_pods returns node numbers and leaves the pods bound in the state."""
    state = SchedulerState(nodes(2))
    outcome = schedule_pods(state, "default", PodTemplate(labels=(("app", "x"),)), 2, app("x"))
    assert outcome.nodes == (0, 1)
    assert state.pod_count == [1, 1]


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        pytest.param("In", ("a",), {"k": "a"}, True, id="in"),
        pytest.param("In", ("a",), {}, False, id="in-absent"),
        pytest.param("NotIn", ("a",), {"k": "b"}, True, id="not-in"),
        pytest.param("NotIn", ("a",), {}, True, id="not-in-absent"),
        pytest.param("Exists", (), {"k": ""}, True, id="exists"),
        pytest.param("DoesNotExist", (), {"k": "x"}, False, id="does-not-exist"),
        pytest.param("Gt", ("3",), {"k": "4"}, True, id="gt"),
        pytest.param("Gt", ("3",), {"k": "3"}, False, id="gt-equal"),
        pytest.param("Lt", ("3",), {"k": "-1"}, True, id="lt-negative"),
        pytest.param("Lt", ("3",), {"k": "x"}, False, id="lt-not-int"),
        pytest.param("Gt", (), {"k": "4"}, False, id="gt-no-value"),
        pytest.param("Gt", ("3",), {}, False, id="gt-absent"),
    ],
)
def test_label_requirements(
    operator: str, values: tuple[str, ...], labels: dict[str, str], expected: bool
) -> None:
    """Each selector operator as metav1 and v1.NodeSelectorRequirement define it."""
    requirement = LabelRequirement(key="k", operator=SelectorOperator(operator), values=values)
    assert requirement.matches(labels) is expected
    assert NodeSelectorTerm(match_expressions=(requirement,)).matches(labels) is expected


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        pytest.param(Toleration(key="k", value="v"), ("k", "v", "NoSchedule"), True, id="equal"),
        pytest.param(Toleration(key="k", value="v"), ("k", "w", "NoSchedule"), False, id="value"),
        pytest.param(
            Toleration(key="k", operator="Exists"), ("k", "w", "NoExecute"), True, id="exists"
        ),
        pytest.param(
            Toleration(key="j", operator="Exists"), ("k", "", "NoSchedule"), False, id="key"
        ),
        pytest.param(Toleration(operator="Exists"), ("k", "v", "NoSchedule"), True, id="all"),
        pytest.param(Toleration(), ("k", "v", "NoSchedule"), False, id="empty-equal"),
        pytest.param(
            Toleration(key="k", operator="Exists", effect="NoExecute"),
            ("k", "", "NoSchedule"),
            False,
            id="effect",
        ),
    ],
)
def test_tolerations(toleration: Toleration, taint: tuple[str, str, str], expected: bool) -> None:
    """v1.Toleration.ToleratesTaint: effect, key, operator and value."""
    assert toleration.tolerates(*taint) is expected


def test_workload_key() -> None:
    """A workload's key is namespace/name."""
    assert workload("web", namespace="shop").key == "shop/web"
