"""The lab's experiments: what the pods really saw, and how traffic really split.

* :func:`visibility`: each external client of the Scenario makes ``requests`` requests,
  each on a new connection **bound to the client's local address**, through the path
  (the load balancer, or a NodePort drawn uniformly as the trace assumes). Per request it
  records the pod that answered, the pod's TCP peer (translated back to scenario terms),
  what kube-proxy node forwarded it, the PROXY header and forwarding headers the pod got,
  the client the app resolved (from the echo JSON), and ``allowed``: whether the model's
  :func:`~srcip.model.trace.trace` has an outcome with that pod, pod peer and app client
  (for a failed request: an outcome that fails the same way, timeout ↔ dropped,
  refused ↔ refused).
* :func:`share`: ``connections`` new connections (bounded, default 600, at most
  ``concurrency`` at once), spread round-robin over the clients; counts per pod, per node
  and lost (timed out or refused) against the model's expectations, with Pearson's
  chi-square p-value (:mod:`srcip.lab.stats`). The expectations come from the trace's
  outcome probabilities (see :func:`_expected`), which equal
  :func:`~srcip.model.share.share`'s split whenever every connection is delivered and also
  cover connections the app or a node refuses; rows list the pods and nodes of
  ``share()`` first.

In-cluster clients (``node``/``pod``) connect from their own address to the VIP (or
ClusterIP) through their node's data path, which kube-proxy short-circuits (KP §10); when
the VIP is not programmed (``ipMode: Proxy``, a hostname-only status) they go out to the
load balancer from the node's address, as :func:`~srcip.model.trace.trace` models them
(see :func:`client_route`). Every failed request (timed out, refused) is judged too: a
timeout matches an outcome the model drops (a DROP, a NetworkPolicy), a refusal one it
refuses.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from ipaddress import ip_address
from typing import Any

from srcip.errors import UsageError
from srcip.lab.cluster import LabCluster
from srcip.lab.realengine import scenario_text
from srcip.lab.stats import chi_square_test
from srcip.model.objects import IPAddress, family_of
from srcip.model.scenario import DEFAULT_CLIENT, ClientSpec
from srcip.model.share import share as model_share
from srcip.model.trace import Outcome, trace
from srcip.net import classify_peer
from srcip.net.tcp_relay import Address

__all__ = [
    "Observation",
    "PodCount",
    "Reply",
    "RequestResult",
    "ShareResult",
    "Visibility",
    "client_route",
    "external_clients",
    "is_allowed",
    "lab_clients",
    "observe",
    "request",
    "share",
    "visibility",
]

Progress = Callable[[int, int], None]  # (done, total)
Outcomes = tuple[Outcome, ...]
MAX_CONNECTIONS = 10_000


class RequestResult(StrEnum):
    """How one request ended, as the client saw it."""

    OK = "ok"
    TIMEOUT = "timeout"  # no answer in time: a silent drop somewhere
    REFUSED = "refused"  # refused, reset before any byte, or an error status
    ERROR = "error"  # anything else (a bug or a broken answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What one request got: the result, the HTTP status and the echo document."""

    result: RequestResult
    status: int | None = None
    document: dict[str, Any] | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One request through the lab, in scenario terms, judged against the model."""

    policy: str
    client: IPAddress
    result: RequestResult
    node: str | None = None
    pod: str | None = None
    pod_peer: IPAddress | None = None
    peer_kind: str | None = None
    proxy_src: str | None = None
    forwarded_for: tuple[str, ...] = ()
    app_client_ip: IPAddress | None = None
    allowed: bool = False
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Visibility:
    """Every observation, and the model's outcomes they were judged against."""

    observations: tuple[Observation, ...]
    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()

    @property
    def all_allowed(self) -> bool:
        """Every observation is one the model allows."""
        return all(o.allowed for o in self.observations)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodCount:
    """Measured and expected new connections of one pod (or node)."""

    name: str
    node: str | None
    count: int
    expected: float  # connections × the model's share


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareResult:
    """Measured split vs the model's, with chi-square p-values (None: nothing to test)."""

    connections: int
    pods: tuple[PodCount, ...]
    nodes: tuple[PodCount, ...]
    failed: Counter[str]
    expected_failed: float
    p_value: float | None
    node_p_value: float | None
    impossible: int  # connections that went where the model gives probability 0


