"""The ensemble FeedbackModel on a small synthetic world: modes, explain, live history, cache
round trip (identical predictions), the registry entry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recagent.data import History, make_synthetic
from recagent.errors import UserError
from recagent.feedback import FeedbackContext, make_feedback
from recagent.feedback.ensemble import FEATURES, EnsembleFeedback
from recagent.keywords import extract_offline
from tests.feedback_helpers import fake_embed

FAST = dict(sasrec_epochs=2, mf_factors=4, top_k=4)


@pytest.fixture(scope="module")
def world():
    data = make_synthetic(60, 120, 20, seed=3)
    keywords, vectors = extract_offline(data.catalog, top_k=4, embed_fn=fake_embed)
    return data, keywords, vectors


@pytest.fixture(scope="module")
def fitted(world, tmp_path_factory):
    data, keywords, vectors = world
    cache = tmp_path_factory.mktemp("cache")
    model = EnsembleFeedback(cache_dir=cache, dataset_name="synthetic", keywords=keywords, keyword_vectors=vectors,
                             **FAST).fit(data.catalog, data.interactions)
    return model, cache


def pairs(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60, n), rng.integers(0, 120, n)


def test_soft_and_vote_outputs(world, fitted):
    data, _, _ = world
    model, _ = fitted
    history = History.from_interactions(data.interactions, 60)
    u, i = pairs()
    p = model.predict_proba(u, i, history)
    assert p.shape == (500,) and ((p > 0) & (p < 1)).all()
    r = model.predict_rating(u, i, history)
    assert ((r >= 1) & (r <= 5)).all()
    model.mode = "vote"
    try:
        v = model.predict_proba(u, i, history)
    finally:
        model.mode = "soft"
    s = model.scores(u, i, history)
    assert set(np.unique(v)) <= {0.0, 1.0}
    assert np.array_equal(v, s["vote"].astype(float))
    votes = np.stack([s["f_mat_vote"], s["f_sim_vote"], s["f_sta_vote"]], 1)
    assert np.array_equal(s["vote"], (votes.sum(1) >= 2).astype(np.int8))
    # batching does not change decisions: the same pairs in another order give the same numbers
    perm = np.random.default_rng(1).permutation(500)
    assert np.allclose(model.predict_proba(u[perm], i[perm], history), p[perm])


def test_explain_names_votes_and_keywords(world, fitted):
    data, _, _ = world
    model, _ = fitted
    history = History.from_interactions(data.interactions, 60)
    e = model.explain(0, 5, history)
    assert set(e["votes"]) == {"f_mat", "f_sim", "f_sta"}
    assert e["vote"] == int(sum(e["votes"].values()) >= 2)
    assert set(e["f_mat"]["matched_pros"]) <= set(e["pros"])
    assert 0 < e["p_like"] < 1 and 1 <= e["predicted_rating"] <= 5
    json.dumps(e)


def test_live_history_changes_predictions_and_cold_start(world, fitted):
    data, _, _ = world
    model, _ = fitted
    history = History.from_interactions(data.interactions, 61)  # user 60: no history at all
    cold = model.predict_proba(np.array([60, 60]), np.array([1, 2]), history)
    assert np.isfinite(cold).all()
    X = model.features(np.array([60]), np.array([1]), history)
    assert X[0, FEATURES.index("mat_pos")] == 0 and X[0, FEATURES.index("sim_pos")] == 0
    before = model.predict_proba(np.array([0]), np.array([7]), history)
    liked_genre_items = np.flatnonzero(data.catalog.genres[:, data.catalog.genres[7].argmax()])[:10]
    history.add(np.zeros(10, dtype=int), liked_genre_items, np.ones(10))  # user 0 now hates that genre
    after = model.predict_proba(np.array([0]), np.array([7]), history)
    assert after[0] < before[0]


def test_cache_round_trip_gives_identical_predictions(world, fitted):
    data, keywords, vectors = world
    model, cache = fitted
    folder = model.cache_folder(model.fingerprint_)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["route"] == "offline" and manifest["params"]["sasrec_epochs"] == 2
    assert {"numpy", "torch", "scikit-learn"} <= set(manifest["versions"]) and manifest["created"]
    again = EnsembleFeedback(cache_dir=cache, dataset_name="synthetic", keywords=keywords, keyword_vectors=vectors,
                             **FAST).fit(data.catalog, data.interactions)
    assert again.loaded_from == folder
    loaded = EnsembleFeedback.load(folder, data.catalog)
    history = History.from_interactions(data.interactions, 60)
    u, i = pairs(2000, seed=5)
    expected = model.predict_proba(u, i, history)
    for other in (again, loaded):
        assert np.array_equal(other.predict_proba(u, i, history), expected)
        assert np.array_equal(other.predict_rating(u, i, history), model.predict_rating(u, i, history))
        assert np.array_equal(other.scores(u, i, history)["vote"], model.scores(u, i, history)["vote"])
    # other data -> another fingerprint -> not reused
    fewer = data.interactions.subset(np.arange(len(data.interactions)) % 7 != 0)
    third = EnsembleFeedback(cache_dir=cache, dataset_name="synthetic", keywords=keywords, keyword_vectors=vectors,
                             **FAST).fit(data.catalog, fewer)
    assert third.loaded_from is None


def test_registry_and_bad_params(world, tmp_path):
    model = make_feedback("ensemble", FeedbackContext(seed=4, cache_dir=tmp_path, dataset_name="synthetic"),
                          mode="vote", sasrec_epochs=1)
    assert isinstance(model, EnsembleFeedback) and model.tie_seed == 4 and model.mode == "vote"
    with pytest.raises(UserError, match="unknown parameter"):
        EnsembleFeedback(bogus=1)
    with pytest.raises(UserError, match="mode"):
        EnsembleFeedback(mode="maybe")
    assert make_feedback("mf", FeedbackContext(seed=1, cache_dir=tmp_path, dataset_name="x")).name == "mf"


def reference_features(model, users, items, history):
    """The features recomputed from scratch with the base models' own batch code (no incremental state)."""
    c = model.components
    rows = []
    q, qb = c.sasrec.output_tables()
    for u, i in zip(users.tolist(), items.tolist()):
        it = np.asarray(history.items[u], dtype=np.int64)
        r = np.asarray(history.ratings[u], dtype=np.float64)
        resid = r - c.mu - c.b_item[it]
        b_u = resid.sum() / (len(it) + c.reg_user)
        g = model.genres[it]
        affinity = ((resid - b_u) @ g) / (g.sum(0) + 5.0)
        side = c.mf.fold_in([it], [r])
        a_pos, a_neg = model.f_mat.user_rows(it, r)
        s_pos, s_neg = model.f_sim.user_rows(it, r)
        pad_i, pad_r = history.padded([u], max_len=c.sasrec.max_len)
        h = c.sasrec.user_hidden(pad_i, pad_r)[0]
        rows.append([np.clip(c.mu + b_u + c.b_item[i], 1, 5), b_u, c.b_item[i],
                     np.clip(c.mf.rating_from_side(side, np.array([i]))[0], 1, 5), np.log1p(len(it)),
                     np.log1p(c.item_count[i]), r.std() if len(r) else 0.0, affinity @ model.genre_share[i],
                     h @ q[i] + qb[i], a_pos[i], a_neg[i], s_pos[i], s_neg[i]])
    return np.array(rows, dtype=np.float64)


