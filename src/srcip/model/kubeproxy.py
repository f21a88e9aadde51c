"""What kube-proxy on one node does with the first packet of a new connection.

Follows ``reference/kube-proxy-semantics.md`` rule by rule; every decision is recorded as a
``KP §`` reference with a one-line reason, so a result explains itself. Covered: dispatch by
ClusterIP, externalIP, LB VIP (ipMode VIP/Proxy) and NodePort addresses per backend (KP §3,
§10, §15); source classes with the local-traffic detector (KP terminology); Cluster vs Local,
internalTrafficPolicy, masquerade incl. ``masqueradeAll`` and the hairpin rule (KP §4, §5,
§11); REJECT vs DROP vs no match (KP §6); loadBalancerSourceRanges (KP §8); ClientIP
affinity as explicit state (KP §9); kube-proxy's own health listeners (KP §13, §14).

Left out: conntrack of established flows (KP §3.6 — only new connections are routed), ipvs,
and the interface-based detectors' interface names: ``BridgeInterface`` and
``InterfaceNamePrefix`` match exactly the packets that come from this node's pod
interfaces, which the model identifies by the node's pod CIDR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srcip.errors import ManifestError, UsageError
from srcip.model.enums import (
    CNIMode,
    EntryPoint,
    IPFamily,
    Protocol,
    ProxyMode,
    SourceClass,
    Verdict,
)
from srcip.model.index import ClusterIndex, NodeView, ServicePortInfo
from srcip.model.objects import IPAddress, KubeProxyConfig
from srcip.model.packet import AffinityState, Backend, Packet, RouteResult, ServicePortRef

__all__ = ["classify_source", "route_packet"]


@dataclass(slots=True)
class _Trace:
    """The rules that decided, with their reasons (templates formatted on demand), in order."""

    rules: list[str] = field(default_factory=list)
    reasons: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def add(self, rule: str, template: str, *args: object) -> None:
        self.rules.append(rule)
        self.reasons.append((template, args))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ctx:
    """One routing call's fixed inputs."""

    index: ClusterIndex
    view: NodeView
    packet: Packet
    family: IPFamily
    source: SourceClass
    detector: bool  # a local-traffic detector is configured for this family
    cni: CNIMode


def route_packet(
    index: ClusterIndex,
    node: str,
    packet: Packet,
    *,
    cni: CNIMode = CNIMode.BRIDGE,
    affinity: AffinityState | None = None,
    now: float = 0.0,
) -> RouteResult:
    """What kube-proxy on ``node`` does with the first packet of a new connection.

    ``affinity`` is the node's ClientIP affinity memory before the packet and ``now`` the
    time on the same clock (KP §9); each returned choice carries the memory after it.
    """
    view = index.view(node)
    if packet.src.version != packet.dst.version:
        raise UsageError(
            f"source {packet.src} and destination {packet.dst} are of different IP families; "
            "kube-proxy handles each family separately. Fix: give both as IPv4 or both as IPv6"
        )
    family = IPFamily.IPV4 if packet.dst.version == 4 else IPFamily.IPV6
    source, detector = classify_source(index.config, view, packet.src)
    ctx = _Ctx(
        index=index,
        view=view,
        packet=packet,
        family=family,
        source=source,
        detector=detector,
        cni=cni,
    )
    trace = _Trace()
    hit = _lookup(ctx)
    if hit is None:
        return _unmatched(ctx, trace)
    entry, info = hit
    if info is None:
        return _own_listener(ctx, entry, trace)
    verdict, targets, masq = _decide(ctx, entry, info, trace)
    if verdict is not Verdict.DNAT:
        return _result(ctx, trace, verdict, entry=entry, service=info.ref)
    return _dnat(ctx, info, entry, targets, masq, affinity, now, trace)


def classify_source(
    config: KubeProxyConfig, view: NodeView, src: IPAddress
) -> tuple[SourceClass, bool]:
    """The source's class on this node, and whether a detector is configured (KP terms)."""
    detector_cidrs = view.detector_v4 if src.version == 4 else view.detector_v6
    if any(src in cidr for cidr in detector_cidrs):
        return SourceClass.POD, True
    if src in view.local_ips or (config.mode is ProxyMode.IPTABLES and src.is_loopback):
        return SourceClass.HOST, bool(detector_cidrs)
    return SourceClass.EXTERNAL, bool(detector_cidrs)


