"""The browse model of a recommender visit, as the simulation runs it (recagent/simulation/model.py).

An agent is shown up to `pages` pages of `page_size` items. An item at position k of a page (0 = top)
is watched with probability

    P(watch) = watch_scale * P(like | shown)^2 * social factor * max(1 - position_decay * k, min_position_factor)

and after each page the agent moves on with probability `continue_if_watched` when it watched
something there, `continue_if_nothing` when it did not; otherwise it leaves. `browse_pages` draws
exactly as the simulation does (the watch draws for every cell, then one continue draw per page),
so the simulation can call it and `synthetic_log` produces logs from the very same process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scenario import BehaviourSpec


def position_factor(behaviour: BehaviourSpec, page_size: int) -> np.ndarray:
    """The factor of positions 0..page_size-1 of one page."""
    return np.clip(1 - behaviour.position_decay * np.arange(page_size), behaviour.min_position_factor, 1)


def browse_pages(p_watch: np.ndarray, behaviour: BehaviourSpec, page_size: int, pages: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Watch and leave decisions of n visits.

    `p_watch`: (n, pages * page_size) watch probabilities before the position factor (0 for empty
    cells). Returns `watch` (n, pages, page_size), true only on seen pages, and `seen` (n, pages):
    page p is seen when the agent moved on after every earlier page.
    """
    n = len(p_watch)
    p = p_watch * np.tile(position_factor(behaviour, page_size), pages)
    watch = (rng.random(p.shape) < p).reshape(n, pages, page_size)
    go_on = rng.random((n, pages)) < np.where(watch.any(2), behaviour.continue_if_watched,
                                              behaviour.continue_if_nothing)
    seen = np.concatenate([np.ones((n, 1), bool), np.cumprod(go_on[:, :-1], 1).astype(bool)], 1)
    watch &= seen[:, :, None]
    return watch, seen


def synthetic_log(behaviour: BehaviourSpec, sessions: int, *, page_size: int = 4, pages: int = 3,
                  users: int = 500, items: int = 2000, seed: int = 0, p_like_beta: tuple[float, float] = (2.0, 2.0)
                  ) -> pd.DataFrame:
    """An impression log of `sessions` visits drawn from the browse model with known parameters.

    Each shown item gets P(like | shown) ~ Beta(*p_like_beta) (written in the `p_like` column) and no
    social signal (social factor 1), as in a log without word of mouth. Only seen pages are logged,
    one row per shown item: user, session, page, position, item, watched, p_like.
    """
    rng = np.random.default_rng(seed)
    cells = pages * page_size
    p_like = rng.beta(*p_like_beta, (sessions, cells))
    watch, seen = browse_pages(behaviour.watch_scale * p_like**2, behaviour, page_size, pages, rng)
    session_user = rng.integers(0, users, sessions)
    item = rng.integers(0, items, (sessions, cells))
    shown = np.repeat(seen, page_size, axis=1)  # (sessions, cells)
    s, c = np.nonzero(shown)
    return pd.DataFrame({
        "user": session_user[s], "session": s, "page": c // page_size, "position": c % page_size,
        "item": item[s, c], "watched": watch.reshape(sessions, cells)[s, c].astype(np.int8),
        "p_like": p_like[s, c],
    })
