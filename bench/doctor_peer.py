"""The doctor benchmark's peer: the exact per-node models against ``summarize``, and a check.

:func:`run_peer` measures, on one index, the exact per-node models ``trace`` + ``share`` over
every external Service (they walk every node × endpoint, so quadratic, and run at small
scales only) against ``summarize``; the ratio exact ÷ grouped uses ``summarize``'s first
(cold) pass on that index. It also checks the two agree on every Service: per-pod shares,
dropped share, per-node share, health and ready pods, and the addresses the pods see and the
app resolves (each node group expanded to its members by
:func:`srcip.model.grouped.expanded`). :func:`render_peers` is the report's part for it:
the figures, both growth exponents and the check's outcome.

``bench/doctor.py`` runs :func:`run_peer` in a fresh child per scale (``--peer``) and exits
1 when any Service disagrees.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import Growth, Json, fmt, pin_one_core, render_growth, table

if TYPE_CHECKING:
    from srcip.model.grouped import GroupedService
    from srcip.model.index import ClusterIndex
    from srcip.model.objects import IPAddress
    from srcip.model.share import ServiceShare, ShareReport
    from srcip.model.trace import ServiceTrace, Trace

__all__ = ["PEER_GROWTH", "render_check", "render_peer", "render_peers", "run_peer"]

MISMATCHES_SHOWN = 10

PEER_GROWTH = (
    Growth("exact: trace + share (s)", 2, "nodes × endpoints", lambda r: r["exact_s"]),
    Growth("grouped: summarize, cold (s)", 1, "linear in objects", lambda r: r["grouped_s"]),
)


# --------------------------------------------------------------------------- worker (peer)


def _traced(paths: ServiceTrace) -> tuple[dict[IPAddress, Fraction], dict[IPAddress, Fraction]]:
    """The pod's peer and the app's client over every outcome of the trace."""
    pod: dict[IPAddress, Fraction] = defaultdict(Fraction)
    app: dict[IPAddress, Fraction] = defaultdict(Fraction)
    for outcome in paths.outcomes:
        if outcome.pod_peer is not None:
            pod[outcome.pod_peer] += outcome.probability
        if outcome.delivered and outcome.app_client_ip is not None:
            app[outcome.app_client_ip] += outcome.probability
    return dict(pod), dict(app)


def _pods_differ(item: GroupedService, exact: ServiceShare) -> str:
    """Which pods' shares differ, with the first one's two figures."""
    grouped = {p.name: (p.node, p.share) for p in item.pods}
    shared = {p.name: (p.node, p.share) for p in exact.pods}
    names = sorted(n for n in grouped.keys() | shared.keys() if grouped.get(n) != shared.get(n))
    first = names[0] if names else "(duplicate names)"
    return (
        f"per-pod shares differ on {len(names)} of {len(shared)} pods, e.g. {first}: "
        f"{grouped.get(first, (None, '-'))[1]} (grouped) vs {shared.get(first, (None, '-'))[1]} "
        "(share)"
    )


def _differences(
    item: GroupedService, exact: ServiceShare, paths: ServiceTrace, index: ClusterIndex
) -> Iterator[str]:
    """How the grouped summary of one Service differs from share and trace (nothing: agree)."""
    from srcip.model.grouped import expanded

    if Counter(item.pods) != Counter(exact.pods):
        yield _pods_differ(item, exact)
    if item.dropped != exact.dropped:
        yield f"dropped {item.dropped} (grouped) vs {exact.dropped} (share)"
    if item.groups:
        per_node = {(n, g.share, g.healthy, g.local_pods) for g in item.groups for n in g.nodes}
        nodes = {(n.name, n.share, n.healthy, n.local_pods) for n in exact.nodes}
        if per_node != nodes:
            yield f"per-node share/health/ready pods differ on {len(per_node ^ nodes)} rows"
    pod, app = _traced(paths)
    if expanded(item.pod_sees, index) != pod:
        yield "the addresses the pods see differ from trace"
    if expanded(item.app_sees, index) != app:
        yield "the client the app resolves differs from trace"


def _compare(
    grouped: Sequence[GroupedService], shared: ShareReport, traced: Trace, index: ClusterIndex
) -> list[str]:
    """Every disagreement, as ``namespace/name: what``; [] when all Services agree."""
    exact = {s.name: s for s in shared.services}
    paths = {t.service: t for t in traced.services}
    problems = []
    keys = {g.service for g in grouped}
    for key in sorted((exact.keys() | paths.keys()) - keys):
        problems.append(f"{key}: in share/trace but not summarised")
    for item in grouped:
        if item.service not in exact or item.service not in paths:
            problems.append(f"{item.service}: summarised but not in share/trace")
            continue
        found = _differences(item, exact[item.service], paths[item.service], index)
        problems.extend(f"{item.service}: {what}" for what in found)
    return problems


def run_peer(scale: float, path: Path) -> Json:
    """Exact trace + share against summarize on one index of the dump at ``path``.

    Runs on one core; returns the seconds of each (``summarize`` twice: cold, then warm),
    the counts, how many Services disagree and the first disagreements.
    """
    from srcip.doctor import load_snapshot
    from srcip.manifests import read_documents
    from srcip.model.grouped import summarize
    from srcip.model.index import build_index
    from srcip.model.share import share
    from srcip.model.trace import trace

    pin_one_core()
    cluster = load_snapshot(list(read_documents([path]))).cluster
    index = build_index(cluster)
    marks = [time.perf_counter()]
    grouped = summarize(cluster, index=index)  # first: it pays for the index's lazy parts
    marks.append(time.perf_counter())
    traced = trace(cluster, index=index)
    marks.append(time.perf_counter())
    shared = share(cluster, index=index)
    marks.append(time.perf_counter())
    summarize(cluster, index=index)
    marks.append(time.perf_counter())
    grouped_s, trace_s, share_s, warm_s = (b - a for a, b in pairwise(marks))
    problems = _compare(grouped, shared, traced, index)
    return {
        "scale": scale,
        "nodes": len(index.nodes),
        "external": len(grouped),
        "outcomes": sum(len(t.outcomes) for t in traced.services),
        "grouped_s": grouped_s,
        "grouped_warm_s": warm_s,
        "trace_s": trace_s,
        "share_s": share_s,
        "exact_s": trace_s + share_s,
        "compared": len(grouped),
        "mismatches": len({problem.split(": ", 1)[0] for problem in problems}),
        "problems": problems[:MISMATCHES_SHOWN],
    }


# --------------------------------------------------------------------------- report


def render_peer(peers: Sequence[Json]) -> str:
    """Exact per-node models against the grouped summary, and the agreement check."""
    header = [
        "scale",
        "nodes",
        "external",
        "trace paths",
        "trace (s)",
        "share (s)",
        "summarize cold (s)",
        "warm (s)",
        "exact ÷ grouped",
        "compared",
        "disagree",
    ]
    rows = [
        [
            str(p["scale"]),
            *(f"{p[k]:,}" for k in ("nodes", "external", "outcomes")),
            *(fmt(p[k]) for k in ("trace_s", "share_s", "grouped_s", "grouped_warm_s")),
            f"{p['exact_s'] / p['grouped_s']:.1f}×",
            f"{p['compared']:,}",
            str(p["mismatches"]),
        ]
        for p in peers
    ]
    return table(header, rows)


def render_check(peers: Sequence[Json]) -> str:
    """One line when every Service agrees; else the first disagreements of each scale."""
    compared = sum(p["compared"] for p in peers)
    wrong = sum(p["mismatches"] for p in peers)
    if not wrong:
        return (
            f"CHECK ok: summarize agrees with share and trace on all {compared:,} Services "
            "(per-pod and per-node shares, dropped, what the pods see and the app resolves)"
        )
    lines = [f"CHECK FAILED: {wrong:,} of {compared:,} Services disagree (first ones shown):"]
    for p in peers:
        lines += [f"  scale {p['scale']}: {problem}" for problem in p["problems"]]
    return "\n".join(lines)


def render_peers(peers: Sequence[Json]) -> list[str]:
    """The report's peer part, as lines: figures, growth (two scales or more), the check."""
    parts = [
        "Peer: the exact per-node models (trace + share) against summarize, same index:",
        render_peer(peers),
    ]
    if len(peers) > 1:
        parts += ["", render_growth(peers, PEER_GROWTH)]
    return [*parts, "", render_check(peers)]
