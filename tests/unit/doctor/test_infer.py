"""infer: what the doctor infers, each fact with the object it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcip.doctor.infer import Inferred, infer
from srcip.doctor.snapshot import load_snapshot
from srcip.errors import Where
from srcip.manifests import read_documents

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "examples/user-scenarios"


def test_cilium_kpr_default_snat() -> None:
    """cilium-config without bpf-lb-mode is KPR in Cilium's default snat mode."""
    result = infer(load_snapshot(read_documents([FIXTURES / "cilium-kpr.yaml"])))
    assert (result.replacement, result.cilium_lb_mode) == ("cilium", "snat")
    assert (
        Inferred(name="Cilium LB mode", value="snat", source="bpf-lb-mode absent: Cilium default")
        in result.facts
    )
    masquerade = {f.name: f.value for f in result.facts if f.name.startswith("CNI ")}
    assert masquerade == {"CNI enable-ipv4-masquerade": "true", "CNI enable-bpf-masquerade": "true"}


def test_calico_ebpf() -> None:
    """FelixConfiguration bpfEnabled is Calico's eBPF replacement (Tunnel by default)."""
    body = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "FelixConfiguration",
        "metadata": {"name": "default"},
        "spec": {"bpfEnabled": True},
    }
    result = infer(load_snapshot([(Where(file="t", document=1), body)]))
    assert result.replacement == "calico-ebpf"
    assert any(f.value == "Tunnel" for f in result.facts)


def test_ingress_controller_configmap_from_args() -> None:
    """The controller's --configmap flag, $(POD_NAMESPACE) expanded, names what it reads."""
    result = infer(load_snapshot(read_documents([EX / "08-configmap-not-read/manifests.yaml"])))
    (controller,) = result.ingress_controllers
    assert controller.config_map == "ingress-nginx/ingress-nginx-controller"
    assert controller.owner == "Deployment ingress-nginx/ingress-nginx-controller"


def test_sidecars_by_container_and_annotation() -> None:
    """istio-proxy / linkerd-proxy containers, or an injection annotation, mark a sidecar."""
    istio = infer(load_snapshot(read_documents([EX / "23-istio-sidecar-loopback/manifests.yaml"])))
    assert [(s.mesh, s.tproxy) for s in istio.sidecars] == [("istio", False)]
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {
                    "labels": {"app": "api"},
                    "annotations": {
                        "sidecar.istio.io/inject": "true",
                        "sidecar.istio.io/interceptionMode": "TPROXY",
                    },
                },
                "spec": {"containers": [{"name": "api", "image": "api:1"}]},
            },
        },
    }
    (sidecar,) = infer(load_snapshot([(Where(file="t", document=1), body)])).sidecars
    assert (sidecar.mesh, sidecar.tproxy) == ("istio", True)
    assert sidecar.source == "Deployment shop/api annotation sidecar.istio.io/inject=true"


def test_cni_env_masquerade() -> None:
    """A CNI DaemonSet's masquerade env (Calico NAT outgoing) is shown as inferred."""
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "calico-node"}},
                "spec": {
                    "containers": [
                        {
                            "name": "calico-node",
                            "env": [
                                {"name": "CALICO_IPV4POOL_NAT_OUTGOING", "value": "true"},
                                {"name": "DATASTORE_TYPE", "value": "kubernetes"},
                            ],
                        }
                    ]
                },
            },
        },
    }
    result = infer(load_snapshot([(Where(file="t", document=1), body)]))
    assert [(f.name, f.value) for f in result.facts if f.name.startswith("CNI")] == [
        ("CNI CALICO_IPV4POOL_NAT_OUTGOING", "true")
    ]
    assert not result.kube_proxy_running


def test_kube_proxy_configmap_source() -> None:
    """With the kube-proxy ConfigMap the mode's source names it; kube-proxy's DaemonSet counts."""
    snapshot = load_snapshot(
        read_documents([FIXTURES / "kube-proxy-ipvs.yaml", FIXTURES / "kube-proxy-daemonset.yaml"])
    )
    result = infer(snapshot)
    assert result.facts[0] == Inferred(
        name="kube-proxy mode", value="ipvs", source="ConfigMap kube-system/kube-proxy"
    )
    values = {f.name: f.value for f in result.facts}
    assert values["kube-proxy detectLocalMode"] == "ClusterCIDR (clusterCIDR 10.244.0.0/16)"
    assert values["kube-proxy masqueradeAll"] == "false"
    assert values["kube-proxy nodePortAddresses"] == "default for the mode"
    assert result.kube_proxy_running


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        pytest.param(
            "nodePortAddresses: [primary]", "primary (each node's primary IPs)", id="primary"
        ),
        pytest.param("nodePortAddresses: [10.0.1.0/24]", "10.0.1.0/24", id="cidr"),
    ],
)
def test_kube_proxy_node_port_addresses_are_shown(setting: str, shown: str) -> None:
    """nodePortAddresses from the kube-proxy ConfigMap: which node addresses take NodePorts."""
    docs = list(read_documents([FIXTURES / "kube-proxy-ipvs.yaml"]))
    for _, doc in docs:
        assert isinstance(doc, dict)
        doc["data"]["config.conf"] += f"\n{setting}"
    values = {f.name: f.value for f in infer(load_snapshot(docs)).facts}
    assert values["kube-proxy nodePortAddresses"] == shown
