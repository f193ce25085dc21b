"""The synthetic dataset: seeded, distinct items per user, drawn from the stated weights."""

from __future__ import annotations

import numpy as np

from recagent.data import make_synthetic
from recagent.data.synthetic import alias_table, draw_distinct


def test_same_seed_same_dataset_other_seed_other_one():
    a, b, c = make_synthetic(300, 400, 20, seed=4), make_synthetic(300, 400, 20, seed=4), make_synthetic(300, 400, 20, seed=5)
    for name in ("users", "items", "ratings", "times"):
        assert np.array_equal(getattr(a.interactions, name), getattr(b.interactions, name))
    assert a.users.names == b.users.names and a.users.roles == b.users.roles and a.catalog.titles == b.catalog.titles
    assert not np.array_equal(a.interactions.items, c.interactions.items)


def test_histories_are_distinct_items_of_the_drawn_lengths():
    for n_items in (400, 12):  # 12: most users need nearly the whole catalog (the race finishes them)
        data = make_synthetic(200, n_items, 20, seed=1)
        s = data.interactions
        counts = np.bincount(s.users, minlength=200)
        pairs = np.unique(s.users * n_items + s.items)
        assert len(pairs) == len(s) and counts.min() >= 3 and counts.max() <= n_items
        assert set(np.unique(s.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 15 <= np.bincount(make_synthetic(500, 400, 20).interactions.users).mean() <= 25


def test_liked_genres_are_rated_higher():
    data = make_synthetic(400, 300, 30, seed=2)
    s, tastes = data.interactions, data.meta["tastes"]
    share = data.catalog.genres / data.catalog.genres.sum(1, keepdims=True)
    affinity = np.einsum("eg,eg->e", tastes[s.users], share[s.items])
    top = affinity > np.quantile(affinity, 0.8)
    bottom = affinity < np.quantile(affinity, 0.2)
    assert s.ratings[top].mean() > s.ratings[bottom].mean() + 0.8


def test_alias_table_gives_back_the_weights():
    weights = np.random.default_rng(0).pareto(1.5, 300) + 0.1
    accept, alias = alias_table(weights)
    p = accept / 300 + np.bincount(alias, weights=(1 - accept) / 300, minlength=300)
    assert np.allclose(p, weights / weights.sum())


def test_draw_distinct_is_sampling_without_replacement():
    # two components over 4 items; row 0 mixes them 30/70, row 1 uses the first only
    components = np.array([[4.0, 3.0, 2.0, 1.0], [0.0, 0.0, 1.0, 9.0]])
    tables = [alias_table(w) for w in components]
    accept, alias = np.stack([t[0] for t in tables]), np.stack([t[1] for t in tables])
    mixing_cdf = np.array([[0.3, 1.0], [1.0, 1.0]])
    target = np.array([0.3 * components[0] / 10 + 0.7 * components[1] / 10, components[0] / 10])
    rows, items = draw_distinct(np.repeat(mixing_cdf, 20000, 0), accept, alias, np.full(40000, 2),
                                np.random.default_rng(0))
    assert len(rows) == 80000 and (np.diff(rows) >= 0).all()
    first, second = items[0::2], items[1::2]
    assert (first != second).all()
    for r, p in enumerate(target):
        mine = slice(r * 20000, (r + 1) * 20000)
        assert np.abs(np.bincount(first[mine], minlength=4) / 20000 - p).max() < 0.015
        # the second pick: P(j second) = sum_i p_i p_j / (1 - p_i)
        want = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
        assert np.abs(np.bincount(second[mine], minlength=4) / 20000 - want).max() < 0.015
