"""The lab report's side-by-side line and event text, and run's policy switch."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from srcip.lab.experiments import Observation, RequestResult, Visibility
from srcip.lab.report import event_text, side_by_side
from srcip.lab.run import LabRun, with_policy
from srcip.manifests import load_cluster
from srcip.model.enums import TrafficPolicy
from srcip.model.timeline import parse_event

CLIENT = ip_address("203.0.113.7")


def _seen(policy: str, *peers: tuple[str, str | None]) -> Visibility:
    return Visibility(
        observations=tuple(
            Observation(
                policy=policy,
                client=CLIENT,
                result=RequestResult.OK,
                pod_peer=ip_address(peer),
                peer_kind=kind,
            )
            for peer, kind in peers
        ),
        outcomes=(),
    )


def _run(*by_policy: tuple[str, Visibility]) -> LabRun:
    return LabRun(
        scenario="s", service="default/echo", policy="Local", load_balancer="passthrough",
        seed=1, time_scale=1.0, root=True, addresses=(),
        node_addresses=((ip_address("10.0.1.2"), "node-1"), (ip_address("10.0.1.3"), "node-2")),
        by_policy=by_policy,
    )  # fmt: skip


def test_side_by_side_names_node_snat_and_the_client() -> None:
    """Cluster's most common peer kind is the nodes' SNAT; Local's peer is the client."""
    cluster = _seen(
        "Cluster", ("10.0.1.3", None), ("10.0.1.2", None), ("10.244.1.1", "pod-gateway")
    )
    local = _seen("Local", ("203.0.113.7", "unknown"))
    assert side_by_side(_run(("Local", local), ("Cluster", cluster))) == (
        "Cluster: pod saw 10.0.1.2, 10.0.1.3 (node SNAT) — Local: pod saw 203.0.113.7"
    )


def test_side_by_side_needs_two_policies_and_says_when_nothing_was_served() -> None:
    """One policy: no line; a policy without a served request says so."""
    assert side_by_side(_run(("Local", _seen("Local", ("203.0.113.7", None))))) is None
    line = side_by_side(_run(("Local", _seen("Local")), ("Cluster", _seen("Cluster"))))
    assert line == "Cluster: no request was served — Local: no request was served"


@pytest.mark.parametrize(
    "text", ["delete pod/echo-0 at 5s", "scale deployment/web to 2 at 10s", "drain node/n at 0.5s"]
)
def test_event_text_round_trips_through_the_parser(text: str) -> None:
    """event_text writes what parse_event reads."""
    assert event_text(parse_event(text)) == text


def test_with_policy_flips_one_service_and_allocates_a_health_check_port() -> None:
    """Only the named Service changes; Local keeps (or gets) a healthCheckNodePort."""
    cluster = load_cluster(["examples/echo/echo.yaml", "examples/echo/scenario.yaml"])
    flipped = with_policy(cluster, "default/echo", TrafficPolicy.CLUSTER)
    echo = next(s for s in flipped.services if s.key == "default/echo")
    assert echo.external_traffic_policy is TrafficPolicy.CLUSTER
    assert echo.health_check_node_port
    assert len(flipped.services) == len(cluster.services)
