"""The world state of a simulation: everything a step reads and changes, in one place.

Arrays run over agents (row k is agent k, also its graph node and `events.agent_id`); `users`
maps an agent to its dataset user (the row of `history`, what feedback models and recommenders
see). The Mesa agents (`agents`) keep what is naturally per person: persona and word of mouth.
Phases (`recagent.simulation.phases`) read and write this state; a checkpoint saves it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..data import History
from .events import Event


@dataclass
class World:
    """The state of one run between two steps, plus the scratch space of the step in progress."""

    users: np.ndarray  # dataset user index of each agent
    agents: list  # UserAgent per agent, in agent order
    history: History  # dataset history plus every watch of the run
    graph: nx.Graph  # the social graph over agents (interventions may rewire it)
    taste: np.ndarray  # (agents, genres) genre taste of each agent's dataset history
    activity: np.ndarray  # probability of acting in a step
    conformity: np.ndarray  # how much word of mouth moves watching and rating
    act_p: np.ndarray  # (agents, acts) act propensities
    busy_until: np.ndarray  # simulated hour until which an agent is watching or chatting
    watched_genres: np.ndarray  # (agents, genres) genre counts of the run's watches
    recommender_spec: tuple  # (name, params, rerankers) of the recommender in use
    sim_watches: list = field(default_factory=list)  # per agent: (item, rating) watched in the run
    pending_feedback: list = field(default_factory=list)  # (user, item, rating, step) not yet learned
    profiles: dict = field(default_factory=dict)  # Lusifer taste profiles by agent, used as personas
    usage_seen: dict = field(default_factory=dict)  # language-backend usage already reported
    recommender_switches: list = field(default_factory=list)  # {step, from, to, rerankers} per switch, for run.json
    step_index: int = 0  # the next step to run (steps completed so far)
    # the step in progress (emptied when it starts)
    counters: dict = field(default_factory=dict)
    step_events: list[Event] = field(default_factory=list)
    step_watches: list = field(default_factory=list)  # (agent, item, rating) watched this step
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    acts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_agents(self) -> int:
        return len(self.users)

    def begin_step(self) -> None:
        self.counters = {}
        self.step_events = []
        self.step_watches = []
        self.active = np.zeros(0, dtype=np.int64)
        self.acts = np.zeros(0, dtype=np.int64)
