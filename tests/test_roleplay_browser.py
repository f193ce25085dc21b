"""Role-play in a real browser (Debian's Chromium through Playwright) against a real
`recagent run FILE --play ID` process: a person plays an agent through a 5-step run (browse and
rate, search, chat two messages, post, let a turn time out); the event log holds every act with
source human, the friend's replies, the contacts' `hear` events of the post and the recommender's
updates; `recagent run --replay` of the run writes a byte-identical event log."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import yaml
from typer.testing import CliRunner

from recagent.cli import app
from recagent.web.browser import launch, wait_for

from .chromium import playwright_sync_api
from .conftest import ROOT, SMALL_SCENARIO, merge
from .test_web_access import free_port, wait_until_up

sync_api = playwright_sync_api()

PLAYED = 2
TURN_TIMEOUT = 6  # seconds: long enough for the browser's acts on a loaded machine, short for the timed-out turn
HOSTILE = '<img src=x onerror="window.__xss = 1">Seen anything <b>good</b>?'
EVENTS = "SELECT step, sim_time, agent_id, kind, item_id, target_agent_id, payload FROM events ORDER BY id"


def events(run_dir) -> list[tuple]:
    con = sqlite3.connect(run_dir / "events.sqlite")
    try:
        return con.execute(EVENTS).fetchall()
    finally:
        con.close()


def wait_turn(page, step: int) -> None:
    wait_for(page, f"window.recagent_play.state && window.recagent_play.state.status === 'your turn' && "
                   f"window.recagent_play.state.step === {step}", timeout=60)


def test_a_person_plays_an_agent_through_a_run_and_the_replay_is_identical(tmp_path):
    scenario = tmp_path / "play.yaml"
    scenario.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {
        "name": "playtest", "simulation": {"steps": 5}, "roleplay": {"chat_turns": 2}})))
    port, live = free_port(), tmp_path / "runs" / "live"
    proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "run", str(scenario),
                             "--play", str(PLAYED), "--turn-timeout", str(TURN_TIMEOUT), "--port", str(port),
                             "--out", str(live), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/api/play")
        with sync_api.sync_playwright() as p:
            browser = launch(p)
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/play")
            wait_for(page, "window.recagent_play && window.recagent_play.ready")

            # step 0: your turn, counting down; browse two pages, watch and rate an item, leave
            wait_turn(page, 0)
            assert page.locator("body.your-turn").count() == 1
            assert "s left" in page.locator("#countdown").inner_text()
            assert page.locator("#me-name").inner_text().endswith(f"(agent {PLAYED})")
            page.click("#do-browse")
            page.wait_for_selector("#pages .item .stars")
            first = page.locator("#pages .item").first
            watched_item = int(first.get_attribute("data-item"))
            first.locator('button[data-rating="5"]').click()
            page.wait_for_selector(f'#pages .item.watched[data-item="{watched_item}"]')
            page.click("#next-page")
            wait_for(page, "document.querySelectorAll('#pages .page-label').length === 2")
            page.click("#leave")

            # step 1: search by title, watch and rate what was found
            wait_turn(page, 1)
            page.click("#do-search")
            title = page.evaluate("() => window.recagent_play.state.history[0].title")
            page.fill("#search-q", title[:8])
            page.click("#search-form button[type=submit]")
            page.wait_for_selector("#results .item .stars")
            searched_item = int(page.locator("#results .item").first.get_attribute("data-item"))
            page.locator('#results .item').first.locator('button[data-rating="4"]').click()

            # step 2: chat with a friend, two messages, each answered through the run's backend
            wait_turn(page, 2)
            page.click("#do-chat")
            friend = int(page.locator("#chat-friend").input_value())
            page.fill("#chat-text", HOSTILE)
            page.click("#chat-send")
            wait_for(page, "document.querySelectorAll('#chat-log .line').length === 2")
            # what the person typed is shown as text, never run as HTML
            assert page.locator("#chat-log .line .text").first.text_content() == HOSTILE
            assert page.locator("#chat-log img, #chat-log b").count() == 0
            page.fill("#chat-text", "Thanks, I will try it")
            page.click("#chat-send")

            # step 3: post to all contacts
            wait_turn(page, 3)
            page.click("#do-post")
            page.fill("#post-text", "Everyone should watch this one!")
            page.click("#post-send")

            # step 4: do nothing; the turn times out and the page says so when the run has finished
            wait_turn(page, 4)
            wait_for(page, "window.recagent_play.state.status === 'finished'", timeout=TURN_TIMEOUT + 60)
            assert page.evaluate("() => window.__xss") is None
            assert errors == []
            browser.close()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert f"{base}/play" in output and "run folder" in output

    rows = events(live)
    parsed = [(step, agent, kind, item, target, json.loads(payload)) for step, _, agent, kind, item, target, payload
              in rows]
    human = [e for e in parsed if e[5].get("source") == "human"]
    kinds = [(step, kind) for step, _, kind, *_ in human]
    assert (0, "page") in kinds and (0, "leave") in kinds and (1, "search") in kinds and (3, "post") in kinds
    assert [p["page"] for s, a, k, i, t, p in human if k == "page"] == [0, 1]
    watches = [(s, i, p["rating"], p["via"]) for s, a, k, i, t, p in human if k == "watch"]
    assert watches == [(0, watched_item, 5.0, "recommender"), (1, searched_item, 4.0, "search")]
    mine = [p for s, a, k, i, t, p in human if k == "chat"]
    replies = [p for s, a, k, i, t, p in parsed if k == "chat" and s == 2 and a == friend and t == PLAYED
               and p.get("reply_to") == "human"]
    assert [p["text"] for p in mine] == [HOSTILE, "Thanks, I will try it"]
    assert len(replies) == 2 and all(p["text"] and p["source"] == "offline" for p in replies)
    post = next(p for s, a, k, i, t, p in human if k == "post")
    hears = [e for e in parsed if e[2] == "hear" and e[0] == 3 and e[4] == PLAYED and e[5]["via"] == "post"]
    assert post["recipients"] >= 1 and len(hears) == post["recipients"]
    turns = [(e[0], e[5]) for e in parsed if e[2] == "turn"]
    assert [s for s, _ in turns] == [0, 1, 2, 3, 4]
    assert [t["timed_out"] for _, t in turns] == [False, False, False, False, True] and turns[4][1]["acts"] == []
    updates = {e[0]: e[5] for e in parsed if e[2] == "recommender_update"}
    assert updates[0]["human_items"] == [watched_item] and updates[1]["human_items"] == [searched_item]

    # the replay: the same scenario, the people's acts read from the log, no server, no waiting
    result = CliRunner().invoke(app, ["run", "--replay", str(live), "--out", str(tmp_path / "runs" / "replay"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert events(tmp_path / "runs" / "replay") == rows
