"""The watch rule shared by the browse and search phases.

For an item on a page, P(watch) = watch_scale * P(like | shown)^2
* max(1 - position_decay * position, min_position_factor) * exp(social_influence * conformity * h)
(all of them `simulation.behaviour` parameters), where h is the closeness-weighted sentiment the
agent heard about that item (liked +1, neutral +0.3, disliked -1). A watched item gets the rating
round(predicted + conformity * 0.5 * tanh(h) + noise), clipped to 1-5; at least `like_rating` is a
like, at most `dislike_rating` a dislike. A search asks "chosen" instead of "shown" and multiplies
P(watch) by `search_boost`.
"""

from __future__ import annotations

import json

import numpy as np

from ..feedback import Exposure, predict_both


def heard_matrix(model, agents: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Word-of-mouth pressure h for each (agent row, item) cell of `items`."""
    return model.world.word_of_mouth.pressure(np.asarray(agents, dtype=np.int64)[:, None], items)


def decide(model, agents: np.ndarray, items: np.ndarray, exposure: Exposure,
           boost: float = 1.0) -> tuple[np.ndarray, ...]:
    """Batched feedback for an (n_agents, n_items) grid: P(watch), P(like), sampled rating, heard pressure."""
    world = model.world
    valid = items >= 0
    flat_agents = np.repeat(agents, items.shape[1])[valid.ravel()]
    flat_items = items[valid]
    users = world.users[flat_agents]
    p_like = np.zeros(items.shape)
    predicted = np.zeros(items.shape)
    if len(flat_items):
        p_like[valid], predicted[valid] = predict_both(model.feedback, users, flat_items, world.history,
                                                     exposure=exposure)
    h = heard_matrix(model, agents, items)
    conformity = world.conformity[agents][:, None]
    noise = model.rng.normal(0, model.scenario.feedback.rating_noise, items.shape)
    ratings = np.clip(np.rint(predicted + conformity * 0.5 * np.tanh(h) + noise), 1, 5)
    behaviour = model.sim.behaviour
    p_watch = boost * behaviour.watch_scale * p_like**2 * np.exp(behaviour.social_influence * conformity * h)
    return np.where(valid, np.clip(p_watch, 0, 1), 0.0), p_like, ratings, h


def watch(model, agent: int, item: int, rating: float, p_like: float, via: str, extra: dict) -> None:
    """One watch: its events, the history, the agent's genre counts, feedback for the recommender, memory."""
    source = int(model.world.word_of_mouth.first_source(agent, item))
    model.emit(agent, "watch", item, payload={"rating": rating, "p_like": p_like, "via": via,
                                              "heard_from": None if source < 0 else source, **extra})
    fb = model.scenario.feedback
    if rating >= fb.like_rating:
        model.emit(agent, "like", item, payload={"rating": rating})
    elif rating <= fb.dislike_rating:
        model.emit(agent, "dislike", item, payload={"rating": rating})
    apply_watches(model, np.array([agent]), np.array([item]), np.array([rating], dtype=np.float64))


def apply_watches(model, agents: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
    """What watches change, for a batch in order: the history, the run's watches, genre counts,
    feedback for the recommender, the step's watches, memory (their events are the caller's)."""
    if len(agents) == 0:
        return
    world = model.world
    agents, items = np.asarray(agents, dtype=np.int64), np.asarray(items, dtype=np.int64)
    users = world.users[agents]
    world.history.add(users, items, ratings)
    world.watches.add(agents, items, ratings)
    np.add.at(world.watched_genres, agents, model.catalog.genres[items])
    a, i, r, u = agents.tolist(), items.tolist(), ratings.tolist(), users.tolist()
    world.pending_feedback += zip(u, i, r, [world.step_index] * len(a))
    world.step_watches += zip(a, i, r)
    if model.memory is not None:
        from ..memory import heuristic_importance

        titles = model.catalog.titles
        for agent, item, rating in zip(a, i, r):
            model.memory.observe(agent, f"I watched {titles[item]} and rated it {rating:g}/5.", "watch",
                                 heuristic_importance("watch", rating))


def watch_payloads(model, ratings: np.ndarray, p_like: np.ndarray, sources: np.ndarray, via: str,
                   pages: np.ndarray | None = None, positions: np.ndarray | None = None) -> tuple[list, list, list]:
    """Batched watch events' payloads (as `watch` writes them), and the like/dislike that follows
    each watch: (watch payloads, follow-up kind or None per watch, follow-up payloads)."""
    r = [round(x, 4) for x in ratings.tolist()]
    p = [round(x, 4) for x in p_like.tolist()]
    src = ["null" if s < 0 else str(s) for s in sources.tolist()]
    v = json.dumps(via, ensure_ascii=False)
    if pages is None:
        watch = [f'{{"heard_from":{s},"p_like":{pl!r},"rating":{rr!r},"via":{v}}}' for s, pl, rr in zip(src, p, r)]
    else:
        watch = [f'{{"heard_from":{s},"p_like":{pl!r},"page":{pg},"position":{ps},"rating":{rr!r},"via":{v}}}'
                 for s, pl, pg, ps, rr in zip(src, p, pages.tolist(), positions.tolist(), r)]
    fb = model.scenario.feedback
    follow = [("like" if x >= fb.like_rating else "dislike" if x <= fb.dislike_rating else None)
              for x in ratings.tolist()]
    return watch, follow, [f'{{"rating":{rr!r}}}' for rr in r]


def note_watches(model, agents, items, ratings, sources) -> None:
    """The metrics' record of a batch of watch events (emit() does it for single events)."""
    model.world.step_events.records.watches.append((agents, items, ratings, sources))
