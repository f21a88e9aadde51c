"""ecosystem.md §6: each user scenario the model can express gives the upstream outcome.

Every example in ``examples/user-scenarios/`` is loaded from its files exactly as the README
command passes them, and its check asserts what the upstream issue reports (and, where the
report names one, that the resolution removes the symptom). Scenarios the model cannot
express are listed with the reason in ``examples/user-scenarios/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
from click.testing import CliRunner

from srcip.cli.main import cli
from srcip.manifests import load_cluster
from srcip.model.index import build_index
from srcip.model.loadbalancer import EffectiveLoadBalancer, TargetHealth, probe_targets, split
from srcip.model.objects import Cluster, KubeProxyConfig, Service
from srcip.model.providers import effective_load_balancer
from srcip.model.scenario import (
    HealthCheckProtocol,
    HealthCheckTarget,
    HopSpec,
    IngressHop,
    Interception,
    Scenario,
    SidecarHop,
)
from srcip.model.share import ServiceShare, share
from srcip.model.timeline import scenario_timeline
from srcip.model.trace import Outcome, ServiceTrace, trace
from srcip.model.tracepath import lb_address

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "user-scenarios"
CLIENT = ip_address("203.0.113.7")
DEFAULT_FILES = ("manifests.yaml", "scenario.yaml")


def load(example: str, files: Sequence[str] = DEFAULT_FILES) -> Cluster:
    """Load an example's files in the order the README command passes them."""
    return load_cluster([str(EXAMPLES / example / name) for name in files])


def only_trace(cluster: Cluster, service: str | None = None) -> ServiceTrace:
    """The trace of the Scenario's one Service (or ``service``)."""
    (item,) = trace(cluster, service=service).services
    return item


def of_client(item: ServiceTrace, client: str) -> list[Outcome]:
    """The outcomes of one client, which must exist and sum to 1."""
    found = [o for o in item.outcomes if o.client == client]
    assert found, f"no outcome for client {client}"
    assert sum(o.probability for o in found) == 1
    return found


def with_hops(cluster: Cluster, hops: tuple[HopSpec, ...]) -> Cluster:
    """``cluster`` with its Scenario's hops replaced."""
    assert cluster.scenario is not None
    return replace(cluster, scenario=replace(cluster.scenario, hops=hops))


def one_share(cluster: Cluster) -> ServiceShare:
    """The share report of the Scenario's one Service."""
    (item,) = share(cluster).services
    return item


def pod_shares(item: ServiceShare) -> dict[str, Fraction]:
    """Share per pod name."""
    return {pod.name: pod.share for pod in item.pods}


# --------------------------------------------------------------------------- checks


def _s01() -> None:
    """Outside clients get the PROXY header; the short-circuited pod client is refused."""
    item = only_trace(load("01-lb-bypass-proxy-protocol"))
    for o in of_client(item, "internet"):
        assert o.delivered
        assert o.app_client_ip == CLIENT
        assert o.resolution is not None
        assert o.resolution.source == "proxy-protocol"
    for o in of_client(item, "batch-client"):
        assert not o.delivered
        assert not any(h.name == "load balancer" for h in o.hops)
        assert "expects a PROXY protocol header and got plain HTTP" in (o.refused_at or "")


def _s02() -> None:
    """cert-manager's self-check reaches nginx without PROXY: 'broken header', refused."""
    item = only_trace(load("02-do-proxy-protocol-cert-manager"))
    assert item.load_balancer is not None
    assert item.load_balancer.provider == "digitalocean"
    assert all(o.delivered and o.app_client_ip == CLIENT for o in of_client(item, "internet"))
    for o in of_client(item, "cert-manager-self-check"):
        assert o.refused_at is not None
        assert o.refused_at.startswith("ingress-nginx")
        assert "broken header" in o.refused_at


def _s03_before_ipmode() -> None:
    """HCCM before #783 (no ipMode): the in-cluster client skips the LB and is refused."""
    item = only_trace(load("03-hetzner-proxy-protocol-ipmode"), "default/web-old-ccm")
    assert all(o.delivered and o.app_client_ip == CLIENT for o in of_client(item, "internet"))
    for o in of_client(item, "uptime-probe"):
        assert "expects a PROXY protocol header" in (o.refused_at or "")


def _s03_ipmode_proxy() -> None:
    """ipMode: Proxy: the in-cluster client goes out to the LB and arrives with PROXY."""
    item = only_trace(load("03-hetzner-proxy-protocol-ipmode"), "default/web")
    for o in of_client(item, "uptime-probe"):
        assert o.delivered, o.verdict
        assert any(h.name == "load balancer" for h in o.hops)
        assert o.resolution is not None
        assert o.resolution.source == "proxy-protocol"


