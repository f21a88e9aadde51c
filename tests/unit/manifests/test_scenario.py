"""The Scenario document: validation with field paths, defaults, nodes and LB IPs."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from srcip.manifests.scenario import apply_scenario, convert_scenario
from srcip.model.enums import IPFamily
from srcip.model.objects import Cluster
from srcip.model.scenario import (
    DEFAULT_CLIENT,
    EdgeHop,
    EdgeHopKind,
    ForwardedFor,
    HealthCheckProtocol,
    IngressHop,
    Interception,
    LoadBalancerMode,
    Mesh,
    ProxyProtocolVersion,
    SidecarHop,
    TargetType,
)
from tests.unit.manifests.builders import as_document, convert, convert_error, node, service


def scenario(**spec: Any) -> dict[str, Any]:
    """A Scenario document named ``test``."""
    return {
        "apiVersion": "srcip.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "test"},
        "spec": spec,
    }


def test_empty_scenario_gets_defaults() -> None:
    """No fields: one default client, no hops, an app that trusts nobody."""
    draft = convert_scenario(as_document(scenario()))
    assert draft.scenario.name == "test"
    assert [c.address for c in draft.scenario.clients] == [DEFAULT_CLIENT]
    assert draft.scenario.hops == ()
    assert draft.scenario.app.trusted_proxies == ()
    assert draft.nodes is None


def test_every_section_is_read() -> None:
    """Load balancer, hops, clients, app, placement and failover fields all land."""
    body = scenario(
        service="echo",
        nodes=[{"name": "a", "address": "10.9.0.1", "zone": "z1", "podCIDR": "10.200.0.0/24"}],
        loadBalancer={
            "mode": "proxy",
            "proxyProtocol": True,
            "targets": "nodePort",
            "address": "10.0.0.99",
            "forwardedFor": "replace",
            "healthCheck": {"protocol": "http", "intervalSeconds": 5, "unhealthyThreshold": 3},
        },
        hops=[
            {"kind": "cdn", "headers": ["CF-Connecting-IP", "x-forwarded-for"]},
            {
                "kind": "ingress-nginx",
                "service": "ingress-nginx/ingress-nginx-controller",
                "config": {"use-forwarded-headers": True, "proxy-real-ip-cidr": ["10.0.0.0/8"]},
                "configMap": "ingress-nginx-controller",
            },
            {"kind": "sidecar", "mesh": "istio", "interception": "tproxy"},
        ],
        clients=[
            "198.51.100.23",
            {"name": "forger", "address": "203.0.113.9", "headers": {"X-Forwarded-For": "1.2.3.4"}},
        ],
        app={"trustedProxies": ["10.0.0.0/8"], "source": "x-real-ip"},
        placement={"a": 2},
        failover={"endpointDelaySeconds": 2, "terminatingFallback": False},
    )
    draft = convert_scenario(as_document(body))
    s = draft.scenario
    assert s.service == "default/echo"
    lb = s.load_balancer
    assert (lb.mode, lb.proxy_protocol, lb.targets) == (
        LoadBalancerMode.PROXY,
        ProxyProtocolVersion.V2,
        TargetType.NODE_PORT,
    )
    assert lb.address == ip_address("10.0.0.99")
    assert lb.forwarded_for is ForwardedFor.REPLACE
    assert lb.health_check.protocol is HealthCheckProtocol.HTTP
    assert lb.health_check.interval_seconds == 5.0
    edge, ingress, sidecar = s.hops
    assert isinstance(edge, EdgeHop)
    assert edge.kind is EdgeHopKind.CDN
    assert edge.headers == ("cf-connecting-ip", "x-forwarded-for")
    assert edge.address == ip_address("192.0.2.10")
    assert isinstance(ingress, IngressHop)
    assert dict(ingress.config) == {
        "use-forwarded-headers": "true",
        "proxy-real-ip-cidr": "10.0.0.0/8",
    }
    assert ingress.config_map == "ingress-nginx/ingress-nginx-controller"
    assert isinstance(sidecar, SidecarHop)
    assert (sidecar.mesh, sidecar.interception) == (Mesh.ISTIO, Interception.TPROXY)
    assert s.ingress is ingress
    assert s.sidecar is sidecar
    assert s.edge_hops == (edge,)
    assert [c.name for c in s.clients] == ["198.51.100.23", "forger"]
    assert s.clients[1].headers == (("x-forwarded-for", "1.2.3.4"),)
    assert s.app.source == "x-real-ip"
    assert s.placement[0].workload is None
    assert s.placement[0].nodes == (("a", 2),)
    assert s.failover.endpoint_delay_seconds == 2.0
    assert s.failover.terminating_fallback is False
    assert isinstance(draft.nodes, tuple)
    assert draft.nodes[0].pod_cidr == ip_network("10.200.0.0/24")


@pytest.mark.parametrize(
    ("spec", "field", "text"),
    [
        pytest.param(
            {"loadBalancer": {"mode": "passthru"}},
            "spec.loadBalancer.mode",
            "is not one of passthrough, snat, proxy, http",
            id="bad-enum",
        ),
        pytest.param({"loadBalancr": {}}, "spec.loadBalancr", "is not a field of spec", id="typo"),
        pytest.param(
            {"loadBalancer": {"healthCheck": {"intervalSecond": 3}}},
            "spec.loadBalancer.healthCheck.intervalSecond",
            "is not a field",
            id="nested-typo",
        ),
        pytest.param(
            {"loadBalancer": {"healthCheck": {"unhealthyThreshold": 0}}},
            "spec.loadBalancer.healthCheck.unhealthyThreshold",
            "integer from 1 to 100",
            id="threshold-range",
        ),
        pytest.param(
            {"loadBalancer": {"healthCheck": {"intervalSeconds": -1}}},
            "spec.loadBalancer.healthCheck.intervalSeconds",
            "number of seconds",
            id="negative-seconds",
        ),
        pytest.param({"clients": ["not-an-ip"]}, "spec.clients[0]", "not an IP", id="client-ip"),
        pytest.param({"clients": "203.0.113.7"}, "spec.clients", "must be a list", id="not-list"),
        pytest.param({"hops": [{"kind": "cdn2"}]}, "spec.hops[0].kind", "is not one of", id="hop"),
        pytest.param(
            {"hops": [{"kind": "sidecar", "mesh": "istio"}, {"kind": "cdn"}]},
            "spec.hops[1]",
            "out of order",
            id="hop-order",
        ),
        pytest.param(
            {"hops": [{"kind": "ingress-nginx"}]}, "spec.hops[0].service", "non-empty", id="svc"
        ),
        pytest.param(
            {"loadBalancer": {"crossZone": "yes"}},
            "spec.loadBalancer.crossZone",
            "true or false",
            id="bool",
        ),
        pytest.param({"nodes": 0}, "spec.nodes", "integer from 1", id="zero-nodes"),
        pytest.param(
            {"nodes": [{"name": "a", "podCIDR": "10.0.0.1/24"}]},
            "spec.nodes[0].podCIDR",
            "not a CIDR",
            id="cidr-host-bits",
        ),
        pytest.param(
            {"nodes": [{"name": "a", "taints": [{"key": "k", "effect": "Never"}]}]},
            "spec.nodes[0].taints[0].effect",
            "is not one of",
            id="taint-effect",
        ),
        pytest.param({"app": "trust"}, "spec.app", "must be a mapping", id="mapping"),
        pytest.param(
            {"app": {"trustedProxies": ["10.0.0.0/33"]}}, "spec.app", "10.0.0.0/33", id="trust"
        ),
        pytest.param({"placement": {"a": -1}}, "spec.placement.a", "integer", id="pin-count"),
    ],
)
def test_bad_values_name_the_field(spec: dict[str, Any], field: str, text: str) -> None:
    """A wrong field or value fails with its path, the value and the allowed ones."""
    error = convert_error(scenario(**spec))
    assert error.field == field
    assert text in str(error)
    assert "Scenario default/test" in str(error)
    assert "Fix:" in str(error)


def test_a_scenario_needs_a_name() -> None:
    """metadata.name is required, as for any Kubernetes object."""
    body = scenario()
    body["metadata"] = {}
    assert convert_error(body).field == "metadata.name"


def test_a_second_scenario_is_refused() -> None:
    """One Scenario per run."""
    error = convert_error(scenario(), {**scenario(), "metadata": {"name": "other"}})
    assert "second Scenario" in str(error)


def test_default_nodes_and_vips_are_allocated_and_noted() -> None:
    """No Node objects: three nodes; a LoadBalancer Service without an IP gets 198.51.100.10."""
    cluster = convert(service(type="LoadBalancer"), scenario())
    assert [n.name for n in cluster.nodes] == ["node-1", "node-2", "node-3"]
    assert [str(n.primary_ip(IPFamily.IPV4)) for n in cluster.nodes] == [
        "10.0.1.2",
        "10.0.1.3",
        "10.0.1.4",
    ]
    assert [n.zone for n in cluster.nodes] == ["zone-a", "zone-b", "zone-c"]
    (echo,) = cluster.services
    assert echo.load_balancer_ingress[0].ip == ip_address("198.51.100.10")
    assert any("198.51.100.10 allocated" in note for note in cluster.notes)
    assert any("3 node(s) from the default" in note for note in cluster.notes)
    assert cluster.scenario is not None


def test_vips_skip_addresses_in_use() -> None:
    """An allocated LB IP never repeats one the input already uses."""
    taken = service(
        "a", type="LoadBalancer", status={"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}
    )
    cluster = convert(taken, service("b", type="LoadBalancer"), scenario())
    assert cluster.services[1].load_balancer_ingress[0].ip == ip_address("198.51.100.11")


def test_node_objects_win_over_a_node_count() -> None:
    """A count is ignored, with a note, when the input has Node objects."""
    cluster = convert(node("real"), scenario(nodes=5))
    assert [n.name for n in cluster.nodes] == ["real"]
    assert any("ignored" in note for note in cluster.notes)


def test_listed_nodes_add_to_node_objects_but_never_repeat_them() -> None:
    """A listed node with a Node object's name is refused."""
    cluster = convert(node("real"), scenario(nodes=[{"name": "extra", "zone": "z9"}]))
    assert [n.name for n in cluster.nodes] == ["real", "extra"]
    assert cluster.nodes[1].zone == "z9"
    error = convert_error(node("real"), scenario(nodes=[{"name": "real"}]))
    assert error.field == "spec.nodes[0].name"


