"""The client-IP benchmark's inputs: cold mode never repeats a client within a memo's reach."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from bench.clientip import (
    CHAINS,
    CHECK_FROM,
    CLIENT,
    COLD_RANGE,
    MEMO_SIZE,
    Feed,
    build_pairs,
    check_answers,
    cold_clients,
    measure,
    render,
)

POOL = CHECK_FROM + 64


def test_cold_blocks_are_distinct_disjoint_and_in_range() -> None:
    blocks = [cold_clients(k, POOL) for k in range(6)]
    every = [ip for block in blocks for ip in block]
    assert len(set(every)) == len(every) == 6 * POOL
    assert all(ip_address(ip) in COLD_RANGE for ip in every)
    with pytest.raises(ValueError, match="must exceed"):
        cold_clients(0, MEMO_SIZE)


def test_feed_continues_across_takes_and_wraps() -> None:
    feed = Feed(list(range(10)))
    assert feed.take(4) == [0, 1, 2, 3]
    assert feed.take(8) == [4, 5, 6, 7, 8, 9, 0, 1]
    assert Feed(["x"]).take(3) == ["x", "x", "x"]


def test_cold_runs_never_repeat_a_client_within_a_memo() -> None:
    feed = Feed(cold_clients(0, POOL))
    seen = [ip for _ in range(7) for ip in feed.take(2_000)]  # a --quick-sized series
    last: dict[str, int] = {}
    for k, ip in enumerate(seen):
        assert k - last.get(ip, -POOL) > MEMO_SIZE
        last[ip] = k


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_pairs_answer_right_and_share_requests(mode: str) -> None:
    rows = []
    for chain in CHAINS:
        for pair in build_pairs(chain, mode, POOL):
            check_answers(pair)  # exits on a wrong answer
            # same request objects per index (the function pair: same clients, each shape)
            assert pair.layer == "function" or pair.srcip.pool is pair.peer.pool
            assert len(pair.srcip.pool) == len(pair.peer.pool) == len(pair.clients)
            assert pair.clients == [CLIENT] if mode == "warm" else len(pair.clients) == POOL
            rows.append(measure(pair, 20, 1))
    assert len({pair.clients[-1] for pair in (row.pair for row in rows)}) == (
        1 if mode == "warm" else len(rows)
    )
    text = render(rows, 20, 1, POOL)
    assert f"{mode}:" in text
    assert "Verdict" in text
