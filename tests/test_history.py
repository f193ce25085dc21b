"""History as arrays: every read agrees with plain per-user Python lists under any mix of writes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recagent.data import History, Interactions
from recagent.data.history import SMALL_ADD


class ListHistory:
    """The reference: what History was, one Python list per user."""

    def __init__(self, n):
        self.items, self.ratings = [[] for _ in range(n)], [[] for _ in range(n)]

    def add(self, users, items, ratings):
        for u, i, r in zip(users, items, ratings):
            self.items[u].append(int(i))
            self.ratings[u].append(float(r))


def assert_same(history: History, reference: ListHistory, n_items: int) -> None:
    n = len(reference.items)
    users = np.arange(n)
    assert list(history.items) == reference.items and list(history.ratings) == reference.ratings
    assert history.lengths(users).tolist() == [len(x) for x in reference.items]
    starts = np.array([len(x) // 2 for x in reference.items])
    counts, items, ratings = history.since(users[::-1], starts[::-1])
    assert counts.tolist() == [len(x) - s for x, s in zip(reference.items[::-1], starts[::-1])]
    assert items.tolist() == [i for x, s in zip(reference.items[::-1], starts[::-1]) for i in x[s:]]
    assert ratings.tolist() == [r for x, s in zip(reference.ratings[::-1], starts[::-1]) for r in x[s:]]
    for width in (None, 3):
        pad_items, pad_ratings = history.padded(users, width)
        w = max(len(x) for x in reference.items) if width is None else width
        assert pad_items.shape == (n, w)
        for u in range(n):
            tail = reference.items[u][-w:] if w else []
            assert pad_items[u].tolist() == [-1] * (w - len(tail)) + tail
            assert np.array_equal(pad_ratings[u, w - len(tail):], np.float32(reference.ratings[u][-w:] if w else []))
            assert np.isnan(pad_ratings[u, :w - len(tail)]).all()
    seen = history.seen_matrix(users, n_items).toarray()
    assert [set(np.flatnonzero(row)) for row in seen] == [set(x) for x in reference.items]
    flat = history.to_interactions()
    assert flat.users.tolist() == [u for u in range(n) for _ in reference.items[u]]
    assert flat.items.tolist() == [i for x in reference.items for i in x]


batches = st.lists(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 29), st.sampled_from([1.0, 2.5, 4.0, 5.0])),
                            min_size=0, max_size=3 * SMALL_ADD), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_adds_of_any_size_read_back_like_lists(steps):
    history, reference = History(6), ListHistory(6)
    for batch in steps:  # small batches take the scalar path, larger ones the vectorised one
        users, items, ratings = (list(c) for c in zip(*batch)) if batch else ([], [], [])
        history.add(users, items, ratings)
        reference.add(users, items, ratings)
    assert_same(history, reference, 30)


def test_rows_move_and_the_arena_is_packed():
    rng = np.random.default_rng(0)
    data = Interactions(rng.integers(0, 500, 4000), rng.integers(0, 100, 4000), rng.integers(1, 6, 4000),
                        rng.integers(0, 10**6, 4000))
    history = History.from_interactions(data, 600)  # users 500..599 start empty
    reference = ListHistory(600)
    s = data.sorted_by_time()
    reference.add(s.users, s.items, s.ratings)
    for step in range(60):  # a hot set of users outgrows its slices again and again
        users = np.concatenate([rng.integers(0, 600, 200), np.full(5, step % 7)])
        items, ratings = rng.integers(0, 100, len(users)), rng.integers(1, 6, len(users)).astype(float)
        history.add(users, items, ratings)
        reference.add(users, items, ratings)
    assert_same(history, reference, 100)
    live = int(history.lengths(np.arange(600)).sum())
    assert history._garbage <= history._used // 2 + 64 and len(history._items) < 4 * live


def test_from_interactions_orders_by_time_ties_in_input_order():
    data = Interactions([1, 0, 1, 1, 0], [10, 11, 12, 13, 14], [1, 2, 3, 4, 5], [5, 9, 1, 5, 2])
    history = History.from_interactions(data, 3)
    assert history.items[0] == [14, 11] and history.items[1] == [12, 10, 13] and history.items[2] == []
    assert history.ratings[1] == [3.0, 1.0, 4.0]


def test_signatures_tell_growth_from_rewrites():
    history = History(3)
    history.add([0, 0, 1, 1], [5, 6, 5, 6], [4.0, 2.0, 4.0, 2.0])
    sig = history.signatures([0, 1, 2], [2, 2, 0])
    assert sig[0] == sig[1]  # same content, same signature
    history.add([0], [7], [3.0])
    assert history.signatures([0], [2])[0] == sig[0]  # grown: the old prefix still matches
    history.items[1], history.ratings[1] = [5, 6], [4.0, 1.0]  # rewritten to the same length
    assert history.signatures([1], [2])[0] != sig[1]
    assert history.items[1] == [5, 6] and history.ratings[1] == [4.0, 1.0]
    other = History(3)
    assert other.signatures([2], [0])[0] == sig[2]  # empty rows agree


def test_whole_columns_can_be_assigned_and_copies_are_independent():
    history = History(0)
    history.items = [[1, 2], [], [3]]
    history.ratings = [[4.0, 5.0], [], [1.0]]
    assert len(history) == 3 and history.lengths([0, 1, 2]).tolist() == [2, 0, 1]
    copy = history.copy()
    copy.items[0], copy.ratings[0] = [1, 2, 9], [4.0, 5.0, 2.0]
    assert history.items[0] == [1, 2] and copy.items[0] == [1, 2, 9]
    with pytest.raises(IndexError):
        history.items[3]


def test_pickles_compactly_and_reads_old_list_checkpoints():
    history = History.from_interactions(Interactions([0, 1, 1], [3, 4, 5], [5, 4, 3], [0, 1, 2]), 2)
    history.add(np.arange(2), [6, 7], [1.0, 2.0])
    back = pickle.loads(pickle.dumps(history))
    assert list(back.items) == list(history.items) and list(back.ratings) == list(history.ratings)
    back.add([0] * 20, range(20), [3.0] * 20)  # still growable after unpickling
    assert back.items[0] == [3, 6] + list(range(20))
    old = object.__new__(History)  # the state a checkpoint of the list-based History holds
    old.__setstate__({"items": [[3, 6], [4, 5, 7]], "ratings": [[5.0, 1.0], [4.0, 3.0, 2.0]]})
    assert list(old.items) == list(history.items) and old.lengths([0, 1]).tolist() == [2, 3]
