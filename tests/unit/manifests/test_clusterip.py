"""ClusterIPs and IP families of a Service (KP §1.1), checked as the apiserver does."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.clusterip import IPFamilyPolicy
from srcip.manifests.service import ServiceDraft, convert_service
from srcip.model.enums import IPFamily
from srcip.model.objects import Service
from tests.unit.manifests.builders import as_document, service


def draft(**spec: Any) -> ServiceDraft:
    """Convert ``service(**spec)``."""
    return convert_service(as_document(service(**spec)))


def converted(**spec: Any) -> Service:
    """The Service of ``service(**spec)``."""
    return draft(**spec).service


@pytest.mark.parametrize(
    ("spec", "cluster_ips", "headless"),
    [
        pytest.param({"clusterIP": "None", "ports": []}, (), True, id="headless"),
        pytest.param({"clusterIPs": ["None"]}, (), True, id="headless-list"),
        pytest.param({"clusterIP": ""}, (), False, id="empty-means-allocate"),
        pytest.param({"clusterIP": "10.96.0.5"}, ("10.96.0.5",), False, id="single"),
        pytest.param({"clusterIPs": ["fd00::5"]}, ("fd00::5",), False, id="list-only"),
    ],
)
def test_cluster_ips(spec: dict[str, Any], cluster_ips: tuple[str, ...], headless: bool) -> None:
    """clusterIP/clusterIPs are read; ``None`` is headless (KP §1.1)."""
    svc = converted(**spec)
    assert svc.cluster_ips == tuple(ip_address(a) for a in cluster_ips)
    assert svc.headless is headless


def test_ip_families_and_policy_are_kept_for_allocation() -> None:
    """spec.ipFamilies and spec.ipFamilyPolicy travel with the draft."""
    result = draft(ipFamilies=["IPv6"], ipFamilyPolicy="PreferDualStack")
    assert result.ip_families == (IPFamily.IPV6,)
    assert result.ip_family_policy is IPFamilyPolicy.PREFER_DUAL_STACK
    assert result.where.name == "echo"


INVALID = [
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]},
        "spec.clusterIP",
        "10.0.0.1",
        "differs from spec.clusterIPs[0] (10.0.0.2)",
        id="clusterip-mismatch",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.300"}, "spec.clusterIP", "10.0.0.300", "not an IP", id="bad-ip"
    ),
    pytest.param(
        {"clusterIPs": ["10.0.0.1", "bad"]},
        "spec.clusterIPs[1]",
        "bad",
        "is not an IP address",
        id="bad-second-ip",
    ),
    pytest.param(
        {"clusterIPs": ["10.0.0.1", "fd00::1", "10.0.0.2"]},
        "spec.clusterIPs",
        ["10.0.0.1", "fd00::1", "10.0.0.2"],
        "lists more than two addresses",
        id="three-ips",
    ),
    pytest.param(
        {"clusterIPs": ["10.0.0.1", "10.0.0.2"]},
        "spec.clusterIPs",
        ["10.0.0.1", "10.0.0.2"],
        "two addresses of the same IP family",
        id="same-family",
    ),
    pytest.param(
        {"clusterIPs": ["None", "10.0.0.1"]},
        "spec.clusterIPs",
        ["None", "10.0.0.1"],
        "must hold only 'None'",
        id="headless-plus-ip",
    ),
    pytest.param(
        {"clusterIP": "None", "type": "NodePort"},
        "spec.clusterIP",
        "None",
        "cannot be 'None' (headless) when type is NodePort",
        id="headless-nodeport",
    ),
    pytest.param(
        {"ipFamilies": ["IPv4", "IPv4"]},
        "spec.ipFamilies",
        ["IPv4", "IPv4"],
        "must list each IP family once",
        id="family-twice",
    ),
    pytest.param(
        {"ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.1", "fd00::1"]},
        "spec.ipFamilies",
        ["IPv4"],
        "one per ClusterIP",
        id="fewer-families-than-ips",
    ),
    pytest.param(
        {"ipFamilies": ["IPv6"], "clusterIP": "10.0.0.1"},
        "spec.clusterIPs[0]",
        "10.0.0.1",
        "is not an IPv6 address, as spec.ipFamilies[0] says",
        id="family-mismatch",
    ),
    pytest.param(
        {"ipFamilies": ["IPv5"]}, "spec.ipFamilies[0]", "IPv5", "not a valid value", id="family"
    ),
    pytest.param(
        {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4", "IPv6"]},
        "spec.ipFamilyPolicy",
        "SingleStack",
        "allows one IP family, but two are given",
        id="single-stack-two",
    ),
    pytest.param(
        {"ipFamilyPolicy": "Dual"}, "spec.ipFamilyPolicy", "Dual", "not a valid", id="policy"
    ),
]


@pytest.mark.parametrize(("spec", "field", "value", "problem"), INVALID)
def test_inconsistent_addresses_and_families_are_refused(
    spec: dict[str, Any], field: str, value: object, problem: str
) -> None:
    """Each inconsistency names the Service, the field, the value and a fix."""
    with pytest.raises(ManifestError) as caught:
        draft(**spec)
    exc = caught.value
    assert str(exc).startswith("cluster.yaml, document 1, Service default/echo: ")
    assert (exc.field, exc.value) == (field, value)
    assert problem in str(exc)
    assert exc.fix
