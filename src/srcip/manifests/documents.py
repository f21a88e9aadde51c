"""From text to Kubernetes objects: YAML/JSON streams and ``kind: List`` flattening.

A text is either a YAML stream of one or more documents or one JSON value. JSON is also
valid YAML, but the ``json`` module reads a 100 MB ``kubectl get -o json`` dump many times
faster than any YAML parser, so a text that opens with ``{`` or ``[`` is tried as JSON first
(falling back to YAML, because flow-style YAML opens the same way). Documents are numbered
from 1 in stream order, empty ones included, so "document 3" is the third ``---`` section a
user counts. Empty documents are skipped.

``kind: List`` (what ``kubectl get -o yaml`` prints) and typed lists such as ``ServiceList``
(what the API itself returns, with ``kind``/``apiVersion`` omitted from the items) are
flattened, nested ones too; each object keeps the path of its item (``items[3]``) for errors.
Nothing here reads files: :mod:`srcip.manifests.loader` does that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from srcip.errors import ManifestError, Where

__all__ = ["Document", "describe_location", "describe_object", "expand_document", "parse_stream"]

# libyaml is an order of magnitude faster; the pure-Python loader gives the same result.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOOKS_LIKE_JSON = re.compile(r"\s*[\[{]")

# Kinds without a namespace, so that notes do not invent "default/" for them.
_CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "IPAddress",
        "KubeProxyConfiguration",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object from the input and where it came from."""

    where: Where
    api_version: str
    kind: str
    body: dict[str, Any]

    def error(
        self,
        problem: str,
        *,
        field: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> ManifestError:
        """A :class:`ManifestError` located at this object."""
        return ManifestError(problem, where=self.where, field=field, value=value, fix=fix)


def describe_location(where: Where) -> str:
    """``file.yaml, document 2, items[3]``: where an object sits, without the object."""
    return Where(file=where.file, document=where.document, item=where.item).describe()


def describe_object(where: Where) -> str:
    """``Service default/echo``: the object alone."""
    return Where(kind=where.kind, namespace=where.namespace, name=where.name).describe()


def parse_stream(file: str, text: str) -> Iterator[tuple[Where, object]]:
    """Every non-empty document of a YAML or JSON text, located by file and 1-based index."""
    text = text.removeprefix("\ufeff")
    if _LOOKS_LIKE_JSON.match(text):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            pass  # flow-style YAML, or broken JSON: the YAML parser below says which
        else:
            yield Where(file=file, document=1), value  # an object or array, never null
            return
    yield from _parse_yaml(file, text)


def _parse_yaml(file: str, text: str) -> Iterator[tuple[Where, object]]:
    index = 0
    stream = yaml.load_all(text, Loader=_YAML_LOADER)
    while True:
        index += 1
        try:
            value = next(stream)
        except StopIteration:
            return
        except yaml.YAMLError as exc:
            raise _yaml_error(Where(file=file, document=index), exc) from exc
        if value is not None:
            yield Where(file=file, document=index), value


def _yaml_error(where: Where, exc: yaml.YAMLError) -> ManifestError:
    mark = getattr(exc, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return ManifestError(
        f"the text does not parse as YAML or JSON{at}: {detail}",
        where=where,
        fix="correct the syntax (kubectl apply --dry-run=client -f FILE shows the same error)",
    )


def expand_document(where: Where, value: object) -> Iterator[Document]:
    """The objects in one document: itself, or the items of a (nested) List."""
    yield from _expand(where, value, None, None)


def _expand(
    where: Where, value: object, item: str | None, implied: tuple[str, str] | None
) -> Iterator[Document]:
    here = Where(file=where.file, document=where.document, item=item)
    if not isinstance(value, Mapping):
        raise ManifestError(
            f"the document is a {type(value).__name__}, not a Kubernetes object",
            where=here,
            fix="make each document a mapping with apiVersion, kind and metadata",
        )
    body = value if isinstance(value, dict) else dict(value)
    if implied is not None and not ("apiVersion" in body and "kind" in body):
        body = {"apiVersion": implied[0], "kind": implied[1], **body}
    api_version, kind = _header(here, body)
    if kind == "List" or (kind.endswith("List") and "items" in body):
        yield from _expand_list(here, body, api_version, kind)
        return
    located = _locate(here, kind, body.get("metadata"))
    yield Document(where=located, api_version=api_version, kind=kind, body=body)


def _header(where: Where, body: Mapping[str, Any]) -> tuple[str, str]:
    for field in ("apiVersion", "kind"):
        value = body.get(field)
        if not isinstance(value, str) or not value:
            raise ManifestError(
                "is missing" if value is None else "must be a non-empty string",
                where=where,
                field=field,
                value=value,
                fix="give every object apiVersion and kind (e.g. apiVersion: v1, kind: Service)",
            )
    return body["apiVersion"], body["kind"]


def _expand_list(
    where: Where, body: Mapping[str, Any], api_version: str, kind: str
) -> Iterator[Document]:
    items = body.get("items")
    if items is None:
        return
    list_where = Where(file=where.file, document=where.document, item=where.item, kind=kind)
    if not isinstance(items, list):
        raise ManifestError(
            "must be a list of objects",
            where=list_where,
            field="items",
            value=type(items).__name__,
            fix="write items as a YAML sequence (- apiVersion: ...)",
        )
    # A typed list (ServiceList) omits kind and apiVersion from its items.
    implied = None if kind == "List" else (api_version, kind.removesuffix("List"))
    prefix = f"{where.item}." if where.item else ""
    for index, entry in enumerate(items):
        yield from _expand(where, entry, f"{prefix}items[{index}]", implied)


def _locate(where: Where, kind: str, metadata: object) -> Where:
    name = namespace = None
    if isinstance(metadata, Mapping):
        raw_name, raw_namespace = metadata.get("name"), metadata.get("namespace")
        name = raw_name if isinstance(raw_name, str) and raw_name else None
        namespace = raw_namespace if isinstance(raw_namespace, str) and raw_namespace else None
    if namespace is None and kind not in _CLUSTER_SCOPED:
        namespace = "default"
    return Where(
        file=where.file,
        document=where.document,
        item=where.item,
        kind=kind,
        namespace=namespace,
        name=name,
    )
