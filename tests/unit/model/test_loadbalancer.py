"""Load balancer probes, split and hand-off on the seeds' three-node echo example."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from ipaddress import ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.model.enums import IPFamily
from srcip.model.healthcheck import ProxyHealthState
from srcip.model.index import build_index
from srcip.model.loadbalancer import (
    EffectiveLoadBalancer,
    TargetHealth,
    hand_off,
    probe_targets,
    split,
)
from srcip.model.objects import Service, ServicePort
from srcip.model.providers import effective_load_balancer
from srcip.model.scenario import (
    Announcement,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckSpec,
    HealthCheckTarget,
    LoadBalancerMode,
    LoadBalancerSpec,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)
from srcip.model.view import View
from srcip.proxyproto import build, parse
from tests import factories as f

LB = ip_address("198.51.100.1")
VIP = ip_address("192.0.2.10")
CLIENT = ip_address("203.0.113.7")
NODES = tuple(
    f.node(f"node-{i}", f"10.0.1.{i + 1}", pod_cidr=f"10.244.{i}.0/24", zone=f"z{i}")
    for i in (1, 2, 3)
)


def echo(etp: str = "Local", *, node_port: int = 30080) -> Service:
    """The seeds' echo Service: port 80 → 8080, LoadBalancer."""
    return f.service(
        "echo", type="LoadBalancer", cluster_ip="10.96.0.10",
        ports=(f.port(80, node_port=node_port, target_port=8080),), etp=etp,
        lb_ips=("192.0.2.10",), hc_node_port=32000 if etp == "Local" else 0,
    )  # fmt: skip


def index_for(
    service: Service,
    pods: tuple[tuple[str, str], ...] = (("10.244.1.5", "node-1"), ("10.244.2.5", "node-2")),
):
    eps = tuple(f.endpoint(ip, node=n) for ip, n in pods)
    sl = f.endpoint_slice("echo", eps, ports=(("", 8080, "TCP"),))
    return build_index(
        f.cluster(services=(service,), slices=(sl,), nodes=NODES, config=f.proxy_config())
    )


def lb_for(service: Service, provider: str | None = None, **spec: object) -> EffectiveLoadBalancer:
    return effective_load_balancer(service, LoadBalancerSpec(provider=provider, **spec), address=LB)  # type: ignore[arg-type]


def health(result: tuple[TargetHealth, ...]) -> dict[str, tuple[bool, int | None, int | None]]:
    return {t.target: (t.healthy, t.status, t.weight) for t in result}


# --------------------------------------------------------------------------- probes


def test_local_probe_answers_from_health_check_node_port() -> None:
    """Local: node-1 and node-2 answer 200 with weight 1, node-3 503 with weight 0."""
    service = echo("Local")
    got = health(probe_targets(index_for(service), service, lb_for(service, "gke")))
    assert got == {"node-1": (True, 200, 1), "node-2": (True, 200, 1), "node-3": (False, 503, 0)}


def test_cluster_probe_answers_from_kube_proxy_healthz() -> None:
    """Cluster on GKE: every node's :10256/healthz answers 200; a deleting node 503."""
    service = echo("Cluster")
    nodes = (*NODES[:2], replace(NODES[2], deleting=True))
    sl = f.endpoint_slice(
        "echo", (f.endpoint("10.244.1.5", node="node-1"),), ports=(("", 8080, "TCP"),)
    )
    index = build_index(f.cluster(services=(service,), slices=(sl,), nodes=nodes))
    got = health(probe_targets(index, service, lb_for(service, "gke")))
    assert got == {
        "node-1": (True, 200, None),
        "node-2": (True, 200, None),
        "node-3": (False, 503, None),
    }


def test_stale_proxy_fails_every_probe() -> None:
    """An update pending past 2 × syncPeriod makes every answer 503 (KP §14.2)."""
    service = echo("Local")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    state = ProxyHealthState.synced((IPFamily.IPV4,), start).queued(IPFamily.IPV4, start)
    now = (start + timedelta(seconds=120)).timestamp()
    got = probe_targets(
        index_for(service), service, lb_for(service, "gke"), now=now, proxy_state=state
    )
    assert not any(t.healthy for t in got)
    assert got[0].status == 503


@pytest.mark.parametrize(
    ("etp", "expected"),
    [
        pytest.param("Local", {"node-1": True, "node-2": True, "node-3": False}, id="local-drop"),
        pytest.param(
            "Cluster", {"node-1": True, "node-2": True, "node-3": True}, id="cluster-dnat"
        ),
    ],
)
def test_tcp_traffic_port_probe_follows_kube_proxy(etp: str, expected: dict[str, bool]) -> None:
    """Hetzner's TCP check of the NodePort passes where kube-proxy DNATs."""
    service = echo(etp)
    got = probe_targets(index_for(service), service, lb_for(service, "hetzner"))
    assert {t.target: t.healthy for t in got} == expected
    assert all(t.status is None for t in got)


