"""KubeProxyConfiguration: fields, defaults, Go durations, kubeadm's ConfigMap layout."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.kubeproxyconfig import (
    embedded_configuration,
    parse_go_duration,
    parse_kube_proxy_configuration,
)
from srcip.model.enums import DetectLocalMode, ProxyMode
from srcip.model.objects import KubeProxyConfig
from tests.unit.manifests.builders import as_document, proxy_configuration


def parsed(**fields: Any) -> KubeProxyConfig:
    """Parse a configuration with ``fields``."""
    return parse_kube_proxy_configuration(as_document(proxy_configuration(**fields)))


def error(**fields: Any) -> ManifestError:
    """The error parsing a configuration with ``fields`` raises."""
    with pytest.raises(ManifestError) as caught:
        parsed(**fields)
    return caught.value


def test_empty_configuration_gives_kube_proxy_defaults() -> None:
    """Nothing set: iptables, no detector CIDR, localhost NodePorts on, 30s, port 10256."""
    assert parsed() == KubeProxyConfig()


def test_every_field_is_read() -> None:
    """All modelled fields convert."""
    config = parsed(
        mode="nftables",
        clusterCIDR="10.244.0.0/16, fd00:244::/56",
        detectLocalMode="NodeCIDR",
        nodePortAddresses=["10.0.0.0/8", "192.168.1.1/24"],
        iptables={"masqueradeAll": False, "localhostNodePorts": False},
        nftables={"masqueradeAll": True},
        featureGates={"LoadBalancerIPMode": False, "A": True},
        syncPeriod="1m0s",
        healthzBindAddress="0.0.0.0:10257",
        conntrack={"maxPerCore": 0},
    )
    assert config == KubeProxyConfig(
        mode=ProxyMode.NFTABLES,
        cluster_cidrs=(ip_network("10.244.0.0/16"), ip_network("fd00:244::/56")),
        detect_local_mode=DetectLocalMode.NODE_CIDR,
        node_port_addresses=(ip_network("10.0.0.0/8"), ip_network("192.168.1.0/24")),
        masquerade_all=True,
        localhost_node_ports=False,
        feature_gates=(("A", True), ("LoadBalancerIPMode", False)),
        sync_period_seconds=60.0,
        healthz_port=10257,
    )


@pytest.mark.parametrize(
    ("fields", "mode", "masquerade_all"),
    [
        pytest.param({"mode": ""}, ProxyMode.IPTABLES, False, id="empty-is-iptables"),
        pytest.param(
            {"mode": "iptables", "iptables": {"masqueradeAll": True}, "nftables": {}},
            ProxyMode.IPTABLES,
            True,
            id="iptables-masquerade",
        ),
        pytest.param(
            {"iptables": {"masqueradeAll": True}, "mode": "nftables"},
            ProxyMode.NFTABLES,
            False,
            id="nftables-reads-its-own-section",
        ),
    ],
)
def test_mode_and_its_masquerade_setting(
    fields: dict[str, Any], mode: ProxyMode, masquerade_all: bool
) -> None:
    """masquerade_all is the setting of the configured mode's section."""
    config = parsed(**fields)
    assert (config.mode, config.masquerade_all) == (mode, masquerade_all)


@pytest.mark.parametrize(
    ("value", "cidrs", "primary"),
    [
        pytest.param(None, (), False, id="absent"),
        pytest.param([], (), False, id="empty"),
        pytest.param(["primary"], (), True, id="primary"),
    ],
)
def test_node_port_addresses(
    value: list[str] | None, cidrs: tuple[str, ...], primary: bool
) -> None:
    """nodePortAddresses: CIDRs, or the word primary (KP §3.4)."""
    config = parsed(nodePortAddresses=value)
    assert config.node_port_addresses == tuple(ip_network(c) for c in cidrs)
    assert config.node_port_addresses_primary is primary


