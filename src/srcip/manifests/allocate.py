"""Fill in what the apiserver would have allocated: ClusterIPs, nodePorts, health-check ports.

Hand-written manifests usually omit them; the model needs them. The choice is
deterministic, so the same input gives the same numbers on every run and in every file
order: Services are completed in (namespace, name) order, and each value starts at an offset
given by a stable hash (CRC-32) of the Service and what is being allocated, then probes
linearly past values already in use. Values the input does give are claimed first; two
Services claiming the same ClusterIP or node port is an error, as in a real cluster.

* ClusterIPs come from the ServiceCIDR objects' ranges of the family (``kubernetes`` first,
  then in name order), else from kubeadm's defaults 10.96.0.0/12 and fd00:10:96::/112; the
  network address (and the IPv4 broadcast address) is never handed out. ``spec.ipFamilies`` and
  ``spec.ipFamilyPolicy`` decide which families a Service gets; ``PreferDualStack`` is dual
  only when the ServiceCIDRs cover both families.
* nodePorts (NodePort Services, and LoadBalancers unless ``allocateLoadBalancerNodePorts``
  is false, KP §1.4) and ``healthCheckNodePort`` (when the Service needs one, KP §1.6,
  §13.1) share the default ``--service-node-port-range`` 30000-32767.

Each allocation is recorded in the notes and flagged on the object (``*_allocated``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from ipaddress import IPv4Address, IPv6Address, ip_network

from srcip.errors import ManifestError
from srcip.manifests.clusterip import IPFamilyPolicy
from srcip.manifests.service import ServiceDraft
from srcip.model.enums import IPFamily, ServiceType
from srcip.model.objects import IPAddress, IPNetwork, Service, ServiceCIDR, family_of

__all__ = ["DEFAULT_SERVICE_CIDRS", "NODE_PORT_RANGE", "allocate_services"]

NODE_PORT_RANGE = range(30000, 32768)
DEFAULT_CIDR_NAME = "kubernetes"  # the ServiceCIDR the apiserver creates from its flags
DEFAULT_SERVICE_CIDRS: dict[IPFamily, IPNetwork] = {
    IPFamily.IPV4: ip_network("10.96.0.0/12"),
    IPFamily.IPV6: ip_network("fd00:10:96::/112"),
}


def allocate_services(
    drafts: Sequence[ServiceDraft], service_cidrs: Sequence[ServiceCIDR]
) -> tuple[tuple[Service, ...], tuple[str, ...]]:
    """Complete every Service (input order kept) and describe what was allocated."""
    # The apiserver's own ServiceCIDR comes first: its first range is the primary family.
    ordered = sorted(service_cidrs, key=lambda cidr: (cidr.name != DEFAULT_CIDR_NAME, cidr.name))
    state = _State(
        ips=_claimed_cluster_ips(drafts),
        ports=_claimed_node_ports(drafts),
        pools=_pools(ordered),
        families=tuple(dict.fromkeys(family_of(n) for c in ordered for n in c.cidrs)),
    )
    done: dict[str, Service] = {}
    for draft in sorted(drafts, key=lambda d: (d.service.namespace, d.service.name)):
        service = _complete_cluster_ips(draft, state)
        service = _complete_node_ports(draft, service, state)
        done[service.key] = _complete_health_check(draft, service, state)
    return tuple(done[draft.service.key] for draft in drafts), tuple(state.notes)


@dataclass(slots=True)
class _State:
    """What is taken so far, where addresses come from, and what was done."""

    ips: set[IPAddress]
    ports: set[int]
    pools: dict[IPFamily, _Pool]
    families: tuple[IPFamily, ...]  # covered by ServiceCIDR objects, primary first
    notes: list[str] = dataclass_field(default_factory=list)

    def note(self, what: str, service: Service, detail: str = "") -> None:
        self.notes.append(
            f"allocated {what} for Service {service.key}{detail} (the manifest omits it)"
        )


# --------------------------------------------------------------------------- claims


def _claimed_cluster_ips(drafts: Sequence[ServiceDraft]) -> set[IPAddress]:
    owners: dict[IPAddress, str] = {}
    for draft in drafts:
        for index, address in enumerate(draft.service.cluster_ips):
            owner = owners.setdefault(address, draft.service.key)
            if owner != draft.service.key:
                raise ManifestError(
                    f"is also the ClusterIP of Service {owner}",
                    where=draft.where,
                    field=f"spec.clusterIPs[{index}]",
                    value=str(address),
                    fix="give each Service its own ClusterIP, or omit it to have one allocated",
                )
    return set(owners)


def _claimed_node_ports(drafts: Sequence[ServiceDraft]) -> set[int]:
    """Every given nodePort and healthCheckNodePort; a port serves one purpose of one Service."""
    owners: dict[int, tuple[str, str]] = {}
    for draft in drafts:
        service = draft.service
        claims = [
            (port.node_port, f"spec.ports[{index}].nodePort", "nodePort")
            for index, port in enumerate(service.ports)
        ]
        claims.append((service.health_check_node_port, "spec.healthCheckNodePort", "health"))
        for number, field, purpose in claims:
            if not number:
                continue
            owner = owners.setdefault(number, (service.key, purpose))
            if owner != (service.key, purpose):
                used = "a nodePort" if owner[1] == "nodePort" else "the healthCheckNodePort"
                raise ManifestError(
                    f"is already {used} of Service {owner[0]}",
                    where=draft.where,
                    field=field,
                    value=number,
                    fix="pick a free port, or omit it to have one allocated",
                )
    return set(owners)


# --------------------------------------------------------------------------- ClusterIPs


@dataclass(frozen=True, slots=True)
class _Pool:
    """The allocatable addresses of one family: (first, count) spans, in order."""

    family: IPFamily
    networks: tuple[IPNetwork, ...]
    spans: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return sum(count for _, count in self.spans)

    def address(self, offset: int) -> IPAddress:
        """The address ``offset`` places into the pool (``0 <= offset < size``)."""
        for first, count in self.spans[:-1]:
            if offset < count:
                return self._make(first + offset)
            offset -= count
        return self._make(self.spans[-1][0] + offset)

    def _make(self, value: int) -> IPAddress:
        return IPv4Address(value) if self.family is IPFamily.IPV4 else IPv6Address(value)


def _pools(ordered: Sequence[ServiceCIDR]) -> dict[IPFamily, _Pool]:
    pools: dict[IPFamily, _Pool] = {}
    for family, default in DEFAULT_SERVICE_CIDRS.items():
        networks = tuple(n for c in ordered for n in c.cidrs if family_of(n) is family)
        networks = networks or (default,)
        pools[family] = _Pool(family, networks, tuple(_span(n) for n in networks))
    return pools


def _span(network: IPNetwork) -> tuple[int, int]:
    """Skip the network address, and for IPv4 the broadcast address too."""
    reserved_tail = 1 if network.version == 4 else 0
    return int(network.network_address) + 1, max(network.num_addresses - 1 - reserved_tail, 0)


def wanted_families(
    draft: ServiceDraft, cluster_families: tuple[IPFamily, ...]
) -> tuple[IPFamily, ...]:
    """The families a Service ends up with, primary first."""
    service = draft.service
    if service.headless or service.type is ServiceType.EXTERNAL_NAME:
        return ()
    given = tuple(family_of(address) for address in service.cluster_ips)
    first = draft.ip_families or given or cluster_families[:1]
    if len(first) == 2:
        return first
    policy = draft.ip_family_policy
    dual = policy is IPFamilyPolicy.REQUIRE_DUAL_STACK or (
        policy is IPFamilyPolicy.PREFER_DUAL_STACK and len(cluster_families) == 2
    )
    other = IPFamily.IPV6 if first[0] is IPFamily.IPV4 else IPFamily.IPV4
    return (first[0], other) if dual else first[:1]


def _complete_cluster_ips(draft: ServiceDraft, state: _State) -> Service:
    service = draft.service
    by_family = {family_of(address): address for address in service.cluster_ips}
    families = wanted_families(draft, state.families or (IPFamily.IPV4,))
    if all(family in by_family for family in families):
        return service
    for family in families:
        if family not in by_family:
            address = _free_address(draft, state.pools[family], state.ips, f"/{family}")
            state.ips.add(address)
            state.note(f"clusterIP {address}", service)
            by_family[family] = address
    return replace(
        service,
        cluster_ips=tuple(by_family[family] for family in families),
        cluster_ip_allocated=True,
    )


def _free_address(draft: ServiceDraft, pool: _Pool, used: set[IPAddress], salt: str) -> IPAddress:
    size = pool.size
    start = _hash(draft.service, salt) % size if size else 0
    for step in range(min(size, len(used) + 1)):  # k used addresses block at most k probes
        candidate = pool.address((start + step) % size)
        if candidate not in used:
            return candidate
    ranges = ", ".join(str(network) for network in pool.networks)
    raise ManifestError(
        f"cannot be allocated: no free {pool.family} address is left in {ranges}",
        where=draft.where,
        field="spec.clusterIPs",
        fix="give the Service a clusterIP, or add a ServiceCIDR with a larger range",
    )


# --------------------------------------------------------------------------- node ports


def _complete_node_ports(draft: ServiceDraft, service: Service, state: _State) -> Service:
    wants = service.type is ServiceType.NODE_PORT or (
        service.type is ServiceType.LOAD_BALANCER and service.allocate_load_balancer_node_ports
    )  # KP §1.4
    if not wants or all(port.node_port for port in service.ports):
        return service
    ports = []
    for index, port in enumerate(service.ports):
        if not port.node_port:
            label = f"{port.port}/{port.protocol}"
            number = _free_node_port(
                draft, state.ports, f"/{label}", f"spec.ports[{index}].nodePort"
            )
            state.note(f"nodePort {number}", service, f" port {label}")
            port = replace(port, node_port=number, node_port_allocated=True)
        ports.append(port)
    return replace(service, ports=tuple(ports))


def _complete_health_check(draft: ServiceDraft, service: Service, state: _State) -> Service:
    if not service.needs_health_check or service.health_check_node_port:
        return service  # KP §1.6
    number = _free_node_port(draft, state.ports, "/healthCheckNodePort", "spec.healthCheckNodePort")
    state.note(f"healthCheckNodePort {number}", service)
    return replace(service, health_check_node_port=number, health_check_node_port_allocated=True)


def _free_node_port(draft: ServiceDraft, used: set[int], salt: str, field: str) -> int:
    size = len(NODE_PORT_RANGE)
    start = _hash(draft.service, salt) % size
    for step in range(size):
        number = NODE_PORT_RANGE[(start + step) % size]
        if number not in used:
            used.add(number)
            return number
    raise ManifestError(
        f"needs a node port, but all of {NODE_PORT_RANGE.start}-{NODE_PORT_RANGE.stop - 1} "
        "are in use",
        where=draft.where,
        field=field,
        fix="remove Services, or set allocateLoadBalancerNodePorts: false on LoadBalancers",
    )


def _hash(service: Service, salt: str) -> int:
    return zlib.crc32(f"{service.namespace}/{service.name}{salt}".encode())
