"""NetworkPolicy documents → :class:`srcip.model.netpol.NetworkPolicy`.

The schema check is lightkube's ``networking_v1`` model; on top, the checks of upstream
``ValidateNetworkPolicy`` (``pkg/apis/networking/validation/validation.go``) that concern
what srcip evaluates: CIDRs parse and every ``except`` lies strictly inside its ``cidr``,
a peer sets ``ipBlock`` or selectors but not both and not neither, ports are 1-65535 or an
IANA service name, ``endPort`` needs a numeric ``port`` not above it, protocols are TCP,
UDP or SCTP, ``policyTypes`` are ``Ingress``/``Egress``, selector operators are valid.

Defaults as the apiserver applies them: protocol TCP; ``policyTypes`` absent means
``Ingress``, plus ``Egress`` when the policy has egress rules. Egress rules themselves are
not modelled.
"""

from __future__ import annotations

import re
from typing import Any

from lightkube.resources.networking_v1 import NetworkPolicy as LkNetworkPolicy

from srcip.manifests.documents import Document
from srcip.manifests.fields import (
    check_port,
    lightkube_object,
    object_name,
    object_namespace,
    parse_cidr,
    parse_enum,
    string_pairs,
)
from srcip.model.enums import Protocol
from srcip.model.netpol import (
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
)
from srcip.model.workloads import LabelRequirement, LabelSelector, SelectorOperator

__all__ = ["convert_network_policy"]

# IsValidPortName: 1-15 lower-case alphanumerics or '-', at least one letter, no '--',
# not starting or ending with '-'.
_PORT_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
_POLICY_TYPES = ("Ingress", "Egress")
_LABEL_OPERATORS = (
    SelectorOperator.IN,
    SelectorOperator.NOT_IN,
    SelectorOperator.EXISTS,
    SelectorOperator.DOES_NOT_EXIST,
)


def convert_network_policy(doc: Document) -> NetworkPolicy:
    """Convert and validate one ``networking.k8s.io/v1`` NetworkPolicy (ingress side)."""
    obj = lightkube_object(doc, LkNetworkPolicy)
    spec = obj.spec
    if spec is None:
        raise doc.error("is required", field="spec", fix="give the NetworkPolicy a spec")
    ingress = tuple(
        _rule(doc, rule, f"spec.ingress[{index}]") for index, rule in enumerate(spec.ingress or ())
    )
    return NetworkPolicy(
        namespace=object_namespace(obj.metadata),
        name=object_name(doc, obj.metadata),
        pod_selector=_selector(doc, spec.podSelector, "spec.podSelector"),
        ingress=ingress,
        policy_types=_policy_types(doc, spec),
    )


def _policy_types(doc: Document, spec: Any) -> tuple[str, ...]:
    if not spec.policyTypes:
        return ("Ingress", "Egress") if spec.egress else ("Ingress",)
    for index, value in enumerate(spec.policyTypes):
        if value not in _POLICY_TYPES:
            raise doc.error(
                "is not a valid policy type",
                field=f"spec.policyTypes[{index}]",
                value=value,
                fix="use Ingress or Egress (case-sensitive)",
            )
    return tuple(spec.policyTypes)


def _rule(doc: Document, rule: Any, path: str) -> NetworkPolicyRule:
    peers = tuple(
        _peer(doc, peer, f"{path}.from[{index}]") for index, peer in enumerate(rule.from_ or ())
    )
    ports = tuple(
        _port(doc, port, f"{path}.ports[{index}]") for index, port in enumerate(rule.ports or ())
    )
    return NetworkPolicyRule(peers=peers, ports=ports)


def _peer(doc: Document, peer: Any, path: str) -> NetworkPolicyPeer:
    selectors = peer.podSelector is not None or peer.namespaceSelector is not None
    if peer.ipBlock is not None and selectors:
        raise doc.error(
            "may not set ipBlock together with podSelector or namespaceSelector",
            field=path,
            fix="split it into two from[] entries",
        )
    if peer.ipBlock is None and not selectors:
        raise doc.error(
            "must set ipBlock, podSelector or namespaceSelector",
            field=path,
            fix="name the sources, or drop from: to admit every source",
        )
    if peer.ipBlock is not None:
        return NetworkPolicyPeer(ip_block=_ip_block(doc, peer.ipBlock, f"{path}.ipBlock"))
    return NetworkPolicyPeer(
        pod_selector=_optional_selector(doc, peer.podSelector, f"{path}.podSelector"),
        namespace_selector=_optional_selector(
            doc, peer.namespaceSelector, f"{path}.namespaceSelector"
        ),
    )


def _ip_block(doc: Document, block: Any, path: str) -> IPBlock:
    cidr = parse_cidr(doc, block.cidr, f"{path}.cidr")
    excepted = []
    for index, text in enumerate(block.except_ or ()):
        field = f"{path}.except[{index}]"
        net = parse_cidr(doc, text, field)
        if net.version != cidr.version or not net.subnet_of(cidr) or net == cidr:  # type: ignore[arg-type]
            raise doc.error(
                f"must be a strict subset of cidr {cidr}",
                field=field,
                value=text,
                fix=f"use a range inside {cidr}, or remove it",
            )
        excepted.append(net)
    return IPBlock(cidr=cidr, excepted=tuple(excepted))


def _port(doc: Document, entry: Any, path: str) -> NetworkPolicyPort:
    protocol = parse_enum(doc, Protocol, entry.protocol, f"{path}.protocol", Protocol.TCP)
    port: int | str | None = entry.port
    if isinstance(port, int):
        check_port(doc, port, f"{path}.port")
    elif isinstance(port, str) and not _PORT_NAME.match(port):
        raise doc.error(
            "is not a port number or a valid port name",
            field=f"{path}.port",
            value=port,
            fix="use a number or a container port name (at most 15 lower-case letters,"
            " digits and '-')",
        )
    end_port: int | None = entry.endPort
    if end_port is not None:
        if not isinstance(port, int):
            raise doc.error(
                "needs a numeric port",
                field=f"{path}.endPort",
                value=end_port,
                fix="set port to the first number of the range",
            )
        check_port(doc, end_port, f"{path}.endPort")
        if end_port < port:
            raise doc.error(
                f"must not be below port {port}",
                field=f"{path}.endPort",
                value=end_port,
                fix="swap port and endPort",
            )
    return NetworkPolicyPort(protocol=protocol, port=port, end_port=end_port)


def _optional_selector(doc: Document, selector: Any, path: str) -> LabelSelector | None:
    return None if selector is None else _selector(doc, selector, path)


def _selector(doc: Document, selector: Any, path: str) -> LabelSelector:
    if selector is None:
        return LabelSelector()
    requirements = []
    for index, expr in enumerate(selector.matchExpressions or ()):
        field = f"{path}.matchExpressions[{index}]"
        operator = parse_enum(doc, SelectorOperator, expr.operator, f"{field}.operator")
        if operator not in _LABEL_OPERATORS:
            raise doc.error(
                "is not a label selector operator",
                field=f"{field}.operator",
                value=expr.operator,
                fix="use In, NotIn, Exists or DoesNotExist",
            )
        values = tuple(expr.values or ())
        needs_values = operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if needs_values != bool(values):
            raise doc.error(
                "must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
                field=f"{field}.values",
                value=list(values),
                fix="give values only with In or NotIn",
            )
        requirements.append(LabelRequirement(key=expr.key, operator=operator, values=values))
    return LabelSelector(
        match_labels=string_pairs(doc, selector.matchLabels, f"{path}.matchLabels"),
        match_expressions=tuple(requirements),
    )
