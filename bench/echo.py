"""The echo server benchmark: ``srcip echo`` against its peers, real HTTP, same run.

Contenders, each one process on 127.0.0.1, pinned to CPU 0, loaded by wrk pinned to
CPU 1 (``-t1 -c64``, keep-alive, ``GET /``):

* ``srcip echo`` (JSON answer, its request log on, written to /dev/null; uvloop and
  httptools as installed by the ``fast`` extra and the dependencies);
* the seeds' Flask app (:mod:`bench.echo_apps`) under gunicorn, 1 worker, its defaults
  (the sync worker, which closes every connection: the app the seeds show, served the way
  gunicorn serves it unless told otherwise);
* a Starlette app answering the same JSON document under uvicorn, its defaults (uvloop and
  httptools when installed, as here; access log on, written to /dev/null);
* nginx ``return 200 "$remote_addr\\n"`` (one worker process, ``master_process off``,
  access log off): the ceiling, a static answer from C.

All four run at once (idle but for the one under load). Each gets a warm-up, then
``--repeats`` rounds give each one run of ``--duration`` seconds in turn, so a change in
background load falls on all of them alike; each one's median run (requests/s, p99) is
reported, with the spread of its runs. Before timing, each answer is
checked (the JSON names the client 127.0.0.1). Ratios are srcip ÷ peer in requests/s
(higher is better); targets: ≥ 1.5× the uvicorn app, ≥ 5× the Flask app.

Memory: a fresh ``srcip echo`` gets 1,000 keep-alive connections that each make one
request and then stay open, idle; its peak RSS (``VmHWM``) is read from ``/proc`` while
they are open. Target: ≤ 60 MiB.

Everything runs on loopback, every load is bounded by time, every process started is
stopped by its pid. Run: ``.venv/bin/python bench/echo.py [--duration 10] [--repeats 3]
[--connections 64] [--idle 1000] [--quick]``; needs wrk and nginx (Debian packages).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SERVER_CPU, LOAD_CPU = 0, 1
READY_TIMEOUT_S = 15.0
NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "$remote_addr\\n"; }}
    }}
}}
"""
#: Targets from issue 5 §4: srcip ÷ peer in requests/s, and the idle-connection RSS.
TARGETS = {"uvicorn + Starlette": 1.5, "gunicorn + Flask (seed)": 5.0}
RSS_TARGET_MIB = 60.0


@dataclass(frozen=True)
class Contender:
    """A server to measure: how to start it on a port, and what its answer must contain."""

    name: str
    argv: Callable[[int, Path], list[str]]
    expect: bytes


@dataclass(frozen=True)
class WrkRun:
    """One wrk run's figures."""

    requests_per_s: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Row:
    """A contender's median run."""

    name: str
    run: WrkRun
    runs: tuple[WrkRun, ...]


def free_port() -> int:
    """A TCP port on 127.0.0.1 the kernel just handed out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def program(name: str) -> str:
    """The path of ``name`` (also looked for in the sbin directories)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if not found:
        sys.exit(f"bench/echo.py: {name} is not installed (Debian package: {name})")
    return found


