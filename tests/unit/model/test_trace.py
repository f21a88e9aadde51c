"""The whole-path trace: LB modes, hops, in-cluster clients, policies, forged headers, errors.

Clusters are written as the YAML a user would give (Services, Deployments pinned by the
Scenario's ``placement``, NetworkPolicies, the Scenario) and converted with
:func:`srcip.manifests.convert_documents`, so nodes are ``node-1``… at ``10.0.1.2``…, pods
``web-0``… at ``10.244.<n>.5``…, the LB VIP ``198.51.100.10`` and the LB's own address
``10.0.0.10``. A few edge cases the loader cannot produce use ``tests.factories``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.errors import UsageError
from srcip.model.enums import Verdict
from srcip.model.forwarding import HopResult
from srcip.model.index import build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.netpol import IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyRule
from srcip.model.objects import Cluster, IPAddress, LoadBalancerIngress
from srcip.model.packet import Packet
from srcip.model.scenario import (
    DEFAULT_CLIENT,
    HealthCheckSpec,
    HealthCheckTarget,
    IngressHop,
    IngressKind,
    LoadBalancerSpec,
    Scenario,
    SidecarHop,
    TargetType,
)
from srcip.model.share import share
from srcip.model.trace import FORGED, ServiceTrace, trace
from srcip.model.tracepath import Outcome
from srcip.model.view import View
from tests import factories as f
from tests.unit.manifests.builders import convert, proxy_configuration

CLIENT = ip_address("203.0.113.7")
VIP = ip_address("198.51.100.10")
LB_ADDRESS = ip_address("10.0.0.10")
CDN_ADDRESS = ip_address("192.0.2.10")
NODE_IPS = {f"node-{n}": ip_address(f"10.0.1.{n + 1}") for n in range(1, 6)}
INGRESS_SERVICE = "ingress-nginx/ingress-nginx-controller"
NGINX = {"kind": "ingress-nginx", "name": "nginx", "service": INGRESS_SERVICE}


# --------------------------------------------------------------------------- builders


def svc(
    name: str = "web",
    *,
    policy: str = "Cluster",
    type: str = "LoadBalancer",
    namespace: str | None = None,
    app: str | None = None,
    target_port: int = 8080,
) -> dict[str, Any]:
    """A Service selecting ``app: <app or name>``, port 80 → ``target_port``."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    spec: dict[str, Any] = {
        "type": type,
        "selector": {"app": app or name},
        "ports": [{"port": 80, "targetPort": target_port}],
    }
    if type != "ClusterIP":
        spec["externalTrafficPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def deployment(
    name: str = "web",
    replicas: int = 1,
    *,
    namespace: str | None = None,
    app: str | None = None,
    port: int = 8080,
) -> dict[str, Any]:
    """A Deployment whose pods carry ``app: <app or name>`` and listen on ``port``."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    labels = {"app": app or name}
    container = {"name": "app", "image": "app", "ports": [{"containerPort": port}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def scenario(**spec: Any) -> dict[str, Any]:
    """A Scenario document named ``test``."""
    return {
        "apiVersion": "srcip.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "test"},
        "spec": spec,
    }


def allow_from(cidr: str, app: str = "web") -> dict[str, Any]:
    """A NetworkPolicy admitting only ``cidr`` to pods labelled ``app``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"allow-{app}"},
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}]}],
        },
    }


def web(
    policy: str = "Cluster",
    pins: dict[str, int] | None = None,
    *,
    nodes: int = 3,
    extra: tuple[dict[str, Any], ...] = (),
    **spec: Any,
) -> Cluster:
    """The ``web`` Service and Deployment with pods pinned per node, plus a Scenario."""
    pins = {"node-1": 1, "node-2": 1} if pins is None else pins
    replicas = sum(pins.values())
    if replicas:
        spec["placement"] = {name: count for name, count in pins.items() if count}
    return convert(
        svc(policy=policy, type=spec.pop("type", "LoadBalancer")),
        deployment(replicas=replicas),
        *extra,
        scenario(nodes=nodes, **spec),
    )


def with_ingress(*, backend_replicas: int = 1, **spec: Any) -> Cluster:
    """ingress-nginx (Local LB Service, one controller pod) in front of ClusterIP ``backend``."""
    spec.setdefault("service", "backend")
    spec.setdefault("hops", [NGINX])
    return convert(
        svc("ingress-nginx-controller", policy="Local", namespace="ingress-nginx",
            app="ingress-nginx", target_port=80),
        deployment("ingress-nginx-controller", namespace="ingress-nginx", app="ingress-nginx",
                   port=80),
        svc("backend", type="ClusterIP"),
        deployment("backend", backend_replicas),
        *spec.pop("extra", ()),
        scenario(nodes=spec.pop("nodes", 1), **spec),
    )  # fmt: skip


def only(cluster: Cluster, **kwargs: Any) -> ServiceTrace:
    """The single traced Service."""
    (item,) = trace(cluster, **kwargs).services
    return item


def hop(outcome: Outcome, name: str) -> Any:
    """The hop record called ``name``."""
    return next(h for h in outcome.hops if h.name == name)


def total(outcomes: tuple[Outcome, ...] | list[Outcome]) -> Fraction:
    """Summed probability."""
    return sum((o.probability for o in outcomes), Fraction(0))


# --------------------------------------------------------------------------- policies


def test_local_preserves_the_client_on_nodes_with_pods() -> None:
    """Local: the LB's health check keeps node-3 out; both pods see the client, half each."""
    item = only(web("Local"))
    assert [(h.target, h.healthy) for h in item.health] == [
        ("node-1", True),
        ("node-2", True),
        ("node-3", False),
    ]
    assert [(o.node, o.pod, o.probability) for o in item.outcomes] == [
        ("node-1", "web-0", Fraction(1, 2)),
        ("node-2", "web-1", Fraction(1, 2)),
    ]
    for outcome in item.outcomes:
        assert outcome.delivered
        assert outcome.pod_peer == outcome.app_client_ip == CLIENT
        assert outcome.verdict == "client IP preserved"
        assert [h.name for h in outcome.hops] == [
            "load balancer",
            f"kube-proxy on {outcome.node}",
            f"pod {outcome.pod}",
            "app",
        ]
    assert item.policy == "Local"
    assert item.service == item.backend == "default/web"


