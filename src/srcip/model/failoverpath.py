"""One moment of a failover: kube-proxy's view, each node's outcome, the load balancer's view.

The pieces :func:`srcip.model.timeline.timeline` strings together:

* :func:`path_context` fixes the packets: per node, the first packet of a new connection as
  the load balancer delivers it (to the node IP and NodePort, or to the VIP; from the client
  for a passthrough LB, from the LB's own address otherwise) and the health probe's packet.
* :func:`build_segments` takes, for each stretch between fixed change times, a snapshot of
  the cluster as kube-proxy sees it (EndpointSlices ``endpoint_delay_seconds`` late, Node
  taints at once since ``/healthz`` reads the Node object directly, KP §14.3), routes both
  packets with :func:`~srcip.model.kubeproxy.route_packet`, and turns the result into
  outcomes: DNAT to a pod whose app has exited is refused, REJECT is refused (KP §6.2),
  DROP is dropped (KP §6.3). Without terminating fallback the snapshot leaves terminating
  endpoints out: kube-proxy before ProxyTerminatingEndpoints never used them (KP §2.4).
* A probe passes per kube-proxy's health servers: the healthCheckNodePort answers 200 iff
  the node has a local Ready endpoint (terminating ones do not count, KP §13.3, §13.4), with
  the ``X-Load-Balancing-Endpoint-Weight`` header; ``:10256/healthz`` answers 503 once the
  node is tainted for deletion (KP §14.3, KEP-3836); a probe of the traffic port passes
  when the connection surely reaches an accepting app.
* :func:`lb_states` runs the load balancer's health state machine per node: every
  ``interval_seconds`` from the phase, ``unhealthy_threshold`` failures in a row mark a node
  unhealthy, ``healthy_threshold`` successes healthy again; :func:`lb_shares` splits new
  connections with :func:`srcip.model.loadbalancer.split` (equal, by the weight header of
  each node's last probe, one node for L2, per zone, fail-open where the provider does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from ipaddress import ip_address

from srcip.errors import UsageError
from srcip.model.enums import EntryPoint, IPFamily, Verdict
from srcip.model.failover import FailoverPlan
from srcip.model.healthcheck import (
    WEIGHT_HEADER,
    ProxyHealthState,
    proxy_health_answers,
    service_health_answer,
)
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.loadbalancer import EffectiveLoadBalancer, TargetHealth, split
from srcip.model.objects import (
    TAINT_TO_BE_DELETED,
    Cluster,
    IPAddress,
    Node,
    Service,
    Taint,
    family_of,
)
from srcip.model.packet import Packet, RouteResult
from srcip.model.scenario import HealthCheckTarget, LoadBalancerMode, TargetType

__all__ = [
    "FAILING",
    "LBState",
    "Mix",
    "Outcome",
    "PathContext",
    "Segment",
    "build_segments",
    "combine",
    "lb_shares",
    "lb_states",
    "path_context",
]


class Outcome(StrEnum):
    """What a new connection gets."""

    SERVED = "served"  # DNAT to a ready pod
    SERVED_TERMINATING = "served-terminating"  # DNAT to a serving, terminating pod (KP §2.3)
    REFUSED = "refused"  # REJECT (KP §6.2) or DNAT to a pod whose app has exited
    DROPPED = "dropped"  # DROP (KP §6.3): the client times out


Mix = tuple[tuple[Outcome, Fraction], ...]  # nonzero probabilities in Outcome order, sum 1
FAILING = (Outcome.REFUSED, Outcome.DROPPED)
_VERDICTS: Mapping[Verdict, Outcome] = {Verdict.REJECT: Outcome.REFUSED}  # else DROPPED
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # health answers need a wall time; any will do
_DEFAULT_CLIENT = {4: ip_address("203.0.113.10"), 6: ip_address("2001:db8::10")}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True, kw_only=True)
class PathContext:
    """Fixed inputs: the cluster, the Service, the LB, and each node's two packets."""

    cluster: Cluster
    service: Service
    lb: EffectiveLoadBalancer
    traffic: tuple[Packet, ...]  # per node: the first packet of a new connection
    probes: tuple[Packet, ...]  # per node: the health probe's first packet
    family: IPFamily

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.cluster.nodes


def path_context(cluster: Cluster, service: str, lb: EffectiveLoadBalancer) -> PathContext:
    svc = next((s for s in cluster.services if s.key == service), None)
    if svc is None:
        known = ", ".join(s.key for s in cluster.services) or "none"
        raise UsageError(f"no Service {service!r} in the input (Services: {known})")
    if lb.targets is TargetType.POD:
        raise UsageError(
            f"{service}: the timeline models node targets; pod targets (kube-proxy bypassed) "
            "are not modelled. Fix: use targets nodePort or vip"
        )
    family = family_of(svc.cluster_ips[0]) if svc.cluster_ips else IPFamily.IPV4
    version = 4 if family is IPFamily.IPV4 else 6
    client = _client(cluster, version) if lb.mode is LoadBalancerMode.PASSTHROUGH else lb.address
    prober = lb.address if lb.address.version == version else client
    traffic, probes = [], []
    for node in cluster.nodes:
        dst, port = _destination(svc, lb, node, family)
        traffic.append(Packet(src=client, dst=dst, port=port, protocol=svc.ports[0].protocol))
        hc = lb.health_check
        if hc.target is HealthCheckTarget.TRAFFIC_PORT:
            probes.append(Packet(src=prober, dst=dst, port=port))
        else:
            probes.append(Packet(src=prober, dst=_node_ip(node, family), port=hc.port))
    return PathContext(
        cluster=cluster,
        service=svc,
        lb=lb,
        traffic=tuple(traffic),
        probes=tuple(probes),
        family=family,
    )


