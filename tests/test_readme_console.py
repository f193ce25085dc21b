"""Console output a newcomer sees: a one-time preparation says what it does, third-party bars stay quiet."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from recagent.preparation import PreparationProgress, estimated_seconds


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, force_terminal=False), out


def test_preparation_says_what_and_how_long_once(tmp_path):
    console, out = _console()
    progress = PreparationProgress(console, estimate_s=15, cache_dir=tmp_path)
    for stage, fraction in [("keywords: embedding item descriptions", 0.2), ("training SASRec", 0.6), ("ready", 1.0)]:
        progress(stage, fraction)
    progress("late call after the end", 1.0)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"preparing the user simulator for this catalog (one time, ~15 s; cached in {tmp_path})"
    assert lines[-1].startswith("prepared the user simulator for this catalog in ")
    assert sum(line.startswith("preparing") for line in lines) == 1


def test_a_cache_hit_prints_nothing():
    console, out = _console()
    progress = PreparationProgress(console, estimate_s=15)
    progress.close()
    assert out.getvalue() == ""


def test_estimate_grows_with_the_catalog():
    small, movielens = estimated_seconds(300, 2_000), estimated_seconds(1_682, 100_000)
    assert 5 <= small <= 30 and 60 <= movielens <= 150 and small % 5 == 0


def test_first_run_on_a_new_catalog_says_it_prepares_and_a_second_run_does_not(tmp_path):
    """A real `recagent run` from an empty cache: the preparation is announced with its estimate and
    its duration, nothing third-party leaks, and the cached re-run prints neither line."""
    import os
    import shutil

    import yaml

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump({"name": "tiny", "seed": 1, "simulation": {"steps": 1},
                                        "dataset": {"kind": "synthetic", "users": 30, "items": 40,
                                                    "history_length": 8}}), encoding="utf-8")
    env = dict(os.environ, RECAGENT_CACHE=str(tmp_path / "cache"), COLUMNS="120")
    recagent = shutil.which("recagent", path=os.path.dirname(sys.executable)) or "recagent"

    def run(out: str) -> str:
        done = subprocess.run([recagent, "run", str(scenario), "--out", str(tmp_path / out)], capture_output=True,
                              text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    first = run("first")
    lines = first.splitlines()
    announce = [i for i, line in enumerate(lines) if line.startswith("preparing the user simulator for this catalog")]
    done = [i for i, line in enumerate(lines) if line.startswith("prepared the user simulator for this catalog in")]
    assert len(announce) == 1 and len(done) == 1 and announce[0] < done[0], first
    assert "(one time, ~" in lines[announce[0]] and str(tmp_path / "cache") in lines[announce[0]]
    # transformers' "Loading weights" bar used to leak here while the embedding model loaded
    assert "Loading weights" not in first and "it/s]" not in first, first
    second = run("second")
    assert "preparing" not in second and "prepared" not in second, second
