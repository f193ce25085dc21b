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

import numpy as np

from ..feedback import Exposure, predict_both


def heard_matrix(model, agents: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Word-of-mouth pressure h for each (agent row, item) cell of `items`."""
    h = np.zeros(items.shape)
    for row, a in enumerate(agents):
        agent = model.agent_list[a]
        if agent.heard:
            for col, item in enumerate(items[row]):
                if item in agent.heard:
                    h[row, col] = agent.heard_weight(int(item))
    return h


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
    world = model.world
    source = model.agent_list[agent].first_source(item)
    model.emit(agent, "watch", item, payload={"rating": rating, "p_like": p_like, "via": via,
                                              "heard_from": source, **extra})
    fb = model.scenario.feedback
    if rating >= fb.like_rating:
        model.emit(agent, "like", item, payload={"rating": rating})
    elif rating <= fb.dislike_rating:
        model.emit(agent, "dislike", item, payload={"rating": rating})
    user = int(world.users[agent])
    world.history.add([user], [item], [rating])
    world.sim_watches[agent].append((item, rating))
    world.watched_genres[agent] += model.catalog.genres[item]
    world.pending_feedback.append((user, item, rating, world.step_index))
    world.step_watches.append((agent, item, rating))
    if model.memory is not None:
        from ..memory import heuristic_importance

        model.memory.observe(agent, f"I watched {model.catalog.titles[item]} and rated it {rating:g}/5.", "watch",
                             heuristic_importance("watch", rating))