def _client(cluster: Cluster, version: int) -> IPAddress:
    """The Scenario's first external client of the family, else a documentation address."""
    clients = cluster.scenario.clients if cluster.scenario is not None else ()
    outside = (c.address for c in clients if c.node is None and c.pod is None)
    return next((a for a in outside if a.version == version), _DEFAULT_CLIENT[version])


def _destination(
    svc: Service, lb: EffectiveLoadBalancer, node: Node, family: IPFamily
) -> tuple[IPAddress, int]:
    if lb.targets is TargetType.VIP:
        vip = next(
            (
                i.ip
                for i in svc.load_balancer_ingress
                if i.is_vip and i.ip and family_of(i.ip) is family
            ),
            None,
        )
        if vip is None or not svc.ports:
            raise UsageError(
                f"{svc.key}: the load balancer targets the VIP but the Service has no "
                f"{family} load balancer IP (ipMode VIP) and port. Fix: set "
                "status.loadBalancer.ingress, or use targets nodePort"
            )
        return vip, svc.ports[0].port
    port = next((p.node_port for p in svc.ports if p.node_port), 0)
    if not port:
        raise UsageError(
            f"{svc.key} has no nodePort for the load balancer to target. Fix: give "
            "spec.ports[].nodePort, or use targets vip"
        )
    return _node_ip(node, family), port


def _node_ip(node: Node, family: IPFamily) -> IPAddress:
    address = node.primary_ip(family)
    if address is None:
        raise UsageError(
            f"node {node.name} has no {family} InternalIP for the load balancer to send to. "
            "Fix: list it in the Node's status.addresses"
        )
    return address


# --------------------------------------------------------------------------- kube-proxy state


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """kube-proxy and app state constant on [start, end): per node (in node order)."""

    start: Fraction
    end: Fraction
    outcomes: tuple[Mix, ...]
    probes: tuple[bool, ...]
    weights: tuple[int | None, ...]


def _snapshot(
    ctx: PathContext, plan: FailoverPlan, t: Fraction, delay: Fraction, fallback: bool
) -> ClusterIndex:
    """The cluster as kube-proxy sees it at ``t``: slices ``delay`` late, taints at once."""
    slices = plan.endpoints_at(t - delay)
    mine = {
        s.name: s
        for s in ctx.cluster.endpoint_slices
        if s.name in slices
        and s.namespace == ctx.service.namespace
        and s.service_name == ctx.service.name
    }
    fresh = tuple(
        replace(mine[name], endpoints=tuple(e for e in eps if fallback or not e.terminating))
        for name, eps in slices.items()
    )
    others = tuple(s for s in ctx.cluster.endpoint_slices if all(s is not m for m in mine.values()))
    taint = Taint(key=TAINT_TO_BE_DELETED, effect="NoSchedule")
    nodes = tuple(
        replace(n, taints=(*n.taints, taint), unschedulable=True)
        if plan.is_tainted(n.name, t)
        else n
        for n in ctx.nodes
    )
    return build_index(replace(ctx.cluster, endpoint_slices=others + fresh, nodes=nodes))


def combine(pairs: list[tuple[Outcome, Fraction]]) -> Mix:
    total: dict[Outcome, Fraction] = {}
    for outcome, p in pairs:
        total[outcome] = total.get(outcome, Fraction(0)) + p
    return tuple((o, total[o]) for o in Outcome if total.get(o))


def _routecombine(result: RouteResult, plan: FailoverPlan, t: Fraction) -> Mix:
    """What a new connection gets from kube-proxy's decision, with the apps' state at ``t``."""
    if result.verdict is not Verdict.DNAT:
        return ((_VERDICTS.get(result.verdict, Outcome.DROPPED), Fraction(1)),)
    static = {ep.address for _, ep in plan.static}
    pairs = []
    for backend, choice in zip(result.targets, result.endpoints, strict=True):
        if backend.address in static:
            outcome = Outcome.SERVED
        elif plan.pod_at(backend.address, t) is None:
            outcome = Outcome.REFUSED  # the app has exited: RST (or ICMP) to the client
        else:
            outcome = Outcome.SERVED_TERMINATING if backend.terminating else Outcome.SERVED
        pairs.append((outcome, choice.probability))
    return combine(pairs)


