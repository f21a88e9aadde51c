"""The load balancer in front: health checks, the split over targets, and the hand-off.

Types first (shared by the provider presets, the trace, the share and the timeline); then

* :func:`probe_targets`: what the LB's probe gets from every target — kube-proxy's
  healthCheckNodePort and ``:10256/healthz`` answers (:mod:`srcip.model.healthcheck`,
  KP §13, §14), or a TCP/HTTP probe of the traffic port, decided by :func:`route_packet`;
* :func:`split`: the share of new connections per target (exact fractions): equal over
  healthy targets, weighted by ``X-Load-Balancing-Endpoint-Weight`` (GKE), one node (MetalLB
  L2), per zone first (AWS NLB without cross-zone), fail-open when nothing is healthy;
* :func:`hand_off`: what the node or pod receives from the LB — TCP peer, destination,
  PROXY header, forwarding headers — for each mode.

Left out: connection hashing (shares are expectations over new connections, ecosystem §2.6),
per-port target groups (the Service's first port decides), and probe timing (the timeline
applies interval and thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction

from srcip.model.enums import Verdict
from srcip.model.healthcheck import (
    DEFAULT_PROXIER_FAMILIES,
    WEIGHT_HEADER,
    HealthAnswer,
    JSONValue,
    ProxyHealthState,
    proxy_health_answers,
    service_health_answer,
)
from srcip.model.index import ClusterIndex
from srcip.model.kubeproxy import route_packet
from srcip.model.objects import IPAddress, Node, Service, ServicePort, family_of
from srcip.model.packet import Backend, Packet
from srcip.model.scenario import (
    Announcement,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)
from srcip.model.view import View
from srcip.proxyproto import Family, ProxyHeader, Transport

__all__ = [
    "DEFAULT_CLIENT_PORT",
    "EffectiveHealthCheck",
    "EffectiveLoadBalancer",
    "Handoff",
    "LoadBalancerSplit",
    "Setting",
    "TargetHealth",
    "hand_off",
    "probe_targets",
    "split",
]

DEFAULT_CLIENT_PORT = 40000  # the client's source port written into PROXY headers


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """Where one effective setting came from.

    ``source`` is e.g. ``"annotation service.beta.kubernetes.io/aws-load-balancer-type=nlb"``,
    ``"provider aws-nlb default"``, ``"spec.loadBalancer.mode"`` or ``"srcip default"``.
    """

    name: str  # the Scenario field path, e.g. "healthCheck.intervalSeconds"
    value: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveHealthCheck:
    """The probe the load balancer really sends to each target."""

    protocol: HealthCheckProtocol
    target: HealthCheckTarget
    port: int  # resolved: the healthCheckNodePort, 10256, the NodePort, or explicit
    path: str | None  # HTTP(S) only
    interval_seconds: float
    timeout_seconds: float
    healthy_threshold: int
    unhealthy_threshold: int
    enabled: bool = True  # False: no probe at all (MetalLB Cluster, k3s ServiceLB)
    sends_proxy_header: bool = False  # probes start with the LB's PROXY header
    success_codes: tuple[int, int] = (200, 200)  # inclusive range of passing HTTP statuses


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveLoadBalancer:
    """Every load balancer setting resolved for one Service, with provenance."""

    provider: str | None
    mode: LoadBalancerMode
    proxy_protocol: ProxyProtocolVersion
    weighting: Weighting
    targets: TargetType
    preserve_client_ip: bool  # meaningful for pod targets; True for passthrough node targets
    cross_zone: bool
    announcement: Announcement
    address: IPAddress  # the LB's own source address (snat, proxy, http modes)
    forwarded_for: ForwardedFor
    health_check: EffectiveHealthCheck
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()
    source_per_target: bool = False  # snat from each target node's own address (k3s svclb)

    def setting(self, name: str) -> Setting | None:
        """The :class:`Setting` of field ``name`` (e.g. ``"mode"``), if recorded."""
        return next((s for s in self.settings if s.name == name), None)

    def to_json(self) -> dict[str, JSONValue]:
        """Every setting as plain JSON data, with where each came from."""
        hc = self.health_check
        return {
            "provider": self.provider,
            "mode": str(self.mode),
            "proxy_protocol": str(self.proxy_protocol),
            "weighting": str(self.weighting),
            "targets": str(self.targets),
            "preserve_client_ip": self.preserve_client_ip,
            "cross_zone": self.cross_zone,
            "announcement": str(self.announcement),
            "address": str(self.address),
            "health_check": {
                "enabled": hc.enabled,
                "protocol": str(hc.protocol),
                "target": str(hc.target),
                "port": hc.port,
                "path": hc.path,
                "interval_seconds": hc.interval_seconds,
                "timeout_seconds": hc.timeout_seconds,
                "healthy_threshold": hc.healthy_threshold,
                "unhealthy_threshold": hc.unhealthy_threshold,
            },
            "settings": [
                {"name": s.name, "value": s.value, "source": s.source} for s in self.settings
            ],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- health


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetHealth:
    """What the LB's probe gets from one target (a node, or a pod for pod targets)."""

    target: str  # node name, or pod name (ip:port when the endpoint names no pod)
    node: str
    address: IPAddress | None
    healthy: bool
    status: int | None  # HTTP status, None for TCP probes and failed connections
    weight: int | None  # X-Load-Balancing-Endpoint-Weight, when the answer carries it
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Probe:
    index: ClusterIndex
    service: Service
    lb: EffectiveLoadBalancer
    kind: HealthCheckTarget
    moment: datetime
    state: ProxyHealthState
    proxy_healthy: bool
    listening: bool  # kube-proxy has a healthCheckNodePort listener for the Service
    app_status: int

    def passes(self, status: int) -> bool:
        low, high = self.lb.health_check.success_codes
        return low <= status <= high


