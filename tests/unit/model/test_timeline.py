"""The failover timeline: pod lifecycles, kube-proxy's view, the load balancer's probes.

The central cases are the seeds' ``test-failover.sh`` (a Local Service with one pod per node,
a pod deleted, HC every 10 s with threshold 2, grace 30 s) and ecosystem.md §6 #21: errors
during rollouts under Local until ProxyTerminatingEndpoints and a preStop sleep longer than
the health-check detection time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from ipaddress import ip_address

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from srcip.errors import UsageError
from srcip.model.failover import plan_failover, seconds
from srcip.model.loadbalancer import EffectiveHealthCheck, EffectiveLoadBalancer
from srcip.model.objects import Cluster, Endpoint, Pod
from srcip.model.scenario import (
    Announcement,
    ClientSpec,
    EventKind,
    FailoverSpec,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    ProxyProtocolVersion,
    Scenario,
    ScenarioEvent,
    TargetType,
    Weighting,
)
from srcip.model.timeline import Outcome, Timeline, Window, parse_event, timeline
from srcip.model.workloads import (
    LabelSelector,
    PodTemplate,
    ReadinessProbe,
    Workload,
    WorkloadKind,
)
from tests import factories as f

SERVICE = "ns1/web"
SLOW = ReadinessProbe(initial_delay_seconds=60, period_seconds=10)  # replacement ready at +60 s
SERVED, TERMINATING = Outcome.SERVED, Outcome.SERVED_TERMINATING
REFUSED, DROPPED = Outcome.REFUSED, Outcome.DROPPED


def make_cluster(
    *,
    policy: str = "Local",
    per_node: tuple[int, ...] = (1, 1, 1),
    pre_stop: float = 0.0,
    grace: float = 30.0,
    readiness: ReadinessProbe | None = SLOW,
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT,
    workload: bool = True,
    pod_cidrs: bool = True,
) -> Cluster:
    """Nodes node-1.. with ``per_node`` pods web-0.. each, the LoadBalancer Service ns1/web."""
    nodes, pods, endpoints = [], [], []
    for i, count in enumerate(per_node):
        name = f"node-{i + 1}"
        cidr = f"10.244.{i + 1}.0/24" if pod_cidrs else None
        nodes.append(f.node(name, f"192.0.2.{11 + i}", pod_cidr=cidr))
        for j in range(count):
            address, pod = ip_address(f"10.244.{i + 1}.{10 + j}"), f"web-{len(pods)}"
            pods.append(
                Pod(
                    namespace="ns1",
                    name=pod,
                    node_name=name,
                    ips=(address,),
                    labels=(("app", "web"),),
                )
            )
            endpoints.append(Endpoint(address=address, node_name=name, target=pod))
    svc = f.service(
        "web",
        type="LoadBalancer",
        cluster_ip="10.96.0.10",
        ports=(f.port(80, node_port=30080),),
        etp=policy,
        lb_ips=("198.51.100.10",),
        hc_node_port=32000 if policy == "Local" else 0,
    )
    template = PodTemplate(
        labels=(("app", "web"),),
        termination_grace_period_seconds=grace,
        pre_stop_sleep_seconds=pre_stop,
        readiness=readiness,
    )
    web = Workload(
        kind=kind,
        namespace="ns1",
        name="web",
        replicas=len(pods),
        selector=LabelSelector(match_labels=(("app", "web"),)),
        template=template,
    )
    base = f.cluster(
        services=(svc,),
        slices=(f.endpoint_slice("web", tuple(endpoints)),),
        nodes=tuple(nodes),
        config=f.proxy_config(cluster_cidr="10.244.0.0/16"),
    )
    return replace(base, pods=tuple(pods), workloads=(web,) if workload else ())


def make_lb(
    *,
    target: HealthCheckTarget = HealthCheckTarget.HEALTH_CHECK_NODE_PORT,
    port: int = 32000,
    interval: float = 10.0,
    healthy: int = 2,
    unhealthy: int = 2,
    targets: TargetType = TargetType.NODE_PORT,
    weighting: Weighting = Weighting.EQUAL,
    mode: LoadBalancerMode = LoadBalancerMode.PASSTHROUGH,
    announcement: Announcement = Announcement.ALL,
) -> EffectiveLoadBalancer:
    """A resolved load balancer; defaults: passthrough to NodePorts, HC node port 10 s × 2."""
    return EffectiveLoadBalancer(
        provider=None,
        mode=mode,
        proxy_protocol=ProxyProtocolVersion.OFF,
        weighting=weighting,
        targets=targets,
        preserve_client_ip=True,
        cross_zone=True,
        announcement=announcement,
        address=ip_address("198.51.100.2"),
        forwarded_for=ForwardedFor.APPEND,
        health_check=EffectiveHealthCheck(
            protocol=HealthCheckProtocol.HTTP,
            target=target,
            port=port,
            path="/healthz",
            interval_seconds=interval,
            timeout_seconds=5,
            healthy_threshold=healthy,
            unhealthy_threshold=unhealthy,
        ),
    )


PROXY_HEALTHZ = {"target": HealthCheckTarget.PROXY_HEALTHZ, "port": 10256}


def run(
    cluster: Cluster,
    *events: str,
    lb: EffectiveLoadBalancer | None = None,
    phase: float = 0.0,
    **spec: object,
) -> Timeline:
    """The timeline of ns1/web for ``events`` written as on the command line."""
    failover = FailoverSpec(**spec)  # type: ignore[arg-type]
    parsed = tuple(parse_event(e) for e in events)
    return timeline(cluster, SERVICE, lb or make_lb(), failover, events=parsed, probe_phase=phase)


def at(tl: Timeline, t: float) -> Window:
    """The window holding time ``t``."""
    return next(w for w in tl.windows if w.start <= t < w.end)


def node_outcome(window: Window, node: str) -> dict[Outcome, Fraction]:
    """What a new connection arriving at ``node`` gets in ``window``."""
    return dict(next(n for n in window.nodes if n.node == node).outcome)


# --------------------------------------------------------------------------- parse_event


@pytest.mark.parametrize(
    ("text", "kind", "target", "at_seconds", "replicas"),
    [
        pytest.param(
            "delete pod/web-0 at 10s", EventKind.DELETE_POD, "pod/web-0", 10.0, None, id="delete"
        ),
        pytest.param(
            "drain node/node-2 at 5s", EventKind.DRAIN_NODE, "node/node-2", 5.0, None, id="drain"
        ),
        pytest.param(
            "unready pod/web-1 at 3.5s", EventKind.UNREADY, "pod/web-1", 3.5, None, id="unready"
        ),
        pytest.param(
            "ready pod/web-1 at 20s", EventKind.READY, "pod/web-1", 20.0, None, id="ready"
        ),
        pytest.param(
            "scale deployment/web to 3 at 12s",
            EventKind.SCALE,
            "deployment/web",
            12.0,
            3,
            id="scale",
        ),
        pytest.param(
            "scale statefulset/db to 0 at 1s",
            EventKind.SCALE,
            "statefulset/db",
            1.0,
            0,
            id="scale-to-0",
        ),
        pytest.param(
            "delete pod/web-0 at 1500ms",
            EventKind.DELETE_POD,
            "pod/web-0",
            1.5,
            None,
            id="milliseconds",
        ),
        pytest.param(
            "  Delete Pod/web-0  AT  .5S ",
            EventKind.DELETE_POD,
            "pod/web-0",
            0.5,
            None,
            id="case-and-spaces",
        ),
    ],
)
def test_parse_event(
    text: str, kind: EventKind, target: str, at_seconds: float, replicas: int | None
) -> None:
    """Each verb's command-line form becomes the matching ScenarioEvent."""
    assert parse_event(text) == ScenarioEvent(
        at_seconds=at_seconds, kind=kind, target=target, replicas=replicas
    )


