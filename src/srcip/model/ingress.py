"""Ingress controller settings: the knobs that decide what the controller does to the client.

:func:`ingress_settings` merges the ConfigMap an :class:`IngressHop` names (``configMap``)
with the hop's own ``config`` (``config`` wins) and reads the keys the controller really
reads, with the controller's own defaults and parsers:

* **ingress-nginx** (kubernetes/ingress-nginx @dbb11b9, ``internal/ingress/controller/
  config/config.go`` ``NewDefault``): ``use-forwarded-headers`` false, ``enable-real-ip``
  false, ``compute-full-forwarded-for`` false, ``forwarded-for-header`` ``X-Forwarded-For``,
  ``forwarded-for-proxy-protocol-header`` ``X-Forwarded-For-Proxy-Protocol``,
  ``use-proxy-protocol`` false (zero value), ``proxy-real-ip-cidr`` ``0.0.0.0/0`` (set in
  ``template/configmap.go`` ``ReadConfig`` when the key is absent, comma-separated
  otherwise). Booleans go through mapstructure's weak decoding, i.e. Go's
  ``strconv.ParseBool`` (``1 t T TRUE true True`` / ``0 f F FALSE false False``, "" is
  false); any other value is logged as a warning and the default is kept — a note here.
* **Traefik** (traefik/traefik ``pkg/config/static/entrypoints.go``): entry point
  ``forwardedHeaders.trustedIPs`` / ``.insecure`` / ``.notAppendXForwardedFor`` and
  ``proxyProtocol.trustedIPs`` / ``.insecure``, all empty or false by default; the PROXY
  listener exists only when a ``proxyProtocol`` option is set.
* **Envoy** (Envoy Gateway, Istio ingress gateway, Contour): ``xffNumTrustedHops`` (0;
  Istio's ``gatewayTopology.numTrustedProxies`` is accepted as ``numTrustedProxies``),
  ``useRemoteAddress``, ``skipXffAppend`` (false; Cilium's Envoy sets it true),
  ``proxyProtocol`` (false: the listener has no PROXY listener filter).
  ``useRemoteAddress`` defaults to **true** here although Envoy's own HTTP connection
  manager default is false (``headers.rst``): every gateway srcip models as ``envoy`` sets
  it true (Istio ``gateway.go`` ``useRemoteAddress: true``, Contour, Envoy Gateway, Cilium).

Keys the controller does not read (a typo, another controller's option) and risky values
(forwarded headers trusted from ``0.0.0.0/0``: any client picks its address, ecosystem §6
#7) become ``notes``; values the controller would refuse to start with (a bad CIDR, a bad
count) raise :class:`ManifestError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches
from ipaddress import IPv4Network, ip_network
from typing import TypeVar

from srcip.errors import ManifestError, Where
from srcip.model.ingress_keys import INGRESS_NGINX_KEYS
from srcip.model.loadbalancer import Setting
from srcip.model.objects import ConfigMap, IPNetwork
from srcip.model.scenario import IngressHop, IngressKind

__all__ = [
    "ENVOY_KEYS",
    "TRAEFIK_KEYS",
    "EnvoySettings",
    "IngressSettings",
    "NginxSettings",
    "TraefikSettings",
    "ingress_settings",
]

TRAEFIK_KEYS = frozenset(
    {
        "forwardedHeaders.trustedIPs",
        "forwardedHeaders.insecure",
        "forwardedHeaders.notAppendXForwardedFor",
        "proxyProtocol.trustedIPs",
        "proxyProtocol.insecure",
    }
)
ENVOY_KEYS = frozenset(
    {"xffNumTrustedHops", "numTrustedProxies", "useRemoteAddress", "skipXffAppend", "proxyProtocol"}
)
_KNOWN: Mapping[IngressKind, frozenset[str]] = {
    IngressKind.INGRESS_NGINX: INGRESS_NGINX_KEYS,
    IngressKind.TRAEFIK: TRAEFIK_KEYS,
    IngressKind.ENVOY: ENVOY_KEYS,
}
# Go's strconv.ParseBool, which mapstructure's weak decoding and Traefik's parsers use.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False", ""})
_EVERYWHERE = IPv4Network("0.0.0.0/0")
_HOP_CONFIG = "spec.hops[].config"


@dataclass(frozen=True, slots=True, kw_only=True)
class NginxSettings:
    """ingress-nginx's client-address settings, with the controller's defaults."""

    name: str
    use_forwarded_headers: bool = False
    enable_real_ip: bool = False
    compute_full_forwarded_for: bool = False
    forwarded_for_header: str = "X-Forwarded-For"
    forwarded_for_proxy_protocol_header: str = "X-Forwarded-For-Proxy-Protocol"
    use_proxy_protocol: bool = False
    proxy_real_ip_cidr: tuple[IPNetwork, ...] = (_EVERYWHERE,)
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def realip(self) -> bool:
        """Whether the template turns the realip module on (``nginx.tmpl`` line 79)."""
        return self.use_forwarded_headers or self.use_proxy_protocol or self.enable_real_ip


@dataclass(frozen=True, slots=True, kw_only=True)
class TraefikSettings:
    """One Traefik entry point's forwarded-header and PROXY settings."""

    name: str
    forwarded_trusted_ips: tuple[IPNetwork, ...] = ()
    forwarded_insecure: bool = False
    not_append_x_forwarded_for: bool = False
    proxy_protocol_trusted_ips: tuple[IPNetwork, ...] = ()
    proxy_protocol_insecure: bool = False
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def proxy_protocol(self) -> bool:
        """Whether the entry point wraps its listener in a PROXY protocol reader."""
        return self.proxy_protocol_insecure or bool(self.proxy_protocol_trusted_ips)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvoySettings:
    """An Envoy-based gateway's HTTP connection manager and listener settings."""

    name: str
    xff_num_trusted_hops: int = 0
    use_remote_address: bool = True
    skip_xff_append: bool = False
    proxy_protocol: bool = False
    settings: tuple[Setting, ...] = ()
    notes: tuple[str, ...] = ()


