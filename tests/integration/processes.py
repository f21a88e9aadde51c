"""Run the real peers (HAProxy, nginx, openssl) as child processes, bounded and always reaped.

A peer's program comes from a Debian package that ``.ci/run`` installs. Outside CI a missing
program skips the test with a message naming the package; in CI (``CI=true``) it fails, so a
broken install step can never turn the differential tests into silent skips.

Daemons run in the foreground, bind 127.0.0.1 (or ::1) on ports picked by the kernel, and
write their logs under the test's ``tmp_path``. Readiness is polled against a deadline, and
:meth:`Daemon.stop` signals the one process we started, by its pid, then waits for it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

#: CI runs ``.ci/run`` with ``CI=true``; there a missing peer is a failure, not a skip.
IN_CI = os.environ.get("CI", "").lower() == "true"

#: Where Debian puts daemons; not on a non-root user's PATH.
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.02


def require_program(name: str, package: str) -> str:
    """The path of ``name``, or skip (fail in CI) naming the Debian package to install."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
    if found:
        return found
    message = f"{name} not installed (Debian package: {package})"
    if IN_CI:
        pytest.fail(f"{message}; .ci/run should have installed it", pytrace=False)
    pytest.skip(message)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel just handed out on ``host`` (for configs written before binding)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Daemon:
    """One started child process, its log, and how to stop it."""

    name: str
    argv: tuple[str, ...]
    log_path: Path
    process: subprocess.Popen[bytes]
    _log: IO[bytes] = field(repr=False)

    def log_text(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Terminate the process by its pid, kill it if it lingers, and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self._log.close()


def start_daemon(
    name: str,
    argv: Sequence[str],
    *,
    workdir: Path,
    ready: Callable[[], bool],
    timeout_s: float = READY_TIMEOUT_S,
) -> Daemon:
    """Start ``argv`` in the foreground and wait (bounded) until ``ready()`` holds.

    Fails the test with the daemon's log if it exits early or is not ready in time; the
    process is stopped before failing either way.
    """
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    daemon = Daemon(name=name, argv=tuple(argv), log_path=log_path, process=process, _log=log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            daemon.stop()
            pytest.fail(f"{name} exited with {process.returncode}:\n{daemon.log_text()}")
        if ready():
            return daemon
        time.sleep(POLL_INTERVAL_S)
    text = daemon.log_text()
    daemon.stop()
    pytest.fail(f"{name} not ready within {timeout_s} s:\n{text}")


def run_checked(argv: Sequence[str], *, workdir: Path, timeout_s: float = 30.0) -> str:
    """Run a short command to completion (bounded); fail the test with its output if it fails."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv[0]} did not finish within {timeout_s} s: {exc}")
    output = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited with {done.returncode}:\n{output}")
    return output
