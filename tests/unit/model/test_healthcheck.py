"""Health check node port and kube-proxy /healthz, /livez (KP §13, §14).

The sequences are ported from upstream ``pkg/proxy/healthcheck/healthcheck_test.go``
(``TestServer``, ``TestHealthzServer``, ``TestLivezServer`` and their helper
``testProxyHealthUpdater``); each table names the upstream test it comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http import HTTPStatus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.errors import UsageError
from srcip.model.enums import IPFamily
from srcip.model.healthcheck import (
    WEIGHT_HEADER,
    BodyLayout,
    HealthAnswer,
    ProxyHealthState,
    ServiceHealthTable,
    format_go_time,
    proxy_health_answers,
    service_health_answer,
)
from srcip.model.objects import Node
from tests.factories import node, service

OK = HTTPStatus.OK
UNAVAILABLE = HTTPStatus.SERVICE_UNAVAILABLE
V4 = IPFamily.IPV4
V6 = IPFamily.IPV6
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """The instant ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


# --------------------------------------------------------------------------- service answers


@pytest.mark.parametrize(
    ("count", "proxy_healthy", "status"),
    [
        pytest.param(0, True, UNAVAILABLE, id="no local endpoints"),
        pytest.param(1, True, OK, id="one local endpoint"),
        pytest.param(18, True, OK, id="many local endpoints"),
        pytest.param(7, False, UNAVAILABLE, id="proxy unhealthy, endpoints"),
        pytest.param(0, False, UNAVAILABLE, id="proxy unhealthy, no endpoints"),
    ],
)
def test_service_answer_status(count: int, proxy_healthy: bool, status: HTTPStatus) -> None:
    """200 iff local endpoints > 0 and the proxy is healthy (KP §13.3, §13.6)."""
    answer = service_health_answer(service("b", namespace="a"), count, proxy_healthy=proxy_healthy)
    assert answer.status is status
    assert answer.ok is (status is OK)
    assert answer.body["localEndpoints"] == count
    assert answer.body["serviceProxyHealthy"] is proxy_healthy


