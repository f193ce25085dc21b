"""`--robust NAME`: do a sweep's conclusions survive the plausible range of a prior nobody can measure?

A robustness range is crossed with every point like a grid parameter (each strategy runs at each end
of the range on the same paired seeds), but it is not a question of the sweep: the report takes each
paired difference (strategy - baseline, per metric, per point of the real grid) at every value of the
range and says whether its sign and its interval hold across them. A difference whose sign changes
inside the range is a conclusion that *flips*: the report says so at the top.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UserError

VERDICT_HOLDS = "holds: same sign, interval excludes 0 everywhere"
VERDICT_SIGN = "sign holds; interval includes 0 somewhere"
VERDICT_FLIPS = "FLIPS: the sign changes inside the range"
VERDICT_NONE = "no difference anywhere (every interval includes 0)"
VERDICT_MISSING = "not measured at every end of the range (no value at one end)"


def ranges() -> dict[str, tuple[str, list, str]]:
    """NAME -> (dotted scenario path, the values at the ends of its range, where the range comes from)."""
    from ..feedback.self_selection_prior import RANGE, SOURCES

    return {"self_selection": ("feedback.self_selection", list(RANGE),
                               f"random/chosen like ratio of published random-exposure data: {SOURCES}")}


def robust_grid(names: list[str] | None, option: str = "--robust") -> dict[str, list]:
    """{dotted path: values} of the named ranges; UserError naming the option for an unknown name."""
    known = ranges()
    out = {}
    for name in names or []:
        if name not in known:
            raise UserError(f"{option}: expected one of {', '.join(known)}, found {name!r}")
        path, values, _ = known[name]
        out[path] = values
    return out


def verdict(diffs: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> str:
    """The verdict on one difference measured at every value of the range. With no interval excluding 0
    there is no conclusion to flip; otherwise a change of sign anywhere is a flip."""
    if not np.isfinite(diffs).all():  # a measure undefined at one end says nothing about holding
        return VERDICT_MISSING
    signs = np.sign(diffs[np.isfinite(diffs)])
    significant = np.isfinite(lows) & ((lows > 0) | (highs < 0))
    if not significant.any():
        return VERDICT_NONE
    if (signs > 0).any() and (signs < 0).any():
        return VERDICT_FLIPS
    if (lows > 0).all() or (highs < 0).all():
        return VERDICT_HOLDS
    return VERDICT_SIGN


def robustness_rows(table: pd.DataFrame, plan, measures) -> list[dict]:
    """One row per (question point, metric, strategy other than the baseline): the difference at each value
    of the robustness range and its verdict."""
    robust = list(plan.robust)
    questions = [p for p in plan.parameters if p not in robust]
    rows = []
    frame = table[table.strategy != plan.baseline]
    keys = {point.label: dict(point.values) for point in plan.points}
    frame = frame.assign(_question=[", ".join(f"{q}={keys[p].get(q)}" for q in questions) for p in frame.point],
                         _range=[", ".join(f"{r}={keys[p].get(r)}" for r in robust) for p in frame.point])
    for (question, metric, strategy), group in frame.groupby(["_question", "metric", "strategy"], sort=False):
        if metric not in {m.column for m in measures}:
            continue
        group = group.sort_values("_range")
        diffs, lows, highs = (group[c].to_numpy(np.float64) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
        rows.append({"question": question, "metric": metric, "name": group["name"].iloc[0], "strategy": strategy,
                     "baseline": plan.baseline, "at": list(group["_range"]), "diff": diffs.tolist(),
                     "ci_low": lows.tolist(), "ci_high": highs.tolist(), "verdict": verdict(diffs, lows, highs)})
    return rows


def flips(rows: list[dict]) -> list[str]:
    """One line per conclusion that flips inside the range (for the report's warnings)."""
    return [f"{r['name']}: {r['strategy']} - {r['baseline']}" + (f" at {r['question']}" if r["question"] else "")
            + " changes sign across " + "; ".join(f"{at}: {d:+.3f}" for at, d in zip(r["at"], r["diff"]))
            for r in rows if r["verdict"] == VERDICT_FLIPS]
