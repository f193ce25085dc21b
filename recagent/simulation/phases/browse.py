"""Phase 3, browse, batched for all browsers: one recommender call for all their pages at once, one
feedback-model call for every (browser, item) pair ("shown" exposure), then vectorised watch and
leave decisions (`recagent.simulation.watching` has the watch rule).

After each page the agent moves on with probability `continue_if_nothing` if it watched nothing
there, `continue_if_watched` if it did, else it leaves.
"""

from __future__ import annotations

import json

import numpy as np

from ...recommenders.label import strategy_label
from ..watching import apply_watches, decide, note_watches, watch_payloads
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
    emit_browsing(model, agents, recs3, seen, watched, ratings.reshape(recs3.shape), p_like.reshape(recs3.shape),
                  strategy)


def emit_browsing(model, agents: np.ndarray, recs3: np.ndarray, seen: np.ndarray, watched: np.ndarray,
                  ratings: np.ndarray, p_like: np.ndarray, strategy: str) -> None:
    """Every browser's events in one batch, each agent's in order (page, its watches each followed by
    its like or dislike, the next page, ..., leave), then the watches' effects and busy time."""
    world, catalog = model.world, model.catalog
    n, pages, k = recs3.shape
    per_page = 2 * k + 1  # a page event, then a watch and a like/dislike slot per position
    per_agent = pages * per_page + 1
    # pages seen
    p_rows, p_pages = np.nonzero(seen)
    shown = recs3[p_rows, p_pages]
    raw = catalog.raw_ids[np.maximum(shown, 0)].tolist()
    if (shown >= 0).all():
        lists = [",".join(map(str, ids)) for ids in raw]
    else:
        lists = [",".join(str(i) for i, ok in zip(ids, oks) if ok) for ids, oks in zip(raw, (shown >= 0).tolist())]
    label = json.dumps(strategy, ensure_ascii=False)
    page_payloads = [f'{{"items":[{ids}],"page":{p},"recommender":{label}}}' for ids, p in zip(lists, p_pages.tolist())]
    # watches, and the like or dislike after each
    w_rows, w_pages, w_pos = np.nonzero(watched)
    w_items = recs3[w_rows, w_pages, w_pos]
    w_agents = agents[w_rows]
    w_ratings = ratings[w_rows, w_pages, w_pos]
    sources = world.word_of_mouth.first_source(w_agents, w_items)
    watch_texts, follow, follow_texts = watch_payloads(model, w_ratings, p_like[w_rows, w_pages, w_pos], sources,
                                                       "recommender", w_pages, w_pos)
    liked = np.array([f is not None for f in follow], dtype=bool)
    # leaving
    n_seen = seen.sum(1)
    n_watched = watched.sum((1, 2))
    leave_payloads = [f'{{"pages":{a},"watched":{b}}}' for a, b in zip(n_seen.tolist(), n_watched.tolist())]
    # one batch in agent order
    w_slot = w_rows * per_agent + w_pages * per_page + 1 + 2 * w_pos
    key = np.concatenate([p_rows * per_agent + p_pages * per_page, w_slot, w_slot[liked] + 1,
                          np.arange(n) * per_agent + per_agent - 1])
    row = np.concatenate([p_rows, w_rows, w_rows[liked], np.arange(n)])
    item = np.concatenate([np.full(len(p_rows), -1), w_items, w_items[liked], np.full(n, -1)])
    kinds = (["page"] * len(p_rows) + ["watch"] * len(w_rows) + [f for f in follow if f is not None]
             + ["leave"] * n)
    payloads = page_payloads + watch_texts + [t for t, f in zip(follow_texts, follow) if f is not None] + leave_payloads
    order = np.argsort(key, kind="stable")
    idx = order.tolist()
    model.emit_many(agents[row[order]], [kinds[i] for i in idx], [payloads[i] for i in idx], items=item[order])
    records = world.step_events.records
    valid = (shown >= 0).any(1)
    records.page_agents.append(agents[p_rows[valid]])
    records.page_items.append(shown[valid])
    note_watches(model, w_agents, w_items, w_ratings, sources)
    apply_watches(model, w_agents, w_items, w_ratings)
    world.busy_until[agents] = model.now_hours + n_watched * model.sim.busy_hours.watch
