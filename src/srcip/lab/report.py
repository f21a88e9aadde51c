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
from srcip.lab.failover import FailoverResult
from srcip.lab.ratelimit import RateLimitResult
from srcip.lab.run import LabRun
from srcip.model.objects import IPAddress
from srcip.model.scenario import ScenarioEvent
from srcip.model.trace import Outcome

__all__ = [
    "event_text",
    "failover_json",
    "lab_json",
    "print_failover",
    "print_lab",
    "print_ratelimit",
    "ratelimit_json",
    "side_by_side",
]

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
    visibility = None
    if run.visibility is not None:
        visibility = _visibility_json(run.visibility)
        visibility["model"] = [
            {"policy": policy, **outcome_json(o)} for policy, v in run.by_policy for o in v.outcomes
        ]
        visibility["side_by_side"] = side_by_side(run)
    return {
        "scenario": run.scenario,
        "service": run.service,
        "policy": run.policy,
        "policies": list(run.policies),
        "load_balancer": run.load_balancer,
        "seed": run.seed,
        "health_check_time_scale": run.time_scale,
        "time_scale": run.time_scale,
        "privileged_ports_offset": None if run.root else 20000,
        "ok": run.ok,
        "visibility": visibility,
        "share": _share_json(run.share) if run.share else None,
        "failover": failover_json(run.failover) if run.failover else None,
        "ratelimit": ratelimit_json(run.ratelimit) if run.ratelimit else None,
    }


def event_text(event: ScenarioEvent) -> str:
    """``delete pod/echo-0 at 5s``, as ``--event`` takes it."""
    to = f" to {event.replicas}" if event.replicas is not None else ""
    return f"{event.kind} {event.target}{to} at {event.at_seconds:g}s"


def failover_json(f: FailoverResult) -> dict[str, Any]:
    """The failover timeline, measured and predicted (scenario seconds)."""
    low, high = f.predicted.failure_window_bounds
    return {
        "events": [event_text(e) for e in f.events],
        "terminating_fallback": f.terminating_fallback,
        "rate": f.rate,
        "time_scale": f.time_scale,
        "bucket_seconds": f.bucket_seconds,
        "duration": f.duration,
        "requests": f.requests,
        "failed": f.failed,
        "probe_phase": f.probe_phase,
        "timeline": [
            {
                "t": b.t,
                "ok": b.ok,
                "refused": b.refused,
                "timeout": b.timeout,
                "error": b.error,
                "predicted_failing": round(b.predicted_failing, 6),
            }
            for b in f.timeline
        ],
        "predicted_window": f.predicted_window,
        "predicted_bounds": [low, high],
        "predicted_without_fallback": f.predicted.failure_window_without_fallback,
        "measured_window": f.measured_window,
        "first_failure": f.first_failure,
        "last_failure": f.last_failure,
        "tolerance": f.tolerance,
        "within_bounds": f.within_bounds,
        "matches_prediction": f.matches_prediction,
        "model": [w.to_json() for w in f.predicted.windows],
        "notes": list(f.notes),
    }


def ratelimit_json(results: tuple[RateLimitResult, ...]) -> dict[str, Any]:
    """Per policy and client: accepted vs limited, and the addresses the app saw."""
    return {
        "limit": results[0].limit,
        "duration": results[0].duration,
        "clients": [
            {
                "policy": c.policy,
                "client": str(c.client),
                "role": c.role,
                "rate": c.rate,
                "requests": c.requests,
                "accepted": c.accepted,
                "limited": c.limited,
                "failed": c.failed,
                "app_saw": [str(k) for k in c.keys],
                "model_app_sees": [str(k) for k in c.model_keys],
            }
            for r in results
            for c in r.clients
        ],
        "shared": {r.policy: r.shared for r in results},
        "agrees": all(r.agrees for r in results),
        "notes": list(dict.fromkeys(n for r in results for n in r.notes)),
    }


_KIND_TEXT = {"node": "node SNAT", "pod-gateway": "pod-network gateway SNAT",
              "load-balancer": "the load balancer's address"}  # fmt: skip


def _seen_as(o: Observation, nodes: set[IPAddress]) -> str:
    if o.pod_peer == o.client:
        return "client"
    return "node" if o.pod_peer in nodes else (o.peer_kind or "unknown")


