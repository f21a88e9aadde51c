"""One node's kube-proxy data path in userspace, decided by the kube-proxy model.

A :class:`NodeDataPath` listens where kube-proxy on the node catches traffic for external
clients: the node's address on each NodePort (KP §3.4) and, per load balancer VIP routed
to the node, the VIP on the Service port (KP §10; in the lab each (VIP, node) pair has its
own local alias). For every new connection it asks :func:`srcip.model.route_packet` on the
*current* index (``index()``: the endpoints controller may swap it at any time), with the
node's ClientIP affinity memory (KP §9), and then

* DNAT (KP §7.1): draws one endpoint with :func:`~srcip.net.tcp_relay.sample` from the
  exact probabilities with the injected ``random.Random``, and connects to the pod's local
  address **bound to the local address of** ``source_seen`` — the client when the source is
  preserved (KP §4.3), the node IP or the pod-network gateway when masqueraded (KP §5.2);
* DROP: a silent drop (see :mod:`srcip.net.tcp_relay` for how userspace emulates it);
* REJECT, ACCEPT, NO_MATCH: refused (nothing behind the port answers the packet, KP §6).

Where the chosen pod is isolated by a NetworkPolicy, :func:`policy_denies` decides the
connection against the source the pod would see (``source_seen``), as
:func:`srcip.model.netpol.ingress_decision` does (the CNI enforces at the pod, after
kube-proxy's SNAT): a denied connection is silently dropped, as CNIs drop it.

Left out: conntrack of established flows (every accepted connection is new; KP §3.6) and
UDP.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from srcip.model.enums import Protocol, Verdict
from srcip.model.index import ClusterIndex
from srcip.model.kubeproxy import route_packet
from srcip.model.netpol import ingress_decision
from srcip.model.objects import IPAddress
from srcip.model.packet import AffinityState, Packet, RouteResult
from srcip.model.tracepath import pod_table
from srcip.net.tcp_relay import (
    Address,
    Decision,
    Drop,
    Forward,
    OnForward,
    Reject,
    TcpRelay,
    Translator,
    sample,
)

__all__ = ["NodeDataPath", "NodeListener", "node_listeners", "policy_denies"]


def policy_denies(
    index: ClusterIndex,
    pod_ip: IPAddress,
    *,
    source: IPAddress,
    port: int,
    protocol: Protocol = Protocol.TCP,
) -> str | None:
    """Why the NetworkPolicies deny ``source`` → ``pod_ip:port`` (None: admitted).

    The source is the address the pod sees; a source that is a pod's IP lets pod and
    namespace selectors match it, as in the model's trace.
    """
    cluster = index.cluster
    if not cluster.network_policies:
        return None
    pods = pod_table(cluster)
    pod = pods.get(pod_ip)
    if pod is None:
        return None
    decision = ingress_decision(
        cluster.network_policies,
        pod,
        source=source,
        port=port,
        protocol=protocol,
        source_pod=pods.get(source),
    )
    if decision.allowed:
        return None
    return f"NetworkPolicy {', '.join(decision.policies)} at pod {pod.name}: {decision.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeListener:
    """A local ``host:port`` standing in for the scenario destination ``dst:dst_port``."""

    host: str
    port: int
    dst: IPAddress
    dst_port: int


def node_listeners(
    index: ClusterIndex,
    node: str,
    translate: Translator,
    *,
    services: Sequence[str] = (),
    cluster_ips: bool = False,
) -> tuple[NodeListener, ...]:
    """Where kube-proxy on ``node`` catches external traffic for ``services`` (all: empty).

    The node's primary addresses on every NodePort (KP §3.4) and every VIP kube-proxy
    programs (ipMode VIP or unset, KP §10.1) on its Service port; with ``cluster_ips``
    also each ClusterIP on its Service port (KP §4.1: what in-cluster clients on the node
    connect to), on its own per-node alias like a VIP.
    """
    found: dict[tuple[str, int], NodeListener] = {}
    view = index.view(node)
    for service in index.cluster.services:
        if services and service.key not in services:
            continue
        vips = [i.ip for i in service.load_balancer_ingress if i.is_vip and i.ip is not None]
        if cluster_ips:
            vips += [ip for ip in service.cluster_ips if ip not in vips]
        for port in service.ports:
            if port.node_port:
                for ip in view.primary.values():
                    host, local_port = translate.local(ip), translate.port(port.node_port)
                    found[(host, local_port)] = NodeListener(
                        host=host, port=local_port, dst=ip, dst_port=port.node_port
                    )
            for vip in vips:
                host, local_port = translate.at_node(vip, node), translate.port(port.port)
                found[(host, local_port)] = NodeListener(
                    host=host, port=local_port, dst=vip, dst_port=port.port
                )
    return tuple(found.values())


class NodeDataPath:
    """``async with NodeDataPath(...)``: kube-proxy's data path of one node, live.

    ``on_route`` (optional) sees every decision, e.g. for the lab's journal.
    """

    def __init__(
        self,
        node: str,
        listeners: Sequence[NodeListener],
        *,
        index: Callable[[], ClusterIndex],
        translate: Translator,
        rng: random.Random,
        drop_hold: float = 30.0,
        on_forward: OnForward | None = None,
        on_route: Callable[[RouteResult], None] | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self.node = node
        self.index = index
        self.translate = translate
        self.rng = rng
        self.drop_hold = drop_hold
        self.on_route = on_route
        self.affinity = AffinityState()
        self._listeners = {(item.host, item.port): item for item in listeners}
        self.relay = TcpRelay(
            tuple(self._listeners), self.decide, on_forward=on_forward, idle_timeout=idle_timeout
        )

    async def __aenter__(self) -> NodeDataPath:
        await self.relay.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.relay.aclose()

    def decide(self, peer: Address, local: Address) -> Decision:
        """kube-proxy's decision for a new connection from ``peer`` to ``local``."""
        src = self.translate.scenario(peer[0])
        listener = self._listeners.get((local[0], local[1]))
        if src is None or listener is None:
            return Reject(reason=f"{peer[0]} is not an address of the scenario")
        packet = Packet(src=src, dst=listener.dst, port=listener.dst_port)
        now = asyncio.get_running_loop().time()
        index = self.index()
        result = route_packet(index, self.node, packet, affinity=self.affinity, now=now)
        if self.on_route is not None:
            self.on_route(result)
        if result.verdict is Verdict.DROP:
            return Drop(hold=self.drop_hold)
        if result.verdict is not Verdict.DNAT or not result.endpoints:
            return Reject(reason="; ".join(result.reasons))
        choice = sample([(c, c.probability) for c in result.endpoints], self.rng)
        if choice.affinity is not None:
            self.affinity = choice.affinity
        if policy_denies(index, choice.ip, source=choice.source_seen, port=choice.port):
            return Drop(hold=self.drop_hold)  # the CNI drops at the pod
        return Forward(
            host=self.translate.local(choice.ip),
            port=self.translate.port(choice.port),
            source=self.translate.local(choice.source_seen),
            tag=self.node,
        )
