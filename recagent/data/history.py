"""What each user has rated so far: the dataset's history plus what happens in the simulation.

Feedback models and recommenders read it in batches (`padded`, `since`, `seen_matrix`); the
simulation appends to it after every browse phase.

Storage is one arena of numpy arrays (item int32, rating float64) in which every user owns a
slice `[start, start + capacity)` holding its `length` entries oldest first. A row that
outgrows its slice moves, with twice the room, to the end of the arena; the slice it leaves is
garbage, reclaimed by packing the arena once garbage outweighs the live part. So `add` of a
whole step's watches is one vectorised call, and at a million users x 20 ratings the history
takes ~300 MB instead of the ~1.5 GB of Python lists per user it used to be.

`items[u]` and `ratings[u]` still read (and, for a what-if replay, assign) one row as a Python
list, so per-user code keeps working; hot paths use the batched methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .core import Interactions, spans, user_time_order

# entries hashed into a row's signature (see History.signatures)
SIGNATURE_TAIL = 8
# free cells each row gets beyond its dataset history, so the first watches do not move it
INITIAL_SLACK = 4
# add() calls with at most this many entries take a scalar path (the simulation adds watch by watch)
SMALL_ADD = 8

_POSITION_WEIGHTS = (np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, SIGNATURE_TAIL + 1, dtype=np.uint64)) | np.uint64(1)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole uint64 (wraps on purpose)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _listed(values) -> list:
    return values if type(values) is list else np.asarray(values).reshape(-1).tolist()


class Rows(Sequence):
    """One column (items or ratings) of a History as a sequence of per-user Python lists."""

    def __init__(self, history: History, column: str):
        self._history, self._column = history, column

    def __len__(self) -> int:
        return len(self._history)

    def __getitem__(self, user):
        if isinstance(user, slice):
            return [self._history._row(u, self._column) for u in range(*user.indices(len(self)))]
        return self._history._row(self._index(user), self._column)

    def _index(self, user) -> int:
        u = int(user)
        if u < 0 or u >= len(self._history):
            n = len(self._history)
            if not -n <= u < 0:
                raise IndexError(f"user {u} out of range for {n} users")
            u += n
        return u

    def __setitem__(self, user, values) -> None:
        """Rewrite one user's row (a what-if replay); assign items[u] and ratings[u] the same length."""
        self._history._set_row(self._index(user), self._column, values)

    def __iter__(self):
        return (self._history._row(u, self._column) for u in range(len(self)))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(mine == list(theirs) for mine, theirs in zip(self, other))

    __hash__ = None  # mutable, compared by content


