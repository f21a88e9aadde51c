"""Packet-flow tables that kube-proxy's iptables and nftables test files share word for word.

Each table transcribes one upstream test's ``packetFlowTest`` rows (name, source,
destination, port, expected output, masquerade mark); both backend test modules
parametrize over it, so a difference between the backends shows up as a failure in one
module only. Tables that differ between the files live in the backend modules. The
setups are in :mod:`tests.unit.model.kubeproxy_scenarios`.
"""

from __future__ import annotations

from tests.unit.model import kubeproxy_scenarios as scenario
from tests.unit.model.kubeproxy_upstream import (
    EXTERNAL_CLIENT,
    EXTERNAL_CLIENT_BLOCKED,
    NODE_IP,
    NODE_OWNED_EXTERNAL_IP,
    POD,
    flow,
)

C = EXTERNAL_CLIENT
BLOCKED = EXTERNAL_CLIENT_BLOCKED
EXT_IP = NODE_OWNED_EXTERNAL_IP
DELETED = " (after the slice is deleted)"

# One row of TestInternalExternalMasquerade: name, source, destination, port, output, masq.
MasqueradeRow = tuple[str, str, str, int, str, bool]


def deleted(case: str) -> tuple[str, bool]:
    """Split a case name into its setup and whether its slice was deleted afterwards."""
    return case.removesuffix(DELETED), case.endswith(DELETED)


# ------------------------------------------------------------------ TestNoEndpointsReject
NO_ENDPOINTS_REJECT = [
    flow("pod to cluster IP with no endpoints", POD, "172.30.0.41", 80, "REJECT"),
    flow("external to external IP with no endpoints", C, EXT_IP, 80, "REJECT"),
    flow("pod to NodePort with no endpoints", POD, NODE_IP, 3001, "REJECT"),
    flow("external to NodePort with no endpoints", C, NODE_IP, 3001, "REJECT"),
    flow("pod to LoadBalancer IP with no endpoints", POD, "1.2.3.4", 80, "REJECT"),
    flow("external to LoadBalancer IP with no endpoints", C, "1.2.3.4", 80, "REJECT"),
]

# ------------------------------------------------------------------ TestLoadBalancer
EP = "10.180.0.1:80"
LOAD_BALANCER = [
    flow("pod to cluster IP", POD, "172.30.0.41", 80, EP),
    flow("external to nodePort", C, NODE_IP, 3001, EP, masq=True),
    # KP §8.1: the source ranges guard the VIPs only.
    flow("nodePort bypasses LoadBalancerSourceRanges", BLOCKED, NODE_IP, 3001, EP, masq=True),
    flow("accepted external to LB1", C, "1.2.3.4", 80, EP, masq=True),
    flow("accepted external to LB2", C, "5.6.7.8", 80, EP, masq=True),
    flow("blocked external to LB1", BLOCKED, "1.2.3.4", 80, "DROP"),
    flow("blocked external to LB2", BLOCKED, "5.6.7.8", 80, "DROP"),
    flow("pod to LB1 (blocked by LoadBalancerSourceRanges)", POD, "1.2.3.4", 80, "DROP"),
    flow("pod to LB2 (blocked by LoadBalancerSourceRanges)", POD, "5.6.7.8", 80, "DROP"),
    flow(
        "node to LB1 (allowed by LoadBalancerSourceRanges)", NODE_IP, "1.2.3.4", 80, EP, masq=True
    ),
    flow(
        "node to LB2 (allowed by LoadBalancerSourceRanges)", NODE_IP, "5.6.7.8", 80, EP, masq=True
    ),
    # KP §8.4: the node IP is inside a range, so the VIPs are accepted as sources too.
    flow(
        "same node to LB1, SNATted to LB1 (implicitly allowed)",
        "1.2.3.4",
        "1.2.3.4",
        80,
        EP,
        masq=True,
    ),
    flow(
        "same node to LB2, SNATted to LB2 (implicitly allowed)",
        "5.6.7.8",
        "5.6.7.8",
        80,
        EP,
        masq=True,
    ),
]

