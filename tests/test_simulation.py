"""The Mesa model: activation statistics, busy agents, act choice, determinism, one full run."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from recagent.cli import app
from recagent.scenario_loading import load_scenario
from recagent.simulation import EVENT_KINDS, build_model, load_dataset, run_scenario
from recagent.simulation.phases.activate import active_agents
from recagent.simulation.phases.acts import choose
from recagent.simulation.watching import decide

from .conftest import ROOT

runner = CliRunner()


def model_for(scenario_file, overrides=None):
    scenario = load_scenario(scenario_file(overrides))
    return build_model(scenario, load_dataset(scenario))


def test_pareto_activity_is_heavy_tailed_with_target_mean(scenario_file):
    model = model_for(scenario_file, {"dataset": {"users": 400},
                                      "simulation": {"activation": {"kind": "pareto", "probability": 0.2}}})
    p = model.world.activity
    assert p.mean() == pytest.approx(0.2, abs=0.01)
    assert np.median(p) < 0.75 * p.mean()  # most agents are quieter than average
    assert p.max() > 3 * np.median(p)
    # users with more ratings are more active (activity handed out by rank)
    n = np.array([len(model.history.items[u]) for u in model.users])
    assert np.corrcoef(n, p)[0, 1] > 0.3


def test_activation_share_and_cap(scenario_file):
    model = model_for(scenario_file, {"dataset": {"users": 400},
                                      "simulation": {"activation": {"kind": "random", "probability": 0.25}}})
    shares = [len(active_agents(model)) / 400 for _ in range(30)]
    assert np.mean(shares) == pytest.approx(0.25, abs=0.02)
    capped = model_for(scenario_file, {"simulation": {"activation": {"kind": "all", "max_active": 7}}})
    assert len(active_agents(capped)) == 7


def test_busy_agents_skip(scenario_file):
    model = model_for(scenario_file, {"simulation": {"activation": {"kind": "all"}}})
    model.world.busy_until[:10] = 5.0
    active = active_agents(model)
    assert not set(range(10)) & set(active.tolist()) and len(active) == model.n_agents - 10


def test_act_propensities_follow_roles(scenario_file):
    model = model_for(scenario_file, {"dataset": {"users": 300}, "simulation": {"activation": {"kind": "all"}}})
    chatters = [a.agent_id for a in model.agent_list if a.persona.roles == ["Chatter"]]
    others = [a.agent_id for a in model.agent_list if "Chatter" not in a.persona.roles]
    acts_c = np.concatenate([choose(model, np.array(chatters)) for _ in range(20)])
    acts_o = np.concatenate([choose(model, np.array(others)) for _ in range(20)])
    assert (acts_c == 2).mean() > 2 * (acts_o == 2).mean()


def test_word_of_mouth_raises_watch_probability(scenario_file):
    from recagent.agents.user_agent import Hearing

    model = model_for(scenario_file)
    agents = np.arange(model.n_agents)
    items = np.tile(np.arange(5), (model.n_agents, 1))
    before, *_ = decide(model, agents, items, "shown")
    for a in model.agent_list:
        a.hear(Hearing(item=0, source=1, step=0, sentiment="liked", closeness=1.0, via="chat"))
        a.hear(Hearing(item=1, source=1, step=0, sentiment="disliked", closeness=1.0, via="post"))
    after, *_ = decide(model, agents, items, "shown")
    assert (after[:, 0] >= before[:, 0]).all() and (after[:, 0] > before[:, 0]).any()
    assert (after[:, 1] <= before[:, 1]).all() and (after[:, 1] < before[:, 1]).any()
    np.testing.assert_allclose(after[:, 2:], before[:, 2:])


def events_bytes(run_dir):
    with sqlite3.connect(run_dir / "events.sqlite") as conn:
        rows = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    return repr(rows).encode()


def test_same_seed_same_event_log(scenario_file, tmp_path):
    path = scenario_file({"simulation": {"steps": 5}})
    a = run_scenario(path, out=tmp_path / "a", progress=False).run_dir
    b = run_scenario(path, out=tmp_path / "b", progress=False).run_dir
    c = run_scenario(path, out=tmp_path / "c", seed=99, progress=False).run_dir
    assert events_bytes(a) == events_bytes(b)
    assert events_bytes(a) != events_bytes(c)


def test_quickstart_full_run_via_cli(tmp_path):
    out = tmp_path / "qs"
    result = runner.invoke(app, ["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "watch" in result.output  # the summary table
    conn = sqlite3.connect(out / "events.sqlite")
    columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert columns == ["id", "step", "sim_time", "agent_id", "kind", "item_id", "target_agent_id", "payload"]
    counts = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind"))
    for kind in ("watch", "like", "chat", "post", "hear", "leave", "page"):
        assert counts.get(kind, 0) > 0, (kind, counts)
    assert set(counts) <= set(EVENT_KINDS)
    # every watch names a catalog item; likes and dislikes follow a watch of the same item
    items = {r[0] for r in conn.execute("SELECT item_id FROM items")}
    assert {r[0] for r in conn.execute("SELECT item_id FROM events WHERE kind='watch'")} <= items
    assert conn.execute("""SELECT COUNT(*) FROM events l WHERE l.kind IN ('like','dislike') AND NOT EXISTS
        (SELECT 1 FROM events w WHERE w.kind='watch' AND w.agent_id=l.agent_id AND w.item_id=l.item_id
         AND w.id < l.id)""").fetchone()[0] == 0
    # a hear goes to a contact of the speaker
    edges = {tuple(sorted(e)) for e in conn.execute("SELECT source, target FROM edges")}
    hears = conn.execute("SELECT agent_id, target_agent_id FROM events WHERE kind='hear'").fetchall()
    assert all(tuple(sorted(h)) in edges for h in hears)
    chat = json.loads(conn.execute("SELECT payload FROM events WHERE kind='chat' LIMIT 1").fetchone()[0])
    assert chat["backend"] == "offline" and chat["text"]
    n_agents = conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0]
    assert n_agents == 100

    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 20
    assert {"active_agents", "watches", "likes", "chats", "posts", "mean_genre_entropy"} <= set(metrics.columns)
    assert metrics["watches"].sum() == counts["watch"]
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed" and info["steps_completed"] == 20 and info["seed"] == 42
    assert info["counts"]["watch"] == counts["watch"] and info["llm"]["backend"] == "offline"
    assert "mesa" in info["versions"]
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["simulation"]["page_size"] == 4 and resolved["seed"] == 42


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt, "interrupted"), (RuntimeError, "failed")])
def test_interrupted_or_failed_run_keeps_completed_steps(scenario_file, tmp_path, monkeypatch, error, status):
    from recagent.simulation.model import RecSimModel

    original = RecSimModel.step

    def step(self):
        if self.step_index == 3:
            raise error("stopped at step 3")
        original(self)

    monkeypatch.setattr(RecSimModel, "step", step)
    with pytest.raises(error):
        run_scenario(scenario_file(), out=tmp_path / "run", progress=False)
    conn = sqlite3.connect(tmp_path / "run" / "events.sqlite")
    assert [r[0] for r in conn.execute("SELECT DISTINCT step FROM events ORDER BY step")] == [0, 1, 2]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == status and info["steps_completed"] == 3
    assert info.get("error") == (None if status == "interrupted" else "RuntimeError: stopped at step 3")
    assert len(pd.read_csv(tmp_path / "run" / "metrics.csv")) == 3


def test_interventions_switch_and_inject(scenario_file, tmp_path):
    path = scenario_file({"interventions": [
        {"kind": "switch_recommender", "at_step": 2, "name": "random"},
        {"kind": "inject_post", "at_step": 1, "agent": 1, "item": 5, "text": "Everyone must see this!"},
    ]})
    run_dir = run_scenario(path, out=tmp_path / "run", progress=False).run_dir
    conn = sqlite3.connect(run_dir / "events.sqlite")
    recs = dict(conn.execute("SELECT step, json_extract(payload, '$.recommender') FROM events WHERE kind='page'"))
    assert all(v == "popular" for s, v in recs.items() if s < 2) and all(v == "random" for s, v in recs.items() if s >= 2)
    post = conn.execute("SELECT step, item_id, payload FROM events WHERE kind='post' AND "
                        "json_extract(payload, '$.text') = 'Everyone must see this!'").fetchone()
    assert post[0] == 1 and post[1] == 5
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind='hear' AND step=1 AND item_id=5").fetchone()[0] \
        == json.loads(post[2])["recipients"] > 0


def test_movielens_cocoon_scenario_runs(tmp_path):
    from .conftest import SHARED_DATA

    if not (SHARED_DATA / "ml-100k" / "u.data").exists():
        pytest.skip("reference data ../shared/data/ml-100k is not on this machine")
    result = run_scenario(ROOT / "scenarios" / "movielens_cocoon.yaml", out=tmp_path / "ml", progress=False)
    assert result.info["agents"] == 200 and result.info["steps_completed"] == 20
    assert result.info["counts"]["watch"] > 200


def test_watch_decisions_come_from_the_ensemble_by_default(tmp_path, scenario_file, monkeypatch):
    """The default feedback model is the ensemble, prepared into $RECAGENT_CACHE on first use, and
    a watch's P(like) is the ensemble's prediction for that user and item."""
    from recagent.data import History
    from recagent.scenario import FeedbackSpec

    assert FeedbackSpec().model == "ensemble"
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path / "cache"))
    path = scenario_file({"feedback": {"model": "ensemble", "params": {"sasrec_epochs": 2, "mf_factors": 4}},
                          "simulation": {"steps": 1, "activation": {"probability": 0.9}}})
    result = run_scenario(path, out=tmp_path / "run", progress=False)
    model = result.model
    assert model.feedback.name == "ensemble" and (tmp_path / "cache" / "ensemble").is_dir()
    conn = sqlite3.connect(result.run_dir / "events.sqlite")
    index_of = {int(raw): i for i, raw in enumerate(model.catalog.raw_ids)}
    watches = [(a, i, json.loads(p)) for a, i, p in
               conn.execute("SELECT agent_id, item_id, payload FROM events WHERE kind='watch' AND step=0")]
    searched = {a for a, _, p in watches if p["via"] == "search"}
    browse = [(int(model.users[a]), index_of[i], p["p_like"]) for a, i, p in watches
              if p["via"] == "recommender" and a not in searched]
    assert len(browse) >= 5
    users, items, p_like = (np.array(x) for x in zip(*browse))
    start = History.from_interactions(model.dataset.interactions, len(model.dataset.users))
    # a recommender page asks the shown question (recagent/feedback/exposure.py); payload: 4 decimals
    assert np.allclose(model.feedback.predict_shown(users, items, start)[0], p_like, atol=1e-4)


def test_a_phase_runs_alone_on_the_world(scenario_file):
    """The browse phase, called by itself: only the agents set to browse see pages, and what they
    watch lands in the world (history, genre counts, pending feedback for the learn phase)."""
    from recagent.simulation.phases import PHASES, browse, learn
    from recagent.simulation.phases.acts import BROWSE, NOTHING

    assert PHASES == ("activate", "acts", "browse", "search", "social", "remember", "learn", "measure", "record")
    model = model_for(scenario_file, {"simulation": {"behaviour": {"watch_scale": 1.0}}})
    world = model.world
    world.begin_step()
    world.active = np.arange(10)
    world.acts = np.where(world.active < 5, BROWSE, NOTHING)
    before = [len(world.history.items[u]) for u in world.users[:10]]
    browse.run(model)
    pages = {e.agent_id for e in world.step_events if e.kind == "page"}
    assert pages == {0, 1, 2, 3, 4}
    watched = [(e.agent_id, e.item_id) for e in world.step_events if e.kind == "watch"]
    assert watched and len(world.pending_feedback) == len(watched)
    assert {a for a, _ in watched} <= pages and world.watched_genres[5:].sum() == 0
    after = [len(world.history.items[u]) for u in world.users[:10]]
    assert sum(after) - sum(before) == len(watched) and after[5:] == before[5:]
    learn.run(model)  # retrain_every 1: the recommender took the feedback
    assert world.pending_feedback == []
