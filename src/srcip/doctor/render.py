"""A :class:`Diagnosis` for people (rich text) and for machines (JSON).

Shares are exact fractions; JSON carries them as strings (``"1/3"``) so nothing is rounded.
"""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from srcip.doctor.context import SHOWN, group_names, listed, seen_text
from srcip.doctor.diagnose import Diagnosis, ServiceDiagnosis
from srcip.doctor.findings import Finding, Severity
from srcip.model.grouped import GroupedService, NodeGroup, Seen
from srcip.model.healthcheck import JSONValue
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.scenario import HealthCheckProtocol, ProxyProtocolVersion

__all__ = ["diagnosis_json", "print_diagnosis"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
JSON_NODES = 20  # a node group lists this many names in JSON, then only the count


def _pct(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"


def _seen_json(seen: Seen, groups: dict[int, int]) -> dict[str, JSONValue]:
    """``group``: the index in ``nodeGroups`` of the nodes that each see their own address."""
    return {
        "kind": str(seen.kind),
        "address": str(seen.address),
        "share": str(seen.probability),
        "group": groups[id(seen.group)] if seen.group is not None else None,
        "text": seen_text(seen),
    }


def _names(group: NodeGroup) -> JSONValue:
    """Every member's name, or the first :data:`JSON_NODES` and how many in all."""
    if group.count <= JSON_NODES:
        return list(group.some(group.count))
    return {"first": list(group.some(JSON_NODES)), "count": group.count}


def _group_json(group: NodeGroup) -> dict[str, JSONValue]:
    return {
        "nodes": _names(group),
        "count": group.count,
        "shareEach": str(group.share),
        "healthy": group.healthy,
        "health": group.health,
        "localPods": group.local_pods,
    }


def _health_check_text(lb: EffectiveLoadBalancer) -> str:
    """What the load balancer probes, in one line: ``HTTP :31234 /healthz every 8s, ...``."""
    hc = lb.health_check
    if not hc.enabled:
        return "no health check: every target gets traffic"
    path = f" {hc.path}" if hc.path and hc.protocol is not HealthCheckProtocol.TCP else ""
    return (
        f"{hc.protocol.upper()} :{hc.port}{path} ({hc.target}) every {hc.interval_seconds:g}s, "
        f"down after {hc.unhealthy_threshold} failures"
    )


def _load_balancer_json(summary: GroupedService | None) -> JSONValue:
    """The effective load balancer (``srcip trace``'s form) and its probe in words."""
    if summary is None or summary.load_balancer is None:
        return None
    lb = summary.load_balancer
    return {**lb.to_json(), "health_check_text": _health_check_text(lb)}


def _service_json(item: ServiceDiagnosis) -> dict[str, JSONValue]:
    svc, summary = item.service, item.summary
    groups = {id(g): i for i, g in enumerate(summary.groups)} if summary else {}
    return {
        "service": svc.key,
        "type": svc.type.value,
        "externalTrafficPolicy": svc.external_traffic_policy.value,
        "provider": item.provider,
        "providerSource": item.provider_source,
        "loadBalancer": _load_balancer_json(summary),
        "podSees": [_seen_json(s, groups) for s in summary.pod_sees] if summary else [],
        "appSees": [_seen_json(s, groups) for s in summary.app_sees] if summary else [],
        "path": [
            {"hop": h.name, "kind": h.kind, "peer": str(h.peer), "local": str(h.local)}
            for h in (summary.path if summary else ())
        ],
        "why": list(summary.why) if summary else [],
        "nodeGroups": [_group_json(g) for g in summary.groups] if summary else [],
        "pods": [
            {"name": p.name, "node": p.node, "share": str(p.share)}
            for p in (summary.pods if summary else ())
        ],
        "lost": {
            "beforePods": str(summary.dropped),
            "networkPolicy": str(summary.denied),
            "refusedByApp": str(summary.refused),
        }
        if summary
        else None,
        "findings": [f.to_json() for f in item.findings],
    }


def diagnosis_json(result: Diagnosis) -> dict[str, JSONValue]:
    """The whole diagnosis as plain JSON data."""
    return {
        "inferred": [
            {"name": f.name, "value": f.value, "source": f.source} for f in result.inference.facts
        ],
        "services": [_service_json(s) for s in result.services],
        "findings": [f.to_json() for f in result.findings],
        "summary": {
            str(level): sum(1 for f in result.findings if f.severity is level) for level in Severity
        },
        "notes": list(result.notes),
    }


def print_diagnosis(console: Console, result: Diagnosis, *, verbose: bool = False) -> None:
    """Inferred facts, then per Service its path, split and findings, then cluster findings."""
    table = Table(title="Inferred", show_lines=False)
    for column in ("what", "value", "from"):
        table.add_column(column)
    for fact in result.inference.facts:
        table.add_row(escape(fact.name), escape(fact.value), escape(fact.source))
    console.print(table)
    for finding in (f for f in result.findings if f.service is None):
        _print_finding(console, finding)
    for item in result.services:
        _print_service(console, item)
    if not result.services:
        console.print("No LoadBalancer or NodePort Service in the input.", highlight=False)
    errors = sum(1 for f in result.findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in result.findings if f.severity is Severity.WARNING)
    console.print(
        f"\n{len(result.services)} Service(s): {errors} error(s), {warnings} warning(s)",
        highlight=False,
    )
    if verbose:
        for note in result.notes:
            console.print(f"[dim]note:[/dim] {escape(note)}", highlight=False)


def _print_service(console: Console, item: ServiceDiagnosis) -> None:
    svc, summary = item.service, item.summary
    console.rule(
        f"[bold]{escape(svc.key)}[/bold] ({svc.type.value}, {svc.external_traffic_policy})"
    )
    console.print(
        f"provider: {item.provider or 'generic'} [dim]({escape(item.provider_source)})[/dim]",
        highlight=False,
    )
    if summary is not None:
        _print_summary(console, summary)
    for finding in item.findings:
        _print_finding(console, finding)


def _print_summary(console: Console, summary: GroupedService) -> None:
    lb = summary.load_balancer
    if lb is not None:
        pp = "" if lb.proxy_protocol is ProxyProtocolVersion.OFF else f", PROXY {lb.proxy_protocol}"
        console.print(
            f"load balancer: {lb.mode}{pp} to {lb.targets} targets; health check: "
            f"{escape(_health_check_text(lb))}",
            highlight=False,
        )
    if summary.path:
        hops = " → ".join(f"{h.name} (peer {h.peer})" for h in summary.path)
        console.print(f"a predicted path: {escape(hops)}", highlight=False)
    if summary.why:
        console.print(f"why: {escape('; '.join(summary.why))}", highlight=False)
    seen = "; ".join(f"{seen_text(s)} {_pct(s.probability)}" for s in summary.pod_sees)
    console.print(f"the pods see: {escape(seen) or 'nothing delivered'}", highlight=False)
    app = "; ".join(f"{seen_text(s)} {_pct(s.probability)}" for s in summary.app_sees)
    console.print(f"the app resolves: {escape(app) or 'nothing delivered'}", highlight=False)
    lost = [
        (summary.dropped, "lost before the pods"),
        (summary.denied, "dropped by a NetworkPolicy"),
        (summary.refused, "refused by the app"),
    ]
    for part, what in lost:
        if part:
            console.print(f"[red]{_pct(part)} {what}[/red]", highlight=False)
    if summary.groups:
        _print_groups(console, summary.groups)
    pods = summary.pods
    shown = listed([f"{p.name} {_pct(p.share)}" for p in pods[:SHOWN]], len(pods))
    console.print(f"per pod: {escape(shown) or 'none'}", highlight=False)


def _print_groups(console: Console, groups: tuple[NodeGroup, ...]) -> None:
    """The node groups as aligned plain lines (a rich Table per Service is too slow for
    thousands of Services); a failing probe is red."""
    rows = [("nodes", "share each", "LB health", "ready pods each")]
    rows += [
        (
            group_names((g,)),
            _pct(g.share),
            "pass" if g.healthy else "fail",
            str(g.local_pods),
        )
        for g in groups
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for number, row in enumerate(rows):
        line = "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        line += "  " + row[3]
        failing = number > 0 and row[2] == "fail"
        console.out(
            line, style="red" if failing else ("bold" if number == 0 else None), highlight=False
        )


def _print_finding(console: Console, finding: Finding) -> None:
    style = _STYLE[finding.severity]
    console.print(
        f"\n[{style}]{finding.severity.upper()}[/{style}] {escape(finding.title)}", highlight=False
    )
    for field, value in finding.evidence:
        console.print(f"  [dim]{escape(field)}:[/dim] {escape(value)}", highlight=False)
    console.print(f"  why: {escape(finding.explanation)}", highlight=False)
    console.print("  fix:", highlight=False)
    for line in finding.fix.splitlines():
        console.print(f"    {escape(line)}", highlight=False)
    if finding.references:
        console.print(f"  see: {', '.join(finding.references)}", highlight=False)
