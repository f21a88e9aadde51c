"""Deployment, ReplicaSet and StatefulSet documents → :class:`srcip.model.workloads.Workload`.

What is read: ``spec.replicas`` (absent: 1, the API default), ``spec.selector``, and from
``spec.template`` the labels and annotations, the fields kube-scheduler filters and scores
on (``nodeSelector``, node and pod (anti-)affinity, tolerations,
``topologySpreadConstraints``, resource requests, ``hostNetwork`` with its container
ports), and the lifecycle timing the failover model needs (``terminationGracePeriodSeconds``,
a ``preStop`` sleep, ``readinessProbe`` timing).

Requests follow kube-scheduler's effective pod request (``resource.PodRequests``): the sum
over containers and restartable init containers (native sidecars), or the largest init
container with the sidecars started before it, whichever is larger. Quantities follow
``resource.Quantity`` (``100m``, ``0.5``, ``128Mi``, ``1G``, ``1e3``) and round up, as
``MilliValue``/``Value`` do.

Checks follow upstream ``ValidatePodTemplateSpec`` and ``ValidateDeployment`` where they
concern these fields: a manifest the apiserver would refuse is refused with the field, the
value and a fix. ``namespaceSelector`` and ``mismatchLabelKeys`` of pod affinity terms,
init-container ports and pod overhead are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from math import ceil
from typing import Any

from lightkube.resources.apps_v1 import Deployment, ReplicaSet, StatefulSet

from srcip.manifests.documents import Document
from srcip.manifests.fields import (
    check_port,
    lightkube_object,
    object_name,
    object_namespace,
    parse_enum,
    string_pairs,
)
from srcip.model.workloads import (
    DEFAULT_TERMINATION_GRACE_SECONDS,
    LabelRequirement,
    LabelSelector,
    NodeSelectorTerm,
    PodAffinityTerm,
    PodTemplate,
    ReadinessProbe,
    SelectorOperator,
    Toleration,
    TopologySpreadConstraint,
    UnsatisfiableAction,
    WeightedNodeSelectorTerm,
    WeightedPodAffinityTerm,
    Workload,
    WorkloadKind,
)

__all__ = ["convert_workload", "parse_quantity"]

_SCHEMAS: dict[str, Any] = {
    WorkloadKind.DEPLOYMENT: Deployment,
    WorkloadKind.REPLICA_SET: ReplicaSet,
    WorkloadKind.STATEFUL_SET: StatefulSet,
}
_TEMPLATE = "spec.template.spec"
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?"
)
_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{s: Decimal(1024**power) for power, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)},
}
_SHELLS = frozenset({"sh", "/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "ash", "/bin/ash"})
_SLEEPS = frozenset({"sleep", "/bin/sleep", "/usr/bin/sleep"})
_SCRIPT_SLEEP = re.compile(r"\s*(?:/usr)?(?:/bin/)?sleep\s+(\d+(?:\.\d+)?)s?(?:\s|;|&|$)")
_NODE_OPERATORS = frozenset(SelectorOperator)
_LABEL_OPERATORS = frozenset(SelectorOperator) - {SelectorOperator.GT, SelectorOperator.LT}
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_POLICIES = ("Honor", "Ignore")


def convert_workload(doc: Document) -> Workload:
    """Convert and validate one ``apps/v1`` Deployment, ReplicaSet or StatefulSet."""
    kind = WorkloadKind(doc.kind)
    obj = lightkube_object(doc, _SCHEMAS[kind])
    name = object_name(doc, obj.metadata)
    spec = obj.spec  # the schema requires spec and spec.selector
    replicas = 1 if spec.replicas is None else spec.replicas
    if replicas < 0:
        raise doc.error(
            "must not be negative", field="spec.replicas", value=replicas, fix="use 0 or more"
        )
    selector = _label_selector(doc, spec.selector, "spec.selector")
    template = _template(doc, spec.template)
    if not spec.selector.matchLabels and not spec.selector.matchExpressions:
        raise doc.error(
            "is empty", field="spec.selector", fix="select the template's labels (matchLabels)"
        )
    if not selector.matches(dict(template.labels)):
        raise doc.error(
            "does not match the template's labels",
            field="spec.selector",
            value=dict(selector.match_labels) or None,
            fix="make spec.template.metadata.labels carry every label the selector requires",
        )
    return Workload(
        kind=kind,
        namespace=object_namespace(obj.metadata),
        name=name,
        replicas=replicas,
        selector=selector,
        template=template,
    )


# --------------------------------------------------------------------------- template


def _template(doc: Document, template: Any) -> PodTemplate:
    if template is None:
        raise doc.error(
            "is required", field="spec.template", fix="give the workload a pod template"
        )
    metadata, spec = template.metadata, template.spec
    if spec is None:
        raise doc.error("is required", field=_TEMPLATE, fix="give the template containers")
    containers: list[Any] = list(spec.containers)
    sidecars = [c for c in spec.initContainers or () if c.restartPolicy == "Always"]
    affinity = spec.affinity
    node_affinity = affinity.nodeAffinity if affinity is not None else None
    cpu, memory = _requests(doc, containers, list(spec.initContainers or ()))
    grace = spec.terminationGracePeriodSeconds
    if grace is not None and grace < 0:
        raise doc.error(
            "must not be negative",
            field=f"{_TEMPLATE}.terminationGracePeriodSeconds",
            value=grace,
            fix="use 0 or more seconds (default 30)",
        )
    return PodTemplate(
        labels=string_pairs(
            doc, metadata.labels if metadata else None, "spec.template.metadata.labels"
        ),
        node_selector=string_pairs(doc, spec.nodeSelector, f"{_TEMPLATE}.nodeSelector"),
        required_node_affinity=_required_node_affinity(doc, node_affinity),
        preferred_node_affinity=_preferred_node_affinity(doc, node_affinity),
        tolerations=tuple(_toleration(doc, t, i) for i, t in enumerate(spec.tolerations or ())),
        topology_spread_constraints=tuple(
            _spread(doc, c, i) for i, c in enumerate(spec.topologySpreadConstraints or ())
        ),
        **_pod_affinities(doc, affinity),
        cpu_request_millis=cpu,
        memory_request_bytes=memory,
        container_ports=_container_ports(doc, containers),
        container_names=tuple(c.name for c in [*containers, *sidecars]),
        annotations=string_pairs(
            doc, metadata.annotations if metadata else None, "spec.template.metadata.annotations"
        ),
        host_network=bool(spec.hostNetwork),
        termination_grace_period_seconds=(
            DEFAULT_TERMINATION_GRACE_SECONDS if grace is None else grace
        ),
        pre_stop_sleep_seconds=max((_pre_stop_sleep(c) for c in containers), default=0.0),
        readiness=next(
            (_readiness(c.readinessProbe) for c in containers if c.readinessProbe is not None),
            None,
        ),
    )


def _container_ports(doc: Document, containers: Sequence[Any]) -> tuple[tuple[str, int], ...]:
    ports: list[tuple[str, int]] = []
    for index, container in enumerate(containers):
        for number, entry in enumerate(container.ports or ()):
            field = f"{_TEMPLATE}.containers[{index}].ports[{number}].containerPort"
            ports.append((entry.name or "", check_port(doc, entry.containerPort, field)))
    return tuple(ports)


def _pre_stop_sleep(container: Any) -> float:
    """Seconds a ``preStop`` hook sleeps: the ``sleep`` action or an exec'd ``sleep N``."""
    lifecycle = container.lifecycle
    pre_stop = lifecycle.preStop if lifecycle is not None else None
    if pre_stop is None:
        return 0.0
    if pre_stop.sleep is not None:
        return float(pre_stop.sleep.seconds)
    command: list[str] = (pre_stop.exec.command or []) if pre_stop.exec is not None else []
    if len(command) == 2 and command[0] in _SLEEPS:
        script = f"sleep {command[1]}"
    elif len(command) == 3 and command[0] in _SHELLS and command[1] == "-c":
        script = command[2]
    else:
        return 0.0
    match = _SCRIPT_SLEEP.match(script)
    return float(match[1]) if match else 0.0