class History:
    """Per-user item and rating sequences in time order (oldest first)."""

    def __init__(self, n_users: int):
        self._start = np.zeros(n_users, dtype=np.int64)
        self._len = np.zeros(n_users, dtype=np.int64)
        self._cap = np.zeros(n_users, dtype=np.int64)
        self._items = np.empty(0, dtype=np.int32)
        self._ratings = np.empty(0, dtype=np.float64)
        self._used = 0  # arena cells handed out to rows (live or garbage)
        self._garbage = 0  # cells of slices that rows have moved away from

    @classmethod
    def from_interactions(cls, interactions: Interactions, n_users: int) -> History:
        """Each user's interactions ordered by time, laid out as one block with a little slack per row."""
        order = user_time_order(interactions.users, interactions.times)
        counts = np.bincount(interactions.users, minlength=n_users).astype(np.int64)
        return cls.from_rows(counts, interactions.items[order], interactions.ratings[order],
                             owners=interactions.users[order])

    @classmethod
    def from_rows(cls, counts: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                  slack: int = INITIAL_SLACK, owners: np.ndarray | None = None) -> History:
        """From rows laid end to end: the first counts[0] entries are user 0's, and so on
        (`owners`, each entry's user, saves working that out when the caller has it)."""
        counts = np.asarray(counts, dtype=np.int64)
        history = cls(len(counts))
        history._cap = counts + slack
        history._start = np.cumsum(history._cap) - history._cap
        history._len = counts.copy()
        history._used = int(history._cap.sum())
        history._items = np.full(history._used, -1, dtype=np.int32)
        history._ratings = np.full(history._used, np.nan, dtype=np.float64)
        if owners is None:
            owners = np.repeat(np.arange(len(counts)), counts)
        dst = np.arange(len(owners)) + slack * owners  # entry e of the rows, moved past the slack before it
        history._items[dst], history._ratings[dst] = items, ratings
        return history

    @property
    def items(self) -> Rows:
        return Rows(self, "items")

    @items.setter
    def items(self, rows) -> None:
        self._set_column("items", rows)

    @property
    def ratings(self) -> Rows:
        return Rows(self, "ratings")

    @ratings.setter
    def ratings(self, rows) -> None:
        self._set_column("ratings", rows)

    def __len__(self) -> int:
        return len(self._len)

    def copy(self) -> History:
        """An independent copy (rows can then be rewritten without touching this one)."""
        other = object.__new__(type(self))
        other.__setstate__(self.__getstate__())
        for name in ("_start", "_len", "_cap", "_items", "_ratings"):
            setattr(other, name, getattr(other, name).copy())
        return other

    # --- writes ---------------------------------------------------------------------------------

    def add(self, users, items, ratings) -> None:
        """Append (users[k], items[k], ratings[k]) in order; a user may appear several times."""
        if len(users) <= SMALL_ADD:
            # a watch at a time: scalar reads and writes are ~10x cheaper than array calls
            lengths, capacities = self._len, self._cap
            for u, i, r in zip(_listed(users), _listed(items), _listed(ratings)):
                n = lengths.item(u)
                if n == capacities.item(u):
                    self._move(np.array([u]), np.array([max(2 * n, n + 1, INITIAL_SLACK)]))
                pos = self._start.item(u) + n
                self._items[pos] = i
                self._ratings[pos] = r
                lengths[u] = n + 1
            return
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.asarray(items).reshape(-1)
        ratings = np.asarray(ratings, dtype=np.float64).reshape(-1)
        order = np.argsort(users, kind="stable")
        sorted_users = users[order]
        first = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        touched, counts = sorted_users[first], np.diff(np.r_[first, len(users)])
        need = self._len[touched] + counts
        full = need > self._cap[touched]
        if full.any():
            self._move(touched[full], np.maximum(need[full], 2 * self._cap[touched[full]]))
        rank = np.arange(len(users)) - np.repeat(first, counts)
        pos = self._start[sorted_users] + self._len[sorted_users] + rank
        self._items[pos], self._ratings[pos] = items[order], ratings[order]
        self._len[touched] = need

    def _set_row(self, user: int, column: str, values) -> None:
        values = np.asarray(values, dtype=np.float64 if column == "ratings" else np.int64).reshape(-1)
        if len(values) > self._cap[user]:
            self._move(np.array([user]), np.array([max(len(values), INITIAL_SLACK)]))
        start = int(self._start[user])
        (self._items if column == "items" else self._ratings)[start:start + len(values)] = values
        self._len[user] = len(values)

    def _set_column(self, column: str, rows) -> None:
        """Replace one column of every row (`history.items = rows`); the other column is kept
        where the row lengths stay as they were, else it is blank until it is assigned too."""
        rows = [np.asarray(row, dtype=np.float64 if column == "ratings" else np.int64).reshape(-1) for row in rows]
        counts = np.array([len(row) for row in rows], dtype=np.int64)
        flat = np.concatenate(rows) if rows else np.empty(0)
        if np.array_equal(counts, self._len):
            _, items, ratings = self.since(np.arange(len(self)), np.zeros(len(self), dtype=np.int64))
        else:
            items, ratings = np.full(len(flat), -1), np.full(len(flat), np.nan)
        fresh = History.from_rows(counts, flat if column == "items" else items, flat if column == "ratings" else ratings)
        self.__dict__.update(fresh.__dict__)

    def _move(self, users: np.ndarray, capacities: np.ndarray) -> None:
        """Give `users` new slices of `capacities` cells at the end of the arena, keeping their rows."""
        if self._garbage + self._cap[users].sum() > self._used // 2 and self._used > 1024:
            self._cap[users] = capacities  # packing lays every row out afresh: give these their room there
            self._pack()
            return
        total = int(capacities.sum())
        self._reserve(self._used + total)
        new_start = self._used + np.cumsum(capacities) - capacities
        r, k = spans(self._len[users])
        src, dst = self._start[users][r] + k, new_start[r] + k
        self._items[dst], self._ratings[dst] = self._items[src], self._ratings[src]
        self._garbage += int(self._cap[users].sum())
        self._start[users], self._cap[users] = new_start, capacities
        self._used += total

    def _reserve(self, cells: int) -> None:
        if cells > len(self._items):
            size = max(cells, len(self._items) + len(self._items) // 2)
            self._items = np.concatenate([self._items, np.full(size - len(self._items), -1, dtype=np.int32)])
            self._ratings = np.concatenate([self._ratings, np.full(size - len(self._ratings), np.nan)])

    def _pack(self) -> None:
        """Lay the rows out afresh, back to back in user order, each with its capacity; no garbage."""
        new_start = np.cumsum(self._cap) - self._cap
        used = int(self._cap.sum())
        items = np.full(used + used // 4, -1, dtype=np.int32)
        ratings = np.full(len(items), np.nan)
        r, k = spans(self._len)
        src, dst = self._start[r] + k, new_start[r] + k
        items[dst], ratings[dst] = self._items[src], self._ratings[src]
        self._items, self._ratings, self._start = items, ratings, new_start
        self._used, self._garbage = used, 0

    # --- reads ----------------------------------------------------------------------------------

    def _row(self, user: int, column: str) -> list:
        start = self._start.item(user)
        return (self._items if column == "items" else self._ratings)[start:start + self._len.item(user)].tolist()

    def lengths(self, user_ids) -> np.ndarray:
        return self._len[np.asarray(user_ids, dtype=np.int64)]

    def _window(self, user_ids, starts, ends) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arena positions of entries starts[k]..ends[k]-1 of each user's row, in user order."""
        u = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        counts = np.maximum(np.asarray(ends, dtype=np.int64).reshape(-1) - starts, 0)
        r, k = spans(counts)
        return counts, r, (self._start[u] + starts)[r] + k

    def signatures(self, user_ids, lengths) -> np.ndarray:
        """An int64 per user standing for the first lengths[k] entries of its row (caches compare them).

        Feedback caches keep per-user state with the length and signature it was computed from:
        the same length and signature mean the same row, a longer row whose signature at the old
        length still matches has only grown. Here it is a hash of the last SIGNATURE_TAIL (item,
        rating) entries before the position, which tells a row that grew from one that was
        rewound and regrown (the simulation only appends; a what-if replay rewrites rows);
        vectorised over users. Subclasses that know how their rows change may answer exactly
        (the RL engine's EpisodeHistory does).
        """
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        take = np.minimum(lengths, SIGNATURE_TAIL)
        counts, r, pos = self._window(user_ids, lengths - take, lengths)
        k = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
        entry = _mix(self._items[pos].astype(np.int64).view(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
                     ^ self._ratings[pos].view(np.uint64))
        total = np.zeros(len(entry) + 1, dtype=np.uint64)
        total[1:] = np.cumsum(entry * _POSITION_WEIGHTS[k])
        ends = np.cumsum(counts)
        per_row = total[ends] - total[ends - counts]  # sums modulo 2**64 per row
        return _mix(per_row ^ (counts.astype(np.uint64) * np.uint64(0x2545F4914F6CDD1D))).view(np.int64)

    def since(self, user_ids, starts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries of each user's row from position starts[k] on, concatenated in user order.

        Returns (counts, items, ratings): counts[k] entries belong to user_ids[k].
        """
        u = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        counts, _, pos = self._window(u, starts, self._len[u])
        return counts, self._items[pos].astype(np.int64), self._ratings[pos]

    def padded(self, user_ids, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(items, ratings), each (n, L), most recent last; padding is item -1 and rating NaN."""
        u = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        lengths = self._len[u]
        width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
        items = np.full((len(u), width), -1, dtype=np.int64)
        ratings = np.full((len(u), width), np.nan, dtype=np.float32)
        if width == 0 or len(u) == 0:
            return items, ratings
        take = np.minimum(lengths, width)
        _, r, pos = self._window(u, lengths - take, lengths)
        cols = np.arange(len(r)) - np.repeat(np.cumsum(take) - take, take) + (width - take)[r]
        items[r, cols], ratings[r, cols] = self._items[pos], self._ratings[pos]
        return items, ratings

    def seen_matrix(self, user_ids, n_items: int) -> sparse.csr_matrix:
        """Boolean (n, n_items) matrix of the items each of `user_ids` has rated."""
        u = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        counts, indices, _ = self.since(u, np.zeros(len(u), dtype=np.int64))
        indptr = np.r_[0, np.cumsum(counts)]
        m = sparse.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr), shape=(len(u), n_items))
        m.sum_duplicates()
        return m

    def to_interactions(self) -> Interactions:
        every = np.arange(len(self))
        counts, items, ratings = self.since(every, np.zeros(len(every), dtype=np.int64))
        users, order = spans(counts)
        return Interactions(users, items, ratings.astype(np.float32), order)

    # --- pickling (checkpoints) ---------------------------------------------------------------

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if "_items" in state:  # the arena's unused tail is not worth saving
            state["_items"], state["_ratings"] = self._items[:self._used], self._ratings[:self._used]
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("items"), list):  # a checkpoint from when rows were Python lists
            rows_i, rows_r = state.pop("items"), state.pop("ratings")
            counts = np.array([len(x) for x in rows_i], dtype=np.int64)
            flat_i = np.fromiter((i for x in rows_i for i in x), dtype=np.int64, count=int(counts.sum()))
            flat_r = np.fromiter((r for x in rows_r for r in x), dtype=np.float64, count=int(counts.sum()))
            state = {**History.from_rows(counts, flat_i, flat_r).__dict__, **state}
        self.__dict__.update(state)
