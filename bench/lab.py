"""The lab benchmark: client → LB → node → pod, built-in LB vs real HAProxy, same run.

Issue 6 §5. The seeds' echo scenario (``examples/echo``: passthrough LB, Local, two pods on
two of three nodes) runs twice at once in this process, on two address plans: once with
the built-in load balancer (:mod:`srcip.net.lbproxy`) and once with ``--engine real``
(HAProxy from :mod:`srcip.lab.realengine`); nodes and pods are the lab's own either way.
The lab runs on the default asyncio loop, as ``srcip lab run`` does.

Load comes from a separate process (this file with ``--client``, uvloop when installed)
that connects from the scenario client's loopback address, with ``--concurrency`` workers:

* ``new``: a new connection per request (``Connection: close``), the way the lab's
  experiments send; the client aborts after the answer, as they do;
* ``keep-alive``: one connection per worker, requests back to back.

Each worker checks every answer (HTTP 200). Requests/s count answers that started after a
warm-up and ended in the window; p99 is over those answers' latencies (connect to last
byte for ``new``). ``--repeats`` rounds alternate the engines so background load falls on
both alike; the median round is reported. Ratio = built-in ÷ HAProxy in requests/s
(target ≥ 0.5×). CPUs (when there are two or more): the lab process on CPU 0; the client
and HAProxy (one thread: it starts from the pinned lab) on CPU 1.

Start-up runs first, on a machine without the TIME_WAIT sockets the throughput rounds leave
(tens of thousands after the ``new`` rounds; they slow the ``/proc/net/tcp`` scan that
:func:`srcip.lab.real.process.run_peer` waits on). Start-up: time to bring the lab up
(``async with LabCluster``: address plan, pods, node data paths and health servers, the LB
and its first probe round) and to take it down, for 10 nodes / 30 pods and 100 nodes / 300
pods (a Deployment placed by the scheduler model from a generated Scenario; target "well
under 3 s" for 10/30); median of ``--repeats``. Beside it, the wall time of a whole ``srcip
lab run`` process making one request (the interpreter, imports, manifests, lab up and
down).

Everything binds loopback only, every load is bounded in time, every process started is
stopped by its pid. Run: ``.venv/bin/python bench/lab.py [--duration 5] [--repeats 3]
[--concurrency 32] [--quick]``; needs HAProxy (Debian package ``haproxy``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

# `make bench` runs this file by path, which puts bench/ (not the repository) on sys.path.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe_machine  # noqa: E402

ECHO = [str(ROOT / "examples/echo/echo.yaml"), str(ROOT / "examples/echo/scenario.yaml")]
LAB_CPU, LOAD_CPU = 0, 1
RATIO_TARGET = 0.5
STARTUP_TARGET_S = 3.0
CLIENT_TIMEOUT_S = 5.0
SIZES = ((10, 30), (100, 300))
BASES = {"builtin": IPv4Network("127.1.0.0/16"), "real": IPv4Network("127.2.0.0/16")}


# --------------------------------------------------------------------------- the client


async def _new_connection(host: str, port: int, source: str, request: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    try:
        writer.write(request)
        answer = await reader.read()
    finally:
        writer.transport.abort()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise ValueError(f"unexpected answer {answer[:40]!r}")


class _KeepAlive:
    def __init__(self, host: str, port: int, source: str) -> None:
        self.where = (host, port, source)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def ask(self, request: bytes) -> None:
        if self.streams is None:
            host, port, source = self.where
            self.streams = await asyncio.open_connection(host, port, local_addr=(source, 0))
        reader, writer = self.streams
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(f"unexpected answer {head[:40]!r}")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].transport.abort()
            self.streams = None


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    """Workers until the deadline; answers and latencies inside the measured window."""
    host, port = args.target.rsplit(":", 1)
    keep = args.mode == "keep-alive"
    close = "" if keep else "Connection: close\r\n"
    request = f"GET / HTTP/1.1\r\nHost: echo\r\n{close}\r\n".encode()
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution
    start = clock() + args.warmup
    end = start + args.duration
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        conn = _KeepAlive(host, int(port), args.source) if keep else None
        try:
            while (began := clock()) < end:
                try:
                    async with asyncio.timeout(CLIENT_TIMEOUT_S):
                        if conn is not None:
                            await conn.ask(request)
                        else:
                            await _new_connection(host, int(port), args.source, request)
                except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError):
                    errors += 1
                    if conn is not None:
                        conn.close()
                    continue
                done = clock()
                if began >= start and done <= end:
                    latencies.append(done - began)
        finally:
            if conn is not None:
                conn.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(args.concurrency):
            group.create_task(worker())
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None
    return {
        "requests": len(latencies),
        "rps": len(latencies) / args.duration,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": p99 * 1000 if p99 is not None else None,
        "errors": errors,
    }


def client_main(args: argparse.Namespace) -> None:
    """``--client``: load one target and print one JSON line."""
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LOAD_CPU})
    try:
        import uvloop

        result = uvloop.run(_load(args))
    except ImportError:
        result = asyncio.run(_load(args))
    print(json.dumps(result))


# --------------------------------------------------------------------------- the lab side


@dataclass(frozen=True)
class Round:
    """One client run against one engine and mode."""

    engine: str
    mode: str
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int


async def load_once(
    target: tuple[str, int], source: str, mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Run the client process against ``target`` (bounded) and read its JSON line."""
    argv = [
        sys.executable, __file__, "--client", "--target", f"{target[0]}:{target[1]}",
        "--source", source, "--mode", mode, "--duration", str(args.duration),
        "--warmup", str(args.warmup), "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        async with asyncio.timeout(args.duration + args.warmup + 30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the client failed:\n{err.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out)
    return result


@contextlib.asynccontextmanager
async def labs(cluster: Any) -> AsyncIterator[dict[str, Any]]:
    """Both engines' labs up at once, on their own address plans."""
    from srcip.lab import LabCluster
    from srcip.lab.realengine import RealLoadBalancer

    async with contextlib.AsyncExitStack() as stack:
        running = {}
        for engine, base in BASES.items():
            lab = LabCluster(cluster, seed=1, engine=engine, base=base)
            running[engine] = await stack.enter_async_context(lab)
            balancer = lab.load_balancer
            if isinstance(balancer, RealLoadBalancer) and (os.cpu_count() or 1) > 1:
                assert balancer.peer is not None
                os.sched_setaffinity(balancer.peer.pid, {LOAD_CPU})
        yield running


async def throughput(args: argparse.Namespace) -> list[Round]:
    """Alternating rounds per mode over both engines; every round."""
    from srcip.manifests import load_cluster

    cluster = load_cluster(ECHO, default_scenario=True)
    rounds: list[Round] = []
    async with labs(cluster) as running:
        for repeat in range(args.repeats):
            for mode in ("new", "keep-alive"):
                order = list(running) if repeat % 2 == 0 else list(reversed(running))
                for engine in order:
                    lab = running[engine]
                    scenario = lab.scenario
                    client = scenario.clients[0].address
                    source = lab.plan.local(client)
                    got = await load_once(lab.entry_address, source, mode, args)
                    rounds.append(
                        Round(engine, mode, got["rps"], got["p50_ms"], got["p99_ms"], got["errors"])
                    )
    return rounds


def scenario_yaml(nodes: int, pods: int) -> str:
    """A LoadBalancer Service (Local) with a Deployment of ``pods`` on ``nodes`` nodes."""
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: echo, ports: [{{containerPort: 8080}}]}}]
---
apiVersion: srcip.dev/v1alpha1
kind: Scenario
metadata: {{name: startup-{nodes}-{pods}}}
spec:
  service: default/web
  nodes: {nodes}
  loadBalancer: {{mode: passthrough}}
  clients: [203.0.113.7]
