"""Lifecycle: ``srcip lab up`` / ``down`` and Ctrl-C during ``srcip lab run`` leave nothing.

The lab runs as a child process (the real entry point), signalled by its pid only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Network
from pathlib import Path

from click.testing import CliRunner

from srcip.cli.main import cli
from srcip.lab import LabCluster
from srcip.manifests import load_cluster

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]
SRCIP = str(Path(sys.executable).parent / "srcip")
DEADLINE_S = 15.0


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _listening(base: str) -> list[tuple[str, int]]:
    """The scenario's pod, node and load balancer listeners under ``base``."""
    lab = LabCluster(load_cluster(ECHO, default_scenario=True), base=IPv4Network(base))
    found = [
        (lab.plan.local(ip), lab.plan.port(8080)) for pod in lab.cluster.pods for ip in pod.ips
    ]
    return [*found, (lab.plan.local(lab.vip), lab.plan.port(80))]  # the load balancer last


def _bindable(addresses: list[tuple[str, int]]) -> bool:
    for host, port in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen()
        except OSError:
            return False
        finally:
            sock.close()
    return True


def _get(command: str) -> bytes:
    """Run ``curl --interface SRC http://HOST:PORT/`` with a socket instead of curl."""
    parts = command.split()
    source = parts[parts.index("--interface") + 1]
    host, port = parts[-1].removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_up_serves_curl_and_down_leaves_nothing(tmp_path: Path) -> None:
    """up prints curl commands that work and writes its pid; down stops it by that pid and
    removes the state and run directory; every address binds again."""
    base, run_dir = "127.63.0.0/16", tmp_path / "run"
    argv = [SRCIP, "lab", "up", "-f", ECHO[0], "-f", ECHO[1], "--seed", "1",
            "--address-base", base, "--run-dir", str(run_dir)]  # fmt: skip
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        out = _up_and_down(child, run_dir)
    assert "curl --interface 127.63." in out
    assert "client 203.0.113.7" in out
    assert not run_dir.exists()
    assert _bindable(_listening(base))
    again = CliRunner().invoke(cli, ["lab", "down", "--run-dir", str(run_dir)])
    assert "no lab is up" in again.output


def _up_and_down(child: subprocess.Popen[str], run_dir: Path) -> str:
    try:
        _wait(lambda: (run_dir / "lab.json").exists(), "the state file")
        state = json.loads((run_dir / "lab.json").read_text())
        assert state["pid"] == child.pid
        command = state["commands"][0]
        answer = _get(command)
        assert answer.startswith(b"HTTP/1.1 200")
        source = command.split()[command.split().index("--interface") + 1]
        assert f'"{source}"'.encode() in answer  # Local: the client's own (loopback) address
        result = CliRunner().invoke(cli, ["lab", "down", "--run-dir", str(run_dir)])
        assert result.exit_code == 0, result.output
        assert child.wait(timeout=DEADLINE_S) == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    out, _ = child.communicate()
    return out


def test_ctrl_c_during_lab_run_stops_everything() -> None:
    """SIGINT in the middle of the share experiment: exit 130, no process, every address
    binds again."""
    base = "127.64.0.0/16"
    argv = [SRCIP, "lab", "run", "-f", ECHO[0], "-f", ECHO[1], "--seed", "1",
            "--experiment", "share", "--connections", "10000", "--address-base", base]  # fmt: skip
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            _wait(lambda: not _bindable(_listening(base)[-1:]), "the load balancer to listen")
            time.sleep(0.3)  # connections in flight
            child.send_signal(signal.SIGINT)
            code = child.wait(timeout=DEADLINE_S)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
        _, err = child.communicate()
    assert code == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert _bindable(_listening(base))
