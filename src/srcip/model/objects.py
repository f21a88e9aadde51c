"""Typed, frozen Kubernetes objects: the only shape the model ever sees.

Raw YAML/JSON exists only in :mod:`srcip.manifests`, which converts each document once into
these classes. Field names follow Kubernetes vocabulary in snake_case; enum values are the
wire strings. Only the fields kube-proxy (and srcip's later layers) read are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING

from srcip.model.enums import (
    AddressType,
    DetectLocalMode,
    IPFamily,
    IPMode,
    Protocol,
    ProxyMode,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)

if TYPE_CHECKING:  # these modules import this one; the annotations are strings at runtime
    from srcip.model.netpol import NetworkPolicy
    from srcip.model.scenario import Scenario
    from srcip.model.workloads import Workload, WorkloadPlacement

__all__ = [
    "FEATURE_GATE_DEFAULTS",
    "Cluster",
    "ConfigMap",
    "Endpoint",
    "EndpointPort",
    "EndpointSlice",
    "IPAddress",
    "IPNetwork",
    "KubeProxyConfig",
    "LoadBalancerIngress",
    "Node",
    "NodeAddress",
    "Pod",
    "Service",
    "ServiceCIDR",
    "ServicePort",
    "Taint",
    "family_of",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
TAINT_TO_BE_DELETED = "ToBeDeletedByClusterAutoscaler"  # KP §14.3
DEFAULT_AFFINITY_TIMEOUT = 10800  # KP §1.7


def family_of(address: IPAddress | IPNetwork) -> IPFamily:
    """The IP family of an address or network."""
    return IPFamily.IPV4 if address.version == 4 else IPFamily.IPV6


# --------------------------------------------------------------------------- Service


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort:
    """One ``spec.ports[]`` entry. ``node_port == 0`` means none (KP §1.4)."""

    name: str = ""
    protocol: Protocol = Protocol.TCP
    port: int
    target_port: int | str | None = None
    node_port: int = 0
    node_port_allocated: bool = False  # the manifest omitted it; srcip allocated it
    app_protocol: str | None = None  # ``appProtocol`` (Azure probes HTTP on it, §6 #20)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancerIngress:
    """One ``status.loadBalancer.ingress[]`` entry (KP §10)."""

    ip: IPAddress | None = None
    hostname: str | None = None
    ip_mode: IPMode | None = None

    @property
    def is_vip(self) -> bool:
        """kube-proxy programs this IP: it has an ``ip`` and ipMode is unset or VIP (KP §10.1)."""
        return self.ip is not None and self.ip_mode in (None, IPMode.VIP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A Service as kube-proxy reads it (KP §1)."""

    namespace: str = "default"
    name: str
    type: ServiceType = ServiceType.CLUSTER_IP
    cluster_ips: tuple[IPAddress, ...] = ()
    headless: bool = False  # clusterIP: None
    cluster_ip_allocated: bool = False  # the manifest omitted it; srcip allocated it
    external_ips: tuple[IPAddress, ...] = ()
    ports: tuple[ServicePort, ...] = ()
    selector: tuple[tuple[str, str], ...] = ()
    external_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    health_check_node_port: int = 0
    health_check_node_port_allocated: bool = False
    load_balancer_source_ranges: tuple[IPNetwork, ...] = ()
    load_balancer_ingress: tuple[LoadBalancerIngress, ...] = ()
    allocate_load_balancer_node_ports: bool = True
    session_affinity: SessionAffinity = SessionAffinity.NONE
    session_affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT
    traffic_distribution: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()  # provider presets read these
    load_balancer_class: str | None = None

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def is_proxied(self) -> bool:
        """kube-proxy handles it at all: not headless, not ExternalName (KP §1.1)."""
        return (
            not self.headless
            and self.type is not ServiceType.EXTERNAL_NAME
            and bool(self.cluster_ips)
        )

    @property
    def externally_accessible(self) -> bool:
        """LoadBalancer, NodePort, or ClusterIP with externalIPs (KP §1.2)."""
        return self.type in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) or (
            self.type is ServiceType.CLUSTER_IP and bool(self.external_ips)
        )

    @property
    def external_policy_local(self) -> bool:
        """ExternallyAccessible and ``externalTrafficPolicy: Local`` (KP §1.2)."""
        return self.externally_accessible and self.external_traffic_policy is TrafficPolicy.LOCAL

    @property
    def internal_policy_local(self) -> bool:
        """``internalTrafficPolicy: Local`` (KP §1.3)."""
        return self.internal_traffic_policy is TrafficPolicy.LOCAL

    @property
    def needs_health_check(self) -> bool:
        """type LoadBalancer and ExternalPolicyLocal (KP §1.6)."""
        return self.type is ServiceType.LOAD_BALANCER and self.external_policy_local


