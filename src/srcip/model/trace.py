"""``trace``: every path a client's new connection can take, with what each hop sees.

For one Service and one client the path is: edge hops (CDN, WAF) → the load balancer
(its health checks decide which targets it uses, its split how often) → kube-proxy on the
chosen node (which endpoint, whether SNAT) → the pod → an ingress controller's proxying
to the backend Service through kube-proxy again → the mesh sidecar → the app, which
resolves its client with :mod:`srcip.clientip`. A NetworkPolicy at the pod is evaluated
against the source the pod really sees. In-cluster clients (``node``/``pod``) skip the
load balancer: kube-proxy short-circuits the LB IP on their node (KP §10).

The result is a distribution: each :class:`Outcome` has an exact probability, and the
outcomes of one client sum to 1. Nothing is sampled (STYLE §2). Every choice the model
makes is one a real connection can take, so the lab can check each observation against
the outcomes it allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

from srcip.clientip.resolve import Resolution
from srcip.model.appview import AppResult, app_resolve
from srcip.model.enums import ServiceType, Verdict
from srcip.model.hops import (
    HopResult,
    edge_forward,
    ingress_forward,
    ingress_settings,
    sidecar_forward,
)
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.loadbalancer import (
    EffectiveLoadBalancer,
    LoadBalancerSplit,
    TargetHealth,
    hand_off,
)
from srcip.model.netpol import ingress_decision
from srcip.model.objects import Cluster, IPAddress, Pod, Service, ServicePort, family_of
from srcip.model.packet import Packet
from srcip.model.scenario import DEFAULT_CLIENT, ClientSpec, Scenario, TargetType
from srcip.model.tracepath import (
    HopRecord,
    Outcome,
    PathState,
    balance,
    entry_services,
    lb_address,
    lb_to_node,
    pod_table,
    record,
    target_port_of,
)
from srcip.model.verdicts import verdict_for
from srcip.model.view import View

__all__ = ["HopRecord", "Outcome", "ServiceTrace", "Trace", "trace"]

FORGED = "192.0.2.66"  # the address a forging twin of each client claims (TEST-NET-1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceTrace:
    """The trace of one Service (the one the load balancer fronts) for every client."""

    service: str
    backend: str  # the Service the app runs behind (differs when an ingress is in front)
    policy: str
    load_balancer: EffectiveLoadBalancer | None  # None: not a LoadBalancer Service
    health: tuple[TargetHealth, ...]
    split: LoadBalancerSplit | None
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """Every traced Service of a scenario."""

    scenario: str
    services: tuple[ServiceTrace, ...]
    notes: tuple[str, ...] = ()


def trace(
    cluster: Cluster,
    *,
    service: str | None = None,
    client: IPAddress | None = None,
    index: ClusterIndex | None = None,
) -> Trace:
    """Trace the scenario's clients (or ``client``) to its Service (or ``service``)."""
    scenario = cluster.scenario or Scenario(name="default")
    index = index or build_index(cluster)
    clients = scenario.clients or (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)
    if client is not None:
        known = [c for c in clients if c.address == client]
        clients = tuple(known) or (ClientSpec(name=str(client), address=client),)
    traces = tuple(
        _trace_service(cluster, index, scenario, entry, backend, clients)
        for entry, backend in entry_services(cluster, scenario, service)
    )
    return Trace(scenario=scenario.name, services=traces)


