"""Placement: where kube-scheduler would put each workload's replicas, and what follows.

For each Deployment, ReplicaSet or StatefulSet in input order:

* if the input already has Pods of it (same namespace, matching its selector, bound to a
  node), they are kept and nothing is placed;
* else if the Scenario pins it (``spec.placement``), the pinned counts are used as given;
* else its ``replicas`` go through :func:`srcip.model.scheduler.schedule_pods`, one pod at
  a time, each seeing the input's pods and every pod placed before it.

Placed pods become Pods named ``<workload>-<index>`` (0-based, every kind), Running and
Ready, with addresses from their node's pod CIDR (network address + 5 onward, skipping
addresses the input's pods hold; a ``hostNetwork`` pod takes its node's addresses). Every
Service with a selector that matches placed pods and has no EndpointSlice in the input gets
one derived slice per IP family, ``<service>-srcip``, with every such pod as a ready
endpoint (node name, zone) and the Service's ports resolved to target ports. What was done
is recorded in ``Cluster.placements`` and ``Cluster.notes``; the rest of the cluster keeps
its input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

from srcip.errors import ManifestError, Where
from srcip.model.enums import AddressType, IPFamily
from srcip.model.objects import (
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPAddress,
    IPNetwork,
    Pod,
    Service,
    family_of,
)
from srcip.model.scenario import PlacementPin
from srcip.model.schedstate import BoundPod, SchedulerState
from srcip.model.scheduler import schedule_pods
from srcip.model.workloads import LabelSelector, PodTemplate, Workload, WorkloadPlacement

__all__ = ["FALLBACK_POD_NETWORK", "default_selector", "place_workloads", "resolve_pins"]

FALLBACK_POD_NETWORK = IPv4Address("10.244.0.0")  # node i without a pod CIDR: 10.244.(i+1).0/24
FIRST_POD_OFFSET = 5  # pod k on a node: network address + 5 + k
SLICE_SUFFIX = "-srcip"
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


def _sliced(cluster: Cluster, workload: Workload) -> bool:
    """Some Service selects the workload's pods, and every such Service has slices."""
    labels = dict(workload.template.labels)
    services = [
        service
        for service in cluster.services
        if service.namespace == workload.namespace
        and service.selector
        and all(labels.get(key) == value for key, value in service.selector)
    ]
    sliced = {(s.namespace, s.service_name) for s in cluster.endpoint_slices}
    return bool(services) and all((s.namespace, s.name) in sliced for s in services)


def place_workloads(cluster: Cluster) -> Cluster:
    """The cluster with Pods, EndpointSlices and placements derived for its workloads."""
    pins = resolve_pins(cluster)
    node_index = {node.name: index for index, node in enumerate(cluster.nodes)}
    state = SchedulerState(cluster.nodes, _bound_input_pods(cluster.pods, node_index))
    addresses = _Addresses(cluster)
    notes: list[str] = []
    placements: list[WorkloadPlacement] = []
    derived: list[tuple[Pod, PodTemplate]] = []
    for workload in cluster.workloads:
        label = f"{workload.kind} {workload.key}"
        existing = sum(1 for pod in cluster.pods if pod.node_name and _owns(workload, pod))
        if existing:
            pinned = " (its spec.placement pin is not used)" if workload.key in pins else ""
            notes.append(
                f"{label}: the input has {existing} Pod(s) of it on nodes; they are kept and "
                f"none are placed{pinned}"
            )
            continue
        if _sliced(cluster, workload):
            notes.append(
                f"{label}: every Service in front of it has EndpointSlices in the input; they "
                "say where its pods run, so none are placed"
            )
            continue
        nodes, placement = _place(cluster, state, workload, pins.get(workload.key))
        notes.extend(f"{label}: {reason}" for reason in _placement_notes(workload, placement))
        placements.append(placement)
        for index, node in enumerate(nodes):
            pod = Pod(
                namespace=workload.namespace,
                name=f"{workload.name}-{index}",
                node_name=cluster.nodes[node].name,
                ips=addresses.allocate(node, workload.template.host_network),
                labels=workload.template.labels,
                phase="Running",
                ready=True,
                host_network=workload.template.host_network,
            )
            derived.append((pod, workload.template))
    slices = tuple(_derive_slices(cluster, derived, notes))
    return replace(
        cluster,
        pods=cluster.pods + tuple(pod for pod, _ in derived),
        endpoint_slices=cluster.endpoint_slices + slices,
        placements=cluster.placements + tuple(placements),
        notes=cluster.notes + tuple(addresses.notes()) + tuple(notes),
    )


def _owns(workload: Workload, pod: Pod) -> bool:
    return pod.namespace == workload.namespace and workload.selector.matches(dict(pod.labels))