@pytest.mark.parametrize(
    ("text", "problem", "example"),
    [
        pytest.param("delete web-0", "expected '<action>", "delete pod/web-0 at 10s", id="shape"),
        pytest.param(
            "kill pod/web-0 at 1s", "unknown action 'kill'", "drain node/node-2", id="verb"
        ),
        pytest.param(
            "delete node/n1 at 1s",
            "delete applies to pod, not 'node'",
            "delete pod/web-0 at 10s",
            id="kind",
        ),
        pytest.param(
            "drain pod/web-0 at 1s",
            "drain applies to node",
            "drain node/node-2 at 5s",
            id="drain-pod",
        ),
        pytest.param(
            "scale pod/web to 3 at 1s",
            "deployment or replicaset or statefulset",
            "scale deployment/web to 3 at 12s",
            id="scale-pod",
        ),
        pytest.param(
            "delete pod/Web_0 at 1s",
            "'Web_0' is not a Kubernetes object name",
            "delete pod/web-0",
            id="name",
        ),
        pytest.param(
            "delete pod/web-0 to 3 at 1s",
            "'to 3' only goes with scale",
            "delete pod/web-0",
            id="to-on-delete",
        ),
        pytest.param(
            "scale deployment/web at 1s",
            "scale needs 'to <replicas>'",
            "scale deployment/web to 3",
            id="no-replicas",
        ),
        pytest.param(
            "scale deployment/web to -1 at 1s",
            "replicas '-1' is not a whole number",
            "to 3 at 12s",
            id="negative",
        ),
        pytest.param(
            "scale deployment/web to two at 1s", "replicas 'two'", "to 3 at 12s", id="words"
        ),
        pytest.param(
            "delete pod/web-0 at 10",
            "time '10' is not a number of seconds with a unit",
            "at 10s",
            id="no-unit",
        ),
        pytest.param("delete pod/web-0 at 1m", "time '1m'", "at 10s", id="minutes"),
    ],
)
def test_parse_event_errors(text: str, problem: str, example: str) -> None:
    """A malformed event fails with the text, what is wrong and an example of the right form."""
    with pytest.raises(UsageError) as caught:
        parse_event(text)
    message = str(caught.value)
    assert repr(text) in message
    assert problem in message
    assert example in message