# ---------------------------------------------------------------------- dispatch (KP §3)


def _lookup(ctx: _Ctx) -> tuple[EntryPoint, ServicePortInfo | None] | None:
    index, pkt = ctx.index, ctx.packet
    by_port = index.by_cluster_ip.get(pkt.dst)
    if by_port is not None:
        info = by_port.get((pkt.protocol, pkt.port))
        return (EntryPoint.CLUSTER_IP, info) if info is not None else None
    key = (pkt.dst, pkt.protocol, pkt.port)
    if (info := index.by_external_ip.get(key)) is not None:
        return EntryPoint.EXTERNAL_IP, info
    if (info := index.by_vip.get(key)) is not None:
        return EntryPoint.LOAD_BALANCER, info
    if _is_node_port_address(ctx):
        info = index.by_node_port.get((ctx.family, pkt.protocol, pkt.port))
        if info is not None:
            return EntryPoint.NODE_PORT, info
    if pkt.protocol is Protocol.TCP:
        if pkt.port in index.health_check_ports and _health_check_listens(ctx):
            return EntryPoint.HEALTH_CHECK, None
        local = pkt.dst in ctx.view.local_ips or pkt.dst.is_loopback
        if pkt.port == index.config.healthz_port and local:
            return EntryPoint.PROXY_HEALTHZ, None
    return None


def _is_node_port_address(ctx: _Ctx) -> bool:
    dst = ctx.packet.dst
    if dst in ctx.view.node_port_ips:
        return True
    return ctx.view.node_port_loopback and dst.version == 4 and dst.is_loopback


def _health_check_listens(ctx: _Ctx) -> bool:
    """Whether a packet to a healthCheckNodePort on this address is accepted (KP §13.1)."""
    dst, view = ctx.packet.dst, ctx.view
    local = dst in view.local_ips or dst.is_loopback
    if view.health_check_any or ctx.index.config.mode is ProxyMode.IPTABLES:
        # iptables adds a filter ACCEPT for the port on every local address, wherever the
        # listener binds; the listener itself binds 0.0.0.0 by default.
        return local
    cidrs = ctx.index.config.node_port_addresses
    return dst in view.node_port_ips or (dst.is_loopback and any(dst in c for c in cidrs))


def _unmatched(ctx: _Ctx, trace: _Trace) -> RouteResult:
    index, pkt = ctx.index, ctx.packet
    proxy_ip = index.proxy_mode_ips.get((pkt.dst, pkt.protocol, pkt.port))
    if proxy_ip is not None:
        trace.add(
            "KP §10.2",
            "{} is an ipMode Proxy ingress of {}: kube-proxy installs no rule for it; "
            "the load balancer itself must deliver to a node or pod",
            pkt.dst,
            proxy_ip.ref,
        )
        return _result(ctx, trace, Verdict.NO_MATCH)
    if index.config.mode is ProxyMode.NFTABLES:
        if pkt.dst in index.by_cluster_ip:
            trace.add(
                "KP §6.4",
                "{} is an active ClusterIP but no port matches {}/{}: nftables rejects it",
                pkt.dst,
                pkt.port,
                pkt.protocol,
            )
            return _result(ctx, trace, Verdict.REJECT)
        if any(pkt.dst in cidr for cidr in index.service_cidrs):
            trace.add(
                "KP §6.4",
                "{} lies in a service CIDR but is not allocated: nftables drops it",
                pkt.dst,
            )
            return _result(ctx, trace, Verdict.DROP)
    trace.add(
        "KP §3.5",
        "no service matches {}:{}/{} on node {}: the packet passes kube-proxy unchanged",
        pkt.dst,
        pkt.port,
        pkt.protocol,
        ctx.view.name,
    )
    return _result(ctx, trace, Verdict.NO_MATCH)


def _own_listener(ctx: _Ctx, entry: EntryPoint, trace: _Trace) -> RouteResult:
    pkt = ctx.packet
    service: ServicePortRef | None = None
    if entry is EntryPoint.HEALTH_CHECK:
        svc = ctx.index.health_check_ports[pkt.port]
        service = ServicePortRef(
            namespace=svc.namespace,
            name=svc.name,
            port_name="healthCheckNodePort",
            port=pkt.port,
            protocol=Protocol.TCP,
        )
        trace.add(
            "KP §13.1",
            "port {} is the healthCheckNodePort of {}: kube-proxy itself answers it",
            pkt.port,
            svc.key,
        )
    else:
        trace.add("KP §14.1", "port {} is kube-proxy's own health server", pkt.port)
    return _result(ctx, trace, Verdict.ACCEPT, entry=entry, service=service)


