"""The `recagent compare` command (mounted by recagent/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def compare(
    scenario: Path = typer.Argument(..., help="Scenario YAML file"),
    recommender: List[str] = typer.Option(..., "--recommender", "-r",
                                          help="Strategy, e.g. random, mf, mf+mmr(lambda=0.7); repeat for each"),
    seeds: int = typer.Option(3, "--seeds", help="Paired seeds per strategy (scenario seed, +1, ...)"),
    out: Path = typer.Option(..., "--out", help="Output folder (new or empty)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Parallel processes (default: CPU count)"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override simulation.steps"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="Strategy differences are taken against "
                                                                    "(default: the first --recommender)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
) -> None:
    """Run a scenario under several recommendation strategies with paired seeds; write a report."""
    from ..cli import console, fail
    from ..errors import UserError
    from .runner import parse_strategy, run_comparison

    try:
        strategies = [parse_strategy(r) for r in recommender]
        folder = run_comparison(scenario, strategies, seeds, out, jobs=jobs, steps=steps, baseline=baseline,
                                progress=not quiet)
    except UserError as e:
        fail(e)
    summary = (folder / "report.md").read_text(encoding="utf-8").split("## Paired differences")[0]
    console.print(summary.split("## Summary", 1)[-1].strip(), highlight=False, soft_wrap=True)
    console.print(f"report: [bold]{folder / 'report.md'}[/] and {folder / 'report.html'}")
