"""``srcip lab run --report DIR``: the run as files a person can open.

:func:`write_report` writes

* ``lab.json``: :func:`~srcip.lab.report.lab_json`, as ``-o json`` prints it;
* ``share.png``: per pod, the measured share of new connections beside the model's;
* ``failover.png``: per 100 ms bucket, the requests that were ok, refused, timed out or
  broken (stacked, as a fraction), with the model's chance of failure at the measured
  probe phase drawn over them;
* ``index.html``: one static page (no script) with the verdict, the side-by-side line of
  ``--compare-policies``, and each experiment's table and plot.

matplotlib runs on the Agg backend (no display), imported on first use.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from srcip.errors import UsageError
from srcip.lab.experiments import ShareResult
from srcip.lab.failover import FailoverResult
from srcip.lab.report import event_text, lab_json, side_by_side
from srcip.lab.run import LabRun

__all__ = ["plot_failover", "plot_share", "write_report"]

_COLOURS = {"ok": "#228833", "refused": "#ee6677", "timeout": "#aa3377", "error": "#bbbbbb"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    plt = _pyplot()
    try:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)


def plot_share(share: ShareResult, path: Path) -> None:
    """Measured vs the model's share of new connections, per pod."""
    plt = _pyplot()
    rows = list(share.pods)
    figure, axis = plt.subplots(figsize=(7, 0.8 + 0.45 * max(1, len(rows))))
    names = [f"{r.name} ({r.node or '-'})" for r in rows]
    places = range(len(rows))
    measured = [100 * r.count / share.connections for r in rows]
    expected = [100 * r.expected / share.connections for r in rows]
    axis.barh([p - 0.2 for p in places], expected, height=0.4, color="#bbbbbb", label="model")
    axis.barh([p + 0.2 for p in places], measured, height=0.4, color="#4477aa", label="lab")
    axis.set_yticks(list(places), names)
    axis.invert_yaxis()
    axis.set_xlabel("share of new connections (%)")
    p = "-" if share.p_value is None else f"{share.p_value:.3g}"
    axis.set_title(f"{share.connections} new connections, chi-square p = {p}")
    axis.legend(loc="lower right")
    _save(figure, path)


