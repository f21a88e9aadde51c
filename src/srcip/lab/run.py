"""``run_lab``: bring a scenario up, run the chosen experiments, take it down; ``hold_lab``
keeps one up for ``srcip lab up`` until ``srcip lab down`` signals it (state in a run
directory: the pid, removed on the way out).

One lab session per externalTrafficPolicy: the scenario's own runs every chosen experiment
(``failover`` last, since it deletes pods); with ``compare_policies`` the Service is also
run under the other policy (like the seeds' ``web-cluster-policy`` / ``web-local-policy``
pair, a healthCheckNodePort allocated when Local needs one) for ``visibility`` and
``ratelimit``, whose observations carry their policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from srcip.errors import UsageError
from srcip.lab.addresses import DEFAULT_BASE
from srcip.lab.cluster import LabCluster
from srcip.lab.experiments import ShareResult, Visibility, share, visibility
from srcip.lab.failover import FailoverResult, failover
from srcip.lab.ratelimit import RateLimitResult, ratelimit
from srcip.model.enums import TrafficPolicy
from srcip.model.objects import Cluster, IPAddress
from srcip.model.scenario import Scenario, ScenarioEvent
from srcip.model.share import COMPARISON_HC_PORT
from srcip.model.tracepath import entry_services

__all__ = [
    "STATE_FILE",
    "Experiment",
    "LabRun",
    "address_roles",
    "clear_state",
    "curl_commands",
    "default_run_dir",
    "hold_lab",
    "is_lab_process",
    "parse_experiments",
    "read_state",
    "run_lab",
    "with_policy",
]

Progress = Callable[[str, int, int], None]  # (experiment, done, total)


class Experiment(StrEnum):
    """The experiments ``srcip lab run`` knows."""

    VISIBILITY = "visibility"
    SHARE = "share"
    FAILOVER = "failover"
    RATELIMIT = "ratelimit"


_EVERY_POLICY = (Experiment.VISIBILITY, Experiment.RATELIMIT)  # run per policy when comparing


@dataclass(frozen=True, slots=True, kw_only=True)
class LabRun:
    """What one run measured, with what it needs to be read (seed, timing, address plan)."""

    scenario: str
    service: str
    policy: str  # the scenario's own
    load_balancer: str | None  # the effective mode, None without a load balancer
    seed: int
    time_scale: float
    root: bool  # False: privileged ports were bound as 20000 + p
    addresses: tuple[tuple[IPAddress, str], ...]
    node_addresses: tuple[tuple[IPAddress, str], ...] = ()  # (address, node name)
    policies: tuple[str, ...] = ()  # every policy run, the scenario's first
    visibility: Visibility | None = None  # every policy's observations
    by_policy: tuple[tuple[str, Visibility], ...] = ()
    share: ShareResult | None = None
    failover: FailoverResult | None = None
    ratelimit: tuple[RateLimitResult, ...] = ()

    @property
    def ok(self) -> bool:
        """Every observation allowed, no impossible connection in the share, the failure
        window within the model's, and the app saw the clients the model says."""
        seen = self.visibility is None or self.visibility.all_allowed
        split = self.share is None or self.share.impossible == 0
        failing = self.failover is None or self.failover.ok
        limited = all(r.agrees for r in self.ratelimit)
        return seen and split and failing and limited