def _s04() -> None:
    """use-proxy-protocol on, plain TCP from the CLB: every request is refused."""
    item = only_trace(load("04-proxy-protocol-one-side"))
    assert item.load_balancer is not None
    assert item.load_balancer.provider == "aws-clb"
    assert all(h.healthy for h in item.health)  # the CLB's TCP check does not notice
    for o in of_client(item, "203.0.113.7"):
        assert o.refused_at is not None
        assert "broken header" in o.refused_at


def _s05() -> None:
    """Traffic works through PROXY v2; the NLB's TCP probes open bare traffic-port conns."""
    item = only_trace(load("05-nlb-tcp-health-check-proxy"))
    lb = item.load_balancer
    assert lb is not None
    assert lb.provider == "aws-nlb-instance"
    hc = lb.health_check
    assert (hc.protocol, hc.target) == (HealthCheckProtocol.TCP, HealthCheckTarget.TRAFFIC_PORT)
    assert all(h.healthy and "TCP connect accepted" in h.reason for h in item.health)
    for o in of_client(item, "203.0.113.7"):
        assert o.delivered
        assert o.app_client_ip == CLIENT
        assert any(h.proxy is not None and h.proxy.version == 2 for h in o.hops)


def _s06() -> None:
    """The controller's own auth subrequest to the LB IP lacks the PROXY header: refused."""
    cluster = load("06-auth-url-same-host-proxy")
    scenario = cluster.scenario
    assert scenario is not None
    pods = {p.name: p for p in cluster.pods}
    (sub,) = [c for c in scenario.clients if c.name == "auth-subrequest"]
    assert sub.address in pods["ingress-nginx-controller-0"].ips  # the placed pod's address
    item = only_trace(cluster)
    assert all(o.delivered and o.app_client_ip == CLIENT for o in of_client(item, "browser"))
    for o in of_client(item, "auth-subrequest"):
        assert o.refused_at is not None
        assert "broken header" in o.refused_at


def _s07() -> None:
    """use-forwarded-headers behind an L4 LB: a forged X-Forwarded-For becomes the client."""
    cluster = load("07-forwarded-headers-spoofing")
    item = only_trace(cluster)
    assert all(o.app_client_ip == CLIENT for o in of_client(item, "honest"))
    for o in of_client(item, "forger"):
        assert o.app_client_ip == ip_address("1.2.3.4")
        assert o.verdict.startswith("spoofed")
    scenario = cluster.scenario
    assert scenario is not None
    assert isinstance(scenario.hops[0], IngressHop)
    fixed_hop = replace(scenario.hops[0], config=(("use-forwarded-headers", "false"),))
    fixed = only_trace(with_hops(cluster, (fixed_hop,)))
    for o in of_client(fixed, "forger"):
        assert o.app_client_ip == ip_address("203.0.113.9")
        assert not o.spoofable


def _s07_flagged() -> None:
    """The honest client's paths are flagged spoofable: any client can forge its XFF."""
    item = only_trace(load("07-forwarded-headers-spoofing"))
    assert all(o.spoofable for o in of_client(item, "honest"))


def _s08() -> None:
    """Keys in the leader-lock ConfigMap are not read: XFF holds only the LB address."""
    cluster = load("08-configmap-not-read")
    item = only_trace(cluster)
    for o in of_client(item, "203.0.113.7"):
        assert o.app_client_ip == ip_address("10.0.0.10")
        app = o.hops[-1]
        assert dict(app.headers)["x-original-forwarded-for"] == str(CLIENT)
    scenario = cluster.scenario
    assert scenario is not None
    assert isinstance(scenario.hops[0], IngressHop)
    moved = replace(scenario.hops[0], config_map="ingress-nginx/ingress-controller-leader-nginx")
    fixed = only_trace(with_hops(cluster, (moved,)))
    assert all(o.app_client_ip == CLIENT for o in of_client(fixed, "203.0.113.7"))


def _s09() -> None:
    """Local with 2 + 1 pods: the LB splits per node, so the pods get 25/25/50 %."""
    item = one_share(load("09-uneven-local-split"))
    by_node = {n.name: n.share for n in item.nodes}
    assert by_node == {"node-1": Fraction(1, 2), "node-2": Fraction(1, 2), "node-3": 0}
    assert sorted(pod_shares(item).values()) == [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]
    assert item.fairness.busiest_over_fair == Fraction(3, 2)


