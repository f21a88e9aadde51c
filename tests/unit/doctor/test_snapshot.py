"""load_snapshot: the Cluster plus the extras the manifests layer does not keep."""

from __future__ import annotations

from pathlib import Path

from srcip.doctor.snapshot import (
    AddressPool,
    Advertisement,
    Container,
    FelixConfig,
    IngressInfo,
    load_snapshot,
)
from srcip.errors import Where
from srcip.manifests import read_documents
from srcip.model.enums import ProxyMode

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]


def _at(i: int) -> Where:
    return Where(file="cluster:test", document=i)


def test_metallb_objects_from_a_list() -> None:
    """IPAddressPool and L2Advertisement inside a kind: List become Extras."""
    snapshot = load_snapshot(read_documents([FIXTURES / "metallb-l2.yaml"]))
    assert snapshot.extras.address_pools == (
        AddressPool(namespace="metallb-system", name="production", addresses=("198.51.100.0/28",)),
    )
    assert snapshot.extras.advertisements == (
        Advertisement(
            kind="L2Advertisement",
            namespace="metallb-system",
            name="production",
            pools=("production",),
        ),
    )
    assert [s.key for s in snapshot.cluster.services] == ["default/web"]


def test_daemonset_containers_and_env() -> None:
    """A DaemonSet's containers keep their command, args and literal env values only."""
    snapshot = load_snapshot(read_documents([FIXTURES / "kube-proxy-daemonset.yaml"]))
    (owner,) = snapshot.extras.owners
    assert (owner.kind, owner.key) == ("DaemonSet", "kube-system/kube-proxy")
    assert owner.containers == (
        Container(
            name="kube-proxy",
            image="registry.k8s.io/kube-proxy:v1.31.2",
            args=(
                "/usr/local/bin/kube-proxy",
                "--config=/var/lib/kube-proxy/config.conf",
                "--hostname-override=$(NODE_NAME)",
            ),
            env=(),  # NODE_NAME comes from valueFrom
        ),
    )


def test_ingress_hosts_class_and_annotations() -> None:
    """An Ingress keeps its class (or the legacy annotation), hosts and annotations."""
    docs = [
        (
            _at(1),
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "shop",
                    "namespace": "web",
                    "annotations": {
                        "kubernetes.io/ingress.class": "nginx",
                        "nginx.ingress.kubernetes.io/auth-url": "https://shop.example.com/auth",
                    },
                },
                "spec": {"rules": [{"host": "shop.example.com"}, {"http": {}}]},
            },
        )
    ]
    snapshot = load_snapshot(docs)
    assert snapshot.extras.ingresses == (
        IngressInfo(
            namespace="web",
            name="shop",
            class_name="nginx",
            hosts=("shop.example.com",),
            annotations=(
                ("kubernetes.io/ingress.class", "nginx"),
                ("nginx.ingress.kubernetes.io/auth-url", "https://shop.example.com/auth"),
            ),
        ),
    )


def test_felix_configuration() -> None:
    """Calico's FelixConfiguration gives bpfEnabled and bpfExternalServiceMode."""
    body = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "FelixConfiguration",
        "metadata": {"name": "default"},
        "spec": {"bpfEnabled": True, "bpfExternalServiceMode": "DSR"},
    }
    snapshot = load_snapshot([(_at(1), body)])
    assert snapshot.extras.felix == (
        FelixConfig(name="default", bpf_enabled=True, bpf_external_service_mode="DSR"),
    )


def test_unknown_shape_is_noted_not_fatal() -> None:
    """A CRD of a shape the doctor does not understand is skipped with a note."""
    body = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": "odd", "namespace": "metallb-system"},
        "spec": {"ipAddressPools": "production"},
    }
    snapshot = load_snapshot([(_at(1), body), (_at(2), None)])
    assert snapshot.extras.advertisements == ()
    assert snapshot.notes == (
        "L2Advertisement odd: not understood (expected a list, got str); skipped",
    )


def test_ipvs_mode_is_modelled_as_iptables_and_kept() -> None:
    """kube-proxy mode ipvs loads (as iptables, noted) and the real mode stays in Extras."""
    snapshot = load_snapshot(read_documents([FIXTURES / "kube-proxy-ipvs.yaml"]))
    assert snapshot.extras.kube_proxy_mode == "ipvs"
    assert snapshot.cluster.proxy_config.mode is ProxyMode.IPTABLES
    assert any("modelled as iptables" in note for note in snapshot.notes)


def test_ipvs_inside_a_list() -> None:
    """The kube-proxy ConfigMap is found inside a kind: List too."""
    (_, body), *_ = read_documents([FIXTURES / "kube-proxy-ipvs.yaml"])
    listing = {"apiVersion": "v1", "kind": "List", "items": [body]}
    assert load_snapshot([(_at(1), listing)]).extras.kube_proxy_mode == "ipvs"


def test_other_configmaps_untouched() -> None:
    """A kube-proxy ConfigMap in iptables mode and unrelated objects pass unchanged."""
    path = ROOT / "examples/user-scenarios/01-lb-bypass-proxy-protocol/manifests.yaml"
    snapshot = load_snapshot(read_documents([path]))
    assert snapshot.extras.kube_proxy_mode is None
    assert snapshot.notes == ()


def test_a_scenario_document_is_skipped_with_a_note() -> None:
    """srcip's own kind: Scenario (hops, clients) is not a cluster object: skipped, noted."""
    example = ROOT / "examples" / "user-scenarios" / "07-forwarded-headers-spoofing"
    files = [example / "manifests.yaml", example / "scenario.yaml"]
    snapshot = load_snapshot(read_documents(files))
    assert snapshot.cluster.scenario is None
    assert any("kind: Scenario document was skipped" in note for note in snapshot.notes)
