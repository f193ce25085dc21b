"""A recagent recommender plug-in: recommends the newest items (highest dense index) not yet seen."""

import numpy as np

from recagent.recommenders import top_k


class NewestFirst:
    """Recommends the items with the highest ids that the user has not seen."""

    name = "newest"

    def fit(self, catalog, interactions):
        self.scores = np.arange(len(catalog), dtype=float)

    def recommend(self, user_ids, k, exclude=None):
        scores = np.broadcast_to(self.scores, (len(user_ids), len(self.scores)))
        return top_k(scores, k, exclude)

    def update(self, feedback):
        pass


def make(context, **params):  # context.rng is the run's seeded numpy Generator
    return NewestFirst()
