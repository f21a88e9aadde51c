"""The policy for a missing peer program: skip naming the Debian package, fail in CI."""

from __future__ import annotations

import pytest

from tests.integration import processes

MISSING = "srcip-no-such-program"


def test_missing_program_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside CI a missing program skips the test with the package to install."""
    monkeypatch.setattr(processes, "IN_CI", False)
    expected = rf"{MISSING} not installed \(Debian package: srcip-pkg\)$"
    with pytest.raises(pytest.skip.Exception, match=expected):
        processes.require_program(MISSING, "srcip-pkg")


def test_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under CI=true a missing program fails the test instead of skipping it."""
    monkeypatch.setattr(processes, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"\(Debian package: srcip-pkg\); \.ci/run"):
        processes.require_program(MISSING, "srcip-pkg")


def test_present_program_is_found() -> None:
    """A program on PATH (or in /usr/sbin) is returned by path."""
    assert processes.require_program("sh", "dash").endswith("/sh")
