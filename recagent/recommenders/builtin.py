"""The simplest recommenders: uniform random and most popular."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data import Catalog, Interactions
from .base import top_k


class RandomRecommender:
    """Uniformly random unseen items, drawn from the model's seeded generator."""

    name = "random"

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.n_items = len(catalog)

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.rng.random((len(user_ids), self.n_items)), k, exclude)

    def update(self, feedback: Interactions) -> None:
        pass


class PopularRecommender:
    """Items with the most interactions (including the simulation's own), ties by mean rating."""

    name = "popular"

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.counts = np.bincount(interactions.items, minlength=len(catalog)).astype(np.float64)
        self.rating_sums = np.bincount(interactions.items, interactions.ratings, minlength=len(catalog))

    def scores(self) -> np.ndarray:
        mean = self.rating_sums / np.maximum(self.counts, 1)
        return self.counts + mean / 10.0  # mean rating (< 1 after scaling) only breaks ties

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(np.broadcast_to(self.scores(), (len(user_ids), len(self.counts))), k, exclude)

    def update(self, feedback: Interactions) -> None:
        self.counts += np.bincount(feedback.items, minlength=len(self.counts))
        self.rating_sums += np.bincount(feedback.items, feedback.ratings, minlength=len(self.counts))
