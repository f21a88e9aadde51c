"""Short builders for nodes, workloads and clusters in the placement tests."""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_address, ip_network

from srcip.model.objects import Cluster, Node, NodeAddress, Pod, Service, Taint
from srcip.model.scenario import PlacementPin, Scenario
from srcip.model.workloads import (
    LabelSelector,
    PodAffinityTerm,
    PodTemplate,
    TopologySpreadConstraint,
    UnsatisfiableAction,
    WeightedPodAffinityTerm,
    Workload,
)

__all__ = [
    "CONTROL_PLANE",
    "HOSTNAME",
    "ZONE",
    "anti_affinity",
    "app",
    "by_node",
    "constraint",
    "node",
    "nodes",
    "pin",
    "pod",
    "preferred_anti_affinity",
    "scenario",
    "service",
    "workload",
    "zones_of",
]

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
CONTROL_PLANE = Taint(key="node-role.kubernetes.io/control-plane", effect="NoSchedule")


def app(name: str) -> LabelSelector:
    """``matchLabels: {app: name}``."""
    return LabelSelector(match_labels=(("app", name),))


def node(
    name: str,
    *,
    zone: str | None = None,
    taints: tuple[Taint, ...] = (),
    cidr: str | None = "auto",
    labels: tuple[tuple[str, str], ...] = (),
    unschedulable: bool = False,
    cpu: int = 0,
    memory: int = 0,
    address: str | None = None,
) -> Node:
    """A Node; ``cidr="auto"`` gives node-N the pod CIDR 10.244.N.0/24."""
    if cidr == "auto":
        cidr = f"10.244.{name.rpartition('-')[2]}.0/24"
    return Node(
        name=name,
        labels=labels + (((ZONE, zone),) if zone else ()),
        taints=taints,
        pod_cidrs=(ip_network(cidr),) if cidr else (),
        unschedulable=unschedulable,
        allocatable_cpu_millis=cpu,
        allocatable_memory_bytes=memory,
        addresses=(NodeAddress(type="InternalIP", address=ip_address(address)),) if address else (),
    )


def nodes(count: int, **fields: object) -> tuple[Node, ...]:
    """node-1 .. node-``count``."""
    return tuple(node(f"node-{i}", **fields) for i in range(1, count + 1))  # type: ignore[arg-type]


def constraint(
    key: str = HOSTNAME,
    skew: int = 1,
    *,
    hard: bool = True,
    selector: LabelSelector | None = None,
    **fields: object,
) -> TopologySpreadConstraint:
    """A topology spread constraint, DoNotSchedule unless ``hard=False``."""
    return TopologySpreadConstraint(
        max_skew=skew,
        topology_key=key,
        when_unsatisfiable=(
            UnsatisfiableAction.DO_NOT_SCHEDULE if hard else UnsatisfiableAction.SCHEDULE_ANYWAY
        ),
        label_selector=selector,
        **fields,  # type: ignore[arg-type]
    )


def anti_affinity(name: str, key: str = HOSTNAME) -> PodAffinityTerm:
    """A term selecting ``app=name`` pods in ``key`` domains."""
    return PodAffinityTerm(label_selector=app(name), topology_key=key)


def preferred_anti_affinity(name: str, weight: int = 100) -> WeightedPodAffinityTerm:
    """A weighted hostname anti-affinity term for ``app=name``."""
    return WeightedPodAffinityTerm(weight=weight, term=anti_affinity(name))


def workload(
    name: str = "web", replicas: int = 3, *, namespace: str = "default", **template: object
) -> Workload:
    """A Deployment of ``replicas`` pods labelled ``app=name``."""
    return Workload(
        namespace=namespace,
        name=name,
        replicas=replicas,
        selector=app(name),
        template=PodTemplate(labels=(("app", name),), **template),  # type: ignore[arg-type]
    )


def pod(
    name: str,
    node_name: str | None,
    app_name: str = "web",
    *,
    ips: tuple[str, ...] = (),
    **f: object,
) -> Pod:
    """An input Pod labelled ``app=app_name``."""
    return Pod(
        name=name,
        node_name=node_name,
        labels=(("app", app_name),),
        ips=tuple(ip_address(a) for a in ips),
        **f,  # type: ignore[arg-type]
    )


def pin(nodes: dict[str, int], workload: str | None = None) -> PlacementPin:
    """``spec.placement`` for one workload."""
    return PlacementPin(workload=workload, nodes=tuple(nodes.items()))


def scenario(*pins: PlacementPin, service: str | None = None) -> Scenario:
    """A Scenario holding ``pins``."""
    return Scenario(name="demo", service=service, placement=pins)


def by_node(cluster: Cluster, workload: str = "default/web") -> dict[str, int]:
    """Replicas per node of one workload's placement."""
    (placement,) = (p for p in cluster.placements if p.workload == workload)
    return dict(placement.nodes)


def service(name: str = "web", **fields: object) -> Service:
    """A Service selecting ``app=name``."""
    fields.setdefault("selector", (("app", name),))
    return Service(name=name, **fields)  # type: ignore[arg-type]


def zones_of(cluster: Cluster, workload: str = "default/web") -> Counter[str | None]:
    """Replicas per zone of one workload's placement."""
    zone = {n.name: n.zone for n in cluster.nodes}
    counts: Counter[str | None] = Counter()
    for name, count in by_node(cluster, workload).items():
        counts[zone[name]] += count
    return counts
