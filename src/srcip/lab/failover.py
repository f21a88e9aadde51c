"""The ``failover`` experiment: steady load while a pod goes away, against the timeline.

The seeds' ``test-failover.sh`` (a curl loop while ``kubectl delete pod`` runs), done with a
bounded, timed load and the model beside it:

* **Events**: the Scenario's ``spec.failover.events`` plus any given (``--event``); with none,
  the first pod behind the Service is deleted at a third of the run. The model's
  :func:`~srcip.model.failover.plan_failover` turns them into pod lifecycles (deletion with
  the workload template's ``preStop`` sleep and grace period, the replacement pod and its
  readiness, drains, scaling): the Kubernetes controllers' part, which is input here.
* **The lab plays the clocks**: at ``gone`` (``t + min(preStop, grace)``) the pod's echo
  server drains as on SIGTERM (:meth:`LabCluster.stop_pod`: stop accepting, finish what is
  in flight); a replacement's server starts when it is created; every change of the
  EndpointSlices reaches every node's data path and health servers at once, ``endpointDelay
  Seconds`` later, through :meth:`EndpointsController.set_cluster` (taints at once, as
  kube-proxy's ``/healthz`` reads the Node directly, KP §14.3). Without terminating-endpoint
  fallback the nodes' view leaves terminating endpoints out (kube-proxy before KEP-1669,
  KP §2.4), as the model does. What happens to traffic is not played: the load balancer's
  live health checks, kube-proxy's decisions on each node and the pods' sockets decide it.
* **Load**: ``rate`` new connections per second (default 200) from the Scenario's external
  clients in turn, for the timeline's duration, at most :data:`MAX_REQUESTS`; each request
  is counted in the 100 ms bucket in which it started as ok, refused (reset or an error
  status), timeout (a silent drop) or error.
* **Time scale**: every clock of the run (events, endpoint delay, preStop, grace, readiness,
  health checks) runs ``time_scale`` times as long as configured, so a 40 s failover takes
  2 s at 0.05; times are reported in scenario seconds, and a 100 ms bucket is
  ``0.1 / time_scale`` scenario seconds.

The **measured failure window** is the union of the failing requests' start times, gaps
under one bucket bridged, each stretch extended by one request interval. It is compared with
:func:`~srcip.model.timeline.scenario_timeline`'s prediction **at the probe phase the load
balancer really used** (read from its probe rounds; unknown for a load balancer that does
not report them, then only the bounds over every phase apply), allowing :attr:`tolerance`:
one bucket of scheduling and sampling slack.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from srcip.errors import UsageError
from srcip.lab.cluster import LabCluster
from srcip.lab.experiments import RequestResult, external_clients, request
from srcip.model.failover import FailoverPlan, PodLifecycle, plan_failover
from srcip.model.objects import TAINT_TO_BE_DELETED, Cluster, Pod, Service, Taint
from srcip.model.scenario import EventKind, Scenario, ScenarioEvent
from srcip.model.timeline import Timeline, scenario_timeline
from srcip.net.lbproxy import LoadBalancer

__all__ = [
    "BUCKET_SECONDS",
    "MAX_REQUESTS",
    "Bucket",
    "FailoverResult",
    "cluster_at",
    "failover",
    "failover_cluster",
]

Progress = Callable[[int, int], None]  # (done, total)
BUCKET_SECONDS = 0.1  # wall-clock width of a timeline bucket
MAX_REQUESTS = 20_000
MAX_IN_FLIGHT = 2_000
_LEAD_S = 0.05  # from the schedule's set-up to its time 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """The requests that started in one bucket, and the model's chance of failure there."""

    t: float  # scenario seconds from the start of the load
    ok: int = 0
    refused: int = 0
    timeout: int = 0
    error: int = 0
    predicted_failing: float = 0.0  # at the bucket's middle, at the measured probe phase

    @property
    def total(self) -> int:
        """Requests started in the bucket."""
        return self.ok + self.refused + self.timeout + self.error


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverResult:
    """The measured timeline next to the model's, in scenario seconds."""

    events: tuple[ScenarioEvent, ...]
    terminating_fallback: bool
    rate: float  # new connections per wall-clock second
    time_scale: float
    bucket_seconds: float  # scenario seconds per bucket
    duration: float
    probe_phase: float | None  # measured; None: the load balancer did not report its probes
    timeline: tuple[Bucket, ...]
    predicted: Timeline
    measured_window: float
    first_failure: float | None
    last_failure: float | None
    tolerance: float
    notes: tuple[str, ...] = ()

    @property
    def predicted_window(self) -> float:
        """The model's failure window at the measured probe phase (else at phase 0)."""
        return self.predicted.failure_window

    @property
    def requests(self) -> int:
        """Requests sent."""
        return sum(b.total for b in self.timeline)

    @property
    def failed(self) -> int:
        """Requests refused, timed out or broken."""
        return sum(b.total - b.ok for b in self.timeline)

    @property
    def within_bounds(self) -> bool:
        """The measured window lies within the model's bounds over every phase (± tolerance)."""
        low, high = self.predicted.failure_window_bounds
        return low - self.tolerance <= self.measured_window <= high + self.tolerance

    @property
    def matches_prediction(self) -> bool | None:
        """The measured window is the predicted one at the measured phase (± tolerance);
        None when the phase is unknown."""
        if self.probe_phase is None:
            return None
        return abs(self.measured_window - self.predicted_window) <= self.tolerance

    @property
    def ok(self) -> bool:
        """What was measured is what the model allows: a window within its bounds.

        ``matches_prediction`` (the window at the measured phase) is reported beside it but
        does not decide: on a busy machine the LB's probes slip by a scheduling quantum,
        which a scaled-down clock turns into whole scenario seconds.
        """
        return self.within_bounds


