"""The cluster index: every lookup kube-proxy's rules make, built once per input.

kube-proxy compiles Services and EndpointSlices into hash maps keyed by destination
(``service-ips``, ``service-nodeports`` in nftables; one chain jump per address in iptables).
The index does the same so that routing a packet costs a few dict lookups, never a scan of
the cluster (DESIGN.md "Scale"):

* per IP family, (ClusterIP | externalIP | LB VIP, protocol, port) and (protocol, nodePort)
  → :class:`ServicePortInfo`, one per (Service, port, family) — a "service port" (KP §1);
* per service port, its endpoints merged across slices (KP §2.1), matched by port name and
  protocol, and grouped by node; categorisation (KP §2.3) is computed lazily and memoised
  per node only where the result depends on the node (topology hints, duplicates);
* per node, its local addresses, primary IPs, pod-network gateways and NodePort addresses.

The memo tables are private caches of pure functions of the input: same index, same answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from types import MappingProxyType

from srcip.errors import ManifestError
from srcip.model.endpoints import EndpointCategories, categorize_endpoints, is_serving_terminating
from srcip.model.enums import (
    AddressType,
    DetectLocalMode,
    IPFamily,
    Protocol,
    ProxyMode,
    SessionAffinity,
)
from srcip.model.objects import (
    Cluster,
    Endpoint,
    EndpointSlice,
    IPAddress,
    IPNetwork,
    KubeProxyConfig,
    Node,
    Service,
    ServicePort,
    family_of,
)
from srcip.model.packet import Backend, ServicePortRef, format_endpoint

__all__ = ["Backend", "ClusterIndex", "NodeView", "ServicePortInfo", "build_index"]

LOOPBACK_V4 = IPv4Network("127.0.0.0/8")
GATE_NFT_LOCALHOST = "KubeProxyNFTablesLocalhostNodePorts"
GATE_PREFER_SAME = "PreferSameTrafficDistribution"


@dataclass(slots=True, kw_only=True)
class ServicePortInfo:
    """One service port of one IP family, with its endpoints (KP §1.4, §1.5)."""

    service: Service
    port: ServicePort
    family: IPFamily
    ref: ServicePortRef
    cluster_ip: IPAddress
    external_ips: tuple[IPAddress, ...]
    vips: tuple[IPAddress, ...]
    source_ranges: tuple[IPNetwork, ...]
    backends: tuple[Backend, ...] = ()
    addresses: frozenset[IPAddress] = frozenset()  # every backend IP, for the hairpin test
    # nodes on which a duplicate copy of an endpoint is local: node → (text → copy) (KP §2.1)
    local_copies: dict[str, dict[str, Backend]] = field(default_factory=dict)
    by_node: dict[str, tuple[Backend, ...]] = field(default_factory=dict)
    hinted: bool = False  # some Ready backend carries a topology hint (KP §12)
    # The categories that hold on every node without hints (KP §2.3); set with the backends.
    plain: EndpointCategories[Backend] = field(default_factory=EndpointCategories)

    # Flags of KP §1.4/§1.5, fixed once the port is indexed (read on every packet).
    externally_accessible: bool = False  # has a nodePort, an LB VIP or an externalIP
    uses_cluster: bool = True  # UsesClusterEndpoints
    uses_local: bool = False  # UsesLocalEndpoints
    external_local: bool = False  # the Service's ExternalPolicyLocal
    internal_local: bool = False  # the Service's InternalPolicyLocal
    affinity_timeout: int | None = None  # ClientIP affinity timeout, None without (KP §1.7)
    local_memo: dict[str, EndpointCategories[Backend]] = field(default_factory=dict)

    def settle(self) -> None:
        """Compute the per-port flags from the Service and the port's addresses."""
        svc = self.service
        self.externally_accessible = bool(self.port.node_port or self.vips or self.external_ips)
        self.internal_local = svc.internal_policy_local
        self.external_local = svc.external_policy_local
        self.uses_cluster = not self.internal_local or self.externally_accessible
        self.uses_local = self.internal_local or (
            self.external_local and self.externally_accessible
        )
        if svc.session_affinity is SessionAffinity.CLIENT_IP:
            self.affinity_timeout = svc.session_affinity_timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeView:
    """What kube-proxy on one node knows about itself, per IP family."""

    node: Node
    name: str
    local_ips: frozenset[IPAddress]
    primary: Mapping[IPFamily, IPAddress]
    gateway: Mapping[IPFamily, IPAddress]  # first address of the pod CIDR (KP §5.2)
    pod_cidr: Mapping[IPFamily, IPNetwork]
    node_port_ips: frozenset[IPAddress]  # addresses NodePorts answer on (KP §3.4)
    node_port_loopback: bool  # 127.0.0.0/8 NodePorts (iptables IPv4, KP §3.4)
    health_check_any: bool  # HC servers listen on 0.0.0.0 (KP §13.1)
    detector_v4: tuple[IPNetwork, ...]  # what counts as pod traffic here, per family
    detector_v6: tuple[IPNetwork, ...]


