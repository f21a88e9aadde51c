"""Each finding kind from a realistic dump: the finding, its evidence and its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcip.doctor import Diagnosis, Finding, Severity, diagnose, load_snapshot
from srcip.manifests import read_documents

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"
SCENARIOS = ROOT / "examples" / "user-scenarios"


def run(*files: str) -> Diagnosis:
    """Diagnose fixtures (``name`` in fixtures/, or a path relative to the repository)."""
    paths = [FIXTURES / f"{f}.yaml" if "/" not in f else ROOT / f for f in files]
    return diagnose(load_snapshot(read_documents(paths)))


def only(result: Diagnosis, kind: str) -> Finding:
    """The single finding of ``kind``."""
    found = [f for f in result.findings if f.kind == kind]
    assert len(found) == 1, [f.kind for f in result.findings]
    return found[0]


GKE_SPREAD = ("nodes-gke", "app-web-spread")
EX = "examples/user-scenarios"

CASES = [
    pytest.param(
        ("nodes-gke", "app-web-uneven", "svc-web-gke-local"),
        "local-uneven",
        Severity.WARNING,
        ("nodes that get no traffic", "node-3"),
        "topologySpreadConstraints",
        id="local-uneven",
    ),
    pytest.param(
        ("nodes-aws", "app-web-spread", "svc-web-aws-nlb-local"),
        "health-check-port",
        Severity.ERROR,
        ("spec.healthCheckNodePort", "31234"),
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port-",
        id="health-check-port",
    ),
    pytest.param(
        (*GKE_SPREAD, "svc-web-gke-cluster"),
        "cluster-node-addresses",
        Severity.WARNING,
        ("spec.externalTrafficPolicy", "Cluster"),
        '"externalTrafficPolicy":"Local"',
        id="cluster-node-addresses",
    ),
    pytest.param(
        ("nodes-aws", "app-web-spread", "svc-web-aws-clb-cluster"),
        "proxy-without-proxy-protocol",
        Severity.WARNING,
        ("effective proxyProtocol", "off"),
        "aws-load-balancer-proxy-protocol='*'",
        id="proxy-without-proxy-protocol",
    ),
    pytest.param(
        ("nodes-aws", f"{EX}/08-configmap-not-read/manifests.yaml"),
        "proxy-trust",
        Severity.WARNING,
        ("load balancer mode", "http"),
        '"use-forwarded-headers":"true"',
        id="proxy-trust",
    ),
    pytest.param(
        ("nodes-aws", f"{EX}/04-proxy-protocol-one-side/manifests.yaml"),
        "proxy-protocol-one-side",
        Severity.ERROR,
        ("ConfigMap ingress-nginx/ingress-nginx-controller use-proxy-protocol", "true"),
        "aws-load-balancer-proxy-protocol='*'",
        id="proxy-protocol-one-side",
    ),
    pytest.param(
        (f"{EX}/03-hetzner-proxy-protocol-ipmode/manifests.yaml",),
        "lb-bypass",
        Severity.WARNING,
        ("status.loadBalancer.ingress[].ipMode", "VIP (unset)"),
        "ipMode: Proxy",
        id="lb-bypass-hetzner",
    ),
    pytest.param(
        (f"{EX}/02-do-proxy-protocol-cert-manager/manifests.yaml",),
        "lb-bypass",
        Severity.WARNING,
        ("load balancer proxyProtocol", "v1"),
        "do-loadbalancer-hostname",
        id="lb-bypass-digitalocean",
    ),
    pytest.param(
        (f"{EX}/07-forwarded-headers-spoofing/manifests.yaml",),
        "forwarded-headers",
        Severity.WARNING,
        ("ConfigMap ingress-nginx/ingress-nginx-controller use-forwarded-headers", "true"),
        '"use-forwarded-headers":"false"',
        id="forwarded-headers",
    ),
    pytest.param(
        ("nodes-aws", f"{EX}/08-configmap-not-read/manifests.yaml"),
        "configmap-not-read",
        Severity.WARNING,
        (
            "Deployment ingress-nginx/ingress-nginx-controller --configmap",
            "ingress-nginx/ingress-nginx-controller",
        ),
        "kubectl -n ingress-nginx patch configmap ingress-nginx-controller",
        id="configmap-not-read",
    ),
    pytest.param(
        ("nodes-metal", "app-web-spread", "metallb-l2"),
        "metallb-l2-local",
        Severity.WARNING,
        ("L2Advertisement", "metallb-system/production"),
        "BGPAdvertisement",
        id="metallb-l2-local",
    ),
    pytest.param(
        (*GKE_SPREAD, "svc-web-gke-local", "kube-proxy-ipvs"),
        "ipvs-local",
        Severity.WARNING,
        ("kube-proxy ConfigMap mode", "ipvs"),
        "nftables",
        id="ipvs-local",
    ),
    pytest.param(
        (f"{EX}/18-aws-nlb-ip-targets/manifests.yaml",),
        "aws-ip-targets",
        Severity.WARNING,
        ("metadata.annotations aws-load-balancer-nlb-target-type", "ip"),
        "preserve_client_ip.enabled=true",
        id="aws-ip-targets",
    ),
    pytest.param(
        (f"{EX}/20-azure-probe-app-protocol/manifests.yaml",),
        "azure-probe",
        Severity.ERROR,
        ("spec.ports[].appProtocol", "http"),
        "azure-load-balancer-health-probe-request-path=/healthz",
        id="azure-probe",
    ),
    pytest.param(
        ("nodes-aws", "app-web-spread-short-prestop", "svc-web-aws-nlb-local-hcnp"),
        "slow-health-check",
        Severity.WARNING,
        ("preStop sleep", "5s"),
        "preStop:",
        id="slow-health-check",
    ),
    pytest.param(
        (f"{EX}/23-istio-sidecar-loopback/manifests.yaml",),
        "sidecar",
        Severity.WARNING,
        ("sidecar", "Deployment shop/api container istio-proxy"),
        "sidecar.istio.io/interceptionMode: TPROXY",
        id="sidecar-istio",
    ),
    pytest.param(
        (f"{EX}/24-linkerd-meshed-ingress/manifests.yaml",),
        "sidecar",
        Severity.WARNING,
        ("sidecar", "Deployment ingress-nginx/ingress-nginx-controller container linkerd-proxy"),
        "config.linkerd.io/skip-inbound-ports",
        id="sidecar-linkerd",
    ),
    pytest.param(
        (*GKE_SPREAD, "svc-web-gke-cluster", "cilium-kpr"),
        "cilium-snat",
        Severity.WARNING,
        ("ConfigMap kube-system/cilium-config bpf-lb-mode", "snat"),
        "loadBalancer.mode=dsr",
        id="cilium-snat",
    ),
    pytest.param(
        (f"{EX}/25-k3s-servicelb/manifests.yaml",),
        "k3s-servicelb",
        Severity.WARNING,
        ("DaemonSet", "kube-system/svclb-whoami-3f2a1b7c"),
        "--disable servicelb",
        id="k3s-servicelb",
    ),
    pytest.param(
        (*GKE_SPREAD, "svc-web-gke-cluster", "netpol-allow-specific-clients"),
        "netpol-ipblock-snat",
        Severity.WARNING,
        ("NetworkPolicy allow-specific-clients ingress[].from[].ipBlock.cidr", "203.0.113.0/24"),
        '"externalTrafficPolicy":"Local"',
        id="netpol-ipblock-snat",
    ),
    pytest.param(
        (*GKE_SPREAD, "svc-web-gke-local", "cilium-kpr", "kube-proxy-daemonset"),
        "double-health-check",
        Severity.ERROR,
        ("DaemonSet kube-system/kube-proxy", "present"),
        "delete daemonset kube-proxy",
        id="double-health-check",
    ),
]


@pytest.mark.parametrize(("files", "kind", "severity", "evidence", "fix"), CASES)
def test_finding(
    files: tuple[str, ...], kind: str, severity: Severity, evidence: tuple[str, str], fix: str
) -> None:
    """The dump produces the finding with the fields it read and a concrete fix."""
    finding = only(run(*files), kind)
    assert finding.severity is severity
    assert evidence in finding.evidence
    assert fix in finding.fix
    assert finding.explanation
    assert finding.kind == kind


CLEAN = [
    pytest.param((*GKE_SPREAD, "svc-web-gke-local"), id="gke-local-one-pod-per-node"),
    pytest.param((*GKE_SPREAD, "svc-web-gke-cluster", "cilium-kpr-dsr"), id="cilium-dsr"),
    pytest.param(("nodes-metal", "app-web-spread", "metallb-bgp"), id="metallb-bgp-local"),
    pytest.param(("examples/echo/echo.yaml",), id="examples-echo"),
]


@pytest.mark.parametrize("files", CLEAN)
def test_clean(files: tuple[str, ...]) -> None:
    """A healthy setup produces no warning and no error."""
    result = run(*files)
    assert result.services
    assert not result.has_finding_at(Severity.WARNING), [f.title for f in result.findings]


def test_local_uneven_shares() -> None:
    """The uneven finding names the idle node and the per-pod shares from the model."""
    finding = only(run("nodes-gke", "app-web-uneven", "svc-web-gke-local"), "local-uneven")
    shares = dict(finding.evidence)["predicted share per pod"]
    assert shares == "web-7d4b9c-1=25%, web-7d4b9c-2=25%, web-7d4b9c-3=50%"


def test_proxy_protocol_other_side() -> None:
    """PROXY sent by the LB but not expected by ingress-nginx is the mirror finding."""
    result = run("nodes-metal", "ingress-pp-lb-only")
    finding = only(result, "proxy-protocol-one-side")
    assert finding.title.startswith("the load balancer sends PROXY protocol")
    assert '"use-proxy-protocol":"true"' in finding.fix
    assert not [f for f in result.findings if f.kind == "lb-bypass"]  # ipMode: Proxy


def test_lb_bypass_linode() -> None:
    """A Linode NodeBalancer with PROXY v2 and a plain IP in status is bypassed in-cluster."""
    finding = only(run(f"{EX}/01-lb-bypass-proxy-protocol/manifests.yaml"), "lb-bypass")
    assert ("load balancer proxyProtocol", "v2") in finding.evidence


def test_forwarded_headers_cidr() -> None:
    """proxy-real-ip-cidr 0.0.0.0/0 is reported with the CIDR it read."""
    result = run("nodes-gke", "ingress-real-ip-everything")
    titles = [f.title for f in result.findings if f.kind == "forwarded-headers"]
    assert titles == ["proxy-real-ip-cidr trusts every address"]


def test_preStop_long_enough_is_clean() -> None:
    """A preStop sleep longer than the LB's detection time gives no slow-health-check."""
    result = run("nodes-aws", "app-web-spread", "svc-web-aws-nlb-local-hcnp")
    assert not [f for f in result.findings if f.kind == "slow-health-check"]
