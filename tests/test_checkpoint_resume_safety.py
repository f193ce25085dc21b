"""Resume is atomic and exclusive: a refused resume (truncated, corrupt, missing or tampered
checkpoint) leaves every file of the run folder byte-for-byte as it was, and a run folder has one
writer: a second process gets one line naming the holder's PID."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from recagent import Simulation, UserError
from recagent.cli import app

from .conftest import ROOT, SMALL_SCENARIO, merge


def digest(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A run folder left as a kill leaves it: 4 of 6 steps, checkpoint after step 4, status running."""
    folder = tmp_path_factory.mktemp("killed")
    code = ("import os, signal, sys\nfrom recagent import Simulation\nimport json\n"
            "sim = Simulation.from_dict(json.loads(sys.argv[1]), out=sys.argv[2])\n"
            "sim.run(steps=4)\nsim.step()\nos.kill(os.getpid(), signal.SIGKILL)\n")
    scenario = merge(SMALL_SCENARIO, {"simulation": {"checkpoint_every": 2}})
    done = subprocess.run([sys.executable, "-c", code, json.dumps(scenario), str(folder / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    return folder / "run"


def copy_of(run_dir, tmp_path):
    import shutil

    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda s: truncate(s / "arrays.npz"), "does not match its manifest"),
    (lambda s: flip(s / "state.json"), "does not match its manifest"),
    (lambda s: truncate(s / "manifest.json"), "not a manifest recagent wrote"),
    (lambda s: (s / "arrays.npz").unlink(), "incomplete"),
    (lambda s: (s / "manifest.json").write_text("[" * 100000), "not a manifest recagent wrote"),
])
def test_a_refused_resume_leaves_the_folder_as_it_was(killed_run, tmp_path, damage, message):
    run_dir = copy_of(killed_run, tmp_path)
    damage(run_dir / "checkpoint" / "state")
    before = digest(run_dir)
    with pytest.raises(UserError, match=message):
        Simulation.resume(run_dir)
    assert digest(run_dir) == before
    result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "Traceback" not in result.output
    assert digest(run_dir) == before


def test_a_refused_resume_of_an_old_folder_leaves_no_lock_file(killed_run, tmp_path):
    run_dir = copy_of(killed_run, tmp_path)
    (run_dir / "run.lock").unlink()
    truncate(run_dir / "checkpoint" / "state" / "arrays.npz")
    before = digest(run_dir)
    with pytest.raises(UserError):
        Simulation.resume(run_dir)
    assert digest(run_dir) == before


HOLDER = """
import sys, time
from recagent import Simulation
sim = Simulation.resume(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


def test_a_second_process_is_refused_with_the_holders_pid(killed_run, tmp_path):
    run_dir = copy_of(killed_run, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding", holder.stderr.read()[-2000:]
        events = digest(run_dir)["events.sqlite"]
        second = subprocess.run([sys.executable, "-m", "recagent", "run", "--resume", str(run_dir), "--quiet"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
        assert second.returncode == 2 and len(lines) == 1, lines
        assert f"pid {holder.pid}" in lines[0] and str(run_dir) in lines[0]
        assert digest(run_dir)["events.sqlite"] == events  # the second one wrote nothing
    finally:
        holder.kill()
        holder.wait()
    Simulation.resume(run_dir).run()  # the holder is gone: the folder is free again
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["steps_completed"] == 6


def test_in_one_process_the_later_session_takes_the_folder_over(tmp_path):
    sim = Simulation.from_dict(merge(SMALL_SCENARIO, {"simulation": {"checkpoint_every": 1}}), out=tmp_path / "run")
    sim.run(steps=2)
    later = Simulation.resume(sim.run_dir)
    with pytest.raises(UserError, match="resumed by a later session"):
        sim.step()
    later.run()
    assert later.info["status"] == "completed"
