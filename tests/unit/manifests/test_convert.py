"""Whole-input conversion: dispatch by kind, duplicates, kube-proxy config, notes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.errors import ManifestError, Where
from srcip.manifests import convert_documents
from srcip.model.enums import ProxyMode
from srcip.model.objects import KubeProxyConfig
from tests.unit.manifests.builders import (
    convert,
    convert_error,
    endpoint_slice,
    node,
    pod,
    proxy_configuration,
    service,
)

DAEMON_SET = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "echo"}}
CONFIG_TEXT = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def config_map(name: str = "kube-proxy", data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ConfigMap in kube-system."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kube-system"},
        "data": {"config.conf": CONFIG_TEXT + "mode: nftables\n"} if data is None else data,
    }


def service_cidr(name: str = "kubernetes", version: str = "v1") -> dict[str, Any]:
    """A ServiceCIDR."""
    return {
        "apiVersion": f"networking.k8s.io/{version}",
        "kind": "ServiceCIDR",
        "metadata": {"name": name},
        "spec": {"cidrs": ["10.0.0.0/24"]},
    }


def test_every_handled_kind_lands_in_the_cluster() -> None:
    """Services, slices, nodes, pods, ServiceCIDRs and the kube-proxy config are collected."""
    cluster = convert(
        service(clusterIP="10.0.0.5"),
        endpoint_slice(endpoints=[{"addresses": ["10.244.1.5"], "nodeName": "node-1"}]),
        node("node-1", "10.0.1.2"),
        pod(),
        service_cidr(version="v1beta1"),
        proxy_configuration(mode="nftables"),
    )
    assert [s.name for s in cluster.services] == ["echo"]
    assert [s.name for s in cluster.endpoint_slices] == ["echo-abc"]
    assert [n.name for n in cluster.nodes] == ["node-1"]
    assert [p.name for p in cluster.pods] == ["echo-1"]
    assert [c.name for c in cluster.service_cidrs] == ["kubernetes"]
    assert cluster.proxy_config.mode is ProxyMode.NFTABLES
    assert cluster.notes == ()


def test_empty_input_gives_an_empty_cluster_with_default_config() -> None:
    """No documents: no objects, kube-proxy defaults."""
    cluster = convert_documents([(Where(file="f", document=1), None)])
    assert cluster.services == ()
    assert cluster.proxy_config == KubeProxyConfig()


def test_list_documents_are_converted_item_by_item() -> None:
    """kubectl's kind: List is flattened; errors inside name the item."""
    listing = {"apiVersion": "v1", "kind": "List", "items": [service("a"), service("b")]}
    assert [s.name for s in convert(listing).services] == ["a", "b"]
    bad = {"apiVersion": "v1", "kind": "List", "items": [service("a"), service("b", type="X")]}
    assert str(convert_error(bad)).startswith(
        "cluster.yaml, document 1, items[1], Service default/b: field spec.type = 'X'"
    )


def test_ignored_kinds_are_noted_once_per_kind() -> None:
    """Kinds kube-proxy does not read are skipped; several of a kind share one note."""
    knative = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "apps"},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "echo"},
    }
    cluster = convert(DAEMON_SET, knative, ingress, ingress, config_map("coredns"))
    assert cluster.services == ()
    assert cluster.notes == (
        "ignored DaemonSet default/echo (cluster.yaml, document 1): not read by kube-proxy",
        "ignored Service apps/hello (cluster.yaml, document 2): not read by kube-proxy",
        "ignored 2 Ingress objects, the first Ingress default/echo "
        "(cluster.yaml, document 3): not read by kube-proxy",
    )
    assert [c.key for c in cluster.config_maps] == ["kube-system/coredns"]  # kept for hops


def test_kube_proxy_config_map_is_read() -> None:
    """kubeadm's kube-proxy ConfigMap supplies the configuration."""
    assert convert(config_map()).proxy_config.mode is ProxyMode.NFTABLES


def test_kube_proxy_config_map_without_configuration_is_noted() -> None:
    """A kube-proxy ConfigMap without config.conf is skipped with its reason."""
    cluster = convert(config_map(data={"kubeconfig.conf": "x"}))
    assert cluster.proxy_config == KubeProxyConfig()
    assert cluster.notes == (
        "ignored ConfigMap kube-system/kube-proxy (cluster.yaml, document 1): "
        "it has no config.conf key holding the kube-proxy configuration",
    )


