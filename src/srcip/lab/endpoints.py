"""The lab's endpoints controller: pod events reach every node after a delay.

In a cluster a pod's change (deleted, readiness flipped) reaches kube-proxy on every node
through its EndpointSlice some time later (the EndpointSlice controller, the API server's
watch, kube-proxy's sync; ``spec.failover.endpointDelaySeconds``). The controller holds the
lab's current :class:`~srcip.model.objects.Cluster` and its index; the node data paths and
health servers read :meth:`EndpointsController.index` for every decision, so a rebuilt index
takes effect on the next new connection and the next probe, everywhere at once.

Endpoint conditions follow the EndpointSlice controller (KP §2.1 defaults): a deleted pod's endpoint
turns ``ready: false, serving: <still ready>, terminating: true`` for its grace period and
then disappears; an unready pod's endpoint turns ``ready: false, serving: false``. kube-proxy's
use of terminating-but-serving endpoints (only when no ready one is left, KP §2.3) is the
model's, read from the index. Left out: scaling (new pods need placement and a process).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from enum import StrEnum

from srcip.errors import UsageError
from srcip.model.index import ClusterIndex, build_index
from srcip.model.objects import Cluster, Endpoint, EndpointSlice, Pod

__all__ = ["EndpointsController", "PodChange", "with_pod_change"]


class PodChange(StrEnum):
    """What happened to a pod."""

    TERMINATING = "terminating"  # deleted: in its grace period
    GONE = "gone"  # grace period over: the endpoint is removed
    UNREADY = "unready"
    READY = "ready"


def _endpoint(ep: Endpoint, change: PodChange) -> Endpoint | None:
    if change is PodChange.GONE:
        return None
    if change is PodChange.TERMINATING:
        return replace(ep, ready=False, serving=ep.ready, terminating=True)
    ready = change is PodChange.READY
    return replace(ep, ready=ready, serving=ready, terminating=False)


def _pod(pod: Pod, change: PodChange) -> Pod | None:
    if change is PodChange.GONE:
        return None
    if change is PodChange.TERMINATING:
        return replace(pod, terminating=True, ready=False)
    return replace(pod, ready=change is PodChange.READY)


def with_pod_change(cluster: Cluster, pod_name: str, change: PodChange) -> Cluster:
    """``cluster`` after ``change`` to pod ``pod_name`` (``namespace/name`` or ``name``)."""
    namespace, _, name = pod_name.rpartition("/")
    namespace = namespace or "default"
    pod = next((p for p in cluster.pods if p.name == name and p.namespace == namespace), None)
    if pod is None:
        known = ", ".join(sorted(p.name for p in cluster.pods)) or "none"
        raise UsageError(f"pod {pod_name} is not in the scenario (pods: {known})")
    addresses = set(pod.ips)
    slices: list[EndpointSlice] = []
    for item in cluster.endpoint_slices:
        endpoints: list[Endpoint] = []
        for ep in item.endpoints:
            mine = item.namespace == namespace and (ep.target == name or ep.address in addresses)
            changed = _endpoint(ep, change) if mine else ep
            if changed is not None:
                endpoints.append(changed)
        slices.append(replace(item, endpoints=tuple(endpoints)))
    pods = tuple(q for q in (_pod(p, change) if p is pod else p for p in cluster.pods) if q)
    return replace(cluster, endpoint_slices=tuple(slices), pods=pods)


class EndpointsController:
    """The current cluster and index; :meth:`apply` changes them after ``delay`` seconds."""

    def __init__(self, cluster: Cluster, *, delay: float = 0.0) -> None:
        self.cluster = cluster
        self.delay = delay
        self._index = build_index(cluster)
        self.version = 0  # bumped on every applied change

    def index(self) -> ClusterIndex:
        """The index every node's data path and health servers use now."""
        return self._index

    def set_cluster(self, cluster: Cluster) -> None:
        """Make ``cluster`` current everywhere at once (a failover's next kube-proxy view)."""
        self.cluster = cluster
        self._index = build_index(cluster)
        self.version += 1

    def change_now(self, pod_name: str, change: PodChange) -> None:
        """Apply ``change`` at once (the propagation already happened)."""
        self.cluster = with_pod_change(self.cluster, pod_name, change)
        self._index = build_index(self.cluster)
        self.version += 1

    async def apply(self, pod_name: str, change: PodChange) -> None:
        """Apply ``change`` everywhere after the propagation delay."""
        with_pod_change(self.cluster, pod_name, change)  # bad input fails now, not later
        await asyncio.sleep(self.delay)
        self.change_now(pod_name, change)

    async def delete(self, pod_name: str, *, grace: float) -> None:
        """A pod deletion: terminating after the delay, gone when its grace period ends."""
        await self.apply(pod_name, PodChange.TERMINATING)
        await asyncio.sleep(max(0.0, grace - self.delay))
        self.change_now(pod_name, PodChange.GONE)
