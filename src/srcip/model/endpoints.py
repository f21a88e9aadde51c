"""Endpoint categorisation: which endpoints a node may use for a service port (KP §2, §12).

A faithful re-statement of kube-proxy's ``CategorizeEndpoints`` (``pkg/proxy/topology.go``):
the cluster set is the Ready endpoints (filtered by topology hints when every Ready endpoint
carries them), falling back to serving-and-terminating ones; the local set is the local Ready
endpoints, falling back to local serving-and-terminating ones; the two fallbacks are
independent. Topology hints never filter the local set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from srcip.model.objects import IPAddress

__all__ = [
    "EndpointCategories",
    "EndpointLike",
    "TopologyMode",
    "categorize_endpoints",
    "topology_mode",
]


class EndpointLike(Protocol):
    """What categorisation reads of an endpoint (an :class:`~srcip.model.objects.Endpoint`,
    or the index's per-port backend)."""

    @property
    def address(self) -> IPAddress: ...
    @property
    def node_name(self) -> str | None: ...
    @property
    def ready(self) -> bool: ...
    @property
    def serving(self) -> bool: ...
    @property
    def terminating(self) -> bool: ...
    @property
    def zone_hints(self) -> frozenset[str]: ...
    @property
    def node_hints(self) -> frozenset[str]: ...


E = TypeVar("E", bound=EndpointLike)


class TopologyMode(StrEnum):
    """How the cluster set is narrowed by hints (KP §12.2); the values are upstream's."""

    NONE = ""
    PREFER_SAME_ZONE = "PreferSameZone"
    PREFER_SAME_NODE = "PreferSameNode"


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointCategories(Generic[E]):
    """The usable endpoint sets of one service port on one node (KP §2.3)."""

    cluster: tuple[E, ...] = ()  # empty when the port never uses Cluster policy
    local: tuple[E, ...] = ()  # empty when the port never uses Local policy
    has_any: bool = False  # some Ready or serving+terminating endpoint exists anywhere
    topology: TopologyMode = TopologyMode.NONE

    @property
    def all_reachable(self) -> tuple[E, ...]:
        """Union of cluster and local sets, cluster order first (KP §12.3)."""
        seen = {(e.address, e.node_name) for e in self.cluster}
        return self.cluster + tuple(e for e in self.local if (e.address, e.node_name) not in seen)


def is_serving_terminating(endpoint: EndpointLike) -> bool:
    """Usable only as a fallback: still serving while terminating (KP §2.3)."""
    return endpoint.serving and endpoint.terminating


def topology_mode(
    endpoints: Sequence[EndpointLike], node: str, zone: str | None, *, prefer_same_node: bool
) -> TopologyMode:
    """Which hint filter applies to the cluster set on this node (KP §12.2)."""
    ready = [e for e in endpoints if e.ready]
    if not ready:
        return TopologyMode.NONE
    # PreferSameNode needs the PreferSameTrafficDistribution gate (KP §0).
    if (
        prefer_same_node
        and all(e.node_hints for e in ready)
        and any(node in e.node_hints for e in ready)
    ):
        return TopologyMode.PREFER_SAME_NODE
    if all(e.zone_hints for e in ready) and any(zone in e.zone_hints for e in ready):
        return TopologyMode.PREFER_SAME_ZONE
    return TopologyMode.NONE


def _fits_topology(endpoint: EndpointLike, mode: TopologyMode, node: str, zone: str | None) -> bool:
    if mode is TopologyMode.PREFER_SAME_NODE:
        return node in endpoint.node_hints
    if mode is TopologyMode.PREFER_SAME_ZONE:
        return zone in endpoint.zone_hints
    return True


def categorize_endpoints(
    endpoints: Sequence[E],
    *,
    node: str,
    zone: str | None = None,
    uses_cluster: bool = True,
    uses_local: bool = False,
    prefer_same_node: bool = True,
) -> EndpointCategories[E]:
    """The cluster and local sets of ``endpoints`` as kube-proxy on ``node`` computes them.

    ``uses_cluster`` / ``uses_local`` are the service port's UsesClusterEndpoints /
    UsesLocalEndpoints (KP §1.5). An endpoint is local iff its ``node_name`` is ``node``
    (KP §2.2).
    """
    cluster: tuple[E, ...] = ()
    mode = TopologyMode.NONE
    has_any = False
    if uses_cluster:
        mode = topology_mode(endpoints, node, zone, prefer_same_node=prefer_same_node)
        cluster = tuple(e for e in endpoints if e.ready and _fits_topology(e, mode, node, zone))
        if not cluster:  # no Ready endpoint anywhere: fall back (KP §2.3)
            cluster = tuple(e for e in endpoints if is_serving_terminating(e))
        has_any = bool(cluster)
    local: tuple[E, ...] = ()
    if uses_local:
        has_any = has_any or any(e.ready or is_serving_terminating(e) for e in endpoints)
        mine = [e for e in endpoints if e.node_name == node]
        local = tuple(e for e in mine if e.ready) or tuple(
            e for e in mine if is_serving_terminating(e)
        )
    return EndpointCategories(cluster=cluster, local=local, has_any=has_any, topology=mode)
