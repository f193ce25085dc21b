"""The `recagent compare` command (mounted by recagent/cli.py): a sweep over strategies only."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

# --max-runs defaults to sweep.plan.MAX_RUNS (a literal: the CLI imports no sweep code before a command runs)


def compare(
    scenario: Path = typer.Argument(..., help="Scenario YAML file"),
    recommender: list[str] = typer.Option(..., "--recommender", "-r",
                                          help="Strategy, e.g. random, mf, mf+mmr(lambda=0.7); repeat for each"),
    seeds: int = typer.Option(3, "--seeds", help="Paired seeds per strategy (scenario seed, +1, ...)"),
    out: Path = typer.Option(..., "--out", help="Output folder (new, empty, or an unfinished comparison to resume)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Parallel runs (default: CPU count)"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override simulation.steps"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="Strategy differences are taken against "
                                                                    "(default: the first --recommender)"),
    executor: str = typer.Option("pool", "--executor", help="pool (local processes) or ray"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster; default: start a "
                                                                          "local Ray instance"),
    interval: str = typer.Option("bootstrap", "--interval", help="bootstrap (default) or t (only with 5+ seeds)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    robust: Optional[list[str]] = typer.Option(None, "--robust", help="Re-run every strategy at both ends of this "
                                               "prior's plausible range and say whether each difference holds "
                                               "(self_selection); repeat"),
    max_runs: int = typer.Option(10_000, "--max-runs", min=1, help="Refuse a plan of more runs than this"),
) -> None:
    """Run a scenario under several recommendation strategies with paired seeds; write a report."""
    from ..console import console
    from ..sweep.cli import _run
    from ..sweep.strategy import parse_strategy
    from .runner import comparison_plan

    plan = comparison_plan(scenario, [parse_strategy(r) for r in recommender], seeds, steps=steps,
                           baseline=baseline, robust=robust, max_runs=max_runs)
    result = _run(plan, out, executor=executor, ray_address=ray_address, jobs=jobs, cpus_per_run=1.0,
                  interval=interval, quiet=quiet)
    report = (result.out / "report.md").read_text(encoding="utf-8")
    if "## Robustness" in report:  # the verdicts first: whether the differences hold across the range
        console.print(report.split("## Robustness", 1)[1].split("\n## ", 1)[0].split("\n", 1)[1].strip(),
                      highlight=False, soft_wrap=True, markup=False)  # "[interval]" is text, not a style
    summary = report.split("## Paired differences")[0]
    console.print(summary.split("## Summary", 1)[-1].strip(), highlight=False, soft_wrap=True)
    console.print(f"report: [bold]{result.out / 'report.md'}[/] and {result.out / 'report.html'}")
