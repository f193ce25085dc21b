"""The oracle recommender ranks by the run's feedback model (the truth of the world it serves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recagent.api import Simulation, load_run
from recagent.data import Catalog
from recagent.errors import UserError
from recagent.recommenders import RecommenderContext, available_recommenders, make_recommender
from recagent.recommenders.oracle import OracleRecommender
from recagent.scenario_loading import load_scenario
from recagent.simulation import build_model, load_dataset


def test_oracle_pages_are_the_feedback_models_top_unseen_items(scenario_file):
    scenario = load_scenario(scenario_file({"recommender": {"name": "oracle"}}))
    model = build_model(scenario, load_dataset(scenario), preflight=False)
    assert isinstance(model.recommender, OracleRecommender)
    world = model.world
    agents = np.arange(6)
    users = world.users[agents]
    exclude = world.history.seen_matrix(users, len(model.catalog))
    pages = model.recommender.recommend(users, 5, exclude)
    for row, user in zip(pages, users):
        # asked one user at a time, outside the oracle's batched call
        p_like, _ = model.feedback.predict_shown(np.full(len(model.catalog), user), np.arange(len(model.catalog)),
                                                 world.history)
        seen = set(np.asarray(world.history.items[user]).tolist())
        ranked = [i for i in np.argsort(-p_like, kind="stable") if i not in seen]
        assert not seen & set(row.tolist())
        assert p_like[row].tolist() == pytest.approx(p_like[ranked[:5]].tolist())
        assert np.all(np.diff(p_like[row]) <= 1e-12)  # best first


def test_oracle_needs_a_simulation():
    catalog = Catalog(raw_ids=np.arange(3), titles=["a", "b", "c"], genre_names=["x"], genres=np.zeros((3, 1), bool),
                      texts=["", "", ""])
    oracle = OracleRecommender()
    oracle.fit(catalog, None)
    with pytest.raises(RuntimeError, match="needs a simulation"):
        oracle.recommend(np.array([0]), 2)


def test_oracle_is_registered_and_takes_no_params(tmp_path):
    assert "oracle" in available_recommenders()
    context = RecommenderContext(rng=np.random.default_rng(0), seed=0, cache_dir=tmp_path)
    with pytest.raises(UserError, match="recommender.params"):
        make_recommender("oracle", context, depth=3)


def test_people_like_what_the_oracle_shows_more_than_random_pages(scenario_file, tmp_path):
    """Utility (mean P(like | shown) of what was watched) is the oracle's upper bound, seed by seed."""
    for seed in (3, 4):
        utility = {}
        for name in ("oracle", "random"):
            path = scenario_file({"seed": seed, "recommender": {"name": name}, "feedback": {"model": "mf"}},
                                 name=f"{name}-{seed}.yaml")
            Simulation.from_yaml(path, out=tmp_path / f"{name}-{seed}").run()
            events = load_run(tmp_path / f"{name}-{seed}").events
            utility[name] = pd.to_numeric(events[events.kind == "watch"].p_like).mean()
        assert utility["oracle"] > utility["random"] + 0.02, (seed, utility)
