"""Unknown keys, names and strategies suggest the closest known one (issue 28), in one line."""

from __future__ import annotations

import pytest

from recagent.errors import UserError
from recagent.params import did_you_mean
from recagent.scenario_loading import keys_at, load_scenario
from recagent.sweep.strategy import check_strategies, parse_strategy


def test_did_you_mean_prefers_the_same_word_in_another_case():
    assert did_you_mean("MF", ["mf", "mmr", "random"]) == "did you mean 'mf'?"
    assert did_you_mean("retrain_evry", ["name", "retrain_every", "params"]) == "did you mean 'retrain_every'?"
    assert did_you_mean("zzzz", ["name", "params"]) == ""
    assert did_you_mean("mf", ["mf"]) == ""  # a known word is not "meant" as itself


def test_keys_at_follows_nested_models_and_union_variants():
    assert "retrain_every" in keys_at(("recommender", "retrain_evry"))
    assert "probability" in keys_at(("simulation", "activation", "x"))
    assert keys_at(("interventions", 0, "rewire", "x")) == ["at_step", "dissimilar", "kind", "share"]
    assert "history_length" in keys_at(("dataset", "synthetic", "x"))


@pytest.mark.parametrize("overrides, message", [
    ({"recommender": {"name": "mf", "retrain_evry": 2}},
     "unknown key 'recommender.retrain_evry'; did you mean 'retrain_every'?"),
    ({"simulaton": {"steps": 3}}, "unknown key 'simulaton'; did you mean 'simulation'?"),
    ({"interventions": [{"kind": "rewire", "at_step": 1, "shar": 0.1}]},
     "unknown key 'interventions[0].shar'; did you mean 'share'?"),
    ({"recommender": {"name": "MF"}}, "field 'recommender.name': unknown recommender 'MF'; did you mean 'mf'? available:"),
    ({"recommender": {"name": "mf", "rerankers": [{"name": "MMR"}]}}, "unknown re-ranker 'MMR'; did you mean 'mmr'?"),
    ({"feedback": {"model": "Bias"}}, "unknown feedback model 'Bias'; did you mean 'bias'?"),
    ({"social": {"graph": "homophilly"}}, "found 'homophilly'; did you mean 'homophily'?"),
    ({"interventions": [{"kind": "rewir", "at_step": 1}]}, "unknown kind 'rewir'; did you mean 'rewire'?"),
])
def test_scenario_errors_suggest_the_closest_name(scenario_file, overrides, message):
    with pytest.raises(UserError) as err:
        load_scenario(scenario_file(overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_key_without_a_close_one_says_no_guess(scenario_file):
    with pytest.raises(UserError) as err:
        load_scenario(scenario_file({"zzzz": 1}))
    assert str(err.value).endswith("unknown key 'zzzz'")


def test_strategies_suggest_the_closest_recommender():
    with pytest.raises(UserError, match=r"--recommender 'MF': unknown recommender 'MF'; did you mean 'mf'\? available"):
        check_strategies([parse_strategy("MF")])
    with pytest.raises(UserError, match=r"unknown re-ranker 'MMR\(lambda=0.5\)'|unknown re-ranker 'MMR'; did you mean"):
        check_strategies([parse_strategy("mf+MMR(lambda=0.5)")])
