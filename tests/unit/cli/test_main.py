"""The srcip command line, run in-process: output shapes, exit codes and error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from srcip.cli.main import cli

EXAMPLE = Path(__file__).parents[3] / "examples" / "seed-echo"
CLUSTER = str(EXAMPLE / "cluster.yaml")
PACKETS = str(EXAMPLE / "packets.yaml")
CLIENT = "203.0.113.7"
LOCAL_VIP = "198.51.100.10"
CLUSTER_VIP = "198.51.100.11"


def run(*args: str) -> Result:
    """Invoke srcip with ``args``."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run_json(*args: str) -> Any:
    """Invoke srcip with ``-o json`` and parse stdout."""
    result = run(*args, "-o", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_route_json_single_packet_is_an_object() -> None:
    """One packet on one node gives one JSON object with the documented keys."""
    data = run_json(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-1",
        "--src",
        CLIENT,
        "--dst",
        LOCAL_VIP,
        "--port",
        "80",
    )
    assert data["verdict"] == "DNAT"
    assert data["endpoints"] == [
        {
            "endpoint": "10.244.1.5:8080",
            "node": "node-1",
            "probability": "1",
            "masquerade": False,
            "source_seen": CLIENT,
        }
    ]
    assert data["masquerade"] is False
    assert data["source_seen"] == CLIENT
    assert "KP §4.3" in data["rules"]
    assert len(data["reasons"]) == len(data["rules"])


def test_route_local_policy_drops_on_a_node_without_pods() -> None:
    """Local policy on node-3 (no echo pod) drops the external client's packet."""
    data = run_json(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-3",
        "--src",
        CLIENT,
        "--dst",
        LOCAL_VIP,
        "--port",
        "80",
    )
    assert data["verdict"] == "DROP"
    assert data["endpoints"] == []
    assert data["source_seen"] is None


def test_route_cluster_policy_snat_differs_per_endpoint() -> None:
    """Cluster policy: SNAT to the pod gateway locally, to the node IP remotely (KP §5.2)."""
    data = run_json(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-1",
        "--src",
        CLIENT,
        "--dst",
        CLUSTER_VIP,
        "--port",
        "80",
    )
    seen = {e["endpoint"]: e["source_seen"] for e in data["endpoints"]}
    assert seen == {"10.244.1.5:8080": "10.244.1.1", "10.244.2.7:8080": "10.0.1.2"}
    assert {e["probability"] for e in data["endpoints"]} == {"1/2"}
    assert data["masquerade"] is True
    assert data["source_seen"] is None


def test_route_routed_cni_snat_uses_the_node_ip() -> None:
    """With --cni routed, SNAT toward a local pod uses the node's primary IP."""
    data = run_json(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-1",
        "--src",
        CLIENT,
        "--dst",
        CLUSTER_VIP,
        "--port",
        "80",
        "--cni",
        "routed",
    )
    assert data["source_seen"] == "10.0.1.2"


def test_route_packets_file_gives_a_list_per_packet_and_node() -> None:
    """--packets with --all-nodes yields packets × nodes results, in that order."""
    data = run_json("route", "-f", CLUSTER, "--all-nodes", "--packets", PACKETS)
    assert [(d["node"], d["verdict"]) for d in data[:3]] == [
        ("node-1", "DNAT"),
        ("node-2", "DNAT"),
        ("node-3", "DROP"),
    ]
    assert len(data) == 9


def test_route_text_shows_what_the_pod_sees() -> None:
    """The text view names the verdict, the endpoint and the source the pod sees."""
    result = run(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-2",
        "--src",
        CLIENT,
        "--dst",
        LOCAL_VIP,
        "--port",
        "80",
        "-v",
    )
    assert result.exit_code == 0
    assert "10.244.2.7:8080" in result.output
    assert f"{CLIENT} (source kept)" in result.output
    assert "only endpoints on this node" in result.output  # a reason, shown with -v
    assert "allocated" in result.stderr  # a loader note, shown with -v


def test_verbose_notes_keep_json_parseable() -> None:
    """With -v and -o json the loader's notes go to stderr and stdout stays JSON."""
    data = run_json(
        "route",
        "-f",
        CLUSTER,
        "--node",
        "node-1",
        "--src",
        CLIENT,
        "--dst",
        LOCAL_VIP,
        "--port",
        "80",
        "-v",
    )
    assert data["rules"][0] == "KP §3"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--node", "node-9", "--src", CLIENT, "--dst", LOCAL_VIP, "--port", "80"),
            "no Node object named 'node-9'",
            id="unknown-node",
        ),
        pytest.param(
            ("--node", "node-1", "--src", "203.0.113.300", "--dst", LOCAL_VIP, "--port", "80"),
            "--src '203.0.113.300' is not an IP address",
            id="bad-src",
        ),
        pytest.param(
            ("--node", "node-1", "--src", "2001:db8::1", "--dst", LOCAL_VIP, "--port", "80"),
            "different IP families",
            id="mixed-families",
        ),
        pytest.param(
            ("--node", "node-1", "--src", CLIENT, "--port", "80"),
            "missing --dst",
            id="missing-dst",
        ),
        pytest.param(
            ("--src", CLIENT, "--dst", LOCAL_VIP, "--port", "80"),
            "give --node NAME",
            id="no-node",
        ),
        pytest.param(
            ("--node", "node-1", "--packets", PACKETS, "--src", CLIENT),
            "not both",
            id="packets-and-src",
        ),
    ],
)
def test_route_bad_input_exits_2_with_one_paragraph(args: tuple[str, ...], message: str) -> None:
    """Bad command-line input: exit code 2, the problem named, no traceback."""
    result = run("route", "-f", CLUSTER, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stderr.startswith("srcip: error:")


def test_bad_manifest_names_file_document_object_field(tmp_path: Path) -> None:
    """A wrong field type fails with exit 2 and names the file, object, field and value."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {type: NodePort, ports: [{port: eighty}]}\n"
    )
    result = run(
        "route", "-f", str(bad), "--all-nodes", "--src", CLIENT, "--dst", "10.0.0.1", "--port", "80"
    )
    assert result.exit_code == 2
    for part in ("bad.yaml", "document 1", "Service default/web", "spec.ports[0].port", "eighty"):
        assert part in result.stderr


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    """A file that does not exist is reported, exit code 2."""
    result = run("health", "-f", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


def test_health_json_lists_every_service_node_answer() -> None:
    """health -o json: one entry per health-checked Service × node, with status and weight."""
    data = run_json("health", "-f", CLUSTER, "--now", "2026-01-01T00:00:00Z")
    rows = {(r["service"], r["node"]): r for r in data["services"]}
    assert set(rows) == {("default/echo", f"node-{i}") for i in (1, 2, 3)}
    assert rows[("default/echo", "node-1")]["status"] == 200
    assert rows[("default/echo", "node-3")]["status"] == 503
    assert rows[("default/echo", "node-3")]["body"]["localEndpoints"] == 0
    assert rows[("default/echo", "node-1")]["healthCheckNodePortAllocated"] is True
    assert data["proxy"]["node-1"]["healthz"]["status"] == 200


def test_health_unsynced_proxy_fails_every_check() -> None:
    """A proxy with an update pending past 2 × syncPeriod answers 503 everywhere (KP §13.6)."""
    data = run_json("health", "-f", CLUSTER, "--node", "node-1", "--proxy-pending", "61")
    (row,) = data["services"]
    assert row["status"] == 503
    assert row["body"]["serviceProxyHealthy"] is False
    assert data["proxy"]["node-1"]["healthz"]["status"] == 503
    assert data["proxyHealthy"] is False


def test_health_text_and_bad_now() -> None:
    """health renders tables; a malformed --now is bad input."""
    result = run("health", "-f", CLUSTER, "--node", "node-3")
    assert result.exit_code == 0
    assert "503" in result.output
    bad = run("health", "-f", CLUSTER, "--now", "yesterday")
    assert bad.exit_code == 2
    assert "ISO 8601" in bad.stderr


def test_health_without_checked_services_says_so(tmp_path: Path) -> None:
    """A cluster with no LoadBalancer + Local Service says there is nothing to check."""
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
        "status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n"
    )
    result = run("health", "-f", str(plain))
    assert result.exit_code == 0
    assert "No Service needs a health check" in result.output


def test_version_and_help() -> None:
    """--version and --help work without input."""
    assert "srcip" in run("--version").output
    assert "which source address" in run("--help").output.lower()
