"""The `recagent sweep` and `recagent report` commands (mounted by recagent/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def sweep(
    file: Path = typer.Argument(..., help="A sweep file (a YAML with a `sweep:` block) or a scenario YAML"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (new, empty, or an unfinished sweep to "
                                                           "resume); default: the sweep file's `out`"),
    recommender: Optional[list[str]] = typer.Option(None, "--recommender", "-r",
                                                    help="Strategy, e.g. popular or mf+mmr(lambda=0.7); repeat for each"),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Paired seeds per point (scenario seed, +1, ...)"),
    grid: Optional[list[str]] = typer.Option(None, "--grid", help="PATH=V1,V2,... swept values of a dotted scenario "
                                                                  "path, e.g. social.homophily=0,2,4; repeat"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="PATH=VALUE fixed override for every run; repeat"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override simulation.steps"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="Strategy differences are taken against "
                                                                    "(default: the first)"),
    executor: str = typer.Option("pool", "--executor", help="pool (local processes) or ray"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (e.g. "
                                              "ray://head:10001 or head:6379); default: start a local Ray instance"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Parallel runs: pool processes, or CPUs of a local Ray "
                                                            "instance (default: CPU count)"),
    cpus_per_run: float = typer.Option(1.0, "--cpus-per-run", help="CPUs each Ray task requests"),
    interval: str = typer.Option("bootstrap", "--interval", help="bootstrap (default) or t (only with 5+ seeds)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    robust: Optional[list[str]] = typer.Option(None, "--robust", help="Re-run every strategy at both ends of this "
                                               "prior's plausible range and say whether each difference holds "
                                               "(self_selection); repeat"),
    max_runs: int = typer.Option(10_000, "--max-runs", min=1, help="Refuse a plan of more runs than this"),
) -> None:
    """Run a scenario over strategies x parameter values x seeds; write sweep.csv and a report."""
    from ..console import console

    plan, out = plan_from_cli(file, out=out, recommender=recommender, seeds=seeds, grid=grid, set_=set_,
                              steps=steps, baseline=baseline, robust=robust, max_runs=max_runs)
    result = _run(plan, out, executor=executor, ray_address=ray_address, jobs=jobs, cpus_per_run=cpus_per_run,
                  interval=interval, quiet=quiet)
    console.print(f"{result.ran} runs done, {result.skipped} reused; sweep.csv and report: "
                  f"[bold]{result.out / 'report.md'}[/] and {result.out / 'report.html'}")


def _run(plan, out, **options):
    """run_sweep, with Ctrl-C turned into a one-line message and exit code 130."""
    from ..console import err_console
    from .runner import run_sweep

    try:
        return run_sweep(plan, out, executor=options["executor"], jobs=options["jobs"],
                         ray_address=options["ray_address"], cpus_per_run=options["cpus_per_run"],
                         interval=options["interval"], progress=not options["quiet"])
    except KeyboardInterrupt:
        err_console.print(f"[bold yellow]interrupted:[/] finished runs are kept in {out}; run the same command "
                          "again to finish only the missing ones", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def plan_from_cli(file: Path, *, out, recommender, seeds, grid, set_, steps, baseline, robust=None,
                  max_runs: int = 10_000):
    """The plan from a sweep file and/or the command-line options (options win)."""
    from ..errors import UserError
    from .plan import build_plan, is_sweep_file, load_sweep_file, parse_override, parse_values
    from .robustness import robust_grid
    from .strategy import parse_strategy

    if steps is not None and steps < 1:
        raise UserError(f"--steps must be at least 1, found {steps}")
    fixed, sweep_grid, points, strategies, seed_spec = {}, {}, [], [], 3
    base = file
    if is_sweep_file(file):
        block = load_sweep_file(file)
        base = (file.parent / block.scenario) if not block.scenario.is_absolute() else block.scenario
        if not base.is_file():
            raise UserError(f"field 'sweep.scenario': {base} does not exist", file)
        fixed, sweep_grid, points = dict(block.set), dict(block.grid), list(block.points)
        strategies = [parse_strategy(s) for s in block.strategies]
        seed_spec = block.seeds
        baseline = baseline if baseline is not None else block.baseline
        if out is None and block.out is not None:
            out = block.out if block.out.is_absolute() else file.parent / block.out
    if out is None:
        raise UserError("give --out (or `out:` in the sweep block)")
    for text in set_ or []:
        key, value = parse_override(text, "--set")
        fixed[key] = value
    if steps is not None:
        fixed["simulation.steps"] = steps
    for text in grid or []:
        key, values = parse_values(text, "--grid")
        sweep_grid[key] = values
    if recommender:
        strategies = [parse_strategy(r) for r in recommender]
    if seeds is not None:
        seed_spec = seeds
    where = f"{file}" if is_sweep_file(file) else "sweep"
    plan = build_plan(base, strategies=strategies, seeds=seed_spec, fixed=fixed, grid=sweep_grid, points=points,
                      baseline=baseline, where=where, max_runs=max_runs, robust=robust_grid(robust))
    return plan, out


def report(run_dir: Path = typer.Argument(..., help="A run folder (with metrics.csv)")) -> None:
    """Write the per-step plots and a report (report.md, report.html) of one run into its folder."""
    from ..console import console
    from .run_report import write_run_report

    path = write_run_report(run_dir)
    console.print(f"report: [bold]{path}[/] and {path.with_suffix('.html')}, plots in {run_dir / 'plots'}")