# ------------------------------------------------------------------ TestExternalTrafficPolicyLocal
BOTH = "10.180.0.1:80, 10.180.2.1:80"
LOCAL = "10.180.2.1:80"  # the endpoint on test-node
ETP_LOCAL = [
    flow("pod to cluster IP hits both endpoints, unmasqueraded", POD, "172.30.0.41", 80, BOTH),
    flow("pod to external IP hits both endpoints, unmasqueraded", POD, EXT_IP, 80, BOTH),
    flow("external to external IP hits only local endpoint, unmasqueraded", C, EXT_IP, 80, LOCAL),
    flow("pod to LB IP hits only both endpoints, unmasqueraded", POD, "1.2.3.4", 80, BOTH),
    flow("external to LB IP hits only local endpoint, unmasqueraded", C, "1.2.3.4", 80, LOCAL),
    flow("pod to NodePort hits both endpoints, unmasqueraded", POD, NODE_IP, 3001, BOTH),
    flow("external to NodePort hits only local endpoint, unmasqueraded", C, NODE_IP, 3001, LOCAL),
]

# ------------------------------------------------------------------ TestExternalTrafficPolicyCluster
ETP_CLUSTER = [
    flow("pod to cluster IP hits both endpoints, unmasqueraded", POD, "172.30.0.41", 80, BOTH),
    flow("pod to external IP hits both endpoints, masqueraded", POD, EXT_IP, 80, BOTH, masq=True),
    flow(
        "external to external IP hits both endpoints, masqueraded", C, EXT_IP, 80, BOTH, masq=True
    ),
    flow("pod to LB IP hits both endpoints, masqueraded", POD, "1.2.3.4", 80, BOTH, masq=True),
    flow("external to LB IP hits both endpoints, masqueraded", C, "1.2.3.4", 80, BOTH, masq=True),
    flow("pod to NodePort hits both endpoints, masqueraded", POD, NODE_IP, 3001, BOTH, masq=True),
    flow(
        "external to NodePort hits both endpoints, masqueraded", C, NODE_IP, 3001, BOTH, masq=True
    ),
]

# ------------------------------------------------------------------ TestInternalTrafficPolicy
ITP_CLUSTER, ITP_ONE, ITP_MANY, ITP_NONE = scenario.INTERNAL_TRAFFIC_POLICY_CASES
INTERNAL_TRAFFIC_POLICY = [
    flow(
        "pod to ClusterIP hits all endpoints",
        POD,
        "172.30.1.1",
        80,
        "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80",
        case=ITP_CLUSTER,
    ),
    flow(
        "pod to ClusterIP hits only local endpoint",
        POD,
        "172.30.1.1",
        80,
        "10.0.1.1:80",
        case=ITP_ONE,
    ),
    flow(
        "pod to ClusterIP hits all local endpoints",
        POD,
        "172.30.1.1",
        80,
        "10.0.1.1:80, 10.0.1.2:80",
        case=ITP_MANY,
    ),
    flow("no endpoints", POD, "172.30.1.1", 80, "DROP", case=ITP_NONE),
    # after each case upstream deletes the slice: the service then rejects
    *(
        flow("endpoints deleted", POD, "172.30.1.1", 80, "REJECT", case=case + DELETED)
        for case in scenario.INTERNAL_TRAFFIC_POLICY_CASES
    ),
]

# ------------------------------------------------------------------ TestTerminatingEndpoints*
CIP, LB = "172.30.1.1", "1.2.3.4"
READY, TERMINATING, REMOTE, UNUSABLE = scenario.TERMINATING_LOCAL_CASES  # both tests' names


def after_delete(cases: dict[str, object]) -> list[object]:
    """The two flows upstream checks once each case's slice is deleted: both REJECT."""
    return [
        flow(name, src, dst, 80, "REJECT", case=case + DELETED)
        for case in cases
        for name, src, dst in (
            ("pod to clusterIP after endpoints deleted", POD, CIP),
            ("external to LB after endpoints deleted", C, LB),
        )
    ]


