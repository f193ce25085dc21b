"""`recagent run --replay RUN_DIR`: run a role-play run again, the people's acts read from its log.

The scenario comes from the run folder's `scenario.resolved.yaml` (seed and overrides included), the
people's turns from its `turn` events; the new run goes to a new folder and nobody is waited for.
Its `events` table is byte-identical to the recorded one (see `roleplay.py` for why it can be).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ..errors import UserError
from ..preflight import check_run, in_file
from ..scenario_loading import load_scenario
from .build import build_model
from .roleplay import RolePlay, recorded_turns
from .runner import RunResult, run_to_end
from .session import Session


def replay_run(run_dir: str | Path, *, out: Path | None = None, progress: bool = True,
               console: Console | None = None) -> RunResult:
    run_dir = Path(run_dir)
    scenario_file, events = run_dir / "scenario.resolved.yaml", run_dir / "events.sqlite"
    for needed in (scenario_file, events):
        if not needed.is_file():
            raise UserError(f"not a run folder: {needed.name} is missing", run_dir)
    scenario = load_scenario(scenario_file)
    if not scenario.roleplay.agents:
        raise UserError("field 'roleplay.agents': the run had no played agent; there is nothing to replay "
                        "(run its scenario again for the same events)", scenario_file)
    source = recorded_turns(events)
    if out is None and scenario.outputs.dir is None:
        out_parent = run_dir.parent  # next to the recorded run, where `recagent serve` shows both
        scenario.outputs.dir = out_parent
    dataset = check_run(scenario, scenario_file, out).dataset
    with in_file(scenario_file):
        model = build_model(scenario, dataset)
    session = Session.start(scenario, dataset, model, out)
    session.info["replay_of"] = str(run_dir)
    RolePlay(model, session.run_dir.name, source=source).attach()
    return run_to_end(session, progress, console or Console())