def test_cluster_loses_the_client_at_kube_proxy() -> None:
    """Cluster: every node gets 1/3, each pod 1/2 of that, and the pod sees an SNAT address."""
    item = only(web("Cluster"))
    assert len(item.outcomes) == 6
    assert {o.probability for o in item.outcomes} == {Fraction(1, 6)}
    for outcome in item.outcomes:
        assert outcome.delivered
        assert outcome.pod_peer != CLIENT
        assert outcome.app_client_ip == outcome.pod_peer
        assert outcome.verdict == (
            f"lost at kube-proxy on {outcome.node}: SNAT "
            f"(pod {outcome.pod} sees {outcome.pod_peer})"
        )
    remote = [o for o in item.outcomes if o.node == "node-3"]
    assert {o.pod_peer for o in remote} == {NODE_IPS["node-3"]}


# --------------------------------------------------------------------------- LB modes


@pytest.mark.parametrize(
    ("lb", "app", "peer", "verdict"),
    [
        pytest.param({"mode": "passthrough"}, {}, CLIENT, "client IP preserved", id="passthrough"),
        pytest.param(
            {"mode": "snat"},
            {},
            LB_ADDRESS,
            "lost at load balancer: snat mode rewrites the source "
            "(kube-proxy on node-1 sees 10.0.0.10)",
            id="snat",
        ),
        pytest.param(
            {"mode": "snat", "address": "10.0.0.99"},
            {},
            ip_address("10.0.0.99"),
            "lost at load balancer: snat mode rewrites the source "
            "(kube-proxy on node-1 sees 10.0.0.99)",
            id="snat-own-address",
        ),
        pytest.param(
            {"mode": "proxy"},
            {},
            LB_ADDRESS,
            "lost at load balancer: proxy mode opens a new connection without PROXY protocol "
            "or a header (kube-proxy on node-1 sees 10.0.0.10)",
            id="proxy",
        ),
        pytest.param(
            {"mode": "proxy", "proxyProtocol": "v2"},
            {"proxyProtocol": "v2"},
            LB_ADDRESS,
            "client IP preserved (via proxy-protocol)",
            id="proxy-v2-app-v2",
        ),
        pytest.param(
            {"mode": "proxy", "proxyProtocol": "v1"},
            {"proxyProtocol": "v1"},
            LB_ADDRESS,
            "client IP preserved (via proxy-protocol)",
            id="proxy-v1-app-v1",
        ),
    ],
)
def test_load_balancer_modes_deliver(
    lb: dict[str, Any], app: dict[str, Any], peer: IPAddress, verdict: str
) -> None:
    """Each LB mode hands the node a peer; the app resolves the client or what it got."""
    (outcome,) = only(web("Local", {"node-1": 1}, loadBalancer=lb, app=app)).outcomes
    assert outcome.delivered
    assert outcome.probability == 1
    assert outcome.pod_peer == peer
    assert outcome.verdict == verdict
    assert hop(outcome, "load balancer").kind == f"lb/{lb['mode']}"
    kube_proxy = hop(outcome, "kube-proxy on node-1")
    assert kube_proxy.peer == peer
    assert kube_proxy.local == VIP
    if "proxyProtocol" in lb:
        assert kube_proxy.proxy is not None
        assert kube_proxy.proxy.src == CLIENT
        assert kube_proxy.proxy.version == int(lb["proxyProtocol"][1])
        assert outcome.app_client_ip == CLIENT


@pytest.mark.parametrize(
    ("lb", "app", "refusal"),
    [
        pytest.param(
            {"mode": "proxy", "proxyProtocol": "v2"}, {}, "does not expect one", id="v2-at-plain"
        ),
        pytest.param(
            {"mode": "proxy", "proxyProtocol": "v1"},
            {"proxyProtocol": "v2"},
            "got v1",
            id="v1-at-v2",
        ),
        pytest.param({"mode": "proxy"}, {"proxyProtocol": "v2"}, "got plain HTTP", id="none-at-v2"),
    ],
)
def test_proxy_protocol_mismatch_is_refused_by_the_app(
    lb: dict[str, Any], app: dict[str, Any], refusal: str
) -> None:
    """A PROXY header on one side only breaks the request in the app: refused, not delivered."""
    (outcome,) = only(web("Local", {"node-1": 1}, loadBalancer=lb, app=app)).outcomes
    assert not outcome.delivered
    assert outcome.dropped_at is None
    assert outcome.refused_at is not None
    assert outcome.refused_at.startswith("app in pod web-0: ")
    assert refusal in outcome.refused_at
    assert outcome.verdict == f"refused at {outcome.refused_at}"
    assert outcome.app_client_ip is None
    assert outcome.pod_peer == LB_ADDRESS
    assert outcome.hops[-1].name == "app"


def test_http_mode_appends_x_forwarded_for() -> None:
    """http: the client's own X-Forwarded-For gets the client appended, plus X-Forwarded-Proto."""
    client = {"name": "c", "address": str(CLIENT), "headers": {"X-Forwarded-For": "1.2.3.4"}}
    item = only(web("Local", {"node-1": 1}, loadBalancer={"mode": "http"}, clients=[client]))
    (outcome,) = item.outcomes
    assert hop(outcome, "load balancer").headers == (("x-forwarded-for", "1.2.3.4"),)
    assert hop(outcome, "kube-proxy on node-1").headers == (
        ("x-forwarded-for", f"1.2.3.4, {CLIENT}"),
        ("x-forwarded-proto", "http"),
    )


def test_http_mode_replace_writes_the_peer_alone() -> None:
    """http with forwardedFor: replace drops the client's header and writes the peer."""
    client = {"address": str(CLIENT), "headers": {"X-Forwarded-For": "1.2.3.4"}}
    lb = {"mode": "http", "forwardedFor": "replace"}
    (outcome,) = only(web("Local", {"node-1": 1}, loadBalancer=lb, clients=[client])).outcomes
    assert ("x-forwarded-for", str(CLIENT)) in hop(outcome, "app").headers


