"""The Mesa model: builds the world of a scenario and runs the step's phases in order.

A step (see `recagent.simulation.phases` for each one): activate -> choose acts -> browse ->
search -> social -> remember -> learn -> measure -> record, each preceded by the hooks scheduled
for it (the scenario's interventions run before `activate` of their step).

What Mesa does here: every simulated person is a `mesa.Agent` (`UserAgent`, registered in
`model.agents`, an AgentSet, when first asked for: `model.agent_list[k]`), the per-person view of
its persona and word of mouth; `model.rng` (seeded by the scenario) is the one generator every
phase draws from; the DataCollector gathers metrics.csv. What is vectorised outside Mesa:
activation, act choice, page ranking, feedback, watch decisions, word of mouth and the events
run as numpy operations over all agents at once (`World` columns), because stepping agents one
by one through the scheduler would cost a Python call and a model call per agent and per item.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import mesa
import numpy as np

from ..data import Dataset
from ..feedback import FeedbackModel
from ..llm import LanguageBackend
from ..metrics import metrics_reporters
from ..recommenders import Recommender
from ..scenario import Scenario
from .events import EventLog
from .hooks import Schedule
from .interventions import apply_intervention, check_interventions
from .phases import PIPELINE
from .phases.measure import mean_genre_entropy
from .population import agent_rows, build_world, edge_rows, item_rows
from .state import World

if TYPE_CHECKING:
    import networkx as nx

    from ..data import History
    from .step_events import StepEvents


class LiveWorld:
    """What a recommender that asks for it reads of the run (the RecommenderWorld fields), read at
    the time it asks: the graph is built then, and is the one in use after an intervention."""

    def __init__(self, model):
        self._model = model

    @property
    def graph(self):
        return self._model.world.graph

    @property
    def users(self) -> np.ndarray:
        return self._model.world.users

    @property
    def history(self):
        return self._model.world.history

    @property
    def feedback(self):
        """The run's feedback model (what the oracle recommender ranks by: the truth of this world)."""
        return self._model.feedback


