"""Run a scenario end to end and write its run folder.

Everything that can fail because of the user's input (scenario, dataset, names) is checked
before the run folder is created, so a bad scenario leaves nothing behind. The run folder holds:

- `events.sqlite`: the event log (see `events.py`), written one transaction per step;
- `metrics.csv`: one row per step from the Mesa DataCollector;
- `agent_metrics.csv`: one row per agent (genre entropy, taste drift, influenced watches, top influencer);
- `scenario.resolved.yaml`: the scenario with defaults filled in, paths resolved, overrides applied;
- `run.json`: seed, versions, counts, wall time, status, language-backend usage.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich import box
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..cache import cache_dir
from ..errors import UserError
from ..llm.health import mark_degraded
from ..scenario import Scenario, dump_scenario, load_scenario
from ..preflight import check_run, in_file
from ..preparation import PreparationProgress, estimated_seconds
from .build import build_model, load_dataset
from .events import EVENT_KINDS, EventLog
from .model import RecSimModel


@dataclass
class RunResult:
    run_dir: Path
    model: RecSimModel
    info: dict


def new_run_dir(scenario: Scenario, out: Path | None) -> Path:
    if out is not None:
        if out.exists() and any(out.iterdir()):
            raise UserError("run folder exists and is not empty; choose another --out", out)
        return out
    parent = scenario.outputs.dir or Path("runs")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = parent / f"{scenario.name}-{stamp}"
    n = 2
    while run_dir.exists():
        run_dir = parent / f"{scenario.name}-{stamp}-{n}"
        n += 1
    return run_dir


def versions() -> dict:
    found = {"recagent": __version__, "python": platform.python_version()}
    for package in ("mesa", "numpy", "networkx", "torch", "langchain-core"):
        try:
            found[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing optional package is simply not listed
            pass
    return found


def run_scenario(path: str | Path, *, out: Path | None = None, seed: int | None = None, steps: int | None = None,
                 progress: bool = True, console: Console | None = None) -> RunResult:
    begun = time.perf_counter()  # the summary's total: loading and preparing count, not just the steps
    console = console or Console()
    scenario = load_scenario(path)
    if seed is not None:
        scenario.seed = seed
    if steps is not None:
        if steps < 1:
            raise UserError(f"--steps must be at least 1, found {steps}")
        scenario.simulation.steps = steps
    dataset = check_run(scenario, Path(path), out).dataset  # recagent/preflight.py: params, sizes, output, data
    # Build before the run folder exists: every remaining user error (agent count, intervention
    # targets, feedback params) surfaces here, before anything is written.
    preparing = PreparationProgress(console, estimate_s=estimated_seconds(len(dataset.catalog), len(dataset.interactions)),
                                    cache_dir=cache_dir(), bar=progress)  # says so when the user simulator is prepared
    with in_file(path):  # recagent/preflight.py: an error found while building names the scenario file
        try:
            model = build_model(scenario, dataset, prepare_progress=preparing)
        finally:
            preparing.close()

    run_dir = new_run_dir(scenario, out)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "scenario.resolved.yaml").write_text(dump_scenario(scenario), encoding="utf-8")
    log = EventLog(run_dir / "events.sqlite")
    model.attach_log(log)
    if scenario.llm.memory_enabled():
        model.attach_memory(run_dir / "memory")
    if scenario.llm.profiles:
        model.build_profiles()
    info = {
        "scenario": scenario.name, "seed": scenario.seed, "status": "running", "steps_planned": scenario.simulation.steps,
        "steps_completed": 0, "agents": model.n_agents, "dataset": dataset.name, "items": len(dataset.catalog),
        "recommender": scenario.recommender.name, "feedback": scenario.feedback.model,
        "language_backend": model.backend.label, "versions": versions(),
        "started_at": datetime.now().isoformat(timespec="seconds"),
    }
    write_json(run_dir / "run.json", info)
    started = time.perf_counter()
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console,
                      disable=not progress, transient=False) as bar:
            task = bar.add_task(scenario.name, total=scenario.simulation.steps, status="")
            for _ in range(scenario.simulation.steps):
                model.step()
                info["steps_completed"] = model.step_index
                write_json(run_dir / "run.json", info)  # live viewers read progress from here
                c = model.counters
                bar.update(task, advance=1, status=f"active {c.get('active', 0)}  watches {c.get('watch', 0)}  "
                                                   f"chats {c.get('chat', 0)}  posts {c.get('post', 0)}")
                if model.backend.exhausted:  # the step finished with offline replies; stop cleanly here
                    info["status"] = "budget_exhausted"
                    info["message"] = model.backend.budget_message()
                    console.print(f"[bold yellow]{info['message']}[/]")
                    break
            else:  # every step ran; until here run.json says "running" (live viewers read it)
                info["status"] = "completed"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        raise
    except Exception as error:  # the steps so far are kept; run.json says why the run stopped
        info["status"] = "failed"
        info["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        info["wall_time_s"] = round(time.perf_counter() - started, 3)
        info["total_wall_time_s"] = round(time.perf_counter() - begun, 3)
        info["counts"] = log.counts()
        info["llm"] = {"backend": model.backend.label, **model.backend.usage.as_dict()}
        mark_degraded(info, model.backend.usage, scenario.llm.max_fallback_share)  # too many fallbacks: exit 3
        if model.memory is not None:
            model.memory.persist_short_term()
            info["memory"] = {"path": "memory", **vars(model.memory.totals)}
        model.backend.close()
        model.datacollector.get_model_vars_dataframe().to_csv(run_dir / "metrics.csv", index=False)
        model.step_metrics.agent_table().to_csv(run_dir / "agent_metrics.csv", index=False)
        log.close()
        write_json(run_dir / "run.json", info)
    if progress:
        console.print(summary_table(info))
    return RunResult(run_dir, model, info)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def summary_table(info: dict) -> Group:
    """The end-of-run summary: a heading that never wraps, the status and wall time, every event kind,
    and the language backend's accounting (for LLM runs calls, cache hits, fallbacks and tokens, even 0)."""
    heading = Text(f"run {info['scenario']}", style="bold", no_wrap=True, overflow="ellipsis")
    table = Table(show_header=False, box=box.SIMPLE, pad_edge=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("status", info["status"])
    table.add_row("steps", f"{info['steps_completed']:,} of {info['steps_planned']:,}")
    table.add_row("agents", f"{info['agents']:,}")
    total = info.get("total_wall_time_s", info["wall_time_s"])
    table.add_row("wall time", f"{total:,.1f} s")
    table.add_row("  of which steps", f"{info['wall_time_s']:,.1f} s")
    table.add_section()
    counts = info.get("counts", {})
    kinds = [k for k in EVENT_KINDS if k != "llm"] + sorted(set(counts) - set(EVENT_KINDS))
    for kind in kinds:  # every kind, 0 included: a missing row reads as "not counted"
        table.add_row(f"{kind} events", f"{counts.get(kind, 0):,}")
    table.add_section()
    llm = info["llm"]
    if llm["backend"] == "offline":
        table.add_row("text by offline backend", f"{llm['offline_replies']:,}")
    else:
        table.add_row(f"LLM acts ({llm['backend']})", f"{llm.get('acts', 0):,}")
        table.add_row("  calls", f"{llm['calls']:,}")
        table.add_row("  cache hits", f"{llm['cache_hits']:,}")
        table.add_row("  fallbacks to offline text", f"{llm['fallbacks']:,}")
        if llm.get("budget_skipped"):
            table.add_row("  offline after the budget", f"{llm['budget_skipped']:,}")
        table.add_row("  failed attempts / retries", f"{llm['failures']:,} / {llm['retries']:,}")
        table.add_row("  tokens (prompt + completion)", f"{llm['prompt_tokens']:,} + {llm['completion_tokens']:,}")
        if llm.get("rate_limit_wait_s"):
            table.add_row("  waited for rate limits", f"{llm['rate_limit_wait_s']:,.1f} s")
    parts = [heading, table]
    if info.get("warning"):
        parts.append(Text(f"warning: {info['warning']}", style="bold yellow"))
    return Group(*parts)
