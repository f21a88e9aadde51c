"""kube-scheduler's PodTopologySpread plugin: the skew filter and the spreading score.

Follows ``pkg/scheduler/framework/plugins/podtopologyspread`` (``filtering.go``,
``scoring.go``, ``common.go``):

* **Filter** (``whenUnsatisfiable: DoNotSchedule``): a node without the topology key fails
  ("missing required label"); otherwise ``matching pods in the node's domain + 1 (if the
  pod matches its own selector) - the smallest count over all domains`` must not exceed
  ``maxSkew``. The smallest count is 0 while fewer than ``minDomains`` domains exist.
  Domains and counts come from the nodes that carry every DoNotSchedule key and pass
  ``nodeAffinityPolicy`` (Honor: the pod's nodeSelector/required affinity) and
  ``nodeTaintsPolicy`` (Honor: no untolerated NoSchedule/NoExecute taint).
* **Score** (``ScheduleAnyway``, or the system default constraints when the pod has none:
  hostname ``maxSkew`` 3 and zone ``maxSkew`` 5, ``plugin.go``): each node scores
  ``Σ count × log(domains + 2) + maxSkew - 1`` over the constraints whose key it carries,
  rounded; then ``100 × (max + min - score) / max`` over the nodes, so the emptiest domain
  gets 100. Nodes missing a key of explicit constraints score 0.

Counts are kept per constraint and per domain and updated as each pod is bound, so placing
a pod costs O(nodes × constraints), never a rescan of the pods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import floor, log

from srcip.model.schedstate import LABEL_HOSTNAME, BoundPod, SchedulerState, selects
from srcip.model.workloads import (
    LabelRequirement,
    LabelSelector,
    SelectorOperator,
    TopologySpreadConstraint,
    UnsatisfiableAction,
)

__all__ = [
    "LABEL_ZONE",
    "REASON_MISSING_LABEL",
    "REASON_SPREAD",
    "SYSTEM_DEFAULT_CONSTRAINTS",
    "SpreadCounter",
    "SpreadFilter",
    "SpreadScore",
    "spread_plugins",
]

LABEL_ZONE = "topology.kubernetes.io/zone"
REASON_SPREAD = "node(s) didn't match pod topology spread constraints"
REASON_MISSING_LABEL = f"{REASON_SPREAD} (missing required label)"
# plugin.go systemDefaultConstraints: (topologyKey, maxSkew), both ScheduleAnyway
SYSTEM_DEFAULT_CONSTRAINTS = ((LABEL_HOSTNAME, 3), (LABEL_ZONE, 5))


class SpreadCounter:
    """Pods matching one constraint's selector, per domain and per node."""

    def __init__(
        self,
        state: SchedulerState,
        constraint: TopologySpreadConstraint,
        namespace: str,
        labels: Mapping[str, str],
        eligible: Sequence[bool],
        missing: str | None,
    ) -> None:
        self.key = constraint.topology_key
        self.max_skew = constraint.max_skew
        self.min_domains = constraint.min_domains or 1
        self.namespace = namespace
        self.selector = effective_selector(constraint, labels)
        self.self_match = selects(self.selector, labels)
        self.domains = [node_labels.get(self.key, missing) for node_labels in state.labels]
        self.eligible = eligible
        self.counts: dict[str | None, int] = {
            domain: 0 for domain, ok in zip(self.domains, eligible, strict=True) if ok
        }
        self.has_key = [self.key in node_labels for node_labels in state.labels]
        self.on_node = [0] * len(state.labels)
        for pod in state.pods:
            self.add(pod)

    def add(self, pod: BoundPod) -> None:
        """Count ``pod`` if it is in the namespace and matches (``countPodsMatchSelector``)."""
        if pod.namespace == self.namespace and selects(self.selector, pod.labels):
            self.on_node[pod.node] += 1
            if self.eligible[pod.node]:
                self.counts[self.domains[pod.node]] += 1


def effective_selector(
    constraint: TopologySpreadConstraint, labels: Mapping[str, str]
) -> LabelSelector | None:
    """The selector ANDed with ``key in (pod's value)`` for each ``matchLabelKeys`` key."""
    extra = tuple(
        LabelRequirement(key=key, operator=SelectorOperator.IN, values=(labels[key],))
        for key in constraint.match_label_keys
        if key in labels
    )
    base = constraint.label_selector
    if not extra:
        return base
    base = base or LabelSelector()
    return LabelSelector(
        match_labels=base.match_labels, match_expressions=base.match_expressions + extra
    )


class SpreadFilter:
    """The DoNotSchedule constraints of one pod."""

    def __init__(self, counters: Sequence[SpreadCounter]) -> None:
        self.counters = counters
        self.minimums = [0] * len(counters)

    def begin(self) -> None:
        """Refresh each constraint's smallest domain count before a pod is filtered."""
        self.minimums = [
            0 if len(c.counts) < c.min_domains else min(c.counts.values()) for c in self.counters
        ]

    def reason(self, node: int) -> str | None:
        """Why ``node`` fails, or None."""
        for counter, minimum in zip(self.counters, self.minimums, strict=True):
            domain = counter.domains[node]
            if domain is None:
                return REASON_MISSING_LABEL
            skew = counter.counts.get(domain, 0) + counter.self_match - minimum
            if skew > counter.max_skew:
                return REASON_SPREAD
        return None


