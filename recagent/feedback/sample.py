"""The fit sample: a bounded, seeded sample of users whose ratings stand for the population when fitting.

What a feedback model learns about *items* and about how features map to answers (SASRec's
weights, MF item factors, item biases, the stacker, the exposure model's item side) does not need
every user: a few tens of thousands of users pin it down, so fitting on a bounded sample makes the
fitting time independent of the population. What is *per user* (a user's bias, MF user factors,
keyword unions, SASRec state, exposure factors) is then read from each user's own ratings, cheaply
and in vectorised passes, without refitting anything.

The sample is whole users (a user's sequence stays intact for SASRec), drawn in a seeded random
order until either bound would be exceeded. A dataset within both bounds is used whole: the
sample *is* the data, and nothing about the fit changes (MovieLens-100K, Coat).
"""

from __future__ import annotations

import numpy as np

from ..data import Interactions

FIT_USERS = 20_000  # default bound on the users a model is fitted on
MAX_INTERACTIONS = 150_000  # default bound on the ratings a model is fitted on
# the exposure model (a logistic MF of which cells are rated) fits every observed cell and four
# sampled unobserved ones per step, 800 full-batch steps: it gets a smaller share of the sample
MAX_EXPOSURE_INTERACTIONS = 30_000


def sample_users(interactions: Interactions, fit_users: int, max_interactions: int, seed: int) -> np.ndarray | None:
    """Sorted ids of the sampled users, or None when every user fits within both bounds.

    Users are taken in a seeded random order while the sample stays within `fit_users` users and
    `max_interactions` ratings; at least one user is taken, so a single user with more ratings than
    `max_interactions` is still a sample.
    """
    counts = np.bincount(interactions.users) if len(interactions) else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(counts)
    if len(present) <= fit_users and len(interactions) <= max_interactions:
        return None
    order = np.random.default_rng(seed).permutation(present)
    within = int((np.cumsum(counts[order]) <= max_interactions).sum())  # counts > 0: a prefix of the order
    take = max(1, min(fit_users, within))
    return np.sort(order[:take])


def fit_sample(interactions: Interactions, fit_users: int, max_interactions: int,
               seed: int) -> tuple[Interactions, np.ndarray | None]:
    """(the sampled users' ratings, their ids); (interactions itself, None) when the data is within bounds."""
    users = sample_users(interactions, fit_users, max_interactions, seed)
    if users is None:
        return interactions, None
    member = np.zeros(int(interactions.users.max()) + 1, dtype=bool)
    member[users] = True
    return interactions.subset(member[interactions.users]), users


def exposure_sample(interactions: Interactions, n_items: int, seed: int, dense_cells: int, fit_users: int = FIT_USERS,
                    max_interactions: int = MAX_INTERACTIONS) -> np.ndarray | None:
    """The users an exposure model is fitted on (None: all of them).

    Its fit is dense (every cell of the users x items matrix) up to `dense_cells`
    (exposure.MAX_DENSE_CELLS); beyond, it costs 800 full-batch steps over every rated cell and
    four sampled unrated ones each, so it gets a smaller share of the fit sample
    (MAX_EXPOSURE_INTERACTIONS) and every user is folded in (exposure_fold_in.py).
    """
    if len(interactions) == 0 or (int(interactions.users.max()) + 1) * n_items <= dense_cells:
        return None
    return sample_users(interactions, fit_users, min(max_interactions, MAX_EXPOSURE_INTERACTIONS), seed)
