"""What kube-proxy's two health servers answer (KP §13, §14), as pure values.

* The per-Service **health check node port** (eTP=Local LoadBalancers): 200 iff the node has a
  local Ready endpoint and the proxy is healthy; the body and the
  ``X-Load-Balancing-Endpoint-Weight`` header carry the count (KP §13.3–§13.6).
  :class:`ServiceHealthTable` restates the server's bookkeeping of ports and counts (KP §13.5).
* The proxy's own ``/healthz`` and ``/livez`` (KP §14): :class:`ProxyHealthState` records, per
  IP family, the oldest queued update and the last successful sync; time is always a parameter.
* :mod:`srcip.model.healthreport` builds on these to answer every Service on every node.

Left out: listening addresses (KP §13.1), listen failures and their events, metrics, and which
HTTP method or path was used (any is answered, KP §13.2). Upstream:
``pkg/proxy/healthcheck/service_health.go``, ``proxy_health.go`` and ``healthcheck_test.go``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from types import MappingProxyType
from typing import TypeAlias

from srcip.errors import UsageError
from srcip.model.enums import IPFamily
from srcip.model.objects import Node, Service

__all__ = [
    "DEFAULT_PROXIER_FAMILIES",
    "WEIGHT_HEADER",
    "BodyLayout",
    "HealthAnswer",
    "JSONValue",
    "ProxyHealthState",
    "ServiceHealthTable",
    "format_go_time",
    "proxy_health_answers",
    "require_aware",
    "service_health_answer",
]

JSONValue: TypeAlias = (
    str | int | float | bool | list["JSONValue"] | Mapping[str, "JSONValue"] | None
)

WEIGHT_HEADER = "X-Load-Balancing-Endpoint-Weight"  # KP §13.3 (1.28+)
_JSON_HEADERS = (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"))
_OK = HTTPStatus.OK  # a module global: enum attribute lookup is slow in hot loops
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # how Go's JSON encoder writes an unset time.Time

# A Linux kube-proxy whose host has both iptables (or nftables) families runs one proxier per
# family, and each reports its own sync times (cmd/kube-proxy platformCheckSupported).
DEFAULT_PROXIER_FAMILIES = (IPFamily.IPV4, IPFamily.IPV6)


class BodyLayout(StrEnum):
    """How a body is serialised, byte for byte, by the server that sends it."""

    INDENTED = "indented"  # service check: tab-indented, one field per line (KP §13.3)
    COMPACT = "compact"  # /healthz, /livez: Go json.Marshal, no whitespace (KP §14.4)


def _freeze(body: Mapping[str, JSONValue]) -> Mapping[str, JSONValue]:
    """A read-only deep copy: answers are cached and shared between many nodes."""
    return MappingProxyType(
        {k: _freeze(v) if isinstance(v, Mapping) else v for k, v in body.items()}
    )


def _thaw(body: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    """Plain nested dicts, for ``json`` and for callers that want ordinary data."""
    return {k: _thaw(v) if isinstance(v, Mapping) else v for k, v in body.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthAnswer:
    """One HTTP response of a health server: status, headers in sending order, JSON body."""

    status: HTTPStatus
    headers: tuple[tuple[str, str], ...] = _JSON_HEADERS
    body: Mapping[str, JSONValue]
    layout: BodyLayout = BodyLayout.COMPACT

    @property
    def ok(self) -> bool:
        """200: the load balancer (or kubelet-style prober) keeps the node."""
        return self.status == _OK

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def body_bytes(self) -> bytes:
        """The body exactly as kube-proxy writes it (no trailing newline)."""
        plain = _thaw(self.body)
        if self.layout is BodyLayout.INDENTED:
            return json.dumps(plain, indent="\t", ensure_ascii=False).encode()
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()

    def to_json(self) -> dict[str, JSONValue]:
        """Plain data for ``-o json``."""
        return {"status": int(self.status), "headers": dict(self.headers), "body": _thaw(self.body)}


def require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise UsageError(
            f"time {moment.isoformat()} has no UTC offset; health answers need an aware "
            "datetime such as datetime.now(UTC)"
        )


def format_go_time(moment: datetime | None) -> str:
    """RFC 3339 with trimmed fractional seconds, as Go's JSON encoder writes a time.Time.

    ``None`` is Go's zero time. A zero offset is written ``Z`` whatever the zone.
    """
    if moment is None:
        return _GO_ZERO_TIME
    require_aware(moment)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        zone = "Z"
    else:
        minutes = int(abs(offset).total_seconds()) // 60
        zone = f"{'-' if offset < timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


# --------------------------------------------------------------------------- service check


def _service_answer(namespace: str, name: str, count: int, proxy_healthy: bool) -> HealthAnswer:
    # Status: 200 iff some local Ready endpoint and the proxy is healthy (KP §13.3, §13.6).
    ok = count > 0 and proxy_healthy
    body: dict[str, JSONValue] = {
        "service": {"namespace": namespace, "name": name},
        "localEndpoints": count,
        "serviceProxyHealthy": proxy_healthy,
    }
    return HealthAnswer(
        status=HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE,
        headers=(*_JSON_HEADERS, (WEIGHT_HEADER, str(count))),
        body=_freeze(body),
        layout=BodyLayout.INDENTED,
    )


def service_health_answer(
    service: Service, local_endpoints: int, *, proxy_healthy: bool
) -> HealthAnswer:
    """The health check node port's answer for ``service`` on a node (KP §13.3, §13.6).

    ``local_endpoints`` is the node's count of distinct local Ready endpoint IPs (KP §13.4).
    Node eligibility plays no part (KP §13.6).
    """
    return _service_answer(service.namespace, service.name, local_endpoints, proxy_healthy)


def _split_key(key: str) -> tuple[str, str]:
    namespace, slash, name = key.partition("/")
    if not slash or not namespace or not name:
        raise ValueError(f"service key {key!r} is not of the form namespace/name")
    return namespace, name


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceHealthTable:
    """The service health server's state: open ports and local counts (KP §13.5).

    Keys are ``namespace/name``. Each transition returns a new table.
    """

    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def sync_services(self, services: Mapping[str, int]) -> ServiceHealthTable:
        """Open the listed ports; close the rest; a changed port reopens with count 0."""
        for key, port in services.items():
            _split_key(key)
            if not 1 <= port <= 65535:
                raise ValueError(f"health check port {port} of {key} is outside 1..65535")
        kept = {k: self.counts[k] for k, p in services.items() if self.ports.get(k) == p}
        return ServiceHealthTable(
            ports=MappingProxyType(dict(services)),
            counts=MappingProxyType({k: kept.get(k, 0) for k in services}),
        )

    def sync_endpoints(self, counts: Mapping[str, int]) -> ServiceHealthTable:
        """Take counts for open services; omitted ones drop to 0, unknown ones are ignored."""
        return replace(self, counts=MappingProxyType({k: counts.get(k, 0) for k in self.ports}))

    def answer(self, key: str, *, proxy_healthy: bool = True) -> HealthAnswer | None:
        """What a probe of ``key``'s port gets, or None when no listener is open for it."""
        if key not in self.ports:
            return None
        namespace, name = _split_key(key)
        return _service_answer(namespace, name, self.counts[key], proxy_healthy)


