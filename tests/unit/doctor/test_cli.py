"""srcip doctor on the command line: exit codes, --fail-on, -o json, --help."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from srcip.cli.main import cli

FIXTURES = Path(__file__).parent / "fixtures"


def _doctor(*args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args], catch_exceptions=False)


def _files(*names: str) -> list[str]:
    return [arg for n in names for arg in ("-f", str(FIXTURES / f"{n}.yaml"))]


UNEVEN = _files("nodes-gke", "app-web-uneven", "svc-web-gke-local")
CLEAN = _files("nodes-gke", "app-web-spread", "svc-web-gke-local")
BROKEN = _files("nodes-aws", "app-web-spread", "svc-web-aws-nlb-local")


def test_fail_on_warning() -> None:
    """--fail-on warning exits 1 on a warning; --fail-on error does not."""
    assert _doctor(*UNEVEN, "--fail-on", "warning").exit_code == 1
    assert _doctor(*UNEVEN, "--fail-on", "error").exit_code == 0
    assert _doctor(*UNEVEN).exit_code == 0


def test_fail_on_error() -> None:
    """An error finding fails --fail-on error."""
    assert _doctor(*BROKEN, "--fail-on", "error").exit_code == 1


def test_clean_passes() -> None:
    """A clean dump passes --fail-on warning."""
    result = _doctor(*CLEAN, "--fail-on", "warning")
    assert result.exit_code == 0, result.output


def test_json_output() -> None:
    """-o json prints one JSON document with the findings and services."""
    result = _doctor(*UNEVEN, "-o", "json", "svc/web")
    data = json.loads(result.output)
    assert [f["kind"] for f in data["findings"]] == ["local-uneven"]
    assert set(data["findings"][0]) == {
        "severity",
        "service",
        "kind",
        "title",
        "evidence",
        "explanation",
        "fix",
        "references",
    }
    assert data["services"][0]["service"] == "default/web"


def test_bad_input_exits_2() -> None:
    """An unknown Service, a bad target or -n with -A is bad input: exit 2."""
    assert _doctor(*UNEVEN, "svc/nope").exit_code == 2
    assert _doctor(*UNEVEN, "deploy/web").exit_code == 2
    assert _doctor(*UNEVEN, "-n", "default", "-A").exit_code == 2
    assert _doctor("-f", str(FIXTURES / "missing.yaml")).exit_code == 2


def test_plain_name_and_namespace() -> None:
    """A bare NAME is a Service name; -n scopes it."""
    result = _doctor(*UNEVEN, "-n", "default", "web", "-o", "json")
    assert json.loads(result.output)["services"][0]["service"] == "default/web"


def test_help_prints_dump_command() -> None:
    """--help shows how to make a dump for -f."""
    out = _doctor("--help").output
    assert (
        "kubectl get svc,endpointslices,nodes,pods,configmaps,daemonsets,deployments,"
        "ingresses,networkpolicies -A -o yaml" in out
    )
