"""One workload's pods through kube-scheduler's default profile, one pod at a time.

Each pod is filtered and scored against the nodes as the earlier pods left them, as
kube-scheduler's scheduling cycle does (``pkg/scheduler/schedule_one.go``). The plugins,
in the default profile's order (``pkg/scheduler/apis/config/v1/default_plugins.go``):

=============================  ====================================================  ======
plugin                         filter                                                score
=============================  ====================================================  ======
NodeUnschedulable              ``spec.unschedulable`` unless tolerated               —
TaintToleration                untolerated NoSchedule / NoExecute taint              3
NodeAffinity                   ``nodeSelector`` and required node affinity           2
NodePorts                      host ports of ``hostNetwork`` pods taken              —
NodeResourcesFit               requests beyond ``status.allocatable``                1
PodTopologySpread              :mod:`srcip.model.spreading`                          2
InterPodAffinity               :mod:`srcip.model.interpod`                           2
NodeResourcesBalancedAlloc.    —                                                     1
=============================  ====================================================  ======

Scores: TaintToleration counts untolerated PreferNoSchedule taints (fewest scores 100);
NodeAffinity sums the weights of matching preferred terms (scaled to the highest);
NodeResourcesFit is LeastAllocated over cpu and memory with the non-zero request defaults
(100m, 200Mi). Where a node's allocatable is unknown (0), srcip scores it by pod count
against the kubelet's default 110 pods instead (kube-scheduler would give every such node
the same score), so the result still spreads. BalancedAllocation only counts when the pod
requests cpu or memory. Ties go to the first node in input order; kube-scheduler picks one
of the best at random. Every node is scored (no ``percentageOfNodesToScore`` sampling), and
nothing is preempted.

When no node fits, the reason reads like kube-scheduler's ``FitError``: ``0/3 nodes are
available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu.``
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from srcip.model.interpod import InterPodAffinity
from srcip.model.schedstate import (
    DEFAULT_MAX_PODS,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    NO_SCHEDULE_EFFECTS,
    BoundPod,
    SchedulerState,
    matches_node_affinity,
    matches_term,
    tolerates_unschedulable,
    untolerated_taint,
)
from srcip.model.spreading import spread_plugins
from srcip.model.workloads import LabelSelector, PodTemplate

__all__ = ["Outcome", "fit_error", "schedule_pods"]

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
NO_NODES = "no nodes available to schedule pods"  # ErrNoNodesAvailable
MAX_SCORE = 100

# default_plugins.go: score plugin weights
WEIGHT_TAINT_TOLERATION = 3
WEIGHT_NODE_AFFINITY = 2
WEIGHT_POD_TOPOLOGY_SPREAD = 2
WEIGHT_INTER_POD_AFFINITY = 2
WEIGHT_RESOURCES_FIT = 1
WEIGHT_BALANCED_ALLOCATION = 1

Filter = Callable[[int], "str | None"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the pods went (node numbers, in binding order) and why the rest did not."""

    nodes: tuple[int, ...]
    unschedulable: int = 0
    reason: str | None = None


def fit_error(node_count: int, reasons: Counter[str]) -> str:
    """``FitError.Error()``: ``0/N nodes are available: <count reason>, ... .``, sorted."""
    if node_count == 0:
        return NO_NODES
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"0/{node_count} nodes are available: {', '.join(histogram)}."


