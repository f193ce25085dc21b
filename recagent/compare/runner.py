"""Run one scenario under several strategies and seeds, in parallel processes.

A strategy is written like the command line takes it: a base recommender, then re-rankers joined
with '+', each with optional parameters in parentheses:

    random    mf    mf+mmr(lambda=0.7)    mf(dim=16,epochs=30)+random_k(every=4)

Parameter values are read as YAML scalars (numbers, true/false, strings).

Output folder:

    DIR/scenarios/<label>.yaml          the resolved scenario each strategy ran
    DIR/runs/<label>/seed-<s>/          each run's folder (events.sqlite, metrics.csv, ...) plus
                                        agent_metrics.csv (per-agent cocoon and influence measures)
    DIR/comparison.csv, DIR/runs.csv, DIR/report.md, DIR/report.html, DIR/plots/*.png  (report.py)
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UserError

_PART = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\((.*)\))?\s*$")


@dataclass
class Strategy:
    label: str
    name: str
    params: dict = field(default_factory=dict)
    rerankers: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.label).strip("_") or "strategy"


def _split_plus(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _params(text: str | None, where: str) -> dict:
    if not text or not text.strip():
        return {}
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise UserError(f"{where}: expected key=value inside parentheses, found {item.strip()!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(value.strip())
        except yaml.YAMLError:
            out[key.strip()] = value.strip()
    return out


def parse_strategy(text: str) -> Strategy:
    """'mf(dim=16)+mmr(lambda=0.7)' -> Strategy; UserError naming --recommender when malformed."""
    where = f"--recommender {text!r}"
    parts = []
    for part in _split_plus(text):
        m = _PART.match(part)
        if not m:
            raise UserError(f"{where}: expected NAME or NAME(key=value,...) joined by '+', found {part.strip()!r}")
        parts.append((m.group(1), _params(m.group(2), where)))
    (name, params), rerankers = parts[0], parts[1:]
    return Strategy(label=text.strip(), name=name, params=params, rerankers=rerankers)


def check_strategies(strategies: list[Strategy]) -> None:
    from ..recommenders import available_recommenders, available_rerankers

    recs, rrs = available_recommenders(), available_rerankers()
    labels = set()
    for s in strategies:
        if s.name not in recs:
            raise UserError(f"--recommender {s.label!r}: unknown recommender {s.name!r}; available: "
                            f"{', '.join(sorted(recs))}")
        for r, _ in s.rerankers:
            if r not in rrs:
                raise UserError(f"--recommender {s.label!r}: unknown re-ranker {r!r}; available: {', '.join(sorted(rrs))}")
        if s.slug in labels:
            raise UserError(f"--recommender {s.label!r} is given twice")
        labels.add(s.slug)


def _run_one(scenario_file: str, run_dir: str, seed: int, steps: int | None) -> dict:
    """Worker: one run; returns its run.json info (plus the run folder)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from rich.console import Console

    from ..simulation.runner import run_scenario

    started = time.perf_counter()
    result = run_scenario(scenario_file, out=Path(run_dir), seed=seed, steps=steps, progress=False,
                          console=Console(file=io.StringIO()))
    tracker = getattr(result.model, "step_metrics", None)
    if tracker is not None:
        tracker.agent_table().to_csv(Path(run_dir) / "agent_metrics.csv", index=False)
    info = dict(result.info)
    info["run_dir"] = run_dir
    info["process_wall_s"] = round(time.perf_counter() - started, 2)
    return info


def _context():
    """forkserver where the platform has it: one clean process imports recagent (and torch) once and
    forks the workers, instead of every spawned worker importing everything again."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["recagent.compare.runner", "recagent.simulation.runner", "torch"])
        return ctx
    return multiprocessing.get_context("spawn")


def run_comparison(scenario_path: str | Path, strategies: list[Strategy], seeds: int, out: Path, *,
                   jobs: int | None = None, steps: int | None = None, baseline: str | None = None,
                   progress: bool = True) -> Path:
    """Run every strategy on `seeds` paired seeds (scenario seed, +1, ...), then write the report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..scenario import dump_scenario, load_scenario
    from .report import write_report

    if not strategies:
        raise UserError("give at least one --recommender")
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, found {seeds}")
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be at least 1, found {steps}")
    check_strategies(strategies)
    if baseline is not None and baseline not in [s.label for s in strategies]:
        raise UserError(f"--baseline {baseline!r} is not one of the --recommender strategies")
    scenario = load_scenario(scenario_path)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError("output folder exists and is not empty; choose another --out", out)

    from ..scenario import RerankerSpec

    out.mkdir(parents=True, exist_ok=True)
    (out / "scenarios").mkdir()
    tasks = []
    seed_list = [scenario.seed + k for k in range(seeds)]
    for s in strategies:
        spec = scenario.model_copy(deep=True)
        spec.recommender.name = s.name
        spec.recommender.params = dict(s.params)
        spec.recommender.rerankers = [RerankerSpec(name=n, params=p) for n, p in s.rerankers]
        file = out / "scenarios" / f"{s.slug}.yaml"
        file.write_text(dump_scenario(spec), encoding="utf-8")
        for seed in seed_list:
            tasks.append((s, str(file), str(out / "runs" / s.slug / f"seed-{seed}"), seed))

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    console = Console()
    started = time.perf_counter()
    infos, failures = [], []
    with Progress(TextColumn("[bold]compare"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                  TimeElapsedColumn(), console=console, disable=not progress) as bar:
        task = bar.add_task("runs", total=len(tasks), last="")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
            futures = {pool.submit(_run_one, f, d, seed, steps): (s, seed) for s, f, d, seed in tasks}
            for fut in as_completed(futures):
                s, seed = futures[fut]
                try:
                    info = fut.result()
                    info["strategy"], info["label"] = s.slug, s.label
                    infos.append(info)
                except UserError as e:
                    failures.append(f"{s.label} seed {seed}: {e}")
                except Exception as e:  # noqa: BLE001 - a crashed run is reported, the others still count
                    failures.append(f"{s.label} seed {seed}: {type(e).__name__}: {e}")
                bar.update(task, advance=1, last=f"{s.label} seed {seed}")
    wall = time.perf_counter() - started
    if failures:
        (out / "failures.txt").write_text("\n".join(failures) + "\n", encoding="utf-8")
        raise UserError(f"{len(failures)} of {len(tasks)} runs failed, first: {failures[0]} "
                        f"(all in {out / 'failures.txt'})")
    write_report(out, scenario, strategies, seed_list, infos, wall_s=wall, jobs=jobs,
                 baseline=baseline or strategies[0].label)
    return out
