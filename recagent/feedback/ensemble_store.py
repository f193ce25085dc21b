"""The ensemble's cache entry on disk: arrays, safetensors and JSON under a manifest, no pickle.

An entry (`<cache_dir>/ensemble/<dataset>-<fingerprint[:12]>/`) holds

- keywords.json and keyword_vectors.npz (the vocabulary as fixed-width text, the vectors float32),
- components.npz (biases, counts, the MF item side),
- sasrec.safetensors (the network's weights; its settings and training history are in the manifest),
- stackers.npz + stackers.json and shown.npz + shown.json (each a state tree: its arrays in the
  .npz, the rest in the .json; see recagent/cache.py split_state),
- manifest.json: kind, format, the recagent version, each file's sha256, and provenance.

Reading never unpickles (`allow_pickle=False`, safetensors, JSON), so a crafted entry cannot run
code; an entry that does not match its manifest or does not parse is reported in one line and
rebuilt (`EnsemblePreparation.fit`), or refused in one line when named explicitly (`load`).
A keyword entry (`<cache_dir>/keywords/<route>-<hash>/`) is keywords.json and keyword_vectors.npz
under its own manifest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..cache import join_state, load_arrays, read_manifest, save_arrays, split_state, write_manifest
from ..keywords.base import ItemKeywords
from .exposure import ShownCorrection
from .stackers import stacker_from_state

FORMAT_VERSION = 4  # 2: incremental user state; 3: the shown correction; 4: no pickles (arrays, safetensors, JSON)
KEYWORDS_FORMAT = 2  # 2: a manifest with sha256s, the vocabulary as text (no object array)
ENTRY_FILES = ["keywords.json", "keyword_vectors.npz", "components.npz", "sasrec.safetensors", "stackers.npz",
               "stackers.json", "shown.npz", "shown.json"]
# what a load can raise on a file that matches its manifest but is not what this format writes
BAD_ENTRY = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError)


class EntryError(Exception):
    """A cache entry that is there but cannot be used (the message says why)."""


def versions() -> dict:
    import platform

    import sklearn
    import torch

    from .. import __version__ as recagent_version

    return {"recagent": recagent_version, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "scikit-learn": sklearn.__version__}


# ===== keywords =====================================================================================
def write_keyword_files(folder: Path, keywords: ItemKeywords, vectors: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    keywords.save(folder / "keywords.json")
    vocab = sorted(vectors)
    save_arrays(folder / "keyword_vectors.npz", {
        "vocabulary": np.array(vocab, dtype=str) if vocab else np.zeros(0, dtype="<U1"),
        "vectors": np.stack([vectors[k] for k in vocab]).astype(np.float32) if vocab else np.zeros((0, 384), np.float32)})


def read_keyword_files(folder: Path) -> tuple[ItemKeywords, dict[str, np.ndarray]]:
    kv = load_arrays(folder / "keyword_vectors.npz")
    vocab, vectors = kv["vocabulary"], kv["vectors"]
    if vocab.dtype.kind != "U" or vectors.ndim != 2 or len(vocab) != len(vectors):
        raise ValueError("keyword_vectors.npz: expected a text vocabulary and one vector per keyword")
    return ItemKeywords.load(folder / "keywords.json"), dict(zip(vocab.tolist(), vectors.astype(np.float32)))


def save_keywords(folder: Path, keywords: ItemKeywords, vectors: dict[str, np.ndarray], extra: dict | None = None) -> None:
    """A keyword entry in `folder`: keywords.json + keyword_vectors.npz under manifest.json."""
    write_keyword_files(folder, keywords, vectors)
    manifest = {"route": keywords.route, "items": len(keywords), "meta": keywords.meta, **(extra or {}),
                "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_manifest(folder, manifest, ["keywords.json", "keyword_vectors.npz"], "keywords", KEYWORDS_FORMAT)


def load_keywords(folder: Path) -> tuple[ItemKeywords, dict[str, np.ndarray]]:
    """A keyword entry; EntryError when it does not match its manifest or does not parse."""
    _, why = read_manifest(folder, "keywords", KEYWORDS_FORMAT)
    if why:
        raise EntryError(why)
    try:
        return read_keyword_files(folder)
    except BAD_ENTRY as e:
        raise EntryError(f"not readable: {str(e)[:80]}") from None


# ===== the ensemble ===================================================================================
def save_entry(model, folder: Path) -> None:
    """Write `model` (a fitted EnsembleFeedback) into `folder` with its manifest."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    c = model.components
    write_keyword_files(folder, model.keywords, {k: model.keyword_vectors[k] for k in model.vocabulary})
    save_arrays(folder / "components.npz", {"mu": np.float64(c.mu), "b_item": c.b_item, "reg_user": np.float64(c.reg_user),
                                            "item_count": c.item_count, "mf_item_side": c.mf.item_side})
    sasrec = c.sasrec.state()
    save_file({k: v.detach().contiguous() for k, v in sasrec.pop("weights").items()}, str(folder / "sasrec.safetensors"))
    _save_tree(folder, "stackers", {"like": model.stack_like.state(), "rating": model.stack_rating.state()})
    _save_tree(folder, "shown", model.shown.state())
    mf_state = c.mf.state()
    manifest = {
        "model": model.name, "route": model.keywords.route, "dataset": model.dataset_name,
        "fingerprint": getattr(model, "fingerprint_", None), "params": model.params_dict(),
        "catalog_size": model.catalog_size, "keywords": {"vocabulary": len(model.vocabulary), **model.keywords.meta},
        "parts": model.parts_, "voters": list(model.voters),
        "mf": {k: v for k, v in mf_state.items() if k not in ("item_side", "shown")},
        "sasrec": c.extra, "sasrec_state": sasrec, "stacker_rows": getattr(model, "stack_rows", None),
        "fit_sample": getattr(model, "fit_sample_", None), "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "timings_s": model.timings,
        "shown": {"exposure_reg": model.shown.exposure.reg, "head_like": model.shown.like.tolist(),
                  "head_rating": model.shown.rating.tolist()},
    }
    write_manifest(folder, manifest, ENTRY_FILES, "ensemble", FORMAT_VERSION)