@pytest.mark.parametrize(
    ("trusted", "resolved", "verdict"),
    [
        pytest.param(
            ["10.0.0.10/32"], CLIENT, "client IP preserved (via x-forwarded-for)", id="trusts-lb"
        ),
        pytest.param(
            [],
            LB_ADDRESS,
            "client IP reaches the app in x-forwarded-for but the app resolves 10.0.0.10 "
            "(direct, source peer)",
            id="trusts-nobody",
        ),
    ],
)
def test_http_mode_resolution_depends_on_the_apps_trust(
    trusted: list[str], resolved: IPAddress, verdict: str
) -> None:
    """The app trusting the LB reads the client from X-Forwarded-For; trusting nobody, the LB."""
    cluster = web("Local", {"node-1": 1}, loadBalancer={"mode": "http"},
                  app={"trustedProxies": trusted})  # fmt: skip
    (outcome,) = only(cluster).outcomes
    assert outcome.pod_peer == LB_ADDRESS
    assert outcome.app_client_ip == resolved
    assert outcome.verdict == verdict
    assert not outcome.spoofable


# --------------------------------------------------------------------------- targets


@pytest.mark.parametrize(
    ("preserve", "peer"),
    [pytest.param(True, CLIENT, id="preserve"), pytest.param(False, LB_ADDRESS, id="no-preserve")],
)
def test_pod_targets_bypass_kube_proxy(preserve: bool, peer: IPAddress) -> None:
    """AWS ip targets: the LB sends to each pod IP; no kube-proxy hop, each pod 1/P."""
    lb = {"targets": "pod", "preserveClientIP": preserve, "healthCheck": {"target": "trafficPort"}}
    item = only(web("Cluster", {"node-1": 2, "node-2": 1}, loadBalancer=lb))
    assert [(o.pod, o.node, o.probability) for o in item.outcomes] == [
        ("web-0", "node-1", Fraction(1, 3)),
        ("web-1", "node-1", Fraction(1, 3)),
        ("web-2", "node-2", Fraction(1, 3)),
    ]
    for outcome in item.outcomes:
        assert [h.name for h in outcome.hops] == ["load balancer", f"pod {outcome.pod}", "app"]
        assert outcome.pod_peer == peer
        assert outcome.hops[1].local == ip_address(
            {"web-0": "10.244.1.5", "web-1": "10.244.1.6", "web-2": "10.244.2.5"}[outcome.pod or ""]
        )


def test_pod_targets_from_endpoint_slices_alone_reach_the_endpoint() -> None:
    """EndpointSlices without Pod objects: the LB still sends to each endpoint's address."""
    service = f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", lb_ips=(str(VIP),),
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "10.0.1.2"),))
    cluster = replace(
        cluster, scenario=Scenario(name="s", load_balancer=LoadBalancerSpec(targets=TargetType.POD))
    )
    (outcome,) = only(cluster).outcomes
    assert outcome.hops[1].local == ip_address("10.244.1.5")
    assert outcome.node == "n1"


@pytest.mark.parametrize(
    ("targets", "local", "port"),
    [
        pytest.param("vip", VIP, 80, id="vip"),
        pytest.param("nodePort", NODE_IPS["node-1"], None, id="node-port"),
    ],
)
def test_node_targets_set_the_destination(targets: str, local: IPAddress, port: int | None) -> None:
    """VIP targets keep the LB IP as destination; nodePort targets get nodeIP:nodePort."""
    cluster = web("Local", {"node-1": 1}, loadBalancer={"targets": targets})
    (outcome,) = only(cluster).outcomes
    assert outcome.delivered
    assert hop(outcome, "kube-proxy on node-1").local == local
    assert outcome.verdict == "client IP preserved"


def test_node_port_service_spreads_over_every_node() -> None:
    """A NodePort Service without an LB: the client reaches each node alike, at its own IP."""
    item = only(web("Cluster", {"node-1": 1}, type="NodePort"))
    assert item.load_balancer is None
    assert item.split is None
    assert item.health == ()
    assert item.notes == ()
    by_node: dict[str | None, Fraction] = defaultdict(Fraction)
    for outcome in item.outcomes:
        by_node[outcome.node] += outcome.probability
        assert outcome.hops[0].name == f"kube-proxy on {outcome.node}"
        assert outcome.hops[0].local == NODE_IPS[outcome.node or ""]
    assert by_node == {name: Fraction(1, 3) for name in ("node-1", "node-2", "node-3")}


def test_local_node_port_drops_on_nodes_without_pods() -> None:
    """NodePort + Local: the nodes without an endpoint drop what they receive."""
    item = only(web("Local", {"node-1": 1}, type="NodePort"))
    delivered = [o for o in item.outcomes if o.delivered]
    dropped = [o for o in item.outcomes if o.dropped_at]
    assert [(o.node, o.probability, o.verdict) for o in delivered] == [
        ("node-1", Fraction(1, 3), "client IP preserved")
    ]
    assert {o.node for o in dropped} == {"node-2", "node-3"}
    assert total(dropped) == Fraction(2, 3)
    for outcome in dropped:
        assert outcome.dropped_at is not None
        assert outcome.dropped_at.startswith(f"kube-proxy on {outcome.node} (KP §")
        assert outcome.verdict == f"dropped at {outcome.dropped_at}"
        assert outcome.pod is None


def test_client_of_another_family_reaches_no_node_port() -> None:
    """An IPv6 client and IPv4-only nodes: every connection is dropped, as share() says."""
    item = only(web("Cluster", {"node-1": 1}, type="NodePort", clients=["2001:db8::7"]))
    assert not any(o.delivered for o in item.outcomes)
    assert total([o for o in item.outcomes if o.dropped_at]) == 1


@pytest.mark.parametrize(
    ("service", "nodes"),
    [
        pytest.param(
            f.service("web", type="NodePort", cluster_ip="10.96.0.10",
                      ports=(f.port(80, node_port=30080),)),
            (),
            id="no-nodes",
        ),
        pytest.param(
            f.service("web", type="NodePort", cluster_ip="10.96.0.10", ports=(f.port(80),)),
            (f.node("n1", "10.0.1.2"),),
            id="no-node-port",
        ),
    ],
)  # fmt: skip
def test_service_without_a_way_in_is_dropped(service: Any, nodes: tuple[Any, ...]) -> None:
    """No node, or no nodePort: the client cannot reach the Service at all."""
    cluster = f.cluster(services=(service,), nodes=nodes)
    (outcome,) = only(cluster).outcomes
    assert outcome.dropped_at == "Service ns1/web is not reachable from outside"
    assert outcome.probability == 1
    assert outcome.hops == ()


