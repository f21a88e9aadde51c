"""Shared setup for the ports of kube-proxy's own packet-flow tests (``test_kubeproxy_*.py``).

Both upstream proxier test files (``pkg/proxy/{iptables,nftables}/proxier_test.go``) build
their proxier with ``NewFakeProxier``; this module recreates that fixture with
``tests/factories.py``:

* one node, ``test-node``, owning 192.168.0.2 (primary), 192.168.1.2, 192.168.99.11,
  2001:db8::1 (primary IPv6) and 2001:db8:1::2 — the tracer's "local" addresses;
* local-traffic detector ``ClusterCIDR`` on 10.0.0.0/8 and fd00:10::/64 (the pod range);
* service CIDRs 172.30.0.0/16 and fd00:10:96::/112 (read by nftables only, KP §6.4);
* nftables: NodePorts on 192.168.0.2/32 and 2001:db8::1/128 only (the fake's default);
  iptables: NodePorts on every local address, localhost NodePorts on (KP §3.4).

Upstream gives the node no pod CIDR; srcip needs one to say which address the pod sees
after SNAT toward a local endpoint (KP §5.2), so the node gets 10.0.0.0/24 and
fd00:10::/112 — inside the pod range, so the upstream "pod" 10.0.0.2 is a pod of this node.

A :class:`Flow` is one upstream ``packetFlowTest`` row: ``output`` is a comma-separated list
of endpoints, or ``"DROP"``, ``"REJECT"``, ``"ACCEPT"``, or ``""`` (no rule matched); ``masq``
is whether the masquerade mark is set. :func:`assert_flow` maps it onto a
:class:`~srcip.model.packet.RouteResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from srcip.model.enums import CNIMode, Verdict
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.objects import Endpoint, EndpointSlice, Service
from srcip.model.packet import RouteResult
from tests.factories import cluster, endpoint_slice, node, packet, proxy_config

__all__ = [
    "EXTERNAL_CLIENT",
    "EXTERNAL_CLIENT_BLOCKED",
    "NODE_IP",
    "NODE_IPV6",
    "NODE_IPV6_ALT",
    "NODE_IP_ALT",
    "NODE_OWNED_EXTERNAL_IP",
    "POD",
    "TEST_NODE",
    "Flow",
    "assert_flow",
    "describe",
    "flow",
    "slice_of",
    "trace",
    "upstream_index",
]

TEST_NODE = "test-node"
NODE_IP = "192.168.0.2"
NODE_IP_ALT = "192.168.1.2"
NODE_OWNED_EXTERNAL_IP = "192.168.99.11"  # upstream testExternalIP: an address of the node
NODE_IPV6 = "2001:db8::1"
NODE_IPV6_ALT = "2001:db8:1::2"
EXTERNAL_CLIENT = "203.0.113.2"  # inside the LB source range 203.0.113.0/25
EXTERNAL_CLIENT_BLOCKED = "203.0.113.130"  # outside it
POD = "10.0.0.2"

POD_RANGE = ("10.0.0.0/8", "fd00:10::/64")
SERVICE_CIDRS = ("172.30.0.0/16", "fd00:10:96::/112")
NODE_POD_CIDRS = ("10.0.0.0/24", "fd00:10::/112")  # srcip-only, see the module docstring
NFT_NODE_PORT_ADDRESSES = (f"{NODE_IP}/32", f"{NODE_IPV6}/128")

VERDICTS = {
    "DROP": Verdict.DROP,
    "REJECT": Verdict.REJECT,
    "ACCEPT": Verdict.ACCEPT,
    "": Verdict.NO_MATCH,
}


@dataclass(frozen=True, slots=True)
class Flow:
    """One upstream packetFlowTest row; ``case`` names the sub-test's setup, if any."""

    src: str
    dst: str
    port: int
    output: str
    masq: bool = False
    protocol: str = "TCP"
    case: str = ""


