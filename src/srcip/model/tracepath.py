"""The pieces a trace is made of: hop records, the state of a path, outcomes, lookups."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from ipaddress import IPv4Address
from typing import NamedTuple

from srcip.clientip.resolve import Resolution
from srcip.errors import UsageError
from srcip.model.enums import ServiceType
from srcip.model.index import ClusterIndex
from srcip.model.loadbalancer import (
    EffectiveLoadBalancer,
    LoadBalancerSplit,
    TargetHealth,
    hand_off,
    probe_targets,
    split,
)
from srcip.model.objects import Cluster, IPAddress, Node, Pod, Service, ServicePort, family_of
from srcip.model.packet import Packet
from srcip.model.providers import effective_load_balancer
from srcip.model.scenario import Scenario, TargetType
from srcip.model.view import View
from srcip.proxyproto import ProxyHeader

__all__ = [
    "DEFAULT_LB_ADDRESS",
    "FORWARDING_HEADERS",
    "HopRecord",
    "Outcome",
    "PathState",
    "balance",
    "entry_services",
    "lb_address",
    "lb_to_node",
    "pod_table",
    "record",
    "scenario_lb",
    "target_port_of",
]

DEFAULT_LB_ADDRESS = IPv4Address("10.0.0.10")  # a cloud LB's private address (docs)

#: Headers shown per hop: the ones that carry or describe a client address.
FORWARDING_HEADERS = frozenset(
    {
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "x-original-forwarded-for",
        "cf-connecting-ip",
        "true-client-ip",
        "x-envoy-external-address",
        "x-forwarded-proto",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HopRecord:
    """What one listener on the path received."""

    name: str  # "load balancer", "kube-proxy on node-2", "pod web-1", "app", ...
    kind: str
    peer: IPAddress  # the TCP peer it sees
    local: IPAddress
    proxy: ProxyHeader | None
    headers: tuple[tuple[str, str], ...]  # forwarding-related headers only
    rules: tuple[str, ...] = ()  # KP references for kube-proxy hops


class Outcome(NamedTuple):
    """One way a client's new connection can end, with its exact probability.

    A named tuple, like :class:`PathState`, for the same reason: a trace makes one per path.
    """

    probability: Fraction
    client: str
    node: str | None
    pod: str | None
    delivered: bool
    dropped_at: str | None  # silent drop: the client times out
    refused_at: str | None  # an error answer or a reset
    pod_peer: IPAddress | None  # the TCP peer the (app) pod sees
    app_client_ip: IPAddress | None
    resolution: Resolution | None
    hops: tuple[HopRecord, ...]
    verdict: str = ""
    spoofable: bool = False
    ingress_pod: str | None = None
    notes: tuple[str, ...] = ()


class PathState(NamedTuple):
    """A path under construction: probability so far and the hops recorded.

    A named tuple rather than a frozen dataclass (STYLE §4): a trace through a thousand
    nodes makes tens of thousands of them, and ``_replace`` costs a fifth of
    ``dataclasses.replace``.
    """

    client: str
    probability: Fraction
    hops: tuple[HopRecord, ...]
    node: str | None = None
    pod: str | None = None
    pod_peer: IPAddress | None = None
    ingress_pod: str | None = None
    notes: tuple[str, ...] = ()

    def _end(self, **fields: object) -> Outcome:
        base: dict[str, object] = {
            "probability": self.probability,
            "client": self.client,
            "node": self.node,
            "pod": self.pod,
            "delivered": False,
            "dropped_at": None,
            "refused_at": None,
            "pod_peer": self.pod_peer,
            "app_client_ip": None,
            "resolution": None,
            "hops": self.hops,
            "ingress_pod": self.ingress_pod,
            "notes": self.notes,
        }
        base.update(fields)
        return Outcome(**base)  # type: ignore[arg-type]

    def dropped(self, where: str, *, node: str | None = None) -> Outcome:
        """The connection is silently dropped at ``where``."""
        return self._end(dropped_at=where, node=node or self.node)

    def refused(self, where: str) -> Outcome:
        """The connection is refused or answered with an error at ``where``."""
        return self._end(refused_at=where)

    def delivered(self, *, resolution: Resolution) -> Outcome:
        """The app answers; ``resolution`` is what it resolved."""
        return self._end(delivered=True, resolution=resolution, app_client_ip=resolution.ip)


def record(
    state: PathState, name: str, kind: str, view: View, *, rules: tuple[str, ...] = ()
) -> PathState:
    """``state`` with one more hop: ``name`` received ``view``."""
    shown = tuple((k, v) for k, v in view.headers if k in FORWARDING_HEADERS)
    hop = HopRecord(
        name=name,
        kind=kind,
        peer=view.peer,
        local=view.local,
        proxy=view.proxy,
        headers=shown,
        rules=rules,
    )
    return state._replace(hops=(*state.hops, hop))


def scenario_lb(cluster: Cluster, scenario: Scenario, service: Service) -> EffectiveLoadBalancer:
    """The Scenario's load balancer, resolved for ``service`` (presets, annotations, spec)."""
    return effective_load_balancer(
        service,
        scenario.load_balancer,
        nodes=cluster.nodes,
        address=lb_address(scenario),
        proxy_config=cluster.proxy_config,
    )