def _probe_kind(
    lb: EffectiveLoadBalancer, service: Service, healthz_port: int
) -> HealthCheckTarget:
    """An explicit port equal to a kube-proxy health port probes that server."""
    hc = lb.health_check
    if hc.target is HealthCheckTarget.PORT:
        if hc.port and hc.port == service.health_check_node_port:
            return HealthCheckTarget.HEALTH_CHECK_NODE_PORT
        if hc.port == healthz_port:
            return HealthCheckTarget.PROXY_HEALTHZ
    return hc.target


def _health(
    p: _Probe, target: str, node: str, address: IPAddress, answer: HealthAnswer, what: str
) -> TargetHealth:
    status = int(answer.status)
    weight = answer.header(WEIGHT_HEADER)
    return TargetHealth(
        target=target,
        node=node,
        address=address,
        healthy=p.passes(status),
        status=status,
        weight=int(weight) if weight is not None else None,
        reason=f"{what} answers {status}",
    )


def _kube_proxy_probe(p: _Probe, node: Node, address: IPAddress) -> TargetHealth:
    """healthCheckNodePort (KP §13) or :10256/healthz (KP §14) on ``node``."""
    hc = p.lb.health_check
    service_port = p.kind is HealthCheckTarget.HEALTH_CHECK_NODE_PORT
    what = f"kube-proxy {'healthCheckNodePort' if service_port else 'healthz'} :{hc.port}"

    def fail(reason: str, status: int | None = None) -> TargetHealth:
        return TargetHealth(
            target=node.name, node=node.name, address=address, healthy=False,
            status=status, weight=None, reason=reason,
        )  # fmt: skip

    if service_port and not p.listening:
        return fail(f"refused: kube-proxy opens no healthCheckNodePort for {p.service.key}")
    if hc.protocol is HealthCheckProtocol.TCP:
        return TargetHealth(
            target=node.name, node=node.name, address=address, healthy=True, status=None,
            weight=None, reason=f"TCP connect to {what} succeeds whatever it would answer",
        )  # fmt: skip
    if hc.protocol is HealthCheckProtocol.HTTPS:
        return fail(f"{what} speaks plain HTTP: the TLS handshake fails")
    if hc.sends_proxy_header:  # ecosystem §1.2, §1.3: Go's HTTP server rejects the line
        return fail(f"{what} cannot parse the probe's PROXY header: 400 Bad Request", 400)
    if service_port:
        count = p.index.local_ready_counts(p.service).get(node.name, 0)
        answer = service_health_answer(p.service, count, proxy_healthy=p.proxy_healthy)
    else:
        timeout = p.index.config.health_timeout_seconds
        answer = proxy_health_answers(node, p.state, now=p.moment, timeout=timeout)[0]
    return _health(p, node.name, node.name, address, answer, what)


