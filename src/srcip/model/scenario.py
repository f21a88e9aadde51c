"""The ``Scenario`` document: what Kubernetes objects cannot say about the path.

A Scenario (``srcip.dev/v1alpha1``) sits in the same YAML stream as ordinary manifests and
describes the load balancer in front (its mode, PROXY protocol, weighting, targets and
health check), hops in front of and inside the cluster (CDN/WAF, ingress controllers,
mesh sidecars), the clients, and how the application trusts forwarding headers. Every
field is documented in ``docs/reference/scenario.md``; :mod:`srcip.manifests.scenario`
validates the YAML and builds these classes.

Load balancer fields left ``None`` are filled by the provider preset (from the Service's
annotations, :mod:`srcip.model.providers`) or by srcip's defaults, and the effective value
says where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address

from srcip.model.objects import IPAddress, IPNetwork

__all__ = [
    "API_VERSION",
    "DEFAULT_CLIENT",
    "KIND",
    "Announcement",
    "AppSpec",
    "ClientSpec",
    "EdgeHop",
    "EdgeHopKind",
    "EventKind",
    "FailoverSpec",
    "ForwardedFor",
    "HealthCheckProtocol",
    "HealthCheckSpec",
    "HealthCheckTarget",
    "HopSpec",
    "IngressHop",
    "IngressKind",
    "Interception",
    "LoadBalancerMode",
    "LoadBalancerSpec",
    "Mesh",
    "PlacementPin",
    "ProxyProtocolVersion",
    "Scenario",
    "ScenarioEvent",
    "SidecarHop",
    "TargetType",
    "Weighting",
]

API_VERSION = "srcip.dev/v1alpha1"
KIND = "Scenario"
DEFAULT_CLIENT = IPv4Address("203.0.113.7")  # TEST-NET-3 (RFC 5737): the one default client


# --------------------------------------------------------------------------- load balancer


class LoadBalancerMode(StrEnum):
    """How the load balancer hands a connection to its target."""

    PASSTHROUGH = "passthrough"  # packet forwarder: client source kept (GCP, Azure, MetalLB)
    SNAT = "snat"  # packet forwarder that rewrites the source to its own address
    PROXY = "proxy"  # terminates TCP, opens a new connection (optionally PROXY protocol)
    HTTP = "http"  # L7: terminates HTTP, writes X-Forwarded-For / X-Forwarded-Proto


class ProxyProtocolVersion(StrEnum):
    """PROXY protocol version a sender writes or a listener expects."""

    OFF = "off"
    V1 = "v1"
    V2 = "v2"


class Weighting(StrEnum):
    """How the load balancer splits new connections over healthy targets."""

    EQUAL = "equal"  # each healthy node alike
    ENDPOINTS = "endpoints"  # by X-Load-Balancing-Endpoint-Weight (GKE pods-per-node)


class TargetType(StrEnum):
    """Where the load balancer sends: what the node (or pod) receives as destination."""

    NODE_PORT = "nodePort"  # node IP : NodePort (AWS instance targets, floating IP off)
    VIP = "vip"  # destination stays the load balancer IP (GCP, Azure floating IP, MetalLB)
    POD = "pod"  # pod IP : targetPort, kube-proxy bypassed (AWS LB controller ip targets)


class Announcement(StrEnum):
    """Which nodes attract the VIP's traffic (bare metal)."""

    ALL = "all"  # every healthy target (cloud LBs, MetalLB BGP with ECMP)
    L2 = "l2"  # one node answers ARP/NDP for the VIP (MetalLB L2, k3s ServiceLB per node)


class HealthCheckProtocol(StrEnum):
    """Protocol of the load balancer's health probe."""

    HTTP = "http"
    HTTPS = "https"
    TCP = "tcp"


class HealthCheckTarget(StrEnum):
    """What the load balancer probes on each target."""

    HEALTH_CHECK_NODE_PORT = "healthCheckNodePort"  # kube-proxy's per-Service /healthz (KP §13)
    PROXY_HEALTHZ = "proxyHealthz"  # kube-proxy :10256/healthz (KP §14)
    TRAFFIC_PORT = "trafficPort"  # the NodePort (or pod port) that carries traffic
    PORT = "port"  # an explicit ``port``


