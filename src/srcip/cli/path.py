"""``srcip trace``, ``srcip share``, ``srcip timeline``: the whole path from a Scenario."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import ip_address

import click

from srcip.cli.common import FILES, OUTPUT, VERBOSE, emit_json, make_console, reports_errors
from srcip.cli.pathjson import share_json, timeline_json, trace_json
from srcip.cli.pathtext import print_share, print_timeline, print_trace
from srcip.errors import UsageError
from srcip.manifests import load_cluster
from srcip.model.objects import Cluster, IPAddress
from srcip.model.share import share as share_of
from srcip.model.timeline import parse_event, scenario_timeline
from srcip.model.trace import trace as trace_of

__all__ = ["share", "timeline", "trace"]

SERVICE = click.option(
    "--service",
    help="NAMESPACE/NAME of the Service to follow (default: the Scenario's, else every "
    "LoadBalancer/NodePort Service).",
)
PLOT = click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False),
    help="Also draw the result into this PNG file (matplotlib).",
)


def load(files: Sequence[str], verbose: bool) -> Cluster:
    """Load the input; with -v, print the loader's notes (placement included) on stderr."""
    cluster = load_cluster(files, default_scenario=True)
    notes = make_console(stderr=True)
    if verbose:
        for note in cluster.notes:
            notes.print(f"[dim]note:[/dim] {note}", highlight=False)
    for placement in cluster.placements:  # always: the trace below lacks these pods
        if placement.unschedulable:
            reasons = "; ".join(placement.reasons)
            notes.print(
                f"[yellow]warning:[/yellow] {placement.workload}: {placement.unschedulable} "
                f"replica(s) unschedulable: {reasons}",
                highlight=False,
            )
    return cluster


def _client(value: str | None) -> IPAddress | None:
    if value is None:
        return None
    try:
        return ip_address(value.strip())
    except ValueError as exc:
        raise UsageError(
            f"--client {value!r} is not an IP address. Fix: write an IPv4 or IPv6 address"
        ) from exc


@click.command()
@FILES
@click.option("--client", help="Trace this client address (default: the Scenario's clients).")
@SERVICE
@OUTPUT
@VERBOSE
@reports_errors
def trace(
    files: tuple[str, ...], client: str | None, service: str | None, output: str, verbose: bool
) -> None:
    """Every path a client's connection can take, and what each hop sees.

    \b
    srcip trace -f examples/seed-echo/scenario.yaml
    srcip trace -f cluster.yaml --client 203.0.113.7 --service default/echo -o json
    """
    address = _client(client)
    cluster = load(files, verbose)
    result = trace_of(cluster, service=service, client=address)
    if output == "json":
        emit_json(trace_json(result))
    else:
        print_trace(make_console(), result, verbose=verbose)


@click.command()
@FILES
@SERVICE
@click.option(
    "--compare-policies",
    is_flag=True,
    help="Also show the split under the other externalTrafficPolicy.",
)
@PLOT
@OUTPUT
@VERBOSE
@reports_errors
def share(
    files: tuple[str, ...],
    service: str | None,
    compare_policies: bool,
    plot_file: str | None,
    output: str,
    verbose: bool,
) -> None:
    """The expected share of new connections per node and per pod.

    \b
    srcip share -f examples/deployment-with-spread/scenario.yaml --compare-policies
    srcip share -f cluster.yaml -o json --plot share.png
    """
    cluster = load(files, verbose)
    report = share_of(cluster, service=service, compare_policies=compare_policies)
    if plot_file is not None:
        from srcip.cli.plots import plot_share  # matplotlib loads only when asked

        plot_share(report, plot_file)
    if output == "json":
        emit_json(share_json(report))
    else:
        print_share(make_console(), report)
        if plot_file is not None:
            make_console().print(f"plot written to {plot_file}")


@click.command()
@FILES
@click.option(
    "--event",
    "events",
    multiple=True,
    help="A failover event, e.g. 'delete pod/web-0 at 10s'; repeatable (adds to the Scenario's).",
)
@SERVICE
@click.option(
    "--probe-phase",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="When the first health probe goes out (seconds, below the probe interval).",
)
@PLOT
@OUTPUT
@VERBOSE
@reports_errors
def timeline(
    files: tuple[str, ...],
    events: tuple[str, ...],
    service: str | None,
    probe_phase: float,
    plot_file: str | None,
    output: str,
    verbose: bool,
) -> None:
    """Failover: where the load balancer sends, and what new connections get, over time.

    \b
    srcip timeline -f examples/failover/scenario.yaml --event 'delete pod/web-0 at 10s'
    srcip timeline -f cluster.yaml --event 'drain node/node-2 at 5s' -o json --plot tl.png
    """
    parsed = tuple(parse_event(text) for text in events)
    cluster = load(files, verbose)
    result = scenario_timeline(cluster, service=service, events=parsed, probe_phase=probe_phase)
    if plot_file is not None:
        from srcip.cli.plots import plot_timeline

        plot_timeline(result, plot_file)
    if output == "json":
        emit_json(timeline_json(result))
    else:
        print_timeline(make_console(), result)
        if plot_file is not None:
            make_console().print(f"plot written to {plot_file}")
