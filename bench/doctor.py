"""The doctor benchmark: ``srcip doctor -f dump.json`` at real cluster sizes, against its targets.

For each scale (1.0 = 5,000 nodes, 10,000 Services, 200,000 endpoints; see
:mod:`bench.generate`) one child process writes the synthetic cluster as a JSON dump (a
``kind: List``, as ``kubectl get -o json`` gives it; not timed), then another **fresh
subprocess**, pinned to one CPU, runs the doctor's own path as ``srcip doctor -f`` does, so
that peak RSS (``ru_maxrss``) belongs to that scale's diagnosis alone:

(a) ``read_documents`` + ``load_snapshot``: seconds;
(b) ``diagnose``: seconds, and inside that one call (timed by wrapping the functions
    :mod:`srcip.doctor.diagnose` calls, so nothing runs twice) ``infer``, ``build_index``,
    ``summarize`` over every external Service, and the checks with the rest by difference;
(c) ``diagnosis_json`` + ``json.dumps`` as ``-o json`` prints it: seconds and bytes;
(d) peak RSS after all of it (the documents stay alive to the end, as in the CLI), and after
    (a) and (b); also the number of external Services, node groups in all and per Service,
    and findings. ``srcip doctor`` pauses the cyclic garbage collector for the whole command
    (``collector_paused``), and so does the worker; pauses would show (``gc.callbacks``).

Targets (issue 7 §4), for scale 1.0: the whole diagnosis from the dump file (read + load +
diagnose) ≤ 15 s and peak RSS ≤ 2 GiB. The report prints "× target" = target ÷ measured, so
≥ 1.00× meets. Then how each cost grows with size: the cost ratio between scales and its
exponent log(cost ratio) / log(size ratio) (expected 1: linear in objects).

The peer, in the same run (:mod:`bench.doctor_peer`): the exact per-node models, ``trace`` +
``share`` over every external Service (quadratic, so at small scales only), against
``summarize`` on the same index, with both growth exponents, and a check that the two agree
on every Service. Any mismatch is printed and the program exits 1.

Benchmarks are programs, not timed tests (STYLE §14). Nothing here touches the network.
Run: ``.venv/bin/python bench/doctor.py [--scales 0.1,0.5,1.0] [--peer-scales
0.005,0.01,0.02] [--quick] [--json FILE]``.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

# `make bench` runs this file by path, which puts bench/ (not the repository) on sys.path.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# E402: these imports need the sys.path entry above when the file is run as a script.
from bench.doctor_peer import render_peers, run_peer  # noqa: E402
from bench.generate import sizes_for, write_cluster  # noqa: E402
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

if TYPE_CHECKING:
    from srcip.doctor import Diagnosis, Snapshot
    from srcip.errors import Where

CHILD_TIMEOUT_S = 3600  # per child
QUICK_SCALES = (0.01, 0.02)
QUICK_PEER_SCALES = (0.002, 0.005)
# What diagnose() calls, timed inside it (see _Stopwatch); the checks are the rest.
DIAGNOSE_PARTS = ("infer", "build_index", "summarize")

METRICS = (
    Metric(key="whole_s", label="whole diagnosis: read + load + diagnose (s)", target=15.0),
    Metric(key="rss_mib", label="peak RSS, after rendering (MiB)", target=2048.0),
)


# --------------------------------------------------------------------------- worker (one scale)


class _Stopwatch:
    """Time named functions of ``module`` while they are called from inside it.

    ``diagnose`` calls ``build_index``, ``summarize`` and ``infer`` through its module's
    globals; wrapping those names splits one real ``diagnose`` call without running anything
    twice (a second index would also raise the peak RSS the target is about).
    """

    def __init__(self, module: ModuleType, names: Sequence[str]) -> None:
        self.module, self.names = module, names
        self.seconds: dict[str, float] = dict.fromkeys(names, 0.0)
        self.calls: Counter[str] = Counter()

    def _wrap(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed

    @contextmanager
    def running(self) -> Iterator[_Stopwatch]:
        """The functions wrapped for the ``with`` block; each must have been called."""
        originals = {name: getattr(self.module, name) for name in self.names}
        for name, func in originals.items():
            setattr(self.module, name, self._wrap(name, func))
        try:
            yield self
        finally:
            for name, func in originals.items():
                setattr(self.module, name, func)
        missing = [name for name in self.names if not self.calls[name]]
        if missing:
            raise SystemExit(
                f"diagnose() no longer calls {', '.join(missing)} from {self.module.__name__}: "
                "update DIAGNOSE_PARTS in bench/doctor.py"
            )


class _GcClock:
    """Seconds the cyclic garbage collector paused the program, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def _read_and_load(path: Path) -> tuple[list[tuple[Where, object]], Snapshot, Json]:
    """What ``srcip doctor -f`` does before diagnosing (the CLI keeps ``docs`` alive too)."""
    from srcip.doctor import load_snapshot
    from srcip.manifests import read_documents

    start = time.perf_counter()
    docs = list(read_documents([path]))
    read = time.perf_counter()
    snapshot = load_snapshot(docs)
    done = time.perf_counter()
    figures = {"read_s": read - start, "load_s": done - read, "rss_load_mib": peak_rss_mib()}
    return docs, snapshot, figures


