"""What every hop shares: its result, and the header and PROXY-protocol arithmetic.

A hop (edge proxy, ingress controller, sidecar) is a pure function of the :class:`View` it
receives; it answers with a :class:`HopResult`. The helpers here write the client-address
headers the way the proxies srcip models write them:

* ``X-Forwarded-For`` is a list: appending keeps every incoming element and adds one on the
  right (nginx ``$proxy_add_x_forwarded_for``, Go's ``httputil.ReverseProxy``, Envoy with
  ``use_remote_address``); repeated field lines are joined in order with ``", "`` first
  (RFC 9110 §5.3), so the next listener receives one line.
* ``Forwarded`` (RFC 7239 §4) gets one ``for=`` element appended; an IPv6 node is quoted
  and bracketed (§6: ``for="[2001:db8::17]"``).
* single-address headers (``X-Real-IP``, ``CF-Connecting-IP``, ``True-Client-IP``) are
  overwritten with one value.

A PROXY protocol header names the connection the sender received: ``src`` is that
connection's peer, ``dst`` the address it was made to (HAProxy ``doc/proxy-protocol.txt``
§2). Views carry no peer port, so the source port is a parameter (default 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from srcip.model.objects import IPAddress
from srcip.model.scenario import ProxyProtocolVersion
from srcip.model.view import View
from srcip.proxyproto import Command, Family, ProxyHeader, Transport

__all__ = [
    "FORWARDED",
    "X_FORWARDED_FOR",
    "HopResult",
    "append_forwarded",
    "append_xff",
    "build_proxy_header",
    "joined",
    "proxy_source",
    "xff_list",
]

X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"


@dataclass(frozen=True, slots=True, kw_only=True)
class HopResult:
    """What one hop does with a connection.

    ``view`` is what the next listener receives (None when the hop fails the request);
    ``refused`` says why it failed; ``notes`` explain choices worth showing in a trace;
    ``client_seen`` is the address the hop itself takes for the client (nginx
    ``$remote_addr`` after the realip module, Envoy's trusted client address).
    """

    view: View | None
    refused: str | None = None
    notes: tuple[str, ...] = ()
    client_seen: IPAddress | None = None


def joined(view: View, name: str) -> str | None:
    """Every ``name`` field line joined in order with ``", "``; None when there is none."""
    lines = view.header_values(name)
    return ", ".join(lines) if lines else None


def xff_list(value: str | None) -> list[str]:
    """The non-empty, whitespace-trimmed elements of an X-Forwarded-For value, in order."""
    if value is None:
        return []
    return [part.strip(" \t") for part in value.split(",") if part.strip(" \t")]


def append_xff(view: View, address: IPAddress, name: str = X_FORWARDED_FOR) -> View:
    """``view`` with ``address`` appended to the list header ``name`` (one line)."""
    prior = joined(view, name)
    value = str(address) if prior is None else f"{prior}, {address}"
    return view.with_header(name, value)


def append_forwarded(view: View, address: IPAddress) -> View:
    """``view`` with an RFC 7239 ``for=`` element for ``address`` appended."""
    node = f'"[{address}]"' if isinstance(address, IPv6Address) else str(address)
    prior = joined(view, FORWARDED)
    element = f"for={node}"
    return view.with_header(FORWARDED, element if prior is None else f"{prior}, {element}")


def proxy_source(header: ProxyHeader | None) -> IPAddress | None:
    """The client a PROXY header names, or None (no header, LOCAL, UNKNOWN, UNSPEC, UNIX).

    LOCAL, v1 ``UNKNOWN`` and v2 ``UNSPEC`` tell the receiver to use the real connection's
    endpoints (spec §2.1, §2.2); a UNIX source is no IP address.
    """
    if header is None or header.command is not Command.PROXY:
        return None
    src = header.src
    return src if isinstance(src, IPv4Address | IPv6Address) else None


def build_proxy_header(
    version: ProxyProtocolVersion,
    *,
    src: IPAddress,
    dst: IPAddress,
    dst_port: int,
    src_port: int = 0,
) -> ProxyHeader | None:
    """The PROXY header a sender writes for a connection from ``src`` to ``dst:dst_port``.

    None for ``off``. When the families differ the IPv4 address is written IPv4-mapped
    (``::ffff:a.b.c.d``) so both fit one TCP6/INET6 header, as HAProxy does.
    """
    if version is ProxyProtocolVersion.OFF:
        return None
    if src.version != dst.version:
        src, dst = _as_ipv6(src), _as_ipv6(dst)
    six = src.version == 6
    if version is ProxyProtocolVersion.V1:
        family, transport, number = (Family.TCP6 if six else Family.TCP4), None, 1
    else:
        family, transport, number = (Family.INET6 if six else Family.INET), Transport.STREAM, 2
    return ProxyHeader(
        version=1 if number == 1 else 2,
        family=family,
        transport=transport,
        src=src,
        dst=dst,
        src_port=src_port,
        dst_port=dst_port,
    )


def _as_ipv6(address: IPAddress) -> IPv6Address:
    if isinstance(address, IPv6Address):
        return address
    return IPv6Address(f"::ffff:{address}")
