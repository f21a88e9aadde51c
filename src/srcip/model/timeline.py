"""The failover timeline: for each moment, where the load balancer sends and what happens.

:func:`timeline` plays a Scenario's failover events against three clocks and reports the
windows in which nothing changes (``docs/reference/timeline.md``):

* **the pods** (:mod:`srcip.model.failover`): deletion with its ``preStop`` sleep and grace
  period, replacement and readiness, drains, readiness flips, scaling;
* **kube-proxy** (:mod:`srcip.model.failoverpath`): every node routes with the existing
  model on the EndpointSlices as they were ``endpoint_delay_seconds`` ago;
* **the load balancer**: health probes every ``interval_seconds`` from ``probe_phase``, with
  thresholds, answered by kube-proxy's health servers (KP §13, §14) or the traffic route.

The **failure window** is the time during which a new connection has a nonzero chance of
being dropped or refused. It depends on where the probes fall; its bounds over the phase in
[0, interval) are exact: between the phases at which a probe crosses a fixed change time (or
the end) the window is linear in the phase, so each piece gives its value at the start and
its limits at both ends, extrapolated exactly (``Fraction``) from two inner points.

Left out: probe timeouts (a probe's verdict counts when it is sent), connections already
established (KP §3.6), pod targets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

from srcip.errors import UsageError
from srcip.model.failover import FailoverPlan, plan_failover, seconds
from srcip.model.failoverpath import (
    FAILING,
    LBState,
    Mix,
    Outcome,
    PathContext,
    Segment,
    build_segments,
    combine,
    lb_shares,
    lb_states,
    path_context,
)
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import Cluster
from srcip.model.scenario import EventKind, FailoverSpec, Scenario, ScenarioEvent
from srcip.model.tracepath import entry_services, scenario_lb

__all__ = [
    "NodeOutcome",
    "Outcome",
    "Timeline",
    "Window",
    "parse_event",
    "scenario_timeline",
    "timeline",
]


# --------------------------------------------------------------------------- parsing

_EXAMPLES: Mapping[EventKind, str] = {
    EventKind.DELETE_POD: "delete pod/web-0 at 10s",
    EventKind.DRAIN_NODE: "drain node/node-2 at 5s",
    EventKind.UNREADY: "unready pod/web-1 at 3.5s",
    EventKind.READY: "ready pod/web-1 at 20s",
    EventKind.SCALE: "scale deployment/web to 3 at 12s",
}
_TARGET_KINDS: Mapping[EventKind, tuple[str, ...]] = {
    EventKind.DELETE_POD: ("pod",),
    EventKind.DRAIN_NODE: ("node",),
    EventKind.UNREADY: ("pod",),
    EventKind.READY: ("pod",),
    EventKind.SCALE: ("deployment", "replicaset", "statefulset"),
}
_SHAPE = re.compile(
    r"(?P<verb>\S+)\s+(?P<kind>[^\s/]+)/(?P<name>\S+)(?:\s+to\s+(?P<replicas>\S+))?"
    r"\s+at\s+(?P<time>\S+)",
    re.IGNORECASE,
)
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_TIME = re.compile(r"(?P<value>\d+(?:\.\d*)?|\.\d+)(?P<unit>ms|s)")


def _event_error(text: str, problem: str, kind: EventKind | None) -> UsageError:
    example = _EXAMPLES[kind] if kind is not None else "; ".join(_EXAMPLES.values())
    return UsageError(f"event {text!r}: {problem}. Write it like: {example}")


def parse_event(text: str) -> ScenarioEvent:
    """``'<verb> <kind>/<name> [to <replicas>] at <time>'`` as a :class:`ScenarioEvent`.

    Verbs: delete (pod), drain (node), unready (pod), ready (pod), scale (deployment,
    replicaset or statefulset, with ``to N``). Times end in ``s`` or ``ms``. Anything else
    raises :class:`~srcip.errors.UsageError` with what is wrong and an example.
    """
    match = _SHAPE.fullmatch(text.strip())
    if match is None:
        raise _event_error(
            text, "expected '<action> <kind>/<name> [to <replicas>] at <time>'", None
        )
    try:
        kind = EventKind(match["verb"].lower())
    except ValueError:
        verbs = ", ".join(k.value for k in EventKind)
        raise _event_error(
            text, f"unknown action {match['verb']!r} (one of {verbs})", None
        ) from None
    target_kind, name = match["kind"].lower(), match["name"]
    if target_kind not in _TARGET_KINDS[kind]:
        wanted = " or ".join(_TARGET_KINDS[kind])
        raise _event_error(text, f"{kind.value} applies to {wanted}, not {target_kind!r}", kind)
    if _NAME.fullmatch(name) is None:
        raise _event_error(text, f"{name!r} is not a Kubernetes object name", kind)
    replicas = _replicas(text, kind, match["replicas"])
    return ScenarioEvent(
        at_seconds=_at(text, kind, match["time"]),
        kind=kind,
        target=f"{target_kind}/{name}",
        replicas=replicas,
    )


def _replicas(text: str, kind: EventKind, value: str | None) -> int | None:
    if kind is not EventKind.SCALE:
        if value is not None:
            raise _event_error(text, f"'to {value}' only goes with scale", kind)
        return None
    if value is None:
        raise _event_error(text, "scale needs 'to <replicas>'", kind)
    if not value.isdigit():
        raise _event_error(text, f"replicas {value!r} is not a whole number ≥ 0", kind)
    return int(value)


def _at(text: str, kind: EventKind, value: str) -> float:
    match = _TIME.fullmatch(value.lower())
    if match is None:
        raise _event_error(
            text, f"time {value!r} is not a number of seconds with a unit s or ms", kind
        )
    number = float(match["value"])
    return number / 1000 if match["unit"] == "ms" else number


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOutcome:
    """One node in a window: the LB's view and share, and what a connection there gets."""

    node: str
    healthy: bool  # in the load balancer's view
    share: Fraction  # of new connections the load balancer sends to this node
    outcome: Mix


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A stretch [start, end) during which nothing changes."""

    start: float
    end: float
    lb_nodes: tuple[str, ...]  # nodes receiving new connections
    outcome: Mix  # for a new connection through the load balancer
    nodes: tuple[NodeOutcome, ...]

    def probability(self, outcome: Outcome) -> Fraction:
        """The chance of ``outcome`` for a new connection (0 if absent)."""
        return dict(self.outcome).get(outcome, Fraction(0))

    @property
    def failing(self) -> Fraction:
        """The chance that a new connection is dropped or refused."""
        return sum((self.probability(o) for o in FAILING), Fraction(0))

    def to_json(self) -> dict[str, object]:
        """Plain data for ``-o json`` (probabilities as floats and as exact ``p/q``)."""
        return {
            "start": self.start,
            "end": self.end,
            "lb_nodes": list(self.lb_nodes),
            "outcome": {str(o): float(p) for o, p in self.outcome},
            "outcome_exact": {str(o): str(p) for o, p in self.outcome},
            "nodes": [
                {
                    "name": n.node,
                    "healthy": n.healthy,
                    "share": str(n.share),
                    "outcome": {str(o): str(p) for o, p in n.outcome},
                }
                for n in self.nodes
            ],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """The windows tiling [0, duration], and the failure window with and without fallback."""

    service: str
    duration: float
    probe_phase: float
    windows: tuple[Window, ...]
    failure_window: float  # seconds with a nonzero chance of failure, at ``probe_phase``
    failure_window_bounds: tuple[float, float]  # inf and sup over the probe phase
    failure_window_without_fallback: float  # at ``probe_phase``, terminating endpoints unused
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True, slots=True, kw_only=True)
class _Raw:
    start: Fraction
    end: Fraction
    lb_nodes: tuple[str, ...]
    outcome: Mix
    nodes: tuple[NodeOutcome, ...]

    @property
    def failing(self) -> bool:
        return any(o in FAILING for o, _ in self.outcome)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Run:
    """The segments of one fallback setting; the probe phase is chosen per call."""

    ctx: PathContext
    initial: Segment  # the steady state before any event
    segments: tuple[Segment, ...]
    interval: Fraction
    duration: Fraction

    def windows(self, phase: Fraction) -> list[_Raw]:
        """Every stretch between changes of either clock, unmerged."""
        states = lb_states(
            self.ctx.lb, self.initial, self.segments, phase=phase, duration=self.duration
        )
        marks = sorted({s.start for s in self.segments} | {s.since for s in states})
        out: list[_Raw] = []
        seg, st = 0, 0
        for start, end in zip(marks, [*marks[1:], self.duration], strict=True):
            while self.segments[seg].end <= start:
                seg += 1
            while st + 1 < len(states) and states[st + 1].since <= start:
                st += 1
            out.append(self._window(start, end, self.segments[seg], states[st]))
        return out

    def _window(self, start: Fraction, end: Fraction, seg: Segment, st: LBState) -> _Raw:
        shares = lb_shares(self.ctx.lb, st, self.ctx.nodes)
        names = [n.name for n in self.ctx.nodes]
        nodes = tuple(
            NodeOutcome(node=name, healthy=st.healthy[i], share=shares[i], outcome=seg.outcomes[i])
            for i, name in enumerate(names)
        )
        total = combine([(o, n.share * p) for n in nodes for o, p in n.outcome])
        if not any(shares):  # the load balancer sends nowhere: the client times out
            total = ((Outcome.DROPPED, Fraction(1)),)
        lb_nodes = tuple(name for i, name in enumerate(names) if shares[i])
        return _Raw(start=start, end=end, lb_nodes=lb_nodes, outcome=total, nodes=nodes)

    def failing(self, phase: Fraction) -> Fraction:
        """Seconds with a nonzero chance of failure for probes at ``phase``."""
        return sum((w.end - w.start for w in self.windows(phase) if w.failing), Fraction(0))


def _bounds(run: _Run, marks: list[Fraction]) -> tuple[Fraction, Fraction]:
    """Inf and sup of the failure window over the phase in [0, interval).

    Between critical phases (a probe lands on a fixed change time or the end) the window is
    linear in the phase: each piece contributes its start value and the limits at both ends,
    extrapolated exactly from two inner points.
    """
    interval = run.interval
    critical = sorted({m % interval for m in [*marks, run.duration]} | {Fraction(0)})
    values: list[Fraction] = []
    for low, high in zip(critical, [*critical[1:], interval], strict=True):
        third = (high - low) / 3
        inner_a, inner_b = run.failing(low + third), run.failing(low + 2 * third)
        values += [run.failing(low), 2 * inner_a - inner_b, 2 * inner_b - inner_a]
    return min(values), max(values)


# --------------------------------------------------------------------------- timeline


def timeline(
    cluster: Cluster,
    service: str,
    lb: EffectiveLoadBalancer,
    failover: FailoverSpec,
    *,
    events: tuple[ScenarioEvent, ...] | None = None,
    probe_phase: float = 0.0,
) -> Timeline:
    """The failover timeline of ``service`` (``namespace/name``) behind ``lb``.

    ``events`` default to ``failover.events``; the first probe of every node goes out at
    ``probe_phase`` (0 ≤ phase < interval). ``failover.duration_seconds`` unset: until every
    effect has settled, plus one probe interval.
    """
    ctx = path_context(cluster, service, lb)
    plan = plan_failover(cluster, ctx.service, failover.events if events is None else events)
    hc = lb.health_check
    interval, phase = seconds(hc.interval_seconds), seconds(probe_phase)
    delay = seconds(failover.endpoint_delay_seconds)
    _check(lb, interval, phase, delay)
    changes = {t + delay for t in plan.endpoint_times} | set(plan.app_times)
    changes |= {t for _, t in plan.tainted}
    rounds = max(hc.healthy_threshold, hc.unhealthy_threshold) + 1
    duration = max(changes, default=Fraction(0)) + rounds * interval
    if failover.duration_seconds is not None:
        duration = seconds(failover.duration_seconds)
        if duration <= 0:
            raise UsageError(f"duration {failover.duration_seconds:g}s: it must be > 0")
    marks = sorted({Fraction(0)} | {c for c in changes if c < duration})
    run = _run(ctx, plan, marks, duration, delay=delay, fallback=failover.terminating_fallback)
    raw = run.windows(phase)
    failure = run.failing(phase)
    without = failure
    if failover.terminating_fallback:
        without = _run(ctx, plan, marks, duration, delay=delay, fallback=False).failing(phase)
    low, high = _bounds(run, marks)
    return Timeline(
        service=ctx.service.key,
        duration=float(duration),
        probe_phase=float(phase),
        windows=_merge(raw),
        failure_window=float(failure),
        failure_window_bounds=(float(low), float(high)),
        failure_window_without_fallback=float(without),
        notes=_notes(lb, plan, raw),
    )


def _check(lb: EffectiveLoadBalancer, interval: Fraction, phase: Fraction, delay: Fraction) -> None:
    hc = lb.health_check
    problems = [
        (interval <= 0, f"health check interval {float(interval):g}s must be > 0"),
        (not 0 <= phase < interval, f"probe phase {float(phase):g}s must be in [0, interval)"),
        (delay < 0, f"endpoint delay {float(delay):g}s must be ≥ 0"),
        (
            min(hc.healthy_threshold, hc.unhealthy_threshold) < 1,
            "health check thresholds must be ≥ 1",
        ),
    ]
    for bad, problem in problems:
        if bad:
            raise UsageError(f"failover timeline: {problem}")


def _run(
    ctx: PathContext,
    plan: FailoverPlan,
    marks: list[Fraction],
    duration: Fraction,
    *,
    delay: Fraction,
    fallback: bool,
) -> _Run:
    before = build_segments(
        ctx, plan, [Fraction(-1)], Fraction(0), delay=Fraction(0), fallback=fallback
    )
    return _Run(
        ctx=ctx,
        initial=before[0],
        segments=build_segments(ctx, plan, marks, duration, delay=delay, fallback=fallback),
        interval=seconds(ctx.lb.health_check.interval_seconds),
        duration=duration,
    )


def _merge(raw: list[_Raw]) -> tuple[Window, ...]:
    merged: list[_Raw] = []
    for w in raw:
        last = merged[-1] if merged else None
        if last is not None and (last.lb_nodes, last.outcome, last.nodes) == (
            w.lb_nodes,
            w.outcome,
            w.nodes,
        ):
            merged[-1] = replace(last, end=w.end)
        else:
            merged.append(w)
    return tuple(
        Window(
            start=float(w.start),
            end=float(w.end),
            lb_nodes=w.lb_nodes,
            outcome=w.outcome,
            nodes=w.nodes,
        )
        for w in merged
    )


def _notes(lb: EffectiveLoadBalancer, plan: FailoverPlan, raw: list[_Raw]) -> tuple[str, ...]:
    notes = list(plan.notes)
    if plan.tainted:
        notes.append(
            "drain is modelled as Cluster Autoscaler's scale-down: the node is cordoned and "
            "tainted ToBeDeletedByClusterAutoscaler, so kube-proxy's /healthz fails (KEP-3836)"
        )
    open_at = [w.start for w in raw if not any(n.healthy for n in w.nodes)]
    if open_at:
        notes.append(
            f"no node passes the health check from {float(open_at[0]):g}s: the load balancer "
            "fails open to every node where the provider does, else it sends nowhere"
        )
    return tuple(notes)


def scenario_timeline(
    cluster: Cluster,
    *,
    service: str | None = None,
    events: tuple[ScenarioEvent, ...] = (),
    probe_phase: float = 0.0,
) -> Timeline:
    """The timeline of the Scenario's Service behind its load balancer.

    ``events`` add to the Scenario's ``spec.failover.events``; at least one is needed.
    """
    scenario = cluster.scenario or Scenario(name="default")
    entry, _ = entry_services(cluster, scenario, service)[0]
    lb = scenario_lb(cluster, scenario, entry)
    every = (*scenario.failover.events, *events)
    if not every:
        raise UsageError(
            "no failover event: give --event 'delete pod/NAME at 10s' (repeatable) or list "
            "spec.failover.events in the Scenario"
        )
    return timeline(
        cluster, entry.key, lb, scenario.failover, events=every, probe_phase=probe_phase
    )
