"""Failover in the lab: the measured failure window against the model's timeline.

Every clock runs at ``SCALE`` (health checks, events, endpoint delay, preStop), so the 41 s
and 66 s scenarios of user scenario 21 take 2 s and 3.3 s. The stated tolerance is the
result's own: one 100 ms bucket of wall time (scheduling and request spacing), which is
``0.1 / SCALE`` scenario seconds (2 s of a 20 s window at 0.05).
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Network

from srcip.lab import LabCluster
from srcip.lab.failover import FailoverResult, failover
from srcip.manifests import load_cluster
from srcip.model.timeline import parse_event

S21 = "examples/user-scenarios/21-local-failover-slow-health-check"
SLOW = [f"{S21}/manifests.yaml", f"{S21}/scenario.yaml"]
PRESTOP = [f"{S21}/manifests-prestop.yaml", f"{S21}/scenario.yaml"]
ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]
SCALE = 0.05
BASE = IPv4Network("127.61.0.0/16")  # apart from other lab runs on this machine


def measure(
    files: list[str], *, fallback: bool | None = None, scale: float = SCALE, events: str = ""
) -> FailoverResult:
    cluster = load_cluster(files, default_scenario=True)
    extra = (parse_event(events),) if events else ()

    async def scenario() -> FailoverResult:
        async with LabCluster(cluster, seed=2, time_scale=scale, drop_hold=1.5, base=BASE) as lab:
            return await failover(lab, events=extra, timeout=1.0, fallback=fallback)

    return asyncio.run(scenario())


def _results(result: FailoverResult) -> set[str]:
    kinds = set()
    for bucket in result.timeline:
        kinds |= {k for k in ("refused", "timeout", "error") if getattr(bucket, k)}
    return kinds


def test_slow_health_check_window_lies_within_the_model_bounds() -> None:
    """No preStop, NLB-like checks (2 × 10 s): refused, then dropped until the LB notices;
    the measured window is the model's at the measured probe phase and within its bounds."""
    result = measure(SLOW)
    low, high = result.predicted.failure_window_bounds
    assert (low, high) == (11.0, 21.0)
    assert result.probe_phase is not None
    assert result.within_bounds, (result.measured_window, low, high, result.tolerance)
    # The phase-specific prediction, within two buckets: at 0.05× a 100 ms scheduling slip
    # on a loaded machine is two scenario seconds (the bounds above are the requirement).
    assert abs(result.measured_window - result.predicted_window) <= 2 * result.tolerance, (
        result.measured_window,
        result.predicted_window,
    )
    assert _results(result) == {"refused", "timeout"}
    assert result.first_failure is not None
    assert abs(result.first_failure - 10.0) <= 1.0


def test_prestop_with_fallback_and_fast_enough_checks_fails_no_request() -> None:
    """preStop 25 s outlasts detection (2 × 10 s + 1 s) and terminating endpoints keep
    serving: the model predicts no failure and not one request fails."""
    result = measure(PRESTOP, fallback=True)
    assert result.predicted.failure_window_bounds == (0.0, 0.0)
    assert result.requests > 500
    assert result.failed == 0
    assert result.ok


def test_prestop_without_fallback_drops_until_the_load_balancer_notices() -> None:
    """Without terminating-endpoint fallback the node has no usable endpoint from 11 s:
    connections are dropped until the LB marks it down, as the model's window says."""
    result = measure(PRESTOP, fallback=False)
    assert result.predicted_window > 5
    assert result.within_bounds, (result.measured_window, result.predicted.failure_window_bounds)
    assert abs(result.measured_window - result.predicted_window) <= 2 * result.tolerance, (
        result.measured_window,
        result.predicted_window,
    )
    assert _results(result) == {"timeout"}


def test_deleting_an_echo_pod_refuses_half_the_connections_for_the_endpoint_delay() -> None:
    """The seeds' echo: delete echo-0; its node keeps DNATting to it for the 1 s endpoint
    delay (refused), then to the replacement echo-2; 50 % fail in that second."""
    result = measure(ECHO, scale=0.25, events="delete pod/echo-0 at 3s")
    assert result.predicted_window == 1.0
    assert result.matches_prediction, (result.measured_window, result.tolerance)
    assert _results(result) == {"refused"}
    failing = [b for b in result.timeline if b.total > b.ok]
    assert all(b.predicted_failing == 0.5 for b in failing)
    assert sum(b.refused for b in failing) / sum(b.total for b in failing) > 0.3


def test_requests_are_bounded_and_counted_once() -> None:
    """Every request sent is in exactly one bucket, and none is an error."""
    result = measure(SLOW, scale=0.02)
    assert result.requests == round(200 * 41 * 0.02)
    assert all(b.error == 0 for b in result.timeline)
