"""What every check reads: the snapshot, the inference and one Service's model results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from srcip.doctor.infer import Inference, IngressController, config_map_data
from srcip.doctor.snapshot import Snapshot
from srcip.model.grouped import GroupedService, NodeGroup, Seen, SeenKind
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import Service

__all__ = [
    "ServiceContext",
    "controller_config",
    "controller_of",
    "group_names",
    "listed",
    "not_the_client",
    "seen_text",
    "selects",
]

#: How many node names a finding or the text report lists before it says "and N more".
SHOWN = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceContext:
    """One externally reachable Service and what the model predicts for it."""

    snapshot: Snapshot
    inference: Inference
    service: Service
    lb: EffectiveLoadBalancer | None
    summary: GroupedService | None  # the model's prediction per node group


def selects(service: Service, labels: tuple[tuple[str, str], ...]) -> bool:
    """Whether the Service's selector matches pods with ``labels``."""
    have = dict(labels)
    return bool(service.selector) and all(have.get(k) == v for k, v in service.selector)


def controller_of(ctx: ServiceContext) -> IngressController | None:
    """The ingress-nginx controller behind the Service, if it is one."""
    return next(
        (
            c
            for c in ctx.inference.ingress_controllers
            if c.namespace == ctx.service.namespace and selects(ctx.service, c.labels)
        ),
        None,
    )


def controller_config(ctx: ServiceContext, controller: IngressController) -> dict[str, str]:
    """The data of the ConfigMap the controller reads ({} when absent or not visible)."""
    if controller.config_map is None:
        return {}
    return config_map_data(ctx.snapshot, controller.config_map) or {}


def listed(names: Sequence[str], total: int | None = None) -> str:
    """``names`` joined, the first :data:`SHOWN` only, with how many more there are."""
    count = len(names) if total is None else total
    shown = ", ".join(names[:SHOWN])
    return f"{shown}, … ({count} in all)" if count > SHOWN else shown


def group_names(groups: Iterable[NodeGroup]) -> str:
    """The members of ``groups``, listed (:func:`listed`)."""
    chosen = list(groups)
    names: list[str] = []
    for group in chosen:
        if len(names) >= SHOWN:
            break
        names.extend(group.some(SHOWN - len(names)))
    return listed(names, sum(g.count for g in chosen))


def seen_text(seen: Seen) -> str:
    """An address at the pod or the app in words: whose it is, and for how many nodes."""
    if seen.kind is SeenKind.CLIENT:
        return f"{seen.address} (the client)"
    group = seen.group
    if group is None:
        return str(seen.address)
    own = "own address" if seen.kind is SeenKind.NODE else "pod-network gateway"
    if group.count == 1:
        return f"{seen.address} ({group.first}'s {own})"
    return f"each node's {own} ({group.count} nodes: {group.first} {seen.address}, …)"


def not_the_client(summary: GroupedService | None) -> tuple[Seen, ...]:
    """What the pods see instead of the client, where they do not see the client."""
    if summary is None:
        return ()
    return tuple(s for s in summary.pod_sees if s.kind is not SeenKind.CLIENT)
