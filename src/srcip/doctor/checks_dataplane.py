"""Checks on the dataplane around the pod: sidecars, Cilium, k3s ServiceLB, NetworkPolicy.

Ecosystem §6 #14, #15, #23–#25 and the seeds' ``allow-specific-clients`` NetworkPolicy.
"""

from __future__ import annotations

from collections.abc import Iterator

from srcip.doctor.context import ServiceContext, not_the_client, seen_text, selects
from srcip.doctor.findings import Finding, Severity
from srcip.doctor.infer import Inference
from srcip.doctor.snapshot import Snapshot
from srcip.model.enums import TrafficPolicy

__all__ = [
    "check_cilium_snat",
    "check_double_health_check",
    "check_k3s_servicelb",
    "check_netpol_ipblock",
    "check_sidecar",
]

_POLICY = "spec.externalTrafficPolicy"
# Where each sidecar connects to the app from (model/hops.py: istio#29603, linkerd2#3334).
_SIDECAR_SOURCE = {"istio": "127.0.0.6", "linkerd": "127.0.0.1"}
_SIDECAR_FIX = {
    "istio": (
        "Read the client from X-Forwarded-For / X-Envoy-External-Address, or keep the source "
        "with TPROXY interception on the pod template:\n"
        "metadata:\n  annotations:\n    sidecar.istio.io/interceptionMode: TPROXY"
    ),
    "linkerd": (
        "Skip the proxy for the inbound port that needs the client address (ingress pods):\n"
        'metadata:\n  annotations:\n    config.linkerd.io/skip-inbound-ports: "80,443"'
    ),
}
_SIDECAR_REFS = {
    "istio": ("istio/istio#32802", "istio/istio#29603", "istio/istio#5679"),
    "linkerd": ("linkerd/linkerd2#3334", "linkerd/linkerd2#4219"),
}


def check_sidecar(ctx: ServiceContext) -> Iterator[Finding]:
    """The Service's pods run a sidecar that re-originates connections (#23/#24)."""
    svc = ctx.service
    for sidecar in ctx.inference.sidecars:
        if sidecar.namespace != svc.namespace or not selects(svc, sidecar.labels):
            continue
        if sidecar.tproxy and sidecar.mesh == "istio":
            continue  # TPROXY keeps the original source (istio#5679)
        source = _SIDECAR_SOURCE[sidecar.mesh]
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="sidecar",
            title=f"{sidecar.mesh} sidecar: the app's TCP peer is {source}, not the client",
            evidence=(
                ("sidecar", sidecar.source),
                ("selected by spec.selector", str(dict(svc.selector))),
            ),
            explanation=(
                f"The {sidecar.mesh} proxy terminates inbound connections and opens new ones to "
                f"the app from {source}; whatever the traffic policy, the app's peer is the "
                "sidecar (ecosystem §3)."
            ),
            fix=_SIDECAR_FIX[sidecar.mesh],
            references=_SIDECAR_REFS[sidecar.mesh],
        )


def check_cilium_snat(ctx: ServiceContext) -> Iterator[Finding]:
    """Cilium KPR in SNAT mode with Cluster: some pods see the client, others a node (#15)."""
    svc, inference = ctx.service, ctx.inference
    if inference.replacement != "cilium" or inference.cilium_lb_mode != "snat":
        return
    if svc.external_traffic_policy is not TrafficPolicy.CLUSTER:
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="cilium-snat",
        title="Cilium SNAT mode with Cluster: pods on the entry node see the client, others a node",
        evidence=(
            ("ConfigMap kube-system/cilium-config kube-proxy-replacement", "true"),
            ("ConfigMap kube-system/cilium-config bpf-lb-mode", "snat"),
            (_POLICY, "Cluster"),
        ),
        explanation=(
            "Cilium's kube-proxy replacement in snat mode masquerades only when the chosen "
            "backend is on another node: a backend on the entry node sees the client address, "
            "the rest a node address (ecosystem §1.6)."
        ),
        fix=(
            "Use DSR (helm: loadBalancer.mode=dsr, or hybrid) for a consistent client address, "
            f"or Local:\nkubectl -n {svc.namespace} patch svc {svc.name} "
            """-p '{"spec":{"externalTrafficPolicy":"Local"}}'"""
        ),
        references=("cilium/cilium#33574", "cilium/cilium#34235"),
    )


