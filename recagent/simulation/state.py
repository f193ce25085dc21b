"""The world state of a simulation: everything a step reads and changes, in one place.

Arrays run over agents (row k is agent k, also its graph node and `events.agent_id`); `users`
maps an agent to its dataset user (the row of `history`, what feedback models and recommenders
see). Per-person state is in columns too: word of mouth (`word_of_mouth`), the run's watches
(`watches`), persona fields (`people`, which also makes the Mesa agents on demand). The social
graph's hot reads go through a CSR adjacency; the NetworkX graph (`graph`) is built the first
time something asks for it, and an intervention that changes it calls `graph_changed()`.
Phases (`recagent.simulation.phases`) read and write this state; a checkpoint saves it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..agents.people import People
from ..agents.word_of_mouth import WordOfMouth
from ..data import History
from ..social.adjacency import Adjacency
from .step_events import StepEvents


class LiveGraph(nx.Graph):
    """An nx.Graph that notes when it is changed, so the world rebuilds its CSR snapshot from it."""

    changed = False

    def _changes(name):
        def method(self, *args, **kwargs):
            self.changed = True
            return getattr(nx.Graph, name)(self, *args, **kwargs)
        method.__name__ = name
        method.__doc__ = getattr(nx.Graph, name).__doc__
        return method

    for _name in ("add_node", "add_nodes_from", "remove_node", "remove_nodes_from", "add_edge", "add_edges_from",
                  "add_weighted_edges_from", "remove_edge", "remove_edges_from", "update", "clear", "clear_edges"):
        locals()[_name] = _changes(_name)
    del _name, _changes


class RunWatches:
    """Every watch of the run in columns (agent, item, rating), and each agent's latest one."""

    def __init__(self, n_agents: int):
        self.agent = np.zeros(0, dtype=np.int64)
        self.item = np.zeros(0, dtype=np.int64)
        self.rating = np.zeros(0, dtype=np.float64)
        self.last_item = np.full(n_agents, -1, dtype=np.int64)
        self.last_rating = np.zeros(n_agents, dtype=np.float64)

    def add(self, agents: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        self.agent = np.concatenate([self.agent, agents])
        self.item = np.concatenate([self.item, items])
        self.rating = np.concatenate([self.rating, ratings])
        self.last_item[agents] = items  # fancy assignment: the last of repeated agents wins
        self.last_rating[agents] = ratings

    def __len__(self) -> int:
        return len(self.last_item)

    # recagent.simulation.state_codec.Stateful: a checkpoint holds the five columns by name
    COLUMNS = ("agent", "item", "rating", "last_item", "last_rating")

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {name: getattr(self, name) for name in self.COLUMNS}, {}

    def restore(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        for name, dtype in zip(self.COLUMNS, (np.int64, np.int64, np.float64, np.int64, np.float64)):
            column = arrays[name]
            if column.dtype != dtype or column.ndim != 1:
                raise ValueError(f"watches column {name} is {column.dtype} with {column.ndim} dimensions")
            setattr(self, name, column)
        if not len(self.agent) == len(self.item) == len(self.rating) or len(self.last_item) != len(self.last_rating):
            raise ValueError("watches columns of different lengths")

    def __getitem__(self, agent: int) -> list[tuple[int, float]]:
        """(item, rating) of every watch of `agent` in the run, oldest first."""
        rows = np.flatnonzero(self.agent == agent)
        return list(zip(self.item[rows].tolist(), self.rating[rows].tolist()))


@dataclass
class World:
    """The state of one run between two steps, plus the scratch space of the step in progress."""

    users: np.ndarray  # dataset user index of each agent
    people: People  # persona columns; people[k] is agent k's Mesa agent (made on demand)
    history: History  # dataset history plus every watch of the run
    csr: Adjacency  # the social graph's CSR snapshot (read it as `adjacency`)
    taste: np.ndarray  # (agents, genres) genre taste of each agent's dataset history
    activity: np.ndarray  # probability of acting in a step
    conformity: np.ndarray  # how much word of mouth moves watching and rating
    act_p: np.ndarray  # (agents, acts) act propensities
    busy_until: np.ndarray  # simulated hour until which an agent is watching or chatting
    watched_genres: np.ndarray  # (agents, genres) genre counts of the run's watches
    recommender_spec: tuple  # (name, params, rerankers) of the recommender in use
    word_of_mouth: WordOfMouth  # every hearing of the run
    watches: RunWatches  # every watch of the run
    edges: object = None  # the generated SocialEdges (relationships), until the graph is changed
    graph_cache: nx.Graph | None = None  # the NetworkX graph, once asked for
    pending_feedback: list = field(default_factory=list)  # (user, item, rating, step) not yet learned
    profiles: dict = field(default_factory=dict)  # Lusifer taste profiles by agent, used as personas
    usage_seen: dict = field(default_factory=dict)  # language-backend usage already reported
    recommender_switches: list = field(default_factory=list)  # {step, from, to, rerankers} per switch, for run.json
    step_index: int = 0  # the next step to run (steps completed so far)
    # the step in progress (emptied when it starts)
    counters: dict = field(default_factory=dict)
    step_events: StepEvents = field(default_factory=StepEvents)
    step_watches: list = field(default_factory=list)  # (agent, item, rating) watched this step
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    acts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_agents(self) -> int:
        return len(self.users)

    @property
    def agents(self) -> People:
        """Agent k's `UserAgent` is agents[k] (made the first time it is asked for)."""
        return self.people

    @property
    def sim_watches(self) -> RunWatches:
        """sim_watches[k]: (item, rating) of every watch of agent k in the run."""
        return self.watches

    @property
    def graph(self) -> nx.Graph:
        """The social graph over agents as NetworkX, built on first use; changes made to it (an
        intervention's, a hook's) reach the step's CSR reads."""
        if self.graph_cache is None:
            graph = LiveGraph()
            graph.add_nodes_from(range(self.n_agents))
            source = self.edges.to_graph() if self.edges is not None else self.csr.to_graph()
            graph.add_edges_from(source.edges(data=True))
            graph.changed = False
            self.graph_cache = graph
        return self.graph_cache

    @property
    def adjacency(self) -> Adjacency:
        """The social graph as CSR arrays (the step's reads), rebuilt after the graph was changed."""
        graph = self.graph_cache
        if graph is not None and graph.changed:
            self.csr = Adjacency.from_graph(graph)
            graph.changed = False
        return self.csr

    def begin_step(self) -> None:
        self.counters = {}
        self.step_events = StepEvents()
        self.step_watches = []
        self.active = np.zeros(0, dtype=np.int64)
        self.acts = np.zeros(0, dtype=np.int64)