# --------------------------------------------------------------------------- EndpointSlice


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One endpoint of an EndpointSlice, first address only (KP §2.1), conditions defaulted."""

    address: IPAddress
    node_name: str | None = None
    zone: str | None = None
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()
    target: str | None = None  # targetRef name (a Pod), for display


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointPort:
    """One ``ports[]`` entry of an EndpointSlice; matched by name and protocol (KP §2.1)."""

    name: str = ""
    protocol: Protocol = Protocol.TCP
    port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSlice:
    """An EndpointSlice; ``service_name`` from the ``kubernetes.io/service-name`` label."""

    namespace: str = "default"
    name: str
    service_name: str | None = None
    address_type: AddressType = AddressType.IPV4
    ports: tuple[EndpointPort, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()


# --------------------------------------------------------------------------- Node, Pod


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAddress:
    """One ``status.addresses[]`` entry that holds an IP."""

    type: str
    address: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class Taint:
    """One ``spec.taints[]`` entry."""

    key: str
    value: str = ""
    effect: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A Node: its addresses, pod CIDRs, zone, and whether it is being removed."""

    name: str
    addresses: tuple[NodeAddress, ...] = ()
    pod_cidrs: tuple[IPNetwork, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    deleting: bool = False  # metadata.deletionTimestamp is set
    provider_id: str | None = None  # ``spec.providerID``: gce://, aws://, azure://, ...
    unschedulable: bool = False  # ``spec.unschedulable`` (cordoned)
    allocatable_cpu_millis: int = 0  # ``status.allocatable.cpu``; 0: unknown
    allocatable_memory_bytes: int = 0  # ``status.allocatable.memory``; 0: unknown

    @property
    def zone(self) -> str | None:
        """The ``topology.kubernetes.io/zone`` label, if any (KP §12.2)."""
        return dict(self.labels).get(LABEL_ZONE)

    def primary_ip(self, family: IPFamily) -> IPAddress | None:
        """The first InternalIP of the family (the node's primary IP)."""
        for entry in self.addresses:
            if entry.type == "InternalIP" and family_of(entry.address) is family:
                return entry.address
        return None

    def pod_cidr(self, family: IPFamily) -> IPNetwork | None:
        """The node's pod CIDR of the family, if any."""
        for cidr in self.pod_cidrs:
            if family_of(cidr) is family:
                return cidr
        return None

    @property
    def local_ips(self) -> frozenset[IPAddress]:
        """Every listed address: all count as local to the node."""
        return frozenset(entry.address for entry in self.addresses)

    @property
    def eligible(self) -> bool:
        """Not being deleted and not tainted for removal (KP §14.3)."""
        return not self.deleting and all(t.key != TAINT_TO_BE_DELETED for t in self.taints)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """A Pod, as far as placement and the doctor need it."""

    namespace: str = "default"
    name: str
    node_name: str | None = None
    ips: tuple[IPAddress, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    phase: str | None = None
    ready: bool = False
    host_network: bool = False
    terminating: bool = False


# --------------------------------------------------------------------------- kube-proxy config

FEATURE_GATE_DEFAULTS: dict[str, bool] = {
    "LoadBalancerIPMode": True,  # GA 1.32 (KP §0)
    "PreferSameTrafficDistribution": True,  # beta (on) 1.34 (KP §0)
    "KubeProxyNFTablesLocalhostNodePorts": False,  # alpha 1.37 (KP §3.4)
}


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeProxyConfig:
    """The parts of ``KubeProxyConfiguration`` that decide packet handling.

    ``masquerade_all`` is the value for the configured ``mode`` (``iptables.masqueradeAll``
    or ``nftables.masqueradeAll``). ``node_port_addresses`` empty with
    ``node_port_addresses_primary`` false means the backend's default (KP §3.4).
    """

    mode: ProxyMode = ProxyMode.IPTABLES
    cluster_cidrs: tuple[IPNetwork, ...] = ()
    detect_local_mode: DetectLocalMode = DetectLocalMode.CLUSTER_CIDR
    node_port_addresses: tuple[IPNetwork, ...] = ()
    node_port_addresses_primary: bool = False
    masquerade_all: bool = False
    localhost_node_ports: bool = True
    feature_gates: tuple[tuple[str, bool], ...] = ()
    sync_period_seconds: float = 30.0
    healthz_port: int = 10256

    def feature_enabled(self, gate: str) -> bool:
        """The gate's configured value, else its default in current releases."""
        return dict(self.feature_gates).get(gate, FEATURE_GATE_DEFAULTS.get(gate, False))

    @property
    def health_timeout_seconds(self) -> float:
        """2 × syncPeriod (KP §14.2)."""
        return 2 * self.sync_period_seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCIDR:
    """A ``networking.k8s.io/v1`` ServiceCIDR: the ranges ClusterIPs come from."""

    name: str
    cidrs: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMap:
    """A ConfigMap's string data (ingress controllers, CNI and dataplane settings)."""

    namespace: str = "default"
    name: str
    data: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


# --------------------------------------------------------------------------- Cluster


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """Everything loaded from the input, plus what the loader noticed along the way."""

    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    proxy_config: KubeProxyConfig = field(default_factory=KubeProxyConfig)
    service_cidrs: tuple[ServiceCIDR, ...] = ()
    workloads: tuple[Workload, ...] = ()
    network_policies: tuple[NetworkPolicy, ...] = ()
    config_maps: tuple[ConfigMap, ...] = ()
    scenario: Scenario | None = None
    placements: tuple[WorkloadPlacement, ...] = ()  # derived: what srcip scheduled
    notes: tuple[str, ...] = ()  # ignored kinds, partial-dump remarks (shown with -v)
