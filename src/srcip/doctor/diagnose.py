"""``diagnose``: the model's prediction and the findings for every external Service.

The cluster index is built once and shared by ``trace``, ``share`` and ``health_report``,
which each walk every externally reachable Service in one call (not one call per Service,
which would rebuild their lookup tables each time). Per Service the doctor reports the
predicted path (:func:`srcip.model.trace.trace`), the address the pods see (the trace's
outcomes for the default client), the split per node and per pod
(:func:`srcip.model.share.share`), what kube-proxy's health-check server answers
(:mod:`srcip.model.healthreport`), and the findings of :mod:`srcip.doctor.checks`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from srcip.doctor.checks import CLUSTER_CHECKS, SERVICE_CHECKS
from srcip.doctor.context import ServiceContext
from srcip.doctor.findings import Finding, Severity, at_or_above
from srcip.doctor.infer import Inference, infer, provider_of
from srcip.doctor.snapshot import Snapshot
from srcip.errors import UsageError
from srcip.model.enums import ServiceType
from srcip.model.healthreport import ServiceHealth, health_report
from srcip.model.index import build_index
from srcip.model.objects import Service
from srcip.model.share import ServiceShare, share
from srcip.model.trace import ServiceTrace, trace

__all__ = ["Diagnosis", "ServiceDiagnosis", "diagnose"]

# The proxy-health state is "synced at now", so the answers do not depend on the date.
_REFERENCE_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDiagnosis:
    """One externally reachable Service: the prediction and what is wrong."""

    service: Service
    provider: str | None
    provider_source: str
    trace: ServiceTrace | None
    share: ServiceShare | None
    health: ServiceHealth | None
    pod_sees: tuple[tuple[str, Fraction], ...]  # pod's TCP peer → probability (default client)
    app_sees: tuple[tuple[str, Fraction], ...]  # the app's resolved client → probability
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """Everything the doctor found."""

    inference: Inference
    services: tuple[ServiceDiagnosis, ...]
    findings: tuple[Finding, ...]  # cluster-wide ones, then each Service's
    nodes: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def has_finding_at(self, level: Severity) -> bool:
        """Whether any finding is ``level`` or worse (``--fail-on``)."""
        return any(at_or_above(f.severity, level) for f in self.findings)


def _wanted(snapshot: Snapshot, namespace: str | None, service: str | None) -> list[Service]:
    external = [
        s
        for s in snapshot.cluster.services
        if s.type in (ServiceType.LOAD_BALANCER, ServiceType.NODE_PORT) and s.ports
    ]
    if service is not None:
        key = service if "/" in service else f"{namespace or 'default'}/{service}"
        found = [s for s in snapshot.cluster.services if s.key == key]
        if not found:
            known = ", ".join(s.key for s in external) or "none"
            raise UsageError(
                f"Service {key} is not in the input (external Services: {known}). Fix: name one "
                "of them as svc/NAME with -n NAMESPACE"
            )
        return found
    return [s for s in external if namespace is None or s.namespace == namespace]


def _distribution(trace_: ServiceTrace, *, app: bool) -> tuple[tuple[str, Fraction], ...]:
    first = next((o.client for o in trace_.outcomes), None)
    totals: dict[object, Fraction] = defaultdict(Fraction)  # summed before str(): it is slow
    for outcome in trace_.outcomes:
        if outcome.client != first or not outcome.delivered:
            continue
        seen = outcome.app_client_ip if app else outcome.pod_peer
        totals[seen] += outcome.probability
    named = ((str(address), share) for address, share in totals.items())
    return tuple(sorted(named, key=lambda item: (-item[1], item[0])))


def diagnose(
    snapshot: Snapshot,
    *,
    namespace: str | None = None,
    service: str | None = None,
    now: datetime = _REFERENCE_NOW,
) -> Diagnosis:
    """Diagnose every externally reachable Service of ``snapshot`` (or one, or a namespace).

    Raises :class:`UsageError` when ``service`` names no Service of the snapshot.
    """
    cluster = snapshot.cluster
    inference = infer(snapshot)
    wanted = _wanted(snapshot, namespace, service)
    index = build_index(cluster)
    one = wanted[0].key if service is not None else None
    traces: dict[str, ServiceTrace] = {}
    shares: dict[str, ServiceShare] = {}
    if wanted and all(s.ports for s in wanted):
        traces = {t.service: t for t in trace(cluster, service=one, index=index).services}
        shares = {s.name: s for s in share(cluster, service=one, index=index).services}
    health = {h.key: h for h in health_report(index, now=now).services}
    findings = [f for check in CLUSTER_CHECKS for f in check(snapshot, inference)]
    results = []
    for svc in wanted:
        result = _diagnose_one(snapshot, inference, svc, traces, shares, health)
        findings.extend(result.findings)
        results.append(result)
    return Diagnosis(
        inference=inference,
        services=tuple(results),
        findings=tuple(findings),
        nodes=tuple(n.name for n in cluster.nodes),
        notes=(*snapshot.notes, *cluster.notes),
    )


def _diagnose_one(
    snapshot: Snapshot,
    inference: Inference,
    svc: Service,
    traces: dict[str, ServiceTrace],
    shares: dict[str, ServiceShare],
    health: dict[str, ServiceHealth],
) -> ServiceDiagnosis:
    traced = traces.get(svc.key)
    ctx = ServiceContext(
        snapshot=snapshot,
        inference=inference,
        service=svc,
        lb=traced.load_balancer if traced is not None else None,
        share=shares.get(svc.key),
        trace=traced,
    )
    provider, why = provider_of(snapshot, svc)
    return ServiceDiagnosis(
        service=svc,
        provider=provider,
        provider_source=why,
        trace=traced,
        share=ctx.share,
        health=health.get(svc.key),
        pod_sees=_distribution(traced, app=False) if traced is not None else (),
        app_sees=_distribution(traced, app=True) if traced is not None else (),
        findings=tuple(f for check in SERVICE_CHECKS for f in check(ctx)),
    )