def schedule_pods(
    state: SchedulerState,
    namespace: str,
    template: PodTemplate,
    count: int,
    default_selector: LabelSelector | None,
) -> Outcome:
    """Schedule ``count`` pods of ``template`` one by one, binding each in ``state``."""
    labels = dict(template.labels)
    static = _StaticFit(state, template)
    spread_filter, spread_score = spread_plugins(
        state,
        namespace,
        labels,
        template.topology_spread_constraints,
        default_selector,
        (static.affinity_ok, static.taints_ok),
    )
    inter = InterPodAffinity(state, namespace, labels, template)
    resources = _Resources(state, template)
    bound: list[int] = []
    counters = [
        *(spread_filter.counters if spread_filter else ()),
        *(spread_score.counters if spread_score else ()),
    ]
    for _ in range(count):
        filters = resources.filters()
        if spread_filter is not None:
            spread_filter.begin()
            filters.append(spread_filter.reason)
        if inter.filters:
            filters.append(inter.reason)
        feasible, failures = _filter(static, filters)
        if not feasible:
            return Outcome(tuple(bound), count - len(bound), fit_error(len(state.nodes), failures))
        scores: list[tuple[int, list[int]]] = [
            *static.scores(feasible),
            *resources.scores(feasible),
        ]
        if spread_score is not None:
            scores.append((WEIGHT_POD_TOPOLOGY_SPREAD, spread_score.scores(feasible)))
        if inter.scores:
            scores.append((WEIGHT_INTER_POD_AFFINITY, inter.node_scores(feasible)))
        node = _select(feasible, scores)
        pod = BoundPod(namespace, labels, node, template)
        state.bind(pod)
        resources.bound(node)
        for counter in counters:
            counter.add(pod)
        inter.add(pod)
        bound.append(node)
    return Outcome(tuple(bound))


def _filter(static: _StaticFit, filters: Sequence[Filter]) -> tuple[list[int], Counter[str]]:
    failures: Counter[str] = Counter(static.failures)
    feasible: list[int] = []
    for node in static.passing:
        for check in filters:
            reason = check(node)
            if reason is not None:
                failures.update(reason.split("\n"))  # several reasons (Insufficient cpu, memory)
                break
        else:
            feasible.append(node)
    return feasible, failures


def _select(feasible: Sequence[int], scores: Sequence[tuple[int, list[int]]]) -> int:
    """The node with the highest weighted sum; the first in node order on a tie."""
    totals = [0] * len(feasible)
    for weight, values in scores:
        totals = [total + weight * value for total, value in zip(totals, values, strict=True)]
    return feasible[totals.index(max(totals))]


