"""kube-proxy's iptables packet-flow tests, ported as parameter tables.

Source: kubernetes/kubernetes ``pkg/proxy/iptables/proxier_test.go``, the stored version
of the KP §0 table (≈v1.32, emulating 1.31 for the LoadBalancerIPMode gate-off cases).
TestOnlyLocalNodePorts[NoClusterCIDR] and TestNonLocalExternalIPs come from an older stored
version (≈v1.27, still with ``testHostname`` and ``NewNoOpLocalDetector``), and
TestOnlyLocalExternalIPs from ≈v1.25 as reproduced in a public write-up; later releases
folded their flows into TestNodePorts and TestExternalTrafficPolicy{Local,Cluster}. Each
test function is named after the upstream test it ports; each row is one upstream
``packetFlowTest`` with its name as the id. Tables the nftables file shares word for word
are in :mod:`tests.unit.model.kubeproxy_tables`, setups in
:mod:`tests.unit.model.kubeproxy_scenarios`. Where an upstream label is wrong the row
follows what the code does (KP §18).
"""

from __future__ import annotations

import pytest

from tests.unit.model import kubeproxy_scenarios as scenario
from tests.unit.model import kubeproxy_tables as table
from tests.unit.model.kubeproxy_upstream import (
    EXTERNAL_CLIENT,
    NODE_IP,
    NODE_IP_ALT,
    NODE_IPV6,
    NODE_IPV6_ALT,
    NODE_OWNED_EXTERNAL_IP,
    POD,
    Flow,
    assert_flow,
    flow,
    trace,
)

MODE = "iptables"
C = EXTERNAL_CLIENT

# ------------------------------------------------------------------ TestOverallIPTablesRules
# Upstream runs these flows in TestTracePacket, against a static copy of the rules
# TestOverallIPTablesRules generates for this setup.
OVERALL = [
    flow("no match", POD, "10.0.0.3", 80, ""),
    flow("single endpoint", POD, "172.30.0.41", 80, "10.180.0.1:80"),
    flow("multiple endpoints", POD, "172.30.0.44", 80, "10.180.0.4:80, 10.180.0.5:80"),
    flow("LOCAL, KUBE-MARK-MASQ", NODE_IP, "192.168.99.22", 80, "10.180.0.2:80", masq=True),
    flow("DROP", C, "192.168.99.22", 80, "DROP"),
    # KP §13.1: iptables opens the health-check node port in its filter table.
    flow("ACCEPT (NodePortHealthCheck)", NODE_IP, NODE_IP, 30000, "ACCEPT"),
    flow("REJECT", POD, "172.30.0.46", 80, "REJECT"),
]


@pytest.mark.parametrize("f", OVERALL)
def test_TestOverallIPTablesRules(f: Flow) -> None:
    """Flows through the six-service setup do what the iptables rules say."""
    assert_flow(trace(scenario.overall(MODE), f), f)


# ------------------------------------------------------------------ TestNoEndpointsReject
@pytest.mark.parametrize("f", table.NO_ENDPOINTS_REJECT)
def test_TestNoEndpointsReject(f: Flow) -> None:
    """A service without endpoints rejects on every entry point (KP §6.2)."""
    assert_flow(trace(scenario.no_endpoints_reject(MODE), f), f)


# ------------------------------------------------------------------ TestClusterIPGeneral
SRC = "10.180.0.2"
BOTH = "10.180.0.1:{0}, 10.180.2.1:{0}"
CLUSTER_IP_GENERAL = [
    flow("simple clusterIP", SRC, "172.30.0.41", 80, "10.180.0.1:80"),
    flow("hairpin to cluster IP", "10.180.0.1", "172.30.0.41", 80, "10.180.0.1:80", masq=True),
    flow("clusterIP with multiple endpoints", SRC, "172.30.0.42", 80, BOTH.format(80)),
    flow("clusterIP with TargetPort", SRC, "172.30.0.42", 443, BOTH.format(8443)),
    flow(
        "clusterIP with TCP, UDP, and SCTP on same port (TCP)",
        SRC,
        "172.30.0.42",
        53,
        BOTH.format(5353),
    ),
    flow(
        "clusterIP with TCP, UDP, and SCTP on same port (UDP)",
        SRC,
        "172.30.0.42",
        53,
        BOTH.format(53),
        protocol="UDP",
    ),
    flow(
        "clusterIP with TCP, UDP, and SCTP on same port (SCTP)",
        SRC,
        "172.30.0.42",
        53,
        BOTH.format(53),
        protocol="SCTP",
    ),
    # KP §6.4: iptables has no rule for an unknown port of a ClusterIP (nftables rejects).
    flow("TCP-only port does not match UDP traffic", SRC, "172.30.0.42", 80, "", protocol="UDP"),
    flow("svc1 does not accept svc2's ports", SRC, "172.30.0.41", 443, ""),
]


