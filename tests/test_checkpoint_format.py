"""The checkpoint format runs no code from its files: an old pickle checkpoint is refused unread, a
state tree naming a class or function outside recagent's allow-list is refused even when its
manifest was re-hashed to match, and torch recommenders round-trip through arrays."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest
from typer.testing import CliRunner

from recagent import Simulation, UserError
from recagent.cli import app
from recagent.simulation.state_codec import CheckpointFormatError, decode, encode

from .conftest import SMALL_SCENARIO, merge


class Marker:
    """A pickle payload that, if ever unpickled, creates a marker file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def checkpointed_run(tmp_path):
    sim = Simulation.from_dict(merge(SMALL_SCENARIO, {"simulation": {"checkpoint_every": 1}}), out=tmp_path / "run")
    sim.run(steps=2)
    return sim.run_dir


def test_an_old_pickle_checkpoint_is_never_unpickled(tmp_path):
    run_dir = checkpointed_run(tmp_path)
    marker = tmp_path / "pwned"
    state = run_dir / "checkpoint" / "state"
    for part in state.iterdir():
        part.unlink()
    state.rmdir()
    (run_dir / "checkpoint" / "state.pkl").write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(UserError, match="older recagent .* never read"):
        Simulation.resume(run_dir)
    result = CliRunner().invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "Traceback" not in result.output
    assert "state.pkl" in result.output
    assert not marker.exists()


def rehash(state_dir, tree: dict) -> None:
    """Write `tree` as the state and a manifest that matches it, as a crafted checkpoint would."""
    data = json.dumps(tree).encode()
    (state_dir / "state.json").write_bytes(data)
    manifest = json.loads((state_dir / "manifest.json").read_text())
    manifest["files"]["state.json"] = hashlib.sha256(data).hexdigest()
    (state_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("node", [
    {"object": "os:_wrap_close", "attrs": {"dict": [], "kind": "dict"}},
    {"object": "subprocess:Popen", "attrs": {"dict": [], "kind": "dict"}},
    {"function": "os:system"},
    {"stateful": "builtins:eval", "arrays": {}, "meta": None},
    {"object": "recagent.simulation.state:World.__init__.__globals__", "attrs": None},
])
def test_a_crafted_state_tree_is_refused_in_one_line(tmp_path, node):
    run_dir = checkpointed_run(tmp_path)
    state_dir = run_dir / "checkpoint" / "state"
    tree = json.loads((state_dir / "state.json").read_text())
    tree["dict"][0][1] = node  # the first entry of the captured state
    rehash(state_dir, tree)
    with pytest.raises(UserError, match="does not hold a run this recagent can restore"):
        Simulation.resume(run_dir)


def test_unknown_names_are_refused_by_the_decoder():
    for node in ({"object": "builtins:object", "attrs": {}}, {"function": "builtins:exec"},
                 {"generator": "Evil", "state": None}, {"dict": [], "kind": "weird"}):
        with pytest.raises(CheckpointFormatError):
            decode(node, {}, {})


def test_object_arrays_are_not_written():
    with pytest.raises(TypeError, match="object array"):
        encode({"x": np.array([object()], dtype=object)}, {})


@pytest.mark.parametrize("name", ["mf", "sasrec"])
def test_torch_recommenders_round_trip_through_arrays(name):
    import torch

    from recagent.data.synthetic import make_synthetic
    from recagent.recommenders.mf import BPRMFRecommender
    from recagent.recommenders.sasrec import SASRecRecommender

    dataset = make_synthetic(n_users=30, n_items=60, history_length=10, seed=1)
    rec = {"mf": BPRMFRecommender, "sasrec": SASRecRecommender}[name](seed=2, dim=8, epochs=1)
    rec.fit(dataset.catalog, dataset.interactions)
    tree, arrays = encode({"rec": rec}, {})
    assert all(a.dtype != object for a in arrays.values())
    copy = decode(json.loads(json.dumps(tree)), arrays, {})["rec"]
    users = np.arange(5)
    assert np.array_equal(rec.recommend(users, 10), copy.recommend(users, 10))
    state = torch.get_rng_state()
    rec.train(1)
    torch.set_rng_state(state)
    copy.train(1)  # training goes on the same way: optimiser state and generators came back
    assert np.array_equal(rec.recommend(users, 10), copy.recommend(users, 10))


def test_a_stateful_component_is_written_by_its_own_state(tmp_path):
    from recagent.simulation.state import RunWatches

    watches = RunWatches(4)
    watches.add(np.array([1, 3]), np.array([7, 9]), np.array([4.0, 2.5]))
    tree, arrays = encode({"w": watches}, {})
    node = tree["dict"][0][1]
    assert node["stateful"] == "recagent.simulation.state:RunWatches" and len(node["arrays"]) == 5
    back = decode(json.loads(json.dumps(tree)), arrays, {})["w"]
    assert back[3] == [(9, 2.5)] and back.last_item.tolist() == [-1, 7, -1, 9]
    arrays[node["arrays"]["agent"]] = np.array([1.5])  # a crafted column
    with pytest.raises(CheckpointFormatError, match="watches column agent"):
        decode(tree, arrays, {})
