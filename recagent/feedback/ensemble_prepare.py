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
import pickle
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..cache import publish_folder
from ..data import Catalog, History, Interactions
from ..errors import UserError
from ..keywords.base import ItemKeywords
from ..keywords.offline import VERSION as OFFLINE_KEYWORDS_VERSION
from .bias import BiasFeedback
from .compiled_stacker import compiled
from .ensemble_features import Components
from .exposure import GRID as EXPOSURE_GRID, MAX_DENSE_CELLS, STEPS as EXPOSURE_STEPS, ExposureModel, ShownCorrection
from .mf import MatrixFactorization
from .sample import MAX_EXPOSURE_INTERACTIONS, exposure_sample, fit_sample, sample_users
from .sasrec import SASRec

FORMAT_VERSION = 3  # 2: incremental user state (float32 f_sim features); 3: the shown correction (exposure.npz)


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


def versions() -> dict:
    import sklearn
    import torch

    from .. import __version__ as recagent_version

    return {"recagent": recagent_version, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "scikit-learn": sklearn.__version__}


def split_holdout(interactions: Interactions, how: str, fraction: float, seed: int) -> tuple[Interactions, Interactions]:
    """Training ratings -> (inner train, holdout) for fitting the stacker without the test data."""
    if how == "temporal":
        return interactions.temporal_split(fraction)
    if how != "random":
        raise UserError(f"holdout must be 'random' or 'temporal', found {how!r}", "feedback.params.holdout")
    mask = np.random.default_rng(seed).random(len(interactions)) < fraction
    return interactions.subset(~mask), interactions.subset(mask)


