"""Builders for model objects from short string arguments, shared by the unit tests."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from srcip.model.enums import (
    AddressType,
    DetectLocalMode,
    IPMode,
    Protocol,
    ProxyMode,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from srcip.model.objects import (
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPAddress,
    KubeProxyConfig,
    LoadBalancerIngress,
    Node,
    NodeAddress,
    Service,
    ServiceCIDR,
    ServicePort,
    Taint,
)
from srcip.model.packet import Packet

__all__ = [
    "cluster",
    "endpoint",
    "endpoint_slice",
    "ip",
    "node",
    "packet",
    "port",
    "proxy_config",
    "service",
]


def ip(text: str) -> IPAddress:
    """Parse an IP address."""
    return ip_address(text)


def port(
    port: int,
    *,
    name: str = "",
    protocol: str = "TCP",
    node_port: int = 0,
    target_port: int | str | None = None,
) -> ServicePort:
    """A service port."""
    return ServicePort(
        name=name,
        protocol=Protocol(protocol),
        port=port,
        node_port=node_port,
        target_port=target_port,
    )


def service(
    name: str,
    *,
    namespace: str = "ns1",
    type: str = "ClusterIP",
    cluster_ip: str | tuple[str, ...] | None = None,
    ports: tuple[ServicePort, ...] = (),
    external_ips: tuple[str, ...] = (),
    etp: str = "Cluster",
    itp: str = "Cluster",
    lb_ips: tuple[str, ...] = (),
    lb_ip_mode: str | None = None,
    source_ranges: tuple[str, ...] = (),
    hc_node_port: int = 0,
    affinity: bool = False,
    affinity_timeout: int = 10800,
    headless: bool = False,
) -> Service:
    """A Service; ``cluster_ip`` may be a tuple for dual-stack."""
    ips: tuple[str, ...]
    if cluster_ip is None:
        ips = ()
    elif isinstance(cluster_ip, str):
        ips = (cluster_ip,)
    else:
        ips = cluster_ip
    return Service(
        namespace=namespace,
        name=name,
        type=ServiceType(type),
        cluster_ips=tuple(ip_address(a) for a in ips),
        headless=headless,
        ports=ports,
        external_ips=tuple(ip_address(a) for a in external_ips),
        external_traffic_policy=TrafficPolicy(etp),
        internal_traffic_policy=TrafficPolicy(itp),
        load_balancer_ingress=tuple(
            LoadBalancerIngress(
                ip=ip_address(a), ip_mode=IPMode(lb_ip_mode) if lb_ip_mode else None
            )
            for a in lb_ips
        ),
        load_balancer_source_ranges=tuple(ip_network(r.strip()) for r in source_ranges),
        health_check_node_port=hc_node_port,
        session_affinity=SessionAffinity.CLIENT_IP if affinity else SessionAffinity.NONE,
        session_affinity_timeout=affinity_timeout,
    )


def endpoint(
    address: str,
    *,
    node: str | None = None,
    ready: bool = True,
    serving: bool | None = None,
    terminating: bool = False,
    zone: str | None = None,
    zone_hints: tuple[str, ...] = (),
    node_hints: tuple[str, ...] = (),
) -> Endpoint:
    """An endpoint; ``serving`` defaults to ``ready`` as the API does."""
    return Endpoint(
        address=ip_address(address),
        node_name=node,
        zone=zone,
        ready=ready,
        serving=ready if serving is None else serving,
        terminating=terminating,
        zone_hints=frozenset(zone_hints),
        node_hints=frozenset(node_hints),
    )


def endpoint_slice(
    service_name: str,
    endpoints: tuple[Endpoint, ...],
    *,
    ports: tuple[tuple[str, int, str], ...] = (("", 80, "TCP"),),
    namespace: str = "ns1",
    name: str | None = None,
    address_type: str = "IPv4",
) -> EndpointSlice:
    """An EndpointSlice; ``ports`` as (name, port, protocol) triples."""
    return EndpointSlice(
        namespace=namespace,
        name=name or f"{service_name}-slice",
        service_name=service_name,
        address_type=AddressType(address_type),
        ports=tuple(EndpointPort(name=n, port=p, protocol=Protocol(pr)) for n, p, pr in ports),
        endpoints=endpoints,
    )


def node(
    name: str,
    *addresses: str,
    pod_cidr: str | tuple[str, ...] | None = None,
    zone: str | None = None,
    deleting: bool = False,
    taints: tuple[str, ...] = (),
    address_type: str = "InternalIP",
) -> Node:
    """A Node; every address is listed with ``address_type``."""
    cidrs: tuple[str, ...]
    if pod_cidr is None:
        cidrs = ()
    elif isinstance(pod_cidr, str):
        cidrs = (pod_cidr,)
    else:
        cidrs = pod_cidr
    return Node(
        name=name,
        addresses=tuple(NodeAddress(type=address_type, address=ip_address(a)) for a in addresses),
        pod_cidrs=tuple(ip_network(c) for c in cidrs),
        labels=(("topology.kubernetes.io/zone", zone),) if zone else (),
        taints=tuple(Taint(key=t) for t in taints),
        deleting=deleting,
    )


def proxy_config(
    *,
    mode: str = "iptables",
    cluster_cidr: str | tuple[str, ...] = "10.0.0.0/8",
    detect_local_mode: str = "ClusterCIDR",
    node_port_addresses: tuple[str, ...] = (),
    node_port_addresses_primary: bool = False,
    masquerade_all: bool = False,
    localhost_node_ports: bool = True,
    feature_gates: tuple[tuple[str, bool], ...] = (),
) -> KubeProxyConfig:
    """A kube-proxy configuration; ``cluster_cidr=""`` means no local-traffic detector."""
    cidrs = (cluster_cidr,) if isinstance(cluster_cidr, str) else cluster_cidr
    return KubeProxyConfig(
        mode=ProxyMode(mode),
        cluster_cidrs=tuple(ip_network(c) for c in cidrs if c),
        detect_local_mode=DetectLocalMode(detect_local_mode),
        node_port_addresses=tuple(ip_network(c) for c in node_port_addresses),
        node_port_addresses_primary=node_port_addresses_primary,
        masquerade_all=masquerade_all,
        localhost_node_ports=localhost_node_ports,
        feature_gates=feature_gates,
    )


def cluster(
    *,
    services: tuple[Service, ...] = (),
    slices: tuple[EndpointSlice, ...] = (),
    nodes: tuple[Node, ...] = (),
    config: KubeProxyConfig | None = None,
    service_cidrs: tuple[str, ...] = (),
) -> Cluster:
    """A Cluster from parts; ``service_cidrs`` become one ServiceCIDR object."""
    return Cluster(
        services=services,
        endpoint_slices=slices,
        nodes=nodes,
        proxy_config=config or KubeProxyConfig(),
        service_cidrs=(
            (ServiceCIDR(name="kubernetes", cidrs=tuple(ip_network(c) for c in service_cidrs)),)
            if service_cidrs
            else ()
        ),
    )


def packet(src: str, dst: str, dst_port: int, protocol: str = "TCP") -> Packet:
    """A packet from ``src`` to ``dst:dst_port``."""
    return Packet(
        src=ip_address(src), dst=ip_address(dst), port=dst_port, protocol=Protocol(protocol)
    )