@pytest.mark.parametrize("f", CLUSTER_IP_GENERAL)
def test_TestClusterIPGeneral(f: Flow) -> None:
    """ClusterIP basics: target ports, protocols, hairpin; unmatched ports pass untouched."""
    assert_flow(trace(scenario.cluster_ip_general(MODE), f), f)


# ------------------------------------------------------------------ TestLoadBalancer
@pytest.mark.parametrize("f", table.LOAD_BALANCER)
def test_TestLoadBalancer(f: Flow) -> None:
    """Source ranges guard the VIPs only, and admit the VIPs when the node is in (KP §8)."""
    assert_flow(trace(scenario.load_balancer(MODE), f), f)


# ------------------------------------------------------------------ TestNodePorts
# case → (family, localhost NodePorts, --nodeport-addresses (None: all local), alt IP allowed)
NODE_PORTS_CASES = {
    "ipv4, localhost-nodeports enabled": ("IPv4", True, None, True),
    "ipv4, localhost-nodeports disabled": ("IPv4", False, None, True),
    "ipv4, localhost-nodeports disabled, localhost in nodeport-addresses": (
        "IPv4",
        False,
        ("192.168.0.0/24", "127.0.0.1/32"),
        False,
    ),
    # KP §18: upstream names this case "localhost-nodeports enabled" but turns them off.
    "ipv4, localhost-nodeports enabled, multiple nodeport-addresses": (
        "IPv4",
        False,
        ("192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"),
        True,
    ),
    "ipv6, localhost-nodeports enabled": ("IPv6", True, None, True),
    "ipv6, localhost-nodeports disabled": ("IPv6", False, None, True),
    "ipv6, localhost-nodeports disabled, multiple nodeport-addresses": (
        "IPv6",
        False,
        ("192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"),
        False,
    ),
}
# family → (pod, client, node IP, secondary node IP, localhost, ClusterIP, both endpoints)
NODE_PORTS_ADDRESSES = {
    "IPv4": (
        POD,
        C,
        NODE_IP,
        NODE_IP_ALT,
        "127.0.0.1",
        "172.30.0.41",
        "10.180.0.1:80, 10.180.2.1:80",
    ),
    "IPv6": (
        "fd00:10::2",
        "2600:5200::1",
        NODE_IPV6,
        NODE_IPV6_ALT,
        "::1",
        "fd00:172:30::41",
        "[fd00:10:180::1]:80, [fd00:10:180::2:1]:80",
    ),
}


def node_port_flows(case: str) -> list[object]:
    """The three flows every case runs, then its localhost and secondary-IP flows."""
    family, localhost_on, _, alt_allowed = NODE_PORTS_CASES[case]
    pod, client, node_ip, alt_ip, lo, svc_ip, out = NODE_PORTS_ADDRESSES[family]
    return [
        flow("pod to cluster IP", pod, svc_ip, 80, out, case=case),
        flow("external to nodePort", client, node_ip, 3001, out, masq=True, case=case),
        flow("node to nodePort", node_ip, node_ip, 3001, out, masq=True, case=case),
        # KP §3.4: localhost NodePorts exist for IPv4 only, and only when enabled.
        flow("localhost to nodePort gets masqueraded", lo, lo, 3001, out, masq=True, case=case)
        if family == "IPv4" and localhost_on
        else flow("localhost to nodePort is ignored", lo, lo, 3001, "", case=case),
        flow(
            "external to nodePort on secondary IP", client, alt_ip, 3001, out, masq=True, case=case
        )
        if alt_allowed
        else flow("secondary nodeIP ignores NodePorts", client, alt_ip, 3001, "", case=case),
    ]