# --------------------------------------------------------------------------- proxy health


def _put(
    pairs: tuple[tuple[IPFamily, datetime], ...], family: IPFamily, moment: datetime
) -> tuple[tuple[IPFamily, datetime], ...]:
    return tuple(sorted({**dict(pairs), family: moment}.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyHealthState:
    """Per IP family: last successful sync and oldest still-pending queued update (KP §14.2).

    Both are tuples of (family, time) sorted by family. A fresh state is healthy.
    """

    last_updated: tuple[tuple[IPFamily, datetime], ...] = ()
    oldest_queued: tuple[tuple[IPFamily, datetime], ...] = ()

    @classmethod
    def synced(cls, families: Iterable[IPFamily], now: datetime) -> ProxyHealthState:
        """Every family synced at ``now`` with nothing pending: a steady, healthy proxy."""
        require_aware(now)
        return cls(last_updated=tuple(sorted((f, now) for f in set(families))))

    def queued(self, family: IPFamily, now: datetime) -> ProxyHealthState:
        """A change arrived for ``family``; only the first pending one is remembered."""
        require_aware(now)
        if family in dict(self.oldest_queued):
            return self
        return replace(self, oldest_queued=_put(self.oldest_queued, family, now))

    def updated(self, family: IPFamily, now: datetime) -> ProxyHealthState:
        """``family`` synced successfully: clears its pending update, records the time."""
        require_aware(now)
        return ProxyHealthState(
            last_updated=_put(self.last_updated, family, now),
            oldest_queued=tuple(p for p in self.oldest_queued if p[0] is not family),
        )

    def restricted_to(self, families: Collection[IPFamily]) -> ProxyHealthState:
        """Only the entries of ``families`` (the proxiers that exist)."""
        return ProxyHealthState(
            last_updated=tuple(p for p in self.last_updated if p[0] in families),
            oldest_queued=tuple(p for p in self.oldest_queued if p[0] in families),
        )

    def family_health(self, now: datetime, timeout: float) -> dict[IPFamily, bool]:
        """Health of each family that has synced at least once (KP §14.2).

        Upstream judges only families with a recorded sync: an update queued before the
        first sync never makes the proxy unhealthy. Late means pending for ≥ ``timeout`` s.
        """
        require_aware(now)
        limit = timedelta(seconds=timeout)
        pending = dict(self.oldest_queued)
        return {
            family: family not in pending or now - pending[family] < limit
            for family, _ in self.last_updated
        }

    def is_healthy(self, now: datetime, timeout: float) -> bool:
        """All families healthy (KP §14.2)."""
        return all(self.family_health(now, timeout).values())

    @property
    def newest_update(self) -> datetime | None:
        """The most recent sync of any family, or None before the first."""
        return max((t for _, t in self.last_updated), default=None)


def _proxy_answer(
    state: ProxyHealthState,
    health: Mapping[IPFamily, bool],
    now: datetime,
    *,
    eligible: bool | None,
) -> HealthAnswer:
    """``eligible`` is None for /livez, which has no such field (KP §14.3, §14.4)."""
    healthy = all(health.values())
    ok = healthy and eligible is not False
    # When healthy, lastUpdated reads "now" for compatibility with older releases (KP §14.4).
    body: dict[str, JSONValue] = {
        "lastUpdated": format_go_time(now if ok else state.newest_update),
        "currentTime": format_go_time(now),
    }
    if eligible is not None:
        body["nodeEligible"] = eligible
    body["healthy"] = healthy  # the proxy's own health, without node eligibility
    if health:
        body["status"] = {
            str(family): {"lastUpdated": format_go_time(when), "healthy": health[family]}
            for family, when in state.last_updated
        }
    return HealthAnswer(
        status=HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, body=_freeze(body)
    )


def proxy_health_answers(
    node: Node | None,
    state: ProxyHealthState,
    *,
    now: datetime,
    timeout: float,
    families: Collection[IPFamily] | None = None,
) -> tuple[HealthAnswer, HealthAnswer]:
    """``(/healthz, /livez)`` of kube-proxy on ``node`` at ``now`` (KP §14.2–§14.4).

    /healthz also needs the node to be eligible: a Node object exists, without
    deletionTimestamp or the ToBeDeletedByClusterAutoscaler taint (KP §14.3). ``families``,
    if given, are the proxiers that run; entries of other families are ignored.
    """
    require_aware(now)
    if families is not None:
        state = state.restricted_to(families)
    health = state.family_health(now, timeout)
    eligible = node is not None and node.eligible
    return (
        _proxy_answer(state, health, now, eligible=eligible),
        _proxy_answer(state, health, now, eligible=None),
    )
