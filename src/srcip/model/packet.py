"""What goes into kube-proxy's decision (a new packet, affinity state) and what comes out.

A :class:`RouteResult` lists every endpoint the packet may reach with its exact
probability (``Fraction``), never a sample: kube-proxy picks uniformly at random per new
connection (KP §7.1), and only the lab draws from the distribution.

Session affinity (KP §9) is explicit state: :class:`AffinityState` goes in, and each
:class:`EndpointChoice` carries the state that results if that endpoint is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from types import MappingProxyType

from srcip.model.enums import EntryPoint, Protocol, SourceClass, Verdict
from srcip.model.objects import IPAddress

__all__ = [
    "AffinityEntry",
    "AffinityState",
    "Backend",
    "EndpointChoice",
    "Packet",
    "RouteResult",
    "ServicePortRef",
    "format_endpoint",
]


def format_endpoint(ip: IPAddress, port: int) -> str:
    """``ip:port``, or ``[ip]:port`` for IPv6."""
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """One merged endpoint (``ip:port``) of one service port (KP §2.1)."""

    address: IPAddress
    port: int
    node_name: str | None
    ready: bool
    serving: bool
    terminating: bool
    zone_hints: frozenset[str]
    node_hints: frozenset[str]
    target: str | None
    text: str  # ip:port, [ip]:port for IPv6


@dataclass(frozen=True, slots=True, kw_only=True)
class Packet:
    """The first packet of a new connection, as it arrives at a node."""

    src: IPAddress
    dst: IPAddress
    port: int
    protocol: Protocol = Protocol.TCP


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePortRef:
    """Which service port a packet matched: ``namespace/name:port/protocol``."""

    namespace: str
    name: str
    port_name: str
    port: int
    protocol: Protocol

    def __str__(self) -> str:
        label = self.port_name or str(self.port)
        return f"{self.namespace}/{self.name}:{label}/{self.protocol}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AffinityEntry:
    """A client remembered by an endpoint: kube-proxy's per-endpoint recent list (KP §9.2)."""

    endpoint: str  # ip:port
    last_seen: float  # seconds, on the caller's clock


@dataclass(frozen=True, slots=True)
class AffinityState:
    """ClientIP affinity memory of one node, keyed by (service port, client IP) (KP §9)."""

    entries: Mapping[tuple[str, IPAddress], AffinityEntry] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def lookup(self, service_port: str, client: IPAddress) -> AffinityEntry | None:
        """The remembered entry for this client on this service port, if any."""
        return self.entries.get((service_port, client))

    def remember(
        self, service_port: str, client: IPAddress, endpoint: str, now: float
    ) -> AffinityState:
        """A new state in which ``endpoint`` remembers ``client`` as of ``now``."""
        entries = dict(self.entries)
        entries[(service_port, client)] = AffinityEntry(endpoint=endpoint, last_seen=now)
        return AffinityState(MappingProxyType(entries))


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointChoice:
    """One endpoint the packet may be DNATed to, and what happens if it is."""

    ip: IPAddress
    port: int
    node: str | None
    probability: Fraction
    masquerade: bool
    source_seen: IPAddress  # the source address the pod sees (client, or SNAT address)
    affinity: AffinityState | None = None  # state after this choice (ClientIP affinity only)

    @property
    def endpoint(self) -> str:
        """``ip:port`` (``[ip]:port`` for IPv6)."""
        return format_endpoint(self.ip, self.port)


@dataclass(frozen=True, kw_only=True)
class RouteResult:
    """kube-proxy's decision for one new packet on one node, with the rules that decided.

    The decision is stored as kube-proxy makes it: a uniform choice over ``targets``
    (KP §7.1), whether the chain marks for masquerade, and the two addresses SNAT can pick.
    :attr:`endpoints` spells it out per endpoint (probability, hairpin, the source the pod
    sees, affinity after) and is computed once, on first use.

    ``masquerade`` and ``source_seen`` are the common value across all endpoint choices, or
    ``None`` when there is no endpoint (DROP, REJECT, ...) or the choices differ (e.g. SNAT
    toward a local endpoint uses the pod-network gateway, toward a remote one the node IP).
    """

    verdict: Verdict
    node: str
    packet: Packet
    source_class: SourceClass
    entry: EntryPoint | None = None
    service: ServicePortRef | None = None
    rules: tuple[str, ...] = ()  # the rules that decided, as "KP §N.M" references, in order
    reason_parts: tuple[tuple[str, tuple[object, ...]], ...] = ()  # (template, args) per rule
    targets: tuple[Backend, ...] = ()  # chosen uniformly at random (empty unless DNAT)
    marked: bool = False  # the chain marks the packet for masquerade (KP §5.1)
    snat_local: IPAddress | None = None  # SNAT source toward an endpoint on this node
    snat_remote: IPAddress | None = None  # SNAT source toward an endpoint elsewhere
    affinity_key: str | None = None  # service port key when ClientIP affinity applies
    affinity_before: AffinityState | None = None
    now: float = 0.0

    def cites(self, rule: str) -> bool:
        """Whether ``rule`` (e.g. ``"KP §4.3"``) is among the deciding rules."""
        return rule in self.rules

    @cached_property
    def reasons(self) -> tuple[str, ...]:
        """One sentence per rule in :attr:`rules`, same order."""
        return tuple(template.format(*args) for template, args in self.reason_parts)

    @cached_property
    def endpoints(self) -> tuple[EndpointChoice, ...]:
        """Every endpoint the packet may reach, with its probability and outcome."""
        if not self.targets:
            return ()
        src = self.packet.src
        share = Fraction(1, len(self.targets))
        state = self.affinity_before if self.affinity_before is not None else AffinityState()
        return tuple(self._choice(backend, src, share, state) for backend in self.targets)

    def seen_by(self, backend: Backend) -> tuple[bool, IPAddress]:
        """Whether the packet is masqueraded on its way to ``backend``, and the source it has.

        Masqueraded when marked, or when it would reach its own sender (hairpin, KP §4.5);
        then the source is the node's address toward a local or a remote endpoint (KP §5.2).
        """
        src = self.packet.src
        if not (self.marked or backend.address == src):
            return False, src
        snat = self.snat_local if backend.node_name == self.node else self.snat_remote
        if snat is None:
            raise ValueError(f"route result for {backend.text} lacks its SNAT address")
        return True, snat

    def _choice(
        self, backend: Backend, src: IPAddress, share: Fraction, state: AffinityState
    ) -> EndpointChoice:
        masq, seen = self.seen_by(backend)
        affinity = None
        if self.affinity_key is not None:
            affinity = state.remember(self.affinity_key, src, backend.text, self.now)
        return EndpointChoice(
            ip=backend.address,
            port=backend.port,
            node=backend.node_name,
            probability=share,
            masquerade=masq,
            source_seen=seen,
            affinity=affinity,
        )

    @property
    def masquerade(self) -> bool | None:
        """True/False when every choice agrees; None otherwise or without endpoints."""
        values = {choice.masquerade for choice in self.endpoints}
        return values.pop() if len(values) == 1 else None

    @property
    def source_seen(self) -> IPAddress | None:
        """The address the pod sees when every choice agrees; None otherwise."""
        values = {choice.source_seen for choice in self.endpoints}
        return values.pop() if len(values) == 1 else None
