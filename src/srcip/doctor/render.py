"""A :class:`Diagnosis` for people (rich text) and for machines (JSON).

Shares are exact fractions; JSON carries them as strings (``"1/3"``) so nothing is rounded.
"""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from srcip.doctor.diagnose import Diagnosis, ServiceDiagnosis
from srcip.doctor.findings import Finding, Severity
from srcip.model.healthcheck import JSONValue
from srcip.model.trace import Outcome

__all__ = ["diagnosis_json", "print_diagnosis"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _pct(value: Fraction) -> str:
    return f"{float(value) * 100:.1f}%"


def _likeliest(item: ServiceDiagnosis) -> Outcome | None:
    if item.trace is None:
        return None
    delivered = [o for o in item.trace.outcomes if o.delivered]
    return max(delivered, key=lambda o: o.probability, default=None)


def _service_json(item: ServiceDiagnosis, nodes: tuple[str, ...]) -> dict[str, JSONValue]:
    svc = item.service
    path = _likeliest(item)
    share = item.share
    return {
        "service": svc.key,
        "type": svc.type.value,
        "externalTrafficPolicy": svc.external_traffic_policy.value,
        "provider": item.provider,
        "providerSource": item.provider_source,
        "podSees": [{"address": a, "share": str(p)} for a, p in item.pod_sees],
        "appSees": [{"address": a, "share": str(p)} for a, p in item.app_sees],
        "path": [
            {"hop": h.name, "kind": h.kind, "peer": str(h.peer), "local": str(h.local)}
            for h in (path.hops if path is not None else ())
        ],
        "nodes": [
            {"name": n.name, "share": str(n.share), "healthy": n.healthy, "localPods": n.local_pods}
            for n in (share.nodes if share is not None else ())
        ],
        "pods": [
            {"name": p.name, "node": p.node, "share": str(p.share)}
            for p in (share.pods if share is not None else ())
        ],
        "health": item.health.to_json(nodes) if item.health is not None else None,
        "findings": [f.to_json() for f in item.findings],
    }


def diagnosis_json(result: Diagnosis) -> dict[str, JSONValue]:
    """The whole diagnosis as plain JSON data."""
    return {
        "inferred": [
            {"name": f.name, "value": f.value, "source": f.source} for f in result.inference.facts
        ],
        "services": [_service_json(s, result.nodes) for s in result.services],
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
        console.print("No LoadBalancer or NodePort Service in the input.")
    errors = sum(1 for f in result.findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in result.findings if f.severity is Severity.WARNING)
    console.print(f"\n{len(result.services)} Service(s): {errors} error(s), {warnings} warning(s)")
    if verbose:
        for note in result.notes:
            console.print(f"[dim]note:[/dim] {escape(note)}", highlight=False)


def _print_service(console: Console, item: ServiceDiagnosis) -> None:
    svc = item.service
    console.rule(
        f"[bold]{escape(svc.key)}[/bold] ({svc.type.value}, {svc.external_traffic_policy})"
    )
    console.print(
        f"provider: {item.provider or 'generic'} [dim]({escape(item.provider_source)})[/dim]"
    )
    path = _likeliest(item)
    if path is not None:
        hops = " → ".join(f"{h.name} (peer {h.peer})" for h in path.hops)
        console.print(f"likeliest path: {escape(hops)}")
    seen = ", ".join(f"{a} {_pct(p)}" for a, p in item.pod_sees) or "nothing delivered"
    console.print(f"the pods see: {seen}")
    app = ", ".join(f"{a} {_pct(p)}" for a, p in item.app_sees) or "nothing delivered"
    console.print(f"the app resolves: {app}")
    if item.share is not None and item.share.nodes:
        table = Table(show_header=True)
        for column in ("node", "share", "LB health", "ready pods"):
            table.add_column(column)
        for node in item.share.nodes:
            health = "pass" if node.healthy else "[red]fail[/red]"
            table.add_row(node.name, _pct(node.share), health, str(node.local_pods))
        console.print(table)
        pods = ", ".join(f"{p.name} {_pct(p.share)}" for p in item.share.pods)
        console.print(f"per pod: {escape(pods) or 'none'}")
    for finding in item.findings:
        _print_finding(console, finding)


def _print_finding(console: Console, finding: Finding) -> None:
    style = _STYLE[finding.severity]
    console.print(f"\n[{style}]{finding.severity.upper()}[/{style}] {escape(finding.title)}")
    for field, value in finding.evidence:
        console.print(f"  [dim]{escape(field)}:[/dim] {escape(value)}", highlight=False)
    console.print(f"  why: {escape(finding.explanation)}", highlight=False)
    console.print("  fix:", highlight=False)
    for line in finding.fix.splitlines():
        console.print(f"    {escape(line)}", highlight=False)
    if finding.references:
        console.print(f"  see: {', '.join(finding.references)}", highlight=False)
