"""The trace's pieces: hop records, path states, which Services to trace, pod ports."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from ipaddress import ip_address

import pytest

from srcip.clientip.resolve import resolve
from srcip.clientip.trust import TrustConfig
from srcip.errors import UsageError
from srcip.model.objects import Cluster, EndpointPort, Pod, Service
from srcip.model.scenario import IngressHop, IngressKind, LoadBalancerSpec, Scenario
from srcip.model.tracepath import (
    DEFAULT_LB_ADDRESS,
    PathState,
    entry_services,
    lb_address,
    pod_table,
    record,
    target_port_of,
)
from srcip.model.view import View
from tests import factories as f

CLIENT = ip_address("203.0.113.7")
POD_IP = ip_address("10.244.1.5")


def lb(name: str, namespace: str = "default") -> Service:
    """A LoadBalancer Service with one port."""
    return f.service(name, namespace=namespace, type="LoadBalancer", cluster_ip="10.96.0.1",
                     ports=(f.port(80, node_port=30080),))  # fmt: skip


def keys(pairs: list[tuple[Service, Service]]) -> list[tuple[str, str]]:
    """(entry, backend) keys."""
    return [(entry.key, backend.key) for entry, backend in pairs]


# --------------------------------------------------------------------------- records, states


def test_record_keeps_only_forwarding_headers() -> None:
    """A hop record shows the client-address headers the listener received, nothing else."""
    view = View(
        peer=CLIENT,
        local=POD_IP,
        local_port=8080,
        headers=(("host", "example.com"), ("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")),
    )
    state = PathState(client="c", probability=Fraction(1), hops=())
    after = record(state, "pod web-0", "pod", view, rules=("KP §4.3",))
    (hop,) = after.hops
    assert hop.headers == (("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8"))
    assert (hop.name, hop.kind, hop.peer, hop.local, hop.proxy, hop.rules) == (
        "pod web-0",
        "pod",
        CLIENT,
        POD_IP,
        None,
        ("KP §4.3",),
    )
    assert state.hops == ()  # states are values


def test_path_state_endings() -> None:
    """dropped, refused and delivered carry the path so far and set exactly their own fields."""
    state = PathState(client="c", probability=Fraction(1, 3), hops=(), node="n1", pod="web-0")
    dropped = state.dropped("somewhere")
    assert (dropped.dropped_at, dropped.refused_at, dropped.delivered, dropped.node) == (
        "somewhere",
        None,
        False,
        "n1",
    )
    assert state.dropped("kube-proxy", node="n2").node == "n2"
    refused = state.refused("the app")
    assert (refused.refused_at, refused.dropped_at, refused.probability) == (
        "the app",
        None,
        Fraction(1, 3),
    )
    resolution = resolve(str(CLIENT), (), TrustConfig())
    delivered = state.delivered(resolution=resolution)
    assert delivered.delivered
    assert delivered.app_client_ip == CLIENT
    assert delivered.resolution is resolution
    assert delivered.pod == "web-0"


def test_lb_address_defaults_to_the_documented_private_address() -> None:
    """The LB's own address: the Scenario's, else 10.0.0.10."""
    assert lb_address(Scenario(name="s")) == DEFAULT_LB_ADDRESS == ip_address("10.0.0.10")
    own = Scenario(name="s", load_balancer=LoadBalancerSpec(address=ip_address("10.9.9.9")))
    assert lb_address(own) == ip_address("10.9.9.9")


def test_pod_table_indexes_every_ip() -> None:
    """A dual-stack pod is found under both addresses; pods without IPs are absent."""
    dual = Pod(name="a", ips=(POD_IP, ip_address("fd00::5")))
    cluster = Cluster(pods=(dual, Pod(name="pending")))
    assert pod_table(cluster) == {POD_IP: dual, ip_address("fd00::5"): dual}


# --------------------------------------------------------------------------- entry services


def test_every_external_service_is_traced_without_a_name() -> None:
    """No --service and no spec.service: LoadBalancer and NodePort Services with ports."""
    node_port = f.service("np", namespace="default", type="NodePort", cluster_ip="10.96.0.2",
                          ports=(f.port(80, node_port=30081),))  # fmt: skip
    portless = f.service("empty", namespace="default", type="LoadBalancer", cluster_ip="10.96.0.3")
    internal = f.service("int", namespace="default", cluster_ip="10.96.0.4", ports=(f.port(80),))
    cluster = Cluster(services=(lb("web"), node_port, portless, internal))
    assert keys(entry_services(cluster, Scenario(name="s"), None)) == [
        ("default/web", "default/web"),
        ("default/np", "default/np"),
    ]


@pytest.mark.parametrize(
    ("wanted", "scenario_service"),
    [
        pytest.param("web", None, id="bare-name-is-default-namespace"),
        pytest.param("default/web", None, id="full-name"),
        pytest.param(None, "default/web", id="from-the-scenario"),
        pytest.param("web", "default/other", id="option-wins"),
    ],
)
def test_named_service(wanted: str | None, scenario_service: str | None) -> None:
    """--service (NAME or NAMESPACE/NAME) overrides spec.service; either picks one Service."""
    cluster = Cluster(services=(lb("web"), lb("other")))
    scenario = Scenario(name="s", service=scenario_service)
    assert keys(entry_services(cluster, scenario, wanted)) == [("default/web", "default/web")]


def test_ingress_pairs_its_service_with_the_backend() -> None:
    """With an ingress hop the LB fronts the controller's Service; the backend is the app's."""
    backend = f.service("api", namespace="default", cluster_ip="10.96.0.5", ports=(f.port(80),))
    hop = IngressHop(kind=IngressKind.INGRESS_NGINX, name="nginx", service="ing/ctl")
    cluster = Cluster(services=(lb("ctl", "ing"), backend, lb("web")))
    scenario = Scenario(name="s", service="default/api", hops=(hop,))
    assert keys(entry_services(cluster, scenario, None)) == [("ing/ctl", "default/api")]
    unnamed = Scenario(name="s", hops=(hop,))
    assert keys(entry_services(cluster, unnamed, None)) == [("ing/ctl", "default/web")]


@pytest.mark.parametrize(
    ("cluster", "scenario", "wanted", "message"),
    [
        pytest.param(
            Cluster(services=(lb("web"),)), Scenario(name="s"), "nope",
            "Service default/nope is not in the input (Services: default/web)", id="unknown",
        ),
        pytest.param(
            Cluster(), Scenario(name="s", service="default/x"), None,
            "(Services: none)", id="unknown-in-empty-input",
        ),
        pytest.param(
            Cluster(services=(lb("web"),)),
            Scenario(name="s", hops=(
                IngressHop(kind=IngressKind.TRAEFIK, name="t", service="ing/missing"),
            )),
            None, "hop t: its Service ing/missing is not in the input", id="ingress-missing",
        ),
        pytest.param(
            Cluster(services=(f.service("int", cluster_ip="10.96.0.4", ports=(f.port(80),)),)),
            Scenario(name="s"), None,
            "the input has no LoadBalancer or NodePort Service to trace", id="nothing-external",
        ),
    ],
)  # fmt: skip
def test_entry_service_errors(
    cluster: Cluster, scenario: Scenario, wanted: str | None, message: str
) -> None:
    """Every way of naming nothing traceable is a UsageError with a fix."""
    with pytest.raises(UsageError, match="Fix: ") as caught:
        entry_services(cluster, scenario, wanted)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- target ports


def test_target_port_comes_from_the_services_endpoint_slice() -> None:
    """The slice of this Service listing the pod gives the port; others are skipped."""
    service = f.service("web", cluster_ip="10.96.0.1",
                        ports=(f.port(80, name="http", target_port="web"),))  # fmt: skip
    other_service = f.endpoint_slice("other", (f.endpoint(str(POD_IP)),),
                                     ports=(("http", 9999, "TCP"),))  # fmt: skip
    other_namespace = f.endpoint_slice("web", (f.endpoint(str(POD_IP)),), namespace="ns2",
                                       ports=(("http", 9998, "TCP"),))  # fmt: skip
    other_pod = f.endpoint_slice("web", (f.endpoint("10.244.9.9"),), name="web-b",
                                 ports=(("http", 9997, "TCP"),))  # fmt: skip
    own = f.endpoint_slice("web", (f.endpoint(str(POD_IP)),), name="web-a",
                           ports=(("metrics", 9090, "TCP"), ("http", 8443, "TCP")))  # fmt: skip
    cluster = Cluster(services=(service,),
                      endpoint_slices=(other_service, other_namespace, other_pod, own))  # fmt: skip
    assert target_port_of(cluster, service, service.ports[0], POD_IP) == 8443


@pytest.mark.parametrize(
    ("target_port", "expected"),
    [
        pytest.param(8080, 8080, id="numeric-targetPort"),
        pytest.param("web", 80, id="named-targetPort-falls-back-to-port"),
        pytest.param(None, 80, id="no-targetPort"),
    ],
)
def test_target_port_without_a_matching_slice_port(
    target_port: int | str | None, expected: int
) -> None:
    """No slice port of the same name: a numeric targetPort, else the Service port."""
    service = f.service("web", cluster_ip="10.96.0.1",
                        ports=(f.port(80, name="http", target_port=target_port),))  # fmt: skip
    unnamed = f.endpoint_slice("web", (f.endpoint(str(POD_IP)),), ports=(("", 7777, "TCP"),))
    portless = f.endpoint_slice("web", (f.endpoint(str(POD_IP)),), name="web-b", ports=())
    no_number = replace(portless, name="web-c", ports=(EndpointPort(name="http", port=None),))
    cluster = Cluster(services=(service,), endpoint_slices=(unnamed, portless, no_number))
    assert target_port_of(cluster, service, service.ports[0], POD_IP) == expected
