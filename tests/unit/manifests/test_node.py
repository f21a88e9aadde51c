"""Node conversion: IP addresses, pod CIDRs, labels, taints, deletion."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.node import convert_node
from srcip.model.objects import Node, NodeAddress, Taint
from tests.unit.manifests.builders import as_document, node


def converted(body: dict[str, Any]) -> Node:
    """Convert one Node document."""
    return convert_node(as_document(body))


def test_node_fields_are_read() -> None:
    """Addresses that are IPs, podCIDRs, labels, taints and deletion are kept."""
    body = node(
        "node-1",
        metadata={
            "name": "node-1",
            "labels": {"topology.kubernetes.io/zone": "z1"},
            "deletionTimestamp": "2024-05-01T10:00:00Z",
        },
        spec={
            "podCIDRs": ["10.244.1.0/24", "fd00:244:1::/64"],
            "podCIDR": "10.244.1.0/24",
            "taints": [
                {"key": "ToBeDeletedByClusterAutoscaler", "value": "1", "effect": "NoSchedule"},
                {"key": "dedicated", "effect": "NoExecute"},
            ],
        },
        status={
            "addresses": [
                {"type": "InternalIP", "address": "10.0.1.2"},
                {"type": "ExternalIP", "address": "2001:db8::2"},
                {"type": "Hostname", "address": "node-1"},
                {"type": "InternalDNS", "address": "node-1.internal"},
                {"type": "Hostname", "address": "10.0.1.2"},
            ]
        },
    )
    assert converted(body) == Node(
        name="node-1",
        addresses=(
            NodeAddress(type="InternalIP", address=ip_address("10.0.1.2")),
            NodeAddress(type="ExternalIP", address=ip_address("2001:db8::2")),
            NodeAddress(type="Hostname", address=ip_address("10.0.1.2")),
        ),
        pod_cidrs=(ip_network("10.244.1.0/24"), ip_network("fd00:244:1::/64")),
        labels=(("topology.kubernetes.io/zone", "z1"),),
        taints=(
            Taint(key="ToBeDeletedByClusterAutoscaler", value="1", effect="NoSchedule"),
            Taint(key="dedicated", effect="NoExecute"),
        ),
        deleting=True,
    )


@pytest.mark.parametrize(
    ("spec", "cidrs"),
    [
        pytest.param(None, (), id="no-spec"),
        pytest.param({}, (), id="empty-spec"),
        pytest.param({"podCIDR": "10.244.2.0/24"}, ("10.244.2.0/24",), id="legacy-single"),
    ],
)
def test_pod_cidr_sources(spec: dict[str, Any] | None, cidrs: tuple[str, ...]) -> None:
    """spec.podCIDRs, else spec.podCIDR, else none."""
    body = node("n")
    if spec is not None:
        body["spec"] = spec
    result = converted(body)
    assert result.pod_cidrs == tuple(ip_network(c) for c in cidrs)
    assert result.taints == ()


def test_node_without_status_has_no_addresses() -> None:
    """No status means no addresses."""
    body = node("n")
    del body["status"]
    assert converted(body).addresses == ()


@pytest.mark.parametrize(
    ("extra", "field", "value"),
    [
        pytest.param(
            {"status": {"addresses": [{"type": "InternalIP", "address": "node-1"}]}},
            "status.addresses[0].address",
            "node-1",
            id="internal-ip-not-ip",
        ),
        pytest.param(
            {"spec": {"podCIDRs": ["10.244.0.0/24", "10.244.1.0/33"]}},
            "spec.podCIDRs[1]",
            "10.244.1.0/33",
            id="pod-cidrs",
        ),
        pytest.param(
            {"spec": {"podCIDR": "10.244.1.0"}}, "spec.podCIDR", "10.244.1.0", id="pod-cidr"
        ),
        pytest.param(
            {"metadata": {"name": "n", "labels": {"rack": 7}}},
            "metadata.labels['rack']",
            7,
            id="label",
        ),
    ],
)
def test_invalid_nodes_are_refused(extra: dict[str, Any], field: str, value: object) -> None:
    """Addresses that must be IPs, CIDRs and labels are checked."""
    with pytest.raises(ManifestError) as caught:
        converted(node("n", **extra))
    assert str(caught.value).startswith("cluster.yaml, document 1, Node n: ")
    assert (caught.value.field, caught.value.value) == (field, value)
