"""Bounded plans (issue 24): --max-runs stops a plan before it is listed; an --out holding another
sweep is refused; and `--robust self_selection` reports whether each difference holds (issue 25)."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.errors import UserError
from recagent.sweep import build_plan, run_sweep
from recagent.sweep.plan import MAX_RUNS
from recagent.sweep.robustness import VERDICT_FLIPS, VERDICT_HOLDS, VERDICT_MISSING, VERDICT_NONE, VERDICT_SIGN, verdict
from recagent.sweep.strategy import parse_strategy

TINY = {"dataset": {"users": 20, "items": 60}, "agents": {"count": 10}, "simulation": {"steps": 2}}


def test_a_million_run_sweep_stops_before_planning_in_one_line(scenario_file):
    path = scenario_file(TINY)
    values = ",".join(str(v) for v in range(1000))
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["sweep", str(path), "--grid", f"social.homophily={values}",
                                      "--grid", f"social.degree={values}", "--out", "never"])
    assert time.perf_counter() - start < 10
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) <= 2 and "3,000,000 runs" in result.output and "--max-runs 10,000" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(UserError, match="more than --max-runs 5"):
        build_plan(path, strategies=[parse_strategy("popular"), parse_strategy("random")], seeds=3, max_runs=5)
    assert len(build_plan(path, seeds=3, max_runs=3).runs) == 3 and MAX_RUNS == 10_000
    result = CliRunner().invoke(app, ["compare", str(path), "-r", "random", "-r", "popular", "--seeds", "6",
                                      "--max-runs", "11", "--out", "never"])
    assert result.exit_code == 2 and "12 runs" in result.output


@pytest.mark.slow
def test_an_out_holding_another_sweep_is_refused_and_the_same_sweep_resumes(scenario_file, tmp_path):
    path = scenario_file(TINY)
    out = tmp_path / "sw"
    plan = build_plan(path, strategies=[parse_strategy("popular")], seeds=1, grid={"social.homophily": [0]})
    run_sweep(plan, out, jobs=1, progress=False)
    before = {name: (out / name).read_bytes() for name in ("sweep.json", "sweep.csv", "report.md")}
    other = build_plan(path, strategies=[parse_strategy("popular")], seeds=1, grid={"social.homophily": [2]})
    with pytest.raises(UserError, match="holds a different sweep"):
        run_sweep(other, out, jobs=1, progress=False)
    assert before == {name: (out / name).read_bytes() for name in before}  # nothing overwritten
    again = run_sweep(plan, out, jobs=1, progress=False)
    assert (again.ran, again.skipped) == (0, 1)
    assert json.loads((out / "sweep.json").read_text())["plan_sha256"] == plan.fingerprint()
    # more seeds extend the same sweep: only the new run is run
    more = build_plan(path, strategies=[parse_strategy("popular")], seeds=2, grid={"social.homophily": [0]})
    again = run_sweep(more, out, jobs=1, progress=False)
    assert (again.ran, again.skipped) == (1, 1)
    (out / "sweep.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="expected a JSON object"):
        run_sweep(plan, out, jobs=1, progress=False)


def test_verdicts():
    nan = np.nan
    assert verdict(np.array([0.2, 0.3]), np.array([0.1, 0.1]), np.array([0.3, 0.5])) == VERDICT_HOLDS
    assert verdict(np.array([-0.2, -0.3]), np.array([-0.4, -0.5]), np.array([-0.1, -0.1])) == VERDICT_HOLDS
    assert verdict(np.array([0.2, 0.3]), np.array([0.1, -0.1]), np.array([0.3, 0.5])) == VERDICT_SIGN
    assert verdict(np.array([0.2, -0.3]), np.array([0.1, -0.5]), np.array([0.3, -0.1])) == VERDICT_FLIPS
    assert verdict(np.array([0.2, -0.3]), np.array([-0.1, -0.5]), np.array([0.3, 0.1])) == VERDICT_NONE
    assert verdict(np.array([0.2, 0.3]), np.array([nan, nan]), np.array([nan, nan])) == VERDICT_NONE
    assert verdict(np.array([nan, -0.7]), np.array([nan, -0.9]), np.array([nan, -0.5])) == VERDICT_MISSING


@pytest.mark.slow
def test_compare_robust_self_selection_runs_both_ends_and_says_what_holds(scenario_file, tmp_path):
    path = scenario_file(TINY)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(path), "-r", "random", "-r", "popular", "--seeds", "2",
                                      "--jobs", "2", "--out", str(out), "--quiet", "--robust", "self_selection"])
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "sweep.csv")
    assert sorted(runs["feedback.self_selection"].unique()) == [0.41, 0.77] and len(runs) == 8
    rows = pd.read_csv(out / "robustness.csv")
    assert set(rows.strategy) == {"popular"} and rows.metric.is_unique
    table = pd.read_csv(out / "comparison.csv")
    for _, r in rows.iterrows():  # each verdict is the one its two differences give
        here = table[(table.metric == r.metric) & (table.strategy == "popular")].sort_values("feedback.self_selection")
        assert r.verdict == verdict(here.diff_mean.to_numpy(), here.diff_ci_low.to_numpy(), here.diff_ci_high.to_numpy())
    report = (out / "report.md").read_text()
    assert "## Robustness across feedback.self_selection" in report and "(a robustness range, not a question)" in report
    flipped = rows[rows.verdict == VERDICT_FLIPS]
    for name in flipped.name:
        assert f"a conclusion flips inside the robustness range: {name}" in report
    with pytest.raises(UserError, match="--robust: expected one of self_selection"):
        from recagent.compare.runner import comparison_plan
        comparison_plan(path, [parse_strategy("random")], 1, robust=["taste"])


def test_executor_ray_without_ray_is_one_line_naming_the_extra(scenario_file, tmp_path, monkeypatch):
    import recagent.extras

    path = scenario_file(TINY)
    real = recagent.extras.find_spec
    monkeypatch.setattr(recagent.extras, "find_spec", lambda name: None if name == "ray" else real(name))
    result = CliRunner().invoke(app, ["sweep", str(path), "--executor", "ray", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--executor ray" in result.output and "pip install 'recagent[sweep]'" in result.output
    assert not (tmp_path / "o").exists()


def test_a_robustness_range_crosses_every_point_and_a_flip_is_named():
    import pandas as pd

    from recagent.sweep.measures import MEASURES
    from recagent.sweep.robustness import flips, robust_grid, robustness_rows

    assert robust_grid(["self_selection"]) == {"feedback.self_selection": [0.41, 0.77]}

    class Point:
        def __init__(self, label, values):
            self.label, self.values = label, values

    class Plan:
        robust = ["feedback.self_selection"]
        parameters = ["social.homophily", "feedback.self_selection"]
        baseline = "random"
        points = [Point(f"p{k}", {"social.homophily": h, "feedback.self_selection": s})
                  for k, (h, s) in enumerate([(0, 0.41), (0, 0.77), (4, 0.41), (4, 0.77)])]

    measure = MEASURES[0]
    # at homophily 0 the difference holds; at 4 it changes sign between the two ends
    diffs = {"p0": (0.2, 0.1, 0.3), "p1": (0.3, 0.2, 0.4), "p2": (0.2, 0.1, 0.3), "p3": (-0.2, -0.3, -0.1)}
    table = pd.DataFrame([{"point": p, "metric": measure.column, "name": measure.name, "strategy": "popular",
                           "diff_mean": d, "diff_ci_low": lo, "diff_ci_high": hi}
                          for p, (d, lo, hi) in diffs.items()])
    rows = robustness_rows(table, Plan(), [measure])
    assert [(r["question"], r["verdict"]) for r in rows] == [("social.homophily=0", VERDICT_HOLDS),
                                                           ("social.homophily=4", VERDICT_FLIPS)]
    assert rows[1]["at"] == ["feedback.self_selection=0.41", "feedback.self_selection=0.77"]
    (line,) = flips(rows)
    assert line.startswith(f"{measure.name}: popular - random at social.homophily=4 changes sign") and "-0.200" in line


def test_robust_is_crossed_with_the_plan_and_not_swept_twice(scenario_file):
    path = scenario_file(TINY)
    plan = build_plan(path, strategies=[parse_strategy("popular"), parse_strategy("random")], seeds=2,
                      robust={"feedback.self_selection": [0.41, 0.77]})
    assert len(plan.runs) == 8 and plan.is_comparison and plan.robust == ["feedback.self_selection"]
    with pytest.raises(UserError, match="both swept and a robustness range"):
        build_plan(path, seeds=1, grid={"feedback.self_selection": [0.5]}, robust={"feedback.self_selection": [0.41]})


def test_sweep_cli_robust_is_checked_and_counted_before_planning(scenario_file, tmp_path):
    path = scenario_file(TINY)
    result = CliRunner().invoke(app, ["sweep", str(path), "--robust", "taste", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--robust: expected one of self_selection, found 'taste'" in result.output
    result = CliRunner().invoke(app, ["sweep", str(path), "--seeds", "2", "--robust", "self_selection",
                                      "--max-runs", "3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "4 runs" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
