"""kube-scheduler's InterPodAffinity plugin: required (anti-)affinity filter, preferred score.

Follows ``pkg/scheduler/framework/plugins/interpodaffinity`` (``filtering.go``,
``scoring.go``). A term selects pods in its ``namespaces`` (empty: the namespace of the pod
that owns the term) whose labels match its ``labelSelector``; its domain is the value of
``topologyKey`` on the node a pod runs on (a node without the key is in no domain).

* Filter, in upstream order: every required affinity term must find a matching pod in the
  node's domain — unless no pod anywhere matches all of them and the pod matches them
  itself (the first pod of a self-affine group); no pod matching a required anti-affinity
  term may be in the node's domain; and no bound pod's required anti-affinity term may
  select this pod from the node's domain.
* Score: for each bound pod, the pod's preferred terms it matches add (affinity) or
  subtract (anti-affinity) their weight in its domain; the bound pod's own preferred terms
  that select this pod do the same, and its required affinity terms add 1
  (``hardPodAffinityWeight``). Scores are scaled to 0..100 between the lowest and highest.

Counts are per domain and are updated as each pod is bound. ``namespaceSelector``,
``matchLabelKeys`` and ``mismatchLabelKeys`` are not modelled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from srcip.model.schedstate import BoundPod, SchedulerState, selects
from srcip.model.workloads import PodAffinityTerm, PodTemplate

__all__ = [
    "HARD_POD_AFFINITY_WEIGHT",
    "REASON_AFFINITY",
    "REASON_ANTI_AFFINITY",
    "REASON_EXISTING_ANTI_AFFINITY",
    "InterPodAffinity",
]

REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1  # InterPodAffinityArgs default

Domains = defaultdict[str, int]


def _term_selects(
    term: PodAffinityTerm, owner_namespace: str, namespace: str, labels: Mapping[str, str]
) -> bool:
    namespaces = term.namespaces or (owner_namespace,)
    return namespace in namespaces and selects(term.label_selector, labels)


class InterPodAffinity:
    """Filter and score state for the pods of one template in ``namespace``."""

    def __init__(
        self,
        state: SchedulerState,
        namespace: str,
        labels: Mapping[str, str],
        template: PodTemplate,
    ) -> None:
        self.node_labels = state.labels
        self.namespace = namespace
        self.labels = labels
        self.template = template
        self.affinity = [(t, Domains(int)) for t in template.required_pod_affinity]
        self.anti = [(t, Domains(int)) for t in template.required_pod_anti_affinity]
        self.existing_anti: defaultdict[str, Domains] = defaultdict(lambda: Domains(int))
        self.topology: defaultdict[str, Domains] = defaultdict(lambda: Domains(int))
        self.values: dict[str, list[str | None]] = {}
        self.matches_own_affinity = all(
            _term_selects(t, namespace, namespace, labels) for t in template.required_pod_affinity
        )
        for pod in state.pods:
            self.add(pod)

    @property
    def filters(self) -> bool:
        """Whether any required term can reject a node."""
        return bool(self.affinity or self.anti or self.existing_anti)

    @property
    def scores(self) -> bool:
        """Whether any preferred term (either side) gave a domain a score."""
        return bool(self.topology)

    def add(self, pod: BoundPod) -> None:
        """Account for a bound pod: the incoming terms it matches, its terms matching us."""
        node_labels = self.node_labels[pod.node]
        self._incoming_terms(pod, node_labels)
        if pod.template is not None:
            self._existing_terms(pod, pod.template, node_labels)

    def _incoming_terms(self, pod: BoundPod, node_labels: Mapping[str, str]) -> None:
        ns, labels = self.namespace, pod.labels
        if self.affinity and all(
            _term_selects(t, ns, pod.namespace, labels) for t, _ in self.affinity
        ):
            for term, domains in self.affinity:
                _count(domains, node_labels, term.topology_key, 1)
        for term, domains in self.anti:
            if _term_selects(term, ns, pod.namespace, labels):
                _count(domains, node_labels, term.topology_key, 1)
        for sign, weighted in (
            (1, self.template.preferred_pod_affinity),
            (-1, self.template.preferred_pod_anti_affinity),
        ):
            for entry in weighted:
                if _term_selects(entry.term, ns, pod.namespace, labels):
                    key = entry.term.topology_key
                    _count(self.topology[key], node_labels, key, sign * entry.weight)

    def _existing_terms(
        self, pod: BoundPod, template: PodTemplate, node_labels: Mapping[str, str]
    ) -> None:
        def selected(term: PodAffinityTerm) -> bool:
            return _term_selects(term, pod.namespace, self.namespace, self.labels)

        for term in template.required_pod_anti_affinity:
            if selected(term):
                key = term.topology_key
                _count(self.existing_anti[key], node_labels, key, 1)
        for term in template.required_pod_affinity:
            if selected(term):
                key = term.topology_key
                _count(self.topology[key], node_labels, key, HARD_POD_AFFINITY_WEIGHT)
        for sign, weighted in (
            (1, template.preferred_pod_affinity),
            (-1, template.preferred_pod_anti_affinity),
        ):
            for entry in weighted:
                if selected(entry.term):
                    key = entry.term.topology_key
                    _count(self.topology[key], node_labels, key, sign * entry.weight)

    def reason(self, node: int) -> str | None:
        """Why ``node`` fails the required terms, or None."""
        labels = self.node_labels[node]
        if not all(_in_domain(d, labels, t.topology_key) for t, d in self.affinity) and not (
            not any(d for _, d in self.affinity) and self.matches_own_affinity
        ):
            return REASON_AFFINITY
        if any(_in_domain(d, labels, t.topology_key) for t, d in self.anti):
            return REASON_ANTI_AFFINITY
        if any(_in_domain(d, labels, key) for key, d in self.existing_anti.items()):
            return REASON_EXISTING_ANTI_AFFINITY
        return None

    def node_scores(self, feasible: Sequence[int]) -> list[int]:
        """Scores (0..100) of the ``feasible`` nodes, scaled between the lowest and highest."""
        raw = [0] * len(feasible)
        for key, domains in self.topology.items():
            values = self._values(key)
            raw = [
                score + (domains.get(value, 0) if value is not None else 0)
                for score, value in zip(raw, (values[i] for i in feasible), strict=True)
            ]
        low, high = min(raw, default=0), max(raw, default=0)
        if high == low:
            return [0] * len(raw)
        return [int(100 * ((score - low) / (high - low))) for score in raw]

    def _values(self, key: str) -> list[str | None]:
        """Each node's value of ``key`` (None: no such label), computed once per key."""
        values = self.values.get(key)
        if values is None:
            values = self.values[key] = [labels.get(key) for labels in self.node_labels]
        return values


def _count(domains: Domains, node_labels: Mapping[str, str], key: str, amount: int) -> None:
    value = node_labels.get(key)
    if value is not None:
        domains[value] += amount


def _in_domain(domains: Domains, node_labels: Mapping[str, str], key: str) -> bool:
    value = node_labels.get(key)
    return value is not None and domains.get(value, 0) > 0