def _diagnose(snapshot: Snapshot) -> tuple[Diagnosis, Json]:
    from srcip.doctor import diagnose

    watch = _Stopwatch(importlib.import_module("srcip.doctor.diagnose"), DIAGNOSE_PARTS)
    with watch.running():
        start = time.perf_counter()
        result = diagnose(snapshot)
        done = time.perf_counter()
    figures = {"diagnose_s": done - start} | {f"{k}_s": v for k, v in watch.seconds.items()}
    figures["checks_s"] = figures["diagnose_s"] - sum(watch.seconds.values())
    return result, figures


def _render(result: Diagnosis) -> Json:
    """``-o json``: the data, then the text ``emit_json`` prints (its bytes, as UTF-8)."""
    from srcip.doctor import diagnosis_json

    start = time.perf_counter()
    data = diagnosis_json(result)
    built = time.perf_counter()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    done = time.perf_counter()
    return {
        "json_data_s": built - start,
        "json_dumps_s": done - built,
        "render_s": done - start,
        "json_bytes": len(text.encode("utf-8")),
    }


def _counts(result: Diagnosis) -> Json:
    """External Services, node groups (in all, per Service) and findings by severity."""
    groups = [len(s.summary.groups) for s in result.services if s.summary is not None]
    severities = Counter(str(f.severity) for f in result.findings)
    return {
        "nodes": len(result.nodes),
        "external": len(result.services),
        "groups": sum(groups),
        "groups_mean": sum(groups) / len(groups) if groups else 0.0,
        "groups_max": max(groups, default=0),
        "findings": len(result.findings),
        "severities": dict(severities),
    }


def run_worker(scale: float, path: Path) -> Json:
    """Measure one scale in this (fresh) process, as ``srcip doctor -f PATH -o json`` runs."""
    pin_one_core()
    for module in ("srcip.doctor", "srcip.manifests", "srcip.model.grouped"):
        importlib.import_module(module)  # import time is not diagnosis time
    baseline = peak_rss_mib()
    from srcip.manifests import collector_paused

    clock = _GcClock()
    gc.callbacks.append(clock)
    with collector_paused():  # as the CLI runs the whole command
        docs, snapshot, figures = _read_and_load(path)
        figures["gc_load_s"] = clock.seconds
        result, diagnosed = _diagnose(snapshot)
        figures |= diagnosed | {"rss_diagnose_mib": peak_rss_mib()}
        figures["gc_diagnose_s"] = clock.seconds - figures["gc_load_s"]
        figures |= _render(result)
        figures["gc_render_s"] = clock.seconds - figures["gc_load_s"] - figures["gc_diagnose_s"]
        figures["rss_mib"] = peak_rss_mib()
    gc.callbacks.remove(clock)
    del docs  # alive until here, as in the CLI
    whole = figures["read_s"] + figures["load_s"] + figures["diagnose_s"]
    return (
        figures | _counts(result) | {"scale": scale, "whole_s": whole, "rss_baseline_mib": baseline}
    )


# --------------------------------------------------------------------------- parent


def _generate(scale: float, workdir: Path) -> Json:
    """Write the cluster dump for one scale (not timed); return its path and size."""
    path = workdir / f"cluster-{scale}.json"
    write_cluster(path, scale)
    return {"path": str(path), "bytes": path.stat().st_size}


def _measure(mode: str, scales: Sequence[float], workdir: Path) -> list[Json]:
    """``--worker`` or ``--peer`` figures for each scale, each in its own subprocess."""
    results = []
    for scale in scales:
        sizes = sizes_for(scale)
        print(
            f"{mode.lstrip('-')} scale {scale}: {sizes.nodes} nodes, {sizes.services} "
            f"Services, {sizes.endpoints} endpoints ...",
            file=sys.stderr,
            flush=True,
        )
        dump = spawn(__file__, "--generate", str(scale), str(workdir), timeout=CHILD_TIMEOUT_S)
        figures = spawn(__file__, mode, str(scale), dump["path"], timeout=CHILD_TIMEOUT_S)
        results.append(figures | {"dump_bytes": dump["bytes"]})
        Path(dump["path"]).unlink()
    return results


def measure(scales: Sequence[float], peer_scales: Sequence[float]) -> tuple[list[Json], list[Json]]:
    """The doctor's figures per scale, then the peer's per peer scale."""
    with tempfile.TemporaryDirectory(prefix="srcip-bench-doctor-") as tmp:
        return _measure("--worker", scales, Path(tmp)), _measure("--peer", peer_scales, Path(tmp))


# --------------------------------------------------------------------------- report