def _readiness(probe: Any) -> ReadinessProbe:
    return ReadinessProbe(
        initial_delay_seconds=float(probe.initialDelaySeconds or 0),
        period_seconds=float(probe.periodSeconds or 10),
        failure_threshold=probe.failureThreshold or 3,
        success_threshold=probe.successThreshold or 1,
    )


# --------------------------------------------------------------------------- requests


def _requests(doc: Document, containers: Sequence[Any], inits: Sequence[Any]) -> tuple[int, int]:
    """The pod's effective (cpu millis, memory bytes) request, as ``PodRequests`` computes."""
    total = [0, 0]
    for index, container in enumerate(containers):
        _add(total, _container_requests(doc, container, f"{_TEMPLATE}.containers[{index}]"))
    sidecars = [0, 0]
    peak = [0, 0]
    for index, container in enumerate(inits):
        own = _container_requests(doc, container, f"{_TEMPLATE}.initContainers[{index}]")
        if container.restartPolicy == "Always":  # a sidecar runs beside the containers
            _add(sidecars, own)
            _add(total, own)
        peak = [max(p, s + o) for p, s, o in zip(peak, sidecars, own, strict=True)]
    return max(total[0], peak[0]), max(total[1], peak[1])


def _add(into: list[int], values: Sequence[int]) -> None:
    for index, value in enumerate(values):
        into[index] += value


