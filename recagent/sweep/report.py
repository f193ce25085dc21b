"""The report of a sweep (or comparison): sweep.csv, comparison.csv, report.md, report.html, plots/.

- sweep.csv: one row per run: strategy, each swept parameter, seed, and each measure summarised
  over the run (mean over steps for per-step measures, value at the final step for cumulative
  ones; see measures.py).
- comparison.csv: per point, measure and strategy: mean over seeds with a 95% interval, and the
  paired difference against the baseline strategy (same seed = same people, graph and starting
  state) with its interval, effect size d_z, sign-flip p-value and Holm-adjusted p (stats.py).
- plots/<measure>.png: each measure over the steps, mean over seeds with a 95% bootstrap band,
  one line per strategy (and point); plots/by-<parameter>/<measure>.png: each key measure against
  each swept parameter, one line per strategy, with interval bars.
"""

from __future__ import annotations

import html
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from .measures import KEY, Measure, present
from .plan import SweepPlan, format_value
from .robustness import flips, robustness_rows
from .stats import SMALL_N, holm, mean_interval, paired_difference, smallest_sign_flip_p, step_bands

RUN_COLUMNS = ("strategy", "seed", "run_dir", "steps", "agents", "wall_time_s")


# --- data --------------------------------------------------------------------------------------


def load_steps(out: Path, plan: SweepPlan) -> pd.DataFrame:
    """Every run's metrics.csv, tagged with strategy, swept values, point and seed."""
    frames = []
    for spec in plan.runs:
        df = pd.read_csv(out / spec.folder / "metrics.csv")
        df["strategy"], df["point"], df["seed"], df["run_dir"] = spec.strategy.label, spec.point.label, spec.seed, spec.folder
        for key, value in spec.point.values:
            df[key] = value if isinstance(value, (int, float, str, bool)) else format_value(value)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def summarise(steps: pd.DataFrame, plan: SweepPlan, measures: list[Measure], out: Path) -> pd.DataFrame:
    """sweep.csv: one row per run, in plan order."""
    import json

    rows = []
    for spec in plan.runs:
        run = steps[steps.run_dir == spec.folder].sort_values("step")
        info = json.loads((out / spec.folder / "run.json").read_text(encoding="utf-8"))
        row = {"strategy": spec.strategy.label}
        row.update({k: v if isinstance(v, (int, float, str, bool)) else format_value(v) for k, v in spec.point.values})
        row.update(seed=spec.seed, run_dir=spec.folder, steps=info.get("steps_completed"), agents=info.get("agents"),
                   wall_time_s=info.get("wall_time_s"))
        for m in measures:
            values = run[m.column].to_numpy(dtype=np.float64)
            row[m.column] = float(np.nanmean(values)) if m.summary == "mean" and np.isfinite(values).any() else (
                float(values[-1]) if len(values) else math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame, plan: SweepPlan, measures: list[Measure], method: str) -> pd.DataFrame:
    rows = []
    for point in plan.points:
        here = runs[runs.run_dir.isin({s.folder for s in plan.runs if s.point == point})]
        base = here[here.strategy == plan.baseline].set_index("seed")
        for m in measures:
            for s in plan.strategies:
                mine = here[here.strategy == s.label].set_index("seed")
                iv = mean_interval(mine[m.column].to_numpy(), m.low, m.high, method)
                seeds = mine.index.intersection(base.index)
                row = {"point": point.label, **{k: format_value(v) for k, v in point.values}, "metric": m.column,
                       "name": m.name, "unit": m.unit, "kind": m.kind, "summary": m.summary_words,
                       "strategy": s.label, "n_seeds": iv.n, "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high,
                       "interval": iv.method, "clipped": iv.clipped, "baseline": plan.baseline}
                if s.label == plan.baseline:
                    row.update(diff_mean=0.0, diff_ci_low=math.nan, diff_ci_high=math.nan, effect_size_dz=math.nan,
                               p_value=math.nan, diff_clipped=False)
                else:
                    d = paired_difference(mine.loc[seeds, m.column].to_numpy(), base.loc[seeds, m.column].to_numpy(),
                                          m.low, m.high, method)
                    row.update(diff_mean=d.interval.mean, diff_ci_low=d.interval.low, diff_ci_high=d.interval.high,
                               effect_size_dz=d.effect_size, p_value=d.p_value, diff_clipped=d.interval.clipped)
                rows.append(row)
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


