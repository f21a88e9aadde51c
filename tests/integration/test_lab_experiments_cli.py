"""``srcip lab run`` with every experiment and ``--compare-policies``: JSON keys, the rate
limit per policy, and the ``--report`` directory, from one run shared by the module."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from srcip.cli.main import cli

ECHO = ["-f", "examples/echo/echo.yaml", "-f", "examples/echo/scenario.yaml"]
NODES = {"10.0.1.2", "10.0.1.3", "10.0.1.4"}
GATEWAYS = {"10.244.1.1", "10.244.2.1", "10.244.3.1"}


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str
    data: dict[str, Any]
    report: Path


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run of every experiment under both policies, at 0.1x timing."""
    report = tmp_path_factory.mktemp("lab") / "report"
    result = CliRunner().invoke(
        cli, ["lab", "run", *ECHO, "--seed", "3", "--requests", "4", "--connections", "150",
              "--experiment", "visibility,share,failover,ratelimit", "--compare-policies",
              "--time-scale", "0.1", "--timeout", "1", "--report", str(report),
              "--address-base", "127.62.0.0/16"],
    )  # fmt: skip
    written = report / "lab.json"
    data = json.loads(written.read_text()) if written.exists() else {}
    return Run(result.exit_code, result.stdout, data, report)


def _clients(run: Run, policy: str) -> dict[str, dict[str, Any]]:
    rows = run.data["ratelimit"]["clients"]
    return {r["role"] + ":" + r["client"]: r for r in rows if r["policy"] == policy}


def test_json_has_every_experiments_keys_in_scenario_terms(full: Run) -> None:
    """failover.timeline[] / windows, ratelimit.clients[], observations[].policy; no loopback."""
    assert full.exit_code == 0, full.output
    assert full.data["ok"] is True
    failover = full.data["failover"]
    assert {"t", "ok", "refused", "timeout", "error"} <= set(failover["timeline"][0])
    assert {"predicted_window", "measured_window"} <= set(failover)
    assert {"client", "accepted", "limited"} <= set(full.data["ratelimit"]["clients"][0])
    policies = {o["policy"] for o in full.data["visibility"]["observations"]}
    assert policies == {"Cluster", "Local"}
    assert re.fullmatch(
        r"Cluster: pod saw (10\.0\.1\.[234], )*10\.0\.1\.[234] \(node SNAT\) — "
        r"Local: pod saw 203\.0\.113\.7",
        full.data["visibility"]["side_by_side"],
    ), full.data["visibility"]["side_by_side"]
    assert "127." not in full.output


def test_failover_of_the_echo_example_matches_the_model(full: Run) -> None:
    """The default event deletes echo-0 at a third of the run; 1 s of 50 % refusals."""
    failover = full.data["failover"]
    assert failover["events"] == ["delete pod/echo-0 at 5s"]
    assert failover["predicted_window"] == 1.0
    assert failover["within_bounds"]
    assert failover["matches_prediction"]


def test_under_cluster_the_clients_throttle_each_other(full: Run) -> None:
    """Cluster: the app keys every client on node SNAT addresses, so the quiet clients (10
    r/s, at the limit) get 429s from the buckets the noisy one fills."""
    rows = _clients(full, "Cluster")
    quiet = [r for key, r in rows.items() if key.startswith("quiet")]
    assert len(quiet) == 2
    assert all(r["limited"] > 0 for r in quiet), quiet
    for r in rows.values():
        assert set(r["app_saw"]) <= NODES | GATEWAYS
        assert set(r["app_saw"]) <= set(r["model_app_sees"])
    assert full.data["ratelimit"]["shared"]["Cluster"] is True


def test_under_local_each_client_has_its_own_bucket(full: Run) -> None:
    """Local: the app sees each client's own address; only the noisy client is limited."""
    rows = _clients(full, "Local")
    for key, r in rows.items():
        assert r["app_saw"] == [r["client"]]
        assert (r["limited"] > 0) == key.startswith("noisy"), r
        assert r["accepted"] + r["limited"] + r["failed"] == r["requests"]
    assert full.data["ratelimit"]["shared"]["Local"] is False


def test_text_report_shows_every_experiment_beside_the_model(full: Run) -> None:
    """The text report: the side-by-side line, the failure windows, the rate limit tables,
    and where the report went."""
    assert "(node SNAT) — Local: pod saw 203.0.113.7" in full.output
    assert "failure window: measured" in full.output
    assert "limit_req 10r/s burst=20 nodelay per pod" in full.output
    assert "Cluster: the clients share buckets" in full.output
    assert f"report written to {full.report / 'index.html'}" in full.output


def test_report_directory_has_json_plots_and_a_static_page(full: Run) -> None:
    """--report writes lab.json, share.png, failover.png and index.html (no script)."""
    for name in ("share.png", "failover.png"):
        assert (full.report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (full.report / "index.html").read_text()
    assert "<script" not in page
    assert "Cluster: pod saw 10.0.1." in page
    assert "failover.png" in page


def test_unknown_experiment_names_the_choices() -> None:
    """A misspelt experiment is a usage error listing all four."""
    result = CliRunner().invoke(cli, ["lab", "run", *ECHO, "--experiment", "failver"])
    assert result.exit_code == 2
    assert "visibility, share, failover, ratelimit" in result.output
