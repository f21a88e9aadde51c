"""What srcip adds to kube-proxy's packet-flow tests: the source a pod sees, the rules cited.

Upstream's tracers stop at the masquerade mark. srcip also says which address the backend
pod sees (KP §5.2): the client's when the packet is not masqueraded; otherwise the node's
primary IP toward an endpoint on another node and the first address of the node's pod CIDR
toward one on this node (``CNIMode.BRIDGE``), or the node's primary IP for both
(``CNIMode.ROUTED``). It also names the rules that decided. The setups are the upstream
ones of :mod:`tests.unit.model.kubeproxy_scenarios`; on ``test-node`` the pod-CIDR gateway
is 10.0.0.1 (fd00:10::1) and the primary IP 192.168.0.2 (2001:db8::1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from srcip.model.enums import CNIMode, Verdict
from srcip.model.index import ClusterIndex
from srcip.model.packet import RouteResult
from tests.factories import ip
from tests.unit.model import kubeproxy_scenarios as scenario
from tests.unit.model.kubeproxy_upstream import (
    EXTERNAL_CLIENT,
    EXTERNAL_CLIENT_BLOCKED,
    NODE_IP,
    NODE_IP_ALT,
    POD,
    Flow,
    describe,
    trace,
)

C = EXTERNAL_CLIENT
GATEWAY = "10.0.0.1"  # first address of test-node's pod CIDR 10.0.0.0/24
BRIDGE, ROUTED = CNIMode.BRIDGE, CNIMode.ROUTED
Setup = Callable[[str], ClusterIndex]


def masquerade_setup(mode: str) -> ClusterIndex:
    """TestInternalExternalMasquerade's base setup (detector on, no masqueradeAll)."""
    return scenario.internal_external_masquerade(mode, True, False)


def ipv6_node_ports(mode: str) -> ClusterIndex:
    """TestNodePorts' IPv6 setup with the fake's NodePort addresses."""
    return scenario.node_ports(mode, "IPv6", None)


def cites(result: RouteResult, *sections: str) -> bool:
    """Whether a rule in ``sections`` (``"KP §8"`` also matches ``"KP §8.2"``) decided."""
    return any(r == s or r.startswith(s + ".") for r in result.rules for s in sections)


# ------------------------------------------------------------------ source_seen
# id → (setup, source, destination, port, CNI, {endpoint: address the pod sees})
SOURCE_SEEN: dict[str, tuple[Setup, str, str, int, CNIMode, dict[str, str]]] = {
    "pod to ClusterIP: unmasqueraded, the pod IP": (
        masquerade_setup,
        *(POD, "172.30.0.41", 80, BRIDGE),
        {"10.180.0.1:80": POD, "10.180.1.1:80": POD},
    ),
    "external to eTP:Cluster NodePort: gateway to the local pod, node IP to the remote": (
        masquerade_setup,
        *(C, NODE_IP, 3001, BRIDGE),
        {"10.180.0.1:80": GATEWAY, "10.180.1.1:80": NODE_IP},
    ),
    "external to eTP:Cluster NodePort, routed CNI: node IP to both": (
        masquerade_setup,
        *(C, NODE_IP, 3001, ROUTED),
        {"10.180.0.1:80": NODE_IP, "10.180.1.1:80": NODE_IP},
    ),
    "pod to eTP:Cluster LB: masqueraded although the source is a pod": (
        masquerade_setup,
        *(POD, "1.2.3.4", 80, BRIDGE),
        {"10.180.0.1:80": GATEWAY, "10.180.1.1:80": NODE_IP},
    ),
    "external to eTP:Local LB: the client IP survives": (
        masquerade_setup,
        *(C, "5.6.7.8", 80, BRIDGE),
        {"10.180.0.2:80": C},
    ),
    "pod to eTP:Local NodePort: short-circuit keeps the pod IP": (
        masquerade_setup,
        *(POD, NODE_IP, 3002, BRIDGE),
        {"10.180.0.2:80": POD, "10.180.1.2:80": POD},
    ),
    "node to eTP:Local LB: short-circuit, masqueraded": (
        masquerade_setup,
        *(NODE_IP, "5.6.7.8", 80, BRIDGE),
        {"10.180.0.2:80": GATEWAY, "10.180.1.2:80": NODE_IP},
    ),
    "external to iTP:Local ClusterIP: masqueraded to the one local pod": (
        masquerade_setup,
        *(C, "172.30.0.43", 80, BRIDGE),
        {"10.180.0.3:80": GATEWAY},
    ),
    "hairpin: a pod reaching itself sees the gateway": (
        scenario.cluster_ip_general,
        *("10.180.0.1", "172.30.0.41", 80, BRIDGE),
        {"10.180.0.1:80": GATEWAY},
    ),
    "hairpin, routed CNI: a pod reaching itself sees the node IP": (
        scenario.cluster_ip_general,
        *("10.180.0.1", "172.30.0.41", 80, ROUTED),
        {"10.180.0.1:80": NODE_IP},
    ),
    "VIP-sourced packet to LB: a nodeName-less endpoint is remote": (
        scenario.load_balancer,
        *("1.2.3.4", "1.2.3.4", 80, BRIDGE),
        {"10.180.0.1:80": NODE_IP},
    ),
    "IPv6 external to NodePort: IPv6 gateway and primary IPv6": (
        ipv6_node_ports,
        *("2600:5200::1", "2001:db8::1", 3001, BRIDGE),
        {"[fd00:10:180::1]:80": "2001:db8::1", "[fd00:10:180::2:1]:80": "fd00:10::1"},
    ),
}


