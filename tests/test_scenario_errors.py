"""Every user error in a scenario is one line naming the file and the field, exit code 2, no run folder."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from recagent.cli import app

runner = CliRunner()

BAD_SCENARIOS = {
    "yaml_syntax": ("name: x\ndataset: {kind: synthetic\n", ["YAML syntax error", ":3:"]),
    "python_tag": ("name: !!python/object/apply:os.system ['echo hi']\ndataset: {kind: synthetic}\n",
                   ["YAML tag not allowed", "plain YAML"]),
    "not_mapping": ("- just\n- a list\n", ["expected a mapping"]),
    "unknown_key": ("name: x\ndataset: {kind: synthetic}\nsimulation: {stepz: 3}\n", ["unknown key 'simulation.stepz'"]),
    "wrong_type": ("name: x\ndataset: {kind: synthetic}\nsimulation: {steps: ten}\n",
                   ["field 'simulation.steps'", "integer", "'ten'"]),
    "bad_number": ("name: x\ndataset: {kind: synthetic}\nsimulation: {steps: -3}\n",
                   ["field 'simulation.steps'", "greater than or equal to 1"]),
    "missing_dataset": ("name: x\n", ["field 'dataset' is required"]),
    "unknown_dataset_kind": ("name: x\ndataset: {kind: netflix}\n", ["field 'dataset.kind'", "netflix", "synthetic"]),
    "unknown_recommender": ("name: x\ndataset: {kind: synthetic}\nrecommender: {name: magic}\n",
                            ["field 'recommender.name'", "unknown recommender 'magic'", "popular"]),
    "unknown_graph": ("name: x\ndataset: {kind: synthetic}\nsocial: {graph: grid}\n", ["field 'social.graph'", "grid"]),
    "unknown_feedback": ("name: x\ndataset: {kind: synthetic}\nfeedback: {model: oracle}\n",
                         ["field 'feedback.model'", "oracle"]),
    "missing_folder": ("name: x\ndataset: {kind: movielens-100k, path: nowhere/ml-100k}\n",
                       ["field 'dataset.path'", "does not exist", "grouplens"]),
    "unset_env_var": ("name: x\ndataset: {kind: movielens-100k, path: '${RECAGENT_TEST_UNSET_VAR}/ml'}\n",
                      ["field 'dataset.path'", "RECAGENT_TEST_UNSET_VAR", "not set"]),
    "bad_name": ("name: 'my run/../x'\ndataset: {kind: synthetic}\n", ["field 'name'"]),
    "intervention_late": ("name: x\ndataset: {kind: synthetic}\nsimulation: {steps: 3}\n"
                          "interventions: [{kind: switch_recommender, at_step: 5, name: random}]\n",
                          ["field 'interventions[0].at_step'"]),
    "intervention_unknown_name": ("name: x\ndataset: {kind: synthetic}\n"
                                  "interventions: [{kind: switch_recommender, at_step: 1, name: nope}]\n",
                                  ["field 'interventions[0].name'", "unknown recommender 'nope'"]),
    "graph_needs_relations": ("name: x\ndataset: {kind: synthetic}\nsocial: {graph: dataset}\n",
                              ["social.graph 'dataset'", "recagent"]),
    "chat_hours": ("name: x\ndataset: {kind: synthetic}\nsimulation: {busy_hours: {chat: [3, 1]}}\n",
                   ["field 'simulation.busy_hours.chat'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_is_one_clear_line(case, tmp_path):
    text, expected = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    out = result.output.strip()
    assert "Traceback" not in out
    assert len(out.splitlines()) == 1, out
    assert str(path.name) in out
    for fragment in expected:
        assert fragment.lower() in out.lower(), (fragment, out)


def test_missing_scenario_file(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "scenario file not found" in result.output


def test_bad_run_leaves_no_run_folder(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_SCENARIOS["unknown_recommender"][0])
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    assert not out.exists()
    assert not (tmp_path / "runs").exists()


def test_runtime_user_error_leaves_no_run_folder(scenario_file, tmp_path):
    path = scenario_file({"agents": {"count": 500}})  # more agents than the dataset's 40 users
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    assert "agents.count" in result.output and "40 users" in result.output
    assert not out.exists()


def test_real_process_exit_code_and_stderr(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_SCENARIOS["wrong_type"][0])
    proc = subprocess.run([sys.executable, "-m", "recagent", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "simulation.steps" in proc.stderr


def test_relative_paths_resolve_against_scenario_folder(tmp_path, monkeypatch):
    from recagent.scenario_loading import load_scenario

    data = tmp_path / "data"
    data.mkdir()
    (data / "ratings.csv").write_text("user,item,rating\n1,1,5\n")
    sub = tmp_path / "scenarios"
    sub.mkdir()
    (sub / "s.yaml").write_text("name: x\ndataset: {kind: csv, ratings: ../data/ratings.csv}\n")
    monkeypatch.chdir("/")
    assert load_scenario(sub / "s.yaml").dataset.ratings == (data / "ratings.csv").resolve()
    monkeypatch.setenv("RECAGENT_DATA", str(data))
    (sub / "e.yaml").write_text("name: x\ndataset: {kind: csv, ratings: '${RECAGENT_DATA}/ratings.csv'}\n")
    assert load_scenario(sub / "e.yaml").dataset.ratings == data / "ratings.csv"


def test_shipped_scenarios_validate():
    from recagent.scenario_loading import load_scenario
    from tests.conftest import ROOT, SHARED_DATA

    assert load_scenario(ROOT / "scenarios" / "quickstart.yaml").name == "quickstart"
    if (SHARED_DATA / "ml-100k").exists():
        assert load_scenario(ROOT / "scenarios" / "movielens_cocoon.yaml").agents.count >= 200


def test_the_cli_starts_without_the_heavy_libraries():
    """`recagent --help` (and every command before it runs) loads no torch, scikit-learn, LangChain or FastAPI."""
    heavy = ("torch", "sklearn", "langchain_core", "fastapi", "chromadb", "mesa", "scipy.stats", "scipy.spatial")
    code = ("import sys; from typer.testing import CliRunner; from recagent.cli import app; "
            "assert CliRunner().invoke(app, ['--help']).exit_code == 0; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_shorter_steps_leaves_out_later_interventions_in_one_line(scenario_file, tmp_path):
    """--steps 2 for a smoke test: the intervention at step 4 is left out with a note, the run completes."""
    import yaml

    path = scenario_file({"interventions": [{"kind": "rewire", "at_step": 1},
                                            {"kind": "set_traits", "at_step": 4, "agents": "all", "conformity": 0.5}]})
    result = runner.invoke(app, ["run", str(path), "--steps", "2", "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "note: 2 steps: 1 intervention at a later step left out (set_traits at step 4)" in result.output
    resolved = yaml.safe_load((tmp_path / "run" / "scenario.resolved.yaml").read_text())
    assert [iv["kind"] for iv in resolved["interventions"]] == ["rewire"]
    # the file itself is still checked against its own steps
    bad = scenario_file({"interventions": [{"kind": "rewire", "at_step": 9}]}, name="bad.yaml")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "field 'interventions[0].at_step': 9 is not before the last step" in result.output


@pytest.mark.slow
def test_validate_says_when_it_prepares_the_user_simulator(scenario_file, tmp_path, monkeypatch):
    """A catalog the ensemble has not seen: `validate` prints the preparing line, as `run` does (issue 28)."""
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path / "cache"))
    path = scenario_file({"dataset": {"kind": "synthetic", "users": 30, "items": 40, "history_length": 8},
                          "feedback": {"model": "ensemble"}})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "preparing the user simulator for this catalog (one time" in result.output
    assert "prepared the user simulator for this catalog in" in result.output
    again = runner.invoke(app, ["validate", str(path)])  # prepared now: a cache hit says nothing
    assert again.exit_code == 0 and "preparing" not in again.output
