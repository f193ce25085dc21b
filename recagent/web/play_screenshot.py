"""Screenshots of the role-play page in its "your turn" state, for the README and docs/roleplay.md.

    python -m recagent.web.play_screenshot [--out docs/img]

Runs a small synthetic scenario with one played agent in this process, lets the person do nothing for
a few steps (so friends have posted and chatted), then photographs the page with Debian's Chromium
(through Playwright, as the browser tests do): the turn's choice, the recommender's page, a chat.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SCENARIO = {
    "name": "roleplay-demo", "seed": 7,
    "dataset": {"kind": "synthetic", "users": 60, "items": 200, "history_length": 15},
    "social": {"graph": "homophily", "degree": 6},
    "recommender": {"name": "popular", "retrain_every": 1},
    "feedback": {"model": "bias"},
    "simulation": {"steps": 5, "activation": {"kind": "random", "probability": 0.8}},
    "roleplay": {"agents": [3], "turn_timeout_s": 120, "chat_turns": 2},
}
WARM_UP_STEPS = 3


def wait_until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the role-play run did not reach the expected state")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="folder for the PNG files")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from .browser import ServerThread, launch, wait_for
    from .play_thread import start_play_thread

    args.out.mkdir(parents=True, exist_ok=True)
    agent = SCENARIO["roleplay"]["agents"][0]
    with tempfile.TemporaryDirectory() as tmp:
        roleplay = start_play_thread(SCENARIO, Path(tmp) / "runs" / "demo").roleplay
        for step in range(WARM_UP_STEPS):  # the person sits out a few steps while friends talk
            roleplay.wait_for_turn(agent, step)
            roleplay.submit(agent, {"do": "nothing"})
        roleplay.wait_for_turn(agent, WARM_UP_STEPS)
        with ServerThread(Path(tmp) / "runs", play=roleplay) as server, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_context(viewport={"width": 1400, "height": 860}).new_page()
            page.goto(server.url + "play")
            wait_for(page, "window.recagent_play && window.recagent_play.ready && window.recagent_play.view "
                           "&& window.recagent_play.view.layoutDone")
            page.screenshot(path=str(args.out / "roleplay-your-turn.png"))
            page.click("#do-browse")
            page.wait_for_selector("#pages .item .stars")
            page.locator("#pages .item").first.locator('button[data-rating="4"]').click()
            page.wait_for_selector("#pages .item.watched")
            page.screenshot(path=str(args.out / "roleplay-browse.png"))
            page.click("#leave")
            roleplay.wait_for_turn(agent, WARM_UP_STEPS + 1)
            page.click("#do-chat")
            page.fill("#chat-text", "Seen anything good this week?")
            page.click("#chat-send")
            wait_for(page, "document.querySelectorAll('#chat-log .line').length === 2")
            page.screenshot(path=str(args.out / "roleplay-chat.png"))
            page.click("#chat-end")
            browser.close()
        wait_until(lambda: roleplay.state(agent)["status"] == "finished")
    for name in ("roleplay-your-turn.png", "roleplay-browse.png", "roleplay-chat.png"):
        print(args.out / name)


if __name__ == "__main__":
    main()
