"""Per-provider presets: each reads the Service's annotations into a :class:`Draft`.

A preset runs after srcip's defaults and before ``spec.loadBalancer``; every value it puts
names its source (the provider default with the upstream file or doc, or the annotation and
its value). Sources per provider are listed in ``docs/reference/providers.md``; values
marked *unverified* there could not be confirmed from the controller's code or docs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from srcip.model.loadbalancer import EffectiveHealthCheck, EffectiveLoadBalancer, Setting
from srcip.model.objects import IPAddress, Service
from srcip.model.scenario import (
    Announcement,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)

__all__ = ["PRESETS", "Draft"]

_T = TypeVar("_T")
_HTTP, _TCP = HealthCheckProtocol.HTTP, HealthCheckProtocol.TCP
_HCNP = HealthCheckTarget.HEALTH_CHECK_NODE_PORT
_TRAFFIC = HealthCheckTarget.TRAFFIC_PORT
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "-".join(str(v) for v in value)
    return "none" if value is None else str(value)


def seconds(value: str) -> float | None:
    """``10``, ``10s``, ``1m``, ``500ms`` (Go durations, one unit) → seconds; else None."""
    text = value.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            text, scale = text[: -len(unit)], _UNITS[unit]
            break
    else:
        scale = 1.0
    try:
        return float(text) * scale
    except ValueError:
        return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


@dataclass(slots=True, kw_only=True)
class Draft:
    """Settings being resolved: value and source per field path, plus notes."""

    annotations: Mapping[str, str]
    service: Service
    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        """``externalTrafficPolicy: Local`` on an externally reachable Service."""
        return self.service.external_policy_local

    @property
    def first_port(self) -> int | None:
        """The Service's first port number (presets read per-port keys for it)."""
        return self.service.ports[0].port if self.service.ports else None

    @property
    def hc_proxy(self) -> bool:
        """The probes carry the PROXY header."""
        return self.values.get("healthCheck.proxyHeader") is True

    def put(self, name: str, value: object, source: str) -> None:
        """Set ``name`` (a Scenario field path) to ``value``, replacing any earlier layer."""
        self.values[name] = value
        self.sources[name] = source

    def get(self, name: str) -> object:
        """The current value of ``name``."""
        return self.values.get(name)

    def note(self, text: str) -> None:
        """Record a contradiction or caveat."""
        self.notes.append(text)

    def ann(self, key: str) -> str | None:
        """The annotation's value, stripped, or None."""
        value = self.annotations.get(key)
        return None if value is None else value.strip()

    def health(self, source: str, protocol: HealthCheckProtocol, target: HealthCheckTarget) -> None:
        """Set the probe's protocol and target; HTTP to kube-proxy probes ``/healthz``."""
        self.put("healthCheck.protocol", protocol, source)
        self.put("healthCheck.target", target, source)
        kube_proxy = target in (_HCNP, HealthCheckTarget.PROXY_HEALTHZ)
        path = "/healthz" if kube_proxy else "/"
        self.put("healthCheck.path", path if protocol is not _TCP else None, source)

    def timing(
        self, source: str, *, interval: float, timeout: float, healthy: int, unhealthy: int
    ) -> None:
        """Set interval, timeout and thresholds together."""
        self.put("healthCheck.intervalSeconds", float(interval), source)
        self.put("healthCheck.timeoutSeconds", float(timeout), source)
        self.put("healthCheck.healthyThreshold", healthy, source)
        self.put("healthCheck.unhealthyThreshold", unhealthy, source)

    def ann_seconds(self, name: str, key: str) -> None:
        """Read a duration annotation into ``name``; a bad value becomes a note."""
        value = self.ann(key)
        if value is None:
            return
        parsed = seconds(value)
        if parsed is None:
            self.note(f"annotation {key}={value!r} is not a duration; ignored")
            return
        self.put(name, parsed, f"annotation {key}={value}")

    def ann_int(self, name: str, key: str) -> None:
        """Read an integer annotation into ``name``; a bad value becomes a note."""
        value = self.ann(key)
        if value is None:
            return
        if not value.isdigit():
            self.note(f"annotation {key}={value!r} is not a whole number; ignored")
            return
        self.put(name, int(value), f"annotation {key}={value}")

    def _as(self, name: str, cls: type[_T]) -> _T:
        value = self.values[name]
        if not isinstance(value, cls):  # pragma: no cover - every layer puts typed values
            raise TypeError(f"{name} is {value!r}, not {cls.__name__}")
        return value

    def _number(self, name: str) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):  # pragma: no cover
            raise TypeError(f"{name} is {value!r}, not a number")
        return float(value)

    def settings(self) -> tuple[Setting, ...]:
        """One :class:`Setting` per field, in the order first set."""
        return tuple(
            Setting(name=name, value=_text(value), source=self.sources[name])
            for name, value in self.values.items()
        )

    def build(
        self,
        *,
        provider: str | None,
        address: IPAddress,
        port: int,
        settings: tuple[Setting, ...],
    ) -> EffectiveLoadBalancer:
        """The resolved load balancer."""
        path = self.values.get("healthCheck.path")
        health = EffectiveHealthCheck(
            protocol=self._as("healthCheck.protocol", HealthCheckProtocol),
            target=self._as("healthCheck.target", HealthCheckTarget),
            port=port,
            path=path if isinstance(path, str) else None,
            interval_seconds=self._number("healthCheck.intervalSeconds"),
            timeout_seconds=self._number("healthCheck.timeoutSeconds"),
            healthy_threshold=self._as("healthCheck.healthyThreshold", int),
            unhealthy_threshold=self._as("healthCheck.unhealthyThreshold", int),
            enabled=self.values.get("healthCheck.enabled") is not False,
            sends_proxy_header=self.hc_proxy,
            success_codes=self._success_codes(),
        )
        return EffectiveLoadBalancer(
            provider=provider,
            mode=self._as("mode", LoadBalancerMode),
            proxy_protocol=self._as("proxyProtocol", ProxyProtocolVersion),
            weighting=self._as("weighting", Weighting),
            targets=self._as("targets", TargetType),
            preserve_client_ip=self._as("preserveClientIP", bool),
            cross_zone=self._as("crossZone", bool),
            announcement=self._as("announcement", Announcement),
            address=address,
            forwarded_for=self._as("forwardedFor", ForwardedFor),
            health_check=health,
            settings=settings,
            notes=tuple(self.notes),
            source_per_target=self.values.get("sourcePerTarget") is True,
        )

    def _success_codes(self) -> tuple[int, int]:
        codes = self.values.get("healthCheck.successCodes")
        if isinstance(codes, tuple) and len(codes) == 2:
            return int(codes[0]), int(codes[1])
        return (200, 200)


