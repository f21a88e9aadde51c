"""``share``: the expected share of new connections per node and per pod, and how fair it is.

The load balancer splits connections over the targets its health checks keep
(:mod:`srcip.model.loadbalancer`); on each node kube-proxy picks uniformly among the
endpoints its rules allow (KP §7.1). A pod's share is the sum over nodes of the node's
share times the pod's probability there. Under unweighted ``Local`` that is
``1/(n·p_i)`` for a pod on one of n nodes with p_i local pods — the seeds' uneven split —
and under weighting by endpoint count every pod gets ``1/P``.

Cost: one kube-proxy decision per target node, and one pass over the endpoints per
distinct endpoint set (nodes that share a set — every node under ``Cluster`` — are added
up before the endpoints are visited), so 5,000 nodes and 150,000 pods take one pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from fractions import Fraction

from srcip.model.enums import ServiceType, TrafficPolicy, Verdict
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.loadbalancer import TargetHealth, hand_off
from srcip.model.objects import Cluster, IPAddress, Pod, Service, family_of
from srcip.model.packet import Backend, Packet
from srcip.model.scenario import DEFAULT_CLIENT, Scenario, TargetType
from srcip.model.tracepath import balance, entry_services, pod_table
from srcip.model.view import View

__all__ = [
    "Fairness",
    "NodeShare",
    "PodShare",
    "ServiceShare",
    "ShareReport",
    "fairness_of",
    "pod_name",
    "share",
]

#: healthCheckNodePort given to a Service flipped to Local for the comparison, when it has
#: none (the top of the default NodePort range, rarely taken).
COMPARISON_HC_PORT = 32767


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeShare:
    """A node's share of new connections from the load balancer."""

    name: str
    share: Fraction
    healthy: bool  # the LB's health check passes (True for NodePort-only Services)
    local_pods: int  # ready endpoints of the Service on this node


