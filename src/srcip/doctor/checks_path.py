"""Checks on the path from the load balancer to the pod (the seeds' checklist, §6 #9–#21).

Each check takes a :class:`ServiceContext` and yields :class:`Finding`s; the rules they
apply are the model's (``share``, ``trace``, the effective load balancer), cited beside.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from srcip.doctor.context import (
    SHOWN,
    ServiceContext,
    group_names,
    listed,
    not_the_client,
    seen_text,
    selects,
)
from srcip.doctor.findings import Finding, Severity
from srcip.model.enums import TrafficPolicy
from srcip.model.scenario import (
    HealthCheckProtocol,
    LoadBalancerMode,
    ProxyProtocolVersion,
)

__all__ = [
    "check_aws_ip_targets",
    "check_azure_probe",
    "check_cluster_node_addresses",
    "check_health_check_port",
    "check_ipvs_local",
    "check_local_uneven",
    "check_metallb_l2_local",
    "check_proxy_without_proxy_protocol",
    "check_slow_health_check",
]

_POLICY = "spec.externalTrafficPolicy"
_SPREAD = """spec:
  template:
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: DoNotSchedule
          labelSelector:
            matchLabels: {selector}"""


def _pct(value: Fraction) -> str:
    return f"{float(value) * 100:.0f}%"


def _patch_local(ctx: ServiceContext) -> str:
    svc = ctx.service
    return (
        f"kubectl -n {svc.namespace} patch svc {svc.name} "
        """-p '{"spec":{"externalTrafficPolicy":"Local"}}'"""
    )


def check_local_uneven(ctx: ServiceContext) -> Iterator[Finding]:
    """Local with pods on few nodes: nodes that get nothing, and the per-pod imbalance.

    Under Local a node without a ready endpoint fails the health check (KP §13) and the load
    balancer splits by node, not by pod (ecosystem §2), so pods share unevenly.
    """
    summary, svc = ctx.summary, ctx.service
    if summary is None or summary.policy is not TrafficPolicy.LOCAL or not summary.pods:
        return
    fairness = summary.fairness
    ratio = fairness.max_over_min
    uneven = ratio is not None and ratio > 1
    if not uneven:
        return
    idle = [g for g in summary.groups if g.share == 0]
    histogram = ", ".join(
        f"{g.first}={g.local_pods}"
        if g.count == 1
        else f"{g.count} nodes ({g.first}, …)={g.local_pods} each"
        for g in summary.groups
        if g.local_pods
    )
    pods = summary.pods
    per_pod = listed([f"{p.name}={_pct(p.share)}" for p in pods[:SHOWN]], len(pods))
    selector = "{" + ", ".join(f"{k}: {v}" for k, v in svc.selector) + "}"
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="local-uneven",
        title=(
            f"Local policy: {sum(g.count for g in idle)} node(s) get nothing, the busiest pod "
            f"gets {_pct(fairness.max_share)} (fair: {_pct(fairness.fair_share)})"
        ),
        evidence=(
            (_POLICY, "Local"),
            ("EndpointSlice endpoints[].nodeName (ready pods per node)", histogram),
            ("predicted share per pod", per_pod),
            ("nodes that get no traffic", group_names(idle) or "none"),
        ),
        explanation=(
            "Under Local the load balancer health-checks each node's healthCheckNodePort, which "
            "answers 503 where the node has no ready endpoint (KP §13), and splits connections "
            "by node, not by pod: a node with one pod gives it as much as a node with three "
            f"gives all three together (busiest/least busy pod = {ratio})."
        ),
        fix="Spread the pods one per node (or use a pod-weighted LB, GKE; or ip targets, AWS):\n"
        + _SPREAD.format(selector=selector),
        references=("kubernetes/kubernetes#97147", "kubernetes/kubernetes#68474"),
    )


def check_health_check_port(ctx: ServiceContext) -> Iterator[Finding]:
    """Local, but the load balancer probes something other than the healthCheckNodePort."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or not svc.external_policy_local or not lb.health_check.enabled:
        return
    hc = lb.health_check
    if svc.health_check_node_port and hc.port == svc.health_check_node_port:
        return
    source = lb.setting("healthCheck.port") or lb.setting("healthCheck.target")
    yield Finding(
        severity=Severity.ERROR,
        service=svc.key,
        kind="health-check-port",
        title=(
            f"the load balancer probes port {hc.port}, not healthCheckNodePort "
            f"{svc.health_check_node_port or '(none)'}"
        ),
        evidence=(
            (_POLICY, "Local"),
            ("spec.healthCheckNodePort", str(svc.health_check_node_port or "(unset)")),
            ("effective health check port", f"{hc.port} ({source.source if source else 'preset'})"),
        ),
        explanation=(
            "Under Local only the healthCheckNodePort tells the load balancer which nodes have a "
            "ready endpoint (KP §13). A probe on the traffic port passes on every node, so the "
            "load balancer also sends to nodes that drop the traffic (KP §4.3)."
        ),
        fix=_health_port_fix(ctx, source.source if source is not None else None),
        references=("kubernetes/kubernetes#101529", "cloudnativelabs/kube-router#455"),
    )


