"""``srcip lab run``: the scenario as real listeners on loopback, next to the model."""

from __future__ import annotations

import asyncio
import random

import click
from rich.progress import Progress, TaskID

from srcip.cli.common import FILES, OUTPUT, VERBOSE, emit_json, make_console, reports_errors
from srcip.cli.path import load
from srcip.lab import parse_experiments, run_lab
from srcip.lab.report import lab_json, print_lab

__all__ = ["lab"]


@click.group()
def lab() -> None:
    """Run a scenario as real processes and TCP on this machine."""


@lab.command()
@FILES
@click.option(
    "--experiment",
    "experiments",
    default="visibility,share",
    show_default=True,
    help="Comma-separated: visibility, share.",
)
@click.option("--seed", type=int, default=None, help="Seed every random choice (default: random).")
@click.option("--service", help="NAMESPACE/NAME of the Service to run (default: the Scenario's).")
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
    "--time-scale",
    type=click.FloatRange(min=0.01, max=1.0),
    default=1.0,
    show_default=True,
    help="Run the load balancer's health checks this much faster than configured.",
)
@OUTPUT
@VERBOSE
@reports_errors
def run(
    files: tuple[str, ...],
    experiments: str,
    seed: int | None,
    service: str | None,
    requests: int,
    connections: int,
    time_scale: float,
    output: str,
    verbose: bool,
) -> None:
    """Bring the scenario up on loopback, send real traffic, compare with the model.

    Exit code 1 when the lab saw something the model does not allow.

    \b
    srcip lab run -f examples/echo/echo.yaml -f examples/echo/scenario.yaml
    srcip lab run -f scenario.yaml --experiment share --connections 2000 --seed 7 -o json
    """
    chosen = parse_experiments(experiments)
    cluster = load(files, verbose)
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    with Progress(console=make_console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        result = asyncio.run(
            run_lab(
                cluster, experiments=chosen, service=service, seed=seed, requests=requests,
                connections=connections, time_scale=time_scale, progress=progress,
            )
        )  # fmt: skip
    if output == "json":
        emit_json(lab_json(result))
    else:
        print_lab(make_console(), result)
    if not result.ok:
        raise SystemExit(1)
