"""`recagent eval users`: the 1:m discrimination test, RMSE and divergences, on hand cases and real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.eval.fidelity import load_splits
from recagent.eval.users import activity_histogram, candidates, classification, evaluate_users, jsd

from .conftest import SHARED_DATA, needs_shared


def test_classification_by_hand():
    label = np.array([1, 1, 0, 0, 0, 0], bool)
    picked = np.array([1, 0, 1, 0, 0, 0], bool)
    c = classification(label, picked)
    assert c["accuracy"] == pytest.approx(4 / 6) and c["precision"] == 0.5 and c["recall"] == 0.5
    assert c["f1"] == pytest.approx(0.5) and c["picked_share"] == pytest.approx(2 / 6)
    assert np.isnan(classification(label, np.zeros(6, bool))["precision"])


def test_jsd_and_activity_bins():
    assert jsd([1, 0], [1, 0]) == pytest.approx(0.0)
    assert jsd([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: 1 bit
    assert 0 < jsd([1, 1], [3, 1]) < 1
    # bins 0 | 1 | 2-3 | 4-7
    assert activity_histogram(np.array([0, 1, 2, 3, 4, 7]), 7).tolist() == [1, 1, 2, 2]


def _csv(tmp_path, n_users=30, n_items=60, per_user=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = ["user,item,rating,timestamp"]
    for u in range(n_users):
        for t, i in enumerate(rng.choice(n_items, per_user, replace=False)):
            rows.append(f"{u},{i},{int(rng.integers(1, 6))},{t}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_candidates_mix_held_out_items_with_never_rated_ones(tmp_path):
    name, splits = load_splits("csv", _csv(tmp_path))
    split = splits[0]
    for m in (1, 3, 9):
        users, items, label = candidates(split, m, seed=0)
        assert label.sum() == len(split.test)
        rated = set(zip(split.train.users.tolist(), split.train.items.tolist())) | set(
            zip(split.test.users.tolist(), split.test.items.tolist()))
        negatives = list(zip(users[~label].tolist(), items[~label].tolist()))
        assert not rated & set(negatives) and len(set(negatives)) == len(negatives)
        per_user = np.bincount(users[~label], minlength=split.n_users)
        assert (per_user == m * np.bincount(split.test.users, minlength=split.n_users)).all()
    again = candidates(split, 3, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(candidates(split, 3, seed=0), again))


def test_report_on_a_ratings_csv(tmp_path):
    name, splits = load_splits("csv", _csv(tmp_path))
    report = evaluate_users(name, splits, ["bias", "mf"], seed=0)
    for model in ("bias", "mf"):
        for question in ("chosen", "shown"):
            r = report["mean"][model][question]
            assert 0 <= r["rmse"] < 4 and 0 <= r["rating_jsd"] <= 1
            for m in (1, 3, 9):
                c = r[f"1:{m}"]
                assert 0 <= c["accuracy"] <= 1 and 0 <= c["recall"] <= 1 and 0 <= c["auc"] <= 1
                assert 0 <= r[f"activity_jsd_1:{m}"] <= 1
    # 1:m accuracy of a model that picks a fixed share is bounded by the class balance: with more
    # negatives the same picks score lower precision
    c1, c9 = report["mean"]["bias"]["chosen"]["1:1"], report["mean"]["bias"]["chosen"]["1:9"]
    assert c9["precision"] < c1["precision"]


def test_cli_bad_model_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["eval", "users", "--dataset", "csv", "--path", str(_csv(tmp_path)),
                                      "--models", "oracle"])
    assert result.exit_code == 2 and "--models" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@needs_shared
def test_movielens_fold_1(tmp_path):
    out = tmp_path / "users.json"
    result = CliRunner().invoke(app, ["eval", "users", "--dataset", "ml100k", "--path", str(SHARED_DATA / "ml-100k"),
                                      "--models", "bias,mf", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["splits"][0]["n_test"] == 20000
    assert report["mean"]["mf"]["chosen"]["1:1"]["auc"] > 0.55  # better than chance at telling them apart
