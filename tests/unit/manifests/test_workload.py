"""Workload conversion: every template field the scheduler and failover read, and bad values."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from srcip.errors import ManifestError
from srcip.manifests.node import convert_node
from srcip.manifests.workload import convert_workload, parse_quantity
from srcip.model.workloads import (
    LabelRequirement,
    LabelSelector,
    NodeSelectorTerm,
    PodAffinityTerm,
    PodTemplate,
    ReadinessProbe,
    SelectorOperator,
    Toleration,
    TopologySpreadConstraint,
    UnsatisfiableAction,
    WeightedNodeSelectorTerm,
    WeightedPodAffinityTerm,
    Workload,
    WorkloadKind,
)
from tests.unit.manifests.builders import as_document, convert

TEMPLATE = "spec.template.spec"


def workload(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    """An apps/v1 workload selecting app=web, with one container ``web``."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }
    body["spec"].update(spec)
    return body


def with_pod_spec(**fields: Any) -> dict[str, Any]:
    """A Deployment whose pod spec has ``fields`` added."""
    body = workload()
    body["spec"]["template"]["spec"].update(fields)
    return body


def with_container(**fields: Any) -> dict[str, Any]:
    """A Deployment whose container has ``fields`` added."""
    body = workload()
    body["spec"]["template"]["spec"]["containers"][0].update(fields)
    return body


def converted(body: dict[str, Any]) -> Workload:
    """Convert one workload document."""
    return convert_workload(as_document(body))


def error(body: dict[str, Any]) -> ManifestError:
    """The ManifestError converting ``body`` raises."""
    with pytest.raises(ManifestError) as caught:
        converted(body)
    return caught.value


SELECTOR = {"matchLabels": {"app": "web"}}

FULL_POD_SPEC: dict[str, Any] = {
    "nodeSelector": {"pool": "edge"},
    "hostNetwork": True,
    "terminationGracePeriodSeconds": 60,
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoSchedule"},
        {"operator": "Exists"},
    ],
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": SELECTOR,
            "minDomains": 3,
            "matchLabelKeys": ["pod-template-hash"],
            "nodeAffinityPolicy": "Ignore",
            "nodeTaintsPolicy": "Honor",
        },
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
        },
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["arm64"]}]},
                    {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]},
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 20,
                    "preference": {
                        "matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}]
                    },
                }
            ],
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}
            ],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 10,
                    "podAffinityTerm": {
                        "labelSelector": {
                            "matchExpressions": [
                                {"key": "tier", "operator": "NotIn", "values": ["batch"]}
                            ]
                        },
                        "topologyKey": "kubernetes.io/hostname",
                        "namespaces": ["data"],
                    },
                }
            ],
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": SELECTOR, "topologyKey": "kubernetes.io/hostname"}
            ],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone"},
                }
            ],
        },
    },
    "initContainers": [
        {
            "name": "istio-proxy",
            "restartPolicy": "Always",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        },
        {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
    ],
    "containers": [
        {
            "name": "web",
            "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9090}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}},
            "readinessProbe": {
                "initialDelaySeconds": 5,
                "periodSeconds": 2,
                "failureThreshold": 1,
                "successThreshold": 2,
            },
        },
        {"name": "log", "resources": {"requests": {"cpu": 0.5, "memory": "1G"}}},
    ],
}


