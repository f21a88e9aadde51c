"""The Scenario's hops as real listeners: edge proxies, an ingress controller, a sidecar.

Each hop asks the model of that hop (:mod:`srcip.model.hops`) what the next listener
receives and does exactly that, so the lab's hops cannot drift from the model:

* **edge hops** (CDN, WAF, proxy; :func:`~srcip.model.hops.edge_forward`): an
  :class:`~srcip.net.httphop.HttpHop` per hop, client side first. Clients connect to the
  first one, on its own alias of the VIP (:meth:`AddressPlan.at_node` with ``edge:NAME``);
  each connects onward to the next, the last to the load balancer, **bound to the hop's
  address**, with the head and PROXY header the model writes. Only in front of a
  LoadBalancer Service (the trace's edge hops face the VIP).
* **the ingress controller** (:func:`~srcip.model.hops.ingress_settings`,
  :func:`~srcip.model.hops.ingress_forward`): the controller Service's endpoints run an
  :class:`HttpHop` instead of the app. Each connects to the backend Service's ClusterIP
  through kube-proxy on **its own pod's node** (a :class:`NodeDataPath` listening on the
  ClusterIP alias of that node, KP §3.2), bound to the pod's address (the upstream view's
  peer), so kube-proxy decides the backend pod and its source as for any pod client.
* **a sidecar** (:func:`~srcip.model.hops.sidecar_forward`): a :class:`TcpRelay` on the pod's
  address; the app binds its own alias of the pod address (which translates back to the
  pod IP). The relay connects bound to the local stand-in of the address the model says
  the app sees: ``127.0.0.6`` (Istio REDIRECT), ``127.0.0.1`` (Linkerd, Istio before 1.10)
  or the original peer (Istio TPROXY). The PROXY header, if any, passes as opaque bytes.

The node that forwarded a connection (the lab's journal, keyed by the connection the app
sees) is carried across the ingress and sidecar hops, and so is the pod's own TCP peer
(:attr:`LabHops.pod_peers`: what the pod received in front of its sidecar).

Under ``--engine real`` each ingress-nginx controller pod runs a real nginx instead
(:mod:`srcip.lab.realhops`, same listeners, same ClusterIP leg); what nginx cannot do here
is refused (:func:`srcip.lab.realhops.refuse_real_hops`).

Not done: edge hops in front of a NodePort Service, and sidecars of pods started during a
failover.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from ipaddress import IPv4Address, ip_address

from srcip.lab.addresses import AddressPlan
from srcip.lab.realhops import NginxPod, real_ingress, refuse_real_hops
from srcip.model.enums import ServiceType
from srcip.model.hops import (
    ISTIO_INBOUND_SOURCE_V4,
    edge_forward,
    ingress_forward,
    ingress_settings,
    sidecar_forward,
)
from srcip.model.index import ClusterIndex
from srcip.model.ingress import NginxSettings
from srcip.model.objects import Cluster, ConfigMap, IPAddress, Service
from srcip.model.scenario import EdgeHop, Scenario
from srcip.model.tracepath import pod_table
from srcip.model.view import View
from srcip.net.httphop import HttpHop, Incoming, Onward, Refuse
from srcip.net.nodeproxy import NodeDataPath, NodeListener
from srcip.net.tcp_relay import Address, Decision, Forward, Reject, TcpRelay

__all__ = ["LabHops", "refuse_hops"]

_LOOPBACK = IPv4Address("127.0.0.1")
_JOURNAL_LIMIT = 100_000
_SETTLE_TURNS = 20


def refuse_hops(
    scenario: Scenario, entry: Service, *, real: bool, config_maps: Sequence[ConfigMap] = ()
) -> list[str]:
    """What of the Scenario's hops the lab cannot run (empty: all of them)."""
    missing = refuse_real_hops(scenario, config_maps) if real else []
    if scenario.edge_hops and entry.type is not ServiceType.LOAD_BALANCER:
        missing.append("edge hops in front of a Service that is not a LoadBalancer")
    return missing