def test_refused_when_no_endpoints_at_all() -> None:
    """Cluster with no endpoints: kube-proxy rejects the probe."""
    service = echo("Cluster")
    got = probe_targets(index_for(service, ()), service, lb_for(service, "hetzner"))
    assert not any(t.healthy for t in got)
    assert got[0].reason.startswith("refused")


@pytest.mark.parametrize(
    ("app_status", "healthy"),
    [pytest.param(200, True, id="app-200"), pytest.param(404, False, id="ingress-404-issue-20")],
)
def test_azure_http_probe_on_slash_is_answered_by_the_app(app_status: int, healthy: bool) -> None:
    """Azure Cluster + appProtocol http probes / on the NodePort; the app's status decides."""
    service = echo("Cluster")
    service = replace(service, ports=(replace(service.ports[0], app_protocol="http"),))
    got = probe_targets(
        index_for(service), service, lb_for(service, "azure"), app_status=app_status
    )
    assert {t.healthy for t in got} == {healthy}
    assert got[0].status == app_status


def test_proxy_header_breaks_kube_proxy_health_check() -> None:
    """LBC PROXY v2 + Local: kube-proxy answers the probe 400, every node unhealthy."""
    service = replace(
        echo("Local"),
        annotations=(("service.beta.kubernetes.io/aws-load-balancer-proxy-protocol", "*"),),
    )
    got = probe_targets(index_for(service), service, lb_for(service, "aws-nlb-instance"))
    assert {(t.healthy, t.status) for t in got} == {(False, 400)}
    assert "PROXY" in got[0].reason


@pytest.mark.parametrize(
    ("hc", "etp", "healthy", "status"),
    [
        pytest.param(HealthCheckSpec(protocol=HealthCheckProtocol.TCP), "Local", True, None, id="tcp-to-hcnp"),
        pytest.param(HealthCheckSpec(protocol=HealthCheckProtocol.HTTPS), "Local", False, None, id="https-to-hcnp"),
        pytest.param(HealthCheckSpec(target=HealthCheckTarget.HEALTH_CHECK_NODE_PORT), "Cluster", False, None, id="no-listener"),
        pytest.param(HealthCheckSpec(port=32000, protocol=HealthCheckProtocol.HTTP), "Local", True, 200, id="port-is-hcnp"),
        pytest.param(HealthCheckSpec(port=10256, protocol=HealthCheckProtocol.HTTP), "Cluster", True, 200, id="port-is-healthz"),
        pytest.param(HealthCheckSpec(port=31999), "Cluster", False, None, id="port-nothing-listens"),
    ],
)  # fmt: skip
def test_probe_variants_on_node_one(
    hc: HealthCheckSpec, etp: str, healthy: bool, status: int | None
) -> None:
    """Protocol and port variants of the probe, as node-1 answers them."""
    service = echo(etp)
    got = probe_targets(index_for(service), service, lb_for(service, None, health_check=hc))[0]
    assert (got.healthy, got.status) == (healthy, status), got.reason


def test_probe_without_node_port_goes_to_the_vip_and_without_ports_fails() -> None:
    """No NodePort: the traffic probe goes to VIP:port; no ports at all: nothing to probe."""
    service = echo("Cluster", node_port=0)
    got = probe_targets(index_for(service), service, lb_for(service))
    assert all(t.healthy for t in got)
    no_vip = replace(service, load_balancer_ingress=())
    assert not probe_targets(index_for(no_vip), no_vip, lb_for(no_vip))[0].healthy


def test_node_without_address_of_the_lb_family() -> None:
    """An IPv6 LB address finds no IPv6 InternalIP on the nodes."""
    service = echo("Local")
    lb = replace(lb_for(service), address=ip_address("2001:db8::1"))
    got = probe_targets(index_for(service), service, lb)
    assert not any(t.healthy for t in got)
    assert got[0].address is None


def test_disabled_health_check_keeps_every_target() -> None:
    """k3s ServiceLB has no probe: every node is used."""
    service = echo("Cluster")
    assert all(
        t.healthy for t in probe_targets(index_for(service), service, lb_for(service, "k3s"))
    )


