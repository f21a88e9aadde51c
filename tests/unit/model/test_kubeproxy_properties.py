"""Invariants of route_packet over small random clusters (Hypothesis).

Each example is one Service of type NodePort or LoadBalancer (ClusterIP 10.96.0.10:80,
nodePort 30080, externalIP 198.51.100.10, LB VIP 1.2.3.4, no source ranges) with 0–4
endpoints in random ready/serving/terminating states on 1–3 nodes (or on no node), random
external/internal traffic policies, detector on or off, masqueradeAll on or off, either
backend, and one packet from a pod, the node itself or an external client to one of the
service's addresses, routed on node n0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.model.enums import Verdict
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.packet import RouteResult
from tests.factories import (
    cluster,
    endpoint,
    endpoint_slice,
    ip,
    node,
    packet,
    port,
    proxy_config,
    service,
)

NODES = ("n0", "n1", "n2")
HERE = "n0"
CLUSTER_CIDR = "10.244.0.0/16"
CLUSTER_IP, NODE_PORT, LB_VIP, EXTERNAL_IP = "10.96.0.10", 30080, "1.2.3.4", "198.51.100.10"
SOURCES = {  # source class → address
    "pod on this node": "10.244.0.99",
    "pod on another node": "10.244.1.99",
    "this node": "192.168.0.10",
    "external client": "203.0.113.7",
}
EXTERNAL_ENTRIES = ("NodePort", "LoadBalancer", "ExternalIP")
DESTINATIONS = {  # entry point → (address, port)
    "ClusterIP": (CLUSTER_IP, 80),
    "NodePort": ("192.168.0.10", NODE_PORT),  # n0's primary IP: a NodePort address in both
    "LoadBalancer": (LB_VIP, 80),
    "ExternalIP": (EXTERNAL_IP, 80),
}
SETTINGS = settings(max_examples=300, deadline=None)


@dataclass(frozen=True, slots=True)
class Case:
    """One generated cluster and packet."""

    mode: str
    nodes: int
    endpoints: tuple[tuple[int | None, bool, bool, bool], ...]  # node, ready, serving, terminating
    svc_type: str
    etp: str
    itp: str
    detector: bool
    masquerade_all: bool
    source: str
    entry: str

    @property
    def usable_anywhere(self) -> bool:
        """Some endpoint is Ready, or serving and terminating (KP §2.3)."""
        return any(r or (s and t) for _, r, s, t in self.endpoints)


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    etp: str | None = None,
    source: str | None = None,
    entries: tuple[str, ...] = tuple(DESTINATIONS),
) -> Case:
    """A random Case; ``etp``, ``source`` and ``entries`` pin or narrow those fields."""
    nodes = draw(st.integers(1, 3))
    placement = st.one_of(st.none(), st.integers(0, nodes - 1))
    conditions = st.tuples(placement, st.booleans(), st.booleans(), st.booleans())
    svc_type = draw(st.sampled_from(("NodePort", "LoadBalancer")))
    allowed = [e for e in entries if e != "LoadBalancer" or svc_type == "LoadBalancer"]
    policies = ("Cluster", "Local")
    return Case(
        mode=draw(st.sampled_from(("iptables", "nftables"))),
        nodes=nodes,
        endpoints=tuple(draw(st.lists(conditions, max_size=4))),
        svc_type=svc_type,
        etp=etp or draw(st.sampled_from(policies)),
        itp=draw(st.sampled_from(policies)),
        detector=draw(st.booleans()),
        masquerade_all=draw(st.booleans()),
        source=source or draw(st.sampled_from(sorted(SOURCES))),
        entry=draw(st.sampled_from(allowed)),
    )


def build(case: Case) -> ClusterIndex:
    """Index the case's cluster."""
    eps = tuple(
        endpoint(
            f"10.244.{n}.{10 + j}" if n is not None else f"10.250.0.{10 + j}",
            node=NODES[n] if n is not None else None,
            ready=r,
            serving=s,
            terminating=t,
        )
        for j, (n, r, s, t) in enumerate(case.endpoints)
    )
    svc = service(
        "web",
        type=case.svc_type,
        cluster_ip=CLUSTER_IP,
        ports=(port(80, name="http", node_port=NODE_PORT),),
        external_ips=(EXTERNAL_IP,),
        lb_ips=(LB_VIP,) if case.svc_type == "LoadBalancer" else (),
        etp=case.etp,
        itp=case.itp,
    )
    nodes = tuple(
        node(name, f"192.168.0.{10 + i}", pod_cidr=f"10.244.{i}.0/24")
        for i, name in enumerate(NODES[: case.nodes])
    )
    config = proxy_config(
        mode=case.mode,
        cluster_cidr=CLUSTER_CIDR if case.detector else "",
        masquerade_all=case.masquerade_all,
    )
    slices = (endpoint_slice("web", eps, ports=(("http", 8080, "TCP"),)),) if eps else ()
    return build_index(cluster(services=(svc,), slices=slices, nodes=nodes, config=config))


