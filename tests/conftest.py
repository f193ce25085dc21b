"""Shared helpers: scenario files written into a temp folder, and where the reference data lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "ml-100k" / "u.data").exists(),
                                  reason="reference data ../shared/data/ml-100k is not on this machine")

SMALL_SCENARIO = {
    "name": "small",
    "seed": 3,
    "dataset": {"kind": "synthetic", "users": 40, "items": 120, "history_length": 15},
    "social": {"graph": "homophily", "degree": 6},
    "recommender": {"name": "popular", "retrain_every": 1},
    "feedback": {"model": "bias"},
    "simulation": {"steps": 6, "activation": {"kind": "pareto", "probability": 0.5}},
}


def merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture
def scenario_file(tmp_path):
    """Write a scenario (the small default, with overrides) and return its path."""

    def write(overrides: dict | None = None, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, overrides or {}), sort_keys=False))
        return path

    return write


# --- the README's test durations, measured on every run --------------------------------------------
# Time of each test (setup, call and teardown) by whether it is marked slow, so each full run also says
# how long `pytest -m "not slow"` takes (a module fixture counts where it first runs). Summed from the
# reports, so it also works under pytest-xdist, where it is the time one worker would take.
_TIME = {"slow": [0, 0.0], "not slow": [0, 0.0]}


def pytest_runtest_logreport(report):
    entry = _TIME["slow" if "slow" in report.keywords else "not slow"]
    entry[0] += report.when == "call" or (report.when == "setup" and report.skipped)
    entry[1] += report.duration


def pytest_terminal_summary(terminalreporter):
    parts = [f"{name}: {n} tests, {seconds / 60:.1f} min" for name, (n, seconds) in _TIME.items() if n]
    if parts:
        terminalreporter.write_line("test time by marker, one worker (" + "; ".join(parts) + ")")
