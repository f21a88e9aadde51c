"""route_packet features beyond the upstream packet-flow tables: affinity, hints, duplicates,
detector modes, kube-proxy's own listeners and SNAT address choice."""

from __future__ import annotations

from fractions import Fraction

import pytest

from srcip.errors import ManifestError, UsageError
from srcip.model.enums import EntryPoint, SourceClass, Verdict
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.packet import AffinityState, Backend, Packet, RouteResult
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

CLIENT = "203.0.113.7"
N1 = node("n1", "192.168.0.1", pod_cidr="10.0.1.0/24", zone="a")
N2 = node("n2", "192.168.0.2", pod_cidr="10.0.2.0/24", zone="b")
EPS = (endpoint("10.0.1.5", node="n1"), endpoint("10.0.2.5", node="n2"))


def sticky_index(timeout: int = 100) -> ClusterIndex:
    """A ClusterIP Service with ClientIP affinity and two endpoints."""
    svc = service(
        "web", cluster_ip="172.30.0.1", ports=(port(80),), affinity=True, affinity_timeout=timeout
    )
    return build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", EPS),),
            nodes=(N1, N2),
            config=proxy_config(),
        )
    )


def test_affinity_first_connection_is_random_and_remembers_the_choice() -> None:
    """Without memory both endpoints are possible; each choice records the client (KP §9.2)."""
    result = route_packet(sticky_index(), "n1", packet(CLIENT, "172.30.0.1", 80), now=5.0)
    assert [c.probability for c in result.endpoints] == [Fraction(1, 2)] * 2
    for choice in result.endpoints:
        assert choice.affinity is not None
        entry = choice.affinity.lookup("ns1/web:80/TCP", ip(CLIENT))
        assert entry is not None
        assert (entry.endpoint, entry.last_seen) == (choice.endpoint, 5.0)


def test_affinity_sticks_within_the_timeout_and_expires_after() -> None:
    """A remembered endpoint is chosen with certainty until the timeout passes (KP §9.2)."""
    index = sticky_index(timeout=100)
    state = AffinityState().remember("ns1/web:80/TCP", ip(CLIENT), "10.0.2.5:80", 0.0)
    held = route_packet(index, "n1", packet(CLIENT, "172.30.0.1", 80), affinity=state, now=99.0)
    assert [(c.endpoint, c.probability) for c in held.endpoints] == [("10.0.2.5:80", 1)]
    assert held.cites("KP §9.2")
    expired = route_packet(index, "n1", packet(CLIENT, "172.30.0.1", 80), affinity=state, now=100)
    assert len(expired.endpoints) == 2
    assert not expired.cites("KP §9.2")


def test_affinity_to_an_endpoint_outside_the_chain_is_ignored() -> None:
    """A remembered endpoint that is not in the chain in use gives a random pick (KP §9.3)."""
    state = AffinityState().remember("ns1/web:80/TCP", ip(CLIENT), "10.9.9.9:80", 0.0)
    result = route_packet(sticky_index(), "n1", packet(CLIENT, "172.30.0.1", 80), affinity=state)
    assert len(result.endpoints) == 2


def test_affinity_is_keyed_by_client_ip() -> None:
    """Another client does not inherit the first client's endpoint (KP §9.1)."""
    state = AffinityState().remember("ns1/web:80/TCP", ip(CLIENT), "10.0.2.5:80", 0.0)
    other = route_packet(
        sticky_index(), "n1", packet("198.51.100.1", "172.30.0.1", 80), affinity=state
    )
    assert len(other.endpoints) == 2


def test_zone_hints_narrow_the_cluster_set_per_node() -> None:
    """With zone hints on every Ready endpoint, each node uses its zone's endpoints (KP §12)."""
    eps = (
        endpoint("10.0.1.5", node="n1", zone_hints=("a",)),
        endpoint("10.0.2.5", node="n2", zone_hints=("b",)),
    )
    svc = service("web", cluster_ip="172.30.0.1", ports=(port(80),))
    index = build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", eps),),
            nodes=(N1, N2),
            config=proxy_config(),
        )
    )
    for name, expected in (("n1", "10.0.1.5:80"), ("n2", "10.0.2.5:80")):
        result = route_packet(index, name, packet("10.0.1.9", "172.30.0.1", 80))
        assert [c.endpoint for c in result.endpoints] == [expected]
    # A kube-proxy whose node has no Node object in the input cannot know its zone.
    assert index.categories(index.service_ports[0], "elsewhere").cluster != ()


