"""What the dry run accepts and reports: rating scales, implicit feedback, the memory estimate,
plug-in params, and that validate and run agree (issue 13 items 1-2; the refusals are the corpus
in test_hostile.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import load_ratings_csv
from recagent.errors import DataError, UserError
from recagent.params import check_params, params_model_for
from recagent.preflight import check_memory, dry_run, estimate_memory
from recagent.recommenders import RecommenderContext, make_pipeline
from recagent.scenario_loading import load_scenario

from .conftest import SMALL_SCENARIO, merge


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def ratings_csv(path, rows, header="user_id,item_id,rating,timestamp"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def grid(values):
    """Ratings of 6 users x 8 items cycling through `values`."""
    return [(u, i, values[(u * 8 + i) % len(values)], 1000 + u * 10 + i) for u in range(1, 7) for i in range(1, 9)]


def test_scale_inferred_reported_and_mapped_onto_1_to_5(tmp_path):
    ds = load_ratings_csv(ratings_csv(tmp_path / "r.csv", grid([1, 4, 7, 10])))
    assert ds.meta["rating_scale"] == [1.0, 10.0]
    assert "1-10 scale (inferred" in ds.meta["notes"][0]
    assert sorted(set(ds.interactions.ratings.tolist())) == pytest.approx([1.0, 1 + 4 * 3 / 9, 1 + 4 * 6 / 9, 5.0])


def test_half_stars_are_a_scale_not_an_error(tmp_path):
    ds = load_ratings_csv(ratings_csv(tmp_path / "r.csv", grid([0.5, 3, 4, 5] * 20 + [2])))
    assert ds.meta["rating_scale"] == [0.5, 5.0]
    assert ds.interactions.ratings.min() == pytest.approx(1.0)


def test_a_1_to_5_file_is_unchanged(tmp_path):
    ds = load_ratings_csv(ratings_csv(tmp_path / "r.csv", grid([1, 2, 3, 4, 5])))
    assert ds.meta["rating_scale"] == [1.0, 5.0]
    np.testing.assert_array_equal(ds.interactions.ratings[:5], [r[2] for r in grid([1, 2, 3, 4, 5])[:5]])


def test_declared_scale_wins_and_bounds(tmp_path):
    path = ratings_csv(tmp_path / "r.csv", grid([1, 2, 3]))
    ds = load_ratings_csv(path, scale=(0, 10))
    assert "0-10 scale (declared)" in ds.meta["notes"][0]
    assert ds.interactions.ratings.max() == pytest.approx(1 + 4 * 3 / 10)
    with pytest.raises(DataError, match=r"r\.csv:2: rating 1 is outside the declared scale 2-3"):
        load_ratings_csv(path, scale=(2, 3))


def test_outlier_named_with_its_line(tmp_path):
    rows = grid([1, 2, 3, 4, 5])
    rows[10] = (2, 3, 99, 5)
    with pytest.raises(DataError, match=r"r\.csv:12: rating 99 is outside the 1-5 scale"):
        load_ratings_csv(ratings_csv(tmp_path / "r.csv", rows))


def test_implicit_interactions_are_positive_never_1(tmp_path):
    path = ratings_csv(tmp_path / "clicks.csv", [(u, i) for u in range(1, 5) for i in range(1, 6)], "user,item")
    with pytest.raises(DataError, match="implicit: true"):
        load_ratings_csv(path)
    ds = load_ratings_csv(path, implicit=True)
    assert ds.meta["implicit"] and set(ds.interactions.ratings.tolist()) == {5.0}
    assert len(ds.interactions) == 20


def test_implicit_csv_scenario_validates_and_runs(tmp_path):
    ratings_csv(tmp_path / "clicks.csv", [(u, i) for u in range(1, 21) for i in range(1, 31) if (u * i) % 4 == 0],
                "user,item")
    path = tmp_path / "s.yaml"
    doc = merge(SMALL_SCENARIO, {"simulation": {"steps": 2}, "outputs": {"dir": "runs"}})
    (tmp_path / "items.csv").write_text("item_id,title,genres\n" + "".join(
        f"{i},Film {i},{'Drama' if i % 2 else 'Comedy|Action'}\n" for i in range(1, 31)))
    doc["dataset"] = {"kind": "csv", "ratings": "clicks.csv", "items": "items.csv", "implicit": True}
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "implicit feedback" in result.stdout and "memory: about" in result.stdout
    assert not (tmp_path / "runs").exists()  # validate creates nothing
    result = CliRunner().invoke(app, ["run", str(path), "--quiet", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["steps_completed"] == 2


def test_memory_estimate_grows_with_sizes_and_refuses_beyond_available(scenario_file, tmp_path):
    scenario = load_scenario(scenario_file())
    small = estimate_memory(scenario, 100, 300, 2000, available=16 * 2**30)
    big = estimate_memory(scenario, 100_000, 300_000, 2000, available=16 * 2**30)
    assert small.total < 2**30 < big.total
    # every user is an agent; pareto activation with probability 0.5 -> 1.5 x 0.5 = 75% active in a busy step
    assert big.parts["score rows"] == 75_000 * 300_000 * 8 * 4  # active agents x items, float64, 4 arrays
    check_memory(small, scenario_file(), scenario)
    scenario.agents.count = 100_000
    huge = estimate_memory(scenario, 100_000, 300_000, 2000, available=16 * 2**30)
    with pytest.raises(UserError, match=r"field 'agents.count': the run needs about .* GiB of memory"):
        check_memory(huge, scenario_file(), scenario)


def test_dry_run_builds_every_component_and_intervention(scenario_file):
    path = scenario_file({"recommender": {"name": "popular", "rerankers": [{"name": "mmr", "params": {"lambda": 0.7}}]},
                          "interventions": [{"at_step": 2, "kind": "switch_recommender", "name": "itemcf",
                                             "params": {"neighbours": 7}}]})
    result = dry_run(load_scenario(path), path)
    assert result.model is not None and result.model.recommender.lam == 0.7
    assert result.memory.total > 0 and result.memory.available > 0


def test_plugin_params_from_a_declared_model_or_the_signature(tmp_path):
    def make_deep(context, depth: int = 3, mode: str = "a"):
        return ("deep", depth, mode)

    model = params_model_for(make_deep, skip=1)
    assert check_params(model, {"depth": "5"}, "recommender.params") == {"depth": 5}
    with pytest.raises(UserError, match=r"field 'recommender.params.depht': unknown parameter; did you mean 'depth'"):
        check_params(model, {"depht": 5}, "recommender.params")
    with pytest.raises(UserError, match=r"field 'recommender.params.depth': .*valid integer.*'big'"):
        check_params(model, {"depth": "big"}, "recommender.params")

    def make_open(context, **params):
        return params

    assert check_params(params_model_for(make_open, skip=1), {"anything": 1}, "x") == {"anything": 1}


def test_make_pipeline_checks_params_by_field(tmp_path):
    context = RecommenderContext(np.random.default_rng(0), 0, tmp_path)
    with pytest.raises(UserError, match=r"field 'interventions\[3\].rerankers\[0\].params.lamda'.*'lambda'"):
        make_pipeline("popular", {}, [("mmr", {"lamda": 0.5})], context, field="interventions[3]")
    assert make_pipeline("popular", {}, [("mmr", {"lambda": 0.2})], context).lam == 0.2


@pytest.mark.parametrize(("args", "message"), [
    (["--seed", "-1"], "field 'seed' (or --seed)"),
    (["--steps", str(10**12)], "field 'simulation.steps'"),
])
def test_run_overrides_are_checked_like_the_file(scenario_file, tmp_path, args, message):
    path = scenario_file({"interventions": [{"at_step": 4, "kind": "rewire"}]})
    result = CliRunner().invoke(app, ["run", str(path), "--quiet", "--out", str(tmp_path / "run")] + args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_is_refused_before_anything(scenario_file, tmp_path):
    (tmp_path / "taken").write_text("mine")
    result = CliRunner().invoke(app, ["run", str(scenario_file()), "--quiet", "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert (tmp_path / "taken").read_text() == "mine"


def _constructor_params(cls, internal: set[str]) -> set[str]:
    import inspect

    return {name for name, p in inspect.signature(cls).parameters.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name not in internal}


def test_params_models_match_the_constructors():
    """Every constructor parameter a scenario may set is in the component's params model and vice
    versa: a parameter added to a model class without its params model cannot be set (and fails here)."""
    from dataclasses import fields

    from recagent.feedback.bias import BiasFeedback
    from recagent.feedback.ensemble import EnsembleFeedback, EnsembleParams
    from recagent.feedback.llm_rating import LLMRatingFeedback
    from recagent.feedback.mf import MatrixFactorization
    from recagent.feedback.registry import FEEDBACK_MODELS
    from recagent.recommenders.content import ContentRecommender
    from recagent.recommenders.itemcf import ItemCFRecommender
    from recagent.recommenders.mf import BPRMFRecommender
    from recagent.recommenders.registry import RECOMMENDERS, RERANKERS
    from recagent.recommenders.rerank import MMR, PopularityPenalty, RandomK
    from recagent.recommenders.sasrec import SASRecRecommender
    from recagent.recommenders.social import SocialRecommender

    pairs = [
        (RECOMMENDERS["itemcf"], ItemCFRecommender, set()), (RECOMMENDERS["mf"], BPRMFRecommender, set()),
        (RECOMMENDERS["sasrec"], SASRecRecommender, set()), (RECOMMENDERS["content"], ContentRecommender, {"cache_dir"}),
        (RECOMMENDERS["social"], SocialRecommender, set()),
        (RERANKERS["mmr"], MMR, {"base", "cache_dir"}), (RERANKERS["random_k"], RandomK, {"base", "rng"}),
        (RERANKERS["popularity_penalty"], PopularityPenalty, {"base"}),
        (FEEDBACK_MODELS["bias"], BiasFeedback, set()), (FEEDBACK_MODELS["mf"], MatrixFactorization, set()),
        (FEEDBACK_MODELS["llm_rating"], LLMRatingFeedback, {"context"}),
    ]
    for factory, cls, internal in pairs:
        assert set(factory.Params.model_fields) == _constructor_params(cls, internal), cls.__name__
    ensemble = _constructor_params(EnsembleFeedback, {"cache_dir", "dataset_name", "keywords", "keyword_vectors",
                                                      "progress", "tie_seed"}) | {f.name for f in fields(EnsembleParams)}
    assert set(FEEDBACK_MODELS["ensemble"].Params.model_fields) == ensemble