def test_errors_in_the_embedded_configuration_name_the_config_map_key() -> None:
    """A bad field inside config.conf is reported under data['config.conf']."""
    exc = convert_error(config_map(data={"config.conf": CONFIG_TEXT + "mode: ipvs\n"}))
    assert str(exc).startswith(
        "cluster.yaml, document 1, ConfigMap kube-system/kube-proxy: "
        "field data['config.conf'].mode = 'ipvs': is a kube-proxy mode srcip does not model"
    )


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(proxy_configuration(), id="two-configurations"),
        pytest.param(config_map(), id="configuration-and-config-map"),
    ],
)
def test_a_second_kube_proxy_configuration_is_refused(second: dict[str, Any]) -> None:
    """One kube-proxy configuration at most, whichever way it is given."""
    exc = convert_error(proxy_configuration(), second)
    assert str(exc).startswith("cluster.yaml, document 2")
    assert "is a second kube-proxy configuration; the first is KubeProxyConfiguration at " in str(
        exc
    )
    assert "cluster.yaml, document 1" in str(exc)


@pytest.mark.parametrize(
    ("first", "second", "described"),
    [
        pytest.param(service("a"), service("a"), "Service default/a", id="service"),
        pytest.param(
            endpoint_slice(), endpoint_slice(), "EndpointSlice default/echo-abc", id="eps"
        ),
        pytest.param(node("n"), node("n"), "Node n", id="node"),
        pytest.param(pod(), pod(), "Pod default/echo-1", id="pod"),
        pytest.param(service_cidr(), service_cidr(), "ServiceCIDR kubernetes", id="cidr"),
    ],
)
def test_duplicate_objects_are_refused(
    first: dict[str, Any], second: dict[str, Any], described: str
) -> None:
    """The same kind and name twice is refused, naming both places."""
    assert str(convert_error(first, second)) == (
        f"cluster.yaml, document 2, {described}: is defined twice; the first definition is "
        "at cluster.yaml, document 1. Fix: keep one definition of each object"
    )


def test_same_name_in_other_namespace_or_kind_is_fine() -> None:
    """Duplicates are per kind and namespace."""
    cluster = convert(service("a"), service("a", namespace="other"), endpoint_slice("a"))
    assert len(cluster.services) == 2


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        pytest.param(
            {**endpoint_slice(), "apiVersion": "discovery.k8s.io/v1beta1"},
            "discovery.k8s.io/v1",
            id="endpointslice-beta",
        ),
        pytest.param({**service(), "apiVersion": "v2"}, "v1", id="core-v2"),
        pytest.param(
            {**service_cidr(), "apiVersion": "networking.k8s.io/v1alpha1"},
            "networking.k8s.io/v1 or networking.k8s.io/v1beta1",
            id="servicecidr-alpha",
        ),
        pytest.param(
            {**proxy_configuration(), "apiVersion": "kubeproxy.config.k8s.io/v1alpha2"},
            "kubeproxy.config.k8s.io/v1alpha1",
            id="kubeproxy-alpha2",
        ),
    ],
)
def test_unsupported_versions_of_handled_kinds_are_refused(
    body: dict[str, Any], wanted: str
) -> None:
    """A known group and kind at a version srcip does not read is an error, not a skip."""
    exc = convert_error(body)
    assert exc.field == "apiVersion"
    assert exc.value == body["apiVersion"]
    assert f"use apiVersion: {wanted}" in str(exc)


# --------------------------------------------------------------------------- partial dumps


def test_slice_notes_for_missing_label_and_missing_service() -> None:
    """Slices kube-proxy cannot attach are kept and noted."""
    cluster = convert(
        service("other", clusterIP="10.0.0.1"),
        endpoint_slice("orphan"),
        endpoint_slice("unlabelled", service_name=None),
        endpoint_slice("fine", service_name="other"),
    )
    assert len(cluster.endpoint_slices) == 3
    assert cluster.notes == (
        "EndpointSlice default/orphan belongs to Service default/echo, which is not in the "
        "input; kept",
        "EndpointSlice default/unlabelled has no kubernetes.io/service-name label; kube-proxy "
        "ignores it",
    )