def balance(
    cluster: Cluster, index: ClusterIndex, scenario: Scenario, service: Service
) -> tuple[EffectiveLoadBalancer, tuple[TargetHealth, ...], LoadBalancerSplit]:
    """The load balancer for ``service``, what its probes get, and how it splits."""
    lb = scenario_lb(cluster, scenario, service)
    health = probe_targets(index, service, lb)
    zones = {node.name: node.zone for node in cluster.nodes}
    return lb, health, split(lb, health, zones=zones)


def lb_to_node(
    lb: EffectiveLoadBalancer,
    service: Service,
    port: ServicePort,
    view: View,
    *,
    vip: IPAddress,
    node: Node,
) -> tuple[Packet, View] | None:
    """The packet a node target receives from the load balancer, and the view with it.

    To the VIP (``vip`` targets) or to the node's address of the VIP's family and the
    NodePort; None when the node has no such address.
    """
    via_vip = lb.targets is TargetType.VIP
    node_ip = node.primary_ip(family_of(vip))
    if node_ip is None and not via_vip:
        return None
    off = hand_off(
        lb,
        service,
        port,
        view,
        vip=vip,
        target_address=vip if via_vip or node_ip is None else node_ip,
        target_port=port.port if via_vip else port.node_port,
    )
    packet = Packet(src=off.packet_src, dst=off.dst, port=off.dst_port, protocol=port.protocol)
    return packet, off.view


def lb_address(scenario: Scenario) -> IPAddress:
    """The load balancer's own address: the Scenario's, else the default."""
    return scenario.load_balancer.address or DEFAULT_LB_ADDRESS


def entry_services(
    cluster: Cluster, scenario: Scenario, wanted: str | None
) -> list[tuple[Service, Service]]:
    """(the Service the LB fronts, the Service the app runs behind) pairs to trace."""
    by_key = {service.key: service for service in cluster.services}
    key = _key(wanted) if wanted is not None else scenario.service
    ingress = scenario.ingress
    if key is not None and key not in by_key:
        known = ", ".join(sorted(by_key)) or "none"
        raise UsageError(
            f"Service {key} is not in the input (Services: {known}). Fix: pass --service "
            "NAMESPACE/NAME of one of them, or set spec.service in the Scenario"
        )
    if ingress is not None:
        if ingress.service not in by_key:
            raise UsageError(
                f"hop {ingress.name}: its Service {ingress.service} is not in the input. Fix: "
                "add the ingress controller's Service and Deployment, or correct hops[].service"
            )
        backends = [by_key[key]] if key is not None else _external(cluster, exclude=ingress.service)
        if not backends:
            raise UsageError(
                f"hop {ingress.name}: no backend Service to proxy to. Fix: set spec.service "
                "(or pass --service NAMESPACE/NAME) to the Service the ingress routes to"
            )
        return [(by_key[ingress.service], backend) for backend in backends]
    if key is not None:
        return [(by_key[key], by_key[key])]
    found = _external(cluster, exclude=None)
    if not found:
        raise UsageError(
            "the input has no LoadBalancer or NodePort Service to trace. Fix: add one, or "
            "pass --service NAMESPACE/NAME"
        )
    return [(service, service) for service in found]


def _external(cluster: Cluster, *, exclude: str | None) -> list[Service]:
    return [
        service
        for service in cluster.services
        if service.type in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT)
        and service.ports
        and service.key != exclude
    ]


def _key(name: str) -> str:
    return name if "/" in name else f"default/{name}"


def pod_table(cluster: Cluster) -> dict[IPAddress, Pod]:
    """Every pod of the input (or placement) by each of its IPs."""
    return {ip: pod for pod in cluster.pods for ip in pod.ips}


def target_port_of(cluster: Cluster, service: Service, port: ServicePort, pod_ip: IPAddress) -> int:
    """The pod port a Service port reaches on ``pod_ip``, from the EndpointSlices."""
    for endpoint_slice in cluster.endpoint_slices:
        if (
            endpoint_slice.service_name != service.name
            or endpoint_slice.namespace != service.namespace
        ):
            continue
        if any(ep.address == pod_ip for ep in endpoint_slice.endpoints):
            for slice_port in endpoint_slice.ports:
                if slice_port.name == port.name and slice_port.port is not None:
                    return slice_port.port
    return port.target_port if isinstance(port.target_port, int) else port.port
