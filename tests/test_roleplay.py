"""Role-play without a browser: a person who never answers changes nothing but the turn records,
commands that do not fit a turn are refused (over real HTTP), and the command line's user errors
are one line with exit code 2 and nothing written. The browser test is tests/test_roleplay_browser.py."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from recagent.api import Simulation
from recagent.cli import app
from recagent.simulation.roleplay import NotYourTurn, RolePlay
from recagent.web.browser import ServerThread
from recagent.web.play_thread import start_play_thread

from .conftest import ROOT, SMALL_SCENARIO, merge
from .test_web_access import free_port, wait_until_up

PLAYED = 2
TOKEN = "roleplay-test-token-0123456789"


def rows(run_dir, *, without=()) -> list[tuple]:
    con = sqlite3.connect(run_dir / "events.sqlite")
    try:
        found = con.execute("SELECT step, sim_time, agent_id, kind, item_id, target_agent_id, payload FROM events "
                            "ORDER BY id").fetchall()
    finally:
        con.close()
    return [r for r in found if r[3] not in without]


def test_a_person_who_never_answers_leaves_the_run_as_the_policy_would_run_it(tmp_path):
    scenario = merge(SMALL_SCENARIO, {"simulation": {"steps": 3, "activation": {"kind": "all"}}})
    plain = Simulation.from_dict(scenario, out=tmp_path / "plain").run()
    played = Simulation.from_dict(merge(scenario, {"roleplay": {"agents": [PLAYED], "turn_timeout_s": 0.2}}),
                                  out=tmp_path / "played")
    RolePlay(played.model, "played").attach()
    began = time.monotonic()
    played.run()
    assert time.monotonic() - began >= 3 * 0.2  # each of the three turns waited for its person
    turns = [json.loads(r[6]) for r in rows(played.run_dir) if r[3] == "turn"]
    assert len(turns) == 3 and all(t["timed_out"] and t["acts"] == [] and t["source"] == "human" for t in turns)
    # at step 0 nobody is busy yet, so the agent was drawn active: its drawn act was done by the policy
    assert turns[0]["policy"] in ("browse", "search", "chat", "post", "nothing")
    # the agent was given back with the act it had drawn: the same draws, the same events
    assert rows(played.run_dir, without=("turn", "recommender_update")) == rows(plain.run_dir)


@pytest.fixture
def live(tmp_path):
    """A run with agent PLAYED played, stepping in a background thread, its page served on 127.0.0.1."""
    scenario = merge(SMALL_SCENARIO, {"simulation": {"steps": 2},
                                      "roleplay": {"agents": [PLAYED], "turn_timeout_s": 30, "chat_turns": 2}})
    run = start_play_thread(scenario, tmp_path / "runs" / "live")
    with ServerThread(tmp_path / "runs", play=run.roleplay) as server:
        yield {"url": server.url.rstrip("/"), "roleplay": run.roleplay, "sim": run.sim, "done": run.done}
        run.done.wait(60)


def wait_turn(url: str, step: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/api/play/{PLAYED}").json()
        if state["status"] == "your turn" and state["step"] == step:
            return state
        time.sleep(0.05)
    raise AssertionError(f"no turn at step {step}")


def test_commands_that_do_not_fit_the_turn_are_refused_over_http(live):
    url, act = live["url"], f"{live['url']}/api/play/{PLAYED}"
    state = wait_turn(url, 0)
    assert state["turn"]["mode"] is None and state["seconds_left"] > 0 and state["friends"]
    assert httpx.post(act, content="do=nothing", headers={"content-type": "application/x-www-form-urlencoded"}
                      ).status_code == 415
    assert httpx.post(act, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    bad = httpx.post(act, json={"do": "fly"})
    assert bad.status_code == 400 and "do" in bad.json()["error"]
    assert httpx.post(act, json={"do": "end"}).status_code == 400  # no chat open
    strangers = sorted(set(range(40)) - {f["id"] for f in state["friends"]} - {PLAYED})
    stranger = httpx.post(act, json={"do": "chat", "friend": strangers[0], "text": "hi"})
    assert stranger.status_code == 400 and "not one of your contacts" in stranger.json()["error"]
    assert httpx.get(f"{url}/api/play/{PLAYED + 1}").status_code == 404
    shown = httpx.post(act, json={"do": "page", "page": 0}).json()
    assert len(shown["result"]["items"]) == live["sim"].scenario.simulation.page_size
    assert httpx.post(act, json={"do": "page", "page": 2}).status_code == 400  # pages come in order
    off_page = httpx.post(act, json={"do": "watch", "item": -5, "rating": 3})
    assert off_page.status_code == 400 and "not on a page" in off_page.json()["error"]
    mixed = httpx.post(act, json={"do": "post", "text": "hello"})
    assert mixed.status_code == 400 and "one act per turn" in mixed.json()["error"]
    left = httpx.post(act, json={"do": "leave"})
    assert left.status_code == 200 and left.json()["state"]["status"] == "waiting"
    late = httpx.post(act, json={"do": "nothing"})  # the turn is over until the next step's opens
    assert late.status_code in (200, 409)
    if late.status_code == 200:  # the next turn was already open: that was its act
        assert late.json()["state"]["step"] == 1
    else:
        wait_turn(url, 1)
        assert httpx.post(act, json={"do": "nothing"}).status_code == 200
    assert live["done"].wait(60)
    # with an access token the role-play page and API follow the server's rule (web/access.py)
    with ServerThread(live["sim"].run_dir.parent, play=live["roleplay"], token=TOKEN) as guarded:
        base = guarded.url.rstrip("/")
        assert httpx.get(f"{base}/api/play").status_code == 401
        assert httpx.get(f"{base}/play").status_code == 401
        with httpx.Client(follow_redirects=True) as browser:  # the printed link: cookie set, token dropped
            page = browser.get(f"{base}/play?token={TOKEN}")
            assert page.status_code == 200 and "/static/play.js" in page.text and str(page.url) == f"{base}/play"
            assert browser.get(f"{base}/api/play").json()["agents"][0]["id"] == PLAYED
    with pytest.raises(NotYourTurn):
        live["roleplay"].submit(PLAYED, {"do": "nothing"})
    turns = [json.loads(r[6]) for r in rows(live["sim"].run_dir) if r[3] == "turn"]
    assert [t["acts"] for t in turns] == [[{"do": "page", "page": 0}, {"do": "leave"}], [{"do": "nothing"}]]


def write(tmp_path, overrides: dict):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, overrides)))
    return path


@pytest.mark.parametrize("args, roleplay, message", [
    (["validate"], {"agents": [99]}, "field 'roleplay.agents': agent 99 does not exist; the run has 40 agents"),
    (["run", "--out", "{out}"], {"agents": [1, 1]}, "roleplay.agents"),
    (["run", "--out", "{out}", "--play", "40"], {}, "field 'roleplay.agents': agent 40 does not exist"),
    (["run", "--out", "{out}", "--turn-timeout", "5"], {}, "--turn-timeout applies with --play"),
    (["run", "--out", "{out}", "--play", "1", "--turn-timeout", "-1"], {}, "--play/--turn-timeout"),
    (["run", "--out", "{out}", "--play", "1", "--checkpoint-every", "2"], {}, "--checkpoint-every does not apply"),
    (["run", "--out", "{out}"], {"agents": [1], "every_step": "yes please"}, "roleplay.every_step"),
])
def test_user_errors_are_one_line_exit_2_and_write_nothing(tmp_path, args, roleplay, message):
    path = write(tmp_path, {"roleplay": roleplay} if roleplay else {})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [args[0], str(path), *[a.replace("{out}", str(out)) for a in args[1:]]])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_replay_needs_a_role_play_run(tmp_path):
    plain = Simulation.from_dict(merge(SMALL_SCENARIO, {"simulation": {"steps": 1}}), out=tmp_path / "plain").run()
    result = CliRunner().invoke(app, ["run", "--replay", str(plain.run_dir), "--out", str(tmp_path / "again")])
    assert result.exit_code == 2 and "nothing to replay" in result.output
    result = CliRunner().invoke(app, ["run", "--replay", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a run folder" in result.output
    result = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--replay", str(plain.run_dir)])
    assert result.exit_code == 2 and "--replay runs the recorded run's own scenario" in result.output
    assert not (tmp_path / "again").exists()


def test_a_friend_answers_through_the_llm_from_its_memories_and_the_replay_matches(tmp_path, monkeypatch):
    from recagent.simulation.roleplay_replay import replay_run

    from .llm_server import LLMServer

    monkeypatch.setenv("RECAGENT_TEST_KEY", "sk-test-roleplay-0000000000")
    message = "What should I watch tonight?"
    with LLMServer() as server:
        llm = {"provider": "openai", "model": "stand-in", "base_url": server.url, "api_key_env": "RECAGENT_TEST_KEY",
               "timeout": 5, "cache": str(tmp_path / "cache.sqlite"), "memory": {"enabled": True}}
        scenario = merge(SMALL_SCENARIO, {"simulation": {"steps": 2}, "llm": llm,
                                          "roleplay": {"agents": [PLAYED], "turn_timeout_s": 30, "chat_turns": 1}})
        made, ready = {}, threading.Event()

        def person():
            ready.wait(120)
            roleplay = made["roleplay"]
            for step in (0, 1):
                friend = roleplay.wait_for_turn(PLAYED, step)["friends"][0]["id"]
                made[step] = roleplay.submit(PLAYED, {"do": "chat", "friend": friend, "text": message})

        threading.Thread(target=person, daemon=True).start()
        sim = Simulation.from_dict(scenario, out=tmp_path / "runs" / "live")
        made["roleplay"] = roleplay = RolePlay(sim.model, "live").attach()
        ready.set()
        sim.run()
        roleplay.finish()
        assert made[0]["source"] == made[1]["source"] == "llm" and made[1]["reply"]
        asked = [json.dumps(body) for body in server.requests if message in json.dumps(body)]
        assert len(asked) == 2
        # at step 1 the friend remembers step 0's exchange with the person
        assert "told me: What should I watch tonight?" in asked[1]
        replay = replay_run(sim.run_dir, out=tmp_path / "runs" / "replay", progress=False)
    # the replay's LLM texts come from the prompt cache: the same words, `source` says "cache" for "llm"
    cached = lambda found: [r[:6] + (r[6].replace('"source":"cache"', '"source":"llm"'),) for r in found]
    assert cached(rows(replay.run_dir, without=("llm",))) == rows(sim.run_dir, without=("llm",))


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_while_waiting_for_a_person_ends_the_run_as_interrupted(tmp_path, signum, code):
    path = write(tmp_path, {"simulation": {"steps": 3}})
    port, out = free_port(), tmp_path / "runs" / "live"
    proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "run", str(path), "--play",
                             str(PLAYED), "--turn-timeout", "120", "--port", str(port), "--out", str(out), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            # a shell may start the tests with SIGINT ignored, which the child would inherit
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/play")
        wait_turn(f"http://127.0.0.1:{port}", 0)
        proc.send_signal(signum)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "interrupted" and info["steps_completed"] == 0
    output = proc.stdout.read()
    assert proc.returncode == code and "Traceback" not in output, output[-2000:]
    assert output.count("interrupted:") == 1 and signal.Signals(signum).name in output
