"""``KubeProxyConfiguration`` → :class:`srcip.model.objects.KubeProxyConfig`.

Read by hand: the type lives in kube-proxy's own component-config API
(``kubeproxy.config.k8s.io/v1alpha1``), which the apiserver does not serve, so no OpenAPI
schema and no lightkube class exist for it. Only the fields that decide packet handling are
read; the rest (conntrack, client connection, metrics, ...) is ignored. Defaults are
kube-proxy's own: mode iptables, ``detectLocalMode`` ClusterCIDR,
``iptables.localhostNodePorts`` true, ``syncPeriod`` 30s, ``healthzBindAddress``
``0.0.0.0:10256``. kubeadm ships the configuration as the ``config.conf`` key of the
``kube-proxy`` ConfigMap; :func:`embedded_configuration` unwraps that layout.

Modelled modes are iptables and nftables (KP §15); ipvs and Windows' kernelspace are
refused rather than silently treated as iptables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from srcip.errors import ManifestError
from srcip.manifests.documents import Document
from srcip.manifests.fields import parse_cidr, parse_enum, parse_ip
from srcip.model.enums import DetectLocalMode, ProxyMode
from srcip.model.objects import IPNetwork, KubeProxyConfig

__all__ = [
    "API_VERSION",
    "CONFIG_MAP_KEY",
    "CONFIG_MAP_NAME",
    "KIND",
    "embedded_configuration",
    "parse_go_duration",
    "parse_kube_proxy_configuration",
]

API_VERSION = "kubeproxy.config.k8s.io/v1alpha1"
KIND = "KubeProxyConfiguration"
CONFIG_MAP_NAME = "kube-proxy"
CONFIG_MAP_KEY = "config.conf"
DEFAULT_HEALTHZ_PORT = 10256
_UNMODELLED_MODES = frozenset({"ipvs", "kernelspace"})
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_HOST_PORT = re.compile(r"(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*))(?::(?P<port>\d*))?")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both micro signs
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_kube_proxy_configuration(doc: Document, *, prefix: str = "") -> KubeProxyConfig:
    """Read one configuration; field names in errors start with ``prefix``."""
    body, at = doc.body, _Fields(doc, prefix)
    mode = _mode(at, body.get("mode"))
    iptables, nftables = at.section(body, "iptables"), at.section(body, "nftables")
    masquerade = iptables if mode is ProxyMode.IPTABLES else nftables
    section = "iptables" if mode is ProxyMode.IPTABLES else "nftables"
    node_ports, primary = _node_port_addresses(at, body.get("nodePortAddresses"))
    return KubeProxyConfig(
        mode=mode,
        cluster_cidrs=_cluster_cidrs(at, body.get("clusterCIDR")),
        detect_local_mode=parse_enum(
            doc,
            DetectLocalMode,
            body.get("detectLocalMode"),
            at.name("detectLocalMode"),
            DetectLocalMode.CLUSTER_CIDR,
        ),
        node_port_addresses=node_ports,
        node_port_addresses_primary=primary,
        masquerade_all=at.boolean(masquerade, f"{section}.masqueradeAll", default=False),
        localhost_node_ports=at.boolean(iptables, "iptables.localhostNodePorts", default=True),
        feature_gates=_feature_gates(at, body.get("featureGates")),
        sync_period_seconds=_sync_period(at, body.get("syncPeriod")),
        healthz_port=_healthz_port(at, body.get("healthzBindAddress")),
    )


class _Fields:
    """Typed access to the hand-read fields, with errors naming ``prefix + field``."""

    def __init__(self, doc: Document, prefix: str) -> None:
        self.doc, self.prefix = doc, prefix

    def name(self, field: str) -> str:
        return self.prefix + field

    def fail(self, problem: str, field: str, value: object, fix: str) -> ManifestError:
        return self.doc.error(problem, field=self.name(field), value=value, fix=fix)

    def section(self, body: Mapping[str, Any], field: str) -> Mapping[str, Any]:
        value = body.get(field)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail("must be a mapping", field, value, f"write {field} as a mapping")
        return value

    def boolean(self, section: Mapping[str, Any], field: str, *, default: bool) -> bool:
        value = section.get(field.rpartition(".")[2])
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail("must be true or false", field, value, "write true or false")
        return value


def _mode(at: _Fields, value: object) -> ProxyMode:
    if isinstance(value, str) and value in _UNMODELLED_MODES:
        raise at.fail(
            "is a kube-proxy mode srcip does not model",
            "mode",
            value,
            "srcip models iptables and nftables; set mode: iptables or nftables to see what "
            "they would do",
        )
    # "" is kube-proxy's own way of saying "the default", which is iptables on Linux.
    return parse_enum(at.doc, ProxyMode, value, at.name("mode"), ProxyMode.IPTABLES)


def _cluster_cidrs(at: _Fields, value: object) -> tuple[IPNetwork, ...]:
    """Comma-separated; empty means no ClusterCIDR detector, so no pod traffic (KP terms)."""
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise at.fail("must be a string", "clusterCIDR", value, "write e.g. 10.244.0.0/16")
    return tuple(
        parse_cidr(at.doc, text.strip(), at.name("clusterCIDR")) for text in value.split(",")
    )


def _node_port_addresses(at: _Fields, value: object) -> tuple[tuple[IPNetwork, ...], bool]:
    """A list of CIDRs, or the single word ``primary`` (KP §3.4)."""
    if value is None:
        return (), False
    if not isinstance(value, list):
        raise at.fail(
            "must be a list", "nodePortAddresses", value, "write e.g. [10.0.0.0/8] or [primary]"
        )
    if "primary" in value:
        if len(value) > 1:
            raise at.fail(
                "may hold 'primary' only on its own",
                "nodePortAddresses",
                value,
                "write [primary], or a list of CIDRs",
            )
        return (), True
    return tuple(
        parse_cidr(at.doc, text, at.name(f"nodePortAddresses[{index}]"))
        for index, text in enumerate(value)
    ), False


def _feature_gates(at: _Fields, value: object) -> tuple[tuple[str, bool], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise at.fail("must be a mapping", "featureGates", value, "write name: true|false pairs")
    for name, enabled in value.items():
        if not isinstance(name, str) or not isinstance(enabled, bool):
            raise at.fail(
                "must map gate names to true or false",
                f"featureGates[{name!r}]",
                enabled,
                "write e.g. featureGates: {LoadBalancerIPMode: true}",
            )
    return tuple(sorted(value.items()))


def _sync_period(at: _Fields, value: object) -> float:
    if value is None:
        return 30.0
    seconds = parse_go_duration(value) if isinstance(value, str) else None
    if seconds is None or seconds <= 0:
        raise at.fail(
            "is not a positive Go duration",
            "syncPeriod",
            value,
            "write a duration such as 30s or 1m0s",
        )
    return seconds


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go ``time.Duration`` string (``1h2m3.5s``, ``-30s``, ``0``), else None."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text.startswith(("-", "+")) else text
    if body == "0":
        return 0.0
    parts: list[tuple[str, str]] = _DURATION_PART.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        return None
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _healthz_port(at: _Fields, value: object) -> int:
    """The port of ``healthzBindAddress`` (``host:port``, ``[v6]:port`` or ``host``)."""
    if value is None or value == "":
        return DEFAULT_HEALTHZ_PORT
    fix = "write host:port, e.g. 0.0.0.0:10256 or [::]:10256"
    if not isinstance(value, str):
        raise at.fail("must be a string", "healthzBindAddress", value, fix)
    match = _HOST_PORT.fullmatch(value)
    host = (match["host"] if match["v6"] is None else match["v6"]) if match else value
    parse_ip(at.doc, host, at.name("healthzBindAddress"))
    port = match["port"] if match else None
    if port is None:
        return DEFAULT_HEALTHZ_PORT  # a bare host: kube-proxy appends its default port
    if not port or not 1 <= int(port) <= 65535:
        raise at.fail("has no valid port", "healthzBindAddress", value, fix)
    return int(port)


def embedded_configuration(doc: Document) -> Document | None:
    """The configuration inside kubeadm's ``kube-proxy`` ConfigMap; None if it has none."""
    data = doc.body.get("data")
    if not isinstance(data, Mapping) or CONFIG_MAP_KEY not in data:
        return None
    field = f"data[{CONFIG_MAP_KEY!r}]"
    text = data[CONFIG_MAP_KEY]
    if not isinstance(text, str):
        raise doc.error("must be a string", field=field, value=text, fix="quote the YAML text")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise doc.error(
            f"does not parse as YAML: {exc}".replace("\n", " "),
            field=field,
            fix="correct the embedded configuration's syntax",
        ) from exc
    if not isinstance(body, Mapping) or (body.get("apiVersion"), body.get("kind")) != (
        API_VERSION,
        KIND,
    ):
        raise doc.error(
            f"does not hold a {API_VERSION} {KIND}",
            field=field,
            fix=f"start it with apiVersion: {API_VERSION} and kind: {KIND}",
        )
    return Document(where=doc.where, api_version=API_VERSION, kind=KIND, body=dict(body))
