"""Phase 2, choose acts: one act per active agent, sampled from its persona's propensities (no LLM).

Impossible acts become browse: chatting or posting without contacts, searching without having
heard of anything worth watching.
"""

from __future__ import annotations

import numpy as np

from ...agents import ACTS

BROWSE, SEARCH, CHAT, POST, NOTHING = range(len(ACTS))


def run(model) -> None:
    model.world.acts = choose(model, model.world.active)


def choose(model, active: np.ndarray) -> np.ndarray:
    world = model.world
    p = world.act_p[active]
    acts = (model.rng.random((len(active), 1)) > np.cumsum(p, 1)).sum(1)
    acts = np.minimum(acts, NOTHING)
    alone = ((acts == CHAT) | (acts == POST)) & (world.adjacency.degree[active] == 0)
    searching = acts == SEARCH
    clueless = np.zeros(len(active), dtype=bool)
    clueless[searching] = ~world.word_of_mouth.has_wanted(active[searching])
    acts[alone | clueless] = BROWSE
    return acts


def doing(model, act: int) -> np.ndarray:
    """The active agents that chose `act` this step, in agent order."""
    world = model.world
    return world.active[world.acts == act]