# --------------------------------------------------------------------------- helpers


def _proxy(d: Draft, mode: LoadBalancerMode, source: str) -> None:
    """A proxying LB: a new connection from its own address to node IP:NodePort."""
    d.put("mode", mode, source)
    d.put("targets", TargetType.NODE_PORT, source)
    d.put("preserveClientIP", False, source)


def _http_mode(d: Draft, key: str, value: str | None, http_values: tuple[str, ...]) -> None:
    if value is not None and value.lower() in http_values:
        d.put("mode", LoadBalancerMode.HTTP, f"annotation {key}={value}")


def _port_value(value: str | None, port: int | None) -> str | None:
    """Per-port syntax ``80:http;443,8443:https`` (Scaleway); a plain value applies to all."""
    if value is None or ":" not in value:
        return value
    for part in value.split(";"):
        ports, _, item = part.partition(":")
        if port is not None and str(port) in (p.strip() for p in ports.split(",")):
            return item.strip()
    return None


def _on_for_port(value: str | None, port: int | None) -> bool:
    """``true``, ``*`` or a port list containing ``port`` (Scaleway PROXY/HTTP keys)."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in ("true", "*"):
        return True
    return port is not None and str(port) in (p.strip() for p in text.split(","))


# --------------------------------------------------------------------------- GKE


def _gke(d: Draft) -> None:
    src = "provider gke default (passthrough Network LB, ingress-gce)"
    d.put("mode", LoadBalancerMode.PASSTHROUGH, src)
    d.put("targets", TargetType.VIP, src)
    key = "networking.gke.io/weighted-load-balancing"
    value = d.ann(key)
    if value == "pods-per-node":
        if d.local:
            d.put("weighting", Weighting.ENDPOINTS, f"annotation {key}={value}")
        else:
            d.note(
                "GKE ignores the annotation: 'Weighted load balancing by pods-per-node has "
                "no effect with External Traffic Policy: Cluster.'"
            )
    if d.local:  # pkg/l4/healthchecks/healthchecksl4.go: per-service check
        hc = "provider gke default (ingress-gce healthchecksl4, Local)"
        d.health(hc, _HTTP, _HCNP)
        d.timing(hc, interval=3, timeout=1, healthy=1, unhealthy=2)
    else:  # one shared node check on kube-proxy's healthz port
        hc = "provider gke default (ingress-gce shared node check, Cluster)"
        d.health(hc, _HTTP, HealthCheckTarget.PROXY_HEALTHZ)
        d.timing(hc, interval=8, timeout=1, healthy=1, unhealthy=3)


# --------------------------------------------------------------------------- AWS

_AWS = "service.beta.kubernetes.io/aws-load-balancer-"


def _aws_health(d: Draft) -> None:
    """The ``aws-load-balancer-healthcheck-*`` keys (in-tree and the LB controller)."""
    protocol = d.ann(f"{_AWS}healthcheck-protocol")
    if protocol is not None and protocol.lower() in ("tcp", "http", "https"):
        chosen = HealthCheckProtocol(protocol.lower())
        src = f"annotation {_AWS}healthcheck-protocol={protocol}"
        d.put("healthCheck.protocol", chosen, src)
        if chosen is not _TCP and d.get("healthCheck.path") is None:
            d.put("healthCheck.path", "/", "provider aws default path for HTTP(S) checks")
    port = d.ann(f"{_AWS}healthcheck-port")
    if port is not None and port.isdigit():
        d.put("healthCheck.target", HealthCheckTarget.PORT, f"annotation {_AWS}healthcheck-port")
        d.put("healthCheck.port", int(port), f"annotation {_AWS}healthcheck-port={port}")
    elif port == "traffic-port":
        d.put("healthCheck.target", _TRAFFIC, f"annotation {_AWS}healthcheck-port={port}")
    path = d.ann(f"{_AWS}healthcheck-path")
    if path is not None:
        d.put("healthCheck.path", path, f"annotation {_AWS}healthcheck-path={path}")
    d.ann_seconds("healthCheck.intervalSeconds", f"{_AWS}healthcheck-interval")
    d.ann_seconds("healthCheck.timeoutSeconds", f"{_AWS}healthcheck-timeout")
    d.ann_int("healthCheck.healthyThreshold", f"{_AWS}healthcheck-healthy-threshold")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_AWS}healthcheck-unhealthy-threshold")
    codes = d.ann(f"{_AWS}healthcheck-success-codes")
    if codes is not None:
        low, _, high = codes.partition("-")
        if low.isdigit() and (high or low).isdigit():
            src = f"annotation {_AWS}healthcheck-success-codes={codes}"
            d.put("healthCheck.successCodes", (int(low), int(high or low)), src)


def _aws_cross_zone(d: Draft, key: str, source: str) -> None:
    d.put("crossZone", False, source)
    value = d.ann(key)
    if value is None:
        return
    if key.endswith("-attributes"):
        attrs = dict(item.strip().partition("=")[::2] for item in value.split(","))
        flag = attrs.get("load_balancing.cross_zone.enabled")
        if flag is not None:
            d.put("crossZone", _truthy(flag), f"annotation {key}={value}")
    else:
        d.put("crossZone", _truthy(value), f"annotation {key}={value}")


def _aws_clb(d: Draft) -> None:
    src = "provider aws-clb default (in-tree Classic ELB: TCP listeners proxy)"
    _proxy(d, LoadBalancerMode.PROXY, src)
    cz = "provider aws-clb default (AWS API default for a CLB; unverified in-tree)"
    _aws_cross_zone(d, f"{_AWS}cross-zone-load-balancing-enabled", cz)
    key = f"{_AWS}proxy-protocol"
    if d.ann(key) == "*":  # the only accepted value: PROXY v1 to every backend port
        d.put("proxyProtocol", ProxyProtocolVersion.V1, f"annotation {key}=*")
    key = f"{_AWS}backend-protocol"
    _http_mode(d, key, d.ann(key), ("http", "https"))
    hc = "provider aws-clb default (cloud-provider-aws defaultHC*)"
    if d.local:
        d.health(hc, _HTTP, _HCNP)
    else:
        d.health(hc, _TCP, _TRAFFIC)
    d.timing(hc, interval=10, timeout=5, healthy=2, unhealthy=6)
    _aws_health(d)


def _aws_nlb(d: Draft) -> None:
    src = "provider aws-nlb default (in-tree NLB, instance targets keep the client IP)"
    d.put("mode", LoadBalancerMode.PASSTHROUGH, src)
    d.put("targets", TargetType.NODE_PORT, src)
    _aws_cross_zone(d, f"{_AWS}cross-zone-load-balancing-enabled", src)
    if d.ann(f"{_AWS}proxy-protocol") is not None:
        d.note(
            "aws-load-balancer-proxy-protocol is documented for the Classic ELB only "
            "(cloud-provider-aws); srcip leaves PROXY off for the in-tree NLB (unverified)"
        )
    hc = "provider aws-nlb default (cloud-provider-aws NLB target group)"
    d.health(hc, *((_HTTP, _HCNP) if d.local else (_TCP, _TRAFFIC)))
    d.timing(hc, interval=10, timeout=10, healthy=2, unhealthy=2)
    d.put("healthCheck.successCodes", (200, 399), hc)
    _aws_health(d)


def _aws_lbc(d: Draft, *, ip: bool) -> None:
    name = "aws-nlb-ip" if ip else "aws-nlb-instance"
    src = f"provider {name} default (aws-load-balancer-controller model_build_target_group.go)"
    d.put("targets", TargetType.POD if ip else TargetType.NODE_PORT, src)
    d.put("preserveClientIP", not ip, src)  # instance → true, ip → false
    key = f"{_AWS}target-group-attributes"
    raw = d.ann(key) or ""
    attrs = {k.strip(): v.strip() for k, _, v in (i.partition("=") for i in raw.split(","))}
    if "preserve_client_ip.enabled" in attrs:
        d.put(
            "preserveClientIP",
            _truthy(attrs["preserve_client_ip.enabled"]),
            f"annotation {key}={raw}",
        )
    preserve = d.get("preserveClientIP") is True
    d.put(
        "mode",
        LoadBalancerMode.PASSTHROUGH if preserve else LoadBalancerMode.SNAT,
        d.sources["preserveClientIP"],
    )
    if _truthy(attrs.get("proxy_protocol_v2.enabled")):
        d.put("proxyProtocol", ProxyProtocolVersion.V2, f"annotation {key}={raw}")
    pp = f"{_AWS}proxy-protocol"
    if d.ann(pp) == "*":
        d.put("proxyProtocol", ProxyProtocolVersion.V2, f"annotation {pp}=*")
    per = f"{_AWS}proxy-protocol-per-target-group"
    if _on_for_port(d.ann(per), d.first_port):
        d.put("proxyProtocol", ProxyProtocolVersion.V2, f"annotation {per}={d.ann(per)}")
    if d.get("proxyProtocol") is not ProxyProtocolVersion.OFF:  # docs/guide/service/nlb.md
        d.put("healthCheck.proxyHeader", True, d.sources["proxyProtocol"])
    _aws_cross_zone(d, f"{_AWS}attributes", src)
    if d.local and not ip:
        hc = f"provider {name} default (instance mode, Local)"
        d.health(hc, _HTTP, _HCNP)
        d.timing(hc, interval=10, timeout=6, healthy=2, unhealthy=2)
    else:
        hc = f"provider {name} default"
        d.health(hc, _TCP, _TRAFFIC)
        d.timing(hc, interval=10, timeout=10, healthy=3, unhealthy=3)
    d.put("healthCheck.successCodes", (200, 399), f"provider {name} default")
    _aws_health(d)


# --------------------------------------------------------------------------- Azure

_AZ = "service.beta.kubernetes.io/"


def _azure_probe_key(d: Draft, param: str, global_key: str) -> tuple[str, str] | None:
    """Per-port ``port_{port}_health-probe_{param}`` first, then the global key."""
    per_port = f"{_AZ}port_{d.first_port}_health-probe_{param}"
    for key in (per_port, f"{_AZ}{global_key}"):
        value = d.ann(key)
        if value is not None:
            return key, value
    return None


def _azure(d: Draft) -> None:
    src = "provider azure default (Standard LB, floating IP on)"
    d.put("mode", LoadBalancerMode.PASSTHROUGH, src)
    d.put("targets", TargetType.VIP, src)
    key = f"{_AZ}azure-disable-load-balancer-floating-ip"
    if _truthy(d.ann(key)):  # the rule rewrites to nodeIP:NodePort
        d.put("targets", TargetType.NODE_PORT, f"annotation {key}={d.ann(key)}")
    hc = "provider azure default (cloud-provider-azure, HealthProbeDefault*)"
    if d.local:  # the healthCheckNodePort probe takes precedence over probe settings
        d.health(hc + " Local: healthCheckNodePort probe", _HTTP, _HCNP)
    else:
        _azure_cluster_probe(d, hc)
    # No timeout knob: a probe fails when no answer comes within the interval (unverified).
    d.timing(hc, interval=5, timeout=5, healthy=1, unhealthy=2)
    found = _azure_probe_key(d, "interval", "azure-load-balancer-health-probe-interval")
    if found is not None:
        d.ann_int("healthCheck.intervalSeconds", found[0])
        d.ann_int("healthCheck.timeoutSeconds", found[0])
    found = _azure_probe_key(d, "num-of-probe", "azure-load-balancer-health-probe-num-of-probe")
    if found is not None:
        d.ann_int("healthCheck.unhealthyThreshold", found[0])
    if _truthy(d.ann(f"{_AZ}azure-pls-proxy-protocol")):
        d.note(
            "azure-pls-proxy-protocol: PROXY v2 is sent only on connections through the "
            "Private Link Service, not to clients of the load balancer itself (not modelled)"
        )


def _azure_cluster_probe(d: Draft, hc: str) -> None:
    """Protocol: per-port key, then appProtocol, then the global key, else TCP."""
    protocol, source = "tcp", hc
    per_key = f"{_AZ}port_{d.first_port}_health-probe_protocol"
    per_port = d.ann(per_key)
    app = d.service.ports[0].app_protocol if d.service.ports else None
    glob = d.ann(f"{_AZ}azure-load-balancer-health-probe-protocol")
    if per_port is not None:
        protocol, source = per_port, f"annotation {per_key}={per_port}"
    elif app is not None:
        protocol, source = app, f"port appProtocol {app} (Azure/AKS#2903)"
    elif glob is not None:
        protocol, source = glob, f"annotation {_AZ}azure-load-balancer-health-probe-protocol={glob}"
    chosen = {"http": _HTTP, "https": HealthCheckProtocol.HTTPS}.get(protocol.lower(), _TCP)
    d.health(source, chosen, _TRAFFIC)
    if chosen is not _TCP:
        path = _azure_probe_key(d, "request-path", "azure-load-balancer-health-probe-request-path")
        if path is not None:
            d.put("healthCheck.path", path[1], f"annotation {path[0]}={path[1]}")


# --------------------------------------------------------------------------- DigitalOcean

_DO = "service.beta.kubernetes.io/do-loadbalancer-"


def _digitalocean(d: Draft) -> None:
    kind = (d.ann(f"{_DO}type") or "").upper()
    if kind == "REGIONAL":
        _proxy(d, LoadBalancerMode.PROXY, f"annotation {_DO}type={kind}")
        key = f"{_DO}protocol"
        _http_mode(d, key, d.ann(key), ("http", "https", "http2"))
    else:  # CCM v0.1.61 made the network LB (REGIONAL_NETWORK) the default
        src = f"provider digitalocean default ({_DO}type REGIONAL_NETWORK: passthrough)"
        d.put("mode", LoadBalancerMode.PASSTHROUGH, src)
        d.put("targets", TargetType.NODE_PORT, src + "; targets unverified")
    key = f"{_DO}enable-proxy-protocol"
    if _truthy(d.ann(key)):  # DO sends PROXY v1 (unverified version)
        d.put("proxyProtocol", ProxyProtocolVersion.V1, f"annotation {key}=true")
    hc = "provider digitalocean default (automatic health check; sent without PROXY)"
    d.timing(hc, interval=3, timeout=5, healthy=5, unhealthy=3)
    if not _truthy(d.ann(f"{_DO}override-health-check")):
        d.health(hc, _HTTP, _HCNP if d.local else HealthCheckTarget.PROXY_HEALTHZ)
        return
    src = f"annotation {_DO}override-health-check=true"
    protocol = (d.ann(f"{_DO}healthcheck-protocol") or "tcp").lower()
    d.health(src, _HTTP if protocol in ("http", "https") else _TCP, _TRAFFIC)
    port = d.ann(f"{_DO}healthcheck-port")
    if port is not None and port.isdigit():
        d.put("healthCheck.target", HealthCheckTarget.PORT, f"annotation {_DO}healthcheck-port")
        d.put("healthCheck.port", int(port), f"annotation {_DO}healthcheck-port={port}")
    path = d.ann(f"{_DO}healthcheck-path")
    if path is not None and protocol != "tcp":
        d.put("healthCheck.path", path, f"annotation {_DO}healthcheck-path={path}")
    d.ann_int("healthCheck.intervalSeconds", f"{_DO}healthcheck-check-interval-seconds")
    d.ann_int("healthCheck.timeoutSeconds", f"{_DO}healthcheck-response-timeout-seconds")
    d.ann_int("healthCheck.healthyThreshold", f"{_DO}healthcheck-healthy-threshold")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_DO}healthcheck-unhealthy-threshold")


# --------------------------------------------------------------------------- proxies

_LINODE = "service.beta.kubernetes.io/linode-loadbalancer-"
_VERSIONS = {"v1": ProxyProtocolVersion.V1, "v2": ProxyProtocolVersion.V2}


def _linode(d: Draft) -> None:
    _proxy(d, LoadBalancerMode.PROXY, "provider linode default (NodeBalancer proxies)")
    for key in (f"{_LINODE}proxy-protocol", f"{_LINODE}default-proxy-protocol"):
        value = (d.ann(key) or "").lower()
        if value in _VERSIONS:
            d.put("proxyProtocol", _VERSIONS[value], f"annotation {key}={value}")
    key = f"{_LINODE}default-protocol"
    _http_mode(d, key, d.ann(key), ("http", "https"))
    hc = "provider linode default (check-type connection; timings unverified)"
    d.health(hc, _TCP, _TRAFFIC)
    d.timing(hc, interval=5, timeout=3, healthy=1, unhealthy=2)
    check = (d.ann(f"{_LINODE}check-type") or "connection").lower()
    src = f"annotation {_LINODE}check-type={check}"
    if check in ("http", "http_body"):
        d.health(src, _HTTP, _TRAFFIC)
        path = d.ann(f"{_LINODE}check-path")
        if path is not None:
            d.put("healthCheck.path", path, f"annotation {_LINODE}check-path={path}")
    elif check == "none":
        d.put("healthCheck.enabled", False, src)
    d.ann_int("healthCheck.intervalSeconds", f"{_LINODE}check-interval")
    d.ann_int("healthCheck.timeoutSeconds", f"{_LINODE}check-timeout")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_LINODE}check-attempts")


_HZ = "load-balancer.hetzner.cloud/"


def _hetzner(d: Draft) -> None:
    _proxy(d, LoadBalancerMode.PROXY, "provider hetzner default (targets see the LB address)")
    key = f"{_HZ}uses-proxyprotocol"
    if _truthy(d.ann(key)):  # version 1 (unverified)
        d.put("proxyProtocol", ProxyProtocolVersion.V1, f"annotation {key}=true")
    key = f"{_HZ}protocol"
    _http_mode(d, key, d.ann(key), ("http", "https"))
    # TCP to the NodePort even with Local: healthCheckNodePort is not used.
    hc = "provider hetzner default (hcloud API defaults 15 s / 10 s / 3 retries; unverified)"
    d.health(hc, _TCP, _TRAFFIC)
    d.timing(hc, interval=15, timeout=10, healthy=1, unhealthy=3)
    protocol = (d.ann(f"{_HZ}health-check-protocol") or "").lower()
    if protocol in ("http", "https"):
        d.health(f"annotation {_HZ}health-check-protocol={protocol}", _HTTP, _TRAFFIC)
    port = d.ann(f"{_HZ}health-check-port")
    if port is not None and port.isdigit():
        d.put("healthCheck.target", HealthCheckTarget.PORT, f"annotation {_HZ}health-check-port")
        d.put("healthCheck.port", int(port), f"annotation {_HZ}health-check-port={port}")
    path = d.ann(f"{_HZ}health-check-http-path")
    if path is not None:
        d.put("healthCheck.path", path, f"annotation {_HZ}health-check-http-path={path}")
    d.ann_seconds("healthCheck.intervalSeconds", f"{_HZ}health-check-interval")
    d.ann_seconds("healthCheck.timeoutSeconds", f"{_HZ}health-check-timeout")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_HZ}health-check-retries")


_SCW = "service.beta.kubernetes.io/scw-loadbalancer-"


def _scaleway(d: Draft) -> None:
    _proxy(d, LoadBalancerMode.PROXY, "provider scaleway default (LB proxies)")
    port = d.first_port
    for key, version in (
        (f"{_SCW}send-proxy-v2", ProxyProtocolVersion.V2),  # deprecated
        (f"{_SCW}proxy-protocol-v1", ProxyProtocolVersion.V1),
        (f"{_SCW}proxy-protocol-v2", ProxyProtocolVersion.V2),
    ):
        if _on_for_port(d.ann(key), port):
            d.put("proxyProtocol", version, f"annotation {key}={d.ann(key)}")
    key = f"{_SCW}protocol-http"
    if _on_for_port(d.ann(key), port):
        d.put("mode", LoadBalancerMode.HTTP, f"annotation {key}={d.ann(key)}")
    hc = "provider scaleway default (docs/loadbalancer-annotations.md)"
    d.health(hc, _TCP, _TRAFFIC)
    d.timing(hc, interval=5, timeout=5, healthy=1, unhealthy=5)
    key = f"{_SCW}health-check-type"
    kind = (_port_value(d.ann(key), port) or "tcp").lower()
    if kind in ("http", "https"):
        d.health(f"annotation {key}={d.ann(key)}", _HTTP, _TRAFFIC)
        uri_key = f"{_SCW}health-check-http-uri"
        uri = _port_value(d.ann(uri_key), port)
        if uri is not None:
            d.put("healthCheck.path", uri, f"annotation {uri_key}={d.ann(uri_key)}")
    d.ann_seconds("healthCheck.intervalSeconds", f"{_SCW}health-check-delay")
    d.ann_seconds("healthCheck.timeoutSeconds", f"{_SCW}health-check-timeout")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_SCW}health-check-max-retries")


_OS = "loadbalancer.openstack.org/"


def _openstack(d: Draft) -> None:
    _proxy(d, LoadBalancerMode.PROXY, "provider openstack default (Octavia amphora proxies)")
    key = f"{_OS}proxy-protocol"
    value = (d.ann(key) or "").lower()
    if value in ("true", "v1", "v2"):
        version = ProxyProtocolVersion.V2 if value == "v2" else ProxyProtocolVersion.V1
        d.put("proxyProtocol", version, f"annotation {key}={value}")
    hc = "provider openstack default (OCCM health monitor; type per policy unverified)"
    d.health(hc, *((_HTTP, _HCNP) if d.local else (_TCP, _TRAFFIC)))
    d.timing(hc, interval=5, timeout=3, healthy=1, unhealthy=3)
    key = f"{_OS}enable-health-monitor"
    if (d.ann(key) or "").lower() == "false":
        d.put("healthCheck.enabled", False, f"annotation {key}=false")
    d.ann_int("healthCheck.intervalSeconds", f"{_OS}health-monitor-delay")
    d.ann_int("healthCheck.timeoutSeconds", f"{_OS}health-monitor-timeout")
    d.ann_int("healthCheck.healthyThreshold", f"{_OS}health-monitor-max-retries")
    d.ann_int("healthCheck.unhealthyThreshold", f"{_OS}health-monitor-max-retries-down")


# --------------------------------------------------------------------------- bare metal, local


def _metallb(d: Draft, *, l2: bool) -> None:
    name = "metallb-l2" if l2 else "metallb-bgp"
    src = f"provider {name} default (metallb website concepts)"
    d.put("mode", LoadBalancerMode.PASSTHROUGH, src)
    d.put("targets", TargetType.VIP, src)
    d.put("announcement", Announcement.L2 if l2 else Announcement.ALL, src)
    if d.local:  # speakers announce only from nodes with ready local endpoints
        hc = f"provider {name}: only nodes with a ready local endpoint announce (as healthz)"
        d.health(hc, _HTTP, _HCNP)
    else:
        hc = f"provider {name}: no health check, every node with a live speaker announces"
        d.put("healthCheck.enabled", False, hc)
    # MetalLB reacts to EndpointSlice watches, not to a probe interval.
    d.timing(hc, interval=0, timeout=0, healthy=1, unhealthy=1)


def _k3s(d: Draft) -> None:
    src = "provider k3s default (klipper-lb: each node's svclb pod forwards; klipper-lb#31)"
    d.put("mode", LoadBalancerMode.SNAT, src)
    d.put("targets", TargetType.NODE_PORT, src)
    d.put("preserveClientIP", False, src)
    d.put("sourcePerTarget", True, src)
    d.put("healthCheck.enabled", False, src + ": no health check")


def _kind(d: Draft) -> None:
    _proxy(d, LoadBalancerMode.PROXY, "provider kind default (an Envoy container per Service)")
    d.note("cloud-provider-kind writes ipMode: Proxy; no PROXY protocol support seen")


PRESETS: Mapping[str, Callable[[Draft], None]] = {
    "gke": _gke,
    "aws-clb": _aws_clb,
    "aws-nlb": _aws_nlb,
    "aws-nlb-instance": lambda d: _aws_lbc(d, ip=False),
    "aws-nlb-ip": lambda d: _aws_lbc(d, ip=True),
    "azure": _azure,
    "digitalocean": _digitalocean,
    "linode": _linode,
    "hetzner": _hetzner,
    "scaleway": _scaleway,
    "openstack": _openstack,
    "metallb-l2": lambda d: _metallb(d, l2=True),
    "metallb-bgp": lambda d: _metallb(d, l2=False),
    "k3s": _k3s,
    "kind": _kind,
}
