"""The ``kind: Scenario`` document → :class:`srcip.model.scenario.Scenario`.

Validated like a Kubernetes object: every mapping accepts only its documented fields, and a
wrong value fails with the path to it, the value and the allowed ones
(``spec.loadBalancer.mode = 'passthru': is not one of passthrough, snat, proxy, http``).
The schema is small and srcip's own, so it is checked by the walk below rather than a
generated model; ``docs/reference/scenario.md`` documents each field.

:func:`apply_scenario` then adds what the Scenario implies to the cluster: Nodes when the
input has none (``spec.nodes`` as a count or a list; three by default), load balancer IPs
for LoadBalancer Services whose status has none, all from fixed ranges so that a run is
reproducible, each allocation written in the notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from ipaddress import IPv4Network, ip_address, ip_network
from typing import Any, TypeVar

from srcip.errors import ManifestError, SrcipError, Where
from srcip.manifests.documents import Document
from srcip.model.appview import app_trust
from srcip.model.enums import ServiceType
from srcip.model.objects import (
    LABEL_ZONE,
    Cluster,
    IPAddress,
    IPNetwork,
    LoadBalancerIngress,
    Node,
    NodeAddress,
    Service,
    Taint,
)
from srcip.model.providers import PROVIDERS
from srcip.model.scenario import (
    DEFAULT_CLIENT,
    Announcement,
    AppSpec,
    ClientSpec,
    EdgeHop,
    EdgeHopKind,
    FailoverSpec,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckSpec,
    HealthCheckTarget,
    HopSpec,
    IngressHop,
    IngressKind,
    Interception,
    LoadBalancerMode,
    LoadBalancerSpec,
    Mesh,
    PlacementPin,
    ProxyProtocolVersion,
    Scenario,
    ScenarioEvent,
    SidecarHop,
    TargetType,
    Weighting,
)
from srcip.model.timeline import parse_event

__all__ = [
    "DEFAULT_CLIENT",
    "DEFAULT_NODE_COUNT",
    "ScenarioDraft",
    "apply_scenario",
    "convert_scenario",
]

E = TypeVar("E", bound=StrEnum)

DEFAULT_NODE_COUNT = 3
NODE_NETWORK = IPv4Network("10.0.1.0/24")  # node i (1-based) is 10.0.1.(i+1)
POD_NETWORK = IPv4Network("10.244.0.0/16")  # node i gets 10.244.i.0/24
VIP_NETWORK = IPv4Network("198.51.100.0/24")  # TEST-NET-2: load balancer IPs from .10
EDGE_NETWORK = IPv4Network("192.0.2.0/24")  # TEST-NET-1: edge hops from .10
ZONES = ("zone-a", "zone-b", "zone-c")

_SPEC_FIELDS = (
    "service",
    "nodes",
    "loadBalancer",
    "hops",
    "clients",
    "app",
    "placement",
    "failover",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """One ``spec.nodes[]`` entry, turned into a Node by :func:`apply_scenario`."""

    name: str
    address: IPAddress | None = None
    zone: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    pod_cidr: IPNetwork | None = None
    provider_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioDraft:
    """A validated Scenario plus the parts that become cluster objects (nodes)."""

    scenario: Scenario
    nodes: tuple[NodeSpec, ...] | int | None = None  # None: the default when Nodes are absent
    where: Where = field(default_factory=Where)


def convert_scenario(doc: Document) -> ScenarioDraft:
    """Validate one ``srcip.dev/v1alpha1`` Scenario document."""
    read = _Reader(doc)
    body = read.mapping(doc.body, "", ("apiVersion", "kind", "metadata", "spec", "status"))
    metadata = read.mapping(body.get("metadata") or {}, "metadata", None)
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise doc.error("is required", field="metadata.name", fix="give the Scenario a name")
    spec = read.mapping(body.get("spec") or {}, "spec", _SPEC_FIELDS)
    service = read.optional_string(spec.get("service"), "spec.service")
    if service is not None and "/" not in service:
        service = f"{doc.where.namespace or 'default'}/{service}"
    scenario = Scenario(
        name=name,
        service=service,
        load_balancer=_load_balancer(read, spec.get("loadBalancer")),
        hops=_hops(read, spec.get("hops")),
        clients=_clients(read, spec.get("clients")),
        app=_app(read, spec.get("app")),
        placement=_placement(read, spec.get("placement")),
        failover=_failover(read, spec.get("failover")),
    )
    return ScenarioDraft(scenario=scenario, nodes=_nodes(read, spec.get("nodes")), where=doc.where)


# --------------------------------------------------------------------------- sections


def _load_balancer(read: _Reader, value: object) -> LoadBalancerSpec:
    path = "spec.loadBalancer"
    fields = (
        "provider",
        "mode",
        "proxyProtocol",
        "weighting",
        "targets",
        "preserveClientIP",
        "crossZone",
        "announcement",
        "address",
        "forwardedFor",
        "healthCheck",
    )
    lb = read.mapping(value or {}, path, fields)
    provider = read.optional_string(lb.get("provider"), f"{path}.provider")
    if provider is not None:
        read.check_provider(provider, f"{path}.provider")
    return LoadBalancerSpec(
        provider=provider,
        mode=read.optional_choice(lb.get("mode"), f"{path}.mode", LoadBalancerMode),
        proxy_protocol=read.optional_choice(
            _version_text(lb.get("proxyProtocol")), f"{path}.proxyProtocol", ProxyProtocolVersion
        ),
        weighting=read.optional_choice(lb.get("weighting"), f"{path}.weighting", Weighting),
        targets=read.optional_choice(lb.get("targets"), f"{path}.targets", TargetType),
        preserve_client_ip=read.optional_bool(
            lb.get("preserveClientIP"), f"{path}.preserveClientIP"
        ),
        cross_zone=read.optional_bool(lb.get("crossZone"), f"{path}.crossZone"),
        announcement=read.optional_choice(
            lb.get("announcement"), f"{path}.announcement", Announcement
        ),
        address=read.optional_ip(lb.get("address"), f"{path}.address"),
        forwarded_for=read.optional_choice(
            lb.get("forwardedFor"), f"{path}.forwardedFor", ForwardedFor
        ),
        health_check=_health_check(read, lb.get("healthCheck"), f"{path}.healthCheck"),
    )


def _health_check(read: _Reader, value: object, path: str) -> HealthCheckSpec:
    fields = (
        "protocol",
        "target",
        "port",
        "path",
        "intervalSeconds",
        "timeoutSeconds",
        "healthyThreshold",
        "unhealthyThreshold",
    )
    hc = read.mapping(value or {}, path, fields)
    return HealthCheckSpec(
        protocol=read.optional_choice(hc.get("protocol"), f"{path}.protocol", HealthCheckProtocol),
        target=read.optional_choice(hc.get("target"), f"{path}.target", HealthCheckTarget),
        port=read.optional_int(hc.get("port"), f"{path}.port", 1, 65535),
        path=read.optional_string(hc.get("path"), f"{path}.path"),
        interval_seconds=read.optional_number(hc.get("intervalSeconds"), f"{path}.intervalSeconds"),
        timeout_seconds=read.optional_number(hc.get("timeoutSeconds"), f"{path}.timeoutSeconds"),
        healthy_threshold=read.optional_int(
            hc.get("healthyThreshold"), f"{path}.healthyThreshold", 1, 100
        ),
        unhealthy_threshold=read.optional_int(
            hc.get("unhealthyThreshold"), f"{path}.unhealthyThreshold", 1, 100
        ),
    )


_EDGE_KINDS = {kind.value: kind for kind in EdgeHopKind}
_INGRESS_KINDS = {kind.value: kind for kind in IngressKind}
_HOP_KINDS = (*_EDGE_KINDS, *_INGRESS_KINDS, "sidecar")


def _hops(read: _Reader, value: object) -> tuple[HopSpec, ...]:
    hops: list[HopSpec] = []
    edge_index = 0
    for index, item in enumerate(read.sequence(value, "spec.hops")):
        path = f"spec.hops[{index}]"
        raw = read.mapping(item, path, None)
        kind = read.choice_text(raw.get("kind"), f"{path}.kind", _HOP_KINDS)
        name = read.optional_string(raw.get("name"), f"{path}.name") or f"{kind}-{index + 1}"
        if kind in _EDGE_KINDS:
            edge_index += 1
            hops.append(_edge_hop(read, raw, path, _EDGE_KINDS[kind], name, edge_index))
        elif kind in _INGRESS_KINDS:
            hops.append(_ingress_hop(read, raw, path, _INGRESS_KINDS[kind], name))
        else:
            read.mapping(raw, path, ("kind", "name", "mesh", "interception"))
            hops.append(
                SidecarHop(
                    mesh=read.choice(raw.get("mesh"), f"{path}.mesh", Mesh),
                    name=name,
                    interception=read.optional_choice(
                        raw.get("interception"), f"{path}.interception", Interception
                    )
                    or Interception.REDIRECT,
                )
            )
    _check_hop_order(read, hops)
    return tuple(hops)


def _edge_hop(
    read: _Reader, raw: dict[str, Any], path: str, kind: EdgeHopKind, name: str, ordinal: int
) -> EdgeHop:
    read.mapping(raw, path, ("kind", "name", "address", "headers", "forwardedFor", "proxyProtocol"))
    headers = tuple(
        read.string(h, f"{path}.headers[{i}]").lower()
        for i, h in enumerate(read.sequence(raw.get("headers", ["x-forwarded-for"]), path))
    )
    return EdgeHop(
        kind=kind,
        name=name,
        address=read.optional_ip(raw.get("address"), f"{path}.address")
        or EDGE_NETWORK.network_address + 9 + ordinal,
        headers=headers,
        forwarded_for=read.optional_choice(
            raw.get("forwardedFor"), f"{path}.forwardedFor", ForwardedFor
        )
        or ForwardedFor.APPEND,
        proxy_protocol=read.optional_choice(
            _version_text(raw.get("proxyProtocol")), f"{path}.proxyProtocol", ProxyProtocolVersion
        )
        or ProxyProtocolVersion.OFF,
    )


def _ingress_hop(
    read: _Reader, raw: dict[str, Any], path: str, kind: IngressKind, name: str
) -> IngressHop:
    read.mapping(raw, path, ("kind", "name", "service", "config", "configMap"))
    service = read.string(raw.get("service"), f"{path}.service")
    if "/" not in service:
        service = f"default/{service}"
    config = read.mapping(raw.get("config") or {}, f"{path}.config", None)
    pairs = tuple((str(k), _config_text(read, v, f"{path}.config.{k}")) for k, v in config.items())
    config_map = read.optional_string(raw.get("configMap"), f"{path}.configMap")
    if config_map is not None and "/" not in config_map:
        config_map = f"{service.partition('/')[0]}/{config_map}"
    return IngressHop(kind=kind, name=name, service=service, config=pairs, config_map=config_map)


def _check_hop_order(read: _Reader, hops: Sequence[HopSpec]) -> None:
    """Edge hops first, then at most one ingress, then at most one sidecar."""
    rank = {EdgeHop: 0, IngressHop: 1, SidecarHop: 2}
    last = 0
    seen: set[type] = set()
    for index, hop in enumerate(hops):
        here = rank[type(hop)]
        if here < last or (here > 0 and type(hop) in seen):
            raise read.error(
                f"spec.hops[{index}]",
                hop.name,
                "is out of order or repeated: hops run client side first — edge proxies "
                "(cdn, waf, proxy), then at most one ingress controller, then at most one "
                "sidecar",
                "list the hops in path order, one ingress and one sidecar at most",
            )
        seen.add(type(hop))
        last = here


def _clients(read: _Reader, value: object) -> tuple[ClientSpec, ...]:
    items = read.sequence(value, "spec.clients")
    if not items:
        return (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)
    clients: list[ClientSpec] = []
    for index, item in enumerate(items):
        path = f"spec.clients[{index}]"
        if isinstance(item, str):
            clients.append(ClientSpec(name=item, address=read.ip(item, path)))
            continue
        raw = read.mapping(item, path, ("name", "address", "node", "pod", "headers"))
        address = read.ip(raw.get("address"), f"{path}.address")
        headers = read.mapping(raw.get("headers") or {}, f"{path}.headers", None)
        clients.append(
            ClientSpec(
                name=read.optional_string(raw.get("name"), f"{path}.name") or str(address),
                address=address,
                node=read.optional_string(raw.get("node"), f"{path}.node"),
                pod=read.optional_string(raw.get("pod"), f"{path}.pod"),
                headers=tuple(
                    (str(k).lower(), read.string(v, f"{path}.headers.{k}"))
                    for k, v in headers.items()
                ),
            )
        )
    return tuple(clients)


def _app(read: _Reader, value: object) -> AppSpec:
    path = "spec.app"
    fields = (
        "trustedProxies",
        "source",
        "trustedHops",
        "proxyProtocol",
        "proxyProtocolTrusted",
        "port",
    )
    raw = read.mapping(value or {}, path, fields)
    app = AppSpec(
        trusted_proxies=read.strings(raw.get("trustedProxies"), f"{path}.trustedProxies"),
        source=(read.optional_string(raw.get("source"), f"{path}.source") or "x-forwarded-for"),
        trusted_hops=read.optional_int(raw.get("trustedHops"), f"{path}.trustedHops", 1, 20),
        proxy_protocol=read.optional_choice(
            _version_text(raw.get("proxyProtocol")), f"{path}.proxyProtocol", ProxyProtocolVersion
        )
        or ProxyProtocolVersion.OFF,
        proxy_protocol_trusted=read.strings(
            raw.get("proxyProtocolTrusted"), f"{path}.proxyProtocolTrusted"
        ),
        port=read.optional_int(raw.get("port"), f"{path}.port", 1, 65535),
    )
    try:
        app_trust(app)
    except SrcipError as exc:
        raise read.error(path, None, str(exc), "see docs/reference/scenario.md, spec.app") from exc
    return app


def _placement(read: _Reader, value: object) -> tuple[PlacementPin, ...]:
    path = "spec.placement"
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return (PlacementPin(workload=None, nodes=_counts(read, value, path)),)
    pins: list[PlacementPin] = []
    for index, item in enumerate(read.sequence(value, path)):
        raw = read.mapping(item, f"{path}[{index}]", ("workload", "nodes"))
        workload = read.string(raw.get("workload"), f"{path}[{index}].workload")
        if "/" not in workload:
            workload = f"default/{workload}"
        nodes = read.mapping(raw.get("nodes"), f"{path}[{index}].nodes", None)
        pins.append(PlacementPin(workload=workload, nodes=_counts(read, nodes, path)))
    return tuple(pins)


def _counts(read: _Reader, value: Mapping[Any, Any], path: str) -> tuple[tuple[str, int], ...]:
    return tuple(
        (str(node), read.integer(count, f"{path}.{node}", 0, 100_000))
        for node, count in value.items()
    )


def _failover(read: _Reader, value: object) -> FailoverSpec:
    path = "spec.failover"
    fields = ("endpointDelaySeconds", "terminatingFallback", "durationSeconds", "events")
    raw = read.mapping(value or {}, path, fields)
    delay = read.optional_number(raw.get("endpointDelaySeconds"), f"{path}.endpointDelaySeconds")
    fallback = read.optional_bool(raw.get("terminatingFallback"), f"{path}.terminatingFallback")
    events = tuple(
        _event(read, text, f"{path}.events[{i}]")
        for i, text in enumerate(read.sequence(raw.get("events"), f"{path}.events"))
    )
    return FailoverSpec(
        endpoint_delay_seconds=1.0 if delay is None else delay,
        terminating_fallback=True if fallback is None else fallback,
        duration_seconds=read.optional_number(
            raw.get("durationSeconds"), f"{path}.durationSeconds"
        ),
        events=events,
    )


def _event(read: _Reader, value: object, path: str) -> ScenarioEvent:
    text = read.string(value, path)
    try:
        return parse_event(text)
    except SrcipError as exc:
        raise read.error(path, text, str(exc), "write e.g. 'delete pod/web-0 at 10s'") from exc


def _nodes(read: _Reader, value: object) -> tuple[NodeSpec, ...] | int | None:
    path = "spec.nodes"
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return read.integer(value, path, 1, 5000)
    specs: list[NodeSpec] = []
    for index, item in enumerate(read.sequence(value, path)):
        item_path = f"{path}[{index}]"
        fields = ("name", "address", "zone", "labels", "taints", "podCIDR", "providerID")
        raw = read.mapping(item, item_path, fields)
        labels = read.mapping(raw.get("labels") or {}, f"{item_path}.labels", None)
        specs.append(
            NodeSpec(
                name=read.string(raw.get("name"), f"{item_path}.name"),
                address=read.optional_ip(raw.get("address"), f"{item_path}.address"),
                zone=read.optional_string(raw.get("zone"), f"{item_path}.zone"),
                labels=tuple(
                    (str(k), read.string(v, f"{item_path}.labels.{k}")) for k, v in labels.items()
                ),
                taints=tuple(
                    _taint(read, t, f"{item_path}.taints[{i}]")
                    for i, t in enumerate(read.sequence(raw.get("taints"), f"{item_path}.taints"))
                ),
                pod_cidr=read.optional_cidr(raw.get("podCIDR"), f"{item_path}.podCIDR"),
                provider_id=read.optional_string(raw.get("providerID"), f"{item_path}.providerID"),
            )
        )
    return tuple(specs)


def _taint(read: _Reader, value: object, path: str) -> Taint:
    raw = read.mapping(value, path, ("key", "value", "effect"))
    return Taint(
        key=read.string(raw.get("key"), f"{path}.key"),
        value=read.optional_string(raw.get("value"), f"{path}.value") or "",
        effect=read.choice_text(
            raw.get("effect"), f"{path}.effect", ("NoSchedule", "PreferNoSchedule", "NoExecute")
        ),
    )


def _version_text(value: object) -> object:
    """``proxyProtocol: false`` / ``true`` read as off / v2; numbers 1 and 2 as v1 / v2."""
    if value is False:
        return "off"
    if value is True:
        return "v2"
    if value in (1, 2) and not isinstance(value, bool):
        return f"v{value}"
    return value


def _config_text(read: _Reader, value: object, path: str) -> str:
    """Controller settings are strings in a ConfigMap; YAML booleans and numbers are too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(read.string(v, path) for v in value)
    return read.string(value, path)


