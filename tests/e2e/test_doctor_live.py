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


def test_the_whole_diagnosis_agrees_with_the_exact_models(live: LiveRead) -> None:
    """The live cluster diagnosed: JSON-serialisable, and every external Service's groups
    give the per-node and per-pod shares share() gives node by node."""
    import json

    from srcip.doctor import diagnose, diagnosis_json, load_snapshot
    from srcip.model.index import build_index
    from srcip.model.share import share

    snapshot = load_snapshot(live.documents)
    result = diagnose(snapshot)
    json.dumps(diagnosis_json(result))
    index = build_index(snapshot.cluster)
    for item in result.services:
        summary = item.summary
        if summary is None:
            continue
        (exact,) = share(snapshot.cluster, service=summary.service, index=index).services
        per_node = {n: g.share for g in summary.groups for n in g.nodes}
        if summary.groups:
            assert per_node == {n.name: n.share for n in exact.nodes}
        assert [(p.name, p.share) for p in summary.pods] == [(p.name, p.share) for p in exact.pods]
