"""Phase 3, browse, batched for all browsers: one recommender call for all their pages at once, one
feedback-model call for every (browser, item) pair ("shown" exposure), then vectorised watch and
leave decisions (`recagent.simulation.watching` has the watch rule).

After each page the agent moves on with probability `continue_if_nothing` if it watched nothing
there, `continue_if_watched` if it did, else it leaves.
"""

from __future__ import annotations

import numpy as np

from ...recommenders.label import strategy_label
from ..watching import decide, watch
from .acts import BROWSE, doing


def run(model) -> None:
    browse(model, doing(model, BROWSE))


def browse(model, agents: np.ndarray) -> None:
    if len(agents) == 0:
        return
    world, catalog = model.world, model.catalog
    k, pages = model.sim.page_size, model.sim.max_pages
    users = world.users[agents]
    recs = model.recommender.recommend(users, k * pages, world.history.seen_matrix(users, len(catalog)))
    behaviour = model.sim.behaviour
    p_watch, p_like, ratings, _ = decide(model, agents, recs, "shown")
    p_watch *= np.tile(np.clip(1 - behaviour.position_decay * np.arange(k), behaviour.min_position_factor, 1), pages)
    watched = (model.rng.random(recs.shape) < p_watch).reshape(len(agents), pages, k)
    watched_any = watched.any(2)
    go_on = model.rng.random((len(agents), pages)) < np.where(watched_any, behaviour.continue_if_watched,
                                                               behaviour.continue_if_nothing)
    # page p is seen when the agent moved on after every earlier page
    seen = np.concatenate([np.ones((len(agents), 1), bool), np.cumprod(go_on[:, :-1], 1).astype(bool)], 1)
    watched &= seen[:, :, None]
    recs3 = recs.reshape(len(agents), pages, k)
    strategy = strategy_label(*model.world.recommender_spec)  # e.g. mf+mmr(lambda=0.5), as run.json names it
    for row, agent in enumerate(agents):
        n_watched = 0
        for page in range(pages):
            if not seen[row, page]:
                break
            shown = [int(catalog.raw_ids[i]) for i in recs3[row, page] if i >= 0]
            model.emit(agent, "page", payload={"page": page, "items": shown, "recommender": strategy})
            for pos in np.flatnonzero(watched[row, page]):
                col = page * k + pos
                watch(model, agent, int(recs[row, col]), float(ratings[row, col]), float(p_like[row, col]),
                      "recommender", {"page": page, "position": int(pos)})
                n_watched += 1
        model.emit(agent, "leave", payload={"pages": int(seen[row].sum()), "watched": n_watched})
        world.busy_until[agent] = model.now_hours + n_watched * model.sim.busy_hours.watch