def _s10() -> None:
    """MetalLB L2 sends everything to one node; BGP splits 50/50 per node (25/25/50)."""
    l2 = one_share(load("10-metallb-l2-vs-bgp", ("manifests.yaml", "l2.yaml")))
    assert [n.share for n in l2.nodes] == [1, 0, 0]
    assert {s for s in pod_shares(l2).values() if s} == {Fraction(1, 2)}
    bgp = one_share(load("10-metallb-l2-vs-bgp", ("manifests.yaml", "bgp.yaml")))
    assert [n.share for n in bgp.nodes] == [Fraction(1, 2), Fraction(1, 2), 0]
    assert sorted(pod_shares(bgp).values()) == [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]


def _s10_idle_replica() -> None:
    """MetalLB L2 + Local: the replica on the other node is listed with a zero share."""
    l2 = one_share(load("10-metallb-l2-vs-bgp", ("manifests.yaml", "l2.yaml")))
    assert len(l2.pods) == 3
    assert min(pod_shares(l2).values()) == 0
    assert l2.fairness.fair_share == Fraction(1, 3)
    assert l2.fairness.max_over_min is None


def _s12() -> None:
    """iptables + clusterCIDR: pods and hosts on a node without endpoints reach the LB IP."""
    cluster = load("12-local-in-cluster-client")
    item = only_trace(cluster)
    assert not any(h.healthy for h in item.health if h.node == "node-3")
    for name, seen in (("pod-on-node-3", "10.244.3.20"), ("host-network-on-node-3", "10.0.1.4")):
        for o in of_client(item, name):
            assert o.delivered
            assert o.node == "node-3"
            assert o.pod_peer == ip_address(seen)
    # kube-proxy without a cluster CIDR cannot tell pod traffic: the report's symptom.
    blind = only_trace(replace(cluster, proxy_config=KubeProxyConfig()))
    for o in of_client(blind, "pod-on-node-3"):
        assert o.dropped_at is not None
        assert "no local endpoint" in o.dropped_at
    assert all(o.delivered for o in of_client(blind, "host-network-on-node-3"))


def _s15() -> None:
    """kube-proxy Cluster SNATs every external connection, even to a pod on the entry node."""
    cluster = load("15-cluster-snat-kube-proxy")
    item = only_trace(cluster)
    pods = {p.name: p for p in cluster.pods}
    nodes = {n.name: n for n in cluster.nodes}
    for o in of_client(item, "203.0.113.7"):
        assert o.delivered
        assert o.pod_peer != CLIENT
        assert o.node is not None
        assert o.pod is not None
        assert o.pod_peer is not None
        if pods[o.pod].node_name == o.node:  # local pod: the node's pod-network gateway
            cidr = nodes[o.node].pod_cidrs[0]
            assert o.pod_peer == cidr.network_address + 1
        else:  # remote pod: the entry node's address
            assert o.pod_peer in {a.address for a in nodes[o.node].addresses}


def _s18() -> None:
    """NLB ip targets default to preserve_client_ip=false; the attribute restores the client."""
    result = {t.service: t for t in trace(load("18-aws-nlb-ip-targets")).services}
    plain, fixed = result["default/api"], result["default/api-fixed"]
    assert plain.load_balancer is not None
    assert plain.load_balancer.provider == "aws-nlb-ip"
    assert {o.pod_peer for o in of_client(plain, "203.0.113.7")} == {ip_address("10.0.0.10")}
    assert {o.pod_peer for o in of_client(fixed, "203.0.113.7")} == {CLIENT}
    assert not any(h.name.startswith("kube-proxy") for o in plain.outcomes for h in o.hops)


def _azure_lb(
    cluster: Cluster, service: Service
) -> tuple[EffectiveLoadBalancer, tuple[TargetHealth, ...]]:
    """The effective Azure LB and its probes when the app answers 404 on its traffic port."""
    scenario = cluster.scenario or Scenario(name="default")
    lb = effective_load_balancer(
        service,
        scenario.load_balancer,
        nodes=cluster.nodes,
        address=lb_address(scenario),
        proxy_config=cluster.proxy_config,
    )
    return lb, probe_targets(build_index(cluster), service, lb, app_status=404)


def _s20() -> None:
    """appProtocol http + Cluster: Azure probes / on the NodePort, nginx's 404 kills the LB."""
    cluster = load("20-azure-probe-app-protocol")
    (svc,) = [s for s in cluster.services if s.key == "ingress-nginx/ingress-nginx-controller"]
    lb, health = _azure_lb(cluster, svc)
    hc = lb.health_check
    assert (hc.protocol, hc.target, hc.path) == (
        HealthCheckProtocol.HTTP,
        HealthCheckTarget.TRAFFIC_PORT,
        "/",
    )
    assert health
    assert not any(h.healthy for h in health)
    assert split(lb, health).shares == ()
    path = "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path"
    fixed = replace(svc, annotations=(*svc.annotations, (path, "/healthz")))
    lb, _ = _azure_lb(replace(cluster, services=(fixed,)), fixed)
    assert lb.health_check.path == "/healthz"


