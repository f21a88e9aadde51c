"""The ``ratelimit`` experiment: the seeds' nginx ``limit_req`` applied to the resolved client.

The seeds limit each client with ``limit_req_zone $binary_remote_addr rate=10r/s`` and
``limit_req burst=20 nodelay`` in the pod's nginx. Here every pod's app does the same
through :class:`srcip.clientip.ratelimit.RateLimiter` (nginx's accounting) keyed by the
client the app resolves with the Scenario's trust settings: :class:`LimitedApp` wraps each
pod's echo app for the experiment (the echo server itself has no limiter), answering 429
when the bucket is over. As in nginx each pod has its own zone.

Three clients send at once for ``duration`` seconds: the first "noisy" one at
``noisy_rate``, the others "quiet" at ``quiet_rate`` (below the limit). The Scenario's
external clients are used; fewer than three are topped up with documentation addresses
(noted). Whose bucket a request lands in is what the source IP decides: under Cluster the
app sees the forwarding node's address (SNAT), so every client shares the nodes' buckets and
the quiet ones are throttled with the noisy one; under Local each client has its own bucket
and only the noisy one is limited. The model's :func:`~srcip.model.trace.trace` says which
addresses the app sees per client (``model_keys``), reported beside the measured ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from ipaddress import ip_address

from srcip.clientip import resolve
from srcip.clientip.ratelimit import Limit, RateLimitConfig, RateLimiter
from srcip.lab.cluster import LabCluster
from srcip.lab.experiments import RequestResult, external_clients, request
from srcip.model.objects import IPAddress
from srcip.model.scenario import ClientSpec, Scenario
from srcip.model.trace import trace
from srcip.net.app import ConnectionView, EchoApp, Reply, Request

__all__ = ["SEED_LIMIT", "ClientCount", "LimitedApp", "RateLimitResult", "limited", "ratelimit"]

Progress = Callable[[int, int], None]
#: The seeds' ``limit_req zone=client_limit burst=20 nodelay`` at ``rate=10r/s``.
SEED_LIMIT = Limit(rate="10r/s", burst=20, nodelay=True)
_UNLIMITED_PATHS = (b"/healthz", b"/metrics")
_CLIENTS = 3
_MAX_PER_CLIENT = 5_000


class LimitedApp(EchoApp):
    """An echo app behind ``limit_req``: over the client's bucket, 429 instead of the echo."""

    def __init__(self, app: EchoApp, limiter: RateLimiter) -> None:
        super().__init__(app.config, hostname=app.hostname, metrics=app.metrics, log=app.log)
        self.date, self.draining = app.date, app.draining
        self.limiter = limiter

    def respond(self, conn: ConnectionView, request: Request) -> Reply:
        """The echo answer, or 429 when the resolved client's bucket is over its limit."""
        if request.target.partition(b"?")[0] not in _UNLIMITED_PATHS:
            client = resolve(conn.peer_text, request.headers, self.config.trust, conn.facts.proxy)
            if not self.limiter.check(client.ip).allowed:
                return self.refuse(conn, request, 429, "limit_req: too many requests")
        return super().respond(conn, request)


@contextlib.contextmanager
def limited(lab: LabCluster, limit: Limit = SEED_LIMIT) -> Iterator[None]:
    """Every running pod's app behind its own limiter while the block runs (new
    connections only: a connection keeps the app it was accepted with)."""
    saved = {name: server.app for name, server in lab.pods.items()}
    config = RateLimitConfig(default=limit)
    for server in lab.pods.values():
        server.app = LimitedApp(server.app, RateLimiter(config, time.monotonic))
    try:
        yield
    finally:
        for name, app in saved.items():
            lab.pods[name].app = app


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCount:
    """One client's requests: accepted, limited (429), failed otherwise."""

    policy: str
    client: IPAddress
    role: str  # "noisy" or "quiet"
    rate: float
    requests: int
    accepted: int
    limited: int
    failed: int
    keys: tuple[IPAddress, ...]  # the clients the app resolved for it (accepted requests)
    model_keys: tuple[IPAddress, ...]  # what the model says the app sees for it


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitResult:
    """Per client, under one policy, with the limit applied."""

    policy: str
    limit: str  # "10r/s burst=20 nodelay"
    duration: float
    clients: tuple[ClientCount, ...]
    notes: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        """The app saw, for every client, only addresses the model says it sees."""
        return all(set(c.keys) <= set(c.model_keys) for c in self.clients)

    @property
    def shared(self) -> bool:
        """Some address the app sees is shared by two clients (they throttle each other)."""
        seen = [set(c.keys) for c in self.clients]
        return any(a & b for i, a in enumerate(seen) for b in seen[i + 1 :])


