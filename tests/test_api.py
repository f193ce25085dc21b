"""The Python API: a notebook-style session, read-only state, hooks, load_run, the example script."""

from __future__ import annotations

import runpy
import sqlite3

import networkx as nx
import pandas as pd
import pytest

import recagent
from recagent import Simulation, UserError, load_run

from .conftest import ROOT, SMALL_SCENARIO, merge


def test_notebook_session_from_dict(tmp_path):
    """A scenario from a dict, five steps, the recommender changed through the API, the rest of the
    run, then events and metrics as DataFrames."""
    sim = Simulation.from_dict(merge(SMALL_SCENARIO, {"simulation": {"steps": 8}}), out=tmp_path / "run")
    for n in range(5):
        state = sim.step()
        assert state.step == n + 1
    assert sim.state.recommender == "popular" and sim.steps_left == 3
    sim.set_recommender("mf", {"dim": 8})
    assert sim.state.recommender == "popular"  # takes effect with the next step
    sim.run()
    assert sim.finished and sim.state.recommender.startswith("mf") and sim.info["status"] == "completed"

    run = load_run(sim.run_dir)
    events, metrics = run.events, run.metrics
    assert isinstance(events, pd.DataFrame) and isinstance(metrics, pd.DataFrame)
    assert len(metrics) == 8 and metrics["step"].tolist() == list(range(8))
    switch = events[events.kind == "intervention"]
    new = sim.state.recommender  # "mf" with its params
    assert switch.step.tolist() == [5] and switch.recommender.tolist() == [new]
    pages = events[events.kind == "page"]
    assert set(pages[pages.step < 5].recommender) == {"popular"} and set(pages[pages.step >= 5].recommender) == {new}
    watches = events[events.kind == "watch"]
    assert watches.rating.between(1, 5).all() and watches.p_like.between(0, 1).all()  # payload expanded
    assert metrics["watches"].sum() == len(watches)
    assert len(run.agent_metrics) == len(run.agents) == 40 and "occupation" in run.agents.columns
    assert len(run.items) == 120 and isinstance(run.items.genres[0], list)
    assert len(run.edges) == sim.state.graph.number_of_edges() and run.info["steps_completed"] == 8
    with sqlite3.connect(sim.run_dir / "events.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == len(events)
    with pytest.raises(UserError, match="finished"):
        sim.step()


def test_state_is_read_only(tmp_path):
    sim = Simulation.from_dict(SMALL_SCENARIO, out=tmp_path / "run")
    sim.step()
    state = sim.state
    with pytest.raises(ValueError):
        state.busy_until[0] = 99.0
    with pytest.raises(ValueError):
        state.activity[:] = 1.0
    with pytest.raises(nx.NetworkXError):
        state.graph.add_edge(0, 39)
    assert state.n_agents == 40 and state.counters["active"] > 0
    assert len(state.user_ids) == 40 and state.watched_genres.shape == (40, len(state.genre_names))
    watched = [a for a in range(40) if state.watches(a)]
    assert watched and all(1 <= r <= 5 for a in watched for _, r in state.watches(a))


def test_hooks_run_before_their_phase(tmp_path):
    sim = Simulation.from_dict(SMALL_SCENARIO, out=tmp_path / "run")
    seen = []
    sim.schedule(lambda m: seen.append(("social", m.world.step_index, len(m.world.step_events))), before="social",
                 at_step=2)
    sim.schedule(lambda m: seen.append(("every", m.world.step_index)), before="activate")
    sim.run(steps=3)
    assert [s for s in seen if s[0] == "every"] == [("every", 0), ("every", 1), ("every", 2)]
    social = [s for s in seen if s[0] == "social"]
    assert len(social) == 1 and social[0][1] == 2 and social[0][2] > 0  # browse events of step 2 came first
    with pytest.raises(UserError, match="phases"):
        sim.schedule(print, before="lunch")
    sim.finish("stopped")
    assert load_run(sim.run_dir).info["status"] == "stopped" and len(load_run(sim.run_dir).metrics) == 3


def test_construction_errors(tmp_path):
    with pytest.raises(TypeError, match="from_dict"):
        Simulation(dict(SMALL_SCENARIO))
    with pytest.raises(UserError, match="scenario file not found"):
        Simulation.from_yaml(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="recommender.name"):
        Simulation.from_dict(merge(SMALL_SCENARIO, {"recommender": {"name": "nope"}}), out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # nothing written for a bad scenario
    # the API runs the same preflight as `recagent run`, before anything is built: an output folder
    # that is a file is refused with one line
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(UserError, match="a-file"):
        Simulation.from_dict(SMALL_SCENARIO, out=tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "mine"
    with pytest.raises(UserError, match="not a run folder"):
        load_run(tmp_path)


def test_package_exports_public_names_with_docstrings():
    for name in recagent.__all__:
        value = getattr(recagent, name)
        assert name == "__version__" or (value.__doc__ and value.__doc__.strip()), name
    assert recagent.Simulation.from_yaml.__doc__ and recagent.load_run.__doc__


def test_example_notebook_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "notebook.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "status: completed" in out and "intervention" in out and "mean_genre_entropy" in out


def test_same_scenario_same_events_through_api_and_runner(tmp_path):
    import yaml

    from recagent.simulation import run_scenario

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SMALL_SCENARIO))
    a = run_scenario(path, out=tmp_path / "a", progress=False).run_dir
    b = Simulation.from_yaml(path, out=tmp_path / "b").run().run_dir
    cols = ["step", "agent_id", "kind", "item_id", "target_agent_id"]
    pd.testing.assert_frame_equal(load_run(a).events[cols], load_run(b).events[cols])
    pd.testing.assert_frame_equal(load_run(a).metrics, load_run(b).metrics)
