"""NetworkPolicy ingress evaluation against the source address a pod really sees."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.model.enums import Protocol
from srcip.model.netpol import (
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    ingress_decision,
)
from srcip.model.objects import Pod
from srcip.model.workloads import LabelRequirement, LabelSelector, SelectorOperator

WEB = Pod(
    namespace="default", name="web-0", labels=(("app", "web"),), ips=(ip_address("10.244.1.5"),)
)
CLIENT = ip_address("203.0.113.7")
NODE_SNAT = ip_address("10.0.1.2")


def select(**labels: str) -> LabelSelector:
    """A matchLabels selector."""
    return LabelSelector(match_labels=tuple(sorted(labels.items())))


# The seeds' allow-specific-clients policy (seed 002): ipBlock 203.0.113.0/24, TCP 8080.
ALLOW_SPECIFIC_CLIENTS = NetworkPolicy(
    name="allow-specific-clients",
    pod_selector=select(app="web"),
    ingress=(
        NetworkPolicyRule(
            peers=(NetworkPolicyPeer(ip_block=IPBlock(cidr=ip_network("203.0.113.0/24"))),),
            ports=(NetworkPolicyPort(protocol=Protocol.TCP, port=8080),),
        ),
    ),
)


def test_allow_specific_clients_admits_the_client_under_local() -> None:
    """Under Local the pod sees 203.0.113.7, inside the ipBlock: admitted."""
    decision = ingress_decision([ALLOW_SPECIFIC_CLIENTS], WEB, source=CLIENT, port=8080)
    assert decision.allowed
    assert decision.policies == ("default/allow-specific-clients",)
    assert decision.matched == "default/allow-specific-clients ingress[0]"


def test_allow_specific_clients_denies_the_snat_address_under_cluster() -> None:
    """Under Cluster the pod sees the node's SNAT address 10.0.1.2: every client is denied."""
    decision = ingress_decision([ALLOW_SPECIFIC_CLIENTS], WEB, source=NODE_SNAT, port=8080)
    assert not decision.allowed
    assert decision.policies == ("default/allow-specific-clients",)
    assert decision.matched is None
    assert "10.0.1.2" in decision.reason


def test_pod_selected_by_no_policy_admits_everything() -> None:
    """A pod no ingress policy selects is not isolated."""
    other = NetworkPolicy(name="other", pod_selector=select(app="db"))
    decision = ingress_decision([other], WEB, source=NODE_SNAT, port=1)
    assert decision.allowed
    assert decision.policies == ()
    assert "not isolated" in decision.reason


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(
            NetworkPolicy(name="egress-only", policy_types=("Egress",)), id="egress-only-policy"
        ),
        pytest.param(
            NetworkPolicy(namespace="other", name="deny-all"), id="policy-in-another-namespace"
        ),
    ],
)
def test_policies_that_do_not_isolate_for_ingress(policy: NetworkPolicy) -> None:
    """Egress-only policies and policies of other namespaces leave the pod open."""
    assert ingress_decision([policy], WEB, source=CLIENT, port=80).allowed


def test_policy_without_rules_denies_everything() -> None:
    """An isolating policy with no ingress rules is default-deny."""
    deny = NetworkPolicy(name="deny-all")
    decision = ingress_decision([deny], WEB, source=CLIENT, port=80)
    assert not decision.allowed
    assert decision.policies == ("default/deny-all",)


def test_policies_are_additive() -> None:
    """Any selecting policy's rule admits, whatever the others say."""
    deny = NetworkPolicy(name="deny-all")
    allow = NetworkPolicy(name="allow-all", ingress=(NetworkPolicyRule(),))
    decision = ingress_decision([deny, allow], WEB, source=CLIENT, port=80)
    assert decision.allowed
    assert decision.policies == ("default/deny-all", "default/allow-all")
    assert decision.matched == "default/allow-all ingress[0]"


def block(cidr: str, *excepted: str) -> NetworkPolicyPeer:
    """An ipBlock peer."""
    return NetworkPolicyPeer(
        ip_block=IPBlock(cidr=ip_network(cidr), excepted=tuple(ip_network(e) for e in excepted))
    )


