"""The report of one run: `recagent report RUN_DIR` (and `recagent run --report`).

Writes into the run folder: plots/<measure>.png (each measure over the steps), report.md and
report.html (a table of every measure with its kind, unit and summary value, then the plots).
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from .measures import present
from .report import STYLE, Table, _fmt, _pyplot


def plot_run(steps: pd.DataFrame, m, path: Path, step_hours: float) -> None:
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.plot(steps["step"], steps[m.column], marker="o" if len(steps) <= 30 else None, markersize=3,
            linewidth=1.6, label=f"{m.name} ({m.kind})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    hours = f"{step_hours:g} simulated hour" + ("" if step_hours == 1 else "s")
    ax.set_xlabel(f"step (1 step = {hours})")
    ax.set_ylabel(textwrap.fill(m.label, 40))  # a long label is wrapped, not cut at the figure's edge
    ax.set_title(f"{m.name}: {m.kind}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    if math.isfinite(m.high) and m.high <= 1 and m.low == 0:
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_run_report(run_dir: str | Path) -> Path:
    """Write the run's plots and report; returns the report.md path. UserError when it is not a run folder."""
    run_dir = Path(run_dir)
    metrics_file = run_dir / "metrics.csv"
    if not run_dir.is_dir():
        raise UserError("run folder not found", run_dir)
    if (run_dir / "sweep.json").is_file():
        raise UserError("this is a sweep's folder, whose report.md was written by recagent sweep; "
                        "give one of its run folders (runs/...)", run_dir)
    if not metrics_file.is_file():
        raise UserError("not a run folder: metrics.csv is missing", run_dir)
    try:
        steps = pd.read_csv(metrics_file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserError(f"metrics.csv cannot be read: {e}", metrics_file) from None
    if "step" not in steps.columns or steps.empty:
        raise UserError("expected a 'step' column and at least one row, found none", metrics_file)
    info = {}
    if (run_dir / "run.json").is_file():
        try:
            info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except ValueError:
            info = {}
    step_hours = 1.0
    try:
        import yaml

        step_hours = float(yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text())["simulation"]["step_hours"])
    except (OSError, KeyError, TypeError, ValueError):
        pass
    steps = steps.sort_values("step")
    measures = present(steps.columns, steps)
    (run_dir / "plots").mkdir(exist_ok=True)
    rows = []
    for m in measures:
        plot_run(steps, m, run_dir / "plots" / f"{m.column}.png", step_hours)
        values = steps[m.column].to_numpy(dtype=np.float64)
        summary = float(np.nanmean(values)) if m.summary == "mean" else float(values[-1])
        rows.append([m.name, m.kind, m.unit, m.summary_words, _fmt(summary), m.column])
    table = Table(["measure", "per step or cumulative", "unit", "summarised by", "value", "column"], rows)
    name = info.get("scenario", run_dir.name)
    intro = (f"Scenario {name}, seed {info.get('seed', '?')}, {info.get('steps_completed', len(steps))} steps, "
             f"{info.get('agents', '?')} agents, recommender {info.get('recommender', '?')}, feedback "
             f"{info.get('feedback', '?')}, status {info.get('status', '?')}. One run: no intervals (a sweep over "
             "seeds gives them).")
    md = [f"# Run report: {name}\n", intro + "\n", "## Measures\n", table.markdown(), "## Over time\n"]
    md += [f"### {m.name} ({m.kind})\n\n![{m.name}](plots/{m.column}.png)\n" for m in measures]
    report = run_dir / "report.md"
    report.write_text("\n".join(md), encoding="utf-8")
    import html

    figures = "".join(f"<figure><img src='plots/{m.column}.png' alt='{html.escape(m.name)}'>"
                      f"<figcaption>{html.escape(m.name)} ({m.kind})</figcaption></figure>" for m in measures)
    (run_dir / "report.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title><style>{STYLE}</style>"
        f"</head><body><h1>Run report: {html.escape(name)}</h1><p>{html.escape(intro)}</p><h2>Measures</h2>"
        f"{table.html()}<h2>Over time</h2>{figures}</body></html>", encoding="utf-8")
    return report
