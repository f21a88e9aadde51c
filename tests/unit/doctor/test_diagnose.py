"""diagnose: which Services, the model's prediction per Service, and the JSON/text output."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import pytest
from rich.console import Console

from srcip.doctor import Severity, diagnose, diagnosis_json, load_snapshot, print_diagnosis
from srcip.errors import UsageError
from srcip.manifests import read_documents
from srcip.model.grouped import SeenKind

FIXTURES = Path(__file__).parent / "fixtures"


UNEVEN = ("nodes-gke", "app-web-uneven", "svc-web-gke-local", "ingress-real-ip-everything")


def test_every_external_service_by_default() -> None:
    """Without filters every LoadBalancer/NodePort Service is diagnosed."""
    result = diagnose(load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in UNEVEN])))
    assert [s.service.key for s in result.services] == [
        "default/web",
        "ingress-nginx/ingress-nginx-controller",
    ]


def test_namespace_and_service_filters() -> None:
    """-n keeps one namespace; svc/NAME picks one Service of it."""
    snapshot = load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in UNEVEN]))
    in_ns = diagnose(snapshot, namespace="ingress-nginx")
    assert [s.service.key for s in in_ns.services] == ["ingress-nginx/ingress-nginx-controller"]
    one = diagnose(snapshot, service="web")
    assert [s.service.key for s in one.services] == ["default/web"]
    with pytest.raises(UsageError, match="default/nope is not in the input"):
        diagnose(snapshot, service="nope")


def test_prediction_per_service() -> None:
    """Local on GKE: pods see the client; node groups and pod shares come from the model."""
    snapshot = load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in UNEVEN[:3]]))
    (item,) = diagnose(snapshot).services
    assert item.provider == "gke"
    summary = item.summary
    assert summary is not None
    assert [(s.kind, str(s.address), s.probability) for s in summary.pod_sees] == [
        (SeenKind.CLIENT, "203.0.113.7", Fraction(1))
    ]
    assert [(g.nodes, g.share, g.healthy, g.local_pods) for g in summary.groups] == [
        (("node-1",), Fraction(1, 2), True, 2),
        (("node-2",), Fraction(1, 2), True, 1),
        (("node-3",), Fraction(0), False, 0),
    ]
    assert summary.groups[2].health == "kube-proxy healthCheckNodePort :31234 answers 503"


def test_alike_nodes_are_one_group() -> None:
    """Cluster on GKE: the nodes without a pod in one zone form one group in the report."""
    files = ("nodes-gke", "app-web-spread", "svc-web-gke-cluster")
    snapshot = load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in files]))
    (item,) = diagnose(snapshot).services
    assert item.summary is not None
    total = sum((g.share * g.count for g in item.summary.groups), Fraction(0))
    assert total == 1
    assert sum(g.count for g in item.summary.groups) == len(snapshot.cluster.nodes)


def test_json_keys_and_exact_shares() -> None:
    """-o json carries inferred facts, services, findings and exact fractions as strings."""
    snapshot = load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in UNEVEN[:3]]))
    data = diagnosis_json(diagnose(snapshot))
    json.dumps(data)  # plain data only
    assert set(data) == {"inferred", "services", "findings", "summary", "notes"}
    (service,) = data["services"]  # type: ignore[misc]
    assert set(service) >= {"service", "podSees", "appSees", "path", "nodeGroups", "pods", "lost"}
    assert service["nodeGroups"][2]["nodes"] == ["node-3"]
    health_check = service["loadBalancer"]["health_check"]
    assert (health_check["target"], health_check["port"]) == ("healthCheckNodePort", 31234)
    assert service["podSees"][0]["kind"] == "client"
    assert any(str(w).startswith("KP §4.3") for w in service["why"])
    assert service["pods"][2] == {"name": "web-7d4b9c-3", "node": "node-2", "share": "1/2"}
    assert data["summary"] == {"info": 0, "warning": 1, "error": 0}


def test_text_output() -> None:
    """The text report shows the inferred facts, the split, and each finding with its fix."""
    snapshot = load_snapshot(read_documents([FIXTURES / f"{n}.yaml" for n in UNEVEN]))
    out = io.StringIO()
    print_diagnosis(Console(file=out, width=200), diagnose(snapshot), verbose=True)
    text = out.getvalue()
    assert "kube-proxy mode" in text
    assert "health check: HTTP :31234 /healthz (healthCheckNodePort)" in text
    assert "WARNING Local policy: 1 node(s) get nothing" in text
    assert "proxy-real-ip-cidr trusts every address" in text
    assert "2 Service(s): 0 error(s), 3 warning(s)" in text


def test_no_external_service() -> None:
    """A dump with no external Service reports that and finds nothing."""
    result = diagnose(load_snapshot(read_documents([FIXTURES / "nodes-gke.yaml"])))
    assert result.services == ()
    assert not result.has_finding_at(Severity.INFO)
    out = io.StringIO()
    print_diagnosis(Console(file=out, width=200), result)
    assert "No LoadBalancer or NodePort Service" in out.getvalue()
