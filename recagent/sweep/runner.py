"""Run a sweep into an output folder, resuming one that was interrupted.

Output folder:

    DIR/sweep.json                  the plan, executor, timings, retried and failed runs
    DIR/scenarios/<strategy>[/<point>].yaml   the resolved scenario of each strategy x point
    DIR/runs/<strategy>[/<point>]/seed-<s>/   each run's folder (events.sqlite, metrics.csv, run.json, ...)
    DIR/sweep.csv                   one row per run: strategy, swept values, seed, each measure's summary
    DIR/comparison.csv, DIR/report.md, DIR/report.html, DIR/plots/   the report (report.py)

A run counts as finished when its run.json says `completed` and its resolved scenario is the
one this sweep would run; such runs are skipped, so re-running the same command after Ctrl-C, a
crash or a failed run finishes only what is missing. A folder holding a *different* sweep (one
this plan neither is nor extends) is refused before anything is written, and a finished run of a
different scenario is never silently mixed in.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UserError
from .plan import RunSpec, SweepPlan

# run.json statuses of a run that went as far as it will go (a degraded LLM run or a spent budget
# would end the same way again); "running", "interrupted" and "failed" runs are redone
FINISHED = ("completed", "degraded", "budget_exhausted")


@dataclass
class SweepResult:
    out: Path
    ran: int
    skipped: int
    retried: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    warnings: list[str] = field(default_factory=list)


def run_state(run_dir: Path, spec: RunSpec) -> str:
    """'missing', 'partial' (started, not completed: redo), 'done', or 'different' (another scenario)."""
    if not run_dir.exists():
        return "missing"
    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        resolved = yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return "partial"
    if info.get("status") not in FINISHED or not (run_dir / "metrics.csv").is_file():
        return "partial"
    return "done" if resolved == yaml.safe_load(spec.scenario_text) else "different"


def check_same_sweep(out: Path, plan: SweepPlan) -> None:
    """UserError unless the sweep.json in `out` is this plan's, or a sweep this plan extends (every run it
    recorded is one of this plan's, with the same scenario): another sweep's sweep.json, sweep.csv and
    report are never overwritten."""
    path = out / "sweep.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        raise UserError("holds a sweep.json that cannot be read as JSON; choose another --out", path) from None
    if not isinstance(meta, dict):
        raise UserError(f"expected a JSON object, found {type(meta).__name__}; choose another --out", path)
    recorded = meta.get("run_sha256")
    if isinstance(recorded, dict):  # the same sweep, or this one extended by seeds or grid values
        mine = plan.run_fingerprints()
        same = all(mine.get(folder) == digest for folder, digest in recorded.items())
    elif "plan_sha256" in meta:
        same = meta["plan_sha256"] == plan.fingerprint()
    else:  # written before plans had a fingerprint
        same = (meta.get("base_scenario") == str(plan.base_file.resolve())
                and meta.get("strategies") == [s.label for s in plan.strategies]
                and meta.get("seeds") == plan.seeds and meta.get("runs") == len(plan.runs))
    if not same:
        what = f"{meta.get('scenario', '?')!s:.60}, {meta.get('runs', '?')} runs"
        raise UserError(f"--out holds a different sweep ({what}) than this one ({plan.name}, {len(plan.runs)} runs); "
                        "choose another --out (the same command resumes its own sweep)", out)


def make_executor(executor: str, *, jobs: int | None, ray_address: str | None, cpus_per_run: float, n_runs: int):
    from ..cache import cache_dir
    from .executors import PoolExecutor, RayExecutor

    if executor == "pool":
        if ray_address:
            raise UserError("--ray-address needs --executor ray")
        return PoolExecutor(min(jobs or os.cpu_count() or 1, max(n_runs, 1)))
    if executor == "ray":
        if cpus_per_run <= 0:
            raise UserError(f"--cpus-per-run must be positive, found {cpus_per_run}")
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError("--executor ray: the ray package is not installed (pip install ray)") from None
        # Workers read prepared models from the same cache folder as the driver (else each would
        # prepare its own): the driver's RECAGENT_CACHE, or for a local instance its resolved default.
        env = {"OMP_NUM_THREADS": str(max(1, int(cpus_per_run)))}
        if "RECAGENT_CACHE" in os.environ or not ray_address:
            env["RECAGENT_CACHE"] = str(cache_dir().resolve())
        executor = RayExecutor(ray_address, jobs, cpus_per_run, env)
        executor.check_address()
        return executor
    raise UserError(f"--executor: expected pool or ray, found {executor!r}")


def run_sweep(plan: SweepPlan, out: Path, *, executor: str = "pool", jobs: int | None = None,
              ray_address: str | None = None, cpus_per_run: float = 1.0, interval: str = "bootstrap",
              progress: bool = True, console=None) -> SweepResult:
    """Run the plan's missing runs, then write sweep.csv and the report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .report import write_report
    from .worker import execute_run, unpack_run

    console = console or Console()
    out = Path(out)
    if interval not in ("bootstrap", "t"):
        raise UserError(f"--interval: expected bootstrap or t, found {interval!r}")
    if out.exists() and not out.is_dir():
        raise UserError("--out exists and is not a folder", out)
    resuming = out.is_dir() and any(out.iterdir())
    if resuming and not (out / "sweep.json").is_file():
        raise UserError("output folder exists, is not empty and holds no sweep to resume; choose another --out", out)
    if resuming:
        check_same_sweep(out, plan)
    states = {spec.folder: run_state(out / spec.folder, spec) for spec in plan.runs}
    different = [s for s in plan.runs if states[s.folder] == "different"]
    if different:
        raise UserError(f"{out / different[0].folder} is a finished run of a different scenario than this sweep "
                        f"would run ({len(different)} such runs); choose another --out")
    todo = [s for s in plan.runs if states[s.folder] != "done"]
    runner = make_executor(executor, jobs=jobs, ray_address=ray_address, cpus_per_run=cpus_per_run,
                           n_runs=len(todo))

    out.mkdir(parents=True, exist_ok=True)
    for rel, text in plan.scenario_files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    meta = {"scenario": plan.name, "base_scenario": str(plan.base_file.resolve()), "parameters": plan.parameters,
            "points": [dict(p.values) for p in plan.points], "strategies": [s.label for s in plan.strategies],
            "seeds": plan.seeds, "baseline": plan.baseline, "runs": len(plan.runs), "executor": runner.description,
            "status": "running", "skipped": len(plan.runs) - len(todo), "plan_sha256": plan.fingerprint(),
            "run_sha256": plan.run_fingerprints(), "robust": plan.robust}
    _write_json(out / "sweep.json", meta)
    if meta["skipped"]:
        console.print(f"{meta['skipped']} of {len(plan.runs)} runs already finished in {out}: skipped")

    remote = executor == "ray"
    for spec in todo:  # a partial run is redone from scratch
        shutil.rmtree(out / spec.folder, ignore_errors=True)
    calls = [(spec.scenario_text, None if remote else str(out / spec.folder)) for spec in todo]
    retried, failures = [], []
    hosts: dict[str, int] = {}  # runs finished per machine (a cluster spreads them)
    started = time.perf_counter()

    def on_done(i: int, result, error: str | None, was_retried: bool) -> None:
        spec = todo[i]
        if was_retried:
            retried.append(spec.name)
        if error is None and "error" in result:
            error = result["error"]
        if error is not None:
            failures.append(f"{spec.name}: {error}")
        else:
            host = result["info"].get("host", "?")
            hosts[host] = hosts.get(host, 0) + 1
            if result.get("archive") is not None:
                unpack_run(result["archive"], out / spec.folder)
        bar.update(task, advance=1, last=spec.name)

    with Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                  TimeElapsedColumn(), console=console, disable=not progress) as bar:
        task = bar.add_task("runs", total=len(todo), last="")
        try:
            if todo:
                runner.run(execute_run, calls, on_done)
        except KeyboardInterrupt:
            meta.update(status="interrupted", finished_this_time=bar.tasks[0].completed, retried=retried)
            _write_json(out / "sweep.json", meta)
            raise
    wall = time.perf_counter() - started
    meta.update(wall_time_s=round(wall, 2), ran=len(todo) - len(failures), retried=retried, failed=failures,
                runs_per_host=hosts)
    if retried:
        console.print(f"[yellow]{len(retried)} runs were retried after their worker died:[/] {'; '.join(retried)}")
    if failures:
        meta["status"] = "failed"
        _write_json(out / "sweep.json", meta)
        (out / "failures.txt").write_text("\n".join(failures) + "\n", encoding="utf-8")
        raise UserError(f"{len(failures)} of {len(todo)} runs failed, first: {failures[0]} "
                        f"(all in {out / 'failures.txt'}; re-run the same command to retry only those)")
    (out / "failures.txt").unlink(missing_ok=True)
    meta["status"] = "completed"
    _write_json(out / "sweep.json", meta)
    warnings = write_report(out, plan, meta, interval=interval)
    for w in warnings:
        console.print(f"[bold yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    return SweepResult(out, ran=len(todo), skipped=meta["skipped"], retried=retried, wall_s=wall, warnings=warnings)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
