"""What the TCP peer of a pod *is*: the client, a node, the pod-network gateway, a sidecar…

A pod that sees ``10.0.1.2`` cannot tell by itself whether that is the client, the node
that masqueraded the connection (``externalTrafficPolicy: Cluster``, KP §5.2), the bridge
gateway that kube-proxy uses toward a local pod in a bridge CNI, a proxy-mode load balancer
or a sidecar on loopback. The downward API and a few settings tell it, so the echo server
reads them from its environment once (:meth:`PodEnvironment.from_env`) and classifies each
connection's peer with the pure :func:`classify_peer`.

Environment (all optional; empty means unset; lists are comma-separated):

=================  ===============================================================
``POD_NAME``       ``metadata.name`` (reported only)
``POD_NAMESPACE``  ``metadata.namespace`` (reported only)
``NODE_NAME``      ``spec.nodeName`` (reported only)
``POD_IP``         ``status.podIP`` (or several, as ``status.podIPs`` gives them)
``NODE_IP``        ``status.hostIP`` (or several)
``POD_CIDR``       this node's pod range(s): its first address is the bridge gateway
``CLUSTER_CIDR``   every pod range of the cluster
``LB_CIDRS``       where proxy-mode load balancers and their health checks come from
``NODE_CIDRS``     the nodes' subnet(s), to recognise another node's address
=================  ===============================================================

Rules, first match wins (:data:`RULES` keeps them in this order):

1. loopback (``127.0.0.0/8``, ``::1``) → ``loopback-sidecar``: only something in the pod's
   own network namespace connects from there (Istio's inbound ``127.0.0.6``, a sidecar);
2. ``POD_IP`` → ``loopback-sidecar``: the same namespace, through the pod's own address;
3. ``NODE_IP`` → ``node``: kube-proxy masqueraded to this node's address (KP §5.2);
4. the first address of ``POD_CIDR`` → ``pod-gateway``: masquerade toward a local pod in a
   bridge CNI uses the bridge (``cni0``) address (KP §5.2; ``srcip.model`` ``CNIMode``);
5. ``LB_CIDRS`` → ``load-balancer``; 6. ``NODE_CIDRS`` → ``node``;
7. ``POD_CIDR`` or ``CLUSTER_CIDR`` → ``pod``;
8. any other globally routable address → ``client``; anything else → ``unknown`` (a
   private address outside every known range may be a node, an internal load balancer or
   a client in the same VPC; the pod cannot tell).

An IPv4-mapped IPv6 peer (a dual-stack socket) is classified as its IPv4 address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from srcip.errors import UsageError

__all__ = ["RULES", "PeerKind", "PodEnvironment", "classify_peer"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class PeerKind(StrEnum):
    """What the socket peer is, as far as the pod can tell."""

    CLIENT = "client"
    NODE = "node"
    POD_GATEWAY = "pod-gateway"
    POD = "pod"
    LOOPBACK_SIDECAR = "loopback-sidecar"
    LOAD_BALANCER = "load-balancer"
    UNKNOWN = "unknown"


#: The rules of the module docstring, in order: (rule, kind).
RULES: tuple[tuple[str, PeerKind], ...] = (
    ("loopback", PeerKind.LOOPBACK_SIDECAR),
    ("POD_IP", PeerKind.LOOPBACK_SIDECAR),
    ("NODE_IP", PeerKind.NODE),
    ("POD_CIDR gateway", PeerKind.POD_GATEWAY),
    ("LB_CIDRS", PeerKind.LOAD_BALANCER),
    ("NODE_CIDRS", PeerKind.NODE),
    ("POD_CIDR, CLUSTER_CIDR", PeerKind.POD),
    ("global address", PeerKind.CLIENT),
    ("anything else", PeerKind.UNKNOWN),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodEnvironment:
    """The pod's identity and the ranges it knows, from the downward API and settings."""

    pod_name: str | None = None
    namespace: str | None = None
    node_name: str | None = None
    pod_ips: tuple[IPAddress, ...] = ()
    node_ips: tuple[IPAddress, ...] = ()
    pod_cidrs: tuple[IPNetwork, ...] = ()
    cluster_cidrs: tuple[IPNetwork, ...] = ()
    lb_cidrs: tuple[IPNetwork, ...] = ()
    node_cidrs: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PodEnvironment:
        """Read the variables of the module docstring; a bad value is a UsageError."""
        return cls(
            pod_name=env.get("POD_NAME") or None,
            namespace=env.get("POD_NAMESPACE") or None,
            node_name=env.get("NODE_NAME") or None,
            pod_ips=_addresses(env, "POD_IP"),
            node_ips=_addresses(env, "NODE_IP"),
            pod_cidrs=_networks(env, "POD_CIDR"),
            cluster_cidrs=_networks(env, "CLUSTER_CIDR"),
            lb_cidrs=_networks(env, "LB_CIDRS"),
            node_cidrs=_networks(env, "NODE_CIDRS"),
        )

    @property
    def pod_ip(self) -> IPAddress | None:
        """The first pod address (the one ``status.podIP`` names), or None."""
        return self.pod_ips[0] if self.pod_ips else None

    @property
    def gateways(self) -> tuple[IPAddress, ...]:
        """The first address of each ``POD_CIDR``: the bridge gateway (e.g. 10.244.1.1)."""
        return tuple(net.network_address + 1 for net in self.pod_cidrs if net.num_addresses > 2)


