"""The oracle: the "ideal" recommender of Chaney, Stewart and Engelhardt (2018), which knows every
person's true preferences.

In recagent the truth is the run's feedback model: it decides whether a shown item is liked (and,
through P(like)^2, whether it is watched). The oracle ranks every unseen item by that model's
P(like | shown) for the person, so it is the upper bound a learned recommender is measured against
(utility loss, homogenization relative to the ideal; docs/findings.md). It learns nothing from
feedback: the feedback model already knows. Word of mouth is not part of its ranking (it is not a
preference). It needs the simulation (`bind`), so it cannot serve outside a run.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data import Catalog, Interactions
from ..feedback import predict_both
from .base import top_k

PAIRS_PER_CALL = 1_000_000  # (user, item) pairs asked of the feedback model at once: bounds memory


class OracleRecommender:
    name = "oracle"

    def __init__(self):
        self.world = None

    def bind(self, world) -> None:
        """The live run: its feedback model and history (see recagent.simulation.model.LiveWorld)."""
        self.world = world

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.n_items = len(catalog)

    def scores(self, user_ids: np.ndarray) -> np.ndarray:
        """(len(user_ids), n_items) P(like | shown) under the run's feedback model."""
        feedback = getattr(self.world, "feedback", None)
        if feedback is None:
            raise RuntimeError("the oracle recommender ranks by the run's feedback model and needs a simulation "
                               "to bind it (bind(world) with a world that has .feedback)")
        user_ids = np.asarray(user_ids, dtype=np.int64)
        out = np.empty((len(user_ids), self.n_items))
        rows = max(1, PAIRS_PER_CALL // max(self.n_items, 1))
        items = np.arange(self.n_items)
        for start in range(0, len(user_ids), rows):
            users = user_ids[start:start + rows]
            p_like, _ = predict_both(feedback, np.repeat(users, self.n_items), np.tile(items, len(users)),
                                     self.world.history, exposure="shown")
            out[start:start + len(users)] = np.asarray(p_like).reshape(len(users), self.n_items)
        return out

    def recommend(self, user_ids, k: int, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.scores(user_ids), k, exclude)

    def update(self, feedback: Interactions) -> None:
        pass  # the truth does not learn
