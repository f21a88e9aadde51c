"""Node documents → :class:`srcip.model.objects.Node`.

kube-proxy needs a node's addresses (which destinations are "local", its primary IP, KP §3.4),
its pod CIDRs (the ``NodeCIDR`` local-traffic detector), its zone label (topology hints,
KP §12.2), and whether it is going away (``deletionTimestamp`` or the autoscaler's taint,
KP §14.3). ``status.addresses`` also lists DNS names; entries that are not IP addresses are
skipped, except that ``InternalIP``/``ExternalIP`` must be one. Placement also reads
``spec.unschedulable``, ``spec.providerID`` and ``status.allocatable`` cpu and memory.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from lightkube.resources.core_v1 import Node as LkNode

from srcip.manifests.documents import Document
from srcip.manifests.fields import (
    lightkube_object,
    object_name,
    parse_cidr,
    parse_ip,
    string_pairs,
)
from srcip.manifests.workload import parse_quantity
from srcip.model.objects import IPNetwork, Node, NodeAddress, Taint

__all__ = ["convert_node"]

_IP_ADDRESS_TYPES = frozenset({"InternalIP", "ExternalIP"})


def convert_node(doc: Document) -> Node:
    """Convert one ``v1 Node``."""
    obj = lightkube_object(doc, LkNode)
    spec, status = obj.spec, obj.status
    return Node(
        name=object_name(doc, obj.metadata),
        addresses=_addresses(doc, status.addresses if status is not None else None),
        pod_cidrs=_pod_cidrs(doc, spec),
        labels=string_pairs(doc, obj.metadata.labels, "metadata.labels"),
        taints=tuple(
            Taint(key=taint.key, value=taint.value or "", effect=taint.effect)
            for taint in (spec.taints if spec is not None else None) or ()
        ),
        deleting=obj.metadata.deletionTimestamp is not None,
        provider_id=(spec.providerID if spec is not None else None) or None,
        unschedulable=bool(spec is not None and spec.unschedulable),
        allocatable_cpu_millis=_allocatable(doc, status, "cpu", 1000),
        allocatable_memory_bytes=_allocatable(doc, status, "memory", 1),
    )


def _allocatable(doc: Document, status: Any, resource: str, scale: int) -> int:
    """``status.allocatable[resource]`` rounded down (cpu in millis, memory in bytes); 0: unknown.

    kube-scheduler compares requests with allocatable; a node whose status does not say is
    taken as unlimited (:mod:`srcip.model.scheduler`).
    """
    allocatable: dict[str, object] = (status.allocatable if status is not None else None) or {}
    value = allocatable.get(resource)
    if value is None:
        return 0
    quantity = parse_quantity(value)
    if quantity is None or quantity < 0:
        raise doc.error(
            "is not a resource quantity",
            field=f"status.allocatable.{resource}",
            value=value,
            fix="write a quantity such as 4, 3500m, 16Gi or 16374420Ki",
        )
    return int(quantity * scale)


def _addresses(doc: Document, entries: list[Any] | None) -> tuple[NodeAddress, ...]:
    addresses: list[NodeAddress] = []
    for index, entry in enumerate(entries or ()):
        if entry.type in _IP_ADDRESS_TYPES:
            address = parse_ip(doc, entry.address, f"status.addresses[{index}].address")
        else:
            try:
                address = ip_address(entry.address)
            except ValueError:
                continue  # a Hostname or DNS name: not an address kube-proxy can match
        addresses.append(NodeAddress(type=entry.type, address=address))
    return tuple(addresses)


def _pod_cidrs(doc: Document, spec: Any) -> tuple[IPNetwork, ...]:
    if spec is None:
        return ()
    if spec.podCIDRs:
        texts: list[str] = spec.podCIDRs
        fields = [f"spec.podCIDRs[{index}]" for index in range(len(texts))]
    else:
        texts = [spec.podCIDR] if spec.podCIDR else []
        fields = ["spec.podCIDR"]
    return tuple(parse_cidr(doc, text, field) for text, field in zip(texts, fields, strict=False))