def read_entry(folder: Path) -> dict:
    """manifest.json of an ensemble entry whose files match it; EntryError otherwise."""
    manifest, why = read_manifest(folder, "ensemble", FORMAT_VERSION)
    if why:
        raise EntryError(why)
    return manifest


def load_entry(model, folder: Path, manifest: dict, catalog) -> None:
    """Fill `model` from a verified entry; EntryError when a file does not parse as this format writes it."""
    try:
        _load(model, folder, manifest, catalog)
    except BAD_ENTRY as e:
        raise EntryError(f"not readable: {type(e).__name__}: {str(e)[:80]}") from None


def _load(model, folder: Path, manifest: dict, catalog) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .ensemble_features import Components
    from .mf import MatrixFactorization
    from .sasrec import SASRec

    model.catalog_size = int(manifest["catalog_size"])
    model.keywords, model.keyword_vectors = read_keyword_files(folder)
    model.voters = tuple(manifest["voters"])
    model.parts_ = dict(manifest["parts"])
    model._build_content(catalog)
    comp = load_arrays(folder / "components.npz")
    mf = MatrixFactorization.from_state({**manifest["mf"], "item_side": comp["mf_item_side"]})
    try:
        weights = load_file(str(folder / "sasrec.safetensors"))
    except SafetensorError as e:
        raise ValueError(f"sasrec.safetensors: {e}") from None
    sasrec = SASRec.from_state({**manifest["sasrec_state"], "weights": weights})
    model.components = Components(float(comp["mu"]), comp["b_item"].astype(np.float64), float(comp["reg_user"]),
                                  comp["item_count"], mf, sasrec, manifest.get("sasrec", {}))
    stackers = _load_tree(folder, "stackers")
    model.stack_like, model.stack_rating = stacker_from_state(stackers["like"]), stacker_from_state(stackers["rating"])
    model.shown = ShownCorrection.from_state(_load_tree(folder, "shown"))
    model.fingerprint_ = manifest.get("fingerprint")
    model.timings = manifest.get("timings_s", {})
    model.loaded_from = folder


def _save_tree(folder: Path, stem: str, state: dict) -> None:
    arrays: dict[str, np.ndarray] = {}
    tree = split_state(state, arrays)
    save_arrays(folder / f"{stem}.npz", arrays)
    (folder / f"{stem}.json").write_text(json.dumps(tree))


def _load_tree(folder: Path, stem: str):
    return join_state(json.loads((folder / f"{stem}.json").read_text()), load_arrays(folder / f"{stem}.npz"))
