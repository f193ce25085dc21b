"""Phase 4, search: agents look up the item they heard most about and have not rated ("chosen"
exposure); they watch it more readily than a page item (`behaviour.search_boost`)."""

from __future__ import annotations

import json

import numpy as np

from ..watching import apply_watches, decide, note_watches, watch_payloads
from .acts import SEARCH, doing


def run(model) -> None:
    search(model, doing(model, SEARCH))


def search(model, agents: np.ndarray) -> None:
    if len(agents) == 0:
        return
    world, catalog = model.world, model.catalog
    n = len(agents)
    wanted, sought = looked_up(model, agents)
    items = wanted[:, None]
    p_watch, p_like, ratings, _ = decide(model, agents, items, "chosen", boost=model.sim.behaviour.search_boost)
    watched = (model.rng.random(items.shape) < p_watch)[:, 0]
    found = wanted >= 0
    sources = world.word_of_mouth.first_source(agents, wanted)
    # the search events: what was looked for, and why nothing came of it when nothing did
    titles = catalog.titles
    texts = []
    for item, looked, source in zip(wanted.tolist(), sought.tolist(), sources.tolist()):
        if item >= 0:
            texts.append(f'{{"found":true,"heard_from":{"null" if source < 0 else source},'
                         f'"query":{json.dumps(titles[item], ensure_ascii=False)}}}')
        elif looked >= 0:
            texts.append(f'{{"found":false,"query":{json.dumps(titles[looked], ensure_ascii=False)},'
                         f'"reason":"already watched"}}')
        else:
            texts.append('{"found":false,"query":null,"reason":"heard of nothing"}')
    w_rows = np.flatnonzero(watched & found)
    w_agents, w_items, w_ratings = agents[w_rows], wanted[w_rows], ratings[w_rows, 0]
    watch_texts, follow, follow_texts = watch_payloads(model, w_ratings, p_like[w_rows, 0], sources[w_rows], "search")
    liked = np.array([f is not None for f in follow], dtype=bool)
    key = np.concatenate([np.arange(n) * 3, w_rows * 3 + 1, w_rows[liked] * 3 + 2])
    order = np.argsort(key, kind="stable")
    idx = order.tolist()
    kinds = ["search"] * n + ["watch"] * len(w_rows) + [f for f in follow if f is not None]
    payloads = texts + watch_texts + [t for t, f in zip(follow_texts, follow) if f is not None]
    model.emit_many(np.concatenate([agents, w_agents, w_agents[liked]])[order], [kinds[i] for i in idx],
                    [payloads[i] for i in idx], items=np.concatenate([wanted, w_items, w_items[liked]])[order])
    note_watches(model, w_agents, w_items, w_ratings, sources[w_rows])
    apply_watches(model, w_agents, w_items, w_ratings)
    world.busy_until[w_agents] = model.now_hours + model.sim.busy_hours.watch


def looked_up(model, agents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per agent: the item it heard most about and has not rated (-1: none), and the item it heard
    most about at all (-1: none), which is what it looks for even when it has seen it already."""
    world = model.world
    rows, items = world.word_of_mouth.wanted(agents)
    wanted = np.full(len(agents), -1, dtype=np.int64)
    sought = np.full(len(agents), -1, dtype=np.int64)
    if len(rows) == 0:
        return wanted, sought
    first = np.r_[True, rows[1:] != rows[:-1]]
    sought[rows[first]] = items[first]
    seen = world.history.seen_matrix(world.users[agents], len(model.catalog))
    fresh = ~np.asarray(seen[rows, items]).ravel().astype(bool)
    rows, items = rows[fresh], items[fresh]
    if len(rows):
        first = np.r_[True, rows[1:] != rows[:-1]]
        wanted[rows[first]] = items[first]
    return wanted, sought
