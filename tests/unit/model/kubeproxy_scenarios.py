"""The Services and EndpointSlices of kube-proxy's packet-flow tests, one builder per test.

Transcribed (facts only) from ``pkg/proxy/{iptables,nftables}/proxier_test.go``. The two
files build the same objects for the tests they share, so each builder takes the backend
(``"iptables"`` or ``"nftables"``) and returns the index of upstream's NewFakeProxier
cluster (see :mod:`tests.unit.model.kubeproxy_upstream`). Builders are memoised: routing
is a pure function of the index, so test cases may share one.
"""

from __future__ import annotations

from functools import cache

from srcip.model.index import ClusterIndex
from tests.factories import endpoint, port, service
from tests.unit.model.kubeproxy_upstream import (
    NODE_OWNED_EXTERNAL_IP,
    TEST_NODE,
    slice_of,
    upstream_index,
)

# One endpoint of a terminating-endpoints case: (address, node, ready, serving, terminating).
Conditions = tuple[str, str, bool, bool, bool]

# TestInternalTrafficPolicy: case → (internalTrafficPolicy, [(address, node)]); all Ready.
INTERNAL_TRAFFIC_POLICY_CASES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "internalTrafficPolicy is cluster": (
        "Cluster",
        (("10.0.1.1", TEST_NODE), ("10.0.1.2", "node1"), ("10.0.1.3", "node2")),
    ),
    "internalTrafficPolicy is local and there is one local endpoint": (
        "Local",
        (("10.0.1.1", TEST_NODE), ("10.0.1.2", "node1"), ("10.0.1.3", "node2")),
    ),
    "internalTrafficPolicy is local and there are multiple local endpoints": (
        "Local",
        (("10.0.1.1", TEST_NODE), ("10.0.1.2", TEST_NODE), ("10.0.1.3", "node2")),
    ),
    "internalTrafficPolicy is local and there are no local endpoints": (
        "Local",
        (("10.0.1.1", "node0"), ("10.0.1.2", "node1"), ("10.0.1.3", "node2")),
    ),
}

# TestTerminatingEndpointsTrafficPolicyLocal: case → endpoints of the one slice.
TERMINATING_LOCAL_CASES: dict[str, tuple[Conditions, ...]] = {
    "ready endpoints exist": (
        ("10.0.1.1", TEST_NODE, True, True, False),
        ("10.0.1.2", TEST_NODE, True, True, False),
        ("10.0.1.3", TEST_NODE, False, True, True),  # ignored: local Ready ones exist
        ("10.0.1.4", TEST_NODE, False, False, True),  # never usable: not serving
        ("10.0.1.5", "node-1", True, True, False),  # not local
    ),
    "only terminating endpoints exist": (
        ("10.0.1.2", TEST_NODE, False, True, True),
        ("10.0.1.3", TEST_NODE, False, True, True),
        ("10.0.1.4", TEST_NODE, False, False, True),
        ("10.0.1.5", "node-1", True, True, False),
    ),
    "terminating endpoints on remote node": (("10.0.1.5", "node-1", False, True, True),),
    "no usable endpoints on any node": (
        ("10.0.1.5", TEST_NODE, False, False, True),
        ("10.0.1.5", "node-1", False, False, True),
    ),
}

# TestTerminatingEndpointsTrafficPolicyCluster: case → endpoints of the one slice.
TERMINATING_CLUSTER_CASES: dict[str, tuple[Conditions, ...]] = {
    "ready endpoints exist": (
        ("10.0.1.1", TEST_NODE, True, True, False),
        ("10.0.1.2", TEST_NODE, True, True, False),
        ("10.0.1.3", "another-node", False, True, True),  # ignored: Ready ones exist
        ("10.0.1.4", "another-node", False, False, True),  # never usable: not serving
        ("10.0.1.5", "another-node", True, True, False),
    ),
    "only terminating endpoints exist": (
        ("10.0.1.2", TEST_NODE, False, True, True),
        ("10.0.1.3", TEST_NODE, False, True, True),
        ("10.0.1.4", "another-node", False, False, True),
        ("10.0.1.5", "another-node", False, True, True),
    ),
    "terminating endpoints on remote node": (("10.0.1.5", "node-1", False, True, True),),
    "no usable endpoints on any node": (
        ("10.0.1.5", TEST_NODE, False, False, True),
        ("10.0.1.5", "node-1", False, False, True),
    ),
}


