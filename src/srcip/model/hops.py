"""Hops in front of and beside the cluster path, each a pure transform of a :class:`View`.

Every hop takes what its listener receives (TCP peer, local address and port, PROXY header,
header fields) and returns a :class:`HopResult`: the :class:`View` the next listener
receives, or why the request fails there, plus the address the hop itself believes is the
client. The hops:

* :func:`edge_forward`: a CDN, WAF or reverse proxy in front. It terminates HTTP and opens
  a new connection from its own address; it appends to (or replaces) ``X-Forwarded-For``,
  appends an RFC 7239 ``for=`` element to ``Forwarded``, overwrites single-address headers
  (``CF-Connecting-IP``, ``True-Client-IP``, ``X-Real-IP``) with its peer, and may put a
  PROXY header in front of the next connection. A PROXY header arriving at it is refused:
  an HTTP proxy reads it as a broken request line.
* :func:`ingress_settings` / :func:`ingress_forward` (:mod:`srcip.model.ingress`,
  :mod:`srcip.model.ingress_proxy`): ingress-nginx, Traefik and Envoy gateways with their
  real knobs.
* :func:`sidecar_forward`: a mesh sidecar between the pod's network and the app.

  - Istio, iptables ``REDIRECT`` (the default): Envoy re-originates the connection. Since
    Istio 1.10 it connects to the app on the pod IP from ``127.0.0.6`` (``::6``), the
    ``InboundPassthroughBindIpv4`` of ``pilot/pkg/networking/constants.go``, istio#29603;
    blog "Upcoming networking changes in Istio 1.10"); before 1.10 it connected to
    ``127.0.0.1`` from ``127.0.0.1`` (``legacy_localhost=True``). One reporter saw the pod
    IP as source after a 1.21 upgrade (istio#50611): not modelled. The inbound HTTP
    connection manager runs with ``use_remote_address: false`` (``listener_inbound.go``
    ``buildSidecarInboundHTTPOpts``), so Envoy does not append to ``X-Forwarded-For``: the
    app receives the headers as they arrived.
  - Istio ``TPROXY`` (``sidecar.istio.io/interceptionMode: TPROXY``): the inbound listener
    is transparent and the original source is kept (istio#5679, #32802).
  - Linkerd: the inbound proxy connects to the app over ``127.0.0.1`` and adds no
    ``X-Forwarded-For`` (linkerd2#3334, #4219); it has no TPROXY mode (linkerd2#4713, open),
    so a TPROXY request is modelled as its only mode, with a note.

  A PROXY header reaching a sidecar: both sidecars detect the protocol from the first
  bytes, and a PROXY line (or the v2 binary signature) is no HTTP request line, so the
  connection is proxied as opaque TCP and the header reaches the app unchanged, now from
  the sidecar's address. This is reasoned from Envoy's ``http_inspector`` and Linkerd's
  detection, not measured; a port declared as HTTP would answer 400 instead.

Left out: TLS (every hop is plain HTTP here), header fields other than the client-address
ones and ``X-Forwarded-Proto``, and source ports (a PROXY header's source port is 0).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Final

from srcip.model.forwarding import (
    FORWARDED,
    X_FORWARDED_FOR,
    HopResult,
    append_forwarded,
    append_xff,
    build_proxy_header,
    joined,
    xff_list,
)
from srcip.model.ingress import (
    EnvoySettings,
    IngressSettings,
    NginxSettings,
    TraefikSettings,
    ingress_settings,
)
from srcip.model.ingress_proxy import ingress_forward
from srcip.model.objects import IPAddress
from srcip.model.scenario import EdgeHop, ForwardedFor, Interception, Mesh, SidecarHop
from srcip.model.view import View

__all__ = [
    "ISTIO_INBOUND_SOURCE_V4",
    "ISTIO_INBOUND_SOURCE_V6",
    "SINGLE_ADDRESS_HEADERS",
    "EnvoySettings",
    "HopResult",
    "IngressSettings",
    "NginxSettings",
    "TraefikSettings",
    "edge_forward",
    "ingress_forward",
    "ingress_settings",
    "sidecar_forward",
]

#: Istio's ``InboundPassthroughBindIpv4`` / ``Ipv6`` ("6 is the magical number for inbound").
ISTIO_INBOUND_SOURCE_V4: Final = IPv4Address("127.0.0.6")
ISTIO_INBOUND_SOURCE_V6: Final = IPv6Address("::6")
_LOOPBACK_V4: Final = IPv4Address("127.0.0.1")
_LOOPBACK_V6: Final = IPv6Address("::1")
#: Headers that carry one client address, which a proxy that writes them overwrites.
SINGLE_ADDRESS_HEADERS: Final = frozenset(
    {"x-real-ip", "cf-connecting-ip", "true-client-ip", "fastly-client-ip", "x-client-ip"}
)


def edge_forward(
    hop: EdgeHop, incoming: View, *, next_local: IPAddress, next_port: int
) -> HopResult:
    """A CDN/WAF/proxy: new connection from ``hop.address`` to ``next_local:next_port``."""
    if incoming.proxy is not None:
        return HopResult(
            view=None,
            refused=f"{hop.kind} {hop.name} terminates HTTP: a PROXY header in front of the"
            " request is no HTTP request line, so it answers 400 Bad Request",
        )
    client = incoming.peer
    view = View(
        peer=hop.address,
        local=next_local,
        local_port=next_port,
        proxy=build_proxy_header(
            hop.proxy_protocol, src=client, dst=incoming.local, dst_port=incoming.local_port
        ),
        headers=incoming.headers,
    )
    written = {name.lower() for name in hop.headers}
    for name in sorted(written):
        view = _write(hop, view, name, client)
    notes = tuple(
        f"{name} sent by the client passes {hop.name} unchanged: an app that reads it can be fooled"
        for name in sorted(SINGLE_ADDRESS_HEADERS - written)
        if incoming.header_values(name)
    )
    return HopResult(view=view, notes=notes, client_seen=client)


def _write(hop: EdgeHop, view: View, name: str, client: IPAddress) -> View:
    if name == X_FORWARDED_FOR:
        if hop.forwarded_for is ForwardedFor.APPEND:
            return append_xff(view, client)
        return view.with_header(X_FORWARDED_FOR, str(client))
    if name == FORWARDED:
        return append_forwarded(view, client)
    return view.with_header(name, str(client))


def sidecar_forward(
    hop: SidecarHop, incoming: View, *, pod_ip: IPAddress, legacy_localhost: bool = False
) -> HopResult:
    """The mesh sidecar's hand-over to the app in the same pod.

    ``pod_ip`` is the pod's address the connection arrived at; ``legacy_localhost`` models
    Istio before 1.10 (the sidecar connects to the app on 127.0.0.1 from 127.0.0.1).
    """
    notes: list[str] = []
    six = pod_ip.version == 6
    if hop.mesh is Mesh.ISTIO and hop.interception is Interception.TPROXY:
        peer, local = incoming.peer, pod_ip
        notes.append("TPROXY interception: the sidecar connects with the original source")
    elif hop.mesh is Mesh.ISTIO and not legacy_localhost:
        peer = ISTIO_INBOUND_SOURCE_V6 if six else ISTIO_INBOUND_SOURCE_V4
        local = pod_ip
    else:
        peer = local = _LOOPBACK_V6 if six else _LOOPBACK_V4
        if hop.interception is Interception.TPROXY:
            notes.append("Linkerd has no TPROXY mode (linkerd2#4713): modelled as REDIRECT")
    if incoming.proxy is not None:
        notes.append(
            "the PROXY header is no HTTP request line: the sidecar proxies the connection as"
            " opaque TCP and the header reaches the app"
        )
    view = View(
        peer=peer,
        local=local,
        local_port=incoming.local_port,
        proxy=incoming.proxy,
        headers=incoming.headers,
    )
    return HopResult(view=view, notes=tuple(notes), client_seen=_sidecar_client(hop, incoming))


def _sidecar_client(hop: SidecarHop, incoming: View) -> IPAddress:
    """Istio inbound Envoy's trusted client address (rightmost XFF); Linkerd: the peer."""
    if hop.mesh is Mesh.LINKERD or incoming.proxy is not None:
        return incoming.peer
    elements = xff_list(joined(incoming, X_FORWARDED_FOR))
    if not elements:
        return incoming.peer
    try:
        return ip_address(elements[-1])
    except ValueError:
        return incoming.peer
