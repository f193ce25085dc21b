"""`recagent run --replay RUN_DIR`: run a role-play run again, the people's acts read from its log.

The scenario comes from the run folder's `scenario.resolved.yaml` (seed and overrides included), the
people's turns from its `turn` events; the new run goes to a new folder and nobody is waited for.
Its `events` table is byte-identical to the recorded one (see `roleplay.py` for why it can be).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .runner import RunResult, run_to_end


def replay_run(run_dir: str | Path, *, out: Path | None = None, progress: bool = True,
               console: Console | None = None) -> RunResult:
    from ..run import assemble

    session = assemble(Path(run_dir), mode="replay", out=out)  # recagent/run/assemble.py: checks, turns
    return run_to_end(session, progress, console or Console())
