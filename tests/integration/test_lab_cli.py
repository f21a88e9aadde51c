"""``srcip lab run`` in-process: JSON keys in scenario terms, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from srcip.cli.main import cli

ECHO = ["-f", "examples/echo/echo.yaml", "-f", "examples/echo/scenario.yaml"]


def test_lab_run_json_has_the_issue_keys_in_scenario_terms() -> None:
    """-o json: observations and share with the keys issue 6 lists, no loopback addresses."""
    result = CliRunner().invoke(
        cli, ["lab", "run", *ECHO, "--seed", "4", "--requests", "3", "--connections", "200",
              "-o", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True
    observation = data["visibility"]["observations"][0]
    wanted = {"policy", "client", "node", "pod", "pod_peer", "proxy_src", "forwarded_for",
              "app_client_ip", "allowed"}  # fmt: skip
    assert wanted <= set(observation)
    assert observation["pod_peer"] == "203.0.113.7"
    assert {"name", "node", "count", "expected"} <= set(data["share"]["pods"][0])
    assert sum(p["count"] for p in data["share"]["pods"]) == 200
    assert data["share"]["p_value"] is not None
    assert "127." not in result.output


def test_lab_run_text_report() -> None:
    """The text report shows the observations beside the model and the verdict."""
    result = CliRunner().invoke(
        cli, ["lab", "run", *ECHO, "--seed", "4", "--experiment", "visibility", "--requests", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "What the model allows" in result.output
    assert "every observation is one the model allows" in result.output


def test_lab_run_enforces_the_network_policy() -> None:
    """The seeds' policy pair: Cluster times out at the NetworkPolicy, Local is served."""
    result = CliRunner().invoke(
        cli, ["lab", "run", "-f", "examples/policy-comparison/services.yaml", "--experiment",
              "visibility", "--requests", "2", "--timeout", "0.5", "--compare-policies",
              "--address-base", "127.74.0.0/16", "-o", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    seen = json.loads(result.output)["visibility"]["observations"]
    assert {(o["policy"], o["result"], o["pod_peer"], o["allowed"]) for o in seen} == {
        ("Cluster", "timeout", None, True),
        ("Local", "ok", "203.0.113.7", True),
    }


def test_lab_run_share_text_report() -> None:
    """The share experiment prints both splits with their chi-square p-values."""
    result = CliRunner().invoke(
        cli, ["lab", "run", *ECHO, "--seed", "4", "--experiment", "share", "--connections", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "Split of 100 new connections per pod" in result.output
    assert result.output.count("chi-square goodness of fit: p =") == 2
