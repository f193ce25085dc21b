"""Per-user aggregates of the live History, kept up to date as histories change.

The simulation appends to `History` between calls, so nothing about a user may be cached for
good; but most users do not change between two calls. A cache keeps one row per user in a set of
named arrays together with the history length and signature (`History.signatures`) the row was
computed from; the length alone would miss a history that was rewound and regrown (the RL
environment restarts episodes from the dataset history). A different History object invalidates
everything. Rows are allocated on first use, so memory grows with the users actually asked
about, not with the population.

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


# every row also records the history length and signature it stands for
BOOKKEEPING = {"_length": np.zeros(1, dtype=np.int64), "_sig": np.zeros(1, dtype=np.int64)}


class RowStore:
    """Named per-row arrays grown on demand (rows are slots handed out to users)."""

    def __init__(self, template: dict[str, np.ndarray] | None = None):
        self.arrays = {name: np.zeros((0,) + value.shape[1:], dtype=value.dtype)
                       for name, value in (template or {}).items()}
        self.used = 0

    @property
    def capacity(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0

    def allocate(self, count: int, template: dict[str, np.ndarray], limit: int | None = None) -> np.ndarray:
        """`count` new row indices; `template` gives each array's per-row shape and dtype.

        Capacity doubles (amortised growth) but never beyond `limit` rows (the users there are:
        at a million users a doubling past them would hold gigabytes nobody uses)."""
        needed = self.used + count
        if needed > self.capacity:
            old_cap, new_cap = self.capacity, max(needed, 2 * self.capacity, 64)
            new_cap = max(needed, min(new_cap, limit)) if limit is not None else new_cap
            for name, value in template.items():
                fresh = np.zeros((new_cap,) + value.shape[1:], dtype=value.dtype)
                if name in self.arrays:
                    fresh[:old_cap] = self.arrays[name]
                self.arrays[name] = fresh
        rows = np.arange(self.used, needed)
        self.used = needed
        return rows


def grown(index: np.ndarray, n: int) -> np.ndarray:
    """A user -> row index array extended with -1 (no row) to at least n users."""
    return index if len(index) >= n else np.concatenate([index, np.full(n - len(index), -1, dtype=np.int64)])


class UserStateCache:
    """Per-user rows recomputed from scratch (`compute`) for the users whose history changed."""

    def __init__(self, compute: ComputeFn):
        self.compute = compute
        self.clear()

    def clear(self) -> None:
        self._history_ref = None
        self.slot_of: np.ndarray = np.full(0, -1, dtype=np.int64)
        self.store = RowStore(BOOKKEEPING)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return self.store.arrays

    def _bind(self, history: History, user_ids) -> tuple[np.ndarray, np.ndarray]:
        """Check the ids, start over for a different History; (user_ids, sorted unique ids)."""
        if self._history_ref is None or self._history_ref() is not history:
            self.clear()
            self._history_ref = weakref.ref(history)
        user_ids = np.asarray(user_ids, dtype=np.int64)
        self.slot_of = grown(self.slot_of, len(history))
        unique = np.unique(user_ids)
        if len(unique) and (unique[0] < 0 or unique[-1] >= len(history)):
            raise IndexError(f"user ids must be in 0..{len(history) - 1}")
        return user_ids, unique

    def _assign(self, users: np.ndarray, template: dict[str, np.ndarray]) -> np.ndarray:
        """Rows of `users`, allocating rows for new users."""
        for name in set(self.store.arrays) - set(template) - set(BOOKKEEPING):
            del self.store.arrays[name]  # a part that state pickled by an older version (a checkpoint) had
        new = users[self.slot_of[users] < 0]
        if len(new):
            self.slot_of[new] = self.store.allocate(len(new), {**template, **BOOKKEEPING}, limit=len(self.slot_of))
        return self.slot_of[users]

    def slots(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        """Row index of each user id (same shape as `user_ids`), refreshing stale rows first."""
        user_ids, unique = self._bind(history, user_ids)
        lengths = history.lengths(unique)
        signatures = history.signatures(unique, lengths)
        rows = self.slot_of[unique]
        known = rows >= 0
        stale = ~known
        stale[known] = ((self.arrays["_length"][rows[known]] != lengths[known])
                        | (self.arrays["_sig"][rows[known]] != signatures[known]))
        if stale.any():
            users = unique[stale]
            values = self.compute(users, history)
            rows = self._assign(users, values)
            for name, value in values.items():
                self.arrays[name][rows] = value
            self.arrays["_length"][rows] = lengths[stale]
            self.arrays["_sig"][rows] = signatures[stale]
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

    def slots(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        user_ids, unique = self._bind(history, user_ids)
        self.snap_of = grown(self.snap_of, len(self.slot_of))
        rows = self.slot_of[unique]
        lengths = history.lengths(unique)
        signatures = history.signatures(unique, lengths)
        known = rows >= 0
        old_len = np.full(len(unique), -1, dtype=np.int64)
        old_len[known] = self.arrays["_length"][rows[known]]
        same = known & (old_len == lengths)
        same[same] = self.arrays["_sig"][rows[same]] == signatures[same]
        grew = known & (old_len < lengths)
        grew[grew] = self.arrays["_sig"][rows[grew]] == history.signatures(unique[grew], old_len[grew])
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
        self.arrays["_length"][rows] = lengths[work]
        self.arrays["_sig"][rows] = signatures[work]
        first_rewind = w_rewound & (self.snap_of[users] < 0)
        if first_rewind.any():
            self._snapshot(users[first_rewind], rows[first_rewind])
        return self.slot_of[user_ids]

    def _restore(self, users, rows, starts, rewound, history) -> np.ndarray:
        """Copy matching snapshots into the rewound users' rows (setting `starts`); the rest need a blank row."""
        snap = self.snap_of[users]
        usable = rewound & (snap >= 0)
        if usable.any():
            snap_len = self.snapshots.arrays["_length"][snap[usable]]
            ok = history.lengths(users[usable]) >= snap_len
            ok[ok] = (self.snapshots.arrays["_sig"][snap[usable][ok]]
                      == history.signatures(users[usable][ok], snap_len[ok]))
            usable[usable] = ok
        if usable.any():
            for name in self.arrays:
                self.arrays[name][rows[usable]] = self.snapshots.arrays[name][snap[usable]]
            starts[usable] = self.arrays["_length"][rows[usable]]
        starts[rewound & ~usable] = 0
        return rewound & ~usable

    def _snapshot(self, users, rows) -> None:
        """Keep the users' rows (with the length and signature they stand for) as their snapshots."""
        template = {name: array[:1] for name, array in self.arrays.items()}
        snap_rows = self.snapshots.allocate(len(users), template)
        for name in self.arrays:
            self.snapshots.arrays[name][snap_rows] = self.arrays[name][rows]
        self.snap_of[users] = snap_rows


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
