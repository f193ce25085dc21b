"""Preparation that scales: the fit sample, the exposure fold-in, the vectorised ridge solves, and an
ensemble fitted on a sample that still answers for every user."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recagent.data import History, make_synthetic
from recagent.feedback import predict_both
from recagent.feedback.ensemble import EnsembleFeedback
from recagent.feedback.exposure import ExposureModel
from recagent.feedback.exposure_fold_in import fold_in
from recagent.feedback.mf import ridge_groups
from recagent.feedback.sample import fit_sample, sample_users
from recagent.keywords import extract_offline
from tests.feedback_helpers import fake_embed

FAST = dict(sasrec_epochs=2, mf_factors=4, top_k=4)


@pytest.fixture(scope="module")
def world():
    data = make_synthetic(240, 120, 20, seed=5)
    keywords, vectors = extract_offline(data.catalog, top_k=4, embed_fn=fake_embed)
    return data, keywords, vectors


def test_sample_is_whole_users_within_both_bounds(world):
    data = world[0]
    inter = data.interactions
    counts = np.bincount(inter.users)
    assert sample_users(inter, 240, len(inter), seed=0) is None  # within bounds: the data itself
    sample, users = fit_sample(inter, 240, len(inter), seed=0)
    assert sample is inter and users is None
    for fit_users, max_inter in ((50, 10**9), (10**6, 1500), (30, 1500), (1, 1)):
        users = sample_users(inter, fit_users, max_inter, seed=3)
        assert 1 <= len(users) <= fit_users and np.all(np.diff(users) > 0)
        assert counts[users].sum() <= max_inter or len(users) == 1  # one user is a sample even when too long
        sample, again = fit_sample(inter, fit_users, max_inter, seed=3)
        assert np.array_equal(again, users) and np.array_equal(np.unique(sample.users), users)
        assert len(sample) == counts[users].sum()  # every rating of a sampled user, no other
    assert not np.array_equal(sample_users(inter, 50, 10**9, 1), sample_users(inter, 50, 10**9, 2))


def test_ridge_groups_equals_one_solve_per_group():
    rng = np.random.default_rng(0)
    design = rng.normal(size=(30, 5))
    counts = np.array([3, 0, 1, 7, 2, 3, 3, 1])
    rows = rng.integers(0, 30, counts.sum())
    target = rng.normal(size=counts.sum())
    reg = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    got = ridge_groups(counts, rows, design, target, reg, block=4)  # blocks split groups of a size
    start = 0
    for g, n in enumerate(counts):
        a, t = design[rows[start:start + n]], target[start:start + n]
        want = np.linalg.solve(a.T @ a + np.diag(reg), a.T @ t) if n else np.zeros(5)
        assert np.allclose(got[g], want, atol=1e-12)
        start += n


def test_fold_in_recovers_the_jointly_fitted_users(world, tmp_path, monkeypatch):
    """With the item side fixed, the fold-in finds the users' optimum: the joint fit's own users come back."""
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path))
    inter = make_synthetic(900, 400, 20, seed=2).interactions
    full = ExposureModel(grid=((8, 0.01),)).fit(inter, 900, 400)
    p = full.params
    a, P = fold_in(p["b"], p["c"], p["Q"], full.reg, inter.users, inter.items, 900)
    rng = np.random.default_rng(1)
    u, i = rng.integers(0, 900, 20000), rng.integers(0, 400, 20000)
    folded = ExposureModel.from_state({**full.state(), "a": a, "P": P})
    assert np.corrcoef(full.log_propensity(u, i), folded.log_propensity(u, i))[0, 1] > 0.999
    # fitted on a third of the users, every user folded in: close to the fit on all
    sample = sample_users(inter, 300, 10**9, seed=0)
    part = ExposureModel(grid=((8, 0.01),)).fit(inter, 900, 400, sample=sample)
    assert part.params["a"].shape == (900,) and part.params["P"].shape == (900, 8)
    assert np.corrcoef(full.log_propensity(u, i), part.log_propensity(u, i))[0, 1] > 0.9
    assert (tmp_path / "exposure").is_dir() and len(list((tmp_path / "exposure").iterdir())) == 2  # two keys


def test_ensemble_fitted_on_a_sample_answers_for_everyone(world, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path))
    data, keywords, vectors = world
    inter = data.interactions

    def fit(**bounds):
        return EnsembleFeedback(cache_dir=tmp_path, dataset_name="synthetic", keywords=keywords,
                                keyword_vectors=vectors, **FAST, **bounds).fit(data.catalog, inter)

    whole = fit()
    assert whole.fit_sample_ == {"users": 240, "interactions": len(inter), "whole_data": True}
    # bounds the data is within change nothing, not even the cache key (prepared models stay valid)
    assert fit(fit_users=10**6).loaded_from == whole.cache_folder(whole.fingerprint_)
    sampled = fit(fit_users=60)
    assert sampled.loaded_from is None and sampled.fingerprint_ != whole.fingerprint_
    assert sampled.fit_sample_["users"] == 60 and sampled.fit_sample_["interactions"] < len(inter) / 3
    manifest = json.loads((sampled.cache_folder(sampled.fingerprint_) / "manifest.json").read_text())
    assert manifest["fit_sample"]["users"] == 60 and manifest["params"]["fit_users"] == 60
    # fitted on the sample's inner 80% (kept: no refit on a sample)
    assert 0.75 < sampled.components.item_count.sum() / sampled.fit_sample_["interactions"] < 0.85
    assert sampled.shown.exposure.params["a"].shape == (240,)  # every user folded into the exposure model
    history = History.from_interactions(inter, 240)
    users = np.arange(240).repeat(5)
    items = np.random.default_rng(0).integers(0, 120, len(users))
    p, r = predict_both(sampled, users, items, history, exposure="shown")
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all() and ((r >= 1) & (r <= 5)).all()
    # users outside the sample are read from their own ratings: they get about what the model
    # fitted on everyone gives them
    outside = np.isin(users, sample_users(inter, 60, sampled.params.max_interactions, 0), invert=True)
    for exposure, least in (("chosen", 0.75), ("shown", 0.6)):  # measured: 0.83 / 0.84, 0.73 / 0.66
        mine = predict_both(sampled, users, items, history, exposure=exposure)
        theirs = predict_both(whole, users, items, history, exposure=exposure)
        for a, b in zip(mine, theirs):  # P(like), rating
            assert np.corrcoef(a[outside], b[outside])[0, 1] > least
    again = EnsembleFeedback.load(sampled.cache_folder(sampled.fingerprint_), data.catalog)
    assert np.array_equal(predict_both(again, users, items, history, exposure="shown")[0], p)


def test_mf_user_side_is_folded_from_the_flat_history(world):
    """The ensemble's MF feature: fold_in_flat over History.since equals the per-user fold-in."""
    from recagent.feedback.mf import MatrixFactorization

    data = world[0]
    mf = MatrixFactorization(factors=4, shown_correction=False).fit(data.catalog, data.interactions)
    history = History.from_interactions(data.interactions, 241)  # user 240 has no history
    users = np.array([3, 240, 7, 3])
    flat = mf.fold_in_flat(*history.since(users, np.zeros(len(users), dtype=np.int64)))
    each = mf.fold_in([np.asarray(history.items[u]) for u in users], [np.asarray(history.ratings[u]) for u in users])
    assert np.allclose(flat, each) and np.array_equal(flat[1], np.zeros(5))


