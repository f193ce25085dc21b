"""Run the published-findings set: each finding's sweep (scenarios/findings/<name>.yaml) through the
sweep machinery (recagent.sweep: paired seeds, resumable output, its own report), then each run's
finding measures, then every claim as a paired difference over seeds (recagent.sweep.stats).

Output folder:

    DIR/<finding>/                  the finding's sweep (runs/, sweep.csv, report.md, ...)
    DIR/herding-treated/            the herding finding's treated arm (same seeds, with the posts)
    DIR/herding-posts.json          the randomised posts (who, about what, at which step)
    DIR/findings.csv                one row per claim: means, paired difference, interval, verdict
    DIR/measures.csv                every run's finding measures
    DIR/report.md, DIR/report.html, DIR/plots/   the table and a plot per finding (report.py)

`--scale s` multiplies the base scenario's agents and steps (at least 20 agents and two
retraining rounds); `--set path=value` overrides come after, so they win.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..errors import UserError
from ..sweep.stats import paired_difference
from .catalog import BY_NAME, FINDINGS, Claim, Finding
from .measures import SERIES, herding
from .tables import read_run

FINDINGS_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "findings"
MIN_AGENTS = 20
POST_SHARE = 0.1  # the share of agents who post in the herding arm (at least 3)


@dataclass
class ClaimResult:
    finding: Finding
    claim: Claim
    mine_mean: float
    base_mean: float
    diff: float
    low: float
    high: float
    n: int
    p_value: float

    @property
    def holds(self) -> bool:
        return bool(np.isfinite(self.low) and (self.low > 0 if self.claim.expected > 0 else self.high < 0))

    @property
    def verdict(self) -> str:
        if self.n < 2 or not np.isfinite(self.low):
            return "no (too few seeds)"
        if self.holds:
            return "yes"
        opposite = self.high < 0 if self.claim.expected > 0 else self.low > 0
        return "no (opposite)" if opposite else "no (interval spans 0)"


@dataclass
class FindingsResult:
    out: Path
    results: list[ClaimResult]
    values: dict = field(default_factory=dict)  # finding -> arm -> seed -> measures


def scaled(base_file: Path, scale: float) -> dict:
    """The dotted overrides that scale the base scenario's agents and steps by `scale`."""
    if not (0 < scale <= 1) or not math.isfinite(scale):
        raise UserError(f"--scale: expected a number in (0, 1], found {scale}")
    if scale == 1:
        return {}
    raw = yaml.safe_load(base_file.read_text(encoding="utf-8"))
    count = (raw.get("agents") or {}).get("count")
    steps = raw["simulation"]["steps"]
    retrain = int((raw.get("recommender") or {}).get("retrain_every") or 1)
    out = {"simulation.steps": max(2 * retrain, round(steps * scale))}
    if count:
        out["agents.count"] = max(MIN_AGENTS, round(count * scale))
    return out


def finding_plan(finding: Finding, *, scale: float, seeds: int | None, overrides: dict, extra: dict | None = None,
                 folder: Path = FINDINGS_DIR):
    """The sweep of a finding, from its sweep file, scaled and overridden."""
    from ..sweep import build_plan
    from ..sweep.plan import load_sweep_file
    from ..sweep.strategy import parse_strategy

    path = folder / f"{finding.name}.yaml"
    block = load_sweep_file(path)
    base = block.scenario if block.scenario.is_absolute() else path.parent / block.scenario
    fixed = {**block.set, **scaled(base, scale), **overrides, **(extra or {})}
    return build_plan(base, strategies=[parse_strategy(s) for s in block.strategies],
                      seeds=seeds if seeds is not None else block.seeds, fixed=fixed, baseline=block.baseline,
                      where=str(path))


def draw_posts(control_run: Path, plan, seed: int) -> tuple[list[dict], int]:
    """The randomised intervention: POST_SHARE of the agents (at least 3), drawn with `seed`, each
    posting positively about a distinct item drawn uniformly from the catalog at the middle step."""
    from ..api import load_run

    run = load_run(control_run)
    users = run.agents.agent_id.to_numpy(dtype=np.int64)  # agent ids: the form every check reads alike
    items = run.items.item_id.to_numpy(dtype=np.int64)
    rng = np.random.default_rng([seed, 27])
    k = min(len(users), len(items), max(3, round(POST_SHARE * len(users))))
    at_step = plan.steps // 2
    posters = rng.choice(users, k, replace=False)
    about = rng.choice(items, k, replace=False)
    return [{"kind": "inject_post", "at_step": at_step, "agent": int(a), "item": int(i),
             "text": "A friend's pick: I loved this one, watch it!"} for a, i in zip(posters, about)], at_step