class _StaticFit:
    """The filters and scores that depend only on the node and the template."""

    def __init__(self, state: SchedulerState, template: PodTemplate) -> None:
        self.affinity_ok: list[bool] = []
        self.taints_ok: list[bool] = []
        self.passing: list[int] = []
        self.failures: Counter[str] = Counter()
        self.prefer_taints: list[int] = []
        self.preferred: list[int] = []
        tolerations = template.tolerations
        soft = tuple(t for t in tolerations if t.effect in ("", "PreferNoSchedule"))
        for index, (node, labels) in enumerate(zip(state.nodes, state.labels, strict=True)):
            affinity_ok = matches_node_affinity(template, labels)
            taint = untolerated_taint(node.taints, tolerations, NO_SCHEDULE_EFFECTS)
            self.affinity_ok.append(affinity_ok)
            self.taints_ok.append(taint is None)
            self.prefer_taints.append(
                sum(
                    1
                    for t in node.taints
                    if t.effect == "PreferNoSchedule"
                    and not any(s.tolerates(t.key, t.value, t.effect) for s in soft)
                )
            )
            self.preferred.append(
                sum(
                    w.weight
                    for w in template.preferred_node_affinity
                    if matches_term(w.term, labels)
                )
            )
            if node.unschedulable and not tolerates_unschedulable(tolerations):
                self.failures[REASON_UNSCHEDULABLE] += 1
            elif taint is not None:
                self.failures[f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"] += 1
            elif not affinity_ok:
                self.failures[REASON_NODE_AFFINITY] += 1
            else:
                self.passing.append(index)
        self.scoring = any(self.prefer_taints) or any(self.preferred)

    def scores(self, feasible: Sequence[int]) -> list[tuple[int, list[int]]]:
        """TaintToleration (reversed) and NodeAffinity, each scaled to its highest value."""
        result: list[tuple[int, list[int]]] = []
        if not self.scoring:
            return result
        taints = [self.prefer_taints[i] for i in feasible]
        preferred = [self.preferred[i] for i in feasible]
        most_taints, most_preferred = max(taints), max(preferred)
        if most_taints:
            result.append(
                (
                    WEIGHT_TAINT_TOLERATION,
                    [MAX_SCORE - MAX_SCORE * t // most_taints for t in taints],
                )
            )
        if most_preferred:
            result.append(
                (WEIGHT_NODE_AFFINITY, [MAX_SCORE * p // most_preferred for p in preferred])
            )
        return result


class _Resources:
    """NodePorts, NodeResourcesFit and BalancedAllocation for one template."""

    def __init__(self, state: SchedulerState, template: PodTemplate) -> None:
        self.state = state
        self.cpu = template.cpu_request_millis
        self.memory = template.memory_request_bytes
        self.ports = (
            frozenset(port for _, port in template.container_ports)
            if template.host_network
            else frozenset()
        )
        self.checks_fit = bool(self.cpu or self.memory)
        nodes = range(len(state.nodes))
        self.least = [self._least_allocated(i) for i in nodes]
        self.balanced = [self._balanced(i) for i in nodes] if self.checks_fit else []

    def filters(self) -> list[Filter]:
        """NodePorts when the pod takes host ports, NodeResourcesFit when it requests any."""
        return [
            check
            for check, on in ((self.ports_reason, self.ports), (self.fit_reasons, self.checks_fit))
            if on
        ]

    def ports_reason(self, node: int) -> str | None:
        """NodePorts: a host port the pod needs is taken on the node."""
        return REASON_PORTS if self.ports & self.state.host_ports[node] else None

    def fit_reasons(self, node: int) -> str | None:
        """NodeResourcesFit: ``Insufficient cpu`` / ``Insufficient memory``, newline-joined."""
        state, reasons = self.state, []
        cpu_limit = state.nodes[node].allocatable_cpu_millis
        memory_limit = state.nodes[node].allocatable_memory_bytes
        if cpu_limit and self.cpu and state.cpu[node] + self.cpu > cpu_limit:
            reasons.append("Insufficient cpu")
        if memory_limit and self.memory and state.memory[node] + self.memory > memory_limit:
            reasons.append("Insufficient memory")
        return "\n".join(reasons) or None

    def scores(self, feasible: Sequence[int]) -> list[tuple[int, list[int]]]:
        """LeastAllocated (pod count where allocatable is unknown) and BalancedAllocation."""
        result = [(WEIGHT_RESOURCES_FIT, [self.least[i] for i in feasible])]
        if self.checks_fit:
            result.append((WEIGHT_BALANCED_ALLOCATION, [self.balanced[i] for i in feasible]))
        return result

    def bound(self, node: int) -> None:
        """Rescore the node a pod was just bound to (the other nodes' scores are unchanged)."""
        self.least[node] = self._least_allocated(node)
        if self.checks_fit:
            self.balanced[node] = self._balanced(node)

    def _least_allocated(self, node: int) -> int:
        state, spec = self.state, self.state.nodes[node]
        pairs = [
            (
                state.nonzero_cpu[node] + (self.cpu or DEFAULT_MILLI_CPU_REQUEST),
                spec.allocatable_cpu_millis,
            ),
            (
                state.nonzero_memory[node] + (self.memory or DEFAULT_MEMORY_REQUEST),
                spec.allocatable_memory_bytes,
            ),
        ]
        known = [(used, limit) for used, limit in pairs if limit]
        if not known:
            known = [(state.pod_count[node] + 1, DEFAULT_MAX_PODS)]
        return sum(_least_requested(used, limit) for used, limit in known) // len(known)

    def _balanced(self, node: int) -> int:
        state, spec = self.state, self.state.nodes[node]
        fractions = [
            min(1.0, used / limit)
            for used, limit in (
                (state.cpu[node] + self.cpu, spec.allocatable_cpu_millis),
                (state.memory[node] + self.memory, spec.allocatable_memory_bytes),
            )
            if limit
        ]
        spread = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
        return int((1 - spread) * MAX_SCORE)


def _least_requested(requested: int, capacity: int) -> int:
    """``leastRequestedScore``: the free share of the node, 0 when over."""
    return 0 if requested > capacity else (capacity - requested) * MAX_SCORE // capacity