# --------------------------------------------------------------------------- the seeds' case


def test_local_delete_without_fallback_fails_until_the_lb_notices() -> None:
    """Seeds' failover test: Local, one pod per node; without fallback node-1 drops traffic."""
    tl = run(make_cluster(pre_stop=25), "delete pod/web-0 at 10s", terminating_fallback=False)
    # kube-proxy sees the terminating endpoint at 11 s and drops (KP §4.3) until the LB's
    # second failing probe at 30 s removes node-1 (probes at 0, 10, 20, 30 s).
    assert tl.failure_window == 19.0
    gap = at(tl, 15)
    assert gap.probability(DROPPED) == Fraction(1, 3)
    assert node_outcome(gap, "node-1") == {DROPPED: 1}
    assert at(tl, 30).lb_nodes == ("node-2", "node-3")
    assert tl.failure_window_without_fallback == tl.failure_window
    assert tl.failure_window_bounds == (10.0, 20.0)


def test_local_delete_with_fallback_and_long_prestop_never_fails() -> None:
    """§6 #21's fix: fallback plus preStop > interval × threshold + delay: no failure at all."""
    detection = 10 * 2 + 1.0
    tl = run(make_cluster(pre_stop=detection + 1), "delete pod/web-0 at 10s")
    assert tl.failure_window == 0.0
    assert tl.failure_window_bounds == (0.0, 0.0)
    assert tl.failure_window_without_fallback > 0
    assert node_outcome(at(tl, 15), "node-1") == {TERMINATING: 1}
    assert at(tl, 15).probability(TERMINATING) == Fraction(1, 3)
    assert at(tl, 31).lb_nodes == ("node-2", "node-3")
    # The replacement web-3 on node-1 is ready at 70 s, seen at 71 s; probes pass at 80, 90 s.
    assert at(tl, 89).lb_nodes == ("node-2", "node-3")
    assert at(tl, 90).lb_nodes == ("node-1", "node-2", "node-3")
    assert at(tl, 90).outcome == ((SERVED, Fraction(1)),)


def test_local_delete_with_fallback_but_short_prestop_is_refused_then_dropped() -> None:
    """preStop shorter than detection: refused while kube-proxy lags, dropped after."""
    tl = run(make_cluster(pre_stop=5), "delete pod/web-0 at 10s")
    assert node_outcome(at(tl, 12), "node-1") == {TERMINATING: 1}
    assert node_outcome(at(tl, 15.5), "node-1") == {REFUSED: 1}  # app exited at 15, seen at 16
    assert node_outcome(at(tl, 17), "node-1") == {DROPPED: 1}
    assert tl.failure_window == 15.0  # 15 s → 30 s


def test_prestop_is_cut_at_the_grace_period() -> None:
    """The kubelet kills at the end of the grace period, preStop or not."""
    tl = run(make_cluster(pre_stop=100, grace=12), "delete pod/web-0 at 10s")
    assert node_outcome(at(tl, 21.5), "node-1") == {TERMINATING: 1}
    assert node_outcome(at(tl, 22.5), "node-1") == {REFUSED: 1}
    assert node_outcome(at(tl, 23.5), "node-1") == {DROPPED: 1}


def test_bounds_cover_every_probe_phase() -> None:
    """The exact bounds contain the failure window at every phase and are approached."""
    cluster = make_cluster()
    tl = run(cluster, "delete pod/web-0 at 10s")
    low, high = tl.failure_window_bounds
    samples = [
        run(cluster, "delete pod/web-0 at 10s", phase=p / 8).failure_window for p in range(80)
    ]
    assert all(low <= s <= high for s in samples)
    assert min(samples) == low  # phase 1 s: a probe lands exactly when kube-proxy catches up
    assert high - max(samples) <= 1 / 8 + 1e-9  # the sup is a limit (phase → 1 s from below)
    assert (low, high) == (11.0, 21.0)