def limit_text(limit: Limit) -> str:
    """``10r/s burst=20 nodelay`` as nginx writes the directive's arguments."""
    extra = " nodelay" if limit.nodelay else (f" delay={limit.delay}" if limit.delay else "")
    return f"{limit.rate} burst={limit.burst}{extra}"


def rate_clients(lab: LabCluster) -> tuple[tuple[ClientSpec, ...], tuple[str, ...]]:
    """Three external clients: the Scenario's, topped up with 203.0.113.x addresses."""
    clients, notes = external_clients(lab)
    clients = clients[:_CLIENTS]
    used = {c.address for c in clients}
    candidate = int(ip_address("203.0.113.7"))
    added = []
    while len(clients) < _CLIENTS:
        address = ip_address(candidate)
        candidate += 1
        if address in used:
            continue
        used.add(address)
        clients = (*clients, ClientSpec(name=f"ratelimit-{len(clients) + 1}", address=address))
        added.append(str(address))
    if added:
        notes = (*notes, f"clients {', '.join(added)} added for the rate limit experiment")
    return clients, notes


def _model_keys(lab: LabCluster, clients: tuple[ClientSpec, ...]) -> dict[str, set[IPAddress]]:
    scenario = lab.scenario or Scenario(name="default")
    cluster = replace(lab.controller.cluster, scenario=replace(scenario, clients=clients))
    found: dict[str, set[IPAddress]] = {c.name: set() for c in clients}
    for item in trace(cluster, service=lab.entry.key).services:
        for o in item.outcomes:
            if o.delivered and o.probability > 0 and o.app_client_ip is not None:
                found.setdefault(o.client, set()).add(o.app_client_ip)
    return found


async def ratelimit(
    lab: LabCluster,
    *,
    duration: float = 3.0,
    noisy_rate: float = 150.0,
    quiet_rate: float = 10.0,
    limit: Limit = SEED_LIMIT,
    timeout: float = 3.0,
    progress: Progress | None = None,
) -> RateLimitResult:
    """The clients' load against pods behind ``limit``; see the module docstring."""
    clients, notes = rate_clients(lab)
    rates = [noisy_rate] + [quiet_rate] * (len(clients) - 1)
    counts = [max(1, min(_MAX_PER_CLIENT, round(r * duration))) for r in rates]
    target = lab.entry_address if lab.load_balancer is not None else lab.node_entries()[0][1]
    results: list[list[tuple[RequestResult, int | None, IPAddress | None]]] = [[] for _ in clients]
    total, done = sum(counts), 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.02

    async def one(index: int) -> None:
        nonlocal done
        reply = await request(lab, clients[index], target, timeout=timeout)
        app = (reply.document or {}).get("client") or {}
        seen = lab.plan.scenario(app["ip"]) if app.get("ip") else None
        results[index].append((reply.result, reply.status, seen))
        done += 1
        if progress is not None:
            progress(done, total)

    async def send(index: int, group: asyncio.TaskGroup) -> None:
        for number in range(counts[index]):
            wait = start + number / rates[index] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            group.create_task(one(index))

    with limited(lab, limit):
        async with asyncio.TaskGroup() as group:
            for index in range(len(clients)):
                group.create_task(send(index, group))
    model = _model_keys(lab, clients)
    policy = str(lab.entry.external_traffic_policy)
    rows = tuple(
        ClientCount(
            policy=policy, client=c.address, role="noisy" if i == 0 else "quiet",
            rate=rates[i], requests=counts[i],
            accepted=sum(1 for r, _, _ in results[i] if r is RequestResult.OK),
            limited=sum(1 for _, status, _ in results[i] if status == 429),
            failed=sum(1 for r, s, _ in results[i] if r is not RequestResult.OK and s != 429),
            keys=tuple(sorted({k for _, _, k in results[i] if k is not None}, key=str)),
            model_keys=tuple(sorted(model.get(c.name, set()), key=str)),
        )
        for i, c in enumerate(clients)
    )  # fmt: skip
    return RateLimitResult(
        policy=policy, limit=limit_text(limit), duration=duration, clients=rows, notes=notes
    )
