"""Allocation of ClusterIPs, nodePorts and health-check ports: deterministic, conflict-free."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.errors import ManifestError, Where
from srcip.manifests.allocate import (
    DEFAULT_SERVICE_CIDRS,
    NODE_PORT_RANGE,
    allocate_services,
    wanted_families,
)
from srcip.manifests.clusterip import IPFamilyPolicy
from srcip.manifests.service import ServiceDraft
from srcip.model.enums import IPFamily
from srcip.model.objects import Service, ServiceCIDR
from tests import factories
from tests.unit.manifests.builders import convert, convert_error, service

V4, V6 = IPFamily.IPV4, IPFamily.IPV6


def draft(
    svc: Service, *, families: tuple[IPFamily, ...] = (), policy: str | None = None
) -> ServiceDraft:
    """A draft of a model Service located in a test file."""
    return ServiceDraft(
        service=svc,
        where=Where(
            file="t.yaml", document=1, kind="Service", namespace=svc.namespace, name=svc.name
        ),
        ip_families=families,
        ip_family_policy=IPFamilyPolicy(policy) if policy else None,
    )


def cidrs(*ranges: str, name: str = "kubernetes") -> ServiceCIDR:
    """A ServiceCIDR object."""
    return ServiceCIDR(name=name, cidrs=tuple(ip_network(r) for r in ranges))


# --------------------------------------------------------------------------- what is allocated


def test_missing_values_are_allocated_flagged_and_noted() -> None:
    """A LoadBalancer with eTP Local gets a ClusterIP, nodePorts and a health-check port."""
    cluster = convert(
        service(
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}],
        )
    )
    (svc,) = cluster.services
    (address,) = svc.cluster_ips
    assert address in DEFAULT_SERVICE_CIDRS[V4]
    assert svc.cluster_ip_allocated
    assert all(p.node_port in NODE_PORT_RANGE and p.node_port_allocated for p in svc.ports)
    assert svc.health_check_node_port in NODE_PORT_RANGE
    assert svc.health_check_node_port_allocated
    assert len({p.node_port for p in svc.ports} | {svc.health_check_node_port}) == 3
    http, dns = svc.ports
    assert cluster.notes == (
        f"allocated clusterIP {address} for Service default/echo (the manifest omits it)",
        f"allocated nodePort {http.node_port} for Service default/echo port 80/TCP "
        "(the manifest omits it)",
        f"allocated nodePort {dns.node_port} for Service default/echo port 53/UDP "
        "(the manifest omits it)",
        f"allocated healthCheckNodePort {svc.health_check_node_port} for Service default/echo "
        "(the manifest omits it)",
    )


def test_given_values_are_kept_and_not_flagged() -> None:
    """Nothing is allocated when the manifest says everything."""
    cluster = convert(
        service(
            type="LoadBalancer",
            clusterIP="10.96.0.10",
            externalTrafficPolicy="Local",
            healthCheckNodePort=32000,
            ports=[{"port": 80, "nodePort": 30080}],
        )
    )
    (svc,) = cluster.services
    assert not svc.cluster_ip_allocated
    assert not svc.health_check_node_port_allocated
    assert not svc.ports[0].node_port_allocated
    assert cluster.notes == ()


@pytest.mark.parametrize(
    ("spec", "node_ports", "health_check"),
    [
        pytest.param({}, False, False, id="cluster-ip"),
        pytest.param({"type": "NodePort"}, True, False, id="node-port"),
        pytest.param({"type": "LoadBalancer"}, True, False, id="lb-cluster-policy"),
        pytest.param(
            {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False},
            False,
            False,
            id="lb-without-node-ports",
        ),
        pytest.param(
            {
                "type": "LoadBalancer",
                "allocateLoadBalancerNodePorts": False,
                "externalTrafficPolicy": "Local",
            },
            False,
            True,
            id="lb-local-without-node-ports",
        ),
        pytest.param(
            {"type": "NodePort", "externalTrafficPolicy": "Local"}, True, False, id="np-local"
        ),
    ],
)
def test_which_ports_are_allocated(
    spec: dict[str, Any], node_ports: bool, health_check: bool
) -> None:
    """nodePorts for NodePort/LoadBalancer (KP §1.4); health check only for LB + Local (KP §1.6)."""
    (svc,) = convert(service(**spec)).services
    assert bool(svc.ports[0].node_port) is node_ports
    assert bool(svc.health_check_node_port) is health_check


def test_partially_given_node_ports_are_completed() -> None:
    """Only the ports without a nodePort get one."""
    (svc,) = convert(
        service(
            type="NodePort",
            ports=[{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81}],
        )
    ).services
    assert svc.ports[0].node_port == 30080
    assert not svc.ports[0].node_port_allocated
    assert svc.ports[1].node_port_allocated
    assert svc.ports[1].node_port != 30080


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"clusterIP": "None", "ports": []}, id="headless"),
        pytest.param({"type": "ExternalName", "externalName": "db.example", "ports": []}, id="en"),
    ],
)
def test_headless_and_external_name_get_no_cluster_ip(spec: dict[str, Any]) -> None:
    """kube-proxy ignores them (KP §1.1), and the apiserver gives them no ClusterIP."""
    assert convert(service(**spec)).services[0].cluster_ips == ()


# --------------------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("given", "families", "policy", "cluster", "expected"),
    [
        pytest.param((), (), None, (V4,), (V4,), id="default-v4"),
        pytest.param((), (), None, (V6, V4), (V6,), id="cluster-primary-v6"),
        pytest.param(("fd00::1",), (), None, (V4,), (V6,), id="given-v6"),
        pytest.param((), (V6,), None, (V4,), (V6,), id="families-v6"),
        pytest.param((), (), "PreferDualStack", (V4,), (V4,), id="prefer-single-cluster"),
        pytest.param((), (), "PreferDualStack", (V4, V6), (V4, V6), id="prefer-dual-cluster"),
        pytest.param((), (), "RequireDualStack", (V4,), (V4, V6), id="require"),
        pytest.param((), (V6,), "RequireDualStack", (V4,), (V6, V4), id="require-v6-first"),
        pytest.param(("10.0.0.1", "fd00::1"), (), None, (V4,), (V4, V6), id="given-dual"),
        pytest.param((), (V4, V6), "PreferDualStack", (V4,), (V4, V6), id="families-dual"),
    ],
)
def test_wanted_families(
    given: tuple[str, ...],
    families: tuple[IPFamily, ...],
    policy: str | None,
    cluster: tuple[IPFamily, ...],
    expected: tuple[IPFamily, ...],
) -> None:
    """ipFamilies, then given IPs, then the cluster's primary; dual per the policy."""
    svc = factories.service("s", cluster_ip=given or None)
    assert wanted_families(draft(svc, families=families, policy=policy), cluster) == expected


