"""A cluster snapshot for the doctor: the model's :class:`Cluster` plus the extras it needs.

:func:`srcip.manifests.convert_documents` reads what kube-proxy reads (and Workloads,
NetworkPolicies, ConfigMaps); the kinds it only notes — DaemonSets, Ingresses, MetalLB and
Calico CRDs — and the container arguments and env it does not keep are read here into
:class:`Extras`: plain frozen values, nothing the model computes with. Shapes this module does
not understand are tolerated and recorded in ``notes`` (a live cluster holds every version of
everything); a document the manifests layer refuses still raises its ``ManifestError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from srcip.errors import Where
from srcip.manifests import collector_paused, convert_documents
from srcip.manifests.documents import Document, expand_document
from srcip.model.objects import Cluster

__all__ = [
    "AddressPool",
    "Advertisement",
    "Container",
    "Extras",
    "FelixConfig",
    "IngressInfo",
    "PodOwner",
    "Snapshot",
    "load_snapshot",
]

# kube-proxy modes the model does not simulate (manifests/kubeproxyconfig.py refuses them).
# IPVS follows the same externalTrafficPolicy rules as iptables on paper (ecosystem §1.7),
# so the doctor models it as iptables, keeps the real mode in Extras and checks its quirks.
_UNMODELLED_MODE = re.compile(r'^(mode:\s*)["\']?(ipvs|kernelspace)["\']?\s*$', re.MULTILINE)
_OWNER_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """One container of a pod template: what the doctor reads from it."""

    name: str
    image: str = ""
    args: tuple[str, ...] = ()  # command + args, in order
    env: tuple[tuple[str, str], ...] = ()  # literal values only (valueFrom is skipped)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodOwner:
    """A Deployment, DaemonSet, StatefulSet or ReplicaSet and its pod template."""

    kind: str
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...] = ()  # the pod template's
    annotations: tuple[tuple[str, str], ...] = ()  # the pod template's
    containers: tuple[Container, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressInfo:
    """A ``networking.k8s.io/v1`` Ingress, as far as the doctor reads it."""

    namespace: str
    name: str
    class_name: str | None = None  # spec.ingressClassName or the legacy annotation
    hosts: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressPool:
    """A MetalLB ``IPAddressPool``."""

    namespace: str
    name: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertisement:
    """A MetalLB ``L2Advertisement`` or ``BGPAdvertisement``; no pools: every pool."""

    kind: str  # "L2Advertisement" | "BGPAdvertisement"
    namespace: str
    name: str
    pools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FelixConfig:
    """A Calico ``FelixConfiguration``: the eBPF dataplane settings."""

    name: str
    bpf_enabled: bool | None = None
    bpf_external_service_mode: str | None = None  # Tunnel (default) | DSR


@dataclass(frozen=True, slots=True, kw_only=True)
class Extras:
    """What the manifests layer does not keep but the doctor reads."""

    owners: tuple[PodOwner, ...] = ()
    ingresses: tuple[IngressInfo, ...] = ()
    address_pools: tuple[AddressPool, ...] = ()
    advertisements: tuple[Advertisement, ...] = ()
    felix: tuple[FelixConfig, ...] = ()
    kube_proxy_mode: str | None = None  # set when the ConfigMap names a mode modelled as iptables


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A cluster as the doctor sees it."""

    cluster: Cluster
    extras: Extras
    notes: tuple[str, ...] = ()


def load_snapshot(docs: Iterable[tuple[Where, object]]) -> Snapshot:
    """The :class:`Snapshot` of located documents (a dump, or the live reader's objects)."""
    reader = _Reader()
    with collector_paused():
        located = [(where, reader.rewrite(value)) for where, value in docs]
        located = [(where, value) for where, value in located if not reader.scenario(value)]
        cluster = convert_documents(located)
        for where, value in located:
            if value is not None:
                for doc in expand_document(where, value):
                    reader.add(doc)
    return Snapshot(cluster=cluster, extras=reader.extras(), notes=tuple(reader.notes))


