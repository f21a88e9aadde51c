"""bench/proxyproto.py stays runnable: its inputs parse alike in both, its table is right."""

from __future__ import annotations

import pytest
from bench import proxyproto as bench


@pytest.mark.parametrize("distinct_ssl", [False, True])
def test_v2_inputs_agree_with_the_peer(distinct_ssl: bool) -> None:
    """Both parsers read the benchmark's v2 inputs to the same values."""
    inputs = bench.v2_inputs(distinct_ssl=distinct_ssl)
    assert len(set(inputs)) == bench.DISTINCT
    bench.check_agreement(inputs)


def test_v1_inputs_agree_with_the_peer() -> None:
    """Both parsers read the benchmark's v1 lines to the same addresses."""
    bench.check_v1_agreement(bench.v1_inputs())


def test_behaviour_table_matches_the_spec_column_for_srcip() -> None:
    """srcip's outcome on every edge-case vector is what the spec column says."""
    for case, spec, ours, _peer in bench.behaviour_table():
        if spec == "valid":
            assert ours.startswith("accepted"), case
        elif spec.startswith("valid, "):  # "valid, 2 TLVs"
            assert ours == "accepted, " + spec.removeprefix("valid, ").replace("TLVs", "TLV(s)")
        else:
            assert ours.startswith("refused: "), case


def test_main_runs_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    """The program runs end to end with tiny counts and prints ratios (no time asserted)."""
    assert bench.main(["--parses", "1024", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "srcip ÷ peer" in out
    assert "v2 CRC32C TLV before ALPN" in out
