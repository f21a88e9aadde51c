"""Pod conversion: node, IPs, labels, phase, readiness, host network, termination."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.pod import convert_pod
from srcip.model.objects import Pod
from tests.unit.manifests.builders import as_document, pod


def converted(body: dict[str, Any]) -> Pod:
    """Convert one Pod document."""
    return convert_pod(as_document(body))


def test_pod_fields_are_read() -> None:
    """Every kept field comes from its place in the manifest."""
    body = pod(
        metadata={
            "name": "echo-1",
            "namespace": "web",
            "labels": {"app": "echo"},
            "deletionTimestamp": "2024-05-01T10:00:00Z",
        },
        spec={"nodeName": "node-1", "hostNetwork": True},
        status={
            "phase": "Running",
            "podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
        },
    )
    assert converted(body) == Pod(
        namespace="web",
        name="echo-1",
        node_name="node-1",
        ips=(ip_address("10.244.1.5"), ip_address("fd00::5")),
        labels=(("app", "echo"),),
        phase="Running",
        ready=True,
        host_network=True,
        terminating=True,
    )


@pytest.mark.parametrize(
    ("status", "ips", "ready"),
    [
        pytest.param(None, (), False, id="no-status"),
        pytest.param({}, (), False, id="empty-status"),
        pytest.param({"podIP": "10.244.1.7"}, ("10.244.1.7",), False, id="legacy-pod-ip"),
        pytest.param(
            {"conditions": [{"type": "Ready", "status": "False"}]}, (), False, id="not-ready"
        ),
    ],
)
def test_status_variants(status: dict[str, Any] | None, ips: tuple[str, ...], ready: bool) -> None:
    """podIPs, else podIP; ready only with a Ready=True condition."""
    body = pod()
    if status is not None:
        body["status"] = status
    result = converted(body)
    assert result.ips == tuple(ip_address(a) for a in ips)
    assert result.ready is ready
    assert (result.phase, result.node_name, result.host_network) == (None, None, False)


def test_pod_without_spec_is_minimal() -> None:
    """A Pod with no spec has no node and no host network."""
    body = pod()
    del body["spec"]
    assert converted(body) == Pod(name="echo-1")


@pytest.mark.parametrize(
    ("status", "field"),
    [
        pytest.param({"podIPs": [{"ip": "x"}]}, "status.podIPs[0].ip", id="pod-ips"),
        pytest.param({"podIP": "x"}, "status.podIP", id="pod-ip"),
    ],
)
def test_invalid_pod_ips_are_refused(status: dict[str, Any], field: str) -> None:
    """A pod IP that is not an address names its field."""
    with pytest.raises(ManifestError) as caught:
        converted(pod(status=status))
    assert str(caught.value).startswith("cluster.yaml, document 1, Pod default/echo-1: ")
    assert (caught.value.field, caught.value.value) == (field, "x")
