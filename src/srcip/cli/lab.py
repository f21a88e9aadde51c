"""``srcip lab run|up|down``: the scenario as real listeners on loopback, next to the model."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections.abc import Callable
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress, TaskID

from srcip.cli.common import FILES, OUTPUT, VERBOSE, emit_json, make_console, reports_errors
from srcip.cli.path import load
from srcip.errors import UsageError
from srcip.lab import parse_experiments, run_lab
from srcip.lab.addresses import DEFAULT_BASE
from srcip.lab.cluster import LabCluster
from srcip.lab.report import lab_json, print_lab
from srcip.lab.reportdir import write_report
from srcip.lab.run import (
    STATE_FILE,
    address_roles,
    clear_state,
    curl_commands,
    default_run_dir,
    hold_lab,
    is_lab_process,
    read_state,
)
from srcip.model.timeline import parse_event

__all__ = ["lab"]

F = Callable[..., Any]


@click.group()
def lab() -> None:
    """Run a scenario as real processes and TCP on this machine."""


def _common(func: F) -> F:
    """Options ``run`` and ``up`` share: the Service, the seed, the timing, the engine."""
    for option in reversed(
        (
            click.option(
                "--seed", type=int, default=None, help="Seed every random choice (default: random)."
            ),
            click.option(
                "--service", help="NAMESPACE/NAME of the Service to run (default: the Scenario's)."
            ),
            click.option(
                "--time-scale",
                type=click.FloatRange(min=0.01, max=1.0),
                default=1.0,
                show_default=True,
                help="Run the health checks and the failover's clocks (events, endpoint delay, "
                "preStop, grace) this much faster than configured; reports say so.",
            ),
            click.option(
                "--address-base",
                "base",
                default=str(DEFAULT_BASE),
                show_default=True,
                callback=_network,
                help="The loopback network the address plan allocates from; two labs at once "
                "on one machine need different ones (e.g. 127.2.0.0/16).",
            ),
            click.option(
                "--engine",
                type=click.Choice(["builtin", "real"]),
                default="builtin",
                show_default=True,
                help="real: HAProxy as the load balancer (Debian package haproxy).",
            ),
        )
    ):
        func = option(func)
    return func


def _network(ctx: click.Context, param: click.Parameter, value: str) -> IPv4Network:
    try:
        network = IPv4Network(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an IPv4 network ({exc})") from None
    if not network.subnet_of(IPv4Network("127.0.0.0/8")) or network.num_addresses < 256:
        raise click.BadParameter(f"{value} must lie in 127.0.0.0/8 and hold at least 256 addresses")
    return network


def _run_dir(value: str | None) -> Path:
    return Path(value) if value else default_run_dir()


RUN_DIR = click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where `lab up` keeps its state (default: $XDG_RUNTIME_DIR/srcip-lab or "
    "/tmp/srcip-lab-UID).",
)


@lab.command()
@FILES
@click.option(
    "--experiment",
    "experiments",
    default="visibility,share",
    show_default=True,
    help="Comma-separated: visibility, share, failover, ratelimit.",
)
@_common
@click.option(
    "--requests",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="visibility: requests per client.",
)
@click.option(
    "--connections",
    type=click.IntRange(1, 10_000),
    default=600,
    show_default=True,
    help="share: new connections in all.",
)
@click.option(
    "--compare-policies",
    is_flag=True,
    help="visibility and ratelimit under both externalTrafficPolicy values.",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    help="failover: an event, e.g. 'delete pod/echo-0 at 5s' (repeatable; adds to the "
    "Scenario's; default: delete the first pod at a third of the run).",
)
@click.option(
    "--rate",
    type=click.FloatRange(1, 2000),
    default=200.0,
    show_default=True,
    help="failover: new connections per second.",
)
@click.option(
    "--terminating-fallback/--no-terminating-fallback",
    "fallback",
    default=None,
    help="failover: kube-proxy's use of terminating endpoints (default: the Scenario's).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 30),
    default=3.0,
    show_default=True,
    help="Seconds before a request counts as timed out (a silent drop).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Also write DIR/lab.json, PNG plots and DIR/index.html.",
)
@OUTPUT
@VERBOSE
@reports_errors
def run(
    files: tuple[str, ...],
    experiments: str,
    seed: int | None,
    service: str | None,
    time_scale: float,
    base: IPv4Network,
    engine: str,
    requests: int,
    connections: int,
    compare_policies: bool,
    events: tuple[str, ...],
    rate: float,
    fallback: bool | None,
    timeout: float,
    report_dir: str | None,
    output: str,
    verbose: bool,
) -> None:
    """Bring the scenario up on loopback, send real traffic, compare with the model.

    Exit code 1 when the lab saw something the model does not allow; Ctrl-C stops
    everything it started (exit code 130).

    \b
    srcip lab run -f examples/echo/echo.yaml -f examples/echo/scenario.yaml
    srcip lab run -f scenario.yaml --experiment share --connections 2000 --seed 7 -o json
    srcip lab run -f echo.yaml -f scenario.yaml --experiment visibility,failover \\
        --compare-policies --time-scale 0.2 --report lab-report
    """
    chosen = parse_experiments(experiments)
    parsed = tuple(parse_event(text) for text in events)
    cluster = load(files, verbose)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    with Progress(console=make_console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        try:
            result = asyncio.run(
                run_lab(
                    cluster, experiments=chosen, service=service, seed=seed, requests=requests,
                    connections=connections, time_scale=time_scale, progress=progress,
                    engine=engine, compare_policies=compare_policies, events=parsed, rate=rate,
                    fallback=fallback, timeout=timeout, base=base,
                )
            )  # fmt: skip
        except KeyboardInterrupt:
            click.echo("srcip: interrupted; the lab was stopped", err=True)
            raise SystemExit(130) from None
    if output == "json":
        emit_json(lab_json(result))
    else:
        print_lab(make_console(), result)
    if report_dir is not None:
        written = write_report(result, Path(report_dir))
        click.echo(f"report written to {written}", err=output == "json")
    if not result.ok:
        raise SystemExit(1)


@lab.command()
@FILES
@_common
@RUN_DIR
@VERBOSE
@reports_errors
def up(
    files: tuple[str, ...],
    seed: int | None,
    service: str | None,
    time_scale: float,
    base: IPv4Network,
    engine: str,
    run_dir: str | None,
    verbose: bool,
) -> None:
    """Keep the scenario running on loopback for manual curl until `srcip lab down`.

    Prints a curl command per client (bound to the client's loopback address) and what
    every loopback address stands for; the pid goes to RUN_DIR/lab.json.

    \b
    srcip lab up -f examples/echo/echo.yaml -f examples/echo/scenario.yaml &
    srcip lab down
    """
    directory = _run_dir(run_dir)
    state = read_state(directory)
    if state is not None and is_lab_process(state["pid"]):
        raise UsageError(
            f"a lab is already up (pid {state['pid']}, {directory / STATE_FILE}). Fix: run "
            "srcip lab down first, or give another --run-dir"
        )
    clear_state(directory)  # a stale one: its process is gone
    cluster = load(files, verbose)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    console = make_console()

    def ready(lab: LabCluster) -> None:
        for what, command in curl_commands(lab):
            console.print(f"# {what}\n{command}", soft_wrap=True, highlight=False)
        console.print("# loopback addresses and what they stand for:", highlight=False)
        for address, local, role in address_roles(lab):
            console.print(f"#   {local:<15} {address!s:<15} {role}", highlight=False)
        directory.mkdir(parents=True, exist_ok=True)
        data = {"pid": os.getpid(), "scenario": lab.scenario.name, "service": lab.entry.key,
                "commands": [c for _, c in curl_commands(lab)]}  # fmt: skip
        (directory / STATE_FILE).write_text(json.dumps(data, indent=2) + "\n")
        console.print(f"# up (pid {os.getpid()}); stop it with: srcip lab down", highlight=False)

    try:
        asyncio.run(
            hold_lab(
                cluster, ready=ready, service=service, seed=seed, time_scale=time_scale,
                engine=engine, base=base,
            )
        )  # fmt: skip
    finally:
        state = read_state(directory)
        if state is not None and state["pid"] == os.getpid():
            clear_state(directory)
    console.print("# down", highlight=False)


@lab.command()
@RUN_DIR
@click.option(
    "--wait",
    type=click.FloatRange(0.1, 60),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the lab to stop.",
)
@reports_errors
def down(run_dir: str | None, wait: float) -> None:
    """End the lab `srcip lab up` keeps running (by its pid) and remove its state."""
    directory = _run_dir(run_dir)
    state = read_state(directory)
    if state is None:
        click.echo("no lab is up")
        return
    pid = state["pid"]
    if is_lab_process(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while is_lab_process(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if is_lab_process(pid):
            raise UsageError(f"the lab (pid {pid}) did not stop within {wait:g}s. Fix: kill {pid}")
    clear_state(directory)
    click.echo(f"lab (pid {pid}) is down")
