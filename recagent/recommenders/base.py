"""The Recommender protocol: batched top-k over dense item indices.

`recommend` serves every browsing agent of a step in one call. `exclude` is a boolean sparse
matrix (n_users, n_items) of items not to show (already watched). `update` receives the
simulation's new feedback so learning recommenders can retrain online.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from ..data import Catalog, Interactions


@runtime_checkable
class Recommender(Protocol):
    name: str

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        """Train on the starting interactions."""

    def recommend(self, user_ids: np.ndarray, k: int, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        """Top-k item indices per user, shape (len(user_ids), k); -1 where fewer than k are left."""

    def update(self, feedback: Interactions) -> None:
        """New ratings from the simulation (users, items, ratings, times)."""


@dataclass
class RecommenderWorld:
    """What a recommender may read of the simulation, handed over through an optional `bind(world)`.

    The simulation calls `recommender.bind(world)` (when the method exists) right after creating a
    recommender and after every switch. All three are live objects: they change as the run goes.
    """

    graph: Any  # networkx.Graph over agent ids 0..n_agents-1, edges carry "closeness"
    users: np.ndarray  # (n_agents,) dense dataset user index of each agent
    history: Any  # recagent.data.History: every user's ratings so far, the simulation's included


def top_k(scores: np.ndarray, k: int, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
    """Row-wise top-k of a (n_users, n_items) score matrix, excluded items removed; -1 pads."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k_eff = min(k, scores.shape[1])
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
    result = np.take_along_axis(part, order, 1)
    result[~np.isfinite(np.take_along_axis(scores, result, 1))] = -1
    if k_eff < k:
        result = np.hstack([result, np.full((len(result), k - k_eff), -1)])
    return result
