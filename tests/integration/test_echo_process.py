"""`srcip echo` as a real process: it serves, and SIGTERM drains without losing a request."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.echo_harness import IO_TIMEOUT_S, parse_answers
from tests.integration.processes import accepts_connections, free_port

READY_TIMEOUT_S = 10.0


@pytest.fixture
def echo_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """``srcip echo`` on 127.0.0.1 at a free port, JSON logs to a file; always reaped."""
    port = free_port()
    log_path = tmp_path / "echo.log"
    argv = [
        sys.executable, "-c", "from srcip.cli.main import main; main()", "echo",
        "--host", "127.0.0.1", "--port", str(port), "--grace", "5", "--log-format", "json",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not accepts_connections("127.0.0.1", port):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "srcip echo did not start"
            time.sleep(0.05)
        yield process, port, log_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=IO_TIMEOUT_S)


def _send(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
    sock.sendall(data)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_sigterm_drains_in_flight_requests_then_exits_0(
    echo_process: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """Requests in flight at SIGTERM are all answered, idle keep-alives closed, exit 0."""
    process, port, log_path = echo_process
    idle = _send(port, b"GET /warm HTTP/1.1\r\n\r\n")
    busy = [
        _send(port, b"GET /%d?delay=%d HTTP/1.1\r\n\r\n" % (i, 400 + 100 * i)) for i in range(1, 6)
    ]
    try:
        assert parse_answers(idle.recv(65536))[0].status == 200  # now idle, kept alive
        time.sleep(0.2)  # the server has read them all: they are in flight
        process.send_signal(signal.SIGTERM)
        answers = [parse_answers(_read_all(sock)) for sock in busy]
        assert _read_all(idle) == b""
    finally:
        for sock in (idle, *busy):
            sock.close()
    assert [[a.status for a in found] for found in answers] == [[200]] * 5
    paths = [json.loads(found[0].body)["request"]["path"] for found in answers]
    assert paths == [f"/{i}" for i in range(1, 6)]
    assert all(found[0].headers["connection"] == "close" for found in answers)
    assert process.wait(timeout=IO_TIMEOUT_S) == 0
    assert not accepts_connections("127.0.0.1", port)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    messages = [line["message"] for line in lines]
    assert messages[0].startswith(f"srcip echo listening on http://127.0.0.1:{port}")
    assert messages[-1] == "stopped"
    served = [line["path"] for line in lines if line["message"].startswith("Request from")]
    assert sorted(served) == sorted(["/warm", "/1", "/2", "/3", "/4", "/5"])


def test_sigint_stops_an_idle_server(
    echo_process: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    """Ctrl-C (SIGINT) drains like SIGTERM and exits 0."""
    process, _, _ = echo_process
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=IO_TIMEOUT_S) == 0


def test_port_in_use_exits_2(tmp_path: Path) -> None:
    """A port already bound is bad input: exit 2 with a message naming the fix."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", "from srcip.cli.main import main; main()", "echo",
             "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert b"Fix: choose another --port" in done.stderr