def test_service_answer_headers_in_order() -> None:
    """JSON content type, nosniff, then the endpoint weight (KP §13.3)."""
    answer = service_health_answer(service("b", namespace="a"), 3, proxy_healthy=True)
    assert answer.headers == (
        ("Content-Type", "application/json"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Load-Balancing-Endpoint-Weight", "3"),
    )
    assert answer.header("x-load-balancing-endpoint-weight") == "3"
    assert answer.header("Retry-After") is None


def test_service_answer_body_bytes_are_tab_indented() -> None:
    """The body is upstream's tab-indented JSON without a trailing newline (KP §13.3)."""
    answer = service_health_answer(service("web", namespace="shop"), 2, proxy_healthy=True)
    assert answer.layout is BodyLayout.INDENTED
    assert answer.body_bytes() == (
        b"{\n"
        b'\t"service": {\n'
        b'\t\t"namespace": "shop",\n'
        b'\t\t"name": "web"\n'
        b"\t},\n"
        b'\t"localEndpoints": 2,\n'
        b'\t"serviceProxyHealthy": true\n'
        b"}"
    )


def test_answer_body_is_read_only() -> None:
    """Answers are shared between nodes, so their bodies cannot be changed."""
    answer = service_health_answer(service("b", namespace="a"), 1, proxy_healthy=True)
    with pytest.raises(TypeError):
        answer.body["localEndpoints"] = 5
    with pytest.raises(TypeError):
        answer.body["service"]["name"] = "x"


def test_answer_to_json_is_plain_data() -> None:
    """``to_json`` gives status, headers and body as plain JSON-ready data."""
    answer = service_health_answer(service("b", namespace="a"), 0, proxy_healthy=False)
    data = answer.to_json()
    assert data == {
        "status": 503,
        "headers": {
            "Content-Type": "application/json",
            "X-Content-Type-Options": "nosniff",
            "X-Load-Balancing-Endpoint-Weight": "0",
        },
        "body": {
            "service": {"namespace": "a", "name": "b"},
            "localEndpoints": 0,
            "serviceProxyHealthy": False,
        },
    }
    assert json.loads(json.dumps(data)) == data


@given(count=st.integers(min_value=0, max_value=10_000), healthy=st.booleans())
def test_service_answer_weight_body_and_status_agree(count: int, healthy: bool) -> None:
    """Weight header = body localEndpoints; bytes parse back to the body; status rule holds."""
    answer = service_health_answer(service("b", namespace="a"), count, proxy_healthy=healthy)
    assert answer.header(WEIGHT_HEADER) == str(count)
    assert json.loads(answer.body_bytes()) == answer.to_json()["body"]
    assert answer.ok is (count > 0 and healthy)


# --------------------------------------------------------------------------- TestServer


@dataclass(frozen=True)
class Step:
    """One step of a service health server sequence and what it must lead to."""

    what: str
    services: dict[str, int] | None = None  # sync_services argument (None: not this step)
    endpoints: dict[str, int] | None = None  # sync_endpoints argument
    proxy_healthy: bool = True
    ports: dict[str, int] | None = None  # expected open listeners (None: not checked)
    answers: dict[str, tuple[HTTPStatus, int]] = field(default_factory=dict)


# Upstream TestServer: a Go nil map and an empty one behave the same, so both are {}.
TEST_SERVER = (
    Step("sync nothing", services={}, ports={}),
    Step("sync no endpoints", endpoints={}, ports={}),
    Step("sync unknown endpoints, should be dropped", endpoints={"a/b": 93}, ports={}),
    Step(
        "sync a real service",
        services={"a/b": 9376},
        ports={"a/b": 9376},
        answers={"a/b": (UNAVAILABLE, 0)},
    ),
    Step("sync an endpoint", endpoints={"a/b": 18}, answers={"a/b": (OK, 18)}),
    Step("sync zero endpoints", endpoints={"a/b": 0}, answers={"a/b": (UNAVAILABLE, 0)}),
    Step("put the endpoint back", endpoints={"a/b": 11}, answers={"a/b": (OK, 11)}),
    Step("sync nil endpoints", endpoints={}, answers={"a/b": (UNAVAILABLE, 0)}),
    Step("put the endpoint back again", endpoints={"a/b": 18}, answers={"a/b": (OK, 18)}),
    Step("delete the service", services={}, ports={}),
    Step(
        "sync multiple services",
        services={"a/b": 9376, "c/d": 12909, "e/f": 11113},
        ports={"a/b": 9376, "c/d": 12909, "e/f": 11113},
        answers={"a/b": (UNAVAILABLE, 0), "c/d": (UNAVAILABLE, 0), "e/f": (UNAVAILABLE, 0)},
    ),
    Step(
        "sync endpoints",
        endpoints={"a/b": 9, "c/d": 3, "e/f": 7},
        answers={"a/b": (OK, 9), "c/d": (OK, 3), "e/f": (OK, 7)},
    ),
    Step(
        "sync new services: remove a/b, leave c/d, change e/f's port, add g/h",
        services={"c/d": 12909, "e/f": 11114, "g/h": 11878},
        ports={"c/d": 12909, "e/f": 11114, "g/h": 11878},
        answers={"c/d": (OK, 3), "e/f": (UNAVAILABLE, 0), "g/h": (UNAVAILABLE, 0)},
    ),
    Step(
        "sync endpoints, a/b's count is dropped",
        endpoints={"a/b": 9, "c/d": 3, "e/f": 7, "g/h": 6},
        answers={"c/d": (OK, 3), "e/f": (OK, 7), "g/h": (OK, 6)},
    ),
    Step(
        "sync endpoints, missing c/d",
        endpoints={"e/f": 7, "g/h": 6},
        answers={"c/d": (UNAVAILABLE, 0), "e/f": (OK, 7), "g/h": (OK, 6)},
    ),
    Step(
        "fake a temporary unhealthy proxy",
        proxy_healthy=False,
        answers={"c/d": (UNAVAILABLE, 0), "e/f": (UNAVAILABLE, 7), "g/h": (UNAVAILABLE, 6)},
    ),
    Step(
        "fake a healthy proxy",
        answers={"c/d": (UNAVAILABLE, 0), "e/f": (OK, 7), "g/h": (OK, 6)},
    ),
)


def test_TestServer() -> None:
    """Upstream TestServer: ports open and close, counts reset and are dropped (KP §13.5)."""
    table = ServiceHealthTable()
    assert table.ports == {}
    for step in TEST_SERVER:
        if step.services is not None:
            table = table.sync_services(step.services)
        if step.endpoints is not None:
            table = table.sync_endpoints(step.endpoints)
        if step.ports is not None:
            assert table.ports == step.ports, step.what
        for key, (status, count) in step.answers.items():
            answer = table.answer(key, proxy_healthy=step.proxy_healthy)
            assert answer is not None, step.what
            assert answer.status is status, step.what
            assert answer.header(WEIGHT_HEADER) == str(count), step.what
            service_ref = {"namespace": key.split("/")[0], "name": key.split("/")[1]}
            assert answer.body == {
                "service": service_ref,
                "localEndpoints": count,
                "serviceProxyHealthy": step.proxy_healthy,
            }, step.what


def test_closed_health_check_has_no_answer() -> None:
    """A Service without an open listener answers nothing (upstream: closed healthcheck)."""
    table = ServiceHealthTable().sync_services({"a/b": 9376}).sync_services({})
    assert table.answer("a/b") is None


def test_table_transitions_leave_the_old_table_alone() -> None:
    """Each sync returns a new table; the previous one is unchanged."""
    before = ServiceHealthTable().sync_services({"a/b": 9376})
    after = before.sync_endpoints({"a/b": 4})
    assert before.counts == {"a/b": 0}
    assert after.counts == {"a/b": 4}


@pytest.mark.parametrize(
    ("services", "message"),
    [
        pytest.param({"ab": 9376}, "namespace/name", id="key without slash"),
        pytest.param({"/b": 9376}, "namespace/name", id="empty namespace"),
        pytest.param({"a/": 9376}, "namespace/name", id="empty name"),
        pytest.param({"a/b": 0}, "outside 1..65535", id="port zero"),
        pytest.param({"a/b": 65536}, "outside 1..65535", id="port too large"),
    ],
)
def test_table_rejects_bad_services(services: dict[str, int], message: str) -> None:
    """Keys must be namespace/name and ports fit in 16 bits (upstream uses uint16)."""
    with pytest.raises(ValueError, match=message):
        ServiceHealthTable().sync_services(services)


# --------------------------------------------------------------------------- proxy health


def test_fresh_proxy_is_healthy() -> None:
    """Healthy at startup, with no per-family status yet (KP §14.2)."""
    healthz, livez = proxy_health_answers(
        node("n1"), ProxyHealthState(), now=T0, timeout=10, families=None
    )
    assert healthz.status is OK
    assert livez.status is OK
    assert "status" not in healthz.body
    assert healthz.body["lastUpdated"] == healthz.body["currentTime"] == "2025-03-01T12:00:00Z"


@dataclass(frozen=True)
class ProxyStep:
    """Actions on the proxy state, then the expected answer (times in seconds after T0)."""

    what: str
    actions: tuple[str, ...]  # "updated IPv4", "queued IPv6", "step 25"
    status: HTTPStatus
    last_updated: float | None  # body lastUpdated; None means "now"
    families: dict[IPFamily, tuple[float, bool]]  # status map: lastUpdated, healthy


# Upstream testProxyHealthUpdater, run by TestHealthzServer and TestLivezServer with a
# 10 s timeout. The check after "updated IPv4" in step 14 is from the older version of the
# test (commit 02f8803), which asserted it; the newer one only asserts after both updates.
PROXY_HEALTH_UPDATER = (
    ProxyStep("200 by default", (), OK, None, {}),
    ProxyStep(
        "200 after first update for both proxiers",
        ("updated IPv4", "updated IPv6"),
        OK,
        None,
        {V4: (0, True), V6: (0, True)},
    ),
    ProxyStep(
        "200 while no further updates are queued",
        ("step 25",),
        OK,
        None,
        {V4: (0, True), V6: (0, True)},
    ),
    ProxyStep(
        "503 if the IPv4 proxier exceeds the max update-processing time",
        ("queued IPv4", "step 25"),
        UNAVAILABLE,
        0,
        {V4: (0, False), V6: (0, True)},
    ),
    ProxyStep(
        "200 after processing the update for both proxiers",
        ("updated IPv4", "updated IPv6", "step 5"),
        OK,
        None,
        {V4: (50, True), V6: (50, True)},
    ),
    ProxyStep(
        "503 if the IPv6 proxier exceeds the max update-processing time",
        ("queued IPv6", "step 25"),
        UNAVAILABLE,
        50,
        {V4: (50, True), V6: (50, False)},
    ),
    ProxyStep(
        "200 after processing the update for both proxiers (2)",
        ("updated IPv4", "updated IPv6", "step 5"),
        OK,
        None,
        {V4: (80, True), V6: (80, True)},
    ),
    ProxyStep(
        "503 if both proxiers exceed the max update-processing time",
        ("queued IPv4", "queued IPv6", "step 25"),
        UNAVAILABLE,
        80,
        {V4: (80, False), V6: (80, False)},
    ),
    ProxyStep(
        "200 after processing the update for both proxiers (3)",
        ("updated IPv4", "updated IPv6", "step 5"),
        OK,
        None,
        {V4: (110, True), V6: (110, True)},
    ),
    ProxyStep(
        "IPv6 late, IPv4 not",
        ("queued IPv6", "step 25"),
        UNAVAILABLE,
        110,
        {V4: (110, True), V6: (110, False)},
    ),
    ProxyStep(
        "updating the IPv4 proxier has no effect",
        ("updated IPv4",),
        UNAVAILABLE,
        140,
        {V4: (140, True), V6: (110, False)},
    ),
    ProxyStep(
        "updating the IPv6 proxier makes it healthy",
        ("updated IPv6",),
        OK,
        None,
        {V4: (140, True), V6: (140, True)},
    ),
    ProxyStep(
        "both late",
        ("queued IPv4", "queued IPv6", "step 25"),
        UNAVAILABLE,
        140,
        {V4: (140, False), V6: (140, False)},
    ),
    ProxyStep(
        "not 200 until both have updated",
        ("updated IPv4",),
        UNAVAILABLE,
        165,
        {V4: (165, True), V6: (140, False)},
    ),
    ProxyStep(
        "200 once both have updated",
        ("updated IPv6",),
        OK,
        None,
        {V4: (165, True), V6: (165, True)},
    ),
)


def apply(state: ProxyHealthState, clock: float, action: str) -> tuple[ProxyHealthState, float]:
    """Apply one textual action to the state and the fake clock."""
    verb, arg = action.split()
    if verb == "step":
        return state, clock + float(arg)
    family = IPFamily(arg)
    if verb == "queued":
        return state.queued(family, at(clock)), clock
    return state.updated(family, at(clock)), clock


def check_proxy_answer(answer: HealthAnswer, step: ProxyStep, clock: float) -> None:
    """The answer's status and body are those the step expects."""
    assert answer.status is step.status, step.what
    expected_last = at(clock) if step.last_updated is None else at(step.last_updated)
    assert answer.body["lastUpdated"] == format_go_time(expected_last), step.what
    assert answer.body["currentTime"] == format_go_time(at(clock)), step.what
    assert answer.body["healthy"] is (step.status is OK), step.what
    expected_status = {
        str(f): {"lastUpdated": format_go_time(at(t)), "healthy": h}
        for f, (t, h) in step.families.items()
    }
    assert answer.body.get("status", {}) == expected_status, step.what


@pytest.mark.parametrize("endpoint_name", ["healthz", "livez"])
def test_testProxyHealthUpdater(endpoint_name: str) -> None:
    """Upstream testProxyHealthUpdater, for /healthz and /livez on an eligible node (KP §14.2)."""
    state, clock = ProxyHealthState(), 0.0
    for step in PROXY_HEALTH_UPDATER:
        for action in step.actions:
            state, clock = apply(state, clock, action)
        healthz, livez = proxy_health_answers(node("test-node"), state, now=at(clock), timeout=10)
        answer = healthz if endpoint_name == "healthz" else livez
        check_proxy_answer(answer, step, clock)
        assert ("nodeEligible" in answer.body) is (endpoint_name == "healthz")


# Upstream TestHealthzServer / TestLivezServer, after testProxyHealthUpdater (proxy healthy).
# The last row is from the current proxy_health.go: no Node object means ineligible.
NODE_ELIGIBILITY = [
    pytest.param(node("test-node", taints=("other",)), OK, True, id="tainted in any other way"),
    pytest.param(
        node("test-node", taints=("ToBeDeletedByClusterAutoscaler",)),
        UNAVAILABLE,
        False,
        id="ToBeDeletedTaint node",
    ),
    pytest.param(node("test-node", deleting=True), UNAVAILABLE, False, id="deleted node"),
    pytest.param(None, UNAVAILABLE, False, id="no Node object"),
]


@pytest.mark.parametrize(("the_node", "status", "eligible"), NODE_ELIGIBILITY)
def test_TestHealthzServer(the_node: Node | None, status: HTTPStatus, eligible: bool) -> None:
    """/healthz needs an eligible node; body healthy stays the proxy's own (KP §14.3)."""
    state = ProxyHealthState.synced((V4, V6), at(165))
    healthz, _ = proxy_health_answers(the_node, state, now=at(165), timeout=10)
    assert healthz.status is status
    assert healthz.body["nodeEligible"] is eligible
    assert healthz.body["healthy"] is True
    assert healthz.body["lastUpdated"] == format_go_time(at(165))


@pytest.mark.parametrize(("the_node", "status", "eligible"), NODE_ELIGIBILITY)
def test_TestLivezServer(the_node: Node | None, status: HTTPStatus, eligible: bool) -> None:
    """/livez returns 200 irrespective of the node, with no nodeEligible field (KP §14.3)."""
    del status, eligible  # /livez ignores them
    _, livez = proxy_health_answers(the_node, ProxyHealthState(), now=T0, timeout=10)
    assert livez.status is OK
    assert "nodeEligible" not in livez.body


def test_ineligible_node_before_first_sync_reports_zero_time() -> None:
    """A 503 with no sync yet carries Go's zero time as lastUpdated (KP §14.4)."""
    healthz, _ = proxy_health_answers(None, ProxyHealthState(), now=T0, timeout=10)
    assert healthz.body["lastUpdated"] == "0001-01-01T00:00:00Z"


def test_healthz_body_bytes_are_compact_json() -> None:
    """/healthz writes Go's json.Marshal output: no spaces, fields in struct order."""
    state = ProxyHealthState.synced((V4, V6), T0)
    healthz, livez = proxy_health_answers(node("n"), state, now=at(1.5), timeout=10)
    assert healthz.body_bytes() == (
        b'{"lastUpdated":"2025-03-01T12:00:01.5Z","currentTime":"2025-03-01T12:00:01.5Z",'
        b'"nodeEligible":true,"healthy":true,"status":{'
        b'"IPv4":{"lastUpdated":"2025-03-01T12:00:00Z","healthy":true},'
        b'"IPv6":{"lastUpdated":"2025-03-01T12:00:00Z","healthy":true}}}'
    )
    assert livez.body_bytes().startswith(b'{"lastUpdated":"2025-03-01T12:00:01.5Z","curr')
    assert b"nodeEligible" not in livez.body_bytes()
    assert healthz.headers == (
        ("Content-Type", "application/json"),
        ("X-Content-Type-Options", "nosniff"),
    )


# --------------------------------------------------------------------------- ProxyHealthState


def test_second_queued_update_keeps_the_first_time() -> None:
    """Only the oldest pending update counts: later events don't restart the timer."""
    state = ProxyHealthState().updated(V4, T0).queued(V4, at(1)).queued(V4, at(9))
    assert state.oldest_queued == ((V4, at(1)),)
    assert not state.is_healthy(at(11), 10)


def test_timeout_is_inclusive() -> None:
    """Pending for exactly the timeout is already unhealthy (upstream: elapsed < timeout)."""
    state = ProxyHealthState().updated(V4, T0).queued(V4, at(5))
    assert state.is_healthy(at(14.999999), 10)
    assert not state.is_healthy(at(15), 10)


def test_queued_before_first_sync_never_unhealthy() -> None:
    """Upstream only judges families that synced once: a first sync that never comes is 200."""
    state = ProxyHealthState().queued(V4, T0)
    assert state.is_healthy(at(3600), 10)
    assert state.family_health(at(3600), 10) == {}


def test_sync_clears_pending_and_records_time() -> None:
    """A successful sync drops the family's pending update and records when (KP §14.2)."""
    state = ProxyHealthState().updated(V4, T0).queued(V4, at(1)).queued(V6, at(2))
    state = state.updated(V4, at(30))
    assert state.oldest_queued == ((V6, at(2)),)
    assert state.last_updated == ((V4, at(30)),)
    assert state.newest_update == at(30)
    assert state.is_healthy(at(100), 10)  # IPv6 never synced, so it is not judged


def test_idle_proxy_stays_healthy() -> None:
    """No queued update: healthy however long ago the last sync was (KP §14.2)."""
    state = ProxyHealthState.synced((V4,), T0)
    assert state.is_healthy(at(86_400 * 365), 60)


def test_families_restrict_the_status_map() -> None:
    """Only the proxiers that run are reported and judged."""
    state = ProxyHealthState().updated(V4, T0).updated(V6, T0).queued(V6, T0)
    healthz, _ = proxy_health_answers(node("n"), state, now=at(60), timeout=10, families=(V4,))
    assert healthz.status is OK
    assert set(healthz.body["status"]) == {"IPv4"}


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["queued", "updated"]), st.sampled_from([V4, V6])),
        max_size=12,
    )
)
def test_syncing_every_family_restores_health(events: list[tuple[str, IPFamily]]) -> None:
    """Whatever happened before, a sync of every family makes the proxy healthy."""
    state, clock = ProxyHealthState(), 0.0
    for verb, family in events:
        state, clock = apply(state, clock + 7, f"{verb} {family}")
    state = state.updated(V4, at(clock)).updated(V6, at(clock))
    assert state.oldest_queued == ()
    assert state.is_healthy(at(clock + 1000), 10)