def test_hostname_only_load_balancer_sends_to_node_ports() -> None:
    """An LB status with a hostname and no IP: the LB (at its own address) uses node ports."""
    service = replace(
        f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10",
                  ports=(f.port(80, node_port=30080, target_port=8080),)),
        load_balancer_ingress=(LoadBalancerIngress(hostname="lb.example.com"),),
    )  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    cluster = f.cluster(
        services=(service,),
        slices=(slices,),
        nodes=(f.node("n1", "10.0.1.2", pod_cidr="10.244.1.0/24"),),
        config=f.proxy_config(cluster_cidr="10.244.0.0/16"),
    )
    (outcome,) = only(cluster).outcomes
    assert outcome.hops[0].local == ip_address("10.0.0.10")
    assert outcome.hops[1].local == ip_address("10.0.1.2")  # node IP : NodePort
    assert outcome.pod == "10.244.1.5"  # no Pod object: named by its address
    assert outcome.delivered


def test_node_without_an_address_of_the_vips_family_gets_the_vip() -> None:
    """A target node with no InternalIP: the hand-off keeps the VIP as its address."""
    service = f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", etp="Local",
                        hc_node_port=32000, lb_ips=(str(VIP),),
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    cluster = f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1"),),
                        config=f.proxy_config(cluster_cidr="10.244.0.0/16"))  # fmt: skip
    item = only(cluster)
    assert [h.healthy for h in item.health] == [False]
    (outcome,) = item.outcomes
    assert outcome.delivered
    assert hop(outcome, "kube-proxy on n1").local == VIP
    assert outcome.pod_peer == CLIENT


# --------------------------------------------------------------------------- failures


def test_no_healthy_target_on_a_provider_that_does_not_fail_open() -> None:
    """Azure with no ready pod stops sending: every connection is dropped at the LB."""
    item = only(web("Local", {}, loadBalancer={"provider": "azure"}))
    (outcome,) = item.outcomes
    assert outcome.dropped_at == "load balancer: no targets"
    assert outcome.probability == 1
    assert [h.name for h in outcome.hops] == ["load balancer"]
    assert item.split is not None
    assert item.split.shares == ()
    assert any("Azure" in note for note in item.notes)


def test_kube_proxy_rejects_when_no_endpoint_exists() -> None:
    """Cluster with no endpoint anywhere: kube-proxy rejects, the client is refused."""
    item = only(web("Cluster", {}, nodes=1))
    (outcome,) = item.outcomes
    assert outcome.refused_at is not None
    assert outcome.refused_at.startswith("kube-proxy on node-1 (KP §3, KP §6.2): ")
    assert outcome.dropped_at is None
    assert not outcome.delivered
    assert "fails open" in " ".join(item.notes)


def test_network_policy_denies_the_snat_address_under_cluster() -> None:
    """allow 203.0.113.0/24: under Cluster the pod sees an SNAT address and drops it."""
    item = only(web("Cluster", {"node-1": 1}, extra=(allow_from("203.0.113.0/24"),)))
    assert item.outcomes
    for outcome in item.outcomes:
        assert not outcome.delivered
        assert outcome.dropped_at is not None
        assert outcome.dropped_at.startswith("NetworkPolicy default/allow-web at pod web-0: ")
        assert str(outcome.pod_peer) in outcome.dropped_at
        assert outcome.pod == "web-0"
        assert outcome.hops[-1].name == "pod web-0"
    assert total(item.outcomes) == 1


def test_network_policy_admits_the_client_under_local() -> None:
    """The same policy under Local: the pod sees the client, which the policy admits."""
    item = only(web("Local", {"node-1": 1}, extra=(allow_from("203.0.113.0/24"),)))
    assert [(o.delivered, o.app_client_ip) for o in item.outcomes] == [(True, CLIENT)]


def test_network_policy_ignores_pods_it_does_not_know() -> None:
    """Endpoints without Pod objects cannot be matched to a policy: they are not isolated."""
    service = f.service("web", type="NodePort", cluster_ip="10.96.0.10", etp="Local",
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    only_docs = NetworkPolicyPeer(ip_block=IPBlock(cidr=ip_network("192.0.2.0/24")))
    deny = NetworkPolicy(
        namespace="ns1", name="deny", ingress=(NetworkPolicyRule(peers=(only_docs,)),)
    )
    cluster = replace(
        f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "10.0.1.2"),),
                  config=f.proxy_config(cluster_cidr="10.244.0.0/16")),
        network_policies=(deny,),
    )  # fmt: skip
    (outcome,) = only(cluster).outcomes
    assert outcome.delivered
    assert outcome.pod == "10.244.1.5"


# --------------------------------------------------------------------------- edge hops


def test_cdn_in_front_writes_the_client_into_headers() -> None:
    """A CDN: the LB sees the CDN's address; the app trusting the CDN reads the client."""
    hops = [{"kind": "cdn", "name": "cf", "headers": ["cf-connecting-ip", "x-forwarded-for"]}]
    cluster = web("Local", {"node-1": 1}, hops=hops, app={"trustedProxies": [f"{CDN_ADDRESS}/32"]})
    (outcome,) = only(cluster).outcomes
    assert [h.name for h in outcome.hops] == [
        "cf",
        "load balancer",
        "kube-proxy on node-1",
        "pod web-0",
        "app",
    ]
    assert outcome.hops[0].kind == "cdn"
    assert outcome.hops[0].peer == CLIENT
    assert hop(outcome, "load balancer").peer == CDN_ADDRESS
    assert hop(outcome, "load balancer").headers == (
        ("cf-connecting-ip", str(CLIENT)),
        ("x-forwarded-for", str(CLIENT)),
    )
    assert outcome.pod_peer == CDN_ADDRESS
    assert outcome.app_client_ip == CLIENT
    assert outcome.verdict == "client IP preserved (via x-forwarded-for)"
    assert not outcome.spoofable


