"""recagent/run/ is the only way a run is assembled: no other module starts or resumes a session,
checks a run or builds its model; each mode gives what it says, and the checks run in one order."""

from __future__ import annotations

import ast

import pytest

from recagent import Simulation, UserError
from recagent.run import Overrides, Prepared, assemble
from recagent.simulation.session import Session

from .conftest import ROOT, SMALL_SCENARIO, merge

# where each assembly step may be called: the assembler, and the steps' own homes (the dry run's
# component build lives in preflight; a resume rebuilds its model from the checkpoint's scenario)
ALLOWED = {"Session.start": {"recagent/run/assemble.py"}, "Session.resume": {"recagent/run/assemble.py"},
           "check_run": {"recagent/run/assemble.py", "recagent/preflight.py"},
           "dry_run": {"recagent/run/assemble.py"},
           "build_model": {"recagent/run/assemble.py", "recagent/preflight.py", "recagent/simulation/checkpoint.py"}}


def called(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


def test_no_other_module_assembles_a_run():
    found = []
    for path in sorted((ROOT / "recagent").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and called(node) in ALLOWED and name not in ALLOWED[called(node)]:
                found.append(f"{name}:{node.lineno} {called(node)}")
    assert found == []


def test_each_mode(tmp_path):
    scenario = merge(SMALL_SCENARIO, {"simulation": {"steps": 3}})
    dry = assemble(scenario, mode="dry-run", out=tmp_path / "dry")
    assert dry.dataset is not None and not (tmp_path / "dry").exists()
    prepared = assemble(scenario, mode="play", out=tmp_path / "play")
    assert isinstance(prepared, Prepared) and not (tmp_path / "play").exists()  # the folder waits for start()
    session = assemble(scenario, out=tmp_path / "new", overrides=Overrides(steps=2, checkpoint_every=1))
    assert isinstance(session, Session) and session.scenario.simulation.steps == 2
    session.run()
    resumed = assemble(tmp_path / "new", mode="resume", overrides=Overrides(steps=3))
    resumed.run()
    assert resumed.info["steps_completed"] == 3 and resumed.info["resumed_from_step"] == [2]
    with pytest.raises(ValueError, match="mode must be one of"):
        assemble(scenario, mode="later")
    with pytest.raises(UserError, match="keeps its own seed"):
        assemble(tmp_path / "new", mode="resume", overrides=Overrides(seed=4))


def test_the_default_checkpoint_interval_yields_to_the_scenario_and_to_0(tmp_path):
    plain = assemble(merge(SMALL_SCENARIO, {}), mode="dry-run", overrides=Overrides(default_checkpoints=True))
    assert plain.scenario.simulation.checkpoint_every == 10
    own = assemble(merge(SMALL_SCENARIO, {"simulation": {"checkpoint_every": 3}}), mode="dry-run",
                   overrides=Overrides(default_checkpoints=True))
    assert own.scenario.simulation.checkpoint_every == 3
    off = assemble(merge(SMALL_SCENARIO, {}), mode="dry-run", overrides=Overrides(checkpoint_every=0,
                                                                                 default_checkpoints=True))
    assert off.scenario.simulation.checkpoint_every is None
    played = assemble(merge(SMALL_SCENARIO, {"roleplay": {"agents": [1]}}), mode="dry-run",
                      overrides=Overrides(default_checkpoints=True))
    assert played.scenario.simulation.checkpoint_every is None  # a role-play run is never checkpointed


def test_an_error_while_building_names_the_scenario_file_in_the_api_too(tmp_path):
    path = tmp_path / "scenario.yaml"
    import yaml

    path.write_text(yaml.safe_dump(merge(SMALL_SCENARIO, {"agents": {"count": 10_000}})))
    with pytest.raises(UserError) as caught:
        Simulation.from_yaml(path, out=tmp_path / "run")
    assert str(path) in str(caught.value) and not (tmp_path / "run").exists()
