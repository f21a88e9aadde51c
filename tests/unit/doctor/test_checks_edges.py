"""Where a check stays silent, and the less common branches of the checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from srcip.doctor import Diagnosis
from tests.unit.doctor.editing import diagnose_edited

FIXTURES = Path(__file__).parent / "fixtures"
EX = Path(__file__).resolve().parents[3] / "examples/user-scenarios"


def edited(
    paths: list[Path], kind: str, name: str, edit: Callable[[dict[str, Any]], None]
) -> Diagnosis:
    """Diagnose ``paths`` after ``edit`` changed the object ``kind``/``name`` in place."""
    return diagnose_edited(paths, (kind, name, edit))


def kinds(result: Diagnosis) -> list[str]:
    """The finding kinds, in report order."""
    return [f.kind for f in result.findings]


def test_unknown_key_in_the_read_configmap() -> None:
    """A misspelt key in the controller's own ConfigMap is reported with a suggestion."""

    def typo(cm: dict[str, Any]) -> None:
        cm["data"] = {"use-forwarded-header": "true", "proxy-real-ip-cidr": "10.0.0.0/8"}

    result = edited(
        [FIXTURES / "nodes-gke.yaml", FIXTURES / "ingress-real-ip-everything.yaml"],
        "ConfigMap",
        "ingress-nginx-controller",
        typo,
    )
    (finding,) = [f for f in result.findings if f.kind == "configmap-not-read"]
    assert finding.title == (
        "ConfigMap ingress-nginx/ingress-nginx-controller: use-forwarded-header is not an "
        "ingress-nginx key"
    )
    assert "did you mean use-forwarded-headers?" in finding.explanation
    assert "forwarded-headers" not in kinds(result)  # 10.0.0.0/8 is narrow


def test_rejected_value_in_the_read_configmap() -> None:
    """A value ingress-nginx refuses to load is an error finding, not a crash."""

    def garbage(cm: dict[str, Any]) -> None:
        cm["data"] = {"proxy-real-ip-cidr": "10.0.0.0/8,garbage"}

    result = edited(
        [FIXTURES / "nodes-gke.yaml", FIXTURES / "ingress-real-ip-everything.yaml"],
        "ConfigMap",
        "ingress-nginx-controller",
        garbage,
    )
    (finding,) = [f for f in result.findings if f.kind == "configmap-not-read"]
    assert finding.severity == "error"
    assert finding.evidence == (
        (
            "ConfigMap ingress-nginx/ingress-nginx-controller data.proxy-real-ip-cidr",
            "10.0.0.0/8,garbage",
        ),
    )
    assert "forwarded-headers" not in kinds(result)  # garbage is no catch-all CIDR


def test_proxy_trust_satisfied() -> None:
    """use-forwarded-headers in the ConfigMap the controller reads silences proxy-trust."""

    def trust(cm: dict[str, Any]) -> None:
        cm["data"] = {"use-forwarded-headers": "true"}

    result = edited(
        [FIXTURES / "nodes-aws.yaml", EX / "08-configmap-not-read/manifests.yaml"],
        "ConfigMap",
        "ingress-nginx-controller",
        trust,
    )
    assert "proxy-trust" not in kinds(result)
    assert "forwarded-headers" not in kinds(result)  # the LB is L7: it writes the header


def test_istio_tproxy_keeps_the_source() -> None:
    """An Istio sidecar in TPROXY mode does not re-originate: no sidecar finding."""

    def tproxy(deploy: dict[str, Any]) -> None:
        meta = deploy["spec"]["template"]["metadata"]
        meta["annotations"] = {"sidecar.istio.io/interceptionMode": "TPROXY"}

    result = edited([EX / "23-istio-sidecar-loopback/manifests.yaml"], "Deployment", "api", tproxy)
    assert "sidecar" not in kinds(result)


def test_netpol_without_client_block() -> None:
    """A policy allowing everyone (0.0.0.0/0) is not defeated by SNAT."""

    def everyone(policy: dict[str, Any]) -> None:
        policy["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"] = "0.0.0.0/0"

    files = ["nodes-gke", "app-web-spread", "svc-web-gke-cluster", "netpol-allow-specific-clients"]
    result = edited(
        [FIXTURES / f"{n}.yaml" for n in files],
        "NetworkPolicy",
        "allow-specific-clients",
        everyone,
    )
    assert "netpol-ipblock-snat" not in kinds(result)
    assert "cluster-node-addresses" in kinds(result)


def test_k3s_local_is_info() -> None:
    """k3s ServiceLB with Local is information only: pods on the entry node keep the client."""

    def local(svc: dict[str, Any]) -> None:
        svc["spec"]["externalTrafficPolicy"] = "Local"

    result = edited([EX / "25-k3s-servicelb/manifests.yaml"], "Service", "whoami", local)
    (finding,) = [f for f in result.findings if f.kind == "k3s-servicelb"]
    assert finding.severity == "info"