def test_phase_moves_detection() -> None:
    """A probe just after kube-proxy's update detects a round sooner."""
    cluster = make_cluster()
    early = run(cluster, "delete pod/web-0 at 10s", phase=1.0)
    late = run(cluster, "delete pod/web-0 at 10s", phase=0.5)
    assert early.failure_window == 11.0
    assert late.failure_window == 20.5
    assert early.probe_phase == 1.0


# --------------------------------------------------------------------------- Cluster policy


def test_cluster_policy_reroutes_without_drops() -> None:
    """Cluster: every node stays in the LB and reroutes; only kube-proxy's lag is refused."""
    tl = run(make_cluster(policy="Cluster"), "delete pod/web-0 at 10s", lb=make_lb(**PROXY_HEALTHZ))
    assert all(w.lb_nodes == ("node-1", "node-2", "node-3") for w in tl.windows)
    assert all(w.probability(DROPPED) == 0 for w in tl.windows)
    assert at(tl, 10.5).probability(REFUSED) == Fraction(1, 3)  # web-0 exited, still in rules
    assert at(tl, 11).outcome == ((SERVED, Fraction(1)),)
    assert tl.failure_window == 1.0
    assert tl.failure_window_bounds == (1.0, 1.0)


def test_cluster_policy_with_prestop_has_no_failure() -> None:
    """Cluster: a preStop longer than the endpoint delay hides the deletion entirely."""
    tl = run(
        make_cluster(policy="Cluster", pre_stop=2),
        "delete pod/web-0 at 10s",
        lb=make_lb(**PROXY_HEALTHZ),
    )
    assert tl.failure_window == 0.0
    assert tl.failure_window_without_fallback == 0.0


def test_cluster_policy_last_pod_terminating_needs_the_fallback() -> None:
    """With no ready pod anywhere the cluster set falls back to terminating ones (KP §2.3)."""
    cluster = make_cluster(policy="Cluster", per_node=(1,), pre_stop=30, grace=60)
    lb = make_lb(**PROXY_HEALTHZ)
    tl = run(cluster, "delete pod/web-0 at 10s", lb=lb)
    assert at(tl, 20).outcome == ((TERMINATING, Fraction(1)),)
    off = run(cluster, "delete pod/web-0 at 10s", lb=lb, terminating_fallback=False)
    assert at(off, 20).outcome == ((REFUSED, Fraction(1)),)  # no usable endpoint: REJECT
    assert off.failure_window == off.failure_window_without_fallback


def test_traffic_port_probe_follows_the_route() -> None:
    """A TCP probe of the NodePort fails on an exited app, then on a Local node that drops."""
    lb = make_lb(target=HealthCheckTarget.TRAFFIC_PORT, port=30080)
    tl = run(make_cluster(), "delete pod/web-0 at 10s", lb=lb)
    # The probe at 10 s is refused by the exited app, the one at 20 s dropped: removed at 20 s
    # (the healthCheckNodePort still answered 200 at 10 s: kube-proxy had not caught up).
    assert at(tl, 19).lb_nodes == ("node-1", "node-2", "node-3")
    assert at(tl, 20).lb_nodes == ("node-2", "node-3")
    assert tl.failure_window == 10.0


def test_vip_targets_route_to_the_load_balancer_ip() -> None:
    """VIP targets send to the LB IP on each node; the outcome is the same as via NodePort."""
    lb = make_lb(targets=TargetType.VIP, target=HealthCheckTarget.TRAFFIC_PORT, port=80)
    tl = run(make_cluster(), "delete pod/web-0 at 10s", lb=lb)
    assert at(tl, 10.5).probability(REFUSED) == Fraction(1, 3)
    assert tl.failure_window == 10.0


# --------------------------------------------------------------------------- drain


def test_drain_fails_proxy_healthz_and_moves_pods() -> None:
    """Drain: /healthz answers 503 from the taint (KEP-3836); pods move to other nodes."""
    cluster = make_cluster(policy="Cluster", pre_stop=5, readiness=None)
    tl = run(cluster, "drain node/node-2 at 5s", lb=make_lb(**PROXY_HEALTHZ))
    assert at(tl, 20).lb_nodes == ("node-1", "node-3")  # 503 at the probes at 10 and 20 s
    assert at(tl, 19).lb_nodes == ("node-1", "node-2", "node-3")
    assert all(w.probability(DROPPED) == 0 for w in tl.windows)
    assert tl.failure_window == 0.0
    assert any("ToBeDeletedByClusterAutoscaler" in n for n in tl.notes)
    assert any("web-3 of ns1/web created on node-1" in n for n in tl.notes)


