"""`recagent findings`: the published findings' claims as paired differences over seeds.

The default run checks the verdict logic by hand and the homogenization finding on a tiny
synthetic population (the direction Chaney et al. report, with paired intervals over 3 seeds);
the whole set at that size and on MovieLens-100K are slow-marked.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.errors import UserError
from recagent.findings import FINDINGS, run_findings
from recagent.findings.catalog import BY_NAME, Claim, Finding
from recagent.findings.runner import FINDINGS_DIR, evaluate, scaled

from .conftest import needs_shared

# a synthetic population small enough for seconds: the findings' sweeps with their dataset replaced
TINY = {"dataset": {"kind": "synthetic", "users": 40, "items": 120, "history_length": 15}, "agents.count": 40,
        "simulation.steps": 8, "recommender.retrain_every": 2, "simulation.activation.probability": 0.5}


def _finding(expected: int = 1) -> Finding:
    return Finding("toy", "toy", "nobody", None, (
        Claim("a - b", "positive", ("a", "x"), ("b", "x"), expected),
        Claim("growth of a", "positive", ("a", "last"), ("a", "first"), expected),
        Claim("a group this dataset lacks", "positive", ("a", "missing"), ("b", "missing"), expected),
    ))


def test_claims_are_paired_differences_with_verdicts():
    values = {"a": {s: {"x": 2.0 + s, "last": 5.0, "first": 1.0 + 0.1 * s} for s in range(4)},
              "b": {s: {"x": 1.0 + s + 0.1 * (s % 2)} for s in range(4)}}
    results = evaluate(_finding(), values)
    assert [r.claim.measure for r in results] == ["a - b", "growth of a"]  # the missing group is left out
    diff = results[0]
    assert diff.diff == pytest.approx(np.mean([1.0, 0.9, 1.0, 0.9]))
    assert diff.low <= diff.diff <= diff.high and diff.low > 0 and diff.n == 4
    assert diff.verdict == "yes" and diff.holds
    assert results[1].mine_mean == 5.0 and results[1].base_mean == pytest.approx(1.15)
    opposite = evaluate(_finding(-1), values)
    assert [r.verdict for r in opposite] == ["no (opposite)", "no (opposite)"]
    mixed = {"a": {s: {"x": float(s % 2)} for s in range(4)}, "b": {s: {"x": 0.5} for s in range(4)}}
    assert evaluate(_finding(), mixed)[0].verdict == "no (interval spans 0)"
    one = {"a": {0: {"x": 2.0}}, "b": {0: {"x": 1.0}, 1: {"x": 1.0}}}
    assert evaluate(_finding(), one)[0].verdict == "no (too few seeds)"


def test_scale_shrinks_agents_and_steps_and_keeps_two_rounds():
    base = FINDINGS_DIR / "ml100k.yaml"
    assert scaled(base, 1.0) == {}
    assert scaled(base, 0.1) == {"simulation.steps": 10, "agents.count": 94}  # 2 rounds of 5 steps at least
    assert scaled(base, 0.5) == {"simulation.steps": 20, "agents.count": 472}
    for bad in (0, 1.5, float("nan")):
        with pytest.raises(UserError, match="--scale"):
            scaled(base, bad)


def test_every_finding_has_its_sweep_file():
    for finding in FINDINGS:
        assert (FINDINGS_DIR / f"{finding.name}.yaml").is_file(), finding.name
    assert {"homogenization", "popularity", "diversity", "herding"} == set(BY_NAME)


def test_bad_options_are_one_line_exit_2(tmp_path):
    runner = CliRunner()
    for args, words in ((["--scale", "2"], "--scale"), (["--only", "cocoons"], "--only"),
                        (["--seeds", "1"], "--seeds")):
        result = runner.invoke(app, ["findings", "--out", str(tmp_path / "f"), *args])
        assert result.exit_code == 2, result.output
        assert words in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.slow
def test_homogenization_holds_on_a_tiny_population(tmp_path):
    """Chaney et al.: MF makes consumption more alike than random, raw and volume-matched, and gives
    up utility against the oracle; intervals are paired over 3 seeds."""
    result = run_findings(tmp_path / "f", only=["homogenization"], seeds=3, overrides=TINY, jobs=2, progress=False)
    by_measure = {r.claim.measure: r for r in result.results}
    assert len(by_measure) == 6
    for r in by_measure.values():
        assert r.n == 3 and r.low <= r.diff <= r.high
    for measure in ("mean pairwise Jaccard of consumption, MF - random",
                    "Jaccard excess over chance (same set sizes), MF - random",
                    "Jaccard of 5-item subsamples, MF - random",
                    "utility (mean P(like) of what was watched), MF - oracle"):
        assert by_measure[measure].verdict == "yes", (measure, by_measure[measure])
    # the table's numbers are the runs' numbers: recompute one difference from measures.csv
    runs = pd.read_csv(tmp_path / "f" / "measures.csv")
    j = runs[runs.measure == "jaccard"].pivot(index="seed", columns="arm", values="value")
    assert by_measure["mean pairwise Jaccard of consumption, MF - random"].diff == pytest.approx(
        (j["mf"] - j["random"]).mean())
    claims = pd.read_csv(tmp_path / "f" / "findings.csv")
    assert len(claims) == 6 and set(claims.verdict) <= {"yes", "no (opposite)", "no (interval spans 0)"}
    report = (tmp_path / "f" / "report.md").read_text()
    assert "| homogenization | mean pairwise Jaccard of consumption, MF - random |" in report
    assert (tmp_path / "f" / "plots" / "homogenization.png").is_file()
    assert "<img src='plots/homogenization.png'" in (tmp_path / "f" / "report.html").read_text()
    # the finding's own sweep report (recagent.sweep) sits beside it, with the oracle as an arm
    assert (tmp_path / "f" / "homogenization" / "runs" / "oracle" / "seed-11" / "events.sqlite").is_file()


@pytest.mark.slow
def test_every_finding_runs_on_a_tiny_population(tmp_path):
    out = tmp_path / "f"
    result = CliRunner().invoke(app, ["findings", "--out", str(out), "--seeds", "3", "--jobs", "2", "--quiet",
                                      *[x for k, v in TINY.items() for x in ("--set", f"{k}={json.dumps(v)}")]])
    assert result.exit_code == 0, result.output
    claims = pd.read_csv(out / "findings.csv")
    assert set(claims.finding) == {"homogenization", "popularity", "diversity", "herding"}
    assert "claims hold" in result.output and "finding" in result.output
    posts = json.loads((out / "herding-posts.json").read_text())
    assert len(posts) == 4 and all(p["at_step"] == 4 for p in posts)  # 10% of 40 agents, at the middle step
    treated = out / "herding-treated" / "runs" / "mf" / "seed-11" / "events.sqlite"
    assert treated.is_file()
    # the treated arm is the control arm plus the posts: identical before the intervention step
    from recagent.api import load_run

    control = load_run(out / "herding" / "runs" / "mf" / "seed-11").events
    posted = load_run(treated.parent).events
    before = ["step", "agent_id", "kind", "item_id"]
    assert control[control.step < 4][before].equals(posted[posted.step < 4][before])
    assert (posted[(posted.step == 4) & (posted.kind == "post")].item_id.astype(int).isin(
        [p["item"] for p in posts])).sum() >= len(posts)
    herding = claims[claims.finding == "herding"].set_index("measure")
    # the measure is computed from both arms (its sign is the finding, reported, not asserted on 40 agents)
    assert np.isfinite(herding.loc["later likes of the posted items by others, treated - control", "diff_mean"])
    for plot in ("homogenization", "popularity", "diversity", "herding"):
        assert (out / "plots" / f"{plot}.png").is_file()


@pytest.mark.slow
@needs_shared
def test_findings_on_movielens_at_a_small_scale(tmp_path):
    result = run_findings(tmp_path / "f", scale=0.05, seeds=3, only=["homogenization"], jobs=2, progress=False)
    by_measure = {r.claim.measure: r for r in result.results}
    assert by_measure["mean pairwise Jaccard of consumption, MF - random"].verdict == "yes"
    assert by_measure["utility (mean P(like) of what was watched), MF - oracle"].verdict == "yes"