def _s21() -> None:
    """Local, HC 10 s x 2: 11-21 s of failures; a 25 s preStop sleep removes them."""
    events = "21-local-failover-slow-health-check"
    plain = scenario_timeline(load(events))
    assert plain.failure_window_bounds == (11.0, 21.0)
    assert plain.failure_window > 0
    fixed = scenario_timeline(load(events, ("manifests-prestop.yaml", "scenario.yaml")))
    assert fixed.failure_window_bounds == (0.0, 0.0)
    assert fixed.failure_window_without_fallback > 0  # before KEP-1669 the sleep did not help


def _sidecar_fixed(cluster: Cluster, interception: Interception | None) -> ServiceTrace:
    """The trace with the sidecar's interception changed, or the sidecar removed (None)."""
    scenario = cluster.scenario
    assert scenario is not None
    assert isinstance(scenario.hops[0], SidecarHop)
    hop = scenario.hops[0]
    hops = (replace(hop, interception=interception),) if interception is not None else ()
    return only_trace(with_hops(cluster, hops))


def _s23() -> None:
    """Istio REDIRECT: the pod gets the client, the app sees 127.0.0.6; TPROXY keeps it."""
    cluster = load("23-istio-sidecar-loopback")
    for o in of_client(only_trace(cluster), "203.0.113.7"):
        assert o.pod_peer == CLIENT
        assert o.app_client_ip == ip_address("127.0.0.6")
    tproxy = _sidecar_fixed(cluster, interception=Interception.TPROXY)
    assert all(o.app_client_ip == CLIENT for o in of_client(tproxy, "203.0.113.7"))


def _s24() -> None:
    """Linkerd in the ingress pod: nginx sees 127.0.0.1; skipping the port restores it."""
    cluster = load("24-linkerd-meshed-ingress")
    for o in of_client(only_trace(cluster), "203.0.113.7"):
        assert o.pod_peer == CLIENT
        assert o.app_client_ip == ip_address("127.0.0.1")
    skipped = _sidecar_fixed(cluster, None)  # config.linkerd.io/skip-inbound-ports: no sidecar hop
    assert all(o.app_client_ip == CLIENT for o in of_client(skipped, "203.0.113.7"))


def _s25() -> None:
    """k3s ServiceLB: svclb forwards from the node's own address; no pod sees the client."""
    cluster = load("25-k3s-servicelb")
    item = only_trace(cluster)
    assert item.load_balancer is not None
    assert item.load_balancer.provider == "k3s"
    node_side = ip_network("192.168.1.0/24"), ip_network("10.42.0.0/16")
    for o in of_client(item, "203.0.113.7"):
        assert o.delivered
        assert o.pod_peer is not None
        assert any(o.pod_peer in net for net in node_side)


CASES = [
    pytest.param(_s01, id="s01-kubernetes-66607-lb-bypass-proxy-protocol"),
    pytest.param(_s02, id="s02-ingress-nginx-3996-do-proxy-cert-manager"),
    pytest.param(_s03_before_ipmode, id="s03-hcloud-ccm-727-bypass-before-ipmode"),
    pytest.param(
        _s03_ipmode_proxy,
        id="s03-hcloud-ccm-783-ipmode-proxy-in-cluster-client",
    ),
    pytest.param(_s04, id="s04-ingress-nginx-1067-proxy-protocol-one-side"),
    pytest.param(_s05, id="s05-ingress-nginx-9643-nlb-tcp-health-check"),
    pytest.param(_s06, id="s06-ingress-nginx-10821-auth-url-same-host"),
    pytest.param(_s07, id="s07-ingress-nginx-1309-spoofing"),
    pytest.param(
        _s07_flagged,
        id="s07-ingress-nginx-1309-spoofable-flag",
    ),
    pytest.param(_s08, id="s08-ingress-nginx-5970-configmap-not-read"),
    pytest.param(_s09, id="s09-kubernetes-97147-uneven-local-split"),
    pytest.param(_s10, id="s10-metallb-1249-l2-vs-bgp"),
    pytest.param(
        _s10_idle_replica,
        id="s10-metallb-1249-l2-idle-replica",
    ),
    pytest.param(_s12, id="s12-kubernetes-75262-local-in-cluster-client"),
    pytest.param(_s15, id="s15-cilium-33574-cluster-snat-kube-proxy"),
    pytest.param(_s18, id="s18-aws-lbc-1825-nlb-ip-targets"),
    pytest.param(_s20, id="s20-aks-2903-azure-probe-app-protocol"),
    pytest.param(_s21, id="s21-kubernetes-85643-local-failover-slow-hc"),
    pytest.param(_s23, id="s23-istio-32802-sidecar-loopback"),
    pytest.param(_s24, id="s24-linkerd2-3334-meshed-ingress"),
    pytest.param(_s25, id="s25-klipper-lb-31-k3s-servicelb"),
]


