"""Classifying the TCP peer from the pod's environment: the rule table, env parsing."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.errors import UsageError
from srcip.net.peerkind import RULES, PeerKind, PodEnvironment, classify_peer

ENV = PodEnvironment.from_env(
    {
        "POD_NAME": "echo-7d4b9",
        "POD_NAMESPACE": "default",
        "NODE_NAME": "node-1",
        "POD_IP": "10.244.1.5, fd00:10:244:1::5",
        "NODE_IP": "10.0.1.2",
        "POD_CIDR": "10.244.1.0/24",
        "CLUSTER_CIDR": "10.244.0.0/16",
        "LB_CIDRS": "35.191.0.0/16,130.211.0.0/22",
        "NODE_CIDRS": "10.0.0.0/16",
    }
)


@pytest.mark.parametrize(
    ("peer", "kind"),
    [
        pytest.param("127.0.0.6", PeerKind.LOOPBACK_SIDECAR, id="istio-inbound-loopback"),
        pytest.param("::1", PeerKind.LOOPBACK_SIDECAR, id="ipv6-loopback"),
        pytest.param("10.244.1.5", PeerKind.LOOPBACK_SIDECAR, id="own-pod-ip"),
        pytest.param("fd00:10:244:1::5", PeerKind.LOOPBACK_SIDECAR, id="own-pod-ipv6"),
        pytest.param("10.0.1.2", PeerKind.NODE, id="this-node-snat"),
        pytest.param("10.244.1.1", PeerKind.POD_GATEWAY, id="bridge-gateway"),
        pytest.param("35.191.3.4", PeerKind.LOAD_BALANCER, id="gcp-health-check"),
        pytest.param("10.0.7.9", PeerKind.NODE, id="other-node"),
        pytest.param("10.244.1.77", PeerKind.POD, id="pod-same-node"),
        pytest.param("10.244.9.7", PeerKind.POD, id="pod-other-node"),
        pytest.param("203.0.113.7", PeerKind.UNKNOWN, id="documentation-range"),
        pytest.param("8.8.8.8", PeerKind.CLIENT, id="public-client"),
        pytest.param("2606:4700::1111", PeerKind.CLIENT, id="public-ipv6-client"),
        pytest.param("192.168.5.5", PeerKind.UNKNOWN, id="private-elsewhere"),
        pytest.param("::ffff:10.0.1.2", PeerKind.NODE, id="mapped-node"),
        pytest.param("fe80::1%eth0", PeerKind.UNKNOWN, id="link-local-zone"),
        pytest.param("not-an-ip", PeerKind.UNKNOWN, id="garbage"),
        pytest.param(None, PeerKind.UNKNOWN, id="unix-socket"),
    ],
)
def test_rule_table(peer: str | None, kind: PeerKind) -> None:
    """Each rule of the module docstring, first match wins."""
    assert classify_peer(peer, ENV) is kind


def test_without_environment_only_loopback_and_global_are_known() -> None:
    """With no env, loopback is a sidecar, a global address a client, the rest unknown."""
    bare = PodEnvironment.from_env({})
    assert classify_peer("127.0.0.1", bare) is PeerKind.LOOPBACK_SIDECAR
    assert classify_peer(IPv4Address("1.1.1.1"), bare) is PeerKind.CLIENT
    assert classify_peer("10.0.1.2", bare) is PeerKind.UNKNOWN
    assert bare.pod_ip is None
    assert bare.gateways == ()


def test_environment_fields() -> None:
    """Downward-API variables land in their fields; lists are comma-separated."""
    assert (ENV.pod_name, ENV.namespace, ENV.node_name) == ("echo-7d4b9", "default", "node-1")
    assert ENV.pod_ip == IPv4Address("10.244.1.5")
    assert ENV.pod_ips[1] == IPv6Address("fd00:10:244:1::5")
    assert ENV.gateways == (IPv4Address("10.244.1.1"),)
    assert len(ENV.lb_cidrs) == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("POD_IP", "10.244.1"), ("NODE_IP", "node-1"), ("POD_CIDR", "10.244.1.0/33"),
     ("LB_CIDRS", "35.191.0.0/16,x")],
)  # fmt: skip
def test_bad_environment_names_the_variable(name: str, value: str) -> None:
    """A value that does not parse is a UsageError naming the variable and a fix."""
    with pytest.raises(UsageError, match=f"environment {name}=.*Fix"):
        PodEnvironment.from_env({name: value})


def test_rules_table_lists_every_kind() -> None:
    """The documented rule table covers every PeerKind."""
    assert {kind for _, kind in RULES} == set(PeerKind)


@given(st.one_of(st.ip_addresses(), st.text(max_size=40)))
def test_classify_never_raises(peer: object) -> None:
    """Any address or text gets a kind; loopback addresses are always the sidecar kind."""
    kind = classify_peer(peer, ENV)  # type: ignore[arg-type]
    assert kind in set(PeerKind)
    if not isinstance(peer, str) and ip_address(peer).is_loopback:  # type: ignore[arg-type]
        assert kind is PeerKind.LOOPBACK_SIDECAR
