"""Phase 4, search: agents look up the item they heard most about and have not rated ("chosen"
exposure); they watch it more readily than a page item (`behaviour.search_boost`)."""

from __future__ import annotations

import numpy as np

from ..watching import decide, watch
from .acts import SEARCH, doing


def run(model) -> None:
    search(model, doing(model, SEARCH))


def search(model, agents: np.ndarray) -> None:
    if len(agents) == 0:
        return
    world, catalog = model.world, model.catalog
    wanted = []
    for a in agents:
        seen = set(world.history.items[world.users[a]])
        wanted.append(next((i for i in world.agents[a].wanted_items() if i not in seen), -1))
    items = np.array(wanted)[:, None]
    p_watch, p_like, ratings, _ = decide(model, agents, items, "chosen", boost=model.sim.behaviour.search_boost)
    watched = model.rng.random(items.shape) < p_watch
    for row, agent in enumerate(agents):
        item = int(items[row, 0])
        if item < 0:
            model.emit(agent, "search", payload={"found": False})
            continue
        model.emit(agent, "search", item, payload={"query": catalog.titles[item], "found": True,
                                                    "heard_from": world.agents[agent].first_source(item)})
        if watched[row, 0]:
            watch(model, agent, item, float(ratings[row, 0]), float(p_like[row, 0]), "search", {})
            world.busy_until[agent] = model.now_hours + model.sim.busy_hours.watch
