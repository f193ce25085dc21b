"""Sweeps on Ray: a local Ray instance on 127.0.0.1 gives the same sweep.csv as the process pool, and a
worker that dies is retried once and reported (Ray and the pool alike)."""

from __future__ import annotations

import json

import pandas as pd

from recagent.sweep import build_plan, run_sweep
from recagent.sweep.executors import PoolExecutor, RayExecutor
from recagent.sweep.strategy import parse_strategy
from tests.conftest import ROOT

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def quickstart_plan():
    # 2 strategies x 2 homophily values x 2 seeds of the quickstart, small: 20 agents, 3 steps
    return build_plan(QUICKSTART, strategies=[parse_strategy("popular"), parse_strategy("popular+mmr(lambda=0.5)")],
                      seeds=2, grid={"social.homophily": [0, 4]}, fixed={"agents.count": 20, "simulation.steps": 3})


def test_ray_sweep_gives_the_same_numbers_as_the_pool(tmp_path):
    pool = run_sweep(quickstart_plan(), tmp_path / "pool", executor="pool", jobs=2, progress=False)
    ray_result = run_sweep(quickstart_plan(), tmp_path / "ray", executor="ray", jobs=2, progress=False)
    assert (pool.ran, ray_result.ran) == (8, 8) and ray_result.retried == []
    a = pd.read_csv(tmp_path / "pool" / "sweep.csv").drop(columns=["wall_time_s"])
    b = pd.read_csv(tmp_path / "ray" / "sweep.csv").drop(columns=["wall_time_s"])
    assert len(a) == 8 and a["coverage_exposure"].notna().all()
    pd.testing.assert_frame_equal(a, b)
    meta = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert meta["executor"].startswith("local Ray instance") and meta["status"] == "completed"
    # the run folders came back from the Ray tasks whole
    run = tmp_path / "ray" / "runs" / "popular+mmr_lambda_0.5" / "social.homophily=4" / "seed-43"
    assert {"events.sqlite", "metrics.csv", "run.json", "scenario.resolved.yaml"} <= {p.name for p in run.iterdir()}
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    # a finished sweep re-run through Ray reuses every run
    again = run_sweep(quickstart_plan(), tmp_path / "ray", executor="ray", jobs=2, progress=False)
    assert (again.ran, again.skipped) == (0, 8)


def test_a_dead_ray_worker_is_retried_once_and_reported(tmp_path):
    from tests.sweep_helpers import die_once

    seen = []
    calls = [(str(tmp_path / "died-a"), 21), (str(tmp_path / "died-b"), 5)]
    RayExecutor(None, 1, 1.0, {}).run(die_once, calls, lambda *report: seen.append(report))
    assert sorted(seen) == [(0, 42, None, True), (1, 10, None, True)]  # each died once, each retried once


def test_a_dead_pool_worker_is_retried_once_and_reported(tmp_path):
    from tests.sweep_helpers import die_once

    (tmp_path / "died-b").write_text("this one never dies")
    seen = []
    calls = [(str(tmp_path / "died-a"), 21), (str(tmp_path / "died-b"), 5)]
    PoolExecutor(1).run(die_once, calls, lambda *report: seen.append(report))
    # a death breaks the whole pool: the unfinished calls all go to a new pool once, reported as retried
    assert sorted(seen) == [(0, 42, None, True), (1, 10, None, True)]
