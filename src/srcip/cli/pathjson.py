"""JSON shapes of ``srcip trace`` and ``srcip share`` (stable keys; see the docs)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from srcip.model.share import ServiceShare, ShareReport
from srcip.model.timeline import Timeline
from srcip.model.trace import ServiceTrace, Trace
from srcip.model.tracepath import HopRecord, Outcome
from srcip.proxyproto import ProxyHeader

__all__ = ["fraction_json", "share_json", "timeline_json", "trace_json"]


def fraction_json(value: Fraction) -> float:
    """A probability or share as a float rounded to 6 places (exact value kept alongside)."""
    return round(float(value), 6)


def trace_json(result: Trace) -> dict[str, Any]:
    """``{scenario, outcomes[], services[]}``; ``outcomes`` lists every Service's, flat."""
    services = [_service_trace(s) for s in result.services]
    return {
        "scenario": result.scenario,
        "outcomes": [o for s in services for o in s["outcomes"]],
        "services": services,
    }


def _service_trace(trace: ServiceTrace) -> dict[str, Any]:
    return {
        "service": trace.service,
        "backend": trace.backend,
        "policy": trace.policy,
        "load_balancer": trace.load_balancer.to_json() if trace.load_balancer else None,
        "health": [
            {
                "target": h.target,
                "node": h.node,
                "address": str(h.address) if h.address is not None else None,
                "healthy": h.healthy,
                "status": h.status,
                "weight": h.weight,
                "reason": h.reason,
            }
            for h in trace.health
        ],
        "split": [
            {"target": target, "share": fraction_json(value), "exact": str(value)}
            for target, value in (trace.split.shares if trace.split else ())
        ],
        "notes": list(trace.notes),
        "outcomes": [_outcome(trace.service, o) for o in trace.outcomes],
    }


def _outcome(service: str, outcome: Outcome) -> dict[str, Any]:
    resolution = outcome.resolution
    return {
        "service": service,
        "client": outcome.client,
        "probability": fraction_json(outcome.probability),
        "probability_exact": str(outcome.probability),
        "node": outcome.node,
        "pod": outcome.pod,
        "ingress_pod": outcome.ingress_pod,
        "delivered": outcome.delivered,
        "dropped_at": outcome.dropped_at,
        "refused_at": outcome.refused_at,
        "pod_peer": _text(outcome.pod_peer),
        "app_client_ip": _text(outcome.app_client_ip),
        "app_resolution": None
        if resolution is None
        else {"status": str(resolution.status), "source": resolution.source},
        "verdict": outcome.verdict,
        "spoofable": outcome.spoofable,
        "notes": list(outcome.notes),
        "hops": [_hop(h) for h in outcome.hops],
    }


def _hop(hop: HopRecord) -> dict[str, Any]:
    return {
        "name": hop.name,
        "kind": hop.kind,
        "peer": str(hop.peer),
        "local": str(hop.local),
        "proxy_protocol": proxy_json(hop.proxy),
        "headers": [[name, value] for name, value in hop.headers],
        "rules": list(hop.rules),
    }


def proxy_json(header: ProxyHeader | None) -> dict[str, Any] | None:
    """A PROXY header's version, command, addresses and ports (None without one)."""
    if header is None:
        return None
    return {
        "version": header.version,
        "command": str(header.command.name).lower(),
        "src": _text(header.src),
        "dst": _text(header.dst),
        "src_port": header.src_port,
        "dst_port": header.dst_port,
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def share_json(report: ShareReport) -> dict[str, Any]:
    """``{services[], compared[]}`` with node and pod shares and fairness figures."""
    return {
        "services": [_service_share(s) for s in report.services],
        "compared": [_service_share(s) for s in report.compared],
    }


def _service_share(item: ServiceShare) -> dict[str, Any]:
    fair = item.fairness
    ratio = fair.max_over_min
    return {
        "name": item.name,
        "policy": str(item.policy),
        "nodes": [
            {
                "name": n.name,
                "share": fraction_json(n.share),
                "exact": str(n.share),
                "healthy": n.healthy,
                "local_pods": n.local_pods,
            }
            for n in item.nodes
        ],
        "pods": [
            {"name": p.name, "node": p.node, "share": fraction_json(p.share), "exact": str(p.share)}
            for p in item.pods
        ],
        "dropped": fraction_json(item.dropped),
        "fairness": {
            "pods": fair.pods,
            "max_share": fraction_json(fair.max_share),
            "min_share": fraction_json(fair.min_share),
            "fair_share": fraction_json(fair.fair_share),
            "max_over_min": None if ratio is None else fraction_json(ratio),
            "busiest_over_fair": fraction_json(fair.busiest_over_fair),
        },
        "notes": list(item.notes),
    }


def timeline_json(result: Timeline) -> dict[str, Any]:
    """``{service, windows[], failure_window, ...}``; windows tile [0, duration]."""
    low, high = result.failure_window_bounds
    return {
        "service": result.service,
        "duration": result.duration,
        "probe_phase": result.probe_phase,
        "windows": [window.to_json() for window in result.windows],
        "failure_window": result.failure_window,
        "failure_window_bounds": [low, high],
        "failure_window_without_fallback": result.failure_window_without_fallback,
        "notes": list(result.notes),
    }
