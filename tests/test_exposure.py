"""Exposure-calibrated feedback on a synthetic world with a known truth (recagent.data.self_selection):
people rate what they chose because they expected to like it; shown items at random, they like
them less. The shown question must recover the true like share of random exposures."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import History
from recagent.data.self_selection import make_self_selection_world
from recagent.eval.exposure import evaluate_model, make_model, reliability
from recagent.feedback import BiasFeedback, predict_both


@pytest.fixture(scope="module")
def world():
    return make_self_selection_world(n_users=400, n_items=300, chosen_per_user=30, random_per_user=20,
                                     selection=1.0, seed=0)


@pytest.fixture(scope="module")
def bias_report(world):
    return evaluate_model(make_model("bias", world.data, 0, None), world.data, None, folds=2, seed=0)


def test_world_self_selects(world):
    chosen_share = np.mean(world.data.dataset.interactions.ratings >= 3)
    random_share = np.mean(world.data.random.ratings >= 3)
    assert chosen_share > world.true_share + 0.15  # people chose what they liked
    assert abs(random_share - world.true_share) < 0.02  # the draws follow the truth


def test_correction_recovers_the_true_like_share(world, bias_report):
    """Without any random-exposure data: the chosen answer is off by > 0.1, the shown one within 0.03."""
    modes = bias_report["modes"]
    assert modes["chosen"]["mean_p_like"] - world.true_share > 0.1
    assert abs(modes["shown"]["mean_p_like"] - world.true_share) < 0.03
    assert modes["shown"]["ece"] < modes["chosen"]["ece"]
    assert modes["shown"]["auc"] > modes["chosen"]["auc"]  # who would not choose an item likes it less


def test_calibration_recovers_what_the_training_data_cannot_show(world):
    """Shown items are rated one star lower than the same items when chosen (a reaction the chosen
    ratings cannot reveal): the correction from defaults misses it, the cross-fitted calibration
    on half of the users' random ratings recovers the share of the other half within 0.02."""
    random = world.data.random
    harsher = replace(world.data, random=replace(random, ratings=np.clip(random.ratings - 1, 1, 5)))
    share = float(np.mean(harsher.random.ratings >= 3))
    report = evaluate_model(make_model("bias", harsher, 0, None), harsher, None, folds=2, seed=0)["modes"]
    assert report["shown"]["mean_p_like"] - share > 0.1
    assert abs(report["shown+calibration"]["mean_p_like"] - share) < 0.02
    assert report["shown+calibration"]["rmse"] < report["shown"]["rmse"]


def test_the_two_questions_are_explicit(world):
    data = world.data.dataset
    model = BiasFeedback().fit(data.catalog, data.interactions)
    history = History.from_interactions(data.interactions, len(data.users))
    users, items = world.data.random.users[:200], world.data.random.items[:200]
    chosen = predict_both(model, users, items, history, exposure="chosen")
    shown = predict_both(model, users, items, history, exposure="shown")
    assert np.array_equal(chosen[0], model.predict_proba(users, items, history))
    assert np.array_equal(shown[0], model.predict_shown(users, items, history)[0])
    assert shown[0].mean() < chosen[0].mean() and shown[1].mean() < chosen[1].mean()
    assert "shown" in model.explain(int(users[0]), int(items[0]), history)

    class ChosenOnly:  # a model that never learnt the second question fails loudly, not silently
        name = "chosen-only"

        def predict_proba(self, u, i, h):
            return np.full(len(u), 0.5)

        def predict_rating(self, u, i, h):
            return np.full(len(u), 3.0)

    with pytest.raises(TypeError, match="does not answer the 'shown' question"):
        predict_both(ChosenOnly(), users, items, history, exposure="shown")


def test_reliability_bins_and_ece():
    p = np.array([0.05, 0.05, 0.95, 0.95])
    ece, bins = reliability(p, np.array([False, False, True, True]))
    assert ece == pytest.approx(0.05) and [b["n"] for b in bins] == [2, 2]
    ece, _ = reliability(np.full(4, 0.5), np.array([True, False, False, False]))
    assert ece == pytest.approx(0.25)