# --- text --------------------------------------------------------------------------------------


def _fmt(x, digits: int = 3) -> str:
    """A figure for a table: counts (whole numbers) as integers, `31` not `31.000`; n/a when there is none."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.{digits}f}"


def _cell(mean, lo, hi, clipped=False, undefined: str = "") -> str:
    if not np.isfinite(mean):
        return f"n/a ({undefined or 'undefined in every seed'})"
    if not np.isfinite(lo):
        return _fmt(mean)
    return f"{_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}]" + (" (clipped)" if clipped else "")


def _diff_cell(r, undefined: str = "") -> str:
    if not np.isfinite(r.diff_mean):
        return f"n/a (no seed where both are defined: {undefined or 'empty in metrics.csv'})"
    text = f"{r.diff_mean:+.3f}"
    if np.isfinite(r.diff_ci_low):
        text += f" [{r.diff_ci_low:+.3f}, {r.diff_ci_high:+.3f}]" + (" (clipped)" if r.diff_clipped else "")
    if np.isfinite(r.effect_size_dz):
        text += f" d={r.effect_size_dz:+.2f}"
    if np.isfinite(r.diff_ci_low) and (r.diff_ci_low > 0 or r.diff_ci_high < 0):
        text += " *"
    return text


class Table:
    def __init__(self, header: list[str], rows: list[list[str]]):
        self.header, self.rows = header, rows

    def markdown(self) -> str:
        esc = [[c.replace("|", "\\|") for c in r] for r in [self.header] + self.rows]
        lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(self.header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc[1:]]) + "\n"

    def html(self) -> str:
        head = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in self.header) + "</tr>"
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        return f"<table>{head}{body}</table>"


def summary_table(table: pd.DataFrame, point: str, labels: list[str], measures: list[Measure]) -> Table:
    rows = []
    here = table[table.point == point]
    for m in measures:
        cells = [m.name, m.kind, m.unit]
        for label in labels:
            r = here[(here.metric == m.column) & (here.strategy == label)].iloc[0]
            cells.append(_cell(r["mean"], r.ci_low, r.ci_high, r.clipped, m.undefined))
        rows.append(cells)
    return Table(["measure", "per step or cumulative", "unit"] + labels, rows)


def diff_table(table: pd.DataFrame, point: str, labels: list[str], baseline: str, measures: list[Measure]) -> Table:
    others = [s for s in labels if s != baseline]
    rows = []
    here = table[table.point == point]
    for m in measures:
        cells = [m.name, m.kind]
        for label in others:
            cells.append(_diff_cell(here[(here.metric == m.column) & (here.strategy == label)].iloc[0], m.undefined))
        rows.append(cells)
    return Table(["measure", "per step or cumulative"] + [f"{s} - {baseline}" for s in others], rows)


def robustness_table(rows: list[dict], measures: list[Measure]) -> Table:
    """Key measures' differences at each value of the robustness range, and whether they hold."""
    keep = {m.column for m in measures}
    body = [[r["name"], r["strategy"] + " - " + r["baseline"] + (f" at {r['question']}" if r["question"] else ""),
             "; ".join(f"{at}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for at, d, lo, hi in
                       zip(r["at"], r["diff"], r["ci_low"], r["ci_high"])), r["verdict"]]
            for r in rows if r["metric"] in keep]
    return Table(["measure", "difference", "at each end of the range: mean [interval]", "verdict"], body)


def measures_table(measures: list[Measure]) -> Table:
    return Table(["measure", "column in metrics.csv", "unit", "per step or cumulative", "summarised by", "range"],
                 [[m.name, m.column, m.unit, m.kind, m.summary_words, m.range_words] for m in measures])