def test_empty_cluster_cidr_means_no_detector() -> None:
    """clusterCIDR "" leaves no CIDR, so nothing is pod traffic."""
    assert parsed(clusterCIDR="").cluster_cidrs == ()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("1m0s", 60.0, id="minutes"),
        pytest.param("1h2m3.5s", 3723.5, id="mixed"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("2us", 2e-6, id="micro-u"),
        pytest.param("2µs", 2e-6, id="micro-sign"),
        pytest.param("3ns", 3e-9, id="nano"),
        pytest.param("+10s", 10.0, id="plus"),
        pytest.param("-10s", -10.0, id="minus"),
        pytest.param("0", 0.0, id="bare-zero"),
        pytest.param("10", None, id="no-unit"),
        pytest.param("10x", None, id="bad-unit"),
        pytest.param("1s 2s", None, id="space"),
        pytest.param("", None, id="empty"),
        pytest.param("s", None, id="unit-only"),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    """Go's time.ParseDuration syntax."""
    result = parse_go_duration(text)
    assert result == pytest.approx(seconds) if seconds is not None else result is None


@pytest.mark.parametrize(
    ("value", "port"),
    [
        pytest.param("", 10256, id="empty"),
        pytest.param("0.0.0.0:10256", 10256, id="ipv4"),
        pytest.param("127.0.0.1:9999", 9999, id="other-port"),
        pytest.param("[::]:12345", 12345, id="ipv6"),
        pytest.param("[::1]", 10256, id="ipv6-no-port"),
        pytest.param("0.0.0.0", 10256, id="host-only"),
        pytest.param("::", 10256, id="bare-ipv6"),
    ],
)
def test_healthz_bind_address_gives_the_port(value: str, port: int) -> None:
    """The health server's port; a bare host gets kube-proxy's default port."""
    assert parsed(healthzBindAddress=value).healthz_port == port


@pytest.mark.parametrize(
    ("fields", "field", "value", "problem"),
    [
        pytest.param({"mode": "ipvs"}, "mode", "ipvs", "does not model", id="ipvs"),
        pytest.param(
            {"mode": "kernelspace"}, "mode", "kernelspace", "does not model", id="kernelspace"
        ),
        pytest.param({"mode": "bpf"}, "mode", "bpf", "is not a valid value", id="mode"),
        pytest.param({"mode": ["x"]}, "mode", ["x"], "is not a valid value", id="mode-list"),
        pytest.param({"clusterCIDR": 10}, "clusterCIDR", 10, "must be a string", id="cidr-type"),
        pytest.param(
            {"clusterCIDR": "10.244.0.0/16,bad"}, "clusterCIDR", "bad", "not a CIDR", id="cidr"
        ),
        pytest.param(
            {"detectLocalMode": "Magic"},
            "detectLocalMode",
            "Magic",
            "is not a valid value",
            id="detect-local",
        ),
        pytest.param(
            {"nodePortAddresses": "primary"},
            "nodePortAddresses",
            "primary",
            "must be a list",
            id="npa-string",
        ),
        pytest.param(
            {"nodePortAddresses": ["primary", "10.0.0.0/8"]},
            "nodePortAddresses",
            ["primary", "10.0.0.0/8"],
            "may hold 'primary' only on its own",
            id="npa-mixed",
        ),
        pytest.param(
            {"nodePortAddresses": ["10.0.0.0/8", "x"]},
            "nodePortAddresses[1]",
            "x",
            "is not a CIDR",
            id="npa-cidr",
        ),
        pytest.param(
            {"iptables": ["masqueradeAll"]},
            "iptables",
            ["masqueradeAll"],
            "must be a mapping",
            id="section",
        ),
        pytest.param(
            {"iptables": {"masqueradeAll": "yes"}},
            "iptables.masqueradeAll",
            "yes",
            "must be true or false",
            id="boolean",
        ),
        pytest.param(
            {"featureGates": ["A"]}, "featureGates", ["A"], "must be a mapping", id="gates-type"
        ),
        pytest.param(
            {"featureGates": {"A": "true"}},
            "featureGates['A']",
            "true",
            "must map gate names to true or false",
            id="gate-value",
        ),
        pytest.param(
            {"syncPeriod": 30}, "syncPeriod", 30, "is not a positive Go duration", id="sync-int"
        ),
        pytest.param(
            {"syncPeriod": "0s"}, "syncPeriod", "0s", "not a positive Go duration", id="sync-0"
        ),
        pytest.param(
            {"syncPeriod": "30 s"}, "syncPeriod", "30 s", "not a positive Go", id="sync-syntax"
        ),
        pytest.param(
            {"healthzBindAddress": 10256},
            "healthzBindAddress",
            10256,
            "must be a string",
            id="healthz-type",
        ),
        pytest.param(
            {"healthzBindAddress": "0.0.0.0:"},
            "healthzBindAddress",
            "0.0.0.0:",
            "has no valid port",
            id="healthz-empty-port",
        ),
        pytest.param(
            {"healthzBindAddress": "0.0.0.0:70000"},
            "healthzBindAddress",
            "0.0.0.0:70000",
            "has no valid port",
            id="healthz-port-range",
        ),
        pytest.param(
            {"healthzBindAddress": "localhost:10256"},
            "healthzBindAddress",
            "localhost",
            "is not an IP address",
            id="healthz-host",
        ),
        pytest.param(
            {"healthzBindAddress": "[::]10256"},
            "healthzBindAddress",
            "[::]10256",
            "is not an IP address",
            id="healthz-syntax",
        ),
    ],
)
def test_invalid_configurations_are_refused(
    fields: dict[str, Any], field: str, value: object, problem: str
) -> None:
    """Each bad value names the field, the value and a fix."""
    exc = error(**fields)
    assert str(exc).startswith("cluster.yaml, document 1, KubeProxyConfiguration: ")
    assert (exc.field, exc.value) == (field, value)
    assert problem in str(exc)
    assert exc.fix


# --------------------------------------------------------------------------- ConfigMap layout

EMBEDDED = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: 10.244.0.0/16
"""


def config_map(data: object) -> dict[str, Any]:
    """kubeadm's kube-proxy ConfigMap holding ``data``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
        "data": data,
    }


