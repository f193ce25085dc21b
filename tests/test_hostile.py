"""Issue 13's corpus of hostile and broken inputs (tests/hostile/cases.py), through `validate` and `run`.

Every case must end with exit code 2 and one line on stderr that names the file (the scenario, or
the data file and line) and the field, with the expected message; no traceback and no Python
internals; nothing left behind in the folder (no run folder). Every case runs in-process through
Typer's CliRunner for both commands; a representative subset also runs as a real `recagent`
process under a 2 GiB address-space limit and a 30 s timeout.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recagent.cli import app
from tests.hostile.cases import CASES, Case

# Text that only Python internals produce: it must never reach the user.
INTERNALS = re.compile(r"Traceback|Error:|Exception|__init__|unexpected keyword|object has no attribute|"
                       r"negative dimension|Input contains NaN|<class |File \"")
LIMIT_BYTES = 2 * 2**30
TIME_LIMIT_S = 30


def materialise(case: Case, folder: Path) -> Path:
    """Write the case's scenario and files into `folder`; the scenario's path."""
    path = folder / "hostile.yaml"
    text = case.text()
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    for name, content in case.files.items():
        target = folder / name
        if callable(content):
            content(folder)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return path


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def check_error(case: Case, stderr: str, path: Path) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{case.id}: expected one line, got {len(lines)}: {stderr[:500]}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert len(line) < 1000, f"{case.id}: an error line of {len(line)} characters"
    assert str(path.parent) in line, f"{case.id}: the line names no file of the case: {line}"
    for fragment in case.expect:
        assert fragment in line, f"{case.id}: {fragment!r} not in {line!r}"
    assert not INTERNALS.search(line), f"{case.id}: Python internals in {line!r}"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default ./runs would land here, and would be seen
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path.parent / "cache"))
    monkeypatch.delenv("RECAGENT_HOSTILE_NOT_SET", raising=False)


def test_corpus_is_large_and_distinct():
    ids = [c.id for c in CASES]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_in_process(case: Case, command: str, tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    path = materialise(case, folder)
    before = snapshot(folder)
    started = time.perf_counter()
    result = CliRunner().invoke(app, [command, str(path)] + (["--quiet"] if command == "run" else []))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 2, f"{case.id}: exit {result.exit_code}\n{result.output[-2000:]}\n{result.exception!r}"
    check_error(case, result.stderr, path)
    assert result.stdout.strip() == "", f"{case.id}: stdout {result.stdout[:300]!r}"
    assert snapshot(folder) == before, f"{case.id}: left behind {snapshot(folder) - before}"
    assert snapshot(tmp_path) == {"case"} | {f"case/{p}" for p in before}
    assert elapsed < TIME_LIMIT_S


# One per class of input (YAML bombs, sizes, params, ids, outputs, broken data), each command in turn.
SUBPROCESS_CASES = [("yaml-billion-laughs", "validate"), ("yaml-deep-flow-nesting", "run"),
                    ("yaml-huge-file", "validate"), ("users-times-items-exceed-memory", "run"),
                    ("reranker-lamda-typo", "validate"), ("intervention-switch-dim-negative", "run"),
                    ("outputs-dir-is-a-file", "run"), ("csv-rating-nan", "validate"),
                    ("csv-field-over-limit", "run"), ("items-ragged-row", "validate")]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.mark.parametrize(("case_id", "command"), SUBPROCESS_CASES)
def test_hostile_input_as_a_process_within_2gib_and_30s(case_id: str, command: str, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    folder = tmp_path / "case"
    folder.mkdir()
    path = materialise(case, folder)
    before = snapshot(folder)
    env = {**os.environ, "RECAGENT_CACHE": str(tmp_path / "cache"), "COLUMNS": "100"}
    env.pop("RECAGENT_HOSTILE_NOT_SET", None)
    proc = subprocess.run([sys.executable, "-m", "recagent", command, str(path)], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, preexec_fn=_limit_memory, env=env, cwd=tmp_path)
    assert proc.returncode == 2, f"{case_id}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    check_error(case, proc.stderr, path)
    assert snapshot(folder) == before
    assert not (tmp_path / "runs").exists()
