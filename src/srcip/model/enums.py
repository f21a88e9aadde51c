"""Enumerations whose values are the Kubernetes wire strings (STYLE §4)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AddressType",
    "CNIMode",
    "DetectLocalMode",
    "EntryPoint",
    "IPFamily",
    "IPMode",
    "Protocol",
    "ProxyMode",
    "ServiceType",
    "SessionAffinity",
    "SourceClass",
    "TrafficPolicy",
    "Verdict",
]


class Protocol(StrEnum):
    """Transport protocol of a service port (``spec.ports[].protocol``)."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class IPFamily(StrEnum):
    """IP family as the API spells it (``spec.ipFamilies``)."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


class AddressType(StrEnum):
    """EndpointSlice ``addressType``."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"
    FQDN = "FQDN"


class ServiceType(StrEnum):
    """``spec.type`` of a Service."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class TrafficPolicy(StrEnum):
    """``spec.externalTrafficPolicy`` and ``spec.internalTrafficPolicy``."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


class IPMode(StrEnum):
    """``status.loadBalancer.ingress[].ipMode`` (KP §10)."""

    VIP = "VIP"
    PROXY = "Proxy"


class SessionAffinity(StrEnum):
    """``spec.sessionAffinity`` (KP §9)."""

    NONE = "None"
    CLIENT_IP = "ClientIP"


class ProxyMode(StrEnum):
    """kube-proxy ``mode``; the two Linux backends this model covers (KP §15)."""

    IPTABLES = "iptables"
    NFTABLES = "nftables"


class DetectLocalMode(StrEnum):
    """kube-proxy ``detectLocalMode``: how it tells pod traffic (KP terminology)."""

    CLUSTER_CIDR = "ClusterCIDR"
    NODE_CIDR = "NodeCIDR"
    BRIDGE_INTERFACE = "BridgeInterface"
    INTERFACE_NAME_PREFIX = "InterfaceNamePrefix"


class CNIMode(StrEnum):
    """How the CNI reaches local pods, which decides the SNAT address toward them (KP §5.2)."""

    BRIDGE = "bridge"  # node talks to local pods from its pod-network gateway (e.g. cni0)
    ROUTED = "routed"  # node talks to local pods from its primary IP (routed CNIs)


class Verdict(StrEnum):
    """What kube-proxy's rules do with a new packet."""

    DNAT = "DNAT"  # rewritten to an endpoint
    DROP = "DROP"  # silently discarded (client times out)
    REJECT = "REJECT"  # ICMP unreachable (client gets "connection refused")
    ACCEPT = "ACCEPT"  # delivered to a listener of kube-proxy itself (health checks)
    NO_MATCH = "NO_MATCH"  # no kube-proxy rule applies; the packet goes on unchanged


class SourceClass(StrEnum):
    """How kube-proxy classifies a packet's source (KP terminology)."""

    POD = "pod"  # matches the local-traffic detector
    HOST = "host"  # an address of this node ("locally originated")
    EXTERNAL = "external"  # anything else


class EntryPoint(StrEnum):
    """Which kind of service address a packet was sent to (KP §3)."""

    CLUSTER_IP = "ClusterIP"
    EXTERNAL_IP = "ExternalIP"
    LOAD_BALANCER = "LoadBalancer"
    NODE_PORT = "NodePort"
    HEALTH_CHECK = "HealthCheckNodePort"
    PROXY_HEALTHZ = "ProxyHealthz"
