"""The load balancer in front of the nodes, live: health checks, split, hand-off.

:class:`LoadBalancer` realises one :class:`~srcip.model.loadbalancer.EffectiveLoadBalancer`
for one Service port:

* **Health checks** over real sockets, from the LB's own (local) address, every
  ``intervalSeconds × time_scale`` with ``timeoutSeconds × time_scale``; a target turns
  healthy after ``healthyThreshold`` passes in a row and unhealthy after
  ``unhealthyThreshold`` failures. ``time_scale`` < 1 runs the same schedule faster (the
  lab's tests use it; reports say so). HTTP probes send ``GET path`` and pass on the
  configured status range, reading ``X-Load-Balancing-Endpoint-Weight`` (KP §13.3); TCP
  probes connect, half-close and pass when the target closes cleanly in time (userspace
  accepts every handshake, so the close is what tells a forwarded connection from a
  silently dropped or reset one, see :mod:`srcip.net.tcp_relay`); HTTPS probes fail (no
  TLS is spoken in the lab, as kube-proxy's health servers speak none). Before accepting
  clients one round of probes sets every target's state, so the LB starts in the steady
  state the model's :func:`~srcip.model.loadbalancer.probe_targets` describes.
* **Balancing**: each new connection draws a target with the exact shares of
  :func:`~srcip.model.loadbalancer.split` over the live health (equal, weighted, L2,
  per zone, fail-open) using the injected ``random.Random``.
* **Hand-off**: :func:`~srcip.model.loadbalancer.hand_off` says what to send where:
  passthrough connects to the node bound to the client's address, snat bound to the LB's
  (or the node's own), proxy and http from the LB's address, a PROXY v1/v2 header first
  when configured; http mode rewrites the first request head with X-Forwarded-For (append
  or replace) and X-Forwarded-Proto and sets ``Connection: close`` (one request per
  connection, so no later request passes unrewritten).

Pod targets (``targets: pod``, AWS ``ip`` targets) are the Service's ready endpoints when
the LB starts: it probes each pod's traffic port (an explicit probe port on the pod itself)
and connects straight to the pod's address and target port — kube-proxy is not on the
path — bound to the client's address (``preserveClientIP``) or its own, as
:func:`~srcip.model.loadbalancer.hand_off` says; a pod isolated by a NetworkPolicy that
denies that source drops the connection (:func:`~srcip.net.nodeproxy.policy_denies`).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from srcip.model.index import ClusterIndex
from srcip.model.loadbalancer import (
    EffectiveLoadBalancer,
    Handoff,
    TargetHealth,
    hand_off,
    probe_targets,
    split,
)
from srcip.model.objects import IPAddress, Service, family_of
from srcip.model.scenario import (
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    ProxyProtocolVersion,
    TargetType,
)
from srcip.model.tracepath import target_port_of
from srcip.model.view import View
from srcip.net.nodeproxy import policy_denies
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
from srcip.proxyproto import Family, ProxyHeader, Transport, build

__all__ = ["LoadBalancer", "ProbeResult"]

_WEIGHT = b"x-load-balancing-endpoint-weight"
_REWRITTEN = frozenset({"x-forwarded-for", "x-forwarded-proto", "connection"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """One probe's outcome."""

    passed: bool
    status: int | None = None
    weight: int | None = None
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class _Target:
    name: str  # the node's name, or the pod's for pod targets
    node: str
    address: IPAddress | None
    port: int | None = None  # pod targets: the pod's traffic port
    healthy: bool = False
    last: ProbeResult = ProbeResult(passed=False, reason="not probed yet")
    passes: int = 0
    fails: int = 0

    def observe(self, result: ProbeResult, healthy_after: int, unhealthy_after: int) -> None:
        self.last = result
        if result.passed:
            self.passes, self.fails = self.passes + 1, 0
            self.healthy = self.healthy or self.passes >= healthy_after
        else:
            self.passes, self.fails = 0, self.fails + 1
            self.healthy = self.healthy and self.fails < unhealthy_after

    def health(self) -> TargetHealth:
        return TargetHealth(
            target=self.name, node=self.node, address=self.address, healthy=self.healthy,
            status=self.last.status, weight=self.last.weight, reason=self.last.reason,
        )  # fmt: skip