def _health_port_fix(ctx: ServiceContext, source: str | None) -> str:
    svc = ctx.service
    if source is not None and source.startswith("annotation "):
        key = source.removeprefix("annotation ").split("=", 1)[0]
        return (
            "Remove the override so that the provider probes spec.healthCheckNodePort:\n"
            f"kubectl -n {svc.namespace} annotate svc {svc.name} {key}-"
        )
    return (
        "Point the load balancer's health check at spec.healthCheckNodePort "
        f"({svc.health_check_node_port}), path /healthz, over HTTP."
    )


def check_cluster_node_addresses(ctx: ServiceContext) -> Iterator[Finding]:
    """Cluster policy through a passthrough LB: the app logs node addresses (KP §4.2)."""
    svc = ctx.service
    if ctx.summary is None or svc.external_traffic_policy is not TrafficPolicy.CLUSTER:
        return
    if ctx.inference.replacement is not None:
        return  # Cilium / Calico eBPF: their own checks (ecosystem §1.6, §1.7)
    others = not_the_client(ctx.summary)
    lost = sum((s.probability for s in others), Fraction(0))
    if lost == 0:
        return
    peers = "; ".join(seen_text(s) for s in others[:SHOWN])
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="cluster-node-addresses",
        title=f"Cluster policy: the app sees a node address for {_pct(lost)} of connections",
        evidence=((_POLICY, "Cluster"), ("predicted pod peers", peers)),
        explanation=(
            "With externalTrafficPolicy Cluster kube-proxy masquerades external traffic it "
            "forwards (KP §4.2), so the pod's TCP peer is a node address, not the client."
        ),
        fix=_patch_local(ctx) + "\n(then spread the pods: see the local-uneven finding)",
        references=(),
    )


def check_proxy_without_proxy_protocol(ctx: ServiceContext) -> Iterator[Finding]:
    """A load balancer that proxies TCP, without PROXY protocol: pods see the LB address."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.mode is not LoadBalancerMode.PROXY:
        return
    if lb.proxy_protocol is not ProxyProtocolVersion.OFF:
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="proxy-without-proxy-protocol",
        title=f"the {lb.provider} load balancer proxies TCP without PROXY protocol",
        evidence=(
            ("inferred provider", str(lb.provider)),
            ("effective mode", lb.mode.value),
            ("effective proxyProtocol", lb.proxy_protocol.value),
        ),
        explanation=(
            "A proxying load balancer opens a new connection from its own address; without "
            "a PROXY header nothing downstream can learn the client (ecosystem §1)."
        ),
        fix=(
            "Turn PROXY protocol on at the load balancer AND at the listener (e.g. ingress-nginx "
            'use-proxy-protocol: "true"), together. AWS Classic ELB:\n'
            f"kubectl -n {svc.namespace} annotate svc {svc.name} "
            "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol='*'"
        ),
        references=("kubernetes/ingress-nginx#1067",),
    )


def check_ipvs_local(ctx: ServiceContext) -> Iterator[Finding]:
    """kube-proxy IPVS with Local: in-cluster clients on nodes without endpoints blackhole."""
    svc = ctx.service
    if ctx.snapshot.extras.kube_proxy_mode != "ipvs" or not svc.external_policy_local:
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="ipvs-local",
        title="IPVS with Local: the LB IP is unreachable from nodes without an endpoint",
        evidence=(("kube-proxy ConfigMap mode", "ipvs"), (_POLICY, "Local")),
        explanation=(
            "IPVS binds every LB IP to kube-ipvs0; under Local a node without endpoints has a "
            "virtual server with no real servers, so pods and hostNetwork clients there reach "
            "nothing (ecosystem §1.7; iptables was fixed in 1.15, IPVS hostNetwork is not)."
        ),
        fix='Switch kube-proxy to iptables or nftables (mode: "nftables" in the kube-proxy '
        "ConfigMap), or keep clients on nodes with endpoints.",
        references=("kubernetes/kubernetes#75262", "kubernetes/kubernetes#93456"),
    )


def check_metallb_l2_local(ctx: ServiceContext) -> Iterator[Finding]:
    """MetalLB L2 with Local: one node announces, so all traffic enters one node."""
    svc, extras = ctx.service, ctx.snapshot.extras
    l2 = [a for a in extras.advertisements if a.kind == "L2Advertisement"]
    bgp = [a for a in extras.advertisements if a.kind == "BGPAdvertisement"]
    if not svc.external_policy_local or not l2 or bgp:
        return
    groups = ctx.summary.groups if ctx.summary is not None else ()
    with_pods = group_names(g for g in groups if g.local_pods)
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="metallb-l2-local",
        title="MetalLB L2 with Local: one node takes all traffic, the pods elsewhere get none",
        evidence=(
            ("L2Advertisement", ", ".join(f"{a.namespace}/{a.name}" for a in l2)),
            (_POLICY, "Local"),
            ("nodes with ready endpoints", with_pods or "none"),
        ),
        explanation=(
            "In layer 2 mode one elected node answers ARP/NDP for the VIP (ecosystem §1.5); "
            "under Local it is a node with a local endpoint, and only that node's pods serve."
        ),
        fix="Use BGP mode (a BGPAdvertisement for the pool) for a per-node split, or keep one "
        "pod per Service behind L2.",
        references=("metallb/metallb#1249",),
    )


def check_aws_ip_targets(ctx: ServiceContext) -> Iterator[Finding]:
    """AWS LB controller ip targets without preserve_client_ip: the app sees NLB addresses."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.provider != "aws-nlb-ip" or lb.preserve_client_ip:
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="aws-ip-targets",
        title="NLB ip targets without preserve_client_ip: the app sees the NLB's addresses",
        evidence=(
            ("metadata.annotations aws-load-balancer-nlb-target-type", "ip"),
            ("aws-load-balancer-target-group-attributes preserve_client_ip.enabled", "absent"),
        ),
        explanation=(
            "The AWS Load Balancer Controller's ip targets default to "
            "preserve_client_ip.enabled=false: the NLB connects from its own private address "
            "(ecosystem §1.2)."
        ),
        fix=(
            f"kubectl -n {svc.namespace} annotate svc {svc.name} "
            "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes="
            "preserve_client_ip.enabled=true"
        ),
        references=("kubernetes-sigs/aws-load-balancer-controller#1825",),
    )


