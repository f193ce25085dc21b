"""SIGTERM and SIGINT during a step: the step is finished and written, a checkpoint is written,
run.json says `interrupted`, the command exits 143 / 130 with one line, and the run resumes to the
same event log as an uninterrupted run. A full disk: run.json `failed` with the reason, no temp
files, one line, a non-zero exit (on a small tmpfs, as root only)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import yaml

from recagent import Simulation

from .conftest import ROOT, SMALL_SCENARIO, merge
from .test_resume import assert_same_run

# The real command line, with the model's step sending the signal to its own process at the start
# of step `at` (as `kill -TERM` from outside would, in the middle of that step's work).
CHILD = """
import os, sys
from recagent.simulation.model import RecSimModel
at, signum = int(sys.argv[1]), int(sys.argv[2])
original = RecSimModel.step
def step(self):
    if self.world.step_index == at:
        os.kill(os.getpid(), signum)
    original(self)
RecSimModel.step = step
sys.argv = ["recagent", *sys.argv[3:]]
from recagent.cli import main
main()
"""


def scenario_file(tmp_path, **simulation):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {"simulation": {"steps": 6, **simulation}})))
    return path


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_step_checkpoints_and_exits(tmp_path, signum, code):
    path = scenario_file(tmp_path, checkpoint_every=4)
    run_dir = tmp_path / "stopped"
    done = subprocess.run([sys.executable, "-c", CHILD, "2", str(int(signum)), "run", str(path), "--out", str(run_dir),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == code, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, lines
    assert "after step 3 of 6" in lines[0] and f"recagent run --resume {run_dir}" in lines[0]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "interrupted" and info["steps_completed"] == 3
    assert info["signal"] == signal.Signals(signum).name
    manifest = json.loads((run_dir / "checkpoint" / "state" / "manifest.json").read_text())
    assert manifest["step"] == 3  # written at the stop, not at the last due checkpoint (step 0)
    Simulation.resume(run_dir).run()
    whole = Simulation.from_yaml(path, out=tmp_path / "whole").run().run_dir
    assert_same_run(whole, run_dir, f"stopped by {signal.Signals(signum).name}")


def test_a_signal_without_checkpoints_still_closes_the_folder(tmp_path):
    path = scenario_file(tmp_path)
    run_dir = tmp_path / "stopped"
    done = subprocess.run([sys.executable, "-c", CHILD, "1", str(int(signal.SIGTERM)), "run", str(path), "--out",
                           str(run_dir), "--quiet", "--checkpoint-every", "0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 143, done.stderr[-2000:]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "interrupted" and info["steps_completed"] == 2
    assert (run_dir / "metrics.csv").exists()  # the closing files of the steps done
    assert not (run_dir / "checkpoint").exists() and "--resume" not in done.stderr


FULL = """
import sys
sys.argv = ["recagent", "run", sys.argv[1], "--out", sys.argv[2], "--quiet", "--checkpoint-every", "1"]
from recagent.cli import main
main()
"""


def test_a_full_disk_fails_the_run_in_one_line(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = tmp_path / "scenario.yaml"
        path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {"dataset": {"users": 150, "items": 400},
                                                              "simulation": {"steps": 40}})))
        run_dir = mount / "run"
        done = subprocess.run([sys.executable, "-c", FULL, str(path), str(run_dir)], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode != 0 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
        assert "no space left on device" in lines[0] and str(run_dir) in lines[0]
        leftovers = [p.name for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
        assert leftovers == []
        info = json.loads((run_dir / "run.json").read_text())
        assert info["status"] == "failed" and "no space left" in info["error"]
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.mark.parametrize("make, words", [
    (lambda p: (p / "dangle").symlink_to(p / "nowhere") or p / "dangle", "symbolic link"),
    (lambda p: (p / "dangle").symlink_to(p / "nowhere") or p / "dangle" / "run", "symbolic link"),
    (lambda p: (p / "afile").touch() or p / "afile", "is a file"),
    (lambda p: (p / "afile").touch() or p / "afile" / "run", "is a file"),
    (lambda p: p / ("a" * 300), "allows 255"),
])
def test_an_output_path_problem_is_one_line_naming_path_and_option(tmp_path, make, words):
    from typer.testing import CliRunner

    from recagent.cli import app

    out = make(tmp_path)
    result = CliRunner().invoke(app, ["run", str(scenario_file(tmp_path)), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "Traceback" not in result.output
    assert words in result.output and "--out" in result.output