TERMINATING_LOCAL = [
    flow("pod to clusterIP", POD, CIP, 80, "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", case=READY),
    flow("external to LB", C, LB, 80, "10.0.1.1:80, 10.0.1.2:80", case=READY),
    flow("pod to clusterIP", POD, CIP, 80, "10.0.1.5:80", case=TERMINATING),
    flow("external to LB", C, LB, 80, "10.0.1.2:80, 10.0.1.3:80", case=TERMINATING),
    flow("pod to clusterIP", POD, CIP, 80, "10.0.1.5:80", case=REMOTE),
    flow("external to LB, no locally-usable endpoints", C, LB, 80, "DROP", case=REMOTE),
    flow("pod to clusterIP, no usable endpoints", POD, CIP, 80, "REJECT", case=UNUSABLE),
    flow("external to LB, no usable endpoints", C, LB, 80, "REJECT", case=UNUSABLE),
    *after_delete(scenario.TERMINATING_LOCAL_CASES),
]

ALL3 = "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80"
TERM3 = "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80"
TERMINATING_CLUSTER = [
    flow("pod to clusterIP", POD, CIP, 80, ALL3, case=READY),
    flow("external to LB", C, LB, 80, ALL3, masq=True, case=READY),
    flow("pod to clusterIP", POD, CIP, 80, TERM3, case=TERMINATING),
    flow("external to LB", C, LB, 80, TERM3, masq=True, case=TERMINATING),
    flow("pod to clusterIP", POD, CIP, 80, "10.0.1.5:80", case=REMOTE),
    flow("external to LB", C, LB, 80, "10.0.1.5:80", masq=True, case=REMOTE),
    flow("pod to clusterIP", POD, CIP, 80, "REJECT", case=UNUSABLE),
    flow("external to LB", C, LB, 80, "REJECT", case=UNUSABLE),
    *after_delete(scenario.TERMINATING_CLUSTER_CASES),
]

# ------------------------------------------------------------------ TestInternalExternalMasquerade
# The same flows run under four configurations. The base expectations are for a working
# detector without masqueradeAll; each variant overrides a few of them (KP §4.4). iptables
# adds three localhost rows (see its module).
SVC1 = "10.180.0.1:80, 10.180.1.1:80"
SVC2 = "10.180.0.2:80, 10.180.1.2:80"
SVC3 = "10.180.0.3:80, 10.180.1.3:80"
MASQUERADE: list[MasqueradeRow] = [
    ("pod to ClusterIP", POD, "172.30.0.41", 80, SVC1, False),
    ("pod to NodePort", POD, NODE_IP, 3001, SVC1, True),
    ("pod to LB", POD, "1.2.3.4", 80, SVC1, True),
    ("node to ClusterIP", NODE_IP, "172.30.0.41", 80, SVC1, True),
    ("node to NodePort", NODE_IP, NODE_IP, 3001, SVC1, True),
    ("node to LB", NODE_IP, "1.2.3.4", 80, SVC1, True),
    ("external to ClusterIP", C, "172.30.0.41", 80, SVC1, True),
    ("external to NodePort", C, NODE_IP, 3001, SVC1, True),
    ("external to LB", C, "1.2.3.4", 80, SVC1, True),
    ("pod to ClusterIP with eTP:Local", POD, "172.30.0.42", 80, SVC2, False),
    ("pod to NodePort with eTP:Local", POD, NODE_IP, 3002, SVC2, False),
    ("pod to LB with eTP:Local", POD, "5.6.7.8", 80, SVC2, False),
    ("node to ClusterIP with eTP:Local", NODE_IP, "172.30.0.42", 80, SVC2, True),
    # KP §18: upstream sends this one to NodePort 3001, the eTP=Cluster service, so it does
    # not exercise Local at all; the row keeps the packet and its svc1 result.
    ("node to NodePort with eTP:Local", NODE_IP, NODE_IP, 3001, SVC1, True),
    ("node to LB with eTP:Local", NODE_IP, "5.6.7.8", 80, SVC2, True),
    ("external to ClusterIP with eTP:Local", C, "172.30.0.42", 80, SVC2, True),
    ("external to NodePort with eTP:Local", C, NODE_IP, 3002, "10.180.0.2:80", False),
    ("external to LB with eTP:Local", C, "5.6.7.8", 80, "10.180.0.2:80", False),
    ("pod to ClusterIP with iTP:Local", POD, "172.30.0.43", 80, "10.180.0.3:80", False),
    ("pod to NodePort with iTP:Local", POD, NODE_IP, 3003, SVC3, True),
    ("pod to LB with iTP:Local", POD, "9.10.11.12", 80, SVC3, True),
    ("node to ClusterIP with iTP:Local", NODE_IP, "172.30.0.43", 80, "10.180.0.3:80", True),
    ("node to NodePort with iTP:Local", NODE_IP, NODE_IP, 3003, SVC3, True),
    ("node to LB with iTP:Local", NODE_IP, "9.10.11.12", 80, SVC3, True),
    ("external to ClusterIP with iTP:Local", C, "172.30.0.43", 80, "10.180.0.3:80", True),
    ("external to NodePort with iTP:Local", C, NODE_IP, 3003, SVC3, True),
    ("external to LB with iTP:Local", C, "9.10.11.12", 80, SVC3, True),
]
NO_SHORT_CIRCUIT = {  # without a detector pods are "anyone else": eTP=Local gives them L
    "pod to NodePort with eTP:Local": ("10.180.0.2:80", None),
    "pod to LB with eTP:Local": ("10.180.0.2:80", None),
}
NO_DETECTOR = {  # ...and ClusterIP traffic is never masqueraded
    "node to ClusterIP": (None, False),
    "node to ClusterIP with eTP:Local": (None, False),
    "node to ClusterIP with iTP:Local": (None, False),
    "external to ClusterIP": (None, False),
    "external to ClusterIP with eTP:Local": (None, False),
    "external to ClusterIP with iTP:Local": (None, False),
    **NO_SHORT_CIRCUIT,
}
MASQUERADE_ALL = {  # masqueradeAll: pod → ClusterIP is masqueraded too
    "pod to ClusterIP": (None, True),
    "pod to ClusterIP with eTP:Local": (None, True),
    "pod to ClusterIP with iTP:Local": (None, True),
}
# variant → (detector, masqueradeAll, overrides {flow name: (output or None, masq or None)})
MASQUERADE_VARIANTS: dict[str, tuple[bool, bool, dict[str, tuple[str | None, bool | None]]]] = {
    "base": (True, False, {}),
    "no LocalTrafficDetector": (False, False, NO_DETECTOR),
    "masqueradeAll": (True, True, MASQUERADE_ALL),
    "masqueradeAll, no LocalTrafficDetector": (False, True, {**MASQUERADE_ALL, **NO_SHORT_CIRCUIT}),
}