def test_incremental_user_state_equals_recomputation(world, fitted):
    """Rows advanced item by item, in bursts, and after rewinds equal a from-scratch computation."""
    data, _, _ = world
    model, _ = fitted
    model._cache.clear()
    rng = np.random.default_rng(11)
    history = History.from_interactions(data.interactions, 61)  # user 60 starts cold
    users = np.arange(61)
    start = ([list(x) for x in history.items], [list(x) for x in history.ratings])

    def check():
        items = rng.integers(0, 120, len(users))
        got = model.features(users, items, history)
        want = reference_features(model, users, items, history)
        exact = [FEATURES.index(f) for f in ("mat_pos", "mat_neg", "sim_pos", "sim_neg", "log_user_count")]
        assert np.array_equal(got[:, exact], want[:, exact])
        assert np.allclose(got, want, rtol=1e-6, atol=1e-5)

    check()
    for burst in (1, 1, 3, 1, 7):  # every user gains `burst` random ratings (some users skip)
        gain = users[rng.random(len(users)) < 0.8]
        for _ in range(burst):
            history.add(gain, rng.integers(0, 120, len(gain)), rng.integers(1, 6, len(gain)).astype(float))
            model.vote(gain, rng.integers(0, 120, len(gain)), history)  # advances the state, defers the rating sums
        check()
    for _episode in range(3):  # RL-style: rewind half the users to their start, then regrow differently
        for u in users[::2].tolist():
            history.items[u], history.ratings[u] = list(start[0][u]), list(start[1][u])
        check()
        history.add(users, rng.integers(0, 120, len(users)), rng.integers(1, 6, len(users)).astype(float))
        check()
    assert model._cache.snapshots.used > 0  # rewound users were restored from their snapshot
    # f_sim's per-pair path against its whole-catalog rows, for every item of a few users
    for u in (0, 60):
        flat = history.since([u], [0])
        every = np.arange(120)
        pair = model.f_sim.pair_betas(every, np.zeros(120, dtype=np.int64), *flat)
        rows = model.f_sim.user_rows(np.asarray(history.items[u]), np.asarray(history.ratings[u]))
        assert np.array_equal(pair[0], rows[0]) and np.array_equal(pair[1], rows[1])
    # the few-candidates path cut into chunks of a few cells (one history longer than a chunk, a cold user)
    flat = history.since(users, np.zeros(len(users), dtype=np.int64))
    items = rng.integers(0, 120, len(users))
    whole = model.f_sim.pair_betas(items, users, *flat)
    for cells in (7, 50):
        chunked = model.f_sim.pair_betas(items, users, *flat, cells=cells)
        assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])


