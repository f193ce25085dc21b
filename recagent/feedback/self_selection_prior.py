"""Self-selection strength as a bounded scenario prior: `feedback.self_selection` (a like ratio).

From self-chosen ratings alone a simulator cannot know how much less people like what they are merely
shown: the share the observation pattern reveals differs by domain. The published random-exposure data
spans a range of the **random/chosen like ratio** = (share of ratings >= 3 among randomly shown items) /
(share among self-chosen ones):

- Coat (Schnabel et al. 2016): 0.401 / 0.52 = **0.77**;
- Yahoo! R3 (Marlin and Zemel 2009; Marlin et al. 2007): **0.41**.

`feedback.self_selection: <ratio>` pins the model's answer to the shown question to that ratio: over a
seeded sample of (user, item) cells drawn uniformly among the unrated ones (what a random exposure
draws), mean P(like | shown) = ratio x the chosen like share of the training ratings. It does so by
scaling the self-selection axis of the shown correction (recagent/feedback/exposure.py): the
log-propensity coefficient w2 moves by d and the intercept by -d x m (m = mean log-propensity of the
training ratings), so items as likely to be chosen as the ones people did choose keep their answer and
the less likely ones lose more; d is found by root finding. The rating head moves along the same axis
(v2 by d x v2 / w2, v0 by -d x m x v2 / w2); where the head has no self-selection slope (|w2| < 0.05 or
v2 of the other sign) the rating head is left as fitted.

Default `null`: the ratio the training data implies on its own (the exposure correction as fitted).
A dataset's own ratio is measured by `recagent eval exposure` (its random ratings, or `--calibration`),
which prints the `feedback.self_selection` line to use. `recagent compare/sweep --robust self_selection`
re-runs every strategy at both ends of RANGE (docs/comparisons.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from ..errors import UserError

RANGE = (0.41, 0.77)  # Yahoo! R3, Coat: the random/chosen like ratios of published random-exposure data
SOURCES = "Coat 0.77 (Schnabel et al. 2016), Yahoo! R3 0.41 (Marlin and Zemel 2009)"
SAMPLE_CELLS = 4000  # uniformly random unrated cells the ratio is measured on
MAX_SHIFT = 8.0  # |d| searched, in logit units per unit of log-propensity
TOLERANCE = 1e-4


@dataclass
class PriorFit:
    target: float  # the ratio asked for
    implied: float  # the ratio of the model as fitted (before the prior)
    reached: float  # the ratio after
    shift: float  # d
    rating_moved: bool
    chosen_share: float


def random_cells(interactions, n_users: int, n_items: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` (user, item) cells drawn uniformly among those not rated in `interactions` (seeded)."""
    rng = np.random.default_rng([seed, 2516])
    rated = np.unique(interactions.users.astype(np.int64) * n_items + interactions.items.astype(np.int64))
    users, items = np.empty(0, np.int64), np.empty(0, np.int64)
    for _ in range(20):  # rejection: a handful of rounds unless the matrix is nearly full
        u = rng.integers(0, n_users, 2 * n)
        i = rng.integers(0, n_items, 2 * n)
        keep = ~np.isin(u * n_items + i, rated)
        users, items = np.concatenate([users, u[keep]]), np.concatenate([items, i[keep]])
        if len(users) >= n:
            break
    return users[:n], items[:n]


def moved(correction, d: float, m: float):
    """The correction with its self-selection axis scaled by d (see the module docstring)."""
    like = correction.like.copy()
    like[2] += d
    like[0] -= d * m
    rating = correction.rating.copy()
    w2, v2 = float(correction.like[2]), float(correction.rating[2])
    slope = v2 / w2 if abs(w2) >= 0.05 and np.sign(v2) == np.sign(w2) else 0.0  # rating points per logit unit
    rating[2] += d * slope
    rating[0] -= d * m * slope
    return replace(correction, like=like, rating=rating, fitted_on=f"{correction.fitted_on}+self_selection")


def apply_self_selection(model, ratio: float, dataset, seed: int) -> PriorFit:
    """Pin `model`'s shown answers to `ratio` (in place); UserError naming the field when it cannot."""
    from ..data import History

    if not 0 < ratio <= 1.5:
        raise UserError(f"field 'feedback.self_selection': expected a like ratio in (0, 1.5], found {ratio}")
    correction = getattr(model, "shown", None)
    if correction is None:
        raise UserError(f"field 'feedback.self_selection': the feedback model {getattr(model, 'name', model)!r} "
                        "has no exposure correction to scale")
    chosen = dataset.interactions
    n_users, n_items = max(len(dataset.users), int(chosen.users.max()) + 1), len(dataset.catalog)
    chosen_share = float(np.mean(chosen.ratings >= correction.like_threshold))
    if chosen_share == 0:
        raise UserError("field 'feedback.self_selection': no training rating is a like, so a like ratio has nothing "
                        "to scale")
    users, items = random_cells(chosen, n_users, n_items, SAMPLE_CELLS, seed)
    if len(users) == 0:
        raise UserError("field 'feedback.self_selection': every (user, item) cell is rated; nothing is merely shown")
    history = History.from_interactions(chosen, n_users)
    m = float(np.mean(correction.exposure.log_propensity(chosen.users.astype(np.int64),
                                                         chosen.items.astype(np.int64))))

    def ratio_at(d: float) -> float:
        model.shown = moved(correction, d, m)
        p, _ = model.predict_shown(users, items, history)
        return float(np.mean(p)) / chosen_share

    try:
        implied = ratio_at(0.0)
        low, high = ratio_at(MAX_SHIFT), ratio_at(-MAX_SHIFT)  # a larger d is a stronger self-selection
        if not min(low, high) - TOLERANCE <= ratio <= max(low, high) + TOLERANCE:
            raise UserError(f"field 'feedback.self_selection': a like ratio of {ratio} is out of this model's reach on "
                            f"this dataset (it spans {min(low, high):.3f} to {max(low, high):.3f})")
        if abs(implied - ratio) <= TOLERANCE:
            d = 0.0
        else:
            d = brentq(lambda x: ratio_at(x) - ratio, -MAX_SHIFT, MAX_SHIFT, xtol=1e-4)
        reached = ratio_at(d)
    except BaseException:
        model.shown = correction
        raise
    return PriorFit(ratio, implied, reached, float(d), bool(model.shown.rating[2] != correction.rating[2]),
                    chosen_share)
