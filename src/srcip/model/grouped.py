"""``summarize``: every external Service's split and the addresses seen, per group of alike nodes.

:func:`srcip.model.trace.trace` and :func:`srcip.model.share.share` walk every node: exact,
and right for a scenario of a few nodes. A real cluster of 5,000 nodes and 6,667 external
Services would be 33 million node walks, and under ``Cluster`` billions of (node, endpoint)
paths. Yet for one Service most nodes are indistinguishable. Two nodes are put in one
:class:`NodeGroup` when the model reads the same from both:

* the zone (cross-zone splits, topology hints: KP §12), eligibility (KP §14.3), which
  address families have a primary IP and whether it takes NodePorts (KP §3.4);
* what kube-proxy there reads of the Service's endpoints: the local set it may use (port
  and conditions of each, KP §2.3), how many of the cluster-wide set are its own (those
  see the node's gateway, KP §5.2), and the ready count its health check reports (§13.4);
* the answers of the namespace's NetworkPolicy ``ipBlock`` ranges and of the Service's
  ``loadBalancerSourceRanges`` for their addresses (KP §8.4).

A node whose endpoints kube-proxy does not use (not ready, not serving) is like a node
without any.

Nodes that hold duplicated endpoints (KP §2.1), nodes named by node hints, and — when the
namespace has NetworkPolicies — every node with local endpoints stay alone, as do all
nodes when the app trusts proxies by address. A group's members then differ only in
their names, their own addresses and which pods are theirs, so the model probes and
routes one member (``first``) and reads the rest by symmetry: each member gets the same
share; a node address seen on ``first`` is each member's own (:attr:`SeenKind.NODE`,
:attr:`SeenKind.GATEWAY`). Pod shares are exact per pod: where each member routes to its
own endpoints (Local), every member is routed.

Scope: the path of :func:`~srcip.model.trace.trace` from the Scenario's first client (or
the default one) through the load balancer, kube-proxy, NetworkPolicy and the app — the
doctor's path. A Scenario with hops (edge, ingress, sidecar) is refused: trace it.
``tests/unit/model/test_grouped.py`` checks every figure against ``trace`` and ``share``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from srcip.errors import UsageError
from srcip.model.appview import AppResult, app_resolve
from srcip.model.enums import IPFamily, ServiceType, TrafficPolicy, Verdict
from srcip.model.index import ClusterIndex, ServicePortInfo, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.loadbalancer import (
    EffectiveLoadBalancer,
    TargetHealth,
    hand_off,
    probe_targets,
    split,
)
from srcip.model.netpol import NetworkPolicy, ingress_decision
from srcip.model.objects import Cluster, IPAddress, IPNetwork, Node, Service, family_of
from srcip.model.packet import Backend, Packet, RouteResult
from srcip.model.scenario import DEFAULT_CLIENT, Announcement, Scenario, TargetType
from srcip.model.share import Fairness, PodShare, fairness_of, pod_name, pod_shares
from srcip.model.tracepath import (
    HopRecord,
    PathState,
    lb_address,
    lb_to_node,
    pod_table,
    record,
    scenario_lb,
)
from srcip.model.view import View

__all__ = ["GroupedService", "NodeGroup", "Seen", "SeenKind", "expanded", "summarize"]

_NONE: frozenset[str] = frozenset()
_NOTHING = (0, (), 0, (), None)  # a node whose endpoints kube-proxy does not use: like none


class SeenKind(StrEnum):
    """What an address seen at the pod (or resolved by the app) is."""

    CLIENT = "client"  # the client's own address
    NODE = "node"  # each receiving node's own primary IP (SNAT, KP §5.2)
    GATEWAY = "node-gateway"  # each receiving node's pod-network gateway (KP §5.2)
    ADDRESS = "address"  # one fixed address: a load balancer's, a proxy's


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroup:
    """Nodes the model cannot tell apart for one Service, and what each of them gets."""

    pool: tuple[str, ...]  # the members, with ``excluded`` taken out, in node order
    excluded: frozenset[str]
    count: int
    first: str  # the member the model probes and routes
    share: Fraction  # each member's share of new connections
    healthy: bool  # the LB's probe passes (True without a load balancer)
    health: str  # what the probe got on ``first`` ("" without a load balancer)
    local_pods: int  # each member's ready local endpoints (KP §13.4)

    @property
    def nodes(self) -> tuple[str, ...]:
        """The members' names, in node order."""
        if not self.excluded:
            return self.pool
        return tuple(name for name in self.pool if name not in self.excluded)

    def some(self, limit: int) -> tuple[str, ...]:
        """The first ``limit`` members, without a walk over the whole pool."""
        found: list[str] = []
        for name in self.pool:
            if len(found) == limit:
                break
            if name not in self.excluded:
                found.append(name)
        return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    """An address at the pod or the app, and the share of connections it is seen for.

    ``address`` for CLIENT and ADDRESS; for NODE and GATEWAY it is ``group.first``'s, and
    each member of ``group`` sees its own (``probability`` is the group's total).
    """

    kind: SeenKind
    probability: Fraction
    address: IPAddress | None
    group: NodeGroup | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupedService:
    """One external Service, summarised per node group; every figure is exact."""

    service: str
    policy: TrafficPolicy
    load_balancer: EffectiveLoadBalancer | None
    groups: tuple[NodeGroup, ...]  # () when the load balancer sends to pods directly
    pods: tuple[PodShare, ...]  # connections reaching each pod, as share() counts them
    pod_sees: tuple[Seen, ...]  # the pod's TCP peer, for every connection reaching a pod
    app_sees: tuple[Seen, ...]  # the app's resolved client, for connections it answers
    dropped: Fraction  # lost before any pod (no target, DROP or REJECT at kube-proxy)
    denied: Fraction  # dropped by a NetworkPolicy at the pod
    refused: Fraction  # refused by the app (a PROXY header it does not expect, or none)
    path: tuple[HopRecord, ...]  # one delivered path, through the busiest group
    why: tuple[str, ...]  # kube-proxy's rules on that path, each "KP §n: reason"
    fairness: Fairness
    notes: tuple[str, ...] = ()