def test_drain_twice_and_replacements_avoid_cordoned_nodes() -> None:
    """A second drain changes nothing; replacements go to the least loaded schedulable node."""
    cluster = make_cluster(policy="Cluster", per_node=(2, 1, 0), readiness=None)
    plan = plan_failover(
        cluster,
        cluster.services[0],
        (
            parse_event("drain node/node-1 at 1s"),
            parse_event("drain node/node-1 at 2s"),
            parse_event("delete pod/web-2 at 3s"),
        ),
    )
    created = {p.name: p.template.node_name for p in plan.pods if p.created is not None}
    # web-3, web-4: fewest of the workload first (node order breaks ties); web-5: the node
    # that lost web-2.
    assert created == {"web-3": "node-3", "web-4": "node-2", "web-5": "node-2"}
    assert plan.tainted == (("node-1", Fraction(1)),)


def test_drain_with_no_schedulable_node_leaves_pods_pending() -> None:
    """With every node cordoned the replacement cannot be scheduled."""
    cluster = make_cluster(per_node=(1,))
    tl = run(cluster, "drain node/node-1 at 1s")
    assert any("no schedulable node" in n for n in tl.notes)
    assert at(tl, 5).outcome == ((REFUSED, Fraction(1)),)  # nothing usable anywhere: REJECT
    assert any("fails open" in n for n in tl.notes)


# --------------------------------------------------------------------------- readiness, scale


def test_unready_then_ready_under_local() -> None:
    """A pod failing readiness leaves its node dropping until the LB notices, then returns."""
    cluster = make_cluster(readiness=ReadinessProbe(period_seconds=1, failure_threshold=3))
    tl = run(cluster, "unready pod/web-1 at 3.5s", "ready pod/web-1 at 40s")
    assert node_outcome(at(tl, 7), "node-2") == {SERVED: 1}  # NotReady at 6.5, seen at 7.5
    assert node_outcome(at(tl, 8), "node-2") == {DROPPED: 1}
    assert at(tl, 21).lb_nodes == ("node-1", "node-3")
    assert at(tl, 61).lb_nodes == ("node-1", "node-2", "node-3")
    assert tl.failure_window == 12.5  # 7.5 → 20


def test_unready_without_probe_is_immediate() -> None:
    """Without a readiness probe the Ready flip happens at the event time."""
    tl = run(make_cluster(readiness=None), "unready pod/web-1 at 3.5s")
    assert node_outcome(at(tl, 4.6), "node-2") == {DROPPED: 1}


def test_scale_down_and_up() -> None:
    """Scaling down removes unready pods first, then the newest; scaling up adds pods."""
    cluster = make_cluster(per_node=(1, 1, 1), readiness=None)
    events = (
        parse_event("unready pod/web-0 at 1s"),
        parse_event("scale deployment/web to 2 at 2s"),
        parse_event("scale deployment/web to 1 at 3s"),
        parse_event("scale deployment/web to 3 at 4s"),
    )
    plan = plan_failover(cluster, cluster.services[0], events)
    deleted = [(p.name, p.deleted) for p in plan.pods if p.deleted is not None]
    assert deleted == [("web-0", Fraction(2)), ("web-2", Fraction(3))]
    created = {p.name: p.template.node_name for p in plan.pods if p.created is not None}
    assert created == {"web-3": "node-1", "web-4": "node-3"}


def test_cordoned_nodes_get_no_new_pods() -> None:
    """A node with spec.unschedulable keeps its pods but gets no new ones."""
    cluster = make_cluster(per_node=(1, 1, 1), readiness=None)
    cordoned = replace(cluster.nodes[2], unschedulable=True)
    cluster = replace(cluster, nodes=(*cluster.nodes[:2], cordoned))
    events = (parse_event("scale deployment/web to 5 at 1s"), parse_event("delete pod/web-2 at 2s"))
    plan = plan_failover(cluster, cluster.services[0], events)
    created = {p.name: p.template.node_name for p in plan.pods if p.created is not None}
    assert created == {"web-3": "node-1", "web-4": "node-2", "web-5": "node-1"}


def test_statefulset_replacement_waits_for_the_old_pod() -> None:
    """A StatefulSet recreates the same name once the old pod is gone."""
    cluster = make_cluster(kind=WorkloadKind.STATEFUL_SET, pre_stop=5, readiness=None)
    plan = plan_failover(cluster, cluster.services[0], (parse_event("delete pod/web-1 at 2s"),))
    again = [p for p in plan.pods if p.name == "web-1"]
    assert [(p.created, p.gone) for p in again] == [(None, Fraction(7)), (Fraction(7), None)]
    assert again[1].template.node_name == "node-2"
    assert again[1].template.address == ip_address("10.244.2.2")  # first free in the pod CIDR
    scaled = plan_failover(
        cluster, cluster.services[0], (parse_event("scale statefulset/web to 4 at 1s"),)
    )
    assert scaled.pods[-1].name == "web-3"


