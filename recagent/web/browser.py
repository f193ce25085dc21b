"""Driving the page in headless Chromium (Debian's `chromium` through Playwright), for tests and benchmarks.

Playwright is a dev dependency; no browser is downloaded (`playwright install` is never needed):
the system Chromium is launched by path.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """$RECAGENT_CHROMIUM, else /usr/bin/chromium, else chromium on PATH."""
    for candidate in (os.environ.get("RECAGENT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def launch(playwright):
    path = find_chromium()
    if path is None:
        raise RuntimeError("no Chromium found: apt-get install -y chromium (or set RECAGENT_CHROMIUM)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


class ServerThread:
    """The web app on 127.0.0.1 in a background thread (a free port is picked when port=0)."""

    def __init__(self, runs_dir: str | Path, port: int = 0, **app_options):
        import socket

        import uvicorn

        from .app import create_app

        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.app = create_app(runs_dir, **app_options)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_for(page, expression: str, timeout: float = 20.0, interval: float = 0.05):
    """Poll a JS expression until it is truthy (page.wait_for_function evaluates strings, which the
    page's Content-Security-Policy forbids); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(f"() => ({expression})")
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {expression}")
        time.sleep(interval)