def parse_experiments(text: str) -> tuple[Experiment, ...]:
    """``"visibility,share"`` → the experiments, in the order given (UsageError if unknown)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {e.value: e for e in Experiment}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(
            f"unknown experiment {', '.join(unknown) or '(none)'}. Fix: choose from "
            f"{', '.join(known)} (comma-separated)"
        )
    return tuple(dict.fromkeys(known[n] for n in names))


def with_policy(cluster: Cluster, service: str, policy: TrafficPolicy) -> Cluster:
    """``cluster`` with Service ``service``'s externalTrafficPolicy set to ``policy`` (a
    healthCheckNodePort allocated for Local when it has none, as the API server does)."""
    services = tuple(
        replace(
            s,
            external_traffic_policy=policy,
            health_check_node_port=s.health_check_node_port or COMPARISON_HC_PORT,
        )
        if s.key == service
        else s
        for s in cluster.services
    )
    return replace(cluster, services=services)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    seed: int
    requests: int
    connections: int
    time_scale: float
    timeout: float
    events: tuple[ScenarioEvent, ...]
    rate: float
    fallback: bool | None
    progress: Progress | None
    engine: str


@dataclass(slots=True)
class _Found:
    visibility: list[tuple[str, Visibility]]
    share: ShareResult | None = None
    failover: FailoverResult | None = None
    ratelimit: tuple[RateLimitResult, ...] = ()


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
    engine: str = "builtin",
    compare_policies: bool = False,
    events: tuple[ScenarioEvent, ...] = (),
    rate: float = 200.0,
    fallback: bool | None = None,
    base: IPv4Network = DEFAULT_BASE,
) -> LabRun:
    """Run ``experiments`` on ``cluster`` in the lab and return what they measured.

    ``engine`` ``"real"`` runs real HAProxy as the load balancer (see :class:`LabCluster`).
    ``events``, ``rate`` and ``fallback`` are the failover's (see :func:`failover`);
    ``compare_policies`` also runs visibility and ratelimit under the other policy.
    ``base``: the loopback network the address plan allocates from (two labs at once on one
    machine need different ones).
    """
    scenario = cluster.scenario or Scenario(name="default")
    entry = entry_services(cluster, scenario, service)[0][0]
    own = entry.external_traffic_policy
    policies = [own] + ([p for p in TrafficPolicy if p is not own] if compare_policies else [])
    options = _Options(
        seed=seed, requests=requests, connections=connections, time_scale=time_scale,
        timeout=timeout, events=events, rate=rate, fallback=fallback, progress=progress,
        engine=engine,
    )  # fmt: skip
    found = _Found(visibility=[])
    first: LabCluster | None = None
    for policy in policies:
        wanted = [e for e in experiments if policy is own or e in _EVERY_POLICY]
        if not wanted:
            continue
        lab = LabCluster(
            with_policy(cluster, entry.key, policy), service=service, seed=seed,
            time_scale=time_scale, drop_hold=timeout + 1, engine=engine, base=base,
        )  # fmt: skip
        first = first or lab
        await _session(lab, wanted, options, found, label=str(policy) if compare_policies else "")
    assert first is not None
    return _collect(first, options, [str(p) for p in policies], found)


async def _session(
    lab: LabCluster, experiments: list[Experiment], o: _Options, found: _Found, *, label: str
) -> None:
    ordered = sorted(experiments, key=lambda e: e is Experiment.FAILOVER)
    async with lab:
        for experiment in ordered:
            name = f"{experiment} ({label})" if label else str(experiment)
            tick = None if o.progress is None else _bind(o.progress, name)
            if experiment is Experiment.VISIBILITY:
                seen = await visibility(lab, requests=o.requests, timeout=o.timeout, progress=tick)
                found.visibility.append((str(lab.entry.external_traffic_policy), seen))
            elif experiment is Experiment.SHARE:
                found.share = await share(
                    lab, connections=o.connections, timeout=o.timeout, progress=tick
                )
            elif experiment is Experiment.FAILOVER:
                found.failover = await failover(
                    lab, events=o.events, rate=o.rate, timeout=o.timeout, fallback=o.fallback,
                    progress=tick,
                )  # fmt: skip
            else:
                limit = await ratelimit(lab, timeout=o.timeout, progress=tick)
                found.ratelimit = (*found.ratelimit, limit)


def _collect(lab: LabCluster, o: _Options, policies: list[str], found: _Found) -> LabRun:
    merged = None
    if found.visibility:
        parts = [v for _, v in found.visibility]
        merged = Visibility(
            observations=tuple(x for v in parts for x in v.observations),
            outcomes=tuple(x for v in parts for x in v.outcomes),
            notes=tuple(dict.fromkeys(n for v in parts for n in v.notes)),
        )
    lb = lab.load_balancer_model
    return LabRun(
        scenario=lab.scenario.name,
        service=lab.entry.key,
        policy=str(lab.entry.external_traffic_policy),
        load_balancer=str(lb.mode) if lb is not None else None,
        seed=o.seed,
        time_scale=o.time_scale,
        root=lab.plan.root,
        addresses=lab.plan.items(),
        node_addresses=tuple((a.address, n.name) for n in lab.cluster.nodes for a in n.addresses),
        policies=tuple(policies),
        visibility=merged,
        by_policy=tuple(found.visibility),
        share=found.share,
        failover=found.failover,
        ratelimit=found.ratelimit,
    )


def _bind(progress: Progress, name: str) -> Callable[[int, int], None]:
    def tick(done: int, total: int) -> None:
        progress(name, done, total)

    return tick


# --------------------------------------------------------------------------- lab up / down

STATE_FILE = "lab.json"


def default_run_dir() -> Path:
    """``$XDG_RUNTIME_DIR/srcip-lab``, else ``/tmp/srcip-lab-<uid>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "srcip-lab"
    return Path(tempfile.gettempdir()) / f"srcip-lab-{os.getuid()}"


