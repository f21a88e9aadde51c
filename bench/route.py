"""The route benchmark: srcip's model at real cluster sizes, against its stated targets.

For each scale (1.0 = 5,000 nodes, 10,000 Services, 200,000 endpoints; see
:mod:`bench.generate`) one child process writes a synthetic cluster and a packet list as
JSON to a temporary directory (not timed), then another **fresh subprocess** measures, so
that peak RSS (``ru_maxrss``) belongs to that scale's load alone:

(a) ``load_cluster`` + ``build_index``: seconds and peak RSS;
(b) ``route_packet`` over every packet on one core (the worker pins itself to one CPU):
    the first pass on a fresh index ("cold", which also builds per-node views and
    per-Service memo tables), then the best of three more passes over the same packets
    ("warm", the warm-up excluded);
(c) ``health_report`` over every node for every health-checked Service, touching every
    answer's status and weight so nothing stays lazily uncomputed.

It prints the figures beside the targets as ratios ("× target": target ÷ measured for
costs, measured ÷ target for rates, so ≥ 1.00× meets the target), then how each cost grows
with size: cost ratio between scales and its exponent log(cost ratio) / log(size ratio)
(1 = linear, 2 = quadratic). Targets, for scale 1.0: load+index ≤ 10 s within 2 GiB peak
RSS; ≥ 50,000 packets/s; health for all nodes ≤ 5 s.

Benchmarks are programs, not timed tests (STYLE §14). Nothing here touches the network.
Run: ``.venv/bin/python bench/route.py [--scales 0.1,0.5,1.0] [--packets 200000] [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# `make bench` runs this file by path, which puts bench/ (not the repository) on sys.path.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# E402: these imports need the sys.path entry above when the file is run as a script.
from bench.generate import (  # noqa: E402
    generate_packets,
    sizes_for,
    write_cluster,
    write_packets,
)
from bench.harness import (  # noqa: E402
    Growth,
    Json,
    Metric,
    fmt,
    parse_scales,
    peak_rss_mib,
    pin_one_core,
    render_growth,
    render_targets,
    spawn,
    table,
)
from bench.machine import describe_machine  # noqa: E402

CHILD_TIMEOUT_S = 3600  # per child; the full scale needs about a minute
HEALTH_NOW = datetime(2026, 11, 21, tzinfo=UTC)
WARM_PASSES = 3  # best of, as timeit does: the least disturbed run
QUICK_SCALES = (0.02,)
QUICK_PACKETS = 2_000


METRICS = (
    Metric(key="load_s", label="load + index (s)", target=10.0),
    Metric(key="rss_mib", label="peak RSS, load+index (MiB)", target=2048.0),
    Metric(
        key="route_warm_pps", label="route, warm (packets/s)", target=50_000, higher_is_better=True
    ),
    Metric(
        key="route_cold_pps",
        label="route, cold (packets/s)",
        target=50_000,
        higher_is_better=True,
        binding=False,  # the target is for the warm rate; cold shows what first-use costs
    ),
    Metric(key="health_s", label="health, all nodes (s)", target=5.0),
)


# --------------------------------------------------------------------------- worker (one scale)


def _measure_load(cluster_path: Path) -> tuple[Any, Json]:
    from srcip.manifests import load_cluster
    from srcip.model.index import build_index

    baseline = peak_rss_mib()
    start = time.perf_counter()
    cluster = load_cluster([cluster_path])
    loaded = time.perf_counter()
    index = build_index(cluster)
    done = time.perf_counter()
    figures = {
        "load_only_s": loaded - start,
        "index_only_s": done - loaded,
        "load_s": done - start,
        "rss_mib": peak_rss_mib(),
        "rss_baseline_mib": baseline,
    }
    return index, figures


def _read_packets(packets_path: Path) -> list[tuple[str, Any]]:
    from ipaddress import ip_address

    from srcip.model.enums import Protocol
    from srcip.model.packet import Packet

    rows = json.loads(packets_path.read_text(encoding="utf-8"))
    return [
        (
            node,
            Packet(src=ip_address(src), dst=ip_address(dst), port=port, protocol=Protocol(proto)),
        )
        for node, src, dst, port, proto in rows
    ]


def _route_pass(index: Any, packets: Sequence[tuple[str, Any]]) -> tuple[float, Counter[str]]:
    from srcip.model.kubeproxy import route_packet

    verdicts: Counter[str] = Counter()
    start = time.perf_counter()
    for node, packet in packets:
        verdicts[route_packet(index, node, packet).verdict] += 1
    return time.perf_counter() - start, verdicts


def _measure_route(index: Any, packets_path: Path) -> Json:
    """The first pass on a fresh index is "cold"; "warm" is the best of the next passes."""
    packets = _read_packets(packets_path)
    cold_s, verdicts = _route_pass(index, packets)
    warm_s = min(_route_pass(index, packets)[0] for _ in range(WARM_PASSES))
    return {
        "packets": len(packets),
        "route_cold_pps": len(packets) / cold_s,
        "route_warm_pps": len(packets) / warm_s,
        "verdicts": dict(verdicts),
    }


def _touch_answers(report: Any) -> Json:
    """Read every answer's status and weight, per Service × node and per node's /healthz."""
    from http import HTTPStatus

    rows = ok = weight = 0
    status_ok = HTTPStatus.OK  # hoisted: an enum member lookup costs as much as a row
    for row in report.rows():
        rows += 1
        ok += row.answer.status is status_ok
        weight += row.local_endpoints  # the X-Load-Balancing-Endpoint-Weight value (KP §13.3)
    healthz_ok = sum(answers.healthz.status is HTTPStatus.OK for answers in report.proxy.values())
    return {
        "health_answers": rows,
        "health_ok": ok,
        "health_weight": weight,
        "healthz_ok": healthz_ok,
    }


def _measure_health(index: Any) -> Json:
    from srcip.model.healthreport import health_report

    start = time.perf_counter()
    report = health_report(index, now=HEALTH_NOW)
    built = time.perf_counter()
    figures = _touch_answers(report)
    done = time.perf_counter()
    return figures | {
        "health_s": done - start,
        "health_report_s": built - start,
        "health_rows_s": done - built,
        "health_services": len(report.services),
    }


def run_worker(scale: float, cluster_path: Path, packets_path: Path) -> Json:
    """Measure one scale in this (fresh) process; return the figures."""
    pin_one_core()
    for module in ("srcip.manifests", "srcip.model.kubeproxy", "srcip.model.healthcheck"):
        importlib.import_module(module)  # import time is not load time

    index, figures = _measure_load(cluster_path)
    figures |= {"scale": scale, "nodes": len(index.nodes)}
    figures |= _measure_route(index, packets_path)
    gc.collect()
    figures |= _measure_health(index)
    figures["rss_end_mib"] = peak_rss_mib()
    return figures


# --------------------------------------------------------------------------- parent


def _generate(scale: float, packets: int, workdir: Path) -> Json:
    """Write the cluster and the packets for one scale (not timed); return their paths."""
    cluster_path = workdir / f"cluster-{scale}.json"
    packets_path = workdir / f"packets-{scale}.json"
    cluster = write_cluster(cluster_path, scale)
    write_packets(packets_path, generate_packets(cluster, packets))
    return {"cluster": str(cluster_path), "packets": str(packets_path)}


def measure(scales: Iterable[float], packets: int) -> list[Json]:
    """Figures for each scale, each measured in its own subprocess."""
    results = []
    with tempfile.TemporaryDirectory(prefix="srcip-bench-") as tmp:
        for scale in scales:
            sizes = sizes_for(scale)
            print(
                f"scale {scale}: {sizes.nodes} nodes, {sizes.services} Services, "
                f"{sizes.endpoints} endpoints, {packets} packets ...",
                file=sys.stderr,
                flush=True,
            )
            paths = spawn(
                __file__, "--generate", str(scale), str(packets), tmp, timeout=CHILD_TIMEOUT_S
            )
            worker = ("--worker", str(scale), paths["cluster"], paths["packets"])
            results.append(spawn(__file__, *worker, timeout=CHILD_TIMEOUT_S))
            for path in paths.values():
                Path(path).unlink()
    return results


# --------------------------------------------------------------------------- report


GROWTH = (
    Growth("load + index (s)", 1, "linear in objects", lambda r: r["load_s"]),
    Growth(
        "RSS above interpreter (MiB)",
        1,
        "linear in objects",
        lambda r: r["rss_mib"] - r["rss_baseline_mib"],
    ),
    Growth("route, warm (µs/packet)", 0, "indexed", lambda r: 1e6 / r["route_warm_pps"]),
    Growth("route, cold (µs/packet)", 0, "indexed", lambda r: 1e6 / r["route_cold_pps"]),
    Growth("health, all nodes (s)", 2, "nodes × HC Services", lambda r: r["health_s"]),
    Growth(
        "health (µs/answer)", 0, "per answer", lambda r: 1e6 * r["health_s"] / r["health_answers"]
    ),
)


def render_sizes(results: Sequence[Json]) -> str:
    """What was measured at each scale, with verdict and status mixes as a sanity check."""
    header = ["scale", "nodes", "Services", "endpoints", "HC Services", "HC answers (200)"]
    rows = []
    for r in results:
        sizes = sizes_for(r["scale"])
        counts = (r["nodes"], sizes.services, sizes.endpoints, r["health_services"])
        answers = f"{r['health_answers']:,} ({r['health_ok']:,})"
        rows.append([str(r["scale"]), *(f"{n:,}" for n in counts), answers])
    return table(header, rows)


def render_verdicts(results: Sequence[Json]) -> str:
    """The routing verdict mix per scale (first pass), as a sanity check."""
    names = sorted({v for r in results for v in r["verdicts"]})
    rows = []
    for r in results:
        total = sum(r["verdicts"].values())
        rows.append(
            [str(r["scale"]), *(f"{100 * r['verdicts'].get(v, 0) / total:.1f}%" for v in names)]
        )
    return table(["scale", *names], rows)


def render_breakdown(results: Sequence[Json]) -> str:
    """Where the load and health seconds go."""
    parts = {
        "load_only_s": "load_cluster (s)",
        "index_only_s": "build_index (s)",
        "health_report_s": "health_report (s)",
        "health_rows_s": "read every answer (s)",
    }
    header = ["step", *(f"scale {r['scale']}" for r in results)]
    return table(header, [[label, *(fmt(r[key]) for r in results)] for key, label in parts.items()])


def render(results: Sequence[Json], packets: int) -> str:
    """The whole report."""
    parts = [
        f"srcip route benchmark — {describe_machine()}",
        "",
        render_sizes(results),
        "",
        render_verdicts(results),
        "",
        f"Targets (stated for scale 1.0); × target = target ÷ measured for costs, "
        f"measured ÷ target for rates: ≥ 1.00× meets. Route over {packets:,} packets on one core.",
        render_targets(results, METRICS),
        "",
        render_breakdown(results),
    ]
    if len(results) > 1:
        parts += [
            "",
            "Growth with size (exponent = log cost ratio ÷ log size ratio):",
            render_growth(results, GROWTH),
        ]
    return "\n".join(parts)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="srcip route benchmark (prints ratios to targets)")
    parser.add_argument(
        "--scales",
        type=parse_scales,
        default="0.1,0.5,1.0",
        help="comma-separated; 1.0 = 5,000 nodes",
    )
    parser.add_argument("--packets", type=int, default=200_000, help="packets routed per pass")
    parser.add_argument(
        "--quick", action="store_true", help=f"scale {QUICK_SCALES[0]}, {QUICK_PACKETS} packets"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)  # SCALE CLUSTER PACKETS
    parser.add_argument("--generate", nargs=3, help=argparse.SUPPRESS)  # SCALE PACKETS DIR
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every scale in its own subprocess and print the report."""
    args = _parse(argv)
    if args.worker:
        scale, cluster_path, packets_path = args.worker
        print(json.dumps(run_worker(float(scale), Path(cluster_path), Path(packets_path))))
        return
    if args.generate:
        scale, count, workdir = args.generate
        print(json.dumps(_generate(float(scale), int(count), Path(workdir))))
        return
    scales = QUICK_SCALES if args.quick else args.scales
    packets = QUICK_PACKETS if args.quick else args.packets
    results = measure(scales, packets)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results, packets))


if __name__ == "__main__":
    main()