def test_pod_targets_probe_ready_pods() -> None:
    """AWS ip targets: one target per ready pod; HTTP gets the app status; no probe: healthy."""
    service = echo("Cluster")
    index = index_for(service)
    lb = lb_for(service, "aws-nlb-ip")
    assert [(t.target, t.node, t.healthy) for t in probe_targets(index, service, lb)] == [
        ("10.244.1.5:8080", "node-1", True), ("10.244.2.5:8080", "node-2", True),
    ]  # fmt: skip
    http = lb_for(
        service, "aws-nlb-ip", health_check=HealthCheckSpec(protocol=HealthCheckProtocol.HTTP)
    )
    assert probe_targets(index, service, http, app_status=503)[0].healthy is False
    hcnp = lb_for(service, "aws-nlb-ip", health_check=HealthCheckSpec(port=12345))
    assert not probe_targets(index, service, hcnp)[0].healthy
    off = replace(lb, health_check=replace(lb.health_check, enabled=False))
    assert all(t.healthy for t in probe_targets(index, service, off))
    assert probe_targets(index, replace(service, ports=()), lb) == ()


# --------------------------------------------------------------------------- split


def th(name: str, healthy: bool = True, weight: int | None = None) -> TargetHealth:
    return TargetHealth(
        target=name, node=name, address=None, healthy=healthy, status=None, weight=weight, reason=""
    )


def test_split_on_the_echo_example() -> None:
    """Local, unweighted: the two pod nodes get half each."""
    service = echo("Local")
    lb = lb_for(service, "gke")
    got = split(lb, probe_targets(index_for(service), service, lb))
    assert got.shares == (("node-1", Fraction(1, 2)), ("node-2", Fraction(1, 2)))
    assert got.share("node-3") == 0


def test_split_no_targets_and_fail_open_and_closed() -> None:
    """No targets: empty; nothing healthy: all targets (GCP/AWS), or nothing (Azure)."""
    lb = lb_for(echo(), "gke")
    assert split(lb, ()).shares == ()
    opened = split(lb, (th("a", False), th("b", False)))
    assert opened.shares == (("a", Fraction(1, 2)), ("b", Fraction(1, 2)))
    assert "fails open" in opened.reasons[0]
    closed = split(lb_for(echo(), "azure"), (th("a", False),))
    assert closed.shares == ()
    assert "Azure" in closed.reasons[0]


def test_weighting_falls_back_when_a_target_reports_no_weight() -> None:
    """GCE weights only while every backend reports; weight 0 everywhere → equal."""
    lb = lb_for(echo(), "gke", weighting=Weighting.ENDPOINTS)
    fallback = split(lb, (th("a", weight=5), th("b", weight=None)))
    assert fallback.share("a") == Fraction(1, 2)
    assert "GCE" in fallback.reasons[-1]
    zero = split(lb, (th("a", weight=0), th("b", weight=0)))
    assert zero.share("a") == Fraction(1, 2)


def test_l2_and_cross_zone() -> None:
    """L2: first healthy node gets all; cross-zone off: per zone first."""
    l2 = lb_for(echo(), "metallb-l2")
    assert split(l2, (th("a", False), th("b"), th("c"))).shares == (("b", Fraction(1)),)
    nlb = lb_for(echo(), "aws-nlb-instance")
    got = split(nlb, (th("a"), th("b"), th("c")), zones={"a": "z1", "b": "z1", "c": "z2"})
    assert got.shares == (("a", Fraction(1, 4)), ("b", Fraction(1, 4)), ("c", Fraction(1, 2)))


weights = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=8)


@given(weights, st.booleans(), st.booleans(), st.sampled_from([Announcement.ALL, Announcement.L2]))
def test_shares_sum_to_one(
    counts: list[int], weighted: bool, cross: bool, ann: Announcement
) -> None:
    """Whatever the health, weights, zones and announcement: shares sum to exactly 1."""
    lb = replace(
        lb_for(echo(), "gke"), weighting=Weighting.ENDPOINTS if weighted else Weighting.EQUAL,
        cross_zone=cross, announcement=ann,
    )  # fmt: skip
    targets = [th(f"n{i}", healthy=c > 0, weight=c) for i, c in enumerate(counts)]
    zones = {f"n{i}": f"z{i % 3}" for i in range(len(counts))}
    assert sum(s for _, s in split(lb, targets, zones=zones).shares) == 1


@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=8))
def test_weighted_local_gives_every_pod_one_over_p(pods: list[int]) -> None:
    """Weight = local endpoint count: every pod's share (node share / p_i) is 1/P."""
    lb = lb_for(echo(), "gke", weighting=Weighting.ENDPOINTS)
    result = split(lb, [th(f"n{i}", weight=p) for i, p in enumerate(pods)])
    total = sum(pods)
    assert all(share / pods[int(name[1:])] == Fraction(1, total) for name, share in result.shares)


@given(st.lists(st.booleans(), min_size=1, max_size=8))
def test_l2_sends_everything_to_one_node(up: list[bool]) -> None:
    """MetalLB L2: at most one node receives traffic (exactly one when any is healthy)."""
    result = split(lb_for(echo(), "metallb-l2"), [th(f"n{i}", u) for i, u in enumerate(up)])
    assert len(result.shares) == (1 if any(up) else 0)


# --------------------------------------------------------------------------- hand-off

