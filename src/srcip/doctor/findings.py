"""Findings: what the doctor reports, as data (never exceptions).

A :class:`Finding` names the Service it is about, the object fields it read
(``evidence``), why it matters (``explanation``, citing ``KP §`` or the provider fact), how
to fix it (``fix``: a ``kubectl patch`` or YAML snippet) and the upstream issues where users
hit it (``references``). Each ``kind`` has a section in ``docs/reference/findings.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from srcip.model.healthcheck import JSONValue

__all__ = ["Finding", "Severity", "at_or_above"]


class Severity(StrEnum):
    """How bad a finding is; ``--fail-on`` compares against this order."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def at_or_above(severity: Severity, level: Severity) -> bool:
    """Whether ``severity`` is ``level`` or worse."""
    return _RANK[severity] >= _RANK[level]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing the doctor noticed, with the fields it read and the fix."""

    severity: Severity
    service: str | None  # namespace/name; None: cluster-wide
    kind: str  # the section of docs/reference/findings.md
    title: str
    evidence: tuple[tuple[str, str], ...]  # (object field, value)
    explanation: str
    fix: str
    references: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        """The finding as JSON (``evidence`` as a list of ``{field, value}``)."""
        return {
            "severity": self.severity.value,
            "service": self.service,
            "kind": self.kind,
            "title": self.title,
            "evidence": [{"field": f, "value": v} for f, v in self.evidence],
            "explanation": self.explanation,
            "fix": self.fix,
            "references": list(self.references),
        }