def test_slices_without_any_service_get_one_note() -> None:
    """A dump of slices alone gets a single remark, not one per slice."""
    cluster = convert(endpoint_slice("a"), endpoint_slice("b"))
    assert cluster.notes == (
        "the input has no Service objects; its 2 EndpointSlice(s) are kept without them",
    )


def test_endpoints_on_unknown_nodes_are_kept_and_noted_per_node() -> None:
    """Endpoints naming a node the input lacks are kept; one note per missing node."""
    endpoints: list[dict[str, Any]] = [
        {"addresses": ["10.244.1.5"], "nodeName": "node-1"},
        {"addresses": ["10.244.2.5"], "nodeName": "node-2"},
        {"addresses": ["10.244.2.6"], "nodeName": "node-2"},
        {"addresses": ["10.244.3.5"]},
    ]
    cluster = convert(service(), endpoint_slice(endpoints=endpoints), node("node-1"))
    assert len(cluster.endpoint_slices[0].endpoints) == 4
    assert cluster.notes[-1] == (
        "Node node-2 is not in the input, but 2 endpoint(s) name it (the first in "
        "EndpointSlice default/echo-abc); they are kept"
    )


def test_endpoints_without_any_node_object_get_one_note() -> None:
    """With no Node objects at all, a single remark summarises."""
    endpoints = [
        {"addresses": ["10.244.1.5"], "nodeName": "node-1"},
        {"addresses": ["10.244.2.5"], "nodeName": "node-2"},
    ]
    cluster = convert(service(clusterIP="10.0.0.1"), endpoint_slice(endpoints=endpoints))
    assert cluster.notes == (
        "the input has no Node objects; 2 endpoint(s) on 2 node(s) are kept without them",
    )


def test_fqdn_slice_note_is_included() -> None:
    """Notes from converting a slice reach the cluster."""
    cluster = convert(
        service(), endpoint_slice(address_type="FQDN", endpoints=[{"addresses": ["a.example"]}])
    )
    assert cluster.notes[0].startswith("EndpointSlice default/echo-abc (cluster.yaml, document 2)")


# --------------------------------------------------------------------------- robustness

# Field names the converters read, so that random documents reach deep into them.
FIELD_NAMES = [
    "addresses", "address", "addressType", "clusterIP", "clusterIPs", "conditions",
    "config.conf", "data", "endpoints", "externalIPs", "externalTrafficPolicy", "hints",
    "forZones", "healthCheckNodePort", "ingress", "ip", "ipFamilies", "ipFamilyPolicy",
    "ipMode", "items", "labels", "loadBalancer", "loadBalancerSourceRanges", "mode",
    "name", "namespace", "nodeName", "nodePort", "nodePortAddresses", "podCIDRs", "podIPs",
    "port", "ports", "protocol", "ready", "selector", "sessionAffinity", "spec", "status",
    "syncPeriod", "targetPort", "type",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.sampled_from(
        ["", "None", "x", "10.0.0.1", "fd00::1", "10.0.0.0/8", "Local", "TCP", "primary", "30s"]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=4)
    ),
    max_leaves=12,
)
KINDS = st.sampled_from(
    [
        ("v1", "Service"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("v1", "Node"),
        ("v1", "Pod"),
        ("networking.k8s.io/v1", "ServiceCIDR"),
        ("v1", "ConfigMap"),
        ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
        ("v1", "List"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(KINDS, st.dictionaries(st.sampled_from(FIELD_NAMES), VALUES, max_size=5))
def test_arbitrary_documents_give_a_cluster_or_a_manifest_error(
    header: tuple[str, str], fields: dict[str, Any]
) -> None:
    """Whatever the document holds, only ManifestError escapes: anything else is a bug."""
    body = {**fields, "apiVersion": header[0], "kind": header[1]}
    body.setdefault("metadata", {"name": "kube-proxy"})
    location = ""
    try:
        convert(body)
    except ManifestError as exc:
        location = str(exc)[:24]
    assert location in ("", "cluster.yaml, document 1")