def _container_requests(doc: Document, container: Any, field: str) -> tuple[int, int]:
    resources = container.resources
    requests: dict[str, object] = (resources.requests if resources is not None else None) or {}
    cpu = requests.get("cpu")
    memory = requests.get("memory")
    return (
        _quantity(doc, cpu, f"{field}.resources.requests.cpu", 1000) if cpu is not None else 0,
        _quantity(doc, memory, f"{field}.resources.requests.memory", 1)
        if memory is not None
        else 0,
    )


def _quantity(doc: Document, value: object, field: str, scale: int) -> int:
    quantity = parse_quantity(value)
    if quantity is None or quantity < 0:
        raise doc.error(
            "is not a resource quantity",
            field=field,
            value=value,
            fix="write a non-negative quantity such as 100m, 0.5, 2, 128Mi or 1G",
        )
    return ceil(quantity * scale)


def parse_quantity(value: object) -> Decimal | None:
    """A ``resource.Quantity`` (``100m``, ``1.5``, ``128Mi``, ``1e3``) as a number, or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    match = _QUANTITY.fullmatch(str(value).strip())
    if match is None:
        return None
    try:
        number = Decimal(match["number"])
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        return None
    suffix = match["suffix"]
    if suffix is None:
        return number
    if suffix[0] in "eE" and len(suffix) > 1:
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


# --------------------------------------------------------------------------- selectors


def _label_selector(doc: Document, selector: Any, field: str) -> LabelSelector:
    requirements = tuple(
        _requirement(doc, expression, f"{field}.matchExpressions[{index}]", _LABEL_OPERATORS)
        for index, expression in enumerate(selector.matchExpressions or ())
    )
    return LabelSelector(
        match_labels=string_pairs(doc, selector.matchLabels, f"{field}.matchLabels"),
        match_expressions=requirements,
    )


def _optional_selector(doc: Document, selector: Any, field: str) -> LabelSelector | None:
    return None if selector is None else _label_selector(doc, selector, field)


def _requirement(
    doc: Document, expression: Any, field: str, allowed: frozenset[SelectorOperator]
) -> LabelRequirement:
    operator = parse_enum(doc, SelectorOperator, expression.operator, f"{field}.operator")
    if operator not in allowed:
        raise doc.error(
            "is not a valid operator for a label selector",
            field=f"{field}.operator",
            value=expression.operator,
            fix="use In, NotIn, Exists or DoesNotExist (Gt and Lt are for node selectors)",
        )
    values: tuple[str, ...] = tuple(expression.values or ())
    problem = _values_problem(operator, values)
    if problem is not None:
        raise doc.error(problem[0], field=f"{field}.values", value=list(values), fix=problem[1])
    return LabelRequirement(key=expression.key, operator=operator, values=values)


def _values_problem(operator: SelectorOperator, values: tuple[str, ...]) -> tuple[str, str] | None:
    if operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not values:
        return "must not be empty with In or NotIn", "list at least one value"
    if operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and values:
        return "must be empty with Exists or DoesNotExist", "remove the values"
    if operator in (SelectorOperator.GT, SelectorOperator.LT) and (
        len(values) != 1 or not values[0].lstrip("-").isdigit()
    ):
        return "must be one integer with Gt or Lt", "give a single integer value such as '3'"
    return None


def _node_term(doc: Document, term: Any, field: str) -> NodeSelectorTerm:
    return NodeSelectorTerm(
        match_expressions=tuple(
            _requirement(doc, expression, f"{field}.matchExpressions[{index}]", _NODE_OPERATORS)
            for index, expression in enumerate(term.matchExpressions or ())
        )
    )


# --------------------------------------------------------------------------- affinity


_NODE_AFFINITY = f"{_TEMPLATE}.affinity.nodeAffinity"


def _required_node_affinity(doc: Document, affinity: Any) -> tuple[NodeSelectorTerm, ...]:
    required = affinity.requiredDuringSchedulingIgnoredDuringExecution if affinity else None
    if required is None:
        return ()
    field = f"{_NODE_AFFINITY}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    return tuple(
        _node_term(doc, term, f"{field}[{index}]")
        for index, term in enumerate(required.nodeSelectorTerms)
    )


def _preferred_node_affinity(doc: Document, affinity: Any) -> tuple[WeightedNodeSelectorTerm, ...]:
    preferred = affinity.preferredDuringSchedulingIgnoredDuringExecution if affinity else None
    field = f"{_NODE_AFFINITY}.preferredDuringSchedulingIgnoredDuringExecution"
    return tuple(
        WeightedNodeSelectorTerm(
            weight=_weight(doc, entry.weight, f"{field}[{index}].weight"),
            term=_node_term(doc, entry.preference, f"{field}[{index}].preference"),
        )
        for index, entry in enumerate(preferred or ())
    )


def _pod_affinities(doc: Document, affinity: Any) -> dict[str, Any]:
    """The four pod (anti-)affinity fields of :class:`PodTemplate`, by their names there."""
    fields: dict[str, Any] = {}
    for attribute, prefix in (
        ("podAffinity", "pod_affinity"),
        ("podAntiAffinity", "pod_anti_affinity"),
    ):
        block = getattr(affinity, attribute) if affinity is not None else None
        base = f"{_TEMPLATE}.affinity.{attribute}"
        required_field = f"{base}.requiredDuringSchedulingIgnoredDuringExecution"
        preferred_field = f"{base}.preferredDuringSchedulingIgnoredDuringExecution"
        fields[f"required_{prefix}"] = tuple(
            _pod_term(doc, term, f"{required_field}[{index}]")
            for index, term in enumerate(
                _entries(block, "requiredDuringSchedulingIgnoredDuringExecution")
            )
        )
        fields[f"preferred_{prefix}"] = tuple(
            WeightedPodAffinityTerm(
                weight=_weight(doc, entry.weight, f"{preferred_field}[{index}].weight"),
                term=_pod_term(
                    doc, entry.podAffinityTerm, f"{preferred_field}[{index}].podAffinityTerm"
                ),
            )
            for index, entry in enumerate(
                _entries(block, "preferredDuringSchedulingIgnoredDuringExecution")
            )
        )
    return fields


def _entries(block: Any, attribute: str) -> Iterable[Any]:
    return (getattr(block, attribute) if block is not None else None) or ()


def _pod_term(doc: Document, term: Any, field: str) -> PodAffinityTerm:
    if not term.topologyKey:
        raise doc.error(
            "must not be empty",
            field=f"{field}.topologyKey",
            fix="name a node label such as kubernetes.io/hostname or topology.kubernetes.io/zone",
        )
    return PodAffinityTerm(
        label_selector=_optional_selector(doc, term.labelSelector, f"{field}.labelSelector"),
        topology_key=term.topologyKey,
        namespaces=tuple(term.namespaces or ()),
    )


def _weight(doc: Document, weight: int, field: str) -> int:
    if not 1 <= weight <= 100:
        raise doc.error(
            "is out of range", field=field, value=weight, fix="use a weight from 1 to 100"
        )
    return weight


# --------------------------------------------------------------------------- tolerations, spread


def _toleration(doc: Document, toleration: Any, index: int) -> Toleration:
    field = f"{_TEMPLATE}.tolerations[{index}]"
    operator = toleration.operator or "Equal"
    if operator not in ("Equal", "Exists"):
        raise doc.error(
            "is not a valid operator",
            field=f"{field}.operator",
            value=operator,
            fix="use Equal or Exists",
        )
    if operator == "Exists" and toleration.value:
        raise doc.error(
            "must be empty when operator is Exists",
            field=f"{field}.value",
            value=toleration.value,
            fix="remove the value, or use operator: Equal",
        )
    if not toleration.key and operator != "Exists":
        raise doc.error(
            "must be Exists when key is empty",
            field=f"{field}.operator",
            value=operator,
            fix="set operator: Exists to tolerate every taint, or give a key",
        )
    effect = toleration.effect or ""
    if effect and effect not in _TAINT_EFFECTS:
        raise doc.error(
            "is not a taint effect",
            field=f"{field}.effect",
            value=effect,
            fix="use NoSchedule, PreferNoSchedule or NoExecute (or leave it empty for all)",
        )
    return Toleration(
        key=toleration.key or "", operator=operator, value=toleration.value or "", effect=effect
    )


def _spread(doc: Document, constraint: Any, index: int) -> TopologySpreadConstraint:
    field = f"{_TEMPLATE}.topologySpreadConstraints[{index}]"
    if constraint.maxSkew < 1:
        raise doc.error(
            "must be greater than zero",
            field=f"{field}.maxSkew",
            value=constraint.maxSkew,
            fix="use 1 or more",
        )
    if not constraint.topologyKey:
        raise doc.error(
            "must not be empty",
            field=f"{field}.topologyKey",
            fix="name a node label such as kubernetes.io/hostname or topology.kubernetes.io/zone",
        )
    action = parse_enum(
        doc, UnsatisfiableAction, constraint.whenUnsatisfiable, f"{field}.whenUnsatisfiable"
    )
    _check_min_domains(doc, constraint.minDomains, action, f"{field}.minDomains")
    return TopologySpreadConstraint(
        max_skew=constraint.maxSkew,
        topology_key=constraint.topologyKey,
        when_unsatisfiable=action,
        label_selector=_optional_selector(doc, constraint.labelSelector, f"{field}.labelSelector"),
        min_domains=constraint.minDomains,
        match_label_keys=tuple(constraint.matchLabelKeys or ()),
        node_affinity_policy=_policy(
            doc, constraint.nodeAffinityPolicy, f"{field}.nodeAffinityPolicy", "Honor"
        ),
        node_taints_policy=_policy(
            doc, constraint.nodeTaintsPolicy, f"{field}.nodeTaintsPolicy", "Ignore"
        ),
    )


def _check_min_domains(
    doc: Document, value: int | None, action: UnsatisfiableAction, field: str
) -> None:
    if value is None:
        return
    if value < 1:
        raise doc.error(
            "must be greater than zero", field=field, value=value, fix="use 1 or more, or remove it"
        )
    if action is not UnsatisfiableAction.DO_NOT_SCHEDULE:
        raise doc.error(
            "can only be used with whenUnsatisfiable: DoNotSchedule",
            field=field,
            value=value,
            fix="remove minDomains, or set whenUnsatisfiable: DoNotSchedule",
        )


def _policy(doc: Document, value: str | None, field: str, default: str) -> str:
    if value is None:
        return default
    if value not in _POLICIES:
        raise doc.error("is not a valid value", field=field, value=value, fix="use Honor or Ignore")
    return value
