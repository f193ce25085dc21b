"""Cache entries are input: crafted pickles, object arrays and torch files placed in a cache folder
never run code (a marker file proves it), and an entry that does not match its manifest (tampered,
truncated, of an old format) is said in one line and rebuilt, giving the same predictions."""

from __future__ import annotations

import builtins
import json
import pickle
import shutil

import numpy as np
import pytest

from recagent.cache import load_arrays, save_arrays, sha256_file
from recagent.data import History, make_synthetic
from recagent.errors import UserError
from recagent.feedback.ensemble import EnsembleFeedback
from recagent.feedback.ensemble_prepare import cached_keywords
from recagent.feedback.ensemble_store import save_keywords
from recagent.keywords import extract_offline
from tests.feedback_helpers import fake_embed

FAST = dict(sasrec_epochs=2, mf_factors=4, top_k=4)


class Payload:
    """Unpickling this creates `marker`: the proof that a load ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


@pytest.fixture(scope="module")
def world():
    data = make_synthetic(40, 60, 10, seed=5)
    keywords, vectors = extract_offline(data.catalog, top_k=4, embed_fn=fake_embed)
    return data, keywords, vectors


def fit(world, cache):
    data, keywords, vectors = world
    return EnsembleFeedback(cache_dir=cache, dataset_name="syn", keywords=keywords, keyword_vectors=vectors,
                            **FAST).fit(data.catalog, data.interactions)


@pytest.fixture(scope="module")
def prepared(world, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    model = fit(world, cache)
    return model, model.cache_folder(model.fingerprint_)


def copy_entry(prepared, tmp_path):
    model, folder = prepared
    cache = tmp_path / "cache"
    target = cache / folder.relative_to(folder.parents[1])
    shutil.copytree(folder, target)
    return cache, target


def reseal(folder, name):
    """Update the manifest's sha256 of `name`, as a hostile colleague would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = sha256_file(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def predictions(model, data):
    history = History.from_interactions(data.interactions, 40)
    rng = np.random.default_rng(1)
    u, i = rng.integers(0, 40, 300), rng.integers(0, 60, 300)
    return model.predict_proba(u, i, history), model.predict_rating(u, i, history)


def test_the_entry_holds_no_pickle_and_lists_each_file(prepared):
    _, folder = prepared
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "ensemble" and manifest["format"] == 4 and manifest["recagent"]
    assert set(manifest["files"]) == {p.name for p in folder.iterdir()} - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert sha256_file(folder / name) == digest
        assert not name.endswith((".pkl", ".pt"))
    for npz in folder.glob("*.npz"):
        load_arrays(npz)  # allow_pickle=False: no object array anywhere
    assert manifest["voters"] == ["f_mat", "f_sim", "f_sta"]


def tamper_object_array(folder, marker):
    np.savez(folder / "stackers.npz", **{"like/mean": np.array([Payload(marker)], dtype=object)})
    reseal(folder, "stackers.npz")


def tamper_torch_pickle(folder, marker):
    import torch

    torch.save({"item_in.weight": Payload(marker)}, folder / "sasrec.safetensors")
    reseal(folder, "sasrec.safetensors")


def tamper_old_pickle_format(folder, marker):
    """An entry as format 3 wrote it: stacker.pkl and shown.pkl, loaded with pickle.load."""
    for name in ("stacker.pkl", "shown.pkl"):
        (folder / name).write_bytes(pickle.dumps(Payload(marker)))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(format=3, files=["keywords.json", "stacker.pkl", "shown.pkl"])
    (folder / "manifest.json").write_text(json.dumps(manifest))


def tamper_truncated(folder, marker):
    data = (folder / "components.npz").read_bytes()
    (folder / "components.npz").write_bytes(data[: len(data) // 2])


def tamper_json_state(folder, marker):
    (folder / "stackers.json").write_text(json.dumps({"like": {"kind": "pickle"}, "rating": {}}))
    reseal(folder, "stackers.json")


@pytest.mark.parametrize("tamper, why", [
    (tamper_object_array, "Object arrays cannot be loaded"),
    (tamper_torch_pickle, "sasrec.safetensors"),
    (tamper_old_pickle_format, "format 3, this recagent reads format 4"),
    (tamper_truncated, "components.npz does not match its sha256"),
    (tamper_json_state, "unknown stacker kind"),
])
def test_a_crafted_or_broken_entry_runs_no_code_and_is_rebuilt(world, prepared, tmp_path, capsys, tamper, why):
    model, _ = prepared
    cache, folder = copy_entry(prepared, tmp_path)
    marker = tmp_path / "code-ran"
    tamper(folder, marker)
    capsys.readouterr()
    again = fit(world, cache)
    err = capsys.readouterr().err
    assert not marker.exists()
    lines = [line for line in err.splitlines() if "not usable" in line]
    assert len(lines) == 1 and str(folder) in lines[0] and why in lines[0] and "rebuilding" in lines[0], err
    assert "Traceback" not in err
    assert again.loaded_from is None  # prepared afresh ...
    for got, expected in zip(predictions(again, world[0]), predictions(model, world[0])):
        assert np.array_equal(got, expected)  # ... the same model as before
    third = fit(world, cache)  # ... and the rebuilt entry is a valid one
    assert third.loaded_from == folder
    assert not marker.exists()


def test_load_of_a_tampered_folder_is_one_line(prepared, world, tmp_path):
    _, folder = copy_entry(prepared, tmp_path)
    marker = tmp_path / "code-ran"
    tamper_object_array(folder, marker)
    with pytest.raises(UserError) as e:
        EnsembleFeedback.load(folder, world[0].catalog)
    assert "not a usable prepared feedback cache" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()
    loaded = EnsembleFeedback.load(prepared[1], world[0].catalog)  # the original still loads
    assert loaded.loaded_from == prepared[1]


def test_keyword_entry_with_an_object_vocabulary_is_rebuilt(world, tmp_path, capsys):
    _, keywords, vectors = world
    folder = tmp_path / "keywords" / "offline-abc"
    save_keywords(folder, keywords, vectors, {"dataset": "syn"})
    got, got_vectors = cached_keywords(folder)
    assert got.to_json() == keywords.to_json() and set(got_vectors) == set(vectors)
    marker = tmp_path / "code-ran"
    arrays = load_arrays(folder / "keyword_vectors.npz")
    np.savez(folder / "keyword_vectors.npz", vocabulary=np.array([Payload(marker)], dtype=object),
             vectors=arrays["vectors"])
    reseal(folder, "keyword_vectors.npz")
    assert cached_keywords(folder) is None
    assert not marker.exists() and not folder.exists()  # removed, so the caller distils again
    assert "keyword_vectors.npz" in capsys.readouterr().err


def test_plain_arrays_only(tmp_path):
    with pytest.raises(TypeError):
        save_arrays(tmp_path / "x.npz", {"a": np.array([object()], dtype=object)})