def _traffic_probe(p: _Probe, node: Node, address: IPAddress) -> TargetHealth:
    """A probe of the node's traffic port (or an explicit port), decided by kube-proxy."""
    hc, service = p.lb.health_check, p.service
    first = service.ports[0] if service.ports else None
    vips = [i.ip for i in service.load_balancer_ingress if i.ip is not None]
    dst, port = address, hc.port
    if first is not None and p.kind is HealthCheckTarget.TRAFFIC_PORT and not first.node_port:
        dst, port = (vips[0], first.port) if vips else (address, 0)
    if first is None or not port:
        return TargetHealth(
            target=node.name, node=node.name, address=address, healthy=False, status=None,
            weight=None, reason="nothing to probe: the Service has no NodePort or VIP",
        )  # fmt: skip
    packet = Packet(src=p.lb.address, dst=dst, port=port, protocol=first.protocol)
    result = route_packet(p.index, node.name, packet)
    why = "; ".join(result.reasons)
    if result.verdict is Verdict.DNAT:
        return _app_answer(p, node.name, node.name, address, f"kube-proxy DNATs: {why}")
    lost = {Verdict.DROP: "dropped (probe times out)", Verdict.REJECT: "refused"}
    text = lost.get(result.verdict, f"no listener on {dst}:{port}")
    return TargetHealth(
        target=node.name, node=node.name, address=address, healthy=False, status=None,
        weight=None, reason=f"{text}: {why}" if why else text,
    )  # fmt: skip


def _app_answer(p: _Probe, target: str, node: str, address: IPAddress, how: str) -> TargetHealth:
    """The endpoint accepts: TCP passes; HTTP(S) gets the app's status on the path."""
    hc = p.lb.health_check
    if hc.protocol is HealthCheckProtocol.TCP:
        return TargetHealth(
            target=target, node=node, address=address, healthy=True, status=None,
            weight=None, reason=f"TCP connect accepted ({how})",
        )  # fmt: skip
    return TargetHealth(
        target=target, node=node, address=address, healthy=p.passes(p.app_status),
        status=p.app_status, weight=None,
        reason=f"the app answers {p.app_status} on {hc.path or '/'} ({how})",
    )  # fmt: skip


def _probe_node(p: _Probe, node: Node) -> TargetHealth:
    address = node.primary_ip(family_of(p.lb.address))
    if not p.lb.health_check.enabled:
        return TargetHealth(
            target=node.name, node=node.name, address=address, healthy=True, status=None,
            weight=None, reason="no health check: the load balancer uses every target",
        )  # fmt: skip
    if address is None:
        return TargetHealth(
            target=node.name, node=node.name, address=None, healthy=False, status=None,
            weight=None, reason=f"node has no InternalIP of the LB's family ({p.lb.address})",
        )  # fmt: skip
    if p.kind in (HealthCheckTarget.HEALTH_CHECK_NODE_PORT, HealthCheckTarget.PROXY_HEALTHZ):
        return _kube_proxy_probe(p, node, address)
    return _traffic_probe(p, node, address)


def _pod_backends(index: ClusterIndex, service: Service) -> tuple[Backend, ...]:
    """Ready endpoints of the Service's first port (primary family)."""
    if not service.ports or not service.cluster_ips:
        return ()
    first = service.ports[0]
    infos = index.by_cluster_ip.get(service.cluster_ips[0], {}).values()
    info = next((i for i in infos if i.service is service and i.port == first), None)
    return tuple(b for b in info.backends if b.ready) if info is not None else ()


def _probe_pod(p: _Probe, backend: Backend) -> TargetHealth:
    name = backend.target or backend.text
    node = backend.node_name or ""
    if not p.lb.health_check.enabled:
        return TargetHealth(
            target=name, node=node, address=backend.address, healthy=True, status=None,
            weight=None, reason="no health check: the load balancer uses every target",
        )  # fmt: skip
    if p.kind is not HealthCheckTarget.TRAFFIC_PORT:
        return TargetHealth(
            target=name, node=node, address=backend.address, healthy=False, status=None,
            weight=None, reason=f"refused: nothing listens on pod port {p.lb.health_check.port}",
        )  # fmt: skip
    return _app_answer(p, name, node, backend.address, f"ready endpoint {backend.text}")


