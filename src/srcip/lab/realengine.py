"""``--engine real``: real HAProxy as the scenario's load balancer, in place of the built-in.

:class:`RealLoadBalancer` stands where :class:`~srcip.net.lbproxy.LoadBalancer` would: it
renders the scenario's effective load balancer with
:func:`~srcip.lab.real.haproxy.haproxy_config` and runs HAProxy with
:func:`~srcip.lab.real.process.run_peer` on the same listener (the VIP's loopback address
and mapped port), so clients, nodes and pods are the same either way:

* **targets**: every node's NodePort (or the node's VIP alias for ``vip`` targets, KP §10)
  in the order of the cluster's nodes, so layer-2 announcement picks the same first node;
* **health checks**: HAProxy's own, to each node's mapped probe port (the
  ``healthCheckNodePort``, kube-proxy's ``:10256`` or the traffic port) with the scenario's
  path, status range, interval, timeout and thresholds (interval and timeout times
  ``time_scale``), from the LB's mapped address;
* **source**: ``snat``, ``proxy`` and ``http`` connect from the LB's mapped address;
  ``passthrough`` binds the client's own loopback address (``usesrc clientip``, see
  :mod:`srcip.lab.real.haproxy`); ``proxy`` writes ``send-proxy`` / ``send-proxy-v2``.

The starting state matches the built-in LB's: before HAProxy takes connections, one round
of the same probes (:meth:`LoadBalancer.probe_round`) sets each server up or down through
HAProxy's admin socket (``set server … health up|down``: health at its top, or zero, so
HAProxy's thresholds apply from there). With ``weighting: endpoints`` the weights are the
``X-Load-Balancing-Endpoint-Weight`` answers of that round; HAProxy cannot read the header
later, so weight changes after start are not followed (health changes are).

What HAProxy writes carries loopback addresses (the PROXY header's source, the
``X-Forwarded-For`` entry); :func:`scenario_text` translates them back for reports.
Left out (refused with a message): cross-zone balancing off over several zones, pod
targets; HAProxy does not fail open when every target is down (it refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from srcip.errors import SrcipError, UsageError
from srcip.lab.addresses import AddressPlan
from srcip.lab.real.haproxy import MAX_WEIGHT, HealthProbe, Target, haproxy_config
from srcip.lab.real.process import HAPROXY, RunningPeer, find_program, run_peer
from srcip.model.enums import ServiceType
from srcip.model.index import ClusterIndex
from srcip.model.loadbalancer import EffectiveLoadBalancer, TargetHealth
from srcip.model.objects import IPAddress, Service, family_of
from srcip.model.scenario import TargetType, Weighting
from srcip.net.lbproxy import LoadBalancer
from srcip.net.tcp_relay import Address

__all__ = ["Engine", "RealLoadBalancer", "check_engine", "scenario_text"]

ADMIN_SOCKET = "admin.sock"
ADMIN_TIMEOUT_S = 5.0
_LOOPBACK = re.compile(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_BACKEND = "targets"  # the backend haproxy_config writes


class Engine(StrEnum):
    """What runs the scenario's load balancer."""

    BUILTIN = "builtin"  # srcip.net.lbproxy
    REAL = "real"  # HAProxy from a generated config


def check_engine(engine: str, *, service: Service) -> Engine:
    """``engine`` as an :class:`Engine`; for ``real``, that it applies and HAProxy is installed.

    Raises :class:`UsageError` for an unknown name or a ``service`` without a load balancer
    (nothing to replace), and :class:`SrcipError` naming the Debian package when HAProxy
    is missing.
    """
    try:
        chosen = Engine(engine)
    except ValueError:
        known = ", ".join(e.value for e in Engine)
        raise UsageError(f"unknown engine {engine!r}. Fix: choose one of {known}") from None
    if chosen is Engine.REAL:
        if service.type is not ServiceType.LOAD_BALANCER:
            raise UsageError(
                f"--engine real replaces the load balancer, but {service.key} is a"
                f" {service.type} Service. Fix: use --engine builtin"
            )
        find_program(HAPROXY)
    return chosen


def scenario_text(plan: AddressPlan, text: str) -> str:
    """``text`` with every loopback address of ``plan`` replaced by its scenario address.

    Other addresses (scenario addresses the built-in hops wrote, forged ones) pass as they
    are, so the built-in engine's observations are unchanged.
    """

    def back(match: re.Match[str]) -> str:
        found = plan.scenario(match.group())
        return match.group() if found is None else str(found)

    return _LOOPBACK.sub(back, text)


