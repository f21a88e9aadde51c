"""deploy/: every manifest is valid Kubernetes (offline schemas), loads in srcip, and says
what the docs promise (downward API, probes on /healthz, preStop, spread, both policies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from srcip.manifests import load_cluster
from srcip.model.enums import ServiceType, TrafficPolicy

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))
#: Kinds without a schema in kubernetes-validate: a CRD's object and kustomize's own file.
NOT_IN_SCHEMA = {"ServiceMonitor", "Kustomization"}
#: Oldest and newest Kubernetes versions the manifests are checked against.
VERSIONS = ("1.29.0", "1.37.0")


def documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of ``path``."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> list[dict[str, Any]]:
    """Every document of ``kind`` under deploy/kubernetes."""
    return [doc for path in MANIFESTS for doc in documents(path) if doc["kind"] == kind]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    """Each built-in object validates strictly (no unknown fields) against the schema."""
    for doc in documents(path):
        if doc["kind"] in NOT_IN_SCHEMA:
            continue
        kubernetes_validate.validate(doc, version, strict=True)


def test_validation_would_catch_a_mistake() -> None:
    """The schema check is real: a misspelt field fails it."""
    (deployment,) = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_manifests_load_in_srcip() -> None:
    """srcip's own loader reads every file; the two LoadBalancer Services differ by policy."""
    cluster = load_cluster(MANIFESTS)
    services = {s.name: s for s in cluster.services}
    assert services["echo-local"].type is ServiceType.LOAD_BALANCER
    assert services["echo-local"].external_traffic_policy is TrafficPolicy.LOCAL
    assert services["echo-cluster"].type is ServiceType.LOAD_BALANCER
    assert services["echo-cluster"].external_traffic_policy is TrafficPolicy.CLUSTER
    ignored = [note for note in cluster.notes if note.startswith("ignored")]
    assert len(ignored) == 2  # the ServiceMonitor and the Kustomization, nothing else


def test_deployment_has_downward_api_probes_prestop_and_spread() -> None:
    """Downward-API env, /healthz probes, a preStop sleep, spread over nodes, non-root."""
    (deployment,) = by_kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {
        "NODE_NAME": "spec.nodeName",
        "POD_NAME": "metadata.name",
        "POD_NAMESPACE": "metadata.namespace",
        "POD_IP": "status.podIP",
        "NODE_IP": "status.hostIP",
    }
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    args = container["args"]
    port = int(args[args.index("--port") + 1])
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    grace = float(args[args.index("--grace") + 1])
    sleep = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert sleep + grace < pod["terminationGracePeriodSeconds"]


def test_services_select_the_pods_and_the_monitor_selects_metrics() -> None:
    """Every Service selects the Deployment's pods; the ServiceMonitor finds the metrics port."""
    (deployment,) = by_kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    services = {s["metadata"]["name"]: s for s in by_kind("Service")}
    assert set(services) == {"echo-local", "echo-cluster", "echo-metrics"}
    for service in services.values():
        assert service["spec"]["selector"].items() <= labels.items()
    (monitor,) = by_kind("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selected = [
        s for s in services.values()
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]  # fmt: skip
    assert [s["metadata"]["name"] for s in selected] == ["echo-metrics"]
    port_names = {p["name"] for p in selected[0]["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["port"] in port_names
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_kustomization_lists_every_plain_manifest() -> None:
    """kustomization.yaml names every manifest but the CRD-dependent ServiceMonitor."""
    (kustomization,) = documents(KUBERNETES / "kustomization.yaml")
    listed = set(kustomization["resources"])
    expected = {p.name for p in MANIFESTS} - {"kustomization.yaml", "servicemonitor.yaml"}
    assert listed == expected


def test_dockerfile_runs_srcip_echo_unprivileged_with_a_healthcheck() -> None:
    """The image: a slim Python base, a non-root user, srcip echo as entrypoint, HEALTHCHECK."""
    lines = [
        line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]  # fmt: skip
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms
    assert all("-slim" in line for line in froms)
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert 'ENTRYPOINT ["srcip", "echo"]' in lines
    healthcheck = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert "/healthz" in " ".join(lines[healthcheck : healthcheck + 2])
    assert any(line.startswith("EXPOSE 8080") for line in lines)