def test_every_field_is_read() -> None:
    """A workload with every modelled field converts into the matching Workload."""
    body = workload(replicas=4)
    body["spec"]["template"]["metadata"]["annotations"] = {"team": "a"}
    body["spec"]["template"]["spec"] = copy.deepcopy(FULL_POD_SPEC)
    web = LabelSelector(match_labels=(("app", "web"),))
    expected_template = PodTemplate(
        labels=(("app", "web"),),
        node_selector=(("pool", "edge"),),
        required_node_affinity=(
            NodeSelectorTerm(
                match_expressions=(
                    LabelRequirement(key="arch", operator=SelectorOperator.IN, values=("arm64",)),
                )
            ),
            NodeSelectorTerm(
                match_expressions=(
                    LabelRequirement(key="cores", operator=SelectorOperator.GT, values=("4",)),
                )
            ),
        ),
        preferred_node_affinity=(
            WeightedNodeSelectorTerm(
                weight=20,
                term=NodeSelectorTerm(
                    match_expressions=(
                        LabelRequirement(key="spot", operator=SelectorOperator.DOES_NOT_EXIST),
                    )
                ),
            ),
        ),
        tolerations=(
            Toleration(key="dedicated", operator="Equal", value="edge", effect="NoSchedule"),
            Toleration(operator="Exists"),
        ),
        topology_spread_constraints=(
            TopologySpreadConstraint(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable=UnsatisfiableAction.DO_NOT_SCHEDULE,
                label_selector=web,
                min_domains=3,
                match_label_keys=("pod-template-hash",),
                node_affinity_policy="Ignore",
                node_taints_policy="Honor",
            ),
            TopologySpreadConstraint(
                max_skew=2,
                topology_key="kubernetes.io/hostname",
                when_unsatisfiable=UnsatisfiableAction.SCHEDULE_ANYWAY,
            ),
        ),
        required_pod_affinity=(
            PodAffinityTerm(
                label_selector=LabelSelector(match_labels=(("app", "cache"),)), topology_key="zone"
            ),
        ),
        preferred_pod_affinity=(
            WeightedPodAffinityTerm(
                weight=10,
                term=PodAffinityTerm(
                    label_selector=LabelSelector(
                        match_expressions=(
                            LabelRequirement(
                                key="tier", operator=SelectorOperator.NOT_IN, values=("batch",)
                            ),
                        )
                    ),
                    topology_key="kubernetes.io/hostname",
                    namespaces=("data",),
                ),
            ),
        ),
        required_pod_anti_affinity=(
            PodAffinityTerm(label_selector=web, topology_key="kubernetes.io/hostname"),
        ),
        preferred_pod_anti_affinity=(
            WeightedPodAffinityTerm(
                weight=100, term=PodAffinityTerm(topology_key="topology.kubernetes.io/zone")
            ),
        ),
        # containers 250m + 500m + sidecar 100m = 850m < migrate: sidecar 100m + 2000m
        cpu_request_millis=2100,
        memory_request_bytes=256 * 2**20 + 10**9 + 128 * 2**20,
        container_ports=(("http", 8080), ("", 9090)),
        container_names=("web", "log", "istio-proxy"),
        annotations=(("team", "a"),),
        host_network=True,
        termination_grace_period_seconds=60,
        pre_stop_sleep_seconds=15.0,
        readiness=ReadinessProbe(
            initial_delay_seconds=5.0, period_seconds=2.0, failure_threshold=1, success_threshold=2
        ),
    )
    assert converted(body) == Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace="shop",
        name="web",
        replicas=4,
        selector=web,
        template=expected_template,
    )


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet"])
def test_every_kind_defaults_to_one_replica(kind: str) -> None:
    """replicas absent means 1 (the API default); the kind is kept; defaults fill the rest."""
    result = converted(workload(kind))
    assert (result.kind, result.replicas) == (WorkloadKind(kind), 1)
    assert result.template == PodTemplate(labels=(("app", "web"),), container_names=("web",))


def test_namespace_defaults_and_selector_expressions_are_read() -> None:
    """No namespace means default; matchExpressions count in the selector."""
    body = workload(
        selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]}, replicas=0
    )
    del body["metadata"]["namespace"]
    result = converted(body)
    assert (result.namespace, result.replicas) == ("default", 0)
    assert result.selector == LabelSelector(
        match_expressions=(LabelRequirement(key="app", operator=SelectorOperator.EXISTS),)
    )


