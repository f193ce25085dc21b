"""f_mat, f_sim, f_sta, MF and the per-user cache on small hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from recagent.data import History, make_synthetic
from recagent.feedback.matching import KeywordMatching
from recagent.feedback.mf import MatrixFactorization
from recagent.feedback.sasrec import SASRec
from recagent.feedback.similarity import KeywordSimilarity, pooled_embeddings
from recagent.feedback.state import UserStateCache, coin
from recagent.keywords import ItemKeywords

# items: 0..4 in category A (0) or B (1)
#   0 A pos {space, robot, hero}   neg {gore}
#   1 A pos {space, robot}         neg {gore, slow}
#   2 B pos {love, paris}          neg {slow}
#   3 A pos {space, hero}          neg {gore}       <- the candidate in most cases
#   4 B pos {love}                 neg {tears}
KW = ItemKeywords(
    categories=["A", "A", "B", "A", "B"],
    pos=[["space", "robot", "hero"], ["space", "robot"], ["love", "paris"], ["space", "hero"], ["love"]],
    neg=[["gore"], ["gore", "slow"], ["slow"], ["gore"], ["tears"]],
    route="test",
)


def matching() -> KeywordMatching:
    vocab = KW.vocabulary()
    pos, neg = KW.matrices(vocab)
    return KeywordMatching(pos, neg, KW.category_index(), vocab)


def test_f_mat_counts_pros_of_liked_and_cons_of_disliked_same_category():
    m = matching()
    # liked item 0 (A), disliked item 1 (A): candidate 3 (A) -> pros {space, hero} match item 0's,
    # cons {gore} matches item 1's
    a_pos, a_neg = m.user_rows(np.array([0, 1]), np.array([5.0, 1.0]))
    assert a_pos[3] == 2 and a_neg[3] == 1
    explained = m.matched(np.array([0, 1]), np.array([5.0, 1.0]), 3)
    assert explained["matched_pros"] == ["hero", "space"] and explained["matched_cons"] == ["gore"]
    assert explained["scope"] == "same category"


def test_f_mat_scope_is_same_category_when_any_else_all():
    m = matching()
    # history: liked 2 (B) and liked 0 (A). Candidate 4 (B): scope = {2}; 'love' matches -> 1
    a_pos, _ = m.user_rows(np.array([2, 0]), np.array([4.0, 4.0]))
    assert a_pos[4] == 1
    # candidate 3 (A) sees only item 0 -> {space, hero}
    assert a_pos[3] == 2
    # history only in B: candidate 3 (A) falls back to all history (item 2): no overlap
    a_pos, _ = m.user_rows(np.array([2]), np.array([4.0]))
    assert a_pos[3] == 0 and m.matched(np.array([2]), np.array([4.0]), 3)["scope"] == "all history"
    # history in A but only disliked: same-category scope has no liked item -> alpha_pos 0
    a_pos, a_neg = m.user_rows(np.array([1, 2]), np.array([2.0, 5.0]))
    assert a_pos[3] == 0 and a_neg[3] == 1


def test_f_mat_cold_start_is_all_zero():
    a_pos, a_neg = matching().user_rows(np.array([], dtype=np.int64), np.array([]))
    assert not a_pos.any() and not a_neg.any()


def test_f_mat_block_rows_equal_single_user_rows():
    m = matching()
    hists = [np.array([0, 1]), np.array([], dtype=np.int64), np.array([2, 4, 3])]
    rates = [np.array([5.0, 1.0]), np.array([]), np.array([1.0, 4.0, 2.0])]
    block_pos, block_neg = m.rows(hists, rates, block=2)
    for k, (h, r) in enumerate(zip(hists, rates)):
        p, n = m.user_rows(h, r)
        assert np.array_equal(block_pos[k], p) and np.array_equal(block_neg[k], n)


def test_coin_is_seeded_order_independent_and_fair():
    u, i = np.arange(4000) % 37, np.arange(4000)
    a = coin(7, u, i, 1)
    assert np.array_equal(a, coin(7, u, i, 1))
    perm = np.random.default_rng(0).permutation(4000)
    assert np.array_equal(coin(7, u[perm], i[perm], 1), a[perm])  # batching / order does not matter
    assert not np.array_equal(a, coin(8, u, i, 1))
    assert 0.45 < a.mean() < 0.55


def similarity() -> KeywordSimilarity:
    # orthogonal keyword vectors, so pooled cosines are easy to compute by hand
    vocab = KW.vocabulary()
    vectors = np.eye(len(vocab), 384, dtype=np.float32)
    pos, neg = KW.matrices(vocab)
    return KeywordSimilarity(pooled_embeddings(pos, vectors), pooled_embeddings(neg, vectors), KW.category_index())


def test_f_sim_max_cosine_of_pooled_keywords():
    s = similarity()
    # e_pos(3) = (space+hero)/sqrt2 ; e_pos(0) = (space+robot+hero)/sqrt3 -> cos = 2/sqrt6
    # e_pos(1) = (space+robot)/sqrt2 -> cos = 1/2 ; max over liked {0, 1} = 2/sqrt6
    b_pos, b_neg = s.user_rows(np.array([0, 1]), np.array([4.0, 5.0]))
    assert b_pos[3] == pytest.approx(2 / np.sqrt(6), abs=1e-6)
    assert b_neg[3] == 0.0  # no disliked history
    # disliked item 1: e_neg(1) = (gore+slow)/sqrt2, e_neg(3) = gore -> cos = 1/sqrt2
    b_pos, b_neg = s.user_rows(np.array([0, 1]), np.array([4.0, 1.0]))
    assert b_pos[3] == pytest.approx(2 / np.sqrt(6), abs=1e-6)
    assert b_neg[3] == pytest.approx(1 / np.sqrt(2), abs=1e-6)


def test_f_sim_scope_and_cold_start():
    s = similarity()
    # candidate 4 (B) with history liked 0 (A) and liked 2 (B): scope is {2}: cos(love, (love+paris)/sqrt2)
    b_pos, _ = s.user_rows(np.array([0, 2]), np.array([5.0, 5.0]))
    assert b_pos[4] == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    # only B history liked: candidate 3 (A) falls back to all history -> item 2 -> cos 0
    b_pos, _ = s.user_rows(np.array([2]), np.array([5.0]))
    assert b_pos[3] == 0.0
    b_pos, b_neg = s.user_rows(np.array([], dtype=np.int64), np.array([]))
    assert not b_pos.any() and not b_neg.any()


def test_sasrec_learns_likes_and_outputs_calibrated_probabilities():
    # users like even items and dislike odd ones; SASRec should separate them
    rng = np.random.default_rng(0)
    users, items, ratings, times = [], [], [], []
    for u in range(60):
        seq = rng.choice(20, size=12, replace=False)
        users += [u] * 12
        items += seq.tolist()
        ratings += [5.0 if i % 2 == 0 else 1.0 for i in seq]
        times += list(range(12))
    model = SASRec(20, max_len=16, epochs=15, patience=15, seed=0, lr=0.01)
    model.fit(np.array(users), np.array(items), np.array(ratings), np.array(times))
    hist = np.array([[-1, -1, 2, 3]])
    rates = np.array([[np.nan, np.nan, 5.0, 1.0]])
    h = model.user_hidden(np.repeat(hist, 20, 0), np.repeat(rates, 20, 0))
    logits = model.hidden_logits(h, np.arange(20))
    p = 1 / (1 + np.exp(-logits))
    assert p[::2].mean() > 0.7 and p[1::2].mean() < 0.3  # sigmoid once: outputs on both sides of 0.5
    # cold start: the begin token alone still ranks by the population's view of the item
    cold = model.hidden_logits(model.user_hidden(np.full((20, 1), -1), np.full((20, 1), np.nan)), np.arange(20))
    assert np.isfinite(cold).all() and cold[::2].mean() > cold[1::2].mean()
    # state round trip
    again = SASRec.from_state(model.state())
    assert np.allclose(again.hidden_logits(again.user_hidden(hist, rates), np.array([4])),
                       model.hidden_logits(model.user_hidden(hist, rates), np.array([4])))


def test_mf_fold_in_and_cold_start():
    data = make_synthetic(40, 60, 15, seed=1)
    mf = MatrixFactorization(factors=4, iterations=5).fit(data.catalog, data.interactions)
    history = History.from_interactions(data.interactions, 41)  # user 40 has no history
    r = mf.predict_rating(np.array([40, 40]), np.array([3, 7]), history)
    k = mf.factors
    expected = np.clip(mf.mu + mf.item_side[[3, 7], k], 1, 5)
    assert np.allclose(r, expected)  # cold start: mu + b_i
    before = mf.predict_rating(np.array([0]), np.array([5]), history)[0]
    history.add([0, 0, 0], [5, 6, 8], [1.0, 1.0, 1.0])  # user 0 suddenly hates things
    after = mf.predict_rating(np.array([0]), np.array([5]), history)[0]
    assert after < before


def test_user_state_cache_recomputes_only_stale_users():
    calls = []

    def compute(users, history):
        calls.append(users.tolist())
        return {"n": np.array([len(history.items[u]) for u in users], dtype=np.float64)}

    cache = UserStateCache(compute)
    history = History(3)
    history.add([0, 1], [0, 1], [4.0, 4.0])
    slots = cache.slots(np.array([0, 1, 0]), history)
    assert cache.arrays["n"][slots].tolist() == [1, 1, 1] and calls == [[0, 1]]
    cache.slots(np.array([1, 0]), history)
    assert calls == [[0, 1]]  # nothing changed, nothing recomputed
    history.add([1], [2], [3.0])
    slots = cache.slots(np.array([0, 1]), history)
    assert calls[-1] == [1] and cache.arrays["n"][slots].tolist() == [1, 2]
    # rewound and regrown to the same length with other content (the RL environment does this)
    history.items[1], history.ratings[1] = [1, 0], [4.0, 1.0]
    cache.slots(np.array([1]), history)
    assert calls[-1] == [1]
    other = History(3)
    cache.slots(np.array([0]), other)  # another History object invalidates everything
    assert calls[-1] == [0]


def test_sasrec_last_hidden_equals_full_encoder():
    import torch

    from recagent.feedback.sasrec import SASRec, context_tokens

    model = SASRec(40, dim=16, max_len=12, epochs=1, seed=2)
    model.net.eval()
    rng = np.random.default_rng(0)
    hist_items = rng.integers(0, 40, (9, 20))
    hist_ratings = rng.integers(1, 6, (9, 20)).astype(float)
    hist_items[:3, :15] = -1  # short and empty histories (left padding)
    hist_ratings[:3, :15] = np.nan
    hist_items[3] = -1
    hist_ratings[3] = np.nan
    tokens, ratings = context_tokens(hist_items, hist_ratings, model.max_len, model.net.bos)
    with torch.no_grad():
        full = model.net.encode(torch.from_numpy(tokens), torch.from_numpy(ratings))[:, -1].numpy()
    assert np.allclose(model.user_hidden(hist_items, hist_ratings), full, atol=1e-5)
    # in batches of two, shortest first, each cut to its longest history: the same states
    assert np.allclose(model.user_hidden(hist_items, hist_ratings, batch=2), full, atol=1e-5)