def failover_cluster(
    cluster: Cluster, events: tuple[ScenarioEvent, ...], *, fallback: bool
) -> Cluster:
    """``cluster`` whose Scenario's ``spec.failover`` lists exactly ``events`` and ``fallback``."""
    scenario = cluster.scenario or Scenario(name="default")
    spec = replace(scenario.failover, events=events, terminating_fallback=fallback)
    return replace(cluster, scenario=replace(scenario, failover=spec))


def _events(
    lab: LabCluster, extra: tuple[ScenarioEvent, ...], fallback: bool
) -> tuple[ScenarioEvent, ...]:
    """The Scenario's events and ``extra``; none: delete the first pod at a third of the run."""
    every = (*lab.scenario.failover.events, *extra)
    if every:
        return every
    pods = plan_failover(lab.cluster, lab.entry, ()).pods
    if not pods:
        raise UsageError(f"{lab.entry.key} has no pod to delete. Fix: give --event")
    probe = ScenarioEvent(at_seconds=0.0, kind=EventKind.DELETE_POD, target=f"pod/{pods[0].name}")
    if lab.scenario.failover.duration_seconds is not None:
        at = lab.scenario.failover.duration_seconds / 3
    else:  # the run lasts until every effect has settled: event at e, run e + (that at 0)
        settled = scenario_timeline(
            failover_cluster(lab.cluster, (probe,), fallback=fallback), service=lab.entry.key
        )
        at = settled.duration / 2
    return (replace(probe, at_seconds=round(at, 3)),)


# --------------------------------------------------------------------------- the clocks


def _is_mine(item: object, service: Service) -> bool:
    namespace, name = getattr(item, "namespace", None), getattr(item, "service_name", None)
    return namespace == service.namespace and name == service.name


def _new_pod(base: Cluster, plan: FailoverPlan, life: PodLifecycle, service: Service) -> Pod:
    """A Pod object for a pod the plan creates (with the labels of its workload's others)."""
    siblings = {p.name for p in plan.pods if p.workload == life.workload and p.created is None}
    labels = next((p.labels for p in base.pods if p.name in siblings), ())
    return Pod(
        namespace=service.namespace, name=life.name, node_name=life.template.node_name,
        ips=(life.template.address,), labels=labels, phase="Running", ready=True,
    )  # fmt: skip