def _probe(
    ctx: PathContext, index: ClusterIndex, plan: FailoverPlan, i: int, t: Fraction
) -> tuple[bool, int | None]:
    """Whether node ``i`` passes the load balancer's probe at ``t``, and its weight header."""
    node = ctx.nodes[i].name
    result = route_packet(index, node, ctx.probes[i])
    if result.verdict is Verdict.ACCEPT and result.entry is EntryPoint.HEALTH_CHECK:
        svc = index.health_check_ports[ctx.probes[i].port]
        count = index.local_ready_counts(svc).get(node, 0)  # KP §13.4
        answer = service_health_answer(svc, count, proxy_healthy=True)
        weight = answer.header(WEIGHT_HEADER)
        return answer.ok, int(weight) if weight is not None else None
    if result.verdict is Verdict.ACCEPT:  # kube-proxy's :10256/healthz (KP §14.3)
        now = _EPOCH + timedelta(seconds=float(t))
        state = ProxyHealthState.synced((ctx.family,), now)
        healthz, _ = proxy_health_answers(
            index.node(node), state, now=now, timeout=index.config.health_timeout_seconds
        )
        return healthz.ok, None
    # A TCP (or HTTP) probe of the traffic port passes when the connection surely succeeds.
    mix = _routecombine(result, plan, t)
    return all(o not in FAILING for o, _ in mix), None


def build_segments(
    ctx: PathContext,
    plan: FailoverPlan,
    marks: list[Fraction],
    duration: Fraction,
    *,
    delay: Fraction,
    fallback: bool,
) -> tuple[Segment, ...]:
    """One segment per stretch between fixed change times (the probes do not move them)."""
    out = []
    for start, end in zip(marks, [*marks[1:], duration], strict=True):
        index = _snapshot(ctx, plan, start, delay, fallback)
        probes = [_probe(ctx, index, plan, i, start) for i in range(len(ctx.nodes))]
        out.append(
            Segment(
                start=start,
                end=end,
                outcomes=tuple(
                    _routecombine(route_packet(index, n.name, ctx.traffic[i]), plan, start)
                    for i, n in enumerate(ctx.nodes)
                ),
                probes=tuple(ok for ok, _ in probes),
                weights=tuple(w for _, w in probes),
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- load balancer


@dataclass(frozen=True, slots=True, kw_only=True)
class LBState:
    """The load balancer's view from ``since``: healthy flags and last weights, per node."""

    since: Fraction
    healthy: tuple[bool, ...]
    weights: tuple[int | None, ...]


def lb_states(
    lb: EffectiveLoadBalancer,
    initial: Segment,
    segments: tuple[Segment, ...],
    *,
    phase: Fraction,
    duration: Fraction,
) -> list[LBState]:
    """The load balancer's view at 0 (steady: ``initial``'s answers) and after each probe
    round that changes it; probes go out at ``phase + k × interval`` before ``duration``."""
    hc = lb.health_check
    interval = Fraction(repr(float(hc.interval_seconds)))
    if not hc.enabled:  # no probe at all (MetalLB, k3s ServiceLB): every node stays in
        every = tuple(True for _ in initial.probes)
        return [LBState(since=Fraction(0), healthy=every, weights=initial.weights)]
    healthy = list(initial.probes)
    # Consecutive results: > 0 successes, < 0 failures; steady at the start.
    streak = [hc.healthy_threshold if h else -hc.unhealthy_threshold for h in healthy]
    weights = list(initial.weights)
    states = [LBState(since=Fraction(0), healthy=tuple(healthy), weights=tuple(weights))]
    segment = iter(segments)
    current = next(segment)
    t = phase
    while t < duration:
        while current.end <= t:
            current = next(segment)
        for n, ok in enumerate(current.probes):
            streak[n] = max(streak[n], 0) + 1 if ok else min(streak[n], 0) - 1
            if streak[n] >= hc.healthy_threshold:
                healthy[n] = True
            elif -streak[n] >= hc.unhealthy_threshold:
                healthy[n] = False
            weights[n] = current.weights[n]
        state = LBState(since=t, healthy=tuple(healthy), weights=tuple(weights))
        if (state.healthy, state.weights) != (states[-1].healthy, states[-1].weights):
            states.append(state)
        t += interval
    return states


def lb_shares(
    lb: EffectiveLoadBalancer, st: LBState, nodes: tuple[Node, ...]
) -> tuple[Fraction, ...]:
    """Each node's share of new connections under ``st``, by
    :func:`srcip.model.loadbalancer.split`: equal over healthy nodes or by the endpoint-weight
    header of their last probe, one node for L2, per zone without cross-zone, fail-open
    where the provider does it; all zero when nothing receives traffic."""
    health = [
        TargetHealth(
            target=node.name,
            node=node.name,
            address=None,
            healthy=healthy,
            status=None,
            weight=weight,
            reason="the timeline's probe state",
        )
        for node, healthy, weight in zip(nodes, st.healthy, st.weights, strict=True)
    ]
    result = split(lb, health, zones={n.name: n.zone for n in nodes})
    return tuple(result.share(n.name) for n in nodes)