class ClusterIndex:
    """Everything kube-proxy needs, indexed once; see the module docstring."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.config: KubeProxyConfig = cluster.proxy_config
        self.prefer_same_node = self.config.feature_enabled(GATE_PREFER_SAME)
        self._nodes = {n.name: n for n in cluster.nodes}
        self._views = {n.name: _node_view(n, self.config) for n in cluster.nodes}
        self._cats: dict[tuple[int, str], EndpointCategories[Backend]] = {}
        self._ready_counts: dict[int, tuple[Service, Mapping[str, int]]] = {}
        self._health_checked: tuple[Service, ...] | None = None
        self._health_checked_ids: frozenset[int] = frozenset()
        self.service_ports: list[ServicePortInfo] = []
        self.by_cluster_ip: dict[IPAddress, dict[tuple[Protocol, int], ServicePortInfo]] = {}
        self.by_external_ip: dict[tuple[IPAddress, Protocol, int], ServicePortInfo] = {}
        self.by_vip: dict[tuple[IPAddress, Protocol, int], ServicePortInfo] = {}
        self.proxy_mode_ips: dict[tuple[IPAddress, Protocol, int], ServicePortInfo] = {}
        self.by_node_port: dict[tuple[IPFamily, Protocol, int], ServicePortInfo] = {}
        self.health_check_ports: dict[int, Service] = {}
        self.service_cidrs: tuple[IPNetwork, ...] = tuple(
            cidr for sc in cluster.service_cidrs for cidr in sc.cidrs
        )
        self._index_services(cluster)

    # ------------------------------------------------------------------ building

    def _index_services(self, cluster: Cluster) -> None:
        slices: dict[tuple[str, str], list[EndpointSlice]] = defaultdict(list)
        for eps in sorted(cluster.endpoint_slices, key=lambda s: s.name):
            if eps.service_name is not None:
                slices[(eps.namespace, eps.service_name)].append(eps)
        ip_mode = self.config.feature_enabled("LoadBalancerIPMode")
        for svc in cluster.services:
            if not svc.is_proxied:  # KP §1.1
                continue
            if svc.needs_health_check and svc.health_check_node_port:
                self.health_check_ports[svc.health_check_node_port] = svc
            for cluster_ip in svc.cluster_ips:
                family = family_of(cluster_ip)
                for sp in svc.ports:
                    info = _service_port(svc, sp, cluster_ip, family, ip_mode=ip_mode)
                    info.settle()
                    _attach_backends(info, slices.get((svc.namespace, svc.name), ()))
                    self._register(info, ip_mode=ip_mode)

    def _register(self, info: ServicePortInfo, *, ip_mode: bool) -> None:
        self.service_ports.append(info)
        proto, port = info.port.protocol, info.port.port
        self.by_cluster_ip.setdefault(info.cluster_ip, {})[(proto, port)] = info
        for ext in info.external_ips:
            self.by_external_ip[(ext, proto, port)] = info
        for vip in info.vips:
            self.by_vip[(vip, proto, port)] = info
        if ip_mode:  # KP §10.2: Proxy-mode IPs get no rules; remember them to say why
            for ing in info.service.load_balancer_ingress:
                if ing.ip is not None and not ing.is_vip and family_of(ing.ip) is info.family:
                    self.proxy_mode_ips[(ing.ip, proto, port)] = info
        if info.port.node_port:
            self.by_node_port[(info.family, proto, info.port.node_port)] = info

    # ------------------------------------------------------------------ nodes

    @property
    def nodes(self) -> tuple[Node, ...]:
        """All Node objects, in input order."""
        return self.cluster.nodes

    def node(self, name: str) -> Node:
        """The Node named ``name``; ManifestError if the input has none."""
        try:
            return self._nodes[name]
        except KeyError:
            known = ", ".join(sorted(self._nodes)[:5]) or "none"
            raise ManifestError(
                f"no Node object named {name!r} in the input (nodes: {known})",
                field="--node",
                value=name,
                fix="name a node from the input, or add its Node object (kubectl get node -o yaml)",
            ) from None

    def view(self, name: str) -> NodeView:
        """The node's :class:`NodeView`; ManifestError if the input has no such Node."""
        view = self._views.get(name)
        if view is None:
            self.node(name)  # raises: no such Node object
        return self._views[name]

    # ------------------------------------------------------------------ endpoints

    def categories(self, info: ServicePortInfo, node: str) -> EndpointCategories[Backend]:
        """The service port's endpoint sets as kube-proxy on ``node`` computes them (KP §2.3)."""
        if not info.hinted and node not in info.local_copies:
            return self._plain_categories(info, node)
        key = (id(info), node)
        cats = self._cats.get(key)
        if cats is None:
            backends = info.backends
            copies = info.local_copies.get(node)
            if copies:  # the local copy of a duplicated endpoint wins on its node (KP §2.1)
                backends = tuple(copies.get(b.text, b) for b in backends)
            cats = self._cats[key] = categorize_endpoints(
                backends,
                node=node,
                zone=self.node(node).zone if node in self._nodes else None,
                uses_cluster=info.uses_cluster,
                uses_local=info.uses_local,
                prefer_same_node=self.prefer_same_node,
            )
        return cats

    def _plain_categories(self, info: ServicePortInfo, node: str) -> EndpointCategories[Backend]:
        # Without hints the cluster set and has_any are the same on every node; only the local
        # set differs, and it is read from the per-node grouping.
        plain = info.plain
        if not info.uses_local:
            return plain
        cats = info.local_memo.get(node)
        if cats is None:
            mine = info.by_node.get(node, ())
            local = tuple(b for b in mine if b.ready) or tuple(
                b for b in mine if is_serving_terminating(b)
            )
            cats = info.local_memo[node] = EndpointCategories(
                cluster=plain.cluster, local=local, has_any=plain.has_any, topology=plain.topology
            )
        return cats

    # ------------------------------------------------------------------ health checks

    def health_checked_services(self) -> tuple[Service, ...]:
        """Services kube-proxy opens a health-check listener for, in input order.

        Those that need one (KP §1.6) and have a non-zero ``healthCheckNodePort`` and at least
        one port, as kube-proxy requires before it listens (KP §13.1).
        """
        if self._health_checked is None:
            self._health_checked = tuple(
                s
                for s in self.cluster.services
                if s.is_proxied and s.needs_health_check and s.health_check_node_port and s.ports
            )
            self._health_checked_ids = frozenset(id(s) for s in self._health_checked)
        return self._health_checked

    def is_health_checked(self, service: Service) -> bool:
        """Whether ``service`` (this very object) is one of :meth:`health_checked_services`."""
        self.health_checked_services()
        return id(service) in self._health_checked_ids

    def local_ready_counts(self, service: Service) -> Mapping[str, int]:
        """Node → number of distinct IPs of local Ready endpoints of the Service (KP §13.4).

        Counted over all ports of the Service's primary IP family (each family's proxier
        reports its own count; the primary family's is the one that answers).
        """
        memo = self._ready_counts.get(id(service))
        if memo is not None and memo[0] is service:
            return memo[1]
        family = family_of(service.cluster_ips[0]) if service.cluster_ips else IPFamily.IPV4
        ips: dict[str, set[IPAddress]] = defaultdict(set)
        for info in self._ports_of(service, family):
            for node, backends in info.by_node.items():
                ips[node].update(b.address for b in backends if b.ready)
        counts = MappingProxyType({node: len(addrs) for node, addrs in ips.items() if addrs})
        self._ready_counts[id(service)] = (service, counts)  # the index is immutable: keep it
        return counts

    def _ports_of(self, service: Service, family: IPFamily) -> list[ServicePortInfo]:
        return [
            info
            for ip in service.cluster_ips
            if family_of(ip) is family
            for info in self.by_cluster_ip.get(ip, {}).values()
            if info.service is service
        ]


