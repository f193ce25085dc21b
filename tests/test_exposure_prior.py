"""`feedback.self_selection`: the like-ratio prior pins the shown answers where it is asked to."""

from __future__ import annotations

import numpy as np
import pytest

from recagent.data import History
from recagent.data.self_selection import make_self_selection_world
from recagent.errors import UserError
from recagent.feedback.bias import BiasFeedback
from recagent.feedback.self_selection_prior import RANGE, apply_self_selection


@pytest.fixture(scope="module")
def world():
    w = make_self_selection_world(seed=0)
    model = BiasFeedback().fit(w.data.dataset.catalog, w.data.dataset.interactions)
    return w, model


@pytest.mark.parametrize("ratio", RANGE)
def test_the_prior_reaches_its_ratio_on_cells_it_never_saw(world, ratio):
    w, model = world
    fitted = model.shown
    try:
        fit = apply_self_selection(model, ratio, w.data.dataset, seed=0)
        assert fit.reached == pytest.approx(ratio, abs=1e-3)
        # the world's own random exposures (not the sample the ratio was pinned on) follow within sampling error
        data = w.data
        history = History.from_interactions(data.dataset.interactions, len(data.dataset.users))
        p, rating = model.predict_shown(data.random.users, data.random.items, history)
        assert np.mean(p) / fit.chosen_share == pytest.approx(ratio, abs=0.03)
        assert fit.implied != pytest.approx(ratio, abs=0.01)  # it did move the model
        # chosen-like cells keep their answer far better than the merely shown ones
        chosen = data.dataset.interactions
        before = fitted.apply(chosen.users, chosen.items, model.predict_proba(chosen.users, chosen.items, history),
                              model.predict_rating(chosen.users, chosen.items, history))[0]
        after = model.predict_shown(chosen.users, chosen.items, history)[0]
        assert abs(np.mean(after) - np.mean(before)) < abs(np.mean(p) / fit.chosen_share - fit.implied) * fit.chosen_share
    finally:
        model.shown = fitted


def test_a_smaller_ratio_means_fewer_likes_of_shown_items_and_lower_ratings(world):
    w, model = world
    fitted = model.shown
    data = w.data
    history = History.from_interactions(data.dataset.interactions, len(data.dataset.users))
    answers = []
    for ratio in RANGE:
        apply_self_selection(model, ratio, data.dataset, seed=0)
        answers.append(model.predict_shown(data.random.users, data.random.items, history))
        model.shown = fitted
    assert answers[0][0].mean() < answers[1][0].mean() and answers[0][1].mean() < answers[1][1].mean()


def test_out_of_reach_or_without_a_correction_is_one_line(world):
    w, model = world
    fitted = model.shown
    with pytest.raises(UserError, match="feedback.self_selection"):
        apply_self_selection(model, 0.0, w.data.dataset, seed=0)
    model.shown = None
    try:
        with pytest.raises(UserError, match="no exposure correction"):
            apply_self_selection(model, 0.5, w.data.dataset, seed=0)
    finally:
        model.shown = fitted


def test_a_scenario_pins_its_shown_answers_and_null_leaves_the_model_as_fitted(scenario_file):
    from recagent.scenario_loading import load_scenario
    from recagent.simulation import build_model, load_dataset

    scenario = load_scenario(scenario_file({"feedback": {"model": "bias", "self_selection": 0.5}}))
    dataset = load_dataset(scenario)
    pinned = build_model(scenario, dataset).feedback
    assert pinned.shown.fitted_on.endswith("+self_selection")
    plain = build_model(load_scenario(scenario_file({"feedback": {"model": "bias"}})), dataset).feedback
    assert not plain.shown.fitted_on.endswith("+self_selection")
    with pytest.raises(UserError, match="feedback.self_selection"):
        load_scenario(scenario_file({"feedback": {"model": "bias", "self_selection": 2.0}}))
