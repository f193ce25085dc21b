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


def _first_unseen(ranking: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    """Per row, the first k items of `ranking` not marked in `seen` (rows x len(ranking)); -1 pads."""
    order = np.argsort(seen, axis=1, kind="stable")[:, :k]  # unseen first, in ranking order
    result = np.where(np.take_along_axis(seen, order, 1), -1, ranking[order])
    if result.shape[1] < k:
        result = np.hstack([result, np.full((len(result), k - result.shape[1]), -1)])
    return result


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
        """Everyone gets the same ranking less what they have seen: only the first k + (most seen
        by one user) items of it are candidates, so a step of 100,000 browsers never makes the
        (browsers x items) score matrix (6 GB at 5,000 items)."""
        n, n_items = len(user_ids), len(self.counts)
        seen_most = int(np.diff(exclude.indptr).max()) if exclude is not None and exclude.nnz else 0
        ranking = np.argsort(-self.scores(), kind="stable")[:min(n_items, k + seen_most)]
        seen = (exclude[:, ranking].toarray().astype(bool) if seen_most
                else np.zeros((n, len(ranking)), dtype=bool))
        return _first_unseen(ranking, seen, k)

    def update(self, feedback: Interactions) -> None:
        self.counts += np.bincount(feedback.items, minlength=len(self.counts))
        self.rating_sums += np.bincount(feedback.items, feedback.ratings, minlength=len(self.counts))