def summarize(
    cluster: Cluster,
    *,
    services: Sequence[Service] | None = None,
    index: ClusterIndex | None = None,
) -> tuple[GroupedService, ...]:
    """Summarise ``services`` (default: every LoadBalancer and NodePort Service with ports)."""
    scenario = cluster.scenario or Scenario(name="default")
    if scenario.hops:
        raise UsageError(
            "the grouped summary follows the path without hops; the Scenario has "
            f"{len(scenario.hops)}. Fix: use srcip trace / share for a Scenario with hops"
        )
    chosen = services if services is not None else _external(cluster)
    for svc in chosen:
        if svc.type not in _EXTERNAL or not svc.ports or not svc.cluster_ips:
            raise UsageError(
                f"Service {svc.key} ({svc.type.value}) has no way in from outside to summarise. "
                "Fix: name a LoadBalancer or NodePort Service with a ClusterIP and a port"
            )
    shared = _Cluster(cluster, index or build_index(cluster), scenario)
    return tuple(_Service(shared, svc).run() for svc in chosen)


def expanded(seen: Iterable[Seen], index: ClusterIndex) -> dict[IPAddress | None, Fraction]:
    """Address → share, each node kind spread equally over its group's own addresses.

    The distribution :func:`srcip.model.trace.trace` gives node by node: a NODE entry is
    each member's primary IP, a GATEWAY entry each member's pod-network gateway, of the
    entry's address family.
    """
    out: dict[IPAddress | None, Fraction] = defaultdict(Fraction)
    for item in seen:
        group = item.group
        if group is None or item.address is None:
            out[item.address] += item.probability
            continue
        family = family_of(item.address)
        members = group.nodes
        part = item.probability / len(members)
        for member in members:
            view = index.view(member)
            own = view.primary if item.kind is SeenKind.NODE else view.gateway
            out[own[family]] += part
    return dict(out)


