"""`recagent calibrate behaviour`: the browse parameters recovered from synthetic impression logs drawn
with known values, and broken logs refused with one line naming file, line and column."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from recagent.behaviour import browse_pages, fit_behaviour, read_impressions, synthetic_log
from recagent.cli import app
from recagent.errors import UserError
from recagent.scenario import BehaviourSpec, SimulationSpec

runner = CliRunner()
TOLERANCE = 0.03  # absolute, on every fitted parameter, with 8,000 visits (standard errors are 0.004-0.008)

FLOORED = BehaviourSpec(watch_scale=0.7, position_decay=0.25, min_position_factor=0.3, continue_if_nothing=0.7,
                        continue_if_watched=0.2)


def calibrate(*args: str):
    return runner.invoke(app, ["calibrate", "behaviour", *args])  # the real CLI, whose handler prints user errors


@pytest.mark.parametrize("truth, page_size, floor_identified", [(BehaviourSpec(), 4, False), (FLOORED, 6, True)])
def test_fit_recovers_known_parameters(tmp_path, truth, page_size, floor_identified):
    path = tmp_path / "log.csv"
    synthetic_log(truth, 8000, page_size=page_size, pages=3, seed=11).to_csv(path, index=False)
    result = calibrate("--log", str(path), "--out", str(tmp_path / "behaviour.yaml"))
    assert result.exit_code == 0, result.output
    block = yaml.safe_load((tmp_path / "behaviour.yaml").read_text())["behaviour"]
    fitted = SimulationSpec(behaviour=block).behaviour  # pastes under `simulation:` as it is
    for name in ("watch_scale", "position_decay", "continue_if_nothing", "continue_if_watched"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), abs=TOLERANCE), name
    fit = fit_behaviour(read_impressions(path))
    assert fit.fitted["min_position_factor"] is floor_identified
    if floor_identified:
        assert fitted.min_position_factor == pytest.approx(truth.min_position_factor, abs=TOLERANCE)
    else:  # positions 0..3 never reach a floor of 0.1: the default stays, and the file says so
        assert fitted.min_position_factor == truth.min_position_factor
        assert "min_position_factor: 0.1  # not identified" in (tmp_path / "behaviour.yaml").read_text()
    assert not fit.fitted["social_influence"] and fitted.social_influence == 1.0
    assert all(0 < fit.stderr[n] < 0.015 for n, done in fit.fitted.items() if done)


def test_a_constant_p_like_is_what_watch_scale_is_relative_to(tmp_path):
    """Without a p_like column, --p-like c fits watch_scale * c^2 to the watch rate:
    the truth's 0.45 * E[p^2] (Beta(2, 2): 0.3) / 0.6^2 = 0.375."""
    path = tmp_path / "log.tsv"
    synthetic_log(BehaviourSpec(), 8000, seed=5).drop(columns="p_like").to_csv(path, sep="\t", index=False)
    result = calibrate("--log", str(path), "--p-like", "0.6")
    assert result.exit_code == 0, result.output
    block = yaml.safe_load(result.stdout)["behaviour"]
    assert block["watch_scale"] == pytest.approx(0.45 * 0.3 / 0.36, abs=TOLERANCE)
    assert block["continue_if_nothing"] == pytest.approx(0.55, abs=TOLERANCE)
    assert "the constant --p-like 0.6" in result.stdout