@pytest.mark.parametrize(
    ("setup", "src", "dst", "port", "cni", "seen"), SOURCE_SEEN.values(), ids=list(SOURCE_SEEN)
)
def test_source_seen(
    backend: str,
    setup: Setup,
    src: str,
    dst: str,
    port: int,
    cni: CNIMode,
    seen: dict[str, str],
) -> None:
    """Each endpoint sees the client, the pod-network gateway or the node IP (KP §5.2)."""
    result = trace(setup(backend), Flow(src, dst, port, ""), cni=cni)
    got = {c.endpoint: c.source_seen for c in result.endpoints}
    assert got == {e: ip(a) for e, a in seen.items()}, describe(result)
    common = set(seen.values())
    assert result.source_seen == (ip(common.pop()) if len(common) == 1 else None)


def test_source_seen_of_localhost_nodeport() -> None:
    """iptables localhost NodePort traffic is masqueraded like the node's own (KP §3.4)."""
    lo = "127.0.0.1"
    result = trace(masquerade_setup("iptables"), Flow(lo, lo, 3001, ""))
    got = {c.endpoint: c.source_seen for c in result.endpoints}
    assert got == {"10.180.0.1:80": ip(GATEWAY), "10.180.1.1:80": ip(NODE_IP)}, describe(result)


# ------------------------------------------------------------------ rules cited
TERMINATING_REMOTE = "terminating endpoints on remote node"
ITP_NONE = "internalTrafficPolicy is local and there are no local endpoints"
# id → (setup, source, destination, port, verdict, sections that must each be cited, where
# a tuple of sections means "at least one of these")
RULES: dict[str, tuple[Setup, str, str, int, Verdict, tuple[tuple[str, ...], ...]]] = {
    "pod to ClusterIP: internal path, uniform choice": (
        masquerade_setup,
        *(POD, "172.30.0.41", 80, Verdict.DNAT),
        (("KP §4.1",), ("KP §7.1",)),
    ),
    "external to eTP:Cluster NodePort: masqueraded, SNAT": (
        masquerade_setup,
        *(C, NODE_IP, 3001, Verdict.DNAT),
        (("KP §4.2",), ("KP §5.2",)),
    ),
    "pod to eTP:Local LB: short-circuit": (
        masquerade_setup,
        *(POD, "5.6.7.8", 80, Verdict.DNAT),
        (("KP §4.3",),),
    ),
    "external to eTP:Local LB, no local endpoint: DROP": (
        lambda mode: scenario.terminating(mode, "Local", TERMINATING_REMOTE),
        *(C, "1.2.3.4", 80, Verdict.DROP),
        (("KP §4.3", "KP §6.3"),),
    ),
    "iTP:Local ClusterIP, no local endpoint: DROP": (
        lambda mode: scenario.internal_traffic_policy(mode, ITP_NONE),
        *(POD, "172.30.1.1", 80, Verdict.DROP),
        (("KP §11", "KP §6.3", "KP §4.1"),),
    ),
    "no usable endpoint anywhere: REJECT": (
        scenario.no_endpoints_reject,
        *(C, NODE_IP, 3001, Verdict.REJECT),
        (("KP §6.2",),),
    ),
    "source outside loadBalancerSourceRanges: DROP": (
        scenario.load_balancer,
        *(EXTERNAL_CLIENT_BLOCKED, "1.2.3.4", 80, Verdict.DROP),
        (("KP §8",),),
    ),
    "pod reaching itself: hairpin masquerade": (
        scenario.cluster_ip_general,
        *("10.180.0.1", "172.30.0.41", 80, Verdict.DNAT),
        (("KP §4.5",),),
    ),
}


