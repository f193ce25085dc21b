"""What each user has rated so far: the dataset's history plus what happens in the simulation.

Feedback models and recommenders read it in batches (`padded`, `seen_matrix`); the simulation
appends to it after every browse phase.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .core import Interactions, spans


# entries hashed into a row's signature (see History.signatures)
SIGNATURE_TAIL = 8


class History:
    """Per-user item and rating sequences in time order (oldest first)."""

    def __init__(self, n_users: int):
        self.items: list[list[int]] = [[] for _ in range(n_users)]
        self.ratings: list[list[float]] = [[] for _ in range(n_users)]

    @classmethod
    def from_interactions(cls, interactions: Interactions, n_users: int) -> "History":
        history = cls(n_users)
        s = interactions.sorted_by_time()
        history.add(s.users, s.items, s.ratings)
        return history

    def __len__(self) -> int:
        return len(self.items)

    def add(self, users, items, ratings) -> None:
        for u, i, r in zip(np.asarray(users).tolist(), np.asarray(items).tolist(), np.asarray(ratings).tolist()):
            self.items[u].append(i)
            self.ratings[u].append(r)

    def lengths(self, user_ids) -> np.ndarray:
        return np.array([len(self.items[u]) for u in np.asarray(user_ids).tolist()], dtype=np.int64)

    def signatures(self, user_ids, lengths) -> np.ndarray:
        """An int64 per user standing for the first lengths[k] entries of its row (caches compare them).

        Feedback caches keep per-user state with the length and signature it was computed from:
        the same length and signature mean the same row, a longer row whose signature at the old
        length still matches has only grown. Here it is a hash of the last SIGNATURE_TAIL (item,
        rating) entries before the position, which tells a row that grew from one that was
        rewound and regrown (the simulation only appends; a what-if replay rewrites rows), at one
        Python step per user. Subclasses that know how their rows change may answer exactly and
        vectorised (the RL engine's EpisodeHistory does).
        """
        items, ratings, t = self.items, self.ratings, SIGNATURE_TAIL
        return np.array([hash((tuple(items[u][max(n - t, 0):n]), tuple(ratings[u][max(n - t, 0):n])))
                         for u, n in zip(np.asarray(user_ids).tolist(), np.asarray(lengths).tolist())],
                        dtype=np.int64)

    def since(self, user_ids, starts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries of each user's row from position starts[k] on, concatenated in user order.

        Returns (counts, items, ratings): counts[k] entries belong to user_ids[k].
        """
        items, ratings, counts = [], [], []
        for u, start in zip(np.asarray(user_ids).tolist(), np.asarray(starts).tolist()):
            items += self.items[u][start:]
            ratings += self.ratings[u][start:]
            counts.append(len(self.items[u]) - start)
        return (np.array(counts, dtype=np.int64), np.array(items, dtype=np.int64),
                np.array(ratings, dtype=np.float64))

    def padded(self, user_ids, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(items, ratings), each (n, L), most recent last; padding is item -1 and rating NaN."""
        user_ids = np.asarray(user_ids).tolist()
        lengths = [len(self.items[u]) for u in user_ids]
        width = max(lengths, default=0) if max_len is None else max_len
        items = np.full((len(user_ids), width), -1, dtype=np.int64)
        ratings = np.full((len(user_ids), width), np.nan, dtype=np.float32)
        if width == 0:
            return items, ratings
        for row, u in enumerate(user_ids):
            seq_i, seq_r = self.items[u][-width:], self.ratings[u][-width:]
            if seq_i:
                items[row, width - len(seq_i):] = seq_i
                ratings[row, width - len(seq_r):] = seq_r
        return items, ratings

    def seen_matrix(self, user_ids, n_items: int) -> sparse.csr_matrix:
        """Boolean (n, n_items) matrix of the items each of `user_ids` has rated."""
        user_ids = np.asarray(user_ids).tolist()
        indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(self.items[u]) for u in user_ids])
        indices = np.fromiter((i for u in user_ids for i in self.items[u]), dtype=np.int64, count=int(indptr[-1]))
        data = np.ones(len(indices), dtype=bool)
        m = sparse.csr_matrix((data, indices, indptr), shape=(len(user_ids), n_items))
        m.sum_duplicates()
        return m

    def to_interactions(self) -> Interactions:
        users, order = spans(np.array([len(x) for x in self.items], dtype=np.int64))
        items = np.fromiter((i for seq in self.items for i in seq), dtype=np.int64, count=len(users))
        ratings = np.fromiter((r for seq in self.ratings for r in seq), dtype=np.float32, count=len(users))
        return Interactions(users, items, ratings, order)