def _bound_input_pods(pods: Iterable[Pod], node_index: dict[str, int]) -> Iterable[BoundPod]:
    """The input's pods the scheduler cache would hold: bound, on a known node, not finished."""
    for pod in pods:
        node = node_index.get(pod.node_name or "")
        if node is not None and not pod.terminating and pod.phase not in _FINISHED_PHASES:
            yield BoundPod(pod.namespace, dict(pod.labels), node)


def _place(
    cluster: Cluster, state: SchedulerState, workload: Workload, pin: PlacementPin | None
) -> tuple[list[int], WorkloadPlacement]:
    """Node numbers of the workload's pods, in pod order, and the placement record."""
    template = workload.template
    reasons: tuple[str, ...] = ()
    if pin is not None:
        names = {node.name: index for index, node in enumerate(cluster.nodes)}
        nodes = [names[name] for name, count in pin.nodes for _ in range(max(count, 0))]
        for node in nodes:
            state.bind(BoundPod(workload.namespace, dict(template.labels), node, template))
        unschedulable = 0
    else:
        selector = default_selector(cluster.services, workload)
        outcome = schedule_pods(state, workload.namespace, template, workload.replicas, selector)
        nodes, unschedulable = list(outcome.nodes), outcome.unschedulable
        reasons = (outcome.reason,) if outcome.reason else ()
    counts = Counter(nodes)
    return nodes, WorkloadPlacement(
        workload=workload.key,
        nodes=tuple((cluster.nodes[i].name, counts[i]) for i in sorted(counts)),
        unschedulable=unschedulable,
        reasons=reasons,
        pinned=pin is not None,
    )


def _placement_notes(workload: Workload, placement: WorkloadPlacement) -> Iterable[str]:
    placed = sum(count for _, count in placement.nodes)
    if placement.pinned and placed != workload.replicas:
        yield (
            f"spec.placement pins {placed} replica(s) but spec.replicas is "
            f"{workload.replicas}; the pins win"
        )
    for reason in placement.reasons:
        yield f"{placement.unschedulable} of {workload.replicas} replica(s) unschedulable: {reason}"


def default_selector(services: Iterable[Service], workload: Workload) -> LabelSelector:
    """``helper.DefaultSelector``: the workload's selector and its Services' selectors merged."""
    labels = dict(workload.template.labels)
    merged = dict(workload.selector.match_labels)
    for service in services:
        if (
            service.namespace == workload.namespace
            and service.selector
            and all(labels.get(k) == v for k, v in service.selector)
        ):
            merged.update(service.selector)
    return LabelSelector(
        match_labels=tuple(sorted(merged.items())),
        match_expressions=workload.selector.match_expressions,
    )


# --------------------------------------------------------------------------- pins


def resolve_pins(cluster: Cluster) -> dict[str, PlacementPin]:
    """The Scenario's pins by workload key, checked against the input's workloads and nodes."""
    scenario = cluster.scenario
    if scenario is None or not scenario.placement:
        return {}
    where = Where(kind="Scenario", name=scenario.name)
    keys = [workload.key for workload in cluster.workloads]
    node_names = [node.name for node in cluster.nodes]
    resolved: dict[str, PlacementPin] = {}
    for pin in scenario.placement:
        key = _pin_key(pin.workload) if pin.workload else _scenario_workload(cluster, where)
        if key not in keys:
            raise ManifestError(
                "names a workload that is not in the input",
                where=where,
                field="spec.placement",
                value=key,
                fix=f"pin one of {_listing(keys)} (namespace/name)",
            )
        if key in resolved:
            raise ManifestError(
                "pins the same workload twice",
                where=where,
                field="spec.placement",
                value=key,
                fix="give each workload one set of node counts",
            )
        unknown = [name for name, _ in pin.nodes if name not in node_names]
        if unknown:
            raise ManifestError(
                f"names node(s) that are not in the input: {', '.join(unknown)}",
                where=where,
                field="spec.placement",
                value=key,
                fix=f"pin to nodes of the input: {_listing(node_names)}",
            )
        resolved[key] = pin
    return resolved


def _pin_key(text: str) -> str:
    return text if "/" in text else f"default/{text}"


def _scenario_workload(cluster: Cluster, where: Where) -> str:
    """The workload a pin without ``workload`` means: the one behind the Scenario's Service."""
    service_key = cluster.scenario.service if cluster.scenario is not None else None
    candidates = [w.key for w in cluster.workloads]
    if service_key is not None:
        service = next((s for s in cluster.services if s.key == service_key), None)
        candidates = [
            w.key
            for w in cluster.workloads
            if service is not None
            and service.selector
            and w.namespace == service.namespace
            and all(dict(w.template.labels).get(k) == v for k, v in service.selector)
        ]
    if len(candidates) == 1:
        return candidates[0]
    behind = f"Service {service_key} selects" if service_key else "the input has"
    raise ManifestError(
        f"does not say which workload it pins: {behind} {len(candidates)} workload(s)"
        + (f" ({_listing(candidates)})" if candidates else ""),
        where=where,
        field="spec.placement",
        fix="name the workload in the pin (workload: namespace/name)",
    )


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


