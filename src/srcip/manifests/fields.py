"""Field-level parsing shared by the converters: schema check, IPs, CIDRs, enums, ports.

Every object of a kind the apiserver knows is first checked against lightkube's generated
schema (``Cls.from_dict``, which is ``msgspec.convert``): wrong types and missing required
fields come back as one :class:`msgspec.ValidationError` whose message ends in
``- at `$.spec.ports[0].port```. :func:`lightkube_object` turns it into a
:class:`ManifestError` naming the field, the value found there and a fix. The schema says
nothing about what a string means, so IP addresses, CIDRs, enum values and port ranges are
checked here, the way the apiserver's validation would.

lightkube ships no type information; its objects are ``Any`` and stay inside this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from ipaddress import ip_address, ip_network
from typing import Any, TypeVar

import msgspec

from srcip.errors import ManifestError
from srcip.manifests.documents import Document
from srcip.model.objects import IPAddress, IPNetwork

__all__ = [
    "check_port",
    "lightkube_object",
    "object_name",
    "object_namespace",
    "parse_cidr",
    "parse_enum",
    "parse_ip",
    "string_pairs",
    "value_at",
]

E = TypeVar("E", bound=StrEnum)

_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def lightkube_object(doc: Document, cls: Any) -> Any:
    """``cls.from_dict(doc.body)``, with schema errors turned into :class:`ManifestError`."""
    try:
        return cls.from_dict(doc.body)
    except msgspec.ValidationError as exc:
        raise _schema_error(doc, str(exc)) from exc


def _schema_error(doc: Document, text: str) -> ManifestError:
    match = _AT.fullmatch(text)
    assert match is not None  # every part of the pattern is optional
    message, path = match["message"], match["path"] or ""
    field = path.removeprefix(".") or None
    if missing := _MISSING.match(message):
        field = f"{field}.{missing['name']}" if field else missing["name"]
        return doc.error("is required", field=field, fix=f"set {field}")
    value = value_at(doc.body, path)
    if expected := _EXPECTED.match(message):
        want = expected["want"].replace(" | null", "")
        return doc.error(
            f"has the wrong type: expected {want}, got {expected['got']}",
            field=field,
            value=value,
            fix=f"write {field or 'the object'} as {want}",
        )
    return doc.error(
        message[:1].lower() + message[1:],
        field=field,
        value=value,
        fix=f"correct it as the Kubernetes API reference for {doc.kind} describes",
    )


def value_at(body: object, path: str) -> object:
    """The value at a msgspec path such as ``.spec.ports[0].port`` (None if unreachable)."""
    value = body
    for step in _PATH_STEP.finditer(path):
        key, index = step.group(1), step.group(2)
        if key is not None and isinstance(value, Mapping):
            value = value.get(key)
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def object_name(doc: Document, metadata: Any) -> str:
    """``metadata.name``, which every object must have."""
    name: str | None = metadata.name if metadata is not None else None
    if not name:
        raise doc.error("is required", field="metadata.name", fix="give the object a name")
    return name


def object_namespace(metadata: Any) -> str:
    """``metadata.namespace``, ``default`` when absent (as ``kubectl apply`` would do)."""
    namespace: str | None = metadata.namespace if metadata is not None else None
    return namespace or "default"


def parse_ip(doc: Document, value: object, field: str) -> IPAddress:
    """An IPv4 or IPv6 address, or a :class:`ManifestError` naming ``field``."""
    text = value if isinstance(value, str) else ""  # "" never parses
    try:
        return ip_address(text)
    except ValueError as exc:
        raise doc.error(
            "is not an IP address",
            field=field,
            value=value,
            fix="write a single address such as 10.0.0.1 or 2001:db8::1",
        ) from exc


def parse_cidr(doc: Document, value: object, field: str) -> IPNetwork:
    """A CIDR; host bits are allowed and cleared.

    The apiserver and kube-proxy parse CIDRs with Go's ``net.ParseCIDR``, which accepts
    ``10.0.0.1/8`` and keeps the network ``10.0.0.0/8``; ``strict=False`` does the same.
    A prefix length out of range still fails, and so do a bare address and netmask notation
    (``10.0.0.0/255.0.0.0``), which Python would accept but Go does not.
    """
    text = value if isinstance(value, str) and value.rpartition("/")[2].isdigit() else ""
    try:
        return ip_network(text, strict=False)
    except ValueError as exc:
        raise doc.error(
            "is not a CIDR",
            field=field,
            value=value,
            fix="write an address with a prefix length such as 10.0.0.0/8 or 2001:db8::/64",
        ) from exc


def parse_enum(
    doc: Document, enum: type[E], value: object, field: str, default: E | None = None
) -> E:
    """One of the enum's wire strings; absent or empty gives ``default`` (None: required)."""
    if value is None or value == "":
        if default is None:
            raise doc.error("is required", field=field, fix=f"set {field} to {_choices(enum)}")
        return default
    try:
        return enum(value if isinstance(value, str) else "")  # "" is no member
    except ValueError as exc:
        raise doc.error(
            "is not a valid value",
            field=field,
            value=value,
            fix=f"use {_choices(enum)} (the values are case-sensitive)",
        ) from exc


def _choices(enum: type[StrEnum]) -> str:
    values = [member.value for member in enum]
    return ", ".join(values[:-1]) + f" or {values[-1]}"


def check_port(doc: Document, value: int, field: str) -> int:
    """A port number in 1..65535."""
    if not 1 <= value <= 65535:
        raise doc.error(
            "is not a port number", field=field, value=value, fix="use a port from 1 to 65535"
        )
    return value


def string_pairs(doc: Document, value: object, field: str) -> tuple[tuple[str, str], ...]:
    """A string-to-string map (labels, selector) as sorted pairs."""
    if value is None:
        return ()
    assert isinstance(value, Mapping)  # the schema checked it is an object
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            bad = key if not isinstance(key, str) else item
            raise doc.error(
                "must map strings to strings",
                field=f"{field}[{key!r}]" if isinstance(key, str) else field,
                value=bad,
                fix='quote the value in YAML (e.g. version: "1", enabled: "true")',
            )
    return tuple(sorted(value.items()))