def test_readiness_probe_timing_of_replacements() -> None:
    """A replacement is ready at the first period tick ≥ initialDelay, plus successThreshold."""
    probes = {
        ReadinessProbe(initial_delay_seconds=5, period_seconds=10, success_threshold=2): 30,
        ReadinessProbe(initial_delay_seconds=4, period_seconds=0): 14,
        ReadinessProbe(initial_delay_seconds=20, period_seconds=10): 30,
    }
    for probe, ready_at in probes.items():
        cluster = make_cluster(readiness=probe)
        plan = plan_failover(
            cluster, cluster.services[0], (parse_event("delete pod/web-0 at 10s"),)
        )
        assert plan.pods[-1].readiness == ((Fraction(ready_at), True),)


def test_delete_twice_and_pods_without_a_workload() -> None:
    """Deleting a terminating pod changes nothing; a bare pod is not replaced."""
    cluster = make_cluster(workload=False, pre_stop=0)
    events = ("delete pod/web-0 at 1s", "delete pod/web-1 at 2s")
    tl = run(cluster, *events)
    assert any("without a workload is not replaced" in n for n in tl.notes)
    sticky = make_cluster(pre_stop=10)
    again = run(sticky, "delete pod/web-0 at 1s", "delete pod/web-0 at 2s")
    assert any("already terminating" in n for n in again.notes)


def test_event_errors_name_what_is_missing() -> None:
    """Unknown pods, nodes and workloads, and negative times, are usage errors."""
    cluster = make_cluster()
    cases = {
        "no pod 'web-9' backs ns1/web at 1s (pods then: web-0, web-1, web-2)": (
            ScenarioEvent(at_seconds=1, kind=EventKind.DELETE_POD, target="pod/web-9"),
        ),
        "no node 'node-9'": (
            ScenarioEvent(at_seconds=1, kind=EventKind.DRAIN_NODE, target="node/node-9"),
        ),
        "no statefulset 'web' backs": (
            ScenarioEvent(at_seconds=1, kind=EventKind.SCALE, target="statefulset/web", replicas=1),
        ),
        "times start at 0s": (
            ScenarioEvent(at_seconds=-1, kind=EventKind.READY, target="pod/web-0"),
        ),
    }
    for problem, events in cases.items():
        with pytest.raises(UsageError, match=re.escape(problem)):
            plan_failover(cluster, cluster.services[0], events)


# --------------------------------------------------------------------------- inputs


def test_endpoints_without_pods_stay_as_they_are() -> None:
    """Endpoints matched by IP, without a pod, or already terminating are handled."""
    cluster = make_cluster(per_node=(1, 1), readiness=None, pod_cidrs=False)
    eps = cluster.endpoint_slices[0].endpoints
    extra = (
        Endpoint(address=ip_address("10.244.9.9"), node_name="node-2"),  # no pod behind it
        Endpoint(
            address=ip_address("10.244.9.8"), node_name="node-1", ready=False, terminating=True
        ),
    )
    untargeted = (replace(eps[0], target=None), eps[1], *extra)
    slices = (replace(cluster.endpoint_slices[0], endpoints=untargeted),)
    cluster = replace(cluster, endpoint_slices=slices)
    plan = plan_failover(cluster, cluster.services[0], (parse_event("delete pod/web-0 at 1s"),))
    assert [p.name for p in plan.pods] == ["web-0", "web-1", "web-2"]
    assert plan.pods[-1].template.address == ip_address("10.244.9.10")  # after the highest
    assert len(plan.static) == 2
    tl = run(cluster, "delete pod/web-1 at 1s", lb=make_lb(**PROXY_HEALTHZ))
    assert node_outcome(at(tl, 5), "node-2") == {SERVED: 1}  # the pod-less endpoint serves


