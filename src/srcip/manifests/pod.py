"""Pod documents → :class:`srcip.model.objects.Pod`.

Kept for placement and the doctor: where a pod runs, its IPs, labels, phase, readiness (the
``Ready`` condition), host networking, and whether it is terminating (``deletionTimestamp``).
Containers and everything else in the spec are left out.
"""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Pod as LkPod

from srcip.manifests.documents import Document
from srcip.manifests.fields import (
    lightkube_object,
    object_name,
    object_namespace,
    parse_ip,
    string_pairs,
)
from srcip.model.objects import IPAddress, Pod

__all__ = ["convert_pod"]


def convert_pod(doc: Document) -> Pod:
    """Convert one ``v1 Pod``."""
    obj = lightkube_object(doc, LkPod)
    metadata, spec, status = obj.metadata, obj.spec, obj.status
    conditions: list[Any] = (status.conditions if status is not None else None) or []
    return Pod(
        namespace=object_namespace(metadata),
        name=object_name(doc, metadata),
        node_name=(spec.nodeName if spec is not None else None) or None,
        ips=_pod_ips(doc, status),
        labels=string_pairs(doc, metadata.labels, "metadata.labels"),
        phase=(status.phase if status is not None else None) or None,
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        host_network=bool(spec is not None and spec.hostNetwork),
        terminating=metadata.deletionTimestamp is not None,
    )


def _pod_ips(doc: Document, status: Any) -> tuple[IPAddress, ...]:
    if status is None:
        return ()
    if status.podIPs:
        return tuple(
            parse_ip(doc, entry.ip, f"status.podIPs[{index}].ip")
            for index, entry in enumerate(status.podIPs)
        )
    return (parse_ip(doc, status.podIP, "status.podIP"),) if status.podIP else ()
