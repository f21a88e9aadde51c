"""What every check reads: the snapshot, the inference and one Service's model results."""

from __future__ import annotations

from dataclasses import dataclass

from srcip.doctor.infer import Inference, IngressController, config_map_data
from srcip.doctor.snapshot import Snapshot
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import Service
from srcip.model.share import ServiceShare
from srcip.model.trace import ServiceTrace

__all__ = ["ServiceContext", "controller_config", "controller_of", "selects"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceContext:
    """One externally reachable Service and what the model predicts for it."""

    snapshot: Snapshot
    inference: Inference
    service: Service
    lb: EffectiveLoadBalancer | None
    share: ServiceShare | None
    trace: ServiceTrace | None


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
