"""Exact checkpoints of a run, and resuming from them (`recagent run --resume RUN_DIR`).

A checkpoint is the folder `checkpoint/state/` in the run folder, written at a step boundary:
`manifest.json` (format version, recagent version, a digest of the scenario, the step, the
event-log position, the sha256 of each file), `state.json` (the state tree) and `arrays.npz` (its
arrays, no object arrays). No pickle: the tree is made again by `state_codec`, which runs no code
from the file. What it holds is everything a step can change:

- the world state (`World`: arrays, the history, the social graph, pending feedback, profiles,
  word of mouth, the run's watches, the persona columns; Mesa agents are made again on demand);
- every random state: the model's numpy generator, Mesa's Python `random`, the global Python,
  numpy and (when loaded) torch generators;
- the recommender pipeline in use (weights, optimiser state, re-rankers);
- the feedback model's run-time state (per-user caches and anything it changed since it was fitted;
  its fitted parts are rebuilt, deterministically, from the cached preparation);
- the memory system (sensory buffer, short- and long-term mirrors, reflection sums, counters);
- language-backend usage and budget state, the metrics trackers and the DataCollector's rows,
  run.json's fields and the id of the last event.

Objects the resumed run rebuilds from the scenario (dataset, catalog, fitted feedback model,
language backend, event log, the model itself) are written as references by name. The folder is
written as `state.tmp/` and swapped in by renames, so a kill leaves the previous checkpoint whole.

A resume reads and checks the whole checkpoint (manifest, every file's sha256, the tree, the
scenario) and rebuilds the model before it touches the run folder; a refused resume leaves the
folder as it was. Then events after the checkpoint are deleted from the log, the chromadb store
is made to match the memory mirror, and the same steps run again; with the same code and scenario
they give the same bytes. Prompts the lost steps sent to an LLM are sent again (the run's prompt
journal tells them from older cache entries), so the usage figures match an uninterrupted run too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import sys
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
from .state_codec import CheckpointFormatError, decode, encode

FORMAT = 3  # 3: a folder of JSON and npz under a manifest (2 and before: state.pkl, a pickle)
FOLDER, STATE = "checkpoint", "state"
MANIFEST, TREE, ARRAYS = "manifest.json", "state.json", "arrays.npz"
OLD_FILE = "state.pkl"
MEMORY_FIELDS = ("sensory", "short", "long", "since_reflection", "next_id", "totals")
MAX_MANIFEST_BYTES = 1 << 20


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


def rebuilt_objects(model) -> dict[str, object]:
    """The objects a resumed run rebuilds from its scenario, by reference name."""
    objects = {"model": model, "scenario": model.scenario, "dataset": model.dataset, "catalog": model.catalog,
               "dataset_users": model.dataset.users,
               "feedback": model.feedback, "backend": model.backend, "rng": model.rng, "random": model.random,
               "datacollector": model.datacollector}
    return objects  # the memory system and the event log are attached after the restore


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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_checkpoint(session) -> Path:
    """Write the run's state after its last completed step as `checkpoint/state/` (whole or not at
    all: written as `state.tmp/`, then swapped in by renames). A failed write leaves no temp files."""
    model = session.model
    folder = session.run_dir / FOLDER
    folder.mkdir(exist_ok=True)
    refs = {id(obj): name for name, obj in rebuilt_objects(model).items()}
    tree, arrays = encode(capture(session), refs)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    files = {TREE: json.dumps(tree, separators=(",", ":")).encode(), ARRAYS: buffer.getvalue()}
    manifest = {"format": FORMAT, "recagent": __version__, "scenario": scenario_digest(session.scenario),
                "step": model.world.step_index, "last_event_id": session.log.last_id(),
                "files": {name: sha256(data) for name, data in files.items()}}
    files[MANIFEST] = json.dumps(manifest, indent=1).encode()
    path, tmp, old = folder / STATE, folder / (STATE + ".tmp"), folder / (STATE + ".old")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, data in files.items():
            write_file(tmp / name, data)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not path.exists():
            os.replace(old, path)  # the previous checkpoint stays
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def checkpoint_folder(run_dir: Path) -> Path:
    """The checkpoint to resume from: `state/`, or `state.old/` when a kill fell between the renames."""
    folder = run_dir / FOLDER
    for name in (STATE, STATE + ".old"):
        if (folder / name).is_dir() or (folder / name).is_symlink():
            return folder / name
    if (folder / OLD_FILE).exists() or (folder / OLD_FILE).is_symlink():
        raise UserError(f"checkpoint {folder / OLD_FILE} was written by an older recagent (a pickle, format 2 or "
                        f"before), never read by this one (recagent {__version__}, format {FORMAT}); re-run from "
                        "step 0 or use the recagent that wrote it")
    raise UserError("no checkpoint to resume from (run with simulation.checkpoint_every or "
                    "--checkpoint-every to write them)", run_dir)


def read_part(folder: Path, name: str, limit: int | None = None) -> bytes:
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise UserError(f"checkpoint {folder} is incomplete: {name} is missing or not a plain file; "
                        "re-run from step 0")
    if limit is not None and path.stat().st_size > limit:
        raise UserError(f"checkpoint {path} is larger than any manifest ({limit} bytes); re-run from step 0")
    return path.read_bytes()


def read_checkpoint(run_dir: Path) -> tuple[dict, object, dict]:
    """(manifest, state tree, arrays) of the run's checkpoint, every file checked against the
    manifest; one UserError line for anything that is not a whole checkpoint of this version."""
    folder = checkpoint_folder(run_dir)
    if folder.is_symlink():
        raise UserError(f"checkpoint {folder} is a symbolic link; a checkpoint is read only from its run folder")
    try:
        manifest = json.loads(read_part(folder, MANIFEST, MAX_MANIFEST_BYTES))
    except (ValueError, RecursionError):
        raise UserError(f"checkpoint {folder / MANIFEST} is not a manifest recagent wrote; re-run from step 0") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise UserError(f"checkpoint {folder / MANIFEST} is not a manifest recagent wrote; re-run from step 0")
    if manifest.get("format") != FORMAT or manifest.get("recagent") != __version__:
        raise UserError(f"checkpoint {folder} was written by recagent {manifest.get('recagent')} (format "
                        f"{manifest.get('format')}), this is recagent {__version__} (format {FORMAT}); re-run from "
                        f"step 0 or use recagent {manifest.get('recagent')}")
    for key in ("scenario", "step", "last_event_id"):
        if key not in manifest:
            raise UserError(f"checkpoint {folder / MANIFEST} has no {key!r}; re-run from step 0")
    data = {}
    for name in (TREE, ARRAYS):
        data[name] = read_part(folder, name)
        if sha256(data[name]) != manifest["files"].get(name):
            raise UserError(f"checkpoint {folder / name} does not match its manifest (sha256 differs): it was "
                            "changed or cut short; re-run from step 0")
    try:
        tree = json.loads(data[TREE])
        with np.load(io.BytesIO(data[ARRAYS]), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, RecursionError, OSError) as error:
        raise UserError(f"checkpoint {folder} does not read ({type(error).__name__}: {error}); "
                        "re-run from step 0") from None
    return manifest, tree, arrays


def load_checkpoint(run_dir: Path, *, steps: int | None = None):
    """The run in `run_dir` as it was at its checkpoint: (scenario, model, event log, run.json fields,
    step). Everything is read, checked and restored into a rebuilt model before the folder is touched."""
    from .build import build_model, load_dataset

    if not run_dir.is_dir():
        raise UserError("run folder not found", run_dir)
    header, tree, arrays = read_checkpoint(run_dir)
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
    try:
        state = decode(tree, arrays, rebuilt_objects(model))
        restore(model, state)
    except (CheckpointFormatError, RecursionError, KeyError, TypeError, ValueError) as error:
        raise UserError(f"checkpoint {run_dir / FOLDER / STATE} does not hold a run this recagent can restore "
                        f"({type(error).__name__}: {error}); re-run from step 0") from None
    # from here on the folder changes: the log, the prompt journal, the memory store
    log = EventLog(run_dir / "events.sqlite")
    model.attach_log(log, write_context=False)
    attach_journal(model, run_dir / FOLDER, resume_step=header["step"])
    if scenario.llm.memory_enabled():
        model.attach_memory(run_dir / "memory")
        for name, value in state["memory"].items():
            setattr(model.memory, name, value)
        sync_store(model.memory)
    log.truncate_after(header["last_event_id"])  # events of steps after the checkpoint happen again
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
