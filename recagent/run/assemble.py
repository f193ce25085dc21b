"""The one way a run is put together: scenario source + overrides + out + mode -> a ready Session.

Every entry point (the CLI's run, resume, replay, validate and play; the Python API; the web
page's role-play) goes through `assemble`, so its checks run once, in one order, with one error
context (the scenario file):

1. the scenario is read (a file, a dict, a Scenario, or a run folder's `scenario.resolved.yaml`);
2. the overrides are applied (`recagent run`'s default checkpoint interval first, then --seed,
   --steps, --checkpoint-every);
3. the mode's own checks (play: the played agents, no checkpoints; replay: a role-play run);
4. `preflight.check_run`: components, sizes, memory, the output folder, every data row, ids;
5. the model is built (the remaining user errors surface here, before the run folder exists);
6. the run folder is created (`Session.start`) or, for `resume`, the checkpoint is verified and
   restored (`Session.resume`).

`dry-run` stops after 4 and returns the preflight result; `play` stops after 5 and returns a
`Prepared` whose `start()` creates the folder on the thread that will step the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol, Union, cast

from ..errors import UserError
from ..preflight import check_run, in_file
from ..scenario import Scenario
from ..scenario_loading import load_scenario, parse_scenario
from ..simulation.build import build_model
from ..simulation.session import Session, with_default_checkpoints, with_overrides

if TYPE_CHECKING:
    from ..data import Dataset
    from ..preflight import DryRun
    from ..simulation.model import RecSimModel

Mode = Literal["new", "resume", "replay", "dry-run", "play"]
Source = Union[Scenario, dict[str, Any], str, Path]  # a Scenario, a parsed YAML mapping, or a file


class PrepareProgress(Protocol):
    """A display of the user simulator's preparation: called with (stage, fraction), closed after."""

    def __call__(self, stage: str, fraction: float) -> None: ...

    def close(self) -> None: ...


def run_folder(source: Source) -> Path:
    """The run folder a resume or replay names."""
    if not isinstance(source, (str, Path)):
        raise TypeError(f"resume and replay take a run folder, not a {type(source).__name__}")
    return Path(source)

MODES = ("new", "resume", "replay", "dry-run", "play")


@dataclass
class Overrides:
    """What the command line (or the API) changes in the scenario."""

    seed: int | None = None
    steps: int | None = None
    checkpoint_every: int | None = None  # 0: none
    default_checkpoints: bool = False  # `recagent run`: a scenario silent on it is checkpointed


@dataclass
class Prepared:
    """A checked scenario with its dataset and built model; `start` creates the run folder."""

    scenario: Scenario
    file: Path
    dataset: Dataset
    model: RecSimModel
    out: Path | None

    def start(self) -> Session:
        return Session.start(self.scenario, self.dataset, self.model, self.out)


def read_source(source: Source, base_dir: Path | None = None, file: Path | None = None) -> tuple[Scenario, Path]:
    """(scenario, the file its errors name) from a path, a dict or a Scenario (`file`: its file)."""
    if isinstance(source, Scenario):
        return source, Path(file) if file is not None else Path("<scenario>")
    if isinstance(source, dict):
        file = Path(base_dir if base_dir is not None else Path.cwd()) / "<scenario dict>"
        return parse_scenario(source, file), file
    if isinstance(source, (str, Path)):
        return load_scenario(source), Path(source)
    raise TypeError(f"a scenario source is a path, a dict or a Scenario, not a {type(source).__name__}")


def assemble(source: Source, *, mode: Mode = "new", overrides: Overrides | None = None,
             out: str | Path | None = None, base_dir: Path | None = None, file: Path | None = None,
             dataset: Dataset | None = None, preparing: Callable[[Dataset], PrepareProgress] | None = None,
             play_checks: Callable[[Scenario], None] | None = None,
             session_checks: Callable[[Scenario], None] | None = None) -> Session | DryRun | Prepared:
    """A ready Session for `mode` (see the module doc); `dry-run`: the preflight's DryRun; `play`: a
    Prepared. `dataset`: one already loaded and checked (the API's), so it is not read again;
    `preparing(dataset)`: a progress display for the user simulator's preparation (closed after);
    `play_checks`: the play mode's own checks on the scenario; `session_checks`: checks of the
    caller's that must run after the scenario's and before any data is read (a web port)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    overrides = overrides or Overrides()
    out = Path(out) if out is not None else None
    if mode == "resume":
        if overrides.seed is not None or overrides.checkpoint_every is not None:
            raise UserError("a resumed run keeps its own seed and checkpoints")
        return Session.resume(run_folder(source), steps=overrides.steps)
    replay_of = turns = None
    if mode == "replay":
        replay_of = run_folder(source)
        scenario, file, turns = replay_source(replay_of)
    else:
        scenario, file = read_source(source, base_dir, file)
    if overrides.default_checkpoints:
        with_default_checkpoints(scenario)
    scenario = with_overrides(scenario, overrides.seed, overrides.steps, overrides.checkpoint_every)
    if play_checks is not None:
        play_checks(scenario)
    if session_checks is not None:
        session_checks(scenario)
    if replay_of is not None and out is None and scenario.outputs.dir is None:
        scenario.outputs.dir = replay_of.parent  # next to the recorded run, where `recagent serve` shows both
    if mode == "dry-run":
        from ..preflight import dry_run

        return dry_run(scenario, file, out)
    if dataset is None:
        dataset = cast("Dataset", check_run(scenario, file, out).dataset)
    progress = preparing(dataset) if preparing is not None else None
    with in_file(file):  # an error found while building names the scenario file
        try:
            model = build_model(scenario, dataset, prepare_progress=progress)
        finally:
            if progress is not None:
                progress.close()
    prepared = Prepared(scenario, file, dataset, model, out)
    if mode == "play":
        return prepared
    session = prepared.start()
    if replay_of is not None:
        from ..simulation.roleplay import RolePlay

        session.info["replay_of"] = str(replay_of)
        RolePlay(model, session.run_dir.name, source=turns).attach()
    return session


def replay_source(run_dir: Path) -> tuple[Scenario, Path, dict[str, Any]]:
    """The recorded role-play run's scenario, its file and its people's turns."""
    from ..simulation.roleplay import recorded_turns

    scenario_file, events = run_dir / "scenario.resolved.yaml", run_dir / "events.sqlite"
    for needed in (scenario_file, events):
        if not needed.is_file():
            raise UserError(f"not a run folder: {needed.name} is missing", run_dir)
    scenario = load_scenario(scenario_file)
    if not scenario.roleplay.agents:
        raise UserError("field 'roleplay.agents': the run had no played agent; there is nothing to replay "
                        "(run its scenario again for the same events)", scenario_file)
    return scenario, scenario_file, recorded_turns(events)
