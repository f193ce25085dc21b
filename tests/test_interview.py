"""`recagent interview`: answers from persona and memories, offline and through the stand-in LLM server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from recagent.cli import app
from recagent.simulation import run_scenario

from .llm_server import LLMServer

runner = CliRunner()


def test_offline_interview_answers_from_events(scenario_file, tmp_path):
    run_scenario(scenario_file(), out=tmp_path / "run", progress=False, steps=3)
    result = runner.invoke(app, ["interview", str(tmp_path / "run"), "2", "What have you been watching?"])
    assert result.exit_code == 0, result.output
    assert "(agent 2, offline)" in result.output
    line = json.loads((tmp_path / "run" / "interviews" / "interviews.jsonl").read_text().splitlines()[-1])
    assert line["agent_id"] == 2 and line["backend"] == "offline" and line["source"] == "offline"
    assert line["memories"] and line["memories"][0] in line["answer"]  # newest own event first
    assert all(m[:4] == "2024" for m in line["memories"])


def test_interview_errors_are_one_line_exit_2(scenario_file, tmp_path):
    run_scenario(scenario_file(), out=tmp_path / "run", progress=False, steps=1)
    bad_agent = runner.invoke(app, ["interview", str(tmp_path / "run"), "4000", "hi"])
    assert bad_agent.exit_code == 2 and "agent 4000 is not in this run" in bad_agent.output
    not_a_run = runner.invoke(app, ["interview", str(tmp_path), "1", "hi"])
    assert not_a_run.exit_code == 2 and "no events.sqlite" in not_a_run.output


def test_interview_through_the_llm_uses_memory_from_chromadb(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path / "cache"))
    with LLMServer() as server:
        llm = {"provider": "openai", "base_url": server.url, "timeout": 3, "max_retries": 1, "backoff": 0.01,
               "feeling_share": 0.5, "memory": {"enabled": True}}
        run = run_scenario(scenario_file({"llm": llm}), out=tmp_path / "run", progress=False, steps=3)
        memory = run.model.memory
        agent = next(a for a in sorted(memory.short) if memory.short[a])
        before = server.count
        # the endpoint comes from the run folder: not used until the person says they trust it
        refused = runner.invoke(app, ["interview", str(tmp_path / "run"), str(agent), "Which film moved you most?"])
        assert refused.exit_code == 2 and "--trust-run-llm" in refused.output and server.count == before
        result = runner.invoke(app, ["interview", str(tmp_path / "run"), str(agent), "Which film moved you most?",
                                     "--trust-run-llm"])
        assert result.exit_code == 0, result.output
        assert server.count == before + 1
        prompt = server.requests[-1]["messages"][-1]["content"]
    assert "Which film moved you most?" in prompt
    assert memory.short[agent][-1].text[:40] in prompt  # its memories, read back from chromadb
    line = json.loads((tmp_path / "run" / "interviews" / "interviews.jsonl").read_text().splitlines()[-1])
    assert line["source"] == "llm", line["error"]
    assert "openai:" in result.output and "I have watched a few good films" in result.output
