"""Shared by the benchmarks: run a scenario given as a dict through the real runner, timed."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml

from recagent.simulation import RunResult, run_scenario


def run_timed(scenario: dict) -> tuple[RunResult, float]:
    """Write the scenario to a YAML file in a temporary folder, run it there; (result, wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario))
        started = time.perf_counter()
        result = run_scenario(path, out=Path(tmp) / "run", progress=False)
        return result, time.perf_counter() - started