def plot_failover(result: FailoverResult, path: Path) -> None:
    """Per bucket: outcome fractions (stacked) and the model's chance of failure."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 4))
    width = result.bucket_seconds
    starts = [b.t for b in result.timeline]
    bottom = [0.0] * len(starts)
    for kind in ("refused", "timeout", "error", "ok"):  # failures at the bottom
        values = [100 * getattr(b, kind) / b.total if b.total else 0.0 for b in result.timeline]
        axis.bar(starts, values, width=width, bottom=bottom, align="edge",
                 color=_COLOURS[kind], label=f"lab: {kind}")  # fmt: skip
        bottom = [a + v for a, v in zip(bottom, values, strict=True)]
    predicted = [100 * b.predicted_failing for b in result.timeline]
    edges = [*starts, (starts[-1] + width) if starts else 0.0]
    axis.stairs(predicted, edges, color="black", linewidth=1.5, label="model: failing")
    axis.set_xlabel("scenario seconds")
    axis.set_ylabel("requests (%)")
    axis.set_ylim(0, 100)
    axis.set_title(
        f"{', '.join(event_text(e) for e in result.events)}: failure window "
        f"{result.measured_window:g}s measured, {result.predicted_window:g}s predicted"
    )
    axis.legend(loc="lower left", fontsize="small")
    _save(figure, path)


def write_report(run: LabRun, directory: Path) -> Path:
    """Write the report files into ``directory`` (created); return its ``index.html``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        data = lab_json(run)
        (directory / "lab.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
        if run.share is not None:
            plot_share(run.share, directory / "share.png")
        if run.failover is not None:
            plot_failover(run.failover, directory / "failover.png")
        page = directory / "index.html"
        page.write_text(_html(run), encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"--report {str(directory)!r}: cannot write it ({exc.strerror or exc}). Fix: give "
            "a writable directory"
        ) from exc
    return page


# --------------------------------------------------------------------------- the page


def _table(head: list[str], rows: list[list[object]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def _visibility_html(run: LabRun) -> str:
    out = []
    for policy, v in run.by_policy:
        groups = Counter(
            (str(o.client), str(o.result), o.node or "", o.pod or "", str(o.pod_peer or ""),
             str(o.app_client_ip or ""), "yes" if o.allowed else "NO")
            for o in v.observations
        )  # fmt: skip
        rows = [[*key, count] for key, count in sorted(groups.items())]
        head = ["client", "result", "node", "pod", "pod's TCP peer", "app's client", "allowed"]
        out.append(f"<h3>{escape(policy)}</h3>" + _table([*head, "requests"], rows))
    line = side_by_side(run)
    top = f"<p class=line>{escape(line)}</p>" if line else ""
    return "<h2>What the pods saw</h2>" + top + "".join(out)


def _share_html(share: ShareResult) -> str:
    rows: list[list[object]] = [
        [r.name, r.node or "", r.count, f"{r.expected:.1f}"] for r in share.pods
    ]
    p = "-" if share.p_value is None else f"{share.p_value:.3g}"
    return (
        "<h2>Split of new connections</h2>"
        + _table(["pod", "node", "measured", "expected"], rows)
        + f"<p>chi-square goodness of fit: p = {escape(p)}</p><img src=share.png alt=share>"
    )


def _failover_html(f: FailoverResult) -> str:
    low, high = f.predicted.failure_window_bounds
    phase = "unknown" if f.probe_phase is None else f"{f.probe_phase:g}s"
    rows: list[list[object]] = [
        ["events", ", ".join(event_text(e) for e in f.events)],
        ["requests (failed)", f"{f.requests} ({f.failed}) at {f.rate:g}/s"],
        ["measured failure window", f"{f.measured_window:g}s (±{f.tolerance:g}s)"],
        ["model at the measured probe phase", f"{f.predicted_window:g}s (phase {phase})"],
        ["model over all phases", f"{low:g}s to {high:g}s"],
        ["model without terminating fallback", f"{f.predicted.failure_window_without_fallback:g}s"],
        ["terminating fallback", "on" if f.terminating_fallback else "off"],
        ["time scale", f"{f.time_scale:g}x (times in scenario seconds)"],
    ]
    return "<h2>Failover</h2>" + _table(["", ""], rows) + "<img src=failover.png alt=failover>"


def _ratelimit_html(run: LabRun) -> str:
    rows: list[list[object]] = [
        [c.policy, str(c.client), c.role, f"{c.rate:g}/s", c.requests, c.accepted, c.limited,
         ", ".join(map(str, c.keys))]
        for r in run.ratelimit for c in r.clients
    ]  # fmt: skip
    head = ["policy", "client", "role", "rate", "requests", "accepted", "429", "app saw"]
    return f"<h2>Rate limit ({escape(run.ratelimit[0].limit)})</h2>" + _table(head, rows)


_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
    ".ok{color:#228833}.bad{color:#cc3311}.line{font-weight:bold}img{max-width:100%}"
)


def _html(run: LabRun) -> str:
    verdict = (
        "<p class=ok>every observation is one the model allows</p>"
        if run.ok
        else "<p class=bad>the lab saw what the model does not allow</p>"
    )
    parts = [
        f"<h1>srcip lab: {escape(run.scenario)}</h1>",
        f"<p>Service {escape(run.service)}, externalTrafficPolicy {escape(run.policy)}, "
        f"load balancer {escape(run.load_balancer or 'none')}, seed {run.seed}, "
        f"time scale {run.time_scale:g}x. Addresses are the scenario's. "
        "Data: <a href=lab.json>lab.json</a>.</p>",
        verdict,
    ]
    if run.by_policy:
        parts.append(_visibility_html(run))
    if run.share is not None:
        parts.append(_share_html(run.share))
    if run.failover is not None:
        parts.append(_failover_html(run.failover))
    if run.ratelimit:
        parts.append(_ratelimit_html(run))
    body = "\n".join(parts)
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>srcip lab: "
        f"{escape(run.scenario)}</title><style>{_STYLE}</style></head><body>\n{body}\n"
        "</body></html>\n"
    )