def masquerade_flows(base: list[MasqueradeRow]) -> list[object]:
    """Every base row under every variant, with the variant's overrides applied."""
    rows = []
    for variant, (_, _, overrides) in MASQUERADE_VARIANTS.items():
        for name, src, dst, port, out, masq in base:
            new_out, new_masq = overrides.get(name, (None, None))
            output = out if new_out is None else new_out
            marked = masq if new_masq is None else new_masq
            rows.append(flow(name, src, dst, port, output, masq=marked, case=variant))
    return rows


# ------------------------------------------------------------------ TestLoadBalancerIngressRouteTypeProxy
# Upstream only checks whether a rule for the ingress IP exists; a packet from an external
# client shows the same thing: a masqueraded DNAT (eTP=Cluster) if it does, no match if not.
# case → (LoadBalancerIPMode gate, ClusterIP, ingress IP, ipMode, rule expected)
ROUTE_TYPE_PROXY_CASES = {
    "LoadBalancerIPMode disabled, ipMode Proxy": (False, "10.20.30.41", "1.2.3.4", "Proxy", True),
    "LoadBalancerIPMode disabled, ipMode VIP": (False, "10.20.30.42", "1.2.3.5", "VIP", True),
    "LoadBalancerIPMode disabled, ipMode nil": (False, "10.20.30.43", "1.2.3.6", None, True),
    "LoadBalancerIPMode enabled, ipMode Proxy": (True, "10.20.30.41", "1.2.3.4", "Proxy", False),
    "LoadBalancerIPMode enabled, ipMode VIP": (True, "10.20.30.42", "1.2.3.5", "VIP", True),
    "LoadBalancerIPMode enabled, ipMode nil": (True, "10.20.30.43", "1.2.3.6", None, True),
}
ROUTE_TYPE_PROXY = [
    flow("external to LB IP", C, lb_ip, 80, EP if rule else "", masq=rule, case=case)
    for case, (_, _, lb_ip, _, rule) in ROUTE_TYPE_PROXY_CASES.items()
]