async def request(
    lab: LabCluster,
    client: ClientSpec,
    target: Address,
    *,
    timeout: float = 3.0,
    path: str = "/",
    source: IPAddress | None = None,
) -> Reply:
    """One HTTP request on a new connection to ``target`` from the local address of
    ``source`` (default: the client's own)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {target[0]}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in client.headers]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    source_addr = (lab.plan.local(source or client.address), 0)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(*target, local_addr=source_addr)
            try:
                writer.write(data)
                answer = await reader.read()
            finally:
                writer.transport.abort()
    except TimeoutError:
        return Reply(result=RequestResult.TIMEOUT, detail=f"no answer within {timeout} s")
    except (ConnectionRefusedError, ConnectionResetError) as exc:
        return Reply(result=RequestResult.REFUSED, detail=type(exc).__name__)
    except OSError as exc:
        return Reply(result=RequestResult.ERROR, detail=str(exc))
    return _parse(answer)


def _parse(answer: bytes) -> Reply:
    if not answer:
        return Reply(result=RequestResult.REFUSED, detail="closed without an answer")
    head, _, body = answer.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    if status != 200:
        return Reply(result=RequestResult.REFUSED, status=status, detail=body[:200].decode())
    try:
        document = json.loads(body)
    except ValueError:
        return Reply(result=RequestResult.ERROR, status=status, detail="answer is not JSON")
    return Reply(result=RequestResult.OK, status=status, document=document)


def external_clients(lab: LabCluster) -> tuple[tuple[ClientSpec, ...], tuple[str, ...]]:
    """The Scenario's clients that come from outside, and notes on those skipped."""
    clients = lab.scenario.clients or (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)
    outside = tuple(c for c in clients if c.node is None and c.pod is None)
    notes = tuple(
        f"client {c.name} is inside the cluster: not run by the lab yet"
        for c in clients
        if c not in outside
    )
    return outside, notes


def lab_clients(lab: LabCluster) -> tuple[ClientSpec, ...]:
    """Every client of the Scenario, in-cluster ones included (default: one outside)."""
    return lab.scenario.clients or (ClientSpec(name="client-1", address=DEFAULT_CLIENT),)


def _client_node(lab: LabCluster, client: ClientSpec) -> str | None:
    """The node an in-cluster client runs on (its own, or its pod's)."""
    if client.node is not None:
        return client.node
    namespace, _, name = (client.pod or "").rpartition("/")
    for pod in lab.cluster.pods:
        if pod.name == name and pod.namespace == (namespace or "default"):
            return pod.node_name
    return None


def client_route(
    lab: LabCluster, client: ClientSpec, rng: random.Random
) -> tuple[Address, IPAddress]:
    """Where ``client``'s next connection goes, and the address it is made from.

    Outside clients: the load balancer, or a NodePort drawn uniformly. In-cluster ones: the
    VIP (or ClusterIP) on their node's data path when kube-proxy programs it (KP §10), else
    the load balancer from the node's address (``trace._in_cluster``).
    """
    if client.node is None and client.pod is None:
        if lab.load_balancer is not None:
            return lab.entry_address, client.address
        return rng.choice(lab.node_entries())[1], client.address
    node = _client_node(lab, client)
    if node is None:
        raise UsageError(f"client {client.name}: its pod or node is not in the input")
    programmed = any(i.is_vip for i in lab.entry.load_balancer_ingress)
    if lab.load_balancer is None or programmed:
        local = lab.plan.at_node(lab.vip, node)
        return (local, lab.plan.port(lab.entry.ports[0].port)), client.address
    found = next(n for n in lab.cluster.nodes if n.name == node)
    return lab.entry_address, found.primary_ip(family_of(lab.vip)) or client.address


