"""A Service's ClusterIPs and IP families (``clusterIP(s)``, ``ipFamilies``, ``ipFamilyPolicy``).

``clusterIP: None`` makes a Service headless, which kube-proxy ignores (KP §1.1). Otherwise
the given addresses are checked as the apiserver checks them: at most one per family,
``spec.clusterIP`` equal to ``spec.clusterIPs[0]``, families in the order ``ipFamilies``
lists them, and ``SingleStack`` with one family only. Addresses the manifest omits are
allocated later (:mod:`srcip.manifests.allocate`), which is why the families travel along.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from srcip.manifests.documents import Document
from srcip.manifests.fields import parse_enum, parse_ip
from srcip.model.enums import IPFamily, ServiceType
from srcip.model.objects import IPAddress, family_of

__all__ = ["IPFamilyPolicy", "read_cluster_ips", "read_ip_families"]


class IPFamilyPolicy(StrEnum):
    """``spec.ipFamilyPolicy``."""

    SINGLE_STACK = "SingleStack"
    PREFER_DUAL_STACK = "PreferDualStack"
    REQUIRE_DUAL_STACK = "RequireDualStack"


def read_cluster_ips(
    doc: Document, spec: Any, type_: ServiceType
) -> tuple[bool, tuple[IPAddress, ...]]:
    """(headless, ClusterIPs); ``clusterIP: None`` means headless (KP §1.1)."""
    texts: list[str] = list(spec.clusterIPs or ())
    single: str | None = spec.clusterIP or None
    if single is not None and texts and texts[0] != single:
        raise doc.error(
            f"differs from spec.clusterIPs[0] ({texts[0]})",
            field="spec.clusterIP",
            value=single,
            fix="make spec.clusterIP equal to spec.clusterIPs[0], or drop one of them",
        )
    names = [f"spec.clusterIPs[{index}]" for index in range(len(texts))] or ["spec.clusterIP"]
    texts = texts or ([single] if single is not None else [])
    if texts[:1] == ["None"]:
        _check_headless(doc, texts, type_)
        return True, ()
    if len(texts) > 2:
        raise doc.error(
            "lists more than two addresses",
            field="spec.clusterIPs",
            value=texts,
            fix="give at most one address per IP family",
        )
    ips = tuple(parse_ip(doc, text, name) for text, name in zip(texts, names, strict=False))
    if len(ips) == 2 and ips[0].version == ips[1].version:
        raise doc.error(
            "holds two addresses of the same IP family",
            field="spec.clusterIPs",
            value=texts,
            fix="give one IPv4 and one IPv6 address, or only one address",
        )
    return False, ips


def _check_headless(doc: Document, texts: list[str], type_: ServiceType) -> None:
    if len(texts) > 1:
        raise doc.error(
            "must hold only 'None' for a headless Service",
            field="spec.clusterIPs",
            value=texts,
            fix="write clusterIPs: [None], or list addresses without 'None'",
        )
    if type_ is not ServiceType.CLUSTER_IP:
        raise doc.error(
            f"cannot be 'None' (headless) when type is {type_}",
            field="spec.clusterIP",
            value="None",
            fix="remove clusterIP: None, or set type: ClusterIP",
        )


def read_ip_families(
    doc: Document, spec: Any, ips: tuple[IPAddress, ...]
) -> tuple[tuple[IPFamily, ...], IPFamilyPolicy | None]:
    """``spec.ipFamilies`` and ``spec.ipFamilyPolicy``, consistent with the ClusterIPs."""
    policy = None
    if spec.ipFamilyPolicy is not None:
        policy = parse_enum(doc, IPFamilyPolicy, spec.ipFamilyPolicy, "spec.ipFamilyPolicy")
    families = tuple(
        parse_enum(doc, IPFamily, text, f"spec.ipFamilies[{index}]")
        for index, text in enumerate(spec.ipFamilies or ())
    )
    if len(set(families)) != len(families) or (families and len(ips) > len(families)):
        raise doc.error(
            "must list each IP family once, one per ClusterIP",
            field="spec.ipFamilies",
            value=[str(family) for family in families],
            fix="list IPv4, IPv6 or both, in the order of spec.clusterIPs",
        )
    for index, (address, family) in enumerate(zip(ips, families, strict=False)):
        if family_of(address) is not family:
            raise doc.error(
                f"is not an {family} address, as spec.ipFamilies[{index}] says",
                field=f"spec.clusterIPs[{index}]",
                value=str(address),
                fix="order spec.ipFamilies like spec.clusterIPs",
            )
    if policy is IPFamilyPolicy.SINGLE_STACK and max(len(ips), len(families)) == 2:
        raise doc.error(
            "allows one IP family, but two are given",
            field="spec.ipFamilyPolicy",
            value=str(policy),
            fix="use PreferDualStack or RequireDualStack, or keep one family",
        )
    return families, policy
