"""Per-user aggregates of the live History, recomputed only for users whose history grew.

The simulation appends to `History` between calls, so nothing about a user may be cached for
good; but most users do not change between two calls. `UserStateCache` keeps one row per user in
a set of named arrays together with the history length the row was computed from, and on each
call recomputes just the stale rows (in one vectorised batch per call). A row is stale when the
user's history length or the signature of its last `TAIL` (item, rating) entries changed: the
length alone would miss a history that was rewound and regrown (the RL environment restarts
episodes from the dataset history). A different History object invalidates everything. Rows are slots allocated on first use, so memory grows with the
users actually asked about, not with the population.
"""

from __future__ import annotations

import weakref
from typing import Callable

import numpy as np

from ..data import History

ComputeFn = Callable[[np.ndarray, History], dict[str, np.ndarray]]
TAIL = 8


def tail_signatures(history: History, users: np.ndarray) -> np.ndarray:
    """A hash of each user's last TAIL items and ratings (one Python step per user, not per pair)."""
    return np.array([hash((tuple(history.items[u][-TAIL:]), tuple(history.ratings[u][-TAIL:])))
                     for u in users.tolist()], dtype=np.int64)


class UserStateCache:
    def __init__(self, compute: ComputeFn):
        self.compute = compute
        self.clear()

    def clear(self) -> None:
        self._history_ref = None
        self.slot_of: np.ndarray = np.full(0, -1, dtype=np.int64)
        self.length_at: np.ndarray = np.zeros(0, dtype=np.int64)
        self.sig_at: np.ndarray = np.zeros(0, dtype=np.int64)
        self.arrays: dict[str, np.ndarray] = {}
        self.used = 0

    def _ensure_users(self, n_users: int) -> None:
        if len(self.slot_of) < n_users:
            grow = n_users - len(self.slot_of)
            self.slot_of = np.concatenate([self.slot_of, np.full(grow, -1, dtype=np.int64)])

    def _ensure_slots(self, needed: int, template: dict[str, np.ndarray]) -> None:
        capacity = len(self.length_at)
        if needed <= capacity:
            return
        new_cap = max(needed, 2 * capacity, 64)
        self.length_at = np.concatenate([self.length_at, np.full(new_cap - capacity, -1, dtype=np.int64)])
        self.sig_at = np.concatenate([self.sig_at, np.zeros(new_cap - capacity, dtype=np.int64)])
        for name, value in template.items():
            old = self.arrays.get(name)
            fresh = np.zeros((new_cap,) + value.shape[1:], dtype=value.dtype)
            if old is not None:
                fresh[:capacity] = old
            self.arrays[name] = fresh

    def slots(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        """Slot index of each user id (same shape as `user_ids`), refreshing stale rows first."""
        if self._history_ref is None or self._history_ref() is not history:
            self.clear()
            self._history_ref = weakref.ref(history)
        user_ids = np.asarray(user_ids, dtype=np.int64)
        self._ensure_users(len(history))
        unique = np.unique(user_ids)
        if len(unique) and (unique[0] < 0 or unique[-1] >= len(history)):
            raise IndexError(f"user ids must be in 0..{len(history) - 1}")
        lengths = history.lengths(unique)
        signatures = tail_signatures(history, unique)
        slots = self.slot_of[unique]
        known = slots >= 0
        stale = ~known
        stale[known] = (self.length_at[slots[known]] != lengths[known]) | (self.sig_at[slots[known]] != signatures[known])
        if stale.any():
            users = unique[stale]
            values = self.compute(users, history)
            new = users[self.slot_of[users] < 0]
            self._ensure_slots(self.used + len(new), values)
            self.slot_of[new] = np.arange(self.used, self.used + len(new))
            self.used += len(new)
            rows = self.slot_of[users]
            for name, value in values.items():
                self.arrays[name][rows] = value
            self.length_at[rows] = lengths[stale]
            self.sig_at[rows] = signatures[stale]
        return self.slot_of[user_ids]


def coin(seed: int, user_ids: np.ndarray, item_ids: np.ndarray, salt: np.ndarray | int = 0) -> np.ndarray:
    """A seeded, order-independent fair coin per (user, item, salt): True or False.

    Ties of f_mat and f_sim are broken with it, so the same seed gives the same decisions however
    the pairs are batched (a sequential RNG would depend on call order). splitmix64 finaliser.
    """
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
             + np.asarray(user_ids, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
             + np.asarray(item_ids, dtype=np.uint64) * np.uint64(0x94D049BB133111EB)
             + np.asarray(salt, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(63)).astype(bool)
