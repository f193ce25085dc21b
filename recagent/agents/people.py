"""The run's people: persona fields as arrays, and the Mesa agents made when first asked for.

A million `UserAgent` objects with a `Persona` each cost ~20 s and ~1 GB before the first step,
while a step reads only arrays (activity, act propensities, word of mouth). So the population
keeps per-agent persona fields in columns (dataset fields by user, traits as float arrays, roles
as an index into the few distinct role sets) and `People[k]` makes agent k's `UserAgent` (and
registers it with Mesa) the first time someone asks: an intervention, the memory system, a
role-play, the API. Personas are built from the columns on demand, so a trait an intervention
sets is seen by agents made before and after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .persona import Persona, describe, favourite_genres

TRAITS = ("activity", "diversity", "conformity")


class People(Sequence):
    """Agent k of the run, made on demand; see the module docstring."""

    def __init__(self, users: np.ndarray, meta, genre_names: list[str], taste: np.ndarray,
                 traits: dict[str, np.ndarray], role_sets: list[tuple[str, ...]], role_index: np.ndarray):
        self.users = users  # dataset user of each agent
        self.meta = meta  # the dataset's Users (names, ages, ... by user)
        self.genre_names = genre_names
        self.taste = taste  # (agents, genres), shared with the world
        self.traits = {name: np.asarray(traits[name], dtype=np.float64) for name in TRAITS}  # per agent
        self.role_sets = role_sets
        self.role_index = role_index  # per agent, into role_sets
        self.model = None  # set by bind(): the Mesa model agents register with
        self._made: dict = {}

    def bind(self, model) -> None:
        self.model = model

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_made"] = {}  # Mesa agents are made again on demand after a resume
        return state

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        k = int(k)
        if not 0 <= k < len(self):
            raise IndexError(f"agent {k} out of range for {len(self)} agents")
        agent = self._made.get(k)
        if agent is None:
            from .user_agent import UserAgent

            agent = self._made[k] = UserAgent(self.model, agent_id=k, user=int(self.users[k]))
        return agent

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def made(self) -> list:
        """The agents made so far."""
        return list(self._made.values())

    # --- personas --------------------------------------------------------------------------------

    def roles(self, k: int) -> list[str]:
        return list(self.role_sets[self.role_index[k]])

    def with_role(self, agents: np.ndarray, role: str) -> np.ndarray:
        """The agents among `agents` that have `role`."""
        having = np.array([role in s for s in self.role_sets], dtype=bool)
        return agents[having[self.role_index[agents]]]

    def name(self, k: int) -> str:
        return self.meta.names[self.users[k]]

    def persona(self, k: int) -> Persona:
        """Agent k's persona, built from the columns (the description from the same favourite genres)."""
        u, meta = int(self.users[k]), self.meta
        favourite = favourite_genres(self.taste[k], self.genre_names)
        return Persona(name=meta.names[u], age=int(meta.ages[u]), gender=meta.genders[u],
                       occupation=meta.occupations[u], description=describe(meta.descriptions[u], favourite),
                       roles=self.roles(k), activity=float(self.traits["activity"][k]),
                       diversity=float(self.traits["diversity"][k]),
                       conformity=float(self.traits["conformity"][k]), favourite_genres=favourite)

    def favourites(self, agents: np.ndarray) -> list[list[str]]:
        """`persona.favourite_genres` of many agents at once (the same sort, row by row)."""
        if not self.taste.shape[1] or not len(self.genre_names):  # a dataset without genres (a bare ratings CSV)
            return [[] for _ in range(len(agents))]
        taste = self.taste[agents]
        top = np.argsort(-taste, axis=1)[:, :2]
        count = (np.take_along_axis(taste, top, 1) > 0).sum(1)  # strongest first: the liked ones lead
        names = np.array(self.genre_names, dtype=object)[top].tolist()
        return [row[:c] for row, c in zip(names, count.tolist())]

    def summaries(self, agents: np.ndarray, favourites: list[list[str]]) -> list[str]:
        """`persona.summary()` of many agents at once."""
        meta, out = self.meta, []
        for k, u, likes in zip(np.asarray(agents).tolist(), self.users[agents].tolist(), favourites):
            age = int(meta.ages[u])
            bits = [f"{age}-year-old" if age else "", meta.genders[u], meta.occupations[u]]
            who = " ".join(b for b in bits if b) or "a movie fan"
            roles = self.role_sets[self.role_index[k]]
            out.append(f"{who}{'; enjoys ' + ', '.join(likes) if likes else ''}"
                       f"{'; a ' + '/'.join(roles) if roles else ''}")
        return out

    def set_trait(self, agents: np.ndarray, trait: str, value: float) -> None:
        """Set a persona trait of `agents` (and of their personas already handed out)."""
        self.traits[trait][agents] = value
        for k in np.asarray(agents).tolist():
            agent = self._made.get(k)
            if agent is not None and agent._persona is not None:
                setattr(agent._persona, trait, float(value))
