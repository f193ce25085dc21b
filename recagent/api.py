"""The Python API: `Simulation` to build, step, change, checkpoint and resume a run; `load_run` to
read a run folder back as pandas tables. The CLI's `recagent run` is a client of this module.

    sim = Simulation.from_yaml("scenarios/quickstart.yaml", out="runs/qs")
    sim.step()                       # one step; sim.state shows the world after it
    sim.set_recommender("mf")        # from the next step on
    sim.run()                        # the remaining steps, then the closing files
    run = load_run(sim.run_dir)      # run.events, run.metrics, ... as DataFrames
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import networkx as nx
import numpy as np

from .errors import UserError
from .scenario import Scenario
from .scenario_loading import load_scenario, parse_scenario
from .simulation.run_data import RunData, load_run
from .simulation.session import with_overrides

__all__ = ["Simulation", "WorldView", "RunData", "load_run"]


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class WorldView:
    """Read-only views of a simulation's world between steps (arrays cannot be written, the graph
    cannot be changed; change the world through `Simulation` methods or scheduled hooks)."""

    def __init__(self, model):
        self._model = model
        self._world = model.world

    @property
    def step(self) -> int:
        """Steps completed so far (the next step's index)."""
        return self._world.step_index

    @property
    def sim_time(self) -> str:
        """Simulated time of the next step (ISO, minutes)."""
        return self._model.sim_time

    @property
    def n_agents(self) -> int:
        return self._world.n_agents

    @property
    def users(self) -> np.ndarray:
        """Dataset user index of each agent."""
        return _read_only(self._world.users)

    @property
    def user_ids(self) -> np.ndarray:
        """The dataset's own user id of each agent (as in events and agents tables)."""
        return _read_only(self._model.dataset.users.raw_ids[self._world.users])

    @property
    def activity(self) -> np.ndarray:
        return _read_only(self._world.activity)

    @property
    def conformity(self) -> np.ndarray:
        return _read_only(self._world.conformity)

    @property
    def busy_until(self) -> np.ndarray:
        """Simulated hour until which each agent is busy watching or chatting."""
        return _read_only(self._world.busy_until)

    @property
    def watched_genres(self) -> np.ndarray:
        """(agents, genres) counts of the genres each agent watched in the run."""
        return _read_only(self._world.watched_genres)

    @property
    def genre_names(self) -> list[str]:
        return list(self._model.catalog.genre_names)

    @property
    def graph(self) -> nx.Graph:
        """The social graph over agents (a read-only view)."""
        return self._world.graph.copy(as_view=True)

    @property
    def recommender(self) -> str:
        """The recommender strategy in use, as page events name it (e.g. `mf(dim=8)+mmr(lambda=0.5)`)."""
        from .recommenders.label import strategy_label

        return strategy_label(*self._world.recommender_spec)

    @property
    def counters(self) -> dict[str, int]:
        """Event counts of the last step (and `active`: agents that acted)."""
        return dict(self._world.counters)

    def watches(self, agent: int) -> list[tuple[int, float]]:
        """(dataset item id, rating) of every watch of `agent` in the run, oldest first."""
        raw = self._model.catalog.raw_ids
        return [(int(raw[i]), float(r)) for i, r in self._world.sim_watches[agent]]


class Simulation:
    """A scenario being simulated: step it, look at it, change it, checkpoint it, finish it.

    It writes its run folder as it goes (events each step, checkpoints when due, metrics.csv and
    agent_metrics.csv when it finishes), so `load_run(sim.run_dir)` reads what `recagent run` writes.
    """

    def __init__(self, scenario: Scenario, *, out: str | Path | None = None, dataset=None, _session=None,
                 _file: Path | None = None):
        if _session is None:
            if not isinstance(scenario, Scenario):
                raise TypeError(f"Simulation(scenario) expects a Scenario; for a {type(scenario).__name__} use "
                                "Simulation.from_yaml(path) or Simulation.from_dict(data)")
            from .run import assemble

            # what `recagent run` checks (params, sizes, output folder, every data row; a given
            # dataset is not read again), then the model: every user error before the folder exists
            _session = assemble(scenario, file=_file, out=out, dataset=dataset)
        self._session = _session

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path, *, out: str | Path | None = None, seed: int | None = None,
                  steps: int | None = None, checkpoint_every: int | None = None) -> Simulation:
        """A simulation of the scenario file at `path` (`seed`, `steps`, `checkpoint_every` override it)."""
        return cls(with_overrides(load_scenario(path), seed, steps, checkpoint_every), out=out, _file=Path(path))

    @classmethod
    def from_dict(cls, data: dict, *, base_dir: str | Path | None = None, out: str | Path | None = None,
                  seed: int | None = None, steps: int | None = None,
                  checkpoint_every: int | None = None) -> Simulation:
        """A simulation of a scenario given as a dict (as the YAML would read); relative paths in it
        are taken from `base_dir` (default: the working directory)."""
        file = Path(base_dir if base_dir is not None else Path.cwd()) / "<scenario dict>"
        return cls(with_overrides(parse_scenario(data, file), seed, steps, checkpoint_every), out=out, _file=file)

    @classmethod
    def resume(cls, run_dir: str | Path, *, steps: int | None = None) -> Simulation:
        """Continue the run in `run_dir` from its last checkpoint (`steps`: a new total, at least the
        steps already done). The events after the checkpoint are dropped and done again, exactly."""
        from .run import Overrides, assemble

        return cls(None, _session=assemble(run_dir, mode="resume", overrides=Overrides(steps=steps)))

    # --- running ---------------------------------------------------------------------------------

    def step(self) -> WorldView:
        """Run one step and record it; returns the world after it."""
        self._session.step()
        return self.state

    def run(self, steps: int | None = None, progress: bool = False, console=None) -> Simulation:
        """Run `steps` more steps (default: all that are left), then, when none are left, write the
        closing files. `progress` shows a progress bar (on `console`, a rich Console, when given)."""
        self._session.run(steps, progress=progress, console=console)
        return self

    def finish(self, status: str = "completed") -> dict:
        """Write metrics.csv, agent_metrics.csv and run.json now (a run stopped early says so in
        `status`); returns run.json's contents."""
        return self._session.finish(status)

    def checkpoint(self) -> Path:
        """Write a checkpoint of the state after the last step now (see `resume`)."""
        return self._session.checkpoint()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if not self._session.finished:
            self._session.finish("completed" if error is None and self.steps_left == 0 else
                                 "failed" if error is not None else "stopped")

    # --- changing the world between steps --------------------------------------------------------

    def set_recommender(self, name: str, params: dict | None = None, rerankers: list | None = None) -> None:
        """Use recommender `name` (fitted on the history so far) from the next step on; logged as an
        `intervention` event of that step. `rerankers`: (name, params) pairs."""
        from .recommenders import available_recommenders
        from .simulation.interventions import switch_recommender

        if name not in available_recommenders():
            raise UserError(f"unknown recommender {name!r}; available: {', '.join(sorted(available_recommenders()))}")
        chain = [tuple(r) for r in (rerankers or [])]
        self.schedule(lambda m: switch_recommender(m, name, dict(params or {}), chain), before="activate",
                      at_step=self.state.step)

    def schedule(self, fn: Callable, *, before: str = "activate", at_step: int | None = None) -> None:
        """Run `fn(model)` before phase `before` of step `at_step` (every step when None). Hooks live in
        this process: a resumed run has the scenario's interventions, not hooks scheduled here."""
        self._session.model.schedule.add(fn, before=before, at_step=at_step)

    # --- looking -----------------------------------------------------------------------------------

    @property
    def state(self) -> WorldView:
        return WorldView(self._session.model)

    @property
    def model(self):
        """The Mesa model (`recagent.simulation.RecSimModel`): everything, for those who need it."""
        return self._session.model

    @property
    def scenario(self) -> Scenario:
        return self._session.scenario

    @property
    def run_dir(self) -> Path:
        return self._session.run_dir

    @property
    def info(self) -> dict:
        """run.json as it stands."""
        return dict(self._session.info)

    @property
    def steps_left(self) -> int:
        return self._session.steps_left

    @property
    def finished(self) -> bool:
        return self._session.finished

    def metrics(self):
        """metrics.csv so far, as a DataFrame (one row per completed step)."""
        return self._session.model.datacollector.get_model_vars_dataframe()

    def load(self) -> RunData:
        """The run folder as `load_run` reads it."""
        return load_run(self.run_dir)