def _trace_service(
    cluster: Cluster,
    index: ClusterIndex,
    scenario: Scenario,
    entry: Service,
    backend: Service,
    clients: tuple[ClientSpec, ...],
) -> ServiceTrace:
    port = entry.ports[0]
    lb = None
    health: tuple[TargetHealth, ...] = ()
    lb_split = None
    if entry.type is ServiceType.LOAD_BALANCER:
        lb, health, lb_split = balance(cluster, index, scenario, entry)
    outcomes: list[Outcome] = []
    for spec in clients:
        ctx = _Context(cluster, index, scenario, entry, backend, port, lb, lb_split, health)
        honest = list(ctx.paths(spec, spec.headers))
        # An app that reads no header cannot be fooled by one: its twin is itself.
        reads_headers = bool(scenario.app.trusted_proxies) or scenario.app.trusted_hops is not None
        forged = (
            list(ctx.paths(spec, (*_forgeries(scenario), *spec.headers)))
            if reads_headers
            else honest
        )
        outcomes.extend(
            verdict_for(outcome, twin, spec, scenario, FORGED)
            for outcome, twin in zip(honest, forged, strict=True)
        )
    notes = (*(lb.notes if lb else ()), *(lb_split.reasons if lb_split else ()))
    return ServiceTrace(
        service=entry.key,
        backend=backend.key,
        policy=str(entry.external_traffic_policy),
        load_balancer=lb,
        health=health,
        split=lb_split,
        outcomes=tuple(outcomes),
        notes=notes,
    )


def _forgeries(scenario: Scenario) -> tuple[tuple[str, str], ...]:
    """What the forging twin sends: the app's source header and X-Forwarded-For.

    An ingress that trusts X-Forwarded-For (``use-forwarded-headers``) turns a forged one
    into the X-Real-IP the app reads, so forging the app's header alone would miss it.
    """
    names = dict.fromkeys((scenario.app.source, "x-forwarded-for"))
    return tuple((name, FORGED) for name in names)