def read_state(run_dir: Path) -> dict[str, Any] | None:
    """The state ``lab up`` wrote in ``run_dir`` (None: no lab is up there)."""
    try:
        data = json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def clear_state(run_dir: Path) -> None:
    """Remove the state file, and the run directory when nothing else is in it."""
    with contextlib.suppress(FileNotFoundError):
        (run_dir / STATE_FILE).unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def is_lab_process(pid: int) -> bool:
    """``pid`` is alive and runs srcip (so a reused pid is never signalled)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"srcip" in command


def address_roles(lab: LabCluster) -> tuple[tuple[IPAddress, str, str], ...]:
    """(scenario address, loopback address, what it stands for) for every planned address."""
    roles: dict[IPAddress, str] = {}
    for client in lab.scenario.clients:
        roles[client.address] = f"client {client.name}"
    roles.setdefault(lab.vip, "the Service's load balancer IP")
    for node in lab.cluster.nodes:
        for address in node.addresses:
            roles[address.address] = f"node {node.name}"
    for pod in lab.cluster.pods:
        for ip in pod.ips:
            roles[ip] = f"pod {pod.name}"
    return tuple((a, local, roles.get(a, "")) for a, local in lab.plan.items())


def curl_commands(lab: LabCluster) -> tuple[tuple[str, str], ...]:
    """(what it does, curl command) per external client: through the load balancer, or to
    each node's NodePort, from the client's own loopback address."""
    clients = [c for c in lab.scenario.clients if c.node is None and c.pod is None]
    addresses = [c.address for c in clients] or [next(iter(a for a, _ in lab.plan.items()))]
    port = lab.entry.ports[0]
    out = []
    for address in addresses:
        source = lab.plan.local(address)
        if lab.load_balancer is not None:
            host, local_port = lab.entry_address
            what = f"client {address} → load balancer {lab.vip}:{port.port} ({lab.entry.key})"
            out.append((what, f"curl --interface {source} http://{host}:{local_port}/"))
            continue
        for node, (host, local_port) in lab.node_entries():
            what = f"client {address} → {node} NodePort {port.node_port} ({lab.entry.key})"
            out.append((what, f"curl --interface {source} http://{host}:{local_port}/"))
    return tuple(out)


async def hold_lab(
    cluster: Cluster,
    *,
    ready: Callable[[LabCluster], None],
    service: str | None = None,
    seed: int = 0,
    time_scale: float = 1.0,
    engine: str = "builtin",
    base: IPv4Network = DEFAULT_BASE,
) -> None:
    """Bring the scenario up, call ``ready(lab)``, and keep it up until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        lab = LabCluster(
            cluster, service=service, seed=seed, time_scale=time_scale, engine=engine, base=base
        )
        async with lab:
            ready(lab)
            await stop.wait()
    finally:
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(number)
