"""Documents → one :class:`srcip.model.objects.Cluster`: dispatch by kind, cross-object checks.

Pure: documents in (as :mod:`srcip.manifests.loader` yields them, or built by a test), a
``Cluster`` out. Each object is converted once by the module of its kind; then the
cross-object work happens here: duplicate objects are refused, at most one kube-proxy
configuration is accepted, missing ClusterIPs and node ports are allocated
(:mod:`srcip.manifests.allocate`), and the notes are written.

Kinds are matched on API group and kind, so a Knative ``Service`` is ignored like a
Deployment, while ``discovery.k8s.io/v1beta1`` EndpointSlice (a version srcip does not read)
is an error rather than a silent omission. Partial dumps are normal: an EndpointSlice without
its Service, or an endpoint on a Node that is not in the input, is kept and mentioned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from srcip.errors import ManifestError, Where
from srcip.manifests.allocate import allocate_services
from srcip.manifests.documents import (
    Document,
    describe_location,
    describe_object,
    expand_document,
)
from srcip.manifests.endpointslice import convert_endpoint_slice
from srcip.manifests.kubeproxyconfig import (
    API_VERSION,
    CONFIG_MAP_KEY,
    CONFIG_MAP_NAME,
    embedded_configuration,
    parse_kube_proxy_configuration,
)
from srcip.manifests.networkpolicy import convert_network_policy
from srcip.manifests.node import convert_node
from srcip.manifests.pod import convert_pod
from srcip.manifests.scenario import ScenarioDraft, apply_scenario, convert_scenario
from srcip.manifests.service import ServiceDraft, convert_service
from srcip.manifests.servicecidr import convert_service_cidr
from srcip.manifests.workload import convert_workload
from srcip.model.netpol import NetworkPolicy
from srcip.model.objects import (
    LABEL_SERVICE_NAME,
    Cluster,
    ConfigMap,
    EndpointSlice,
    KubeProxyConfig,
    Node,
    Pod,
    Service,
    ServiceCIDR,
)
from srcip.model.placement import place_workloads
from srcip.model.scenario import API_VERSION as SCENARIO_API_VERSION
from srcip.model.scenario import DEFAULT_CLIENT, ClientSpec, Scenario
from srcip.model.workloads import Workload

__all__ = ["convert_documents"]

DEFAULT_CLIENTS = (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)

NOT_READ = "not read by kube-proxy"


def convert_documents(
    docs: Iterable[tuple[Where, object]], *, default_scenario: bool = False
) -> Cluster:
    """Convert located documents (``kind: List`` ones included) into a :class:`Cluster`.

    ``default_scenario``: when the input has no Scenario, behave as if it held an empty one
    (default nodes when there are no Node objects, load balancer IPs, one client), so that
    plain manifests can be traced.

    ``None`` documents (empty YAML documents) are skipped; anything else that is not a
    Kubernetes object is a :class:`ManifestError`.
    """
    collector = _Collector(default_scenario=default_scenario)
    for where, value in docs:
        if value is not None:
            for doc in expand_document(where, value):
                collector.add(doc)
    return collector.cluster()


class _Collector:
    """Converted objects so far, plus what is needed to check and describe them."""

    def __init__(self, *, default_scenario: bool = False) -> None:
        self.default_scenario = default_scenario
        self.drafts: list[ServiceDraft] = []
        self.slices: list[EndpointSlice] = []
        self.nodes: list[Node] = []
        self.pods: list[Pod] = []
        self.cidrs: list[ServiceCIDR] = []
        self.configs: list[tuple[KubeProxyConfig, Where]] = []
        self.workloads: list[Workload] = []
        self.policies: list[NetworkPolicy] = []
        self.config_maps: list[ConfigMap] = []
        self.scenarios: list[tuple[ScenarioDraft, Where]] = []
        self.ignored: dict[tuple[str, str], list[Where]] = {}
        self.notes: list[str] = []
        self.seen: dict[tuple[str, str, str], Where] = {}

    def add(self, doc: Document) -> None:
        group, _, version = doc.api_version.rpartition("/")
        handled = _HANDLERS.get((group, doc.kind))
        if handled is None:
            self.ignore(doc, NOT_READ)
            return
        versions, handler = handled
        if version not in versions:
            wanted = " or ".join(f"{group}/{v}".lstrip("/") for v in versions)
            raise doc.error(
                f"is not a version of {doc.kind} that srcip reads",
                field="apiVersion",
                value=doc.api_version,
                fix=f"use apiVersion: {wanted} (kubectl get -o yaml prints it)",
            )
        handler(self, doc)

    def ignore(self, doc: Document, reason: str) -> None:
        self.ignored.setdefault((doc.kind, reason), []).append(doc.where)

    def claim(self, doc: Document, kind: str, namespace: str, name: str) -> None:
        """Refuse a second object of the same kind and name."""
        first = self.seen.setdefault((kind, namespace, name), doc.where)
        if first is not doc.where:
            raise doc.error(
                f"is defined twice; the first definition is at {describe_location(first)}",
                fix="keep one definition of each object",
            )

    # ------------------------------------------------------------------ one per kind

    def add_service(self, doc: Document) -> None:
        draft = convert_service(doc)
        self.claim(doc, "Service", draft.service.namespace, draft.service.name)
        self.drafts.append(draft)

    def add_endpoint_slice(self, doc: Document) -> None:
        endpoint_slice = convert_endpoint_slice(doc, self.notes)
        self.claim(doc, "EndpointSlice", endpoint_slice.namespace, endpoint_slice.name)
        self.slices.append(endpoint_slice)

    def add_node(self, doc: Document) -> None:
        node = convert_node(doc)
        self.claim(doc, "Node", "", node.name)
        self.nodes.append(node)

    def add_pod(self, doc: Document) -> None:
        pod = convert_pod(doc)
        self.claim(doc, "Pod", pod.namespace, pod.name)
        self.pods.append(pod)

    def add_service_cidr(self, doc: Document) -> None:
        cidr = convert_service_cidr(doc)
        self.claim(doc, "ServiceCIDR", "", cidr.name)
        self.cidrs.append(cidr)

    def add_config_map(self, doc: Document) -> None:
        config_map = _convert_config_map(doc)
        self.claim(doc, "ConfigMap", config_map.namespace, config_map.name)
        self.config_maps.append(config_map)
        if doc.where.name != CONFIG_MAP_NAME:
            return
        embedded = embedded_configuration(doc)
        if embedded is None:
            self.ignore(doc, f"it has no {CONFIG_MAP_KEY} key holding the kube-proxy configuration")
            return
        self.add_configuration(embedded, prefix=f"data[{CONFIG_MAP_KEY!r}].")

    def add_configuration(self, doc: Document, prefix: str = "") -> None:
        config = parse_kube_proxy_configuration(doc, prefix=prefix)
        if self.configs:
            first = self.configs[0][1]
            raise ManifestError(
                "is a second kube-proxy configuration; the first is "
                f"{describe_object(first)} at {describe_location(first)}",
                where=doc.where,
                fix="keep one KubeProxyConfiguration (a kube-proxy ConfigMap holds one too)",
            )
        self.configs.append((config, doc.where))

    def add_workload(self, doc: Document) -> None:
        workload = convert_workload(doc)
        self.claim(doc, doc.kind, workload.namespace, workload.name)
        self.workloads.append(workload)

    def add_network_policy(self, doc: Document) -> None:
        policy = convert_network_policy(doc)
        self.claim(doc, "NetworkPolicy", policy.namespace, policy.name)
        self.policies.append(policy)

    def add_scenario(self, doc: Document) -> None:
        draft = convert_scenario(doc)
        if self.scenarios:
            first = self.scenarios[0][1]
            raise doc.error(
                f"is a second Scenario; the first is {describe_object(first)} at "
                f"{describe_location(first)}",
                fix="keep one Scenario per run (put each in its own file and pass one -f)",
            )
        self.scenarios.append((draft, doc.where))

    # ------------------------------------------------------------------ result

    def cluster(self) -> Cluster:
        services, allocated = allocate_services(self.drafts, self.cidrs)
        notes = [
            *self.ignored_notes(),
            *self.notes,
            *allocated,
            *orphan_notes(services, self.slices),
            *unknown_node_notes(self.slices, self.nodes),
        ]
        cluster = Cluster(
            services=services,
            endpoint_slices=tuple(self.slices),
            nodes=tuple(self.nodes),
            pods=tuple(self.pods),
            proxy_config=self.configs[0][0] if self.configs else KubeProxyConfig(),
            service_cidrs=tuple(self.cidrs),
            workloads=tuple(self.workloads),
            network_policies=tuple(self.policies),
            config_maps=tuple(self.config_maps),
            notes=tuple(notes),
        )
        if self.scenarios:
            cluster = apply_scenario(cluster, self.scenarios[0][0])
        elif self.default_scenario:
            empty = ScenarioDraft(scenario=Scenario(name="default", clients=DEFAULT_CLIENTS))
            cluster = apply_scenario(cluster, empty)
            cluster = replace(
                cluster, notes=(*cluster.notes, "no Scenario in the input: srcip's defaults apply")
            )
        if cluster.workloads:
            cluster = place_workloads(cluster)
        return cluster

    def ignored_notes(self) -> Iterator[str]:
        """One note per kind and reason; many objects of a kind share one."""
        for (kind, reason), wheres in self.ignored.items():
            first = f"{describe_object(wheres[0])} ({describe_location(wheres[0])})"
            if len(wheres) == 1:
                yield f"ignored {first}: {reason}"
            else:
                yield f"ignored {len(wheres)} {kind} objects, the first {first}: {reason}"


_HANDLERS: dict[tuple[str, str], tuple[tuple[str, ...], Callable[[_Collector, Document], None]]]
_HANDLERS = {
    ("", "Service"): (("v1",), _Collector.add_service),
    ("discovery.k8s.io", "EndpointSlice"): (("v1",), _Collector.add_endpoint_slice),
    ("", "Node"): (("v1",), _Collector.add_node),
    ("", "Pod"): (("v1",), _Collector.add_pod),
    ("networking.k8s.io", "ServiceCIDR"): (("v1", "v1beta1"), _Collector.add_service_cidr),
    ("", "ConfigMap"): (("v1",), _Collector.add_config_map),
    (API_VERSION.rpartition("/")[0], "KubeProxyConfiguration"): (
        (API_VERSION.rpartition("/")[2],),
        _Collector.add_configuration,
    ),
    ("apps", "Deployment"): (("v1",), _Collector.add_workload),
    ("apps", "ReplicaSet"): (("v1",), _Collector.add_workload),
    ("apps", "StatefulSet"): (("v1",), _Collector.add_workload),
    ("networking.k8s.io", "NetworkPolicy"): (("v1",), _Collector.add_network_policy),
    (SCENARIO_API_VERSION.rpartition("/")[0], "Scenario"): (
        (SCENARIO_API_VERSION.rpartition("/")[2],),
        _Collector.add_scenario,
    ),
}


def _convert_config_map(doc: Document) -> ConfigMap:
    """A ConfigMap's ``data`` (string values only; ``binaryData`` is not read)."""
    if not doc.where.name:
        raise doc.error("is required", field="metadata.name", fix="give the object a name")
    data = doc.body.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise doc.error(
            "has data that is not a map of strings", field="data", fix="quote every value"
        )
    return ConfigMap(
        namespace=doc.where.namespace or "default",
        name=doc.where.name,
        data=tuple((str(k), v) for k, v in data.items()),
    )