class _Reader:
    """Collects :class:`Extras` document by document."""

    def __init__(self) -> None:
        self.owners: list[PodOwner] = []
        self.ingresses: list[IngressInfo] = []
        self.pools: list[AddressPool] = []
        self.ads: list[Advertisement] = []
        self.felix: list[FelixConfig] = []
        self.notes: list[str] = []
        self.kube_proxy_mode: str | None = None

    def scenario(self, value: object) -> bool:
        """Whether ``value`` is srcip's own ``kind: Scenario`` (skipped, with a note)."""
        if not isinstance(value, Mapping) or value.get("kind") != "Scenario":
            return False
        self.notes.append(
            "a kind: Scenario document was skipped: the doctor reads the cluster's own "
            "objects (the Scenario is for srcip trace, share and lab)"
        )
        return True

    def rewrite(self, value: object) -> object:
        """``value`` with an ipvs/kernelspace kube-proxy mode replaced by iptables (noted)."""
        if not isinstance(value, Mapping):
            return value
        if value.get("kind") == "List" and isinstance(value.get("items"), list):
            return {**value, "items": [self.rewrite(item) for item in value["items"]]}
        meta = value.get("metadata")
        data = value.get("data")
        if (
            value.get("kind") != "ConfigMap"
            or not isinstance(meta, Mapping)
            or meta.get("name") != "kube-proxy"
            or not isinstance(data, Mapping)
            or not isinstance(data.get("config.conf"), str)
        ):
            return value
        found = _UNMODELLED_MODE.search(data["config.conf"])
        if found is None:
            return value
        self.kube_proxy_mode = found.group(2)
        self.notes.append(
            f"kube-proxy mode {found.group(2)}: modelled as iptables (same traffic-policy rules, "
            "ecosystem §1.7); its own quirks are checked separately"
        )
        conf = _UNMODELLED_MODE.sub(r"\1iptables", data["config.conf"])
        return {**value, "data": {**data, "config.conf": conf}}

    def add(self, doc: Document) -> None:
        body, kind = doc.body, doc.kind
        try:
            if kind in _OWNER_KINDS:
                self.owners.append(_owner(kind, body))
            elif kind == "Ingress":
                self.ingresses.append(_ingress(body))
            elif kind == "IPAddressPool":
                spec = _map(body.get("spec"))
                addresses = tuple(str(a) for a in _list(spec.get("addresses")))
                self.pools.append(AddressPool(**_names(body), addresses=addresses))
            elif kind in ("L2Advertisement", "BGPAdvertisement"):
                pools = tuple(str(p) for p in _list(_map(body.get("spec")).get("ipAddressPools")))
                self.ads.append(Advertisement(kind=kind, **_names(body), pools=pools))
            elif kind == "FelixConfiguration":
                self.felix.append(_felix(body))
        except (TypeError, ValueError) as exc:
            self.notes.append(f"{kind} {_names(body)['name']}: not understood ({exc}); skipped")

    def extras(self) -> Extras:
        return Extras(
            owners=tuple(self.owners),
            ingresses=tuple(self.ingresses),
            address_pools=tuple(self.pools),
            advertisements=tuple(self.ads),
            felix=tuple(self.felix),
            kube_proxy_mode=self.kube_proxy_mode,
        )


def _map(value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in _map(value).items()))


def _names(body: Mapping[str, Any]) -> dict[str, str]:
    meta = body.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return {"namespace": str(meta.get("namespace", "default")), "name": str(meta.get("name", ""))}


def _container(raw: object) -> Container:
    item = _map(raw)
    words = [str(w) for w in (*_list(item.get("command")), *_list(item.get("args")))]
    env = tuple(
        (str(e["name"]), str(e["value"]))
        for e in (_map(x) for x in _list(item.get("env")))
        if "name" in e and "value" in e
    )
    return Container(
        name=str(item.get("name", "")), image=str(item.get("image", "")), args=tuple(words), env=env
    )


def _owner(kind: str, body: Mapping[str, Any]) -> PodOwner:
    template = _map(_map(body.get("spec")).get("template"))
    meta = _map(template.get("metadata"))
    pod = _map(template.get("spec"))
    containers = (*_list(pod.get("initContainers")), *_list(pod.get("containers")))
    return PodOwner(
        kind=kind,
        **_names(body),
        labels=_pairs(meta.get("labels")),
        annotations=_pairs(meta.get("annotations")),
        containers=tuple(_container(c) for c in containers),
    )


def _ingress(body: Mapping[str, Any]) -> IngressInfo:
    spec = _map(body.get("spec"))
    annotations = _pairs(_map(body.get("metadata")).get("annotations"))
    legacy = dict(annotations).get("kubernetes.io/ingress.class")
    rules = (_map(x) for x in _list(spec.get("rules")))
    hosts = tuple(str(r["host"]) for r in rules if "host" in r)
    cls = spec.get("ingressClassName")
    return IngressInfo(
        **_names(body),
        class_name=str(cls) if cls is not None else legacy,
        hosts=hosts,
        annotations=annotations,
    )


def _felix(body: Mapping[str, Any]) -> FelixConfig:
    spec = _map(body.get("spec"))
    enabled = spec.get("bpfEnabled")
    mode = spec.get("bpfExternalServiceMode")
    return FelixConfig(
        name=_names(body)["name"],
        bpf_enabled=bool(enabled) if enabled is not None else None,
        bpf_external_service_mode=str(mode) if mode is not None else None,
    )