def observe(lab: LabCluster, client: ClientSpec, reply: Reply, outcomes: Outcomes) -> Observation:
    """One reply in scenario terms, judged against the model's outcomes for ``client``."""
    policy = str(lab.entry.external_traffic_policy)
    doc = reply.document
    if reply.result is not RequestResult.OK or doc is None:
        failed = Observation(
            policy=policy, client=client.address, result=reply.result, detail=reply.detail
        )
        return replace(failed, allowed=is_allowed(failed, outcomes))
    peer_ip, peer_port = doc["peer"]["ip"], doc["peer"]["port"]
    # Behind a sidecar the app's peer is the sidecar's loopback address; the pod's own peer
    # (what the model's pod_peer means) is the one the sidecar accepted.
    pod_peer = lab.hops.pod_peer((peer_ip, peer_port)) or lab.plan.scenario(peer_ip)
    pod = (doc.get("pod") or {}).get("name")
    proxy = doc.get("proxy_protocol")
    env = lab.environments.get(pod or "")
    seen = Observation(
        policy=policy,
        client=client.address,
        result=reply.result,
        node=lab.journal.pop((peer_ip, peer_port), None),
        pod=pod,
        pod_peer=pod_peer,
        peer_kind=str(classify_peer(str(pod_peer), env)) if pod_peer and env else None,
        # A real HAProxy writes loopback addresses: translated back (srcip.lab.realengine).
        proxy_src=scenario_text(lab.plan, proxy["src"]) if proxy and proxy.get("src") else None,
        forwarded_for=tuple(
            scenario_text(lab.plan, v)
            for k, v in doc.get("forwarded", ())
            if k.lower() == "x-forwarded-for"
        ),
        app_client_ip=_scenario_ip(lab, (doc.get("client") or {}).get("ip")),
    )
    return replace(seen, allowed=is_allowed(seen, outcomes))


def _scenario_ip(lab: LabCluster, text: str | None) -> IPAddress | None:
    """An address from the echo JSON in scenario terms (loopback ones translated back)."""
    if text is None:
        return None
    translated = lab.plan.scenario(text)
    if translated is not None:
        return translated
    try:
        return ip_address(text)
    except ValueError:
        return None


def is_allowed(observation: Observation, outcomes: Outcomes) -> bool:
    """Whether one of the model's ``outcomes`` (for this client) matches the observation."""
    possible = [o for o in outcomes if o.probability > 0]
    if observation.result is RequestResult.OK:
        return any(
            o.delivered
            and o.pod == observation.pod
            and o.pod_peer == observation.pod_peer
            and o.app_client_ip == observation.app_client_ip
            for o in possible
        )
    if observation.result is RequestResult.TIMEOUT:
        return any(o.dropped_at is not None for o in possible)
    if observation.result is RequestResult.REFUSED:
        return any(o.refused_at is not None for o in possible)
    return False


async def visibility(
    lab: LabCluster,
    *,
    requests: int = 10,
    timeout: float = 3.0,
    progress: Progress | None = None,
) -> Visibility:
    """``requests`` requests per external client, each judged against the model."""
    clients, notes = lab_clients(lab), ()
    model = trace(lab.controller.cluster, service=lab.backend.key)
    outcomes = tuple(o for s in model.services for o in s.outcomes)
    rng = lab.rng("visibility")
    observations: list[Observation] = []
    total = requests * len(clients)
    for client in clients:
        mine = tuple(o for o in outcomes if o.client == client.name)
        for _ in range(requests):
            target, source = client_route(lab, client, rng)
            reply = await request(lab, client, target, timeout=timeout, source=source)
            observations.append(observe(lab, client, reply, mine))
            if progress is not None:
                progress(len(observations), total)
    return Visibility(observations=tuple(observations), outcomes=outcomes, notes=notes)