# --------------------------------------------------------------------------- the reader


class _Reader:
    """Path-aware field checks; every failure is a ManifestError at the Scenario."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def error(self, path: str, value: object, problem: str, fix: str) -> ManifestError:
        return self.doc.error(problem, field=path or None, value=value, fix=fix)

    def mapping(self, value: object, path: str, fields: Sequence[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(
                path, value, "must be a mapping", f"write {path or 'it'} as key: value"
            )
        if fields is not None:
            for key in value:
                if key not in fields:
                    where = f"{path}.{key}" if path else str(key)
                    raise self.error(
                        where,
                        None,
                        f"is not a field of {path or 'a Scenario'} (fields: {', '.join(fields)})",
                        "remove it or correct its spelling",
                    )
        return value

    def sequence(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, value, "must be a list", f"write {path} as a YAML list")
        return value

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(path, value, "must be a non-empty string", f"set {path}")
        return value

    def optional_string(self, value: object, path: str) -> str | None:
        return None if value is None else self.string(value, path)

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        return tuple(
            self.string(v, f"{path}[{i}]") for i, v in enumerate(self.sequence(value, path))
        )

    def choice(self, value: object, path: str, enum: type[E]) -> E:
        allowed = [member.value for member in enum]
        return enum(self.choice_text(value, path, allowed))

    def optional_choice(self, value: object, path: str, enum: type[E]) -> E | None:
        return None if value is None else self.choice(value, path, enum)

    def choice_text(self, value: object, path: str, allowed: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.error(
                path,
                value,
                f"is not one of {', '.join(allowed)}",
                f"use one of {', '.join(allowed)}",
            )
        return value

    def check_provider(self, value: str, path: str) -> None:
        self.choice_text(value, path, list(PROVIDERS))

    def integer(self, value: object, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(
                path, value, f"must be an integer from {low} to {high}", f"set {path} in range"
            )
        return value

    def optional_int(self, value: object, path: str, low: int, high: int) -> int | None:
        return None if value is None else self.integer(value, path, low, high)

    def optional_number(self, value: object, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.error(
                path, value, "must be a number of seconds, 0 or more", f"set {path} to e.g. 5"
            )
        return float(value)

    def optional_bool(self, value: object, path: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.error(path, value, "must be true or false", f"set {path}: true or false")
        return value

    def ip(self, value: object, path: str) -> IPAddress:
        try:
            return ip_address(value if isinstance(value, str) else "")
        except ValueError as exc:
            raise self.error(
                path, value, "is not an IP address", "write an IPv4 or IPv6 address"
            ) from exc

    def optional_ip(self, value: object, path: str) -> IPAddress | None:
        return None if value is None else self.ip(value, path)

    def optional_cidr(self, value: object, path: str) -> IPNetwork | None:
        if value is None:
            return None
        try:
            return ip_network(value if isinstance(value, str) else "")
        except ValueError as exc:
            raise self.error(
                path, value, "is not a CIDR with host bits zero", "write e.g. 10.244.1.0/24"
            ) from exc


# --------------------------------------------------------------------------- apply


def apply_scenario(cluster: Cluster, draft: ScenarioDraft) -> Cluster:
    """The cluster with the Scenario attached, its nodes added and LB IPs allocated."""
    notes = list(cluster.notes)
    nodes = cluster.nodes
    if draft.nodes is not None and cluster.nodes and isinstance(draft.nodes, int):
        notes.append(
            f"Scenario {draft.scenario.name}: spec.nodes = {draft.nodes} is ignored because the "
            f"input has {len(cluster.nodes)} Node object(s)"
        )
    elif draft.nodes is not None or not cluster.nodes:
        nodes = (*cluster.nodes, *_make_nodes(draft, {n.name for n in cluster.nodes}, notes))
    services = _allocate_vips(cluster, notes)
    return replace(
        cluster, nodes=nodes, services=services, scenario=draft.scenario, notes=tuple(notes)
    )


def _make_nodes(draft: ScenarioDraft, existing: set[str], notes: list[str]) -> list[Node]:
    specs: Sequence[NodeSpec]
    if isinstance(draft.nodes, tuple):
        specs = draft.nodes
    else:
        count = DEFAULT_NODE_COUNT if draft.nodes is None else draft.nodes
        specs = [NodeSpec(name=f"node-{i + 1}") for i in range(count)]
        how = "the default" if draft.nodes is None else "spec.nodes"
        notes.append(
            f"Scenario {draft.scenario.name}: {count} node(s) from {how}: node-1 at "
            f"{NODE_NETWORK.network_address + 2}, pod CIDRs 10.244.<n>.0/24, zones "
            f"{', '.join(ZONES[: min(count, len(ZONES))])}"
        )
    nodes: list[Node] = []
    for index, spec in enumerate(specs):
        if spec.name in existing:
            raise ManifestError(
                f"spec.nodes[{index}] names Node {spec.name}, which the input also defines",
                where=draft.where,
                field=f"spec.nodes[{index}].name",
                value=spec.name,
                fix="describe each node once: as a Node object or in spec.nodes",
            )
        nodes.append(_make_node(spec, index))
    return nodes


def _make_node(spec: NodeSpec, index: int) -> Node:
    address = spec.address or NODE_NETWORK.network_address + index + 2
    cidr = spec.pod_cidr or IPv4Network(f"10.244.{index + 1}.0/24")
    zone = spec.zone or ZONES[index % len(ZONES)]
    labels = {"kubernetes.io/hostname": spec.name, LABEL_ZONE: zone, **dict(spec.labels)}
    return Node(
        name=spec.name,
        addresses=(NodeAddress(type="InternalIP", address=address),),
        pod_cidrs=(cidr,),
        labels=tuple(labels.items()),
        taints=spec.taints,
        provider_id=spec.provider_id,
    )


def _allocate_vips(cluster: Cluster, notes: list[str]) -> tuple[Service, ...]:
    """Give every LoadBalancer Service without a status IP one from 198.51.100.10 on."""
    used = {
        ingress.ip
        for service in cluster.services
        for ingress in service.load_balancer_ingress
        if ingress.ip is not None
    }
    free = (
        address
        for address in VIP_NETWORK.hosts()
        if int(address) >= int(VIP_NETWORK.network_address) + 10 and address not in used
    )
    services: list[Service] = []
    for service in cluster.services:
        # An empty status gets an IP; a hostname-only one (AWS) stays as it is: kube-proxy
        # programs no rule for a hostname, so in-cluster clients go out to the LB (§0).
        if service.type is ServiceType.LOAD_BALANCER and not service.load_balancer_ingress:
            vip = next(free)
            notes.append(
                f"Service {service.key}: load balancer IP {vip} allocated (status had none)"
            )
            service = replace(service, load_balancer_ingress=(LoadBalancerIngress(ip=vip),))
        services.append(service)
    return tuple(services)