def test_dual_stack_service_gets_the_missing_family() -> None:
    """A given IPv4 ClusterIP stays first; the IPv6 one comes from the default IPv6 range."""
    (svc,) = convert(service(clusterIP="10.96.0.10", ipFamilyPolicy="RequireDualStack")).services
    first, second = svc.cluster_ips
    assert first == ip_address("10.96.0.10")
    assert second in DEFAULT_SERVICE_CIDRS[V6]
    assert svc.cluster_ip_allocated


def test_service_cidr_objects_provide_ranges_and_families() -> None:
    """ServiceCIDRs decide the ranges and make PreferDualStack dual."""
    cidr = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": ["fd00:1::/120", "10.0.0.0/28"]},
    }
    cluster = convert(cidr, service(ipFamilyPolicy="PreferDualStack"), service("plain"))
    echo, plain = cluster.services
    first, second = echo.cluster_ips
    assert first in ip_network("fd00:1::/120")  # the ServiceCIDR's first family is primary
    assert second in ip_network("10.0.0.0/28")
    (only,) = plain.cluster_ips
    assert only in ip_network("fd00:1::/120")


def test_the_default_service_cidr_decides_the_primary_family() -> None:
    """The ``kubernetes`` ServiceCIDR's first range is primary, whatever other names sort to."""
    pool = (cidrs("fd00::/120", name="a-extra"), cidrs("10.0.0.0/24", "fd01::/120"))
    (svc,) = allocate_services([draft(factories.service("s"), policy="PreferDualStack")], pool)[0]
    first, second = svc.cluster_ips
    assert first in ip_network("10.0.0.0/24")
    assert second in ip_network("fd01::/120")


# --------------------------------------------------------------------------- pools


def test_network_and_broadcast_addresses_are_never_allocated() -> None:
    """A /30 has exactly two allocatable IPv4 addresses; a third Service finds none."""
    pool = (cidrs("10.0.0.0/30"),)
    drafts = [draft(factories.service(name)) for name in ("a", "b")]
    services, _ = allocate_services(drafts, pool)
    assert {s.cluster_ips[0] for s in services} == {ip_address("10.0.0.1"), ip_address("10.0.0.2")}
    with pytest.raises(ManifestError) as caught:
        allocate_services([*drafts, draft(factories.service("c"))], pool)
    assert str(caught.value) == (
        "t.yaml, document 1, Service ns1/c: field spec.clusterIPs: cannot be allocated: "
        "no free IPv4 address is left in 10.0.0.0/30. Fix: give the Service a clusterIP, "
        "or add a ServiceCIDR with a larger range"
    )