def test_duplicate_endpoint_local_copy_wins_on_its_node() -> None:
    """The same ip:port in two slices: the copy naming this node counts as local (KP §2.1)."""
    svc = service(
        "web",
        cluster_ip="172.30.0.1",
        type="NodePort",
        etp="Local",
        ports=(port(80, node_port=30080),),
    )
    first = endpoint_slice("web", (endpoint("10.0.1.5", node="n1"),), name="a")
    second = endpoint_slice("web", (endpoint("10.0.1.5", node="n2"),), name="b")
    index = build_index(
        cluster(services=(svc,), slices=(first, second), nodes=(N1, N2), config=proxy_config())
    )
    for name, addr in (("n1", "192.168.0.1"), ("n2", "192.168.0.2")):
        result = route_packet(index, name, packet(CLIENT, addr, 30080))
        assert result.verdict is Verdict.DNAT
        assert [c.node for c in result.endpoints] == [name]


def test_slices_of_the_other_family_and_unlabelled_slices_are_ignored() -> None:
    """IPv6 slices do not feed an IPv4 service port; slices without a Service label are skipped."""
    svc = service("web", cluster_ip="172.30.0.1", ports=(port(80),))
    v6 = endpoint_slice("web", (endpoint("fd00::5", node="n1"),), address_type="IPv6", name="v6")
    stray = endpoint_slice("web", (endpoint("10.0.1.7", node="n1"),), name="stray")
    object.__setattr__(stray, "service_name", None)
    index = build_index(
        cluster(services=(svc,), slices=(v6, stray), nodes=(N1,), config=proxy_config())
    )
    assert route_packet(index, "n1", packet(CLIENT, "172.30.0.1", 80)).verdict is Verdict.REJECT


def test_node_cidr_detector_treats_other_nodes_pods_as_external() -> None:
    """detectLocalMode NodeCIDR: a pod of another node is not pod traffic here (KP §4.3)."""
    svc = service(
        "web",
        cluster_ip="172.30.0.1",
        type="NodePort",
        etp="Local",
        ports=(port(80, node_port=30080),),
    )
    index = build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", EPS),),
            nodes=(N1, N2, node("bare", "192.168.0.9")),
            config=proxy_config(detect_local_mode="NodeCIDR"),
        )
    )
    own = route_packet(index, "n1", packet("10.0.1.9", "192.168.0.1", 30080))
    other = route_packet(index, "n1", packet("10.0.2.9", "192.168.0.1", 30080))
    assert own.source_class is SourceClass.POD
    assert len(own.endpoints) == 2  # short-circuit to every endpoint
    assert other.source_class is SourceClass.EXTERNAL
    assert [c.endpoint for c in other.endpoints] == ["10.0.1.5:80"]
    # A node with no pod CIDR has no NodeCIDR detector at all.
    bare = route_packet(index, "bare", packet("10.0.1.9", "192.168.0.9", 30080))
    assert bare.source_class is SourceClass.EXTERNAL
    assert bare.verdict is Verdict.DROP


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_proxy_healthz_port_is_accepted_on_node_addresses(mode: str) -> None:
    """TCP to :10256 on a node address reaches kube-proxy's health server (KP §14.1)."""
    index = build_index(cluster(nodes=(N1,), config=proxy_config(mode=mode)))
    result = route_packet(index, "n1", packet(CLIENT, "192.168.0.1", 10256))
    assert (result.verdict, result.entry) == (Verdict.ACCEPT, EntryPoint.PROXY_HEALTHZ)
    assert result.cites("KP §14.1")
    udp = route_packet(index, "n1", packet(CLIENT, "192.168.0.1", 10256, "UDP"))
    assert udp.verdict is Verdict.NO_MATCH
    elsewhere = route_packet(index, "n1", packet(CLIENT, "192.168.0.7", 10256))
    assert elsewhere.verdict is Verdict.NO_MATCH


def test_nftables_health_check_answers_only_where_it_listens() -> None:
    """nftables adds no ACCEPT rule: the HC port answers on the listener's addresses (KP §13.1)."""
    multi = node("n1", "192.168.0.1", "192.168.1.1", pod_cidr="10.0.1.0/24")
    svc = service(
        "web",
        type="LoadBalancer",
        etp="Local",
        cluster_ip="172.30.0.1",
        ports=(port(80, node_port=30080),),
        hc_node_port=30000,
    )
    for addresses, listening, silent in (
        ((), "192.168.0.1", "192.168.1.1"),  # default: primary IP only
        (("127.0.0.0/8", "192.168.1.0/24"), "127.0.0.1", "192.168.0.1"),
    ):
        config = proxy_config(mode="nftables", node_port_addresses=addresses)
        index = build_index(cluster(services=(svc,), nodes=(multi,), config=config))
        yes = route_packet(index, "n1", packet(CLIENT, listening, 30000))
        no = route_packet(index, "n1", packet(CLIENT, silent, 30000))
        assert (yes.verdict, yes.entry) == (Verdict.ACCEPT, EntryPoint.HEALTH_CHECK)
        assert yes.service is not None
        assert yes.service.name == "web"
        assert no.verdict is Verdict.NO_MATCH


