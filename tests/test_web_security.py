"""Hostile run folders and hostile requests against the page server (issue 24, items 5 and 6).

A run folder may come from someone else, and any web page the user visits can make the browser
post to a loopback server: every case here must end in a clean refusal (a 4xx with one message),
never a 500, nothing read or written outside the served root, and no API key sent to a host that a
run folder names. Real run folders (tests/web_runs.py), real SQLite files, the real app, and for the
key case a real uvicorn server on 127.0.0.1 and the stand-in LLM server recording what arrives.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from recagent.llm.spec import LLMSpec
from recagent.web import create_app
from recagent.web.browser import ServerThread

from .llm_server import LLMServer
from .web_runs import folder_digest, make_runs

SECRET = "sk-do-not-send-this-anywhere-0123456789"
QUESTION = {"question": "What have you enjoyed lately?"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """runs/ with the plain run, copies of it made hostile one way each, and files outside the root."""
    base = tmp_path_factory.mktemp("websec")
    runs = make_runs(base)
    root, plain = runs["root"], runs["plain"]
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps({"scenario": "LEAKED-RUN-JSON", "status": "completed"}))
    shutil.copy(plain / "events.sqlite", outside / "leaked.sqlite")
    with sqlite3.connect(outside / "leaked.sqlite") as db:
        db.execute("UPDATE agents SET name = 'LEAKED-AGENT'")
    (outside / "victim.jsonl").write_text("untouched\n")
    (outside / "victim_dir").mkdir()

    def copy(name: str):
        shutil.copytree(plain, root / name)
        return root / name

    (copy("link-run-json") / "run.json").unlink()
    (root / "link-run-json" / "run.json").symlink_to(outside / "secret.json")
    (copy("link-events") / "events.sqlite").unlink()
    (root / "link-events" / "events.sqlite").symlink_to(outside / "leaked.sqlite")
    (copy("link-interviews-dir") / "interviews").symlink_to(outside / "victim_dir")
    (copy("link-interviews-file") / "interviews").mkdir()
    (root / "link-interviews-file" / "interviews" / "interviews.jsonl").symlink_to(outside / "victim.jsonl")
    (copy("not-sqlite") / "events.sqlite").write_bytes(b"this is not an SQLite database\n" * 100)
    (copy("deep-json") / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    (copy("huge-json") / "run.json").write_text(json.dumps({"scenario": "x", "pad": "y" * (3 << 20)}))
    (copy("list-json") / "run.json").write_text("[1, 2, 3]")
    (copy("wrong-types") / "events.sqlite").unlink()
    shutil.copy(plain / "events.sqlite", root / "wrong-types" / "events.sqlite")
    with sqlite3.connect(root / "wrong-types" / "events.sqlite") as db:
        db.execute("UPDATE events SET step = 'many' WHERE id = 1")
    return {"root": root, "plain": plain, "outside": outside, "base": base}


@pytest.fixture(scope="module")
def client(world):
    return TestClient(create_app(world["root"]), base_url="http://127.0.0.1:8000")


def no_leak(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "LEAKED" not in response.text


UNREADABLE = {"link-run-json": "leads outside the served folder", "link-events": "leads outside the served folder",
              "not-sqlite": "not a readable event log", "deep-json": "nested too deeply",
              "huge-json": "at most", "list-json": "not a JSON object"}


def test_broken_and_linked_run_folders_are_listed_as_unreadable_and_the_rest_still_list(client):
    r = client.get("/api/runs")
    no_leak(r)
    rows = {row["id"]: row for row in r.json()["runs"]}
    for name, reason in UNREADABLE.items():
        assert rows[name]["status"] == "unreadable" and reason in rows[name]["reason"], rows[name]
    assert rows["plain"]["status"] == "completed" and rows["plain"]["agents"] == 40
    assert rows["link-interviews-dir"]["status"] == "completed"  # readable: only writing there is refused


@pytest.mark.parametrize("name", [*UNREADABLE, "wrong-types"])
@pytest.mark.parametrize("view", ["", "/metrics", "/graph", "/steps/0", "/agents/0", "/items?q=a", "/live"])
def test_every_view_of_a_broken_run_is_a_422_and_reads_nothing_outside(client, name, view):
    r = client.get(f"/api/runs/{name}{view}")
    no_leak(r)
    assert r.status_code == 422 and r.json()["error"], (name, view, r.status_code, r.text[:200])


def test_the_plain_run_still_serves_beside_them(client):
    for view in ("", "/metrics", "/graph", "/steps/0", "/agents/0"):
        assert client.get(f"/api/runs/plain{view}").status_code == 200


def test_a_broken_log_is_an_unreadable_log_for_the_reader_too(world):
    from recagent.events import EventReader, UnreadableLog

    with pytest.raises(UnreadableLog, match="not a readable event log"):
        EventReader(world["root"] / "not-sqlite" / "events.sqlite").check()
    assert EventReader(world["plain"] / "events.sqlite").schema_version() == 1


@pytest.mark.parametrize("name", ["link-interviews-dir", "link-interviews-file"])
def test_the_interview_never_writes_through_a_link(client, world, name):
    outside = folder_digest(world["outside"])
    r = client.post(f"/api/runs/{name}/agents/3/interview", json=QUESTION)
    assert r.status_code == 422 and "link" in r.json()["error"], r.text
    assert folder_digest(world["outside"]) == outside
    assert (world["outside"] / "victim.jsonl").read_text() == "untouched\n"


def test_the_interview_writes_only_in_the_runs_interviews_folder(client, world):
    before = folder_digest(world["root"])
    assert client.post("/api/runs/plain/agents/3/interview", json=QUESTION).status_code == 200
    after = folder_digest(world["root"])
    changed = {k for k in after if after.get(k) != before.get(k)}
    assert changed == {"plain/interviews/interviews.jsonl"}


@pytest.mark.parametrize("headers, status", [
    ({"content-type": "text/plain; charset=application/json"}, 415),  # what a cross-site form may send
    ({"content-type": "text/plain"}, 415),
    ({"content-type": "application/x-www-form-urlencoded"}, 415),
    ({"content-type": "multipart/form-data; boundary=application/json"}, 415),
    ({"content-type": "application/jsonp"}, 415),
    ({"content-type": "application/json, text/plain"}, 415),
    ({}, 415),
    ({"content-type": "application/json", "origin": "https://evil.example"}, 403),
    ({"content-type": "application/json", "origin": "null"}, 403),
    ({"content-type": "application/json", "origin": "http://127.0.0.1:8001"}, 403),  # another port: another origin
    ({"content-type": "application/json", "sec-fetch-site": "cross-site"}, 403),
    ({"content-type": "application/json", "sec-fetch-site": "same-site"}, 403),
    ({"content-type": "application/json; charset=utf-8", "origin": "http://127.0.0.1:8000",
      "sec-fetch-site": "same-origin"}, 200),
    ({"content-type": "APPLICATION/JSON"}, 200),
])
def test_cross_site_posts_and_crafted_content_types(client, world, headers, status):
    r = client.post("/api/runs/plain/agents/3/interview", content=json.dumps(QUESTION).encode(), headers=headers)
    assert r.status_code == status, (headers, r.status_code, r.text[:200])
    assert r.json().get("error") if status != 200 else r.json()["answer"]


def test_cross_site_check_holds_on_loopback_without_a_token_and_with_one(world):
    token = "security-token-0123456789"
    c = TestClient(create_app(world["root"], token=token), base_url="http://127.0.0.1:8000")
    r = c.post("/api/runs/plain/agents/3/interview", json=QUESTION,
               headers={"authorization": f"Bearer {token}", "origin": "https://evil.example"})
    assert r.status_code == 403


@pytest.mark.parametrize("body, status", [
    (b"[" * 100_000 + b"]" * 100_000, 413),  # too large before it is too deep
    (b'{"question": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", 400),  # small and deep: the parser's limit
    (b'{"question": ' + b"[" * 20 + b"]" * 20 + b"}", 400),  # under the parser's limit, over MAX_DEPTH
    (json.dumps({"question": "x" * 20_000}).encode(), 413),
    (b'{"question": "hi", "step": 1e999}', 400),
    (b'{"question": "\\ud800"}', 400),  # a lone surrogate: refused by the parser, not a 500 at write
])
def test_json_bombs_are_4xx(client, body, status):
    r = client.post("/api/runs/plain/agents/3/interview", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, (r.status_code, r.text[:200])


def test_a_chunked_body_is_counted_while_it_arrives(world):
    """No Content-Length to check first: the body is refused once it passes the limit."""
    def chunks():
        yield b'{"question": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    with ServerThread(world["root"]) as server:
        r = httpx.post(server.url + "api/runs/plain/agents/3/interview", content=chunks(),
                       headers={"content-type": "application/json"}, timeout=20)
    assert r.status_code == 413 and "longer than" in r.json()["error"]


def point_run_at(run_dir, url: str, key_env: str) -> None:
    """Make a run folder's scenario.resolved.yaml name an endpoint of its choosing and the key variable."""
    path = run_dir / "scenario.resolved.yaml"
    scenario = yaml.safe_load(path.read_text())
    scenario["llm"] = {"provider": "openai", "base_url": url, "api_key_env": key_env, "timeout": 3,
                       "max_retries": 0, "preflight": False}
    path.write_text(yaml.safe_dump(scenario))