class _Context:
    """One Service's path, walked for one client at a time."""

    def __init__(
        self,
        cluster: Cluster,
        index: ClusterIndex,
        scenario: Scenario,
        entry: Service,
        backend: Service,
        port: ServicePort,
        lb: EffectiveLoadBalancer | None,
        lb_split: LoadBalancerSplit | None,
        health: tuple[TargetHealth, ...],
    ) -> None:
        self.cluster, self.index, self.scenario = cluster, index, scenario
        self.entry, self.backend, self.port = entry, backend, port
        self.lb, self.lb_split = lb, lb_split
        self.pods = pod_table(cluster)
        self.targets = {h.target: h for h in health}
        self.answers: dict[object, AppResult] = {}

    def paths(self, client: ClientSpec, headers: tuple[tuple[str, str], ...]) -> Iterator[Outcome]:
        """Every outcome for this client sending ``headers``, in a fixed order."""
        vip = self._vip()
        first = View(peer=client.address, local=vip, local_port=self.port.port, headers=headers)
        state = PathState(client=client.name, probability=Fraction(1), hops=())
        view = first
        for hop in self.scenario.edge_hops:
            state = record(state, hop.name, str(hop.kind), view)
            result = edge_forward(hop, view, next_local=vip, next_port=self.port.port)
            state = state._replace(notes=(*state.notes, *result.notes))
            if result.view is None:
                yield state.refused(f"{hop.name}: {result.refused}")
                return
            view = result.view
        if client.node is not None or client.pod is not None:
            yield from self._in_cluster(client, view, state, vip)
        elif self.lb is None or self.lb_split is None:
            yield from self._node_ports(view, state)
        else:
            yield from self._through_lb(view, state, vip)

    def _vip(self) -> IPAddress:
        for ingress in self.entry.load_balancer_ingress:
            if ingress.ip is not None:
                return ingress.ip
        return lb_address(self.scenario) if self.lb is not None else self.entry.cluster_ips[0]

    def _short_circuited(self) -> bool:
        """kube-proxy programs the LB IP, so in-cluster clients never reach the LB (KP §10)."""
        return self.lb is None or any(i.is_vip for i in self.entry.load_balancer_ingress)

    def _through_lb(self, view: View, state: PathState, vip: IPAddress) -> Iterator[Outcome]:
        assert self.lb is not None
        assert self.lb_split is not None
        masked = self.lb.targets is TargetType.POD and not self.lb.preserve_client_ip
        kind = f"lb/{self.lb.mode}" + ("/no-preserve" if masked else "")
        state = record(state, "load balancer", kind, view)
        if not self.lb_split.shares:
            yield state.dropped("load balancer: no targets")
            return
        for target, share in self.lb_split.shares:
            sub = state._replace(probability=state.probability * share)
            if self.lb.targets is TargetType.POD:
                probed = self.targets[target]
                address = probed.address or vip
                off = hand_off(
                    self.lb,
                    self.entry,
                    self.port,
                    view,
                    vip=vip,
                    target_address=address,
                    target_port=target_port_of(self.cluster, self.entry, self.port, address),
                )
                yield from self._at_pod(off.view, sub, probed.node or None, address)
                continue
            node = self.index.node(target)
            sent = lb_to_node(self.lb, self.entry, self.port, view, vip=vip, node=node)
            if sent is None:
                yield sub.dropped(f"{target} has no address of the load balancer's family")
                continue
            yield from self._kube_proxy(target, *sent, sub)

    def _node_ports(self, view: View, state: PathState) -> Iterator[Outcome]:
        nodes = self.index.nodes
        if not nodes or not self.port.node_port:
            yield state.dropped(f"Service {self.entry.key} is not reachable from outside")
            return
        share = Fraction(1, len(nodes))
        for node in nodes:
            node_ip = node.primary_ip(family_of(view.peer))
            if node_ip is None:
                lost = state._replace(probability=state.probability * share, node=node.name)
                yield lost.dropped(f"{node.name} has no address of the client's family")
                continue
            packet = Packet(
                src=view.peer, dst=node_ip, port=self.port.node_port, protocol=self.port.protocol
            )
            arrived = replace(view, local=node_ip, local_port=self.port.node_port)
            sub = state._replace(probability=state.probability * share)
            yield from self._kube_proxy(node.name, packet, arrived, sub)

    def _in_cluster(
        self, client: ClientSpec, view: View, state: PathState, vip: IPAddress
    ) -> Iterator[Outcome]:
        node = client.node or self._client_pod_node(client)
        if node is None:
            yield state.dropped(f"client {client.name}: its pod or node is not in the input")
            return
        if not self._short_circuited():
            # ipMode Proxy or a hostname-only status (KEP-1860, ecosystem §0): the connection
            # leaves the node for the load balancer, from the node's address (a pod's
            # traffic to an outside address is masqueraded to it by the CNI).
            origin = self.index.node(node).primary_ip(family_of(vip)) or client.address
            yield from self._through_lb(replace(view, peer=origin), state, vip)
            return
        packet = Packet(
            src=client.address, dst=vip, port=self.port.port, protocol=self.port.protocol
        )
        yield from self._kube_proxy(node, packet, view, state)

    def _kube_proxy(
        self, node: str, packet: Packet, view: View, state: PathState
    ) -> Iterator[Outcome]:
        result = route_packet(self.index, node, packet)
        state = record(state, f"kube-proxy on {node}", "kube-proxy", view, rules=result.rules)
        if result.verdict is not Verdict.DNAT:
            where = f"kube-proxy on {node} ({', '.join(result.rules)})"
            kind = "refused" if result.verdict is Verdict.REJECT else "dropped"
            reason = "; ".join(result.reasons)
            state = state._replace(node=node)
            yield (
                state.refused(f"{where}: {reason}")
                if kind == "refused"
                else state.dropped(f"{where}: {reason}")
            )
            return
        for choice in result.endpoints:
            sub = state._replace(probability=state.probability * choice.probability, node=node)
            arrived = View(
                peer=choice.source_seen,
                local=choice.ip,
                local_port=choice.port,
                proxy=view.proxy,
                headers=view.headers,
            )
            yield from self._at_pod(arrived, sub, choice.node, choice.ip)

    def _at_pod(
        self, view: View, state: PathState, node: str | None, address: IPAddress
    ) -> Iterator[Outcome]:
        pod = self.pods.get(address)
        name = pod.name if pod else str(address)
        state = state._replace(node=state.node or node, pod=state.pod or name)
        denied = self._policy(pod, view)
        if denied is not None:
            state = state._replace(pod_peer=view.peer)
            yield record(state, f"pod {name}", "pod", view).dropped(denied)
            return
        ingress = self.scenario.ingress
        if ingress is not None and self.entry is not self.backend:
            yield from self._through_ingress(view, state._replace(pod=None), address, name)
            return
        yield from self._at_app(view, state._replace(pod_peer=view.peer), name)

    def _through_ingress(
        self, view: View, state: PathState, pod_ip: IPAddress, name: str
    ) -> Iterator[Outcome]:
        hop = self.scenario.ingress
        assert hop is not None
        settings = ingress_settings(hop, self.cluster.config_maps)
        backend_ip = self.backend.cluster_ips[0]
        backend_port = self.backend.ports[0]
        state = record(state, f"{hop.name} ({name})", str(hop.kind), view)
        result: HopResult = ingress_forward(
            settings, view, pod_ip=pod_ip, backend=backend_ip, backend_port=backend_port.port
        )
        state = state._replace(
            notes=(*state.notes, *settings.notes, *result.notes), ingress_pod=name
        )
        if result.view is None:
            yield state.refused(f"{hop.name} on pod {name}: {result.refused}")
            return
        pod = self.pods.get(pod_ip)
        node = pod.node_name if pod and pod.node_name else state.node or ""
        packet = Packet(
            src=pod_ip, dst=backend_ip, port=backend_port.port, protocol=backend_port.protocol
        )
        route = route_packet(self.index, node, packet)
        if route.verdict is not Verdict.DNAT:
            why = f"kube-proxy on {node} toward {self.backend.key}: " + "; ".join(route.reasons)
            yield state.refused(why) if route.verdict is Verdict.REJECT else state.dropped(why)
            return
        for choice in route.endpoints:
            sub = state._replace(probability=state.probability * choice.probability)
            arrived = replace(
                result.view, peer=choice.source_seen, local=choice.ip, local_port=choice.port
            )
            target = self.pods.get(choice.ip)
            pod_name = target.name if target else str(choice.ip)
            denied = self._policy(target, arrived)
            if denied is not None:
                dropped = sub._replace(pod=pod_name, pod_peer=arrived.peer)
                yield record(dropped, f"pod {pod_name}", "pod", arrived).dropped(denied)
                continue
            yield from self._at_app(
                arrived, sub._replace(pod=pod_name, pod_peer=arrived.peer), pod_name
            )

    def _at_app(self, view: View, state: PathState, pod: str) -> Iterator[Outcome]:
        state = record(state, f"pod {pod}", "pod", view)
        sidecar = self.scenario.sidecar
        if sidecar is not None:
            result = sidecar_forward(sidecar, view, pod_ip=view.local)
            state = record(state, f"{sidecar.name} sidecar", f"sidecar/{sidecar.mesh}", view)
            state = state._replace(notes=(*state.notes, *result.notes))
            if result.view is None:
                yield state.refused(f"{sidecar.name} sidecar: {result.refused}")
                return
            view = result.view
        state = record(state, "app", "app", view)
        key = (view.peer, view.headers, view.proxy)
        answer = self.answers.get(key)
        if answer is None:  # many paths reach the app with the same view
            answer = self.answers[key] = app_resolve(self.scenario.app, view)
        if answer.refused is not None:
            yield state.refused(f"app in pod {pod}: {answer.refused}")
            return
        yield state.delivered(resolution=_checked(answer.resolution))

    def _policy(self, pod: Pod | None, view: View) -> str | None:
        if pod is None or not self.cluster.network_policies:
            return None
        decision = ingress_decision(
            self.cluster.network_policies,
            pod,
            source=view.peer,
            port=view.local_port,
            protocol=self.port.protocol,
            source_pod=self.pods.get(view.peer),
        )
        if decision.allowed:
            return None
        return f"NetworkPolicy {', '.join(decision.policies)} at pod {pod.name}: {decision.reason}"

    def _client_pod_node(self, client: ClientSpec) -> str | None:
        namespace, _, name = (client.pod or "").rpartition("/")
        for pod in self.cluster.pods:
            if pod.name == name and pod.namespace == (namespace or "default"):
                return pod.node_name
        return None


def _checked(resolution: Resolution | None) -> Resolution:
    assert resolution is not None  # app_resolve returns one unless it refused
    return resolution
