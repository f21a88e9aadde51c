"""Bring a scenario up as real listeners on loopback, and take it down again.

``async with LabCluster(cluster) as lab`` starts, in this order,

* every pod of the traced Service's backends as an :class:`~srcip.net.EchoServer` on the
  pod's local address and each endpoint port, with the Scenario's app trust
  (:func:`~srcip.model.appview.app_trust`) and PROXY protocol listener, and its
  :class:`~srcip.net.PodEnvironment` in scenario terms;
* per node, kube-proxy's health servers (:class:`~srcip.net.healthservers.HealthServers`)
  and data path (:class:`~srcip.net.nodeproxy.NodeDataPath`), which also enforces the
  NetworkPolicies at the pod and, when the Scenario has in-cluster clients, catches the
  ClusterIP on a per-node alias;
* the load balancer (:class:`~srcip.net.lbproxy.LoadBalancer`) when the Service is a
  LoadBalancer, its health checks running in the lab's one :class:`asyncio.TaskGroup`.

Leaving the block cancels the background tasks, closes the load balancer, the nodes and
the pods (in reverse order) and waits for every connection: no task or socket outlives it.

The echo server resolves its client from the socket peer, which in the lab is a loopback
address. So that the app decides as it would in the scenario, its trust lists are widened
by :func:`lab_trust` with the local address of every scenario address they cover: the
lab's peers are only ever plan addresses, so the widened lists trust exactly the peers the
scenario's lists trust (headers and PROXY headers carry scenario addresses already).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
from collections.abc import Coroutine
from ipaddress import ip_network
from types import TracebackType
from typing import Any

from srcip.clientip import TrustConfig
from srcip.errors import SrcipError, UsageError
from srcip.lab.addresses import DEFAULT_BASE, AddressPlan, check_loopback, plan_for
from srcip.lab.endpoints import EndpointsController
from srcip.lab.hops import LabHops, refuse_hops
from srcip.lab.realengine import Engine, RealLoadBalancer, check_engine
from srcip.model.appview import app_trust
from srcip.model.enums import ServiceType
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import Cluster, IPAddress, Pod, Service
from srcip.model.providers import effective_load_balancer
from srcip.model.scenario import AppSpec, Scenario, TargetType
from srcip.model.tracepath import entry_services, lb_address, pod_table
from srcip.net import EchoConfig, EchoServer, PodEnvironment, ProxyProtocol
from srcip.net.healthservers import HealthServers
from srcip.net.lbproxy import LoadBalancer
from srcip.net.nodeproxy import NodeDataPath, node_listeners
from srcip.net.tcp_relay import Address

__all__ = ["LabCluster", "lab_trust", "pod_environment"]

_JOURNAL_LIMIT = 100_000


def lab_trust(app: AppSpec, plan: AddressPlan) -> TrustConfig:
    """The app's trust settings, widened to the local addresses of the peers they cover."""
    base = app_trust(app)

    def widen(entries: tuple[str, ...]) -> tuple[str, ...]:
        nets = []
        for entry in entries:
            with contextlib.suppress(ValueError):  # "unix:" and the like cover no address
                nets.append(ip_network(entry, strict=False))
        extra = [
            f"{local}/32"
            for address, local in plan.items()
            if any(address.version == net.version and address in net for net in nets)
        ]
        return (*entries, *extra)

    return TrustConfig(
        trusted_proxies=widen(tuple(base.trusted_proxies)),
        source=base.source,
        trusted_hops=base.trusted_hops,
        peer_check=base.peer_check,
        max_hops=base.max_hops,
        proxy_protocol_trusted=widen(tuple(base.proxy_protocol_trusted)),
        allow_trust_all=True,
    )


def pod_environment(cluster: Cluster, pod: Pod, scenario: Scenario) -> PodEnvironment:
    """What the downward API and settings would tell ``pod``, in scenario terms."""
    node = next((n for n in cluster.nodes if n.name == pod.node_name), None)
    lb = lb_address(scenario)
    return PodEnvironment(
        pod_name=pod.name,
        namespace=pod.namespace,
        node_name=pod.node_name,
        pod_ips=pod.ips,
        node_ips=tuple(a.address for a in node.addresses) if node else (),
        pod_cidrs=node.pod_cidrs if node else (),
        cluster_cidrs=tuple(c for n in cluster.nodes for c in n.pod_cidrs),
        lb_cidrs=(scenario.lb_source_range or ip_network(f"{lb}/{lb.max_prefixlen}"),),
    )