_EXTERNAL = (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT)


def _external(cluster: Cluster) -> list[Service]:
    return [s for s in cluster.services if s.type in _EXTERNAL and s.ports and s.cluster_ips]


# --------------------------------------------------------------------------- node keys


class _Cluster:
    """What every Service's grouping shares: node order, zones and base keys."""

    def __init__(self, cluster: Cluster, index: ClusterIndex, scenario: Scenario) -> None:
        self.cluster, self.index, self.scenario = cluster, index, scenario
        first = scenario.clients[0] if scenario.clients else None
        self.client: IPAddress = first.address if first is not None else DEFAULT_CLIENT
        self.client_headers = first.headers if first is not None else ()
        self.position = {node.name: i for i, node in enumerate(cluster.nodes)}
        self.zones = {node.name: node.zone for node in cluster.nodes}
        app = scenario.app
        self.alone = bool(app.trusted_proxies or app.proxy_protocol_trusted)
        self.base = {node.name: self._base_key(node) for node in cluster.nodes}
        self.pods = pod_table(cluster)
        self.policies: dict[str, tuple[NetworkPolicy, ...]] = defaultdict(tuple)
        for policy in cluster.network_policies:
            self.policies[policy.namespace] += (policy,)
        self._pools: dict[tuple[IPNetwork, ...], _Pools] = {}
        self._blocks: dict[str, tuple[IPNetwork, ...]] = {}
        self.answers: dict[Hashable, AppResult] = {}

    def _base_key(self, node: Node) -> Hashable:
        if self.alone:
            return node.name
        view = self.index.view(node.name)
        families = tuple(
            (family, view.primary[family] in view.node_port_ips, family in view.gateway)
            for family in IPFamily
            if family in view.primary
        )
        return (node.zone, node.eligible, families)

    def pools(self, namespace: str) -> _Pools:
        """Every node's key, and the nodes of each key in order, for Services in ``namespace``."""
        blocks = self._blocks.get(namespace)
        if blocks is None:
            blocks = self._blocks[namespace] = _blocks(self.policies.get(namespace, ()))
        found = self._pools.get(blocks)
        if found is None:
            keys = {name: (base, self._bits(name, blocks)) for name, base in self.base.items()}
            members: dict[Hashable, list[str]] = defaultdict(list)
            for node in self.cluster.nodes:
                members[keys[node.name]].append(node.name)
            pools = {key: tuple(names) for key, names in members.items()}
            found = self._pools[blocks] = _Pools(key=keys, pools=pools)
        return found

    def _bits(self, node: str, blocks: tuple[IPNetwork, ...]) -> tuple[bool, ...]:
        if not blocks:
            return ()
        view = self.index.view(node)
        mine = (*view.primary.values(), *view.gateway.values())
        return tuple(ip in block for block in blocks for ip in mine)


def _blocks(policies: Iterable[NetworkPolicy]) -> tuple[IPNetwork, ...]:
    """Every ipBlock range and exception of ``policies``' ingress rules."""
    found: list[IPNetwork] = []
    for policy in policies:
        for rule in policy.ingress:
            for peer in rule.peers:
                if peer.ip_block is not None:
                    found.append(peer.ip_block.cidr)
                    found.extend(peer.ip_block.excepted)
    return tuple(found)


@dataclass(slots=True)
class _Tally:
    """A :class:`Seen` being added up."""

    kind: SeenKind
    address: IPAddress | None
    group: NodeGroup | None
    probability: Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class _Before:
    """The hops before the pod: the load balancer's, then kube-proxy's on ``node``, if any."""

    hops: tuple[HopRecord, ...]
    view: View | None = None  # what kube-proxy's node received
    route: RouteResult | None = None  # kube-proxy's decision there (its reasons: the why)


