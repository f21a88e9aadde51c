"""The failover experiment's pure parts: the nodes' view over time, the steps, the window."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from srcip.lab.failover import BUCKET_SECONDS, _steps, _window, cluster_at, failover_cluster
from srcip.manifests import load_cluster
from srcip.model.failover import FailoverPlan, plan_failover
from srcip.model.objects import TAINT_TO_BE_DELETED, Cluster, Service
from srcip.model.timeline import parse_event

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


def _plan(event: str) -> tuple[Cluster, Service, FailoverPlan]:
    cluster = load_cluster(ECHO, default_scenario=True)
    service = next(s for s in cluster.services if s.name == "echo")
    return cluster, service, plan_failover(cluster, service, (parse_event(event),))


def _endpoints(cluster: Cluster, service: Service) -> dict[str, tuple[bool, bool, bool]]:
    return {
        str(e.target): (e.ready, bool(e.serving), e.terminating)
        for s in cluster.endpoint_slices
        if s.service_name == service.name
        for e in s.endpoints
    }


@pytest.mark.parametrize(
    ("t", "fallback", "expected"),
    [
        pytest.param(Fraction(2), True, {"echo-0": (True, True, False), "echo-1": (True, True, False)}, id="before"),
        pytest.param(Fraction(7, 2), True, {"echo-0": (True, True, False), "echo-1": (True, True, False)}, id="within-delay"),
        pytest.param(Fraction(4), True, {"echo-1": (True, True, False), "echo-2": (True, True, False)}, id="after-delay"),
    ],
)  # fmt: skip
def test_cluster_at_lags_the_api_by_the_endpoint_delay(
    t: Fraction, fallback: bool, expected: dict[str, tuple[bool, bool, bool]]
) -> None:
    """echo-0 deleted at 3 s (no preStop: gone at once, echo-2 replaces it): the nodes see
    the change 1 s later, not before."""
    cluster, service, plan = _plan("delete pod/echo-0 at 3s")
    view = cluster_at(cluster, plan, service, t, delay=Fraction(1), fallback=fallback)
    assert _endpoints(view, service) == expected
    assert ("echo-2" in {p.name for p in view.pods}) == (t >= 4)


def test_without_fallback_terminating_endpoints_are_left_out() -> None:
    """A terminating endpoint (its app still serving, as during a preStop sleep) is in the
    nodes' view with fallback and left out without."""
    cluster, service, plan = _plan("delete pod/echo-0 at 1s")
    serving = replace(plan, pods=tuple(replace(p, gone=None) for p in plan.pods))
    on = cluster_at(cluster, serving, service, Fraction(3), delay=Fraction(1), fallback=True)
    off = cluster_at(cluster, serving, service, Fraction(3), delay=Fraction(1), fallback=False)
    assert _endpoints(on, service)["echo-0"] == (False, True, True)
    assert "echo-0" not in _endpoints(off, service)


def test_drain_taints_the_node_at_once() -> None:
    """A drained node carries ToBeDeletedByClusterAutoscaler from the event, without delay."""
    cluster, service, plan = _plan("drain node/node-1 at 2s")
    view = cluster_at(cluster, plan, service, Fraction(2), delay=Fraction(5), fallback=True)
    node = next(n for n in view.nodes if n.name == "node-1")
    assert any(t.key == TAINT_TO_BE_DELETED for t in node.taints)
    assert node.unschedulable


def test_steps_start_and_stop_apps_then_change_the_view() -> None:
    """Steps: the replacement starts and echo-0 stops at 3 s; the view changes at 0 and 4 s."""
    _, _, plan = _plan("delete pod/echo-0 at 3s")
    steps = _steps(plan, delay=Fraction(1), duration=Fraction(10))
    assert [(s.at, s.kind, s.pod.name if s.pod else None) for s in steps] == [
        (Fraction(0), "view", None),
        (Fraction(3), "start", "echo-2"),
        (Fraction(3), "stop", "echo-0"),
        (Fraction(4), "view", None),
    ]


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        pytest.param([], 0.0, id="none"),
        pytest.param([1.0], 0.005, id="one"),
        pytest.param([1.0, 1.05, 1.12], 0.125, id="bridged"),
        pytest.param([1.0, 1.0 + BUCKET_SECONDS, 2.0], 0.015, id="apart"),
    ],
)
def test_window_bridges_gaps_under_a_bucket(failing: list[float], expected: float) -> None:
    """Stretches of failures, gaps under one bucket bridged, each one interval longer."""
    assert _window(failing, spacing=0.005) == pytest.approx(expected)


def test_failover_cluster_sets_events_and_fallback() -> None:
    """The Scenario's failover lists exactly the given events and fallback."""
    cluster = load_cluster(ECHO, default_scenario=True)
    event = parse_event("delete pod/echo-1 at 2s")
    changed = failover_cluster(cluster, (event,), fallback=False)
    assert changed.scenario is not None
    assert changed.scenario.failover.events == (event,)
    assert changed.scenario.failover.terminating_fallback is False
