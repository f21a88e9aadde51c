"""Schema errors and field parsers: every message names the field, value and fix."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from lightkube.resources.core_v1 import Pod as LkPod
from lightkube.resources.core_v1 import Service as LkService
from lightkube.resources.discovery_v1 import EndpointSlice as LkEndpointSlice

from srcip.errors import ManifestError
from srcip.manifests.fields import (
    check_port,
    lightkube_object,
    object_name,
    object_namespace,
    parse_cidr,
    parse_enum,
    parse_ip,
    string_pairs,
    value_at,
)
from srcip.model.enums import Protocol
from tests.unit.manifests.builders import as_document, service

DOC = as_document(service())


@pytest.mark.parametrize(
    ("cls", "body", "expected"),
    [
        pytest.param(
            LkService,
            service(ports=[{"port": "http"}]),
            "cluster.yaml, document 1, Service default/echo: field spec.ports[0].port = 'http': "
            "has the wrong type: expected int, got str. Fix: write spec.ports[0].port as int",
            id="wrong-type",
        ),
        pytest.param(
            LkService,
            service(ports=[{"name": "x"}]),
            "cluster.yaml, document 1, Service default/echo: field spec.ports[0].port: "
            "is required. Fix: set spec.ports[0].port",
            id="missing-field",
        ),
        pytest.param(
            LkService,
            {**service(), "spec": "x"},
            "field spec = 'x': has the wrong type: expected object, got str",
            id="nullable-type-simplified",
        ),
        pytest.param(
            LkPod,
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"deletionTimestamp": "soon"}},
            "field metadata.deletionTimestamp = 'soon': invalid RFC3339 encoded datetime. "
            "Fix: correct it as the Kubernetes API reference for Pod describes",
            id="other-message",
        ),
    ],
)
def test_schema_errors_name_field_value_and_fix(
    cls: Any, body: dict[str, Any], expected: str
) -> None:
    """lightkube/msgspec validation errors become ManifestErrors with a path and a fix."""
    with pytest.raises(ManifestError) as caught:
        lightkube_object(as_document(body), cls)
    assert expected in str(caught.value)


def test_missing_field_at_the_top_is_named_alone() -> None:
    """A required top-level field is named without a leading dot."""
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}}
    with pytest.raises(ManifestError) as caught:
        lightkube_object(as_document(body), LkEndpointSlice)
    assert caught.value.field == "addressType"


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        pytest.param({"a": [{"b": 1}]}, ".a[0].b", 1, id="found"),
        pytest.param({"a": [{"b": 1}]}, ".a[1].b", None, id="index-out-of-range"),
        pytest.param({"a": 1}, ".a.b", None, id="key-into-scalar"),
        pytest.param({"a": {"b": 1}}, ".a[...]", None, id="dict-key-wildcard"),
        pytest.param({"a": 1}, "", {"a": 1}, id="root"),
    ],
)
def test_value_at_follows_msgspec_paths(body: object, path: str, expected: object) -> None:
    """The value shown in an error is looked up along msgspec's path, None if unreachable."""
    assert value_at(body, path) == expected


def test_object_name_is_required() -> None:
    """An object without metadata.name is refused."""
    with pytest.raises(ManifestError, match=r"field metadata.name: is required"):
        object_name(DOC, None)


def test_object_namespace_defaults() -> None:
    """No metadata, or no namespace, means ``default``."""
    assert object_namespace(None) == "default"


@pytest.mark.parametrize("value", ["10.0.0.300", "10.0.0.1/32", " 10.0.0.1", 167772161, None])
def test_parse_ip_refuses_non_addresses(value: object) -> None:
    """Only an address string is an IP (no integers, no CIDRs, no spaces)."""
    with pytest.raises(ManifestError) as caught:
        parse_ip(DOC, value, "spec.externalIPs[0]")
    assert caught.value.field == "spec.externalIPs[0]"
    assert caught.value.value == value


def test_parse_ip_reads_both_families() -> None:
    """IPv4 and IPv6 addresses parse."""
    assert parse_ip(DOC, "2001:db8::1", "f") == ip_address("2001:db8::1")


def test_parse_cidr_clears_host_bits_like_go() -> None:
    """10.0.0.1/8 is accepted as 10.0.0.0/8, as Go's net.ParseCIDR does."""
    assert parse_cidr(DOC, "10.0.0.1/8", "f") == ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    "value", ["10.0.0.0/33", "10.0.0.0", "10.0.0.0/255.0.0.0", "10.0.0.0/", "nope", 10, None]
)
def test_parse_cidr_refuses_non_cidrs(value: object) -> None:
    """A prefix out of range or a non-string is refused."""
    with pytest.raises(ManifestError, match="is not a CIDR"):
        parse_cidr(DOC, value, "f")


def test_parse_enum_defaults_validates_and_requires() -> None:
    """Absent or empty gives the default; a bad value or a missing required one fails."""
    assert parse_enum(DOC, Protocol, None, "p", Protocol.TCP) is Protocol.TCP
    assert parse_enum(DOC, Protocol, "", "p", Protocol.TCP) is Protocol.TCP
    assert parse_enum(DOC, Protocol, "UDP", "p") is Protocol.UDP
    with pytest.raises(ManifestError, match=r"field p = 'tcp': is not a valid value\. "):
        parse_enum(DOC, Protocol, "tcp", "p")
    with pytest.raises(ManifestError, match=r"use TCP, UDP or SCTP"):
        parse_enum(DOC, Protocol, 6, "p")
    with pytest.raises(ManifestError, match=r"field p: is required\. Fix: set p to TCP"):
        parse_enum(DOC, Protocol, None, "p")


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (65535, True), (65536, False)])
def test_check_port_range(value: int, ok: bool) -> None:
    """Ports are 1..65535."""
    if ok:
        assert check_port(DOC, value, "f") == value
    else:
        with pytest.raises(ManifestError, match="is not a port number"):
            check_port(DOC, value, "f")


def test_string_pairs_sorts_and_checks_types() -> None:
    """Labels and selectors become sorted pairs; non-strings are refused."""
    assert string_pairs(DOC, None, "f") == ()
    assert string_pairs(DOC, {"b": "2", "a": "1"}, "f") == (("a", "1"), ("b", "2"))
    with pytest.raises(ManifestError, match=r"field f\['version'\] = 1: must map strings"):
        string_pairs(DOC, {"version": 1}, "f")
    with pytest.raises(ManifestError, match=r"field f = 3: must map strings"):
        string_pairs(DOC, {3: "x"}, "f")
