"""What the route and doctor benchmarks share: child processes, one-core runs and the report.

Each benchmark runs its own file again as a child (:func:`spawn`) for every scale, so that
peak RSS (:func:`peak_rss_mib`) belongs to that child's work alone, and pins the measuring
child to one CPU (:func:`pin_one_core`). The reports are plain aligned tables
(:func:`table`) of figures (:func:`fmt`) beside targets (:class:`Metric`,
:func:`render_targets`), then how each cost grows with size (:class:`Growth`,
:func:`render_growth`), so every bench report reads alike.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bench.generate import sizes_for

__all__ = [
    "ROOT",
    "Growth",
    "Json",
    "Metric",
    "fmt",
    "parse_scales",
    "peak_rss_mib",
    "pin_one_core",
    "render_growth",
    "render_targets",
    "spawn",
    "table",
]

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent  # the repository: children run from here


# --------------------------------------------------------------------------- child processes


def spawn(script: str, *args: str, timeout: float) -> Json:
    """Run ``script`` with ``args`` in a fresh interpreter; its last stdout line is JSON.

    The child runs from the repository root and must finish within ``timeout`` seconds
    (else :class:`subprocess.TimeoutExpired`). On a non-zero exit its stderr is copied to
    ours and the program stops with :class:`SystemExit` naming ``args`` and the exit code.

    Benchmarks generate their inputs in a child too: Linux carries the peak RSS of the
    process that execs into the new program's ``ru_maxrss``, so the parent must never grow
    large itself.
    """
    command = [sys.executable, script, *args]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{' '.join(args)} failed with exit code {done.returncode}")
    result: Json = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def peak_rss_mib() -> float:
    """Peak resident set of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pin_one_core() -> None:
    """Run this process on one CPU (the lowest it may use), as targets are stated per core.

    Does nothing where the platform has no ``sched_setaffinity``.
    """
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def parse_scales(text: str) -> tuple[float, ...]:
    """``--scales 0.1,0.5,1.0`` as a tuple, smallest first (an argparse ``type``).

    Raises :class:`argparse.ArgumentTypeError` on a part that is not a number or a scale
    outside (0, 10] (:func:`bench.generate.sizes_for` decides).
    """
    try:
        scales = tuple(sorted(float(part) for part in text.split(",")))
        for scale in scales:
            sizes_for(scale)  # rejects a scale outside (0, 10]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    return scales


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One reported figure: its result key, label, target and which direction is better."""

    key: str
    label: str
    target: float
    higher_is_better: bool = False
    binding: bool = True  # False: shown against the target for information only

    def headroom(self, measured: float) -> float:
        """× target: ≥ 1 meets the target."""
        if self.higher_is_better:
            return measured / self.target
        return self.target / measured if measured > 0 else math.inf


class Growth(NamedTuple):
    """A cost whose growth with size is shown, and the exponent the design expects."""

    label: str
    expected: float
    why: str
    cost: Callable[[Json], float]


def fmt(value: float) -> str:
    """A figure to about three significant digits; thousands separated from 1,000 up."""
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table: first column left, the rest right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _verdict(metric: Metric, result: Json) -> str:
    """Whether ``result`` meets ``metric``'s target; only judged at scale 1.0."""
    if result["scale"] != 1.0:
        return "n/a (not scale 1.0)"
    if not metric.binding:
        return "info"
    return "meets" if metric.headroom(result[metric.key]) >= 1 else "MISSES"


def render_targets(results: Sequence[Json], metrics: Sequence[Metric]) -> str:
    """Measured figures per scale beside the targets, with × target ratios.

    The verdict column judges the last (largest) scale, and only when it is 1.0, the
    scale the targets are stated for.
    """
    header = ["metric", "target", *(f"scale {r['scale']}" for r in results), "verdict"]
    rows = []
    for metric in metrics:
        sign = "≥" if metric.higher_is_better else "≤"
        cells = [f"{fmt(r[metric.key])} ({metric.headroom(r[metric.key]):.2f}×)" for r in results]
        rows.append(
            [metric.label, f"{sign} {fmt(metric.target)}", *cells, _verdict(metric, results[-1])]
        )
    return table(header, rows)


def render_growth(results: Sequence[Json], growths: Sequence[Growth]) -> str:
    """Cost ratio of the largest scale to each smaller one, and its exponent in the size ratio.

    A cost that is not positive at either scale has no ratio: its cell reads "n/a".
    """
    top = results[-1]
    header = [
        "cost",
        *(
            f"{r['scale']}→{top['scale']} (size ×{top['scale'] / r['scale']:.3g})"
            for r in results[:-1]
        ),
        "expected exponent",
    ]
    rows = []
    for growth in growths:
        cells = []
        for r in results[:-1]:
            low, high = growth.cost(r), growth.cost(top)
            if low <= 0 or high <= 0:
                cells.append("n/a")
                continue
            exponent = math.log(high / low) / math.log(top["scale"] / r["scale"])
            cells.append(f"×{high / low:.2f} (exp {exponent:.2f})")
        rows.append([growth.label, *cells, f"{growth.expected}: {growth.why}"])
    return table(header, rows)
