"""Service documents → :class:`srcip.model.objects.Service` (KP §1), checked as in KP §16.

What is modelled: the fields kube-proxy reads, with the apiserver's defaults (type
ClusterIP, protocol TCP, ``targetPort`` = ``port``, both traffic policies Cluster, affinity
timeout 10800 s, ``allocateLoadBalancerNodePorts`` true) and those checks of upstream
``ValidateService`` that concern them, so a manifest the apiserver would refuse is refused
here too, with the field and a fix. A ClusterIP, nodePort or healthCheckNodePort that the
manifest leaves out is left empty here; :mod:`srcip.manifests.allocate` fills it once every
Service is known.

Left out: ``externalName``, ``loadBalancerIP``/``loadBalancerClass``, ``appProtocol``,
``publishNotReadyAddresses`` (kube-proxy reads none of them), and the legacy
source-ranges annotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lightkube.models.core_v1 import ServiceSpec
from lightkube.resources.core_v1 import Service as LkService

from srcip.errors import Where
from srcip.manifests.clusterip import IPFamilyPolicy, read_cluster_ips, read_ip_families
from srcip.manifests.documents import Document
from srcip.manifests.fields import (
    check_port,
    lightkube_object,
    object_name,
    object_namespace,
    parse_cidr,
    parse_enum,
    parse_ip,
    string_pairs,
)
from srcip.model.enums import (
    IPFamily,
    IPMode,
    Protocol,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from srcip.model.objects import (
    DEFAULT_AFFINITY_TIMEOUT,
    IPAddress,
    IPNetwork,
    LoadBalancerIngress,
    Service,
    ServicePort,
)

__all__ = ["ServiceDraft", "convert_service"]

MAX_AFFINITY_TIMEOUT = 86400  # KP §1.7


class TrafficDistribution(StrEnum):
    """``spec.trafficDistribution`` values the apiserver accepts (KP §16)."""

    PREFER_CLOSE = "PreferClose"
    PREFER_SAME_ZONE = "PreferSameZone"
    PREFER_SAME_NODE = "PreferSameNode"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDraft:
    """A converted Service plus what allocation needs to complete it."""

    service: Service
    where: Where
    ip_families: tuple[IPFamily, ...] = ()  # spec.ipFamilies as written
    ip_family_policy: IPFamilyPolicy | None = None


def convert_service(doc: Document) -> ServiceDraft:
    """Convert and validate one ``v1 Service``."""
    obj = lightkube_object(doc, LkService)
    spec = obj.spec or ServiceSpec()
    type_ = parse_enum(doc, ServiceType, spec.type, "spec.type", ServiceType.CLUSTER_IP)
    headless, cluster_ips = read_cluster_ips(doc, spec, type_)
    external_ips = tuple(
        parse_ip(doc, text, f"spec.externalIPs[{index}]")
        for index, text in enumerate(spec.externalIPs or ())
    )
    external_policy = _external_policy(doc, spec, type_, external_ips)
    affinity, affinity_timeout = _session_affinity(doc, spec)
    service = Service(
        namespace=object_namespace(obj.metadata),
        name=object_name(doc, obj.metadata),
        type=type_,
        cluster_ips=cluster_ips,
        headless=headless,
        external_ips=external_ips,
        ports=_ports(doc, spec, type_, headless),
        selector=string_pairs(doc, spec.selector, "spec.selector"),
        external_traffic_policy=external_policy,
        internal_traffic_policy=parse_enum(
            doc,
            TrafficPolicy,
            spec.internalTrafficPolicy,
            "spec.internalTrafficPolicy",
            TrafficPolicy.CLUSTER,  # KP §1.3
        ),
        health_check_node_port=_health_check_node_port(doc, spec, type_, external_policy),
        load_balancer_source_ranges=_source_ranges(doc, spec, type_),
        load_balancer_ingress=_ingress(doc, obj.status),
        allocate_load_balancer_node_ports=_allocate_node_ports(doc, spec, type_),
        session_affinity=affinity,
        session_affinity_timeout=affinity_timeout,
        traffic_distribution=_traffic_distribution(doc, spec),
        annotations=string_pairs(doc, obj.metadata.annotations, "metadata.annotations"),
        load_balancer_class=spec.loadBalancerClass or None,
    )
    families, policy = read_ip_families(doc, spec, cluster_ips)
    return ServiceDraft(
        service=service, where=doc.where, ip_families=families, ip_family_policy=policy
    )


# --------------------------------------------------------------------------- ports


def _ports(doc: Document, spec: Any, type_: ServiceType, headless: bool) -> tuple[ServicePort, ...]:
    raw: list[Any] = spec.ports or []
    if not raw and not headless and type_ is not ServiceType.EXTERNAL_NAME:
        raise doc.error(
            "is empty",
            field="spec.ports",
            fix="add a port, e.g. ports: [{port: 80, targetPort: 8080}]",
        )
    ports = tuple(_port(doc, index, entry, type_, len(raw) > 1) for index, entry in enumerate(raw))
    _check_distinct(doc, ports)
    return ports


def _port(doc: Document, index: int, raw: Any, type_: ServiceType, several: bool) -> ServicePort:
    field = f"spec.ports[{index}]"
    port = check_port(doc, raw.port, f"{field}.port")
    if several and not raw.name:
        raise doc.error(
            "is required when a Service has more than one port",
            field=f"{field}.name",
            fix="name every port (e.g. name: http)",
        )
    node_port: int = raw.nodePort or 0
    if node_port and type_ is ServiceType.CLUSTER_IP:
        raise doc.error(
            "may not be set when type is ClusterIP",
            field=f"{field}.nodePort",
            value=node_port,
            fix="remove nodePort, or set type: NodePort or LoadBalancer",
        )
    if node_port:
        check_port(doc, node_port, f"{field}.nodePort")
    return ServicePort(
        name=raw.name or "",
        protocol=parse_enum(doc, Protocol, raw.protocol, f"{field}.protocol", Protocol.TCP),
        port=port,
        target_port=_target_port(doc, raw.targetPort, port, f"{field}.targetPort"),
        node_port=node_port,
        app_protocol=raw.appProtocol or None,
    )


def _target_port(doc: Document, value: int | str | None, port: int, field: str) -> int | str:
    """A number or a container port name; absent, 0 or "" mean ``port`` (API defaulting)."""
    if value is None or value in (0, ""):
        return port
    if isinstance(value, int):
        return check_port(doc, value, field)
    return value


def _check_distinct(doc: Document, ports: tuple[ServicePort, ...]) -> None:
    """Names, (protocol, port) and (protocol, nodePort) are unique (KP §16)."""
    seen: dict[tuple[str, object, object], int] = {}
    for index, port in enumerate(ports):
        keys = (
            ("name", None, port.name),
            ("port", port.protocol, port.port),
            ("nodePort", port.protocol, port.node_port),
        )
        for attr, protocol, value in keys:
            first = seen.setdefault((attr, protocol, value), index) if value else index
            if first != index:
                per = f"/{protocol}" if protocol else ""
                raise doc.error(
                    f"repeats spec.ports[{first}].{attr}{per}",
                    field=f"spec.ports[{index}].{attr}",
                    value=value,
                    fix=f"give each port its own {attr}" + (" per protocol" if protocol else ""),
                )


# --------------------------------------------------------------------------- policies


def _external_policy(
    doc: Document, spec: Any, type_: ServiceType, external_ips: tuple[IPAddress, ...]
) -> TrafficPolicy:
    field = "spec.externalTrafficPolicy"
    policy = parse_enum(
        doc, TrafficPolicy, spec.externalTrafficPolicy, field, TrafficPolicy.CLUSTER
    )
    accessible = type_ in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) or (
        type_ is ServiceType.CLUSTER_IP and bool(external_ips)
    )  # KP §1.2
    if spec.externalTrafficPolicy and not accessible:
        # The apiserver refuses it on Services that are not externally accessible (KP §16).
        raise doc.error(
            "may only be set on NodePort or LoadBalancer Services, "
            "or ClusterIP Services with externalIPs",
            field=field,
            value=spec.externalTrafficPolicy,
            fix="remove externalTrafficPolicy: it has no effect on this Service",
        )
    return policy


def _health_check_node_port(
    doc: Document, spec: Any, type_: ServiceType, policy: TrafficPolicy
) -> int:
    value: int = spec.healthCheckNodePort or 0
    if not value:
        return 0
    field = "spec.healthCheckNodePort"
    if type_ is not ServiceType.LOAD_BALANCER or policy is not TrafficPolicy.LOCAL:
        # Only Services that need a health check may carry one (KP §1.6, §16).
        raise doc.error(
            "may only be set when type is LoadBalancer and externalTrafficPolicy is Local",
            field=field,
            value=value,
            fix="remove healthCheckNodePort, or use type: LoadBalancer with "
            "externalTrafficPolicy: Local",
        )
    return check_port(doc, value, field)


def _source_ranges(doc: Document, spec: Any, type_: ServiceType) -> tuple[IPNetwork, ...]:
    ranges: list[str] = spec.loadBalancerSourceRanges or []
    if ranges and type_ is not ServiceType.LOAD_BALANCER:
        raise doc.error(
            "may only be set when type is LoadBalancer",
            field="spec.loadBalancerSourceRanges",
            value=ranges,
            fix="remove it, or set type: LoadBalancer (it never filters NodePort or "
            "externalIP traffic)",
        )
    # Surrounding whitespace is tolerated and trimmed (KP §8.5).
    return tuple(
        parse_cidr(doc, text.strip(), f"spec.loadBalancerSourceRanges[{index}]")
        for index, text in enumerate(ranges)
    )


def _ingress(doc: Document, status: Any) -> tuple[LoadBalancerIngress, ...]:
    balancer = status.loadBalancer if status is not None else None
    entries: list[Any] = (balancer.ingress if balancer is not None else None) or []
    return tuple(_ingress_entry(doc, index, entry) for index, entry in enumerate(entries))


def _ingress_entry(doc: Document, index: int, entry: Any) -> LoadBalancerIngress:
    field = f"status.loadBalancer.ingress[{index}]"
    mode = None
    if entry.ipMode is not None:
        mode = parse_enum(doc, IPMode, entry.ipMode, f"{field}.ipMode")
        if not entry.ip:
            raise doc.error(
                "may only be set together with ip",
                field=f"{field}.ipMode",
                value=entry.ipMode,
                fix="add the ip, or remove ipMode (kube-proxy ignores hostname-only entries)",
            )
    return LoadBalancerIngress(
        ip=parse_ip(doc, entry.ip, f"{field}.ip") if entry.ip else None,
        hostname=entry.hostname or None,
        ip_mode=mode,
    )


def _session_affinity(doc: Document, spec: Any) -> tuple[SessionAffinity, int]:
    field = "spec.sessionAffinity"
    affinity = parse_enum(doc, SessionAffinity, spec.sessionAffinity, field, SessionAffinity.NONE)
    config = spec.sessionAffinityConfig
    if affinity is SessionAffinity.NONE:
        if config is not None:
            raise doc.error(
                "may only be set when sessionAffinity is ClientIP",
                field="spec.sessionAffinityConfig",
                fix="remove sessionAffinityConfig, or set sessionAffinity: ClientIP",
            )
        return affinity, DEFAULT_AFFINITY_TIMEOUT
    client_ip = config.clientIP if config is not None else None
    timeout: int | None = client_ip.timeoutSeconds if client_ip is not None else None
    if timeout is None:
        return affinity, DEFAULT_AFFINITY_TIMEOUT  # KP §1.7
    if not 1 <= timeout <= MAX_AFFINITY_TIMEOUT:
        raise doc.error(
            "is out of range",
            field="spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            value=timeout,
            fix=f"use 1 to {MAX_AFFINITY_TIMEOUT} seconds (default {DEFAULT_AFFINITY_TIMEOUT})",
        )
    return affinity, timeout


def _allocate_node_ports(doc: Document, spec: Any, type_: ServiceType) -> bool:
    value: bool | None = spec.allocateLoadBalancerNodePorts
    if value is None:
        return True
    if type_ is not ServiceType.LOAD_BALANCER:
        raise doc.error(
            "may only be set when type is LoadBalancer",
            field="spec.allocateLoadBalancerNodePorts",
            value=value,
            fix="remove allocateLoadBalancerNodePorts",
        )
    return value


def _traffic_distribution(doc: Document, spec: Any) -> str | None:
    value = spec.trafficDistribution
    if value is None:
        return None
    field = "spec.trafficDistribution"
    return str(parse_enum(doc, TrafficDistribution, value, field))
