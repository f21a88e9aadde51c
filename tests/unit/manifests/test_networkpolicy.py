"""NetworkPolicy conversion: peers, ports, selectors, defaults, and the apiserver's checks."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.networkpolicy import convert_network_policy
from srcip.model.enums import Protocol
from srcip.model.netpol import (
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
)
from srcip.model.workloads import LabelRequirement, LabelSelector, SelectorOperator
from tests.unit.manifests.builders import as_document


def policy(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    """A NetworkPolicy manifest."""
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", **metadata},
    }
    if spec is not None:
        body["spec"] = spec
    return body


def converted(body: dict[str, Any]) -> NetworkPolicy:
    """Convert one NetworkPolicy document."""
    return convert_network_policy(as_document(body))


def error(body: dict[str, Any]) -> ManifestError:
    """The ManifestError converting ``body`` raises."""
    with pytest.raises(ManifestError) as caught:
        converted(body)
    return caught.value


def test_seed_allow_specific_clients() -> None:
    """The seeds' allow-specific-clients policy converts field for field."""
    body = policy(
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 8080}],
                }
            ],
        },
        name="allow-specific-clients",
    )
    assert converted(body) == NetworkPolicy(
        name="allow-specific-clients",
        pod_selector=LabelSelector(match_labels=(("app", "web"),)),
        ingress=(
            NetworkPolicyRule(
                peers=(NetworkPolicyPeer(ip_block=IPBlock(cidr=ip_network("203.0.113.0/24"))),),
                ports=(NetworkPolicyPort(protocol=Protocol.TCP, port=8080),),
            ),
        ),
        policy_types=("Ingress",),
    )


def test_selectors_except_and_ports_converted() -> None:
    """Selectors with expressions, except ranges, named ports, ranges, default protocol."""
    body = policy(
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "team", "operator": "In", "values": ["a", "b"]}
                                ]
                            },
                            "podSelector": {
                                "matchExpressions": [{"key": "debug", "operator": "DoesNotExist"}]
                            },
                        },
                    ],
                    "ports": [{"port": "http"}, {"protocol": "UDP", "port": 5000, "endPort": 5010}],
                },
                {},
            ],
        },
        namespace="shop",
    )
    result = converted(body)
    assert result.namespace == "shop"
    assert result.pod_selector == LabelSelector()
    first, second = result.ingress
    assert second == NetworkPolicyRule()
    assert first.peers == (
        NetworkPolicyPeer(
            ip_block=IPBlock(cidr=ip_network("10.0.0.0/8"), excepted=(ip_network("10.1.0.0/16"),))
        ),
        NetworkPolicyPeer(
            namespace_selector=LabelSelector(
                match_expressions=(
                    LabelRequirement(key="team", operator=SelectorOperator.IN, values=("a", "b")),
                )
            ),
            pod_selector=LabelSelector(
                match_expressions=(
                    LabelRequirement(key="debug", operator=SelectorOperator.DOES_NOT_EXIST),
                )
            ),
        ),
    )
    assert first.ports == (
        NetworkPolicyPort(protocol=Protocol.TCP, port="http"),
        NetworkPolicyPort(protocol=Protocol.UDP, port=5000, end_port=5010),
    )


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        pytest.param({"podSelector": {}}, ("Ingress",), id="default-ingress"),
        pytest.param(
            {"podSelector": {}, "egress": [{}]}, ("Ingress", "Egress"), id="egress-rules-add-egress"
        ),
        pytest.param({"podSelector": {}, "policyTypes": ["Egress"]}, ("Egress",), id="explicit"),
    ],
)
def test_policy_types_default(spec: dict[str, Any], types: tuple[str, ...]) -> None:
    """policyTypes defaults to Ingress, plus Egress when egress rules exist."""
    assert converted(policy(spec)).policy_types == types


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        pytest.param(
            {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]},
            "spec.ingress[0].from[0].ipBlock.cidr",
            "is not a CIDR",
            id="bad-cidr",
        ),
        pytest.param(
            {
                "podSelector": {},
                "ingress": [
                    {},
                    {
                        "from": [
                            {"podSelector": {}},
                            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}},
                        ]
                    },
                ],
            },
            "spec.ingress[1].from[1].ipBlock.except[0]",
            "strict subset",
            id="except-outside-cidr",
        ),
        pytest.param(
            {
                "podSelector": {},
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}
                ],
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "strict subset",
            id="except-equal-to-cidr",
        ),
        pytest.param(
            {
                "podSelector": {},
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/8"]}}]}
                ],
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "strict subset",
            id="except-other-family",
        ),
        pytest.param(
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}],
            },
            "spec.ingress[0].from[0]",
            "may not set ipBlock together",
            id="ipblock-with-selector",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"from": [{}]}]},
            "spec.ingress[0].from[0]",
            "must set ipBlock",
            id="empty-peer",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]},
            "spec.ingress[0].ports[0].port",
            "not a port number",
            id="port-zero",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"port": "HTTP_PORT"}]}]},
            "spec.ingress[0].ports[0].port",
            "valid port name",
            id="bad-port-name",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"protocol": "ICMP", "port": 1}]}]},
            "spec.ingress[0].ports[0].protocol",
            "not a valid value",
            id="bad-protocol",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
            "spec.ingress[0].ports[0].endPort",
            "needs a numeric port",
            id="end-port-with-name",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]},
            "spec.ingress[0].ports[0].endPort",
            "must not be below",
            id="end-port-below-port",
        ),
        pytest.param(
            {"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 70000}]}]},
            "spec.ingress[0].ports[0].endPort",
            "not a port number",
            id="end-port-out-of-range",
        ),
        pytest.param(
            {"podSelector": {}, "policyTypes": ["ingress"]},
            "spec.policyTypes[0]",
            "not a valid policy type",
            id="policy-type-case",
        ),
        pytest.param(
            {
                "podSelector": {
                    "matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]
                }
            },
            "spec.podSelector.matchExpressions[0].operator",
            "not a label selector operator",
            id="node-operator-in-label-selector",
        ),
        pytest.param(
            {
                "podSelector": {
                    "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["1"]}]
                }
            },
            "spec.podSelector.matchExpressions[0].values",
            "must be non-empty for In",
            id="exists-with-values",
        ),
        pytest.param(
            {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            "spec.podSelector.matchExpressions[0].values",
            "must be non-empty for In",
            id="in-without-values",
        ),
        pytest.param(
            {"podSelector": {"matchLabels": {"a": 1}}},
            "spec.podSelector.matchLabels",
            "",
            id="label-not-a-string",
        ),
    ],
)
def test_invalid_policies_name_the_field(spec: dict[str, Any], field: str, fragment: str) -> None:
    """Each apiserver check fails with the field path and a fix."""
    caught = error(policy(spec))
    assert caught.field is not None
    assert caught.field.startswith(field)
    assert fragment in caught.problem
    assert caught.fix


def test_missing_spec_is_an_error() -> None:
    """A NetworkPolicy needs a spec."""
    assert error(policy()).field == "spec"


def test_schema_errors_come_from_lightkube() -> None:
    """Wrong types are caught by the schema with the field path."""
    caught = error(policy({"podSelector": {}, "ingress": [{"from": "everyone"}]}))
    assert caught.field == "spec.ingress[0].from"


def test_absent_pod_selector_selects_every_pod() -> None:
    """podSelector is a non-pointer struct upstream: absent means empty, every pod."""
    assert converted(policy({"ingress": [{}]})).pod_selector == LabelSelector()