def test_cdn_the_app_does_not_trust_leaves_the_client_in_a_header() -> None:
    """An app trusting nobody resolves the CDN; the verdict says where the client still was."""
    (outcome,) = only(web("Local", {"node-1": 1}, hops=[{"kind": "cdn", "name": "cf"}])).outcomes
    assert outcome.app_client_ip == CDN_ADDRESS
    assert outcome.verdict == (
        "client IP reaches the app in x-forwarded-for but the app resolves 192.0.2.10 "
        "(direct, source peer)"
    )


def test_edge_proxy_protocol_reaches_a_proxy_protocol_app() -> None:
    """An edge proxy sending PROXY v2 through a passthrough LB: a v2 app reads the client."""
    hops = [{"kind": "proxy", "name": "edge", "proxyProtocol": "v2"}]
    cluster = web("Local", {"node-1": 1}, hops=hops, app={"proxyProtocol": "v2"})
    (outcome,) = only(cluster).outcomes
    assert outcome.verdict == "client IP preserved (via proxy-protocol)"
    assert hop(outcome, "app").proxy is not None


def test_edge_hop_refuses_a_proxy_header() -> None:
    """A PROXY header sent into a second HTTP edge hop is a 400 there: refused at that hop."""
    hops = [
        {"kind": "proxy", "name": "edge", "proxyProtocol": "v2"},
        {"kind": "waf", "name": "waf"},
    ]
    (outcome,) = only(web("Local", {"node-1": 1}, hops=hops)).outcomes
    assert outcome.refused_at is not None
    assert outcome.refused_at.startswith("waf: waf waf terminates HTTP")
    assert [h.name for h in outcome.hops] == ["edge", "waf"]
    assert outcome.node is None
    assert outcome.probability == 1


# --------------------------------------------------------------------------- ingress


def test_ingress_nginx_default_replaces_x_forwarded_for() -> None:
    """Default ingress-nginx: XFF becomes its peer (the client), the old one moves aside."""
    forger = {"address": str(CLIENT), "headers": {"X-Forwarded-For": "1.2.3.4"}}
    cluster = with_ingress(clients=[forger], app={"trustedProxies": ["10.244.0.0/16"]})
    item = only(cluster)
    assert item.service == INGRESS_SERVICE
    assert item.backend == "default/backend"
    (outcome,) = item.outcomes
    assert outcome.ingress_pod == "ingress-nginx-controller-0"
    assert outcome.pod == "backend-0"
    assert [h.name for h in outcome.hops] == [
        "load balancer",
        "kube-proxy on node-1",
        "nginx (ingress-nginx-controller-0)",
        "pod backend-0",
        "app",
    ]
    assert outcome.hops[2].kind == "ingress-nginx"
    backend = hop(outcome, "pod backend-0")
    assert ("x-forwarded-for", str(CLIENT)) in backend.headers
    assert ("x-original-forwarded-for", "1.2.3.4") in backend.headers
    assert outcome.pod_peer == ip_address("10.244.1.5")  # the controller pod
    assert outcome.app_client_ip == CLIENT
    assert outcome.verdict == "client IP preserved (via x-forwarded-for)"
    assert not outcome.spoofable


def test_ingress_nginx_use_forwarded_headers_believes_the_client() -> None:
    """use-forwarded-headers with the default 0.0.0.0/0: the client's header wins, spoofed."""
    forger = {"address": str(CLIENT), "headers": {"X-Forwarded-For": "1.2.3.4"}}
    hops = [{**NGINX, "config": {"use-forwarded-headers": "true"}}]
    cluster = with_ingress(hops=hops, clients=[forger], app={"trustedProxies": ["10.244.0.0/16"]})
    (outcome,) = only(cluster).outcomes
    assert outcome.app_client_ip == ip_address("1.2.3.4")
    assert outcome.spoofable
    assert outcome.verdict == (
        "spoofed: the app took 1.2.3.4 from x-forwarded-for, written by the client; "
        "spoofable: the app trusts x-forwarded-for from an untrusted peer"
    )


def test_ingress_notes_reach_the_outcome() -> None:
    """Traefik deleting an untrusted client's X-Forwarded-For says so in the outcome's notes."""
    forger = {"address": str(CLIENT), "headers": {"X-Forwarded-For": "1.2.3.4"}}
    traefik = {"kind": "traefik", "name": "traefik", "service": INGRESS_SERVICE}
    cluster = with_ingress(hops=[traefik], clients=[forger])
    (outcome,) = only(cluster).outcomes
    assert outcome.notes == (
        "X-Forwarded-* and X-Real-Ip deleted: 203.0.113.7 is not in forwardedHeaders.trustedIPs",
    )
    assert hop(outcome, "traefik (ingress-nginx-controller-0)").kind == "traefik"
    assert ("x-forwarded-for", str(CLIENT)) in hop(outcome, "app").headers


def test_ingress_refuses_a_proxy_header_it_does_not_expect() -> None:
    """A PROXY v2 LB in front of ingress-nginx without use-proxy-protocol: 400 at the ingress."""
    cluster = with_ingress(loadBalancer={"mode": "proxy", "proxyProtocol": "v2"})
    (outcome,) = only(cluster).outcomes
    assert outcome.refused_at is not None
    assert outcome.refused_at.startswith("nginx on pod ingress-nginx-controller-0: ")
    assert outcome.pod is None
    assert outcome.ingress_pod == "ingress-nginx-controller-0"


def test_ingress_backend_without_endpoints_fails_at_kube_proxy() -> None:
    """The backend Service has no endpoint: the ingress's connection goes nowhere."""
    (outcome,) = only(with_ingress(backend_replicas=0)).outcomes
    assert not outcome.delivered
    failure = outcome.dropped_at or outcome.refused_at or ""
    assert failure.startswith("kube-proxy on node-1 toward default/backend: ")


def test_ingress_backend_rejected_is_an_error_answer() -> None:
    """kube-proxy rejects the ingress's upstream connection: the ingress answers an error."""
    (outcome,) = only(with_ingress(backend_replicas=0)).outcomes
    assert outcome.refused_at is not None
    assert outcome.dropped_at is None