def orphan_notes(services: Sequence[Service], slices: Sequence[EndpointSlice]) -> Iterator[str]:
    """EndpointSlices kube-proxy would not attach to a Service in this input."""
    keys = {service.key for service in services}
    for endpoint_slice in slices:
        name = f"{endpoint_slice.namespace}/{endpoint_slice.name}"
        owner = f"{endpoint_slice.namespace}/{endpoint_slice.service_name}"
        if endpoint_slice.service_name is None:
            yield f"EndpointSlice {name} has no {LABEL_SERVICE_NAME} label; kube-proxy ignores it"
        elif services and owner not in keys:
            yield (
                f"EndpointSlice {name} belongs to Service {owner}, which is not in the input; kept"
            )
    if slices and not services:
        yield (
            f"the input has no Service objects; its {len(slices)} EndpointSlice(s) are kept "
            "without them"
        )


def unknown_node_notes(slices: Sequence[EndpointSlice], nodes: Sequence[Node]) -> Iterator[str]:
    """Endpoints on nodes the input does not describe (kept: partial dumps are normal)."""
    known = {node.name for node in nodes}
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.endpoints:
            node_name = endpoint.node_name
            if node_name is not None and node_name not in known:
                counts[node_name] += 1
                first.setdefault(node_name, f"{endpoint_slice.namespace}/{endpoint_slice.name}")
    if counts and not nodes:
        yield (
            f"the input has no Node objects; {counts.total()} endpoint(s) on {len(counts)} "
            "node(s) are kept without them"
        )
        return
    for node_name in sorted(counts):
        yield (
            f"Node {node_name} is not in the input, but {counts[node_name]} endpoint(s) name it "
            f"(the first in EndpointSlice {first[node_name]}); they are kept"
        )
