"""The lab's address plan: every scenario address on its own loopback address.

DESIGN.md "The lab's address plan": Linux routes all of ``127.0.0.0/8`` to ``lo`` and lets
any process bind any of it, so each scenario address (client ``203.0.113.7``, node
``10.0.1.2``, pod ``10.244.1.5``, the pod-network gateway ``10.244.1.1``, the load
balancer's own ``10.0.0.10``, the VIP) gets one loopback address of its own, allocated in a
fixed order from ``base``. A hop that keeps the client's source connects onward *bound to
the client's loopback address*, so a pod's ``getpeername()`` is the predicted address, and
:meth:`AddressPlan.scenario` translates it back for reports.

One scenario address can be listened on at several places: the load balancer listens on
the VIP, and so does every node it forwards to with the VIP as destination (KP §10). Each
``(VIP, node)`` pair gets its own loopback alias (:meth:`AddressPlan.at_node`), which
translates back to the VIP.

Ports: as root, every scenario port is bound as given; otherwise a privileged port ``p``
(< 1024) is bound as ``20000 + p`` (:meth:`AddressPlan.port`). Reports show scenario ports.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address

from srcip.errors import SrcipError
from srcip.model.objects import Cluster, IPAddress
from srcip.model.scenario import DEFAULT_CLIENT
from srcip.model.tracepath import lb_address

__all__ = [
    "DEFAULT_BASE",
    "PRIVILEGED_OFFSET",
    "AddressPlan",
    "check_loopback",
    "plan_for",
    "scenario_addresses",
]

DEFAULT_BASE = IPv4Network("127.1.0.0/16")
PRIVILEGED_OFFSET = 20000  # non-root: privileged port p is bound as 20000 + p


def check_loopback(probe: str = "127.0.0.2") -> None:
    """Raise SrcipError unless ``probe`` (beyond 127.0.0.1) can be bound on this machine."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((probe, 0))
    except OSError as exc:
        hint = (
            "on macOS add aliases first, e.g. `sudo ifconfig lo0 alias 127.0.0.2 up` for "
            "every address of the plan, or run on Linux, which routes all of 127.0.0.0/8 to lo"
        )
        if exc.errno not in (errno.EADDRNOTAVAIL, errno.EACCES, errno.EPERM):
            hint = "check that the loopback interface is up (`ip link set lo up`)"
        raise SrcipError(
            f"the lab needs all of 127.0.0.0/8 to be local, but binding {probe} failed "
            f"({exc.strerror or exc}). Fix: {hint}"
        ) from exc
    finally:
        sock.close()


def scenario_addresses(cluster: Cluster) -> tuple[IPAddress, ...]:
    """Every address the lab must realise, in a fixed order, without duplicates.

    Clients (the default one when the Scenario lists none), edge hops, the load balancer's
    own address, VIPs, nodes, the pod-network gateways (KP §5.2) and the pods.
    """
    scenario = cluster.scenario
    found: list[IPAddress] = []
    if scenario is not None:
        found.extend(c.address for c in scenario.clients)
        found.extend(h.address for h in scenario.edge_hops)
    if scenario is None or not scenario.clients:
        found.append(DEFAULT_CLIENT)
    if scenario is not None:
        found.append(lb_address(scenario))
    for service in cluster.services:
        found.extend(i.ip for i in service.load_balancer_ingress if i.ip is not None)
        found.extend(service.external_ips)
    for node in cluster.nodes:
        found.extend(a.address for a in node.addresses)
        found.extend(cidr.network_address + 1 for cidr in node.pod_cidrs)
    for pod in cluster.pods:
        found.extend(pod.ips)
    for endpoint_slice in cluster.endpoint_slices:
        found.extend(ep.address for ep in endpoint_slice.endpoints)
    return tuple(dict.fromkeys(found))


@dataclass(slots=True)
class AddressPlan:
    """Scenario address ↔ loopback address, one to one (plus per-node VIP aliases)."""

    base: IPv4Network = DEFAULT_BASE
    root: bool = field(default_factory=lambda: os.geteuid() == 0)
    _to_local: dict[IPAddress, IPv4Address] = field(default_factory=dict)
    _aliases: dict[tuple[IPAddress, str], IPv4Address] = field(default_factory=dict)
    _to_scenario: dict[IPv4Address, IPAddress] = field(default_factory=dict)
    _next: int = 1

    def add(self, addresses: Iterable[IPAddress]) -> None:
        """Give each new scenario address the next free loopback address."""
        for address in addresses:
            if address not in self._to_local:
                local = self._allocate()
                self._to_local[address] = local
                self._to_scenario[local] = address

    def _allocate(self) -> IPv4Address:
        while True:
            if self._next >= self.base.num_addresses - 1:
                raise SrcipError(
                    f"the address plan ran out of loopback addresses in {self.base}. Fix: "
                    "give the plan a larger base network (e.g. 127.0.0.0/9)"
                )
            local = self.base.network_address + self._next
            self._next += 1
            if int(local) & 0xFF not in (0, 255):  # keep clear of .0 and .255 for readability
                return local

    def local(self, address: IPAddress) -> str:
        """The loopback address standing in for scenario ``address`` (added on first use)."""
        if address not in self._to_local:
            self.add((address,))
        return str(self._to_local[address])

    def at_node(self, vip: IPAddress, node: str) -> str:
        """The loopback alias on which ``node`` receives traffic for ``vip`` (KP §10)."""
        key = (vip, node)
        if key not in self._aliases:
            local = self._allocate()
            self._aliases[key] = local
            self._to_scenario[local] = vip
        return str(self._aliases[key])

    def scenario(self, local: str | IPAddress) -> IPAddress | None:
        """The scenario address behind a loopback address (None for one not in the plan)."""
        try:
            address = ip_address(str(local).partition("%")[0])
        except ValueError:
            return None
        if isinstance(address, IPv4Address):
            return self._to_scenario.get(address)
        mapped = address.ipv4_mapped
        return self._to_scenario.get(mapped) if mapped is not None else None

    def port(self, port: int) -> int:
        """The port bound for scenario ``port``: itself as root, else ``20000 + p`` if < 1024."""
        if self.root or port == 0 or port >= 1024:
            return port
        return PRIVILEGED_OFFSET + port

    def items(self) -> tuple[tuple[IPAddress, str], ...]:
        """Every (scenario address, loopback address) pair, in allocation order."""
        return tuple((a, str(local)) for a, local in self._to_local.items())


def plan_for(
    cluster: Cluster, *, base: IPv4Network = DEFAULT_BASE, root: bool | None = None
) -> AddressPlan:
    """The address plan of ``cluster`` (see :func:`scenario_addresses`)."""
    plan = AddressPlan(base=base) if root is None else AddressPlan(base=base, root=root)
    plan.add(scenario_addresses(cluster))
    return plan
