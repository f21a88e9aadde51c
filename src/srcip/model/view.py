"""What a listener on the path receives: the TCP peer, a PROXY header, forwarding headers.

Every hop of the path model (load balancer, edge proxy, ingress controller, sidecar) is a
pure transform of a :class:`View` into the :class:`View` the next listener receives, so the
echo server's three questions (who is the TCP peer, what do the PROXY header and the
forwarding headers claim, what does the app resolve) can be asked at every hop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from srcip.model.objects import IPAddress
from srcip.proxyproto import ProxyHeader

__all__ = ["View"]


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """One listener's view of a connection (a hop's input or the app's).

    ``peer`` is the TCP peer address; ``local`` the address and ``local_port`` the port the
    connection was made to; ``proxy`` the PROXY protocol header in front of the bytes, if
    any; ``headers`` the HTTP header fields as received, in order, names lower case.
    """

    peer: IPAddress
    local: IPAddress
    local_port: int
    proxy: ProxyHeader | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every field line of ``name`` (lower case), in order."""
        return tuple(value for key, value in self.headers if key == name)

    def with_header(self, name: str, value: str) -> View:
        """This view with every ``name`` field replaced by one line ``value`` (at the end)."""
        kept = tuple((k, v) for k, v in self.headers if k != name)
        return replace(self, headers=(*kept, (name, value)))

    def without_header(self, name: str) -> View:
        """This view with every ``name`` field removed."""
        return replace(self, headers=tuple((k, v) for k, v in self.headers if k != name))