def probe_targets(
    index: ClusterIndex,
    service: Service,
    lb: EffectiveLoadBalancer,
    *,
    now: float = 0.0,
    proxy_state: ProxyHealthState | None = None,
    app_status: int = 200,
    nodes: Sequence[Node] | None = None,
) -> tuple[TargetHealth, ...]:
    """What the LB's probe gets from each target: every node (or ``nodes``), or every ready pod.

    ``now`` is seconds since the epoch on the caller's clock; ``proxy_state`` is kube-proxy's
    on every node (None: synced at ``now``). ``app_status`` is what the application answers
    an HTTP probe of its traffic port (404 models an ingress controller probed on ``/``,
    ecosystem §6 #20).
    """
    moment = datetime.fromtimestamp(now, tz=UTC)
    state = proxy_state or ProxyHealthState.synced(DEFAULT_PROXIER_FAMILIES, moment)
    p = _Probe(
        index=index,
        service=service,
        lb=lb,
        kind=_probe_kind(lb, service, index.config.healthz_port),
        moment=moment,
        state=state,
        proxy_healthy=state.is_healthy(moment, index.config.health_timeout_seconds),
        listening=index.is_health_checked(service),
        app_status=app_status,
    )
    if lb.targets is TargetType.POD:
        return tuple(_probe_pod(p, b) for b in _pod_backends(index, service))
    return tuple(_probe_node(p, node) for node in (index.nodes if nodes is None else nodes))


# --------------------------------------------------------------------------- split


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancerSplit:
    """Expected share of new connections per target that receives any; sums to 1."""

    shares: tuple[tuple[str, Fraction], ...]
    reasons: tuple[str, ...]

    def share(self, target: str) -> Fraction:
        """The share of ``target`` (0 when it gets nothing)."""
        return dict(self.shares).get(target, Fraction(0))


_NO_FAIL_OPEN = {
    "azure": "Azure stops sending new flows when every probe fails",
    "metallb-l2": "MetalLB withdraws the VIP when no node has a ready endpoint",
    "metallb-bgp": "MetalLB withdraws the VIP when no node has a ready endpoint",
}


def _weights(
    lb: EffectiveLoadBalancer,
    health: Sequence[TargetHealth],
    pool: Sequence[TargetHealth],
    counts: Mapping[str, int],
) -> tuple[dict[str, Fraction], str]:
    """Shares within ``pool``: by endpoint weight when every target reports one, else equal."""
    size = sum(counts.get(t.target, 1) for t in pool)
    equal = {t.target: Fraction(counts.get(t.target, 1), size) for t in pool}
    if lb.weighting is not Weighting.ENDPOINTS:
        return equal, "equal over healthy targets"
    missing = [t.target for t in health if t.weight is None or t.weight < 0]
    if missing:
        return equal, (
            f"equal: {', '.join(missing)} reported no {WEIGHT_HEADER}; GCE applies weights "
            "only while every backend reports one"
        )
    weights = {t.target: (t.weight or 0) * counts.get(t.target, 1) for t in pool}
    total = sum(weights.values())
    if not total:
        return equal, "equal: every healthy target reports weight 0"
    return {name: Fraction(weight, total) for name, weight in weights.items() if weight}, (
        f"weighted by {WEIGHT_HEADER} (local ready endpoints)"
    )


def split(
    lb: EffectiveLoadBalancer,
    health: Sequence[TargetHealth],
    *,
    zones: Mapping[str, str | None] = {},
    counts: Mapping[str, int] = {},
) -> LoadBalancerSplit:
    """The LB's expected share of new connections per target (exact fractions).

    ``zones`` maps node names to zones (for cross-zone off). Empty when there are no
    targets, or when nothing is healthy on a provider that does not fail open.

    ``counts`` lets one target stand for that many identical ones (same zone, same health
    and weight: :mod:`srcip.model.grouped`); its share is then their total. Under layer 2
    the first healthy target takes everything, so it must stand for itself alone.
    """
    if not health:
        return LoadBalancerSplit(shares=(), reasons=("no targets",))
    pool = [t for t in health if t.healthy]
    reasons: list[str] = []
    if not pool:
        stop = _NO_FAIL_OPEN.get(lb.provider or "")
        if stop is not None:
            return LoadBalancerSplit(shares=(), reasons=(f"no healthy target: {stop}",))
        pool = list(health)
        reasons.append(
            "no healthy target: fails open to every target (documented for AWS NLB and GCP)"
        )
    if lb.announcement is Announcement.L2:
        chosen = pool[0]
        if counts.get(chosen.target, 1) != 1:
            raise ValueError(f"layer 2 elects one node; target {chosen.target} stands for more")
        reasons.append(
            f"layer 2: {chosen.target} answers ARP/NDP for the VIP and gets everything "
            "(MetalLB elects by hashing node and VIP; srcip takes the first healthy node)"
        )
        return LoadBalancerSplit(shares=((chosen.target, Fraction(1)),), reasons=tuple(reasons))
    groups: dict[str | None, list[TargetHealth]] = {}
    if lb.cross_zone:
        groups[None] = pool
    else:
        for t in pool:
            groups.setdefault(zones.get(t.node), []).append(t)
        reasons.append(f"cross-zone off: equal over {len(groups)} zone(s), then within each")
    shares: dict[str, Fraction] = {}
    for members in groups.values():
        within, why = _weights(lb, health, members, counts)
        for name, part in within.items():
            shares[name] = part / len(groups)
    reasons.append(why)
    ordered = tuple((t.target, shares[t.target]) for t in health if t.target in shares)
    return LoadBalancerSplit(shares=ordered, reasons=tuple(reasons))