@pytest.mark.parametrize("f", [f for case in NODE_PORTS_CASES for f in node_port_flows(case)])
def test_TestNodePorts(f: Flow) -> None:
    """iptables NodePorts answer on every local address, narrowed by nodeport-addresses."""
    family, localhost_on, addresses, _ = NODE_PORTS_CASES[f.case]
    assert_flow(trace(scenario.node_ports(MODE, family, addresses, localhost_on), f), f)


# ------------------------------------------------------------------ TestHealthCheckNodePort
HEALTH_CHECK_NODE_PORT = [
    flow(
        "firewall accepts HealthCheckNodePort", "1.2.3.4", NODE_IP, 30000, "ACCEPT", case="service"
    ),
    flow(
        "HealthCheckNodePort no longer has any rule",
        "1.2.3.4",
        NODE_IP,
        30000,
        "",
        case="service deleted",
    ),
]


@pytest.mark.parametrize("f", HEALTH_CHECK_NODE_PORT)
def test_TestHealthCheckNodePort(f: Flow) -> None:
    """iptables accepts the health-check node port on any address while the service lives."""
    index = scenario.health_check_node_port(MODE, deleted=f.case == "service deleted")
    assert_flow(trace(index, f), f)


# ------------------------------------------------------------------ TestExternalTrafficPolicyLocal
@pytest.mark.parametrize("f", table.ETP_LOCAL)
def test_TestExternalTrafficPolicyLocal(f: Flow) -> None:
    """eTP=Local: external clients reach local pods unmasqueraded, pods reach all (KP §4.3)."""
    assert_flow(trace(scenario.external_traffic_policy(MODE, "Local"), f), f)


# ------------------------------------------------------------------ TestExternalTrafficPolicyCluster
@pytest.mark.parametrize("f", table.ETP_CLUSTER)
def test_TestExternalTrafficPolicyCluster(f: Flow) -> None:
    """eTP=Cluster masquerades every external-path packet, local pod or not (KP §4.2)."""
    assert_flow(trace(scenario.external_traffic_policy(MODE, "Cluster"), f), f)


# ------------------------------------------------------------------ TestInternalTrafficPolicy
@pytest.mark.parametrize("f", table.INTERNAL_TRAFFIC_POLICY)
def test_TestInternalTrafficPolicy(f: Flow) -> None:
    """iTP=Local narrows ClusterIP traffic to local endpoints and drops without them (KP §11)."""
    case, gone = table.deleted(f.case)
    assert_flow(trace(scenario.internal_traffic_policy(MODE, case, gone), f), f)


# ------------------------------------------------------------------ TestTerminatingEndpointsTrafficPolicyLocal
@pytest.mark.parametrize("f", table.TERMINATING_LOCAL)
def test_TestTerminatingEndpointsTrafficPolicyLocal(f: Flow) -> None:
    """eTP=Local falls back to local serving+terminating pods on its own (KP §2.3)."""
    case, gone = table.deleted(f.case)
    assert_flow(trace(scenario.terminating(MODE, "Local", case, gone), f), f)


# ------------------------------------------------------------------ TestTerminatingEndpointsTrafficPolicyCluster
@pytest.mark.parametrize("f", table.TERMINATING_CLUSTER)
def test_TestTerminatingEndpointsTrafficPolicyCluster(f: Flow) -> None:
    """eTP=Cluster uses serving+terminating pods only when none anywhere is Ready (KP §2.3)."""
    case, gone = table.deleted(f.case)
    assert_flow(trace(scenario.terminating(MODE, "Cluster", case, gone), f), f)


# ------------------------------------------------------------------ TestInternalExternalMasquerade
# iptables adds three localhost flows to the shared table: loopback is a local source and
# a NodePort address here (KP §3.4), so they short-circuit like the node's own IP.
LO = "127.0.0.1"
MASQUERADE = [
    *table.MASQUERADE,
    ("localhost to NodePort", LO, LO, 3001, table.SVC1, True),
    ("localhost to NodePort with eTP:Local", LO, LO, 3002, table.SVC2, True),
    ("localhost to NodePort with iTP:Local", LO, LO, 3003, table.SVC3, True),
]


@pytest.mark.parametrize("f", table.masquerade_flows(MASQUERADE))
def test_TestInternalExternalMasquerade(f: Flow) -> None:
    """Who is masqueraded, by source, destination, policy, detector, masqueradeAll (KP §4.4)."""
    detector, masquerade_all, _ = table.MASQUERADE_VARIANTS[f.case]
    index = scenario.internal_external_masquerade(MODE, detector, masquerade_all)
    assert_flow(trace(index, f), f)