def test_network_policy_at_the_backend_sees_the_ingress_pod() -> None:
    """A backend policy admitting only clients drops the ingress pod's connection."""
    cluster = with_ingress(extra=(allow_from("203.0.113.0/24", app="backend"),))
    (outcome,) = only(cluster).outcomes
    assert outcome.dropped_at is not None
    assert outcome.dropped_at.startswith("NetworkPolicy default/allow-backend at pod backend-0")
    assert outcome.pod == "backend-0"
    assert outcome.pod_peer == ip_address("10.244.1.5")


def test_ingress_service_traced_itself_has_no_ingress_hop() -> None:
    """spec.service naming the controller's own Service: the path ends at the controller pod."""
    (outcome,) = only(with_ingress(service=INGRESS_SERVICE)).outcomes
    assert outcome.ingress_pod is None
    assert outcome.pod == "ingress-nginx-controller-0"
    assert outcome.verdict == "client IP preserved"


def test_ingress_without_pod_objects_names_endpoints_by_address() -> None:
    """Controller and backend known only from EndpointSlices: hops are named by address."""
    ingress = f.service("ingress", namespace="ing", type="LoadBalancer", cluster_ip="10.96.0.20",
                        etp="Local", hc_node_port=32000, lb_ips=(str(VIP),),
                        ports=(f.port(80, node_port=30080, target_port=80),))  # fmt: skip
    backend = f.service("backend", namespace="default", cluster_ip="10.96.0.30",
                        ports=(f.port(80, target_port=8080),))  # fmt: skip
    slices = (
        f.endpoint_slice("ingress", (f.endpoint("10.244.1.5", node="n1"),), namespace="ing"),
        f.endpoint_slice("backend", (f.endpoint("10.244.1.9", node="n1"),), namespace="default",
                         ports=(("", 8080, "TCP"),)),
    )  # fmt: skip
    cluster = f.cluster(services=(ingress, backend), slices=slices,
                        nodes=(f.node("n1", "10.0.1.2", pod_cidr="10.244.1.0/24"),),
                        config=f.proxy_config(cluster_cidr="10.244.0.0/16"))  # fmt: skip
    nginx = IngressHop(kind=IngressKind.INGRESS_NGINX, name="nginx", service="ing/ingress")
    cluster = replace(
        cluster, scenario=Scenario(name="s", service="default/backend", hops=(nginx,))
    )
    (outcome,) = only(cluster).outcomes
    assert outcome.delivered
    assert outcome.ingress_pod == "10.244.1.5"
    assert outcome.pod == "10.244.1.9"
    assert outcome.pod_peer == ip_address("10.244.1.5")
    assert outcome.app_client_ip == ip_address("10.244.1.5")


# --------------------------------------------------------------------------- sidecars


@pytest.mark.parametrize(
    ("sidecar", "app_peer", "verdict"),
    [
        pytest.param(
            {"kind": "sidecar", "mesh": "istio"},
            ip_address("127.0.0.6"),
            "lost at sidecar-1 sidecar: the sidecar re-originates the connection "
            "(app sees 127.0.0.6)",
            id="istio-redirect",
        ),
        pytest.param(
            {"kind": "sidecar", "mesh": "istio", "interception": "tproxy"},
            CLIENT,
            "client IP preserved",
            id="istio-tproxy",
        ),
        pytest.param(
            {"kind": "sidecar", "mesh": "linkerd", "name": "l5d"},
            ip_address("127.0.0.1"),
            "lost at l5d sidecar: the sidecar re-originates the connection (app sees 127.0.0.1)",
            id="linkerd",
        ),
    ],
)
def test_sidecar_between_pod_and_app(
    sidecar: dict[str, Any], app_peer: IPAddress, verdict: str
) -> None:
    """The pod sees the client; the app sees what the sidecar connects from."""
    (outcome,) = only(web("Local", {"node-1": 1}, hops=[sidecar])).outcomes
    assert outcome.pod_peer == CLIENT
    assert outcome.hops[-2].kind == f"sidecar/{sidecar['mesh']}"
    assert outcome.hops[-1].peer == app_peer
    assert outcome.app_client_ip == app_peer
    assert outcome.verdict == verdict


