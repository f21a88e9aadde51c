"""Checks on the dataplane under ``externalTrafficPolicy: Local`` (ecosystem §6 #11, #13, #16).

* #11 (``cni-masquerade-local``): Weave Net masquerades traffic it delivers to local pods
  unless ``NO_MASQ_LOCAL`` says otherwise, so Local pods see the weave bridge address
  (metallb#287, weave#2924, #3389). Only Weave is judged: Calico's ``natOutgoing`` /
  ``CALICO_IPV4POOL_NAT_OUTGOING`` and Cilium's ``enable-ipv4-masquerade`` /
  ``enable-bpf-masquerade`` masquerade connections *from* pods to destinations outside the
  pod network; replies to inbound connections follow conntrack, so they never touch an
  external client's address (Calico IPPool reference; Cilium masquerading docs).
* #13 (``no-health-check-server``): nothing serves ``healthCheckNodePort``, the port the
  load balancer probes under Local: kube-router before v2.1.0 running as the service proxy
  without kube-proxy (kube-router#455, fixed by PR #1612), or Cilium's kube-proxy
  replacement with ``enable-health-check-nodeport: "false"``.
* #16 (``old-cilium-local``): Cilium versions that lose the client under Local: 1.5.0–1.5.6
  and 1.6.0–1.6.3 SNAT kube-proxy's NodePort traffic to ``cilium_host`` (cilium#9284, fixed
  by #8944 in 1.5.7 and #9561 in 1.6.4), and before 1.7 Cilium's BPF NodePort ignores
  ``externalTrafficPolicy`` (cilium#8698, implemented by #9764 in 1.7).

Versions come from the DaemonSets' image tags; a tag that is not a version (``latest``, a
digest only) is treated as current.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from srcip.doctor.context import ServiceContext
from srcip.doctor.findings import Finding, Severity
from srcip.doctor.infer import CILIUM_CONFIG, Inference, config_map_data
from srcip.doctor.snapshot import Container, PodOwner

__all__ = [
    "check_cni_masquerade_local",
    "check_no_health_check_server",
    "check_old_cilium_local",
    "image_version",
]

Version = tuple[int, int, int]
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
_POLICY = "spec.externalTrafficPolicy"


def _image_parts(image: str) -> tuple[str, str]:
    """``(repository, tag)`` of an image reference (tag "" when absent)."""
    name = image.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, ""


def image_version(image: str) -> Version | None:
    """The ``major.minor.patch`` of an image tag (``quay.io/cilium/cilium:v1.6.3``), or None."""
    found = _VERSION.match(_image_parts(image)[1])
    if found is None:
        return None
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch or 0)


def _containers(inference: Inference, repository: str) -> Iterator[tuple[PodOwner, Container]]:
    """Per DaemonSet, its last container whose image repository ends in ``/repository``.

    The last one: init containers come first in a :class:`PodOwner` and often run the same
    image without the main container's flags and env (weave-init, cilium's config). The
    DaemonSets come from the inference, collected once per snapshot: these checks run per
    Service.
    """
    for owner in inference.daemonsets:
        matching = [
            c
            for c in owner.containers
            if (repo := _image_parts(c.image)[0]) == repository or repo.endswith(f"/{repository}")
        ]
        if matching:
            yield owner, matching[-1]


def _text(version: Version) -> str:
    return ".".join(map(str, version))


# --------------------------------------------------------------------------- #11


def _weave_masquerades(version: Version | None, env: str | None) -> str | None:
    """Why this Weave Net masquerades traffic to local pods, or None when it does not.

    launch.sh: before 2.4 there is no switch; 2.4–2.6 pass --no-masq-local for any
    non-empty NO_MASQ_LOCAL; from 2.7 it is on unless NO_MASQ_LOCAL is "0".
    """
    if version is not None and version < (2, 4, 0):
        return "Weave Net before 2.4 always masquerades (NO_MASQ_LOCAL came in 2.4)"
    if version is not None and version < (2, 7, 0):
        if env:
            return None
        return "Weave Net 2.4–2.6 masquerades unless NO_MASQ_LOCAL is set"
    if env == "0":
        return "NO_MASQ_LOCAL=0 turns off the client-address preservation on since 2.7"
    return None


def check_cni_masquerade_local(ctx: ServiceContext) -> Iterator[Finding]:
    """Weave Net masquerades what it delivers to local pods, defeating Local (#11)."""
    svc = ctx.service
    if not svc.external_policy_local:
        return
    for owner, container in _containers(ctx.inference, "weave-kube"):
        version = image_version(container.image)
        env = dict(container.env).get("NO_MASQ_LOCAL")
        why = _weave_masquerades(version, env)
        if why is None:
            continue
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="cni-masquerade-local",
            title="Weave Net masquerades traffic to local pods: Local pods see the weave bridge",
            evidence=(
                (f"DaemonSet {owner.key} container {container.name} image", container.image),
                (f"DaemonSet {owner.key} env NO_MASQ_LOCAL", "(unset)" if env is None else env),
                (_POLICY, "Local"),
            ),
            explanation=(
                f"{why}. kube-proxy delivers Local traffic with the client's address (KP §4.3), "
                "but Weave's own nat rule then masquerades it to the weave bridge address "
                "(e.g. 10.32.0.1) on the way into the pod network, so the pod never sees the "
                "client (ecosystem §1.5, §6 #11)."
            ),
            fix=(
                f"kubectl -n {owner.namespace} set env daemonset/{owner.name} "
                f"-c {container.name} NO_MASQ_LOCAL=1"
                + (
                    "\n(and upgrade: Weave Net before 2.4 has no such switch)"
                    if _old(version)
                    else ""
                )
            ),
            references=("metallb/metallb#287", "weaveworks/weave#2924", "weaveworks/weave#3389"),
        )


