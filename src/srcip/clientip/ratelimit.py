"""Rate limiting keyed by the resolved client, with nginx ``limit_req`` semantics.

What is modelled (nginx ``src/http/modules/ngx_http_limit_req_module.c``, lookup and
account steps): each key has ``excess`` (requests above the configured pace) and ``last``
(time of the last accepted request). A request at ``now`` computes::

    excess' = max(0, excess - rate × (now - last) + 1)

and is **rejected** when ``excess' > burst`` (the stored state is left alone, as nginx's
``NGX_BUSY`` path does); otherwise it is accepted and stored. An accepted request is
**delayed** by ``(excess' - delay) / rate`` seconds when ``excess' > delay``, unless the limit
is ``nodelay`` (``delay`` is nginx 1.15.7's ``delay=`` parameter, 0 by default). A new key
starts at ``excess = 0``, so its first request always passes undelayed. ``rate`` is written
as nginx writes it: ``"10r/s"`` or ``"30r/m"``.

What is added for applications:

* **Classes by CIDR** (the "trusted networks get other limits" example: nginx's ``geo`` plus
  a second ``limit_req``): the first :class:`LimitClass` whose networks contain the client
  applies, each with buckets of its own; a class with ``limit=None`` is not limited. Other
  clients get ``default``.
* **Keys**: IPv4 by address (``ipv4_prefix=32``), IPv6 by prefix (``ipv6_prefix=64``),
  because one host usually controls a whole /64 (reference §7 pitfall 24).
* **Unresolved clients** (``ip is None``): a named policy, ``reject`` (default) or
  ``shared`` (one bucket for all of them, with ``unresolved_limit``, else ``default``).
  Never the proxy's bucket: the library does not substitute the proxy for the client.
* **Bounded memory**: at most ``max_keys`` buckets; the least recently seen one is dropped
  (nginx evicts from the tail of the same LRU queue, ``ngx_http_limit_req_expire``).

Differences from nginx, on purpose: time is a float from an injected clock (seconds,
monotonic) instead of whole milliseconds, so ``r/m`` rates are exact (nginx truncates
``1r/m`` to 0.016 r/s); comparisons allow :data:`TOLERANCE` for float rounding of clock
differences; a clock that goes backwards drains nothing (nginx takes ``abs``).

This module is pure (no clock, no I/O); the 429-answering middleware that feeds it the real
clock live in :mod:`srcip.clientip.asgi` and :mod:`srcip.clientip.wsgi`.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Protocol

from srcip.clientip.access import IPNetwork, parse_cidr
from srcip.clientip.addresses import IPAddress, as_address, ip_text
from srcip.errors import TrustConfigError

__all__ = [
    "TOLERANCE",
    "Action",
    "Clock",
    "Decision",
    "Limit",
    "LimitClass",
    "RateLimitConfig",
    "RateLimiter",
    "Unresolved",
    "retry_after_header",
]

#: Slack, in requests, when comparing ``excess`` with ``burst`` and ``delay``: clock
#: differences such as ``0.3 - 0.2`` are not exact in binary floating point.
TOLERANCE = 1e-9

_RATE = re.compile(r"([1-9][0-9]{0,8})r/([sm])")
_CLASSIFIED_CACHE_SIZE = 4096
_DEFAULT = "default"
_UNRESOLVED = "unresolved"


class Clock(Protocol):
    """Monotonic seconds, e.g. :func:`time.monotonic` (injected so tests use a fake)."""

    def __call__(self) -> float: ...


class Action(StrEnum):
    """What to do with a request: nginx's pass, delay and reject (``limit_req_status``)."""

    ALLOW = "allow"
    DELAY = "delay"
    REJECT = "reject"


