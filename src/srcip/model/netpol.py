"""NetworkPolicy ingress rules, evaluated against the source address a pod really sees.

Only ingress is modelled: a policy selects pods (``podSelector``) in its namespace and, when
``Ingress`` is among its ``policyTypes``, admits a connection when any rule's peers and
ports match. Peers are ``ipBlock`` (``cidr`` minus ``except``), ``podSelector`` and
``namespaceSelector``. A pod selected by no ingress policy admits everything.

:func:`ingress_decision` follows the API reference of ``networking.k8s.io/v1``
(``NetworkPolicySpec``, ``NetworkPolicyPeer``, ``NetworkPolicyPort``) and the concepts page
"Network Policies" (kubernetes/website ``concepts/services-networking/network-policies.md``):

* policies are additive: a pod selected by at least one policy with ``Ingress`` in its
  ``policyTypes`` is isolated, and a connection is admitted iff some rule of some selecting
  policy admits it; the order of policies and rules never matters;
* a rule admits when its ``from`` matches (empty: every source) AND its ``ports`` match
  (empty: every port);
* ``ipBlock``: the source is in ``cidr`` and in no ``except`` range (an address of the other
  family is in neither);
* ``podSelector`` alone selects pods in the policy's namespace; ``namespaceSelector`` alone
  every pod in the matching namespaces; both together, the pods matching ``podSelector`` in
  the matching namespaces. They can only match a connection whose source is a known pod
  (``source_pod``); the address a pod sees after SNAT (a node, a load balancer) is no pod.
  Host-network pods are not matched by selectors: the API leaves that undefined and the
  common CNIs (Calico, Cilium) treat such traffic as coming from the host;
* ``ports[]``: the protocol must match; no ``port`` means every port of that protocol;
  ``endPort`` makes a range; a named port matches only where the pod's containers declare a
  port of that name (``container_ports``), so without them a named port matches nothing.

What the pod "sees" is the point: the source here is the address after every hop and
kube-proxy SNAT, which is what the CNI enforces the policy against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from srcip.model.enums import Protocol
from srcip.model.objects import IPAddress, IPNetwork, Pod
from srcip.model.workloads import LabelSelector

__all__ = [
    "IPBlock",
    "NetworkPolicy",
    "NetworkPolicyPeer",
    "NetworkPolicyPort",
    "NetworkPolicyRule",
    "PolicyDecision",
    "ingress_decision",
]

_NO_LABELS: Mapping[str, str] = {}


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


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyDecision:
    """Whether a pod admits one connection, and which policy decided.

    ``policies`` are the keys of the policies that select the pod for ingress (empty: the
    pod is not isolated); ``matched`` names the admitting rule (``ns/name ingress[i]``).
    """

    allowed: bool
    policies: tuple[str, ...] = ()
    matched: str | None = None
    reason: str


def ingress_decision(
    policies: Sequence[NetworkPolicy],
    pod: Pod,
    *,
    source: IPAddress,
    port: int,
    protocol: Protocol = Protocol.TCP,
    source_pod: Pod | None = None,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    container_ports: Mapping[str, int] | None = None,
) -> PolicyDecision:
    """Whether ``pod`` admits a connection from ``source`` to its ``port``/``protocol``.

    ``source_pod`` is the pod that owns ``source`` when there is one (selectors can only
    match it); ``namespace_labels`` maps namespace names to their labels (a namespace not
    listed has none); ``container_ports`` maps the pod's named container ports to numbers.
    """
    labels = dict(pod.labels)
    selecting = tuple(
        p
        for p in policies
        if "Ingress" in p.policy_types
        and p.namespace == pod.namespace
        and p.pod_selector.matches(labels)
    )
    keys = tuple(p.key for p in selecting)
    if not selecting:
        return PolicyDecision(
            allowed=True, reason="no NetworkPolicy selects the pod for ingress: not isolated"
        )
    context = _Context(
        source=source,
        port=port,
        protocol=protocol,
        source_pod=source_pod,
        namespace_labels=namespace_labels or {},
        container_ports=container_ports or {},
    )
    for policy in selecting:
        for index, rule in enumerate(policy.ingress):
            if _rule_admits(policy, rule, context):
                return PolicyDecision(
                    allowed=True,
                    policies=keys,
                    matched=f"{policy.key} ingress[{index}]",
                    reason=f"admitted by {policy.key} ingress[{index}]",
                )
    return PolicyDecision(
        allowed=False,
        policies=keys,
        reason=f"no ingress rule admits {source} to {protocol} port {port}",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    source: IPAddress
    port: int
    protocol: Protocol
    source_pod: Pod | None
    namespace_labels: Mapping[str, Mapping[str, str]]
    container_ports: Mapping[str, int]


def _rule_admits(policy: NetworkPolicy, rule: NetworkPolicyRule, ctx: _Context) -> bool:
    """Peers AND ports; an empty list of either matches everything."""
    peers_match = not rule.peers or any(_peer_matches(policy, p, ctx) for p in rule.peers)
    return peers_match and (not rule.ports or any(_port_matches(p, ctx) for p in rule.ports))


def _peer_matches(policy: NetworkPolicy, peer: NetworkPolicyPeer, ctx: _Context) -> bool:
    if peer.ip_block is not None:
        return _in_block(peer.ip_block, ctx.source)
    source_pod = ctx.source_pod
    if peer.pod_selector is None and peer.namespace_selector is None:
        return False  # the API refuses an empty peer; it selects nothing
    if source_pod is None or source_pod.host_network:
        return False
    if peer.namespace_selector is None:
        namespace_ok = source_pod.namespace == policy.namespace
    else:
        ns_labels = ctx.namespace_labels.get(source_pod.namespace, _NO_LABELS)
        namespace_ok = peer.namespace_selector.matches(ns_labels)
    pod_ok = peer.pod_selector is None or peer.pod_selector.matches(dict(source_pod.labels))
    return namespace_ok and pod_ok


def _in_block(block: IPBlock, address: IPAddress) -> bool:
    # An address of the other family is in no network (ipaddress compares versions first).
    return address in block.cidr and not any(address in net for net in block.excepted)


def _port_matches(entry: NetworkPolicyPort, ctx: _Context) -> bool:
    if entry.protocol is not ctx.protocol:
        return False
    if entry.port is None:
        return True
    if isinstance(entry.port, str):
        return ctx.container_ports.get(entry.port) == ctx.port
    end = entry.end_port if entry.end_port is not None else entry.port
    return entry.port <= ctx.port <= end