@pytest.mark.parametrize(
    ("peer", "source", "admitted"),
    [
        pytest.param(block("203.0.113.0/24"), "203.0.113.7", True, id="in-cidr"),
        pytest.param(block("203.0.113.0/24"), "198.51.100.1", False, id="outside-cidr"),
        pytest.param(
            block("203.0.113.0/24", "203.0.113.0/28"), "203.0.113.7", False, id="in-except"
        ),
        pytest.param(
            block("203.0.113.0/24", "203.0.113.0/28"), "203.0.113.77", True, id="beside-except"
        ),
        pytest.param(block("203.0.113.0/24"), "2001:db8::7", False, id="other-family"),
        pytest.param(block("2001:db8::/32"), "2001:db8::7", True, id="ipv6-cidr"),
        pytest.param(
            block("0.0.0.0/0", "10.0.0.0/8"), "10.0.1.2", False, id="world-except-cluster"
        ),
    ],
)
def test_ip_block(peer: NetworkPolicyPeer, source: str, admitted: bool) -> None:
    """ipBlock admits cidr minus except, never the other family."""
    policy = NetworkPolicy(name="p", ingress=(NetworkPolicyRule(peers=(peer,)),))
    assert ingress_decision([policy], WEB, source=ip_address(source), port=80).allowed is admitted


FRONTEND = Pod(namespace="default", name="frontend-0", labels=(("role", "frontend"),))
OTHER_NS_FRONTEND = Pod(namespace="shop", name="frontend-1", labels=(("role", "frontend"),))
HOST_POD = Pod(namespace="default", name="agent", labels=(("role", "frontend"),), host_network=True)
NS_LABELS = {"shop": {"team": "shop"}, "default": {}}


@pytest.mark.parametrize(
    ("peer", "source_pod", "admitted"),
    [
        pytest.param(
            NetworkPolicyPeer(pod_selector=select(role="frontend")),
            FRONTEND,
            True,
            id="pod-selector-same-namespace",
        ),
        pytest.param(
            NetworkPolicyPeer(pod_selector=select(role="frontend")),
            OTHER_NS_FRONTEND,
            False,
            id="pod-selector-other-namespace",
        ),
        pytest.param(
            NetworkPolicyPeer(pod_selector=select(role="db")),
            FRONTEND,
            False,
            id="pod-selector-no-label-match",
        ),
        pytest.param(
            NetworkPolicyPeer(pod_selector=select(role="frontend")),
            None,
            False,
            id="no-source-pod-snat-address",
        ),
        pytest.param(
            NetworkPolicyPeer(pod_selector=select(role="frontend")),
            HOST_POD,
            False,
            id="host-network-pod",
        ),
        pytest.param(
            NetworkPolicyPeer(namespace_selector=select(team="shop")),
            OTHER_NS_FRONTEND,
            True,
            id="namespace-selector",
        ),
        pytest.param(
            NetworkPolicyPeer(namespace_selector=select(team="shop")),
            FRONTEND,
            False,
            id="namespace-selector-no-match",
        ),
        pytest.param(
            NetworkPolicyPeer(namespace_selector=LabelSelector()),
            OTHER_NS_FRONTEND,
            True,
            id="empty-namespace-selector-all-namespaces",
        ),
        pytest.param(
            NetworkPolicyPeer(namespace_selector=LabelSelector()),
            Pod(namespace="unlisted", name="x"),
            True,
            id="namespace-without-labels",
        ),
        pytest.param(
            NetworkPolicyPeer(
                namespace_selector=select(team="shop"), pod_selector=select(role="frontend")
            ),
            OTHER_NS_FRONTEND,
            True,
            id="both-selectors",
        ),
        pytest.param(
            NetworkPolicyPeer(
                namespace_selector=select(team="shop"), pod_selector=select(role="db")
            ),
            OTHER_NS_FRONTEND,
            False,
            id="both-selectors-pod-mismatch",
        ),
        pytest.param(NetworkPolicyPeer(), FRONTEND, False, id="empty-peer-selects-nothing"),
    ],
)
def test_selectors(peer: NetworkPolicyPeer, source_pod: Pod | None, admitted: bool) -> None:
    """podSelector/namespaceSelector match only a known, pod-network source pod."""
    policy = NetworkPolicy(name="p", ingress=(NetworkPolicyRule(peers=(peer,)),))
    decision = ingress_decision(
        [policy], WEB, source=CLIENT, port=80, source_pod=source_pod, namespace_labels=NS_LABELS
    )
    assert decision.allowed is admitted