class RealLoadBalancer:
    """``async with RealLoadBalancer(lb, service, ...)``: HAProxy on the LB's listener."""

    def __init__(
        self,
        lb: EffectiveLoadBalancer,
        service: Service,
        *,
        vip: IPAddress,
        index: Callable[[], ClusterIndex],
        plan: AddressPlan,
        time_scale: float = 1.0,
        zones: Mapping[str, str | None] | None = None,
    ) -> None:
        if lb.targets is TargetType.POD:
            raise UsageError("the real engine's HAProxy has node targets only")
        if not lb.cross_zone and len(set((zones or {}).values())) > 1:
            raise UsageError(
                "the real engine cannot balance per zone (cross-zone off over several zones)."
                " Fix: use --engine builtin for this scenario"
            )
        find_program(HAPROXY)
        self.lb, self.service, self.port = lb, service, service.ports[0]
        self.vip, self.plan, self.time_scale = vip, plan, time_scale
        family = family_of(vip)
        self.nodes = [(n.name, n.primary_ip(family)) for n in index().nodes]
        # Used for its first probe round only (its relay is never entered).
        self._probe = LoadBalancer(
            lb, service, vip=vip, index=index, translate=plan, rng=random.Random(0),
            time_scale=time_scale, zones=zones,
        )  # fmt: skip
        self.listen: Address = (plan.local(vip), plan.port(self.port.port))
        self.peer: RunningPeer | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def address(self) -> Address:
        """The bound ``(host, port)`` clients connect to."""
        return self.listen

    async def __aenter__(self) -> RealLoadBalancer:
        try:
            await self._probe.probe_round(initial=True)
            first = self._probe.health()
            text = self.config(first)
            self.peer = await self._stack.enter_async_context(
                run_peer(HAPROXY, lambda d: _with_admin(text, d), listen=[self.listen])
            )
            await self._admin(
                *(
                    f"set server {_BACKEND}/{name} health {'up' if t.healthy else 'down'}"
                    for name, t in zip(self.server_names(), first, strict=True)
                )
            )
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

    def config(self, first: Sequence[TargetHealth]) -> str:
        """The ``haproxy.cfg`` for this LB, weights from the first probe round ``first``."""
        hc = self.lb.health_check
        scaled = replace(
            hc,
            interval_seconds=hc.interval_seconds * self.time_scale,
            timeout_seconds=hc.timeout_seconds * self.time_scale,
        )
        lb = replace(self.lb, health_check=scaled)
        weights = _weights(self.lb, first)
        return haproxy_config(
            lb,
            listen=self.listen,
            targets=[
                self._target(n, a, weights.get(n), probed=bool(hc.port)) for n, a in self.nodes
            ],
            health=HealthProbe(port=self.plan.port(hc.port) if hc.port else None),
            source=self.plan.local(self.lb.address),
        )

    def _target(
        self, node: str, address: IPAddress | None, weight: int | None, *, probed: bool
    ) -> Target:
        if self.lb.targets is TargetType.VIP or address is None:
            host, port = self.plan.at_node(self.vip, node), self.port.port
        else:
            host, port = self.plan.local(address), self.port.node_port
        # A probe port is the node's own (healthCheckNodePort, :10256), also for vip
        # targets, whose traffic goes to the node's VIP alias; the traffic port is probed
        # where the traffic goes.
        check_host = self.plan.local(address) if probed and address is not None else None
        return Target(
            name=node, host=host, port=self.plan.port(port), weight=weight, check_host=check_host
        )

    def server_names(self) -> list[str]:
        """HAProxy's server names, in node order (as :func:`haproxy_config` writes them)."""
        names = []
        for number, (node, _) in enumerate(self.nodes):
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node)
            names.append(f"t{number}-{safe}" if safe else f"t{number}")
        return names

    def health(self) -> tuple[TargetHealth, ...]:
        """Every target's live health as HAProxy reports it (``show stat``)."""
        rows = _stat_rows(self._query_sync("show stat"))
        out = []
        for name, (node, address) in zip(self.server_names(), self.nodes, strict=True):
            row = rows.get(name, {})
            status = row.get("status", "unknown")
            out.append(
                TargetHealth(
                    target=node,
                    node=node,
                    address=address,
                    healthy=status.startswith("UP"),
                    status=_int(row.get("check_code")),
                    weight=_int(row.get("weight")),
                    reason=f"haproxy: {status} ({row.get('check_status') or 'no check'})",
                )
            )
        return tuple(out)

    async def _admin(self, *commands: str) -> None:
        """Run admin-socket commands; SrcipError when HAProxy answers anything but nothing."""
        for command in commands:
            answer = await asyncio.to_thread(self._query_sync, command)
            if answer.strip():
                raise SrcipError(f"haproxy refused {command!r}: {answer.strip()}")

    def _query_sync(self, command: str) -> str:
        assert self.peer is not None, "use the load balancer inside `async with`"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(ADMIN_TIMEOUT_S)
            sock.connect(str(self.peer.directory / ADMIN_SOCKET))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")


def _with_admin(text: str, directory: Path) -> str:
    """``text`` with an admin socket in the run's directory (its ``global`` section)."""
    line = f"    stats socket {directory / ADMIN_SOCKET} mode 600 level admin"
    head, sep, tail = text.partition("global\n")
    if not sep:
        raise SrcipError("the generated haproxy.cfg has no global section")
    return f"{head}{sep}{line}\n{tail}"


def _weights(lb: EffectiveLoadBalancer, first: Sequence[TargetHealth]) -> dict[str, int]:
    """HAProxy weights from the endpoint-weight answers (the model's ``_weights`` rule)."""
    if lb.weighting is not Weighting.ENDPOINTS:
        return {}
    reported = {t.target: t.weight for t in first}
    if any(w is None or w < 0 for w in reported.values()):
        return {}  # equal unless every target reports one
    healthy = [reported[t.target] or 0 for t in first if t.healthy]
    if not any(healthy):
        return {}  # every healthy target reports 0: equal
    top = max(w or 0 for w in reported.values())
    scale = min(1.0, MAX_WEIGHT / top)
    return {name: max(1, round(w * scale)) if w else 0 for name, w in reported.items()}


def _stat_rows(csv: str) -> dict[str, dict[str, str]]:
    """``show stat`` CSV → the backend's server rows by server name."""
    lines = [line for line in csv.splitlines() if line]
    if not lines or not lines[0].startswith("# "):
        return {}
    fields = lines[0][2:].split(",")
    rows = {}
    for line in lines[1:]:
        row = dict(zip(fields, line.split(","), strict=False))
        if row.get("pxname") == _BACKEND and row.get("svname") not in ("BACKEND", None):
            rows[row["svname"]] = row
    return rows


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
