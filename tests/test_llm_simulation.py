"""Whole simulations against the stand-in OpenAI-compatible server: faults, cache replay, budget, key hygiene;
and offline runs with memory on keep the same event log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from recagent.errors import UserError
from recagent.simulation import run_scenario

from .llm_server import LLMServer

KEY = "sk-live-DO-NOT-LEAK-4242424242"


def llm_block(url, cache, **kw):
    block = {"provider": "openai", "model": "stand-in", "base_url": url, "api_key_env": "RECAGENT_TEST_KEY",
             "timeout": 0.5, "max_retries": 4, "backoff": 0.01, "max_concurrency": 16, "cache": str(cache),
             "feeling_share": 0.3, "memory": {"enabled": True, "reflection_threshold": 15}}
    block.update(kw)
    return block


def events(run_dir: Path, exclude=("llm",)) -> list[tuple]:
    conn = sqlite3.connect(run_dir / "events.sqlite")
    rows = conn.execute("SELECT step, agent_id, kind, item_id, target_agent_id, payload FROM events ORDER BY id").fetchall()
    conn.close()
    return [r for r in rows if r[2] not in exclude]


def assert_key_absent(run_dir: Path) -> None:
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_run_survives_20_percent_faults_and_replays_from_cache(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    cache = tmp_path / "llm_cache.sqlite"
    with LLMServer(fault_every=5, slow_seconds=0.8) as server:
        path = scenario_file({"llm": llm_block(server.url, cache)})
        first = run_scenario(path, out=tmp_path / "run1", progress=False)
        calls_after_first = server.count
        run_scenario(path, out=tmp_path / "run2", progress=False)
    # the server is gone: a re-run that the cache could answer whole still stops before its first step
    with pytest.raises(UserError, match=f"GET {server.url}/models failed: cannot connect"):
        run_scenario(path, out=tmp_path / "run3", progress=False)
    assert not (tmp_path / "run3").exists()

    info = json.loads((tmp_path / "run1" / "run.json").read_text())
    assert info["status"] == "completed" and info["steps_completed"] == 6
    llm = info["llm"]
    assert llm["backend"] == "openai:stand-in"
    assert llm["calls"] == calls_after_first > 20
    faults = [o for o in server.outcomes[:calls_after_first] if o != "ok"]
    assert len(faults) == calls_after_first // 5 and len(set(faults)) >= 4  # assorted faults, every 5th request
    assert llm["failures"] == len(faults) and llm["retries"] == len(faults) and llm["fallbacks"] == 0
    # every act ended one way: answered (a call that did not fail), fallen back, cached or budget-skipped
    assert llm["acts"] == llm["calls"] - llm["failures"] + llm["fallbacks"] + llm["cache_hits"] + llm["budget_skipped"]
    assert set(llm["calls_by_kind"]) <= {"chat", "post", "feeling", "reflection"}
    # nothing lost: every social act is in the log, one hear per chat, per-step usage events sum to run.json
    rows = events(tmp_path / "run1", exclude=())
    kinds = [r[2] for r in rows]
    assert kinds.count("chat") == first.model.datacollector.get_model_vars_dataframe()["chats"].sum() > 0
    assert kinds.count("feeling") > 0 and kinds.count("llm") == 6
    usage_events = [json.loads(r[5]) for r in rows if r[2] == "llm"]
    assert sum(u["calls"] for u in usage_events) == llm["calls"]
    assert sum(u["failures"] for u in usage_events) == llm["failures"]
    chats = [json.loads(r[5]) for r in rows if r[2] == "chat"]
    assert all(c["source"] == "llm" and "wants_to_watch" in c for c in chats)
    assert (tmp_path / "run1" / "memory").is_dir() and info["memory"]["kept"] > 0
    # the second run replays every prompt from the cache: zero calls, same events
    info2 = json.loads((tmp_path / "run2" / "run.json").read_text())
    assert server.count == calls_after_first and info2["llm"]["calls"] == 0
    assert info2["llm"]["cache_hits"] == llm["calls"] - llm["failures"]
    strip = lambda rows: [r[:5] + (json.dumps({k: v for k, v in json.loads(r[5]).items() if k != "source"}),)
                          for r in rows]
    assert strip(events(tmp_path / "run2")) == strip(events(tmp_path / "run1"))
    assert_key_absent(tmp_path / "run1")
    assert_key_absent(tmp_path / "run2")
    assert KEY.encode() not in cache.read_bytes()


def test_listener_who_wants_to_watch_hears_more_strongly(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    reply = lambda wants: json.dumps({"turns": [{"speaker": "a", "text": "watch it"}, {"speaker": "b", "text": "ok"}],
                                      "sentiment": "liked", "listener_wants_to_watch": wants})
    weights = {}
    for wants in (True, False):
        with LLMServer(responder=lambda prompt, w=wants: reply(w) if '"turns"' in prompt else
                       '{"text": "x", "sentiment": "liked", "feeling": "fine"}') as server:
            path = scenario_file({"llm": llm_block(server.url, tmp_path / f"c{wants}.sqlite", feeling_share=0,
                                                   memory={"enabled": False})}, name=f"s{wants}.yaml")
            result = run_scenario(path, out=tmp_path / f"run{wants}", progress=False, steps=2)
        hearings = [h for a in result.model.agent_list for hs in a.heard.values() for h in hs if h.via == "chat"]
        assert hearings
        weights[wants] = sum(h.closeness for h in hearings) / len(hearings)
    assert weights[True] > 3 * weights[False]  # x2 versus x0.5 of the same closeness distribution


def test_budget_stops_the_run_cleanly(scenario_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with LLMServer(script=[{"content": f"Incorrect API key provided: {KEY}"}]) as server:
        path = scenario_file({"llm": llm_block(server.url, tmp_path / "c.sqlite", budget={"max_calls": 8},
                                               memory={"enabled": False})})
        result = run_scenario(path, out=tmp_path / "run", progress=False)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "budget_exhausted" and info["steps_completed"] < 6
    assert "llm.budget.max_calls = 8" in info["message"]
    assert info["llm"]["calls"] == server.count == 8 and info["llm"]["budget_skipped"] > 0
    steps_logged = {r[0] for r in events(tmp_path / "run")}
    assert max(steps_logged) == info["steps_completed"] - 1  # the last step is complete in the log
    assert_key_absent(tmp_path / "run")
    assert result.model.backend.exhausted


def test_all_calls_failing_never_crashes_a_run(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with LLMServer(fault_every=1, faults=["500", "429", "malformed"]) as server:
        path = scenario_file({"llm": llm_block(server.url, tmp_path / "c.sqlite", max_retries=1,
                                               memory={"enabled": False})})
        run_scenario(path, out=tmp_path / "run", progress=False, steps=3)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "degraded"  # it ran to the end, and says its text is not the LLM's
    rows = [json.loads(r[5]) for r in events(tmp_path / "run") if r[2] in ("chat", "post", "feeling")]
    assert rows and all(r["source"] == "fallback" and r["text"] for r in rows)
    assert info["llm"]["fallbacks"] == info["llm"]["acts"] == len(rows) and info["llm"]["failures"] == 2 * len(rows)
    assert info["warning"].startswith(f"{len(rows)} of {len(rows)} LLM acts fell back to offline text (100%")


def test_offline_run_with_memory_keeps_the_same_events(scenario_file, tmp_path):
    plain = run_scenario(scenario_file(name="a.yaml"), out=tmp_path / "plain", progress=False)
    remembered = run_scenario(scenario_file({"llm": {"memory": {"enabled": True}}}, name="b.yaml"),
                              out=tmp_path / "mem", progress=False)
    assert events(tmp_path / "plain") == events(tmp_path / "mem")
    assert plain.info["llm"]["calls"] == remembered.info["llm"]["calls"] == 0
    assert remembered.info["memory"]["kept"] > 0
    from recagent.memory import LongTermStore

    memory = remembered.model.memory
    in_memory = sum(len(v) for v in memory.long.values()) + sum(len(v) for v in memory.short.values())
    assert LongTermStore(tmp_path / "mem" / "memory").count() == in_memory > 0
