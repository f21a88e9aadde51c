"""Service conversion: defaults and fields (KP §1) and the apiserver's checks (KP §16)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.service import ServiceDraft, convert_service
from srcip.model.enums import (
    IPMode,
    Protocol,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from srcip.model.objects import LoadBalancerIngress, Service, ServicePort
from tests.unit.manifests.builders import as_document, service


def draft(**spec: Any) -> ServiceDraft:
    """Convert ``service(**spec)``."""
    return convert_service(as_document(service(**spec)))


def converted(**spec: Any) -> Service:
    """The Service of ``service(**spec)``."""
    return draft(**spec).service


def error(**spec: Any) -> ManifestError:
    """The error converting ``service(**spec)`` raises."""
    with pytest.raises(ManifestError) as caught:
        draft(**spec)
    return caught.value


# --------------------------------------------------------------------------- defaults


def test_minimal_service_gets_the_apiserver_defaults() -> None:
    """Namespace default, type ClusterIP, TCP, targetPort = port, policies Cluster (KP §1)."""
    assert converted() == Service(
        namespace="default",
        name="echo",
        ports=(ServicePort(port=80, target_port=80),),
    )


def test_every_field_is_read() -> None:
    """A fully specified LoadBalancer converts field by field."""
    svc = converted(
        namespace="web",
        type="LoadBalancer",
        clusterIP="10.96.0.10",
        clusterIPs=["10.96.0.10", "fd00::10"],
        ipFamilies=["IPv4", "IPv6"],
        ipFamilyPolicy="RequireDualStack",
        externalIPs=["192.0.2.1"],
        ports=[
            {"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
        ],
        selector={"app": "echo", "tier": "a"},
        externalTrafficPolicy="Local",
        internalTrafficPolicy="Local",
        healthCheckNodePort=31000,
        loadBalancerSourceRanges=[" 198.51.100.0/24 ", "10.0.0.1/8"],
        allocateLoadBalancerNodePorts=False,
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        trafficDistribution="PreferClose",
        status={
            "loadBalancer": {
                "ingress": [
                    {"ip": "203.0.113.7", "ipMode": "Proxy"},
                    {"hostname": "lb.example.com"},
                ]
            }
        },
    )
    assert svc.namespace == "web"
    assert svc.type is ServiceType.LOAD_BALANCER
    assert svc.cluster_ips == (ip_address("10.96.0.10"), ip_address("fd00::10"))
    assert svc.external_ips == (ip_address("192.0.2.1"),)
    assert svc.ports == (
        ServicePort(name="http", port=80, target_port="web", node_port=30080),
        ServicePort(name="dns", protocol=Protocol.UDP, port=53, target_port=5353),
    )
    assert svc.selector == (("app", "echo"), ("tier", "a"))
    assert svc.external_traffic_policy is TrafficPolicy.LOCAL
    assert svc.internal_traffic_policy is TrafficPolicy.LOCAL
    assert svc.health_check_node_port == 31000
    # Whitespace trimmed (KP §8.5); host bits accepted and cleared, as the apiserver does.
    assert svc.load_balancer_source_ranges == (
        ip_network("198.51.100.0/24"),
        ip_network("10.0.0.0/8"),
    )
    assert svc.allocate_load_balancer_node_ports is False
    assert svc.session_affinity is SessionAffinity.CLIENT_IP
    assert svc.session_affinity_timeout == 60
    assert svc.traffic_distribution == "PreferClose"
    assert svc.load_balancer_ingress == (
        LoadBalancerIngress(ip=ip_address("203.0.113.7"), ip_mode=IPMode.PROXY),
        LoadBalancerIngress(hostname="lb.example.com"),
    )


@pytest.mark.parametrize(
    ("target_port", "expected"),
    [
        pytest.param(None, 80, id="absent"),
        pytest.param(0, 80, id="zero"),
        pytest.param("", 80, id="empty"),
        pytest.param(8080, 8080, id="number"),
        pytest.param("http", "http", id="name"),
    ],
)
def test_target_port_defaults_to_port(target_port: object, expected: int | str) -> None:
    """targetPort absent, 0 or empty means the service port."""
    port: dict[str, Any] = {"port": 80}
    if target_port is not None:
        port["targetPort"] = target_port
    assert converted(ports=[port]).ports[0].target_port == expected


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"type": "ExternalName", "externalName": "x.example", "ports": []}, id="en"),
        pytest.param({"clusterIP": "None", "ports": []}, id="headless"),
        pytest.param({"type": "NodePort", "externalTrafficPolicy": "Local"}, id="etp-nodeport"),
        pytest.param(
            {"externalIPs": ["192.0.2.1"], "externalTrafficPolicy": "Local"}, id="etp-eip"
        ),
        pytest.param({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": True}, id="alnp"),
        pytest.param({"type": "LoadBalancer", "externalTrafficPolicy": "Local"}, id="lb-local"),
        pytest.param({"sessionAffinity": "ClientIP"}, id="affinity-default-timeout"),
        pytest.param({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {}}, id="empty-cfg"),
        pytest.param(
            {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {}}},
            id="empty-client-ip",
        ),
        pytest.param({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]}, id="np"),
        pytest.param({"status": {"loadBalancer": {}}}, id="empty-lb-status"),
        pytest.param({"status": {}}, id="empty-status"),
        pytest.param(
            {
                "type": "NodePort",
                "ports": [
                    {"name": "a", "port": 53, "nodePort": 30053},
                    {"name": "b", "port": 53, "protocol": "UDP", "nodePort": 30053},
                ],
            },
            id="same-port-two-protocols",
        ),
    ],
)
def test_valid_services_convert(spec: dict[str, Any]) -> None:
    """Each of these is accepted by the apiserver and converts."""
    svc = converted(**spec)
    if "sessionAffinity" in spec:
        assert svc.session_affinity_timeout == 10800  # KP §1.7


def test_service_without_spec_needs_ports() -> None:
    """A Service with no spec at all has no ports, which the apiserver refuses."""
    body = service()
    del body["spec"]
    with pytest.raises(ManifestError, match=r"field spec.ports: is empty"):
        convert_service(as_document(body))


# --------------------------------------------------------------------------- refusals

INVALID = [
    pytest.param({"type": "Ingress"}, "spec.type", "Ingress", "is not a valid value", id="type"),
    pytest.param(
        {"externalIPs": ["192.0.2.300"]},
        "spec.externalIPs[0]",
        "192.0.2.300",
        "is not an IP address",
        id="external-ip",
    ),
    pytest.param({"ports": []}, "spec.ports", None, "is empty", id="no-ports"),
    pytest.param(
        {"ports": [{"port": 0}]}, "spec.ports[0].port", 0, "is not a port number", id="port-0"
    ),
    pytest.param(
        {"ports": [{"port": 70000}]}, "spec.ports[0].port", 70000, "not a port", id="port-big"
    ),
    pytest.param(
        {"ports": [{"port": 80, "targetPort": 70000}]},
        "spec.ports[0].targetPort",
        70000,
        "is not a port number",
        id="target-port",
    ),
    pytest.param(
        {"ports": [{"port": 80, "protocol": "ICMP"}]},
        "spec.ports[0].protocol",
        "ICMP",
        "is not a valid value",
        id="protocol",
    ),
    pytest.param(
        {"ports": [{"name": "a", "port": 80}, {"port": 81}]},
        "spec.ports[1].name",
        None,
        "is required when a Service has more than one port",
        id="unnamed-second-port",
    ),
    pytest.param(
        {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
        "spec.ports[1].name",
        "a",
        "repeats spec.ports[0].name",
        id="duplicate-name",
    ),
    pytest.param(
        {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
        "spec.ports[1].port",
        80,
        "repeats spec.ports[0].port/TCP",
        id="duplicate-port",
    ),
    pytest.param(
        {
            "type": "NodePort",
            "ports": [
                {"name": "a", "port": 80, "nodePort": 30080},
                {"name": "b", "port": 81, "nodePort": 30080},
            ],
        },
        "spec.ports[1].nodePort",
        30080,
        "repeats spec.ports[0].nodePort/TCP",
        id="duplicate-node-port",
    ),
    pytest.param(
        {"ports": [{"port": 80, "nodePort": 30080}]},
        "spec.ports[0].nodePort",
        30080,
        "may not be set when type is ClusterIP",
        id="node-port-on-cluster-ip",
    ),
    pytest.param(
        {"type": "NodePort", "ports": [{"port": 80, "nodePort": 70000}]},
        "spec.ports[0].nodePort",
        70000,
        "is not a port number",
        id="node-port-range",
    ),
    pytest.param(
        {"externalTrafficPolicy": "Local"},
        "spec.externalTrafficPolicy",
        "Local",
        "may only be set on NodePort or LoadBalancer Services",
        id="etp-on-cluster-ip",
    ),
    pytest.param(
        {"type": "NodePort", "externalTrafficPolicy": "Global"},
        "spec.externalTrafficPolicy",
        "Global",
        "is not a valid value",
        id="etp-value",
    ),
    pytest.param(
        {"internalTrafficPolicy": "Node"},
        "spec.internalTrafficPolicy",
        "Node",
        "is not a valid value",
        id="itp-value",
    ),
    pytest.param(
        {"type": "LoadBalancer", "healthCheckNodePort": 31000},
        "spec.healthCheckNodePort",
        31000,
        "may only be set when type is LoadBalancer and externalTrafficPolicy is Local",
        id="hc-with-cluster-policy",
    ),
    pytest.param(
        {"type": "NodePort", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000},
        "spec.healthCheckNodePort",
        31000,
        "may only be set when type is LoadBalancer",
        id="hc-on-nodeport",
    ),
    pytest.param(
        {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 99999},
        "spec.healthCheckNodePort",
        99999,
        "is not a port number",
        id="hc-range",
    ),
    pytest.param(
        {"type": "NodePort", "loadBalancerSourceRanges": ["10.0.0.0/8"]},
        "spec.loadBalancerSourceRanges",
        ["10.0.0.0/8"],
        "may only be set when type is LoadBalancer",
        id="ranges-on-nodeport",
    ),
    pytest.param(
        {"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/33"]},
        "spec.loadBalancerSourceRanges[0]",
        "10.0.0.0/33",
        "is not a CIDR",
        id="range-cidr",
    ),
    pytest.param(
        {"type": "LoadBalancer", "status": {"loadBalancer": {"ingress": [{"ip": "x"}]}}},
        "status.loadBalancer.ingress[0].ip",
        "x",
        "is not an IP address",
        id="ingress-ip",
    ),
    pytest.param(
        {"status": {"loadBalancer": {"ingress": [{"hostname": "h", "ipMode": "VIP"}]}}},
        "status.loadBalancer.ingress[0].ipMode",
        "VIP",
        "may only be set together with ip",
        id="ip-mode-without-ip",
    ),
    pytest.param(
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "vip"}]}}},
        "status.loadBalancer.ingress[0].ipMode",
        "vip",
        "is not a valid value",
        id="ip-mode-value",
    ),
    pytest.param(
        {"sessionAffinity": "Sticky"},
        "spec.sessionAffinity",
        "Sticky",
        "is not a valid value",
        id="affinity-value",
    ),
    pytest.param(
        {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
        "spec.sessionAffinityConfig",
        None,
        "may only be set when sessionAffinity is ClientIP",
        id="affinity-config-without-affinity",
    ),
    pytest.param(
        {
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}},
        },
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        0,
        "is out of range",
        id="affinity-timeout-0",
    ),
    pytest.param(
        {
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}},
        },
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        86401,
        "is out of range",
        id="affinity-timeout-max",
    ),
    pytest.param(
        {"type": "NodePort", "allocateLoadBalancerNodePorts": False},
        "spec.allocateLoadBalancerNodePorts",
        False,
        "may only be set when type is LoadBalancer",
        id="alnp-on-nodeport",
    ),
    pytest.param(
        {"trafficDistribution": "Nearest"},
        "spec.trafficDistribution",
        "Nearest",
        "is not a valid value",
        id="traffic-distribution",
    ),
    pytest.param(
        {"selector": {"app": 1}},
        "spec.selector['app']",
        1,
        "must map strings to strings",
        id="selector-value",
    ),
]


@pytest.mark.parametrize(("spec", "field", "value", "problem"), INVALID)
def test_invalid_services_are_refused_with_field_value_and_fix(
    spec: dict[str, Any], field: str, value: object, problem: str
) -> None:
    """What the apiserver refuses is refused, naming file, document, object, field and value."""
    exc = error(**spec)
    message = str(exc)
    assert message.startswith("cluster.yaml, document 1, Service default/echo: ")
    assert exc.field == field
    assert exc.value == value
    assert f"field {field}" in message
    if value is not None:
        assert repr(value) in message
    assert problem in message
    assert exc.fix
    assert message.endswith(f"Fix: {exc.fix}")


def test_service_without_name_is_refused() -> None:
    """metadata.name is required."""
    body = service()
    body["metadata"] = {"namespace": "x"}
    with pytest.raises(ManifestError) as caught:
        convert_service(as_document(body))
    assert str(caught.value).startswith(
        "cluster.yaml, document 1, Service: field metadata.name: is required"
    )
