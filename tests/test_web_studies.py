"""Studies in the page: a real `recagent compare` (synthetic data, 2 strategies x 2 seeds, 4 steps)
and a run that switches recommender, served from the folder above them and from the study itself:
nested runs are found, grouped by study, overlaid with bands that are the mean and 95% bootstrap
interval over seeds of each run's own metrics.csv, and every id stays inside the root."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from recagent.web import create_app

from .conftest import ROOT, SMALL_SCENARIO, merge

pytestmark = pytest.mark.slow  # a comparison and a sweep of 4 runs each, and one run: 25-70 s on 2 busy cores

STUDY = "cmp-rand-pop"
SWEEP = "sweep-homophily"
SWEEP_GROUPS = ("popular/social.homophily=0", "popular/social.homophily=4")


def make_study(root):
    """root/cmp-rand-pop (recagent compare, via the CLI), root/sweep-homophily (recagent sweep over
    social.homophily, whose runs sit one level deeper) and root/switched (popular, then random from step 2)."""
    scenario = root.parent / "study.yaml"
    scenario.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {"name": "studytest"}), sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "recagent", "compare", str(scenario), "-r", "random", "-r", "popular",
                    "--seeds", "2", "--steps", "4", "--jobs", "1", "--out", str(root / STUDY), "--quiet"],
                   check=True, env=env, cwd=root.parent, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "recagent", "sweep", str(scenario), "-r", "popular", "--grid",
                    "social.homophily=0,4", "--seeds", "2", "--steps", "3", "--jobs", "1", "--out", str(root / SWEEP),
                    "--quiet"], check=True, env=env, cwd=root.parent, capture_output=True, timeout=300)
    switched = root.parent / "switched.yaml"
    switched.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {
        "name": "studytest", "simulation": {"steps": 4},
        "interventions": [{"kind": "switch_recommender", "at_step": 2, "name": "random", "params": {}}]}),
        sort_keys=False))
    from recagent.simulation.runner import run_scenario

    run_scenario(switched, out=root / "switched", progress=False)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("webstudies") / "runs")


@pytest.fixture(scope="module")
def client(root):
    return TestClient(create_app(root))


def seed_run(strategy: str, seed: int) -> str:
    return f"{STUDY}~runs~{strategy}~seed-{seed}"


def test_nested_runs_are_listed_with_their_folder_study_and_strategy(client):
    body = client.get("/api/runs").json()
    by_id = {r["id"]: r for r in body["runs"]}
    assert set(by_id) == ({"switched"} | {seed_run(s, k) for s in ("random", "popular") for k in (3, 4)}
                          | {f"{SWEEP}~runs~{g.replace('/', '~')}~seed-{k}" for g in SWEEP_GROUPS for k in (3, 4)})
    run = by_id[seed_run("popular", 4)]
    assert run["folder"] == f"{STUDY}/runs/popular/seed-4"
    assert (run["study"], run["group"], run["seed"], run["strategy"]) == (STUDY, "popular", "4", "popular")
    assert run["status"] == "completed" and run["steps_completed"] == 4
    # runs outside a study first, then the study's, grouped by strategy
    assert body["runs"][0]["id"] == "switched"
    assert [r["group"] for r in body["runs"][1:5]] == ["popular", "popular", "random", "random"]
    study, sweep = body["studies"]
    assert study["id"] == STUDY and study["kind"] == "comparison" and study["baseline"] == "random"
    assert {g["key"]: sorted(g["seeds"]) for g in study["groups"]} == {"popular": ["3", "4"], "random": ["3", "4"]}
    assert sweep["id"] == SWEEP and sweep["kind"] == "sweep" and sweep["parameters"] == ["social.homophily"]
    assert [g["key"] for g in sweep["groups"]] == list(SWEEP_GROUPS)
    deep = by_id[f"{SWEEP}~runs~popular~social.homophily=4~seed-3"]
    assert deep["folder"] == f"{SWEEP}/runs/popular/social.homophily=4/seed-3" and deep["study"] == SWEEP


def test_the_list_shows_the_strategy_a_run_ended_on(client):
    switched = next(r for r in client.get("/api/runs").json()["runs"] if r["id"] == "switched")
    assert switched["recommender"] == "popular"  # what it started with (run.json)
    assert switched["strategy"] == "random" and switched["switches"] == 1


def test_a_nested_runs_views_serve_like_a_plain_runs(client):
    run = seed_run("random", 3)
    m = client.get(f"/api/runs/{run}/metrics").json()
    assert m["steps_completed"] == 4 and m["metrics"]["measures_from"] == "metrics.csv"
    assert client.get(f"/api/runs/{run}/graph").status_code == 200
    assert client.get(f"/api/runs/{run}/steps/0").status_code == 200


def own_column(root, strategy: str, seed: int, column: str) -> np.ndarray:
    with open(root / STUDY / "runs" / strategy / f"seed-{seed}" / "metrics.csv", newline="") as f:
        return np.array([float(r[column]) for r in csv.DictReader(f)])


def test_study_bands_are_the_mean_and_interval_over_seeds_of_each_runs_metrics(client, root):
    body = client.get(f"/api/studies/{STUDY}/metrics").json()
    groups = {g["key"]: g for g in body["groups"]}
    assert set(groups) == {"random", "popular"}
    for key, group in groups.items():
        assert group["seeds"] == 2 and group["steps"] == 4 and group["strategy"] == key
        assert set(group["measures"]) == {"genre_entropy", "coverage", "gini", "friend_share",
                                          "watches", "likes", "chats", "posts"}
        for page, column in (("watches", "watches"), ("gini", "gini_consumption"),
                             ("genre_entropy", "mean_genre_entropy")):
            seeds = np.stack([own_column(root, key, s, column) for s in (3, 4)], 1)
            band = group["measures"][page]
            assert band["mean"] == pytest.approx(seeds.mean(1), abs=1e-5)
            # a bootstrap over 2 seeds spans the two values seen: the band lies between them
            assert np.all(np.array(band["low"]) >= seeds.min(1) - 1e-5)
            assert np.all(np.array(band["high"]) <= seeds.max(1) + 1e-5)
            assert np.all(np.array(band["low"]) <= np.array(band["mean"]) + 1e-9)
    assert "bootstrap" in body["interval"]


def test_a_sweeps_points_are_groups_with_their_own_bands(client, root):
    body = client.get(f"/api/studies/{SWEEP}/metrics").json()
    assert [(g["key"], g["seeds"], g["steps"]) for g in body["groups"]] == [(g, 2, 3) for g in SWEEP_GROUPS]
    for group in body["groups"]:
        folder = root / SWEEP / "runs" / group["key"]
        seeds = []
        for k in (3, 4):
            with open(folder / f"seed-{k}" / "metrics.csv", newline="") as f:
                seeds.append([float(r["coverage_consumption"]) for r in csv.DictReader(f)])
        assert group["measures"]["coverage"]["mean"] == pytest.approx(np.mean(seeds, 0), abs=1e-5)


def test_serving_the_study_itself(root):
    client = TestClient(create_app(root / STUDY))
    body = client.get("/api/runs").json()
    assert sorted(r["id"] for r in body["runs"]) == sorted(
        f"runs~{s}~seed-{k}" for s in ("random", "popular") for k in (3, 4))
    assert [s["id"] for s in body["studies"]] == [STUDY] and body["studies"][0]["folder"] == "."
    assert client.get(f"/api/studies/{STUDY}/metrics").json()["groups"][0]["seeds"] == 2
    assert client.get("/api/runs/runs~random~seed-3/metrics").status_code == 200


@pytest.mark.parametrize("ident", [f"{STUDY}~runs~random", f"{STUDY}~runs", f"{STUDY}~runs~random~seed-3~memory",
                                   f"{STUDY}~..~{STUDY}~runs~random~seed-3", "~", f"{STUDY}~~runs",
                                   f"{STUDY}~runs~random~seed-3~", "..~etc", f"{STUDY}~plots"])
def test_ids_that_are_not_run_folders_are_404(client, ident):
    assert client.get(f"/api/runs/{ident}/metrics").status_code == 404


def test_a_link_out_of_the_root_is_not_walked(tmp_path, root):
    outside = tmp_path / "outside"
    (outside / "study").mkdir(parents=True)
    served = tmp_path / "served"
    served.mkdir()
    (served / "elsewhere").symlink_to(root / STUDY)  # a study, but outside this root
    (served / "loop").symlink_to(served)
    client = TestClient(create_app(served))
    body = client.get("/api/runs").json()
    assert body["runs"] == [] and body["studies"] == []
    assert client.get("/api/runs/elsewhere~runs~random~seed-3/metrics").status_code == 404
    assert client.get("/api/studies/elsewhere/metrics").status_code == 404


@pytest.mark.parametrize("ident", ["nope", "switched", f"{STUDY}~runs", "..", f"{STUDY}~runs~random~seed-3"])
def test_what_is_not_a_study_is_404(client, ident):
    assert client.get(f"/api/studies/{ident}/metrics").status_code == 404


def test_a_trusted_run_is_named_by_its_id_not_its_folder_name(root):
    """--trust-run-llm seed-3 must not trust every study's seed-3: the explainer names runs by id."""
    from recagent.web.explain import Explainer

    served = root.resolve()
    explainer = Explainer(trusted_runs={"seed-3"}, root=served)
    assert explainer.run_id(served / STUDY / "runs" / "random" / "seed-3") == seed_run("random", 3)
    assert explainer.run_id(served / "switched") == "switched"


def test_one_group_of_a_study(client):
    body = client.get(f"/api/studies/{STUDY}/metrics", params={"group": "popular"}).json()
    assert [g["key"] for g in body["groups"]] == ["popular"]
    assert body == client.get(f"/api/studies/{STUDY}/metrics", params={"group": "popular"}).json()  # cached
    r = client.get(f"/api/studies/{STUDY}/metrics", params={"group": "nope"})
    assert r.status_code == 404 and "has no group 'nope'" in r.json()["error"]


def test_a_run_without_metrics_csv_is_left_out_and_named(root, tmp_path):
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(root / STUDY, copy / STUDY)
    (copy / STUDY / "runs" / "random" / "seed-4" / "metrics.csv").unlink()  # as a run still running
    body = TestClient(create_app(copy)).get(f"/api/studies/{STUDY}/metrics").json()
    random = next(g for g in body["groups"] if g["key"] == "random")
    assert random["seeds"] == 1 and random["without_metrics"] == [seed_run("random", 4)]
    one = own_column(root, "random", 3, "watches")
    assert random["measures"]["watches"]["mean"] == pytest.approx(one)
    assert random["measures"]["watches"]["low"] == pytest.approx(one)  # one seed: the band is the value
