"""A batch run (stdout not a terminal) prints plain progress lines as it goes, and `recagent run`
checkpoints by default, so a crashed batch job can be resumed."""

from __future__ import annotations

import subprocess
import sys

import yaml

from recagent.simulation.session import DEFAULT_CHECKPOINT_EVERY

from .conftest import ROOT, SMALL_SCENARIO, merge


def scenario_file(tmp_path, steps: int, **simulation):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {"simulation": {"steps": steps, **simulation}})))
    return path


def test_progress_lines_when_stdout_is_not_a_terminal(tmp_path):
    path = scenario_file(tmp_path, 40)
    done = subprocess.run([sys.executable, "-m", "recagent", "run", str(path), "--out", str(tmp_path / "run")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("small: step ")]
    # every 2nd step of 40 (about 20 lines) and the last; none repeated, in order
    steps = [int(line.split()[2].split("/")[0]) for line in lines]
    assert steps == list(range(2, 41, 2)) and all("/40" in line and "watches" in line for line in lines)


def test_recagent_run_checkpoints_by_default_and_0_turns_it_off(tmp_path):
    path = scenario_file(tmp_path, 12)
    for args, folder in (([], "default"), (["--checkpoint-every", "0"], "off")):
        done = subprocess.run([sys.executable, "-m", "recagent", "run", str(path), "--out", str(tmp_path / folder),
                               "--quiet", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    resolved = yaml.safe_load((tmp_path / "default" / "scenario.resolved.yaml").read_text())
    assert resolved["simulation"]["checkpoint_every"] == DEFAULT_CHECKPOINT_EVERY == 10
    assert (tmp_path / "default" / "checkpoint" / "state" / "manifest.json").is_file()
    assert not (tmp_path / "off" / "checkpoint").exists()
    # a scenario's own interval wins over the default
    own = scenario_file(tmp_path, 4, checkpoint_every=3)
    done = subprocess.run([sys.executable, "-m", "recagent", "run", str(own), "--out", str(tmp_path / "own"),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    assert yaml.safe_load((tmp_path / "own" / "scenario.resolved.yaml").read_text())["simulation"]["checkpoint_every"] == 3
