"""``diagnose``: the model's prediction and the findings for every external Service.

The cluster index is built once; :func:`srcip.model.grouped.summarize` walks every
externally reachable Service in one call, per group of nodes that behave alike for it (so a
5,000-node cluster costs a few walks per Service, not 5,000). Per Service the doctor
reports the load balancer's probe and split per node group, the share per pod, the address
the pods see and the client the app resolves (for the default client), one predicted path,
and the findings of :mod:`srcip.doctor.checks`. Every figure equals what ``srcip trace`` and
``srcip share`` give node by node.
"""

from __future__ import annotations

from dataclasses import dataclass

from srcip.doctor.checks import CLUSTER_CHECKS, SERVICE_CHECKS
from srcip.doctor.context import ServiceContext
from srcip.doctor.findings import Finding, Severity, at_or_above
from srcip.doctor.infer import Inference, infer, provider_of
from srcip.doctor.snapshot import Snapshot
from srcip.errors import UsageError
from srcip.manifests import collector_paused
from srcip.model.enums import ServiceType
from srcip.model.grouped import GroupedService, summarize
from srcip.model.index import build_index
from srcip.model.objects import Service

__all__ = ["Diagnosis", "ServiceDiagnosis", "diagnose"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDiagnosis:
    """One externally reachable Service: the prediction and what is wrong."""

    service: Service
    provider: str | None
    provider_source: str
    summary: GroupedService | None  # None: the Service has no port
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


def diagnose(
    snapshot: Snapshot,
    *,
    namespace: str | None = None,
    service: str | None = None,
) -> Diagnosis:
    """Diagnose every externally reachable Service of ``snapshot`` (or one, or a namespace).

    Raises :class:`UsageError` when ``service`` names no Service of the snapshot.
    """
    cluster = snapshot.cluster
    inference = infer(snapshot)
    wanted = _wanted(snapshot, namespace, service)
    with_ports = [svc for svc in wanted if svc.ports]
    with collector_paused():
        index = build_index(cluster)
        summaries = {g.service: g for g in summarize(cluster, services=with_ports, index=index)}
        findings = [f for check in CLUSTER_CHECKS for f in check(snapshot, inference)]
        results = []
        for svc in wanted:
            result = _diagnose_one(snapshot, inference, svc, summaries.get(svc.key))
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
    summary: GroupedService | None,
) -> ServiceDiagnosis:
    ctx = ServiceContext(
        snapshot=snapshot,
        inference=inference,
        service=svc,
        lb=summary.load_balancer if summary is not None else None,
        summary=summary,
    )
    provider, why = provider_of(snapshot, svc)
    return ServiceDiagnosis(
        service=svc,
        provider=provider,
        provider_source=why,
        summary=summary,
        findings=tuple(f for check in SERVICE_CHECKS for f in check(ctx)),
    )