IngressSettings = NginxSettings | TraefikSettings | EnvoySettings
_S = TypeVar("_S", NginxSettings, TraefikSettings, EnvoySettings)


@dataclass(frozen=True, slots=True)
class _Entry:
    value: str
    origin: ConfigMap | None  # None: the hop's own config


class _Reader:
    """Typed reads of the merged keys, remembering provenance and notes."""

    def __init__(self, hop: IngressHop, entries: Mapping[str, _Entry]) -> None:
        self.hop, self.entries = hop, entries
        self.settings: list[Setting] = []
        self.notes: list[str] = []

    def text(self, key: str, default: str) -> str:
        entry = self.entries.get(key)
        value = default if entry is None else entry.value
        self.settings.append(Setting(name=key, value=value, source=self._source(entry)))
        return value

    def flag(self, key: str, default: bool, *, lenient: bool) -> bool:
        """A Go ``ParseBool`` value; ``lenient``: a bad one is a note, the default kept."""
        raw = self.text(key, "true" if default else "false")
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        if not lenient:
            raise self.error(key, "is not a boolean", "write true or false")
        self.notes.append(
            f"{key}: {raw!r} is not a boolean; {self.hop.kind} logs a warning and keeps"
            f" the default {str(default).lower()}"
        )
        self.settings[-1] = Setting(name=key, value=str(default).lower(), source="default")
        return default

    def count(self, key: str) -> int | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        raw = self.text(key, "")
        if not raw.isdigit():
            raise self.error(key, "is not a non-negative integer", "write a count such as 1")
        return int(raw)

    def cidrs(self, key: str, default: str) -> tuple[IPNetwork, ...]:
        raw = self.text(key, default)
        networks: list[IPNetwork] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ip_network(part, strict=False))
            except ValueError as exc:
                raise self.error(
                    key, f"{part!r} is not an address or CIDR", "list CIDRs like 10.0.0.0/8"
                ) from exc
        return tuple(networks)

    def error(self, key: str, problem: str, fix: str) -> ManifestError:
        entry = self.entries[key]
        if entry.origin is None:
            where, field = Where(kind="Scenario"), f"{_HOP_CONFIG}.{key}"
            problem = f"{problem} (hop {self.hop.name})"
        else:
            cm = entry.origin
            where = Where(kind="ConfigMap", namespace=cm.namespace, name=cm.name)
            field = f"data.{key}"
        return ManifestError(problem, where=where, field=field, value=entry.value, fix=fix)

    def _source(self, entry: _Entry | None) -> str:
        if entry is None:
            return "default"
        if entry.origin is None:
            return _HOP_CONFIG
        return f"ConfigMap {entry.origin.key}"


def ingress_settings(hop: IngressHop, config_maps: Sequence[ConfigMap]) -> IngressSettings:
    """The controller's effective settings: ``configMap`` data under ``config``, defaults.

    Raises :class:`ManifestError` when the named ConfigMap is not in the input or a value
    would stop the controller (a bad CIDR or count).
    """
    entries = _merge(hop, config_maps)
    reader = _Reader(hop, entries)
    reader.notes.extend(_unknown_keys(hop.kind, entries))
    if hop.kind is IngressKind.INGRESS_NGINX:
        return _nginx(hop, reader)
    if hop.kind is IngressKind.TRAEFIK:
        return _traefik(hop, reader)
    return _envoy(hop, reader)


def _merge(hop: IngressHop, config_maps: Sequence[ConfigMap]) -> dict[str, _Entry]:
    entries: dict[str, _Entry] = {}
    if hop.config_map is not None:
        namespace, _, name = hop.config_map.rpartition("/")
        key = f"{namespace or 'default'}/{name}"
        found = next((cm for cm in config_maps if cm.key == key), None)
        if found is None:
            raise ManifestError(
                f"ConfigMap {key} is not in the input (hop {hop.name})",
                where=Where(kind="Scenario"),
                field="spec.hops[].configMap",
                value=hop.config_map,
                fix=f"add the ConfigMap {key} to the input files, or remove configMap",
            )
        entries.update((k, _Entry(v, found)) for k, v in found.data)
    entries.update((k, _Entry(v, None)) for k, v in hop.config)
    return entries