def check_azure_probe(ctx: ServiceContext) -> Iterator[Finding]:
    """Azure, Cluster, appProtocol http(s): the LB probes ``/`` on the traffic port."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.provider != "azure" or svc.external_policy_local:
        return
    hc = lb.health_check
    if hc.protocol is HealthCheckProtocol.TCP or hc.path != "/":
        return
    yield Finding(
        severity=Severity.ERROR,
        service=svc.key,
        kind="azure-probe",
        title=f"Azure probes {hc.protocol.value.upper()} GET / on the traffic port",
        evidence=(
            ("inferred provider", "azure"),
            (_POLICY, "Cluster"),
            ("spec.ports[].appProtocol", ", ".join(p.app_protocol or "-" for p in svc.ports)),
            ("annotation azure-load-balancer-health-probe-request-path", "absent"),
        ),
        explanation=(
            "cloud-provider-azure probes HTTP(S) on / when a port's appProtocol is http(s) and "
            "the policy is Cluster (since AKS 1.24); an app answering 404 there (ingress-nginx "
            "does) marks every node down (ecosystem §6 #20)."
        ),
        fix=(
            f"kubectl -n {svc.namespace} annotate svc {svc.name} "
            "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path=/healthz"
        ),
        references=("Azure/AKS#2903", "kubernetes/ingress-nginx#8501"),
    )


def check_slow_health_check(ctx: ServiceContext) -> Iterator[Finding]:
    """Local: the LB notices a draining node later than the pods stop serving (KEP-1669)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or not svc.external_policy_local or not lb.health_check.enabled:
        return
    # Only a node whose last local pod terminates turns unhealthy (KP §13); with two or more
    # the others keep serving while one drains.
    groups = ctx.summary.groups if ctx.summary is not None else ()
    alone = group_names(g for g in groups if g.local_pods == 1)
    if not alone:
        return
    hc = lb.health_check
    detection = hc.interval_seconds * hc.unhealthy_threshold
    for workload in ctx.snapshot.cluster.workloads:
        if workload.namespace != svc.namespace or not selects(svc, workload.template.labels):
            continue
        pre_stop = workload.template.pre_stop_sleep_seconds
        if pre_stop >= detection:
            continue
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="slow-health-check",
            title=(
                f"the LB needs {detection:g}s to mark a node down; {workload.key} stops "
                f"after a {pre_stop:g}s preStop"
            ),
            evidence=(
                (_POLICY, "Local"),
                ("nodes whose only ready endpoint is one pod", alone),
                ("health check interval × unhealthy threshold", f"{detection:g}s"),
                ("preStop sleep", f"{pre_stop:g}s"),
                (
                    "terminationGracePeriodSeconds",
                    f"{workload.template.termination_grace_period_seconds:g}",
                ),
            ),
            explanation=(
                "When the last local pod terminates, the node's healthCheckNodePort answers 503 "
                "at once (KP §13) but the load balancer keeps sending until it has seen "
                "unhealthy_threshold failed probes; if the pod is gone before, those "
                "connections fail (KEP-1669)."
            ),
            fix=(
                "Keep the pod serving until the LB has noticed: a preStop sleep longer than "
                f"{detection:g}s (and a grace period above it):\n"
                "lifecycle:\n  preStop:\n    sleep:\n"
                f"      seconds: {int(detection) + 5}\n"
                f"terminationGracePeriodSeconds: {int(detection) + 35}"
            ),
            references=("kubernetes/kubernetes#85643", "kubernetes/kubernetes#50977"),
        )