def test_visits_at_the_page_cap_are_censored(tmp_path):
    """A visit that reached the last page did not choose to leave: counting it as leaving biases the
    continue probabilities down; with the cap known they are recovered."""
    truth = BehaviourSpec(continue_if_nothing=0.8, continue_if_watched=0.6)
    log = read_impressions(_written(tmp_path, synthetic_log(truth, 8000, pages=2, seed=3)))
    fit = fit_behaviour(log, max_pages=2)
    assert fit.behaviour.continue_if_nothing == pytest.approx(0.8, abs=TOLERANCE)
    assert fit.behaviour.continue_if_watched == pytest.approx(0.6, abs=TOLERANCE)
    wrong = fit_behaviour(log, max_pages=3)  # as if people could have gone on to a third page
    assert wrong.behaviour.continue_if_nothing < 0.8 - 0.2 and wrong.behaviour.continue_if_watched < 0.6 - 0.2
    one_page = read_impressions(_written(tmp_path, synthetic_log(truth, 500, pages=1, seed=3)))
    fit = fit_behaviour(one_page)  # single-page visits (MIND's shape): leaving is never observed
    assert not fit.fitted["continue_if_nothing"] and fit.behaviour.continue_if_nothing == 0.55
    assert any("not identified" in n for n in fit.notes)


def test_browse_pages_draws_the_simulation_process():
    """Every page is seen only after moving on from the one before; no watch on an unseen page;
    watch frequencies by position follow the position factor."""
    rng = np.random.default_rng(0)
    b = BehaviourSpec(position_decay=0.3, min_position_factor=0.2)
    watch, seen = browse_pages(np.full((40000, 8), 0.5), b, 4, 2, rng)
    assert seen[:, 0].all() and not (watch[:, 1].any(1) & ~seen[:, 1]).any()
    assert watch[:, 0].mean(0) == pytest.approx(0.5 * np.array([1.0, 0.7, 0.4, 0.2]), abs=0.01)
    moved = seen[:, 1].mean()
    p_any = 1 - np.prod(1 - 0.5 * np.array([1.0, 0.7, 0.4, 0.2]))
    assert moved == pytest.approx(p_any * 0.35 + (1 - p_any) * 0.55, abs=0.01)


def _written(tmp_path, frame, name="log.csv"):
    frame.to_csv(tmp_path / name, index=False)
    return tmp_path / name


HEADER = "user,session,page,position,item,watched,p_like\n"
BROKEN_LOGS = {
    "missing_column": ("user,session,page,item,watched\n1,1,0,5,1\n", ":1:", ["missing column(s) position"]),
    "watched_word": (HEADER + "1,1,0,0,5,1,0.5\n1,1,0,1,6,maybe,0.5\n", ":3:", ["column 'watched'", "'maybe'"]),
    "negative_page": (HEADER + "1,1,-1,0,5,1,0.5\n", ":2:", ["column 'page'", "'-1'"]),
    "page_not_a_number": (HEADER + "1,1,0,0,5,1,0.5\n1,1,two,0,5,1,0.5\n", ":3:", ["column 'page'", "'two'"]),
    "fractional_position": (HEADER + "1,1,0,0.5,5,1,0.5\n", ":2:", ["column 'position'", "'0.5'"]),
    "p_like_out_of_range": (HEADER + "1,1,0,0,5,1,0.5\n1,1,0,1,6,0,1.5\n", ":3:", ["column 'p_like'", "'1.5'"]),
    "p_like_nan": (HEADER + "1,1,0,0,5,1,nan\n", ":2:", ["column 'p_like'", "'nan'"]),
    "empty_user": (HEADER + "1,1,0,0,5,1,0.5\n,1,0,1,6,0,0.5\n", ":3:", ["column 'user'"]),
    "position_twice": (HEADER + "1,1,0,0,5,1,0.5\n1,1,0,0,6,0,0.5\n", ":3:", ["column 'position'", "appears twice"]),
    "page_gap": (HEADER + "1,1,0,0,5,1,0.5\n1,1,2,0,6,0,0.5\n", ":3:", ["column 'page'", "without page 1"]),
    "ragged_row": (HEADER + "1,1,0,0,5,1,0.5\n1,1,0,1,6,0,0.5,9\n", ":3:", ["expected 7 fields, found 8"]),
    "header_only": (HEADER, "", ["header but no rows"]),
    "nothing_watched": (HEADER + "1,1,0,0,5,0,0.5\n1,1,0,1,6,false,0.5\n", "", ["column 'watched'", "no impression"]),
    "empty_file": ("", "", ["the file is empty"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN_LOGS))
def test_broken_logs_are_one_line_errors(tmp_path, case):
    text, line, expected = BROKEN_LOGS[case]
    path = tmp_path / "log.csv"
    path.write_text(text)
    out = tmp_path / "behaviour.yaml"
    result = calibrate("--log", str(path), "--out", str(out))
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"error: {path}{line}"), message
    for fragment in expected:
        assert fragment in message
    assert not out.exists() and list(tmp_path.iterdir()) == [path]  # nothing half-written


