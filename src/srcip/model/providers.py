"""Provider presets: a Service's annotations and a Scenario's ``loadBalancer`` → one LB.

:func:`effective_load_balancer` resolves every load balancer setting for one Service in
layers, each overriding the one before: srcip's defaults (a passthrough LB to the VIP,
health check by policy), the provider's defaults, the Service's annotations as the
provider's controller reads them, and last the fields set in ``spec.loadBalancer``. Every
effective field carries a :class:`~srcip.model.loadbalancer.Setting` naming its source.

The provider is ``spec.provider`` if given, else inferred from ``loadBalancerClass``,
annotation prefixes, and the Nodes' ``spec.providerID``. Facts come from the controllers'
sources and docs (``docs/reference/providers.md`` lists them per provider); the few that
could not be confirmed are marked *unverified* there and in comments here. Left out: per-port
settings other than Azure's and Scaleway's probe keys (the Service's first port decides),
internal vs external schemes, TLS, sticky sessions, and GKE subsetting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from srcip.model.loadbalancer import EffectiveLoadBalancer, Setting
from srcip.model.objects import IPAddress, KubeProxyConfig, Node, Service
from srcip.model.provider_presets import PRESETS, Draft
from srcip.model.scenario import (
    Announcement,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    LoadBalancerSpec,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)

__all__ = ["PROVIDERS", "effective_load_balancer", "infer_provider"]

PROVIDERS: Mapping[str, str] = MappingProxyType(
    {
        "gke": "GKE passthrough Network LB (ingress-gce): client IP and VIP kept",
        "aws-clb": "AWS in-tree default, Classic ELB: a TCP proxy (PROXY v1 with '*')",
        "aws-nlb": "AWS in-tree NLB (aws-load-balancer-type: nlb): instance targets",
        "aws-nlb-instance": "AWS Load Balancer Controller NLB, instance targets via NodePort",
        "aws-nlb-ip": "AWS Load Balancer Controller NLB, pod IP targets (kube-proxy bypassed)",
        "azure": "Azure Standard LB: passthrough, floating IP (VIP targets) by default",
        "digitalocean": "DigitalOcean: network LB passthrough by default; type REGIONAL proxies",
        "linode": "Linode/Akamai NodeBalancer: a TCP proxy, optional PROXY v1/v2",
        "hetzner": "Hetzner Cloud LB: a TCP proxy, optional PROXY protocol",
        "scaleway": "Scaleway LB: a TCP proxy, optional PROXY v1/v2",
        "openstack": "OpenStack Octavia (amphora): a TCP proxy, optional PROXY protocol",
        "metallb-l2": "MetalLB layer 2: one elected node answers ARP/NDP for the VIP",
        "metallb-bgp": "MetalLB BGP: the router spreads over announcing nodes (ECMP)",
        "k3s": "k3s ServiceLB (klipper-lb): svclb pods forward from each node",
        "kind": "cloud-provider-kind: an Envoy proxy container per Service",
        "generic": "no provider: passthrough to the VIP, equal split, health check by policy",
    }
)

_CLASSES = {
    "service.k8s.aws/nlb": "aws-nlb-instance",  # LB controller (docs/guide/service/nlb.md)
    "networking.gke.io/l4-regional-external": "gke",
    "networking.gke.io/l4-regional-internal": "gke",
}
_ANNOTATION_PREFIXES = (
    ("service.beta.kubernetes.io/azure-", "azure"),
    ("service.beta.kubernetes.io/do-loadbalancer-", "digitalocean"),
    ("service.beta.kubernetes.io/linode-loadbalancer-", "linode"),
    ("load-balancer.hetzner.cloud/", "hetzner"),
    ("service.beta.kubernetes.io/scw-", "scaleway"),
    ("loadbalancer.openstack.org/", "openstack"),
    ("metallb.universe.tf/", "metallb-l2"),  # L2 vs BGP lives in *Advertisement objects
    ("metallb.io/", "metallb-l2"),
    ("networking.gke.io/", "gke"),
    ("cloud.google.com/", "gke"),
)
_NODE_PREFIXES = (
    ("gce://", "gke"),
    ("aws://", "aws-clb"),  # in-tree default without other signals
    ("azure://", "azure"),
    ("digitalocean://", "digitalocean"),
    ("linode://", "linode"),
    ("hcloud://", "hetzner"),
    ("scaleway://", "scaleway"),
    ("openstack://", "openstack"),
    ("kind://", "kind"),
    ("k3s://", "k3s"),
)
_AWS = "service.beta.kubernetes.io/aws-load-balancer-"


def _aws_provider(annotations: Mapping[str, str]) -> str | None:
    """AWS in-tree vs LB controller, from ``aws-load-balancer-type`` and friends."""
    kind = annotations.get(f"{_AWS}type", "").strip().lower()
    target = annotations.get(f"{_AWS}nlb-target-type", "").strip().lower()
    if kind == "nlb-ip" or (target == "ip" and kind in ("external", "")):
        return "aws-nlb-ip"
    if kind == "external" or target == "instance":
        return "aws-nlb-instance"
    if kind == "nlb":
        return "aws-nlb"
    if any(key.startswith(_AWS) for key in annotations):
        return "aws-clb"
    return None


def infer_provider(service: Service, nodes: Sequence[Node] = ()) -> tuple[str | None, str]:
    """The provider the Service's objects point to, and why; ``(None, reason)`` if none."""
    annotations = dict(service.annotations)
    cls = service.load_balancer_class
    if cls is not None and cls in _CLASSES:
        provider = _CLASSES[cls]
        if provider == "aws-nlb-instance":
            provider = _aws_provider(annotations) or provider
        return provider, f"inferred from loadBalancerClass {cls}"
    aws = _aws_provider(annotations)
    if aws is not None:
        return aws, "inferred from the Service's aws-load-balancer-* annotations"
    for prefix, provider in _ANNOTATION_PREFIXES:
        key = next((k for k in annotations if k.startswith(prefix)), None)
        if key is not None:
            return provider, f"inferred from annotation {key}"
    return _from_nodes(nodes) or (None, "no provider given or inferred: generic load balancer")


