"""What an ingress controller does to one request: whom it believes, what it sends upstream.

Each controller is modelled from its own source; every branch names the line it follows.

**ingress-nginx** (``rootfs/etc/nginx/template/nginx.tmpl`` @dbb11b9):

* listener: ``listen ... proxy_protocol`` when ``use-proxy-protocol`` (``template.go``
  ``commonListenOptions``). nginx then requires the header: plain HTTP is logged as
  ``broken header`` and the connection closed (ecosystem §6 #4); without the option a PROXY
  header is no HTTP request line and nginx answers 400.
* realip (tmpl lines 79-92), on when ``use-forwarded-headers``, ``use-proxy-protocol`` or
  ``enable-real-ip``: ``set_real_ip_from`` = ``proxy-real-ip-cidr``, ``real_ip_recursive
  on``, ``real_ip_header`` = ``forwarded-for-proxy-protocol-header`` when both forwarded
  headers and PROXY are on (filled by a ``geo``/``map`` pair, lines 414-443: the forwarded
  header when the PROXY source is in ``proxy-real-ip-cidr``, else the PROXY source),
  ``proxy_protocol`` with PROXY alone, else ``forwarded-for-header``. The walk is nginx's
  ``ngx_http_get_forwarded_addr_internal``: the TCP peer must be trusted; then from the
  right, each address replaces the client while it is trusted; an unparsable token stops
  the walk keeping the last good address; all trusted gives the leftmost.
* upstream (lines 1304-1322): ``X-Real-IP $remote_addr``; ``X-Forwarded-For`` =
  ``$full_x_forwarded_for`` (incoming XFF + ``$proxy_protocol_addr`` or
  ``$realip_remote_addr``, lines 399-410) when forwarded headers and
  ``compute-full-forwarded-for`` are both on, else ``$remote_addr`` alone;
  ``X-Original-Forwarded-For`` = the incoming forwarded-for header; ``X-Forwarded-Proto``
  = ``$pass_access_scheme`` (``lua_ingress.lua``: the scheme, the incoming
  ``X-Forwarded-Proto`` with forwarded headers, ``https`` when the PROXY destination port
  is 443). nginx drops a ``proxy_set_header`` whose value is empty. Other headers pass.

**Traefik** (``pkg/server/server_entrypoint_tcp.go`` ``buildProxyProtocolListener``,
``pkg/middlewares/forwardedheaders/forwarded_header.go``, ``pkg/proxy/fast/proxy.go``):
PROXY headers from ``proxyProtocol.trustedIPs`` (or everyone with ``insecure``) replace the
remote address (go-proxyproto v0.12 ``USE``; the header stays optional), others are read
and ignored (``IGNORE``); without a ``proxyProtocol`` option a PROXY header is no HTTP. A
remote address outside ``forwardedHeaders.trustedIPs`` (and not ``insecure``) has every
``X-Forwarded-*`` and ``X-Real-Ip`` header deleted, underscore spellings included; then
``X-Real-Ip`` is set to the remote address if absent, ``X-Forwarded-Proto`` to ``http`` if
absent, and the proxy appends the remote address to ``X-Forwarded-For`` unless
``notAppendXForwardedFor``.

**Envoy** (``docs/root/configuration/http/http_conn_man/headers.rst``): the remote address
is the PROXY source when the listener has the ``proxy_protocol`` filter (which rejects
connections without a header by default), else the TCP peer. Trusted client address:
``use_remote_address`` false: the rightmost XFF address (N = 0) or the (N+1)th from the
right; true: the remote address (N = 0) or the Nth from the right; too few addresses
fall back to the remote address. With ``use_remote_address`` (and not
``skip_xff_append``) the remote address is appended to XFF, and ``x-envoy-external-address``
is set to the trusted client address unless the request is internal (no XFF and an
RFC 1918/4193 remote address). ``x-forwarded-proto`` is trusted only with N > 0,
otherwise set from the downstream connection (plain ``http`` here: TLS is not modelled).

Every controller then opens a new TCP connection from its pod to the backend, without a
PROXY header.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Final

from srcip.clientip import NodeKind, parse_node
from srcip.model.forwarding import (
    X_FORWARDED_FOR,
    HopResult,
    append_xff,
    joined,
    proxy_source,
    xff_list,
)
from srcip.model.ingress import EnvoySettings, IngressSettings, NginxSettings, TraefikSettings
from srcip.model.objects import IPAddress, IPNetwork
from srcip.model.view import View

__all__ = ["ingress_forward"]

_BAD_REQUEST: Final = (
    "a PROXY header arrived at a listener that does not expect one: its bytes are no HTTP"
    " request line, so the controller answers 400 Bad Request"
)
_INTERNAL: Final[tuple[IPNetwork, ...]] = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv6Network("fc00::/7"),
)
_TRAEFIK_MANAGED: Final = frozenset(
    {
        "x-forwarded-proto",
        "x-forwarded-scheme",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-server",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-forwarded-prefix",
        "x-forwarded-tls-client-cert",
        "x-forwarded-tls-client-cert-info",
        "x-scheme",
        "x-real-ip",
    }
)


def ingress_forward(
    settings: IngressSettings,
    incoming: View,
    *,
    pod_ip: IPAddress,
    backend: IPAddress,
    backend_port: int,
) -> HopResult:
    """The controller's handling of ``incoming`` and the request it sends to the backend."""
    if isinstance(settings, NginxSettings):
        return _nginx(settings, incoming, _upstream(pod_ip, backend, backend_port))
    if isinstance(settings, TraefikSettings):
        return _traefik(settings, incoming, _upstream(pod_ip, backend, backend_port))
    return _envoy(settings, incoming, _upstream(pod_ip, backend, backend_port))


