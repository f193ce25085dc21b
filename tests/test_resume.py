"""Exact checkpoints: a run killed with SIGKILL at a random step and resumed writes the same
events.sqlite rows, metrics.csv and agent_metrics.csv as the same run uninterrupted; offline (a
learning recommender, interventions), and against the stand-in LLM server with the prompt cache and
memory on. And what resume refuses."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from recagent import Simulation, UserError
from recagent.cli import app

from .conftest import ROOT, SMALL_SCENARIO, merge
from .llm_server import LLMServer

# The child runs the scenario and kills itself (SIGKILL: no cleanup, no flush) in the middle of
# step `kill_at`, before the phase `before`: the events of that step are not written, its LLM
# calls and memory writes may be.
CHILD = """
import os, signal, sys
from recagent import Simulation
scenario, out, kill_at, before = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sim = Simulation.from_yaml(scenario, out=out)
sim.schedule(lambda model: os.kill(os.getpid(), signal.SIGKILL), before=before, at_step=kill_at)
sim.run()
"""


def table_rows(run_dir) -> list[tuple]:
    conn = sqlite3.connect(run_dir / "events.sqlite")
    rows = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in ("events", "agents", "edges")}
    conn.close()
    return rows


def assert_same_run(a, b, context: str) -> None:
    rows_a, rows_b = table_rows(a), table_rows(b)
    for table in rows_a:
        assert rows_a[table] == rows_b[table], f"{table} differ ({context})"
    for name in ("metrics.csv", "agent_metrics.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs ({context})"


def kill_and_resume(path, run_dir, kill_at: int, before: str, env=None, cli: bool = False) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(run_dir), str(kill_at), before],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "running" and info["steps_completed"] == kill_at
    assert not (run_dir / "metrics.csv").exists()
    if cli:
        result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
        assert result.exit_code == 0, result.output
    else:
        Simulation.resume(run_dir).run()


def folder_bytes(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write(tmp_path, scenario: dict):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def test_sigkill_and_resume_is_exact_offline(tmp_path):
    kill_at = random.Random().randint(1, 6)
    scenario = merge(SMALL_SCENARIO, {
        "simulation": {"steps": 7, "checkpoint_every": 2},
        "recommender": {"name": "mf", "params": {"dim": 8}},
        "interventions": [{"kind": "rewire", "at_step": 2, "share": 0.2},
                          {"kind": "set_traits", "at_step": 1, "agents": "all", "share": 0.5, "conformity": 0.9},
                          {"kind": "switch_recommender", "at_step": 4, "rerankers": [{"name": "mmr"}]}]})
    path = write(tmp_path, scenario)
    whole = Simulation.from_yaml(path, out=tmp_path / "whole").run().run_dir
    kill_and_resume(path, tmp_path / "killed", kill_at, "record", cli=True)
    assert_same_run(whole, tmp_path / "killed", f"killed in step {kill_at}")
    info = json.loads((tmp_path / "killed" / "run.json").read_text())
    assert info["status"] == "completed" and info["resumed_from_step"] == [kill_at // 2 * 2]


def test_sigkill_and_resume_is_exact_against_the_llm_server(tmp_path, monkeypatch):
    kill_at = random.Random().randint(1, 4)
    monkeypatch.setenv("RECAGENT_TEST_KEY", "sk-test-resume-1234")
    with LLMServer() as server:
        def scenario(cache):
            return merge(SMALL_SCENARIO, {
                "dataset": {"users": 25},
                "simulation": {"steps": 5, "checkpoint_every": 2},
                "llm": {"provider": "openai", "model": "stand-in", "base_url": server.url,
                        "api_key_env": "RECAGENT_TEST_KEY", "timeout": 5, "max_retries": 1, "backoff": 0.01,
                        "cache": str(cache), "feeling_share": 0.3,
                        "memory": {"enabled": True, "reflection_threshold": 15}}})

        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        whole = Simulation.from_yaml(write(tmp_path / "a", scenario(tmp_path / "a" / "cache.sqlite")),
                                     out=tmp_path / "whole").run().run_dir
        calls_whole = server.count
        kill_and_resume(write(tmp_path / "b", scenario(tmp_path / "b" / "cache.sqlite")), tmp_path / "killed",
                        kill_at, "remember", env=dict(os.environ))
    assert_same_run(whole, tmp_path / "killed", f"killed in step {kill_at}")
    # the chromadb store holds what an uninterrupted run's does
    from recagent.memory.store import LongTermStore

    ids = [sorted(LongTermStore(r / "memory").collection.get(include=[])["ids"]) for r in (whole, tmp_path / "killed")]
    assert ids[0] == ids[1] and ids[0]
    usage = [json.loads((r / "run.json").read_text())["llm"] for r in (whole, tmp_path / "killed")]
    assert usage[0]["calls"] == usage[1]["calls"] > 0 and usage[0]["cache_hits"] == usage[1]["cache_hits"]
    assert server.count - calls_whole >= calls_whole  # the lost steps' prompts were asked again, none skipped


def test_resume_refuses_a_changed_scenario_an_other_version_and_a_missing_checkpoint(tmp_path):
    path = write(tmp_path, merge(SMALL_SCENARIO, {"simulation": {"steps": 4, "checkpoint_every": 1}}))
    sim = Simulation.from_yaml(path, out=tmp_path / "run")
    sim.run(steps=2)
    run_dir = sim.run_dir
    checkpoint = run_dir / "checkpoint" / "state" / "manifest.json"
    resolved = run_dir / "scenario.resolved.yaml"
    original = resolved.read_text()
    resolved.write_text(original.replace("seed: 3", "seed: 4"))
    with pytest.raises(UserError, match="scenario changed"):
        Simulation.resume(run_dir)
    resolved.write_text(original)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data.replace(b'"recagent": "', b'"recagent": "9', 1))
    with pytest.raises(UserError, match="re-run from step 0 or use recagent 9"):
        Simulation.resume(run_dir)
    checkpoint.write_bytes(data)
    with pytest.raises(UserError, match="less than the 2 steps"):
        Simulation.resume(run_dir, steps=1)
    resumed = Simulation.resume(run_dir, steps=5)  # a longer run than planned
    resumed.run()
    assert resumed.info["steps_completed"] == 5 and resumed.info["status"] == "completed"
    plain = Simulation.from_yaml(write(tmp_path, SMALL_SCENARIO), out=tmp_path / "plain")
    plain.step()
    with pytest.raises(UserError, match="no checkpoint"):
        Simulation.resume(plain.run_dir)


def test_a_checkpoint_is_replaced_whole(tmp_path, monkeypatch):
    """A write that dies half-way leaves the previous checkpoint as it was."""
    from recagent.simulation import checkpoint as ckpt

    sim = Simulation.from_dict(merge(SMALL_SCENARIO, {"simulation": {"checkpoint_every": 1}}), out=tmp_path / "run")
    sim.step()
    before = folder_bytes(sim.run_dir / "checkpoint")
    assert sorted(before) == ["state/arrays.npz", "state/manifest.json", "state/state.json"]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", broken_replace)
    with pytest.raises(OSError):
        sim.step()
    assert folder_bytes(sim.run_dir / "checkpoint") == before  # no temp folder left either


def test_cli_resume_errors_are_one_line(tmp_path):
    runner = CliRunner()
    for args in (["run"], ["run", "--resume", str(tmp_path / "nowhere")], ["run", "x.yaml", "--resume", str(tmp_path)],
                 ["run", "--resume", str(tmp_path), "--seed", "3"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit), args
        assert result.output.count("error:") == 1 and "Traceback" not in result.output, result.output
