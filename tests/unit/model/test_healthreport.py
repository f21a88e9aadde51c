"""Every health-check answer of a cluster: the Service × node report (KP §13, §14)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest

from srcip.errors import UsageError
from srcip.model.enums import IPFamily, ServiceType, TrafficPolicy
from srcip.model.healthcheck import (
    WEIGHT_HEADER,
    ProxyHealthState,
)
from srcip.model.healthreport import health_report
from srcip.model.index import build_index
from srcip.model.objects import KubeProxyConfig, Node, Service
from tests.factories import cluster, endpoint, endpoint_slice, node, port, service

OK = HTTPStatus.OK
UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE
V4 = IPFamily.IPV4
V6 = IPFamily.IPV6
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


# --------------------------------------------------------------------------- report


@dataclass
class FakeIndex:
    """The four ClusterIndex members health_report reads, without building an index."""

    services: tuple[Service, ...]
    counts: dict[str, dict[str, int]]
    nodes: tuple[Node, ...]
    config: KubeProxyConfig = field(default_factory=KubeProxyConfig)

    def health_checked_services(self) -> tuple[Service, ...]:
        """The Services given."""
        return self.services

    def local_ready_counts(self, svc: Service) -> dict[str, int]:
        """The counts given for the Service."""
        return self.counts.get(svc.key, {})


def lb_local(name: str, hc: int, *, allocated: bool = False) -> Service:
    """A LoadBalancer Service with eTP=Local and a health check node port."""
    svc = service(name, type="LoadBalancer", etp="Local", cluster_ip="10.96.0.10", hc_node_port=hc)
    return replace(svc, health_check_node_port_allocated=allocated)


@pytest.fixture
def fake_index() -> FakeIndex:
    """Two health-checked Services over three Nodes, one of them being removed."""
    return FakeIndex(
        services=(lb_local("web", 31000), lb_local("api", 31001, allocated=True)),
        counts={"ns1/web": {"n1": 2, "n3": 1}, "ns1/api": {"n2": 1, "ghost": 4}},
        nodes=(node("n1"), node("n2", deleting=True), node("n3")),
    )


def test_report_rows_cover_every_service_and_node(fake_index: FakeIndex) -> None:
    """One row per Service × node, absent counts 0 (KP §13.3, §13.4)."""
    report = health_report(fake_index, now=T0)
    rows = {(r.service.key, r.node): (r.local_endpoints, r.answer.status) for r in report.rows()}
    assert rows == {
        ("ns1/web", "n1"): (2, OK),
        ("ns1/web", "n2"): (0, UNAVAILABLE),
        ("ns1/web", "n3"): (1, OK),
        ("ns1/api", "n1"): (0, UNAVAILABLE),
        ("ns1/api", "n2"): (1, OK),  # node eligibility is not part of it (KP §13.6)
        ("ns1/api", "n3"): (0, UNAVAILABLE),
    }


def test_report_shares_answers_per_count(fake_index: FakeIndex) -> None:
    """Nodes with the same count share one answer object."""
    report = health_report(fake_index, now=T0)
    api = report.service("ns1/api")
    assert api.answer("n1") is api.answer("n3") is api.answer_for(0)
    assert api.count("n2") == 1
    assert api.count("nowhere") == 0
    assert api.health_check_node_port == 31001
    assert api.allocated is True
    assert report.service("ns1/web").allocated is False
    with pytest.raises(KeyError):
        report.service("ns1/missing")


def test_report_proxy_answers_per_node(fake_index: FakeIndex) -> None:
    """/healthz fails on the node being removed and on unknown names; /livez passes (KP §14.3)."""
    report = health_report(fake_index, nodes=("n1", "n2", "typo"), now=T0)
    assert report.nodes == ("n1", "n2", "typo")
    assert {n: a.healthz.status for n, a in report.proxy.items()} == {
        "n1": OK,
        "n2": UNAVAILABLE,
        "typo": UNAVAILABLE,
    }
    assert all(a.livez.status is OK for a in report.proxy.values())
    assert report.proxy["n2"] is report.proxy["typo"]
    assert set(report.proxy["n1"].healthz.body["status"]) == {"IPv4", "IPv6"}


def test_report_with_late_proxy_fails_every_check(fake_index: FakeIndex) -> None:
    """A proxy that missed its deadline fails every service check too (KP §13.6)."""
    late = ProxyHealthState().updated(V4, T0).queued(V4, at(1))
    report = health_report(fake_index, proxy_state=late, now=at(61), families=(V4,))
    assert report.proxy_healthy is False
    assert {r.answer.status for r in report.rows()} == {UNAVAILABLE}
    answer = report.service("ns1/web").answer("n1")
    assert answer.body["serviceProxyHealthy"] is False
    assert answer.header(WEIGHT_HEADER) == "2"
    assert report.proxy["n1"].livez.status is UNAVAILABLE


def test_report_to_json_is_compact(fake_index: FakeIndex) -> None:
    """JSON lists non-zero counts per node and one answer per distinct count."""
    report = health_report(fake_index, nodes=("n1", "n2"), now=T0)
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["nodes"] == ["n1", "n2"]
    assert data["currentTime"] == "2025-03-01T12:00:00Z"
    assert data["proxyHealthy"] is True
    services = data["services"]
    assert isinstance(services, dict)
    web = services["ns1/web"]
    assert isinstance(web, dict)
    assert web["localEndpoints"] == {"n1": 2}  # n3 is not in the report
    assert set(web["answers"]) == {"0", "2"}
    assert web["healthCheckNodePort"] == 31000
    proxy = data["proxy"]
    assert isinstance(proxy, dict)
    assert proxy["n2"]["healthz"]["status"] == 503


def test_report_json_omits_zero_answer_when_every_node_has_endpoints() -> None:
    """The 0-count answer is listed only if some reported node has no local endpoint."""
    index = FakeIndex(
        services=(lb_local("web", 31000),), counts={"ns1/web": {"n1": 1}}, nodes=(node("n1"),)
    )
    data = health_report(index, now=T0).to_json()
    assert set(data["services"]["ns1/web"]["answers"]) == {"1"}


def test_report_rejects_naive_now(fake_index: FakeIndex) -> None:
    """The report's instant must be timezone-aware."""
    with pytest.raises(UsageError):
        health_report(fake_index, now=datetime(2025, 1, 1))