@dataclass(frozen=True, slots=True)
class _Pools:
    """Nodes by key: ``key`` maps each node to its key, ``pools`` each key to its nodes."""

    key: Mapping[str, Hashable]
    pools: Mapping[Hashable, tuple[str, ...]]


@dataclass(slots=True)
class _Draft:
    """A group before the load balancer's split gives it a share."""

    pool: tuple[str, ...]
    excluded: frozenset[str]
    count: int
    first: str

    def without_first(self) -> _Draft:
        """The same group less its first member (which the caller sets apart)."""
        excluded = self.excluded | {self.first}
        rest = next(n for n in self.pool if n not in excluded)
        return _Draft(self.pool, excluded, self.count - 1, rest)


def _elect(
    drafts: list[_Draft],
    health: tuple[TargetHealth, ...],
    index: ClusterIndex,
    position: Mapping[str, int],
) -> tuple[list[_Draft], tuple[TargetHealth, ...]]:
    """Layer 2: the first healthy node answers for the VIP alone, so it gets a group of its own.

    :func:`split` takes the first healthy target (the first one when it fails open); the
    rest of its group keeps the group's probe answer.
    """
    pairs = list(zip(drafts, health, strict=True))
    healthy = [i for i, (_, answer) in enumerate(pairs) if answer.healthy]
    at = (healthy or [0])[0]
    if not pairs or pairs[at][0].count == 1:
        return drafts, health
    chosen, answer = pairs[at]
    rest = chosen.without_first()
    family = family_of(answer.address) if answer.address is not None else IPFamily.IPV4
    address = index.node(rest.first).primary_ip(family)
    pairs[at : at + 1] = [
        (_Draft((chosen.first,), _NONE, 1, chosen.first), answer),
        (rest, replace(answer, target=rest.first, node=rest.first, address=address)),
    ]
    pairs.sort(key=lambda pair: position[pair[0].first])
    return [d for d, _ in pairs], tuple(h for _, h in pairs)


# --------------------------------------------------------------------------- one Service