class LabHops:
    """The hops of one lab; ``record(onward, node)`` writes the lab's journal."""

    def __init__(
        self,
        cluster: Cluster,
        scenario: Scenario,
        *,
        entry: Service,
        backend: Service,
        plan: AddressPlan,
        journal: dict[Address, str],
        index: Callable[[], ClusterIndex],
        record: Callable[[Address, str], None],
        rng: Callable[[str], random.Random],
        drop_hold: float,
        real: bool = False,
    ) -> None:
        self.cluster, self.scenario, self.plan, self.real = cluster, scenario, plan, real
        self.entry, self.backend, self.index = entry, backend, index
        self.journal, self.record, self.rng, self.drop_hold = journal, record, rng, drop_hold
        self.pods = pod_table(cluster)
        self.pod_peers: dict[Address, IPAddress] = {}  # app's peer → the pod's own peer
        self._pending: dict[Address, str] = {}  # ingress → ClusterIP connection → node
        self.edge_address: Address | None = None
        if scenario.sidecar is not None:  # the app's peers get plan addresses up front
            plan.add((ISTIO_INBOUND_SOURCE_V4, _LOOPBACK))

    @property
    def ingress(self) -> bool:
        """The entry Service is an ingress controller's (its pods run the hop)."""
        return self.scenario.ingress is not None and self.entry is not self.backend

    def app_host(self, address: IPAddress) -> str:
        """Where the app of pod ``address`` listens: its own alias behind a sidecar."""
        if self.scenario.sidecar is not None:
            return self.plan.at_node(address, "app")
        return self.plan.local(address)

    # ------------------------------------------------------------------ sidecar

    def sidecar(self, address: IPAddress, port: int) -> TcpRelay | None:
        """The sidecar relay in front of the app of pod ``address`` on ``port`` (or None)."""
        hop = self.scenario.sidecar
        if hop is None:
            return None
        listen = (self.plan.local(address), self.plan.port(port))

        async def decide(peer: Address, local: Address) -> Decision:
            src = self.plan.scenario(peer[0])
            if src is None:
                return Reject(reason=f"{peer[0]} is not an address of the scenario")
            view = View(peer=src, local=address, local_port=port)
            result = sidecar_forward(hop, view, pod_ip=address)
            assert result.view is not None  # a sidecar never refuses (srcip.model.hops)
            node = await _awaited(self.journal, peer)
            return Forward(
                host=self.app_host(address),
                port=self.plan.port(port),
                source=self.plan.local(result.view.peer),
                tag=f"{node}\t{src}",
            )

        return TcpRelay((listen,), decide, on_forward=self._sidecar_forwarded)

    def _sidecar_forwarded(self, onward: Address, tag: str) -> None:
        node, _, src = tag.partition("\t")
        if len(self.pod_peers) >= _JOURNAL_LIMIT:
            self.pod_peers.pop(next(iter(self.pod_peers)))
        self.pod_peers[onward] = ip_address(src)
        if node:
            self.record(onward, node)

    def pod_peer(self, app_peer: Address) -> IPAddress | None:
        """The pod's own TCP peer for the app connection from ``app_peer`` (None: no sidecar)."""
        return self.pod_peers.pop(app_peer, None)

    # ------------------------------------------------------------------ ingress

    def ingress_hops(self) -> list[AbstractAsyncContextManager[object]]:
        """Context managers to enter: the ClusterIP data paths and the controller pods
        (real nginx under ``--engine real``, :mod:`srcip.lab.realhops`)."""
        hop = self.scenario.ingress
        assert hop is not None
        settings = ingress_settings(hop, self.cluster.config_maps)
        cluster_ip = self.backend.cluster_ips[0]
        port = self.backend.ports[0].port
        found: list[AbstractAsyncContextManager[object]] = []
        nodes: set[str] = set()
        for item in self.cluster.endpoint_slices:
            if item.service_name != self.entry.name or item.namespace != self.entry.namespace:
                continue
            numbers = sorted({p.port for p in item.ports if p.port})
            for ep in item.endpoints:
                pod = self.pods.get(ep.address)
                node = (pod.node_name if pod else None) or ep.node_name or ""
                nodes.add(node)
                target = (self.plan.at_node(cluster_ip, node), self.plan.port(port))
                listeners = [(self.plan.local(ep.address), self.plan.port(n)) for n in numbers]
                if self.real:  # refuse_real_hops let only ingress-nginx through
                    assert isinstance(settings, NginxSettings)
                    nginx = NginxPod(
                        real_ingress(settings, plan=self.plan), listen=listeners,
                        upstream=target, source=self.plan.local(ep.address),
                    )  # fmt: skip
                    found.append(nginx.running())
                    continue

                def decide(
                    incoming: Incoming, pod_ip: IPAddress = ep.address, to: Address = target
                ) -> Onward | Refuse:
                    src = self.plan.scenario(incoming.peer[0])
                    if src is None:
                        return Refuse(status=403, reason="not an address of the scenario")
                    view = View(
                        peer=src, local=pod_ip, local_port=_scenario_port(self.plan, incoming),
                        proxy=incoming.proxy,
                        headers=tuple((n.lower(), v) for n, v in incoming.headers),
                    )  # fmt: skip
                    result = ingress_forward(
                        settings, view, pod_ip=pod_ip, backend=cluster_ip, backend_port=port
                    )
                    if result.view is None:
                        return Refuse(status=400, reason=result.refused or "refused")
                    return Onward(
                        host=to[0], port=to[1], source=self.plan.local(result.view.peer),
                        proxy=result.view.proxy, headers=result.view.headers,
                        tag=self.journal.pop(incoming.peer, ""),
                    )  # fmt: skip

                found.append(HttpHop(listeners, decide, on_forward=self._ingress_forwarded))
        for node in sorted(nodes):
            listener = NodeListener(
                host=self.plan.at_node(cluster_ip, node), port=self.plan.port(port),
                dst=cluster_ip, dst_port=port,
            )  # fmt: skip
            found.insert(0, self._cluster_ip_path(node, listener))
        return found

    def _ingress_forwarded(self, incoming: Address, onward: Address, node: str) -> None:
        if len(self._pending) >= _JOURNAL_LIMIT:
            self._pending.pop(next(iter(self._pending)))
        self._pending[onward] = node

    def _cluster_ip_path(self, node: str, listener: NodeListener) -> NodeDataPath:
        """kube-proxy on ``node`` for pod traffic to the backend's ClusterIP."""
        pending = self._pending
        real = self.real  # nginx journals nothing: no entry node to wait for

        class _Path(NodeDataPath):
            async def decide(self, peer: Address, local: Address) -> Decision:  # type: ignore[override]
                entry_node = "" if real else await _awaited(pending, peer)
                decision = NodeDataPath.decide(self, peer, local)
                if isinstance(decision, Forward) and entry_node:
                    return dataclasses.replace(decision, tag=entry_node)
                return decision

        return _Path(
            node, (listener,), index=self.index, translate=self.plan,
            rng=self.rng(f"cluster-ip/{node}"), drop_hold=self.drop_hold, on_forward=self.record,
        )  # fmt: skip

    # ------------------------------------------------------------------ edge

    def edges(self, vip: IPAddress, port: int, load_balancer: Address) -> list[HttpHop]:
        """The edge hops, client side first; the first one's address is where clients go."""
        hops = self.scenario.edge_hops
        listen = [(self.plan.at_node(vip, f"edge:{h.name}"), self.plan.port(port)) for h in hops]
        onward = [*listen[1:], load_balancer]
        built = [
            HttpHop([listen[i]], self._edge_decide(hop, vip, port, onward[i]))
            for i, hop in enumerate(hops)
        ]
        self.edge_address = listen[0] if listen else None
        return built

    def _edge_decide(
        self, hop: EdgeHop, vip: IPAddress, port: int, to: Address
    ) -> Callable[[Incoming], Onward | Refuse]:
        def decide(incoming: Incoming) -> Onward | Refuse:
            src = self.plan.scenario(incoming.peer[0])
            if src is None:
                return Refuse(status=403, reason="not an address of the scenario")
            view = View(
                peer=src, local=vip, local_port=port, proxy=incoming.proxy,
                headers=tuple((n.lower(), v) for n, v in incoming.headers),
            )  # fmt: skip
            result = edge_forward(hop, view, next_local=vip, next_port=port)
            if result.view is None:
                return Refuse(status=400, reason=result.refused or "refused")
            return Onward(
                host=to[0], port=to[1], source=self.plan.local(hop.address),
                proxy=result.view.proxy, headers=result.view.headers,
            )  # fmt: skip

        return decide


def _scenario_port(plan: AddressPlan, incoming: Incoming) -> int:
    """The scenario port behind the local port the request arrived on."""
    port = incoming.local[1]
    offset = plan.port(1) - 1
    return port - offset if offset and port - offset < 1024 else port


async def _awaited(journal: dict[Address, str], key: Address) -> str:
    """``journal[key]``, popped, once the hop that connected has written it (or "").

    A relay journals its onward connection right after ``connect()`` returns, which can
    be just after the next hop accepted it: a few turns of the event loop settle it.
    """
    for _ in range(_SETTLE_TURNS):
        if key in journal:
            return journal.pop(key)
        await asyncio.sleep(0)
    return ""