class LoadBalancer:
    """``async with LoadBalancer(lb, service, ...)``; run :meth:`check_forever` alongside."""

    def __init__(
        self,
        lb: EffectiveLoadBalancer,
        service: Service,
        *,
        vip: IPAddress,
        index: Callable[[], ClusterIndex],
        translate: Translator,
        rng: random.Random,
        time_scale: float = 1.0,
        drop_hold: float = 30.0,
        zones: Mapping[str, str | None] | None = None,
        on_forward: OnForward | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self.lb, self.service, self.port = lb, service, service.ports[0]
        self.vip, self.translate, self.rng = vip, translate, rng
        self.index = index
        self.time_scale, self.drop_hold = time_scale, drop_hold
        self.zones = dict(zones or {})
        self.targets = self._targets(index())
        listener = (translate.local(vip), translate.port(self.port.port))
        self.relay = TcpRelay(
            (listener,), self.decide, on_forward=on_forward, idle_timeout=idle_timeout
        )
        #: Loop times at which :meth:`check_forever`'s probe rounds went out (the last 1024):
        #: the lab reads the probe phase it really used from them.
        self.rounds: deque[float] = deque(maxlen=1024)

    def _targets(self, index: ClusterIndex) -> list[_Target]:
        """Every node, or (pod targets) every ready endpoint the model's LB registers."""
        if self.lb.targets is not TargetType.POD:
            family = family_of(self.vip)
            return [
                _Target(name=n.name, node=n.name, address=n.primary_ip(family)) for n in index.nodes
            ]
        found = []
        for h in probe_targets(index, self.service, self.lb):
            port = None
            if h.address is not None:
                port = target_port_of(index.cluster, self.service, self.port, h.address)
            found.append(_Target(name=h.target, node=h.node, address=h.address, port=port))
        return found

    @property
    def address(self) -> Address:
        """The bound ``(host, port)`` clients connect to."""
        return self.relay.addresses[0]

    def health(self) -> tuple[TargetHealth, ...]:
        """Every target's live health, as the model's :class:`TargetHealth`."""
        return tuple(t.health() for t in self.targets)

    async def __aenter__(self) -> LoadBalancer:
        await self.probe_round(initial=True)
        await self.relay.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.relay.aclose()

    # ------------------------------------------------------------------ health checks

    async def check_forever(self) -> None:
        """Probe every target each interval until cancelled."""
        interval = self.lb.health_check.interval_seconds * self.time_scale
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            self.rounds.append(loop.time())
            await self.probe_round()

    async def probe_round(self, *, initial: bool = False) -> None:
        """Probe every target once, concurrently; ``initial`` sets the state outright."""
        hc = self.lb.health_check
        results = await asyncio.gather(*(self.probe(t) for t in self.targets))
        for target, result in zip(self.targets, results, strict=True):
            if initial:
                target.last, target.healthy = result, result.passed
            else:
                target.observe(result, hc.healthy_threshold, hc.unhealthy_threshold)

    async def probe(self, target: _Target) -> ProbeResult:
        """One probe of ``target`` as the effective health check describes it."""
        hc = self.lb.health_check
        if not hc.enabled:
            return ProbeResult(passed=True, reason="no health check")
        if target.address is None:
            return ProbeResult(passed=False, reason="no address of the LB's family")
        if hc.protocol is HealthCheckProtocol.HTTPS:
            return ProbeResult(passed=False, reason="HTTPS probe: the lab speaks no TLS")
        if target.port is not None:  # a pod: its traffic port, or the explicit port on it
            explicit = hc.target is not HealthCheckTarget.TRAFFIC_PORT and hc.port
            host = self.translate.local(target.address)
            port = self.translate.port(hc.port if explicit else target.port)
        elif hc.port:
            host, port = self.translate.local(target.address), self.translate.port(hc.port)
        else:  # traffic port without a NodePort: the VIP on the node (KP §10)
            host = self.translate.at_node(self.vip, target.node)
            port = self.translate.port(self.port.port)
        try:
            async with asyncio.timeout(hc.timeout_seconds * self.time_scale):
                return await self._probe(target.address, host, port)
        except TimeoutError:
            return ProbeResult(passed=False, reason="timed out")
        except OSError as exc:
            return ProbeResult(passed=False, reason=f"connection failed: {exc.strerror or exc}")

    async def _probe(self, address: IPAddress, host: str, port: int) -> ProbeResult:
        hc = self.lb.health_check
        source = self.translate.local(self.lb.address)
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        try:
            if hc.sends_proxy_header:
                writer.write(build(self._probe_header(address, port)))
            if hc.protocol is HealthCheckProtocol.TCP:
                writer.write_eof()
                await reader.read()  # a clean close in time: the connection was taken
                return ProbeResult(passed=True, reason="TCP connect accepted")
            request = (
                f"GET {hc.path or '/'} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
            )
            writer.write(request.encode("latin-1"))
            head = await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.transport.abort()
        return self._judge(head)

    def _judge(self, head: bytes) -> ProbeResult:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return ProbeResult(passed=False, reason="not an HTTP answer")
        status = int(parts[1])
        weight = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == _WEIGHT and value.strip().isdigit():
                weight = int(value.strip())
        low, high = self.lb.health_check.success_codes
        return ProbeResult(
            passed=low <= status <= high, status=status, weight=weight, reason=f"answers {status}"
        )

    def _probe_header(self, node: IPAddress, port: int) -> ProxyHeader:
        v1 = self.lb.proxy_protocol is not ProxyProtocolVersion.V2
        v4 = node.version == 4
        family = (
            (Family.TCP4 if v4 else Family.TCP6) if v1 else (Family.INET if v4 else Family.INET6)
        )
        return ProxyHeader(
            version=1 if v1 else 2, family=family, transport=None if v1 else Transport.STREAM,
            src=self.lb.address, dst=node, src_port=40000, dst_port=port,
        )  # fmt: skip

    # ------------------------------------------------------------------ traffic

    def decide(self, peer: Address, local: Address) -> Decision:
        """Where a new client connection goes: a target drawn from the live split."""
        client = self.translate.scenario(peer[0])
        if client is None:
            return Reject(reason=f"{peer[0]} is not an address of the scenario")
        shares = split(self.lb, self.health(), zones=self.zones).shares
        if not shares:
            return Drop(hold=self.drop_hold)  # nothing to send to (the model: dropped)
        target = sample(shares, self.rng)
        off = self._hand_off(
            View(peer=client, local=self.vip, local_port=self.port.port), target, peer[1]
        )
        if off is None:
            return Drop(hold=self.drop_hold)
        tag = next(t.node for t in self.targets if t.name == target)
        if self.lb.targets is TargetType.POD and policy_denies(
            self.index(), off.dst, source=off.view.peer, port=off.dst_port
        ):
            return Drop(hold=self.drop_hold)  # the CNI drops at the pod
        if self.lb.targets is TargetType.VIP:
            host = self.translate.at_node(self.vip, target)
        else:
            host = self.translate.local(off.dst)
        proxy = off.view.proxy
        rewrite = None
        if self.lb.mode is LoadBalancerMode.HTTP:
            rewrite = partial(self._rewrite, client, target, peer[1])
        return Forward(
            host=host,
            port=self.translate.port(off.dst_port),
            source=self.translate.local(off.packet_src),
            preamble=build(proxy) if proxy is not None else b"",
            rewrite_head=rewrite,
            tag=tag,
        )

    def _hand_off(self, view: View, target: str, client_port: int) -> Handoff | None:
        found = next((t for t in self.targets if t.name == target), None)
        node_ip = found.address if found is not None else None
        pod_port = found.port if found is not None else None  # pod targets: the target port
        via_vip = self.lb.targets is TargetType.VIP
        if node_ip is None and not via_vip:
            return None
        return hand_off(
            self.lb,
            self.service,
            self.port,
            view,
            vip=self.vip,
            target_address=self.vip if via_vip or node_ip is None else node_ip,
            target_port=self.port.port if via_vip else pod_port or self.port.node_port,
            client_port=client_port,
        )

    def _rewrite(self, client: IPAddress, target: str, client_port: int, head: bytes) -> bytes:
        """The request head with the LB's forwarding headers (http mode)."""
        lines = head[:-4].split(b"\r\n")
        fields = [tuple(part.strip() for part in line.split(b":", 1)) for line in lines[1:]]
        pairs = [
            (n.decode("latin-1"), v.decode("latin-1"))
            for n, v in (f for f in fields if len(f) == 2)
        ]
        view = View(
            peer=client, local=self.vip, local_port=self.port.port,
            headers=tuple((n.lower(), v) for n, v in pairs),
        )  # fmt: skip
        off = self._hand_off(view, target, client_port)
        assert off is not None  # decide() checked the same target
        kept = [f"{n}: {v}" for n, v in pairs if n.lower() not in _REWRITTEN]
        added = [
            f"{'X-Forwarded-For' if n == 'x-forwarded-for' else 'X-Forwarded-Proto'}: {v}"
            for n, v in off.view.headers
            if n in ("x-forwarded-for", "x-forwarded-proto")
        ]
        out = [lines[0].decode("latin-1"), *kept, *added, "Connection: close", "", ""]
        return "\r\n".join(out).encode("latin-1")