@pytest.mark.parametrize("mode", ["soft", "vote"])
def test_predict_both_equals_the_two_calls(world, fitted, mode):
    """The simulation's one-pass call gives what predict_proba and predict_rating give apart."""
    from recagent.feedback import predict_both

    data, _, _ = world
    model, _ = fitted
    model.mode = mode
    try:
        history = History.from_interactions(data.interactions, 61)
        rng = np.random.default_rng(5)
        users, items = rng.integers(0, 61, 300), rng.integers(0, 120, 300)
        proba, rating = predict_both(model, users, items, history, exposure="chosen")
        assert np.array_equal(proba, model.predict_proba(users, items, history))
        assert np.array_equal(rating, model.predict_rating(users, items, history))
        assert set(np.unique(proba)) <= {0.0, 1.0} if mode == "vote" else 0 < proba.min() < proba.max() < 1
        shown, shown_rating = predict_both(model, users, items, history, exposure="shown")
        assert np.array_equal((shown, shown_rating), model.predict_shown(users, items, history))
        if mode == "vote":  # a shown item is liked only where the chosen majority also liked it
            assert set(np.unique(shown)) <= {0.0, 1.0} and np.all(shown <= proba)
    finally:
        model.mode = "soft"


def test_cache_folders_appear_whole_or_not_at_all(tmp_path):
    from recagent.cache import publish_folder

    target = tmp_path / "entry"

    def write(content, fail=False):
        def fill(tmp):
            tmp.mkdir()
            (tmp / "weights.npz").write_text("w")
            if fail:
                raise RuntimeError("disk full")
            (tmp / "manifest.json").write_text(content)
        return fill

    with pytest.raises(RuntimeError):
        publish_folder(target, write("{}", fail=True), "manifest.json")
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temporary folder left
    target.mkdir()
    (target / "stale.npz").write_text("old")  # half-written by an older version: replaced
    publish_folder(target, write("{}"), "manifest.json")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "weights.npz"]
    publish_folder(target, write('{"second": true}'), "manifest.json")  # a finished entry is kept
    assert (target / "manifest.json").read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["entry"]