@cache
def overall(mode: str) -> ClusterIndex:
    """TestOverall{IPTables,NFTables}Rules: six services of every kind."""
    services = (
        service("svc1", namespace="ns1", cluster_ip="172.30.0.41", ports=(port(80, name="p80"),)),
        service(  # LoadBalancer, eTP=Local; its only endpoint has no nodeName, so is not local
            "svc2",
            namespace="ns2",
            type="LoadBalancer",
            etp="Local",
            cluster_ip="172.30.0.42",
            ports=(port(80, name="p80", node_port=3001),),
            lb_ips=("1.2.3.4",),
            external_ips=("192.168.99.22",),
            hc_node_port=30000,
        ),
        service(
            "svc3",
            namespace="ns3",
            type="NodePort",
            cluster_ip="172.30.0.43",
            ports=(port(80, name="p80", node_port=3003),),
        ),
        service(  # NodePort type with an externalIP and no nodePort on its port
            "svc4",
            namespace="ns4",
            type="NodePort",
            cluster_ip="172.30.0.44",
            external_ips=("192.168.99.33",),
            ports=(port(80, name="p80", target_port=80),),
        ),
        service(  # LoadBalancer, eTP=Cluster, a source range with stray whitespace, affinity
            "svc5",
            namespace="ns5",
            type="LoadBalancer",
            cluster_ip="172.30.0.45",
            ports=(port(80, name="p80", node_port=3002),),
            lb_ips=("5.6.7.8",),
            hc_node_port=30000,
            source_ranges=(" 203.0.113.0/25",),
            affinity=True,
        ),
        service(  # no endpoints at all
            "svc6",
            namespace="ns6",
            cluster_ip="172.30.0.46",
            ports=(port(80, name="p80", target_port=80),),
        ),
    )
    slices = (
        slice_of("svc1", endpoint("10.180.0.1"), namespace="ns1"),
        slice_of("svc2", endpoint("10.180.0.2"), namespace="ns2"),
        slice_of("svc3", endpoint("10.180.0.3"), namespace="ns3"),
        slice_of(
            "svc4", endpoint("10.180.0.4"), endpoint("10.180.0.5", node=TEST_NODE), namespace="ns4"
        ),
        slice_of("svc5", endpoint("10.180.0.3"), namespace="ns5"),
    )
    return upstream_index(mode, services, slices)


@cache
def no_endpoints_reject(mode: str) -> ClusterIndex:
    """TestNoEndpointsReject: a LoadBalancer with an externalIP and no EndpointSlice."""
    svc = service(
        "svc1",
        type="LoadBalancer",
        cluster_ip="172.30.0.41",
        external_ips=(NODE_OWNED_EXTERNAL_IP,),
        ports=(port(80, name="p80", node_port=3001),),
        lb_ips=("1.2.3.4",),
    )
    return upstream_index(mode, (svc,))


@cache
def cluster_ip_general(mode: str) -> ClusterIndex:
    """TestClusterIPGeneral: a one-port and a five-port ClusterIP service."""
    svc1 = service("svc1", cluster_ip="172.30.0.41", ports=(port(80, name="http"),))
    svc2 = service(
        "svc2",
        namespace="ns2",
        cluster_ip="172.30.0.42",
        ports=(
            port(80, name="http"),
            port(443, name="https", target_port=8443),
            port(53, name="dns-udp", protocol="UDP"),
            port(53, name="dns-tcp", target_port=5353),
            port(53, name="dns-sctp", protocol="SCTP"),
        ),
    )
    slice1 = slice_of("svc1", endpoint("10.180.0.1", node=TEST_NODE), ports=(("http", 80, "TCP"),))
    slice2 = slice_of(
        "svc2",
        endpoint("10.180.0.1", node=TEST_NODE),
        endpoint("10.180.2.1", node="node2"),
        namespace="ns2",
        ports=(
            ("http", 80, "TCP"),
            ("https", 8443, "TCP"),
            ("dns-udp", 53, "UDP"),
            ("dns-tcp", 5353, "TCP"),
            ("dns-sctp", 53, "SCTP"),
        ),
    )
    return upstream_index(mode, (svc1, svc2), (slice1, slice2))


