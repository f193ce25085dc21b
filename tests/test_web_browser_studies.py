"""Studies in the real browser at 1280 px (Debian's Chromium through Playwright): the folder of a
real `recagent compare` and a run that switched recommender, beside the web tests' plain runs. The
run list fits the laptop screen, names runs by folder and the strategy they ended on, groups them
under their study, and a study's strategies overlay the charts as a mean line with its 95% band."""

from __future__ import annotations

import shutil

import pytest

from recagent.web.browser import ServerThread, launch, wait_for

from .chromium import playwright_sync_api
from .test_web_browser import drawn_pixels
from .test_web_studies import STUDY, make_study
from .web_runs import make_runs

sync_api = playwright_sync_api()
pytestmark = pytest.mark.slow  # the study folder of test_web_studies, then the browser: 30-80 s on 2 busy cores


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("webstudiesbrowser")
    root = make_study(base / "runs")
    plain = make_runs(base / "web")["plain"]
    shutil.copytree(plain, root / "plain-run-with-a-rather-long-folder-name-20240101-080000")
    shots = base / "screenshots"
    shots.mkdir()
    with ServerThread(root, poll_seconds=0.1) as server, sync_api.sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 503" not in m.text else None)
        page.goto(server.url)
        wait_for(page, "window.recagent && window.recagent.ready")
        yield {"page": page, "errors": errors, "shots": shots, "root": root}
        context.close()
        browser.close()


def test_the_run_list_fits_a_1280_px_screen(world):
    page = world["page"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling
    pane = page.locator("#runs-pane").bounding_box()
    table = page.evaluate("(() => { const t = document.getElementById('runs-table'); "
                          "return [t.scrollWidth, t.clientWidth, t.parentElement.clientWidth]; })()")
    assert table[0] <= table[1] <= table[2], table  # no column cut off or pushed out of the pane
    rights = page.evaluate("[...document.querySelectorAll('#runs-table td, #runs-table th')]"
                           ".map((c) => c.getBoundingClientRect().right)")
    assert len(rights) > 20 and max(rights) <= pane["x"] + pane["width"] + 0.5
    header = page.evaluate("[...document.querySelectorAll('header > *')].map((e) => e.getBoundingClientRect().right)")
    assert max(header) <= 1280
    page.screenshot(path=str(world["shots"] / "studies-1280.png"))


def test_rows_name_the_folder_and_the_strategy_each_ended_on(world):
    page = world["page"]
    head = page.locator(f'#runs-table tr.study-row[data-study="{STUDY}"]')
    assert head.count() == 1 and STUDY in head.inner_text() and "comparison" in head.inner_text()
    row = page.locator(f'#runs-table tr[data-run="{STUDY}~runs~popular~seed-4"]')
    assert row.locator("td.folder").inner_text().startswith("runs/popular/seed-4")  # inside its study
    assert row.locator("td.strategy").inner_text() == "popular"
    switched = page.locator('#runs-table tr[data-run="switched"] td.strategy').inner_text()
    assert switched.splitlines() == ["random", "from popular"]
    # study runs come after the study's header row, runs outside a study before it
    order = page.evaluate("[...document.querySelectorAll('#runs-table tbody tr')]"
                          ".map((r) => r.dataset.run || 'study:' + r.dataset.study)")
    assert order.index(f"study:{STUDY}") > order.index("switched")
    assert order.index(f"study:{STUDY}") < order.index(f"{STUDY}~runs~random~seed-3")


def test_a_studys_strategies_overlay_with_their_bands(world):
    page = world["page"]
    before = drawn_pixels(page, '.chart[data-metric="watches"] canvas')
    for group in ("random", "popular"):
        page.locator(f'#studies input[data-band="{STUDY}|{group}"]').check()
    wait_for(page, "window.recagent.state.bands.size === 2")
    legend = page.locator("#chart-legend").inner_text()
    assert "random (random): mean of 2 seeds, 95% band" in legend and "popular (popular)" in legend
    after = drawn_pixels(page, '.chart[data-metric="watches"] canvas')
    assert after > before + 500  # two shaded bands and their mean lines
    band = page.evaluate(f"window.recagent.state.bands.get('{STUDY}|popular').measures.watches")
    assert len(band["mean"]) == 4 and all(lo <= m <= hi for lo, m, hi in zip(band["low"], band["mean"], band["high"]))
    page.screenshot(path=str(world["shots"] / "study-bands.png"))
    page.locator(f'#studies input[data-band="{STUDY}|random"]').uncheck()
    wait_for(page, "window.recagent.state.bands.size === 1")


def test_a_nested_run_opens(world):
    page = world["page"]
    page.locator(f'#runs-table tr[data-run="{STUDY}~runs~random~seed-3"] td.folder').click()
    wait_for(page, f"window.recagent.state.run === '{STUDY}~runs~random~seed-3' && window.recagent.state.graph")
    wait_for(page, "document.getElementById('steps-done').dataset.steps === '4'")
    assert page.locator("#run-title").inner_text() == f"{STUDY}/runs/random/seed-3 · random"
    assert drawn_pixels(page, "#graph") > 2000
    assert world["errors"] == []


def test_node_entropy_is_the_runs_own_per_agent_measure(world):
    """The graph's 'genre entropy' colouring is computed in the page (per agent and step, which no
    file holds); at the last step it equals agent_metrics.csv's genre_entropy of every agent."""
    import csv

    page = world["page"]
    run = f"{STUDY}~runs~random~seed-3"
    page.locator(f'#runs-table tr[data-run="{run}"] td.folder').click()
    wait_for(page, f"window.recagent.state.run === '{run}' && window.recagent.state.graph")
    mine = page.evaluate("Array.from(window.recagent.measuresAt(window.recagent.state.steps - 1).entropy)")
    with open(world["root"] / STUDY / "runs" / "random" / "seed-3" / "agent_metrics.csv", newline="") as f:
        own = {int(r["agent_id"]): float(r["genre_entropy"] or 0) for r in csv.DictReader(f)}
    assert len(mine) == len(own) == 40 and sum(v > 0 for v in own.values()) >= 5
    assert mine == pytest.approx([own[a] for a in range(40)], abs=1e-5)
