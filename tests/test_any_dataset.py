"""The ensemble prepares and runs on ratings data of every shape: no item text, no genres, a single
rating value, one rating per user, no times, a ratings CSV alone (implicit or not), 1M+ ratings.
Each part either fits or is left out with one line saying why; the cache entry and
`describe_parts` say which parts voted; what it prepared answers every question and round-trips."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from recagent.data import Catalog, History, Interactions, load_ratings_csv, make_synthetic
from recagent.feedback.ensemble import EnsembleFeedback
from tests.feedback_helpers import fake_embed

FAST = dict(sasrec_epochs=2, mf_factors=4, top_k=4)


@pytest.fixture(autouse=True)
def fast_embeddings(monkeypatch):
    import recagent.embeddings

    monkeypatch.setattr(recagent.embeddings, "embed", fake_embed)


def bare(catalog: Catalog) -> Catalog:
    """The catalog without item text or genres."""
    n = len(catalog)
    return Catalog(catalog.raw_ids, [f"Item {r}" for r in catalog.raw_ids], [], np.zeros((n, 0), bool), [""] * n)


def shapes():
    data = make_synthetic(60, 120, 20, seed=3)
    c, x = data.catalog, data.interactions
    return {
        "no text, no genres": (bare(c), x),
        "a single rating value": (c, Interactions(x.users, x.items, np.full(len(x), 5.0), x.times)),
        "a single rating value, bare": (bare(c), Interactions(x.users, x.items, np.full(len(x), 1.0), x.times)),
        "one rating per user": (c, x.subset(np.unique(x.users, return_index=True)[1])),
        "no times": (c, Interactions(x.users, x.items, x.ratings, np.zeros(len(x)))),
    }


# what each shape leaves out (a part named in `left out`), and which voters remain
EXPECTED = {
    "no text, no genres": ({"f_mat", "f_sim"}, ["f_sta"]),
    "a single rating value": ({"f_mat, f_sim and f_sta", "P(like) stacker", "rating stacker"}, []),
    "a single rating value, bare": ({"f_mat, f_sim and f_sta", "P(like) stacker", "rating stacker"}, []),
    "one rating per user": ({"f_sta"}, ["f_mat", "f_sim"]),
    "no times": (set(), ["f_mat", "f_sim", "f_sta"]),
}


def answers(model, catalog, interactions):
    n_users = int(interactions.users.max()) + 1
    history = History.from_interactions(interactions, n_users)
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, n_users, 400), rng.integers(0, len(catalog), 400)
    p_shown, r_shown = model.predict_shown(u, i, history)
    out = {"p": model.predict_proba(u, i, history), "rating": model.predict_rating(u, i, history),
           "vote": model.vote(u, i, history).astype(float), "p_shown": p_shown, "r_shown": r_shown}
    for name, value in out.items():
        assert np.isfinite(value).all(), name
    assert ((out["p"] >= 0) & (out["p"] <= 1)).all() and ((out["rating"] >= 1) & (out["rating"] <= 5)).all()
    model.explain(int(u[0]), int(i[0]), history)
    return out


@pytest.mark.parametrize("shape", list(EXPECTED))
def test_each_shape_prepares_says_what_is_left_out_and_round_trips(shape, tmp_path, capsys):
    catalog, interactions = shapes()[shape]
    model = EnsembleFeedback(cache_dir=tmp_path, dataset_name="shape", **FAST).fit(catalog, interactions)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    left_out, voters = EXPECTED[shape]
    assert set(model.parts_.get("left out", {})) >= left_out
    assert list(model.voters) == voters
    for part in left_out:  # one line per part left out, naming it and why
        lines = [line for line in err.splitlines() if line.startswith(f"ensemble (shape): {part} left out: ")]
        assert len(lines) == 1, err
    assert f"voters: {', '.join(voters) or 'none'}" in model.describe_parts()
    got = answers(model, catalog, interactions)
    manifest = json.loads(next(tmp_path.glob("ensemble/*/manifest.json")).read_text())
    assert manifest["voters"] == voters and set(manifest["parts"].get("left out", {})) == set(model.parts_.get("left out", {}))
    again = EnsembleFeedback(cache_dir=tmp_path, dataset_name="shape", **FAST).fit(catalog, interactions)
    assert again.loaded_from is not None and list(again.voters) == voters
    for name, value in answers(again, catalog, interactions).items():
        assert np.array_equal(value, got[name]), name


def test_one_rating_value_votes_as_the_data_says(tmp_path):
    catalog, interactions = shapes()["a single rating value, bare"]
    model = EnsembleFeedback(dataset_name="shape", **FAST).fit(catalog, interactions)
    out = answers(model, catalog, interactions)
    assert (out["vote"] == 0).all() and out["p"].max() < 0.05 and np.allclose(out["rating"], 1.0)


def test_the_full_data_keeps_every_part():
    data = make_synthetic(60, 120, 20, seed=3)
    model = EnsembleFeedback(dataset_name="full", **FAST).fit(data.catalog, data.interactions)
    assert model.voters == ("f_mat", "f_sim", "f_sta") and "left out" not in model.parts_
    assert len(model.parts_["stacker features"]) == 13


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize("implicit", [False, True])
def test_a_ratings_csv_alone_prepares(tmp_path, implicit, capsys):
    """No items file (so no titles, text or genres) and no times; implicit: no rating column either."""
    data = make_synthetic(50, 80, 15, seed=1)
    x = data.interactions
    header = ["user", "item"] + ([] if implicit else ["rating"])
    rows = [[int(u), int(i)] + ([] if implicit else [float(r)]) for u, i, r in zip(x.users, x.items, x.ratings)]
    ds = load_ratings_csv(_write(tmp_path / "r.csv", header, rows), implicit=implicit)
    model = EnsembleFeedback(cache_dir=tmp_path / "cache", dataset_name="csv", **FAST).fit(ds.catalog, ds.interactions)
    answers(model, ds.catalog, ds.interactions)
    expected = {"f_mat, f_sim and f_sta"} if implicit else {"f_mat", "f_sim"}  # implicit: one rating value
    assert expected <= set(model.parts_["left out"])
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_million_ratings_without_item_content(tmp_path):
    """1M+ ratings, no item content: fitted on the bounded sample, every question answered."""
    rng = np.random.default_rng(7)
    n_users, n_items, n = 60_000, 3_000, 1_050_000
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.3, n) - 1, n_items - 1)
    quality = rng.normal(0, 0.7, n_items)
    ratings = np.clip(np.round(3.4 + quality[items] + rng.normal(0, 1, n)), 1, 5)
    interactions = Interactions(users, items, ratings, np.arange(n))
    catalog = bare(Catalog(np.arange(1, n_items + 1), [""] * n_items, [], np.zeros((n_items, 0), bool), [""] * n_items))
    model = EnsembleFeedback(cache_dir=tmp_path, dataset_name="big", sasrec_epochs=1).fit(catalog, interactions)
    assert model.fit_sample_["whole_data"] is False and model.voters == ("f_sta",)
    answers(model, catalog, interactions)