# --------------------------------------------------------------------------- time format


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        pytest.param(T0, "2025-03-01T12:00:00Z", id="UTC whole second"),
        pytest.param(
            T0.replace(microsecond=120000), "2025-03-01T12:00:00.12Z", id="trailing zeros trimmed"
        ),
        pytest.param(
            T0.replace(microsecond=1), "2025-03-01T12:00:00.000001Z", id="one microsecond"
        ),
        pytest.param(
            T0.astimezone(timezone(timedelta(hours=2))),
            "2025-03-01T14:00:00+02:00",
            id="east of UTC",
        ),
        pytest.param(
            T0.astimezone(timezone(-timedelta(hours=5, minutes=30))),
            "2025-03-01T06:30:00-05:30",
            id="west of UTC with minutes",
        ),
        pytest.param(
            T0.replace(tzinfo=timezone(timedelta(0), "GMT")), "2025-03-01T12:00:00Z", id="GMT"
        ),
        pytest.param(None, "0001-01-01T00:00:00Z", id="zero time"),
    ],
)
def test_format_go_time(moment: datetime | None, text: str) -> None:
    """Times are written like Go's RFC 3339 JSON encoding (KP §14.4)."""
    assert format_go_time(moment) == text


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda t: format_go_time(t), id="format"),
        pytest.param(lambda t: ProxyHealthState().queued(V4, t), id="queued"),
        pytest.param(lambda t: ProxyHealthState().updated(V4, t), id="updated"),
        pytest.param(lambda t: ProxyHealthState.synced((V4,), t), id="synced"),
        pytest.param(lambda t: ProxyHealthState().is_healthy(t, 10), id="is_healthy"),
        pytest.param(
            lambda t: proxy_health_answers(None, ProxyHealthState(), now=t, timeout=1), id="answers"
        ),
    ],
)
def test_naive_times_are_rejected(call: object) -> None:
    """A datetime without UTC offset is refused, not guessed."""
    assert callable(call)
    with pytest.raises(UsageError, match="no UTC offset"):
        call(datetime(2025, 1, 1))