def build_index(cluster: Cluster) -> ClusterIndex:
    """Index a cluster once; see :class:`ClusterIndex`."""
    return ClusterIndex(cluster)


# ---------------------------------------------------------------------- helpers


def _service_port(
    svc: Service, sp: ServicePort, cluster_ip: IPAddress, family: IPFamily, *, ip_mode: bool
) -> ServicePortInfo:
    """The per-family view of one service port (KP §1.4)."""
    vips = tuple(
        ing.ip
        for ing in svc.load_balancer_ingress
        if ing.ip is not None
        and family_of(ing.ip) is family
        and (ing.is_vip or not ip_mode)  # gate off: every IP is a VIP (KP §10.3)
    )
    return ServicePortInfo(
        service=svc,
        port=sp,
        family=family,
        ref=ServicePortRef(
            namespace=svc.namespace,
            name=svc.name,
            port_name=sp.name,
            port=sp.port,
            protocol=sp.protocol,
        ),
        cluster_ip=cluster_ip,
        external_ips=tuple(ip for ip in svc.external_ips if family_of(ip) is family),
        vips=vips,
        source_ranges=tuple(r for r in svc.load_balancer_source_ranges if family_of(r) is family),
    )


def _attach_backends(info: ServicePortInfo, slices: list[EndpointSlice] | tuple[()]) -> None:
    """Merge the slices' endpoints for this port (KP §2.1) and group them by node."""
    address_type = AddressType(info.family.value)
    merged: dict[str, Backend] = {}
    for eps in slices:
        if eps.address_type is not address_type:
            continue
        port = next(
            (
                p.port
                for p in eps.ports
                if p.name == info.port.name and p.protocol is info.port.protocol
            ),
            None,
        )
        if port is None:
            continue
        for ep in eps.endpoints:
            backend = _backend(ep, port)
            first = merged.setdefault(backend.text, backend)
            if first is not backend and backend.node_name and backend.node_name != first.node_name:
                info.local_copies.setdefault(backend.node_name, {})[backend.text] = backend
    info.backends = tuple(sorted(merged.values(), key=_backend_order))
    info.addresses = frozenset(b.address for b in info.backends)
    by_node: dict[str, list[Backend]] = defaultdict(list)
    for backend in info.backends:
        if backend.node_name is not None:
            by_node[backend.node_name].append(backend)
    for node, copies in info.local_copies.items():
        by_node[node].extend(c for c in copies.values() if c not in by_node[node])
    info.by_node = {node: tuple(group) for node, group in by_node.items()}
    info.hinted = any(b.ready and (b.zone_hints or b.node_hints) for b in info.backends)
    info.plain = categorize_endpoints(
        info.backends, node="", uses_cluster=info.uses_cluster, uses_local=info.uses_local
    )