def test_a_sidecar_refusal_ends_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sidecar that fails the request (an HTTP-declared port given a PROXY header): refused."""

    def refusing(hop: SidecarHop, incoming: View, *, pod_ip: IPAddress) -> HopResult:
        return HopResult(view=None, refused="400 Bad Request")

    monkeypatch.setattr("srcip.model.trace.sidecar_forward", refusing)
    (outcome,) = only(
        web("Local", {"node-1": 1}, hops=[{"kind": "sidecar", "mesh": "istio"}])
    ).outcomes
    assert outcome.refused_at == "sidecar-1 sidecar: 400 Bad Request"
    assert [h.name for h in outcome.hops][-2:] == ["pod web-0", "sidecar-1 sidecar"]
    assert outcome.pod_peer == CLIENT


def test_sidecar_passes_a_proxy_header_to_the_app() -> None:
    """PROXY v1 from the LB passes the Istio sidecar as opaque TCP: a v1 app reads the client."""
    cluster = web("Local", {"node-1": 1}, loadBalancer={"mode": "proxy", "proxyProtocol": "v1"},
                  hops=[{"kind": "sidecar", "mesh": "istio"}], app={"proxyProtocol": "v1"})  # fmt: skip
    (outcome,) = only(cluster).outcomes
    assert outcome.hops[-1].peer == ip_address("127.0.0.6")
    assert outcome.verdict == "client IP preserved (via proxy-protocol)"


# --------------------------------------------------------------------------- clients


def test_in_cluster_clients_skip_the_load_balancer() -> None:
    """node: and pod: clients reach the LB IP through kube-proxy on their own node (KP §10)."""
    client_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "curl", "namespace": "tools"},
        "spec": {"nodeName": "node-2", "containers": [{"name": "curl"}]},
        "status": {"podIP": "10.244.2.99", "podIPs": [{"ip": "10.244.2.99"}]},
    }
    clients = [
        {"name": "host", "address": "10.0.1.3", "node": "node-2"},
        {"name": "curl", "address": "10.244.2.99", "pod": "tools/curl"},
    ]
    cluster = web(
        "Local",
        {"node-1": 1},
        nodes=2,
        clients=clients,
        extra=(client_pod, proxy_configuration(clusterCIDR="10.244.0.0/16")),
    )
    item = only(cluster)
    by_client = {o.client: o for o in item.outcomes}
    assert set(by_client) == {"host", "curl"}
    for name, outcome in by_client.items():
        assert outcome.probability == 1
        assert outcome.delivered
        assert outcome.hops[0].name == "kube-proxy on node-2"
        assert outcome.hops[0].local == VIP
        assert all(h.name != "load balancer" for h in outcome.hops)
        assert outcome.pod == "web-0", name
    assert by_client["host"].verdict == "client IP preserved"


@pytest.mark.parametrize(
    "pod",
    [pytest.param("missing", id="default-namespace"), pytest.param("tools/missing", id="named")],
)
def test_in_cluster_client_whose_pod_is_unknown_is_dropped(pod: str) -> None:
    """A pod client that is not in the input: nothing to route from."""
    clients = [{"name": "ghost", "address": "10.244.9.9", "pod": pod}]
    (outcome,) = only(web("Local", {"node-1": 1}, clients=clients)).outcomes
    assert outcome.dropped_at == "client ghost: its pod or node is not in the input"
    assert outcome.node is None


def test_client_option_selects_a_known_client() -> None:
    """--client picks one of the Scenario's clients, keeping its name and headers."""
    clients = [
        {"name": "a", "address": "203.0.113.7"},
        {"name": "b", "address": "198.51.100.23", "headers": {"X-Forwarded-For": "1.2.3.4"}},
    ]
    cluster = web("Local", {"node-1": 1}, clients=clients)
    assert {o.client for o in only(cluster).outcomes} == {"a", "b"}
    (outcome,) = only(cluster, client=ip_address("198.51.100.23")).outcomes
    assert outcome.client == "b"
    assert hop(outcome, "load balancer").headers == (("x-forwarded-for", "1.2.3.4"),)


def test_client_option_with_an_unknown_address_traces_a_new_client() -> None:
    """--client with an address the Scenario does not list: a plain client of that address."""
    other = ip_address("198.51.100.99")
    (outcome,) = only(web("Local", {"node-1": 1}), client=other).outcomes
    assert outcome.client == "198.51.100.99"
    assert outcome.app_client_ip == other
    assert outcome.verdict == "client IP preserved"


def test_no_scenario_uses_the_default_client() -> None:
    """A cluster without a Scenario: Scenario ``default``, client-1 at 203.0.113.7."""
    cluster = web("Local", {"node-1": 1})
    result = trace(replace(cluster, scenario=None))
    assert result.scenario == "default"
    (item,) = result.services
    assert [(o.client, o.app_client_ip) for o in item.outcomes] == [("client-1", DEFAULT_CLIENT)]
    bare = replace(cluster, scenario=Scenario(name="bare", clients=()))
    assert [o.client for o in only(bare).outcomes] == ["client-1"]


def test_a_given_index_is_used() -> None:
    """Passing the ClusterIndex gives the same trace as building it."""
    cluster = web("Cluster")
    assert trace(cluster, index=build_index(cluster)) == trace(cluster)


# --------------------------------------------------------------------------- forging twin


@pytest.mark.parametrize(
    ("trusted", "spoofable"),
    [
        pytest.param(["0.0.0.0/0"], True, id="trusts-everyone"),
        pytest.param(["10.0.0.10/32"], False, id="trusts-the-lb"),
    ],
)
def test_forging_twin_decides_spoofability(trusted: list[str], spoofable: bool) -> None:
    """The app believing XFF from everyone lets a forged address through: spoofable."""
    cluster = web("Local", {"node-1": 1}, loadBalancer={"mode": "http"},
                  app={"trustedProxies": trusted})  # fmt: skip
    (outcome,) = only(cluster).outcomes
    assert outcome.app_client_ip == CLIENT
    assert outcome.spoofable is spoofable
    suffix = "; spoofable: the app trusts x-forwarded-for from an untrusted peer"
    assert outcome.verdict.endswith(suffix) is spoofable
    assert FORGED not in outcome.verdict


def test_a_client_forging_a_header_the_app_believes_is_spoofed() -> None:
    """The client's own X-Forwarded-For, believed by the app: the verdict says spoofed."""
    client = {"name": "forger", "address": "203.0.113.9", "headers": {"X-Forwarded-For": "1.2.3.4"}}
    cluster = web("Local", {"node-1": 1}, loadBalancer={"mode": "http"}, clients=[client],
                  app={"trustedProxies": ["0.0.0.0/0"]})  # fmt: skip
    (outcome,) = only(cluster).outcomes
    assert outcome.app_client_ip == ip_address("1.2.3.4")
    assert outcome.verdict.startswith(
        "spoofed: the app took 1.2.3.4 from x-forwarded-for, written by the client"
    )


# --------------------------------------------------------------------------- --service


def test_service_option_picks_one_of_several() -> None:
    """--service NAME traces that Service only; without it every external Service is traced."""
    cluster = convert(
        svc("a", policy="Local"),
        svc("b", policy="Cluster", type="NodePort", app="a"),
        svc("internal", type="ClusterIP", app="a"),
        deployment("a"),
        scenario(nodes=1),
    )
    assert [t.service for t in trace(cluster).services] == ["default/a", "default/b"]
    assert [t.service for t in trace(cluster, service="b").services] == ["default/b"]
    assert [t.service for t in trace(cluster, service="default/a").services] == ["default/a"]