# --------------------------------------------------------------------------- via build_index

WEB_PORTS = (port(80, name="http", node_port=30080), port(443, name="https", node_port=30443))


def web_lb(**overrides: object) -> Service:
    """The eTP=Local LoadBalancer ``ns1/web`` with two ports and a health check node port."""
    svc = service(
        "web", type="LoadBalancer", etp="Local", cluster_ip="10.96.0.10", hc_node_port=32000
    )
    return replace(svc, ports=WEB_PORTS, **overrides)


NODES = (node("node-a"), node("node-b"), node("node-c"))


def test_real_index_counts_distinct_local_ready_ips() -> None:
    """Distinct Ready IPs per node; terminating-only and unready nodes answer 503 with 0."""
    eps = (
        endpoint("10.244.1.5", node="node-a"),
        endpoint("10.244.1.6", node="node-a"),
        endpoint("10.244.2.5", node="node-b", ready=False, serving=True, terminating=True),
        endpoint("10.244.3.5", node="node-c", ready=False),
        endpoint("10.244.9.9"),  # no nodeName: local nowhere (KP §2.2)
    )
    the_slice = endpoint_slice("web", eps, ports=(("http", 8080, "TCP"), ("https", 8443, "TCP")))
    index = build_index(cluster(services=(web_lb(),), slices=(the_slice,), nodes=NODES))
    report = health_report(index, now=T0)
    web = report.service("ns1/web")
    assert web.health_check_node_port == 32000
    assert {n: (web.count(n), web.answer(n).status) for n in report.nodes} == {
        "node-a": (2, OK),  # two IPs, each on two ports: 2, not 4 (KP §13.4)
        "node-b": (0, UNAVAILABLE),  # serving+terminating is not counted (KP §13.4)
        "node-c": (0, UNAVAILABLE),
    }


def test_real_index_counts_an_ip_once_across_slices_per_port() -> None:
    """One slice per port with the same pod IPs still counts each IP once (KP §13.4)."""
    eps = (endpoint("10.244.1.5", node="node-a"), endpoint("10.244.2.5", node="node-b"))
    slices = (
        endpoint_slice("web", eps, ports=(("http", 8080, "TCP"),), name="web-http"),
        endpoint_slice("web", eps, ports=(("https", 8443, "TCP"),), name="web-https"),
    )
    index = build_index(cluster(services=(web_lb(),), slices=slices, nodes=NODES))
    web = health_report(index, now=T0).service("ns1/web")
    assert [web.count(n.name) for n in NODES] == [1, 1, 0]


def test_real_index_reports_only_services_that_need_a_health_check() -> None:
    """Only type LoadBalancer with eTP=Local gets a health check (KP §1.6)."""
    cluster_policy = replace(web_lb(name="cluster-lb"), health_check_node_port=0)
    node_port = replace(web_lb(name="np"), health_check_node_port=0)
    services = (
        web_lb(),
        replace(cluster_policy, external_traffic_policy=TrafficPolicy.CLUSTER),
        replace(node_port, type=ServiceType.NODE_PORT),
    )
    index = build_index(cluster(services=services, nodes=NODES))
    report = health_report(index, nodes=("node-a",), now=T0)
    assert [s.key for s in report.services] == ["ns1/web"]
    assert [r.answer.status for r in report.rows()] == [UNAVAILABLE]


def test_real_index_counts_a_duplicated_endpoint_on_each_node_of_a_copy() -> None:
    """An ip:port in two slices is local wherever one copy's nodeName points (KP §2.1, §13.4)."""
    slices = (
        endpoint_slice("web", (endpoint("10.244.1.5", node="node-a"),), name="web-1"),
        endpoint_slice("web", (endpoint("10.244.1.5", node="node-b"),), name="web-2"),
        endpoint_slice("web", (endpoint("10.244.1.5"),), name="web-3"),
    )
    web = replace(web_lb(), ports=(port(80, node_port=30080),))
    index = build_index(cluster(services=(web,), slices=slices, nodes=NODES))
    report = health_report(index, now=T0).service("ns1/web")
    assert [report.count(n.name) for n in NODES] == [1, 1, 0]