def _backend(ep: Endpoint, port: int) -> Backend:
    return Backend(
        address=ep.address,
        port=port,
        node_name=ep.node_name,
        ready=ep.ready,
        serving=ep.serving,
        terminating=ep.terminating,
        zone_hints=ep.zone_hints,
        node_hints=ep.node_hints,
        target=ep.target,
        text=format_endpoint(ep.address, port),
    )


def _backend_order(backend: Backend) -> tuple[int, int, int]:
    return (backend.address.version, int(backend.address), backend.port)


def _node_view(node: Node, config: KubeProxyConfig) -> NodeView:
    primary = {f: ip for f in IPFamily if (ip := node.primary_ip(f)) is not None}
    pod_cidr = {f: c for f in IPFamily if (c := node.pod_cidr(f)) is not None}
    gateway = {f: _gateway(c) for f, c in pod_cidr.items()}
    local = node.local_ips
    cidrs = config.node_port_addresses
    nft = config.mode is ProxyMode.NFTABLES
    loopback_allowed = config.localhost_node_ports and (
        not nft or config.feature_enabled(GATE_NFT_LOCALHOST)
    )
    if config.node_port_addresses_primary or (nft and not cidrs):
        node_port_ips = frozenset(primary.values())  # KP §3.4: nftables default / "primary"
        loopback = nft and not cidrs and loopback_allowed
    elif cidrs:
        node_port_ips = frozenset(ip for ip in local if any(ip in c for c in cidrs))
        loopback = loopback_allowed and any(_covers_loopback(c) for c in cidrs)
    else:  # iptables default: every local address (KP §3.4)
        node_port_ips = local
        loopback = loopback_allowed
    return NodeView(
        node=node,
        name=node.name,
        local_ips=local,
        primary=primary,
        gateway=gateway,
        pod_cidr=pod_cidr,
        node_port_ips=node_port_ips,
        node_port_loopback=loopback,
        health_check_any=not nft and not cidrs and not config.node_port_addresses_primary,
        detector_v4=_detector(config, pod_cidr, 4),
        detector_v6=_detector(config, pod_cidr, 6),
    )


def _detector(
    config: KubeProxyConfig, pod_cidr: Mapping[IPFamily, IPNetwork], version: int
) -> tuple[IPNetwork, ...]:
    """The local-traffic detector's ranges for one family (KP terminology).

    ``ClusterCIDR`` matches the whole cluster pod range (empty without ``clusterCIDR``: no
    detector); ``NodeCIDR`` and the interface-based modes match this node's own pods.
    """
    if config.detect_local_mode is DetectLocalMode.CLUSTER_CIDR:
        return tuple(c for c in config.cluster_cidrs if c.version == version)
    own = pod_cidr.get(IPFamily.IPV4 if version == 4 else IPFamily.IPV6)
    return (own,) if own is not None else ()


def _gateway(cidr: IPNetwork) -> IPAddress:
    """The first address of the pod CIDR: the usual bridge gateway, e.g. 10.244.1.1 (KP §5.2)."""
    base = cidr.network_address
    return base + 1 if cidr.num_addresses > 2 else base


def _covers_loopback(cidr: IPNetwork) -> bool:
    return isinstance(cidr, IPv4Network) and cidr.overlaps(LOOPBACK_V4)