def test_compiled_rating_stacker_equals_the_pipeline():
    """The spline stacker evaluated as cubic pieces gives the pipeline's numbers, also outside its range."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    from recagent.feedback.compiled_stacker import CompiledRating, compiled

    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 4)) * [1, 5, 0.1, 2] + [0, 3, 1, -2]
    y = np.sin(X[:, 0]) + 0.1 * X[:, 1] ** 2 + rng.normal(0, 0.1, 3000)
    pipe = make_pipeline(StandardScaler(), SplineTransformer(n_knots=5, degree=3), Ridge(alpha=1.0)).fit(X, y)
    fast = compiled(pipe)
    assert isinstance(fast, CompiledRating)
    wide = rng.normal(size=(5000, 4)) * [4, 20, 0.4, 8] + [0, 3, 1, -2]  # far beyond the fitted range too
    assert np.allclose(fast.predict(wide), pipe.predict(wide), rtol=0, atol=1e-10)
    other = make_pipeline(StandardScaler(), Ridge()).fit(X, y)
    assert compiled(other) is other  # anything else is left as it is


def test_per_user_state_never_grows_past_the_users():
    """Rows double as users arrive, but not beyond the population (a million users: gigabytes)."""
    from recagent.feedback.state import RowStore

    template = {"x": np.zeros((1, 3))}
    store = RowStore(template)
    store.allocate(60, template, limit=100)
    assert store.capacity == 64
    store.allocate(30, template, limit=100)  # a doubling would be 128
    assert store.capacity == 100 and store.used == 90
    store.allocate(10, template, limit=100)
    assert store.capacity == 100 and store.used == 100
    store.allocate(5, template)  # no limit: amortised doubling
    assert store.capacity == 200
