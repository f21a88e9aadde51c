"""``run_lab``: bring a scenario up, run the chosen experiments, take it down."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from srcip.errors import UsageError
from srcip.lab.cluster import LabCluster
from srcip.lab.experiments import ShareResult, Visibility, share, visibility
from srcip.model.objects import Cluster, IPAddress

__all__ = ["Experiment", "LabRun", "parse_experiments", "run_lab"]

Progress = Callable[[str, int, int], None]  # (experiment, done, total)


class Experiment(StrEnum):
    """The experiments ``srcip lab run`` knows so far."""

    VISIBILITY = "visibility"
    SHARE = "share"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabRun:
    """What one run measured, with what it needs to be read (seed, timing, address plan)."""

    scenario: str
    service: str
    policy: str
    load_balancer: str | None  # the effective mode, None without a load balancer
    seed: int
    time_scale: float
    root: bool  # False: privileged ports were bound as 20000 + p
    addresses: tuple[tuple[IPAddress, str], ...]
    visibility: Visibility | None = None
    share: ShareResult | None = None

    @property
    def ok(self) -> bool:
        """Every observation allowed and no impossible connection in the share."""
        seen = self.visibility is None or self.visibility.all_allowed
        return seen and (self.share is None or self.share.impossible == 0)


def parse_experiments(text: str) -> tuple[Experiment, ...]:
    """``"visibility,share"`` → the experiments, in the order given (UsageError if unknown)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {e.value: e for e in Experiment}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(
            f"unknown experiment {', '.join(unknown) or '(none)'}. Fix: choose from "
            f"{', '.join(known)} (comma-separated); failover and ratelimit are not built yet"
        )
    return tuple(dict.fromkeys(known[n] for n in names))


async def run_lab(
    cluster: Cluster,
    *,
    experiments: Sequence[Experiment] = (Experiment.VISIBILITY, Experiment.SHARE),
    service: str | None = None,
    seed: int = 0,
    requests: int = 10,
    connections: int = 600,
    time_scale: float = 1.0,
    timeout: float = 3.0,
    progress: Progress | None = None,
) -> LabRun:
    """Run ``experiments`` on ``cluster`` in the lab and return what they measured."""
    lab = LabCluster(
        cluster, service=service, seed=seed, time_scale=time_scale, drop_hold=timeout + 1
    )
    seen: Visibility | None = None
    split: ShareResult | None = None
    async with lab:
        for experiment in experiments:
            tick = None if progress is None else _bind(progress, str(experiment))
            if experiment is Experiment.VISIBILITY:
                seen = await visibility(lab, requests=requests, timeout=timeout, progress=tick)
            else:
                split = await share(lab, connections=connections, timeout=timeout, progress=tick)
    lb = lab.load_balancer_model
    return LabRun(
        scenario=lab.scenario.name,
        service=lab.entry.key,
        policy=str(lab.entry.external_traffic_policy),
        load_balancer=str(lb.mode) if lb is not None else None,
        seed=seed,
        time_scale=time_scale,
        root=lab.plan.root,
        addresses=lab.plan.items(),
        visibility=seen,
        share=split,
    )


def _bind(progress: Progress, name: str) -> Callable[[int, int], None]:
    def tick(done: int, total: int) -> None:
        progress(name, done, total)

    return tick
