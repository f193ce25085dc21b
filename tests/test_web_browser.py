"""The page in a real browser (Debian's Chromium through Playwright): a finished run, hostile text,
and a live run whose steps land while the page is open. Screenshots go to the test's temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from recagent.web.browser import ServerThread, launch, wait_for

from .chromium import playwright_sync_api
from .web_runs import HOSTILE_NAME, HOSTILE_TITLE, WEB_SCENARIO, make_runs

sync_api = playwright_sync_api()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("webbrowser")
    runs = make_runs(root)
    shots = root / "screenshots"
    shots.mkdir()
    with ServerThread(runs["root"], poll_seconds=0.1) as server, sync_api.sync_playwright() as p:
        browser = launch(p)
        yield {"runs": runs, "server": server, "browser": browser, "shots": shots, "root": root}
        browser.close()


@pytest.fixture
def page(world):
    context = world["browser"].new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Chromium logs every non-2xx fetch; a 503 is the server saying an explanation is still being
    # prepared (the page retries after Retry-After), so it is not an error of the page
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 503" not in m.text else None)
    page.errors = errors
    yield page
    context.close()


def open_run(page, world, run: str) -> None:
    page.goto(world["server"].url + f"#run={run}")
    wait_for(page, "window.recagent && window.recagent.ready")


def click_agent(page, agent: int) -> None:
    wait_for(page, "window.recagent.view.layoutDone")
    x, y = page.evaluate(f"() => window.recagent.view.screen({agent})")
    box = page.locator("#graph").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def drawn_pixels(page, selector: str) -> int:
    return page.evaluate("""(sel) => { const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""", selector)


def test_finished_run_charts_graph_agent_slider_interview(page, world):
    open_run(page, world, "plain")
    assert page.locator("#run-title").inner_text().startswith("plain · popular")  # folder · strategy
    assert page.locator("#steps-done").get_attribute("data-steps") == "6"
    assert page.locator("#runs-table tbody tr").count() == 2
    # eight charts, each with its lines drawn and the value at the current step
    assert page.locator(".chart canvas").count() == 8
    assert all(drawn_pixels(page, f'.chart[data-metric="{m}"] canvas') > 200
               for m in ("genre_entropy", "coverage", "gini", "watches", "likes", "chats", "posts", "friend_share"))
    metrics = json.loads(page.evaluate("() => JSON.stringify(window.recagent.state.metrics.get('plain'))"))
    assert page.locator('.chart[data-metric="watches"] .ct span').nth(1).inner_text() == str(metrics["watches"][5])
    assert drawn_pixels(page, "#graph") > 2000
    assert page.locator("#legend").inner_text().strip()
    page.screenshot(path=str(world["shots"] / "finished-run.png"))

    # click an agent on the canvas: its panel opens
    agent = int(page.evaluate("() => window.recagent.state.graph.timeline.watch_agent[0]"))
    click_agent(page, agent)
    page.wait_for_selector(f'#agent-panel[data-agent="{agent}"]')
    name = page.evaluate(f"() => window.recagent.state.graph.agents[{agent}].name")
    assert page.locator(".agent-name").inner_text() == name
    assert page.locator("#agent-panel table.watched tr").count() >= 2  # header + the watch
    page.wait_for_selector("#agent-panel .explanation", timeout=30000)  # the feedback model's why
    assert "predicted rating" in page.locator("#agent-panel .explanation").first.inner_text()

    # move the slider: the step label, chart cursors and the open panel follow
    page.locator("#step-slider").fill("1")
    wait_for(page, "document.getElementById('step-label').dataset.step === '1'")
    wait_for(page, "document.querySelector('#agent-panel .muted') && "
                   "document.querySelector('#agent-panel .muted').textContent.includes('up to step 1')")
    assert page.locator('.chart[data-metric="watches"] .ct span').nth(1).inner_text() == str(metrics["watches"][1])
    page.keyboard.press("ArrowRight")
    wait_for(page, "document.getElementById('step-label').dataset.step === '2'")

    # ask an interview question: the answer appears, labelled offline
    page.fill("#interview-question", "What have you enjoyed lately?")
    page.click("#interview-ask")
    page.wait_for_selector(".answer .answer-text")
    assert "offline" in page.locator(".answer .label-offline").inner_text()
    assert page.locator(".answer .answer-text").inner_text().strip()
    lines = (world["runs"]["plain"] / "interviews" / "interviews.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["question"] == "What have you enjoyed lately?"
    page.screenshot(path=str(world["shots"] / "agent-panel-interview.png"))

    # an item's panel shows who watched it and outlines its cascade on the graph
    page.locator("#agent-panel table.watched [data-item]").first.click()
    page.wait_for_selector("#item-panel")
    assert "watches in the run" in page.locator("#item-panel").inner_text()
    assert page.evaluate("() => window.recagent.view.highlight.size") >= 1
    page.screenshot(path=str(world["shots"] / "item-panel.png"))
    assert page.errors == []


def test_overlay_two_runs(page, world):
    open_run(page, world, "plain")
    page.locator('#runs-table tr[data-run="hostile"] input').click()
    wait_for(page, "window.recagent.state.metrics.has('hostile')")
    assert page.locator("#chart-legend span").count() == 2


def test_hostile_names_are_shown_as_text(page, world):
    open_run(page, world, "hostile")
    page.fill("#agent-search", "#0")
    page.press("#agent-search", "Enter")
    page.wait_for_selector('#agent-panel[data-agent="0"]')
    assert page.locator(".agent-name").inner_text() == HOSTILE_NAME
    page.fill("#item-search", "Bold")
    page.press("#item-search", "Enter")
    page.wait_for_selector("#item-panel")
    assert page.locator(".item-title").inner_text() == HOSTILE_TITLE
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#panel-pane script, #panel-pane img, #panel-pane b, #runs-pane script").count() == 0
    assert "<script>x</script>" in page.locator("#runs-table").inner_text()
    page.screenshot(path=str(world["shots"] / "hostile-text.png"))
    assert page.errors == []


def test_live_run_counter_advances(page, world):
    """A run written step by step by the real model while the page is open (the runner's own path)."""
    from recagent.scenario_loading import load_scenario
    from recagent.simulation.build import build_model, load_dataset
    from recagent.simulation.events import EventLog
    from recagent.simulation.runner import write_json

    scenario_file = world["root"] / "live.yaml"
    scenario_file.write_text(yaml.safe_dump({**WEB_SCENARIO, "name": "live"}))
    scenario = load_scenario(scenario_file)
    run_dir: Path = world["runs"]["root"] / "zz-live"
    run_dir.mkdir()
    dataset = load_dataset(scenario)
    log = EventLog(run_dir / "events.sqlite")
    model = build_model(scenario, dataset, log)
    info = {"scenario": "live", "status": "running", "steps_planned": 4, "steps_completed": 0, "agents": model.n_agents,
            "recommender": "popular", "started_at": "2999-01-01T00:00:00"}
    write_json(run_dir / "run.json", info)
    try:
        page.goto(world["server"].url)  # no run named: the running one opens
        wait_for(page, "window.recagent && window.recagent.ready")
        assert page.locator("#run-status").inner_text() == "running"
        seen = []
        for step in range(1, 4):
            model.step()
            info["steps_completed"] = model.step_index
            write_json(run_dir / "run.json", info)
            wait_for(page, f"document.getElementById('steps-done').dataset.steps === '{step}'", timeout=15)
            seen.append(page.locator("#steps-done").inner_text())
            # the graph's timeline and the slider follow without a reload
            wait_for(page, f"document.getElementById('step-slider').max === '{step - 1}'", timeout=15)
        assert seen == ["1 / 4 steps", "2 / 4 steps", "3 / 4 steps"]
        page.screenshot(path=str(world["shots"] / "live-run.png"))
        model.step()
        info.update(status="completed", steps_completed=4)
        write_json(run_dir / "run.json", info)
        wait_for(page, "document.getElementById('run-status').textContent === 'completed'", timeout=15)
        assert page.locator("#steps-done").get_attribute("data-steps") == "4"
        wait_for(page, "window.recagent.state.live === null", timeout=15)  # the stream ended
    finally:
        log.close()
    assert page.errors == []


def test_the_printed_link_opens_a_token_protected_server(world):
    """With a token, the page opens from the link `recagent serve` prints; its fetches and its event
    stream carry the cookie the link set, and the token leaves the address bar."""
    token = "browser-token-0123456789"
    with ServerThread(world["runs"]["root"], token=token) as server:
        context = world["browser"].new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 503" not in m.text else None)
        refused = page.goto(server.url + "#run=plain")
        assert refused.status == 401 and "needs its access token" in page.inner_text("body")
        page.goto(server.url + f"?token={token}#run=plain")
        wait_for(page, "window.recagent && window.recagent.ready")
        assert page.url == server.url + "#run=plain"
        assert page.locator("#steps-done").get_attribute("data-steps") == "6"
        assert page.locator('#runs-table tr[data-run="hostile"]').count() == 1
        assert context.cookies()[0]["httpOnly"] and token not in page.evaluate("() => document.cookie")
        # Chromium logs the refused visit's 401 (sometimes only after the next navigation); nothing else
        assert [e for e in errors if "status of 401" not in e] == [] and len(errors) <= 1, errors
        context.close()


def test_an_unreadable_run_is_listed_with_its_reason_and_the_others_open(world, tmp_path):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(world["runs"]["plain"], root / "plain")
    shutil.copytree(world["runs"]["plain"], root / "zz-broken")
    (root / "zz-broken" / "events.sqlite").write_bytes(b"not a database" * 50)
    info = json.loads((root / "zz-broken" / "run.json").read_text())
    info["started_at"] = "2999-01-01T00:00:00"  # listed first: the page must still open a readable run
    (root / "zz-broken" / "run.json").write_text(json.dumps(info))
    with ServerThread(root) as server:
        context = world["browser"].new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        wait_for(page, "window.recagent && window.recagent.ready")
        row = page.locator('#runs-table tr[data-run="zz-broken"]')
        assert "unreadable" in row.inner_text() and "not a readable event log" in row.inner_text()
        assert page.evaluate("window.recagent.state.run") == "plain"
        context.close()
    assert not errors