class SpreadScore:
    """The ScheduleAnyway (or system default) constraints of one pod."""

    def __init__(
        self, state: SchedulerState, counters: Sequence[SpreadCounter], require_all: bool
    ) -> None:
        self.counters = counters
        self.require_all = require_all
        # nodes missing a key of explicit constraints are ignored (score 0)
        self.complete = [
            all(c.has_key[i] for c in counters) or not require_all for i in range(len(state.labels))
        ]

    def scores(self, feasible: Sequence[int]) -> list[int]:
        """Normalised scores (0..100) of the ``feasible`` nodes, in their order."""
        complete = self.complete
        scored = [i for i in feasible if complete[i]] if self.require_all else feasible
        totals = [0.0] * len(feasible)
        for counter in self.counters:
            offset, on_node, has_key = counter.max_skew - 1, counter.on_node, counter.has_key
            if counter.key == LABEL_HOSTNAME:
                weight = log(len(scored) + 2)
                totals = [
                    total + (on_node[i] * weight + offset if has_key[i] else 0.0)
                    for total, i in zip(totals, feasible, strict=True)
                ]
            else:
                domains, known = counter.domains, counter.counts
                weight = log(len({domains[i] for i in scored}) + 2)
                totals = [
                    total + (known.get(domains[i], 0) * weight + offset if has_key[i] else 0.0)
                    for total, i in zip(totals, feasible, strict=True)
                ]
        raw = [floor(total + 0.5) for total in totals]  # Go's math.Round, scores are >= 0
        return _normalise(raw, [complete[i] for i in feasible])


def _normalise(raw: Sequence[int], counted: Sequence[bool]) -> list[int]:
    """scoring.go NormalizeScore: ignored nodes 0, the rest ``100 × (max + min - s) / max``."""
    considered = [score for score, ok in zip(raw, counted, strict=True) if ok]
    high = max(considered, default=0)
    low = min(considered, default=0)
    if high == 0:
        return [100 if ok else 0 for ok in counted]
    return [
        100 * (high + low - score) // high if ok else 0
        for score, ok in zip(raw, counted, strict=True)
    ]


def spread_plugins(
    state: SchedulerState,
    namespace: str,
    labels: Mapping[str, str],
    constraints: Sequence[TopologySpreadConstraint],
    default_selector: LabelSelector | None,
    node_ok: tuple[Sequence[bool], Sequence[bool]],
) -> tuple[SpreadFilter | None, SpreadScore | None]:
    """The filter and score of one pod; ``node_ok`` is (node affinity ok, taints ok) per node.

    Without constraints of its own, the pod gets the system defaults, selecting the pods of
    its workload and Services (``helper.DefaultSelector``); without such a selector, none.
    """
    hard = [c for c in constraints if c.when_unsatisfiable is UnsatisfiableAction.DO_NOT_SCHEDULE]
    soft = [c for c in constraints if c.when_unsatisfiable is UnsatisfiableAction.SCHEDULE_ANYWAY]
    require_all = bool(constraints)
    if not constraints and default_selector is not None:
        soft = [
            TopologySpreadConstraint(
                max_skew=skew,
                topology_key=key,
                when_unsatisfiable=UnsatisfiableAction.SCHEDULE_ANYWAY,
                label_selector=default_selector,
            )
            for key, skew in SYSTEM_DEFAULT_CONSTRAINTS
        ]

    def counters(chosen: Sequence[TopologySpreadConstraint], all_keys: bool) -> list[SpreadCounter]:
        keys = [c.topology_key for c in chosen] if all_keys else []
        return [
            SpreadCounter(
                state,
                c,
                namespace,
                labels,
                _eligible(state, c, keys, node_ok),
                None if all_keys else "",
            )
            for c in chosen
        ]

    spread_filter = SpreadFilter(counters(hard, True)) if hard else None
    spread_score = SpreadScore(state, counters(soft, require_all), require_all) if soft else None
    return spread_filter, spread_score


def _eligible(
    state: SchedulerState,
    constraint: TopologySpreadConstraint,
    keys: Sequence[str],
    node_ok: tuple[Sequence[bool], Sequence[bool]],
) -> list[bool]:
    """Nodes whose domains count: every key present, and the node inclusion policies."""
    affinity_ok, taints_ok = node_ok
    honor_affinity = constraint.node_affinity_policy == "Honor"
    honor_taints = constraint.node_taints_policy == "Honor"
    return [
        all(k in labels for k in keys)
        and (affinity_ok[i] or not honor_affinity)
        and (taints_ok[i] or not honor_taints)
        for i, labels in enumerate(state.labels)
    ]
