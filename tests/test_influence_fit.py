"""`recagent calibrate influence`: recagent run on a trust network's own people, histories and items,
one step a day, word of mouth fitted to the real adoption-timing ratios (recagent/social/influence_fit.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.social.influence_fit import trust_population


@pytest.fixture
def network(tmp_path):
    rng = np.random.default_rng(1)
    n_users, n_items = 60, 300
    users = rng.integers(0, n_users, 1500)
    items = (users % 6) * 50 + rng.integers(0, 50, 1500)  # six taste blocks
    days = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 100, 1500), unit="D")
    pd.DataFrame({"user_id": users, "item_id": items, "rating": rng.integers(3, 6, 1500),
                  "timestamp": days.strftime("%Y-%m-%d")}).to_csv(tmp_path / "events.csv", index=False)
    src = rng.integers(0, n_users, 240)
    pd.DataFrame({"source": src, "target": (src + 6 * rng.integers(1, 5, 240)) % n_users}).to_csv(
        tmp_path / "edges.csv", index=False)
    pd.DataFrame({"item_id": np.arange(n_items), "genre_id": np.arange(n_items) // 50}).to_csv(
        tmp_path / "items.csv", index=False)
    return tmp_path


def test_the_population_is_the_largest_trust_component_of_active_people():
    events = pd.DataFrame({"user": list("aaabbbcccd"), "item": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1],
                           "rating": 4.0, "day": np.arange(10.0)})
    edges = pd.DataFrame({"source": ["a", "b", "c", "d"], "target": ["b", "a", "d", "a"]})
    pop = trust_population(events, edges, min_ratings=3, min_item_ratings=2)
    assert set(pop.ratings.user) == {"a", "b"}  # c is active but its only link is to d (one rating)
    assert len(pop.edges) == 2 and "2 people" in pop.description


@pytest.mark.slow
def test_calibrate_influence_runs_the_grid_and_reports_the_fit(network, tmp_path):
    out = tmp_path / "fit.json"
    args = ["calibrate", "influence", "--events", str(network / "events.csv"), "--edges", str(network / "edges.csv"),
            "--items", str(network / "items.csv"), "--grid", "simulation.behaviour.social_influence=0,4",
            "--seeds", "1", "--steps", "10", "--windows", "7", "--min-ratings", "5", "--recommender", "popular",
            "--shuffles", "5", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    fit = json.loads(out.read_text())
    assert [p["value"] for p in fit["grid"]] == [0, 4] and fit["step_hours"] == 24 and fit["fit_windows"] == [7.0]
    assert fit["best"] in (0, 4) and "inside the real null range" in result.output
    assert fit["best"] in fit["near_best"] or fit["near_best"][0] <= fit["best"] <= fit["near_best"][1]
    assert "cannot tell from the best" in result.output
    for p in fit["grid"]:  # the loss is the one its ratios give
        ratio = p["runs"][0]["windows"][1]["ratio"]
        assert p["loss"] == pytest.approx((np.log(ratio) - np.log(fit["real"]["windows"][1]["ratio"])) ** 2)
        assert p["runs"][0]["adoptions"] > 10
    # the real figure is the one eval influence computes on the same population
    ev = pd.read_csv(network / "events.csv")
    real = fit["real"]
    assert real["adoptions"] <= len(ev.drop_duplicates(["user_id", "item_id"]))


def test_calibrate_influence_refuses_in_one_line(network):
    base = ["calibrate", "influence", "--events", str(network / "events.csv"), "--edges", str(network / "edges.csv")]
    for extra, text in ((["--steps", "10", "--windows", "30"], "shorter than --steps 10"),
                        (["--windows", "any"], "shorter than --steps"),
                        (["--grid", "simulation.behaviour.social_influence=0", "--set",
                          "simulation.behaviour.social_influence=1"], "both the grid and fixed"),
                        (["--min-ratings", "1000"], "no population left"),
                        (["--steps", "10", "--windows", "0.5", "--min-ratings", "5"], "no neighbour adoption before")):
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 2 and text in result.output and "Traceback" not in result.output, result.output