@pytest.mark.parametrize("args, expected", [
    (["--p-like", "2"], "--p-like: expected a probability in (0, 1], found 2.0"),
    (["--p-like", "0.5", "--scenario", "s.yaml"], "give either --p-like or --scenario"),
    (["--max-pages", "1"], "--max-pages: the log has visits that reach page 3"),
    ([], "the log has no p_like column: give a constant P(like | shown) with --p-like"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, expected):
    frame = synthetic_log(BehaviourSpec(), 50, seed=1)
    path = _written(tmp_path, frame.drop(columns="p_like") if not args else frame)
    if args and args[0] == "--p-like" and len(args) == 2:
        path = _written(tmp_path, frame.drop(columns="p_like"))
    result = calibrate("--log", str(path), *args)
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output, result.output


def test_missing_log_and_fit_without_p_like(tmp_path):
    result = calibrate("--log", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 2 and "nowhere.csv: impression log not found" in result.output
    frame = synthetic_log(BehaviourSpec(), 20, seed=1).drop(columns="p_like")
    with pytest.raises(UserError, match="no p_like column"):
        fit_behaviour(read_impressions(_written(tmp_path, frame)))


def test_numbering_from_one_and_string_ids(tmp_path):
    frame = synthetic_log(BehaviourSpec(), 300, seed=2)
    shifted = frame.assign(page=frame.page + 1, position=frame.position + 1, user="U" + frame.user.astype(str),
                           item="N" + frame.item.astype(str))
    a = fit_behaviour(read_impressions(_written(tmp_path, frame, "a.csv")))
    b = fit_behaviour(read_impressions(_written(tmp_path, shifted, "b.csv")))
    assert a.behaviour == b.behaviour and a.visits == b.visits == 300


def test_the_cli_mounts_calibrate(tmp_path):
    path = _written(tmp_path, synthetic_log(BehaviourSpec(), 200, seed=4))
    done = subprocess.run([sys.executable, "-m", "recagent", "calibrate", "behaviour", "--log", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["behaviour"]["watch_scale"] > 0


def test_p_like_from_a_scenarios_feedback_model(tmp_path):
    """With --scenario, P(like | shown) of each impression comes from the scenario's feedback model on its
    dataset; a log drawn with those very probabilities gives back the watch scale it was drawn with."""
    import pandas as pd

    from recagent.calibrate import p_like_from_scenario

    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("name: calib\nseed: 3\ndataset: {kind: synthetic, users: 40, items: 120, history_length: 15}\n"
                        "feedback: {model: bias}\n")
    # the bias model's P(like | shown) is high here (median 0.83): a watch scale of 0.3 leaves enough
    # pages without a watch (about half) for continue_if_nothing to be measured as well
    truth, visits, k, pages = BehaviourSpec(watch_scale=0.3), 10000, 4, 3
    rng = np.random.default_rng(8)
    users = rng.integers(1, 41, visits)  # the synthetic dataset's ids run from 1
    items = rng.integers(1, 121, (visits, k * pages))
    cells = pd.DataFrame({"user": np.repeat(users, k * pages).astype(str), "item": items.ravel().astype(str),
                          "line": 0})
    p_like = p_like_from_scenario(cells, scenario, tmp_path / "log.csv")[0].reshape(visits, k * pages)
    watch, seen = browse_pages(truth.watch_scale * p_like**2, truth, k, pages, rng)
    v, c = np.nonzero(np.repeat(seen, k, axis=1))
    log = pd.DataFrame({"user": users[v], "session": v, "page": c // k, "position": c % k, "item": items[v, c],
                        "watched": watch.reshape(visits, -1)[v, c].astype(int)})
    path = _written(tmp_path, log)
    result = calibrate("--log", str(path), "--scenario", str(scenario))
    assert result.exit_code == 0, result.output
    block = yaml.safe_load(result.stdout)["behaviour"]
    for name in ("watch_scale", "position_decay", "continue_if_nothing", "continue_if_watched"):
        assert block[name] == pytest.approx(getattr(truth, name), abs=TOLERANCE), name
    assert f"the feedback model of {scenario}" in result.stdout

    _written(tmp_path, log.assign(item=log["item"].where(log.index != 7, 999)))
    result = calibrate("--log", str(path), "--scenario", str(scenario))
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {path}:9: column 'item': id '999' is not in the scenario's dataset "
                                     "(synthetic); with --scenario the log must use the dataset's ids")


def test_calibrate_recovers_a_simulation_s_own_behaviour(tmp_path):
    """End to end: the pages and watches a simulation writes to its event log, read as an impression log,
    give back the scenario's behaviour block. Its P(like | shown) comes from the same feedback model
    (--scenario), fitted on the dataset's history; the run's live history moves it a little, hence the
    looser tolerance on watch_scale. Word of mouth is switched off (social_influence 0), as a log has none."""
    import sqlite3

    import pandas as pd

    from recagent.simulation import run_scenario

    truth = {"watch_scale": 0.3, "position_decay": 0.2, "min_position_factor": 0.1, "continue_if_nothing": 0.6,
             "continue_if_watched": 0.4, "social_influence": 0.0}
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "own", "seed": 5, "dataset": {"kind": "synthetic", "users": 300, "items": 400, "history_length": 15},
        "social": {"graph": "none"}, "recommender": {"name": "random"}, "feedback": {"model": "bias"},
        "simulation": {"steps": 30, "activation": {"kind": "random", "probability": 0.7}, "behaviour": truth,
                       "busy_hours": {"watch": 0.0}}}))
    run = run_scenario(scenario, out=tmp_path / "run", progress=False)
    con = sqlite3.connect(run.run_dir / "events.sqlite")
    rows = con.execute("SELECT step, agent_id, kind, item_id, payload FROM events "
                       "WHERE kind IN ('page', 'watch') ORDER BY rowid").fetchall()
    user_of = run.model.dataset.users.raw_ids[run.model.users]
    shown, watched = [], set()
    for step, agent, kind, _item, payload in rows:
        payload = json.loads(payload)
        if kind == "page":
            shown += [(int(user_of[agent]), step, payload["page"], k, i) for k, i in enumerate(payload["items"])]
        elif payload.get("via") == "recommender":
            watched.add((int(user_of[agent]), step, payload["page"], payload["position"]))
    log = pd.DataFrame(shown, columns=["user", "session", "page", "position", "item"])
    log["watched"] = [int(key[:4] in watched) for key in shown]
    assert len(watched) == log.watched.sum() > 500 and log.session.nunique() > 20
    path = _written(tmp_path, log)
    result = calibrate("--log", str(path), "--scenario", str(scenario), "--max-pages", "3")
    assert result.exit_code == 0, result.output
    fitted = yaml.safe_load(result.stdout)["behaviour"]
    assert fitted["watch_scale"] == pytest.approx(truth["watch_scale"], abs=0.05)
    for name in ("position_decay", "continue_if_nothing", "continue_if_watched"):
        assert fitted[name] == pytest.approx(truth[name], abs=TOLERANCE), name
    # what a log cannot say is kept from the scenario, not reset to the defaults
    assert fitted["social_influence"] == 0.0 and fitted["min_position_factor"] == 0.1
    assert f"social_influence: 0.0  # not fitted (an impression log has no word of mouth or searches): the value " \
           f"of {scenario} kept" in result.stdout
