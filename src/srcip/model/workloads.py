"""Workloads and the pod template fields the scheduler and the failover model read.

A Deployment, ReplicaSet or StatefulSet becomes one :class:`Workload`: its replica count,
selector and the parts of its pod template that decide *where* pods go (node selector,
required node affinity, tolerations, topology spread constraints, pod (anti-)affinity,
resource requests) and *how they leave* (termination grace period, a ``preStop`` sleep,
readiness probe timing). Everything else in the template is left out.

Label selectors follow ``metav1.LabelSelector`` (``matchLabels`` AND ``matchExpressions``);
node selector requirements follow ``v1.NodeSelectorRequirement`` (``In``, ``NotIn``,
``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_TERMINATION_GRACE_SECONDS",
    "LabelRequirement",
    "LabelSelector",
    "NodeSelectorTerm",
    "PodAffinityTerm",
    "PodTemplate",
    "ReadinessProbe",
    "SelectorOperator",
    "Toleration",
    "TopologySpreadConstraint",
    "UnsatisfiableAction",
    "WeightedNodeSelectorTerm",
    "WeightedPodAffinityTerm",
    "Workload",
    "WorkloadKind",
    "WorkloadPlacement",
]

DEFAULT_TERMINATION_GRACE_SECONDS = 30  # v1.PodSpec default


class WorkloadKind(StrEnum):
    """The ``kind`` of a workload object srcip places."""

    DEPLOYMENT = "Deployment"
    REPLICA_SET = "ReplicaSet"
    STATEFUL_SET = "StatefulSet"


class SelectorOperator(StrEnum):
    """Operators of label and node selector requirements."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"  # node selectors only
    LT = "Lt"  # node selectors only


class UnsatisfiableAction(StrEnum):
    """``topologySpreadConstraints[].whenUnsatisfiable``."""

    DO_NOT_SCHEDULE = "DoNotSchedule"
    SCHEDULE_ANYWAY = "ScheduleAnyway"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelRequirement:
    """One ``matchExpressions[]`` entry: ``key``, ``operator``, ``values``."""

    key: str
    operator: SelectorOperator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (``Gt``/``Lt`` compare integers)."""
        value = labels.get(self.key)
        op = self.operator
        if op is SelectorOperator.IN:
            return value is not None and value in self.values
        if op is SelectorOperator.NOT_IN:
            return value is None or value not in self.values
        if op is SelectorOperator.EXISTS:
            return value is not None
        if op is SelectorOperator.DOES_NOT_EXIST:
            return value is None
        if value is None or not value.lstrip("-").isdigit() or not self.values:
            return False
        bound = int(self.values[0])
        return int(value) > bound if op is SelectorOperator.GT else int(value) < bound


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """``metav1.LabelSelector``. An empty selector matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``matchLabels`` and every ``matchExpressions`` entry hold for ``labels``."""
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSelectorTerm:
    """One ``nodeSelectorTerms[]`` entry: its ``matchExpressions`` are ANDed."""

    match_expressions: tuple[LabelRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Every requirement holds for the node's labels."""
        return all(r.matches(labels) for r in self.match_expressions)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightedNodeSelectorTerm:
    """``preferredDuringSchedulingIgnoredDuringExecution[]`` of node affinity."""

    weight: int
    term: NodeSelectorTerm


@dataclass(frozen=True, slots=True, kw_only=True)
class Toleration:
    """One ``tolerations[]`` entry (``operator`` is ``Equal`` or ``Exists``)."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""  # "" tolerates every effect

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """Whether this toleration tolerates a taint (``v1.Toleration.ToleratesTaint``)."""
        if self.effect and self.effect != effect:
            return False
        if not self.key:
            return self.operator == "Exists"  # empty key with Exists tolerates everything
        if self.key != key:
            return False
        return self.operator == "Exists" or self.value == value


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologySpreadConstraint:
    """One ``topologySpreadConstraints[]`` entry."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: UnsatisfiableAction
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    match_label_keys: tuple[str, ...] = ()
    node_affinity_policy: str = "Honor"  # Honor | Ignore
    node_taints_policy: str = "Ignore"  # Honor | Ignore


@dataclass(frozen=True, slots=True, kw_only=True)
class PodAffinityTerm:
    """A pod (anti-)affinity term: pods matching ``label_selector`` in ``topology_key``."""

    label_selector: LabelSelector | None = None
    topology_key: str
    namespaces: tuple[str, ...] = ()  # empty: the pod's own namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightedPodAffinityTerm:
    """``preferredDuringSchedulingIgnoredDuringExecution[]`` of pod (anti-)affinity."""

    weight: int
    term: PodAffinityTerm


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessProbe:
    """Readiness timing: how long a new pod takes to become ready, and to be marked unready."""

    initial_delay_seconds: float = 0.0
    period_seconds: float = 10.0
    failure_threshold: int = 3
    success_threshold: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PodTemplate:
    """The scheduling and lifecycle parts of ``spec.template``."""

    labels: tuple[tuple[str, str], ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    required_node_affinity: tuple[NodeSelectorTerm, ...] = ()  # terms are ORed
    preferred_node_affinity: tuple[WeightedNodeSelectorTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = ()
    required_pod_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_pod_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    required_pod_anti_affinity: tuple[PodAffinityTerm, ...] = ()
    preferred_pod_anti_affinity: tuple[WeightedPodAffinityTerm, ...] = ()
    cpu_request_millis: int = 0  # summed over containers
    memory_request_bytes: int = 0
    container_ports: tuple[tuple[str, int], ...] = ()  # (name, containerPort), name may be ""
    container_names: tuple[str, ...] = ()  # e.g. istio-proxy / linkerd-proxy sidecars
    annotations: tuple[tuple[str, str], ...] = ()
    host_network: bool = False
    termination_grace_period_seconds: float = DEFAULT_TERMINATION_GRACE_SECONDS
    pre_stop_sleep_seconds: float = 0.0  # a preStop exec ``sleep N`` or ``sleep`` action
    readiness: ReadinessProbe | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A Deployment, ReplicaSet or StatefulSet: ``replicas`` pods from ``template``."""

    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    namespace: str = "default"
    name: str
    replicas: int = 1
    selector: LabelSelector = LabelSelector()
    template: PodTemplate = PodTemplate()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadPlacement:
    """Where srcip placed one workload's replicas, as the scheduler would (or as pinned).

    ``nodes`` lists (node name, replicas) for every node that got at least one replica, in
    node order; ``unschedulable`` replicas found no node, and ``reasons`` holds the
    scheduler-style explanation (``0/3 nodes are available: ...``).
    """

    workload: str  # namespace/name
    nodes: tuple[tuple[str, int], ...] = ()
    unschedulable: int = 0
    reasons: tuple[str, ...] = ()
    pinned: bool = False  # from the Scenario's ``placement``, not the scheduler
