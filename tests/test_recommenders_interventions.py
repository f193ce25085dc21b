"""Interventions: switching recommender or re-rankers, rewiring the graph, changing traits, at step t."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from recagent.errors import UserError
from recagent.scenario_loading import load_scenario
from recagent.simulation import build_model, load_dataset, run_scenario


def page_recommenders(run_dir):
    con = sqlite3.connect(run_dir / "events.sqlite")
    rows = con.execute("SELECT step, payload FROM events WHERE kind = 'page'").fetchall()
    return {(step, json.loads(p)["recommender"]) for step, p in rows}


def test_switch_reranker_then_recommender_at_their_steps(scenario_file, tmp_path):
    path = scenario_file({
        "recommender": {"name": "popular", "rerankers": [{"name": "random_k", "params": {"every": 2}}]},
        "simulation": {"steps": 6, "activation": {"kind": "all"}},
        "interventions": [
            {"at_step": 2, "kind": "switch_recommender", "rerankers": [{"name": "mmr", "params": {"lambda": 0.3}}]},
            {"at_step": 4, "kind": "switch_recommender", "name": "itemcf"},
        ]})
    run_dir = run_scenario(path, out=tmp_path / "run", progress=False).run_dir
    by_step = {}
    for step, name in page_recommenders(run_dir):
        by_step.setdefault(step, set()).add(name)
    assert by_step[0] == by_step[1] == {"popular+random_k(every=2)"}  # the full strategy, as run.json names it
    assert by_step[2] == by_step[3] == {"popular+mmr(lambda=0.3)"}  # the base stays, the re-ranker changes
    assert by_step[4] == by_step[5] == {"itemcf"}  # a new name drops the re-rankers


def test_rewire_moves_a_share_of_edges_towards_dissimilar_users(scenario_file):
    scenario = load_scenario(scenario_file({"interventions": [
        {"at_step": 1, "kind": "rewire", "share": 0.5, "dissimilar": 0.2}]}))
    model = build_model(scenario, load_dataset(scenario))
    unit = model.world.taste / np.linalg.norm(model.world.taste, axis=1, keepdims=True)
    before = {tuple(sorted(e)) for e in model.graph.edges()}
    sim_before = np.mean([unit[u] @ unit[v] for u, v in before])
    model.step()
    assert {tuple(sorted(e)) for e in model.graph.edges()} == before  # nothing at step 0
    model.step()
    after = {tuple(sorted(e)) for e in model.graph.edges()}
    event = [e for e in model.step_events if e.kind == "intervention"][0]
    assert event.payload["kind"] == "rewire"
    n = event.payload["rewired"]
    assert n == round(0.5 * len(before)) and len(after) == len(before)
    assert 0.9 * n <= len(after - before) <= n  # a later pick may restore an edge removed earlier
    assert np.mean([unit[u] @ unit[v] for u, v in after]) < sim_before
    assert all("closeness" in model.graph.edges[e] for e in after)


def test_set_traits_for_a_group_at_its_step(scenario_file):
    raw = [int(u) for u in load_dataset(load_scenario(scenario_file())).users.raw_ids[:3]]
    scenario = load_scenario(scenario_file({"interventions": [
        {"at_step": 1, "kind": "set_traits", "agents": [f"user:{u}" for u in raw], "conformity": 1.0,
         "activity": 0.0}]}))
    model = build_model(scenario, load_dataset(scenario))
    agents = [model.agent_of_user[model.dataset.users.index_of(u)] for u in raw]
    before = model.world.conformity.copy()
    model.step()
    assert np.array_equal(model.world.conformity, before)
    model.step()
    assert (model.world.conformity[agents] == 1.0).all() and (model.world.activity[agents] == 0.0).all()
    others = np.setdiff1d(np.arange(model.n_agents), agents)
    assert np.array_equal(model.world.conformity[others], before[others])
    assert model.agent_list[agents[0]].persona.conformity == 1.0
    for _ in range(3):  # activity 0: they never act again
        model.step()
        assert not {e.agent_id for e in model.step_events if e.kind in ("page", "chat", "post", "search")} & set(agents)


def test_intervention_errors_name_the_field(scenario_file):
    with pytest.raises(UserError, match=r"interventions\[0\]\.rerankers\[0\]\.name.*unknown re-ranker 'nope'"):
        load_scenario(scenario_file({"interventions": [
            {"at_step": 1, "kind": "switch_recommender", "rerankers": [{"name": "nope"}]}]}))
    with pytest.raises(UserError, match=r"recommender\.rerankers\[0\]\.name"):
        load_scenario(scenario_file({"recommender": {"name": "mf", "rerankers": [{"name": "mmmr"}]}}))
    with pytest.raises(UserError, match=r"interventions\[0\]"):
        load_scenario(scenario_file({"interventions": [{"at_step": 1, "kind": "switch_recommender"}]}))
    with pytest.raises(UserError, match=r"interventions\[0\]\.share"):
        load_scenario(scenario_file({"interventions": [{"at_step": 1, "kind": "rewire", "share": 2}]}))
    scenario = load_scenario(scenario_file({"interventions": [
        {"at_step": 1, "kind": "set_traits", "agents": [99999], "conformity": 0.5}]}))
    with pytest.raises(UserError, match=r"interventions\[0\]\.agents.*agent 99999 is not an agent of this run.*ids 0 to"):
        build_model(scenario, load_dataset(scenario))