# --- plots -------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_over_time(groups: list[tuple[str, pd.DataFrame]], m: Measure, path: Path, *, step_hours: float) -> None:
    """Mean over seeds per step with a 95% bootstrap band, one line per group."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.9), dpi=100)
    n_seeds = 0
    for label, frame in groups:
        wide = frame.pivot_table(index="step", columns="seed", values=m.column, aggfunc="first", dropna=False)
        wide = wide.sort_index()
        x, matrix = wide.index.to_numpy(), wide.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            counts = np.isfinite(matrix).sum(1)
            mean = np.where(counts > 0, np.nansum(matrix, 1) / np.maximum(counts, 1), np.nan)
        (line,) = ax.plot(x, mean, label=label, linewidth=1.6)
        n_seeds = max(n_seeds, matrix.shape[1])
        if matrix.shape[1] > 1:
            lo, hi = step_bands(matrix, m.low, m.high)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    hours = f"{step_hours:g} simulated hour" + ("" if step_hours == 1 else "s")
    ax.set_xlabel(f"step (1 step = {hours})")
    ax.set_ylabel(textwrap.fill(m.label, 40))  # a long label is wrapped, not cut at the figure's edge
    kind = "mean over steps in the tables" if m.kind == "per step" else "tables take the final step"
    ax.set_title(f"{m.name}: {m.kind} ({kind})", fontsize=9)
    handles, _ = ax.get_legend_handles_labels()
    if n_seeds > 1:
        handles.append(Patch(color="grey", alpha=0.3, label=f"shaded: 95% bootstrap interval over {n_seeds} seeds"))
    ax.legend(handles=handles, fontsize=7, loc="best")
    if math.isfinite(m.high) and m.high <= 1 and m.low == 0:
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_against(table: pd.DataFrame, plan: SweepPlan, param: str, m: Measure, path: Path) -> None:
    """A measure's mean over seeds (with its interval) against one swept parameter, per strategy and
    per combination of the other swept parameters."""
    plt = _pyplot()
    others = [p for p in plan.parameters if p != param]
    rows = table[table.metric == m.column].copy()
    raw = [dict(pt.values).get(param) for pt in plan.points]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw if v is not None)
    order = list(dict.fromkeys(format_value(v) for v in raw if v is not None))
    fig, ax = plt.subplots(figsize=(6.4, 3.9), dpi=100)
    keys = ["strategy"] + others
    for key, frame in rows.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        frame = frame[frame[param].notna()] if param in frame else frame.iloc[0:0]
        if frame.empty:
            continue
        xs = frame[param].astype(float).to_numpy() if numeric else np.array([order.index(v) for v in frame[param]])
        sort = np.argsort(xs)
        xs, mean = xs[sort], frame["mean"].to_numpy()[sort]
        lo, hi = frame["ci_low"].to_numpy()[sort], frame["ci_high"].to_numpy()[sort]
        label = key[0] + "".join(f", {o}={v}" for o, v in zip(others, key[1:]))
        err = np.vstack([mean - lo, hi - mean])
        ax.errorbar(xs, mean, yerr=np.where(np.isfinite(err), err, 0), marker="o", capsize=3, label=label)
    if not numeric:
        ax.set_xticks(range(len(order)), [textwrap.fill(str(v), 14) for v in order])  # long values wrapped
    elif len(order) <= 12:  # ticks at the swept values themselves
        ax.set_xticks(sorted({float(v) for v in raw if v is not None}))
    ax.set_xlabel(textwrap.fill(param, 50))
    ax.set_ylabel(textwrap.fill(m.label, 40))  # a long label is wrapped, not cut at the figure's edge
    ax.set_title(f"{m.name} ({m.summary_words}) against {param}", fontsize=9)
    handles, _ = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="grey", marker="|", linestyle="none", markersize=10,
                          label="bars: 95% interval over seeds"))
    ax.legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- the report --------------------------------------------------------------------------------


def sample_size_warning(n: int) -> str | None:
    if n >= SMALL_N:
        return None
    if n < 2:
        return (f"only {n} seed per group: no intervals at all. Run with --seeds {SMALL_N} or more before "
                "drawing conclusions.")
    return (f"only {n} seeds per group: intervals from fewer than {SMALL_N} seeds are unreliable (a bootstrap over "
            f"{n} seeds can only span the values seen; no t-interval is drawn). Run with --seeds {SMALL_N} or more "
            "before drawing conclusions.")


def multiple_comparison_note(table: pd.DataFrame, n_seeds: int) -> str | None:
    tested = int(np.isfinite(table["p_value"]).sum())
    if tested < 2:
        return None
    marked = int(((table.diff_ci_low > 0) | (table.diff_ci_high < 0)).sum())
    holm_ok = int((table["p_holm"] < 0.05).sum())
    return (f"Multiple comparisons: {tested} paired differences are tested here; at the 95% level about "
            f"{tested * 0.05:.1f} of them would exclude 0 by chance alone, with no real effect. {marked} intervals "
            f"exclude 0 (marked *); treat them as exploratory. After Holm's correction for all {tested} tests, "
            f"{holm_ok} sign-flip p-values stay below 0.05 (columns p_value and p_holm of comparison.csv); with "
            f"{n_seeds} seeds the smallest possible p is {smallest_sign_flip_p(n_seeds):.3g}.")


def write_report(out: Path, plan: SweepPlan, meta: dict, *, interval: str = "bootstrap") -> list[str]:
    """Write sweep.csv, comparison.csv, plots and report.md/.html; returns the warnings it printed in them."""
    steps = load_steps(out, plan)
    measures = present(steps.columns, steps)
    runs = summarise(steps, plan, measures, out)
    runs.to_csv(out / "sweep.csv", index=False)
    table = comparison_table(runs, plan, measures, interval)
    table.to_csv(out / "comparison.csv", index=False)

    labels = [s.label for s in plan.strategies]
    key = [m for m in measures if m.column in KEY]
    n = len(plan.seeds)
    warnings = [w for w in [sample_size_warning(n)] if w]
    note = multiple_comparison_note(table, n)
    robust_rows = robustness_rows(table, plan, measures) if plan.robust and len(labels) > 1 else []
    warnings += [f"a conclusion flips inside the robustness range: {line}" for line in flips(robust_rows)]
    step_hours = _step_hours(plan)

    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    groups = []
    for point in plan.points:
        for label in labels:
            name = label + (f", {point.label}" if point.values else "")
            groups.append((name, steps[(steps.strategy == label) & (steps.point == point.label)]))
    for m in measures:
        plot_over_time(groups, m, plots / f"{m.column}.png", step_hours=step_hours)
    for param in plan.parameters:
        (plots / f"by-{param}").mkdir(exist_ok=True)
        for m in key:
            plot_against(table, plan, param, m, plots / f"by-{param}" / f"{m.column}.png")

    kind = "Comparison" if plan.is_comparison else "Sweep"
    shape = f"{len(labels)} strategies" + ("" if plan.is_comparison else f" x {len(plan.points)} points "
                                            f"({', '.join(plan.parameters)})")
    if plan.robust:
        ends = {r: sorted({dict(p.values)[r] for p in plan.points}) for r in plan.robust}
        shape += ", each run at " + " and ".join(f"{r} = {', '.join(map(str, v))}" for r, v in ends.items()) + \
            " (a robustness range, not a question)"
    agents = runs["agents"].iloc[0] if len(runs) else "?"
    method_words = ("95% percentile bootstrap over seeds (10,000 resamples)" if interval == "bootstrap" else
                    f"95% t-interval where there are at least {SMALL_N} seeds, else the bootstrap")
    intro = [f"{shape} x {n} seeds ({', '.join(map(str, plan.seeds))}), paired by seed; {plan.steps} steps, "
             f"{agents} agents. Executor: {meta.get('executor')}; wall time {meta.get('wall_time_s', 0):.0f} s for "
             f"{meta.get('ran', 0)} runs ({meta.get('skipped', 0)} already finished were reused). Baseline for "
             f"differences: `{plan.baseline}`.",
             f"Cells: mean over seeds [{method_words}], always inside the measure's range (a t-interval cut back "
             "to it says 'clipped'). Per-step measures are averaged over steps, cumulative ones taken at the final "
             "step. Differences: seed-by-seed (strategy - baseline), mean [interval], d = effect size "
             "(mean difference / SD of the differences); * = the interval excludes 0."]
    if meta.get("retried"):
        intro.append(f"Runs retried once after their worker died: {'; '.join(meta['retried'])}.")

    md = [f"# {kind}: {plan.name}\n", *(p + "\n" for p in intro)]
    md += [f"> **Warning:** {w}\n" for w in warnings]
    sections: list[tuple[str, Table | str]] = []
    for point in plan.points:
        suffix = f" at {point.label}" if point.values else ""
        sections.append((f"Summary{suffix}", summary_table(table, point.label, labels, key)))
        if len(labels) > 1:
            sections.append((f"Paired differences against `{plan.baseline}`{suffix}",
                             diff_table(table, point.label, labels, plan.baseline, key)))
    if robust_rows:
        pd.DataFrame(robust_rows).to_csv(out / "robustness.csv", index=False)
        sections.insert(0, (f"Robustness across {', '.join(plan.robust)}", robustness_table(robust_rows, measures)))
    if note:
        sections.append(("Multiple comparisons", note))
    for point in plan.points:
        suffix = f" at {point.label}" if point.values else ""
        sections.append((f"All measures{suffix}", summary_table(table, point.label, labels, measures)))
        if len(labels) > 1:
            sections.append((f"All paired differences{suffix}",
                             diff_table(table, point.label, labels, plan.baseline, measures)))
    sections.append(("Measures", measures_table(measures)))
    for title, body in sections:
        md += [f"## {title}\n", body.markdown() if isinstance(body, Table) else body + "\n"]
    figures: list[tuple[str, str, str]] = []  # (section, path, caption)
    for param in plan.parameters:
        for m in key:
            figures.append((f"Against {param}", f"plots/by-{param}/{m.column}.png", f"{m.name} against {param}"))
    for m in measures:
        figures.append(("Over time", f"plots/{m.column}.png", f"{m.name} ({m.kind})"))
    section = None
    for sec, path, caption in figures:
        if sec != section:
            md.append(f"## {sec}\n")
            section = sec
        md.append(f"### {caption}\n\n![{caption}]({path})\n")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    (out / "report.html").write_text(_html(f"{kind}: {plan.name}", intro, warnings, sections, figures),
                                     encoding="utf-8")
    return warnings


def _step_hours(plan: SweepPlan) -> float:
    import yaml

    try:
        data = yaml.safe_load(plan.runs[0].scenario_text)
        return float(data["simulation"]["step_hours"])
    except (KeyError, TypeError, ValueError, IndexError):
        return 1.0


STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}table{border-collapse:collapse;"
         "font-size:13px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
         ".warning{background:#fff3cd;border:1px solid #e0c060;padding:0.5em 1em}figure{display:inline-block;"
         "margin:4px}figcaption{font-size:12px}")


def _html(title: str, intro: list[str], warnings: list[str], sections, figures) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(p)}</p>" for p in intro]
    body += [f"<p class='warning'><b>Warning:</b> {html.escape(w)}</p>" for w in warnings]
    for heading, content in sections:
        body.append(f"<h2>{html.escape(heading.replace('`', ''))}</h2>")
        body.append(content.html() if isinstance(content, Table) else f"<p>{html.escape(content)}</p>")
    section = None
    for sec, path, caption in figures:
        if sec != section:
            body.append(f"<h2>{html.escape(sec)}</h2>")
            section = sec
        body.append(f"<figure><img src='{html.escape(path)}' alt='{html.escape(caption)}'>"
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