@pytest.mark.parametrize(
    ("pre_stop", "seconds"),
    [
        pytest.param({"sleep": {"seconds": 7}}, 7.0, id="sleep-action"),
        pytest.param({"exec": {"command": ["/bin/sleep", "3"]}}, 3.0, id="exec-sleep"),
        pytest.param({"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}, 5.0, id="sh-c"),
        pytest.param(
            {"exec": {"command": ["bash", "-c", "sleep 2.5 && nginx -s quit"]}}, 2.5, id="chain"
        ),
        pytest.param({"exec": {"command": ["sh", "-c", "nginx -s quit"]}}, 0.0, id="no-sleep"),
        pytest.param({"exec": {"command": ["nginx", "-s", "quit", "now"]}}, 0.0, id="other"),
        pytest.param({"exec": {"command": ["sleep", "soon"]}}, 0.0, id="not-a-number"),
        pytest.param({"exec": {}}, 0.0, id="no-command"),
        pytest.param({"httpGet": {"port": 80}}, 0.0, id="http-hook"),
    ],
)
def test_pre_stop_sleep_forms(pre_stop: dict[str, Any], seconds: float) -> None:
    """The sleep action, exec'd sleep and a shell's leading sleep all count; others do not."""
    body = with_container(lifecycle={"preStop": pre_stop})
    assert converted(body).template.pre_stop_sleep_seconds == seconds


def test_lifecycle_without_pre_stop_and_default_probe() -> None:
    """A postStart-only lifecycle sleeps 0; an empty readinessProbe takes the API defaults."""
    body = with_container(lifecycle={"postStart": {"exec": {"command": ["true"]}}})
    body["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {}
    template = converted(body).template
    assert template.pre_stop_sleep_seconds == 0.0
    assert template.readiness == ReadinessProbe()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("100m", Decimal("0.1"), id="milli"),
        pytest.param("1", Decimal(1), id="integer-text"),
        pytest.param(2, Decimal(2), id="integer"),
        pytest.param(0.5, Decimal("0.5"), id="float"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param("128Mi", Decimal(128 * 2**20), id="binary"),
        pytest.param("1G", Decimal(10**9), id="decimal-si"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("2E-3", Decimal("0.002"), id="negative-exponent"),
        pytest.param("500u", Decimal("0.0005"), id="micro"),
        pytest.param("1.5Gi", Decimal("1.5") * 2**30, id="fraction-binary"),
        pytest.param("12 ", Decimal(12), id="trailing-space"),
        pytest.param("ten", None, id="word"),
        pytest.param("1Gb", None, id="bad-suffix"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_quantity(text: object, value: Decimal | None) -> None:
    """resource.Quantity forms parse to their exact value; anything else is None."""
    assert parse_quantity(text) == value


def test_quantities_round_up() -> None:
    """cpu rounds up to whole millicores and memory to whole bytes (MilliValue, Value)."""
    body = with_container(resources={"requests": {"cpu": "100u", "memory": "0.5"}})
    template = converted(body).template
    assert (template.cpu_request_millis, template.memory_request_bytes) == (1, 1)


def test_resources_without_requests_count_zero() -> None:
    """Limits alone request nothing here (the apiserver's defaulting is not modelled)."""
    body = with_container(resources={"limits": {"cpu": "1"}})
    assert converted(body).template.cpu_request_millis == 0


def selector_expression(key: str, operator: str, values: list[str] | None = None) -> dict[str, Any]:
    """A Deployment whose selector and template carry one expression on ``key``."""
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if values is not None:
        expression["values"] = values
    return workload(selector={"matchLabels": {"app": "web"}, "matchExpressions": [expression]})


def node_affinity(operator: str, values: list[str] | None) -> dict[str, Any]:
    """A Deployment with one required node affinity expression."""
    expression: dict[str, Any] = {"key": "k", "operator": operator}
    if values is not None:
        expression["values"] = values
    return with_pod_spec(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [expression]}]
                }
            }
        }
    )


def spread(**fields: Any) -> dict[str, Any]:
    """A Deployment with one topology spread constraint (fields override the defaults)."""
    constraint = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
    constraint.update(fields)
    return with_pod_spec(topologySpreadConstraints=[constraint])


def toleration(**fields: Any) -> dict[str, Any]:
    """A Deployment with one toleration."""
    return with_pod_spec(tolerations=[fields])


SPREAD = f"{TEMPLATE}.topologySpreadConstraints[0]"
NODE_TERM = (
    f"{TEMPLATE}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    ".nodeSelectorTerms[0].matchExpressions[0]"
)
ANTI = f"{TEMPLATE}.affinity.podAntiAffinity"


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        pytest.param(workload(replicas=-1), "spec.replicas", -1, id="negative-replicas"),
        pytest.param(
            workload(selector={"matchLabels": {"app": "api"}}),
            "spec.selector",
            {"app": "api"},
            id="selector-misses-template",
        ),
        pytest.param(workload(selector={}), "spec.selector", None, id="empty-selector"),
        pytest.param(
            selector_expression("app", "Gt", ["1"]),
            "spec.selector.matchExpressions[0].operator",
            "Gt",
            id="gt-in-label-selector",
        ),
        pytest.param(
            selector_expression("app", "In", []),
            "spec.selector.matchExpressions[0].values",
            [],
            id="in-without-values",
        ),
        pytest.param(
            selector_expression("app", "Exists", ["x"]),
            "spec.selector.matchExpressions[0].values",
            ["x"],
            id="exists-with-values",
        ),
        pytest.param(
            selector_expression("app", "Like", ["x"]),
            "spec.selector.matchExpressions[0].operator",
            "Like",
            id="unknown-operator",
        ),
        pytest.param(node_affinity("Lt", ["x"]), f"{NODE_TERM}.values", ["x"], id="lt-not-int"),
        pytest.param(node_affinity("Gt", None), f"{NODE_TERM}.values", [], id="gt-no-values"),
        pytest.param(spread(maxSkew=0), f"{SPREAD}.maxSkew", 0, id="max-skew-zero"),
        pytest.param(spread(topologyKey=""), f"{SPREAD}.topologyKey", None, id="empty-key"),
        pytest.param(
            spread(whenUnsatisfiable="Never"),
            f"{SPREAD}.whenUnsatisfiable",
            "Never",
            id="bad-action",
        ),
        pytest.param(spread(minDomains=0), f"{SPREAD}.minDomains", 0, id="min-domains-zero"),
        pytest.param(
            spread(minDomains=2, whenUnsatisfiable="ScheduleAnyway"),
            f"{SPREAD}.minDomains",
            2,
            id="min-domains-schedule-anyway",
        ),
        pytest.param(
            spread(nodeTaintsPolicy="Always"),
            f"{SPREAD}.nodeTaintsPolicy",
            "Always",
            id="bad-policy",
        ),
        pytest.param(
            toleration(key="k", operator="Is"),
            f"{TEMPLATE}.tolerations[0].operator",
            "Is",
            id="toleration-operator",
        ),
        pytest.param(
            toleration(key="k", operator="Exists", value="v"),
            f"{TEMPLATE}.tolerations[0].value",
            "v",
            id="exists-with-value",
        ),
        pytest.param(
            toleration(value="v"),
            f"{TEMPLATE}.tolerations[0].operator",
            "Equal",
            id="empty-key-equal",
        ),
        pytest.param(
            toleration(key="k", effect="NoWay"),
            f"{TEMPLATE}.tolerations[0].effect",
            "NoWay",
            id="bad-effect",
        ),
        pytest.param(
            with_pod_spec(
                affinity={
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 101, "podAffinityTerm": {"topologyKey": "zone"}}
                        ]
                    }
                }
            ),
            f"{ANTI}.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            101,
            id="weight-out-of-range",
        ),
        pytest.param(
            with_pod_spec(
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": ""}]
                    }
                }
            ),
            f"{ANTI}.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
            None,
            id="term-without-key",
        ),
        pytest.param(
            with_container(resources={"requests": {"cpu": "lots"}}),
            f"{TEMPLATE}.containers[0].resources.requests.cpu",
            "lots",
            id="bad-cpu",
        ),
        pytest.param(
            with_container(resources={"requests": {"memory": "-1Gi"}}),
            f"{TEMPLATE}.containers[0].resources.requests.memory",
            "-1Gi",
            id="negative-memory",
        ),
        pytest.param(
            with_pod_spec(
                initContainers=[{"name": "init", "resources": {"requests": {"cpu": "x"}}}]
            ),
            f"{TEMPLATE}.initContainers[0].resources.requests.cpu",
            "x",
            id="bad-init-cpu",
        ),
        pytest.param(
            with_container(ports=[{"containerPort": 70000}]),
            f"{TEMPLATE}.containers[0].ports[0].containerPort",
            70000,
            id="port-out-of-range",
        ),
        pytest.param(
            with_pod_spec(terminationGracePeriodSeconds=-5),
            f"{TEMPLATE}.terminationGracePeriodSeconds",
            -5,
            id="negative-grace",
        ),
    ],
)
def test_bad_values_name_the_field(body: dict[str, Any], field: str, value: object) -> None:
    """Values the apiserver would refuse fail with the field path, the value and a fix."""
    caught = error(body)
    assert (caught.field, caught.value) == (field, value)
    assert caught.fix
    assert "Deployment shop/web" in str(caught)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
            "spec",
            id="no-spec",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": "web"},
                "spec": {"selector": SELECTOR},
            },
            "spec.template",
            id="no-template",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"selector": SELECTOR, "template": {"metadata": {}}},
            },
            TEMPLATE,
            id="no-pod-spec",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "web"},
                "spec": {},
            },
            "spec.selector",
            id="schema-required",
        ),
    ],
)
def test_missing_parts_are_required(body: dict[str, Any], field: str) -> None:
    """A workload without spec, template or pod spec is refused, naming what is missing."""
    caught = error(body)
    assert (caught.field, caught.problem) == (field, "is required")


