"""Prometheus counters of requests by resolved client, with a cardinality guard.

Two counters, registered in a caller-supplied :class:`prometheus_client.CollectorRegistry`
(never the global one, so tests and several apps in one process do not collide):

``<namespace>_client_requests_total{client}``
    Requests by client. ``client`` is one of: an address (``203.0.113.7``, RFC 5952 for
    IPv6, no zone) for the heaviest clients; a prefix (``203.0.113.0/24``,
    ``2001:db8:1::/48``) for everyone else; ``other`` once ``max_prefixes`` prefixes exist;
    ``unresolved`` when the resolution gave no address.
``<namespace>_client_resolutions_total{status, source}``
    Requests by resolution status (``ok``, ``direct``, ``invalid_hop``, …) and source
    (``peer``, ``proxy-protocol``, the header name). Bounded by construction.

The guard (label values are a time series each; client addresses are unbounded and
attacker-chosen): at most ``top`` addresses have a series of their own at any time. They are
the heaviest clients as seen by a Misra–Gries sketch (Misra & Gries 1982) of ``candidates``
counters, which retains every client sending more than ``1 / (candidates + 1)`` of the
traffic. While fewer than ``top`` addresses have series, any address the sketch holds gets
one at once (so a quiet service sees exact addresses); every ``rebalance_every``
observations, addresses that fell out of the sketch's top ``top`` lose their series
(``Counter.remove``: rate() over it ends, later requests count under the prefix) and the
freed slots go to the next heavy clients seen. Prefix series are never removed; after
``max_prefixes`` of them, new prefixes count as ``other``. So the series count is at most
``top + max_prefixes + 2``, and the sum over ``client`` equals the requests counted, except
for what demoted series had accumulated.

Deterministic: no clock, no randomness; the same requests give the same series.
"""

from __future__ import annotations

from collections.abc import Iterable
from heapq import nlargest
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from prometheus_client import CollectorRegistry, Counter

from srcip.clientip.access import IPNetwork
from srcip.clientip.addresses import IPAddress, as_address
from srcip.clientip.resolve import Resolution
from srcip.errors import TrustConfigError

__all__ = ["OTHER", "UNRESOLVED", "ClientMetrics"]

#: ``client`` label for prefixes beyond ``max_prefixes``.
OTHER = "other"
#: ``client`` label when the resolution produced no address.
UNRESOLVED = "unresolved"

_DESCRIBED_CACHE_SIZE = 4096


class ClientMetrics:
    """Request counters by client (guarded) and by resolution status."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        top: int = 100,
        candidates: int | None = None,
        ipv4_prefix: int = 24,
        ipv6_prefix: int = 48,
        max_prefixes: int = 1000,
        rebalance_every: int = 1000,
        namespace: str = "srcip",
    ) -> None:
        candidates = 4 * top if candidates is None else candidates
        _check(top >= 0, "top", top, "0 or more addresses with a series of their own")
        _check(candidates >= top, "candidates", candidates, f"at least top={top}")
        _check(0 <= ipv4_prefix <= 32, "ipv4_prefix", ipv4_prefix, "0–32")
        _check(0 <= ipv6_prefix <= 128, "ipv6_prefix", ipv6_prefix, "0–128")
        _check(max_prefixes >= 0, "max_prefixes", max_prefixes, "0 or more")
        _check(rebalance_every >= 1, "rebalance_every", rebalance_every, "1 or more")
        self.top = top
        self.candidates = candidates
        self.ipv4_prefix = ipv4_prefix
        self.ipv6_prefix = ipv6_prefix
        self.max_prefixes = max_prefixes
        self.rebalance_every = rebalance_every
        self.requests = Counter(
            "client_requests",
            "Requests by resolved client: heaviest addresses exactly, others by prefix.",
            ["client"],
            namespace=namespace,
            registry=registry,
        )
        self.resolutions = Counter(
            "client_resolutions",
            "Requests by client-IP resolution status and source.",
            ["status", "source"],
            namespace=namespace,
            registry=registry,
        )
        self._sketch: dict[str, int] = {}
        self._exact: set[str] = set()
        self._prefixes: set[str] = set()
        self._seen = 0
        self._described: dict[str | IPAddress, tuple[str, str]] = {}

    @property
    def exact(self) -> frozenset[str]:
        """The addresses that currently have a series of their own."""
        return frozenset(self._exact)

    def observe(self, resolution: Resolution) -> str:
        """Count one resolved request; return the ``client`` label it was counted under."""
        return self.count(resolution.ip, resolution.status, resolution.source)

    def count(self, ip: str | IPAddress | None, status: str, source: str) -> str:
        """Count one request; return the ``client`` label it was counted under."""
        self.resolutions.labels(status, source).inc()
        label = self._label(ip)
        self.requests.labels(label).inc()
        return label

    def _label(self, ip: str | IPAddress | None) -> str:
        """Account ``ip`` in the sketch and choose its label (this updates the guard)."""
        if ip is None:
            return UNRESOLVED
        text, prefix = self._describe(ip)
        self._sketch_add(text)
        if text in self._exact:
            return text
        if len(self._exact) < self.top and text in self._sketch:
            self._exact.add(text)
            return text
        if prefix in self._prefixes:
            return prefix
        if len(self._prefixes) < self.max_prefixes:
            self._prefixes.add(prefix)
            return prefix
        return OTHER

    def _describe(self, ip: str | IPAddress) -> tuple[str, str]:
        """The address text (no zone) and its prefix, memoised (bounded, cleared when full)."""
        found = self._described.get(ip)
        if found is None:
            addr = as_address(ip)
            if isinstance(addr, IPv4Address):
                net: IPNetwork = IPv4Network((int(addr), self.ipv4_prefix), strict=False)
            else:
                addr = IPv6Address(int(addr))  # the zone does not make another client
                net = IPv6Network((int(addr), self.ipv6_prefix), strict=False)
            if len(self._described) >= _DESCRIBED_CACHE_SIZE:
                self._described.clear()
            found = self._described[ip] = (str(addr), str(net))
        return found

    def _sketch_add(self, text: str) -> None:
        sketch = self._sketch
        if text in sketch:
            sketch[text] += 1
        elif len(sketch) < self.candidates:
            sketch[text] = 1
        else:  # Misra–Gries: decrement every counter, forget those reaching zero
            for key in list(sketch):
                if sketch[key] == 1:
                    del sketch[key]
                else:
                    sketch[key] -= 1
        self._seen += 1
        if self._seen % self.rebalance_every == 0:
            self._rebalance()

    def _rebalance(self) -> None:
        keep = set(nlargest(self.top, self._sketch, key=self._sketch.__getitem__))
        self._demote(self._exact - keep)

    def _demote(self, addresses: Iterable[str]) -> None:
        for text in sorted(addresses):
            self._exact.discard(text)
            self.requests.remove(text)


def _check(ok: bool, setting: str, value: int, fix: str) -> None:
    if not ok:
        raise TrustConfigError(f"ClientMetrics {setting}={value!r} is out of range. Fix: {fix}")