class RecSimModel(mesa.Model):
    """A simulation of `scenario` over `dataset`, writing its events to `event_log` when given."""

    def __init__(self, scenario: Scenario, dataset: Dataset, *, feedback: FeedbackModel,
                 recommender_factory, backend: LanguageBackend, event_log: EventLog | None = None):
        super().__init__(rng=scenario.seed)
        self.scenario = scenario
        self.sim = scenario.simulation
        self.dataset = dataset
        self.catalog = dataset.catalog
        self.feedback = feedback
        self.fitted_feedback = dict(vars(feedback))  # what a checkpoint need not copy (see checkpoint.py)
        self.backend = backend
        self.make_recommender = recommender_factory
        self.memory = None  # a recagent.memory.MemorySystem once attach_memory() is called
        self.event_log: EventLog | None = None
        self.world: World = build_world(self)
        self.agent_of_user = {int(u): k for k, u in enumerate(self.world.users)}
        self.recommender: Recommender = self.new_recommender(*self.world.recommender_spec)
        self.recommender.fit(self.catalog, dataset.interactions)
        self.datacollector = mesa.DataCollector(model_reporters={
            "step": lambda m: m.world.step_index,
            "sim_time": lambda m: m.sim_time,
            **{column: (lambda m, kind=kind: m.world.counters.get(kind, 0)) for column, kind in (
                ("active_agents", "active"), ("watches", "watch"), ("likes", "like"), ("dislikes", "dislike"),
                ("searches", "search"), ("chats", "chat"), ("posts", "post"), ("hears", "hear"))},
            "mean_genre_entropy": lambda m: mean_genre_entropy(m.world.watched_genres),
            **metrics_reporters(self),  # cocoon and influence measures (recagent.metrics)
        })
        check_interventions(self)
        self.schedule = Schedule()
        for iv in scenario.interventions:
            self.schedule.add(lambda m, iv=iv: apply_intervention(m, iv), at_step=iv.at_step, label=iv.kind)
        if event_log is not None:
            self.attach_log(event_log)

    # The world's fields are read through `model.world`; these few, read by the metrics and the
    # tests on nearly every use, are named here too (no attribute reaches the world unnamed).
    @property
    def n_agents(self) -> int:
        return self.world.n_agents

    @property
    def users(self) -> np.ndarray:
        """Dataset user index of each agent."""
        return self.world.users

    @property
    def history(self) -> History:
        return self.world.history

    @property
    def graph(self) -> nx.Graph:
        """The social graph as NetworkX (built on first use; see World.graph)."""
        return self.world.graph

    @property
    def step_index(self) -> int:
        """Steps completed so far (the next step's index)."""
        return self.world.step_index

    @property
    def step_events(self) -> StepEvents:
        """The events of the step in progress (or just done)."""
        return self.world.step_events

    @property
    def agent_list(self):
        """Agent k's Mesa agent is agent_list[k], made the first time it is asked for (`People`)."""
        return self.world.people

    def attach_log(self, event_log: EventLog, *, write_context: bool = True) -> None:
        """Send each step's events to `event_log`, after writing the run's agents, items and edges."""
        if write_context:
            event_log.write_context(agent_rows(self), item_rows(self.catalog), edge_rows(self.world))
        self.event_log = event_log

    def attach_memory(self, path) -> None:
        """Give every agent RecAgent memory, its long-term part on chromadb in `path`."""
        from ..memory import LongTermStore, MemorySystem

        self.memory = MemorySystem(self.scenario.llm.memory, LongTermStore(path), backend=self.backend,
                                   seed=self.scenario.seed,
                                   who=lambda a: (self.world.people.name(a),
                                                  self.world.profiles.get(a) or self.world.people.persona(a).summary()))

    def build_profiles(self, batch: int = 20, last_n: int = 40) -> None:
        """Lusifer taste profiles from each agent's starting ratings (batched waves, cached); used as personas."""
        from ..llm.profiles import build_profiles

        history, catalog = self.world.history, self.catalog
        histories = {a.agent_id: [(catalog.titles[i], ", ".join(catalog.item_genres(i)), float(r))
                                  for i, r in zip(history.items[a.user], history.ratings[a.user])]
                     for a in self.agent_list}
        self.world.profiles = build_profiles(self.backend, histories, batch=batch, last_n=last_n)

    def new_recommender(self, name: str, params: dict, rerankers: list) -> Recommender:
        """A recommender (with its re-rankers) bound to this run's graph and history when it asks."""
        recommender = self.make_recommender(name, params, self.rng, rerankers)
        bind = getattr(recommender, "bind", None)
        if bind is not None:
            bind(LiveWorld(self))
        return recommender

    # --- time and events -------------------------------------------------------------------------

    @property
    def now_hours(self) -> float:
        return self.world.step_index * self.sim.step_hours

    @property
    def sim_time(self) -> str:
        return (self.sim.start_time + timedelta(hours=self.now_hours)).isoformat(timespec="minutes")

    def emit(self, agent_id, kind, item=None, target=None, payload=None) -> None:
        """Record one event of the step in progress (`item` is a catalog index, stored as the dataset id)."""
        world = self.world
        raw_item = int(self.catalog.raw_ids[item]) if item is not None else None
        agent = None if agent_id is None else int(agent_id)
        target = None if target is None else int(target)
        world.step_events.add(world.step_index, self.sim_time, agent, kind, raw_item, target, payload)
        world.counters[kind] = world.counters.get(kind, 0) + 1
        world.step_events.records.note(self.catalog, agent, kind, item, target, payload)  # what the metrics read

    def emit_many(self, agents, kinds, payloads: list[str], items=None, targets=None) -> None:
        """Record a batch of events (arrays; -1 for no agent, item or target; `kinds` one name or a
        list); `payloads` are JSON texts encoded as `events.encode_payload` would."""
        n = len(payloads)
        if n == 0:
            return
        world = self.world
        kinds = [kinds] * n if isinstance(kinds, str) else list(kinds)
        raw = [None] * n
        if items is not None:
            items = np.asarray(items, dtype=np.int64)
            raw = [None if i < 0 else r for i, r in zip(items.tolist(),
                                                         self.catalog.raw_ids[np.maximum(items, 0)].tolist())]
        who = [None if a < 0 else a for a in np.asarray(agents, dtype=np.int64).tolist()]
        whom = [None] * n if targets is None else [None if t < 0 else t
                                                   for t in np.asarray(targets, dtype=np.int64).tolist()]
        world.step_events.add_many(world.step_index, self.sim_time, who, kinds, raw, whom, payloads)
        for kind, count in Counter(kinds).items():
            world.counters[kind] = world.counters.get(kind, 0) + count

    # --- the step --------------------------------------------------------------------------------

    def step(self) -> None:
        world = self.world
        world.begin_step()
        for phase, run in PIPELINE:
            for hook in self.schedule.due(phase, world.step_index):
                hook.fn(self)
            run(self)
        world.step_index += 1
