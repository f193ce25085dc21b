"""Console output a newcomer sees: a one-time preparation says what it does, third-party bars stay quiet."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from recagent.preparation import PreparationProgress, estimated_seconds


def test_embedding_model_loads_without_third_party_bars():
    code = "import transformers\nfrom recagent.embeddings import embed\nprint(embed(['a quiet start']).shape)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 384)"
    assert "Loading weights" not in done.stderr and "%|" not in done.stderr, done.stderr


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
