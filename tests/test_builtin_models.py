"""The first feedback model (bias) and the built-in recommenders on hand-built data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from recagent.data import Catalog, History, Interactions
from recagent.feedback import BiasFeedback
from recagent.recommenders import PopularRecommender, RandomRecommender, top_k


def tiny_catalog(n=4):
    return Catalog(np.arange(1, n + 1), [f"I{i}" for i in range(n)], ["A"], np.ones((n, 1), bool), [""] * n)


def test_bias_orders_items_and_users():
    # item 0 loved by all, item 1 hated by all; user 2 rates everything one star higher than user 0
    inter = Interactions(users=[0, 1, 2, 0, 1, 2, 0, 2], items=[0, 0, 0, 1, 1, 1, 2, 2],
                         ratings=[5, 5, 5, 1, 2, 2, 3, 4], times=range(8))
    model = BiasFeedback(reg_user=1, reg_item=1).fit(tiny_catalog(), inter)
    hist = History.from_interactions(inter, 3)
    r = model.predict_rating(np.array([0, 0, 2]), np.array([0, 1, 1]), hist)
    assert r[0] > r[1] and r[2] > r[1]
    p = model.predict_proba(np.array([0, 0]), np.array([0, 1]), hist)
    assert p[0] > 0.5 > p[1]
    assert model.explain(0, 0, hist)["predicted_rating"] == pytest.approx(float(r[0]), abs=1e-3)


def test_bias_user_bias_follows_live_history():
    inter = Interactions(users=[0, 1], items=[0, 1], ratings=[4, 4], times=[0, 1])
    model = BiasFeedback().fit(tiny_catalog(), inter)
    hist = History.from_interactions(inter, 2)
    before = model.predict_rating(np.array([0]), np.array([2]), hist)[0]
    hist.add([0, 0, 0], [1, 2, 3], [1, 1, 1])  # the user turns harsh during the simulation
    assert model.predict_rating(np.array([0]), np.array([2]), hist)[0] < before - 0.3


def test_top_k_excludes_and_pads():
    scores = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    exclude = sparse.csr_matrix(np.array([[0, 1, 0], [1, 1, 1]], dtype=bool))
    out = top_k(scores, 4, exclude)
    np.testing.assert_array_equal(out, [[2, 0, -1, -1], [-1, -1, -1, -1]])


def test_popular_counts_simulated_feedback():
    rec = PopularRecommender()
    rec.fit(tiny_catalog(), Interactions([0, 1, 0], [0, 0, 1], [5, 4, 3], [0, 1, 2]))
    assert rec.recommend(np.array([0]), 2)[0].tolist() == [0, 1]
    rec.update(Interactions([1, 2, 3], [3, 3, 3], [4, 4, 4], [3, 4, 5]))
    assert rec.recommend(np.array([0]), 1)[0].tolist() == [3]


def test_random_is_seeded_and_respects_exclude():
    recs = []
    for _ in range(2):
        rec = RandomRecommender(np.random.default_rng(5))
        rec.fit(tiny_catalog(50), Interactions([], [], [], []))
        recs.append(rec.recommend(np.arange(3), 10, sparse.csr_matrix(np.eye(3, 50, dtype=bool))))
    np.testing.assert_array_equal(recs[0], recs[1])
    assert 0 not in recs[0][0] and 1 not in recs[0][1] and len(set(recs[0][0])) == 10