class ForwardedFor(StrEnum):
    """What an HTTP hop does with an incoming X-Forwarded-For."""

    APPEND = "append"  # add the peer at the right end
    REPLACE = "replace"  # drop the incoming value, write the peer alone


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheckSpec:
    """``spec.loadBalancer.healthCheck``; ``None`` fields come from the provider preset."""

    protocol: HealthCheckProtocol | None = None
    target: HealthCheckTarget | None = None
    port: int | None = None
    path: str | None = None
    interval_seconds: float | None = None
    timeout_seconds: float | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancerSpec:
    """``spec.loadBalancer``; ``None`` fields come from the provider preset or defaults."""

    provider: str | None = None
    mode: LoadBalancerMode | None = None
    proxy_protocol: ProxyProtocolVersion | None = None
    weighting: Weighting | None = None
    targets: TargetType | None = None
    preserve_client_ip: bool | None = None  # pod targets (AWS ip targets)
    cross_zone: bool | None = None
    announcement: Announcement | None = None
    address: IPAddress | None = None  # the LB's own source address (snat, proxy, http)
    forwarded_for: ForwardedFor | None = None  # http mode
    health_check: HealthCheckSpec = HealthCheckSpec()


# --------------------------------------------------------------------------- hops


class EdgeHopKind(StrEnum):
    """An HTTP proxy in front of the load balancer."""

    CDN = "cdn"
    WAF = "waf"
    PROXY = "proxy"  # any other reverse proxy


class IngressKind(StrEnum):
    """An ingress controller running as pods behind its own Service."""

    INGRESS_NGINX = "ingress-nginx"
    TRAEFIK = "traefik"
    ENVOY = "envoy"  # Envoy Gateway, Istio ingress gateway, Contour


class Mesh(StrEnum):
    """A service mesh whose sidecar sits in the app pod."""

    ISTIO = "istio"
    LINKERD = "linkerd"


class Interception(StrEnum):
    """How a sidecar intercepts inbound connections."""

    REDIRECT = "redirect"  # iptables REDIRECT: the sidecar re-originates from loopback
    TPROXY = "tproxy"  # TPROXY: the original source is kept


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeHop:
    """A CDN, WAF or reverse proxy in front: a new TCP connection from ``address``.

    ``headers`` are the client-address headers it writes, in order (``x-forwarded-for``,
    ``cf-connecting-ip``, ``true-client-ip``, ``x-real-ip``, ``forwarded``);
    ``x-forwarded-for`` is appended to or replaced per ``forwarded_for``, single-IP
    headers are always overwritten with the peer.
    """

    kind: EdgeHopKind
    name: str
    address: IPAddress
    headers: tuple[str, ...] = ("x-forwarded-for",)
    forwarded_for: ForwardedFor = ForwardedFor.APPEND
    proxy_protocol: ProxyProtocolVersion = ProxyProtocolVersion.OFF  # sent to the next hop


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressHop:
    """An ingress controller: pods behind ``service``, proxying to the Scenario's Service.

    ``config`` holds the controller's settings by their own names: ingress-nginx ConfigMap
    keys (``use-forwarded-headers``, ``compute-full-forwarded-for``,
    ``forwarded-for-header``, ``proxy-real-ip-cidr``, ``use-proxy-protocol``,
    ``enable-real-ip``), Traefik entry point options (``forwardedHeaders.trustedIPs``,
    ``forwardedHeaders.insecure``, ``proxyProtocol.trustedIPs``), Envoy
    (``xffNumTrustedHops``, ``useRemoteAddress``, ``proxyProtocol``). ``config_map`` names
    a ConfigMap in the input whose data is merged under ``config`` (``config`` wins).
    """

    kind: IngressKind
    name: str
    service: str  # namespace/name of the controller's Service
    config: tuple[tuple[str, str], ...] = ()
    config_map: str | None = None  # namespace/name