def flow(
    name: str,
    src: str,
    dst: str,
    port: int,
    output: str,
    *,
    masq: bool = False,
    protocol: str = "TCP",
    case: str = "",
) -> object:
    """A ``pytest.param`` for one flow, its id the upstream name (prefixed by the case)."""
    return pytest.param(
        Flow(src, dst, port, output, masq, protocol, case),
        id=f"{case}: {name}" if case else name,
    )


def upstream_index(
    mode: str,
    services: tuple[Service, ...],
    slices: tuple[EndpointSlice, ...] = (),
    *,
    detector: bool = True,
    masquerade_all: bool = False,
    node_port_addresses: tuple[str, ...] | None = None,
    localhost_node_ports: bool = True,
    feature_gates: tuple[tuple[str, bool], ...] = (),
) -> ClusterIndex:
    """The cluster of upstream's NewFakeProxier for ``mode``, with these objects."""
    if node_port_addresses is None:
        node_port_addresses = NFT_NODE_PORT_ADDRESSES if mode == "nftables" else ()
    config = proxy_config(
        mode=mode,
        cluster_cidr=POD_RANGE if detector else "",  # "" = no-op detector
        node_port_addresses=node_port_addresses,
        masquerade_all=masquerade_all,
        localhost_node_ports=localhost_node_ports,
        feature_gates=feature_gates,
    )
    test_node = node(
        TEST_NODE,
        NODE_IP,
        NODE_IP_ALT,
        NODE_OWNED_EXTERNAL_IP,
        NODE_IPV6,
        NODE_IPV6_ALT,
        pod_cidr=NODE_POD_CIDRS,
    )
    return build_index(
        cluster(
            services=services,
            slices=slices,
            nodes=(test_node,),
            config=config,
            service_cidrs=SERVICE_CIDRS,
        )
    )


def slice_of(
    service_name: str,
    *endpoints: Endpoint,
    ports: tuple[tuple[str, int, str], ...] = (("p80", 80, "TCP"),),
    namespace: str = "ns1",
    address_type: str = "IPv4",
) -> EndpointSlice:
    """An EndpointSlice of the service (upstream's makeTestEndpointSlice)."""
    return endpoint_slice(
        service_name, endpoints, ports=ports, namespace=namespace, address_type=address_type
    )


def trace(
    index: ClusterIndex, f: Flow, *, cni: CNIMode = CNIMode.BRIDGE, on: str = TEST_NODE
) -> RouteResult:
    """Route the flow's packet on ``test-node`` (upstream's tracePacket)."""
    return route_packet(index, on, packet(f.src, f.dst, f.port, f.protocol), cni=cni)


def describe(result: RouteResult) -> str:
    """A one-line summary of a result, for assertion messages."""
    choices = [
        (c.endpoint, str(c.probability), "masq" if c.masquerade else "-", str(c.source_seen))
        for c in result.endpoints
    ]
    return f"{result.verdict} {choices} rules={list(result.rules)}"


def assert_flow(result: RouteResult, f: Flow) -> None:
    """The result is what upstream's tracer reported for this flow.

    Endpoints become a DNAT whose choices are exactly those endpoints, each with probability
    1/n (KP §7.1) and each carrying the expected masquerade mark; "DROP", "REJECT", "ACCEPT"
    and "" become the verdict of that name (NO_MATCH for "") with no choices.
    """
    shown = describe(result)
    if f.output in VERDICTS:
        assert result.verdict is VERDICTS[f.output], shown
        assert result.endpoints == (), shown
        return
    expected = sorted(e.strip() for e in f.output.split(","))
    assert result.verdict is Verdict.DNAT, shown
    assert sorted(c.endpoint for c in result.endpoints) == expected, shown
    assert all(c.probability == Fraction(1, len(expected)) for c in result.endpoints), shown
    assert all(c.masquerade is f.masq for c in result.endpoints), shown