def test_ipv6_keeps_the_last_address_and_spans_several_ranges() -> None:
    """IPv6 reserves only the network address; ranges of several ServiceCIDRs are joined."""
    pool = (cidrs("fd00::/127", name="b"), cidrs("fd00:1::/126", name="a"))
    drafts = [draft(factories.service(f"s{i}"), families=(V6,)) for i in range(4)]
    services, _ = allocate_services(drafts, pool)
    assert {s.cluster_ips[0] for s in services} == {
        ip_address(a) for a in ("fd00:1::1", "fd00:1::2", "fd00:1::3", "fd00::1")
    }


def test_empty_range_cannot_allocate() -> None:
    """A /128 ServiceCIDR holds no allocatable address."""
    with pytest.raises(ManifestError, match="no free IPv6 address is left in fd00::/128"):
        allocate_services([draft(factories.service("s"), families=(V6,))], (cidrs("fd00::/128"),))


def test_used_addresses_are_skipped() -> None:
    """Allocation probes past addresses other Services already hold."""
    pool = (cidrs("10.0.0.0/29"),)  # six addresses
    given = [draft(factories.service(f"g{i}", cluster_ip=f"10.0.0.{i}")) for i in range(1, 6)]
    services, _ = allocate_services([*given, draft(factories.service("new"))], pool)
    assert services[-1].cluster_ips == (ip_address("10.0.0.6"),)


def test_node_port_range_exhaustion_is_reported() -> None:
    """When every port of 30000-32767 is taken, the next NodePort Service fails."""
    taken = [
        draft(factories.service(f"s{n}", type="NodePort", ports=(factories.port(80, node_port=n),)))
        for n in NODE_PORT_RANGE
    ]
    extra = draft(factories.service("late", type="NodePort", ports=(factories.port(80),)))
    with pytest.raises(ManifestError) as caught:
        allocate_services([*taken, extra], ())
    assert caught.value.field == "spec.ports[0].nodePort"
    assert "all of 30000-32767 are in use" in str(caught.value)


# --------------------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("first", "second", "field", "problem"),
    [
        pytest.param(
            {"clusterIP": "10.96.0.10"},
            {"clusterIP": "10.96.0.10"},
            "spec.clusterIPs[0]",
            "is also the ClusterIP of Service default/a",
            id="cluster-ip",
        ),
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
            {"type": "NodePort", "ports": [{"port": 81, "nodePort": 30080}]},
            "spec.ports[0].nodePort",
            "is already a nodePort of Service default/a",
            id="node-port",
        ),
        pytest.param(
            {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 30080,
            },
            {"type": "NodePort", "ports": [{"port": 81, "nodePort": 30080}]},
            "spec.ports[0].nodePort",
            "is already the healthCheckNodePort of Service default/a",
            id="health-check-port",
        ),
    ],
)
def test_two_services_cannot_share_an_address_or_port(
    first: dict[str, Any], second: dict[str, Any], field: str, problem: str
) -> None:
    """A ClusterIP or node port claimed twice is refused at the second Service."""
    exc = convert_error(service("a", **first), service("b", **second))
    assert str(exc).startswith("cluster.yaml, document 2, Service default/b: ")
    assert exc.field == field
    assert problem in str(exc)


def test_health_check_port_cannot_reuse_the_services_own_node_port() -> None:
    """One Service's nodePort and healthCheckNodePort must differ."""
    exc = convert_error(
        service(
            type="LoadBalancer",
            externalTrafficPolicy="Local",
            healthCheckNodePort=30080,
            ports=[{"port": 80, "nodePort": 30080}],
        )
    )
    assert exc.field == "spec.healthCheckNodePort"
    assert "is already a nodePort of Service default/echo" in str(exc)


# --------------------------------------------------------------------------- determinism


def test_allocation_is_the_same_on_every_run() -> None:
    """The same input gives the same numbers."""
    bodies = [
        service(f"s{i}", type="LoadBalancer", externalTrafficPolicy="Local") for i in range(20)
    ]
    assert convert(*bodies) == convert(*bodies)


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(12)))
def test_allocation_does_not_depend_on_input_order(order: list[int]) -> None:
    """Services are completed in (namespace, name) order, so file order does not matter."""
    bodies = [service(f"s{i}", namespace=f"ns{i % 3}", type="NodePort") for i in range(12)]
    reference = {s.key: s for s in convert(*bodies).services}
    shuffled = convert(*(bodies[i] for i in order))
    assert {s.key: s for s in shuffled.services} == reference
    assert [s.name for s in shuffled.services] == [f"s{i}" for i in order]