def test_workload_found_by_name_prefix() -> None:
    """Without a selector a pod belongs to the workload whose name prefixes it (longest)."""
    cluster = make_cluster(readiness=None)
    loose = replace(cluster.workloads[0], selector=LabelSelector())
    other = replace(loose, name="we")
    cluster = replace(cluster, workloads=(other, loose))
    plan = plan_failover(cluster, cluster.services[0], (parse_event("delete pod/web-0 at 1s"),))
    assert plan.pods[-1].workload == "ns1/web"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"service": "ns1/nope"}, "no Service 'ns1/nope'", id="service"),
        pytest.param({"lb": make_lb(targets=TargetType.POD)}, "pod targets", id="pod-targets"),
        pytest.param(
            {"lb": make_lb(targets=TargetType.VIP), "no_vip": True},
            "no IPv4 load balancer IP",
            id="no-vip",
        ),
        pytest.param({"no_node_port": True}, "has no nodePort", id="no-node-port"),
        pytest.param({"no_node_ip": True}, "node node-1 has no IPv4 InternalIP", id="no-node-ip"),
        pytest.param({"lb": make_lb(interval=0)}, "interval 0s must be > 0", id="interval"),
        pytest.param({"phase": 10.0}, "probe phase 10s must be in [0, interval)", id="phase"),
        pytest.param({"spec": {"endpoint_delay_seconds": -1}}, "endpoint delay -1s", id="delay"),
        pytest.param({"lb": make_lb(healthy=0)}, "thresholds must be ≥ 1", id="threshold"),
        pytest.param(
            {"spec": {"duration_seconds": 0}}, "duration 0s: it must be > 0", id="duration"
        ),
        pytest.param({"no_slices": True}, "has no EndpointSlices", id="no-slices"),
    ],
)
def test_input_errors(change: dict[str, object], problem: str) -> None:
    """Inputs the timeline cannot use fail with what is wrong."""
    cluster = make_cluster()
    svc = cluster.services[0]
    if change.get("no_vip"):
        cluster = replace(cluster, services=(replace(svc, load_balancer_ingress=()),))
    if change.get("no_node_port"):
        cluster = replace(cluster, services=(replace(svc, ports=(f.port(80),)),))
    if change.get("no_node_ip"):
        cluster = replace(cluster, nodes=(f.node("node-1"), *cluster.nodes[1:]))
    if change.get("no_slices"):
        cluster = replace(cluster, endpoint_slices=())
    spec = FailoverSpec(**change.get("spec", {}))  # type: ignore[arg-type]
    lb = change.get("lb", make_lb())
    with pytest.raises(UsageError, match=re.escape(problem)):
        timeline(
            cluster,
            str(change.get("service", SERVICE)),
            lb,  # type: ignore[arg-type]
            spec,
            probe_phase=float(change.get("phase", 0.0)),  # type: ignore[arg-type]
        )


def test_client_and_lb_source() -> None:
    """Passthrough uses the Scenario's external client; snat uses the LB's own address."""
    cluster = make_cluster(policy="Cluster")
    scenario = Scenario(
        name="s",
        clients=(
            ClientSpec(name="pod", address=ip_address("10.244.1.99"), pod="ns1/x"),
            ClientSpec(name="c", address=ip_address("203.0.113.77")),
        ),
    )
    with_client = replace(cluster, scenario=scenario)
    lb = make_lb(**PROXY_HEALTHZ)
    assert run(with_client, lb=lb).failure_window == 0.0
    snat = make_lb(mode=LoadBalancerMode.SNAT, **PROXY_HEALTHZ)
    tl = run(cluster, "delete pod/web-0 at 1s", lb=snat)
    assert tl.failure_window == 1.0


def test_default_duration_and_explicit_duration() -> None:
    """Unset, the timeline runs until every effect settles plus a round; set, exactly that."""
    cluster = make_cluster(readiness=None)
    tl = run(cluster)
    assert (tl.duration, len(tl.windows)) == (30.0, 1)
    assert tl.windows[0].outcome == ((SERVED, Fraction(1)),)
    short = run(cluster, "delete pod/web-0 at 10s", duration_seconds=12.0)
    assert short.duration == 12.0
    assert short.windows[-1].end == 12.0


# --------------------------------------------------------------------------- load balancer split


def test_weighted_lb_follows_the_endpoint_weight_header() -> None:
    """Weighted by X-Load-Balancing-Endpoint-Weight: each node by its local ready pods."""
    cluster = make_cluster(per_node=(2, 1, 1))
    lb = make_lb(weighting=Weighting.ENDPOINTS)
    tl = run(cluster, "delete pod/web-0 at 10s", lb=lb)
    shares = {n.node: n.share for n in tl.windows[0].nodes}
    assert shares == {"node-1": Fraction(1, 2), "node-2": Fraction(1, 4), "node-3": Fraction(1, 4)}
    later = {n.node: n.share for n in at(tl, 25).nodes}  # the probe at 20 s reported 1 pod
    assert later["node-1"] == Fraction(1, 3)
    equal = run(cluster, lb=make_lb(weighting=Weighting.ENDPOINTS, **PROXY_HEALTHZ))
    assert {n.share for n in equal.windows[0].nodes} == {Fraction(1, 3)}  # no header: equal