@pytest.mark.parametrize(
    ("cluster", "service", "message"),
    [
        pytest.param(
            lambda: web("Local"), "nope", "Service default/nope is not in the input "
            "(Services: default/web)", id="unknown",
        ),
        pytest.param(
            lambda: convert(scenario(nodes=1)), "nope", "(Services: none)", id="unknown-empty",
        ),
        pytest.param(
            lambda: web("Local", hops=[{**NGINX, "service": "ingress/missing"}]), None,
            "hop nginx: its Service ingress/missing is not in the input", id="ingress-missing",
        ),
        pytest.param(
            lambda: convert(svc(type="ClusterIP"), deployment(), scenario(nodes=1)), None,
            "the input has no LoadBalancer or NodePort Service to trace", id="no-external",
        ),
    ],
)  # fmt: skip
def test_service_errors(cluster: Any, service: str | None, message: str) -> None:
    """Bad --service, a missing ingress Service, or nothing external: a UsageError with a fix."""
    with pytest.raises(UsageError, match="Fix: ") as caught:
        trace(cluster(), service=service)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- properties

POLICIES = st.sampled_from(["Local", "Cluster"])
PINS = st.lists(st.integers(0, 3), min_size=1, max_size=4)


def _expected_packet(item: ServiceTrace, cluster: Cluster, node: str) -> Packet:
    """The packet the LB (or the client, for NodePort) hands to ``node``, derived anew."""
    service = next(s for s in cluster.services if s.key == item.service)
    port = service.ports[0]
    node_ip = NODE_IPS[node]
    lb = item.load_balancer
    if lb is None:
        return Packet(src=CLIENT, dst=node_ip, port=port.node_port)
    src = CLIENT if str(lb.mode) == "passthrough" else lb.address
    if lb.targets is TargetType.VIP:
        return Packet(src=src, dst=VIP, port=port.port)
    return Packet(src=src, dst=node_ip, port=port.node_port)


@settings(max_examples=40, deadline=None)
@given(
    policy=POLICIES,
    pins=PINS,
    kind=st.sampled_from(["LoadBalancer", "NodePort"]),
    mode=st.sampled_from(["passthrough", "snat", "proxy"]),
    targets=st.sampled_from(["vip", "nodePort"]),
)
def test_trace_agrees_with_route_for_every_packet(
    policy: str, pins: list[int], kind: str, mode: str, targets: str
) -> None:
    """Per node: the pods and sources the trace reaches, with their mass, are route's choices."""
    placement = {f"node-{i + 1}": count for i, count in enumerate(pins)}
    lb = {"mode": mode, "targets": targets}
    cluster = web(policy, placement, nodes=len(pins), type=kind, loadBalancer=lb)
    item = only(cluster)
    index = build_index(cluster)
    shares = (
        item.split.shares
        if item.split is not None
        else tuple((n.name, Fraction(1, len(pins))) for n in cluster.nodes)
    )
    expected: dict[tuple[str, object, object], Fraction] = defaultdict(Fraction)
    for node, node_share in shares:
        packet = _expected_packet(item, cluster, node)
        result = route_packet(index, node, packet)
        if result.verdict is not Verdict.DNAT:
            expected[(node, None, None)] += node_share
            continue
        for choice in result.endpoints:
            expected[(node, choice.ip, choice.source_seen)] += node_share * choice.probability
    actual: dict[tuple[str, object, object], Fraction] = defaultdict(Fraction)
    for outcome in item.outcomes:
        (kube_proxy,) = [h for h in outcome.hops if h.kind == "kube-proxy"]
        node = kube_proxy.name.removeprefix("kube-proxy on ")
        packet = _expected_packet(item, cluster, node)
        assert (kube_proxy.peer, kube_proxy.local) == (packet.src, packet.dst)
        if outcome.pod_peer is None:
            assert not outcome.delivered
            actual[(node, None, None)] += outcome.probability
            continue
        assert outcome.delivered
        pod_ip = hop(outcome, f"pod {outcome.pod}").local
        actual[(node, pod_ip, outcome.pod_peer)] += outcome.probability
        assert outcome.app_client_ip == outcome.pod_peer  # the app trusts nobody
    assert actual == expected
    assert total(item.outcomes) == 1


@settings(max_examples=30, deadline=None)
@given(policy=POLICIES, pins=PINS, kind=st.sampled_from(["LoadBalancer", "NodePort"]))
def test_trace_mass_per_pod_matches_share(policy: str, pins: list[int], kind: str) -> None:
    """Each pod's delivered probability in the trace is its share; undelivered mass is dropped."""
    placement = {f"node-{i + 1}": count for i, count in enumerate(pins)}
    cluster = web(policy, placement, nodes=len(pins), type=kind)
    item = only(cluster)
    (split,) = share(cluster).services
    per_pod: dict[str | None, Fraction] = defaultdict(Fraction)
    for outcome in item.outcomes:
        if outcome.delivered:
            per_pod[outcome.pod] += outcome.probability
    assert dict(per_pod) == {p.name: p.share for p in split.pods}
    assert total([o for o in item.outcomes if not o.delivered]) == split.dropped


def test_node_port_targets_skip_a_node_without_an_address_of_the_family() -> None:
    """nodePort targets: a node with no InternalIP of the LB's family cannot be reached."""
    service = f.service("web", type="LoadBalancer", cluster_ip="10.96.0.10", lb_ips=(str(VIP),),
                        ports=(f.port(80, node_port=30080, target_port=8080),))  # fmt: skip
    slices = f.endpoint_slice("web", (f.endpoint("10.244.1.5", node="n1"),),
                              ports=(("", 8080, "TCP"),))  # fmt: skip
    scenario = replace(
        Scenario(name="s"),
        load_balancer=LoadBalancerSpec(
            targets=TargetType.NODE_PORT,
            health_check=HealthCheckSpec(target=HealthCheckTarget.PROXY_HEALTHZ),
        ),
    )
    cluster = replace(
        f.cluster(services=(service,), slices=(slices,), nodes=(f.node("n1", "2001:db8::2"),)),
        scenario=scenario,
    )
    outcomes = only(cluster).outcomes
    assert outcomes
    assert all("no address of the load balancer's family" in (o.dropped_at or "") for o in outcomes)


def test_ingress_without_a_backend_service_is_a_usage_error() -> None:
    """An ingress hop and no backend to route to: the error says to set spec.service."""
    cluster = with_ingress()
    cluster = replace(
        cluster,
        services=tuple(s for s in cluster.services if s.name != "backend"),
        scenario=replace(cluster.scenario, service=None) if cluster.scenario else None,
    )
    with pytest.raises(UsageError, match="no backend Service to proxy to"):
        trace(cluster)
