"""What the doctor infers from a snapshot, each item with the object it came from.

Nothing here is asked of the user: the provider comes from
:func:`srcip.model.providers.infer_provider` (providerID, ``loadBalancerClass``,
annotations), kube-proxy's mode from its ConfigMap, a replacement from Cilium's
``cilium-config`` (``kube-proxy-replacement``, ``bpf-lb-mode``; ecosystem §1.6) or Calico's
``FelixConfiguration`` (``bpfEnabled``; §1.7), the ingress controller and the ConfigMap it
reads from its container's ``--configmap`` argument, mesh sidecars from container names and
injection annotations (§3), CNI masquerade settings from the CNI's config and env (§6 #11).
"""

from __future__ import annotations

from dataclasses import dataclass

from srcip.doctor.snapshot import PodOwner, Snapshot
from srcip.model.objects import ConfigMap, Service
from srcip.model.providers import infer_provider

__all__ = [
    "Inference",
    "Inferred",
    "IngressController",
    "Sidecar",
    "config_map_data",
    "infer",
    "provider_of",
]

CILIUM_CONFIG = "kube-system/cilium-config"
KUBE_PROXY_CONFIG = "kube-system/kube-proxy"
_NGINX_BINARY = "/nginx-ingress-controller"
_MESH_CONTAINERS = {"istio-proxy": "istio", "linkerd-proxy": "linkerd"}
# Injection annotations on the pod template (istio: sidecar.istio.io/inject; linkerd docs).
_MESH_ANNOTATIONS = {
    ("sidecar.istio.io/inject", "true"): "istio",
    ("linkerd.io/inject", "enabled"): "linkerd",
}
# CNI settings that decide whether pod traffic is masqueraded (ecosystem §6 #11).
_CILIUM_MASQUERADE = ("enable-ipv4-masquerade", "enable-bpf-masquerade", "enable-ipv6-masquerade")
_MASQUERADE_ENV = frozenset({"CALICO_IPV4POOL_NAT_OUTGOING", "NO_MASQ_LOCAL", "IPMASQ"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Inferred:
    """One inferred fact and where it came from."""

    name: str
    value: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressController:
    """An ingress-nginx controller and the ConfigMap it reads (``--configmap``)."""

    owner: str  # Kind namespace/name
    namespace: str
    labels: tuple[tuple[str, str], ...]
    config_map: str | None  # namespace/name; None: the flag is not visible


@dataclass(frozen=True, slots=True, kw_only=True)
class Sidecar:
    """A workload whose pods run a mesh sidecar."""

    owner: str  # Kind namespace/name
    namespace: str
    labels: tuple[tuple[str, str], ...]
    mesh: str  # istio | linkerd
    source: str  # the container or annotation that told
    tproxy: bool = False  # sidecar.istio.io/interceptionMode: TPROXY


@dataclass(frozen=True, slots=True, kw_only=True)
class Inference:
    """Everything inferred, for the checks and for display."""

    facts: tuple[Inferred, ...]
    kube_proxy_running: bool
    replacement: str | None  # "cilium" | "calico-ebpf" | None
    cilium_lb_mode: str | None  # snat | dsr | hybrid | annotation (Cilium KPR only)
    ingress_controllers: tuple[IngressController, ...]
    sidecars: tuple[Sidecar, ...]
    daemonsets: tuple[PodOwner, ...] = ()  # CNI and service-proxy agents, read once per snapshot


def config_map_data(snapshot: Snapshot, key: str) -> dict[str, str] | None:
    """The data of ConfigMap ``namespace/name``, or None when the snapshot lacks it."""
    found: ConfigMap | None = next(
        (c for c in snapshot.cluster.config_maps if f"{c.namespace}/{c.name}" == key), None
    )
    return dict(found.data) if found is not None else None


def provider_of(snapshot: Snapshot, service: Service) -> tuple[str | None, str]:
    """The Service's provider and why (:func:`infer_provider` on the snapshot's nodes)."""
    return infer_provider(service, snapshot.cluster.nodes)


def _proxy_config(snapshot: Snapshot, source: str) -> list[Inferred]:
    """The kube-proxy settings that decide what a pod sees (KP §3.4, §4.1, terminology)."""
    config = snapshot.cluster.proxy_config
    cidrs = ", ".join(str(c) for c in config.cluster_cidrs) or "none"
    if config.node_port_addresses_primary:
        node_ports = "primary (each node's primary IPs)"
    elif config.node_port_addresses:
        node_ports = ", ".join(str(c) for c in config.node_port_addresses)
    else:
        node_ports = "default for the mode"
    return [
        Inferred(
            name="kube-proxy detectLocalMode",
            value=f"{config.detect_local_mode} (clusterCIDR {cidrs})",
            source=source,
        ),
        Inferred(
            name="kube-proxy masqueradeAll",
            value=str(config.masquerade_all).lower(),
            source=source,
        ),
        Inferred(name="kube-proxy nodePortAddresses", value=node_ports, source=source),
    ]


def infer(snapshot: Snapshot) -> Inference:
    """Everything the doctor infers from ``snapshot``."""
    facts: list[Inferred] = []
    owners = snapshot.extras.owners
    kube_proxy = any(o.kind == "DaemonSet" and o.name == "kube-proxy" for o in owners)
    mode_source = (
        f"ConfigMap {KUBE_PROXY_CONFIG}"
        if config_map_data(snapshot, KUBE_PROXY_CONFIG) is not None
        else "no kube-proxy ConfigMap in the input: kube-proxy's default"
    )
    facts.append(
        Inferred(
            name="kube-proxy mode",
            value=snapshot.extras.kube_proxy_mode or snapshot.cluster.proxy_config.mode.value,
            source=mode_source,
        )
    )
    facts.extend(_proxy_config(snapshot, mode_source))
    if kube_proxy:
        facts.append(Inferred(name="kube-proxy", value="running", source="DaemonSet kube-proxy"))
    replacement, lb_mode = _replacement(snapshot, facts)
    controllers = tuple(c for o in owners if (c := _controller(o)) is not None)
    for controller in controllers:
        facts.append(
            Inferred(
                name="ingress controller",
                value=f"ingress-nginx, reads ConfigMap {controller.config_map or '(not visible)'}",
                source=f"{controller.owner} container args",
            )
        )
    sidecars = tuple(s for o in owners if (s := _sidecar(o)) is not None)
    for sidecar in sidecars:
        facts.append(Inferred(name="mesh sidecar", value=sidecar.mesh, source=sidecar.source))
    facts.extend(_masquerade(snapshot))
    return Inference(
        facts=tuple(facts),
        kube_proxy_running=kube_proxy,
        replacement=replacement,
        cilium_lb_mode=lb_mode,
        ingress_controllers=controllers,
        sidecars=sidecars,
        daemonsets=tuple(o for o in owners if o.kind == "DaemonSet"),
    )


def _replacement(snapshot: Snapshot, facts: list[Inferred]) -> tuple[str | None, str | None]:
    cilium = config_map_data(snapshot, CILIUM_CONFIG) or {}
    kpr = cilium.get("kube-proxy-replacement", "").strip().lower()
    if kpr in ("true", "strict"):
        mode = cilium.get("bpf-lb-mode", "snat").strip().lower()  # Cilium's default: snat
        source = f"ConfigMap {CILIUM_CONFIG} kube-proxy-replacement={kpr}"
        facts.append(Inferred(name="kube-proxy replacement", value="cilium", source=source))
        why = "bpf-lb-mode" if "bpf-lb-mode" in cilium else "bpf-lb-mode absent: Cilium default"
        facts.append(Inferred(name="Cilium LB mode", value=mode, source=why))
        return "cilium", mode
    for felix in snapshot.extras.felix:
        if felix.bpf_enabled:
            mode = felix.bpf_external_service_mode or "Tunnel"
            source = f"FelixConfiguration {felix.name} bpfEnabled=true"
            name = "kube-proxy replacement"
            facts.append(Inferred(name=name, value="calico-ebpf", source=source))
            facts.append(Inferred(name="Calico external service mode", value=mode, source=source))
            return "calico-ebpf", None
    return None, None


def _controller(owner: PodOwner) -> IngressController | None:
    for container in owner.containers:
        if not any(a.endswith(_NGINX_BINARY) for a in container.args) and (
            "ingress-nginx/controller" not in container.image
        ):
            continue
        config_map = None
        for arg in container.args:
            if arg.startswith("--configmap="):
                config_map = arg.split("=", 1)[1].replace("$(POD_NAMESPACE)", owner.namespace)
        return IngressController(
            owner=f"{owner.kind} {owner.key}",
            namespace=owner.namespace,
            labels=owner.labels,
            config_map=config_map,
        )
    return None


def _sidecar(owner: PodOwner) -> Sidecar | None:
    annotations = dict(owner.annotations)
    tproxy = annotations.get("sidecar.istio.io/interceptionMode", "").upper() == "TPROXY"
    where = f"{owner.kind} {owner.key}"
    for container in owner.containers:
        if container.name in _MESH_CONTAINERS:
            mesh = _MESH_CONTAINERS[container.name]
            source = f"{where} container {container.name}"
            return Sidecar(
                owner=where,
                namespace=owner.namespace,
                labels=owner.labels,
                mesh=mesh,
                source=source,
                tproxy=tproxy,
            )
    for (key, value), mesh in _MESH_ANNOTATIONS.items():
        if annotations.get(key, "").lower() == value:
            return Sidecar(
                owner=where,
                namespace=owner.namespace,
                labels=owner.labels,
                mesh=mesh,
                source=f"{where} annotation {key}={value}",
                tproxy=tproxy,
            )
    return None


def _masquerade(snapshot: Snapshot) -> list[Inferred]:
    found: list[Inferred] = []
    cilium = config_map_data(snapshot, CILIUM_CONFIG) or {}
    for key in _CILIUM_MASQUERADE:
        if key in cilium:
            found.append(
                Inferred(name=f"CNI {key}", value=cilium[key], source=f"ConfigMap {CILIUM_CONFIG}")
            )
    for owner in snapshot.extras.owners:
        if owner.kind != "DaemonSet":
            continue
        for container in owner.containers:
            for name, value in container.env:
                if name in _MASQUERADE_ENV:
                    source = f"DaemonSet {owner.key} container {container.name} env"
                    found.append(Inferred(name=f"CNI {name}", value=value, source=source))
    return found
