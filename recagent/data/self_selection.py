"""A synthetic world with a known truth about self-selection, for testing exposure corrections.

Each user has latent tastes and each item latent traits; the user's true affinity for an item is
eta = u . v + item quality + user mood. A rating of an item is drawn from eta (1-5, ordinal
cut points), whoever chose it: the truth is P(rating | user, item) and does not depend on how the
item reached the user. What differs is which items get rated:

- **chosen**: each user picks `chosen_per_user` items with probability proportional to
  exp(`selection` x eta) x popularity (people pick what they expect to like; `selection` = 0 is
  missing at random);
- **random**: each user is shown `random_per_user` items drawn uniformly, and rates them all.

`true_share` is the expected like share (rating >= 3) of the random exposures, computed from
the rating distribution, not from the draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core import Catalog, Dataset, Interactions, Users
from .exposure import ExposureData

CUTS = np.array([-1.5, -0.5, 0.5, 1.5])  # eta + logistic noise crosses these into ratings 2, 3, 4, 5


@dataclass
class SelfSelectionWorld:
    data: ExposureData
    eta: np.ndarray  # (n_users, n_items) true affinity
    true_share: float  # expected share of ratings >= 3 among the random exposures


def rating_probabilities(eta: np.ndarray) -> np.ndarray:
    """P(rating = 1..5 | eta) of the ordinal logistic model with cut points CUTS, shape eta.shape + (5,)."""
    above = 1.0 / (1.0 + np.exp(-(np.asarray(eta)[..., None] - CUTS)))  # P(rating > k) for k = 1..4
    upper = np.concatenate([np.ones(above.shape[:-1] + (1,)), above], axis=-1)
    lower = np.concatenate([above, np.zeros(above.shape[:-1] + (1,))], axis=-1)
    return upper - lower


def make_self_selection_world(n_users: int = 400, n_items: int = 300, factors: int = 3, chosen_per_user: int = 30,
                              random_per_user: int = 20, selection: float = 2.0, seed: int = 0) -> SelfSelectionWorld:
    rng = np.random.default_rng(seed)
    tastes = rng.normal(0, 1, (n_users, factors))
    traits = rng.normal(0, 1, (n_items, factors)) / np.sqrt(factors)
    quality = rng.normal(0, 0.5, n_items)
    mood = rng.normal(0, 0.3, n_users)
    eta = tastes @ traits.T + quality[None, :] + mood[:, None] - 0.6
    popularity = np.exp(rng.normal(0, 0.7, n_items))
    probs = rating_probabilities(eta)
    cumulative = probs.cumsum(-1)

    def rate(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        draw = rng.random(len(users))[:, None]
        return (draw > cumulative[users, items]).sum(1).clip(0, 4).astype(np.float32) + 1

    # chosen: exponential races with weights exp(selection * eta) * popularity, without replacement
    weights = np.exp(selection * eta) * popularity[None, :]
    keys = rng.exponential(1.0, (n_users, n_items)) / weights
    chosen_items = np.argsort(keys, axis=1)[:, :chosen_per_user]
    cu = np.repeat(np.arange(n_users), chosen_per_user)
    ci = chosen_items.ravel()
    # random: uniform, among the items the user did not choose (as Coat and Yahoo! R3 do)
    ru, ri = [], []
    for u in range(n_users):
        pool = np.setdiff1d(np.arange(n_items), chosen_items[u], assume_unique=False)
        ri.append(rng.choice(pool, size=random_per_user, replace=False))
        ru.append(np.full(random_per_user, u))
    ru, ri = np.concatenate(ru), np.concatenate(ri)
    catalog = Catalog(np.arange(n_items), [f"Item {i}" for i in range(n_items)], [], np.zeros((n_items, 0), dtype=bool),
                      [""] * n_items)
    chosen = Interactions(cu, ci, rate(cu, ci), np.arange(len(cu)))
    random = Interactions(ru, ri, rate(ru, ri), np.arange(len(ru)))
    dataset = Dataset("self-selection", catalog, Users.anonymous(np.arange(n_users)), chosen,
                      meta={"selection": selection, "seed": seed})
    true_share = float(probs[ru, ri, 2:].sum(-1).mean())
    return SelfSelectionWorld(ExposureData(dataset, random), eta, true_share)