def _old(version: Version | None) -> bool:
    return version is not None and version < (2, 4, 0)


# --------------------------------------------------------------------------- #13


def _silent_servers(ctx: ServiceContext) -> Iterator[tuple[tuple[str, str], str, str]]:
    """(evidence, why, fix) for each service proxy that opens no healthCheckNodePort."""
    for owner, container in _containers(ctx.inference, "kube-router"):
        version = image_version(container.image)
        proxy = [a for a in container.args if a.startswith("--run-service-proxy")]
        if proxy and proxy[-1].split("=", 1)[-1].lower() == "false":
            continue  # kube-router does not proxy Services here
        if version is None or version >= (2, 1, 0):
            continue
        yield (
            (f"DaemonSet {owner.key} image", container.image),
            f"kube-router {_text(version)} is the service proxy (--run-service-proxy defaults "
            "to true) and serves no healthCheckNodePort before v2.1.0",
            f"Upgrade kube-router to v2.1.0 or later:\nkubectl -n {owner.namespace} set image "
            f"daemonset/{owner.name} {container.name}=docker.io/cloudnativelabs/kube-router:v2.1.0",
        )
    if ctx.inference.replacement != "cilium":
        return
    cilium = config_map_data(ctx.snapshot, CILIUM_CONFIG) or {}
    if cilium.get("enable-health-check-nodeport", "").strip().lower() == "false":
        namespace, _, name = CILIUM_CONFIG.partition("/")
        yield (
            (f"ConfigMap {CILIUM_CONFIG} enable-health-check-nodeport", "false"),
            "Cilium's kube-proxy replacement serves healthCheckNodePort only with "
            "enable-health-check-nodeport (default true)",
            f"kubectl -n {namespace} patch configmap {name} --type merge "
            """-p '{"data":{"enable-health-check-nodeport":"true"}}'"""
            "\n(then restart the cilium DaemonSet)",
        )


