"""Fixtures for the differential tests against real HAProxy and nginx (Debian packages).

Each peer's program is looked up once per test that needs it: missing, it skips the test
naming the Debian package, or fails it under ``CI=true`` (see :mod:`.processes`). Daemons
started through :func:`daemons` are stopped by pid when the test (or module) ends, even
when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.processes import Daemon, require_program, start_daemon

StartDaemon = Callable[..., Daemon]


@pytest.fixture
def haproxy_bin() -> str:
    """The haproxy program (Debian package ``haproxy``)."""
    return require_program("haproxy", "haproxy")


@pytest.fixture(scope="module")
def nginx_bin() -> str:
    """The nginx program (Debian package ``nginx``)."""
    return require_program("nginx", "nginx")


@pytest.fixture
def openssl_bin() -> str:
    """The openssl program (Debian package ``openssl``), to make a test certificate."""
    return require_program("openssl", "openssl")


def _daemon_starter() -> tuple[StartDaemon, Callable[[], None]]:
    started: list[Daemon] = []

    def start(name: str, argv: list[str], *, workdir: Path, ready: Callable[[], bool]) -> Daemon:
        daemon = start_daemon(name, argv, workdir=workdir, ready=ready)
        started.append(daemon)
        return daemon

    def stop_all() -> None:
        for daemon in reversed(started):
            daemon.stop()

    return start, stop_all


@pytest.fixture
def daemons() -> Iterator[StartDaemon]:
    """Start daemons for one test; every one is stopped by pid when the test ends."""
    start, stop_all = _daemon_starter()
    try:
        yield start
    finally:
        stop_all()


@pytest.fixture(scope="module")
def module_daemons() -> Iterator[StartDaemon]:
    """Like :func:`daemons`, for a daemon shared by a module's tests."""
    start, stop_all = _daemon_starter()
    try:
        yield start
    finally:
        stop_all()