def test_template_without_labels_fails_the_selector() -> None:
    """A template without metadata cannot match the selector."""
    body = workload()
    del body["spec"]["template"]["metadata"]
    assert error(body).field == "spec.selector"


def test_workloads_are_collected_and_placed_by_convert() -> None:
    """convert_documents keeps Deployments and places their replicas on the input's nodes."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    cluster = convert(workload(replicas=2), node)
    assert [w.key for w in cluster.workloads] == ["shop/web"]
    assert [(p.name, p.node_name) for p in cluster.pods] == [
        ("web-0", "node-1"),
        ("web-1", "node-1"),
    ]


# --------------------------------------------------------------------------- Node allocatable


def node_with_allocatable(**allocatable: object) -> dict[str, Any]:
    """A Node whose status.allocatable holds ``allocatable``."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "status": {"allocatable": allocatable},
    }


def test_node_allocatable_is_read_in_millis_and_bytes() -> None:
    """status.allocatable cpu and memory become millicores and bytes (placement's fit filter)."""
    node = convert_node(as_document(node_with_allocatable(cpu="3500m", memory="16374420Ki")))
    assert (node.allocatable_cpu_millis, node.allocatable_memory_bytes) == (3500, 16374420 * 1024)


def test_node_allocatable_absent_is_unknown() -> None:
    """A Node without status (or without a resource) has 0: unknown."""
    body = node_with_allocatable(cpu=4)
    assert convert_node(as_document(body)).allocatable_memory_bytes == 0
    del body["status"]
    assert convert_node(as_document(body)).allocatable_cpu_millis == 0


def test_node_allocatable_must_be_a_quantity() -> None:
    """A bad allocatable value names the field."""
    with pytest.raises(ManifestError) as caught:
        convert_node(as_document(node_with_allocatable(cpu="four")))
    assert (caught.value.field, caught.value.value) == ("status.allocatable.cpu", "four")
