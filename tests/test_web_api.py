"""The web API against real run folders: every endpoint, numbers checked against the SQLite log,
bad parameters, path traversal, hostile text, and that only the interview endpoint writes."""

from __future__ import annotations

import csv
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from recagent.web import create_app
from recagent.web.app import LOOPBACK_HOSTS

from .conftest import ROOT
from .web_runs import HOSTILE_NAME, HOSTILE_TITLE, folder_digest, make_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("webapi"))


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs["root"]))


def explanations(client, path: str, timeout: float = 60):
    """GET an explanations path, following the server's 503 + Retry-After while the model is rebuilt."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        time.sleep(min(float(r.headers["retry-after"]), 0.2))


def sql(run_dir, query, params=()):
    conn = sqlite3.connect(run_dir / "events.sqlite")
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def test_run_list(client, runs):
    body = client.get("/api/runs").json()
    by_id = {r["id"]: r for r in body["runs"]}
    assert set(by_id) == {"plain", "hostile"}
    plain = by_id["plain"]
    assert plain["scenario"] == "webtest" and plain["agents"] == 40 and plain["steps_completed"] == 6
    assert plain["status"] == "completed" and plain["recommender"] == "popular"
    info = client.get("/api/runs/plain").json()
    assert info["agents"] == 40 and info["steps_completed"] == 6 and info["info"]["seed"] == 3


def test_metrics_match_the_log_and_the_models_own_reporter(client, runs):
    m = client.get("/api/runs/plain/metrics").json()["metrics"]
    assert m["step"] == list(range(6))
    watches = dict(sql(runs["plain"], "SELECT step, COUNT(*) FROM events WHERE kind = 'watch' GROUP BY step"))
    chats = dict(sql(runs["plain"], "SELECT step, COUNT(*) FROM events WHERE kind = 'chat' GROUP BY step"))
    assert m["watches"] == [watches.get(s, 0) for s in range(6)]
    assert m["chats"] == [chats.get(s, 0) for s in range(6)]
    with open(runs["plain"] / "metrics.csv") as f:
        model_rows = list(csv.DictReader(f))
    # the page derives genre entropy from the event log; the model computes it from its own state
    np.testing.assert_allclose(m["genre_entropy"], [float(r["mean_genre_entropy"]) for r in model_rows], atol=1e-3)
    assert m["active_agents"] == [int(r["active_agents"]) for r in model_rows]
    assert all(b >= a for a, b in zip(m["coverage"], m["coverage"][1:]))  # cumulative
    assert all(0 <= g <= 1 for g in m["gini"]) and all(0 <= s <= 1 for s in m["friend_share"])
    via_friend = sql(runs["plain"], "SELECT COUNT(*) FROM events WHERE kind = 'watch' "
                                    "AND json_extract(payload, '$.heard_from') IS NOT NULL")[0][0]
    assert round(sum(s * w for s, w in zip(m["friend_share"], m["watches"]))) == via_friend


def test_a_live_runs_measures_from_the_log_equal_its_metrics_csv(runs, tmp_path):
    """While a run has no metrics.csv (it is written at the end) the page derives the cocoon measures
    from the event log with the metrics package's functions: they equal the run's own columns."""
    import shutil

    live = tmp_path / "runs" / "live"
    shutil.copytree(runs["plain"], live)
    (live / "metrics.csv").unlink()
    m = TestClient(create_app(live.parent)).get("/api/runs/live/metrics").json()["metrics"]
    assert m["measures_from"].startswith("event log")
    with open(runs["plain"] / "metrics.csv") as f:
        own = list(csv.DictReader(f))
    for page, column in (("genre_entropy", "mean_genre_entropy"), ("coverage", "coverage_consumption"),
                         ("gini", "gini_consumption"), ("friend_share", "influence_share_step")):
        np.testing.assert_allclose(m[page], [float(r[column]) for r in own], atol=1e-3, err_msg=page)


def test_graph(client, runs):
    g = client.get("/api/runs/plain/graph").json()
    assert len(g["agents"]) == 40
    assert len(g["edges"]) == 2 * sql(runs["plain"], "SELECT COUNT(*) FROM edges")[0][0]
    tl = g["timeline"]
    assert tl["steps"] == 6
    assert len(tl["watch_step"]) == sql(runs["plain"], "SELECT COUNT(*) FROM events WHERE kind = 'watch'")[0][0]
    assert tl["watch_step"] == sorted(tl["watch_step"])  # the page accumulates in step order
    n_chats = sql(runs["plain"], "SELECT COUNT(*) FROM events WHERE kind = 'chat'")[0][0]
    assert sum(len(c) for c in tl["chats"]) == 2 * n_chats
    assert len(g["item_genres"]) == sql(runs["plain"], "SELECT COUNT(*) FROM items")[0][0]


def test_step_feed(client, runs):
    feed = client.get("/api/runs/plain/steps/2").json()
    counts = dict(sql(runs["plain"], "SELECT kind, COUNT(*) FROM events WHERE step = 2 GROUP BY kind"))
    assert {k: v for k, v in feed["counts"].items() if v} == counts
    assert all(e["step"] == 2 and e["kind"] in ("chat", "post", "intervention") for e in feed["events"])
    chat = next(e for e in feed["events"] if e["kind"] == "chat") if counts.get("chat") else None
    if chat:
        assert chat["payload"]["text"] and chat["agent_name"] and chat["title"]


def test_agent_panel(client, runs):
    agent = sql(runs["plain"], "SELECT agent_id FROM events WHERE kind = 'watch' GROUP BY agent_id "
                               "ORDER BY COUNT(*) DESC LIMIT 1")[0][0]
    full = client.get(f"/api/runs/plain/agents/{agent}").json()
    rows = sql(runs["plain"], "SELECT id FROM events WHERE kind = 'watch' AND agent_id = ? ORDER BY id", (agent,))
    assert [w["id"] for w in full["watched"]] == [r[0] for r in rows]
    assert full["name"] == sql(runs["plain"], "SELECT name FROM agents WHERE agent_id = ?", (agent,))[0][0]
    assert set(full["persona"]) >= {"roles", "activity", "diversity", "conformity"}
    assert full["memories"] and full["memory_store"] is None
    early = client.get(f"/api/runs/plain/agents/{agent}?step=1").json()
    assert all(w["step"] <= 1 for w in early["watched"]) and early["step"] == 1
    assert len(early["watched"]) <= len(full["watched"])
    heard = sql(runs["plain"], "SELECT COUNT(*) FROM events WHERE kind = 'hear' AND agent_id = ?", (agent,))[0][0]
    assert len(full["heard"]) == heard


def test_explanations_rebuild_the_feedback_model(client, runs):
    agent, n = sql(runs["plain"], "SELECT agent_id, COUNT(*) FROM events WHERE kind = 'watch' GROUP BY agent_id "
                                  "ORDER BY COUNT(*) DESC LIMIT 1")[0]
    ex = explanations(client, f"/api/runs/plain/agents/{agent}/explanations").json()
    assert ex["available"] and ex["model"] == "bias"
    ids = [str(r[0]) for r in sql(runs["plain"], "SELECT id FROM events WHERE kind = 'watch' AND agent_id = ?", (agent,))]
    assert sorted(ex["explanations"]) == sorted(ids)
    for e in ex["explanations"].values():
        assert 1 <= e["predicted_rating"] <= 5 and 0 <= e["p_like"] <= 1
    # the explanation is asked with the history as it was before that watch: p_like matches the log,
    # the "shown" answer for a recommender page, the "chosen" one for a search (models without a
    # separate shown answer give one p_like)
    logged = {i: (p, via) for i, p, via in sql(
        runs["plain"], "SELECT id, json_extract(payload, '$.p_like'), json_extract(payload, '$.via') FROM events "
                       "WHERE kind = 'watch' AND agent_id = ?", (agent,))}
    first = min(int(i) for i in ex["explanations"])
    explained = ex["explanations"][str(first)]
    p_like, via = logged[first]
    if "shown" in explained:  # the explanation says which answer the run used for that watch
        assert explained["asked"] == {"recommender": "shown", "search": "chosen"}[via]
    answer = explained["shown"] if explained.get("asked") == "shown" else explained
    assert answer["p_like"] == pytest.approx(p_like, abs=2e-3)


def test_the_feedback_model_is_rebuilt_outside_requests(runs):
    """The request answers 503 at once; the model is fitted in a child process, not in the server."""
    c = TestClient(create_app(runs["root"]))
    started = time.monotonic()
    r = c.get("/api/runs/plain/agents/3/explanations")
    assert time.monotonic() - started < 5  # answered while the child is still starting or fitting
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["preparing"] is True and "preparing the feedback model" in r.json()["error"]
    assert c.get("/api/runs/plain/agents/3/explanations").status_code == 503  # queued once, still preparing
    r = explanations(c, "/api/runs/plain/agents/3/explanations")
    assert r.status_code == 200 and r.json()["available"]
    explainer = c.app.state.explainer
    assert len(explainer.builder_pids) == 1 and explainer.builder_pids[0] != os.getpid()  # one build, elsewhere
    deadline = time.monotonic() + 20
    while explainer._child is not None and time.monotonic() < deadline:  # nothing queued: the child exits
        time.sleep(0.05)
    assert explainer._child is None


def test_serve_prepares_the_newest_runs_explanations_at_start(runs):
    app = create_app(runs["root"], warm=3)  # as `recagent serve` does
    newest = app.state.store.path(app.state.store.summaries()[0]["id"])
    deadline = time.monotonic() + 60
    while not app.state.explainer.queued(newest) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.explainer.wait(newest, 120)  # nobody asked: the warm-up queued it
    r = TestClient(app).get(f"/api/runs/{newest.name}/agents/1/explanations")
    assert r.status_code == 200 and r.json()["available"]  # the first request finds it ready


def test_run_with_serve_leaves_the_cores_to_the_run(runs):
    app = create_app(runs["root"], warm=3, warm_explanations=False)  # as `recagent run --serve` does
    store, deadline = app.state.store, time.monotonic() + 60
    while time.monotonic() < deadline and not all(
            "json:graph" in store.get(s["id"])._derived for s in store.summaries()):
        time.sleep(0.05)
    time.sleep(0.5)
    assert not any(app.state.explainer.queued(store.path(s["id"])) for s in store.summaries())


def test_item_panel_and_cascade(client, runs):
    item = sql(runs["plain"], "SELECT item_id FROM events WHERE kind = 'hear' GROUP BY item_id "
                              "ORDER BY COUNT(*) DESC LIMIT 1")[0][0]
    panel = client.get(f"/api/runs/plain/items/{item}").json()
    watches = sql(runs["plain"], "SELECT COUNT(*) FROM events WHERE kind = 'watch' AND item_id = ?", (item,))[0][0]
    hears = sql(runs["plain"], "SELECT target_agent_id, agent_id, step FROM events WHERE kind = 'hear' AND item_id = ? "
                               "ORDER BY id", (item,))
    assert panel["watch_count"] == watches
    assert panel["cascade"]["links"] == [list(h) for h in hears]
    assert panel["cascade"]["reached"] == len({h[1] for h in hears})
    found = client.get("/api/runs/plain/items", params={"q": panel["title"][:6]}).json()["items"]
    assert any(i["item_id"] == item for i in found)


def test_live_stream_of_a_finished_run_ends(client):
    with client.stream("GET", "/api/runs/plain/live") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    first = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert first["steps_completed"] == 6 and first["status"] == "completed"
    assert "event: done" in text


@pytest.mark.parametrize("path, status", [
    ("/api/runs/plain/agents/abc", 400), ("/api/runs/plain/agents/999", 404), ("/api/runs/plain/agents/-1", 404),
    ("/api/runs/plain/agents/1?step=99", 400), ("/api/runs/plain/agents/1?step=-1", 400),
    ("/api/runs/plain/agents/1?step=x", 400), ("/api/runs/plain/steps/6", 400), ("/api/runs/plain/items/123456", 404),
    ("/api/runs/plain/items?q=", 400), ("/api/runs/plain/steps/1?limit=0", 400), ("/api/runs/nope/graph", 404),
    ("/api/runs/plain/agents/1/explanations?step=77", 400),
])
def test_bad_parameters_are_4xx_with_a_message(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert r.json()["error"]


@pytest.mark.parametrize("name", ["..", ".", "...", "..%2F..%2Fetc", "%2e%2e", "%2e%2e%2fplain", "plain%00",
                                  "..\\..\\etc", "~root", "%2Fetc%2Fpasswd", "outside"])
def test_path_traversal_is_refused(client, runs, name):
    r = client.get(f"/api/runs/{name}/metrics")
    assert r.status_code in (400, 404)
    assert "root:" not in r.text


def test_symlink_out_of_the_runs_folder_is_not_a_run(tmp_path, runs):
    outside = tmp_path / "outside-run"
    import shutil

    shutil.copytree(runs["plain"], outside)
    root = tmp_path / "runs"
    root.mkdir()
    os.symlink(outside, root / "linked")
    c = TestClient(create_app(root))
    assert c.get("/api/runs").json()["runs"] == []
    assert c.get("/api/runs/linked/metrics").status_code == 404


def test_static_files_cannot_escape_the_page_folder(client):
    for path in ("/static/../recagent/cli.py", "/static/%2e%2e/recagent/cli.py", "/static/..%2Frecagent%2Fcli.py"):
        r = client.get(path)
        assert r.status_code == 404 and "typer" not in r.text
    assert client.get("/static/app.js").status_code == 200


def test_page_and_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "<canvas id=\"graph\">" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http" not in r.text.replace("http-equiv", "")  # no CDN or remote URL in the page
    api = client.get("/api/runs")
    assert api.headers["x-content-type-options"] == "nosniff" and api.headers["cache-control"] == "no-store"


def test_hostile_text_is_data_not_markup(client):
    agent = client.get("/api/runs/hostile/agents/0").json()
    assert agent["name"] == HOSTILE_NAME
    titles = {w["title"] for w in agent["watched"]} | {
        i["title"] for i in client.get("/api/runs/hostile/items", params={"q": "Bold"}).json()["items"]}
    assert HOSTILE_TITLE in titles
    r = client.get("/api/runs/hostile/agents/0")
    assert r.headers["content-type"] == "application/json"


def test_host_header_check_when_bound_to_loopback(runs):
    c = TestClient(create_app(runs["root"], allowed_hosts=LOOPBACK_HOSTS), base_url="http://127.0.0.1:8000")
    assert c.get("/api/runs").status_code == 200
    assert c.get("/api/runs", headers={"host": "evil.example:8000"}).status_code == 400
    assert c.get("/api/runs", headers={"host": "localhost:8000"}).status_code == 200


def test_only_the_interview_endpoint_writes(client, runs):
    before = folder_digest(runs["root"])
    for path in ("/api/runs", "/api/runs/plain", "/api/runs/plain/metrics", "/api/runs/plain/graph",
                 "/api/runs/plain/steps/0", "/api/runs/plain/agents/3", "/api/runs/plain/agents/3/explanations",
                 "/api/runs/plain/items?q=a", "/api/runs/plain/live"):
        assert explanations(client, path).status_code == 200
    assert folder_digest(runs["root"]) == before
    r = client.post("/api/runs/plain/agents/3/interview", json={"question": "What have you enjoyed lately?", "step": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["offline"] and body["backend"] == "offline" and "offline" in body["answer"]
    assert body["agent_name"] == client.get("/api/runs/plain/agents/3").json()["name"]
    after = folder_digest(runs["root"])
    assert set(after) - set(before) == {"plain/interviews/interviews.jsonl"}
    assert {k: v for k, v in after.items() if k in before} == before
    lines = (runs["plain"] / "interviews" / "interviews.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["question"] == "What have you enjoyed lately?"


@pytest.mark.parametrize("kwargs, status", [
    ({"content": b"question=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ({"json": {"question": ""}}, 400), ({"json": {"question": "x" * 501}}, 400), ({"json": {"q": "hi"}}, 400),
    ({"json": ["hi"]}, 400), ({"json": {"question": "hi", "step": "3"}}, 400), ({"json": {"question": "hi", "step": 60}}, 400),
])
def test_interview_bad_requests(client, runs, kwargs, status):
    before = folder_digest(runs["plain"])
    r = client.post("/api/runs/plain/agents/3/interview", **kwargs)
    assert r.status_code == status and r.json()["error"]
    assert folder_digest(runs["plain"]) == before
    assert client.post("/api/runs/plain/agents/400/interview", json={"question": "hi"}).status_code == 404


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serve_errors_and_token_notice(tmp_path):
    from typer.testing import CliRunner

    from recagent.cli import app

    result = CliRunner().invoke(app, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "runs folder not found" in result.output
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--port", "0"])
    assert result.exit_code == 2 and "--port" in result.output
    from rich.console import Console

    from recagent.web.serve import check_bind

    console = Console(record=True, width=200)
    token = check_bind("0.0.0.0", 8000, None, console)
    assert token and len(token) >= 32  # generated: beyond loopback a token is never optional
    assert "every request needs the access token" in console.export_text()
    console = Console(record=True, width=200)
    assert check_bind("127.0.0.1", 8000, None, console) is None and console.export_text() == ""
    assert check_bind("127.0.0.1", 8000, "a-token-of-16-chars", console) == "a-token-of-16-chars"
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--host", "0.0.0.0", "--token", "short"])
    assert result.exit_code == 2 and "--token: the access token must be at least 16 characters, found 5" in result.output
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--token", "sixteen chars!!!"])
    assert result.exit_code == 2 and "only letters, digits" in result.output


@pytest.mark.slow
def test_run_with_serve_serves_the_run_live(tmp_path):
    """`recagent run FILE --serve` in a real process: the page and the run are served while it runs."""
    import yaml

    from .web_runs import WEB_SCENARIO

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(WEB_SCENARIO))
    port = free_port()
    out = tmp_path / "runs" / "served"
    proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "run", str(scenario),
                             "--out", str(out), "--serve", "--port", str(port), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, runs = time.monotonic() + 180, []  # generous: CI machines can be loaded
        while time.monotonic() < deadline:
            try:
                runs = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=2).json()["runs"]
            except httpx.HTTPError:
                runs = []
            if runs and runs[0]["status"] == "completed":
                break
            time.sleep(0.2)
        assert runs and runs[0]["id"] == "served" and runs[0]["steps_completed"] == 6
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        assert proc.poll() is None  # still serving after the run
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert f"http://127.0.0.1:{port}/" in output and "run folder" in output
