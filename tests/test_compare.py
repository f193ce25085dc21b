"""`recagent compare` on a tiny scenario: paired runs in parallel processes, report and CSVs."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.compare import parse_strategy
from recagent.errors import UserError
from recagent.sweep.measures import BY_COLUMN


def test_parse_strategy():
    s = parse_strategy("mf(dim=16,lr=0.05)+mmr(lambda=0.7)+random_k")
    assert (s.name, s.params, s.rerankers) == ("mf", {"dim": 16, "lr": 0.05}, [("mmr", {"lambda": 0.7}), ("random_k", {})])
    assert parse_strategy("popular").rerankers == []
    with pytest.raises(UserError, match="--recommender"):
        parse_strategy("mf+mmr(lambda)")
    with pytest.raises(UserError, match="--recommender"):
        parse_strategy("mf++mmr")


@pytest.mark.slow
def test_compare_report_on_a_tiny_scenario(scenario_file, tmp_path):
    path = scenario_file({"dataset": {"users": 25, "items": 80}, "simulation": {"steps": 4}})
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(path), "-r", "random", "-r", "popular+mmr(lambda=0.3)",
                                      "--seeds", "2", "--jobs", "2", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("report.md", "report.html", "comparison.csv", "sweep.csv", "plots/mean_genre_entropy.png"):
        assert (out / name).is_file(), name
    runs = pd.read_csv(out / "sweep.csv")
    assert sorted(runs.seed.unique()) == [3, 4] and len(runs) == 4  # paired seeds: scenario seed, +1
    table = pd.read_csv(out / "comparison.csv")
    row = table[(table.metric == "coverage_exposure") & (table.strategy == "popular+mmr(lambda=0.3)")].iloc[0]
    a = runs[runs.strategy == "random"].set_index("seed").coverage_exposure
    b = runs[runs.strategy == "popular+mmr(lambda=0.3)"].set_index("seed").coverage_exposure
    assert row.diff_mean == pytest.approx((b - a).mean())
    assert row["mean"] == pytest.approx(b.mean())
    assert row.diff_ci_low <= row.diff_mean <= row.diff_ci_high
    # 2 seeds: every interval inside its measure's range, and the report says the sample is too small
    for _, r in table.dropna(subset=["ci_low"]).iterrows():
        m = BY_COLUMN[r.metric]
        assert m.low <= r.ci_low <= r["mean"] <= r.ci_high <= m.high, (r.metric, r.strategy)
    assert "only 2 seeds per group" in result.output
    base = table[(table.strategy == "random")]
    assert (base.diff_mean == 0).all()
    # each run's own folder, with the per-agent table
    agent = pd.read_csv(out / "runs" / "popular+mmr_lambda_0.3" / "seed-3" / "agent_metrics.csv")
    assert len(agent) == 25 and {"genre_entropy", "top_influencer", "taste_drift"} <= set(agent.columns)
    report = (out / "report.md").read_text()
    assert "Paired differences against `random`" in report and "plots/ild_genre.png" in report
    assert "**Warning:** only 2 seeds per group" in report and "Catalog coverage of consumption | cumulative" in report
    assert "<img src='plots/coverage_exposure.png'" in (out / "report.html").read_text()


def test_compare_bad_input_is_one_line_exit_2(scenario_file, tmp_path):
    path = scenario_file()
    r = CliRunner().invoke(app, ["compare", str(path), "-r", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown recommender 'nope'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()
    r = CliRunner().invoke(app, ["compare", str(path), "-r", "mf+shuffle", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown re-ranker 'shuffle'" in r.output
    r = CliRunner().invoke(app, ["compare", str(path), "-r", "random", "--seeds", "0", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--seeds" in r.output
