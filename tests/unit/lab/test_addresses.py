"""The lab's address plan: one loopback address per scenario address, and back."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_address

import pytest

from srcip.errors import SrcipError
from srcip.lab.addresses import AddressPlan, check_loopback, plan_for, scenario_addresses
from srcip.manifests import load_cluster

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


def test_every_scenario_address_maps_one_to_one_and_back() -> None:
    """Distinct scenario addresses get distinct loopback addresses that translate back."""
    cluster = load_cluster(ECHO, default_scenario=True)
    plan = plan_for(cluster, root=True)
    pairs = plan.items()
    locals_ = [local for _, local in pairs]
    assert len(set(locals_)) == len(locals_) == len(scenario_addresses(cluster))
    for address, local in pairs:
        assert ip_address(local) in IPv4Network("127.0.0.0/8")
        assert plan.scenario(local) == address
        assert plan.local(address) == local


def test_the_plan_covers_clients_nodes_gateways_pods_lb_and_vip() -> None:
    """The seeds' echo scenario: client, LB, VIP, three nodes and gateways, two pods."""
    cluster = load_cluster(ECHO, default_scenario=True)
    wanted = {
        "203.0.113.7", "10.0.0.10", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.244.1.1",
        "198.51.100.10",
    }  # fmt: skip
    found = {str(a) for a in scenario_addresses(cluster)}
    assert wanted <= found
    pods = {str(ip) for pod in cluster.pods for ip in pod.ips}
    assert len(pods) == 2
    assert pods <= found


def test_vip_aliases_are_per_node_and_translate_to_the_vip() -> None:
    """Each (VIP, node) pair has its own alias; all of them translate back to the VIP."""
    plan = AddressPlan(root=True)
    vip = ip_address("198.51.100.10")
    plan.add((vip,))
    one, two = plan.at_node(vip, "node-1"), plan.at_node(vip, "node-2")
    assert len({one, two, plan.local(vip)}) == 3
    assert plan.at_node(vip, "node-1") == one
    assert plan.scenario(one) == plan.scenario(two) == vip


@pytest.mark.parametrize(
    ("root", "port", "bound"),
    [
        pytest.param(True, 80, 80, id="root-binds-80"),
        pytest.param(False, 80, 20080, id="user-maps-80"),
        pytest.param(False, 1023, 21023, id="user-maps-1023"),
        pytest.param(False, 1024, 1024, id="user-keeps-1024"),
        pytest.param(False, 31380, 31380, id="user-keeps-nodeport"),
        pytest.param(False, 0, 0, id="port-0-stays"),
    ],
)
def test_privileged_ports_are_mapped_only_without_root(root: bool, port: int, bound: int) -> None:
    """Non-root binds port p < 1024 as 20000 + p; root binds every port as given."""
    assert AddressPlan(root=root).port(port) == bound


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("127.200.0.1", id="loopback-not-in-plan"),
        pytest.param("not an address", id="garbage"),
        pytest.param("::1", id="ipv6-not-mapped"),
    ],
)
def test_unknown_local_addresses_translate_to_none(text: str) -> None:
    """Addresses outside the plan have no scenario address."""
    assert AddressPlan(root=True).scenario(text) is None


def test_ipv4_mapped_ipv6_peers_translate() -> None:
    """A dual-stack socket's ::ffff:127.x peer is the plan's IPv4 address."""
    plan = AddressPlan(root=True)
    local = plan.local(ip_address("203.0.113.7"))
    assert plan.scenario(f"::ffff:{local}") == ip_address("203.0.113.7")


def test_loopback_addresses_avoid_dot_zero_and_dot_255() -> None:
    """Allocation skips host parts .0 and .255."""
    plan = AddressPlan(base=IPv4Network("127.9.0.0/16"), root=True)
    plan.add(ip_address(f"10.1.{i // 250}.{i % 250 + 1}") for i in range(600))
    for _, local in plan.items():
        assert int(ip_address(local)) & 0xFF not in (0, 255)


def test_a_full_base_network_is_reported() -> None:
    """Running out of loopback addresses names the fix."""
    plan = AddressPlan(base=IPv4Network("127.9.9.0/29"), root=True)
    with pytest.raises(SrcipError, match="larger base network"):
        plan.add(ip_address(f"10.0.0.{i}") for i in range(1, 20))


def test_loopback_check_passes_on_linux() -> None:
    """Linux routes all of 127/8 to lo: 127.0.0.2 can be bound."""
    check_loopback()


def test_loopback_check_refuses_with_the_fix() -> None:
    """An address that is not local fails with a message naming the fix."""
    with pytest.raises(SrcipError, match=r"127\.0\.0\.0/8 to be local.*Fix:"):
        check_loopback("192.0.2.1")
