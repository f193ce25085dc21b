"""The comparison report: per-run summaries, paired differences with 95% intervals, plots.

For each run a metric is summarised by its value at the last step (running measures such as
entropy, coverage, Gini, drift, influence share) or by its mean over steps (per-step measures:
page diversity, watches, likes). Across seeds: mean and a 95% t-interval. Against the baseline
strategy: the seed-by-seed difference (same seed = same people, graph and starting state), its
mean and 95% t-interval. With n seeds the interval uses t(n-1); one seed gives no interval.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

# (column, title, summary): summary "last" = value at the final step, "mean" = mean over steps
METRICS = [
    ("mean_genre_entropy", "genre entropy of consumption, cumulative (bits)", "last"),
    ("genre_entropy_window", "genre entropy of consumption, sliding window (bits)", "last"),
    ("exposure_genre_entropy", "genre entropy of exposure (bits)", "last"),
    ("ild_genre", "intra-list diversity of pages, genres", "mean"),
    ("ild_embedding", "intra-list diversity of pages, MiniLM embeddings", "mean"),
    ("coverage_exposure", "catalog coverage, exposure", "last"),
    ("coverage_consumption", "catalog coverage, consumption", "last"),
    ("gini_exposure", "Gini of exposure", "last"),
    ("gini_consumption", "Gini of consumption", "last"),
    ("homogenisation", "homogenisation (mean pairwise Jaccard)", "last"),
    ("taste_drift", "taste drift (1 - cosine to start)", "last"),
    ("taste_alignment", "alignment of consumption with prior taste (cosine)", "last"),
    ("watches", "watches per step", "mean"),
    ("likes", "likes per step", "mean"),
    ("influence_share", "share of watches heard about first", "last"),
    ("cascade_size_mean", "mean spread-cascade size", "last"),
    ("cascade_depth_max", "max spread-cascade depth", "last"),
    ("conformity", "conformity (agreement with friends' earlier likes)", "last"),
]
KEY = ["mean_genre_entropy", "genre_entropy_window", "ild_genre", "coverage_consumption", "gini_consumption",
       "homogenisation", "taste_alignment", "watches", "influence_share"]


def t_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval; NaN bounds with fewer than 2 values."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half


def load_runs(infos: list[dict]) -> pd.DataFrame:
    frames = []
    for info in infos:
        df = pd.read_csv(Path(info["run_dir"]) / "metrics.csv")
        df["strategy"], df["label"], df["seed"] = info["strategy"], info["label"], info["seed"]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def summarise(steps: pd.DataFrame, metrics) -> pd.DataFrame:
    rows = []
    for (label, seed), run in steps.groupby(["label", "seed"], sort=False):
        run = run.sort_values("step")
        row = {"label": label, "seed": seed}
        for col, _, how in metrics:
            row[col] = float(run[col].iloc[-1]) if how == "last" else float(run[col].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(runs: pd.DataFrame, labels: list[str], baseline: str, metrics) -> pd.DataFrame:
    rows = []
    base = runs[runs.label == baseline].set_index("seed")
    for col, title, how in metrics:
        for label in labels:
            mine = runs[runs.label == label].set_index("seed")
            mean, lo, hi = t_interval(mine[col].values)
            seeds = mine.index.intersection(base.index)
            diff = (mine.loc[seeds, col] - base.loc[seeds, col]).values
            dmean, dlo, dhi = t_interval(diff) if label != baseline else (0.0, np.nan, np.nan)
            rows.append({"metric": col, "title": title, "summary": "final step" if how == "last" else "mean over steps",
                         "strategy": label, "n_seeds": int(np.isfinite(mine[col].values).sum()), "mean": mean,
                         "ci_low": lo, "ci_high": hi, "baseline": baseline, "diff_mean": dmean, "diff_ci_low": dlo,
                         "diff_ci_high": dhi})
    return pd.DataFrame(rows)


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _cell(mean, lo, hi) -> str:
    return _fmt(mean) if not np.isfinite(lo) else f"{_fmt(mean)} [{_fmt(lo)}, {_fmt(hi)}]"


def plot_metric(steps: pd.DataFrame, labels: list[str], col: str, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    for label in labels:
        run = steps[steps.label == label]
        g = run.groupby("step")[col]
        mean, sd, n = g.mean(), g.std(ddof=1), g.count()
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
        ax.plot(mean.index, mean.values, label=label)
        if (n > 1).any():
            ax.fill_between(mean.index, (mean - half).values, (mean + half).values, alpha=0.2)
    ax.set_xlabel("step")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(out: Path, scenario, strategies, seeds: list[int], infos: list[dict], *, wall_s: float, jobs: int,
                 baseline: str) -> None:
    labels = [s.label for s in strategies]
    steps = load_runs(infos)
    metrics = [m for m in METRICS if m[0] in steps.columns and steps[m[0]].notna().any()]
    runs = summarise(steps, metrics)
    runs.to_csv(out / "runs.csv", index=False)
    table = comparison_table(runs, labels, baseline, metrics)
    table.to_csv(out / "comparison.csv", index=False)
    (out / "plots").mkdir(exist_ok=True)
    for col, title, _ in metrics:
        plot_metric(steps, labels, col, title, out / "plots" / f"{col}.png")

    run_walls = [i.get("wall_time_s", 0.0) for i in infos]
    meta = {"scenario": scenario.name, "strategies": labels, "seeds": seeds, "steps": scenario.simulation.steps,
            "agents": infos[0].get("agents"), "baseline": baseline, "wall_time_s": round(wall_s, 1), "jobs": jobs,
            "run_wall_time_s_mean": round(float(np.mean(run_walls)), 1)}
    (out / "comparison.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    key = [m for m in metrics if m[0] in KEY]
    head = (f"# Comparison: {scenario.name}\n\n"
            f"{len(labels)} strategies x {len(seeds)} seeds ({', '.join(map(str, seeds))}), paired by seed; "
            f"{meta['steps']} steps, {meta['agents']} agents. Wall time {wall_s:.0f} s with {jobs} parallel "
            f"processes (mean {meta['run_wall_time_s_mean']} s per run). Baseline for differences: `{baseline}`.\n\n"
            "Cells: mean over seeds [95% t-interval]. Running measures are taken at the final step, per-step "
            "measures (page diversity, watches, likes) averaged over steps.\n")
    md = [head, "## Summary\n", summary_markdown(table, labels, key),
          f"\n## Paired differences against `{baseline}`\n",
          "Seed-by-seed difference (strategy - baseline), mean [95% t-interval]; an interval excluding 0 is "
          "marked *.\n", diff_markdown(table, labels, baseline, key),
          "\n## All measures\n", summary_markdown(table, labels, metrics), "\n## Over time\n"]
    for col, title, _ in metrics:
        md.append(f"### {title}\n\n![{col}](plots/{col}.png)\n")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    (out / "report.html").write_text(report_html(head, table, labels, baseline, key, metrics), encoding="utf-8")


def _pivot(table, labels, metrics, diff=False):
    rows = []
    for label in labels:
        cells = [label]
        for col, _, _ in metrics:
            r = table[(table.metric == col) & (table.strategy == label)].iloc[0]
            if diff:
                sig = np.isfinite(r.diff_ci_low) and (r.diff_ci_low > 0 or r.diff_ci_high < 0)
                cells.append(_cell(r.diff_mean, r.diff_ci_low, r.diff_ci_high) + (" *" if sig else ""))
            else:
                cells.append(_cell(r["mean"], r.ci_low, r.ci_high))
        rows.append(cells)
    return rows


def summary_markdown(table, labels, metrics) -> str:
    header = "| strategy | " + " | ".join(c for c, _, _ in metrics) + " |"
    sep = "|---" * (len(metrics) + 1) + "|"
    return "\n".join([header, sep] + ["| " + " | ".join(r) + " |" for r in _pivot(table, labels, metrics)]) + "\n"


def diff_markdown(table, labels, baseline, metrics) -> str:
    header = "| strategy | " + " | ".join(c for c, _, _ in metrics) + " |"
    sep = "|---" * (len(metrics) + 1) + "|"
    rows = [r for r in _pivot(table, labels, metrics, diff=True) if r[0] != baseline]
    return "\n".join([header, sep] + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def report_html(head: str, table, labels, baseline, key, metrics) -> str:
    def html_table(rows, cols):
        out = ["<table><tr><th>strategy</th>" + "".join(f"<th>{html.escape(c)}</th>" for c, _, _ in cols) + "</tr>"]
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>")
        return "\n".join(out) + "</table>"

    intro = "".join(f"<p>{html.escape(p)}</p>" for p in head.split("\n\n")[1:] if p.strip())
    body = [f"<h1>{html.escape(head.splitlines()[0].lstrip('# '))}</h1>", intro, "<h2>Summary</h2>",
            html_table(_pivot(table, labels, key), key),
            f"<h2>Paired differences against {html.escape(baseline)}</h2><p>mean [95% t-interval]; * = excludes 0</p>",
            html_table([r for r in _pivot(table, labels, key, diff=True) if r[0] != baseline], key),
            "<h2>All measures</h2>", html_table(_pivot(table, labels, metrics), metrics), "<h2>Over time</h2>"]
    for col, title, _ in metrics:
        body.append(f"<figure><img src='plots/{col}.png' alt='{html.escape(col)}'><figcaption>{html.escape(title)}"
                    "</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}figure{display:inline-block;margin:4px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>recagent comparison</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