def side_by_side(run: LabRun) -> str | None:
    """``Cluster: pod saw 10.0.1.2 (node SNAT) — Local: pod saw 203.0.113.7`` (None with
    fewer than two policies)."""
    if len(run.by_policy) < 2:
        return None
    parts = []
    nodes = {address for address, _ in run.node_addresses}
    for policy, v in sorted(run.by_policy):
        served = [o for o in v.observations if o.pod_peer is not None]
        kinds = Counter(_seen_as(o, nodes) for o in served)
        if not kinds:
            parts.append(f"{policy}: no request was served")
            continue
        kind = kinds.most_common(1)[0][0]
        peers = sorted({str(o.pod_peer) for o in served if _seen_as(o, nodes) == kind})
        shown = ", ".join(peers[:3]) + (f" and {len(peers) - 3} more" if len(peers) > 3 else "")
        label = _KIND_TEXT.get(kind)
        parts.append(f"{policy}: pod saw {shown}" + (f" ({label})" if label else ""))
    return " — ".join(parts)


def print_lab(console: Console, run: LabRun) -> None:
    """The run as rich text: each experiment's measurement beside the model."""
    lb = f", load balancer {run.load_balancer}" if run.load_balancer else ""
    console.print(
        f"[bold]{run.scenario}[/bold]: Service {run.service} "
        f"(externalTrafficPolicy {run.policy}{lb}), seed {run.seed}"
    )
    if run.time_scale != 1.0:
        console.print(
            f"[dim]health checks and failover clocks run at {run.time_scale}x the configured "
            "timing; failover times are scenario seconds[/dim]"
        )
    if not run.root:
        console.print("[dim]not root: privileged ports are bound as 20000 + port[/dim]")
    for policy, v in run.by_policy:
        if len(run.by_policy) > 1:
            console.rule(f"externalTrafficPolicy: {policy}")
        _print_visibility(console, v)
    line = side_by_side(run)
    if line:
        console.print(f"[bold]{line}[/bold]")
    if run.share is not None:
        _print_share(console, run.share)
    if run.failover is not None:
        print_failover(console, run.failover)
    if run.ratelimit:
        print_ratelimit(console, run.ratelimit)
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


def print_failover(console: Console, f: FailoverResult) -> None:
    """The measured timeline in stretches beside the model's chance of failure."""
    table = Table(title=f"Failover: {', '.join(event_text(e) for e in f.events)}")
    for column in ("from", "to", "ok", "refused", "timeout", "error", "model: failing"):
        table.add_column(column, justify="left" if column in ("from", "to") else "right")
    for first, last in _stretches(f.timeline):
        rows = f.timeline[first : last + 1]
        table.add_row(
            f"{rows[0].t:g}s", f"{rows[-1].t + f.bucket_seconds:g}s",
            *(str(sum(getattr(b, k) for b in rows)) for k in ("ok", "refused", "timeout", "error")),
            f"{100 * rows[0].predicted_failing:.0f}%",
        )  # fmt: skip
    console.print(table)
    low, high = f.predicted.failure_window_bounds
    phase = "phase unknown" if f.probe_phase is None else f"probe phase {f.probe_phase:g}s"
    good = f.ok
    colour = "green" if good else "red"
    console.print(
        f"failure window: measured [{colour}]{f.measured_window:g}s[/{colour}], model "
        f"{f.predicted_window:g}s at the measured {phase} (between {low:g}s and {high:g}s over "
        f"all phases; {f.predicted.failure_window_without_fallback:g}s without "
        f"terminating-endpoint fallback), tolerance ±{f.tolerance:g}s; "
        f"{f.failed} of {f.requests} requests failed at {f.rate:g}/s, terminating fallback "
        f"{'on' if f.terminating_fallback else 'off'}"
    )
    for note in f.notes:
        console.print(f"[dim]note:[/dim] {note}")


def _stretches(timeline: tuple[Any, ...]) -> list[tuple[int, int]]:
    """Index ranges of consecutive buckets alike in the model's chance and in failing."""
    out: list[tuple[int, int]] = []
    key = None
    for i, b in enumerate(timeline):
        mine = (b.predicted_failing, b.ok < b.total)
        if out and mine == key:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
        key = mine
    return out


def print_ratelimit(console: Console, results: tuple[RateLimitResult, ...]) -> None:
    """Per policy and client: accepted vs 429, and which addresses the app keyed on."""
    for r in results:
        table = Table(title=f"limit_req {r.limit} per pod, {r.duration:g}s, {r.policy}")
        for column in ("client", "role", "rate", "requests", "accepted", "limited (429)",
                       "failed", "app saw", "model: app sees"):  # fmt: skip
            table.add_column(column)
        for c in r.clients:
            table.add_row(
                str(c.client), c.role, f"{c.rate:g}/s", str(c.requests), str(c.accepted),
                str(c.limited), str(c.failed), ", ".join(map(str, c.keys)),
                ", ".join(map(str, c.model_keys)),
            )  # fmt: skip
        console.print(table)
        how = (
            "share buckets: they throttle each other" if r.shared else "each have their own bucket"
        )
        console.print(f"{r.policy}: the clients {how}")
        for note in r.notes:
            console.print(f"[dim]note:[/dim] {note}")
