"""``srcip route`` and ``srcip health``: kube-proxy per packet, and every health answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import click

from srcip.cli.common import FILES, OUTPUT, VERBOSE, emit_json, make_console, reports_errors
from srcip.cli.render import health_json, health_tables, route_json, route_table
from srcip.errors import UsageError
from srcip.manifests import load_cluster
from srcip.manifests.packets import load_packets
from srcip.model import CNIMode, Packet, Protocol, build_index, route_packet
from srcip.model.healthcheck import DEFAULT_PROXIER_FAMILIES, ProxyHealthState
from srcip.model.healthreport import health_report
from srcip.model.index import ClusterIndex
from srcip.model.objects import IPAddress

__all__ = ["health", "route"]


def _address(value: str, option: str) -> IPAddress:
    try:
        return ip_address(value.strip())
    except ValueError as exc:
        raise UsageError(
            f"{option} {value!r} is not an IP address. Fix: write an IPv4 or IPv6 address"
        ) from exc


def _load(files: Sequence[str], verbose: bool) -> ClusterIndex:
    cluster = load_cluster(files)
    if verbose:  # on stderr, so that -o json stays parseable
        notes = make_console(stderr=True)
        for note in cluster.notes:
            notes.print(f"[dim]note:[/dim] {note}", highlight=False)
    return build_index(cluster)


@click.command()
@FILES
@click.option(
    "--node",
    "nodes",
    multiple=True,
    help="Node whose kube-proxy receives the packet; repeat for several.",
)
@click.option("--all-nodes", is_flag=True, help="Route the packet on every node of the input.")
@click.option("--src", help="Source IP of the packet (the client).")
@click.option("--dst", help="Destination IP (ClusterIP, node IP, externalIP or LB VIP).")
@click.option("--port", type=click.IntRange(1, 65535), help="Destination port.")
@click.option(
    "--protocol",
    type=click.Choice([p.value for p in Protocol], case_sensitive=False),
    default="TCP",
    show_default=True,
)
@click.option(
    "--packets",
    "packets_file",
    type=click.Path(dir_okay=False),
    help="YAML/JSON list of {src, dst, port, protocol}: route each one.",
)
@click.option(
    "--cni",
    type=click.Choice([m.value for m in CNIMode]),
    default=CNIMode.BRIDGE.value,
    show_default=True,
    help="bridge: SNAT toward a local pod uses the pod-network gateway; routed: the node IP.",
)
@OUTPUT
@VERBOSE
@reports_errors
def route(
    files: tuple[str, ...],
    nodes: tuple[str, ...],
    all_nodes: bool,
    src: str | None,
    dst: str | None,
    port: int | None,
    protocol: str,
    packets_file: str | None,
    cni: str,
    output: str,
    verbose: bool,
) -> None:
    """What kube-proxy on a node does with a new packet, and what source the pod sees.

    \b
    srcip route -f cluster.yaml --node node-1 --src 203.0.113.7 --dst 10.0.1.2 --port 30080
    srcip route -f cluster.yaml --all-nodes --packets packets.yaml -o json
    """
    console = make_console()
    packets = _packets(packets_file, src, dst, port, protocol)
    index = _load(files, verbose)
    if all_nodes:
        nodes = tuple(n.name for n in index.nodes)
    if not nodes:
        raise UsageError("give --node NAME (repeatable) or --all-nodes")
    mode = CNIMode(cni)
    results = [route_packet(index, n, p, cni=mode) for p in packets for n in nodes]
    if output == "json":
        data = [route_json(r) for r in results]
        emit_json(data[0] if len(data) == 1 and packets_file is None else data)
    else:
        console.print(route_table(results, reasons=verbose))


def _packets(
    packets_file: str | None, src: str | None, dst: str | None, port: int | None, protocol: str
) -> tuple[Packet, ...]:
    if packets_file is not None:
        if src or dst or port:
            raise UsageError("give either --packets FILE or --src/--dst/--port, not both")
        return load_packets(packets_file)
    if src is None or dst is None or port is None:
        given = (("--src", src), ("--dst", dst), ("--port", port))
        missing = ", ".join(name for name, value in given if value is None)
        raise UsageError(f"missing {missing} (or give --packets FILE)")
    return (
        Packet(
            src=_address(src, "--src"),
            dst=_address(dst, "--dst"),
            port=port,
            protocol=Protocol(protocol.upper()),
        ),
    )


@click.command()
@FILES
@click.option("--node", "nodes", multiple=True, help="Only these nodes (repeatable).")
@click.option(
    "--now",
    help="The instant to answer for (ISO 8601, e.g. 2026-01-01T00:00:00Z); default: now.",
)
@click.option(
    "--proxy-pending",
    type=click.FloatRange(min=0),
    default=None,
    help="kube-proxy has had an update queued for this many seconds without syncing "
    "(unhealthy past 2 × syncPeriod).",
)
@OUTPUT
@VERBOSE
@reports_errors
def health(
    files: tuple[str, ...],
    nodes: tuple[str, ...],
    now: str | None,
    proxy_pending: float | None,
    output: str,
    verbose: bool,
) -> None:
    """What every health check answers: healthCheckNodePort per Service × node, and :10256.

    \b
    srcip health -f cluster.yaml
    srcip health -f cluster.yaml --node node-3 -o json
    """
    console = make_console()
    moment = _instant(now)
    index = _load(files, verbose)
    for name in nodes:
        index.node(name)  # an unknown node is bad input
    state = None
    if proxy_pending is not None:
        since = moment - timedelta(seconds=proxy_pending)
        state = ProxyHealthState.synced(DEFAULT_PROXIER_FAMILIES, since)
        for family in DEFAULT_PROXIER_FAMILIES:
            state = state.queued(family, since)
    report = health_report(index, nodes=nodes or None, proxy_state=state, now=moment)
    if output == "json":
        emit_json(health_json(report))
    else:
        console.print(health_tables(report))


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"--now {text!r} is not an ISO 8601 time. Fix: write e.g. 2026-01-01T00:00:00Z"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
