"""The rate limiter: nginx limit_req arithmetic on a fake clock, classes, keys, LRU, policies."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.clientip import ratelimit
from srcip.clientip.ratelimit import (
    Action,
    Decision,
    Limit,
    LimitClass,
    RateLimitConfig,
    RateLimiter,
    Unresolved,
    retry_after_header,
)
from srcip.errors import TrustConfigError

CLIENT = "203.0.113.7"
RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def limiter(limit: Limit, **config: Any) -> tuple[RateLimiter, FakeClock]:
    """A limiter with ``limit`` as the default and a fake clock."""
    clock = FakeClock()
    return RateLimiter(RateLimitConfig(default=limit, **config), clock), clock


def actions(rl: RateLimiter, count: int, ip: str | None = CLIENT) -> list[Action]:
    """The actions for ``count`` requests arriving at the same instant."""
    return [rl.check(ip).action for _ in range(count)]


A, D, R = Action.ALLOW, Action.DELAY, Action.REJECT


# ------------------------------------------------------------------ nginx limit_req arithmetic


def test_no_burst_allows_one_request_per_interval() -> None:
    """rate=10r/s without burst: one request per 100 ms, the rest rejected."""
    rl, clock = limiter(Limit(rate="10r/s"))
    assert actions(rl, 3) == [A, R, R]
    clock.advance(0.05)
    assert rl.check(CLIENT).action is R
    clock.advance(0.05)
    assert rl.check(CLIENT).action is A


def test_burst_is_delayed_by_default() -> None:
    """burst=5 without nodelay: 5 excess requests are queued with growing delays."""
    rl, _ = limiter(Limit(rate="10r/s", burst=5))
    decisions = [rl.check(CLIENT) for _ in range(7)]
    assert [d.action for d in decisions] == [A, D, D, D, D, D, R]
    assert [d.delay for d in decisions[1:6]] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert decisions[6].retry_after == pytest.approx(0.1)


def test_burst_nodelay_serves_the_burst_at_once() -> None:
    """burst=20 nodelay (the seed's trusted limit): 21 requests pass at once, the 22nd not."""
    rl, clock = limiter(Limit(rate="10r/s", burst=20, nodelay=True))
    assert actions(rl, 22) == [A] * 21 + [R]
    clock.advance(0.1)  # one slot drains
    assert actions(rl, 2) == [A, R]


def test_delay_parameter_serves_the_first_excess_requests_undelayed() -> None:
    """nginx 1.15.7 delay=2: excess up to 2 passes at once, beyond that is delayed."""
    rl, _ = limiter(Limit(rate="10r/s", burst=4, delay=2))
    decisions = [rl.check(CLIENT) for _ in range(6)]
    assert [d.action for d in decisions] == [A, A, A, D, D, R]
    assert [d.delay for d in decisions[3:5]] == pytest.approx([0.1, 0.2])


def test_rate_per_minute() -> None:
    """rate=30r/m: one request every 2 s; Retry-After rounds the wait up to whole seconds."""
    rl, clock = limiter(Limit(rate="30r/m"))
    assert actions(rl, 2) == [A, R]
    clock.advance(1.5)
    rejected = rl.check(CLIENT)
    assert rejected.retry_after == pytest.approx(0.5)
    assert retry_after_header(rejected) == "1"
    clock.advance(0.5)
    assert rl.check(CLIENT).action is A


def test_one_request_per_minute_is_exact() -> None:
    """rate=1r/m drains exactly after 60 s (nginx would truncate it to 0.016 r/s)."""
    rl, clock = limiter(Limit(rate="1r/m"))
    assert actions(rl, 2) == [A, R]
    clock.advance(59.9)
    assert rl.check(CLIENT).action is R
    clock.advance(0.1)
    assert rl.check(CLIENT).action is A


def test_rejection_does_not_consume() -> None:
    """A rejected request leaves the bucket alone, as nginx's NGX_BUSY path does."""
    rl, clock = limiter(Limit(rate="1r/s"))
    rl.check(CLIENT)
    for _ in range(100):
        assert rl.check(CLIENT).action is R
    clock.advance(1.0)
    assert rl.check(CLIENT).action is A


def test_float_clock_differences_do_not_cause_rejections() -> None:
    """0.3 - 0.2 is not exactly 0.1 in floats; the tolerance absorbs it."""
    clock = FakeClock(0.2)
    rl = RateLimiter(RateLimitConfig(default=Limit(rate="10r/s")), clock)
    rl.check(CLIENT)
    clock.now = 0.3
    assert rl.check(CLIENT).action is A


def test_clock_going_backwards_drains_nothing() -> None:
    """A clock that steps back counts as no time passing (nginx takes the absolute value)."""
    rl, clock = limiter(Limit(rate="1r/s", burst=1, nodelay=True))
    rl.check(CLIENT)
    clock.advance(-10)
    assert actions(rl, 2) == [A, R]


def test_idle_client_starts_again_with_no_excess() -> None:
    """After a long pause the excess is 0: a burst is available again."""
    rl, clock = limiter(Limit(rate="10r/s", burst=2, nodelay=True))
    assert actions(rl, 4) == [A, A, A, R]
    clock.advance(3600)
    decision = rl.check(CLIENT)
    assert (decision.action, decision.excess) == (A, 0.0)


# ------------------------------------------------------------------ classes by CIDR


def seed_config() -> RateLimitConfig:
    """The seed's nginx: trusted networks burst=20 nodelay, others burst=5 delayed."""
    return RateLimitConfig(
        default=Limit(rate="10r/s", burst=5),
        classes=(
            LimitClass(
                name="trusted", networks=RFC1918, limit=Limit(rate="10r/s", burst=20, nodelay=True)
            ),
        ),
    )


@pytest.mark.parametrize(
    ("ip", "limit_class", "expected"),
    [
        pytest.param("10.1.2.3", "trusted", [A] * 21 + [R], id="rfc1918-10"),
        pytest.param("192.168.1.1", "trusted", [A] * 21 + [R], id="rfc1918-192"),
        pytest.param("::ffff:172.16.0.9", "trusted", [A] * 21 + [R], id="mapped-172"),
        pytest.param(CLIENT, "default", [A] + [D] * 5 + [R] * 16, id="external"),
    ],
)
def test_seed_trusted_networks_get_other_limits(
    ip: str, limit_class: str, expected: list[Action]
) -> None:
    """Clients in RFC 1918 ranges get the trusted limit; others the stricter default."""
    rl = RateLimiter(seed_config(), FakeClock())
    decisions = [rl.check(ip) for _ in range(22)]
    assert [d.action for d in decisions] == expected
    assert {d.limit_class for d in decisions} == {limit_class}


def test_classes_keep_separate_buckets_and_first_match_wins() -> None:
    """Overlapping classes: the first listed applies; its buckets are its own."""
    config = RateLimitConfig(
        default=Limit(rate="1r/s"),
        classes=(
            LimitClass(name="office", networks=("10.1.0.0/16",), limit=Limit(rate="1r/s")),
            LimitClass(name="internal", networks=("10.0.0.0/8",), limit=None),
        ),
    )
    rl = RateLimiter(config, FakeClock())
    assert rl.classify("10.1.2.3")[0] == "office"
    assert actions(rl, 2, "10.1.2.3") == [A, R]
    assert actions(rl, 50, "10.2.0.1") == [A] * 50
    assert rl.check("10.2.0.1") == Decision(action=A, limit_class="internal", key=None)
    assert len(rl) == 1  # unlimited clients take no memory


# ------------------------------------------------------------------ keys


def test_ipv6_clients_in_one_64_share_a_bucket() -> None:
    """Two addresses in the same /64 count together; another /64 has its own bucket."""
    rl, _ = limiter(Limit(rate="1r/s"))
    first = rl.check("2001:db8:1:2::1")
    assert first.key == "2001:db8:1:2::/64"
    assert rl.check("2001:db8:1:2:ffff::9").action is R
    assert rl.check("2001:db8:1:3::1").action is A


def test_ipv6_prefix_is_configurable_and_zone_is_ignored() -> None:
    """ipv6_prefix=128 keys single addresses; a zone does not make another client."""
    rl, _ = limiter(Limit(rate="1r/s"), ipv6_prefix=128)
    assert rl.check(IPv6Address("fe80::1%eth0")).key == "fe80::1"
    assert rl.check("fe80::1%eth1").action is R
    assert rl.check("fe80::2").action is A


def test_ipv4_prefix_groups_when_asked() -> None:
    """ipv4_prefix=24 keys IPv4 clients by /24 (default: the address itself)."""
    rl, _ = limiter(Limit(rate="1r/s"), ipv4_prefix=24)
    assert rl.key_for(IPv4Address("198.51.100.77")) == "198.51.100.0/24"
    plain, _ = limiter(Limit(rate="1r/s"))
    assert plain.key_for("::ffff:198.51.100.77") == "198.51.100.77"


# ------------------------------------------------------------------ unresolved clients


def test_unresolved_rejected_by_default_without_retry_after() -> None:
    """ip None is rejected by default; waiting cannot help, so there is no Retry-After."""
    rl, _ = limiter(Limit(rate="10r/s"))
    decision = rl.check(None)
    assert decision == Decision(action=R, limit_class="unresolved", key=None)
    assert retry_after_header(decision) is None
    assert len(rl) == 0


def test_unresolved_shared_bucket() -> None:
    """The shared policy puts every unresolved request in one bucket of its own."""
    rl, _ = limiter(
        Limit(rate="10r/s", burst=100, nodelay=True),
        unresolved=Unresolved.SHARED,
        unresolved_limit=Limit(rate="1r/s", burst=1, nodelay=True),
    )
    assert actions(rl, 3, None) == [A, A, R]
    assert rl.check(None).key == "unresolved"
    assert rl.check(CLIENT).action is A  # clients keep their own buckets


def test_unresolved_shared_bucket_defaults_to_the_default_limit() -> None:
    """Without unresolved_limit the shared bucket uses the default limit."""
    rl, _ = limiter(Limit(rate="1r/s"), unresolved=Unresolved.SHARED)
    assert actions(rl, 2, None) == [A, R]


# ------------------------------------------------------------------ bounded memory


def test_lru_cap_drops_the_least_recently_seen_key() -> None:
    """With max_keys=2, a third client evicts the one seen least recently."""
    rl, _ = limiter(Limit(rate="1r/m"), max_keys=2)
    rl.check("192.0.2.1")
    rl.check("192.0.2.2")
    assert rl.check("192.0.2.1").action is R  # bumps .1 to most recent
    rl.check("192.0.2.3")  # evicts .2
    assert len(rl) == 2
    assert rl.check("192.0.2.2").action is A  # forgotten, so fresh (evicts .1)
    assert rl.check("192.0.2.3").action is R


@settings(max_examples=50)
@given(st.lists(st.integers(min_value=1, max_value=200), max_size=300))
def test_key_count_never_exceeds_the_cap(hosts: list[int]) -> None:
    """Whatever the traffic, the limiter holds at most max_keys buckets."""
    rl, _ = limiter(Limit(rate="1r/s"), max_keys=16)
    for host in hosts:
        rl.check(str(IPv4Address(0xC0000200 + host)))
        assert len(rl) <= 16


@settings(max_examples=50)
@given(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=10),
    st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=60),
)
def test_accepted_requests_never_exceed_rate_times_time_plus_burst(
    rate: int, burst: int, gaps: list[float]
) -> None:
    """Leaky-bucket bound: accepted ≤ 1 + burst + rate × elapsed, for any arrival pattern."""
    rl, clock = limiter(Limit(rate=f"{rate}r/s", burst=burst, nodelay=True))
    accepted = 0
    for gap in gaps:
        clock.advance(gap)
        accepted += rl.check(CLIENT).allowed
    assert accepted <= 1 + burst + rate * sum(gaps) + 1e-6


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: Limit(rate="10r/h"), "not an nginx rate", id="unit"),
        pytest.param(lambda: Limit(rate="0r/s"), "not an nginx rate", id="zero"),
        pytest.param(lambda: Limit(rate="1.5r/s"), "not an nginx rate", id="fraction"),
        pytest.param(lambda: Limit(rate="10r/s", burst=-1), "≥ 0", id="negative-burst"),
        pytest.param(lambda: Limit(rate="10r/s", delay=-1), "≥ 0", id="negative-delay"),
        pytest.param(
            lambda: Limit(rate="10r/s", burst=5, delay=2, nodelay=True), "contradict", id="both"
        ),
        pytest.param(
            lambda: LimitClass(name="default", networks=RFC1918, limit=None),
            "reserved",
            id="reserved-name",
        ),
        pytest.param(lambda: LimitClass(name="", networks=RFC1918, limit=None), "empty", id="name"),
        pytest.param(
            lambda: LimitClass(name="x", networks=(), limit=None), "no networks", id="no-nets"
        ),
        pytest.param(
            lambda: LimitClass(name="x", networks=("10.0.0.1/8",), limit=None),
            "limit class 'x' network",
            id="bad-cidr",
        ),
        pytest.param(
            lambda: RateLimitConfig(
                default=Limit(rate="1r/s"),
                classes=(
                    LimitClass(name="x", networks=RFC1918, limit=None),
                    LimitClass(name="x", networks=RFC1918, limit=None),
                ),
            ),
            "repeat",
            id="duplicate-class",
        ),
        pytest.param(
            lambda: RateLimitConfig(default=Limit(rate="1r/s"), ipv6_prefix=129),
            "out of range",
            id="v6-prefix",
        ),
        pytest.param(
            lambda: RateLimitConfig(default=Limit(rate="1r/s"), ipv4_prefix=-1),
            "out of range",
            id="v4-prefix",
        ),
        pytest.param(
            lambda: RateLimitConfig(default=Limit(rate="1r/s"), max_keys=0),
            "max_keys",
            id="max-keys",
        ),
    ],
)
def test_invalid_configuration_is_refused(make: object, message: str) -> None:
    """Every bad setting fails at construction with a message naming it."""
    assert callable(make)
    with pytest.raises(TrustConfigError, match=message):
        make()


def test_retry_after_header_is_at_least_one_second() -> None:
    """A sub-second wait still sends Retry-After: 1 (the header has whole seconds)."""
    decision = Decision(action=R, limit_class="default", key=CLIENT, retry_after=0.01)
    assert retry_after_header(decision) == "1"
    assert retry_after_header(replace(decision, retry_after=2.0)) == "2"


def test_classification_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-client class/key memo is cleared when full; decisions stay the same."""
    monkeypatch.setattr(ratelimit, "_CLASSIFIED_CACHE_SIZE", 2)
    rl, _ = limiter(Limit(rate="1r/s"))
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert rl.check(ip).key == ip
    assert rl.check("192.0.2.1").action is R  # the bucket survived the memo's clearing