@cache
def load_balancer(mode: str) -> ClusterIndex:
    """TestLoadBalancer: two LB VIPs behind two source ranges, one non-local endpoint."""
    svc = service(
        "svc1",
        type="LoadBalancer",
        cluster_ip="172.30.0.41",
        ports=(port(80, name="p80", node_port=3001),),
        lb_ips=("1.2.3.4", "5.6.7.8"),
        source_ranges=("192.168.0.0/24", " 203.0.113.0/25"),  # whitespace is tolerated
    )
    return upstream_index(mode, (svc,), (slice_of("svc1", endpoint("10.180.0.1")),))


@cache
def node_ports(
    mode: str, family: str, node_port_addresses: tuple[str, ...] | None, localhost: bool = True
) -> ClusterIndex:
    """TestNodePorts: a NodePort service with one non-local and one local endpoint."""
    v4 = family == "IPv4"
    cluster_ip, ep1, ep2 = (
        ("172.30.0.41", "10.180.0.1", "10.180.2.1")
        if v4
        else ("fd00:172:30::41", "fd00:10:180::1", "fd00:10:180::2:1")
    )
    svc = service(
        "svc1",
        type="NodePort",
        cluster_ip=cluster_ip,
        ports=(port(80, name="p80", node_port=3001),),
    )
    eps = slice_of("svc1", endpoint(ep1), endpoint(ep2, node=TEST_NODE), address_type=family)
    return upstream_index(
        mode,
        (svc,),
        (eps,),
        node_port_addresses=node_port_addresses,
        localhost_node_ports=localhost,
    )


@cache
def external_traffic_policy(mode: str, etp: str) -> ClusterIndex:
    """TestExternalTrafficPolicy{Local,Cluster}: LB + externalIP + NodePort, two endpoints."""
    svc = service(
        "svc1",
        type="LoadBalancer",
        etp=etp,
        cluster_ip="172.30.0.41",
        external_ips=(NODE_OWNED_EXTERNAL_IP,),
        ports=(port(80, name="p80", node_port=3001, target_port=80),),
        lb_ips=("1.2.3.4",),
        hc_node_port=30000 if etp == "Local" else 0,
    )
    eps = slice_of("svc1", endpoint("10.180.0.1"), endpoint("10.180.2.1", node=TEST_NODE))
    return upstream_index(mode, (svc,), (eps,))


@cache
def internal_traffic_policy(mode: str, case: str, deleted: bool = False) -> ClusterIndex:
    """TestInternalTrafficPolicy: a ClusterIP service on 172.30.1.1, unnamed port 80.

    ``deleted`` removes the case's EndpointSlice, as upstream does after each case.
    """
    itp, eps = INTERNAL_TRAFFIC_POLICY_CASES[case]
    svc = service("svc1", cluster_ip="172.30.1.1", itp=itp, ports=(port(80),))
    endpoints = tuple(endpoint(a, node=n) for a, n in eps)
    slices = () if deleted else (slice_of("svc1", *endpoints, ports=(("", 80, "TCP"),)),)
    return upstream_index(mode, (svc,), slices)


@cache
def terminating(mode: str, etp: str, case: str, deleted: bool = False) -> ClusterIndex:
    """TestTerminatingEndpointsTrafficPolicy{Local,Cluster}: LB 1.2.3.4, no nodePort.

    ``deleted`` removes the case's EndpointSlice, as upstream does after each case.
    """
    cases = TERMINATING_LOCAL_CASES if etp == "Local" else TERMINATING_CLUSTER_CASES
    svc = service(
        "svc1",
        type="LoadBalancer",
        etp=etp,
        cluster_ip="172.30.1.1",
        ports=(port(80, target_port=80),),
        lb_ips=("1.2.3.4",),
        hc_node_port=30000,  # ignored by kube-proxy unless eTP=Local (KP §1.6)
    )
    endpoints = tuple(
        endpoint(a, node=n, ready=r, serving=s, terminating=t) for a, n, r, s, t in cases[case]
    )
    slices = () if deleted else (slice_of("svc1", *endpoints, ports=(("", 80, "TCP"),)),)
    return upstream_index(mode, (svc,), slices)