def check_k3s_servicelb(ctx: ServiceContext) -> Iterator[Finding]:
    """k3s ServiceLB (svclb DaemonSet) in front: the app sees svclb/node addresses (#25)."""
    svc = ctx.service
    prefix = f"svclb-{svc.name}-"
    daemonsets = [
        o.key
        for o in ctx.snapshot.extras.owners
        if o.kind == "DaemonSet" and o.name.startswith(prefix)
    ]
    if not daemonsets:
        return
    local = svc.external_traffic_policy is TrafficPolicy.LOCAL
    yield Finding(
        severity=Severity.INFO if local else Severity.WARNING,
        service=svc.key,
        kind="k3s-servicelb",
        title="k3s ServiceLB forwards from each node: "
        + (
            "Local keeps the client only for pods on the receiving node"
            if local
            else "the app sees node addresses"
        ),
        evidence=(
            ("DaemonSet", ", ".join(daemonsets)),
            (_POLICY, svc.external_traffic_policy.value),
        ),
        explanation=(
            "klipper-lb's svclb pods DNAT the node's port to the Service and masquerade, so the "
            "app logs the svclb/node address (ecosystem §1.8)."
        ),
        fix=(
            f"kubectl -n {svc.namespace} patch svc {svc.name} "
            """-p '{"spec":{"externalTrafficPolicy":"Local"}}'"""
            "\nor disable ServiceLB (--disable servicelb) and use MetalLB."
        ),
        references=("k3s-io/klipper-lb#31",),
    )


def check_netpol_ipblock(ctx: ServiceContext) -> Iterator[Finding]:
    """A NetworkPolicy allows client CIDRs by ipBlock while the path SNATs them away."""
    svc = ctx.service
    others = not_the_client(ctx.summary)
    if not others:
        return
    for policy in ctx.snapshot.cluster.network_policies:
        if policy.namespace != svc.namespace or not policy.pod_selector.matches(dict(svc.selector)):
            continue
        blocks = [
            str(peer.ip_block.cidr)
            for rule in policy.ingress
            for peer in rule.peers
            if peer.ip_block is not None and peer.ip_block.cidr.prefixlen > 0
        ]
        if not blocks:
            continue
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="netpol-ipblock-snat",
            title=f"NetworkPolicy {policy.key} allows client CIDRs the pods never see",
            evidence=(
                (f"NetworkPolicy {policy.name} ingress[].from[].ipBlock.cidr", ", ".join(blocks)),
                (_POLICY, svc.external_traffic_policy.value),
                ("predicted source at the pod", "; ".join(seen_text(s) for s in others)),
            ),
            explanation=(
                "NetworkPolicy matches the source the pod receives; after SNAT (Cluster "
                "policy, KP §4.2, or a proxying LB) that is a node or LB address, so an ipBlock "
                "of client addresses drops the clients it means to allow."
            ),
            fix=(
                f"kubectl -n {svc.namespace} patch svc {svc.name} "
                """-p '{"spec":{"externalTrafficPolicy":"Local"}}'"""
                "\n(and a passthrough LB), or use loadBalancerSourceRanges instead."
            ),
            references=(),
        )


def check_double_health_check(snapshot: Snapshot, inference: Inference) -> Iterator[Finding]:
    """kube-proxy and Cilium's replacement both running: both answer health checks (#14)."""
    if inference.replacement != "cilium" or not inference.kube_proxy_running:
        return
    yield Finding(
        severity=Severity.ERROR,
        service=None,
        kind="double-health-check",
        title="kube-proxy and Cilium's kube-proxy replacement both run",
        evidence=(
            ("DaemonSet kube-system/kube-proxy", "present"),
            ("ConfigMap kube-system/cilium-config kube-proxy-replacement", "true"),
        ),
        explanation=(
            "Both serve healthCheckNodePort and program Service rules; whichever answers the "
            "load balancer's probe decides, and the answers disagree (ecosystem §1.6)."
        ),
        fix="Run one proxy only:\nkubectl -n kube-system delete daemonset kube-proxy\n"
        "(and remove its iptables rules: cilium docs, kubeproxy-free)",
        references=("cilium/cilium#11043",),
    )
