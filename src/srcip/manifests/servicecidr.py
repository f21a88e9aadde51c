"""ServiceCIDR documents → :class:`srcip.model.objects.ServiceCIDR`.

The ranges ClusterIPs are allocated from (``networking.k8s.io/v1``, GA in 1.33; the
``v1beta1`` form has the same fields and is read the same way).
"""

from __future__ import annotations

from lightkube.resources.networking_v1 import ServiceCIDR as LkServiceCIDR

from srcip.manifests.documents import Document
from srcip.manifests.fields import lightkube_object, object_name, parse_cidr
from srcip.model.objects import ServiceCIDR

__all__ = ["convert_service_cidr"]


def convert_service_cidr(doc: Document) -> ServiceCIDR:
    """Convert one ServiceCIDR."""
    obj = lightkube_object(doc, LkServiceCIDR)
    texts: list[str] = (obj.spec.cidrs if obj.spec is not None else None) or []
    return ServiceCIDR(
        name=object_name(doc, obj.metadata),
        cidrs=tuple(
            parse_cidr(doc, text, f"spec.cidrs[{index}]") for index, text in enumerate(texts)
        ),
    )