# ---------------------------------------------------------------------- policy (KP §4, §6, §8)


def _decide(
    ctx: _Ctx, entry: EntryPoint, info: ServicePortInfo, trace: _Trace
) -> tuple[Verdict, tuple[Backend, ...], bool]:
    cats = ctx.index.categories(info, ctx.view.name)
    trace.add(
        "KP §3",
        "{} of {}; source is {}",
        entry,
        info.ref,
        _SourceText(ctx.source, ctx.packet.src, ctx.view.name),
    )
    nft = ctx.index.config.mode is ProxyMode.NFTABLES
    if entry is EntryPoint.LOAD_BALANCER and info.source_ranges and not _in_ranges(ctx, info):
        if nft or cats.has_any:
            trace.add(
                "KP §8.2",
                "{} is outside loadBalancerSourceRanges: dropped before DNAT",
                ctx.packet.src,
            )
            return Verdict.DROP, (), False
        trace.add("KP §8.6", "iptables installs no source-range firewall without endpoints")
    if not cats.has_any:
        trace.add("KP §6.2", "no usable endpoint anywhere in the cluster: rejected")
        return Verdict.REJECT, (), False
    if entry is EntryPoint.CLUSTER_IP:
        return _internal(ctx, info, cats.cluster, cats.local, trace)
    return _external(ctx, info, cats.cluster, cats.local, trace)


def _in_ranges(ctx: _Ctx, info: ServicePortInfo) -> bool:
    src = ctx.packet.src
    if any(src in r for r in info.source_ranges):
        return True
    primary = ctx.view.primary.get(ctx.family)
    # KP §8.4: with the node IP in a range, the VIPs themselves are accepted as sources.
    node_in_range = primary is not None and any(primary in r for r in info.source_ranges)
    return node_in_range and src in info.vips


def _internal(
    ctx: _Ctx,
    info: ServicePortInfo,
    cluster: tuple[Backend, ...],
    local: tuple[Backend, ...],
    trace: _Trace,
) -> tuple[Verdict, tuple[Backend, ...], bool]:
    config = ctx.index.config
    if config.masquerade_all:
        masq = True
        trace.add("KP §4.1", "masqueradeAll: ClusterIP traffic is always masqueraded")
    elif ctx.detector:
        masq = ctx.source is not SourceClass.POD
        verb = "is masqueraded" if masq else "keeps its source"
        trace.add("KP §4.1", "ClusterIP traffic from a {} source {}", ctx.source, verb)
    else:
        masq = False
        trace.add("KP §4.1", "no local-traffic detector: ClusterIP traffic is never masqueraded")
    if info.internal_local:
        if not local:
            trace.add(
                "KP §11", "internalTrafficPolicy Local and no local endpoint on this node: dropped"
            )
            return Verdict.DROP, (), False
        trace.add("KP §11", "internalTrafficPolicy Local: only endpoints on this node")
        return Verdict.DNAT, local, masq
    trace.add("KP §7.1", "any usable endpoint in the cluster, uniformly at random")
    return Verdict.DNAT, cluster, masq


def _external(
    ctx: _Ctx,
    info: ServicePortInfo,
    cluster: tuple[Backend, ...],
    local: tuple[Backend, ...],
    trace: _Trace,
) -> tuple[Verdict, tuple[Backend, ...], bool]:
    if not info.external_local:
        trace.add(
            "KP §4.2",
            "externalTrafficPolicy Cluster: marked for masquerade before an endpoint is chosen, "
            "then any endpoint in the cluster",
        )
        return Verdict.DNAT, cluster, True
    if ctx.source is SourceClass.POD:
        trace.add("KP §4.3", "Local policy, pod source: short-circuit to all endpoints, no SNAT")
        return Verdict.DNAT, cluster, False
    if ctx.source is SourceClass.HOST:
        trace.add("KP §4.3", "Local policy, node-originated: short-circuit to all endpoints, SNAT")
        return Verdict.DNAT, cluster, True
    if not local:
        trace.add(
            "KP §4.3",
            "Local policy and no local endpoint on {}: dropped silently "
            "(the load balancer's health check should keep traffic away)",
            ctx.view.name,
        )
        trace.add("KP §6.3", "endpoints exist elsewhere, so DROP rather than REJECT")
        return Verdict.DROP, (), False
    trace.add("KP §4.3", "Local policy: only endpoints on this node, client IP preserved")
    return Verdict.DNAT, local, False