def test_healthy_threshold_brings_a_node_back() -> None:
    """A node returns after healthy_threshold successes in a row."""
    cluster = make_cluster(readiness=ReadinessProbe(initial_delay_seconds=20, period_seconds=10))
    tl = run(cluster, "delete pod/web-0 at 5s", lb=make_lb(healthy=3))
    assert at(tl, 49).lb_nodes == ("node-2", "node-3")  # ready 25, seen 26: ok at 30, 40, 50
    assert at(tl, 50).lb_nodes == ("node-1", "node-2", "node-3")


def test_probe_at_zero_can_change_the_state() -> None:
    """A probe at 0 sees events at 0 with no delay; an L2 load balancer uses one node."""
    lb = make_lb(unhealthy=1, announcement=Announcement.L2)
    tl = run(make_cluster(), "delete pod/web-0 at 0s", lb=lb, endpoint_delay_seconds=0)
    assert tl.windows[0].lb_nodes == ("node-2",)
    assert tl.failure_window == 0.0


def test_no_probe_keeps_every_node() -> None:
    """A load balancer without health checks keeps sending to a node that drops."""
    lb = make_lb()
    lb = replace(lb, health_check=replace(lb.health_check, enabled=False))
    tl = run(make_cluster(), "delete pod/web-0 at 10s", lb=lb, duration_seconds=100.0)
    assert at(tl, 60).lb_nodes == ("node-1", "node-2", "node-3")
    assert at(tl, 60).probability(DROPPED) == Fraction(1, 3)
    assert tl.failure_window == 61.0  # 10 s → the replacement seen ready at 71 s


def test_provider_without_fail_open_sends_nowhere() -> None:
    """Azure does not fail open: with no healthy node every new connection times out."""
    lb = replace(make_lb(), provider="azure")
    tl = run(make_cluster(per_node=(1,)), "delete pod/web-0 at 1s", lb=lb)
    assert at(tl, 30).lb_nodes == ()
    assert at(tl, 30).outcome == ((DROPPED, Fraction(1)),)


def test_window_json() -> None:
    """A window's JSON has start, end, lb_nodes and the outcome, also as exact fractions."""
    tl = run(make_cluster(), "delete pod/web-0 at 10s")
    data = at(tl, 15).to_json()
    assert data["start"] == 11.0
    assert data["lb_nodes"] == ["node-1", "node-2", "node-3"]
    assert data["outcome_exact"] == {"served": "2/3", "dropped": "1/3"}
    assert data["outcome"] == {"served": 2 / 3, "dropped": 1 / 3}
    assert at(tl, 15).failing == Fraction(1, 3)


def test_seconds_is_exact() -> None:
    """Float times become the exact decimals they were written as."""
    assert seconds(0.1) == Fraction(1, 10)


# --------------------------------------------------------------------------- properties

_EVENT = st.tuples(
    st.sampled_from(["delete", "unready", "ready"]),
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=0, max_value=400).map(lambda n: n / 10),
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(_EVENT, max_size=3),
    policy=st.sampled_from(["Local", "Cluster"]),
    pre_stop=st.sampled_from([0.0, 3.0, 25.0]),
    delay=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    phase=st.integers(min_value=0, max_value=9),
    fallback=st.booleans(),
)
def test_windows_tile_the_duration(
    events: list[tuple[str, int, float]],
    policy: str,
    pre_stop: float,
    delay: float,
    phase: int,
    fallback: bool,
) -> None:
    """Windows tile [0, duration] without gaps or overlaps; every distribution sums to 1."""
    cluster = make_cluster(policy=policy, pre_stop=pre_stop, readiness=None)
    lb = make_lb() if policy == "Local" else make_lb(**PROXY_HEALTHZ)
    texts = [f"{verb} pod/web-{pod} at {t}s" for verb, pod, t in events]
    try:
        tl = run(
            cluster,
            *texts,
            lb=lb,
            phase=phase,
            endpoint_delay_seconds=delay,
            terminating_fallback=fallback,
        )
    except UsageError as error:  # an event on a pod that is gone by then
        assume("no pod" not in str(error))
        raise
    assert tl.windows[0].start == 0.0
    assert tl.windows[-1].end == tl.duration
    for before, after in zip(tl.windows, tl.windows[1:], strict=False):
        assert before.end == after.start
        assert before.start < before.end
    for w in tl.windows:
        assert sum(p for _, p in w.outcome) == 1
        assert sum(n.share for n in w.nodes) == 1
        assert all(sum(p for _, p in n.outcome) == 1 for n in w.nodes)
    low, high = tl.failure_window_bounds
    assert low - 1e-9 <= tl.failure_window <= high + 1e-9
    if not fallback:
        assert tl.failure_window_without_fallback == tl.failure_window
