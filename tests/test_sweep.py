"""`recagent sweep`: the plan, the statistics, resuming after Ctrl-C, the 5-seed report, `recagent report`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from recagent.cli import app
from recagent.errors import UserError
from recagent.sweep import build_plan, run_sweep
from recagent.sweep.measures import BY_COLUMN
from recagent.sweep.plan import set_dotted
from recagent.sweep.stats import (
    bootstrap_means,
    holm,
    mean_interval,
    paired_difference,
    percentile_interval,
    sign_flip_p,
)

TINY = {"dataset": {"users": 30, "items": 90}, "agents": {"count": 16}, "simulation": {"steps": 3}}


# --- statistics ----------------------------------------------------------------------------------


def test_two_seed_intervals_stay_in_range():
    # the case: with 2 seeds a t-interval printed coverage 0.975 [0.827, 1.123]
    values = np.array([0.9633, 0.9867])
    t = mean_interval(values, 0, 1, method="t")
    assert t.method == "bootstrap" and 0 <= t.low <= t.mean <= t.high <= 1  # no t with n < 5
    assert (t.low, t.high) == pytest.approx((0.9633, 0.9867))  # 2 seeds: the span of the two values
    five = mean_interval([0.90, 0.99, 1.0, 0.97, 1.0], 0, 1, method="t")
    assert five.method == "t" and five.clipped and five.high == 1.0
    inside = mean_interval([0.5, 0.52, 0.48, 0.51, 0.49], 0, 1, method="t")
    assert inside.method == "t" and not inside.clipped


def test_paired_difference_bootstrap_effect_size_and_sign_flip():
    base = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    mine = base + np.array([0.5, 0.6, 0.4, 0.7, 0.8])
    d = paired_difference(mine, base, 0, 10)
    diffs = mine - base
    lo, hi = percentile_interval(bootstrap_means(diffs))
    assert d.interval.method == "bootstrap" and (d.interval.low, d.interval.high) == pytest.approx((lo, hi))
    assert d.interval.low > 0 and d.effect_size == pytest.approx(diffs.mean() / diffs.std(ddof=1))
    assert d.p_value == pytest.approx(2 / 32)  # all 5 differences positive: 2 of 32 sign patterns as extreme
    assert sign_flip_p(np.array([1.0, -1.0])) == 1.0
    assert holm([0.01, 0.04, np.nan, 0.03]) == pytest.approx([0.03, 0.06, np.nan, 0.06], nan_ok=True)


# --- the plan ------------------------------------------------------------------------------------


def test_dotted_overrides_and_plan(scenario_file, tmp_path):
    data = {"social": {"degree": 4}, "interventions": [{"at_step": 1}]}
    set_dotted(data, "social.homophily", 2, "t")
    set_dotted(data, "recommender.params.lambda", 0.5, "t")
    set_dotted(data, "interventions.0.at_step", 2, "t")
    assert data == {"social": {"degree": 4, "homophily": 2}, "recommender": {"params": {"lambda": 0.5}},
                    "interventions": [{"at_step": 2}]}
    with pytest.raises(UserError, match="list of 1"):
        set_dotted(data, "interventions.3.at_step", 1, "t")

    path = scenario_file(TINY)
    from recagent.sweep.strategy import parse_strategy

    plan = build_plan(path, strategies=[parse_strategy("popular"), parse_strategy("random")], seeds=2,
                      grid={"social.homophily": [0, 4], "social.degree": [3, 5]}, fixed={"simulation.steps": 2})
    assert len(plan.runs) == 2 * 4 * 2 and plan.seeds == [3, 4] and plan.parameters == ["social.homophily",
                                                                                         "social.degree"]
    run = yaml.safe_load(plan.runs[-1].scenario_text)
    assert (run["recommender"]["name"], run["social"]["homophily"], run["social"]["degree"], run["seed"],
            run["simulation"]["steps"]) == ("random", 4, 5, 4, 2)
    assert plan.runs[-1].folder == "runs/random/social.homophily=4,social.degree=5/seed-4"
    with pytest.raises(UserError, match="social.homophily.*greater than or equal to 0"):
        build_plan(path, grid={"social.homophily": [1, -1]})
    with pytest.raises(UserError, match="unknown key 'social.homofily'"):
        build_plan(path, grid={"social.homofily": [1]})


def test_sweep_file_errors_are_one_line(scenario_file, tmp_path):
    scenario_file(TINY)
    bad = tmp_path / "sweep.yaml"
    bad.write_text("sweep:\n  scenario: scenario.yaml\n  grid: {seed: [1, 2]}\n")
    r = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "'seed' is swept by seeds" in r.output and "Traceback" not in r.output
    bad.write_text("sweep:\n  scenario: scenario.yaml\n  seeds: many\n")
    r = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "field 'sweep.seeds'" in r.output and str(bad) in r.output
    # a cluster address where nothing answers fails in seconds (ray.init would retry for minutes)
    base = str(tmp_path / "scenario.yaml")
    r = CliRunner().invoke(app, ["sweep", base, "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out",
                                 str(tmp_path / "o")])
    from recagent.extras import missing

    assert r.exit_code == 2 and ("nothing answers at 127.0.0.1:1" in r.output if not missing("sweep") else
                                 "pip install 'recagent[sweep]'" in r.output)
    r = CliRunner().invoke(app, ["sweep", base, "--ray-address", "127.0.0.1:1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--ray-address needs --executor ray" in r.output
    assert not (tmp_path / "o").exists()


# --- running -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sweep_interrupted_half_way_resumes_only_the_missing_runs(scenario_file, tmp_path):
    path = scenario_file(TINY)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"sweep": {"scenario": "scenario.yaml", "strategies": ["popular", "random"],
                                               "seeds": 2, "grid": {"social.homophily": [0, 4]}}}))
    out = tmp_path / "out"
    # a terminal's Ctrl-C: SIGINT to the whole process group, once some runs have finished
    proc = subprocess.Popen([sys.executable, "-m", "recagent", "sweep", str(sweep), "--out", str(out), "--jobs", "1",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        finished = [p for p in out.glob("runs/**/run.json") if json.loads(p.read_text()).get("status") == "completed"]
        if len(finished) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    done = {p.parent for p in out.glob("runs/**/run.json") if json.loads(p.read_text())["status"] == "completed"}
    assert 2 <= len(done) < 8 and not (out / "sweep.csv").exists()
    stamps = {d: (d / "metrics.csv").stat().st_mtime_ns for d in done}

    from recagent.sweep.strategy import parse_strategy

    plan = build_plan(path, strategies=[parse_strategy("popular"), parse_strategy("random")], seeds=2,
                      grid={"social.homophily": [0, 4]})
    result = run_sweep(plan, out, jobs=2, progress=False)
    assert (result.skipped, result.ran) == (len(done), 8 - len(done))
    assert all((d / "metrics.csv").stat().st_mtime_ns == stamps[d] for d in done)  # finished runs untouched
    runs = pd.read_csv(out / "sweep.csv")
    assert len(runs) == 8 and sorted(runs["social.homophily"].unique()) == [0, 4]
    assert json.loads((out / "sweep.json").read_text())["status"] == "completed"
    # a different sweep in the same folder is refused before anything is touched (issue 24): its finished
    # runs are never mixed in, and this sweep's sweep.json and sweep.csv are not overwritten
    other = build_plan(path, strategies=[parse_strategy("popular")], seeds=2, grid={"social.homophily": [0, 4]},
                       fixed={"social.degree": 3})
    before = {name: (out / name).read_bytes() for name in ("sweep.json", "sweep.csv")}
    with pytest.raises(UserError, match="holds a different sweep"):
        run_sweep(other, out, progress=False)
    assert before == {name: (out / name).read_bytes() for name in before}


@pytest.mark.slow
def test_five_seed_report_shows_paired_bootstrap_intervals(scenario_file, tmp_path):
    path = scenario_file(TINY)
    out = tmp_path / "cmp"
    r = CliRunner().invoke(app, ["compare", str(path), "-r", "random", "-r", "popular", "--seeds", "5", "--jobs",
                                 "2", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "only" not in r.output  # no sample-size warning with 5 seeds
    runs = pd.read_csv(out / "sweep.csv")
    table = pd.read_csv(out / "comparison.csv")
    row = table[(table.metric == "ild_genre") & (table.strategy == "popular")].iloc[0]
    diffs = (runs[runs.strategy == "popular"].set_index("seed").ild_genre
             - runs[runs.strategy == "random"].set_index("seed").ild_genre)
    lo, hi = percentile_interval(bootstrap_means(diffs.to_numpy()))
    assert (row.n_seeds, row.interval) == (5, "bootstrap")
    assert (row.diff_ci_low, row.diff_ci_high) == pytest.approx((lo, hi))
    assert row.p_value >= 2 / 32 and row.p_holm >= row.p_value
    for _, r in table.dropna(subset=["ci_low"]).iterrows():
        m = BY_COLUMN[r.metric]
        assert m.low <= r.ci_low <= r.ci_high <= m.high
        assert -(m.high - m.low) <= r.diff_ci_low <= r.diff_ci_high <= m.high - m.low or np.isnan(r.diff_ci_low)
    report = (out / "report.md").read_text()
    assert "Warning" not in report and "Multiple comparisons:" in report and "Holm" in report
    assert "| Intra-list diversity of pages (genres) | per step |" in report

    # one run's own report
    run_dir = out / "runs" / "popular" / "seed-3"
    r = CliRunner().invoke(app, ["report", str(run_dir)])
    assert r.exit_code == 0, r.output
    assert (run_dir / "plots" / "coverage_exposure.png").stat().st_size > 5000
    text = (run_dir / "report.md").read_text()
    assert "| Watches | per step | watches | mean over steps |" in text and "plots/ild_genre.png" in text
    r = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "metrics.csv is missing" in r.output


def test_every_metrics_column_has_a_kind_and_range_for_reports():
    from recagent.metrics.tracker import COLUMNS
    from recagent.sweep.measures import NOT_MEASURES

    missing = [c for c in COLUMNS if c not in BY_COLUMN and c not in NOT_MEASURES]
    assert missing == [], f"add these metrics.csv columns to recagent/sweep/measures.py: {missing}"
    for m in BY_COLUMN.values():
        assert m.kind in ("per step", "cumulative", "sliding window") and m.low < m.high