# The last node list scanned and its answer: every Service of a cluster asks about the same
# tuple of nodes, and a scan of 5,000 nodes without a providerID is not free.
_LAST_NODES: list[tuple[Sequence[Node], tuple[str, str] | None]] = []


def _from_nodes(nodes: Sequence[Node]) -> tuple[str, str] | None:
    """The provider the first node with a known providerID prefix points to, and why."""
    if _LAST_NODES and _LAST_NODES[0][0] is nodes:
        return _LAST_NODES[0][1]
    found = None
    for node in nodes:
        for prefix, provider in _NODE_PREFIXES:
            if node.provider_id is not None and node.provider_id.startswith(prefix):
                found = provider, f"inferred from node {node.name} providerID {prefix}..."
                break
        if found is not None:
            break
    _LAST_NODES[:] = [(nodes, found)]
    return found


# --------------------------------------------------------------------------- layering


@dataclass(frozen=True, slots=True)
class _Field:
    """One Scenario field path and how to read it from the spec."""

    name: str
    read: Callable[[LoadBalancerSpec], object]


_SPEC_FIELDS = (
    _Field("mode", lambda s: s.mode),
    _Field("proxyProtocol", lambda s: s.proxy_protocol),
    _Field("weighting", lambda s: s.weighting),
    _Field("targets", lambda s: s.targets),
    _Field("preserveClientIP", lambda s: s.preserve_client_ip),
    _Field("crossZone", lambda s: s.cross_zone),
    _Field("announcement", lambda s: s.announcement),
    _Field("forwardedFor", lambda s: s.forwarded_for),
    _Field("healthCheck.protocol", lambda s: s.health_check.protocol),
    _Field("healthCheck.target", lambda s: s.health_check.target),
    _Field("healthCheck.port", lambda s: s.health_check.port),
    _Field("healthCheck.path", lambda s: s.health_check.path),
    _Field("healthCheck.intervalSeconds", lambda s: s.health_check.interval_seconds),
    _Field("healthCheck.timeoutSeconds", lambda s: s.health_check.timeout_seconds),
    _Field("healthCheck.healthyThreshold", lambda s: s.health_check.healthy_threshold),
    _Field("healthCheck.unhealthyThreshold", lambda s: s.health_check.unhealthy_threshold),
)


def _generic_defaults(draft: Draft, local: bool) -> None:
    """srcip's defaults: passthrough to the VIP; Local → healthCheckNodePort, else TCP."""
    src = "srcip default"
    draft.put("mode", LoadBalancerMode.PASSTHROUGH, src)
    draft.put("proxyProtocol", ProxyProtocolVersion.OFF, src)
    draft.put("weighting", Weighting.EQUAL, src)
    draft.put("targets", TargetType.VIP, src)
    draft.put("preserveClientIP", True, src)
    draft.put("crossZone", True, src)
    draft.put("announcement", Announcement.ALL, src)
    draft.put("forwardedFor", ForwardedFor.APPEND, src)
    if local:  # KP §13: kube-proxy answers 200 only where a local endpoint is ready
        draft.health(src, HealthCheckProtocol.HTTP, HealthCheckTarget.HEALTH_CHECK_NODE_PORT)
        draft.put("healthCheck.path", "/healthz", src)
    else:
        draft.health(src, HealthCheckProtocol.TCP, HealthCheckTarget.TRAFFIC_PORT)
        draft.put("healthCheck.path", None, src)
    draft.timing(src, interval=5, timeout=5, healthy=2, unhealthy=2)