@pytest.mark.parametrize("check", CASES)
def test_user_scenario_gives_the_upstream_outcome(check: Callable[[], None]) -> None:
    """The example reproduces what its upstream issue reports."""
    check()


# --------------------------------------------------------------------------- CLI

COMMANDS = [
    pytest.param("trace", "01-lb-bypass-proxy-protocol", DEFAULT_FILES, id="s01"),
    pytest.param("trace", "02-do-proxy-protocol-cert-manager", DEFAULT_FILES, id="s02"),
    pytest.param("trace", "03-hetzner-proxy-protocol-ipmode", DEFAULT_FILES, id="s03"),
    pytest.param("trace", "04-proxy-protocol-one-side", DEFAULT_FILES, id="s04"),
    pytest.param("trace", "05-nlb-tcp-health-check-proxy", DEFAULT_FILES, id="s05"),
    pytest.param("trace", "06-auth-url-same-host-proxy", DEFAULT_FILES, id="s06"),
    pytest.param("trace", "07-forwarded-headers-spoofing", DEFAULT_FILES, id="s07"),
    pytest.param("trace", "08-configmap-not-read", DEFAULT_FILES, id="s08"),
    pytest.param("share", "09-uneven-local-split", DEFAULT_FILES, id="s09"),
    pytest.param("share", "10-metallb-l2-vs-bgp", ("manifests.yaml", "l2.yaml"), id="s10-l2"),
    pytest.param("share", "10-metallb-l2-vs-bgp", ("manifests.yaml", "bgp.yaml"), id="s10-bgp"),
    pytest.param("trace", "12-local-in-cluster-client", DEFAULT_FILES, id="s12"),
    pytest.param("trace", "15-cluster-snat-kube-proxy", DEFAULT_FILES, id="s15"),
    pytest.param("trace", "18-aws-nlb-ip-targets", DEFAULT_FILES, id="s18"),
    pytest.param("trace", "20-azure-probe-app-protocol", DEFAULT_FILES, id="s20"),
    pytest.param("timeline", "21-local-failover-slow-health-check", DEFAULT_FILES, id="s21"),
    pytest.param(
        "timeline",
        "21-local-failover-slow-health-check",
        ("manifests-prestop.yaml", "scenario.yaml"),
        id="s21-prestop",
    ),
    pytest.param("trace", "23-istio-sidecar-loopback", DEFAULT_FILES, id="s23"),
    pytest.param("trace", "24-linkerd-meshed-ingress", DEFAULT_FILES, id="s24"),
    pytest.param("trace", "25-k3s-servicelb", DEFAULT_FILES, id="s25"),
]


def _argv(command: str, example: str, files: Sequence[str]) -> list[str]:
    argv = [command]
    for name in files:
        argv += ["-f", f"examples/user-scenarios/{example}/{name}"]
    return argv


@pytest.mark.parametrize(("command", "example", "files"), COMMANDS)
def test_readme_command_runs_with_json_output(
    command: str, example: str, files: Sequence[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's command for the example exits 0 and prints JSON."""
    monkeypatch.chdir(ROOT)
    argv = _argv(command, example, files)
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert "srcip " + " ".join(argv) in readme
    result = CliRunner().invoke(cli, [*argv, "-o", "json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.output), dict)


def test_cli_json_shows_the_spoofed_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """srcip trace -o json on s07 reports the forged address as the app's client."""
    monkeypatch.chdir(ROOT)
    argv = _argv("trace", "07-forwarded-headers-spoofing", DEFAULT_FILES)
    result = CliRunner().invoke(cli, [*argv, "-o", "json"], catch_exceptions=False)
    outcomes = json.loads(result.output)["outcomes"]
    forged = [o for o in outcomes if o["client"] == "forger"]
    assert forged
    assert {o["app_client_ip"] for o in forged} == {"1.2.3.4"}
    assert all(o["verdict"].startswith("spoofed") for o in forged)
