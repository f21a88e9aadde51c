"""kube-proxy's nftables packet-flow tests, ported as parameter tables.

Source: kubernetes/kubernetes ``pkg/proxy/nftables/proxier_test.go`` at commit
81810de635aa13aa0a32992f6def3aa9d6025ebc (KP §0); the LoadBalancerIPMode gate-off cases of
TestLoadBalancerIngressRouteTypeProxy come from the stored version 030880a5dc54, which still
had the gate. Each test function is named after the upstream test it ports; each row is one
upstream ``packetFlowTest`` with its name as the id. Tables the iptables file shares word
for word are in :mod:`tests.unit.model.kubeproxy_tables`, setups in
:mod:`tests.unit.model.kubeproxy_scenarios`. Where an upstream label is wrong the row
follows what the code does (KP §18).
"""

from __future__ import annotations

import pytest

from tests.unit.model import kubeproxy_scenarios as scenario
from tests.unit.model import kubeproxy_tables as table
from tests.unit.model.kubeproxy_upstream import (
    EXTERNAL_CLIENT,
    EXTERNAL_CLIENT_BLOCKED,
    NODE_IP,
    NODE_IP_ALT,
    NODE_IPV6,
    NODE_IPV6_ALT,
    POD,
    Flow,
    assert_flow,
    flow,
    trace,
)

MODE = "nftables"
C = EXTERNAL_CLIENT

# ------------------------------------------------------------------ TestOverallNFTablesRules
# Upstream checks only the rule dump here. The first six rows are the flows iptables'
# TestTracePacket runs against this same setup (named as there); the "dump:" rows are read
# off the nftables dump (no-endpoint-services/-nodeports verdicts, firewall-ips,
# service-nodeports, cluster-ips-check).
OVERALL = [
    flow("no match", POD, "10.0.0.3", 80, ""),
    flow("single endpoint", POD, "172.30.0.41", 80, "10.180.0.1:80"),
    flow("multiple endpoints", POD, "172.30.0.44", 80, "10.180.0.4:80, 10.180.0.5:80"),
    flow("LOCAL, KUBE-MARK-MASQ", NODE_IP, "192.168.99.22", 80, "10.180.0.2:80", masq=True),
    flow("DROP", C, "192.168.99.22", 80, "DROP"),
    flow("REJECT", POD, "172.30.0.46", 80, "REJECT"),
    flow("dump: eTP:Local NodePort without local endpoint", C, NODE_IP, 3001, "DROP"),
    flow("dump: eTP:Local LB IP without local endpoint", C, "1.2.3.4", 80, "DROP"),
    flow("dump: pod to eTP:Local LB IP short-circuits", POD, "1.2.3.4", 80, "10.180.0.2:80"),
    flow("dump: NodePort", C, NODE_IP, 3003, "10.180.0.3:80", masq=True),
    flow("dump: external IP", C, "192.168.99.33", 80, "10.180.0.4:80, 10.180.0.5:80", masq=True),
    flow("dump: firewall accepts", C, "5.6.7.8", 80, "10.180.0.3:80", masq=True),
    flow("dump: firewall drops", EXTERNAL_CLIENT_BLOCKED, "5.6.7.8", 80, "DROP"),
    flow(
        "dump: NodePort skips the firewall",
        EXTERNAL_CLIENT_BLOCKED,
        NODE_IP,
        3002,
        "10.180.0.3:80",
        masq=True,
    ),
    flow("dump: ClusterIP, wrong port", POD, "172.30.0.46", 81, "REJECT"),
]


@pytest.mark.parametrize("f", OVERALL)
def test_TestOverallNFTablesRules(f: Flow) -> None:
    """Flows through the six-service setup do what the nftables rule dump says."""
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
    # KP §18: upstream labels this UDP packet "(TCP)" too; the id follows the packet.
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
    # KP §6.4: nftables rejects unknown ports of an active ClusterIP and drops unallocated
    # addresses of the service CIDR (iptables has no rule for either).
    flow(
        "TCP-only port does not match UDP traffic", SRC, "172.30.0.42", 80, "REJECT", protocol="UDP"
    ),
    flow("svc1 does not accept svc2's ports", SRC, "172.30.0.41", 443, "REJECT"),
    flow("packet to unallocated cluster ip", SRC, "172.30.0.50", 80, "DROP"),
]


@pytest.mark.parametrize("f", CLUSTER_IP_GENERAL)
def test_TestClusterIPGeneral(f: Flow) -> None:
    """ClusterIP basics: target ports, protocols, hairpin, unmatched ports and addresses."""
    assert_flow(trace(scenario.cluster_ip_general(MODE), f), f)


# ------------------------------------------------------------------ TestLoadBalancer
@pytest.mark.parametrize("f", table.LOAD_BALANCER)
def test_TestLoadBalancer(f: Flow) -> None:
    """Source ranges guard the VIPs only, and admit the VIPs when the node is in (KP §8)."""
    assert_flow(trace(scenario.load_balancer(MODE), f), f)


# ------------------------------------------------------------------ TestNodePorts
# case → (family, --nodeport-addresses (None: the fake's primary-IP default), alt IP allowed)
NODE_PORTS_CASES = {
    "ipv4": ("IPv4", None, False),
    "ipv4, multiple nodeport-addresses": (
        "IPv4",
        ("192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"),
        True,
    ),
    "ipv6": ("IPv6", None, False),
    "ipv6, multiple nodeport-addresses": (
        "IPv6",
        ("192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64", "2001:db8:1::2/128"),
        True,
    ),
}
# family → (pod, external client, node IP, secondary node IP, ClusterIP, both endpoints)
NODE_PORTS_ADDRESSES = {
    "IPv4": (POD, C, NODE_IP, NODE_IP_ALT, "172.30.0.41", "10.180.0.1:80, 10.180.2.1:80"),
    "IPv6": (
        "fd00:10::2",
        "2600:5200::1",
        NODE_IPV6,
        NODE_IPV6_ALT,
        "fd00:172:30::41",
        "[fd00:10:180::1]:80, [fd00:10:180::2:1]:80",
    ),
}


def node_port_flows(case: str) -> list[object]:
    """The three flows every TestNodePorts case runs, then its secondary-IP flow."""
    family, _, alt_allowed = NODE_PORTS_CASES[case]
    pod, client, node_ip, alt_ip, svc_ip, out = NODE_PORTS_ADDRESSES[family]
    return [
        flow("pod to cluster IP", pod, svc_ip, 80, out, case=case),
        flow("external to nodePort", client, node_ip, 3001, out, masq=True, case=case),
        flow("node to nodePort", node_ip, node_ip, 3001, out, masq=True, case=case),
        flow(
            "external to nodePort on secondary IP", client, alt_ip, 3001, out, masq=True, case=case
        )
        if alt_allowed
        else flow("secondary nodeIP ignores NodePorts", client, alt_ip, 3001, "", case=case),
    ]


@pytest.mark.parametrize("f", [f for case in NODE_PORTS_CASES for f in node_port_flows(case)])
def test_TestNodePorts(f: Flow) -> None:
    """nftables NodePorts answer on the primary IP only, unless nodeport-addresses widen it."""
    family, addresses, _ = NODE_PORTS_CASES[f.case]
    assert_flow(trace(scenario.node_ports(MODE, family, addresses), f), f)


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
@pytest.mark.parametrize("f", table.masquerade_flows(table.MASQUERADE))
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
