"""What learning recommenders remember: every interaction seen so far (fit + online updates).

`Accumulated` keeps parallel arrays and builds the user x item matrices the learners need. User
indices are dense dataset indices; matrices grow to the largest user seen.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data import Interactions


class Accumulated:
    """All interactions so far, in arrival order (the dataset's, then the simulation's)."""

    def __init__(self, n_items: int, interactions: Interactions | None = None):
        self.n_items = n_items
        self.users = np.zeros(0, np.int64)
        self.items = np.zeros(0, np.int64)
        self.ratings = np.zeros(0, np.float32)
        self.times = np.zeros(0, np.int64)
        if interactions is not None:
            self.add(interactions.sorted_by_time() if len(interactions) else interactions)

    def add(self, feedback: Interactions) -> None:
        self.users = np.concatenate([self.users, feedback.users])
        self.items = np.concatenate([self.items, feedback.items])
        self.ratings = np.concatenate([self.ratings, feedback.ratings])
        self.times = np.concatenate([self.times, feedback.times])

    @property
    def n_users(self) -> int:
        return int(self.users.max()) + 1 if len(self.users) else 0

    def matrix(self, min_rating: float = 0.0, n_users: int | None = None) -> sparse.csr_matrix:
        """Binary (n_users, n_items) matrix of interactions rated at least `min_rating`."""
        keep = self.ratings >= min_rating
        n = max(self.n_users, n_users or 0)
        m = sparse.csr_matrix((np.ones(int(keep.sum()), np.float32), (self.users[keep], self.items[keep])),
                              shape=(n, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def user_rows(self, matrix: sparse.csr_matrix, user_ids: np.ndarray) -> sparse.csr_matrix:
        """Rows of `matrix` for `user_ids`; unknown (new) users get empty rows."""
        user_ids = np.asarray(user_ids)
        known = user_ids < matrix.shape[0]
        if known.all():
            return matrix[user_ids]
        rows = sparse.lil_matrix((len(user_ids), matrix.shape[1]), dtype=matrix.dtype)
        rows[np.flatnonzero(known)] = matrix[user_ids[known]]
        return rows.tocsr()

    def popularity(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items).astype(np.float64)