class LabCluster:
    """``async with LabCluster(cluster) as lab``: the scenario running on loopback.

    ``seed`` seeds every random choice (one ``random.Random`` per component, derived from
    it); ``time_scale`` multiplies the load balancer's health-check interval and timeout;
    ``drop_hold`` is how long a silently dropped connection is held; ``propagation_delay``
    is the endpoints controller's delay (default: the Scenario's ``endpointDelaySeconds``);
    ``engine`` ``"real"`` runs real HAProxy as the load balancer (:mod:`srcip.lab.realengine`).
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        service: str | None = None,
        seed: int = 0,
        time_scale: float = 1.0,
        drop_hold: float = 10.0,
        propagation_delay: float | None = None,
        base: Any = DEFAULT_BASE,
        root: bool | None = None,
        engine: str = "builtin",
    ) -> None:
        self.cluster = cluster
        self.scenario = cluster.scenario or Scenario(name="default")
        entry, backend = entry_services(cluster, self.scenario, service)[0]
        _refuse_unsupported(cluster, self.scenario, entry, backend, real=engine == "real")
        self.engine = check_engine(engine, service=entry)
        self.entry, self.backend = entry, backend
        self.seed, self.time_scale, self.drop_hold = seed, time_scale, drop_hold
        delay = self.scenario.failover.endpoint_delay_seconds
        self.controller = EndpointsController(
            cluster, delay=delay if propagation_delay is None else propagation_delay
        )
        self.plan = plan_for(cluster, base=base, root=root)
        self.vip = _vip(entry, self.scenario)
        self.load_balancer_model: EffectiveLoadBalancer | None = None
        self.load_balancer: LoadBalancer | RealLoadBalancer | None = None
        self.pods: dict[str, EchoServer] = {}
        self.environments: dict[str, PodEnvironment] = {}  # pod name → its environment
        self.nodes: dict[str, NodeDataPath] = {}
        self.journal: dict[Address, str] = {}  # onward (host, port) from a node → node name
        self._stack = contextlib.AsyncExitStack()
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.hops = LabHops(
            cluster, self.scenario, entry=entry, backend=backend, plan=self.plan,
            journal=self.journal, index=self.controller.index, record=self._record,
            rng=self.rng, drop_hold=drop_hold, real=self.engine is Engine.REAL,
        )  # fmt: skip

    def rng(self, name: str) -> random.Random:
        """The component ``name``'s own generator, derived from the lab's seed."""
        return random.Random(f"{self.seed}/{name}")

    @property
    def entry_address(self) -> Address:
        """Where clients connect: the first edge hop, else the load balancer's listener."""
        if self.hops.edge_address is not None:
            return self.hops.edge_address
        if self.load_balancer is not None:
            return self.load_balancer.address
        raise UsageError("the lab's Service has no load balancer")

    def node_entries(self) -> tuple[tuple[str, Address], ...]:
        """(node, NodePort listener) for clients of a NodePort Service."""
        port = self.entry.ports[0].node_port
        found = []
        for name, path in self.nodes.items():
            for host, local_port in path.relay.addresses:
                scenario = self.plan.scenario(host)
                if local_port == self.plan.port(port) and scenario != self.vip:
                    found.append((name, (host, local_port)))
        return tuple(found)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the lab's task group (cancelled when the lab stops)."""
        assert self._group is not None, "use the lab inside `async with`"
        self._tasks.append(self._group.create_task(coro))

    def _record(self, onward: Address, node: str) -> None:
        if len(self.journal) >= _JOURNAL_LIMIT:
            self.journal.pop(next(iter(self.journal)))
        self.journal[onward] = node

    async def __aenter__(self) -> LabCluster:
        check_loopback()
        try:
            await self._start()
        except OSError as exc:
            await self._stack.aclose()
            if exc.errno != errno.EADDRINUSE:
                raise
            raise SrcipError(
                f"a lab address is already in use ({exc.strerror}): another lab or server "
                "holds part of the loopback range. Fix: stop it (srcip lab down), or pass "
                "--address-base with another 127.x.0.0 prefix"
            ) from exc
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        await self._start_pods()
        if self.hops.ingress:  # the controller's pods run the ingress hop (srcip.lab.hops)
            for hop in self.hops.ingress_hops():
                await self._stack.enter_async_context(hop)
        index = self.controller.index
        for node in self.cluster.nodes:
            await self._stack.enter_async_context(
                HealthServers(node.name, index=index, translate=self.plan)
            )
            listeners = node_listeners(
                index(), node.name, self.plan, services=(self.entry.key,),
                cluster_ips=any(c.node or c.pod for c in self.scenario.clients),
            )  # fmt: skip
            path = NodeDataPath(
                node.name, listeners, index=index, translate=self.plan,
                rng=self.rng(f"node/{node.name}"), drop_hold=self.drop_hold,
                on_forward=self._record,
            )  # fmt: skip
            self.nodes[node.name] = await self._stack.enter_async_context(path)
        self._group = asyncio.TaskGroup()
        await self._stack.enter_async_context(self._group)
        self._stack.callback(self._cancel_tasks)
        if self.entry.type is ServiceType.LOAD_BALANCER:
            await self._start_load_balancer()
            lb_at = self.entry_address
            for edge in self.hops.edges(self.vip, self.entry.ports[0].port, lb_at):
                await self._stack.enter_async_context(edge)

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _start_pods(self) -> None:
        pods = pod_table(self.cluster)
        trust = lab_trust(self.scenario.app, self.plan)
        listening = ProxyProtocol(str(self.scenario.app.proxy_protocol))
        ports: dict[IPAddress, set[int]] = {}
        for item in self.cluster.endpoint_slices:
            if item.service_name != self.backend.name or item.namespace != self.backend.namespace:
                continue
            for ep in item.endpoints:
                ports.setdefault(ep.address, set()).update(p.port for p in item.ports if p.port)
        for address, numbers in ports.items():
            await self._serve(address, pods.get(address), sorted(numbers), trust, listening)

    async def _serve(
        self,
        address: IPAddress,
        pod: Pod | None,
        ports: list[int],
        trust: TrustConfig,
        listening: ProxyProtocol,
    ) -> None:
        env = pod_environment(self.cluster, pod, self.scenario) if pod else PodEnvironment()
        if pod is not None:
            self.environments[pod.name] = env
        for port in ports:
            config = EchoConfig(
                hosts=(self.hops.app_host(address),), port=self.plan.port(port), trust=trust,
                proxy_protocol=listening, environment=env, grace=0.5,
                hostname=pod.name if pod else str(address),
            )  # fmt: skip
            server = await self._stack.enter_async_context(EchoServer(config))
            sidecar = self.hops.sidecar(address, port)  # in front of the app (srcip.lab.hops)
            if sidecar is not None:
                await self._stack.enter_async_context(sidecar)
            self.pods[f"{pod.name if pod else address}:{port}"] = server

    async def start_pod(self, pod: Pod, ports: list[int]) -> None:
        """Start the app of ``pod``, created while the lab runs (a replacement), on ``ports``
        of its first IP; it stops with the lab."""
        trust = lab_trust(self.scenario.app, self.plan)
        listening = ProxyProtocol(str(self.scenario.app.proxy_protocol))
        await self._serve(pod.ips[0], pod, ports, trust, listening)

    async def stop_pod(self, name: str) -> None:
        """SIGTERM for pod ``name``'s app: each of its echo servers drains (stops accepting,
        lets requests in flight finish within its grace); new connections are refused."""
        servers = [s for key, s in self.pods.items() if key.rpartition(":")[0] == name]
        if not servers:
            raise UsageError(f"pod {name} runs no app in the lab (running: {sorted(self.pods)})")
        await asyncio.gather(*(server.shutdown() for server in servers))

    async def crash_pod(self, name: str) -> None:
        """Pod ``name``'s app dies: every connection of it is aborted (RST) and its
        listeners close at once, with no drain; the endpoints are not told."""
        servers = [s for key, s in self.pods.items() if key.rpartition(":")[0] == name]
        if not servers:
            raise UsageError(f"pod {name} runs no app in the lab (running: {sorted(self.pods)})")
        for server in servers:
            for connection in list(server.connections):
                connection.abort()
        await asyncio.gather(*(server.shutdown(grace=0) for server in servers))

    async def _start_load_balancer(self) -> None:
        lb = effective_load_balancer(
            self.entry,
            self.scenario.load_balancer,
            nodes=self.cluster.nodes,
            address=lb_address(self.scenario),
            proxy_config=self.cluster.proxy_config,
        )
        self.load_balancer_model = lb
        zones = {n.name: n.zone for n in self.cluster.nodes}
        if self.engine is Engine.REAL:
            real = RealLoadBalancer(
                lb, self.entry, vip=self.vip, index=self.controller.index, plan=self.plan,
                time_scale=self.time_scale, zones=zones,
            )  # fmt: skip
            self.load_balancer = await self._stack.enter_async_context(real)
            return
        balancer = LoadBalancer(
            lb, self.entry, vip=self.vip, index=self.controller.index, translate=self.plan,
            rng=self.rng("load-balancer"), time_scale=self.time_scale,
            drop_hold=self.drop_hold, zones=zones,
            # pod targets: the LB is the last hop, so it journals which node's pod answered
            on_forward=self._record if lb.targets is TargetType.POD else None,
        )  # fmt: skip
        self.load_balancer = await self._stack.enter_async_context(balancer)
        self.spawn(balancer.check_forever())


def _vip(entry: Service, scenario: Scenario) -> IPAddress:
    """The address clients connect to, as the trace takes it."""
    for ingress in entry.load_balancer_ingress:
        if ingress.ip is not None:
            return ingress.ip
    if entry.type is ServiceType.LOAD_BALANCER:
        return lb_address(scenario)
    return entry.cluster_ips[0]


def _refuse_unsupported(
    cluster: Cluster, scenario: Scenario, entry: Service, backend: Service, *, real: bool
) -> None:
    """The first part of the lab runs LB → kube-proxy → pod; say clearly what it cannot."""
    missing = []
    missing.extend(refuse_hops(scenario, entry, real=real, config_maps=cluster.config_maps))
    if entry is not backend and scenario.ingress is None:
        missing.append("an ingress in front of the Service")
    if not entry.ports:
        missing.append("a Service without ports")
    if missing:
        raise UsageError(
            f"the lab cannot run this scenario yet: {', '.join(missing)}. Fix: use srcip trace "
            "for it, or remove those parts to run the rest"
        )
