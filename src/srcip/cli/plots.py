"""PNG plots with matplotlib (Agg, no display): share bars and the failover timeline."""

from __future__ import annotations

from typing import Any

from srcip.errors import UsageError
from srcip.model.share import ShareReport
from srcip.model.timeline import Timeline

__all__ = ["plot_share", "plot_timeline", "pyplot"]


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it takes ~0.5 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(figure: Any, path: str) -> None:
    """Write ``figure`` to ``path``; an unwritable path is a usage error, not a traceback."""
    try:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as exc:
        raise UsageError(
            f"--plot {path!r}: cannot write it ({exc.strerror}). Fix: pass a writable path"
        ) from exc
    finally:
        pyplot().close(figure)


def plot_share(report: ShareReport, path: str) -> None:
    """One row per Service (two columns with --compare-policies): pod share bars."""
    plt = pyplot()
    rows = len(report.services)
    cols = 2 if report.compared else 1
    figure, axes = plt.subplots(
        rows, cols, figsize=(7 * cols, 0.6 + 0.3 * _most_pods(report) * rows), squeeze=False
    )
    for row, item in enumerate(report.services):
        items = [item] + ([report.compared[row]] if report.compared else [])
        for col, shown in enumerate(items):
            axis = axes[row][col]
            pods = sorted(shown.pods, key=lambda p: p.name)
            names = [f"{p.name} ({p.node or '-'})" for p in pods]
            values = [float(p.share) * 100 for p in pods]
            axis.barh(names, values, color="#4477aa")
            axis.axvline(
                float(shown.fairness.fair_share) * 100,
                color="#cc6677",
                linestyle="--",
                label="fair share",
            )
            axis.set_xlabel("share of new connections (%)")
            axis.set_title(f"{shown.name}: {shown.policy}")
            axis.invert_yaxis()
            axis.legend(loc="lower right")
    save(figure, path)


def _most_pods(report: ShareReport) -> int:
    return max([len(s.pods) for s in (*report.services, *report.compared)] or [1])


def plot_timeline(result: Timeline, path: str) -> None:
    """Stacked outcome fractions over time, and the number of nodes the LB sends to."""
    plt = pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    kinds = ["served", "served-terminating", "refused", "dropped"]
    colours = {
        "served": "#228833",
        "served-terminating": "#ccbb44",
        "refused": "#ee6677",
        "dropped": "#aa3377",
    }
    edges = [w.start for w in result.windows] + [result.windows[-1].end if result.windows else 0]
    bottoms = [0.0] * len(result.windows)
    for kind in kinds:
        values = [
            float({str(o): p for o, p in w.outcome}.get(kind, 0)) * 100 for w in result.windows
        ]
        top.stairs(
            [b + v for b, v in zip(bottoms, values, strict=True)],
            edges,
            baseline=bottoms,
            fill=True,
            color=colours[kind],
            label=kind,
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    top.set_ylabel("new connections (%)")
    top.set_title(f"{result.service}: failure window {result.failure_window:g}s")
    top.legend(loc="lower left", fontsize="small")
    bottom.stairs([len(w.lb_nodes) for w in result.windows], edges, color="#4477aa")
    bottom.set_ylabel("nodes in LB")
    bottom.set_xlabel("seconds")
    save(figure, path)