def keys_received(server: LLMServer) -> list[str]:
    return [r["_headers"].get("authorization", "") for r in server.requests] + \
           [h.get("authorization", "") for h in server.model_requests]


def test_a_run_folders_base_url_never_receives_the_servers_key(world, monkeypatch):
    """The server's own endpoint answers; the URL a run folder names gets nothing, unless trusted."""
    monkeypatch.setenv("RECAGENT_TEST_SECRET", SECRET)
    monkeypatch.setenv("RECAGENT_CACHE", str(world["base"] / "cache"))
    root = world["base"] / "keyruns"
    shutil.copytree(world["plain"], root / "evil")
    with LLMServer() as attacker, LLMServer() as own:
        point_run_at(root / "evil", attacker.url, "RECAGENT_TEST_SECRET")
        ask = {"json": QUESTION, "timeout": 30}
        # 1. a server started with no endpoint: offline answers, nothing sent anywhere
        with ServerThread(root) as server:
            r = httpx.post(server.url + "api/runs/evil/agents/3/interview", **ask)
        assert r.status_code == 200 and r.json()["offline"] and "--trust-run-llm" in r.json()["note"]
        # 2. a server started with its own endpoint: that one answers, with the key it was given
        mine = LLMSpec(provider="openai", base_url=own.url, api_key_env="RECAGENT_TEST_SECRET", timeout=3,
                       max_retries=0)
        with ServerThread(root, llm=mine) as server:
            r = httpx.post(server.url + "api/runs/evil/agents/3/interview", **ask)
        assert r.status_code == 200 and r.json()["source"] == "llm", r.json()
        assert own.count == 1 and f"Bearer {SECRET}" in keys_received(own)
        assert attacker.count == 0 and not attacker.model_requests
        # 3. explanations rebuild the run's model without its endpoint either
        with ServerThread(root, llm=mine) as server:
            server.app.state.explainer.wait(root / "evil", 120)
        assert attacker.count == 0 and not attacker.model_requests
        # 4. only the person starting the server can trust the run's endpoint
        with ServerThread(root, trusted_runs={"evil"}) as server:  # (another question: not a prompt-cache hit)
            r = httpx.post(server.url + "api/runs/evil/agents/3/interview", json={"question": "And before that?"},
                           timeout=30)
        assert r.status_code == 200 and r.json()["source"] == "llm", r.json()
        assert attacker.count == 1 and f"Bearer {SECRET}" in keys_received(attacker)


def test_the_interview_command_does_not_send_the_key_to_the_runs_url_either(world, monkeypatch):
    from typer.testing import CliRunner

    from recagent.cli import app

    monkeypatch.setenv("RECAGENT_TEST_SECRET", SECRET)
    run = world["base"] / "cli-evil"
    shutil.copytree(world["plain"], run)
    with LLMServer() as attacker:
        point_run_at(run, attacker.url, "RECAGENT_TEST_SECRET")
        result = CliRunner().invoke(app, ["interview", str(run), "3", "hi"])
        assert result.exit_code == 2 and "--trust-run-llm" in result.output and "Traceback" not in result.output
        assert attacker.count == 0 and not attacker.model_requests


def test_serve_options_for_the_servers_own_endpoint(tmp_path):
    from typer.testing import CliRunner

    from recagent.cli import app

    (tmp_path / "runs").mkdir()
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "runs"), "--llm-url", "file:///etc/passwd"])
    assert result.exit_code == 2 and "--llm-url" in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert "--trust-run-llm" in CliRunner().invoke(app, ["serve", "--help"]).output
