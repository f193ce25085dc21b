"""The `recagent findings` command (mounted by recagent/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def findings(
    out: Path = typer.Option(..., "--out", help="Output folder (new, empty, or an unfinished findings run to resume)"),
    scale: float = typer.Option(1.0, "--scale", help="Share of the base scenario's agents and steps, in (0, 1]"),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Paired seeds per arm (default: each sweep file's)"),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Run only this finding; repeat for several"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override for every run, e.g. feedback.model=ensemble"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Parallel runs (default: CPU count)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars"),
) -> None:
    """Rerun published feedback-loop findings (scenarios/findings/); print whether each holds."""
    from ..console import console
    from ..sweep.plan import parse_override
    from .report import print_table
    from .runner import run_findings

    overrides = dict(parse_override(text, "--set") for text in set_ or [])
    result = run_findings(out, scale=scale, seeds=seeds, only=list(only or []) or None, overrides=overrides,
                          jobs=jobs, progress=not quiet, console=console)
    print_table(result.results, console)
    held = sum(r.holds for r in result.results)
    console.print(f"{held} of {len(result.results)} claims hold; report: [bold]{result.out / 'report.md'}[/] "
                  f"and {result.out / 'report.html'}", highlight=False)