def test_eval_exposure_command_writes_json_and_plot(tmp_path):
    small = make_self_selection_world(n_users=120, n_items=80, chosen_per_user=15, random_per_user=10, seed=2)
    chosen, random = small.data.dataset.interactions, small.data.random
    rows = ["user,item,rating,exposure"]
    rows += [f"{u},{i},{int(r)},chosen" for u, i, r in zip(chosen.users, chosen.items, chosen.ratings)]
    rows += [f"{u},{i},{int(r)},random" for u, i, r in zip(random.users, random.items, random.ratings)]
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out" / "report.json"
    result = CliRunner().invoke(app, ["eval", "exposure", "--dataset", "csv", "--path", str(path), "--models", "bias,mf",
                                      "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["random_share"] == pytest.approx(float(np.mean(random.ratings >= 3)))
    for name in ("bias", "mf"):
        for mode in ("chosen", "shown", "shown+calibration"):
            m = report["models"][name]["modes"][mode]
            assert 0 <= m["ece"] <= 1 and m["n"] == len(random) and m["rmse"] > 0
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "shown+calibration" in result.output.replace("…", "") or "shown+cal" in result.output
    # the dataset's self-selection strength, printed as the scenario line that uses it
    ratio = np.mean(random.ratings >= 3) / np.mean(chosen.ratings >= 3)
    assert report["self_selection"] == {"value": round(float(ratio), 3), "n": len(random),
                                        "from": "the dataset's random ratings"}
    assert f"self_selection: {round(float(ratio), 3)}" in result.output
    # a calibration file: its pairs are not scored
    calib = tmp_path / "calib.txt"
    calib.write_text("".join(f"{u}\t{i}\t{int(r)}\n" for u, i, r in zip(random.users[:300], random.items[:300],
                                                                          random.ratings[:300])))
    result = CliRunner().invoke(app, ["eval", "exposure", "--dataset", "csv", "--path", str(path), "--models", "bias",
                                      "--calibration", str(calib), "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["models"]["bias"]["modes"]["shown+calibration"]["n"] == len(random) - 300
    ratio = np.mean(random.ratings[:300] >= 3) / np.mean(chosen.ratings >= 3)
    assert report["self_selection"]["value"] == round(float(ratio), 3)  # from the calibration sample alone
    assert report["self_selection"]["from"] == "the --calibration sample"


def test_scenario_feedback_calibration_refits_the_shown_head(scenario_file, tmp_path):
    """`feedback.calibration` (a path relative to the scenario) refits the head the simulation asks."""
    from recagent.errors import UserError
    from recagent.scenario_loading import load_scenario
    from recagent.simulation import build_model, load_dataset

    probe = load_scenario(scenario_file({}))
    dataset = load_dataset(probe)
    rng = np.random.default_rng(0)
    users = rng.choice(dataset.users.raw_ids, 200)
    items = rng.choice(dataset.catalog.raw_ids, 200)
    (tmp_path / "random.txt").write_text("".join(f"{u}\t{i}\t1\n" for u, i in zip(users, items)))  # all disliked
    scenario = load_scenario(scenario_file({"feedback": {"model": "bias", "calibration": "random.txt"}}))
    assert scenario.feedback.calibration == tmp_path / "random.txt"
    model = build_model(scenario, dataset)
    assert model.feedback.shown.fitted_on == "ips+calibration" and model.feedback.shown.calibration_rows == 200
    history = History.from_interactions(dataset.interactions, len(dataset.users))
    plain = BiasFeedback().fit(dataset.catalog, dataset.interactions)
    u, i = np.arange(40), np.arange(40)
    assert model.feedback.predict_shown(u, i, history)[0].mean() < plain.predict_shown(u, i, history)[0].mean() - 0.2
    with pytest.raises(UserError, match="field 'feedback.calibration': .*missing.txt does not exist"):
        load_scenario(scenario_file({"feedback": {"model": "bias", "calibration": "missing.txt"}}))


def test_exposure_model_is_cached_by_observation_matrix(world, tmp_path, monkeypatch):
    """The exposure fit depends only on which cells are rated: a second fit loads it, same answers."""
    from recagent.data import Interactions
    from recagent.feedback.exposure import ExposureModel

    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path))
    chosen = world.data.dataset.interactions
    small = chosen.subset(chosen.users < 60)
    first = ExposureModel(grid=((4, 0.01),), steps=50).fit(small, 60, 300)
    assert len(list((tmp_path / "exposure").glob("*.npz"))) == 1
    other_ratings = Interactions(small.users, small.items, np.full(len(small), 1.0), small.times)
    again = ExposureModel(grid=((4, 0.01),), steps=50).fit(other_ratings, 60, 300)  # same cells, other ratings
    u, i = np.repeat(np.arange(60), 5), np.tile(np.arange(5), 60)
    assert np.array_equal(first.log_propensity(u, i), again.log_propensity(u, i))
    assert (first.factors, first.reg) == (again.factors, again.reg) == (4, 0.01)
    ExposureModel(grid=((4, 0.01),), steps=50).fit(small.subset(small.users < 59), 60, 300)  # other cells: a new fit
    assert len(list((tmp_path / "exposure").glob("*.npz"))) == 2
