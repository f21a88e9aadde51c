"""The lab's report: what really happened next to what the model predicts.

:func:`lab_json` gives plain data (``-o json``) with the keys issue 6 lists —
``visibility.observations[].{policy, client, node, pod, pod_peer, proxy_src,
forwarded_for, app_client_ip, allowed}`` and ``share.{pods[].{name, node, count, expected},
p_value}`` — and a few more; every address is in scenario terms. :func:`print_lab` renders
rich tables: the observations grouped (with counts) beside the model's outcomes, and the
measured split beside the expected one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from srcip.lab.experiments import Observation, ShareResult, Visibility
from srcip.lab.run import LabRun
from srcip.model.trace import Outcome

__all__ = ["lab_json", "print_lab"]

SHARE_LEVEL = 0.01  # the report flags a split whose p-value is below this


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def observation_json(o: Observation) -> dict[str, Any]:
    """One observation as plain data (scenario addresses as text)."""
    return {
        "policy": o.policy,
        "client": str(o.client),
        "result": str(o.result),
        "node": o.node,
        "pod": o.pod,
        "pod_peer": _text(o.pod_peer),
        "peer_kind": o.peer_kind,
        "proxy_src": o.proxy_src,
        "forwarded_for": list(o.forwarded_for),
        "app_client_ip": _text(o.app_client_ip),
        "allowed": o.allowed,
        "detail": o.detail,
    }


def outcome_json(o: Outcome) -> dict[str, Any]:
    """One of the model's outcomes, as far as the lab compares it."""
    return {
        "client": o.client,
        "probability": float(o.probability),
        "probability_exact": str(o.probability),
        "node": o.node,
        "pod": o.pod,
        "delivered": o.delivered,
        "dropped_at": o.dropped_at,
        "refused_at": o.refused_at,
        "pod_peer": _text(o.pod_peer),
        "app_client_ip": _text(o.app_client_ip),
    }


def _visibility_json(v: Visibility) -> dict[str, Any]:
    return {
        "observations": [observation_json(o) for o in v.observations],
        "all_allowed": v.all_allowed,
        "model": [outcome_json(o) for o in v.outcomes],
        "notes": list(v.notes),
    }


def _share_json(s: ShareResult) -> dict[str, Any]:
    def rows(items: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [
            {"name": r.name, "node": r.node, "count": r.count, "expected": round(r.expected, 3)}
            for r in items
        ]

    return {
        "connections": s.connections,
        "pods": rows(s.pods),
        "nodes": rows(s.nodes),
        "failed": dict(s.failed),
        "expected_failed": round(s.expected_failed, 3),
        "p_value": s.p_value,
        "node_p_value": s.node_p_value,
        "impossible": s.impossible,
    }


def lab_json(run: LabRun) -> dict[str, Any]:
    """The whole run as plain data."""
    return {
        "scenario": run.scenario,
        "service": run.service,
        "policy": run.policy,
        "load_balancer": run.load_balancer,
        "seed": run.seed,
        "health_check_time_scale": run.time_scale,
        "privileged_ports_offset": None if run.root else 20000,
        "ok": run.ok,
        "visibility": _visibility_json(run.visibility) if run.visibility else None,
        "share": _share_json(run.share) if run.share else None,
    }


def print_lab(console: Console, run: LabRun) -> None:
    """The run as rich text: the observations and the split beside the model."""
    lb = f", load balancer {run.load_balancer}" if run.load_balancer else ""
    console.print(
        f"[bold]{run.scenario}[/bold]: Service {run.service} "
        f"(externalTrafficPolicy {run.policy}{lb}), seed {run.seed}"
    )
    if run.time_scale != 1.0:
        console.print(f"[dim]health checks run at {run.time_scale}x the configured timing[/dim]")
    if not run.root:
        console.print("[dim]not root: privileged ports are bound as 20000 + port[/dim]")
    if run.visibility is not None:
        _print_visibility(console, run.visibility)
    if run.share is not None:
        _print_share(console, run.share)
    verdict = "[green]every observation is one the model allows[/green]"
    console.print(verdict if run.ok else "[red]the lab saw what the model does not allow[/red]")


def _print_visibility(console: Console, v: Visibility) -> None:
    seen = Table(title="What the pods saw (lab)")
    for column in (
        "client",
        "result",
        "node",
        "pod",
        "pod's TCP peer",
        "peer kind",
        "PROXY src",
        "X-Forwarded-For",
        "app's client",
        "requests",
        "allowed",
    ):
        seen.add_column(column)  # fmt: skip
    groups = Counter(
        (str(o.client), str(o.result), o.node or "", o.pod or "", _text(o.pod_peer) or "",
         o.peer_kind or "", o.proxy_src or "", ", ".join(o.forwarded_for),
         _text(o.app_client_ip) or "", o.allowed)
        for o in v.observations
    )  # fmt: skip
    for key, count in sorted(groups.items(), key=lambda item: item[0][:4]):
        *cells, allowed = key
        mark = "[green]yes[/green]" if allowed else "[red]NO[/red]"
        seen.add_row(*cells, str(count), mark)
    model = Table(title="What the model allows")
    for column in (
        "client",
        "probability",
        "node",
        "pod",
        "pod's TCP peer",
        "app's client",
        "ends",
    ):
        model.add_column(column)  # fmt: skip
    for o in v.outcomes:
        ends = "delivered" if o.delivered else (o.dropped_at or o.refused_at or "")
        model.add_row(o.client, str(o.probability), o.node or "", o.pod or "",
                      _text(o.pod_peer) or "", _text(o.app_client_ip) or "", ends)  # fmt: skip
    console.print(seen)
    console.print(model)
    for note in v.notes:
        console.print(f"[dim]note:[/dim] {note}")


def _print_share(console: Console, s: ShareResult) -> None:
    for title, rows, p in (("pod", s.pods, s.p_value), ("node", s.nodes, s.node_p_value)):
        per_pod = title == "pod"
        table = Table(title=f"Split of {s.connections} new connections per {title}")
        columns = (title, *(("node",) if per_pod else ()), "measured", "expected")
        for column in (*columns, "measured %", "expected %"):
            table.add_column(column, justify="right" if "%" in column else "left")
        for r in rows:
            table.add_row(
                r.name, *((r.node or "",) if per_pod else ()), str(r.count), f"{r.expected:.1f}",
                f"{100 * r.count / s.connections:.1f}", f"{100 * r.expected / s.connections:.1f}",
            )  # fmt: skip
        if s.failed or s.expected_failed:
            lost = sum(s.failed.values())
            table.add_row("(lost)", *(("",) if per_pod else ()), str(lost),
                          f"{s.expected_failed:.1f}", f"{100 * lost / s.connections:.1f}",
                          f"{100 * s.expected_failed / s.connections:.1f}")  # fmt: skip
        console.print(table)
        if p is None:
            console.print("[dim]chi-square: nothing to test (fewer than two outcomes)[/dim]")
        else:
            colour = "green" if p >= SHARE_LEVEL else "red"
            console.print(f"chi-square goodness of fit: p = [{colour}]{p:.3g}[/{colour}]")
