"""EndpointSlice documents → :class:`srcip.model.objects.EndpointSlice` (KP §2.1).

kube-proxy reads the first address of each endpoint only, defaults the conditions
(``ready`` and ``serving`` absent ⇒ true, ``terminating`` absent ⇒ false), matches ports by
name and protocol, and takes the owning Service from the ``kubernetes.io/service-name``
label. FQDN slices are kept (they belong to their Service) but their endpoints carry no IP,
so they are dropped with a note. An address of the wrong family, or no address at all, is
an error: the apiserver refuses both.

This is the hot path of a large dump (hundreds of thousands of endpoints), so each
endpoint costs its share of one schema check (done for the whole slice at once) and one
address parse, nothing more. The parse goes through ``socket.inet_pton``, the C parser,
which is four times faster than ``ipaddress``'s pure-Python one and just as strict (no
leading zeros, no zone suffix, no surrounding space).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from socket import AF_INET, AF_INET6, inet_pton
from typing import Any

from lightkube.resources.discovery_v1 import EndpointSlice as LkEndpointSlice

from srcip.manifests.documents import Document, describe_location, describe_object
from srcip.manifests.fields import (
    check_port,
    lightkube_object,
    object_name,
    object_namespace,
    parse_enum,
)
from srcip.model.enums import AddressType, Protocol
from srcip.model.objects import (
    LABEL_SERVICE_NAME,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPAddress,
)

__all__ = ["convert_endpoint_slice"]

_NO_HINTS: frozenset[str] = frozenset()


def convert_endpoint_slice(doc: Document, notes: list[str]) -> EndpointSlice:
    """Convert one ``discovery.k8s.io/v1 EndpointSlice``; remarks are appended to ``notes``."""
    obj = lightkube_object(doc, LkEndpointSlice)
    address_type = parse_enum(doc, AddressType, obj.addressType or None, "addressType")
    raw_endpoints: list[Any] = obj.endpoints or []
    if address_type is AddressType.FQDN:
        endpoints: tuple[Endpoint, ...] = ()
        if raw_endpoints:
            notes.append(
                f"{describe_object(doc.where)} ({describe_location(doc.where)}) has addressType "
                f"FQDN: its {len(raw_endpoints)} endpoint(s) have no IP address and are "
                "skipped, as kube-proxy skips them"
            )
    else:
        endpoints = _endpoints(doc, raw_endpoints, address_type)
    return EndpointSlice(
        namespace=object_namespace(obj.metadata),
        name=object_name(doc, obj.metadata),
        service_name=_service_name(doc, obj.metadata),
        address_type=address_type,
        ports=tuple(_port(doc, index, entry) for index, entry in enumerate(obj.ports or ())),
        endpoints=endpoints,
    )


def _service_name(doc: Document, metadata: Any) -> str | None:
    labels = metadata.labels if metadata is not None else None
    value = labels.get(LABEL_SERVICE_NAME) if labels else None
    if value is not None and not isinstance(value, str):
        raise doc.error(
            "must be a string",
            field=f"metadata.labels[{LABEL_SERVICE_NAME!r}]",
            value=value,
            fix="quote the Service name",
        )
    return value or None


def _port(doc: Document, index: int, entry: Any) -> EndpointPort:
    field = f"ports[{index}]"
    port: int | None = entry.port
    return EndpointPort(
        name=entry.name or "",
        protocol=parse_enum(doc, Protocol, entry.protocol, f"{field}.protocol", Protocol.TCP),
        port=None if port is None else check_port(doc, port, f"{field}.port"),
    )


def _endpoints(doc: Document, raw: list[Any], address_type: AddressType) -> tuple[Endpoint, ...]:
    parse = _parse_ipv4 if address_type is AddressType.IPV4 else _parse_ipv6
    endpoints: list[Endpoint] = []
    for index, entry in enumerate(raw):
        addresses: list[str] = entry.addresses
        if not addresses:
            raise doc.error(
                "is empty",
                field=f"endpoints[{index}].addresses",
                fix="give the endpoint its address",
            )
        try:
            address: IPAddress = parse(addresses[0])  # only the first one counts (KP §2.1)
        except (OSError, ValueError) as exc:
            raise doc.error(
                f"is not an {address_type} address",
                field=f"endpoints[{index}].addresses[0]",
                value=addresses[0],
                fix=f"write an {address_type} address, or put it in a slice of its own family",
            ) from exc
        endpoints.append(_endpoint(entry, address))
    return tuple(endpoints)


def _parse_ipv4(text: str) -> IPAddress:
    return IPv4Address(inet_pton(AF_INET, text))


def _parse_ipv6(text: str) -> IPAddress:
    return IPv6Address(inet_pton(AF_INET6, text))


def _endpoint(entry: Any, address: IPAddress) -> Endpoint:
    conditions, hints, target = entry.conditions, entry.hints, entry.targetRef
    return Endpoint(
        address=address,
        node_name=entry.nodeName or None,
        zone=entry.zone or None,
        # Absent ready/serving mean true, absent terminating means false (KP §2.1).
        ready=conditions is None or conditions.ready is not False,
        serving=conditions is None or conditions.serving is not False,
        terminating=conditions is not None and conditions.terminating is True,
        zone_hints=_hint_names(hints.forZones) if hints is not None else _NO_HINTS,
        node_hints=_hint_names(hints.forNodes) if hints is not None else _NO_HINTS,
        target=(target.name or None) if target is not None else None,
    )


def _hint_names(entries: list[Any] | None) -> frozenset[str]:
    return frozenset(entry.name for entry in entries) if entries else _NO_HINTS
