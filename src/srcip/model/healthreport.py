"""Every health-check answer of a cluster at one instant: Service × node, and per node.

:func:`health_report` answers every health-checked Service on every node (KP §13) and every
node's ``/healthz`` and ``/livez`` (KP §14). It stays compact at scale: per Service a
node → count mapping (absent means 0) and one cached answer per distinct count, so thousands
of Services × thousands of nodes share a handful of answer objects; :meth:`HealthReport.rows`
spells every (Service, node) answer out on demand.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple

from srcip.model.enums import IPFamily
from srcip.model.healthcheck import (
    DEFAULT_PROXIER_FAMILIES,
    HealthAnswer,
    JSONValue,
    ProxyHealthState,
    format_go_time,
    proxy_health_answers,
    require_aware,
    service_health_answer,
)
from srcip.model.index import ClusterIndex
from srcip.model.objects import Service

__all__ = ["HealthReport", "ProxyAnswers", "ServiceHealth", "ServiceHealthRow", "health_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyAnswers:
    """kube-proxy's two health answers on one node."""

    healthz: HealthAnswer
    livez: HealthAnswer


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceHealth:
    """One health-checked Service on every node: node → count, absent nodes count 0."""

    service: Service
    local_endpoints: Mapping[str, int]
    proxy_healthy: bool
    _cache: dict[int, HealthAnswer] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return self.service.key

    @property
    def health_check_node_port(self) -> int:
        """``spec.healthCheckNodePort`` (KP §13.1)."""
        return self.service.health_check_node_port

    @property
    def allocated(self) -> bool:
        """The manifest omitted the port and srcip allocated it."""
        return self.service.health_check_node_port_allocated

    def count(self, node: str) -> int:
        """Distinct local Ready endpoint IPs on ``node`` (KP §13.4)."""
        return self.local_endpoints.get(node, 0)

    def answer_for(self, count: int) -> HealthAnswer:
        """The answer on any node with ``count`` local endpoints (built once per count)."""
        answer = self._cache.get(count)
        if answer is None:
            answer = service_health_answer(self.service, count, proxy_healthy=self.proxy_healthy)
            self._cache[count] = answer
        return answer

    def answer(self, node: str) -> HealthAnswer:
        """The answer a probe of this Service's port on ``node`` gets."""
        count = self.local_endpoints.get(node, 0)
        cached = self._cache.get(count)  # inlined: called once per Service × node
        return cached if cached is not None else self.answer_for(count)

    def to_json(self, nodes: Collection[str]) -> dict[str, JSONValue]:
        """Compact plain data: non-zero counts per node, and one answer per distinct count."""
        counts = {n: c for n, c in self.local_endpoints.items() if c and n in nodes}
        distinct = set(counts.values()) | ({0} if len(counts) < len(nodes) else set())
        return {
            "namespace": self.service.namespace,
            "name": self.service.name,
            "healthCheckNodePort": self.health_check_node_port,
            "healthCheckNodePortAllocated": self.allocated,
            "localEndpoints": counts,
            "answers": {str(c): self.answer_for(c).to_json() for c in sorted(distinct)},
        }


class ServiceHealthRow(NamedTuple):
    """One (Service, node) answer. A NamedTuple: reports yield millions of these."""

    service: ServiceHealth
    node: str
    local_endpoints: int
    answer: HealthAnswer


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReport:
    """Every health check answer of a cluster at one instant (KP §13, §14)."""

    now: datetime
    nodes: tuple[str, ...]
    proxy_healthy: bool
    services: tuple[ServiceHealth, ...]
    proxy: Mapping[str, ProxyAnswers]

    def service(self, key: str) -> ServiceHealth:
        """The entry of Service ``namespace/name``; KeyError if it is not health-checked."""
        for entry in self.services:
            if entry.key == key:
                return entry
        raise KeyError(key)

    def rows(self) -> Iterator[ServiceHealthRow]:
        """Every Service × node answer, Services in input order, then nodes."""
        # Hot loop (millions of rows): bound lookups, the shared 0-count answer, and
        # tuple.__new__, which skips the NamedTuple's Python-level __new__.
        make = tuple.__new__
        for entry in self.services:
            count_on = entry.local_endpoints.get
            zero = entry.answer_for(0)
            for node in self.nodes:
                count = count_on(node, 0)
                answer = entry.answer_for(count) if count else zero
                yield make(ServiceHealthRow, (entry, node, count, answer))

    def to_json(self) -> dict[str, JSONValue]:
        """Plain data for ``-o json``, compact per Service (see :meth:`ServiceHealth.to_json`)."""
        node_set = frozenset(self.nodes)
        proxy: dict[str, JSONValue] = {
            node: {"healthz": a.healthz.to_json(), "livez": a.livez.to_json()}
            for node, a in self.proxy.items()
        }
        return {
            "currentTime": format_go_time(self.now),
            "proxyHealthy": self.proxy_healthy,
            "nodes": list(self.nodes),
            "proxy": proxy,
            "services": {e.key: e.to_json(node_set) for e in self.services},
        }


def _proxy_answers_by_node(
    index: ClusterIndex,
    names: Sequence[str],
    state: ProxyHealthState,
    now: datetime,
) -> dict[str, ProxyAnswers]:
    known = {n.name: n for n in index.nodes}
    timeout = index.config.health_timeout_seconds
    shared: dict[bool, ProxyAnswers] = {}  # answers depend on the node only via eligibility
    result: dict[str, ProxyAnswers] = {}
    for name in names:
        node = known.get(name)  # kube-proxy without its Node object: ineligible (KP §14.3)
        eligible = node is not None and node.eligible
        if eligible not in shared:
            healthz, livez = proxy_health_answers(node, state, now=now, timeout=timeout)
            shared[eligible] = ProxyAnswers(healthz=healthz, livez=livez)
        result[name] = shared[eligible]
    return result


def health_report(
    index: ClusterIndex,
    *,
    nodes: Sequence[str] | None = None,
    proxy_state: ProxyHealthState | None = None,
    now: datetime,
    families: Collection[IPFamily] = DEFAULT_PROXIER_FAMILIES,
) -> HealthReport:
    """Every health check answer on ``nodes`` (default: all Nodes) at ``now``.

    ``proxy_state`` is the same on every node; None means a steady proxy that synced every
    family in ``families`` at ``now``. The timeout is 2 × syncPeriod (KP §14.2). A name with
    no Node object is answered as kube-proxy would: ineligible for /healthz.
    """
    require_aware(now)
    names = tuple(nodes) if nodes is not None else tuple(n.name for n in index.nodes)
    state = proxy_state if proxy_state is not None else ProxyHealthState.synced(families, now)
    state = state.restricted_to(families)
    healthy = state.is_healthy(now, index.config.health_timeout_seconds)
    services = tuple(
        ServiceHealth(
            service=service,
            local_endpoints=MappingProxyType(dict(index.local_ready_counts(service))),
            proxy_healthy=healthy,
        )
        for service in index.health_checked_services()
    )
    return HealthReport(
        now=now,
        nodes=names,
        proxy_healthy=healthy,
        services=services,
        proxy=MappingProxyType(_proxy_answers_by_node(index, names, state, now)),
    )