GROWTH = (
    Growth("whole diagnosis (s)", 1, "linear in objects", lambda r: r["whole_s"]),
    Growth("read + load (s)", 1, "linear in objects", lambda r: r["read_s"] + r["load_s"]),
    Growth("diagnose (s)", 1, "linear in objects", lambda r: r["diagnose_s"]),
    Growth("  build_index (s)", 1, "linear in objects", lambda r: r["build_index_s"]),
    Growth("  summarize (s)", 1, "linear in objects", lambda r: r["summarize_s"]),
    Growth("  checks and the rest (s)", 1, "linear in objects", lambda r: r["checks_s"]),
    Growth("render -o json (s)", 1, "linear in objects", lambda r: r["render_s"]),
    Growth(
        "RSS above interpreter (MiB)",
        1,
        "linear in objects",
        lambda r: r["rss_mib"] - r["rss_baseline_mib"],
    ),
)


def render_sizes(results: Sequence[Json]) -> str:
    """What was diagnosed at each scale, and what the diagnosis holds."""
    header = [
        "scale",
        "nodes",
        "Services",
        "endpoints",
        "dump (MiB)",
        "external",
        "node groups",
        "per Service: mean",
        "max",
        "findings (E/W/I)",
    ]
    rows = []
    for r in results:
        sizes = sizes_for(r["scale"])
        levels = "/".join(str(r["severities"].get(k, 0)) for k in ("error", "warning", "info"))
        rows.append(
            [
                str(r["scale"]),
                *(f"{n:,}" for n in (r["nodes"], sizes.services, sizes.endpoints)),
                fmt(r["dump_bytes"] / 2**20),
                *(f"{n:,}" for n in (r["external"], r["groups"])),
                f"{r['groups_mean']:.2f}",
                f"{r['groups_max']:,}",
                f"{r['findings']:,} ({levels})",
            ]
        )
    return table(header, rows)


def render_breakdown(results: Sequence[Json]) -> str:
    """Where the seconds and the memory go."""
    parts = {
        "read_s": "read_documents (s)",
        "load_s": "load_snapshot (s)",
        "gc_load_s": "  cyclic GC pauses within read + load (s)",
        "diagnose_s": "diagnose (s)",
        "infer_s": "  infer (s)",
        "build_index_s": "  build_index (s)",
        "summarize_s": "  summarize, every external Service (s)",
        "checks_s": "  checks and the rest (s)",
        "gc_diagnose_s": "  cyclic GC pauses within diagnose (s)",
        "json_data_s": "diagnosis_json (s)",
        "json_dumps_s": "json.dumps, indent=2 (s)",
        "gc_render_s": "  cyclic GC pauses within rendering (s)",
        "rss_baseline_mib": "RSS after imports (MiB)",
        "rss_load_mib": "peak RSS after load (MiB)",
        "rss_diagnose_mib": "peak RSS after diagnose (MiB)",
        "rss_mib": "peak RSS after rendering (MiB)",
    }
    header = ["step", *(f"scale {r['scale']}" for r in results)]
    rows = [[label, *(fmt(r[key]) for r in results)] for key, label in parts.items()]
    rows.append(["JSON output (MiB)", *(fmt(r["json_bytes"] / 2**20) for r in results)])
    rows.append(
        ["diagnose per external Service (ms)"]
        + [fmt(1e3 * r["diagnose_s"] / max(r["external"], 1)) for r in results]
    )
    return table(header, rows)


def render(results: Sequence[Json], peers: Sequence[Json]) -> str:
    """The whole report."""
    parts = [f"srcip doctor benchmark — {describe_machine()}", ""]
    if results:
        parts += [
            render_sizes(results),
            "",
            "Targets (stated for scale 1.0); × target = target ÷ measured: ≥ 1.00× meets. "
            "One core; srcip doctor -f DUMP -o json.",
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
    if peers:
        parts += ["", *render_peers(peers)]
    return "\n".join(parts)


def _optional_scales(text: str) -> tuple[float, ...]:
    """Like ``--scales``; an empty string skips that part."""
    return parse_scales(text) if text.strip() else ()


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="srcip doctor benchmark (prints ratios to targets)"
    )
    parser.add_argument(
        "--scales",
        type=_optional_scales,
        default="0.1,0.5,1.0",
        help="comma-separated; 1.0 = 5,000 nodes ('' skips)",
    )
    parser.add_argument(
        "--peer-scales",
        type=_optional_scales,
        default="0.005,0.01,0.02",
        help="scales for the exact per-node peer, which is quadratic ('' skips)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"scales {QUICK_SCALES}, peer scales {QUICK_PEER_SCALES}",
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # SCALE DUMP
    parser.add_argument("--peer", nargs=2, help=argparse.SUPPRESS)  # SCALE DUMP
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)  # SCALE DIR
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every scale in its own subprocess, print the report; exit 1 on a mismatch."""
    args = _parse(argv)
    if args.worker or args.peer or args.generate:
        mode = args.worker or args.peer or args.generate
        run = run_worker if args.worker else run_peer if args.peer else _generate
        print(json.dumps(run(float(mode[0]), Path(mode[1]))))
        return
    scales = QUICK_SCALES if args.quick else args.scales
    peer_scales = QUICK_PEER_SCALES if args.quick else args.peer_scales
    results, peers = measure(scales, peer_scales)
    if args.json:
        figures = {"doctor": results, "peer": peers}
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(render(results, peers))
    if any(p["mismatches"] for p in peers):
        sys.exit(1)


if __name__ == "__main__":
    main()
