"""The one exception tree of srcip.

::

    SrcipError                      base of everything srcip raises on purpose
    ├── ManifestError(ValueError)   a Kubernetes manifest (or a reference to one) is wrong:
    │                               names the file, document, object, field, value and fix
    ├── UsageError(ValueError)      a command-line value that is not about a manifest
    │                               (a bad IP in --src, a port out of range)
    ├── TrustConfigError(ValueError) a client-IP configuration is wrong: trust (bad CIDR,
    │                               trust-all without allow_trust_all, unknown source), rate
    │                               limits, access rules, metrics settings
    ├── ClusterAPIError             the live cluster cannot be read (unreachable API server,
    │                               401, 403, no kubeconfig or context): names the server,
    │                               resource and verb, and the fix
    └── ProtocolError               bytes from a peer break a wire protocol ("remote" error)
        └── ProxyProtocolError(ValueError)  a PROXY protocol header is invalid; ``kind``
                                    names which rule it broke (see srcip.proxyproto)

Bad input is always one of these; anything else escaping is a bug. The CLI turns every
``SrcipError`` into a one-paragraph message and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ClusterAPIError",
    "ManifestError",
    "ProtocolError",
    "ProxyProtocolError",
    "SrcipError",
    "TrustConfigError",
    "UsageError",
    "Where",
]


class SrcipError(Exception):
    """Base class of every error srcip raises on purpose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where in the input a problem sits: file, document index and object."""

    file: str | None = None
    document: int | None = None
    item: str | None = None  # path inside a ``kind: List`` document, e.g. ``items[3]``
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None

    def describe(self) -> str:
        """Render as ``file.yaml, document 2, items[3], Service default/echo``."""
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file)
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.item is not None:
            parts.append(self.item)
        if self.kind is not None:
            obj = self.kind
            if self.name is not None:
                ns = f"{self.namespace}/" if self.namespace else ""
                obj = f"{obj} {ns}{self.name}"
            parts.append(obj)
        return ", ".join(parts)


class ManifestError(SrcipError, ValueError):
    """A manifest cannot be used: names where, which field, the value and the fix."""

    def __init__(
        self,
        problem: str,
        *,
        where: Where | None = None,
        field: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.where = where or Where()
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """One paragraph: where, field, value, problem, fix."""
        head = self.where.describe()
        text = f"{head}: " if head else ""
        if self.field is not None:
            text += f"field {self.field}"
            if self.value is not None:
                text += f" = {self.value!r}"
            text += ": "
        text += self.problem
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class UsageError(SrcipError, ValueError):
    """A command-line value is wrong; the message names the option and the fix."""


class TrustConfigError(SrcipError, ValueError):
    """A client-IP configuration (trust, rate limits, access rules, metrics) is invalid.

    The message names the setting, the value and the fix.
    """


class ClusterAPIError(SrcipError):
    """The Kubernetes API cannot be read: unreachable, credentials refused, a permission
    missing, no kubeconfig or an unknown context.

    The message names the server (and context), the resource and verb when one was refused,
    and the fix. ``status`` is the HTTP status when the server answered one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        resource: str | None = None,
        verb: str | None = None,
    ) -> None:
        self.status = status
        self.resource = resource
        self.verb = verb
        super().__init__(message)


class ProtocolError(SrcipError):
    """Bytes received from a peer break a wire protocol (a remote error, in h11's terms)."""


class ProxyProtocolError(ProtocolError, ValueError):
    """An invalid PROXY protocol header; ``kind`` is one of srcip.proxyproto's error kinds."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {message}")
