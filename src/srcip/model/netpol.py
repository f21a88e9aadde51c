"""NetworkPolicy ingress rules, evaluated against the source address a pod really sees.

Only ingress is modelled: a policy selects pods (``podSelector``) in its namespace and, when
``Ingress`` is among its ``policyTypes``, admits a connection when any rule's peers and
ports match. Peers are ``ipBlock`` (``cidr`` minus ``except``), ``podSelector`` and
``namespaceSelector``. A pod selected by no ingress policy admits everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srcip.model.enums import Protocol
from srcip.model.objects import IPNetwork
from srcip.model.workloads import LabelSelector

__all__ = [
    "IPBlock",
    "NetworkPolicy",
    "NetworkPolicyPeer",
    "NetworkPolicyPort",
    "NetworkPolicyRule",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class IPBlock:
    """``ipBlock``: ``cidr`` except the ``except`` ranges."""

    cidr: IPNetwork
    excepted: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyPeer:
    """One ``from[]`` entry: an ipBlock, or pod and/or namespace selectors."""

    ip_block: IPBlock | None = None
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyPort:
    """One ``ports[]`` entry; ``port`` may be a number or a named container port."""

    protocol: Protocol = Protocol.TCP
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyRule:
    """One ``ingress[]`` rule. Empty ``peers`` admit every source; empty ``ports`` every port."""

    peers: tuple[NetworkPolicyPeer, ...] = ()
    ports: tuple[NetworkPolicyPort, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicy:
    """A ``networking.k8s.io/v1`` NetworkPolicy, ingress side."""

    namespace: str = "default"
    name: str
    pod_selector: LabelSelector = field(default_factory=LabelSelector)
    ingress: tuple[NetworkPolicyRule, ...] = ()
    policy_types: tuple[str, ...] = ("Ingress",)

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"
