"""``srcip doctor``: explain a real cluster's source-IP behaviour, with evidence and a fix.

Input is a cluster's own objects (a ``kubectl get -o yaml`` dump, or the live API through
:mod:`srcip.doctor.kubeapi`); :func:`load_snapshot` turns them into the model's
:class:`~srcip.model.objects.Cluster` plus the extras the doctor reads, :func:`diagnose` runs
the model (trace, share, health) and the checks, and :mod:`srcip.doctor.render` shows the
result. Findings are data, not exceptions.
"""

from __future__ import annotations

from srcip.doctor.diagnose import Diagnosis, ServiceDiagnosis, diagnose
from srcip.doctor.findings import Finding, Severity
from srcip.doctor.render import diagnosis_json, print_diagnosis
from srcip.doctor.snapshot import Extras, Snapshot, load_snapshot

__all__ = [
    "Diagnosis",
    "Extras",
    "Finding",
    "ServiceDiagnosis",
    "Severity",
    "Snapshot",
    "diagnose",
    "diagnosis_json",
    "load_snapshot",
    "print_diagnosis",
]