def route(case: Case, index: ClusterIndex | None = None) -> RouteResult:
    """Route the case's packet on n0 (indexing its cluster unless an index is given)."""
    dst, dst_port = DESTINATIONS[case.entry]
    pkt = packet(SOURCES[case.source], dst, dst_port)
    return route_packet(index or build(case), HERE, pkt)


def outcome(result: RouteResult) -> tuple[object, ...]:
    """What a client and a pod can observe of a result (rules aside)."""
    choices = sorted(
        (c.endpoint, c.probability, c.masquerade, str(c.source_seen)) for c in result.endpoints
    )
    return (result.verdict, tuple(choices))


@SETTINGS
@given(cases())
def test_probabilities_sum_to_one_for_dnat_and_no_choices_otherwise(case: Case) -> None:
    """A DNAT is a uniform distribution summing to exactly 1; other verdicts choose nothing."""
    result = route(case)
    if result.verdict is Verdict.DNAT:
        assert result.endpoints
        assert sum((c.probability for c in result.endpoints), Fraction(0)) == 1
        assert {c.probability for c in result.endpoints} == {Fraction(1, len(result.endpoints))}
    else:
        assert result.endpoints == ()


@SETTINGS
@given(cases(etp="Local", source="external client", entries=EXTERNAL_ENTRIES))
def test_local_policy_external_client_stays_on_the_node_with_its_address(case: Case) -> None:
    """eTP=Local: an external client is dropped, rejected, or sent to local pods unmasqueraded."""
    result = route(case)
    assert result.verdict in {Verdict.DROP, Verdict.REJECT, Verdict.DNAT}
    for choice in result.endpoints:
        assert choice.node == HERE
        assert not choice.masquerade
        assert choice.source_seen == ip(SOURCES["external client"])


@SETTINGS
@given(cases(etp="Cluster", entries=EXTERNAL_ENTRIES))
def test_cluster_policy_masquerades_every_external_path_dnat(case: Case) -> None:
    """eTP=Cluster: whatever the source, an external-path DNAT is masqueraded (KP §4.2)."""
    result = route(case)
    assert all(choice.masquerade for choice in result.endpoints)


@SETTINGS
@given(cases())
def test_reject_iff_no_usable_endpoint_anywhere(case: Case) -> None:
    """REJECT exactly when no endpoint is Ready or serving+terminating anywhere (KP §6.2)."""
    result = route(case)
    assert (result.verdict is Verdict.REJECT) == (not case.usable_anywhere)


@SETTINGS
@given(cases())
def test_traffic_policies_are_independent(case: Case) -> None:
    """iTP never changes external-path results, eTP never changes ClusterIP ones (KP §11)."""
    if case.entry == "ClusterIP":
        flipped = replace(case, etp="Local" if case.etp == "Cluster" else "Cluster")
    else:
        flipped = replace(case, itp="Local" if case.itp == "Cluster" else "Cluster")
    assert outcome(route(case)) == outcome(route(flipped))


@SETTINGS
@given(cases())
def test_route_is_deterministic(case: Case) -> None:
    """The same index and packet give an equal result every time."""
    index = build(case)
    first, second = route(case, index), route(case, index)
    assert first == second
    assert first.endpoints == second.endpoints


@SETTINGS
@given(cases())
def test_route_depends_only_on_the_cluster(case: Case) -> None:
    """Equal clusters, indexed separately, give equal results (STYLE §2: same input, same output)."""
    first, second = route(case), route(case)
    assert (first.rules, first.reasons) == (second.rules, second.reasons)
    assert outcome(first) == outcome(second)
    assert first == second
