"""srcip trace, share and timeline, run in-process: JSON keys, text, plots, exit codes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from srcip.cli.main import cli

EXAMPLES = Path(__file__).parents[3] / "examples"
ECHO = ["-f", str(EXAMPLES / "echo" / "echo.yaml"), "-f", str(EXAMPLES / "echo" / "scenario.yaml")]
UNEVEN = ["-f", str(EXAMPLES / "uneven-placement" / "uneven.yaml")]
COMPARISON = ["-f", str(EXAMPLES / "policy-comparison" / "services.yaml")]
FAILOVER = [
    "-f",
    str(EXAMPLES / "user-scenarios" / "21-local-failover-slow-health-check" / "manifests.yaml"),
    "-f",
    str(EXAMPLES / "user-scenarios" / "21-local-failover-slow-health-check" / "scenario.yaml"),
]


def run(*args: str) -> Result:
    """Invoke srcip with ``args``."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_json(*args: str) -> Any:
    """Invoke srcip with ``-o json`` and parse stdout."""
    result = run(*args, "-o", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_trace_json_has_the_documented_keys() -> None:
    """trace -o json: outcomes[] with probability, node, pod, delivered, ... hops[]."""
    data = run_json("trace", *ECHO)
    assert data["scenario"] == "seed-echo"
    outcomes = data["outcomes"]
    keys = {"probability", "node", "pod", "delivered", "dropped_at", "pod_peer",
            "app_client_ip", "verdict", "hops"}  # fmt: skip
    assert all(keys <= set(o) for o in outcomes)
    assert sum(o["probability"] for o in outcomes) == pytest.approx(1)
    assert {o["pod_peer"] for o in outcomes} == {"203.0.113.7"}
    assert [h["name"] for h in outcomes[0]["hops"]][:2] == [
        "load balancer",
        f"kube-proxy on {outcomes[0]['node']}",
    ]
    (service,) = data["services"]
    assert service["load_balancer"]["mode"] == "passthrough"
    assert service["load_balancer"]["health_check"]["interval_seconds"] == 3
    assert {h["healthy"] for h in service["health"]} == {True, False}


def test_trace_text_shows_health_outcomes_and_hops() -> None:
    """The text report: LB line, a health table, the outcomes, per-hop tables."""
    result = run("trace", *ECHO)
    assert result.exit_code == 0, result.output
    assert "Service default/echo (externalTrafficPolicy: Local)" in result.output
    assert "client IP preserved" in result.output
    assert "kube-proxy on node-" in result.output
    assert "unhealthy" in result.output


def test_trace_verbose_lists_settings_and_notes() -> None:
    """-v adds every effective LB setting with its source, and the loader's notes."""
    result = CliRunner().invoke(cli, ["trace", *ECHO, "-v"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "healthCheck.intervalSeconds = 3" in result.output
    assert "spec.loadBalancer.healthCheck.intervalSeconds" in result.output
    assert "allocated" in result.output  # loader notes (stderr is mixed in)


def test_trace_client_filter_and_a_new_client() -> None:
    """--client narrows to one client, or traces an address the Scenario does not list."""
    data = run_json("trace", *ECHO, "--client", "192.0.2.99")
    assert {o["client"] for o in data["outcomes"]} == {"192.0.2.99"}


def test_trace_of_a_dropping_policy_marks_every_outcome() -> None:
    """The NetworkPolicy trap: under Cluster every outcome is dropped at the policy."""
    data = run_json("trace", *COMPARISON, "--service", "default/web-cluster-policy")
    assert data["outcomes"]
    assert all("allow-specific-clients" in o["dropped_at"] for o in data["outcomes"])
    assert all(o["pod_peer"] != "203.0.113.7" for o in data["outcomes"])


@pytest.mark.parametrize(
    ("args", "text"),
    [
        pytest.param(["--client", "not-an-ip"], "--client 'not-an-ip' is not an IP", id="client"),
        pytest.param(
            ["--service", "default/nope"], "Service default/nope is not in the input", id="service"
        ),
    ],
)
def test_trace_bad_input_exits_2(args: list[str], text: str) -> None:
    """Bad options: a one-paragraph error naming the value and the fix, exit code 2."""
    result = run("trace", *ECHO, *args)
    assert result.exit_code == 2
    assert text in result.output
    assert "Fix:" in result.output
    assert "Traceback" not in result.output


def test_share_json_has_the_documented_keys() -> None:
    """share -o json: services[].{name, policy, nodes[].{name, share}, pods[].{name, node, share}}."""
    data = run_json("share", *UNEVEN, "--compare-policies")
    (service,) = data["services"]
    assert service["name"] == "default/web-service"
    assert service["policy"] == "Local"
    assert [n["share"] for n in service["nodes"]] == pytest.approx([1 / 3] * 3)
    assert sorted({p["exact"] for p in service["pods"]}) == ["1/15", "1/6", "1/9"]
    assert service["fairness"]["max_over_min"] == pytest.approx(2.5)
    (compared,) = data["compared"]
    assert compared["policy"] == "Cluster"
    assert {p["exact"] for p in compared["pods"]} == {"1/10"}


def test_share_text_and_plot(tmp_path: Path) -> None:
    """share prints bars for nodes and pods; --plot writes a PNG."""
    plot = tmp_path / "share.png"
    result = run("share", *UNEVEN, "--compare-policies", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert "externalTrafficPolicy Local" in result.output
    assert "(what-if)" in result.output
    assert "█" in result.output
    assert f"plot written to {plot}" in result.output
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_plot_to_an_unwritable_path_exits_2(tmp_path: Path) -> None:
    """A plot path that cannot be written is a usage error, not a traceback."""
    target = tmp_path / "missing-dir" / "share.png"
    result = run("share", *UNEVEN, "--plot", str(target), "-o", "json")
    assert result.exit_code == 2
    assert "cannot write it" in result.output


def test_timeline_json_has_the_documented_keys(tmp_path: Path) -> None:
    """timeline -o json: windows[].{start, end, lb_nodes, outcome}, failure windows; --plot."""
    plot = tmp_path / "timeline.png"
    data = run_json("timeline", *FAILOVER, "--plot", str(plot))
    windows = data["windows"]
    assert windows[0]["start"] == 0
    assert all({"start", "end", "lb_nodes", "outcome"} <= set(w) for w in windows)
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(windows))
    assert data["failure_window"] > 0
    low, high = data["failure_window_bounds"]
    assert low <= data["failure_window"] <= high
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_timeline_text_with_an_extra_event() -> None:
    """The text report lists the windows and the failure window; --event adds events."""
    result = run("timeline", *ECHO, "--event", "delete pod/echo-0 at 5s")
    assert result.exit_code == 0, result.output
    assert "Failover timeline of Service default/echo" in result.output
    assert "failure window:" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        pytest.param([], "no failover event", id="no-event"),
        pytest.param(["--event", "remove pod/echo-0 at 5s"], "Write it like", id="bad-event"),
    ],
)
def test_timeline_bad_input_exits_2(args: list[str], text: str) -> None:
    """No event, or an event that does not parse: exit code 2 with an example."""
    result = run("timeline", *ECHO, *args)
    assert result.exit_code == 2
    assert text in result.output


def test_unschedulable_replicas_are_warned_about(tmp_path: Path) -> None:
    """Replicas the scheduler model cannot place are reported even without -v."""
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
        "      affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution:"
        " [{labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}}\n"
        "      containers: [{name: web, image: nginx}]\n",
        encoding="utf-8",
    )
    result = run("share", "-f", str(manifest))
    assert result.exit_code == 0
    assert "1 replica(s) unschedulable" in result.output
    assert "didn't match pod anti-affinity rules" in result.output