@cache
def internal_external_masquerade(mode: str, detector: bool, masquerade_all: bool) -> ClusterIndex:
    """TestInternalExternalMasquerade: plain, eTP=Local and iTP=Local LoadBalancers."""
    specs = (  # name, namespace, clusterIP, nodePort, healthCheckNodePort, LB IP, eTP, iTP
        ("svc1", "ns1", "172.30.0.41", 3001, 30001, "1.2.3.4", "Cluster", "Cluster"),
        ("svc2", "ns2", "172.30.0.42", 3002, 30002, "5.6.7.8", "Local", "Cluster"),
        ("svc3", "ns3", "172.30.0.43", 3003, 30003, "9.10.11.12", "Cluster", "Local"),
    )
    services = tuple(
        service(
            name,
            namespace=ns,
            type="LoadBalancer",
            cluster_ip=cip,
            ports=(port(80, name="p80", node_port=np),),
            hc_node_port=hc,
            lb_ips=(lb,),
            etp=etp,
            itp=itp,
        )
        for name, ns, cip, np, hc, lb, etp, itp in specs
    )
    slices = tuple(
        slice_of(
            f"svc{i}",
            endpoint(f"10.180.0.{i}", node=TEST_NODE),
            endpoint(f"10.180.1.{i}", node="remote"),
            namespace=f"ns{i}",
        )
        for i in (1, 2, 3)
    )
    return upstream_index(mode, services, slices, detector=detector, masquerade_all=masquerade_all)


@cache
def route_type_proxy(
    mode: str, cluster_ip: str, lb_ip: str, ip_mode: str | None, gate: bool
) -> ClusterIndex:
    """TestLoadBalancerIngressRouteTypeProxy: one LB ingress IP with the given ipMode."""
    svc = service(
        "svc1",
        type="LoadBalancer",
        cluster_ip=cluster_ip,
        ports=(port(80, name="p80", node_port=3001),),
        lb_ips=(lb_ip,),
        lb_ip_mode=ip_mode,
    )
    return upstream_index(
        mode,
        (svc,),
        (slice_of("svc1", endpoint("10.180.0.1")),),
        feature_gates=(("LoadBalancerIPMode", gate),),
    )


@cache
def health_check_node_port(mode: str, deleted: bool) -> ClusterIndex:
    """TestHealthCheckNodePort: an eTP=Local LB with healthCheckNodePort 30000, no endpoints.

    NodePort addresses are restricted to 127.0.0.0/8; ``deleted`` drops the Service.
    """
    svc = service(
        "svc1",
        type="LoadBalancer",
        etp="Local",
        cluster_ip="172.30.0.42",
        ports=(port(80, name="p80", node_port=3001),),
        hc_node_port=30000,
    )
    return upstream_index(mode, () if deleted else (svc,), node_port_addresses=("127.0.0.0/8",))


@cache
def only_local_node_ports(mode: str, detector: bool) -> ClusterIndex:
    """TestOnlyLocalNodePorts[NoClusterCIDR]: eTP=Local NodePort, NodePorts on 192.168.0.0/24."""
    svc = service(
        "svc1",
        type="NodePort",
        etp="Local",
        cluster_ip="172.30.0.41",
        ports=(port(80, name="p80", node_port=3001),),
    )
    eps = slice_of("svc1", endpoint("10.180.0.1"), endpoint("10.180.2.1", node=TEST_NODE))
    return upstream_index(
        mode,
        (svc,),
        (eps,),
        detector=detector,
        node_port_addresses=("192.168.0.0/24", "2001:db8::/64"),
        localhost_node_ports=False,
    )


@cache
def external_ips(mode: str, etp: str) -> ClusterIndex:
    """Test{OnlyLocal,NonLocal}ExternalIPs: externalIP 192.168.99.11, no nodePort.

    eTP=Local is a NodePort-type Service (upstream sets the type so the policy is legal);
    eTP=Cluster a ClusterIP-type one.
    """
    svc = service(
        "svc1",
        type="NodePort" if etp == "Local" else "ClusterIP",
        etp=etp,
        cluster_ip="172.30.0.41",
        external_ips=(NODE_OWNED_EXTERNAL_IP,),
        ports=(port(80, name="p80", target_port=80),),
    )
    eps = slice_of("svc1", endpoint("10.180.0.1"), endpoint("10.180.2.1", node=TEST_NODE))
    return upstream_index(mode, (svc,), (eps,))