def test_iptables_source_ranges_without_endpoints_reject() -> None:
    """iptables installs no source-range firewall without endpoints: REJECT wins (KP §8.6)."""
    svc = service(
        "web",
        type="LoadBalancer",
        cluster_ip="172.30.0.1",
        lb_ips=("1.2.3.4",),
        ports=(port(80, node_port=30080),),
        source_ranges=("198.51.100.0/24",),
    )
    results = {}
    for mode in ("iptables", "nftables"):
        index = build_index(cluster(services=(svc,), nodes=(N1,), config=proxy_config(mode=mode)))
        results[mode] = route_packet(index, "n1", packet(CLIENT, "1.2.3.4", 80))
    assert results["iptables"].verdict is Verdict.REJECT
    assert results["iptables"].cites("KP §8.6")
    assert results["nftables"].verdict is Verdict.DROP


def test_snat_without_a_primary_ip_uses_another_node_address() -> None:
    """A node listing only an ExternalIP masquerades with it; with no address it is an error."""
    svc = service("web", cluster_ip="172.30.0.1", ports=(port(80),))
    odd = node("odd", "192.168.5.5", address_type="ExternalIP")
    v6_only = node("v6", "fd00::1")
    index = build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", EPS),),
            nodes=(odd, v6_only),
            config=proxy_config(),
        )
    )
    result = route_packet(index, "odd", packet(CLIENT, "172.30.0.1", 80))
    assert result.source_seen == ip("192.168.5.5")
    with pytest.raises(ManifestError, match="no IPv4 address to masquerade with"):
        route_packet(index, "v6", packet(CLIENT, "172.30.0.1", 80))


def test_a_result_without_snat_addresses_cannot_claim_masquerade() -> None:
    """A hand-built masqueraded result lacking its SNAT address is refused when spelled out."""
    backend = Backend(
        address=ip("10.0.1.5"),
        port=80,
        node_name="n1",
        ready=True,
        serving=True,
        terminating=False,
        zone_hints=frozenset(),
        node_hints=frozenset(),
        target=None,
        text="10.0.1.5:80",
    )
    broken = RouteResult(
        verdict=Verdict.DNAT,
        node="n1",
        packet=Packet(src=ip(CLIENT), dst=ip("172.30.0.1"), port=80),
        source_class=SourceClass.EXTERNAL,
        targets=(backend,),
        marked=True,
    )
    with pytest.raises(ValueError, match="lacks its SNAT address"):
        _ = broken.endpoints


def test_headless_and_external_name_services_get_no_rules() -> None:
    """Headless and ExternalName Services are ignored by kube-proxy (KP §1.1)."""
    headless = service("db", headless=True, ports=(port(5432),))
    external = service("ext", type="ExternalName", cluster_ip="172.30.0.9", ports=(port(80),))
    index = build_index(cluster(services=(headless, external), nodes=(N1,), config=proxy_config()))
    assert index.service_ports == []
    result = route_packet(index, "n1", packet(CLIENT, "172.30.0.9", 80))
    assert result.verdict is Verdict.NO_MATCH


def test_unknown_node_and_mixed_families_are_bad_input() -> None:
    """Routing on a node without a Node object, or v4 → v6, raises a SrcipError."""
    index = build_index(cluster(nodes=(N1,), config=proxy_config()))
    with pytest.raises(ManifestError, match="no Node object named 'n9'"):
        route_packet(index, "n9", packet(CLIENT, "172.30.0.1", 80))
    with pytest.raises(UsageError, match="different IP families"):
        route_packet(index, "n1", packet(CLIENT, "fd00::1", 80))


def test_categories_are_memoised_per_node_when_hints_apply() -> None:
    """Hinted categorisation is computed once per (service port, node) and reused."""
    eps = (endpoint("10.0.1.5", node="n1", zone_hints=("a",)),)
    svc = service("web", cluster_ip="172.30.0.1", ports=(port(80),))
    index = build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", eps),),
            nodes=(N1,),
            config=proxy_config(),
        )
    )
    info = index.service_ports[0]
    assert index.categories(info, "n1") is index.categories(info, "n1")


def test_mixed_masquerade_is_reported_as_unknown() -> None:
    """When only a hairpin choice is masqueraded, the overall masquerade and source are None."""
    svc = service("web", cluster_ip="172.30.0.1", ports=(port(80),))
    index = build_index(
        cluster(
            services=(svc,),
            slices=(endpoint_slice("web", EPS),),
            nodes=(N1, N2),
            config=proxy_config(),
        )
    )
    result = route_packet(index, "n1", packet("10.0.1.5", "172.30.0.1", 80))
    by_endpoint = {c.endpoint: (c.masquerade, str(c.source_seen)) for c in result.endpoints}
    assert by_endpoint == {"10.0.1.5:80": (True, "10.0.1.1"), "10.0.2.5:80": (False, "10.0.1.5")}
    assert result.masquerade is None
    assert result.source_seen is None
    assert result.cites("KP §4.5")
