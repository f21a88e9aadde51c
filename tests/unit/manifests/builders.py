"""Raw manifest dicts, as YAML would give them, and shortcuts to convert them."""

from __future__ import annotations

from typing import Any

import pytest

from srcip.errors import ManifestError, Where
from srcip.manifests import convert_documents
from srcip.manifests.documents import Document, expand_document
from srcip.model.objects import Cluster

__all__ = [
    "FILE",
    "as_document",
    "convert",
    "convert_error",
    "endpoint_slice",
    "node",
    "pod",
    "proxy_configuration",
    "service",
]

FILE = "cluster.yaml"


def service(
    name: str = "echo",
    *,
    namespace: str | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A v1 Service; ``ports`` defaults to one port 80 unless given."""
    spec.setdefault("ports", [{"port": 80}])
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


def endpoint_slice(
    name: str = "echo-abc",
    *,
    service_name: str | None = "echo",
    namespace: str | None = None,
    address_type: str = "IPv4",
    endpoints: list[dict[str, Any]] | None = None,
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A discovery.k8s.io/v1 EndpointSlice."""
    metadata = _metadata(name, namespace)
    if service_name is not None:
        metadata["labels"] = {"kubernetes.io/service-name": service_name}
    body: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": address_type,
        "endpoints": endpoints,
    }
    if ports is not None:
        body["ports"] = ports
    return body


def node(name: str = "node-1", *addresses: str, **extra: Any) -> dict[str, Any]:
    """A v1 Node with InternalIP addresses; ``extra`` holds spec/status/metadata overrides."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"addresses": [{"type": "InternalIP", "address": a} for a in addresses]},
    }
    body.update(extra)
    return body


def pod(name: str = "echo-1", **extra: Any) -> dict[str, Any]:
    """A v1 Pod with one container; ``extra`` holds spec/status/metadata overrides."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "echo"}]},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def proxy_configuration(**fields: Any) -> dict[str, Any]:
    """A KubeProxyConfiguration document."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        **fields,
    }


def _metadata(name: str, namespace: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata


def as_document(body: dict[str, Any], document: int = 1) -> Document:
    """The single object of ``body``, located at document ``document`` of :data:`FILE`."""
    (doc,) = expand_document(Where(file=FILE, document=document), body)
    return doc


def convert(*bodies: object) -> Cluster:
    """Convert documents 1..n of :data:`FILE`."""
    return convert_documents(
        (Where(file=FILE, document=index), body) for index, body in enumerate(bodies, start=1)
    )


def convert_error(*bodies: object) -> ManifestError:
    """The ManifestError converting ``bodies`` raises."""
    with pytest.raises(ManifestError) as caught:
        convert(*bodies)
    return caught.value