@pytest.mark.parametrize(
    ("ports", "port", "protocol", "admitted"),
    [
        pytest.param((), 9999, Protocol.UDP, True, id="no-ports-all-ports"),
        pytest.param((NetworkPolicyPort(port=8080),), 8080, Protocol.TCP, True, id="number"),
        pytest.param((NetworkPolicyPort(port=8080),), 8081, Protocol.TCP, False, id="other-number"),
        pytest.param(
            (NetworkPolicyPort(port=8080),), 8080, Protocol.UDP, False, id="other-protocol"
        ),
        pytest.param(
            (NetworkPolicyPort(protocol=Protocol.UDP),), 53, Protocol.UDP, True, id="protocol-only"
        ),
        pytest.param(
            (NetworkPolicyPort(port=8000, end_port=8100),), 8050, Protocol.TCP, True, id="range"
        ),
        pytest.param(
            (NetworkPolicyPort(port=8000, end_port=8100),),
            8101,
            Protocol.TCP,
            False,
            id="past-range",
        ),
        pytest.param(
            (NetworkPolicyPort(port="http"),), 8080, Protocol.TCP, True, id="named-port-resolved"
        ),
        pytest.param(
            (NetworkPolicyPort(port="http"),),
            9090,
            Protocol.TCP,
            False,
            id="named-port-other-number",
        ),
        pytest.param(
            (NetworkPolicyPort(port="metrics"),), 8080, Protocol.TCP, False, id="named-port-unknown"
        ),
    ],
)
def test_ports(
    ports: tuple[NetworkPolicyPort, ...], port: int, protocol: Protocol, admitted: bool
) -> None:
    """ports[]: protocol, number, range and named ports resolved from the containers."""
    policy = NetworkPolicy(name="p", ingress=(NetworkPolicyRule(ports=ports),))
    decision = ingress_decision(
        [policy], WEB, source=CLIENT, port=port, protocol=protocol, container_ports={"http": 8080}
    )
    assert decision.allowed is admitted


def test_named_port_without_container_ports_matches_nothing() -> None:
    """Without the pod's container ports a named port cannot be resolved."""
    policy = NetworkPolicy(
        name="p", ingress=(NetworkPolicyRule(ports=(NetworkPolicyPort(port="http"),)),)
    )
    assert not ingress_decision([policy], WEB, source=CLIENT, port=8080).allowed


def test_peers_and_ports_must_both_match() -> None:
    """A rule admits only when its peers AND its ports match."""
    rule = NetworkPolicyRule(peers=(block("203.0.113.0/24"),), ports=(NetworkPolicyPort(port=80),))
    policy = NetworkPolicy(name="p", ingress=(rule,))
    assert not ingress_decision([policy], WEB, source=CLIENT, port=443).allowed
    assert not ingress_decision([policy], WEB, source=NODE_SNAT, port=80).allowed
    assert ingress_decision([policy], WEB, source=CLIENT, port=80).allowed


def test_match_expressions_select_the_pod() -> None:
    """The policy's podSelector uses matchExpressions too."""
    selector = LabelSelector(
        match_expressions=(
            LabelRequirement(key="app", operator=SelectorOperator.IN, values=("web",)),
        )
    )
    deny = NetworkPolicy(name="deny", pod_selector=selector)
    assert not ingress_decision([deny], WEB, source=CLIENT, port=80).allowed


@given(
    st.lists(st.integers(min_value=0, max_value=3), max_size=4),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_policy_order_never_matters(order: list[int], source: int) -> None:
    """Policies are additive: the verdict is the same in any order."""
    pool = [
        NetworkPolicy(name="deny"),
        ALLOW_SPECIFIC_CLIENTS,
        NetworkPolicy(name="lan", ingress=(NetworkPolicyRule(peers=(block("10.0.0.0/8"),)),)),
        NetworkPolicy(name="other", pod_selector=select(app="db"), ingress=(NetworkPolicyRule(),)),
    ]
    chosen = [pool[i] for i in order]
    address = IPv4Address(source)
    forward = ingress_decision(chosen, WEB, source=address, port=8080)
    backward = ingress_decision(chosen[::-1], WEB, source=address, port=8080)
    assert forward.allowed == backward.allowed
    assert set(forward.policies) == set(backward.policies)
