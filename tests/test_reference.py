"""The generated reference pages agree with the code, and with what a real run writes."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import defaultdict

import pytest
from rich.console import Console

from recagent import reference
from recagent.simulation.events import EVENT_KINDS
from recagent.simulation.runner import run_scenario


def test_committed_pages_match_the_code(capsys):
    """Fails when a scenario field, column or event was changed without `python -m recagent.reference`."""
    assert reference.main(["--check"]) == 0, capsys.readouterr().err


def test_every_scenario_field_has_a_description():
    assert reference.undocumented_fields() == []


def test_scenario_page_lists_every_field_with_its_default():
    page = reference.scenario_reference()
    from recagent.scenario import BehaviourSpec, LLMSpec, MetricsSpec

    for model in (BehaviourSpec, LLMSpec, MetricsSpec):
        for name, _info in model.model_fields.items():
            assert f"| `{name}` |" in page, name
    assert "| `feeling_share` | number | `0.05` | ≥ 0, ≤ 1 |" in page
    assert "## recommender.rerankers[]" in page and "## interventions[] (kind: set_traits)" in page


def test_check_reports_a_stale_page(tmp_path, capsys):
    for name, text in reference.pages().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert reference.main(["--check", "--docs", str(tmp_path)]) == 0
    (tmp_path / reference.SCENARIO_PAGE).write_text("# stale\n", encoding="utf-8")
    assert reference.main(["--check", "--docs", str(tmp_path)]) == 1
    assert reference.SCENARIO_PAGE in capsys.readouterr().err


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A small run that exercises every event kind: the scripted LLM backend (chats with a
    listener's answer, feelings, per-step usage), every intervention kind, a re-ranked recommender."""
    import yaml

    folder = tmp_path_factory.mktemp("reference_run")
    scenario = {
        "name": "reference", "seed": 5,
        "dataset": {"kind": "synthetic", "users": 40, "items": 120, "history_length": 15},
        "social": {"graph": "homophily", "degree": 6},
        "recommender": {"name": "popular", "rerankers": [{"name": "random_k", "params": {"every": 2}}]},
        "feedback": {"model": "bias"},
        "llm": {"provider": "fake", "feeling_share": 0.5, "memory": {"enabled": False}, "cache": False},
        "simulation": {"steps": 6, "activation": {"kind": "all"}},
        "interventions": [
            {"kind": "switch_recommender", "at_step": 1, "name": "random"},
            {"kind": "inject_post", "at_step": 2, "agent": 3, "item": 7, "text": "You have to see this"},
            {"kind": "rewire", "at_step": 3, "share": 0.2},
            {"kind": "set_traits", "at_step": 4, "agents": "all", "conformity": 0.9},
        ],
    }
    path = folder / "reference.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return run_scenario(path, out=folder / "run", progress=False, console=Console(quiet=True)).run_dir


def _header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def test_metrics_columns_are_the_documented_ones(full_run):
    assert _header(full_run / "metrics.csv") == [c[0] for c in reference.METRICS_COLUMNS]
    assert {c[2] for c in reference.METRICS_COLUMNS} <= {"step", "so far", "window"}


def test_agent_metrics_columns_are_the_documented_ones(full_run):
    assert _header(full_run / "agent_metrics.csv") == [c[0] for c in reference.AGENT_METRICS_COLUMNS]


def test_every_event_kind_and_payload_key_is_documented(full_run):
    assert set(EVENT_KINDS) == set(reference.EVENTS)
    con = sqlite3.connect(full_run / "events.sqlite")
    columns = [row[1] for row in con.execute("PRAGMA table_info(events)")]
    assert tuple(columns) == reference.EVENT_COLUMNS
    seen: dict[str, set[str]] = defaultdict(set)
    for kind, payload in con.execute("SELECT kind, payload FROM events"):
        seen[kind] |= set(json.loads(payload))
    con.close()
    # the run produced every kind, so the check below covers all of them
    assert set(seen) == set(EVENT_KINDS)
    undocumented = {kind: sorted(keys - set(reference.EVENTS[kind][2])) for kind, keys in seen.items()}
    assert {k: v for k, v in undocumented.items() if v} == {}


def test_role_play_event_kinds_and_keys_are_documented(tmp_path):
    """A scripted person browses and rates, chats, posts and searches: every kind and payload key of
    that run is in the reference (ordinary kinds, plus the role-play kinds and keys)."""
    import threading

    from recagent import Simulation
    from recagent.simulation.roleplay import RolePlay

    scenario = {"name": "played", "seed": 1, "dataset": {"kind": "synthetic", "users": 30, "items": 100},
                "recommender": {"name": "popular", "retrain_every": 1}, "feedback": {"model": "bias"},
                "simulation": {"steps": 4}, "roleplay": {"agents": [0], "turn_timeout_s": 30, "chat_turns": 1}}
    sim = Simulation.from_dict(scenario, out=tmp_path / "live")
    play = RolePlay(sim.model, "live").attach()
    done = []

    def person():
        for step in range(4):
            state = play.wait_for_turn(0, step)
            if step == 0:
                first = play.submit(0, {"do": "page", "page": 0})["items"][0]
                play.submit(0, {"do": "watch", "item": first["id"], "rating": 5})
                play.submit(0, {"do": "leave"})
            elif step == 1:
                play.submit(0, {"do": "chat", "friend": state["friends"][0]["id"], "text": "seen it?"})
            elif step == 2:
                play.submit(0, {"do": "post", "text": "a good one"})
            else:
                found = play.submit(0, {"do": "find", "query": "a"})["items"][0]
                play.submit(0, {"do": "search", "query": "a", "item": found["id"], "rating": 2})
        done.append(True)

    threading.Thread(target=person, daemon=True).start()
    sim.run()
    play.finish()
    assert done
    documented = {**reference.EVENTS, **reference.ROLEPLAY_EVENTS}
    con = sqlite3.connect(sim.run_dir / "events.sqlite")
    seen: dict[str, set[str]] = defaultdict(set)
    for kind, payload in con.execute("SELECT kind, payload FROM events"):
        seen[kind] |= set(json.loads(payload))
    human = {kind for (kind,) in con.execute("SELECT kind FROM events WHERE payload LIKE '%\"source\":\"human\"%'")}
    con.close()
    assert {"page", "watch", "leave", "chat", "post", "search", "turn"} <= human
    assert {"turn", "recommender_update", "hear"} <= set(seen)
    assert set(seen) <= set(documented)
    undocumented = {kind: sorted(keys - set(documented[kind][2]) - set(reference.ROLEPLAY_KEYS))
                    for kind, keys in seen.items()}
    assert {k: v for k, v in undocumented.items() if v} == {}
