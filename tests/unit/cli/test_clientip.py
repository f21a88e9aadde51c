"""`srcip clientip explain`, run in-process: text and JSON output, exit codes 0/1/2."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from srcip.cli.clientip import parse_header
from srcip.cli.main import cli
from srcip.errors import UsageError

PROXY = "10.0.0.2:5555"
XFF = "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.9"


def run(*args: str) -> Result:
    """Invoke ``srcip clientip explain`` with ``args``."""
    return CliRunner().invoke(cli, ["clientip", "explain", *args], catch_exceptions=False)


def run_json(*args: str, code: int = 0) -> Any:
    """Invoke with ``-o json``, check the exit code, parse stdout."""
    result = run(*args, "-o", "json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_text_walk_hop_by_hop() -> None:
    """The text view names the client, then one line per hop with its verdict."""
    result = run("--peer", PROXY, "--trust", "10.0.0.0/8", "--header", XFF)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("client 203.0.113.7 (ok) from x-forwarded-for[1]")
    verdicts = [line.split()[3] for line in lines[1:4]]
    assert verdicts == ["trusted", "trusted", "client"]
    assert "10.0.0.9" in lines[2]


def test_json_explanation() -> None:
    """-o json prints the explanation as data: status, ip, index and the hops."""
    data = run_json("--peer", PROXY, "--trust", "10.0.0.0/8", "-H", XFF)
    assert (data["status"], data["ip"], data["index"]) == ("ok", "203.0.113.7", 1)
    assert [hop["verdict"] for hop in data["hops"]] == ["trusted", "trusted", "client"]


def test_repeated_headers_are_joined_in_order() -> None:
    """Several --header options are field lines in order, as a server receives them."""
    data = run_json(
        "--peer",
        PROXY,
        "--trust",
        "10.0.0.0/8",
        "-H",
        "X-Forwarded-For: 203.0.113.7",
        "-H",
        "x-forwarded-for: 10.0.0.9",
    )
    assert (data["ip"], data["index"]) == ("203.0.113.7", 0)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        pytest.param(["-H", "X-Forwarded-For: junk"], "invalid_hop", id="invalid-hop"),
        pytest.param(["-H", "X-Forwarded-For: unknown"], "unidentified_hop", id="unknown"),
        pytest.param(
            ["--trusted-hops", "3", "-H", "X-Forwarded-For: 203.0.113.7"],
            "too_few_hops",
            id="too-few-hops",
        ),
    ],
)
def test_unresolved_exits_1(args: list[str], status: str) -> None:
    """When no address can be named the walk is still printed and the exit code is 1."""
    data = run_json("--peer", PROXY, "--trust", "10.0.0.0/8", *args, code=1)
    assert data["status"] == status
    assert data["ip"] is None


def test_unresolved_text_exits_1() -> None:
    """The text view says 'none' for the client and exits 1."""
    result = run("--peer", "unix:/run/app.sock", "--trust", "10.0.0.0/8")
    assert result.exit_code == 1
    assert result.stdout.startswith("client none (no_peer_ip)")


def test_direct_peer_and_options() -> None:
    """An untrusted peer is the client; --source and --no-peer-check reach the config."""
    direct = run_json("--peer", "198.51.100.7:1234", "--trust", "10.0.0.0/8", "-H", XFF)
    assert (direct["status"], direct["ip"]) == ("direct", "198.51.100.7")
    counted = run_json(
        "--peer",
        "198.51.100.7:1234",
        "--trusted-hops",
        "1",
        "--no-peer-check",
        "--source",
        "forwarded",
        "-H",
        'Forwarded: for="[2001:db8::7]:4711"',
    )
    assert (counted["status"], counted["ip"], counted["source"]) == (
        "ok",
        "2001:db8::7",
        "forwarded",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--trust", "10.0.0.0/33"], "trusted_proxies", id="bad-cidr"),
        pytest.param(["--trust", "0.0.0.0/0"], "trusts every address", id="trust-all"),
        pytest.param(["--source", "x-forwarded-host"], "source", id="refused-source"),
        pytest.param(["-H", "X-Forwarded-For 1.2.3.4"], "not a field line", id="no-colon"),
        pytest.param(["-H", ": 1.2.3.4"], "not a field line", id="no-name"),
        pytest.param(["-H", "X Forwarded: 1.2.3.4"], "not a field line", id="space-in-name"),
        pytest.param(["--trusted-hops", "0"], "trusted_hops", id="zero-hops"),
    ],
)
def test_bad_input_exits_2_without_traceback(args: list[str], message: str) -> None:
    """Bad configuration or header syntax: one-paragraph message on stderr, exit code 2."""
    result = run("--peer", PROXY, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("srcip: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_peer_exits_2() -> None:
    """A --peer that is not a socket address is bad input, not an unresolved request."""
    result = run("--peer", "not-a-peer")
    assert result.exit_code == 2
    assert "--peer 'not-a-peer'" in result.stderr


def test_missing_peer_is_a_usage_error() -> None:
    """--peer is required (click's usage error, exit code 2)."""
    assert CliRunner().invoke(cli, ["clientip", "explain"]).exit_code == 2


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("X-Forwarded-For: 1.2.3.4, 5.6.7.8", ("X-Forwarded-For", "1.2.3.4, 5.6.7.8")),
        ("x-real-ip:\t1.2.3.4 ", ("x-real-ip", "1.2.3.4")),
        ("X_Forwarded_For: 1.2.3.4", ("X_Forwarded_For", "1.2.3.4")),
        ('Forwarded: for="[2001:db8::1]:80"', ("Forwarded", 'for="[2001:db8::1]:80"')),
        ("Empty:", ("Empty", "")),
    ],
)
def test_parse_header(text: str, parsed: tuple[str, str]) -> None:
    """'Name: value' splits at the first colon; OWS around the value is dropped."""
    assert parse_header(text) == parsed


def test_parse_header_error_names_the_fix() -> None:
    """The error shows the expected form."""
    with pytest.raises(UsageError, match="Name: value"):
        parse_header("nonsense")


def test_group_help_lists_explain() -> None:
    """`srcip clientip --help` lists the explain command."""
    result = CliRunner().invoke(cli, ["clientip", "--help"])
    assert result.exit_code == 0
    assert "explain" in result.stdout