def cluster_at(
    base: Cluster,
    plan: FailoverPlan,
    service: Service,
    t: Fraction,
    *,
    delay: Fraction,
    fallback: bool,
) -> Cluster:
    """The cluster as every kube-proxy sees it at ``t``: the Service's EndpointSlices as the
    API had them ``delay`` earlier (terminating ones left out without ``fallback``), Node
    taints at once (the model's view, :mod:`srcip.model.failoverpath`)."""
    slices = plan.endpoints_at(t - delay)
    mine = {s.name: s for s in base.endpoint_slices if _is_mine(s, service)}
    fresh = tuple(
        replace(mine[name], endpoints=tuple(e for e in eps if fallback or not e.terminating))
        for name, eps in slices.items()
        if name in mine
    )
    others = tuple(s for s in base.endpoint_slices if not _is_mine(s, service))
    taint = Taint(key=TAINT_TO_BE_DELETED, effect="NoSchedule")
    nodes = tuple(
        replace(n, taints=(*n.taints, taint), unschedulable=True)
        if plan.is_tainted(n.name, t)
        else n
        for n in base.nodes
    )
    gone = {p.name for p in plan.pods if p.gone is not None and p.gone <= t - delay}
    created = tuple(
        _new_pod(base, plan, p, service)
        for p in plan.pods
        if p.created is not None and p.exists(t - delay)
    )
    pods = tuple(p for p in base.pods if p.name not in gone) + created
    return replace(base, endpoint_slices=others + fresh, nodes=nodes, pods=pods)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    at: Fraction  # scenario seconds
    order: int  # at one moment: apps start, then stop, then kube-proxy's view changes
    kind: str
    pod: PodLifecycle | None = None


def _steps(plan: FailoverPlan, *, delay: Fraction, duration: Fraction) -> list[_Step]:
    steps = [_Step(at=Fraction(0), order=2, kind="view")]
    steps += [_Step(at=t + delay, order=2, kind="view") for t in plan.endpoint_times]
    steps += [_Step(at=t, order=2, kind="view") for _, t in plan.tainted]
    for pod in plan.pods:
        if pod.created is not None:
            steps.append(_Step(at=pod.created, order=0, kind="start", pod=pod))
        if pod.gone is not None:
            steps.append(_Step(at=pod.gone, order=1, kind="stop", pod=pod))
    unique = {(s.at, s.order, s.kind, s.pod.name if s.pod else ""): s for s in steps}
    return sorted((s for s in unique.values() if s.at < duration), key=lambda s: (s.at, s.order))


async def _follow(
    lab: LabCluster,
    plan: FailoverPlan,
    steps: list[_Step],
    *,
    delay: Fraction,
    fallback: bool,
    start: float,
    group: asyncio.TaskGroup,
) -> None:
    """Play ``steps`` on the lab's clock: apps start and stop, the nodes' view changes."""
    loop = asyncio.get_running_loop()
    base = lab.cluster
    ports = {
        s.name: sorted({p.port for p in s.ports if p.port})
        for s in base.endpoint_slices
        if _is_mine(s, lab.entry)
    }
    for step in steps:
        wait = start + float(step.at) * lab.time_scale - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if step.kind == "view":
            view = cluster_at(base, plan, lab.entry, step.at, delay=delay, fallback=fallback)
            lab.controller.set_cluster(view)
        elif step.kind == "start" and step.pod is not None:
            pod = _new_pod(base, plan, step.pod, lab.entry)
            await lab.start_pod(pod, ports.get(step.pod.slice_name, []))
        elif step.pod is not None:
            group.create_task(lab.stop_pod(step.pod.name))  # drains while the clock runs on


# --------------------------------------------------------------------------- the load


async def _load(
    lab: LabCluster,
    *,
    count: int,
    rate: float,
    timeout: float,
    start: float,
    records: list[tuple[float, RequestResult]],
    progress: Progress | None,
) -> None:
    """``count`` requests, one every ``1 / rate`` s from ``start``; each recorded by the time
    it really started (wall seconds after ``start``)."""
    loop = asyncio.get_running_loop()
    clients, _ = external_clients(lab)
    target = lab.entry_address
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one(number: int) -> None:
        async with gate:
            began = loop.time() - start
            reply = await request(lab, clients[number % len(clients)], target, timeout=timeout)
        records.append((began, reply.result))
        if progress is not None:
            progress(len(records), count)

    async with asyncio.TaskGroup() as group:
        for number in range(count):
            wait = start + number / rate - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            group.create_task(one(number))


# --------------------------------------------------------------------------- the experiment


