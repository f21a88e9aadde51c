"""`run_echo` in this process: serve, answer, stop on SIGTERM with the start/stop lines."""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
import threading
import time

import pytest

from srcip.net import EchoConfig, run_echo
from srcip.net.serve import loop_factory
from tests.integration.echo_harness import IO_TIMEOUT_S, parse_answers
from tests.integration.processes import accepts_connections, free_port

HOSTNAME = "echo-run-test"


def _client(port: int, answers: list[bytes]) -> None:
    """Wait for the server, make one request, then SIGTERM this process (only if it was
    our server that answered, so a stray listener on the port can never stop pytest)."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    while not accepts_connections("127.0.0.1", port):
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        sock.sendall(b"GET /run HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    answers.append(data)
    if HOSTNAME.encode() in data:
        os.kill(os.getpid(), signal.SIGTERM)


def test_run_echo_serves_until_sigterm() -> None:
    """run_echo announces its address, logs the request, drains on SIGTERM, returns 0."""
    port = free_port()
    config = EchoConfig(hosts=("127.0.0.1",), port=port, hostname=HOSTNAME, grace=1.0)
    stream = io.StringIO()
    answers: list[bytes] = []
    thread = threading.Thread(target=_client, args=(port, answers))
    thread.start()
    try:
        code = run_echo(config, stream=stream)
    finally:
        thread.join(timeout=IO_TIMEOUT_S)
    assert code == 0
    assert [a.status for a in parse_answers(answers[0])] == [200]
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"srcip echo listening on http://127.0.0.1:{port}"
    assert lines[1].startswith("Request from 127.0.0.1: GET /run peer=127.0.0.1:")
    assert lines[2].startswith("draining: ")
    assert lines[3] == "stopped"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_loop_factory_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop installed, asyncio's own loop is used."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_factory() is None


def test_loop_factory_with_uvloop() -> None:
    """With uvloop installed (the fast extra), its loop factory is used."""
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory() is uvloop.new_event_loop