def _upstream(pod_ip: IPAddress, backend: IPAddress, port: int) -> View:
    return View(peer=pod_ip, local=backend, local_port=port)


def _send(incoming: View, upstream: View) -> View:
    """The request's headers on the controller's new connection to the backend."""
    return View(
        peer=upstream.peer,
        local=upstream.local,
        local_port=upstream.local_port,
        headers=incoming.headers,
    )


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in net for net in networks)


# --------------------------------------------------------------------------- ingress-nginx


def _nginx(s: NginxSettings, incoming: View, upstream: View) -> HopResult:
    if s.use_proxy_protocol and incoming.proxy is None:
        return HopResult(
            view=None,
            refused="ingress-nginx expects a PROXY header (use-proxy-protocol: true) but the"
            " connection starts with plain HTTP: nginx logs 'broken header' and closes it"
            " (ecosystem §6 #4)",
        )
    if not s.use_proxy_protocol and incoming.proxy is not None:
        return HopResult(view=None, refused=_BAD_REQUEST)
    pp_addr = proxy_source(incoming.proxy)
    view, notes = incoming, []
    if s.use_forwarded_headers and s.use_proxy_protocol:
        view = _nginx_geo_map(s, view, pp_addr)
    remote = _nginx_realip(s, view, pp_addr) if s.realip else incoming.peer
    if remote == incoming.peer and s.realip and pp_addr is not None:
        notes.append(
            f"nginx kept the TCP peer {incoming.peer} as $remote_addr: it is outside"
            " proxy-real-ip-cidr, or the header realip reads is empty"
        )
    return HopResult(
        view=_nginx_upstream(s, view, _send(view, upstream), remote, pp_addr),
        notes=tuple(notes),
        client_seen=remote,
    )


def _nginx_geo_map(s: NginxSettings, view: View, pp_addr: IPAddress | None) -> View:
    """``more_set_input_headers`` of the custom header (nginx.tmpl lines 429-443)."""
    name = s.forwarded_for_proxy_protocol_header.lower()
    if pp_addr is not None and _trusted(pp_addr, s.proxy_real_ip_cidr):
        value = joined(view, s.forwarded_for_header.lower()) or ""
    else:
        value = "" if pp_addr is None else str(pp_addr)
    return view.with_header(name, value) if value else view.without_header(name)


def _nginx_realip(s: NginxSettings, view: View, pp_addr: IPAddress | None) -> IPAddress:
    """``$remote_addr`` after ngx_http_realip_module."""
    if s.use_proxy_protocol and not s.use_forwarded_headers:
        value = None if pp_addr is None else str(pp_addr)
    else:
        name = (
            s.forwarded_for_proxy_protocol_header
            if s.use_proxy_protocol
            else s.forwarded_for_header
        )
        lines = view.header_values(name.lower())
        # real_ip_header X-Forwarded-For (exact spelling) reads every line; any other
        # header name is looked up and its first line used (ngx_http_realip_module.c).
        value = (", ".join(lines) if name == "X-Forwarded-For" else lines[0]) if lines else None
    return _realip_walk(view.peer, value, s.proxy_real_ip_cidr)


def _realip_walk(peer: IPAddress, value: str | None, trusted: tuple[IPNetwork, ...]) -> IPAddress:
    """``ngx_http_get_forwarded_addr_internal`` with ``real_ip_recursive on``."""
    address = peer
    if value is None or not _trusted(address, trusted):
        return address
    tokens = [t for t in value.replace(",", " ").split(" ") if t]
    for position in range(len(tokens) - 1, -1, -1):
        node = parse_node(tokens[position])
        if node.kind is not NodeKind.ADDRESS or node.ip is None:
            return address  # unparsable: the last good address stays
        address = node.ip
        if not _trusted(address, trusted):
            return address
    return address  # every hop trusted: the leftmost