def check_no_health_check_server(ctx: ServiceContext) -> Iterator[Finding]:
    """The LB probes healthCheckNodePort but no service proxy serves it (#13)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or not svc.needs_health_check or not svc.health_check_node_port:
        return
    if (lb.provider or "").startswith("metallb"):
        return  # speakers watch EndpointSlices; the model's "probe" stands for that (presets)
    hc = lb.health_check
    if not hc.enabled or hc.port != svc.health_check_node_port or ctx.inference.kube_proxy_running:
        return
    for evidence, why, fix in _silent_servers(ctx):
        yield Finding(
            severity=Severity.ERROR,
            service=svc.key,
            kind="no-health-check-server",
            title=f"nothing answers healthCheckNodePort {svc.health_check_node_port}: "
            "every node fails the load balancer's probe",
            evidence=(
                evidence,
                ("DaemonSet kube-system/kube-proxy", "absent"),
                ("spec.healthCheckNodePort", str(svc.health_check_node_port)),
                (
                    "effective health check",
                    f"{hc.protocol.value.upper()} :{hc.port}{hc.path or ''}",
                ),
            ),
            explanation=(
                f"Under Local the load balancer asks each node's healthCheckNodePort which nodes "
                f"have a ready endpoint (KP §13); {why}. Every probe is refused, every target is "
                "unhealthy: the LB stops sending, or (AWS) fails open to every node, including "
                "those that drop the traffic (ecosystem §6 #13)."
            ),
            fix=fix,
            references=("kubernetes/kubernetes#101529", "cloudnativelabs/kube-router#455"),
        )


# --------------------------------------------------------------------------- #16


def _bpf_nodeport(cilium: dict[str, str]) -> str | None:
    """The cilium-config key that turns on Cilium's own NodePort handling, if any."""
    kpr = cilium.get("kube-proxy-replacement", "").strip().lower()
    if kpr in ("true", "strict", "probe", "partial"):
        return f"kube-proxy-replacement={kpr}"
    if cilium.get("enable-node-port", "").strip().lower() == "true":
        return "enable-node-port=true"
    return None


def _old_cilium(version: Version, bpf: str | None) -> tuple[str, tuple[str, ...]] | None:
    """Why this Cilium (before 1.7) loses the client under Local, and the references; or None."""
    if bpf is not None:
        return (
            "Cilium's BPF NodePort handles the traffic and ignores externalTrafficPolicy "
            "before 1.7: it spreads over every endpoint and SNATs those on other nodes",
            ("cilium/cilium#8698", "cilium/cilium#9764"),
        )
    if (1, 5, 0) <= version < (1, 5, 7) or (1, 6, 0) <= version < (1, 6, 4):
        return (
            "this Cilium's iptables rules SNAT kube-proxy's NodePort traffic to the cilium_host "
            "address (rule 'cilium hostport cluster masquerade'; fixed in 1.5.7 and 1.6.4)",
            ("cilium/cilium#9284", "cilium/cilium#9561", "cilium/cilium#8944"),
        )
    return None


def check_old_cilium_local(ctx: ServiceContext) -> Iterator[Finding]:
    """An old Cilium that SNATs or ignores Local (#16)."""
    svc = ctx.service
    if not svc.external_policy_local:
        return
    agents = [
        (owner, container, version)
        for owner, container in _containers(ctx.inference, "cilium")
        if (version := image_version(container.image)) is not None and version < (1, 7, 0)
    ]
    if not agents:
        return
    bpf = _bpf_nodeport(config_map_data(ctx.snapshot, CILIUM_CONFIG) or {})
    for owner, container, version in agents:
        found = _old_cilium(version, bpf)
        if found is None:
            continue
        why, references = found
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="old-cilium-local",
            title=f"Cilium {_text(version)} loses the client address under Local",
            evidence=(
                (f"DaemonSet {owner.key} container {container.name} image", container.image),
                (
                    f"ConfigMap {CILIUM_CONFIG} NodePort handling",
                    bpf or "kube-proxy (no BPF NodePort)",
                ),
                (_POLICY, "Local"),
            ),
            explanation=(
                f"Local promises the client's address at the pod (KP §4.3), but {why}. "
                "See ecosystem §6 #16."
            ),
            fix=(
                "Upgrade Cilium to a current release (the fixes: 1.7 for BPF NodePort, 1.5.7 and "
                "1.6.4 for the SNAT rule), e.g. with its Helm chart:\n"
                f"helm upgrade cilium cilium/cilium -n {owner.namespace} --reuse-values "
                "--version <current release>"
            ),
            references=references,
        )
