"""Prometheus metrics by client: the cardinality guard, prefixes, statuses, registries."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from srcip.clientip import metrics as metrics_module
from srcip.clientip.metrics import OTHER, UNRESOLVED, ClientMetrics
from srcip.errors import TrustConfigError


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, ...], float]:
    """The values of one counter, keyed by its label values."""
    found: dict[tuple[str, ...], float] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                found[tuple(sample.labels.values())] = sample.value
    return found


def clients(registry: CollectorRegistry) -> dict[str, float]:
    """srcip_client_requests_total by client label."""
    return {k[0]: v for k, v in samples(registry, "srcip_client_requests_total").items()}


def test_quiet_service_counts_exact_addresses_and_statuses() -> None:
    """Below the cap every address has its own series; statuses are counted by source."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry)
    metrics.count("203.0.113.7", "ok", "x-forwarded-for")
    metrics.count("203.0.113.7", "ok", "x-forwarded-for")
    metrics.count("2001:db8::1", "direct", "peer")
    metrics.count(None, "invalid_hop", "x-forwarded-for")
    assert clients(registry) == {"203.0.113.7": 2, "2001:db8::1": 1, UNRESOLVED: 1}
    assert samples(registry, "srcip_client_resolutions_total") == {
        ("ok", "x-forwarded-for"): 2,
        ("direct", "peer"): 1,
        ("invalid_hop", "x-forwarded-for"): 1,
    }


def test_addresses_beyond_top_are_counted_by_prefix() -> None:
    """With top=2, a third address goes under its /24 (IPv4) or /48 (IPv6) prefix."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry, top=2)
    labels = [
        metrics.count(ip, "ok", "peer")
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8:1:2::9", "::ffff:192.0.2.1")
    ]
    assert labels == ["192.0.2.1", "192.0.2.2", "192.0.2.0/24", "2001:db8:1::/48", "192.0.2.1"]
    assert metrics.exact == {"192.0.2.1", "192.0.2.2"}


def test_prefix_lengths_are_configurable() -> None:
    """ipv4_prefix and ipv6_prefix choose the aggregation prefixes; zones are dropped."""
    metrics = ClientMetrics(CollectorRegistry(), top=0, ipv4_prefix=16, ipv6_prefix=64)
    assert metrics.count("198.51.100.7", "ok", "peer") == "198.51.0.0/16"
    assert metrics.count("fe80::1%eth0", "ok", "peer") == "fe80::/64"


def test_prefixes_beyond_the_cap_become_other() -> None:
    """After max_prefixes prefix series, new prefixes are counted as 'other'."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry, top=0, max_prefixes=1)
    for ip in ("192.0.2.1", "198.51.100.1", "192.0.2.99"):
        metrics.count(ip, "ok", "peer")
    assert clients(registry) == {"192.0.2.0/24": 2, OTHER: 1}


def test_rebalance_gives_slots_to_the_heaviest_clients() -> None:
    """A heavy client arriving after the slots filled takes over a light client's slot."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry, top=1, candidates=4, rebalance_every=10)
    metrics.count("192.0.2.1", "ok", "peer")  # light, takes the only slot
    heavy = [metrics.count("198.51.100.9", "ok", "peer") for _ in range(8)]
    assert set(heavy) == {"198.51.100.0/24"}  # no free slot yet
    # The 10th observation rebalances: the light client is demoted, the heavy one promoted.
    assert metrics.count("198.51.100.9", "ok", "peer") == "198.51.100.9"
    assert metrics.exact == {"198.51.100.9"}
    assert "192.0.2.1" not in clients(registry)  # the demoted series is gone


def test_flood_of_distinct_addresses_keeps_the_heavy_hitter() -> None:
    """Misra–Gries keeps a client with a large share while thousands of others pass by."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry, top=2, candidates=8, rebalance_every=50, max_prefixes=10)
    for i in range(3000):
        metrics.count(str(IPv4Address(0x0A000000 + i)), "ok", "peer")
        metrics.count("203.0.113.7", "ok", "peer")
    assert "203.0.113.7" in metrics.exact
    assert clients(registry)["203.0.113.7"] > 0
    assert len(clients(registry)) <= 2 + 10 + 2


@settings(max_examples=40)
@given(
    st.lists(st.integers(min_value=0, max_value=5000), max_size=400),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=5),
)
def test_series_count_is_bounded(hosts: list[int], top: int, max_prefixes: int) -> None:
    """Whatever the traffic: at most top + max_prefixes + 2 client series, top exact."""
    registry = CollectorRegistry()
    metrics = ClientMetrics(registry, top=top, max_prefixes=max_prefixes, rebalance_every=7)
    for host in hosts:
        metrics.count(str(IPv4Address(0xC0000000 + host * 97)), "ok", "peer")
    assert len(metrics.exact) <= top
    assert len(clients(registry)) <= top + max_prefixes + 2


def test_namespace_and_separate_registries() -> None:
    """Each app passes its own registry; the namespace prefixes the metric names."""
    first, second = CollectorRegistry(), CollectorRegistry()
    ClientMetrics(first, namespace="app").count("192.0.2.1", "ok", "peer")
    ClientMetrics(second).count("192.0.2.1", "ok", "peer")
    assert samples(first, "app_client_requests_total") == {("192.0.2.1",): 1}
    assert samples(second, "srcip_client_requests_total") == {("192.0.2.1",): 1}


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        pytest.param({"top": -1}, "top", id="top"),
        pytest.param({"top": 4, "candidates": 3}, "candidates", id="candidates"),
        pytest.param({"ipv4_prefix": 33}, "ipv4_prefix", id="v4"),
        pytest.param({"ipv6_prefix": -1}, "ipv6_prefix", id="v6"),
        pytest.param({"max_prefixes": -1}, "max_prefixes", id="prefixes"),
        pytest.param({"rebalance_every": 0}, "rebalance_every", id="rebalance"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, int], setting: str) -> None:
    """Out-of-range guard settings fail at construction and name the setting."""
    with pytest.raises(TrustConfigError, match=f"ClientMetrics {setting}="):
        ClientMetrics(CollectorRegistry(), **kwargs)


def test_description_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The address/prefix memo is cleared when full; labels stay the same."""
    monkeypatch.setattr(metrics_module, "_DESCRIBED_CACHE_SIZE", 1)
    metrics = ClientMetrics(CollectorRegistry(), top=0)
    labels = [metrics.count(ip, "ok", "peer") for ip in ("192.0.2.1", "2001:db8::1", "192.0.2.1")]
    assert labels == ["192.0.2.0/24", "2001:db8::/48", "192.0.2.0/24"]