class _Service:
    """One Service: its node groups, the load balancer's split, and the walk of each group."""

    def __init__(self, shared: _Cluster, service: Service) -> None:
        self.c, self.svc = shared, service
        self.port = service.ports[0]
        self.info = _first_port_info(shared.index, service)
        self.lb: EffectiveLoadBalancer | None = None
        self.notes: tuple[str, ...] = ()
        self.spreads: dict[int, tuple[tuple[Backend, ...], Fraction]] = {}
        self.pod_seen: dict[Hashable, _Tally] = {}
        self.app_seen: dict[Hashable, _Tally] = {}
        self.dropped = self.denied = self.refused = Fraction(0)
        self.path_part = Fraction(0)
        self.best: tuple[_Before, Backend, View] | None = None
        self.policies = shared.policies.get(service.namespace, ())
        self._kinds: dict[tuple[int, IPAddress], SeenKind] = {}
        vip = next((i.ip for i in service.load_balancer_ingress if i.ip is not None), None)
        if vip is None:  # as trace: the load balancer's own address, else the ClusterIP
            is_lb = service.type is ServiceType.LOAD_BALANCER
            vip = lb_address(shared.scenario) if is_lb else service.cluster_ips[0]
        self.vip = vip
        self.first_view = View(
            peer=shared.client,
            local=vip,
            local_port=self.port.port,
            headers=shared.client_headers,
        )

    def run(self) -> GroupedService:
        """The Service's summary."""
        groups: tuple[NodeGroup, ...] = ()
        if self.svc.type is ServiceType.LOAD_BALANCER:
            self.lb = scenario_lb(self.c.cluster, self.c.scenario, self.svc)
            if self.lb.targets is TargetType.POD:
                self._pod_targets(self.lb)
            else:
                groups = self._node_targets(self.lb)
        else:
            groups = self._node_ports()
        ready = tuple(b for b in self.info.backends if b.ready)
        pods = pod_shares(self.c.pods, ready, self.spreads.values())
        path, why = self._path()
        return GroupedService(
            service=self.svc.key,
            policy=self.svc.external_traffic_policy,
            load_balancer=self.lb,
            groups=groups,
            pods=pods,
            pod_sees=_ordered(self.pod_seen.values()),
            app_sees=_ordered(self.app_seen.values()),
            dropped=self.dropped,
            denied=self.denied,
            refused=self.refused,
            path=path,
            why=why,
            fairness=fairness_of(pods, 1 - self.dropped),
            notes=self.notes,
        )

    # ------------------------------------------------------------------ grouping

    def _drafts(self) -> list[_Draft]:
        """The Service's node groups, ordered by their first member."""
        c, info = self.c, self.info
        pools = c.pools(self.svc.namespace)
        counts = c.index.local_ready_counts(self.svc)
        by_node = info.by_node
        hosting = (set(by_node) | set(counts)) & c.position.keys()
        alone = set(info.local_copies)
        if any(b.node_hints for b in info.backends):
            hosting = alone = set(c.position)  # node hints name nodes: none is alike (KP §12)
        if self.policies:
            alone |= hosting  # whose pods a NetworkPolicy admits depends on the pod
        ranges = self.svc.load_balancer_source_ranges
        keyed: dict[Hashable, list[str]] = defaultdict(list)
        plain = {id(b) for b in info.plain.cluster}
        for name in sorted(hosting, key=c.position.__getitem__):
            key = (
                pools.key[name],
                counts.get(name, 0),
                *self._reads(name, plain),
                name if name in alone else None,
            )
            if key[1:] != _NOTHING:
                keyed[key].append(name)
        drafts = [_Draft(tuple(names), _NONE, len(names), names[0]) for names in keyed.values()]
        taken: dict[Hashable, set[str]] = defaultdict(set)
        for names in keyed.values():
            for name in names:
                taken[pools.key[name]].add(name)
        for base, pool in pools.pools.items():
            excluded = frozenset(taken[base]) if base in taken else _NONE
            if len(pool) > len(excluded):
                if ranges:  # KP §8.4: whether a node's own address is in a range
                    drafts.extend(self._by_ranges(pool, excluded))
                    continue
                first = next(n for n in pool if n not in excluded)
                drafts.append(_Draft(pool, excluded, len(pool) - len(excluded), first))
        drafts.sort(key=lambda d: c.position[d.first])
        return drafts

    def _reads(self, name: str, plain: set[int]) -> tuple[Hashable, Hashable, Hashable]:
        """What kube-proxy on ``name`` reads of the first port's endpoints (KP §2.3, §5.2).

        The local set it may use (each endpoint's port and conditions), how many endpoints of
        the cluster-wide set are its own (those reach the pod from its gateway), and, with
        loadBalancerSourceRanges, whether its own addresses lie in them (KP §8.4).
        """
        info = self.info
        cats = self.c.index.categories(info, name)
        local = tuple((b.port, b.ready, b.serving, b.terminating) for b in cats.local)
        mine = info.by_node.get(name, ())
        if cats.cluster is info.plain.cluster:
            near = sum(1 for b in mine if id(b) in plain)
        else:
            near = sum(1 for b in cats.cluster if b.node_name == name)
        return local, near, self._in_ranges(name)

    def _in_ranges(self, name: str) -> tuple[bool, ...]:
        ranges = self.svc.load_balancer_source_ranges
        if not ranges:
            return ()
        mine = self.c.index.view(name).primary.values()
        return tuple(ip in r for r in ranges for ip in mine)

    def _by_ranges(self, pool: tuple[str, ...], excluded: frozenset[str]) -> list[_Draft]:
        """The pool split by whether each node's addresses lie in the source ranges."""
        parts: dict[tuple[bool, ...], list[str]] = defaultdict(list)
        for name in pool:
            if name not in excluded:
                parts[self._in_ranges(name)].append(name)
        return [_Draft(tuple(names), _NONE, len(names), names[0]) for names in parts.values()]

    def _groups(
        self,
        drafts: list[_Draft],
        totals: Mapping[str, Fraction],
        health: Mapping[str, TargetHealth],
    ) -> tuple[NodeGroup, ...]:
        counts = self.c.index.local_ready_counts(self.svc)
        zero = Fraction(0)
        groups = []
        for d in drafts:
            probed = health.get(d.first)
            groups.append(
                NodeGroup(
                    pool=d.pool,
                    excluded=d.excluded,
                    count=d.count,
                    first=d.first,
                    share=totals.get(d.first, zero) / d.count,
                    healthy=probed.healthy if probed is not None else True,
                    health=probed.reason if probed is not None else "",
                    local_pods=counts.get(d.first, 0),
                )
            )
        return tuple(groups)

    # ------------------------------------------------------------------ entry

    def _node_ports(self) -> tuple[NodeGroup, ...]:
        """A NodePort Service: the client picks any node, each as likely (as trace)."""
        drafts = self._drafts()
        size = sum(d.count for d in drafts)
        totals = {d.first: Fraction(d.count, size) for d in drafts}
        groups = self._groups(drafts, totals, {})
        if not size or not self.port.node_port:  # clients send, but nothing listens
            self.dropped = Fraction(1)
            return groups
        view, port = self.first_view, self.port.node_port
        for group in groups:
            total = totals[group.first]
            node_ip = self.c.index.node(group.first).primary_ip(family_of(view.peer))
            if node_ip is None:
                self.dropped += total
                continue
            packet = Packet(src=view.peer, dst=node_ip, port=port, protocol=self.port.protocol)
            arrived = replace(view, local=node_ip, local_port=port)
            self._kube_proxy(group, total, packet, arrived, ())
        return groups

    def _node_targets(self, lb: EffectiveLoadBalancer) -> tuple[NodeGroup, ...]:
        """The load balancer probes each group's first member and splits over the groups."""
        index = self.c.index
        drafts = self._drafts()
        health = probe_targets(index, self.svc, lb, nodes=[index.node(d.first) for d in drafts])
        if lb.announcement is Announcement.L2:
            drafts, health = _elect(drafts, health, index, self.c.position)
        zones = {d.first: self.c.zones[d.first] for d in drafts}
        lb_split = split(lb, health, zones=zones, counts={d.first: d.count for d in drafts})
        self.notes = (*lb.notes, *lb_split.reasons)
        totals = dict(lb_split.shares)
        groups = self._groups(drafts, totals, {h.target: h for h in health})
        if not totals:
            self.dropped = Fraction(1)
            return groups
        start = PathState(client="client", probability=Fraction(1), hops=())
        hops = record(start, "load balancer", f"lb/{lb.mode}", self.first_view).hops
        for group in groups:
            total = totals.get(group.first)
            if total is not None:
                self._through_lb(lb, group, total, hops)
        return groups

    def _through_lb(
        self,
        lb: EffectiveLoadBalancer,
        group: NodeGroup,
        total: Fraction,
        hops: tuple[HopRecord, ...],
    ) -> None:
        node = self.c.index.node(group.first)
        sent = lb_to_node(lb, self.svc, self.port, self.first_view, vip=self.vip, node=node)
        if sent is None:
            self.dropped += total
            return
        self._kube_proxy(group, total, *sent, hops)

    # ------------------------------------------------------------------ kube-proxy, pod, app

    def _kube_proxy(
        self,
        group: NodeGroup,
        total: Fraction,
        packet: Packet,
        view: View,
        hops: tuple[HopRecord, ...],
    ) -> None:
        result = route_packet(self.c.index, group.first, packet)
        if result.verdict is not Verdict.DNAT or not result.targets:
            self.dropped += total
            return
        self._add_pods(group, total, result, packet)
        before = _Before(hops=hops, view=view, route=result)
        reached: dict[int, tuple[IPAddress, list[Backend]]] = {}  # by id: few, shared objects
        for backend in result.targets:
            seen = result.seen_by(backend)[1]
            held = reached.get(id(seen))
            if held is None:
                reached[id(seen)] = (seen, [backend])
            else:
                held[1].append(backend)
        size = len(result.targets)
        for seen, backends in reached.values():
            part = total * Fraction(len(backends), size)
            self._at_pods(group, seen, backends, part, view, before)

    def _add_pods(
        self, group: NodeGroup, total: Fraction, result: RouteResult, packet: Packet
    ) -> None:
        """Pod shares; where members route to their own endpoints, every member is routed."""
        targets, first, info = result.targets, group.first, self.info
        cats = self.c.index.categories(info, first)
        if group.count == 1 or targets is cats.cluster:
            self._spread(targets, total)  # every member routes to this same set
            return
        each = total / group.count
        for member in group.nodes:
            if member == first:
                self._spread(targets, each)
            elif targets is cats.local:  # each member's own local set
                self._spread(self.c.index.categories(info, member).local, each)
            else:  # an index entry of another family than the primary one: route it
                self._spread(self._route_member(member, packet), each)

    def _route_member(self, member: str, packet: Packet) -> tuple[Backend, ...]:
        dst = packet.dst
        if dst != self.vip:  # sent to the node's own address: this member's
            dst = self.c.index.node(member).primary_ip(family_of(dst)) or dst
        return route_packet(self.c.index, member, replace(packet, dst=dst)).targets

    def _spread(self, targets: tuple[Backend, ...], total: Fraction) -> None:
        """``total`` goes to ``targets`` equally (added up per target set, spread at the end)."""
        held = self.spreads.get(id(targets))
        self.spreads[id(targets)] = (targets, total if held is None else held[1] + total)

    def _at_pods(
        self,
        group: NodeGroup | None,
        seen: IPAddress,
        reached: list[Backend],
        part: Fraction,
        view: View,
        before: _Before,
    ) -> None:
        """``part`` of the connections reach ``reached`` (equally) from ``seen``."""
        self._add(self.pod_seen, group, seen, part)
        admitted = reached
        if self.policies:
            admitted = [b for b in reached if self._admits(b, seen)]
            denied = part * Fraction(len(reached) - len(admitted), len(reached))
            self.denied += denied
            part -= denied
            if not admitted:
                return
        first = admitted[0]
        at_pod = replace(view, peer=seen, local=first.address, local_port=first.port)
        key = (seen, at_pod.headers, at_pod.proxy)
        answer = self.c.answers.get(key)
        if answer is None:  # many groups reach the app with the same view
            answer = self.c.answers[key] = app_resolve(self.c.scenario.app, at_pod)
        if answer.resolution is None:
            self.refused += part
            return
        self._add(self.app_seen, group, answer.resolution.ip, part)
        if part > self.path_part:  # the hops are recorded at the end, for this one only
            self.path_part = part
            self.best = (before, first, at_pod)

    def _path(self) -> tuple[tuple[HopRecord, ...], tuple[str, ...]]:
        """The hops of the path through the busiest group, and kube-proxy's reasons on it.

        Both empty when no connection is answered.
        """
        if self.best is None:
            return (), ()
        before, backend, at_pod = self.best
        state = PathState(client="client", probability=Fraction(1), hops=before.hops)
        why: tuple[str, ...] = ()
        route = before.route
        if before.view is not None and route is not None:
            where, view = f"kube-proxy on {route.node}", before.view
            state = record(state, where, "kube-proxy", view, rules=route.rules)
            reasons = zip(route.rules, route.reasons, strict=True)
            why = tuple(f"{rule}: {text}" for rule, text in reasons)
        state = record(state, f"pod {pod_name(self.c.pods, backend)}", "pod", at_pod)
        return record(state, "app", "app", at_pod).hops, why

    def _admits(self, backend: Backend, seen: IPAddress) -> bool:
        pod = self.c.pods.get(backend.address)
        if pod is None:
            return True
        decision = ingress_decision(
            self.policies,
            pod,
            source=seen,
            port=backend.port,
            protocol=self.port.protocol,
            source_pod=self.c.pods.get(seen),
        )
        return decision.allowed

    def _add(
        self,
        table: dict[Hashable, _Tally],
        group: NodeGroup | None,
        address: IPAddress | None,
        part: Fraction,
    ) -> None:
        kind = self._kind(group, address)
        own = kind is SeenKind.NODE or kind is SeenKind.GATEWAY
        key = (kind, id(group)) if own else (kind, address)
        held = table.get(key)
        if held is None:
            table[key] = _Tally(kind, address, group if own else None, part)
        else:
            held.probability += part

    def _kind(self, group: NodeGroup | None, address: IPAddress | None) -> SeenKind:
        if address == self.c.client:
            return SeenKind.CLIENT
        if group is None or address is None:
            return SeenKind.ADDRESS
        key = (id(group), address)
        kind = self._kinds.get(key)
        if kind is None:
            view = self.c.index.view(group.first)
            kind = SeenKind.ADDRESS
            if address in view.primary.values():
                kind = SeenKind.NODE
            elif address in view.gateway.values():
                kind = SeenKind.GATEWAY
            self._kinds[key] = kind
        return kind

    # ------------------------------------------------------------------ pod targets

    def _pod_targets(self, lb: EffectiveLoadBalancer) -> None:
        """The load balancer sends to pod IPs (AWS ``ip`` targets); kube-proxy is not on it."""
        health = probe_targets(self.c.index, self.svc, lb)
        lb_split = split(lb, health, zones=self.c.zones)
        self.notes = (*lb.notes, *lb_split.reasons)
        if not lb_split.shares:
            self.dropped = Fraction(1)
            return
        probed = {h.target: h for h in health}
        backends = {b.address: b for b in self.info.backends}
        start = PathState(client="client", probability=Fraction(1), hops=())
        kind = f"lb/{lb.mode}" + ("" if lb.preserve_client_ip else "/no-preserve")
        before = _Before(hops=record(start, "load balancer", kind, self.first_view).hops)
        for target, part in lb_split.shares:
            address = probed[target].address or self.vip
            backend = backends[address]
            off = hand_off(
                lb, self.svc, self.port, self.first_view, vip=self.vip,
                target_address=address, target_port=backend.port,
            )  # fmt: skip
            self._spread((backend,), part)
            self._at_pods(None, off.view.peer, [backend], part, off.view, before)


def _first_port_info(index: ClusterIndex, service: Service) -> ServicePortInfo:
    """The index's entry for the Service's first port in its primary family."""
    first = service.ports[0]
    infos = index.by_cluster_ip[service.cluster_ips[0]].values()
    return next(i for i in infos if i.service is service and i.port == first)


def _order(address: IPAddress) -> tuple[int, int]:
    return (address.version, int(address))


def _ordered(tallies: Iterable[_Tally]) -> tuple[Seen, ...]:
    """The tallies as :class:`Seen`, most connections first; ties by kind, then address.

    Sorted by the share as a float: equal fractions give equal floats, and two different
    shares closer than a float can tell apart still come out in a fixed order.
    """
    ranked = sorted(
        tallies,
        key=lambda t: (-float(t.probability), t.kind, _order(t.address) if t.address else (0, 0)),
    )
    return tuple(
        Seen(kind=t.kind, probability=t.probability, address=t.address, group=t.group)
        for t in ranked
    )