async def failover(
    lab: LabCluster,
    *,
    events: tuple[ScenarioEvent, ...] = (),
    rate: float = 200.0,
    timeout: float = 3.0,
    fallback: bool | None = None,
    progress: Progress | None = None,
) -> FailoverResult:
    """Steady load through the load balancer while the failover events happen; see the
    module docstring. ``fallback`` None: the Scenario's ``terminatingFallback``."""
    if lab.load_balancer is None:
        raise UsageError(
            f"failover follows a load balancer's health checks, but {lab.entry.key} is not a "
            "LoadBalancer Service. Fix: run it on a Service of type LoadBalancer"
        )
    if not 1 <= rate <= 2000:
        raise UsageError(f"failover rate {rate:g}/s: give 1 to 2000 requests per second")
    fallback = lab.scenario.failover.terminating_fallback if fallback is None else fallback
    every = _events(lab, events, fallback)
    cluster = failover_cluster(lab.cluster, every, fallback=fallback)
    first = scenario_timeline(cluster, service=lab.entry.key)
    plan = plan_failover(cluster, lab.entry, every)
    delay = Fraction(repr(lab.scenario.failover.endpoint_delay_seconds))
    duration = Fraction(repr(first.duration))
    scale = lab.time_scale
    count = max(1, min(MAX_REQUESTS, math.ceil(rate * first.duration * scale)))
    records: list[tuple[float, RequestResult]] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + _LEAD_S
    async with asyncio.TaskGroup() as group:
        steps = _steps(plan, delay=delay, duration=duration)
        group.create_task(
            _follow(lab, plan, steps, delay=delay, fallback=fallback, start=start, group=group)
        )
        group.create_task(
            _load(lab, count=count, rate=rate, timeout=timeout, start=start, records=records,
                  progress=progress)
        )  # fmt: skip
    interval = (
        lab.load_balancer_model.health_check.interval_seconds if lab.load_balancer_model else 0
    )
    phase = _phase(lab, start, interval)
    predicted = (
        first
        if phase is None
        else scenario_timeline(cluster, service=lab.entry.key, probe_phase=phase)
    )
    return _result(lab, every, fallback, rate, records, predicted, phase)


def _phase(lab: LabCluster, start: float, interval: float) -> float | None:
    """When, after the load began, the load balancer's first probe round went out."""
    balancer = lab.load_balancer
    if not isinstance(balancer, LoadBalancer) or interval <= 0:
        return None
    after = [r for r in balancer.rounds if r >= start]
    if not after:
        return None
    return round(((after[0] - start) / lab.time_scale) % interval, 4) % interval


def _result(
    lab: LabCluster,
    events: tuple[ScenarioEvent, ...],
    fallback: bool,
    rate: float,
    records: list[tuple[float, RequestResult]],
    predicted: Timeline,
    phase: float | None,
) -> FailoverResult:
    scale = lab.time_scale
    width = BUCKET_SECONDS / scale
    buckets = max(1, math.ceil(predicted.duration / width))
    counts = [dict.fromkeys(RequestResult, 0) for _ in range(buckets)]
    for began, result in records:
        counts[min(buckets - 1, max(0, int(began / BUCKET_SECONDS)))][result] += 1
    timeline = tuple(
        Bucket(
            t=round(i * width, 6), ok=c[RequestResult.OK], refused=c[RequestResult.REFUSED],
            timeout=c[RequestResult.TIMEOUT], error=c[RequestResult.ERROR],
            predicted_failing=_failing_at(predicted, (i + 0.5) * width),
        )
        for i, c in enumerate(counts)
    )  # fmt: skip
    failing = sorted(b for b, r in records if r is not RequestResult.OK)
    window = _window(failing, spacing=1 / rate) / scale
    notes = [] if phase is not None else [
        "the load balancer did not report its probe rounds: compared with the bounds only"
    ]  # fmt: skip
    if scale != 1.0:
        notes.append(f"every clock ran at {scale:g}x: times are scenario seconds")
    return FailoverResult(
        events=events, terminating_fallback=fallback, rate=rate, time_scale=scale,
        bucket_seconds=width, duration=predicted.duration, probe_phase=phase,
        timeline=timeline, predicted=predicted, measured_window=round(window, 4),
        first_failure=round(failing[0] / scale, 4) if failing else None,
        last_failure=round(failing[-1] / scale, 4) if failing else None,
        tolerance=width, notes=(*predicted.notes, *notes),
    )  # fmt: skip


def _window(failing: list[float], *, spacing: float) -> float:
    """Wall seconds covered by failures: stretches with gaps under a bucket bridged, each
    extended by one request interval."""
    stretches: list[list[float]] = []
    for at in failing:
        if stretches and at - stretches[-1][1] < BUCKET_SECONDS:
            stretches[-1][1] = at
        else:
            stretches.append([at, at])
    return sum(last - first + spacing for first, last in stretches)


def _failing_at(predicted: Timeline, t: float) -> float:
    for window in predicted.windows:
        if window.start <= t < window.end:
            return float(window.failing)
    return 0.0
