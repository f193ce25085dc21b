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
    wanted, sought = [], []
    for a in agents:
        seen = set(world.history.items[world.users[a]])
        heard = world.agents[a].wanted_items()
        wanted.append(next((i for i in heard if i not in seen), -1))
        sought.append(heard[0] if heard else -1)  # what it looks for even when it has seen it already
    items = np.array(wanted)[:, None]
    p_watch, p_like, ratings, _ = decide(model, agents, items, "chosen", boost=model.sim.behaviour.search_boost)
    watched = model.rng.random(items.shape) < p_watch
    for row, agent in enumerate(agents):
        item = int(items[row, 0])
        if item < 0:  # the event still says what was searched for, and why nothing came of it
            query = catalog.titles[sought[row]] if sought[row] >= 0 else None
            model.emit(agent, "search", payload={"query": query, "found": False,
                                                 "reason": "already watched" if query else "heard of nothing"})
            continue
        model.emit(agent, "search", item, payload={"query": catalog.titles[item], "found": True,
                                                    "heard_from": world.agents[agent].first_source(item)})
        if watched[row, 0]:
            watch(model, agent, item, float(ratings[row, 0]), float(p_like[row, 0]), "search", {})
            world.busy_until[agent] = model.now_hours + model.sim.busy_hours.watch
