"""The echo server's Prometheus metrics, served on ``/metrics``.

Each server has its own :class:`prometheus_client.CollectorRegistry` (several servers in
one process, as in the lab, never share series). Echo requests (every path but
``/healthz`` and ``/metrics``, so probes and scrapes do not count as traffic) are counted:

``srcip_echo_client_requests_total{client}``
    by resolved client address, with :class:`srcip.clientip.metrics.ClientMetrics`'
    cardinality guard (the heaviest ``top`` addresses exactly, others by /24 or /48
    prefix, then ``other``; ``unresolved`` without an address);
``srcip_echo_client_resolutions_total{status, source}``
    by resolution status and source (``peer``, ``proxy-protocol``, the header);
``srcip_echo_peer_kind_requests_total{peer_kind}``
    by what the TCP peer is (:class:`srcip.net.peerkind.PeerKind`).

Every response, reserved paths included, counts in ``srcip_echo_responses_total{code}``;
connections refused or closed for a protocol reason in
``srcip_echo_connections_closed_total{reason}``; ``srcip_echo_open_connections`` is a gauge.
Label children are looked up once and kept, since ``labels()`` costs more than ``inc()``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from srcip.clientip import Resolution
from srcip.clientip.metrics import ClientMetrics
from srcip.net.peerkind import PeerKind

__all__ = ["NAMESPACE", "EchoMetrics"]

NAMESPACE = "srcip_echo"


class EchoMetrics:
    """The counters of one echo server, in a registry of its own."""

    def __init__(self, *, top: int = 100) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.clients = ClientMetrics(self.registry, top=top, namespace=NAMESPACE)
        self.peer_kinds = Counter(
            "peer_kind_requests",
            "Echo requests by what the TCP peer is (client, node, pod-gateway, …).",
            ["peer_kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.responses = Counter(
            "responses",
            "Responses by status code, reserved paths included.",
            ["code"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.closed = Counter(
            "connections_closed",
            "Connections closed for a protocol reason (PROXY header, limits, timeouts).",
            ["reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.open_connections = Gauge(
            "open_connections",
            "Connections open now.",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._kind_children = {kind: self.peer_kinds.labels(str(kind)) for kind in PeerKind}
        self._code_children: dict[int, Counter] = {}

    def observe_echo(self, resolution: Resolution, peer_kind: PeerKind) -> None:
        """Count one echo request by client, resolution and peer kind."""
        self.clients.count(resolution.ip, resolution.status, resolution.source)
        self._kind_children[peer_kind].inc()

    def observe_response(self, code: int) -> None:
        """Count one response by status code."""
        child = self._code_children.get(code)
        if child is None:
            child = self._code_children[code] = self.responses.labels(str(code))
        child.inc()

    def observe_closed(self, reason: str) -> None:
        """Count one connection closed for ``reason`` (a short fixed word)."""
        self.closed.labels(reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of every series."""
        return generate_latest(self.registry)
