"""Preparing the ensemble for a catalog, and its cache: fit (load or prepare), save and load.

Preparation distils (or loads) the catalog's keywords, fits the base models on an inner split of
the training ratings, the stacker and the shown correction on the held-out rest, and refits the
base models on all training ratings (see recagent/feedback/ensemble.py). A large population is
fitted on a bounded sample of its users (`fit_users`, `max_interactions`; recagent/feedback/
sample.py), keeping the inner fit, and every user's own parameters come from its ratings. A prepared model is
cached under `<cache_dir>/ensemble/<dataset>-<fingerprint[:12]>/`, where the fingerprint
covers the data and everything that changes what is fitted; keywords are cached separately under
`<cache_dir>/keywords/`, per catalog.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Self

import numpy as np

from ..cache import publish_folder, remove_entry, say_rebuilding
from ..data import Catalog, History, Interactions
from ..errors import UserError
from ..keywords.base import ItemKeywords
from ..keywords.offline import VERSION as OFFLINE_KEYWORDS_VERSION
from .bias import BiasFeedback
from .ensemble_features import FEATURES, Components
from .ensemble_params import EnsembleParams
from .ensemble_store import (
    FORMAT_VERSION,
    EntryError,
    load_entry,
    load_keywords,
    read_entry,
    save_entry,
    save_keywords,
    versions,
)
from .exposure import GRID as EXPOSURE_GRID
from .exposure import MAX_DENSE_CELLS, ExposureModel, ShownCorrection
from .exposure import STEPS as EXPOSURE_STEPS
from .mf import MatrixFactorization
from .sample import MAX_EXPOSURE_INTERACTIONS, exposure_sample, fit_sample, sample_users
from .sasrec import SASRec
from .stackers import fit_stackers

__all__ = ["FORMAT_VERSION", "EnsemblePreparation", "fingerprint", "save_keywords", "split_holdout", "versions"]


def fingerprint(catalog: Catalog, interactions: Interactions | None, params: dict) -> str:
    """sha256 over the data and the parameters: a cache entry is reused only for the same inputs."""
    h = hashlib.sha256()
    h.update(np.asarray(catalog.raw_ids, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(catalog.genres).tobytes())
    for s in catalog.titles + catalog.texts + catalog.genre_names:
        h.update(s.encode("utf-8", "replace") + b"\0")
    if interactions is not None:
        for a in (interactions.users, interactions.items, interactions.ratings, interactions.times):
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


def split_holdout(interactions: Interactions, how: str, fraction: float, seed: int) -> tuple[Interactions, Interactions]:
    """Training ratings -> (inner train, holdout) for fitting the stacker without the test data."""
    if how == "temporal":
        return interactions.temporal_split(fraction)
    if how != "random":
        raise UserError(f"holdout must be 'random' or 'temporal', found {how!r}", "feedback.params.holdout")
    mask = np.random.default_rng(seed).random(len(interactions)) < fraction
    return interactions.subset(~mask), interactions.subset(mask)


class EnsemblePreparation:
    """Fitting and persistence of `EnsembleFeedback` (a mixin: `fit`, `save`, `load`)."""

    # set by EnsembleFeedback.__init__
    params: EnsembleParams
    name: str
    dataset_name: str
    cache_dir: Path | None
    progress: Callable[[str, float], None]
    timings: dict[str, float]
    loaded_from: Path | None
    _given_keywords: tuple
    # set by fit (prepared or loaded)
    keywords: ItemKeywords | None
    keyword_vectors: dict[str, np.ndarray] | None
    catalog_size: int
    components: Components
    stack_like: object  # recagent/feedback/stackers.py
    stack_rating: object
    shown: ShownCorrection
    voters: tuple[str, ...]  # the base models that vote (see EnsembleFeedback.verdict)
    parts_: dict  # what fitted and what was left out, and why (the manifest's "parts")
    fingerprint_: str | None
    fit_sample_: dict
    stack_rows: int

    # ===== fitting ===================================================================================
    def fit(self, catalog: Catalog, interactions: Interactions) -> Self:
        """Load a matching cache entry if there is one, else prepare (and save when cache_dir is set)."""
        key, p = asdict(self.params), self.params
        if sample_users(interactions, p.fit_users, p.max_interactions, p.seed) is None:
            del key["fit_users"], key["max_interactions"]  # the whole data is the sample: the bounds change nothing
        if self._exposure_sample(interactions, len(catalog)) is not None:
            key["exposure_fit_interactions"] = MAX_EXPOSURE_INTERACTIONS
        key["format"] = FORMAT_VERSION  # what is fitted changed: a new entry, not the old folder's name
        key["exposure"] = [list(EXPOSURE_GRID), EXPOSURE_STEPS]  # the shown correction's exposure model
        if self.keywords is None and self.params.route == "offline":
            key["offline_keywords_version"] = OFFLINE_KEYWORDS_VERSION
        if self.keywords is not None:  # keywords handed in (e.g. the LLM route) are part of the key
            key["keywords_sha256"] = hashlib.sha256(json.dumps(self.keywords.to_json(), sort_keys=True).encode()).hexdigest()
        fp = fingerprint(catalog, interactions, key)
        folder = self.cache_folder(fp) if self.cache_dir else None
        if folder is not None and p.stacker == "gbm":  # its trees have no array form here (stackers.py)
            print("the gbm stacker is not cached: the ensemble is prepared again on every fit", file=sys.stderr)
            folder = None
        if folder is not None and (folder.exists() or folder.is_symlink()) and self._load_cached(folder, fp, catalog):
            return self
        self._prepare(catalog, interactions)
        self.fingerprint_ = fp
        if folder is not None:
            publish_folder(folder, self.save, "manifest.json")
        return self

    def _load_cached(self, folder: Path, fp: str, catalog: Catalog) -> bool:
        """Load the entry when it matches its manifest and this fit; else say so, remove it and return False."""
        try:
            if folder.is_symlink():
                raise EntryError("the entry is a symlink")
            manifest = read_entry(folder)
            if manifest.get("fingerprint") != fp:
                raise EntryError("its fingerprint is not this data's")
            if int(manifest.get("catalog_size", -1)) != len(catalog):
                raise EntryError(f"prepared for {manifest.get('catalog_size')} items, the catalog has {len(catalog)}")
            load_entry(self, folder, manifest, catalog)
            return True
        except EntryError as e:
            say_rebuilding(folder, str(e))
            self._forget_loaded()
            try:
                remove_entry(folder)
            except OSError as err:
                raise UserError(f"cannot remove the unusable cache entry ({err.strerror})", folder) from None
            return False

    def _forget_loaded(self) -> None:
        """Undo a partial load (keywords handed in by the caller are kept)."""
        self.keywords, self.keyword_vectors = self._given_keywords
        self.loaded_from = None

    def _exposure_sample(self, interactions: Interactions, n_items: int) -> np.ndarray | None:
        """The users the exposure model is fitted on (None: all; see sample.exposure_sample)."""
        p = self.params
        return exposure_sample(interactions, n_items, p.seed, MAX_DENSE_CELLS, p.fit_users, p.max_interactions)

    def cache_folder(self, fp: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.dataset_name)
        return self.cache_dir / "ensemble" / f"{safe}-{fp[:12]}"

    def _timed(self, stage: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - start, 2)
        return out

    def _prepare(self, catalog: Catalog, interactions: Interactions) -> None:
        p = self.params
        if len(interactions) == 0:
            raise UserError("the ensemble needs training ratings; the dataset has none", "feedback")
        self.catalog_size = len(catalog)
        if self.keywords is None:
            self.keywords, self.keyword_vectors = self._timed("keywords", self.keywords_for, catalog)
        elif self.keyword_vectors is None:
            from ..embeddings import embed

            vocab = self.keywords.vocabulary()
            self.keyword_vectors = dict(zip(vocab, embed(vocab)))
        self._build_content(catalog)
        self.parts_ = {}
        # everything is fitted on a bounded sample of users (all of them when the data is within
        # bounds); per-user parameters come from each user's own ratings (fold-ins, live state)
        sample, sampled = fit_sample(interactions, p.fit_users, p.max_interactions, p.seed)
        self.fit_sample_ = {"users": int(len(sampled) if sampled is not None else len(np.unique(interactions.users))),
                            "interactions": len(sample), "whole_data": sampled is None}
        self.voters = self._fitting_voters(sample)
        self.progress("fitting base models on the inner split", 0.45)
        inner, holdout = split_holdout(sample, p.holdout, p.holdout_fraction, p.seed)
        self.components = self._timed("base models (inner)", self._fit_components, catalog, inner, 0.45, 0.65)
        self.progress("fitting the stacker", 0.65)
        n_users = int(interactions.users.max()) + 1
        history = History.from_interactions(inner, n_users)
        X = self.features(holdout.users, holdout.items, history)
        self._timed("stacker", self._fit_stackers, X, holdout.ratings)
        self.stack_rows = len(holdout)
        self.progress("fitting the exposure model (the shown correction)", 0.68)
        exposure = self._timed("exposure model", ExposureModel(seed=p.seed).fit, interactions, n_users, len(catalog),
                               self._exposure_sample(interactions, len(catalog)))
        Xs = self._stack_inputs(X)
        self.shown = ShownCorrection.fit_ips(exposure, holdout.users, holdout.items,
                                             self.stack_like.predict_proba(Xs)[:, 1],
                                             np.clip(self.stack_rating.predict(Xs), 1, 5), holdout.ratings,
                                             p.like_threshold)
        if sampled is None:  # on a sample, the inner fit is kept: a refit would cost as much again for
            # a quarter more ratings of the same few users (the population's own ratings enter per user)
            self.progress("refitting base models on all training ratings", 0.7)
            self.components = self._timed("base models (all)", self._fit_components, catalog, interactions, 0.7, 0.98)
        self.progress("ready", 1.0)

    def keywords_for(self, catalog: Catalog) -> tuple[ItemKeywords, dict[str, np.ndarray]]:
        """The catalog's keywords from `<cache_dir>/keywords/` when there, else distilled (and cached).

        Keywords depend on the catalog only, so every fold and every refit of a dataset shares them.
        """
        p = self.params
        kw_params = {"route": p.route, "top_k": p.top_k, "min_items": p.min_items, "max_fraction": p.max_fraction,
                     "version": OFFLINE_KEYWORDS_VERSION}
        folder = None
        if self.cache_dir:
            folder = self.cache_dir / "keywords" / f"{p.route}-{fingerprint(catalog, None, kw_params)[:12]}"
            found = cached_keywords(folder)
            if found is not None:
                return found
        keywords, vectors = self._distil(catalog)
        if folder is not None:
            publish_folder(folder, lambda tmp: save_keywords(tmp, keywords, vectors, {"dataset": self.dataset_name,
                                                                                     "params": kw_params}),
                           "manifest.json")
        return keywords, vectors

    def _fitting_voters(self, sample: Interactions) -> tuple[str, ...]:
        """The base models that can learn something from this data (the rest are left out, each said once)."""
        voters = ["f_mat", "f_sim", "f_sta"]
        liked = sample.ratings >= self.params.like_threshold
        if liked.all() or not liked.any():
            self._leave_out("f_mat, f_sim and f_sta", f"every training rating is {'liked' if liked.all() else 'disliked'}"
                            " (nothing tells a like from a dislike); the vote follows the P(like) stacker")
            self.parts_["voters"] = []
            return ()
        if not self.vocabulary:
            for name in ("f_mat", "f_sim"):
                voters.remove(name)
                self._leave_out(name, "no keywords (the catalog has no item text, or no word shared by "
                                      f"{self.params.min_items}+ items)")
        if np.bincount(sample.users).max(initial=0) < 2:
            voters.remove("f_sta")
            self._leave_out("f_sta", "no user has two or more ratings (no sequence to learn from)")
        self.parts_["voters"] = voters
        return tuple(voters)

    def _distil(self, catalog: Catalog):
        p = self.params
        if p.route != "offline":
            raise UserError("the LLM keyword route runs through `recagent prepare --route llm`; fit() only "
                            "runs the offline route or loads keywords from the cache", "feedback.params.route")
        from ..keywords.offline import extract_offline

        return extract_offline(catalog, top_k=p.top_k, min_items=p.min_items, max_fraction=p.max_fraction,
                               progress=lambda stage, frac: self.progress(f"keywords: {stage}", 0.4 * frac))

    def _fit_components(self, catalog: Catalog, interactions: Interactions, lo: float, hi: float) -> Components:
        p = self.params
        bias = BiasFeedback(like_threshold=p.like_threshold, shown_correction=False).fit(catalog, interactions)
        mf = MatrixFactorization(factors=p.mf_factors, reg=p.mf_reg, seed=p.seed, like_threshold=p.like_threshold,
                                 shown_correction=False).fit(catalog, interactions)
        self.progress("training SASRec", lo + 0.1 * (hi - lo))
        sasrec = SASRec(len(catalog), dim=p.sasrec_dim, max_len=p.sasrec_max_len, epochs=p.sasrec_epochs,
                        dropout=p.sasrec_dropout, seed=p.seed, like_threshold=p.like_threshold,
                        trim=not self.fit_sample_["whole_data"])
        sasrec.fit(interactions.users, interactions.items, interactions.ratings, interactions.times,
                   progress=lambda e, n: self.progress(f"training SASRec (epoch {e})", lo + (hi - lo) * (0.1 + 0.9 * e / n)))
        count = np.bincount(interactions.items, minlength=len(catalog)).astype(np.float32)
        if hasattr(self, "_cache"):
            self._cache.clear()
        return Components(bias.mu, bias.b_item.astype(np.float64), bias.reg_user, count, mf, sasrec,
                          {"sasrec_val_auc": sasrec.best_val_auc, "sasrec_epochs": len(sasrec.history)})

    def _fit_stackers(self, X: np.ndarray, ratings: np.ndarray) -> None:
        """The P(like) and rating stackers on the held-out features (recagent/feedback/stackers.py)."""
        p = self.params
        names = [FEATURES[k] for k in self._stack_inputs(np.arange(len(FEATURES))[None])[0]]
        fitted = fit_stackers(self._stack_inputs(X), ratings, names, p.like_threshold, p.stacker, p.seed)
        self.stack_like, self.stack_rating = fitted.like, fitted.rating
        self.parts_["stacker features"] = fitted.used
        constant = [f for f in names if f in fitted.left_out]  # one line for all the features left out
        if constant:
            reasons = sorted({fitted.left_out[f].split(" (")[0] for f in constant})
            self._leave_out(f"stacker feature{'s' * (len(constant) > 1)} {', '.join(constant)}",
                            f"{' or '.join(reasons)} on the held-out training ratings")
        for part, why in fitted.left_out.items():
            if part not in names:
                self._leave_out(part, why)

    def _leave_out(self, part: str, why: str) -> None:
        """Record (and say, in one line) that a part of the ensemble is left out, and why."""
        self.parts_.setdefault("left out", {})[part] = why
        print(f"ensemble ({self.dataset_name}): {part} left out: {why}", file=sys.stderr)

    def describe_parts(self) -> str:
        """One line: which base models voted, which features the stackers read, what was left out."""
        left = self.parts_.get("left out", {})
        used = self.parts_.get("stacker features", [])
        line = f"voters: {', '.join(self.voters) or 'none (the soft stacker decides)'}; stacker features: {len(used)}"
        return line + (f"; left out: {', '.join(left)}" if left else "")

    # ===== persistence =====================================================================================
    def params_dict(self) -> dict:
        return asdict(self.params)

    def save(self, folder: str | Path) -> Path:
        """Write everything `load` needs plus a manifest (recagent/feedback/ensemble_store.py)."""
        if getattr(self.stack_like, "kind", None) == "sklearn":
            raise UserError("an ensemble with the gbm stacker cannot be saved (its trees have no array form here)",
                            "feedback.params.stacker")
        save_entry(self, Path(folder))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, catalog: Catalog, mode: str = "soft") -> Self:
        """A fitted ensemble from a cache folder written by `save` (or `recagent prepare`)."""
        folder = Path(folder)
        try:
            manifest = read_entry(folder)
            model = cls(mode=mode, dataset_name=str(manifest.get("dataset", "dataset")), **manifest["params"])
            if int(manifest["catalog_size"]) != len(catalog):
                raise EntryError(f"prepared for {manifest['catalog_size']} items, the catalog has {len(catalog)}")
            load_entry(model, folder, manifest, catalog)
        except (EntryError, KeyError, TypeError, ValueError) as e:
            raise UserError(f"not a usable prepared feedback cache ({e}); run `recagent prepare`", folder) from None
        return model


def cached_keywords(folder: Path) -> tuple[ItemKeywords, dict[str, np.ndarray]] | None:
    """The keyword entry in `folder` when it is usable; else None, after saying so and removing it."""
    if not (folder.exists() or folder.is_symlink()):
        return None
    try:
        if folder.is_symlink():
            raise EntryError("the entry is a symlink")
        return load_keywords(folder)
    except EntryError as e:
        say_rebuilding(folder, str(e))
        try:
            remove_entry(folder)
        except OSError as err:
            raise UserError(f"cannot remove the unusable cache entry ({err.strerror})", folder) from None
        return None
