"""Run a scenario end to end and write its run folder.

Everything that can fail because of the user's input (scenario, dataset, names) is checked
before the run folder is created, so a bad scenario leaves nothing behind. The run folder holds:

- `events.sqlite`: the event log (see `events.py`), written one transaction per step;
- `metrics.csv`: one row per step from the Mesa DataCollector;
- `agent_metrics.csv`: one row per agent (genre entropy, taste drift, influenced watches, top influencer);
- `scenario.resolved.yaml`: the scenario with defaults filled in, paths resolved, overrides applied;
- `run.json`: seed, versions, counts, wall time, status, language-backend usage.

The steps run through the Python API (`recagent.api.Simulation`, `simulation/session.py`), so the
command line and a notebook write the same run folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..cache import cache_dir
from ..preparation import PreparationProgress, estimated_seconds
from .events import EVENT_KINDS
from .model import RecSimModel
from .session import Session, new_run_dir, versions, with_default_checkpoints, with_overrides, write_json  # noqa: F401


@dataclass
class RunResult:
    run_dir: Path
    model: RecSimModel
    info: dict


def run_scenario(path: str | Path, *, out: Path | None = None, seed: int | None = None, steps: int | None = None,
                 progress: bool = True, console: Console | None = None,
                 checkpoint_every: int | None = None, default_checkpoints: bool = False) -> RunResult:
    """Run the scenario file at `path` to its end and write its run folder (see the module doc).
    `default_checkpoints`: a scenario without simulation.checkpoint_every gets the default interval."""
    from ..run import Overrides, assemble

    begun = time.perf_counter()  # the summary's total: loading and preparing count, not just the steps
    console = console or Console()

    def preparing(dataset):  # says so when the user simulator is prepared
        return PreparationProgress(console, estimate_s=estimated_seconds(len(dataset.catalog), len(dataset.interactions)),
                                   cache_dir=cache_dir(), bar=progress)

    session = assemble(path, out=out, preparing=preparing,
                       overrides=Overrides(seed, steps, checkpoint_every, default_checkpoints))
    session.begun = begun
    return run_to_end(session, progress, console)


def resume_run(run_dir: str | Path, *, steps: int | None = None, progress: bool = True,
               console: Console | None = None) -> RunResult:
    """Continue the run in `run_dir` from its last checkpoint (`recagent run --resume`)."""
    from ..run import Overrides, assemble

    begun = time.perf_counter()
    session = assemble(run_dir, mode="resume", overrides=Overrides(steps=steps))
    session.begun = begun
    return run_to_end(session, progress, console or Console())


def run_to_end(session: Session, progress: bool, console: Console) -> RunResult:
    """The steps left, through the Python API (recagent.api.Simulation), then the summary."""
    from ..api import Simulation

    Simulation(None, _session=session).run(progress=progress, console=console)
    if progress:
        console.print(summary_table(session.info))
    return RunResult(session.run_dir, session.model, session.info)


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
