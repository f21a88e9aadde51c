"""Turn results into plain data (for ``-o json``) and rich renderables (for people)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from srcip.model.enums import Verdict
from srcip.model.healthcheck import HealthAnswer
from srcip.model.healthreport import HealthReport
from srcip.model.packet import EndpointChoice, RouteResult, format_endpoint

__all__ = ["health_json", "health_tables", "route_json", "route_table"]

_VERDICT_STYLE = {
    Verdict.DNAT: "green",
    Verdict.ACCEPT: "green",
    Verdict.DROP: "red",
    Verdict.REJECT: "red",
    Verdict.NO_MATCH: "yellow",
}


def _choice_json(choice: EndpointChoice) -> dict[str, Any]:
    return {
        "endpoint": choice.endpoint,
        "node": choice.node,
        "probability": str(choice.probability),
        "masquerade": choice.masquerade,
        "source_seen": str(choice.source_seen),
    }


def route_json(result: RouteResult) -> dict[str, Any]:
    """A route result as plain JSON-ready data."""
    pkt = result.packet
    seen = result.source_seen
    return {
        "node": result.node,
        "packet": {
            "src": str(pkt.src),
            "dst": format_endpoint(pkt.dst, pkt.port),
            "port": pkt.port,
            "protocol": str(pkt.protocol),
        },
        "verdict": str(result.verdict),
        "entry": None if result.entry is None else str(result.entry),
        "service": None if result.service is None else str(result.service),
        "source_class": str(result.source_class),
        "endpoints": [_choice_json(c) for c in result.endpoints],
        "masquerade": result.masquerade,
        "source_seen": None if seen is None else str(seen),
        "rules": list(result.rules),
        "reasons": list(result.reasons),
    }


def _seen(choice: EndpointChoice, src: object) -> Text:
    if choice.source_seen == src:
        return Text(f"{choice.source_seen} (source kept)", style="green")
    return Text(f"{choice.source_seen} (SNAT)", style="yellow")


def _packet_heading(result: RouteResult) -> Text:
    pkt = result.packet
    head = Text(f"{pkt.src} → {format_endpoint(pkt.dst, pkt.port)}/{pkt.protocol}", style="bold")
    if result.service is not None:
        head.append(f"  {result.service} via {result.entry}")
    return head


def _packet_table(results: Sequence[RouteResult]) -> Table:
    table = Table(title=_packet_heading(results[0]), title_justify="left", expand=False)
    for column in ("node", "source", "verdict", "endpoint", "share", "pod sees", "rules"):
        table.add_column(column, no_wrap=column in ("endpoint", "pod sees"))
    for r in results:
        verdict = Text(str(r.verdict), style=_VERDICT_STYLE[r.verdict])
        rules = " ".join(rule.removeprefix("KP ") for rule in r.rules)
        if not r.endpoints:
            table.add_row(r.node, str(r.source_class), verdict, "—", "", "—", rules)
            continue
        for i, c in enumerate(r.endpoints):
            where = f" @{c.node}" if c.node else ""
            first = i == 0
            table.add_row(
                r.node if first else "",
                str(r.source_class) if first else "",
                verdict if first else "",
                f"{c.endpoint}{where}",
                str(c.probability),
                _seen(c, r.packet.src),
                rules if first else "",
                end_section=i == len(r.endpoints) - 1,
            )
    return table


def route_table(results: Sequence[RouteResult], *, reasons: bool) -> RenderableType:
    """Per packet, a table with one row per (node, endpoint): share and what the pod sees."""
    groups: dict[object, list[RouteResult]] = {}
    for r in results:
        groups.setdefault(r.packet, []).append(r)
    parts: list[RenderableType] = []
    for group in groups.values():
        parts.append(_packet_table(group))
        if reasons:
            notes = Text()
            for r in group:
                for rule, reason in zip(r.rules, r.reasons, strict=True):
                    notes.append(f"  {r.node}  {rule}  ", style="dim")
                    notes.append(f"{reason}\n")
            parts.append(notes)
    return Group(*parts)


def _answer_json(answer: HealthAnswer) -> dict[str, Any]:
    return {
        "status": int(answer.status),
        "headers": dict(answer.headers),
        "body": answer.to_json()["body"],
    }


def health_json(report: HealthReport) -> dict[str, Any]:
    """Every health-checked Service × node answer, and each node's /healthz and /livez."""
    bodies: dict[int, object] = {}  # one body per distinct answer, shared by its rows
    checks = []
    for row in report.rows():
        body = bodies.get(id(row.answer))
        if body is None:
            body = bodies[id(row.answer)] = row.answer.to_json()["body"]
        checks.append(
            {
                "service": row.service.key,
                "node": row.node,
                "healthCheckNodePort": row.service.health_check_node_port,
                "healthCheckNodePortAllocated": row.service.allocated,
                "status": int(row.answer.status),
                "weight": row.local_endpoints,
                "body": body,
            }
        )
    proxy = {
        node: {"healthz": _answer_json(a.healthz), "livez": _answer_json(a.livez)}
        for node, a in report.proxy.items()
    }
    return {"proxyHealthy": report.proxy_healthy, "services": checks, "proxy": proxy}


def _status(status: int) -> Text:
    return Text(str(status), style="green" if status == 200 else "red")


def health_tables(report: HealthReport) -> RenderableType:
    """A table of Service × node health-check answers and one of kube-proxy's own."""
    checks = Table(title="healthCheckNodePort answers (what the load balancer sees)")
    for column in ("service", "port", "node", "status", "weight", "body"):
        checks.add_column(column, overflow="fold")
    bodies: dict[int, str] = {}
    for row in report.rows():
        port = str(row.service.health_check_node_port)
        if row.service.allocated:
            port += " (allocated)"
        body = bodies.get(id(row.answer))
        if body is None:
            data = row.answer.to_json()["body"]
            body = bodies[id(row.answer)] = json.dumps(data, separators=(",", ":"))
        checks.add_row(
            row.service.key,
            port,
            row.node,
            _status(row.answer.status),
            str(row.local_endpoints),
            body,
        )
    proxy = Table(title="kube-proxy :10256 (node-level)")
    for column in ("node", "/healthz", "/livez", "node eligible"):
        proxy.add_column(column)
    for node, answers in report.proxy.items():
        eligible = answers.healthz.to_json()["body"]
        proxy.add_row(
            node,
            _status(answers.healthz.status),
            _status(answers.livez.status),
            str(eligible.get("nodeEligible", "")) if isinstance(eligible, dict) else "",
        )
    if not report.services:
        return Group(Text("No Service needs a health check (LoadBalancer + Local policy)."), proxy)
    return Group(checks, proxy)
