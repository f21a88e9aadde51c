"""ServiceCIDR conversion."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from srcip.errors import ManifestError
from srcip.manifests.servicecidr import convert_service_cidr
from srcip.model.objects import ServiceCIDR
from tests.unit.manifests.builders import as_document


def cidr(**spec: object) -> dict[str, object]:
    """A ServiceCIDR named ``kubernetes``."""
    body: dict[str, object] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
    }
    if spec:
        body["spec"] = spec
    return body


def test_cidrs_are_read() -> None:
    """Both families are kept in order."""
    result = convert_service_cidr(as_document(cidr(cidrs=["10.96.0.0/12", "fd00:10:96::/112"])))
    assert result == ServiceCIDR(
        name="kubernetes",
        cidrs=(ip_network("10.96.0.0/12"), ip_network("fd00:10:96::/112")),
    )


def test_missing_spec_means_no_ranges() -> None:
    """A ServiceCIDR without spec has no ranges."""
    assert convert_service_cidr(as_document(cidr())).cidrs == ()


def test_bad_cidr_is_refused() -> None:
    """Each range must be a CIDR."""
    with pytest.raises(ManifestError) as caught:
        convert_service_cidr(as_document(cidr(cidrs=["10.96.0.0"])))
    assert str(caught.value).startswith("cluster.yaml, document 1, ServiceCIDR kubernetes: ")
    assert caught.value.field == "spec.cidrs[0]"
