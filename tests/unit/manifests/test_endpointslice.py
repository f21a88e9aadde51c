"""EndpointSlice conversion (KP §2.1): first address, condition defaults, ports, hints."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.endpointslice import convert_endpoint_slice
from srcip.model.enums import AddressType, Protocol
from srcip.model.objects import Endpoint, EndpointPort, EndpointSlice
from tests.unit.manifests.builders import as_document, endpoint_slice


def convert(body: dict[str, Any]) -> tuple[EndpointSlice, list[str]]:
    """The converted slice and the notes it produced."""
    notes: list[str] = []
    return convert_endpoint_slice(as_document(body), notes), notes


def error(body: dict[str, Any]) -> ManifestError:
    """The error converting ``body`` raises."""
    with pytest.raises(ManifestError) as caught:
        convert(body)
    return caught.value


def test_slice_fields_are_read() -> None:
    """Name, namespace, owning Service (label), address type, ports and endpoints."""
    result, notes = convert(
        endpoint_slice(
            namespace="web",
            ports=[{"name": "http", "port": 8080}, {"protocol": "UDP", "port": None}],
            endpoints=[
                {
                    "addresses": ["10.244.1.5", "10.244.1.6"],
                    "nodeName": "node-1",
                    "zone": "z1",
                    "hints": {"forZones": [{"name": "z1"}], "forNodes": [{"name": "node-1"}]},
                    "targetRef": {"kind": "Pod", "name": "echo-1"},
                }
            ],
        )
    )
    assert result == EndpointSlice(
        namespace="web",
        name="echo-abc",
        service_name="echo",
        address_type=AddressType.IPV4,
        ports=(
            EndpointPort(name="http", port=8080),
            EndpointPort(protocol=Protocol.UDP, port=None),
        ),
        endpoints=(
            Endpoint(
                address=ip_address("10.244.1.5"),  # only the first address counts (KP §2.1)
                node_name="node-1",
                zone="z1",
                zone_hints=frozenset({"z1"}),
                node_hints=frozenset({"node-1"}),
                target="echo-1",
            ),
        ),
    )
    assert notes == []


@pytest.mark.parametrize(
    ("conditions", "ready", "serving", "terminating"),
    [
        pytest.param(None, True, True, False, id="absent"),
        pytest.param({}, True, True, False, id="empty"),
        pytest.param({"ready": False}, False, True, False, id="not-ready"),
        pytest.param(
            {"ready": False, "serving": True, "terminating": True}, False, True, True, id="draining"
        ),
        pytest.param(
            {"serving": False, "terminating": False}, True, False, False, id="not-serving"
        ),
    ],
)
def test_condition_defaults(
    conditions: dict[str, bool] | None, ready: bool, serving: bool, terminating: bool
) -> None:
    """ready and serving absent ⇒ true, terminating absent ⇒ false (KP §2.1)."""
    entry: dict[str, Any] = {"addresses": ["10.0.0.1"]}
    if conditions is not None:
        entry["conditions"] = conditions
    (endpoint,) = convert(endpoint_slice(endpoints=[entry]))[0].endpoints
    assert (endpoint.ready, endpoint.serving, endpoint.terminating) == (
        ready,
        serving,
        terminating,
    )


def test_empty_hints_and_missing_optional_fields() -> None:
    """Hints without entries, no targetRef name, no node: all become empty values."""
    entry = {"addresses": ["fd00::1"], "hints": {}, "targetRef": {"kind": "Pod"}}
    result, _ = convert(endpoint_slice(address_type="IPv6", endpoints=[entry]))
    assert result.endpoints == (Endpoint(address=ip_address("fd00::1")),)
    assert result.address_type is AddressType.IPV6


def test_slice_without_label_endpoints_or_ports() -> None:
    """No service-name label, endpoints: null, no ports: kept as empty."""
    result, _ = convert(endpoint_slice(service_name=None, endpoints=None))
    assert (result.service_name, result.endpoints, result.ports) == (None, (), ())


def test_fqdn_slice_is_kept_without_endpoints_and_noted() -> None:
    """FQDN endpoints carry no IP; kube-proxy skips them, and so does srcip (with a note)."""
    result, notes = convert(
        endpoint_slice(address_type="FQDN", endpoints=[{"addresses": ["db.example.com"]}])
    )
    assert result.address_type is AddressType.FQDN
    assert result.endpoints == ()
    assert notes == [
        "EndpointSlice default/echo-abc (cluster.yaml, document 1) has addressType FQDN: its 1 "
        "endpoint(s) have no IP address and are skipped, as kube-proxy skips them"
    ]


def test_empty_fqdn_slice_needs_no_note() -> None:
    """An FQDN slice without endpoints has nothing to skip."""
    assert convert(endpoint_slice(address_type="FQDN", endpoints=[]))[1] == []


@pytest.mark.parametrize(
    ("body", "field", "value", "problem"),
    [
        pytest.param(
            endpoint_slice(endpoints=[{"addresses": ["10.0.0.256"]}]),
            "endpoints[0].addresses[0]",
            "10.0.0.256",
            "is not an IPv4 address",
            id="bad-ipv4",
        ),
        pytest.param(
            endpoint_slice(endpoints=[{"addresses": ["10.0.0.1"]}, {"addresses": ["fd00::1"]}]),
            "endpoints[1].addresses[0]",
            "fd00::1",
            "is not an IPv4 address",
            id="wrong-family",
        ),
        pytest.param(
            endpoint_slice(address_type="IPv6", endpoints=[{"addresses": ["10.0.0.1"]}]),
            "endpoints[0].addresses[0]",
            "10.0.0.1",
            "is not an IPv6 address",
            id="v4-in-v6-slice",
        ),
        pytest.param(
            endpoint_slice(endpoints=[{"addresses": ["10.0.0.1\x00"]}]),
            "endpoints[0].addresses[0]",
            "10.0.0.1\x00",
            "is not an IPv4 address",
            id="embedded-nul",
        ),
        pytest.param(
            endpoint_slice(endpoints=[{"addresses": []}]),
            "endpoints[0].addresses",
            None,
            "is empty",
            id="no-address",
        ),
        pytest.param(
            endpoint_slice(address_type="IPv5"), "addressType", "IPv5", "not a valid", id="type"
        ),
        pytest.param(endpoint_slice(address_type=""), "addressType", None, "required", id="empty"),
        pytest.param(
            endpoint_slice(ports=[{"port": 0}]), "ports[0].port", 0, "not a port", id="port-0"
        ),
        pytest.param(
            endpoint_slice(ports=[{"port": 80, "protocol": "tcp"}]),
            "ports[0].protocol",
            "tcp",
            "is not a valid value",
            id="protocol",
        ),
        pytest.param(
            endpoint_slice(endpoints=[{"addresses": ["10.0.0.1"], "conditions": {"ready": "yes"}}]),
            "endpoints[0].conditions.ready",
            "yes",
            "expected bool, got str",
            id="schema",
        ),
    ],
)
def test_invalid_slices_are_refused(
    body: dict[str, Any], field: str, value: object, problem: str
) -> None:
    """Bad addresses, types and ports name the slice, the field and the value."""
    exc = error(body)
    assert str(exc).startswith("cluster.yaml, document 1, EndpointSlice default/echo-abc: ")
    assert (exc.field, exc.value) == (field, value)
    assert problem in str(exc)
    assert exc.fix


def test_service_name_label_must_be_a_string() -> None:
    """A non-string service-name label (unquoted YAML number) is refused."""
    body = endpoint_slice()
    body["metadata"]["labels"]["kubernetes.io/service-name"] = 42
    exc = error(body)
    assert exc.field == "metadata.labels['kubernetes.io/service-name']"
    assert exc.value == 42


def test_slice_without_metadata_is_refused() -> None:
    """A slice needs a name."""
    body = endpoint_slice()
    del body["metadata"]
    assert error(body).field == "metadata.name"