# --------------------------------------------------------------------------- hand-off


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    """What the node (or pod) receives from the LB: its view and the packet's addresses."""

    view: View
    packet_src: IPAddress
    dst: IPAddress
    dst_port: int


def _proxy_header(
    version: ProxyProtocolVersion, client: IPAddress, client_port: int, vip: IPAddress, port: int
) -> ProxyHeader:
    v4 = client.version == 4
    if version is ProxyProtocolVersion.V1:
        family, transport = (Family.TCP4 if v4 else Family.TCP6), None
    else:
        family, transport = (Family.INET if v4 else Family.INET6), Transport.STREAM
    return ProxyHeader(
        version=1 if version is ProxyProtocolVersion.V1 else 2,
        family=family,
        transport=transport,
        src=client,
        dst=vip,
        src_port=client_port,
        dst_port=port,
    )


def _forwarded(lb: EffectiveLoadBalancer, incoming: View) -> View:
    """X-Forwarded-For appended or replaced; X-Forwarded-Proto: http."""
    prior = ", ".join(incoming.header_values("x-forwarded-for"))
    client = str(incoming.peer)
    value = f"{prior}, {client}" if prior and lb.forwarded_for is ForwardedFor.APPEND else client
    return incoming.with_header("x-forwarded-for", value).with_header("x-forwarded-proto", "http")


def hand_off(
    lb: EffectiveLoadBalancer,
    service: Service,
    port: ServicePort,
    incoming: View,
    *,
    vip: IPAddress,
    target_address: IPAddress,
    target_port: int,
    client_port: int = DEFAULT_CLIENT_PORT,
) -> Handoff:
    """What the target receives when the LB forwards ``incoming`` (a client's connection).

    ``target_address``/``target_port`` are the node IP and NodePort (node targets) or the
    pod IP and targetPort (pod targets). Passthrough keeps the client as source; snat uses
    the LB's address (or the target node's own, k3s svclb); proxy and http open a new
    connection from the LB, with a PROXY header naming the client when configured.
    """
    del service  # the Service is implied by ``port``; kept for the trace's call sites
    mode = lb.mode
    if mode in (LoadBalancerMode.PROXY, LoadBalancerMode.HTTP):
        src = lb.address
    elif lb.targets is TargetType.POD:
        src = incoming.peer if lb.preserve_client_ip else lb.address
    elif mode is LoadBalancerMode.SNAT:
        src = target_address if lb.source_per_target else lb.address
    else:
        src = incoming.peer
    if lb.targets is TargetType.VIP:
        dst, dst_port = vip, port.port
    else:
        dst, dst_port = target_address, target_port
    proxy = incoming.proxy if mode is not LoadBalancerMode.HTTP else None
    if lb.proxy_protocol is not ProxyProtocolVersion.OFF:
        proxy = _proxy_header(lb.proxy_protocol, incoming.peer, client_port, vip, port.port)
    base = _forwarded(lb, incoming) if mode is LoadBalancerMode.HTTP else incoming
    view = replace(base, peer=src, local=dst, local_port=dst_port, proxy=proxy)
    return Handoff(view=view, packet_src=src, dst=dst, dst_port=dst_port)
