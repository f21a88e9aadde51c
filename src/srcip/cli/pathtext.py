"""Rich text for ``srcip trace`` and ``srcip share``: per-hop tables and share bars."""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.table import Table

from srcip.model.share import ServiceShare, ShareReport
from srcip.model.timeline import Timeline
from srcip.model.trace import ServiceTrace, Trace
from srcip.model.tracepath import HopRecord, Outcome

__all__ = ["print_share", "print_timeline", "print_trace"]

BAR_WIDTH = 40


def _pct(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"


def print_trace(console: Console, result: Trace, *, verbose: bool) -> None:
    """One section per Service: load balancer, health checks, outcomes, hops."""
    for item in result.services:
        _trace_service(console, item, verbose=verbose)


def _trace_service(console: Console, item: ServiceTrace, *, verbose: bool) -> None:
    title = f"Service {item.service} (externalTrafficPolicy: {item.policy})"
    if item.backend != item.service:
        title += f" → backend {item.backend}"
    console.rule(title)
    lb = item.load_balancer
    if lb is not None:
        hc = lb.health_check
        console.print(
            f"load balancer: provider {lb.provider or 'generic'}, mode {lb.mode}, PROXY "
            f"{lb.proxy_protocol}, targets {lb.targets}, weighting {lb.weighting}; health check "
            f"{hc.protocol} :{hc.port}{hc.path or ''} every {hc.interval_seconds:g}s, "
            f"unhealthy after {hc.unhealthy_threshold}",
            highlight=False,
        )
        if verbose:
            for setting in lb.settings:
                console.print(f"  {setting.name} = {setting.value}  [dim]({setting.source})[/dim]")
        health = Table("target", "health check", "weight", "LB share", "why", box=None)
        shares = dict(item.split.shares) if item.split else {}
        for h in item.health:
            status = f"{h.status}" if h.status is not None else ("ok" if h.healthy else "fail")
            mark = "[green]healthy[/green]" if h.healthy else "[red]unhealthy[/red]"
            weight = "" if h.weight is None else str(h.weight)
            share = _pct(shares.get(h.target, Fraction(0)))
            why = h.reason if verbose else h.reason.split(" (", 1)[0]
            health.add_row(h.target, f"{mark} ({status})", weight, share, why)
        console.print(health)
    outcomes = Table("client", "P", "node", "pod", "pod sees", "app resolves", "verdict", box=None)
    for o in item.outcomes:
        style = (
            "green"
            if o.delivered and not o.spoofable and "preserved" in o.verdict
            else ("red" if not o.delivered or o.spoofable else "yellow")
        )
        outcomes.add_row(
            o.client,
            _pct(o.probability),
            o.node or "-",
            o.pod or "-",
            str(o.pod_peer or "-"),
            str(o.app_client_ip or "-"),
            f"[{style}]{o.verdict}[/{style}]",
        )
    console.print(outcomes)
    shown = _distinct_paths(item.outcomes, limit=None if verbose else 3)
    for outcome in shown:
        console.print(_hop_table(outcome))
    hidden = len(_distinct_paths(item.outcomes, limit=None)) - len(shown)
    if hidden > 0:
        console.print(f"[dim]{hidden} more distinct path(s): -v shows every hop table[/dim]")
    for note in item.notes:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)


def _signature(outcome: Outcome) -> tuple[object, ...]:
    return (outcome.client, outcome.verdict, outcome.pod_peer, outcome.app_client_ip)


def _distinct_paths(outcomes: tuple[Outcome, ...], *, limit: int | None) -> list[Outcome]:
    seen: dict[tuple[object, ...], Outcome] = {}
    for outcome in outcomes:
        seen.setdefault(_signature(outcome), outcome)
    paths = list(seen.values())
    return paths if limit is None else paths[:limit]


def _hop_table(outcome: Outcome) -> Table:
    table = Table(
        "hop",
        "TCP peer",
        "PROXY header",
        "forwarding headers",
        title=f"{outcome.client} → {outcome.pod or outcome.node or '?'}: {outcome.verdict}",
        title_justify="left",
        box=None,
    )
    for hop in outcome.hops:
        table.add_row(hop.name, str(hop.peer), _proxy_text(hop), _headers_text(hop))
    return table


def _proxy_text(hop: HopRecord) -> str:
    proxy = hop.proxy
    if proxy is None:
        return "-"
    return f"v{proxy.version} {proxy.src} → {proxy.dst}"


def _headers_text(hop: HopRecord) -> str:
    return "; ".join(f"{name}: {value}" for name, value in hop.headers) or "-"


def print_share(console: Console, report: ShareReport) -> None:
    """Share bars per node and per pod, with fairness figures; both policies if compared."""
    for index, item in enumerate(report.services):
        _share_service(console, item)
        if index < len(report.compared):
            _share_service(console, report.compared[index], compared=True)


def _share_service(console: Console, item: ServiceShare, *, compared: bool = False) -> None:
    label = " (what-if)" if compared else ""
    console.rule(f"Service {item.name}: externalTrafficPolicy {item.policy}{label}")
    nodes = Table("node", "local pods", "LB share", "", box=None)
    for node in item.nodes:
        health = "" if node.healthy else " [red](fails health check)[/red]"
        nodes.add_row(node.name, str(node.local_pods), _pct(node.share) + health, _bar(node.share))
    console.print(nodes)
    pods = Table("pod", "node", "share", "", box=None)
    for pod in sorted(item.pods, key=lambda p: (-p.share, p.name)):
        pods.add_row(pod.name, pod.node or "-", _pct(pod.share), _bar(pod.share))
    console.print(pods)
    fair = item.fairness
    ratio = fair.max_over_min
    console.print(
        f"{fair.pods} pod(s); fair share {_pct(fair.fair_share)}; busiest {_pct(fair.max_share)}"
        f" ({float(fair.busiest_over_fair):.2f}× fair), idlest {_pct(fair.min_share)}"
        + ("" if ratio is None else f", max/min {float(ratio):.2f}")
        + (f"; dropped {_pct(item.dropped)}" if item.dropped else ""),
        highlight=False,
    )
    for note in item.notes:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)


def _bar(value: Fraction) -> str:
    cells = round(float(value) * BAR_WIDTH)
    return "█" * cells


def print_timeline(console: Console, result: Timeline) -> None:
    """One row per window: the LB's nodes and what a new connection gets."""
    console.rule(f"Failover timeline of Service {result.service}")
    table = Table("from", "to", "LB sends to", "new connections", box=None)
    for window in result.windows:
        parts = []
        for outcome, value in window.outcome:
            if value:
                style = "green" if str(outcome).startswith("served") else "red"
                parts.append(f"[{style}]{outcome} {_pct(value)}[/{style}]")
        table.add_row(
            f"{window.start:g}s",
            f"{window.end:g}s",
            ", ".join(window.lb_nodes) or "-",
            ", ".join(parts),
        )
    console.print(table)
    low, high = result.failure_window_bounds
    console.print(
        f"failure window: {result.failure_window:g}s at probe phase {result.probe_phase:g}s "
        f"(between {low:g}s and {high:g}s over all phases); without terminating-endpoint "
        f"fallback: {result.failure_window_without_fallback:g}s",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"[dim]note:[/dim] {note}", highlight=False)