def test_configuration_embedded_in_config_map_is_unwrapped() -> None:
    """The config.conf key holds the configuration; it keeps the ConfigMap's location."""
    embedded = embedded_configuration(
        as_document(config_map({"config.conf": EMBEDDED, "kubeconfig.conf": "x"}))
    )
    assert embedded is not None
    assert embedded.kind == "KubeProxyConfiguration"
    assert embedded.where.describe() == "cluster.yaml, document 1, ConfigMap kube-system/kube-proxy"
    assert parse_kube_proxy_configuration(embedded).mode is ProxyMode.NFTABLES


@pytest.mark.parametrize(
    "data",
    [pytest.param(None, id="no-data"), pytest.param({"other": "x"}, id="no-key")],
)
def test_config_map_without_configuration_gives_none(data: object) -> None:
    """Without a config.conf key there is nothing to read."""
    assert embedded_configuration(as_document(config_map(data))) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(12, "must be a string", id="not-text"),
        pytest.param("mode: [", "does not parse as YAML", id="bad-yaml"),
        pytest.param("mode: iptables\n", "does not hold a kubeproxy.config", id="no-kind"),
        pytest.param("- a\n", "does not hold a kubeproxy.config", id="not-mapping"),
    ],
)
def test_bad_embedded_configuration_is_refused(text: object, problem: str) -> None:
    """The embedded text must be a KubeProxyConfiguration document."""
    with pytest.raises(ManifestError) as caught:
        embedded_configuration(as_document(config_map({"config.conf": text})))
    assert caught.value.field == "data['config.conf']"
    assert problem in str(caught.value)


def test_embedded_field_errors_carry_the_data_key_prefix() -> None:
    """Errors inside the embedded text name the field under data['config.conf']."""
    embedded = embedded_configuration(
        as_document(config_map({"config.conf": EMBEDDED + "syncPeriod: soon\n"}))
    )
    assert embedded is not None
    with pytest.raises(ManifestError) as caught:
        parse_kube_proxy_configuration(embedded, prefix="data['config.conf'].")
    assert caught.value.field == "data['config.conf'].syncPeriod"
    assert "ConfigMap kube-system/kube-proxy" in str(caught.value)
