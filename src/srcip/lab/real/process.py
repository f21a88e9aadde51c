"""Run real HAProxy or nginx as a child process on loopback, bounded and always reaped.

``async with run_peer(HAPROXY, config, listen=[(host, port)]) as peer`` writes the config
into a fresh temporary directory, starts the program in the foreground (HAProxy ``-db``;
nginx with ``daemon off`` and ``master_process off`` in its config, so the one process
started is the only one), waits until every ``listen`` address is in the LISTEN state (read
from ``/proc/net/tcp``, so no probe connection reaches a backend; a TCP connect where
``/proc`` is missing), and on leaving stops it by its pid: SIGTERM, then SIGKILL after
:data:`STOP_TIMEOUT_S`, then removes the directory. A program that is not installed, a
config it refuses or a listener that never appears raise :class:`SrcipError` naming the
Debian package or quoting the program's log.

:func:`check_config` runs the program's own syntax check (``haproxy -c``, ``nginx -t``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from srcip.errors import SrcipError

__all__ = [
    "HAPROXY",
    "NGINX",
    "READY_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "Program",
    "RunningPeer",
    "check_config",
    "find_program",
    "is_listening",
    "run_peer",
]

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 30.0
_POLL_S = 0.01
_LOG_TAIL = 4000
#: The kernel's socket tables (Linux); elsewhere :func:`is_listening` connects instead.
PROC_NET = Path("/proc/net")
#: Where Debian installs daemons; not on an unprivileged user's PATH.
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")

#: A config, or a function of the run's directory giving one (nginx needs its paths).
ConfigSource = str | Callable[[Path], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """A real peer: its executable, the Debian package with it, and its command lines."""

    name: str
    package: str
    run_args: tuple[str, ...]  # before the config path's arguments
    check_args: tuple[str, ...]

    def argv(self, executable: str, config: Path, *, check: bool = False) -> list[str]:
        """The command line running (or checking) ``config``."""
        extra = self.check_args if check else self.run_args
        if self.name == "nginx":  # -p: relative paths; -e: the startup error log
            directory = config.parent
            head = ["-p", f"{directory}/", "-e", str(directory / "error.log")]
            return [executable, *head, "-c", str(config), *extra]
        return [executable, *extra, "-f", str(config)]


HAPROXY = Program(name="haproxy", package="haproxy", run_args=("-db",), check_args=("-c",))
NGINX = Program(name="nginx", package="nginx", run_args=(), check_args=("-t",))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningPeer:
    """A started peer: its pid, the directory with its config and log."""

    program: Program
    pid: int
    directory: Path
    config_path: Path
    log_path: Path

    def log_text(self) -> str:
        """What the program wrote to stdout and stderr (and nginx's error log) so far."""
        parts = [self.log_path]
        error_log = self.directory / "error.log"
        if error_log.exists():
            parts.append(error_log)
        return "".join(p.read_text(errors="replace") for p in parts)


def find_program(program: Program) -> str:
    """The executable's path, or :class:`SrcipError` naming the Debian package."""
    found = shutil.which(program.name) or shutil.which(
        program.name, path=os.pathsep.join(SBIN_DIRS)
    )
    if found is None:
        raise SrcipError(
            f"{program.name} is not installed. Fix: install the Debian package"
            f" {program.package} (apt-get install {program.package}), or use the built-in"
            " engine"
        )
    return found


def check_config(program: Program, config: ConfigSource) -> None:
    """Run the program's syntax check on ``config``; :class:`SrcipError` with its output."""
    executable = find_program(program)
    with tempfile.TemporaryDirectory(prefix=f"srcip-{program.name}-check-") as name:
        path = _write(Path(name), program, config)
        try:
            done = subprocess.run(
                program.argv(executable, path, check=True),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CHECK_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SrcipError(f"{program.name} config check ran over {CHECK_TIMEOUT_S} s") from exc
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise SrcipError(f"{program.name} refuses the generated config:\n{output}")


@contextlib.asynccontextmanager
async def run_peer(
    program: Program,
    config: ConfigSource,
    *,
    listen: Sequence[tuple[str, int]],
    ready_timeout: float = READY_TIMEOUT_S,
) -> AsyncIterator[RunningPeer]:
    """Run ``program`` with ``config`` until the block ends; see the module docstring."""
    executable = find_program(program)
    directory = Path(tempfile.mkdtemp(prefix=f"srcip-{program.name}-"))
    try:
        path = _write(directory, program, config)
        log_path = directory / "output.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *program.argv(executable, path),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=directory,
            )
        peer = RunningPeer(
            program=program,
            pid=process.pid,
            directory=directory,
            config_path=path,
            log_path=log_path,
        )
        try:
            await _wait_listening(process, peer, listen, ready_timeout)
            yield peer
        finally:
            await _stop(process)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _write(directory: Path, program: Program, config: ConfigSource) -> Path:
    text = config(directory) if callable(config) else config
    path = directory / f"{program.name}.conf"
    path.write_text(text)
    return path


async def _wait_listening(
    process: asyncio.subprocess.Process,
    peer: RunningPeer,
    listen: Sequence[tuple[str, int]],
    timeout: float,
) -> None:
    """Poll (bounded) until every address listens; SrcipError with the log otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    name = peer.program.name
    while loop.time() < deadline:
        if process.returncode is not None:
            raise SrcipError(
                f"{name} exited with {process.returncode} at start:\n{_tail(peer.log_text())}"
            )
        if all(is_listening(host, port) for host, port in listen):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_POLL_S):
                await process.wait()
    raise SrcipError(f"{name} did not listen within {timeout} s:\n{_tail(peer.log_text())}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the one process we started, SIGKILL it after a bound, and reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        except asyncio.CancelledError:  # still reap it: no orphan may outlive the block
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise


def _tail(text: str) -> str:
    return text[-_LOG_TAIL:]


def is_listening(host: str, port: int) -> bool:
    """Whether some socket listens on ``host:port`` (``/proc/net/tcp*``, else a connect)."""
    table = PROC_NET / ("tcp6" if ":" in host else "tcp")
    if not table.exists():
        return _connects(host, port)
    wanted = _proc_address(host, port)
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and fields[1] == wanted:
            return True
    return False


def _proc_address(host: str, port: int) -> str:
    """``host:port`` as ``/proc/net/tcp`` prints it: the address in host byte order, hex."""
    packed = ip_address(host).packed
    words = [packed[i : i + 4] for i in range(0, len(packed), 4)]
    if sys.byteorder == "little":  # the kernel prints each 32-bit word as a native int
        words = [w[::-1] for w in words]
    return "".join(w.hex().upper() for w in words) + f":{port:04X}"


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