def _apply_spec(draft: Draft, spec: LoadBalancerSpec) -> None:
    for item in _SPEC_FIELDS:
        value = item.read(spec)
        if value is not None:
            draft.put(item.name, value, f"spec.loadBalancer.{item.name}")
    if spec.health_check.port is not None and spec.health_check.target is None:
        draft.put(
            "healthCheck.target", HealthCheckTarget.PORT, "spec.loadBalancer.healthCheck.port"
        )
    kube_proxy_ports = (HealthCheckTarget.HEALTH_CHECK_NODE_PORT, HealthCheckTarget.PROXY_HEALTHZ)
    if (
        draft.get("targets") is TargetType.POD
        and draft.get("healthCheck.target") in kube_proxy_ports
        and spec.health_check.target is None
    ):
        # Pod targets have no kube-proxy health server: the LB probes the pod's own port
        # (aws-load-balancer-controller: health-check port "traffic-port" for ip targets).
        draft.put("healthCheck.target", HealthCheckTarget.TRAFFIC_PORT, "pod targets default")


def _resolve_port(draft: Draft, service: Service, config: KubeProxyConfig) -> int:
    """The probed port for the effective target (pod traffic ports resolve per pod: 0)."""
    target = draft.get("healthCheck.target")
    first = service.ports[0] if service.ports else None
    if target is HealthCheckTarget.HEALTH_CHECK_NODE_PORT:
        return service.health_check_node_port
    if target is HealthCheckTarget.PROXY_HEALTHZ:
        return config.healthz_port  # KP §14.1
    if target is HealthCheckTarget.PORT:
        explicit = draft.get("healthCheck.port")
        return explicit if isinstance(explicit, int) else 0
    if first is None or draft.get("targets") is TargetType.POD:
        return 0
    return first.node_port or first.port


def _notes(draft: Draft, service: Service, provider: str | None) -> None:
    """Contradictions worth a line in the trace."""
    local = service.external_policy_local
    target = draft.get("healthCheck.target")
    http = draft.get("healthCheck.protocol") is not HealthCheckProtocol.TCP
    kube_proxy_port = target in (
        HealthCheckTarget.HEALTH_CHECK_NODE_PORT,
        HealthCheckTarget.PROXY_HEALTHZ,
    )
    if draft.hc_proxy and http and kube_proxy_port:
        draft.note(
            "the health check carries the PROXY header to kube-proxy's health server, which "
            "cannot parse it: every probe fails (aws-load-balancer-controller docs warn "
            "against PROXY v2 with instance targets and Local)"
        )
    if target is HealthCheckTarget.HEALTH_CHECK_NODE_PORT and not service.health_check_node_port:
        draft.note("the health check targets healthCheckNodePort but the Service has none")
    if draft.get("weighting") is Weighting.ENDPOINTS and not local:
        draft.note(
            "weighting by endpoints needs externalTrafficPolicy: Local: with Cluster no node "
            "reports X-Load-Balancing-Endpoint-Weight, so the split falls back to equal"
        )
    pod_capable = (None, "generic", "aws-nlb-ip", "aws-nlb-instance")
    if draft.get("targets") is TargetType.POD and provider not in pod_capable:
        draft.note(f"provider {provider} has no pod IP targets; modelled as asked")


def effective_load_balancer(
    service: Service,
    spec: LoadBalancerSpec,
    *,
    nodes: Sequence[Node] = (),
    address: IPAddress,
    proxy_config: KubeProxyConfig | None = None,
) -> EffectiveLoadBalancer:
    """Every LB setting for ``service``: srcip defaults < provider < annotations < ``spec``.

    ``address`` is the LB's own source address (used by snat, proxy and http modes, and as
    the probes' source) unless ``spec.address`` is set. ``proxy_config`` gives kube-proxy's
    ``healthzPort`` (default 10256).
    """
    config = proxy_config or KubeProxyConfig()
    if spec.provider is not None:
        provider: str | None = spec.provider
        why = "spec.loadBalancer.provider"
    else:
        provider, why = infer_provider(service, nodes)
    draft = Draft(annotations=dict(service.annotations), service=service)
    _generic_defaults(draft, service.external_policy_local)
    if provider is not None and provider in PRESETS:
        PRESETS[provider](draft)
    _apply_spec(draft, spec)
    if draft.get("targets") is TargetType.VIP and not any(
        ingress.ip is not None for ingress in service.load_balancer_ingress
    ):
        # No IP in the status (a hostname-only LB, or none yet): no node routes the VIP, so
        # the LB can only reach the nodes on their NodePorts.
        draft.put("targets", TargetType.NODE_PORT, "status.loadBalancer has no IP")
    _notes(draft, service, provider)
    lb_address = spec.address if spec.address is not None else address
    settings = (
        Setting(name="provider", value=provider or "generic", source=why),
        Setting(
            name="address",
            value=str(lb_address),
            source="spec.loadBalancer.address" if spec.address is not None else "srcip default",
        ),
        *draft.settings(),
    )
    return draft.build(
        provider=provider,
        address=lb_address,
        port=_resolve_port(draft, service, config),
        settings=settings,
    )