def _unknown_keys(kind: IngressKind, entries: Mapping[str, _Entry]) -> list[str]:
    known = _KNOWN[kind]
    notes: list[str] = []
    for key in sorted(entries):
        if key in known:
            continue
        owner = next((k for k, keys in _KNOWN.items() if key in keys), None)
        guess = get_close_matches(key, sorted(known), n=1, cutoff=0.8)
        if owner is not None:
            why = f"it is a {owner} setting"
        elif guess:
            why = f"did you mean {guess[0]}?"
        else:
            why = "no such key"
        notes.append(f"{key}: {kind} does not read this key ({why}); it has no effect")
    return notes


def _nginx(hop: IngressHop, r: _Reader) -> NginxSettings:
    settings = NginxSettings(
        name=hop.name,
        use_forwarded_headers=r.flag("use-forwarded-headers", False, lenient=True),
        enable_real_ip=r.flag("enable-real-ip", False, lenient=True),
        compute_full_forwarded_for=r.flag("compute-full-forwarded-for", False, lenient=True),
        forwarded_for_header=r.text("forwarded-for-header", "X-Forwarded-For"),
        forwarded_for_proxy_protocol_header=r.text(
            "forwarded-for-proxy-protocol-header", "X-Forwarded-For-Proxy-Protocol"
        ),
        use_proxy_protocol=r.flag("use-proxy-protocol", False, lenient=True),
        proxy_real_ip_cidr=r.cidrs("proxy-real-ip-cidr", "0.0.0.0/0"),
    )
    notes = r.notes + _nginx_cautions(hop, settings)
    return _with(settings, r.settings, notes)


def _nginx_cautions(hop: IngressHop, s: NginxSettings) -> list[str]:
    notes: list[str] = []
    headers_trusted = s.use_forwarded_headers or (s.enable_real_ip and not s.use_proxy_protocol)
    if headers_trusted and any(net.prefixlen == 0 for net in s.proxy_real_ip_cidr):
        notes.append(
            f"{s.forwarded_for_header} is trusted from every peer (proxy-real-ip-cidr"
            f" {', '.join(map(str, s.proxy_real_ip_cidr))}): any client can choose the address"
            " nginx logs and passes on; narrow proxy-real-ip-cidr to your load balancer or"
            " CDN ranges (ecosystem §6 #7, ingress-nginx#1309)"
        )
    if s.compute_full_forwarded_for and not s.use_forwarded_headers:
        notes.append(
            "compute-full-forwarded-for has no effect without use-forwarded-headers"
            " (nginx.tmpl: both must be true)"
        )
    if hop.config_map is not None and "leader" in hop.config_map:
        notes.append(
            f"ConfigMap {hop.config_map} is named like ingress-nginx's leader-election lock;"
            " the controller reads only the ConfigMap given by --configmap (ecosystem §6 #8)"
        )
    return notes


def _traefik(hop: IngressHop, r: _Reader) -> TraefikSettings:
    settings = TraefikSettings(
        name=hop.name,
        forwarded_trusted_ips=r.cidrs("forwardedHeaders.trustedIPs", ""),
        forwarded_insecure=r.flag("forwardedHeaders.insecure", False, lenient=False),
        not_append_x_forwarded_for=r.flag(
            "forwardedHeaders.notAppendXForwardedFor", False, lenient=False
        ),
        proxy_protocol_trusted_ips=r.cidrs("proxyProtocol.trustedIPs", ""),
        proxy_protocol_insecure=r.flag("proxyProtocol.insecure", False, lenient=False),
    )
    if settings.forwarded_insecure:
        r.notes.append(
            "forwardedHeaders.insecure trusts X-Forwarded-* from every peer: any client can"
            " choose the address the backend sees"
        )
    if settings.proxy_protocol_insecure:
        r.notes.append("proxyProtocol.insecure takes a PROXY header from every peer")
    return _with(settings, r.settings, r.notes)


def _envoy(hop: IngressHop, r: _Reader) -> EnvoySettings:
    hops = r.count("xffNumTrustedHops")
    alias = r.count("numTrustedProxies")
    if hops is not None and alias is not None and hops != alias:
        r.notes.append(
            f"xffNumTrustedHops {hops} and numTrustedProxies {alias} disagree;"
            " srcip uses xffNumTrustedHops"
        )
    if hops is None and alias is None:
        r.settings.append(Setting(name="xffNumTrustedHops", value="0", source="default"))
    settings = EnvoySettings(
        name=hop.name,
        xff_num_trusted_hops=next((n for n in (hops, alias) if n is not None), 0),
        use_remote_address=r.flag("useRemoteAddress", True, lenient=False),
        skip_xff_append=r.flag("skipXffAppend", False, lenient=False),
        proxy_protocol=r.flag("proxyProtocol", False, lenient=False),
    )
    return _with(settings, r.settings, r.notes)


def _with(settings: _S, recorded: list[Setting], notes: list[str]) -> _S:
    return replace(settings, settings=tuple(recorded), notes=tuple(notes))
