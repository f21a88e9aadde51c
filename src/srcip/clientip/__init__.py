"""Resolve the real client address of a request behind proxies (reference/clientip.md §10).

The pure core: :func:`resolve` reads the socket peer, the request's header field lines and
an optional PROXY protocol header under a validated :class:`TrustConfig`, and returns a
:class:`Resolution` saying which address is the client's and why (a :class:`Status`), hop
by hop. Adapters (ASGI, WSGI, rate limiting, …) live in their own modules and build on it.
"""

from srcip.clientip.addresses import IPAddress, Node, NodeKind, parse_node, parse_peer
from srcip.clientip.explain import explain, explain_lines
from srcip.clientip.resolve import (
    PEER,
    PROXY_PROTOCOL,
    Hop,
    Resolution,
    Status,
    Verdict,
    resolve,
)
from srcip.clientip.trust import AddressSet, SourceKind, TrustConfig

__all__ = [
    "PEER",
    "PROXY_PROTOCOL",
    "AddressSet",
    "Hop",
    "IPAddress",
    "Node",
    "NodeKind",
    "Resolution",
    "SourceKind",
    "Status",
    "TrustConfig",
    "Verdict",
    "explain",
    "explain_lines",
    "parse_node",
    "parse_peer",
    "resolve",
]