def _nginx_upstream(
    s: NginxSettings, view: View, out: View, remote: IPAddress, pp_addr: IPAddress | None
) -> View:
    """``proxy_set_header`` lines 1304-1322; an empty value sends no header."""
    if s.use_forwarded_headers and s.compute_full_forwarded_for:
        prior = joined(view, X_FORWARDED_FOR)
        last = (pp_addr or "") if s.use_proxy_protocol else view.peer
        xff = f"{prior}, {last}" if prior else str(last)
    else:
        xff = str(remote)
    original = joined(view, s.forwarded_for_header.lower())
    out = out.with_header("x-real-ip", str(remote))
    out = _set(out, X_FORWARDED_FOR, xff)
    out = out.with_header("x-forwarded-proto", _nginx_scheme(s, view))
    return _set(out, "x-original-forwarded-for", original or "")


def _nginx_scheme(s: NginxSettings, view: View) -> str:
    """``$pass_access_scheme`` (lua_ingress.lua ``rewrite``)."""
    scheme = "http"
    forwarded = view.header_values("x-forwarded-proto")
    if s.use_forwarded_headers and forwarded:
        scheme = forwarded[0]
    if s.use_proxy_protocol and view.proxy is not None and view.proxy.dst_port == 443:
        scheme = "https"
    return scheme


def _set(view: View, name: str, value: str) -> View:
    return view.with_header(name, value) if value else view.without_header(name)


# --------------------------------------------------------------------------- Traefik


def _traefik(s: TraefikSettings, incoming: View, upstream: View) -> HopResult:
    notes: list[str] = []
    remote = incoming.peer
    if incoming.proxy is not None:
        if not s.proxy_protocol:
            return HopResult(view=None, refused=_BAD_REQUEST)
        if s.proxy_protocol_insecure or _trusted(incoming.peer, s.proxy_protocol_trusted_ips):
            remote = proxy_source(incoming.proxy) or incoming.peer
        else:
            notes.append(
                f"PROXY header from {incoming.peer} ignored: not in proxyProtocol.trustedIPs"
            )
    view = incoming
    if not s.forwarded_insecure and not _trusted(remote, s.forwarded_trusted_ips):
        view = View(
            peer=view.peer,
            local=view.local,
            local_port=view.local_port,
            headers=tuple((k, v) for k, v in view.headers if not _traefik_managed(k)),
        )
        if len(view.headers) != len(incoming.headers):
            notes.append(
                f"X-Forwarded-* and X-Real-Ip deleted: {remote} is not in"
                " forwardedHeaders.trustedIPs"
            )
    if not view.header_values("x-real-ip"):
        view = view.with_header("x-real-ip", str(remote))
    if not view.header_values("x-forwarded-proto"):
        view = view.with_header("x-forwarded-proto", "http")
    prior = joined(view, X_FORWARDED_FOR)
    if prior is not None:
        view = view.with_header(X_FORWARDED_FOR, prior)
    if not s.not_append_x_forwarded_for:
        view = append_xff(view, remote)
    return HopResult(view=_send(view, upstream), notes=tuple(notes), client_seen=remote)


def _traefik_managed(name: str) -> bool:
    """``isManagedXHeader``: a managed name, or one spelled with underscores."""
    return name in _TRAEFIK_MANAGED or name.replace("_", "-") in _TRAEFIK_MANAGED


# --------------------------------------------------------------------------- Envoy


def _envoy(s: EnvoySettings, incoming: View, upstream: View) -> HopResult:
    if s.proxy_protocol and incoming.proxy is None:
        return HopResult(
            view=None,
            refused="the Envoy listener's proxy_protocol filter requires a PROXY header and"
            " closes the connection without one",
        )
    if not s.proxy_protocol and incoming.proxy is not None:
        return HopResult(view=None, refused=_BAD_REQUEST)
    remote = proxy_source(incoming.proxy) or incoming.peer
    prior = joined(incoming, X_FORWARDED_FOR)
    trusted = _envoy_trusted_client(s, xff_list(prior), remote)
    view = incoming
    if s.use_remote_address and not s.skip_xff_append:
        view = append_xff(view, remote)
    if s.use_remote_address and (prior is not None or not _trusted(remote, _INTERNAL)):
        view = view.with_header("x-envoy-external-address", str(trusted))
    if s.xff_num_trusted_hops == 0 or not view.header_values("x-forwarded-proto"):
        view = view.with_header("x-forwarded-proto", "http")
    return HopResult(view=_send(view, upstream), client_seen=trusted)


def _envoy_trusted_client(s: EnvoySettings, elements: list[str], remote: IPAddress) -> IPAddress:
    """The trusted client address, before anything is appended (headers.rst)."""
    n = s.xff_num_trusted_hops
    if s.use_remote_address and n == 0:
        return remote
    index = n if s.use_remote_address else n + 1  # from the right, 1-based
    if len(elements) < index:
        return remote
    try:  # Envoy wants a bare IP literal (no port); anything else: the remote address
        return ip_address(elements[-index])
    except ValueError:
        return remote