def test_apply_keeps_a_cluster_without_load_balancers_unchanged() -> None:
    """Only LoadBalancer Services get an IP; the Scenario is attached."""
    draft = convert_scenario(as_document(scenario(nodes=1)))
    cluster = apply_scenario(Cluster(), draft)
    assert len(cluster.nodes) == 1
    assert cluster.scenario == draft.scenario


def test_list_placement_and_events_and_version_spellings() -> None:
    """Placement as a list of workloads, failover events, PROXY versions as numbers."""
    body = scenario(
        hops=[
            {"kind": "ingress-nginx", "service": "ingress", "config": {"worker-processes": 2}},
            {"kind": "sidecar", "mesh": "linkerd"},
        ],
        loadBalancer={"proxyProtocol": 1},
        app={"proxyProtocol": False},
        placement=[{"workload": "web", "nodes": {"node-1": 3}}],
        failover={"events": ["delete pod/web-0 at 10s"], "durationSeconds": 30},
    )
    s = convert_scenario(as_document(body)).scenario
    ingress = s.hops[0]
    assert isinstance(ingress, IngressHop)
    assert ingress.service == "default/ingress"
    assert dict(ingress.config) == {"worker-processes": "2"}
    assert s.load_balancer.proxy_protocol is ProxyProtocolVersion.V1
    assert s.app.proxy_protocol is ProxyProtocolVersion.OFF
    assert s.placement[0].workload == "default/web"
    assert s.placement[0].nodes == (("node-1", 3),)
    assert s.failover.events[0].target == "pod/web-0"
    assert s.failover.duration_seconds == 30.0


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param(
            {"failover": {"events": ["explode pod/web-0 at 1s"]}},
            "spec.failover.events[0]",
            id="event",
        ),
        pytest.param(
            {"loadBalancer": {"provider": "gkee"}}, "spec.loadBalancer.provider", id="prov"
        ),
        pytest.param(
            {"placement": [{"workload": "web"}]}, "spec.placement[0].nodes", id="pin-nodes"
        ),
    ],
)
def test_more_bad_values_name_the_field(spec: dict[str, Any], field: str) -> None:
    """Events, providers and pins are checked like every other field."""
    assert convert_error(scenario(**spec)).field == field
