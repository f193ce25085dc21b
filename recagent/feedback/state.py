"""Per-user aggregates of the live History, kept up to date as histories change.

The simulation appends to `History` between calls, so nothing about a user may be cached for
good; but most users do not change between two calls. A cache keeps one row per user in a set of
named arrays together with the history length and the signature of the last `TAIL` (item,
rating) entries the row was computed from; the length alone would miss a history that was rewound
and regrown (the RL environment restarts episodes from the dataset history). A different History
object invalidates everything. Rows are allocated on first use, so memory grows with the users
actually asked about, not with the population.

- `UserStateCache` recomputes a stale row from scratch (one vectorised batch per call).
- `IncrementalUserStates` advances a row by just the appended entries, which is what makes the
  ensemble cheap when every user gains an item per step (an RL environment).
"""

from __future__ import annotations

import weakref
from typing import Callable

import numpy as np

from ..data import History

ComputeFn = Callable[[np.ndarray, History], dict[str, np.ndarray]]
TAIL = 8


def tail_signatures(history: History, users: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """A hash of each user's last TAIL items and ratings (one Python step per user, not per pair).

    With `at`, the hash of the TAIL entries just before position at[k] (the tail the history had
    when it was at[k] long), to tell a history that grew from one that was rewound.
    """
    items, ratings = history.items, history.ratings
    if at is None:
        return np.array([hash((tuple(items[u][-TAIL:]), tuple(ratings[u][-TAIL:]))) for u in users.tolist()],
                        dtype=np.int64)
    return np.array([hash((tuple(items[u][max(n - TAIL, 0):n]), tuple(ratings[u][max(n - TAIL, 0):n])))
                     for u, n in zip(users.tolist(), np.asarray(at).tolist())], dtype=np.int64)


class RowStore:
    """Named per-row arrays grown on demand (rows are slots handed out to users)."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.used = 0

    @property
    def capacity(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0

    def allocate(self, count: int, template: dict[str, np.ndarray]) -> np.ndarray:
        """`count` new row indices; `template` gives each array's per-row shape and dtype."""
        needed = self.used + count
        if needed > self.capacity:
            old_cap, new_cap = self.capacity, max(needed, 2 * self.capacity, 64)
            for name, value in template.items():
                fresh = np.zeros((new_cap,) + value.shape[1:], dtype=value.dtype)
                if name in self.arrays:
                    fresh[:old_cap] = self.arrays[name]
                self.arrays[name] = fresh
        rows = np.arange(self.used, needed)
        self.used = needed
        return rows


class UserStateCache:
    """Per-user rows recomputed from scratch (`compute`) for the users whose history changed."""

    def __init__(self, compute: ComputeFn):
        self.compute = compute
        self.clear()

    def clear(self) -> None:
        self._history_ref = None
        self.slot_of: np.ndarray = np.full(0, -1, dtype=np.int64)
        self.store = RowStore()
        self.length_at = np.zeros(0, dtype=np.int64)
        self.sig_at = np.zeros(0, dtype=np.int64)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return self.store.arrays

    def _bind(self, history: History, user_ids) -> tuple[np.ndarray, np.ndarray]:
        """Check the ids, start over for a different History; (user_ids, sorted unique ids)."""
        if self._history_ref is None or self._history_ref() is not history:
            self.clear()
            self._history_ref = weakref.ref(history)
        user_ids = np.asarray(user_ids, dtype=np.int64)
        if len(self.slot_of) < len(history):
            self.slot_of = np.concatenate([self.slot_of, np.full(len(history) - len(self.slot_of), -1, dtype=np.int64)])
        unique = np.unique(user_ids)
        if len(unique) and (unique[0] < 0 or unique[-1] >= len(history)):
            raise IndexError(f"user ids must be in 0..{len(history) - 1}")
        return user_ids, unique

    def _assign(self, users: np.ndarray, template: dict[str, np.ndarray]) -> np.ndarray:
        """Rows of `users`, allocating rows (and length/signature slots) for new users."""
        new = users[self.slot_of[users] < 0]
        if len(new):
            self.slot_of[new] = self.store.allocate(len(new), template)
            grow = self.store.capacity - len(self.length_at)
            if grow > 0:
                self.length_at = np.concatenate([self.length_at, np.full(grow, -1, dtype=np.int64)])
                self.sig_at = np.concatenate([self.sig_at, np.zeros(grow, dtype=np.int64)])
        return self.slot_of[users]

    def slots(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        """Row index of each user id (same shape as `user_ids`), refreshing stale rows first."""
        user_ids, unique = self._bind(history, user_ids)
        lengths = history.lengths(unique)
        signatures = tail_signatures(history, unique)
        rows = self.slot_of[unique]
        known = rows >= 0
        stale = ~known
        stale[known] = (self.length_at[rows[known]] != lengths[known]) | (self.sig_at[rows[known]] != signatures[known])
        if stale.any():
            users = unique[stale]
            values = self.compute(users, history)
            rows = self._assign(users, values)
            for name, value in values.items():
                self.arrays[name][rows] = value
            self.length_at[rows] = lengths[stale]
            self.sig_at[rows] = signatures[stale]
        return self.slot_of[user_ids]


class IncrementalUserStates(UserStateCache):
    """Per-user rows that are *advanced* by the items appended since they were computed.

    `empty(n)` returns the arrays of n users with no history; `advance(arrays, rows, users,
    starts, history)` folds `history.items[u][start:]` into row `rows[k]` in place. A row whose
    user's history merely grew is advanced by the new items (the simulation appends a few items per
    step; an RL episode one per step). A history that was rewound (an RL episode restarting from
    the dataset history) is rebuilt from a snapshot: the first rewind of a user computes its rows
    from scratch and keeps them as the user's snapshot, later rewinds to that state (or beyond it)
    copy the snapshot and advance from there. Users that are never rewound cost no snapshot memory.
    """

    def __init__(self, empty: Callable[[int], dict[str, np.ndarray]], advance: Callable[..., None]):
        self.empty, self.advance = empty, advance
        self.clear()

    def clear(self) -> None:
        super().clear()
        self.snapshots = RowStore()
        self.snap_of = np.full(0, -1, dtype=np.int64)
        self.snap_length = np.zeros(0, dtype=np.int64)
        self.snap_sig = np.zeros(0, dtype=np.int64)

    def slots(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        user_ids, unique = self._bind(history, user_ids)
        if len(self.snap_of) < len(self.slot_of):
            self.snap_of = np.concatenate([self.snap_of, np.full(len(self.slot_of) - len(self.snap_of), -1, dtype=np.int64)])
        rows = self.slot_of[unique]
        lengths = history.lengths(unique)
        signatures = tail_signatures(history, unique)
        known = rows >= 0
        old_len = np.where(known, self.length_at[np.maximum(rows, 0)] if len(self.length_at) else -1, -1)
        same = known & (old_len == lengths)
        same[same] = self.sig_at[rows[same]] == signatures[same]
        grew = known & (old_len < lengths)
        grew[grew] = self.sig_at[rows[grew]] == tail_signatures(history, unique[grew], old_len[grew])
        fresh = ~known
        rewound = known & ~same & ~grew
        work = ~same
        if not work.any():
            return self.slot_of[user_ids]
        starts = np.where(grew, old_len, 0)
        users = unique[work]
        rows = self._assign(users, self.empty(1))
        starts, w_fresh, w_rewound = starts[work], fresh[work], rewound[work]
        blank = w_fresh.copy()
        if w_rewound.any():
            blank |= self._restore(users, rows, starts, w_rewound, history)
        if blank.any():
            for name, value in self.empty(int(blank.sum())).items():
                self.arrays[name][rows[blank]] = value
        self.advance(self.arrays, rows, users, starts, history)
        self.length_at[rows] = lengths[work]
        self.sig_at[rows] = signatures[work]
        first_rewind = w_rewound & (self.snap_of[users] < 0)
        if first_rewind.any():
            self._snapshot(users[first_rewind], rows[first_rewind], lengths[work][first_rewind],
                           signatures[work][first_rewind])
        return self.slot_of[user_ids]

    def _restore(self, users, rows, starts, rewound, history) -> np.ndarray:
        """Copy matching snapshots into the rewound users' rows (setting `starts`); the rest need a blank row."""
        snap = self.snap_of[users]
        usable = rewound & (snap >= 0)
        if usable.any():
            snap_len = self.snap_length[snap[usable]]
            ok = history.lengths(users[usable]) >= snap_len
            ok[ok] = self.snap_sig[snap[usable][ok]] == tail_signatures(history, users[usable][ok], snap_len[ok])
            usable[usable] = ok
        if usable.any():
            for name in self.arrays:
                self.arrays[name][rows[usable]] = self.snapshots.arrays[name][snap[usable]]
        starts[usable] = self.snap_length[snap[usable]]
        starts[rewound & ~usable] = 0
        return rewound & ~usable

    def _snapshot(self, users, rows, lengths, signatures) -> None:
        template = {name: array[:1] for name, array in self.arrays.items()}
        snap_rows = self.snapshots.allocate(len(users), template)
        for name in self.arrays:
            self.snapshots.arrays[name][snap_rows] = self.arrays[name][rows]
        self.snap_of[users] = snap_rows
        grow = self.snapshots.capacity - len(self.snap_length)
        if grow > 0:
            self.snap_length = np.concatenate([self.snap_length, np.zeros(grow, dtype=np.int64)])
            self.snap_sig = np.concatenate([self.snap_sig, np.zeros(grow, dtype=np.int64)])
        self.snap_length[snap_rows] = lengths
        self.snap_sig[snap_rows] = signatures


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
