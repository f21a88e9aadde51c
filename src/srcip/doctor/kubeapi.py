"""Live input of ``srcip doctor``: the cluster's own objects, read through lightkube.

Read-only: only ``list`` requests are sent (``deploy/doctor-rbac.yaml`` grants exactly get and
list on the kinds of :data:`KINDS`). Every object comes back as a plain dict with
``apiVersion`` and ``kind`` set — what ``kubectl get -o json`` shows — located as
``Where(file="cluster:<context>", document=i, ...)``, so that the doctor reads a live cluster
and a dump (:mod:`srcip.doctor.snapshot`) the same way.

Lists are paged with ``limit``/``continue`` (lightkube's ``chunk_size``; 500 a page, as
kubectl). Namespaced kinds are read in one namespace (``-n``, else the context's) or in all
(``-A``); Nodes and FelixConfigurations are cluster-wide. Reading one namespace, ConfigMaps
and DaemonSets of ``kube-system`` are read as well when allowed: kube-proxy's, Cilium's and
Calico's configuration lives there (a 403 there is a note, not an error).

Optional CRDs (MetalLB, Calico, Gateway API, Istio) are listed when ``crds``: a 404 means the
API does not serve the group ("the server could not find the requested resource"), noted as
not installed. Every other failure is a :class:`srcip.errors.ClusterAPIError` naming the
server, the resource and verb, and the fix.

This is the only module of :mod:`srcip.doctor` that imports lightkube's client.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import msgspec
import yaml
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import User
from lightkube.core.resource import NamespacedResource, Resource, api_info
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Node, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy

from srcip.errors import ClusterAPIError, Where

__all__ = [
    "CRDS",
    "KINDS",
    "RBAC_MANIFEST",
    "LiveRead",
    "read_cluster",
    "read_cluster_documents",
]

#: The manifest that grants what this module needs (named in permission errors).
RBAC_MANIFEST = "deploy/doctor-rbac.yaml"
#: Items a page, as kubectl asks for.
CHUNK_SIZE = 500
#: Seconds to wait for the API server (connect and each read).
TIMEOUT = 10.0
#: Where kube-proxy, Cilium and Calico keep their configuration.
SYSTEM_NAMESPACE = "kube-system"

#: Built-in kinds the doctor reads, in reading order.
KINDS: tuple[type[Resource], ...] = (
    Service,
    EndpointSlice,
    Node,
    Pod,
    ConfigMap,
    DaemonSet,
    Deployment,
    StatefulSet,
    Ingress,
    NetworkPolicy,
)

#: Optional CRDs: (group, version, kind, plural, namespaced). Sources: MetalLB
#: config/crd, Calico crd.projectcalico.org FelixConfiguration (bpfEnabled: Calico eBPF
#: replaces kube-proxy), Gateway API standard channel, Istio's Gateway (gatewayTopology) and
#: EnvoyFilter (the older PROXY protocol listener filter).
CRDS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools", True),
    ("metallb.io", "v1beta1", "L2Advertisement", "l2advertisements", True),
    ("metallb.io", "v1beta1", "BGPAdvertisement", "bgpadvertisements", True),
    ("crd.projectcalico.org", "v1", "FelixConfiguration", "felixconfigurations", False),
    ("gateway.networking.k8s.io", "v1", "Gateway", "gateways", True),
    ("networking.istio.io", "v1beta1", "Gateway", "gateways", True),
    ("networking.istio.io", "v1alpha3", "EnvoyFilter", "envoyfilters", True),
)

ALL_NAMESPACES = "*"  # lightkube's marker for a list across all namespaces


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveRead:
    """What a live read returned: the located documents and what was noted on the way."""

    context: str
    server: str
    documents: list[tuple[Where, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_cluster_documents(
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    crds: bool = True,
) -> list[tuple[Where, dict[str, Any]]]:
    """Every object the doctor needs from the live cluster, as located plain dicts.

    ``kubeconfig``: a file (default ``$KUBECONFIG``, then ``~/.kube/config``, then the
    in-cluster service account); ``context``: default the current one; ``namespace``: default
    the context's; ``all_namespaces`` wins over ``namespace`` (as in kubectl). See
    :func:`read_cluster` for the notes (absent CRDs, unreadable kube-system).
    """
    return read_cluster(
        kubeconfig=kubeconfig,
        context=context,
        namespace=namespace,
        all_namespaces=all_namespaces,
        crds=crds,
    ).documents


def read_cluster(
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    crds: bool = True,
    chunk_size: int = CHUNK_SIZE,
    timeout: float = TIMEOUT,
) -> LiveRead:
    """Like :func:`read_cluster_documents`, with the notes, the context and the server."""
    config = _load_config(kubeconfig, context)
    server = config.cluster.server
    target = ALL_NAMESPACES if all_namespaces else namespace or config.namespace
    read = LiveRead(context=config.context_name, server=server)
    client = _client(config, timeout)
    reader = _Reader(client=client, read=read, chunk_size=chunk_size)
    try:
        for resource in KINDS:
            reader.read_kind(resource, target)
        if target not in (ALL_NAMESPACES, SYSTEM_NAMESPACE):
            reader.read_kind(ConfigMap, SYSTEM_NAMESPACE, optional=True)
            reader.read_kind(DaemonSet, SYSTEM_NAMESPACE, optional=True)
        if crds:
            for resource in _crd_resources():
                reader.read_kind(resource, target, crd=True)
    finally:
        client.close()
    return read


def _crd_resources() -> Iterator[type[Resource]]:
    for group, version, kind, plural, namespaced in CRDS:
        create = create_namespaced_resource if namespaced else create_global_resource
        yield create(group, version, kind, plural)


@dataclass(slots=True, kw_only=True)
class _Reader:
    """Lists kinds into ``read``, numbering the documents from 1 in reading order."""

    client: Client
    read: LiveRead
    chunk_size: int

    def read_kind(
        self, resource: type[Resource], target: str, *, optional: bool = False, crd: bool = False
    ) -> None:
        """Append every object of ``resource`` in ``target`` (a namespace or all of them)."""
        info = api_info(resource)
        namespaced = issubclass(resource, NamespacedResource)
        namespace = target if namespaced else None
        try:
            items = self._list_dicts(resource, namespace)
        except httpx2.HTTPStatusError as exc:
            status = exc.response.status_code
            if (crd and status == 404) or (optional and status == 403):
                self.read.notes.append(_skipped(resource, namespace, status))
                return
            raise _status_error(self.read, resource, namespace, exc) from exc
        except httpx2.TransportError as exc:
            raise _unreachable(self.read, exc) from exc
        except (ConfigError, OSError) as exc:  # an exec plugin or token file failed
            raise ClusterAPIError(
                f"the credentials of context {self.read.context!r} cannot be obtained: {exc}. "
                "Fix: check the context's user entry (`kubectl config view --minify`) and log "
                "in again"
            ) from exc
        except msgspec.MsgspecError as exc:
            raise ClusterAPIError(
                f"the API server at {self.read.server} answered the list of "
                f"{_resource_name(resource)} with something that is not a Kubernetes list "
                f"({exc}). Fix: check that the context points at a Kubernetes API server"
            ) from exc
        for obj in items:
            obj["apiVersion"] = info.resource.api_version
            obj["kind"] = info.resource.kind
            self._add(obj)

    def _list_dicts(self, resource: type[Resource], namespace: str | None) -> list[dict[str, Any]]:
        # Every page, following ``continue`` (lightkube's chunk_size sends ``limit``).
        listed: Iterable[Any] = self.client.list(
            resource, namespace=namespace, chunk_size=self.chunk_size
        )
        return [obj.to_dict() for obj in listed]

    def _add(self, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        where = Where(
            file=f"cluster:{self.read.context}",
            document=len(self.read.documents) + 1,
            kind=obj["kind"],
            namespace=metadata.get("namespace"),
            name=metadata.get("name"),
        )
        self.read.documents.append((where, obj))


def _resource_name(resource: type[Resource]) -> str:
    """``endpointslices.discovery.k8s.io`` — the name ``kubectl auth can-i`` takes."""
    info = api_info(resource)
    group = info.resource.group
    return f"{info.plural}.{group}" if group else info.plural


def _scope(namespace: str | None) -> str:
    if namespace is None:
        return "(cluster-wide)"
    if namespace == ALL_NAMESPACES:
        return "in all namespaces"
    return f"in namespace {namespace}"


def _skipped(resource: type[Resource], namespace: str | None, status: int) -> str:
    name = _resource_name(resource)
    api_version = api_info(resource).resource.api_version
    if status == 404:
        return f"{name}: not installed (the API does not serve {api_version})"
    return f"{name} {_scope(namespace)}: not readable (403), skipped"


def _status_error(
    read: LiveRead, resource: type[Resource], namespace: str | None, exc: httpx2.HTTPStatusError
) -> ClusterAPIError:
    """The error for an HTTP error answer to ``list``: 401, 403, 404 or anything else."""
    status = exc.response.status_code
    name = _resource_name(resource)
    message = exc.status.message if isinstance(exc, ApiError) else exc.response.text[:200]
    where = f"the API server at {read.server} (context {read.context!r})"
    if status == 401:
        return ClusterAPIError(
            f"{where} refused the credentials (401 Unauthorized): they are missing, expired or "
            f"invalid. Fix: log in again (renew the token, or rerun your provider's "
            f"get-credentials command), then check with `kubectl config view --minify` and "
            f"`kubectl --context {read.context} auth whoami`",
            status=status,
        )
    if status == 403:
        return ClusterAPIError(
            f"{where} does not allow verb 'list' on resource {name!r} {_scope(namespace)} "
            f"(403 Forbidden: {message}). Fix: grant get and list on it, e.g. "
            f"`kubectl apply -f {RBAC_MANIFEST}` and bind the ClusterRole srcip-doctor to "
            f"your user; check with `kubectl auth can-i list {name}"
            f"{'' if namespace in (None, ALL_NAMESPACES) else f' -n {namespace}'}"
            f"{' -A' if namespace == ALL_NAMESPACES else ''}`",
            status=status,
            resource=name,
            verb="list",
        )
    if status == 404:
        return ClusterAPIError(
            f"{where} does not serve {api_info(resource).resource.api_version} {name} (404). "
            "Fix: srcip doctor needs Kubernetes 1.21 or later",
            status=status,
            resource=name,
            verb="list",
        )
    return ClusterAPIError(
        f"{where} answered {status} to 'list' {name} {_scope(namespace)}: {message}. "
        "Fix: retry; if it persists, check the API server's health (`kubectl get --raw /readyz`)",
        status=status,
        resource=name,
        verb="list",
    )


def _unreachable(read: LiveRead, exc: httpx2.TransportError) -> ClusterAPIError:
    reason = "it did not answer in time" if isinstance(exc, httpx2.TimeoutException) else exc
    return ClusterAPIError(
        f"cannot reach the Kubernetes API server at {read.server} (context {read.context!r}): "
        f"{reason}. Fix: check that the cluster is running and the address is right "
        "(`kubectl config view --minify`), your VPN or firewall, or pick another context "
        "with --context"
    )


def _client(config: SingleConfig, timeout: float) -> Client:
    try:
        return Client(config, timeout=httpx2.Timeout(timeout))
    except (ConfigError, OSError) as exc:
        raise ClusterAPIError(
            f"the credentials or certificates of context {config.context_name!r} cannot be "
            f"used: {exc}. Fix: check the context's cluster and user entries "
            "(`kubectl config view --minify`)"
        ) from exc


def _load_config(kubeconfig: str | None, context: str | None) -> SingleConfig:
    """The chosen context of the kubeconfig (kubectl's search order), or the pod's account."""
    path = kubeconfig if kubeconfig is not None else _default_kubeconfig()
    try:
        config = KubeConfig.from_service_account() if path is None else KubeConfig.from_file(path)
    except (ConfigError, OSError, KeyError, TypeError, yaml.YAMLError, msgspec.MsgspecError) as exc:
        raise ClusterAPIError(
            f"cannot read the kubeconfig {path or '(in-cluster service account)'}: {exc}. "
            "Fix: pass a valid file with --kubeconfig or set KUBECONFIG"
        ) from exc
    if context is not None and context not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise ClusterAPIError(
            f"context {context!r} is not in the kubeconfig {path} (its contexts: {known}). "
            "Fix: pick one with --context (`kubectl config get-contexts`)"
        )
    try:
        single = config.get(context)
    except (ConfigError, KeyError) as exc:
        raise ClusterAPIError(
            f"the kubeconfig {path} has no usable current context ({exc}). Fix: pass --context "
            "or run `kubectl config use-context NAME`; every context must name a cluster and "
            "user defined in the file"
        ) from exc
    assert single is not None  # get() without a default returns a config or raises
    return single if single.user is not None else single._replace(user=User())


def _default_kubeconfig() -> str | None:
    """``$KUBECONFIG`` (its first existing file), ``~/.kube/config``, else in-cluster (None)."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for path in [*listed, os.path.expanduser("~/.kube/config")]:
        if os.path.isfile(path):
            return path
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    raise ClusterAPIError(
        "no kubeconfig found "
        + (f"(KUBECONFIG={os.environ['KUBECONFIG']})" if listed else "at ~/.kube/config")
        + " and not running inside a cluster. Fix: pass --kubeconfig PATH or set KUBECONFIG"
    )