@pytest.mark.parametrize(
    ("setup", "src", "dst", "port", "verdict", "sections"), RULES.values(), ids=list(RULES)
)
def test_rules_cited(
    backend: str,
    setup: Setup,
    src: str,
    dst: str,
    port: int,
    verdict: Verdict,
    sections: tuple[tuple[str, ...], ...],
) -> None:
    """The result names the KP rules that decided it."""
    result = trace(setup(backend), Flow(src, dst, port, ""))
    assert result.verdict is verdict, describe(result)
    for alternatives in sections:
        assert cites(result, *alternatives), (alternatives, describe(result))


def test_proxy_mode_ingress_cites_its_rule(backend: str) -> None:
    """A packet to an ipMode Proxy ingress IP matches nothing and says why (KP §10.2)."""
    index = scenario.route_type_proxy(backend, "10.20.30.41", "1.2.3.4", "Proxy", True)
    result = trace(index, Flow(C, "1.2.3.4", 80, ""))
    assert result.verdict is Verdict.NO_MATCH, describe(result)
    assert cites(result, "KP §10.2"), describe(result)


# ------------------------------------------------------------------ backend differences (KP §15)
# id → (setup, source, destination, port, protocol, iptables verdict, nftables verdict)
BACKEND_DIFFERENCES: dict[str, tuple[Setup, str, str, int, str, Verdict, Verdict]] = {
    "ClusterIP on a protocol it does not serve": (
        scenario.cluster_ip_general,
        *(POD, "172.30.0.41", 80, "UDP"),
        *(Verdict.NO_MATCH, Verdict.REJECT),
    ),
    "ClusterIP on a port it does not serve": (
        scenario.cluster_ip_general,
        *(POD, "172.30.0.42", 8080, "TCP"),
        *(Verdict.NO_MATCH, Verdict.REJECT),
    ),
    "unallocated address of the service CIDR": (
        scenario.cluster_ip_general,
        *(POD, "172.30.200.1", 80, "TCP"),
        *(Verdict.NO_MATCH, Verdict.DROP),
    ),
    "address outside every service CIDR": (
        scenario.cluster_ip_general,
        *(POD, "172.31.0.1", 80, "TCP"),
        *(Verdict.NO_MATCH, Verdict.NO_MATCH),
    ),
    "default NodePort addresses: a secondary node IP": (
        lambda mode: scenario.node_ports(mode, "IPv4", ()),
        *(C, NODE_IP_ALT, 3001, "TCP"),
        *(Verdict.DNAT, Verdict.NO_MATCH),
    ),
    "default NodePort addresses: localhost": (
        lambda mode: scenario.node_ports(mode, "IPv4", ()),
        *("127.0.0.1", "127.0.0.1", 3001, "TCP"),
        *(Verdict.DNAT, Verdict.NO_MATCH),
    ),
}


@pytest.mark.parametrize(
    ("setup", "src", "dst", "port", "protocol", "iptables", "nftables"),
    BACKEND_DIFFERENCES.values(),
    ids=list(BACKEND_DIFFERENCES),
)
def test_backend_differences(
    backend: str,
    setup: Setup,
    src: str,
    dst: str,
    port: int,
    protocol: str,
    iptables: Verdict,
    nftables: Verdict,
) -> None:
    """Unmatched packets and default NodePort addresses differ between backends (KP §3.4, §6.4)."""
    result = trace(setup(backend), Flow(src, dst, port, "", protocol=protocol))
    expected = iptables if backend == "iptables" else nftables
    assert result.verdict is expected, describe(result)
    if expected is Verdict.DROP or expected is Verdict.REJECT:
        assert cites(result, "KP §6.4"), describe(result)