"""


async def startup(nodes: int, pods: int, engine: str, repeats: int) -> dict[str, float]:
    """Median seconds to load the YAML, bring the lab up, and take it down."""
    from srcip.lab import LabCluster
    from srcip.manifests import load_cluster

    with tempfile.TemporaryDirectory(prefix="srcip-bench-lab-") as name:
        path = Path(name) / "cluster.yaml"
        path.write_text(scenario_yaml(nodes, pods))
        loads, ups, downs = [], [], []
        for _ in range(repeats):
            began = time.perf_counter()
            cluster = load_cluster([str(path)], default_scenario=True)
            loaded = time.perf_counter()
            lab = LabCluster(cluster, seed=1, engine=engine)
            async with lab:
                up = time.perf_counter()
                assert len(lab.pods) == pods
                assert len(lab.nodes) == nodes
            down = time.perf_counter()
            loads.append(loaded - began)
            ups.append(up - loaded)
            downs.append(down - up)
    return {
        "load_s": statistics.median(loads),
        "up_s": statistics.median(ups),
        "down_s": statistics.median(downs),
    }


def cold_start(nodes: int, pods: int, repeats: int) -> float:
    """Median wall time of a whole ``srcip lab run`` process doing one request (bounded)."""
    srcip = str(Path(sys.executable).with_name("srcip"))
    times = []
    with tempfile.TemporaryDirectory(prefix="srcip-bench-lab-") as name:
        path = Path(name) / "cluster.yaml"
        path.write_text(scenario_yaml(nodes, pods))
        argv = [srcip, "lab", "run", "-f", str(path), "--experiment", "visibility",
                "--requests", "1", "--seed", "1", "-o", "json"]  # fmt: skip
        for _ in range(repeats):
            began = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, timeout=60)
            times.append(time.perf_counter() - began)
    return statistics.median(times)


# --------------------------------------------------------------------------- report


def _median_round(rounds: Sequence[Round]) -> Round:
    ordered = sorted(rounds, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def report_throughput(rounds: Sequence[Round]) -> None:
    """Median round per (engine, mode) and the built-in ÷ HAProxy ratio."""
    for mode in ("new", "keep-alive"):
        medians = {
            engine: _median_round([r for r in rounds if r.mode == mode and r.engine == engine])
            for engine in BASES
        }
        print(f"  {mode}:")
        for engine, r in medians.items():
            spread = sorted(x.rps for x in rounds if x.mode == mode and x.engine == engine)
            name = "built-in LB" if engine == "builtin" else "HAProxy LB"
            print(
                f"    {name:<12} {r.rps:9,.0f} req/s  p50 {_ms(r.p50_ms)}  p99 {_ms(r.p99_ms)}"
                f"  errors {r.errors}  (runs: {', '.join(f'{x:,.0f}' for x in spread)})"
            )
        ratio = medians["builtin"].rps / medians["real"].rps if medians["real"].rps else 0.0
        verdict = "meets" if ratio >= RATIO_TARGET else "MISSES"
        print(f"    ratio built-in ÷ HAProxy {ratio:.2f}× (target ≥ {RATIO_TARGET}×): {verdict}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the throughput rounds and the start-up timings; print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("new", "keep-alive"), help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1 s runs, one round")
    args = parser.parse_args(argv)
    if args.client:
        client_main(args)
        return
    if args.quick:
        args.duration, args.warmup, args.repeats = 1.0, 0.3, 1
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {LAB_CPU})
    print(f"srcip lab benchmark — {describe_machine()}")
    print(f"start-up (target for 10 nodes / 30 pods: well under {STARTUP_TARGET_S:g} s)")
    for nodes, pods in SIZES:
        for engine in BASES:
            if engine == "real" and nodes > SIZES[0][0]:
                continue
            row = asyncio.run(startup(nodes, pods, engine, args.repeats))
            note = ""
            if (nodes, pods) == SIZES[0]:
                ratio = STARTUP_TARGET_S / row["up_s"]
                note = f" — {ratio:.1f}× under {STARTUP_TARGET_S:g} s"
            print(
                f"  {nodes:>3} nodes / {pods:>3} pods ({engine:<7}): up {row['up_s']:.3f} s,"
                f" down {row['down_s']:.3f} s (manifests {row['load_s']:.3f} s){note}"
            )
        cold = cold_start(nodes, pods, args.repeats)
        print(
            f"  {nodes:>3} nodes / {pods:>3} pods, a whole `srcip lab run` process (start,"
            f" imports, manifests, lab up, 1 request, down): {cold:.2f} s"
        )
    print(
        f"client → LB → node → pod (examples/echo, passthrough, Local), {args.concurrency}"
        f" workers, {args.duration:g} s runs, median of {args.repeats}"
    )
    report_throughput(asyncio.run(throughput(args)))


if __name__ == "__main__":
    main()