@dataclass(frozen=True, slots=True, kw_only=True)
class PodShare:
    """A pod's share of new connections."""

    name: str
    node: str | None
    share: Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class Fairness:
    """How even the split is: shares of the busiest and idlest pods, against ``1/P``."""

    pods: int
    max_share: Fraction
    min_share: Fraction
    fair_share: Fraction  # 1/P

    @property
    def max_over_min(self) -> Fraction | None:
        """Busiest pod's share over the idlest's (None when some pod gets nothing)."""
        return self.max_share / self.min_share if self.min_share else None

    @property
    def busiest_over_fair(self) -> Fraction:
        """Busiest pod's share over the fair share 1/P."""
        return self.max_share / self.fair_share if self.fair_share else Fraction(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceShare:
    """The split of one Service's new connections."""

    name: str
    policy: TrafficPolicy
    nodes: tuple[NodeShare, ...]
    pods: tuple[PodShare, ...]
    dropped: Fraction  # connections sent to a node that drops them
    fairness: Fairness
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareReport:
    """Every Service's split; ``compared`` holds the other policy's when asked."""

    services: tuple[ServiceShare, ...]
    compared: tuple[ServiceShare, ...] = ()


def share(
    cluster: Cluster,
    *,
    service: str | None = None,
    compare_policies: bool = False,
    index: ClusterIndex | None = None,
) -> ShareReport:
    """The expected split of new connections for the scenario's Service(s)."""
    scenario = cluster.scenario or Scenario(name="default")
    index = index or build_index(cluster)
    entries = [entry for entry, _ in entry_services(cluster, scenario, service)]
    shares = tuple(_service_share(cluster, index, scenario, entry) for entry in entries)
    if not compare_policies:
        return ShareReport(services=shares)
    compared = []
    for entry in entries:
        flipped = _flipped(entry)
        other = replace(
            cluster,
            services=tuple(flipped if s.key == entry.key else s for s in cluster.services),
        )
        compared.append(_service_share(other, build_index(other), scenario, flipped))
    return ShareReport(services=shares, compared=tuple(compared))


def _flipped(service: Service) -> Service:
    local = service.external_traffic_policy is TrafficPolicy.LOCAL
    return replace(
        service,
        external_traffic_policy=TrafficPolicy.CLUSTER if local else TrafficPolicy.LOCAL,
        health_check_node_port=service.health_check_node_port or COMPARISON_HC_PORT,
    )


def _service_share(
    cluster: Cluster, index: ClusterIndex, scenario: Scenario, service: Service
) -> ServiceShare:
    port = service.ports[0]
    client = scenario.clients[0].address if scenario.clients else DEFAULT_CLIENT
    vip = next((i.ip for i in service.load_balancer_ingress if i.ip is not None), None)
    notes: tuple[str, ...] = ()
    healthy: dict[str, bool] = {}
    via_vip = vip is not None
    ready = _ready_backends(index, service)
    lb = None
    if service.type is ServiceType.LOAD_BALANCER:
        lb, health, lb_split = balance(cluster, index, scenario, service)
        notes = (*lb.notes, *lb_split.reasons)
        if lb.targets is TargetType.POD:
            return _pod_targets(cluster, service, lb_split.shares, health, notes)
        healthy = {h.target: h.healthy for h in health}
        node_shares = list(lb_split.shares)
        via_vip = lb.targets is TargetType.VIP and vip is not None
    else:
        nodes = index.nodes
        node_shares = [(node.name, Fraction(1, len(nodes))) for node in nodes] if nodes else []
    groups: dict[int, tuple[tuple[Backend, ...], Fraction]] = {}
    dropped = Fraction(0) if node_shares else Fraction(1)  # an LB that sends nowhere
    for node_name, node_share in node_shares:
        node = index.node(node_name)
        dst = vip if via_vip else node.primary_ip(family_of(client))
        if dst is None:
            dropped += node_share
            continue
        dst_port = port.port if via_vip else port.node_port
        src = client
        if lb is not None:  # the source the load balancer sends from (its own, in SNAT modes)
            arriving = View(peer=client, local=vip or dst, local_port=port.port)
            src = hand_off(
                lb,
                service,
                port,
                arriving,
                vip=vip or dst,
                target_address=dst,
                target_port=dst_port,
            ).packet_src
        result = route_packet(
            index, node_name, Packet(src=src, dst=dst, port=dst_port, protocol=port.protocol)
        )
        if result.verdict is not Verdict.DNAT or not result.targets:
            dropped += node_share
            continue
        key = id(result.targets)
        held = groups.get(key)
        groups[key] = (result.targets, node_share + (held[1] if held else 0))
    pods = pod_shares(pod_table(cluster), ready, groups.values())
    local = index.local_ready_counts(service)
    by_node = dict(node_shares)
    zero = Fraction(0)
    nodes_out = tuple(
        NodeShare(
            name=node.name,
            share=by_node.get(node.name, zero),
            healthy=healthy.get(node.name, True),
            local_pods=local.get(node.name, 0),
        )
        for node in index.nodes
    )
    return ServiceShare(
        name=service.key,
        policy=service.external_traffic_policy,
        nodes=nodes_out,
        pods=pods,
        dropped=dropped,
        fairness=fairness_of(pods, 1 - dropped),
        notes=notes,
    )


def _ready_backends(index: ClusterIndex, service: Service) -> tuple[Backend, ...]:
    """Ready endpoints of the Service's first port: every pod that could get traffic."""
    first = service.ports[0]
    infos = index.by_cluster_ip.get(service.cluster_ips[0], {}) if service.cluster_ips else {}
    found = (i.backends for i in infos.values() if i.service is service and i.port == first)
    return tuple(b for b in next(found, ()) if b.ready)


def pod_shares(
    table: dict[IPAddress, Pod],
    ready: tuple[Backend, ...],
    groups: Iterable[tuple[tuple[Backend, ...], Fraction]],
) -> tuple[PodShare, ...]:
    """Every ready pod (idle ones at 0) and every pod routed to, with its share.

    ``groups`` are (endpoint set, share of connections split equally over it); sets that
    nodes share are added up before, so each endpoint is visited once per distinct set.
    ``table`` maps pod IPs to Pods (:func:`srcip.model.tracepath.pod_table`).
    """
    backends: dict[IPAddress, Backend] = {b.address: b for b in ready}
    totals: dict[IPAddress, Fraction] = {}
    for targets, total in groups:
        each = total / len(targets)
        for backend in targets:
            address = backend.address
            held = totals.get(address)
            totals[address] = each if held is None else held + each
            if address not in backends:
                backends[address] = backend
    zero = Fraction(0)
    return tuple(
        PodShare(name=pod_name(table, backend), node=backend.node_name, share=totals.get(ip, zero))
        for ip, backend in backends.items()
    )


def pod_name(table: dict[IPAddress, Pod], backend: Backend) -> str:
    """The pod behind ``backend``: its Pod's name, else the endpoint's target or address."""
    pod = table.get(backend.address)
    return pod.name if pod is not None else backend.target or str(backend.address)


def _pod_targets(
    cluster: Cluster,
    service: Service,
    shares: tuple[tuple[str, Fraction], ...],
    health: tuple[TargetHealth, ...],
    notes: tuple[str, ...],
) -> ServiceShare:
    """The LB sends to pod IPs: the split is the pods' share; nodes add up their pods'.

    Every ready pod is a probed target, so the health list names them all, idle ones too.
    """
    given = dict(shares)
    zero = Fraction(0)
    pods = tuple(
        PodShare(name=h.target, node=h.node or None, share=given.get(h.target, zero))
        for h in health
    )
    per_node: dict[str, Fraction] = defaultdict(Fraction)
    for pod in pods:
        if pod.node is not None:
            per_node[pod.node] += pod.share
    dropped = zero if shares else Fraction(1)
    return ServiceShare(
        name=service.key,
        policy=service.external_traffic_policy,
        nodes=tuple(
            NodeShare(
                name=n.name,
                share=per_node.get(n.name, zero),
                healthy=True,
                local_pods=sum(1 for p in pods if p.node == n.name),
            )
            for n in cluster.nodes
        ),
        pods=pods,
        dropped=dropped,
        fairness=fairness_of(pods, 1 - dropped),
        notes=(
            *notes,
            "pod targets: the load balancer sends to pod IPs; kube-proxy is not on the path",
        ),
    )


def fairness_of(pods: tuple[PodShare, ...], delivered: Fraction) -> Fairness:
    """How even ``pods``' shares are, against ``delivered / P``."""
    if not pods:
        zero = Fraction(0)
        return Fairness(pods=0, max_share=zero, min_share=zero, fair_share=zero)
    distinct = {id(pod.share): pod.share for pod in pods}.values()  # shared objects: few
    return Fairness(
        pods=len(pods),
        max_share=max(distinct),
        min_share=min(distinct),
        fair_share=delivered / len(pods),
    )