def save_keywords(folder: Path, keywords: ItemKeywords, vectors: dict[str, np.ndarray], extra: dict | None = None) -> None:
    """keywords.json + keyword_vectors.npz (+ a manifest when `extra` is given) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    keywords.save(folder / "keywords.json")
    vocab = sorted(vectors)
    np.savez(folder / "keyword_vectors.npz", vocabulary=np.array(vocab, dtype=object),
             vectors=np.stack([vectors[k] for k in vocab]).astype(np.float32) if vocab else
             np.zeros((0, 384), dtype=np.float32))
    if extra is not None:
        manifest = {"kind": "keywords", "route": keywords.route, "items": len(keywords), "meta": keywords.meta,
                    **extra, "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


class EnsemblePreparation:
    """Fitting and persistence of `EnsembleFeedback` (a mixin: `fit`, `save`, `load`)."""

    # ===== fitting ===================================================================================
    def fit(self, catalog: Catalog, interactions: Interactions) -> "EnsembleFeedback":
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
        if folder is not None and (folder / "manifest.json").is_file():
            manifest = json.loads((folder / "manifest.json").read_text())
            if manifest.get("fingerprint") == fp and manifest.get("format") == FORMAT_VERSION:
                self._load(folder, catalog)
                return self
        self._prepare(catalog, interactions)
        self.fingerprint_ = fp
        if folder is not None:
            publish_folder(folder, self.save, "manifest.json")
        return self

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
        # everything is fitted on a bounded sample of users (all of them when the data is within
        # bounds); per-user parameters come from each user's own ratings (fold-ins, live state)
        sample, sampled = fit_sample(interactions, p.fit_users, p.max_interactions, p.seed)
        self.fit_sample_ = {"users": int(len(sampled) if sampled is not None else len(np.unique(interactions.users))),
                            "interactions": len(sample), "whole_data": sampled is None}
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
            if (folder / "keywords.json").is_file() and (folder / "keyword_vectors.npz").is_file():
                kv = np.load(folder / "keyword_vectors.npz", allow_pickle=True)
                return ItemKeywords.load(folder / "keywords.json"), dict(zip(kv["vocabulary"].tolist(), kv["vectors"]))
        keywords, vectors = self._distil(catalog)
        if folder is not None:
            publish_folder(folder, lambda tmp: save_keywords(tmp, keywords, vectors, {"dataset": self.dataset_name,
                                                                                     "params": kw_params}),
                           "keywords.json")
        return keywords, vectors

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
        """P(like): logistic regression on standardised features; rating: ridge on spline features.

        On held-out slices of the training data these matched or beat small gradient-boosted
        trees (stacker="gbm") and predict a 100,000-pair batch in milliseconds.
        """
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import SplineTransformer, StandardScaler

        p = self.params
        X = self._stack_inputs(X)
        liked = ratings >= p.like_threshold
        if liked.all() or not liked.any():
            raise UserError("the stacker needs both liked and disliked ratings in the training data", "feedback")
        if p.stacker == "linear":
            self.stack_like = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, liked)
            self.stack_rating = compiled(make_pipeline(StandardScaler(), SplineTransformer(n_knots=5, degree=3),
                                                       Ridge(alpha=1.0)).fit(X, ratings))
        elif p.stacker == "gbm":
            from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

            common = dict(max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40,
                          l2_regularization=1.0, early_stopping=False, random_state=p.seed)
            self.stack_like = HistGradientBoostingClassifier(**common).fit(X, liked)
            self.stack_rating = HistGradientBoostingRegressor(**common).fit(X, ratings)
        else:
            raise UserError(f"stacker must be 'linear' or 'gbm', found {p.stacker!r}", "feedback.params.stacker")

    # ===== persistence =====================================================================================
    def save(self, folder: str | Path) -> Path:
        """Write everything `load` needs plus a JSON manifest with provenance."""
        import torch

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        c = self.components
        save_keywords(folder, self.keywords, {k: self.keyword_vectors[k] for k in self.vocabulary})
        np.savez(folder / "components.npz", mu=c.mu, b_item=c.b_item, reg_user=c.reg_user, item_count=c.item_count,
                 mf_item_side=c.mf.item_side)
        torch.save({"sasrec": c.sasrec.state()}, folder / "sasrec.pt")
        with open(folder / "stacker.pkl", "wb") as f:
            rating = getattr(self.stack_rating, "pipeline", self.stack_rating)  # the sklearn model, not its compiled form
            pickle.dump({"like": self.stack_like, "rating": rating}, f)
        with open(folder / "shown.pkl", "wb") as f:
            pickle.dump(self.shown.state(), f)
        mf_state = c.mf.state()
        manifest = {
            "format": FORMAT_VERSION, "model": self.name, "route": self.keywords.route,
            "dataset": self.dataset_name, "fingerprint": getattr(self, "fingerprint_", None),
            "params": asdict(self.params), "catalog_size": self.catalog_size,
            "keywords": {"vocabulary": len(self.vocabulary), **self.keywords.meta},
            "mf": {k: v for k, v in mf_state.items() if k not in ("item_side",)},
            "sasrec": c.extra, "stacker_rows": getattr(self, "stack_rows", None),
            "fit_sample": getattr(self, "fit_sample_", None),
            "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "timings_s": self.timings,
            "files": ["keywords.json", "keyword_vectors.npz", "components.npz", "sasrec.pt", "stacker.pkl", "shown.pkl"],
            "shown": {"exposure_reg": self.shown.exposure.reg, "head_like": self.shown.like.tolist(),
                      "head_rating": self.shown.rating.tolist()},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
        return folder

    def _load(self, folder: Path, catalog: Catalog) -> None:
        import torch

        manifest = json.loads((folder / "manifest.json").read_text())
        self.catalog_size = int(manifest["catalog_size"])
        if self.catalog_size != len(catalog):
            raise UserError(f"cache was prepared for {self.catalog_size} items, the catalog has {len(catalog)}", folder)
        self.keywords = ItemKeywords.load(folder / "keywords.json")
        kv = np.load(folder / "keyword_vectors.npz", allow_pickle=True)
        self.keyword_vectors = dict(zip(kv["vocabulary"].tolist(), kv["vectors"]))
        self._build_content(catalog)
        comp = np.load(folder / "components.npz")
        mf = MatrixFactorization.from_state({**manifest["mf"], "item_side": comp["mf_item_side"]})
        sasrec = SASRec.from_state(torch.load(folder / "sasrec.pt", weights_only=False)["sasrec"])
        self.components = Components(float(comp["mu"]), comp["b_item"], float(comp["reg_user"]), comp["item_count"],
                                     mf, sasrec, manifest.get("sasrec", {}))
        with open(folder / "stacker.pkl", "rb") as f:
            stackers = pickle.load(f)
        self.stack_like, self.stack_rating = stackers["like"], compiled(stackers["rating"])
        with open(folder / "shown.pkl", "rb") as f:
            self.shown = ShownCorrection.from_state(pickle.load(f))
        self.fingerprint_ = manifest.get("fingerprint")
        self.timings = manifest.get("timings_s", {})
        self.loaded_from = folder

    @classmethod
    def load(cls, folder: str | Path, catalog: Catalog, mode: str = "soft") -> "EnsembleFeedback":
        """A fitted ensemble from a cache folder written by `save` (or `recagent prepare`)."""
        folder = Path(folder)
        if not (folder / "manifest.json").is_file():
            raise UserError("not a prepared feedback cache (no manifest.json); run `recagent prepare`", folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        model = cls(mode=mode, dataset_name=manifest.get("dataset", "dataset"), **manifest["params"])
        model._load(folder, catalog)
        return model