# ---------------------------------------------------------------------- choices (KP §4.5, §5, §9)


def _dnat(
    ctx: _Ctx,
    info: ServicePortInfo,
    entry: EntryPoint,
    targets: tuple[Backend, ...],
    masq: bool,
    affinity: AffinityState | None,
    now: float,
    trace: _Trace,
) -> RouteResult:
    src = ctx.packet.src
    key: str | None = None
    if info.affinity_timeout is not None:
        key = str(info.ref)
        remembered = affinity.lookup(key, src) if affinity is not None else None
        if remembered is not None and now - remembered.last_seen < info.affinity_timeout:
            sticky = tuple(b for b in targets if b.text == remembered.endpoint)
            if sticky:
                trace.add("KP §9.2", "ClientIP affinity: {} sticks to {}", src, sticky[0].text)
                targets = sticky
    hairpin = src in info.addresses and any(b.address == src for b in targets)
    if hairpin:
        trace.add("KP §4.5", "{} may reach itself through the service: then masqueraded", src)
    if masq:
        trace.add("KP §5.2", "SNAT: the pod sees a node-owned address, not the client")
    snat_local = snat_remote = None
    if masq or hairpin:
        snat_local, snat_remote = _snat_sources(ctx)
    return _result(
        ctx,
        trace,
        Verdict.DNAT,
        entry=entry,
        service=info.ref,
        targets=targets,
        marked=masq,
        snat=(snat_local, snat_remote),
        affinity_key=key,
        affinity_before=affinity,
        now=now,
    )


def _snat_sources(ctx: _Ctx) -> tuple[IPAddress, IPAddress]:
    """The addresses MASQUERADE picks toward a local and a remote endpoint (KP §5.2)."""
    view = ctx.view
    primary = view.primary.get(ctx.family)
    if primary is None:
        fallback = sorted(ip for ip in view.local_ips if ip.version == ctx.packet.src.version)
        if not fallback:
            raise ManifestError(
                f"node {view.name} has no {ctx.family} address to masquerade with",
                field="status.addresses",
                fix=f"list the node's {ctx.family} InternalIP in its Node object",
            )
        primary = fallback[0]
    gateway = view.gateway.get(ctx.family)
    local = gateway if gateway is not None and ctx.cni is CNIMode.BRIDGE else primary
    return local, primary


@dataclass(frozen=True, slots=True)
class _SourceText:
    """Describes the packet's source class when a reason is formatted (lazily)."""

    source: SourceClass
    src: IPAddress
    node: str

    def __str__(self) -> str:
        if self.source is SourceClass.POD:
            return f"pod traffic ({self.src} matches the local-traffic detector)"
        if self.source is SourceClass.HOST:
            return f"locally originated ({self.src} is an address of {self.node})"
        return (
            f"an external client ({self.src} is neither pod traffic nor an address of {self.node})"
        )


def _result(
    ctx: _Ctx,
    trace: _Trace,
    verdict: Verdict,
    *,
    entry: EntryPoint | None = None,
    service: ServicePortRef | None = None,
    targets: tuple[Backend, ...] = (),
    marked: bool = False,
    snat: tuple[IPAddress | None, IPAddress | None] = (None, None),
    affinity_key: str | None = None,
    affinity_before: AffinityState | None = None,
    now: float = 0.0,
) -> RouteResult:
    return RouteResult(
        verdict=verdict,
        node=ctx.view.name,
        packet=ctx.packet,
        source_class=ctx.source,
        entry=entry,
        service=service,
        rules=tuple(trace.rules),
        reason_parts=tuple(trace.reasons),
        targets=targets,
        marked=marked,
        snat_local=snat[0],
        snat_remote=snat[1],
        affinity_key=affinity_key,
        affinity_before=affinity_before,
        now=now,
    )
