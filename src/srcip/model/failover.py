"""Failover events and the pod lifecycles they set off: the state machine behind the timeline.

:func:`plan_failover` applies a Scenario's events (parsed by
:func:`srcip.model.timeline.parse_event`) to the pods behind one Service and returns each
pod's lifecycle, from which the EndpointSlice state at any moment follows
(:meth:`FailoverPlan.endpoints_at`). Times are exact ``Fraction`` seconds from 0. What each
event does (``docs/reference/timeline.md``):

* **delete** at *t*: the pod is terminating from *t* (KEP-1669 conditions ``ready=False``,
  ``serving=<readiness>``, ``terminating=True``). The ``preStop`` sleep runs first, then
  SIGTERM; the app is assumed to exit at once on SIGTERM, so it stops accepting and the pod is
  gone (endpoint removed) at ``t + min(preStop, grace)``. Serving=False and removal are the
  same to kube-proxy (neither counts as usable nor for REJECT vs DROP, KP §2.3), so they are
  one moment here. The workload controller replaces the pod at once (Deployment/ReplicaSet:
  ``<workload>-<next index>``; StatefulSet: same name once the old pod is gone) on the node
  that lost it when that node is schedulable, else on the schedulable node with the fewest of
  the workload's pods. The new pod is ready when its readiness probe first passes.
* **drain**: the node gets the ``ToBeDeletedByClusterAutoscaler`` taint and is cordoned, as
  Cluster Autoscaler's scale-down does (KP §14.3, KEP-3836); its pods are deleted as above.
* **unready** / **ready**: the readiness probe starts failing (the kubelet marks the pod
  NotReady after ``failureThreshold × period``) / the pod is ready again at once.
* **scale**: the desired replica count changes; surplus pods go unready-first, newest-first.

Left out: scheduling and image-pull time, container restarts, PodDisruptionBudgets, probe
jitter, and pods that do not back the Service.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

from srcip.errors import UsageError
from srcip.model.objects import Cluster, Endpoint, EndpointSlice, IPAddress, Node, Pod, Service
from srcip.model.scenario import EventKind, ScenarioEvent
from srcip.model.workloads import PodTemplate, Workload, WorkloadKind

__all__ = ["FailoverPlan", "PodLifecycle", "plan_failover", "seconds"]

_WORKLOAD_KINDS: Mapping[str, WorkloadKind] = {
    "deployment": WorkloadKind.DEPLOYMENT,
    "replicaset": WorkloadKind.REPLICA_SET,
    "statefulset": WorkloadKind.STATEFUL_SET,
}

# --------------------------------------------------------------------------- lifecycles


def seconds(value: float) -> Fraction:
    """A float time as the exact decimal it was written as (``0.1`` is ``1/10``)."""
    return Fraction(repr(float(value)))


@dataclass(frozen=True, slots=True, kw_only=True)
class PodLifecycle:
    """One pod behind the Service over the timeline; ``None`` times are "never" / "before 0".

    ``readiness`` lists (time, ready) changes in time order; before the first the pod's
    readiness is ``initially_ready``. ``template`` is its endpoint (address, node, hints).
    """

    name: str
    workload: str | None
    template: Endpoint
    slice_name: str
    created: Fraction | None = None
    initially_ready: bool = True
    readiness: tuple[tuple[Fraction, bool], ...] = ()
    deleted: Fraction | None = None
    gone: Fraction | None = None

    def exists(self, t: Fraction) -> bool:
        """Created and not yet gone at ``t``: the app accepts connections."""
        return (self.created is None or self.created <= t) and (self.gone is None or t < self.gone)

    def ready(self, t: Fraction) -> bool:
        """The pod's Ready condition at ``t`` (readiness probe verdict)."""
        value = self.initially_ready
        for when, ready in self.readiness:
            if when <= t:
                value = ready
        return value

    def terminating(self, t: Fraction) -> bool:
        """Deleted at or before ``t`` (deletionTimestamp set)."""
        return self.deleted is not None and self.deleted <= t

    def endpoint_at(self, t: Fraction) -> Endpoint | None:
        """The pod's endpoint in the EndpointSlice at ``t`` (KEP-1669 conditions), or None."""
        if not self.exists(t):
            return None
        ready, terminating = self.ready(t), self.terminating(t)
        return replace(
            self.template, ready=ready and not terminating, serving=ready, terminating=terminating
        )

    @property
    def times(self) -> tuple[Fraction, ...]:
        """Every moment its endpoint may change."""
        marks = (self.created, self.deleted, self.gone, *(w for w, _ in self.readiness))
        return tuple(m for m in marks if m is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverPlan:
    """Every pod's lifecycle, endpoints without a pod, and when nodes were tainted."""

    service: Service
    pods: tuple[PodLifecycle, ...]
    static: tuple[tuple[str, Endpoint], ...] = ()  # (slice name, endpoint) never changing
    slice_names: tuple[str, ...] = ()
    tainted: tuple[tuple[str, Fraction], ...] = ()  # node → ToBeDeletedByClusterAutoscaler from
    notes: tuple[str, ...] = ()

    def endpoints_at(self, t: Fraction) -> dict[str, list[Endpoint]]:
        """Slice name → its endpoints at ``t``, in the API's state (not kube-proxy's)."""
        slices: dict[str, list[Endpoint]] = {name: [] for name in self.slice_names}
        for name, ep in self.static:
            slices[name].append(ep)
        for pod in self.pods:
            current = pod.endpoint_at(t)
            if current is not None:
                slices[pod.slice_name].append(current)
        return slices

    def pod_at(self, address: IPAddress, t: Fraction) -> PodLifecycle | None:
        """The pod that holds ``address`` at ``t`` (the latest created, if several ever did)."""
        holders = [p for p in self.pods if p.template.address == address and p.exists(t)]
        return holders[-1] if holders else None

    def is_tainted(self, node: str, t: Fraction) -> bool:
        """The node carries the scale-down taint at ``t`` (KP §14.3)."""
        return any(n == node and since <= t for n, since in self.tainted)

    @property
    def endpoint_times(self) -> tuple[Fraction, ...]:
        """Sorted moments at which some endpoint changes in the API."""
        return tuple(sorted({t for pod in self.pods for t in pod.times}))

    @property
    def app_times(self) -> tuple[Fraction, ...]:
        """Sorted moments at which some app starts or stops accepting."""
        marks = {p.created for p in self.pods} | {p.gone for p in self.pods}
        return tuple(sorted(m for m in marks if m is not None))


@dataclass(slots=True)
class _Builder:
    """Mutable working state of :func:`plan_failover`; frozen into a plan at the end."""

    cluster: Cluster
    service: Service
    pods: list[PodLifecycle]
    desired: dict[str, int]
    cordoned: dict[str, Fraction] = field(default_factory=dict)
    used: set[IPAddress] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def live(self, workload: str) -> list[int]:
        """Indices of the workload's pods not deleted (running or about to be created)."""
        return [i for i, p in enumerate(self.pods) if p.workload == workload and p.deleted is None]

    def find_pod(self, name: str, t: Fraction, text: str) -> int:
        found = [i for i, p in enumerate(self.pods) if p.name == name and p.exists(t)]
        if not found:
            known = ", ".join(sorted({p.name for p in self.pods if p.exists(t)})) or "none"
            raise UsageError(
                f"event {text!r}: no pod {name!r} backs {self.service.key} at {float(t):g}s "
                f"(pods then: {known})"
            )
        return found[-1]


def plan_failover(
    cluster: Cluster, service: Service, events: tuple[ScenarioEvent, ...]
) -> FailoverPlan:
    """Apply ``events`` (stable-sorted by time) to the pods behind ``service``."""
    slices = sorted(
        (s for s in cluster.endpoint_slices if s.namespace == service.namespace),
        key=lambda s: s.name,
    )
    slices = [s for s in slices if s.service_name == service.name]
    if not slices:
        raise UsageError(
            f"{service.key} has no EndpointSlices: nothing to fail over. Fix: give the "
            "Deployment behind it (srcip places its pods) or its EndpointSlices"
        )
    pods, static = _initial(cluster, service, slices)
    builder = _Builder(cluster=cluster, service=service, pods=pods, desired={})
    for pod in pods:
        builder.used.add(pod.template.address)
        if pod.workload is not None:
            builder.desired[pod.workload] = builder.desired.get(pod.workload, 0) + 1
    builder.used.update(ep.address for _, ep in static)
    for event in sorted(events, key=lambda e: e.at_seconds):
        if event.at_seconds < 0:
            raise UsageError(f"event at {event.at_seconds:g}s: times start at 0s")
        _APPLY[event.kind](builder, event, seconds(event.at_seconds))
    return FailoverPlan(
        service=service,
        pods=tuple(builder.pods),
        static=tuple(static),
        slice_names=tuple(s.name for s in slices),
        tainted=tuple(builder.cordoned.items()),
        notes=tuple(builder.notes),
    )


def _initial(
    cluster: Cluster, service: Service, slices: list[EndpointSlice]
) -> tuple[list[PodLifecycle], list[tuple[str, Endpoint]]]:
    by_name = {p.name: p for p in cluster.pods if p.namespace == service.namespace}
    by_ip = {ip: p for p in by_name.values() for ip in p.ips}
    pods: list[PodLifecycle] = []
    static: list[tuple[str, Endpoint]] = []
    for eps in slices:
        for ep in eps.endpoints:
            pod = by_name.get(ep.target or "") or by_ip.get(ep.address)
            if pod is None or ep.terminating:  # nothing to act on: kept as it is
                static.append((eps.name, ep))
                continue
            workload = _workload_of(pod, cluster.workloads)
            pods.append(
                PodLifecycle(
                    name=pod.name,
                    workload=workload.key if workload is not None else None,
                    template=replace(ep, node_name=ep.node_name or pod.node_name, target=pod.name),
                    slice_name=eps.name,
                    initially_ready=ep.ready,
                )
            )
    return pods, static


def _workload_of(pod: Pod, workloads: tuple[Workload, ...]) -> Workload | None:
    """By selector on the pod's labels, else by the ``<workload>-`` name prefix (longest)."""
    mine = [w for w in workloads if w.namespace == pod.namespace]
    labels = dict(pod.labels)
    for w in mine:
        if (w.selector.match_labels or w.selector.match_expressions) and w.selector.matches(labels):
            return w
    prefixed = [w for w in mine if pod.name.startswith(f"{w.name}-")]
    return max(prefixed, key=lambda w: len(w.name), default=None)


def _template(cluster: Cluster, workload: str | None) -> PodTemplate:
    found = next((w for w in cluster.workloads if w.key == workload), None)
    return found.template if found is not None else PodTemplate()


# --------------------------------------------------------------------------- events


def _delete(b: _Builder, event: ScenarioEvent, t: Fraction) -> None:
    index = b.find_pod(event.target.partition("/")[2], t, event.target)
    if b.pods[index].terminating(t):
        b.notes.append(f"{event.target} at {float(t):g}s is already terminating: no change")
        return
    _terminate(b, index, t)
    _reconcile(b, b.pods[index].workload, t, lost=b.pods[index].template.node_name)


def _terminate(b: _Builder, index: int, t: Fraction) -> None:
    pod = b.pods[index]
    template = _template(b.cluster, pod.workload)
    grace = seconds(template.termination_grace_period_seconds)
    # The preStop hook runs inside the grace period; the kubelet kills at its end.
    stop = t + min(seconds(template.pre_stop_sleep_seconds), grace)
    b.pods[index] = replace(pod, deleted=t, gone=stop)


def _drain(b: _Builder, event: ScenarioEvent, t: Fraction) -> None:
    name = event.target.partition("/")[2]
    if all(n.name != name for n in b.cluster.nodes):
        known = ", ".join(n.name for n in b.cluster.nodes)
        raise UsageError(f"event {event.target!r}: no node {name!r} (nodes: {known})")
    b.cordoned.setdefault(name, t)
    victims = [
        i
        for i, p in enumerate(b.pods)
        if p.template.node_name == name and p.exists(t) and not p.terminating(t)
    ]
    for index in victims:
        _terminate(b, index, t)
    for workload in dict.fromkeys(b.pods[i].workload for i in victims):
        _reconcile(b, workload, t, lost=None)


def _readiness(b: _Builder, event: ScenarioEvent, t: Fraction) -> None:
    index = b.find_pod(event.target.partition("/")[2], t, event.target)
    pod = b.pods[index]
    when = t
    if event.kind is EventKind.UNREADY:
        probe = _template(b.cluster, pod.workload).readiness
        if probe is not None:  # the kubelet needs failureThreshold failed probes
            when = t + probe.failure_threshold * seconds(probe.period_seconds)
    changes = sorted((*pod.readiness, (when, event.kind is EventKind.READY)), key=lambda c: c[0])
    b.pods[index] = replace(pod, readiness=tuple(changes))


def _scale(b: _Builder, event: ScenarioEvent, t: Fraction) -> None:
    kind, _, name = event.target.partition("/")
    workload = next(
        (
            w
            for w in b.cluster.workloads
            if w.name == name
            and w.namespace == b.service.namespace
            and w.kind is _WORKLOAD_KINDS[kind]
        ),
        None,
    )
    if workload is None or workload.key not in b.desired:
        raise UsageError(f"event {event.target!r}: no {kind} {name!r} backs {b.service.key}")
    b.desired[workload.key] = event.replicas or 0
    live = b.live(workload.key)
    # ReplicaSet controller: not-ready pods first, then the newest (StatefulSet: highest ordinal).
    live.sort(key=lambda i: _doomed_first(b.pods[i], t))
    surplus = len(live) - b.desired[workload.key]
    for index in live[:surplus] if surplus > 0 else ():
        _terminate(b, index, t)
    _reconcile(b, workload.key, t, lost=None)


_APPLY: Mapping[EventKind, Callable[[_Builder, ScenarioEvent, Fraction], None]] = {
    EventKind.DELETE_POD: _delete,
    EventKind.DRAIN_NODE: _drain,
    EventKind.UNREADY: _readiness,
    EventKind.READY: _readiness,
    EventKind.SCALE: _scale,
}


def _doomed_first(pod: PodLifecycle, t: Fraction) -> tuple[bool, Fraction, int]:
    """Sort key: not ready first, then the newest, then the highest ordinal."""
    created = pod.created if pod.created is not None else Fraction(-1)
    return pod.ready(t), -created, -_ordinal(pod.name)


def _ordinal(name: str) -> int:
    suffix = name.rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else -1


# --------------------------------------------------------------------------- replacements


def _reconcile(b: _Builder, workload: str | None, t: Fraction, *, lost: str | None) -> None:
    """The workload controller creates pods until the desired count is met."""
    if workload is None:
        b.notes.append(f"a pod of {b.service.key} without a workload is not replaced")
        return
    found = next(w for w in b.cluster.workloads if w.key == workload)
    while len(b.live(workload)) < b.desired[workload]:
        node = _choose_node(b, workload, lost)
        if node is None:
            b.notes.append(f"no schedulable node for a new pod of {workload} at {float(t):g}s")
            return
        b.pods.append(_new_pod(b, found, node, t))
        b.notes.append(
            f"{b.pods[-1].name} of {workload} created on {node.name} at "
            f"{float(b.pods[-1].created or 0):g}s"
        )


def _choose_node(b: _Builder, workload: str, lost: str | None) -> Node | None:
    """The node that lost the pod if schedulable, else the one with the fewest of its pods."""
    ok = [n for n in b.cluster.nodes if not n.unschedulable and n.name not in b.cordoned]
    for node in ok:
        if node.name == lost:
            return node
    count = {n.name: 0 for n in ok}
    for i in b.live(workload):
        node_name = b.pods[i].template.node_name
        if node_name in count:
            count[node_name] += 1
    return min(ok, key=lambda n: count[n.name], default=None)


def _new_pod(b: _Builder, workload: Workload, node: Node, t: Fraction) -> PodLifecycle:
    same_kind = [p for p in b.pods if p.workload == workload.key]
    created = t
    if workload.kind is WorkloadKind.STATEFUL_SET:  # same name, once the old pod is gone
        held = {b.pods[i].name for i in b.live(workload.key)}
        index = next(i for i in range(len(same_kind) + 1) if f"{workload.name}-{i}" not in held)
        name = f"{workload.name}-{index}"
        created = max([t, *(p.gone or t for p in same_kind if p.name == name)])
    else:
        name = f"{workload.name}-{max((_ordinal(p.name) for p in same_kind), default=-1) + 1}"
    first = same_kind[0]
    address = _allocate(b, node, first.template.address)
    return PodLifecycle(
        name=name,
        workload=workload.key,
        template=Endpoint(address=address, node_name=node.name, zone=node.zone, target=name),
        slice_name=first.slice_name,
        created=created,
        initially_ready=False,
        readiness=((created + _startup(workload.template), True),),
    )


def _startup(template: PodTemplate) -> Fraction:
    """From creation to Ready: the first probe at a period tick ≥ initialDelaySeconds, then
    successThreshold − 1 more (pkg/kubelet/prober/worker.go); no probe: ready at start."""
    probe = template.readiness
    if probe is None:
        return Fraction(0)
    initial, period = seconds(probe.initial_delay_seconds), seconds(probe.period_seconds)
    if period <= 0:
        return initial
    return math.ceil(initial / period) * period + (probe.success_threshold - 1) * period


def _allocate(b: _Builder, node: Node, like: IPAddress) -> IPAddress:
    """The next free address of the node's pod CIDR of ``like``'s family, else after the
    highest address in use."""
    cidr = next((c for c in node.pod_cidrs if c.version == like.version), None)
    candidates = (
        (cidr.network_address + i for i in range(2, cidr.num_addresses - 1))
        if cidr is not None
        else ()
    )
    address = next((a for a in candidates if a not in b.used), None)
    if address is None:
        address = max(a for a in b.used if a.version == like.version) + 1
    b.used.add(address)
    return address
