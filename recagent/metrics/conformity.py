"""The conformity measure's state: every agent's latest rating of every item it rated, as sorted
(agent, item) keys, and the step's watches checked against their friends' ratings in one pass.

A watch of item i by agent a counts when at least one contact of a had rated i before it (in the
dataset history, an earlier step, or earlier in the same step); it agrees when its like/not-like
matches the contacts' majority (ties left out). At a million agents a dict per agent cost ~1 KB
each; here a rating is 12 bytes and the check is a few binary searches per watch.
"""

from __future__ import annotations

import numpy as np


class LatestRatings:
    """Latest rating per (agent, item), keys agent * n_items + item, sorted and unique."""

    def __init__(self, agents: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_items: int):
        self.n_items = n_items
        self.keys = np.zeros(0, dtype=np.int64)
        self.ratings = np.zeros(0, dtype=np.float32)
        self.update(agents, items, ratings)

    @staticmethod
    def _last(keys: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unique sorted keys, each with the rating of its last occurrence."""
        uniq, last = np.unique(keys[::-1], return_index=True)
        return uniq, ratings[::-1][last]

    def update(self, agents, items, ratings) -> None:
        """Fold ratings in (the later of two ratings of one pair wins)."""
        keys, ratings = self._last(np.asarray(agents, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64),
                                   np.asarray(ratings, dtype=np.float32))
        if not len(keys):
            return
        pos = np.searchsorted(self.keys, keys)
        known = pos < len(self.keys)
        known[known] = self.keys[pos[known]] == keys[known]
        self.ratings[pos[known]] = ratings[known]
        self.keys = np.insert(self.keys, pos[~known], keys[~known])
        self.ratings = np.insert(self.ratings, pos[~known], ratings[~known])

    def lookup(self, agents: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, rating) of each (agent, item) pair."""
        keys = agents * self.n_items + items
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.float32)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[pos] == keys
        return found, self.ratings[pos]


def friend_agreement(store: LatestRatings, adjacency, agents: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                     like_rating: float) -> tuple[int, int]:
    """(watches with a friends' majority, of which agreeing) for a step's watches in order; folds
    the watches into `store` afterwards."""
    m = len(agents)
    if m == 0:
        return 0, 0
    owner, friend, _ = adjacency.contacts(agents)
    item = items[owner]
    found, rating = store.lookup(friend, item)
    # a friend's watch earlier in this step is the latest rating of that pair at watch `owner`
    step_keys = agents * store.n_items + items
    combined = step_keys * (m + 1) + np.arange(m)
    order = np.argsort(combined, kind="stable")
    sorted_combined = combined[order]
    query = (friend * store.n_items + item) * (m + 1) + owner
    before = np.searchsorted(sorted_combined, query) - 1
    ok = before >= 0
    ok[ok] = sorted_combined[before[ok]] // (m + 1) == query[ok] // (m + 1)
    rating = np.where(ok, ratings[order[np.maximum(before, 0)]], rating)
    found |= ok
    likes = np.bincount(owner[found], (rating[found] >= like_rating).astype(np.float64), m)
    total = np.bincount(owner[found], minlength=m).astype(np.float64)
    counted = total > 0
    share = np.divide(likes, total, out=np.full(m, 0.5), where=counted)
    majority = counted & (share != 0.5)
    agree = int(((ratings >= like_rating) == (share > 0.5))[majority].sum())
    store.update(agents, items, ratings)
    return int(majority.sum()), agree