class Unresolved(StrEnum):
    """The policy for requests whose client address could not be resolved."""

    REJECT = "reject"
    SHARED = "shared"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """One ``limit_req``: ``rate`` (``"10r/s"``, ``"30r/m"``), ``burst``, ``nodelay``/``delay``."""

    rate: str
    burst: int = 0
    nodelay: bool = False
    delay: int = 0
    per_second: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        match = _RATE.fullmatch(self.rate)
        if match is None:
            raise TrustConfigError(
                f"rate {self.rate!r} is not an nginx rate. Fix: write e.g. 10r/s or 30r/m"
            )
        if self.burst < 0 or self.delay < 0:
            raise TrustConfigError(
                f"burst={self.burst} and delay={self.delay} must be ≥ 0. Fix: use 0 or more"
            )
        if self.nodelay and self.delay:
            raise TrustConfigError(
                f"nodelay and delay={self.delay} contradict each other. Fix: give only one"
            )
        count, unit = int(match[1]), match[2]
        object.__setattr__(self, "per_second", count / (60.0 if unit == "m" else 1.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitClass:
    """Clients inside ``networks`` get ``limit`` (``None``: not limited) in buckets of their own."""

    name: str
    networks: tuple[str, ...]
    limit: Limit | None
    parsed: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or self.name in (_DEFAULT, _UNRESOLVED):
            raise TrustConfigError(
                f"limit class name {self.name!r} is empty or reserved "
                f"({_DEFAULT!r}, {_UNRESOLVED!r}). Fix: choose another name"
            )
        if not self.networks:
            raise TrustConfigError(f"limit class {self.name!r} has no networks. Fix: add CIDRs")
        parsed = tuple(parse_cidr(n, f"limit class {self.name!r} network") for n in self.networks)
        object.__setattr__(self, "parsed", parsed)

    def contains(self, addr: IPAddress) -> bool:
        """Whether the (unmapped) address is in one of the networks."""
        return any(addr in net for net in self.parsed)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitConfig:
    """Everything a :class:`RateLimiter` needs; validated at construction."""

    default: Limit
    classes: tuple[LimitClass, ...] = ()
    unresolved: Unresolved = Unresolved.REJECT
    unresolved_limit: Limit | None = None
    ipv4_prefix: int = 32
    ipv6_prefix: int = 64
    max_keys: int = 100_000

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise TrustConfigError(f"limit class names repeat: {names}. Fix: make them unique")
        if not 0 <= self.ipv4_prefix <= 32 or not 0 <= self.ipv6_prefix <= 128:
            raise TrustConfigError(
                f"ipv4_prefix={self.ipv4_prefix} / ipv6_prefix={self.ipv6_prefix} out of range. "
                "Fix: 0–32 for IPv4, 0–128 for IPv6"
            )
        if self.max_keys < 1:
            raise TrustConfigError(f"max_keys={self.max_keys} must be ≥ 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The verdict for one request.

    ``limit_class`` is the class name, ``"default"`` or ``"unresolved"``; ``key`` the bucket
    (``"203.0.113.7"``, ``"2001:db8:1:2::/64"``; ``None`` when no bucket was used); ``delay``
    the seconds to hold an accepted request; ``retry_after`` the seconds after which the
    same request would pass (``None`` when waiting cannot help); ``excess`` nginx's value.
    """

    action: Action
    limit_class: str
    key: str | None
    delay: float = 0.0
    retry_after: float | None = None
    excess: float = 0.0

    @property
    def allowed(self) -> bool:
        """Whether the request may be served (now or after ``delay``)."""
        return self.action is not Action.REJECT


def retry_after_header(decision: Decision) -> str | None:
    """The ``Retry-After`` value (whole seconds, rounded up, at least 1) for a rejection."""
    if decision.retry_after is None:
        return None
    return str(max(1, math.ceil(decision.retry_after - TOLERANCE)))


@dataclass(slots=True)
class _Bucket:
    excess: float
    last: float


class RateLimiter:
    """Leaky buckets per client key, LRU-bounded; ``check`` is the only mutating call."""

    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        # (class name, limit, key) per client as given; bounded like the buckets' input,
        # cleared when full. Clients repeat, and an IPv6 prefix key costs ~10 µs to build.
        self._classified: dict[str | IPAddress, tuple[str, Limit | None, str]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def key_for(self, ip: str | IPAddress) -> str:
        """The bucket key of an address: itself, or its IPv4/IPv6 prefix per the config."""
        addr = as_address(ip)
        if isinstance(addr, IPv4Address):
            if self.config.ipv4_prefix == 32:
                return ip_text(addr)
            return str(IPv4Network((int(addr), self.config.ipv4_prefix), strict=False))
        bare = IPv6Address(int(addr))  # the zone does not make another client
        if self.config.ipv6_prefix == 128:
            return str(bare)
        return str(IPv6Network((int(bare), self.config.ipv6_prefix), strict=False))

    def classify(self, ip: str | IPAddress) -> tuple[str, Limit | None]:
        """The class name and limit that apply to an address (first match wins)."""
        addr = as_address(ip)
        for cls in self.config.classes:
            if cls.contains(addr):
                return cls.name, cls.limit
        return _DEFAULT, self.config.default

    def check(self, ip: str | IPAddress | None) -> Decision:
        """Account one request from ``ip`` (``None``: unresolved) at the clock's time."""
        if ip is None:
            if self.config.unresolved is Unresolved.REJECT:
                return Decision(action=Action.REJECT, limit_class=_UNRESOLVED, key=None)
            limit = self.config.unresolved_limit or self.config.default
            return self._account(_UNRESOLVED, _UNRESOLVED, limit)
        entry = self._classified.get(ip)
        if entry is None:
            if len(self._classified) >= _CLASSIFIED_CACHE_SIZE:
                self._classified.clear()
            name, maybe_limit = self.classify(ip)
            entry = self._classified[ip] = (name, maybe_limit, self.key_for(ip))
        name, maybe_limit, key = entry
        if maybe_limit is None:
            return Decision(action=Action.ALLOW, limit_class=name, key=None)
        return self._account(name, key, maybe_limit)

    def _account(self, name: str, key: str, limit: Limit) -> Decision:
        now = self._clock()
        bucket = self._buckets.get((name, key))
        if bucket is None:
            self._insert((name, key), _Bucket(excess=0.0, last=now))
            return Decision(action=Action.ALLOW, limit_class=name, key=key)
        self._buckets.move_to_end((name, key))  # nginx bumps the node on every lookup
        elapsed = max(0.0, now - bucket.last)
        excess = max(0.0, bucket.excess - limit.per_second * elapsed + 1.0)
        if excess > limit.burst + TOLERANCE:
            wait = (excess - limit.burst) / limit.per_second
            return Decision(
                action=Action.REJECT, limit_class=name, key=key, retry_after=wait, excess=excess
            )
        bucket.excess, bucket.last = excess, now
        if limit.nodelay or excess <= limit.delay + TOLERANCE:
            return Decision(action=Action.ALLOW, limit_class=name, key=key, excess=excess)
        delay = (excess - limit.delay) / limit.per_second
        return Decision(action=Action.DELAY, limit_class=name, key=key, delay=delay, excess=excess)

    def _insert(self, key: tuple[str, str], bucket: _Bucket) -> None:
        while len(self._buckets) >= self.config.max_keys:
            self._buckets.popitem(last=False)
        self._buckets[key] = bucket