def contenders() -> list[Contender]:
    """srcip echo and its peers (the module docstring)."""
    venv_bin = Path(PYTHON).parent
    nginx = program("nginx")

    def srcip(port: int, tmp: Path) -> list[str]:
        code = "from srcip.cli.main import main; main()"
        return [PYTHON, "-c", code, "echo", "--host", "127.0.0.1", "--port", str(port)]

    def gunicorn(port: int, tmp: Path) -> list[str]:
        return [str(venv_bin / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                "bench.echo_apps:flask_app"]  # fmt: skip

    def uvicorn(port: int, tmp: Path) -> list[str]:
        return [str(venv_bin / "uvicorn"), "--host", "127.0.0.1", "--port", str(port),
                "bench.echo_apps:starlette_app"]  # fmt: skip

    def nginx_argv(port: int, tmp: Path) -> list[str]:
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        return [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]

    return [
        Contender("srcip echo", srcip, b'"peer":{"ip":"127.0.0.1"'),
        Contender("uvicorn + Starlette", uvicorn, b'"peer":{"ip":"127.0.0.1"'),
        Contender("gunicorn + Flask (seed)", gunicorn, b'"yourIP":"127.0.0.1"'),
        Contender("nginx return (ceiling)", nginx_argv, b"127.0.0.1\n"),
    ]


def _pin(cpu: int) -> Callable[[], None]:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and cpu in os.sched_getaffinity(0):
            os.sched_setaffinity(0, {cpu})

    return pin


@contextlib.contextmanager
def running(argv: Sequence[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server (output to /dev/null) pinned to SERVER_CPU; stop it by its pid."""
    process = subprocess.Popen(
        list(argv),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_pin(SERVER_CPU),  # affinity is set in the child
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start (exit {process.poll()})")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def fetch(port: int) -> bytes:
    """One ``GET /`` with Connection: close; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> WrkRun:
    """Requests/s, p99 (ms) and errors from ``wrk --latency`` output."""
    rps = _RPS.search(text)
    p99 = _P99.search(text)
    if rps is None or p99 is None:
        raise ValueError(f"not wrk --latency output:\n{text}")
    errors = sum(int(n) for n in _ERRORS.search(text).groups()) if _ERRORS.search(text) else 0
    non_2xx = _NON_2XX.search(text)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return WrkRun(float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], errors)


def wrk(port: int, seconds: float, connections: int) -> WrkRun:
    """One bounded wrk run pinned to LOAD_CPU."""
    argv = [program("wrk"), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            f"http://127.0.0.1:{port}/"]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 30, check=True,
        preexec_fn=_pin(LOAD_CPU),
    )  # fmt: skip
    return parse_wrk(done.stdout)


def measure_all(
    entrants: Sequence[Contender], seconds: float, repeats: int, connections: int
) -> list[Row]:
    """Start every contender, check and warm each, then ``repeats`` rounds of one run each
    (round-robin, so a change in background load hits every contender alike); the median
    run of each by requests/s."""
    with contextlib.ExitStack() as stack:
        ports = []
        for contender in entrants:
            port = free_port()
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            stack.enter_context(running(contender.argv(port, tmp), port))
            answer = fetch(port)
            if contender.expect not in answer:
                raise RuntimeError(f"{contender.name} answered unexpectedly:\n{answer[:500]!r}")
            wrk(port, min(2.0, seconds), connections)
            ports.append(port)
        runs: list[list[WrkRun]] = [[] for _ in entrants]
        for _ in range(repeats):
            for found, port in zip(runs, ports, strict=True):
                found.append(wrk(port, seconds, connections))
    rows = []
    for contender, found in zip(entrants, runs, strict=True):
        median = sorted(found, key=lambda r: r.requests_per_s)[len(found) // 2]
        rows.append(Row(contender.name, median, tuple(found)))
    return rows


def _status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def idle_rss(count: int) -> tuple[float, float, int]:
    """(peak RSS MiB, RSS MiB before the connections, connections answered) for a fresh
    ``srcip echo`` holding ``count`` idle keep-alive connections."""
    port = free_port()
    argv = contenders()[0].argv(port, Path("."))
    with running(argv, port) as process:
        before = _status(process.pid, "VmRSS") / 1024
        socks: list[socket.socket] = []
        answered = 0
        try:
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                socks.append(sock)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            for sock in socks:
                answered += b"200 OK" in sock.recv(65536)
            time.sleep(0.5)
            peak = _status(process.pid, "VmHWM") / 1024
        finally:
            for sock in socks:
                sock.close()
    return peak, before, answered


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def render(rows: list[Row], rss: tuple[float, float, int], args: argparse.Namespace) -> str:
    """The report: machine, table, ratios against the targets, memory."""
    srcip = rows[0].run
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    lines = [
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()},"
        f" wrk -t1 -c{args.connections}, {args.repeats} x {args.duration:g} s, median run",
        "",
        f"{'server':<26} {'requests/s':>11} {'p99':>9} {'errors':>7} {'srcip ÷ it':>11}"
        "  runs (requests/s)",
    ]
    for row in rows:
        ratio = srcip.requests_per_s / row.run.requests_per_s
        spread = ", ".join(f"{run.requests_per_s:,.0f}" for run in row.runs)
        lines.append(
            f"{row.name:<26} {row.run.requests_per_s:>11,.0f} {row.run.p99_ms:>7.2f}ms"
            f" {row.run.errors:>7} {ratio:>10.2f}x  {spread}"
        )
    lines.append("")
    for row in rows:
        target = TARGETS.get(row.name)
        if target is not None:
            ratio = srcip.requests_per_s / row.run.requests_per_s
            verdict = "met" if ratio >= target else "MISSED"
            lines.append(f"target srcip >= {target}x {row.name}: {ratio:.2f}x, {verdict}")
    peak, before, answered = rss
    verdict = "met" if peak <= RSS_TARGET_MIB else "MISSED"
    lines.append(
        f"peak RSS with {answered} idle keep-alive connections: {peak:.1f} MiB"
        f" (at start {before:.1f} MiB); target <= {RSS_TARGET_MIB:g} MiB, {verdict}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per contender")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections for RSS")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeats = 2.0, 1
    if args.duration <= 0 or args.repeats < 1 or args.connections < 1 or args.idle < 1:
        parser.error("--duration, --repeats, --connections and --idle must be positive")
    program("wrk")
    _raise_fd_limit(args.idle + 256)
    rows = measure_all(contenders(), args.duration, args.repeats, args.connections)
    rss = idle_rss(args.idle)
    print(render(rows, rss, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
