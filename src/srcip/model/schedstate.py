"""What kube-scheduler knows while it places pods: nodes, their labels, the pods bound to them.

:class:`SchedulerState` is the scheduler cache of one placement run: every node with its
labels, and every pod bound so far (the input's running pods, then each pod srcip places),
with the per-node sums the resource plugins read. It is mutable and private to one call of
:func:`srcip.model.placement.place_workloads`; nothing outside that call sees it.

A node without a ``kubernetes.io/hostname`` label is given one with its name, as the kubelet
always sets it; without that, hand-written Node objects would fall out of hostname spreading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from srcip.model.objects import Node, Taint
from srcip.model.workloads import LabelSelector, NodeSelectorTerm, PodTemplate, Toleration

__all__ = [
    "DEFAULT_MAX_PODS",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "LABEL_HOSTNAME",
    "BoundPod",
    "SchedulerState",
    "matches_node_affinity",
    "matches_term",
    "selects",
    "untolerated_taint",
]

LABEL_HOSTNAME = "kubernetes.io/hostname"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# pkg/scheduler/util/pod_resources.go: what a container without requests counts as in scoring
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
DEFAULT_MAX_PODS = 110  # kubelet --max-pods default: srcip's capacity when allocatable is unknown
NO_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True, slots=True)
class BoundPod:
    """A pod bound to node number ``node``; ``template`` is None for the input's own Pods."""

    namespace: str
    labels: Mapping[str, str]
    node: int
    template: PodTemplate | None = None


class SchedulerState:
    """Nodes and the pods bound to them, with per-node sums kept up to date by :meth:`bind`."""

    def __init__(self, nodes: Sequence[Node], pods: Iterable[BoundPod] = ()) -> None:
        self.nodes = tuple(nodes)
        self.labels: list[dict[str, str]] = [
            {LABEL_HOSTNAME: node.name, **dict(node.labels)} for node in self.nodes
        ]
        size = len(self.nodes)
        self.pods: list[BoundPod] = []
        self.cpu = [0] * size  # requested, for the fit filter and balanced allocation
        self.memory = [0] * size
        self.nonzero_cpu = [0] * size  # requested with defaults, for least allocated
        self.nonzero_memory = [0] * size
        self.pod_count = [0] * size
        self.host_ports: list[set[int]] = [set() for _ in range(size)]
        for pod in pods:
            self.bind(pod)

    def bind(self, pod: BoundPod) -> None:
        """Record ``pod`` on its node."""
        node, template = pod.node, pod.template
        self.pods.append(pod)
        self.pod_count[node] += 1
        cpu = template.cpu_request_millis if template is not None else 0
        memory = template.memory_request_bytes if template is not None else 0
        self.cpu[node] += cpu
        self.memory[node] += memory
        self.nonzero_cpu[node] += cpu or DEFAULT_MILLI_CPU_REQUEST
        self.nonzero_memory[node] += memory or DEFAULT_MEMORY_REQUEST
        if template is not None and template.host_network:
            self.host_ports[node].update(port for _, port in template.container_ports)


def selects(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """A nil selector selects nothing (``LabelSelectorAsSelector(nil)``); an empty one all."""
    return selector is not None and selector.matches(labels)


def matches_term(term: NodeSelectorTerm, labels: Mapping[str, str]) -> bool:
    """A node selector term with no requirements matches no node (``v1.NodeSelectorTerm``)."""
    return bool(term.match_expressions) and term.matches(labels)


def matches_node_affinity(template: PodTemplate, labels: Mapping[str, str]) -> bool:
    """``nodeSelector`` and the required node affinity (terms ORed) hold for a node."""
    return all(labels.get(key) == value for key, value in template.node_selector) and (
        not template.required_node_affinity
        or any(matches_term(term, labels) for term in template.required_node_affinity)
    )


def untolerated_taint(
    taints: Sequence[Taint], tolerations: Sequence[Toleration], effects: frozenset[str]
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not any(
            toleration.tolerates(taint.key, taint.value, taint.effect) for toleration in tolerations
        ):
            return taint
    return None


def tolerates_unschedulable(tolerations: Sequence[Toleration]) -> bool:
    """The pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule`` (NodeUnschedulable)."""
    return any(t.tolerates(TAINT_UNSCHEDULABLE, "", "NoSchedule") for t in tolerations)