PORT80 = ServicePort(port=80, node_port=30080, target_port=8080)
INCOMING = View(peer=CLIENT, local=VIP, local_port=80, headers=(("x-forwarded-for", "1.2.3.4"),))
NODE_IP = ip_address("10.0.1.2")


def go(lb: EffectiveLoadBalancer, target: str = "10.0.1.2", port: int = 30080):
    return hand_off(
        lb, echo(), PORT80, INCOMING, vip=VIP, target_address=ip_address(target), target_port=port
    )


def test_passthrough_to_vip_keeps_client_and_vip() -> None:
    """GKE: source = client, destination = VIP:80."""
    got = go(lb_for(echo(), "gke"))
    assert (got.packet_src, got.dst, got.dst_port, got.view.proxy) == (CLIENT, VIP, 80, None)


def test_snat_and_k3s_sources() -> None:
    """snat: the LB's address; k3s: the target node's own address."""
    snat = go(lb_for(echo(), None, mode=LoadBalancerMode.SNAT, targets=TargetType.NODE_PORT))
    assert (snat.packet_src, snat.dst, snat.dst_port) == (LB, NODE_IP, 30080)
    assert go(lb_for(echo(), "k3s")).packet_src == NODE_IP


@pytest.mark.parametrize("version", [ProxyProtocolVersion.V1, ProxyProtocolVersion.V2])
def test_proxy_mode_header_round_trips(version: ProxyProtocolVersion) -> None:
    """proxy: new connection from the LB with a PROXY header naming client and VIP."""
    got = go(lb_for(echo(), "hetzner", proxy_protocol=version))
    header = got.view.proxy
    assert header is not None
    assert got.packet_src == LB
    assert got.view.peer == LB
    assert (header.src, header.src_port, header.dst, header.dst_port) == (CLIENT, 40000, VIP, 80)
    assert parse(build(header)) == header


def test_proxy_header_ipv6() -> None:
    """IPv6 clients get TCP6 / INET6 headers that round-trip."""
    incoming = View(peer=ip_address("2001:db8::7"), local=ip_address("2001:db8::10"), local_port=80)
    for version in (ProxyProtocolVersion.V1, ProxyProtocolVersion.V2):
        lb = lb_for(echo(), "hetzner", proxy_protocol=version)
        got = hand_off(lb, echo(), PORT80, incoming, vip=ip_address("2001:db8::10"),
                       target_address=ip_address("2001:db8::2"), target_port=30080)  # fmt: skip
        assert got.view.proxy is not None
        assert parse(build(got.view.proxy)) == got.view.proxy


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [(ForwardedFor.APPEND, "1.2.3.4, 203.0.113.7"), (ForwardedFor.REPLACE, "203.0.113.7")],
)
def test_http_mode_forwarded_headers(forwarded: ForwardedFor, expected: str) -> None:
    """http: X-Forwarded-For appended or replaced, X-Forwarded-Proto http."""
    got = go(lb_for(echo(), "aws-clb", mode=LoadBalancerMode.HTTP, forwarded_for=forwarded))
    assert got.view.header_values("x-forwarded-for") == (expected,)
    assert got.view.header_values("x-forwarded-proto") == ("http",)
    assert got.view.peer == LB
    fresh = hand_off(lb_for(echo(), "aws-clb", mode=LoadBalancerMode.HTTP), echo(), PORT80,
                     replace(INCOMING, headers=()), vip=VIP, target_address=NODE_IP, target_port=30080)  # fmt: skip
    assert fresh.view.header_values("x-forwarded-for") == ("203.0.113.7",)


def test_pod_targets_source_depends_on_preserve_client_ip() -> None:
    """ip targets: pod IP:targetPort; source the NLB address unless preserve_client_ip."""
    lb = lb_for(echo(), "aws-nlb-ip")
    off = go(lb, "10.244.1.5", 8080)
    assert (off.packet_src, off.dst, off.dst_port) == (LB, ip_address("10.244.1.5"), 8080)
    on = go(
        replace(lb, preserve_client_ip=True, mode=LoadBalancerMode.PASSTHROUGH), "10.244.1.5", 8080
    )
    assert on.packet_src == CLIENT


def test_effective_load_balancer_as_json() -> None:
    """to_json: every setting as plain data, the health check and each setting's source."""
    import json

    data = lb_for(echo(), "aws-nlb")
    as_json = data.to_json()
    json.dumps(as_json)
    assert as_json["provider"] == "aws-nlb"
    health_check = as_json["health_check"]
    assert isinstance(health_check, dict)
    assert health_check["enabled"] is True
    settings = as_json["settings"]
    assert isinstance(settings, list)
    assert {
        "name": "provider",
        "value": "aws-nlb",
        "source": "spec.loadBalancer.provider",
    } in settings
