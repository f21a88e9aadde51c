"""srcip.doctor.kubeapi against a real cluster (opt-in: ``pytest tests/e2e --cluster``)."""

from __future__ import annotations

from typing import Any

import pytest

from srcip.doctor.kubeapi import LiveRead, read_cluster
from srcip.errors import Where
from srcip.manifests import convert_documents

CONVERTED = {"Service", "EndpointSlice", "Node", "Pod"}


@pytest.fixture(scope="module")
def live(cluster_context: str | None) -> LiveRead:
    """One read of the whole cluster (all namespaces, CRDs included)."""
    return read_cluster(
        kubeconfig=None, context=cluster_context, namespace=None, all_namespaces=True
    )


def test_every_object_is_a_located_plain_dict(live: LiveRead) -> None:
    """Each document has apiVersion, kind and metadata, and its Where matches it."""
    assert live.documents
    for where, doc in live.documents:
        assert isinstance(doc, dict)
        assert doc["apiVersion"]
        assert doc["kind"]
        assert where.file == f"cluster:{live.context}"
        assert (where.kind, where.name) == (doc["kind"], doc["metadata"]["name"])


def test_the_cluster_has_nodes_and_the_kubernetes_service(live: LiveRead) -> None:
    """Every cluster has a Node and default/kubernetes with its EndpointSlice."""
    kinds = {(w.kind, w.namespace, w.name) for w, _ in live.documents}
    assert any(kind == "Node" for kind, _, _ in kinds)
    assert ("Service", "default", "kubernetes") in kinds
    assert ("EndpointSlice", "default", "kubernetes") in kinds


def test_the_documents_convert_into_a_cluster(live: LiveRead) -> None:
    """Services, EndpointSlices, Nodes and Pods as read convert without error."""
    docs: list[tuple[Where, Any]] = [
        (where, doc) for where, doc in live.documents if doc["kind"] in CONVERTED
    ]
    cluster = convert_documents(docs)
    assert {n.name for n in cluster.nodes} == {
        doc["metadata"]["name"] for _, doc in docs if doc["kind"] == "Node"
    }
    assert any(s.name == "kubernetes" for s in cluster.services)
