"""The browser tests' Playwright, or a module-level skip where the machine has no Chromium.

CI sets RECAGENT_REQUIRE_BROWSER=1 (.ci/run installs Debian's Chromium): there a missing browser
fails, never skips."""

from __future__ import annotations

import os

import pytest

from recagent.web.browser import find_chromium


def playwright_sync_api():
    """`playwright.sync_api`; call at module level (the skip applies to the whole module)."""
    if os.environ.get("RECAGENT_REQUIRE_BROWSER") == "1":
        import playwright.sync_api as sync_api

        assert find_chromium(), "RECAGENT_REQUIRE_BROWSER=1 but no Chromium at /usr/bin/chromium"
        return sync_api
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    if find_chromium() is None:  # pragma: no cover
        pytest.skip("no Chromium at /usr/bin/chromium: apt-get install -y chromium", allow_module_level=True)
    return sync_api
