"""The findings report: findings.csv (one row per claim), measures.csv (one row per run),
report.md and report.html (the table, then each finding with its plot), plots/<finding>.png.

A claim holds when the 95% paired interval over seeds (bootstrap, recagent.sweep.stats) lies on
the side of zero the paper reports; "no (interval spans 0)" means this many seeds could not tell,
"no (opposite)" that recagent shows the other direction.
"""

from __future__ import annotations

import html
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..sweep.stats import SMALL_N
from .measures import SERIES

COLUMNS = ("finding", "measure", "paper", "ours", "holds")


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _defined(x) -> bool:
    return x is not None and bool(np.isfinite(x))


def _ours(r) -> str:
    """The difference with its interval, or n/a with the reason there is none."""
    if not _defined(r.diff):
        return "n/a (the measure is undefined in every paired seed)"
    if not (_defined(r.low) and _defined(r.high)):
        return f"{_fmt(r.diff)} (no interval: fewer than 2 paired seeds)"
    return f"{_fmt(r.diff)} [{_fmt(r.low)}, {_fmt(r.high)}]"


def rows(results) -> list[dict]:
    """The table's rows: finding, measure, paper's direction, ours (difference [interval], n), verdict."""
    out = []
    for r in results:
        ours = f"{_ours(r)} (n={r.n})"
        measure = r.claim.measure + (" (volume-matched)" if r.claim.volume_matched else "")
        out.append({"finding": r.finding.name, "measure": measure, "paper": r.claim.paper, "ours": ours,
                    "holds": r.verdict})
    return out


def claims_frame(results) -> pd.DataFrame:
    return pd.DataFrame([{"finding": r.finding.name, "measure": r.claim.measure, "paper": r.claim.paper,
                          "mine": "/".join(r.claim.mine), "base": "/".join(r.claim.base),
                          "expected_sign": r.claim.expected, "volume_matched": r.claim.volume_matched,
                          "mine_mean": r.mine_mean, "base_mean": r.base_mean, "diff_mean": r.diff,
                          "diff_ci_low": r.low, "diff_ci_high": r.high, "seeds": r.n, "p_value": r.p_value,
                          "holds": r.holds, "verdict": r.verdict} for r in results])


def measures_frame(values: dict) -> pd.DataFrame:
    records = []
    for finding, arms in values.items():
        for arm, seeds in arms.items():
            for seed, measures in seeds.items():
                for key, value in measures.items():
                    if not key.startswith(SERIES):
                        records.append({"finding": finding, "arm": arm, "seed": seed, "measure": key,
                                        "value": value})
    return pd.DataFrame(records, columns=["finding", "arm", "seed", "measure", "value"])


def print_table(results, console) -> None:
    from rich.table import Table

    table = Table(*COLUMNS, show_lines=False)
    for row in rows(results):
        table.add_row(*(row[c] for c in COLUMNS))
    console.print(table)


def markdown_table(results) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(results):
        lines.append("| " + " | ".join(row[c].replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(lines)


def plot_finding(name: str, arms: dict, path: Path) -> bool:
    """Per-round series (mean over seeds, one line per arm) or, without series, the claim measures
    per arm as bars with the seeds as dots. False when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = sorted({k for seeds in arms.values() for m in seeds.values() for k in m if k.startswith(SERIES)})
    if series:
        fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.4), squeeze=False)
        for ax, key in zip(axes[0], series):
            for arm, seeds in arms.items():
                stack = np.array([np.asarray(m[key], dtype=np.float64) for m in seeds.values() if key in m])
                if not len(stack):
                    continue
                with warnings.catch_warnings():  # an all-NaN round (nobody reached the volume) stays NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean, lo, hi = np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)
                x = np.arange(1, stack.shape[1] + 1)
                ax.plot(x, mean, marker="o", label=arm)
                ax.fill_between(x, lo, hi, alpha=0.2)
            ax.set_title(key.removeprefix(SERIES), fontsize=10)
            ax.set_xlabel("retraining round")
            ax.legend(fontsize=8)
    else:
        keys = sorted({k for seeds in arms.values() for m in seeds.values() for k in m})
        fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.2), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for j, seeds in enumerate(arms.values()):
                v = np.array([m.get(key, np.nan) for m in seeds.values()], dtype=np.float64)
                ax.bar(j, np.nanmean(v) if np.isfinite(v).any() else 0, color=f"C{j}", alpha=0.6)
                ax.scatter(np.full(len(v), j), v, color="k", s=12, zorder=3)
            ax.set_xticks(range(len(arms)), [textwrap.fill(str(arm), 12) for arm in arms])  # long arm names wrapped
            ax.set_title(key, fontsize=10)
    fig.suptitle(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(out: Path, results, values: dict, *, scale: float) -> None:
    claims_frame(results).to_csv(out / "findings.csv", index=False)
    measures_frame(values).to_csv(out / "measures.csv", index=False)
    seeds = min((len(s) for arms in values.values() for s in arms.values()), default=0)
    intro = [f"Published feedback-loop findings rerun by recagent at --scale {scale:g}; each row is a paired "
             "difference over seeds (same seed = same people, graph and start), with its 95% bootstrap interval. "
             "A finding holds when the interval lies on the paper's side of zero."]
    if seeds < SMALL_N:
        intro.append(f"**Warning:** only {seeds} seeds per arm: intervals over fewer than {SMALL_N} seeds are rough.")
    figures = []
    for name, arms in values.items():
        if plot_finding(name, arms, out / "plots" / f"{name}.png"):
            figures.append((name, f"plots/{name}.png"))
    md = ["# recagent findings", "", *intro, "", markdown_table(results), ""]
    for name, src in figures:
        md += [f"## {name}", "", f"![{name}]({src})", ""]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(row[c])}</td>" for c in COLUMNS) + "</tr>"
                    for row in rows(results))
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>recagent findings</title>",
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px}"
            "table{border-collapse:collapse}</style></head><body><h1>recagent findings</h1>",
            *(f"<p>{html.escape(p).replace('**', '')}</p>" for p in intro),
            "<table><tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>" + cells + "</table>",
            *(f"<h2>{html.escape(n)}</h2><img src='{html.escape(s)}' alt='{html.escape(n)}'>" for n, s in figures),
            "</body></html>"]
    (out / "report.html").write_text("\n".join(page), encoding="utf-8")
