"""The experiments' bookkeeping: judging observations, parsing replies, pod events."""

from __future__ import annotations

import json
from fractions import Fraction
from ipaddress import ip_address

import pytest

from srcip.errors import UsageError
from srcip.lab.endpoints import EndpointsController, PodChange, with_pod_change
from srcip.lab.experiments import Observation, RequestResult, _parse, is_allowed
from srcip.lab.run import Experiment, parse_experiments
from srcip.manifests import load_cluster
from srcip.model.trace import Outcome

CLIENT = ip_address("203.0.113.7")
NODE_IP = ip_address("10.0.1.3")


def outcome(**fields: object) -> Outcome:
    base: dict[str, object] = {
        "probability": Fraction(1, 2), "client": "client-1", "node": "node-1", "pod": "web-0",
        "delivered": True, "dropped_at": None, "refused_at": None, "pod_peer": CLIENT,
        "app_client_ip": CLIENT, "resolution": None, "hops": (),
    }  # fmt: skip
    base.update(fields)
    return Outcome(**base)  # type: ignore[arg-type]


def seen(result: RequestResult = RequestResult.OK, **fields: object) -> Observation:
    base: dict[str, object] = {
        "policy": "Local", "client": CLIENT, "result": result, "pod": "web-0",
        "pod_peer": CLIENT, "app_client_ip": CLIENT,
    }  # fmt: skip
    base.update(fields)
    return Observation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observation", "outcomes", "allowed"),
    [
        pytest.param(seen(), (outcome(),), True, id="match"),
        pytest.param(seen(pod="web-1"), (outcome(),), False, id="other-pod"),
        pytest.param(seen(pod_peer=NODE_IP), (outcome(),), False, id="other-peer"),
        pytest.param(seen(app_client_ip=NODE_IP), (outcome(),), False, id="other-app-client"),
        pytest.param(seen(), (outcome(probability=Fraction(0)),), False, id="probability-0"),
        pytest.param(seen(), (outcome(delivered=False, dropped_at="x"),), False, id="model-drops"),
        pytest.param(
            seen(RequestResult.TIMEOUT),
            (outcome(delivered=False, dropped_at="x"),),
            True,
            id="timeout-vs-drop",
        ),
        pytest.param(seen(RequestResult.TIMEOUT), (outcome(),), False, id="timeout-unexpected"),
        pytest.param(
            seen(RequestResult.REFUSED),
            (outcome(delivered=False, refused_at="x"),),
            True,
            id="refused-vs-refused",
        ),
        pytest.param(
            seen(RequestResult.REFUSED),
            (outcome(delivered=False, dropped_at="x"),),
            False,
            id="refused-vs-drop",
        ),
        pytest.param(seen(RequestResult.ERROR), (outcome(),), False, id="error-never"),
    ],
)
def test_observations_are_judged_against_the_outcomes(
    observation: Observation, outcomes: tuple[Outcome, ...], allowed: bool
) -> None:
    """An observation is allowed iff an outcome of positive probability matches it."""
    assert is_allowed(observation, outcomes) is allowed


def _answer(status: int, body: bytes) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    ("answer", "result"),
    [
        pytest.param(_answer(200, json.dumps({"peer": {}}).encode()), RequestResult.OK, id="ok"),
        pytest.param(b"", RequestResult.REFUSED, id="closed-silently"),
        pytest.param(_answer(400, b"bad"), RequestResult.REFUSED, id="error-status"),
        pytest.param(_answer(200, b"not json"), RequestResult.ERROR, id="not-json"),
        pytest.param(b"garbage\r\n\r\n", RequestResult.REFUSED, id="no-status"),
    ],
)
def test_replies_are_classified(answer: bytes, result: RequestResult) -> None:
    """200 with JSON is ok; an error status or an empty close is refused."""
    assert _parse(answer).result is result


def test_experiments_parse_in_order_without_duplicates() -> None:
    """The --experiment list keeps the given order."""
    assert parse_experiments("share, visibility,share") == (
        Experiment.SHARE,
        Experiment.VISIBILITY,
    )


@pytest.mark.parametrize(
    "text", [pytest.param("failver", id="unknown"), pytest.param(",", id="empty")]
)
def test_unknown_experiments_are_bad_input(text: str) -> None:
    """An unknown experiment names the ones that exist."""
    with pytest.raises(UsageError, match="visibility, share"):
        parse_experiments(text)


ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


def _endpoints(cluster: object, name: str) -> list[object]:
    return [ep for s in cluster.endpoint_slices for ep in s.endpoints if ep.target == name]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "ready", "serving", "terminating"),
    [
        pytest.param(PodChange.TERMINATING, False, True, True, id="terminating-still-serving"),
        pytest.param(PodChange.UNREADY, False, False, False, id="unready"),
        pytest.param(PodChange.READY, True, True, False, id="ready"),
    ],
)
def test_pod_changes_set_endpoint_conditions(
    change: PodChange, ready: bool, serving: bool, terminating: bool
) -> None:
    """Endpoint conditions follow the EndpointSlice controller."""
    cluster = load_cluster(ECHO, default_scenario=True)
    changed = with_pod_change(cluster, "echo-0", change)
    (ep,) = _endpoints(changed, "echo-0")
    assert (ep.ready, ep.serving, ep.terminating) == (ready, serving, terminating)  # type: ignore[attr-defined]
    assert _endpoints(changed, "echo-1") == _endpoints(cluster, "echo-1")


def test_a_gone_pod_leaves_slices_and_pods() -> None:
    """After its grace period the pod and its endpoint are gone."""
    cluster = load_cluster(ECHO, default_scenario=True)
    changed = with_pod_change(cluster, "default/echo-0", PodChange.GONE)
    assert _endpoints(changed, "echo-0") == []
    assert [p.name for p in changed.pods] == ["echo-1"]


def test_an_unknown_pod_is_bad_input() -> None:
    """Changing a pod the scenario lacks names the pods it has."""
    cluster = load_cluster(ECHO, default_scenario=True)
    with pytest.raises(UsageError, match="echo-0, echo-1"):
        with_pod_change(cluster, "web-9", PodChange.UNREADY)


def test_the_controller_swaps_the_index() -> None:
    """change_now rebuilds the index the data paths read: the node loses its endpoint."""
    cluster = load_cluster(ECHO, default_scenario=True)
    controller = EndpointsController(cluster)
    before = controller.index()
    service = cluster.services[0]
    assert before.local_ready_counts(service).get("node-1") == 1
    controller.change_now("echo-0", PodChange.UNREADY)
    assert controller.index() is not before
    assert controller.index().local_ready_counts(service).get("node-1") is None
    assert controller.version == 1