def classify_peer(peer: IPAddress | str | None, env: PodEnvironment) -> PeerKind:
    """The :class:`PeerKind` of a socket peer address (rules in the module docstring).

    ``peer`` may be text (``"10.0.0.1"``, a zone is ignored) or None (a unix socket, an
    address that does not parse): those are ``unknown``.
    """
    ip = _as_ip(peer)
    if ip is None:
        return PeerKind.UNKNOWN
    if ip.is_loopback or ip in env.pod_ips:
        return PeerKind.LOOPBACK_SIDECAR
    if ip in env.node_ips:
        return PeerKind.NODE
    if ip in env.gateways:
        return PeerKind.POD_GATEWAY
    if _within(ip, env.lb_cidrs):
        return PeerKind.LOAD_BALANCER
    if _within(ip, env.node_cidrs):
        return PeerKind.NODE
    if _within(ip, env.pod_cidrs) or _within(ip, env.cluster_cidrs):
        return PeerKind.POD
    return PeerKind.CLIENT if ip.is_global else PeerKind.UNKNOWN


def _as_ip(peer: IPAddress | str | None) -> IPAddress | None:
    if peer is None:
        return None
    if isinstance(peer, str):
        try:
            peer = ip_address(peer.partition("%")[0])
        except ValueError:
            return None
    if isinstance(peer, IPv6Address):
        if peer.ipv4_mapped is not None:
            return peer.ipv4_mapped
        if peer.scope_id:
            return IPv6Address(int(peer))
    return peer


def _within(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def _items(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


def _addresses(env: Mapping[str, str], name: str) -> tuple[IPAddress, ...]:
    found: list[IPAddress] = []
    for item in _items(env, name):
        try:
            found.append(ip_address(item))
        except ValueError as exc:
            raise UsageError(
                f"environment {name}={env[name]!r}: {item!r} is not an IP address. Fix: set"
                f" it from the downward API (fieldRef status.podIP / status.hostIP) or unset it"
            ) from exc
    return tuple(found)


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    found: list[IPNetwork] = []
    for item in _items(env, name):
        try:
            found.append(ip_network(item, strict=False))
        except ValueError as exc:
            raise UsageError(
                f"environment {name}={env[name]!r}: {item!r} is not a CIDR. Fix: write"
                " comma-separated ranges such as 10.244.0.0/16,fd00:10:244::/56"
            ) from exc
    return tuple(found)
