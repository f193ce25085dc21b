"""`run_comparison`: one scenario under several strategies on paired seeds, as a sweep with no
swept parameters. Output folder as recagent/sweep/runner.py describes (runs/<strategy>/seed-<s>/,
sweep.csv, comparison.csv, report.md, report.html, plots/); an interrupted comparison resumes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..sweep.strategy import Strategy


def comparison_plan(scenario_path: str | Path, strategies: list[Strategy], seeds: int, *, steps: int | None = None,
                    baseline: str | None = None, robust: list[str] | None = None, max_runs: int | None = None):
    """The sweep of a comparison; UserError (naming the option) before anything runs."""
    from ..sweep import build_plan
    from ..sweep.plan import MAX_RUNS
    from ..sweep.robustness import robust_grid

    if not strategies:
        raise UserError("give at least one --recommender")
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be at least 1, found {steps}")
    if baseline is not None and baseline not in [s.label for s in strategies]:
        raise UserError(f"--baseline {baseline!r} is not one of the --recommender strategies")
    return build_plan(Path(scenario_path), strategies=strategies, seeds=seeds, baseline=baseline, where="compare",
                      fixed={"simulation.steps": steps} if steps is not None else {},
                      robust=robust_grid(robust), max_runs=max_runs or MAX_RUNS)


def run_comparison(scenario_path: str | Path, strategies: list[Strategy], seeds: int, out: Path, *,
                   jobs: int | None = None, steps: int | None = None, baseline: str | None = None,
                   progress: bool = True, executor: str = "pool", ray_address: str | None = None,
                   interval: str = "bootstrap", console=None, robust: list[str] | None = None) -> Path:
    """Run every strategy on `seeds` paired seeds (scenario seed, +1, ...), then write the report."""
    from ..sweep import run_sweep

    plan = comparison_plan(scenario_path, strategies, seeds, steps=steps, baseline=baseline, robust=robust)
    run_sweep(plan, Path(out), executor=executor, jobs=jobs, ray_address=ray_address, interval=interval,
              progress=progress, console=console)
    return Path(out)