# --------------------------------------------------------------------------- addresses


class _Addresses:
    """Pod IPs per node, from its pod CIDRs, skipping addresses the input's pods hold."""

    def __init__(self, cluster: Cluster) -> None:
        self.nodes = cluster.nodes
        self.used: set[IPAddress] = {ip for pod in cluster.pods for ip in pod.ips}
        self.next: dict[IPNetwork, int] = {}
        self.fallback: dict[int, str] = {}
        self.exhausted: list[str] = []

    def allocate(self, node: int, host_network: bool) -> tuple[IPAddress, ...]:
        """The next pod's addresses on node ``node`` (its own addresses for hostNetwork)."""
        spec = self.nodes[node]
        if host_network:
            own = tuple(ip for f in IPFamily if (ip := spec.primary_ip(f)) is not None)
            if own:
                return own
        ips: list[IPAddress] = []
        for cidr in self._cidrs(node):
            offset = self.next.get(cidr, FIRST_POD_OFFSET)
            address = cidr.network_address + offset
            while address in self.used and address in cidr:
                address += 1
            if address not in cidr or address == cidr.broadcast_address:
                self.exhausted.append(f"{spec.name} ({cidr})")
                continue
            self.next[cidr] = int(address) - int(cidr.network_address) + 1
            self.used.add(address)
            ips.append(address)
        return tuple(ips)

    def _cidrs(self, node: int) -> tuple[IPNetwork, ...]:
        spec = self.nodes[node]
        if spec.pod_cidrs:
            return spec.pod_cidrs
        cidr = IPv4Network((int(FALLBACK_POD_NETWORK) + (node + 1) * 256, 24))
        self.fallback.setdefault(node, f"{spec.name} ({cidr})")
        return (cidr,)

    def notes(self) -> Iterable[str]:
        """What the allocation had to make up or could not do."""
        if self.fallback:
            yield (
                f"{len(self.fallback)} node(s) have no pod CIDR; their placed pods got IPv4 "
                f"addresses from 10.244.<node number>.0/24: {_first(list(self.fallback.values()))}"
            )
        if self.exhausted:
            yield (
                f"{len(self.exhausted)} placed pod(s) got no address: the node's pod CIDR is "
                f"full: {_first(self.exhausted)}"
            )


def _first(items: Sequence[str], shown: int = 3) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


# --------------------------------------------------------------------------- EndpointSlices


def _derive_slices(
    cluster: Cluster, derived: Sequence[tuple[Pod, PodTemplate]], notes: list[str]
) -> Iterable[EndpointSlice]:
    """One slice per family for each selecting Service without a slice in the input."""
    sliced = {(s.namespace, s.service_name) for s in cluster.endpoint_slices}
    zones = {node.name: node.zone for node in cluster.nodes}
    for service in cluster.services:
        if not service.selector or (service.namespace, service.name) in sliced:
            continue
        members = [
            (pod, template)
            for pod, template in derived
            if pod.namespace == service.namespace
            and all(dict(pod.labels).get(k) == v for k, v in service.selector)
        ]
        if not members:
            continue
        ports = tuple(_endpoint_ports(service, members[0][1], notes))
        for position, family in enumerate(_families(service, [pod for pod, _ in members])):
            suffix = SLICE_SUFFIX if position == 0 else f"{SLICE_SUFFIX}-{family.lower()}"
            yield EndpointSlice(
                namespace=service.namespace,
                name=f"{service.name}{suffix}",
                service_name=service.name,
                address_type=AddressType(family.value),
                ports=ports,
                endpoints=tuple(
                    Endpoint(
                        address=ip,
                        node_name=pod.node_name,
                        zone=zones[pod.node_name or ""],
                        target=pod.name,
                    )
                    for pod, _ in members
                    for ip in pod.ips
                    if family_of(ip) is family
                ),
            )


def _families(service: Service, pods: Sequence[Pod]) -> list[IPFamily]:
    """The Service's families (by its ClusterIPs), else those of its pods, IPv4 first."""
    chosen = [family_of(ip) for ip in service.cluster_ips]
    if not chosen:
        present = {family_of(ip) for pod in pods for ip in pod.ips}
        chosen = [family for family in IPFamily if family in present]
    return list(dict.fromkeys(chosen))


def _endpoint_ports(
    service: Service, template: PodTemplate, notes: list[str]
) -> Iterable[EndpointPort]:
    """Each Service port with its target port number; named ones via the container ports."""
    named = dict(template.container_ports)
    for port in service.ports:
        target = port.port if port.target_port is None else port.target_port
        if isinstance(target, str):
            if target not in named:
                notes.append(
                    f"Service {service.key} port {port.name or port.port}: targetPort "
                    f"{target!r} names no container port of its placed pods; the port is "
                    "left out of the derived EndpointSlice"
                )
                continue
            target = named[target]
        yield EndpointPort(name=port.name, protocol=port.protocol, port=target)