@dataclass(frozen=True, slots=True, kw_only=True)
class SidecarHop:
    """A mesh sidecar in the app pod, between the pod's network and the app."""

    mesh: Mesh
    name: str
    interception: Interception = Interception.REDIRECT


HopSpec = EdgeHop | IngressHop | SidecarHop


# --------------------------------------------------------------------------- clients, app


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSpec:
    """One client. ``node`` or ``pod`` places it inside the cluster (host or pod network).

    ``headers`` are sent by the client itself, e.g. a forged ``X-Forwarded-For``.
    """

    name: str
    address: IPAddress
    node: str | None = None
    pod: str | None = None  # namespace/name
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSpec:
    """How the application resolves its client (:class:`srcip.clientip.TrustConfig`).

    ``trusted_proxies`` empty and ``trusted_hops`` unset: the app uses the TCP peer (or the
    PROXY header's source when ``proxy_protocol`` is on).
    """

    trusted_proxies: tuple[str, ...] = ()
    source: str = "x-forwarded-for"
    trusted_hops: int | None = None
    proxy_protocol: ProxyProtocolVersion = ProxyProtocolVersion.OFF  # the app's listener
    proxy_protocol_trusted: tuple[str, ...] = ()
    port: int | None = None  # the container port the app listens on (default: targetPort)


# --------------------------------------------------------------------------- placement, failover


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementPin:
    """``spec.placement``: replicas per node for one workload, instead of the scheduler."""

    workload: str | None  # namespace/name; None: the workload behind the Scenario's Service
    nodes: tuple[tuple[str, int], ...]


class EventKind(StrEnum):
    """A failover event."""

    DELETE_POD = "delete"  # pod deletion with its grace period and preStop
    DRAIN_NODE = "drain"  # node cordoned and drained (taint + eviction of its pods)
    UNREADY = "unready"  # a pod's readiness probe starts failing
    READY = "ready"  # a pod becomes ready again
    SCALE = "scale"  # a workload scaled to ``replicas``


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioEvent:
    """``delete pod/web-0 at 10s``: what happens, to which object, when."""

    at_seconds: float
    kind: EventKind
    target: str  # "pod/NAME", "node/NAME", "deployment/NAME"
    replicas: int | None = None  # SCALE only


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverSpec:
    """``spec.failover``: timing the failover timeline needs beyond the objects.

    ``endpoint_delay_seconds``: from a pod's change to every kube-proxy having applied the
    new EndpointSlice. ``terminating_fallback``: kube-proxy keeps using
    terminating-but-serving endpoints when no ready one is left (KEP-1669, GA 1.28).
    """

    endpoint_delay_seconds: float = 1.0
    terminating_fallback: bool = True
    duration_seconds: float | None = None  # default: until the last effect settles
    events: tuple[ScenarioEvent, ...] = ()


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One ``kind: Scenario`` document, validated."""

    name: str
    service: str | None = None  # namespace/name; None: every externally reachable Service
    load_balancer: LoadBalancerSpec = LoadBalancerSpec()
    hops: tuple[HopSpec, ...] = ()
    clients: tuple[ClientSpec, ...] = ()
    app: AppSpec = AppSpec()
    placement: tuple[PlacementPin, ...] = ()
    failover: FailoverSpec = FailoverSpec()
    lb_source_range: IPNetwork | None = None  # where the LB's own addresses come from

    @property
    def edge_hops(self) -> tuple[EdgeHop, ...]:
        """The hops in front of the load balancer, client side first."""
        return tuple(h for h in self.hops if isinstance(h, EdgeHop))

    @property
    def ingress(self) -> IngressHop | None:
        """The ingress controller hop, if any (at most one)."""
        return next((h for h in self.hops if isinstance(h, IngressHop)), None)

    @property
    def sidecar(self) -> SidecarHop | None:
        """The app pod's mesh sidecar, if any (at most one)."""
        return next((h for h in self.hops if isinstance(h, SidecarHop)), None)
