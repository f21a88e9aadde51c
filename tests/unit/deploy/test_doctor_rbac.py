"""deploy/doctor-rbac.yaml: valid Kubernetes, and exactly get/list on what the doctor reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lightkube.core.resource import api_info

from srcip.doctor.kubeapi import CRDS, KINDS, RBAC_MANIFEST

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = ("1.29.0", "1.37.0")  # as tests/unit/deploy/test_manifests.py


def documents() -> list[dict[str, Any]]:
    """The manifest's documents."""
    return [doc for doc in yaml.safe_load_all((ROOT / RBAC_MANIFEST).read_text()) if doc]


def only(kind: str) -> dict[str, Any]:
    """The single document of ``kind``."""
    (doc,) = [doc for doc in documents() if doc["kind"] == kind]
    return doc


@pytest.mark.parametrize("version", VERSIONS)
def test_rbac_manifest_is_valid_kubernetes(version: str) -> None:
    """Every object validates strictly (no unknown fields) against the schema."""
    for doc in documents():
        kubernetes_validate.validate(doc, version, strict=True)


def test_cluster_role_grants_exactly_get_and_list_on_what_is_read() -> None:
    """The (group, resource) pairs are those kubeapi lists; the verbs are get and list only."""
    rules = only("ClusterRole")["rules"]
    assert all(sorted(rule["verbs"]) == ["get", "list"] for rule in rules)
    assert all(set(rule) == {"apiGroups", "resources", "verbs"} for rule in rules)
    granted = [(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]]
    needed = {(api_info(k).resource.group, api_info(k).plural) for k in KINDS}
    needed |= {(group, plural) for group, _, _, plural, _ in CRDS}
    assert len(granted) == len(set(granted))
    assert set(granted) == needed


def test_binding_gives_the_role_to_the_service_account() -> None:
    """The ClusterRoleBinding binds srcip-doctor to the ServiceAccount in the manifest."""
    account = only("ServiceAccount")["metadata"]
    binding = only("ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": only("ClusterRole")["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert only("Namespace")["metadata"]["name"] == account["namespace"]
