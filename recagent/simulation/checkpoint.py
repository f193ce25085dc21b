"""Exact checkpoints of a run, and resuming from them (`recagent run --resume RUN_DIR`).

A checkpoint is `checkpoint/state.pkl` in the run folder, written at a step boundary: a header
line (format version, recagent version, a digest of the scenario, the step, the event-log
position) and a pickle of everything a step can change:

- the world state (`World`: arrays, the history, the social graph, pending feedback, profiles,
  word of mouth, the run's watches, the persona columns; Mesa agents are made again on demand);
- every random state: the model's numpy generator, Mesa's Python `random`, the global Python,
  numpy and (when loaded) torch generators;
- the recommender pipeline in use (weights, optimiser state, re-rankers), whole;
- the feedback model's run-time state (per-user caches and anything it changed since it was fitted;
  its fitted parts are rebuilt, deterministically, from the cached preparation);
- the memory system (sensory buffer, short- and long-term mirrors, reflection sums, counters);
- language-backend usage and budget state, the metrics trackers and the DataCollector's rows,
  run.json's fields and the id of the last event.

Objects the resumed run rebuilds from the scenario (dataset, catalog, fitted feedback model,
language backend, event log, the model itself) are pickled as references, not copied. Pickle is
used because the state is a graph of shared Python objects (the recommender holds the same
history and graph the world does); the version header is checked before anything is unpickled,
and the file is only ever read from the run folder the user names. The file is written to a
temporary name and renamed, so a kill leaves the previous checkpoint whole.

On resume, events after the checkpoint are deleted from the log, the chromadb store is made to
match the memory mirror, and the same steps run again; with the same code and scenario they give
the same bytes. Prompts the lost steps sent to an LLM are sent again (the run's prompt journal
tells them from older cache entries), so the usage figures match an uninterrupted run too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import sys
import weakref
from collections import deque
from dataclasses import fields
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import UserError
from ..scenario import Scenario
from ..scenario_loading import load_scenario
from .events import EventLog
from .journal import attach_journal
from .state import World

FORMAT = 2  # 2: word of mouth, watches and personas in columns (issue 17)
MAGIC = b"RECAGENT-CHECKPOINT\n"
FOLDER, FILE = "checkpoint", "state.pkl"
MEMORY_FIELDS = ("sensory", "short", "long", "since_reflection", "next_id", "totals")


def scenario_digest(scenario: Scenario) -> str:
    """sha256 of the scenario without the fields a resume may change (steps, checkpoint_every)."""
    data = scenario.model_dump(mode="json")
    data["simulation"].pop("steps", None)
    data["simulation"].pop("checkpoint_every", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def is_runtime_state(value) -> bool:
    """Values of a fitted feedback model that change while it is used: containers and per-user caches."""
    from ..feedback.state import UserStateCache

    return isinstance(value, (dict, list, set, deque, UserStateCache))


def feedback_state(model) -> dict:
    fitted = model.fitted_feedback
    return {name: value for name, value in vars(model.feedback).items()
            if name not in fitted or value is not fitted[name] or is_runtime_state(value)}


class _Pickler(pickle.Pickler):
    """Pickles the objects a resumed run rebuilds as references, and weak references as such."""

    def __init__(self, file, refs: dict[int, str]):
        super().__init__(file, protocol=5)
        self.refs = refs

    def persistent_id(self, obj):
        name = self.refs.get(id(obj))
        if name is not None:
            return ("ref", name)
        if isinstance(obj, weakref.ref):
            return ("weakref", obj())
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, objects: dict[str, object]):
        super().__init__(file)
        self.objects = objects

    def persistent_load(self, pid):
        kind, value = pid
        if kind == "ref":
            return self.objects[value]
        if kind == "weakref":
            return weakref.ref(value)
        raise pickle.UnpicklingError(f"unknown reference {kind!r}")


def rebuilt_objects(model) -> dict[str, object]:
    """The objects a resumed run rebuilds from its scenario, by reference name."""
    objects = {"model": model, "scenario": model.scenario, "dataset": model.dataset, "catalog": model.catalog,
               "dataset_users": model.dataset.users,
               "feedback": model.feedback, "backend": model.backend, "rng": model.rng, "random": model.random,
               "datacollector": model.datacollector}
    if model.memory is not None:
        objects["memory"] = model.memory
        objects["memory_store"] = model.memory.store
    if model.event_log is not None:
        objects["event_log"] = model.event_log
    return objects


def capture(session) -> dict:
    model = session.model
    world, backend = model.world, model.backend
    state = {
        "world": {f.name: getattr(world, f.name) for f in fields(World)},
        "random": {"model_rng": model.rng.bit_generator.state, "model_random": model.random.getstate(),
                   "python": random.getstate(), "numpy": np.random.get_state(), "torch": torch_state()},
        "mesa_steps": model.steps,
        "recommender": model.recommender,
        "feedback": feedback_state(model),
        "memory": {k: getattr(model.memory, k) for k in MEMORY_FIELDS} if model.memory is not None else None,
        "backend": {"usage": backend.usage, "exhausted": backend.exhausted},
        "step_metrics": model.step_metrics,
        "model_vars": model.datacollector.model_vars,
        "info": dict(session.info),
    }
    return state


def torch_state():
    torch = sys.modules.get("torch")
    return torch.get_rng_state() if torch is not None else None


def write_checkpoint(session) -> Path:
    """Write the run's state after its last completed step (temp file + rename: whole or not at all)."""
    model = session.model
    folder = session.run_dir / FOLDER
    folder.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    refs = {id(obj): name for name, obj in rebuilt_objects(model).items()}
    _Pickler(buffer, refs).dump(capture(session))
    header = {"format": FORMAT, "recagent": __version__, "scenario": scenario_digest(session.scenario),
              "step": model.world.step_index, "last_event_id": session.log.last_id()}
    path, tmp = folder / FILE, folder / (FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(json.dumps(header).encode() + b"\n")
        f.write(buffer.getbuffer())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_header(run_dir: Path) -> tuple[dict, bytes]:
    path = run_dir / FOLDER / FILE
    if not path.is_file():
        raise UserError("no checkpoint to resume from (run with simulation.checkpoint_every or "
                        "--checkpoint-every to write them)", run_dir)
    data = path.read_bytes()
    head, _, rest = data[len(MAGIC):].partition(b"\n")
    if not data.startswith(MAGIC):
        raise UserError("not a recagent checkpoint", path)
    header = json.loads(head)
    if header.get("format") != FORMAT or header.get("recagent") != __version__:
        raise UserError(f"checkpoint written by recagent {header.get('recagent')} (format {header.get('format')}), "
                        f"this is recagent {__version__} (format {FORMAT}); resume it with that version", path)
    return header, rest


def load_checkpoint(run_dir: Path, *, steps: int | None = None):
    """The run in `run_dir` as it was at its checkpoint: (scenario, model, event log, run.json fields,
    step). The model is rebuilt from scenario.resolved.yaml, then every piece of state put back."""
    from .build import build_model, load_dataset

    if not run_dir.is_dir():
        raise UserError("run folder not found", run_dir)
    header, payload = read_header(run_dir)
    scenario = load_scenario(run_dir / "scenario.resolved.yaml")
    if scenario_digest(scenario) != header["scenario"]:
        raise UserError("the scenario changed since the checkpoint was written; a resumed run must use the scenario "
                        "it started with (only simulation.steps may change)", run_dir / "scenario.resolved.yaml")
    if steps is not None:
        if steps < header["step"]:
            raise UserError(f"--steps {steps} is less than the {header['step']} steps already done", run_dir)
        scenario.simulation.steps = steps
    dataset = load_dataset(scenario)
    model = build_model(scenario, dataset)
    log = EventLog(run_dir / "events.sqlite")
    log.truncate_after(header["last_event_id"])  # events of steps after the checkpoint happen again
    model.attach_log(log, write_context=False)
    attach_journal(model, run_dir / FOLDER, resume_step=header["step"])
    if scenario.llm.memory_enabled():
        model.attach_memory(run_dir / "memory")
    state = _Unpickler(io.BytesIO(payload), rebuilt_objects(model)).load()
    restore(model, state)
    if model.memory is not None:
        sync_store(model.memory)
    return scenario, model, log, state["info"], header["step"]


def restore(model, state: dict) -> None:
    world = World(**state["world"])
    world.people.bind(model)
    model.world = world
    rand = state["random"]
    model.rng.bit_generator.state = rand["model_rng"]
    model.random.setstate(rand["model_random"])
    random.setstate(rand["python"])
    np.random.set_state(rand["numpy"])
    if rand["torch"] is not None:
        import torch

        torch.set_rng_state(rand["torch"])
    model.steps = state["mesa_steps"]
    model.recommender = state["recommender"]
    vars(model.feedback).update(state["feedback"])
    if state["memory"] is not None:
        for name, value in state["memory"].items():
            setattr(model.memory, name, value)
    model.backend.usage = state["backend"]["usage"]
    model.backend.exhausted = state["backend"]["exhausted"]
    model.step_metrics = state["step_metrics"]
    model.datacollector.model_vars = state["model_vars"]


def sync_store(memory) -> None:
    """Make the chromadb store hold exactly the long-term mirror of the checkpoint: memories stored
    after it are deleted, memories forgotten after it come back."""
    store = memory.store
    if store is None:
        return
    wanted = {e.id: (agent, e) for agent, entries in memory.long.items() for e in entries}
    present = set(store.collection.get(include=[])["ids"])
    store.delete(sorted(present - set(wanted)))
    missing = [wanted[i] for i in sorted(set(wanted) - present)]
    if missing:
        store.add([e.id for _, e in missing], [e.text for _, e in missing], np.stack([e.embedding for _, e in missing]),
                  [{"agent_id": int(a), "created": float(e.created), "importance": float(e.importance),
                    "count": int(e.count), "tier": "long"} for a, e in missing])
