"""Words a reader trips on mean one thing: strategy labels, switches, searches."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml
from rich.console import Console

from recagent.agents.persona import describe
from recagent.recommenders.label import strategy_label
from recagent.scenario import RerankerSpec
from recagent.simulation.interventions import reranker_change
from recagent.simulation.runner import run_scenario


def test_strategy_label_is_what_compare_takes():
    from recagent.sweep.strategy import parse_strategy

    label = strategy_label("mf", {"dim": 16}, [("mmr", {"lambda": 0.5}), RerankerSpec(name="random_k", params={"every": 4})])
    assert label == "mf(dim=16)+mmr(lambda=0.5)+random_k(every=4)"
    parsed = parse_strategy(label)
    assert (parsed.name, parsed.params, parsed.rerankers) == ("mf", {"dim": 16}, [("mmr", {"lambda": 0.5}),
                                                                                 ("random_k", {"every": 4})])
    assert strategy_label("popular") == "popular"
    assert strategy_label("content", {"features": "genres", "normalise": True}) == "content(features=genres,normalise=true)"



def test_reranker_change_names_what_happened():
    mmr = [("mmr", {"lambda": 0.5})]
    assert reranker_change(mmr, []) == "dropped"
    assert reranker_change(mmr, [RerankerSpec(name="mmr", params={"lambda": 0.5})]) == "kept"
    assert reranker_change(mmr, [("mmr", {"lambda": 0.7})]) == "replaced"
    assert reranker_change([], []) == "none"


@pytest.fixture(scope="module")
def switched_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words")
    scenario = {
        "name": "words", "seed": 4,
        "dataset": {"kind": "synthetic", "users": 40, "items": 120, "history_length": 15},
        "recommender": {"name": "popular", "rerankers": [{"name": "random_k", "params": {"every": 2}}]},
        "feedback": {"model": "bias"},
        "simulation": {"steps": 6, "activation": {"kind": "all"}},
        "agents": {"roles": {"Explorer": 1.0}},  # explorers search a lot
        "interventions": [{"kind": "switch_recommender", "at_step": 2, "name": "random"},
                          {"kind": "switch_recommender", "at_step": 4,
                           "rerankers": [{"name": "mmr", "params": {"lambda": 0.5}}]}],
    }
    path = folder / "words.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    run_dir = run_scenario(path, out=folder / "run", progress=False, console=Console(quiet=True)).run_dir
    con = sqlite3.connect(run_dir / "events.sqlite")
    events = [(step, kind, json.loads(p)) for step, kind, p in con.execute("SELECT step, kind, payload FROM events")]
    agents = [(name, json.loads(p)) for name, p in con.execute("SELECT name, persona FROM agents")]
    con.close()
    return run_dir, events, agents


def test_a_switch_says_what_it_replaced_and_pages_name_the_full_strategy(switched_run):
    _, events, _ = switched_run
    switches = [p for _, kind, p in events if kind == "intervention"]
    assert switches == [
        {"kind": "switch_recommender", "previous": "popular+random_k(every=2)", "recommender": "random",
         "rerankers": "dropped"},
        {"kind": "switch_recommender", "previous": "random", "recommender": "random+mmr(lambda=0.5)",
         "rerankers": "replaced"},
    ]
    served = {step: p["recommender"] for step, kind, p in events if kind == "page"}
    assert {served[s] for s in served if s < 2} == {"popular+random_k(every=2)"}
    assert {served[s] for s in served if 2 <= s < 4} == {"random"}
    assert {served[s] for s in served if s >= 4} == {"random+mmr(lambda=0.5)"}


def test_every_search_says_what_was_searched_for(switched_run):
    _, events, _ = switched_run
    searches = [p for _, kind, p in events if kind == "search"]
    assert searches and all("query" in p for p in searches)
    assert all(p["reason"] in ("already watched", "heard of nothing") for p in searches if not p["found"])
    assert all(p["query"] for p in searches if p["found"] or p["reason"] == "already watched")


def test_persona_descriptions_are_written_from_their_favourite_genres(switched_run):
    _, _, agents = switched_run
    for name, persona in agents:
        assert persona["favourite_genres"], name
        assert persona["description"] == describe("", persona["favourite_genres"]), (name, persona)


def test_run_json_names_the_full_strategy_and_every_switch(switched_run):
    run_dir, _, _ = switched_run
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["recommender"] == "popular+random_k(every=2)"
    assert info["recommender_switches"] == [
        {"step": 2, "from": "popular+random_k(every=2)", "to": "random", "rerankers": "dropped"},
        {"step": 4, "from": "random", "to": "random+mmr(lambda=0.5)", "rerankers": "replaced"},
    ]