# ------------------------------------------------------------------ TestLoadBalancerIngressRouteTypeProxy
@pytest.mark.parametrize("f", table.ROUTE_TYPE_PROXY)
def test_TestLoadBalancerIngressRouteTypeProxy(f: Flow) -> None:
    """ipMode Proxy ingress IPs get no rules while the gate is on (KP §10.2)."""
    gate, cluster_ip, lb_ip, ip_mode, _ = table.ROUTE_TYPE_PROXY_CASES[f.case]
    index = scenario.route_type_proxy(MODE, cluster_ip, lb_ip, ip_mode, gate)
    assert_flow(trace(index, f), f)


# ------------------------------------------------------------------ TestOnlyLocalNodePorts
# NodePorts restricted to 192.168.0.0/24 and 2001:db8::/64, localhost NodePorts off.
LOCAL, BOTH_EPS = table.LOCAL, table.BOTH
ONLY_LOCAL_NODE_PORTS = [
    flow("pod to cluster IP hit both endpoints", POD, "172.30.0.41", 80, BOTH_EPS),
    flow("external to NodePort hits only local endpoint", C, NODE_IP, 3001, LOCAL),
    flow(
        "pod to localhost doesn't work because localhost is not in nodePortAddresses",
        POD,
        "127.0.0.1",
        3001,
        "",
    ),
    # with a detector, pod → NodePort is pod traffic and short-circuits (KP §4.3)
    flow("pod to NodePort hits both endpoints", POD, NODE_IP, 3001, BOTH_EPS),
]


@pytest.mark.parametrize("f", ONLY_LOCAL_NODE_PORTS)
def test_TestOnlyLocalNodePorts(f: Flow) -> None:
    """An eTP=Local NodePort gives external clients local pods and pods all of them."""
    assert_flow(trace(scenario.only_local_node_ports(MODE, detector=True), f), f)


# ------------------------------------------------------------------ TestOnlyLocalNodePortsNoClusterCIDR
ONLY_LOCAL_NODE_PORTS_NO_CLUSTER_CIDR = [
    *ONLY_LOCAL_NODE_PORTS[:3],
    # without a detector the pod is "anyone else" and gets only the local endpoint
    flow("pod to NodePort hits only local endpoint", POD, NODE_IP, 3001, LOCAL),
]


@pytest.mark.parametrize("f", ONLY_LOCAL_NODE_PORTS_NO_CLUSTER_CIDR)
def test_TestOnlyLocalNodePortsNoClusterCIDR(f: Flow) -> None:
    """Without a local-traffic detector pods are treated like external clients (KP §4.3)."""
    assert_flow(trace(scenario.only_local_node_ports(MODE, detector=False), f), f)


# ------------------------------------------------------------------ TestOnlyLocalExternalIPs
EXT_IP = NODE_OWNED_EXTERNAL_IP
ONLY_LOCAL_EXTERNAL_IPS = [
    flow("cluster IP hits both endpoints", POD, "172.30.0.41", 80, BOTH_EPS),
    flow("external IP hits only local endpoint, unmasqueraded", C, EXT_IP, 80, LOCAL),
]


@pytest.mark.parametrize("f", ONLY_LOCAL_EXTERNAL_IPS)
def test_TestOnlyLocalExternalIPs(f: Flow) -> None:
    """eTP=Local applies to externalIPs: local endpoint only, client IP kept (KP §1.2)."""
    assert_flow(trace(scenario.external_ips(MODE, "Local"), f), f)


# ------------------------------------------------------------------ TestNonLocalExternalIPs
NON_LOCAL_EXTERNAL_IPS = [
    flow("pod to cluster IP", POD, "172.30.0.41", 80, BOTH_EPS),
    flow("external to external IP", C, EXT_IP, 80, BOTH_EPS, masq=True),
]


@pytest.mark.parametrize("f", NON_LOCAL_EXTERNAL_IPS)
def test_TestNonLocalExternalIPs(f: Flow) -> None:
    """An eTP=Cluster externalIP reaches every endpoint, masqueraded (KP §4.2)."""
    assert_flow(trace(scenario.external_ips(MODE, "Cluster"), f), f)