def _run(plan, out: Path, *, jobs, progress, console) -> None:
    from ..sweep import run_sweep

    run_sweep(plan, out, jobs=jobs, progress=progress, console=console)


def run_finding(finding: Finding, out: Path, *, scale: float, seeds: int | None, overrides: dict, jobs, progress,
                console, folder: Path = FINDINGS_DIR) -> dict:
    """Run one finding's arms; returns {arm: {seed: measures}}."""
    plan = finding_plan(finding, scale=scale, seeds=seeds, overrides=overrides, folder=folder)
    if plan.is_comparison and any(s.label in ("control", "treated") for s in plan.strategies):
        raise UserError(f"{finding.name}: strategies may not be called control or treated")
    _run(plan, out / finding.name, jobs=jobs, progress=progress, console=console)
    values: dict[str, dict[int, dict]] = {}
    if finding.measure is not None:
        for spec in plan.runs:
            values.setdefault(spec.strategy.label, {})[spec.seed] = finding.measure(read_run(out / finding.name /
                                                                                             spec.folder))
        return values
    # the herding intervention: the control runs as written, the treated ones with the posts
    posts, at_step = draw_posts(out / finding.name / plan.runs[0].folder, plan, plan.seeds[0])
    (out / "herding-posts.json").write_text(json.dumps(posts, indent=2), encoding="utf-8")
    treated = finding_plan(finding, scale=scale, seeds=seeds, overrides=overrides,
                           extra={"interventions": posts}, folder=folder)
    _run(treated, out / f"{finding.name}-treated", jobs=jobs, progress=progress, console=console)
    for arm, arm_plan, root in (("control", plan, out / finding.name), ("treated", treated, out / f"{finding.name}-treated")):
        for spec in arm_plan.runs:
            values.setdefault(arm, {})[spec.seed] = herding(read_run(root / spec.folder), posts, at_step)
    return values


def evaluate(finding: Finding, values: dict) -> list[ClaimResult]:
    """Every claim of the finding as a paired difference over the seeds both arms ran."""
    results = []
    for claim in finding.claims:
        (arm_a, key_a), (arm_b, key_b) = claim.mine, claim.base
        runs_a, runs_b = values.get(arm_a, {}), values.get(arm_b, {})
        seeds = sorted(set(runs_a) & set(runs_b))
        a = np.array([runs_a[s].get(key_a, np.nan) for s in seeds], dtype=np.float64)
        b = np.array([runs_b[s].get(key_b, np.nan) for s in seeds], dtype=np.float64)
        if not np.isfinite(a).any() and not np.isfinite(b).any():
            continue  # a group this dataset does not have
        d = paired_difference(a, b)
        with np.errstate(all="ignore"):
            results.append(ClaimResult(finding, claim, float(np.nanmean(a)) if np.isfinite(a).any() else np.nan,
                                       float(np.nanmean(b)) if np.isfinite(b).any() else np.nan, d.interval.mean,
                                       d.interval.low, d.interval.high, d.interval.n, d.p_value))
    return results


def run_findings(out: Path, *, scale: float = 1.0, seeds: int | None = None, only: list[str] | None = None,
                 overrides: dict | None = None, jobs: int | None = None, progress: bool = True, console=None,
                 folder: Path = FINDINGS_DIR) -> FindingsResult:
    """Run the selected findings (all by default) into `out`, then write the table and report."""
    from rich.console import Console

    from .report import write_report

    console = console or Console()
    unknown = [n for n in only or [] if n not in BY_NAME]
    if unknown:
        raise UserError(f"--only: expected one of {', '.join(BY_NAME)}, found {unknown[0]!r}")
    if seeds is not None and seeds < 2:
        raise UserError(f"--seeds: a paired interval needs at least 2 seeds, found {seeds}")
    selected = [f for f in FINDINGS if not only or f.name in only]
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError("--out exists and is not a folder", out)
    for finding in selected:  # every plan is valid (scale, overrides, sweep files) before anything runs
        finding_plan(finding, scale=scale, seeds=seeds, overrides=dict(overrides or {}), folder=folder)
    out.mkdir(parents=True, exist_ok=True)
    results, values = [], {}
    for finding in selected:
        console.print(f"[bold]{finding.name}[/]: {finding.title} ({finding.citation})", highlight=False)
        values[finding.name] = run_finding(finding, out, scale=scale, seeds=seeds, overrides=dict(overrides or {}),
                                           jobs=jobs, progress=progress, console=console, folder=folder)
        results += evaluate(finding, values[finding.name])
    write_report(out, results, values, scale=scale)
    return FindingsResult(out, results, values)


def scalar_items(measures: dict):
    """The single-valued measures of one run (not the per-round series)."""
    return {k: v for k, v in measures.items() if not k.startswith(SERIES)}