async def share(
    lab: LabCluster,
    *,
    connections: int = 600,
    concurrency: int = 32,
    timeout: float = 3.0,
    progress: Progress | None = None,
) -> ShareResult:
    """``connections`` new connections (at most 10,000), counted per pod and per node."""
    connections = max(1, min(connections, MAX_CONNECTIONS))
    clients = lab_clients(lab)
    rng = lab.rng("share")
    pods: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    done = 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(number: int) -> None:
        nonlocal done
        client = clients[number % len(clients)]
        target, source = client_route(lab, client, rng)
        async with gate:
            reply = await request(lab, client, target, timeout=timeout, source=source)
        doc = reply.document
        if reply.result is RequestResult.OK and doc is not None:
            pods[(doc.get("pod") or {}).get("name") or "?"] += 1
            node = lab.journal.pop((doc["peer"]["ip"], doc["peer"]["port"]), None)
            nodes[node or "?"] += 1
        else:
            failed[str(reply.result)] += 1
        done += 1
        if progress is not None:
            progress(done, connections)

    async with asyncio.TaskGroup() as group:
        for number in range(connections):
            group.create_task(one(number))
    return _compare(lab, clients, connections, pods, nodes, failed)


def _expected(
    lab: LabCluster, clients: tuple[ClientSpec, ...], connections: int
) -> tuple[dict[str, float], dict[str, float], float]:
    """Expected delivered connections per pod and per node, and lost ones, from the trace.

    The trace's outcomes are the model's exact distribution of what a connection of each
    client ends as (pod, the node whose kube-proxy forwarded it, or dropped/refused), so
    the expectation is the mix of the clients' distributions in the round-robin's
    proportions. Where every connection is delivered this is :func:`model_share`'s split.
    """
    model = trace(lab.controller.cluster, service=lab.backend.key)
    outcomes = [o for s in model.services for o in s.outcomes]
    pods: dict[str, float] = {}
    nodes: dict[str, float] = {}
    lost = 0.0
    for number, client in enumerate(clients):
        runs = len(range(number, connections, len(clients)))
        for o in (o for o in outcomes if o.client == client.name):
            weight = float(o.probability) * runs
            if o.delivered and o.pod is not None:
                pods[o.pod] = pods.get(o.pod, 0.0) + weight
                nodes[o.node or "?"] = nodes.get(o.node or "?", 0.0) + weight
            else:
                lost += weight
    return pods, nodes, lost


def _rows(
    expected: dict[str, float], measured: Counter[str], nodes: dict[str, str | None]
) -> list[PodCount]:
    names = list(dict.fromkeys([*nodes, *expected, *measured]))
    return [
        PodCount(name=n, node=nodes.get(n), count=measured.get(n, 0), expected=expected.get(n, 0.0))
        for n in names
    ]


def _compare(
    lab: LabCluster,
    clients: tuple[ClientSpec, ...],
    connections: int,
    pods: Counter[str],
    nodes: Counter[str],
    failed: Counter[str],
) -> ShareResult:
    split = model_share(lab.controller.cluster, service=lab.entry.key).services[0]
    want_pods, want_nodes, lost = _expected(lab, clients, connections)
    pod_rows = _rows(want_pods, pods, {p.name: p.node for p in split.pods})
    node_rows = _rows(want_nodes, nodes, {n.name: n.name for n in split.nodes})
    lost_count = sum(failed.values())
    pod_test = chi_square_test(
        [r.count for r in pod_rows] + [lost_count], [r.expected for r in pod_rows] + [lost]
    )
    node_test = chi_square_test(
        [r.count for r in node_rows] + [lost_count], [r.expected for r in node_rows] + [lost]
    )
    return ShareResult(
        connections=connections,
        pods=tuple(pod_rows),
        nodes=tuple(node_rows),
        failed=failed,
        expected_failed=lost,
        p_value=pod_test.p_value,
        node_p_value=node_test.p_value,
        impossible=pod_test.impossible + node_test.impossible,
    )
