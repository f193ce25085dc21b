"""The ensemble user simulator (Zhang et al., AAAI 2025): f_mat + f_sim + f_sta, voted or stacked.

- `mode="vote"`: the paper's Eq. 9, the majority of the three base models' like/dislike votes
  (predict_proba returns 0.0 or 1.0).
- `mode="soft"` (default): a calibrated P(like) from a stacked model (small gradient-boosted
  trees) over the three base models' raw margins plus rating-model features (user/item biases,
  an MF prediction, the user's genre affinity, counts). The stacker is fitted on training data
  only: the base models are first fitted on 80% of the training ratings, scored on the remaining
  20% (random, or each user's latest 20% with `holdout="temporal"`), the stacker learns from those
  scores, and then the base models are refitted on all training ratings.
- `predict_rating` is the stacked regressor on the same features, clipped to 1-5.
- `predict_shown` answers for items the person is *shown* (a recommender page), not chose: the
  exposure correction of `recagent/feedback/exposure.py` on top of the stacked answers, its head
  fitted (inverse-propensity weighted) on the same held-out 20% the stacker learns from.

Every feature of a pair comes from a small per-user state (IncrementalUserStates) that is advanced
by the items a user's history gained, plus, for f_sim, the pair's own history: a batch of pairs
needs no Python loop per pair, and no per-user work grows with the catalog.

Cold start: see each base model's module; the stacker sees the cold user's features (zero
biases, BOS-only SASRec state, empty keyword matches, count 0) and falls back to what it learned
for users with few ratings, i.e. close to the item's popularity.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import sparse

from ..cache import publish_folder
from ..data import Catalog, History, Interactions
from ..errors import UserError
from ..keywords.base import ItemKeywords
from ..keywords.offline import VERSION as OFFLINE_KEYWORDS_VERSION
from .base import LIKE_THRESHOLD
from .bias import BiasFeedback
from .exposure import GRID as EXPOSURE_GRID, STEPS as EXPOSURE_STEPS, ExposureModel, ShownCorrection
from .matching import KeywordMatching
from .mf import MatrixFactorization
from .sasrec import SASRec
from .similarity import KeywordSimilarity, pooled_embeddings
from .state import IncrementalUserStates, coin

FEATURES = ["bias_rating", "user_bias", "item_bias", "mf_rating", "log_user_count", "log_item_count",
            "user_rating_std", "genre_affinity", "sta_logit", "mat_pos", "mat_neg", "sim_pos", "sim_neg"]
BASE_FEATURES = ["sta_logit", "mat_pos", "mat_neg", "sim_pos", "sim_neg"]
FORMAT_VERSION = 3  # 2: incremental user state (float32 f_sim features); 3: the shown correction (exposure.npz)
Progress = Callable[[str, float], None]


@dataclass
class EnsembleParams:
    """Everything that changes what `fit` produces (part of the cache fingerprint)."""

    route: str = "offline"
    top_k: int = 8
    min_items: int = 2
    max_fraction: float = 0.25
    holdout: str = "random"  # or "temporal"
    holdout_fraction: float = 0.2
    stacker: str = "linear"  # or "gbm"
    stack_features: str = "all"  # "base": only f_mat/f_sim/f_sta margins; "ratings": all but those (ablations)
    sasrec_epochs: int = 30
    sasrec_max_len: int = 50
    sasrec_dim: int = 32
    sasrec_dropout: float = 0.2
    mf_factors: int = 24
    mf_reg: float = 12.0
    like_threshold: float = LIKE_THRESHOLD
    seed: int = 0


@dataclass
class Components:
    """The fitted rating-data models whose per-user rows feed the features."""

    mu: float
    b_item: np.ndarray
    reg_user: float
    item_count: np.ndarray
    mf: MatrixFactorization
    sasrec: SASRec
    extra: dict = field(default_factory=dict)


def keyword_bitsets(m: sparse.csr_matrix) -> np.ndarray:
    """Each row's nonzero columns as a bit set: (n_rows, ceil(n_cols / 64)) uint64, bit k of word k // 64."""
    m = m.tocsr()
    bits = np.zeros((m.shape[0], (m.shape[1] + 63) // 64), dtype=np.uint64)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    np.bitwise_or.at(bits, (rows, m.indices // 64), np.left_shift(np.uint64(1), (m.indices % 64).astype(np.uint64)))
    return bits


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


class EnsembleFeedback:
    """The default FeedbackModel: see the module docstring."""

    name = "ensemble"

    def __init__(self, mode: str = "soft", cache_dir: str | Path | None = None, dataset_name: str = "dataset",
                 keywords: ItemKeywords | None = None, keyword_vectors: dict[str, np.ndarray] | None = None,
                 progress: Progress | None = None, tie_seed: int | None = None, **params):
        if mode not in ("soft", "vote"):
            raise UserError(f"mode must be 'soft' or 'vote', found {mode!r}", "feedback.params.mode")
        unknown = set(params) - set(EnsembleParams.__dataclass_fields__)
        if unknown:
            raise UserError(f"unknown parameter(s) {sorted(unknown)}; expected some of "
                            f"{sorted(EnsembleParams.__dataclass_fields__)} or mode, cache_dir", "feedback.params")
        self.mode = mode
        self.params = EnsembleParams(**params)
        # ties of f_mat / f_sim: the scenario's seed; not part of the cache fingerprint
        self.tie_seed = self.params.seed if tie_seed is None else int(tie_seed)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.dataset_name = dataset_name
        self.keywords, self.keyword_vectors = keywords, keyword_vectors
        self.progress = progress or (lambda stage, frac: None)
        self.loaded_from: Path | None = None
        self.timings: dict[str, float] = {}

    # ===== fitting ===================================================================================
    def fit(self, catalog: Catalog, interactions: Interactions) -> "EnsembleFeedback":
        """Load a matching cache entry if there is one, else prepare (and save when cache_dir is set)."""
        key = asdict(self.params)
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
        self.progress("fitting base models on the inner split", 0.45)
        inner, holdout = split_holdout(interactions, p.holdout, p.holdout_fraction, p.seed)
        self.components = self._timed("base models (inner)", self._fit_components, catalog, inner, 0.45, 0.65)
        self.progress("fitting the stacker", 0.65)
        n_users = int(max(interactions.users.max(), holdout.users.max() if len(holdout) else 0)) + 1
        history = History.from_interactions(inner, n_users)
        X = self.features(holdout.users, holdout.items, history)
        self._timed("stacker", self._fit_stackers, X, holdout.ratings)
        self.stack_rows = len(holdout)
        self.progress("fitting the exposure model (the shown correction)", 0.68)
        exposure = self._timed("exposure model", ExposureModel(seed=p.seed).fit, interactions, n_users, len(catalog))
        Xs = self._stack_inputs(X)
        self.shown = ShownCorrection.fit_ips(exposure, holdout.users, holdout.items,
                                             self.stack_like.predict_proba(Xs)[:, 1],
                                             np.clip(self.stack_rating.predict(Xs), 1, 5), holdout.ratings,
                                             p.like_threshold)
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

    def _build_content(self, catalog: Catalog) -> None:
        kw = self.keywords
        if len(kw) != len(catalog):
            raise UserError(f"keywords cover {len(kw)} items but the catalog has {len(catalog)}", "keywords")
        self.vocabulary = kw.vocabulary()
        pos, neg = kw.matrices(self.vocabulary)
        vectors = np.stack([self.keyword_vectors[k] for k in self.vocabulary]) if self.vocabulary else \
            np.zeros((0, 384), dtype=np.float32)
        cats = kw.category_index()
        self.category_names = kw.category_names()
        self.f_mat = KeywordMatching(pos, neg, cats, self.vocabulary, self.params.like_threshold)
        self.f_sim = KeywordSimilarity(pooled_embeddings(pos, vectors), pooled_embeddings(neg, vectors), cats,
                                       self.params.like_threshold)
        genres = np.asarray(catalog.genres, dtype=np.float32)
        self.genre_share = genres / np.maximum(genres.sum(1, keepdims=True), 1)
        self.genres = genres
        self.keyword_bits = {"pos": keyword_bitsets(pos), "neg": keyword_bitsets(neg)}
        self._cache = IncrementalUserStates(self._empty_states, self._advance)

    def _fit_components(self, catalog: Catalog, interactions: Interactions, lo: float, hi: float) -> Components:
        p = self.params
        bias = BiasFeedback(like_threshold=p.like_threshold, shown_correction=False).fit(catalog, interactions)
        mf = MatrixFactorization(factors=p.mf_factors, reg=p.mf_reg, seed=p.seed, like_threshold=p.like_threshold,
                                 shown_correction=False).fit(catalog, interactions)
        self.progress("training SASRec", lo + 0.1 * (hi - lo))
        sasrec = SASRec(len(catalog), dim=p.sasrec_dim, max_len=p.sasrec_max_len, epochs=p.sasrec_epochs,
                        dropout=p.sasrec_dropout, seed=p.seed, like_threshold=p.like_threshold)
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
            self.stack_rating = make_pipeline(StandardScaler(), SplineTransformer(n_knots=5, degree=3),
                                              Ridge(alpha=1.0)).fit(X, ratings)
        elif p.stacker == "gbm":
            from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

            common = dict(max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40,
                          l2_regularization=1.0, early_stopping=False, random_state=p.seed)
            self.stack_like = HistGradientBoostingClassifier(**common).fit(X, liked)
            self.stack_rating = HistGradientBoostingRegressor(**common).fit(X, ratings)
        else:
            raise UserError(f"stacker must be 'linear' or 'gbm', found {p.stacker!r}", "feedback.params.stacker")

    def _stack_inputs(self, X: np.ndarray) -> np.ndarray:
        """The feature columns the stacker uses (all, or an ablation's subset)."""
        which = self.params.stack_features
        if which == "all":
            return X
        base = [FEATURES.index(f) for f in BASE_FEATURES]
        if which == "base":
            return X[:, base]
        if which == "ratings":
            return X[:, [k for k in range(len(FEATURES)) if k not in base]]
        raise UserError(f"stack_features must be all, base or ratings, found {which!r}", "feedback.params.stack_features")

    # ===== per-user state ==============================================================================
    # What a pair's features need from its user lives in one row of `self._cache`
    # (IncrementalUserStates), advanced by each appended (item, rating) with order-free updates:
    # sums for the rating features and the MF fold-in, and for f_mat the rated categories and the
    # per-category keyword unions (bit sets). f_sim reads the pair's history directly (O(history)
    # per pair), and the SASRec state is recomputed only when a pair needs it. So the state costs
    # a few KB per user whatever the catalog size, and an appended item costs O(keywords).
    def _empty_states(self, n: int) -> dict[str, np.ndarray]:
        n_genres, n_cat = self.genres.shape[1], self.f_mat.n_categories
        width = self.keyword_bits["pos"].shape[1]
        k1 = self.components.mf.factors + 1
        out = {name: np.zeros(n) for name in ("count", "resid_sum", "rating_sum", "rating_sq")}
        out.update({
            "genre_resid": np.zeros((n, n_genres)), "genre_count": np.zeros((n, n_genres)),
            "mf_gram": np.zeros((n, k1, k1)), "mf_rhs": np.zeros((n, k1)), "mf_side": np.zeros((n, k1)),
            "rated": np.zeros((n, n_cat), dtype=bool),
            "union_pos": np.zeros((n, n_cat + 1, width), dtype=np.uint64),  # row C: all categories
            "union_neg": np.zeros((n, n_cat + 1, width), dtype=np.uint64),
            "sta_h": np.zeros((n, self.components.sasrec.net.dim), dtype=np.float32),
            "sta_ok": np.zeros(n, dtype=bool), "mf_ok": np.zeros(n, dtype=bool),
            "sums_len": np.zeros(n, dtype=np.int64),  # history entries folded into the rating sums
        })
        return out

    def _advance(self, A: dict[str, np.ndarray], rows: np.ndarray, users: np.ndarray, starts: np.ndarray,
                 history: History) -> None:
        """Fold history.items[u][start:] (with ratings) into row `rows[k]` for each users[k]."""
        counts, items, ratings = history.since(users, starts)
        if len(items) == 0:
            return
        A["sta_ok"][rows[counts > 0]] = False
        # rating sums: folded here for rows built from the start (so a snapshot carries them),
        # else when a rating feature asks (`_ensure_sums`): the majority vote never reads them
        built = starts == 0
        if built.any():
            mine = np.repeat(built, counts)
            self._add_sums(A, rows[built], counts[built], items[mine], ratings[mine])
            A["sums_len"][rows[built]] = counts[built]
        owner = np.repeat(rows, counts)
        cat = self.f_mat.categories[items]
        A["rated"][owner, cat] = True
        liked = ratings >= self.params.like_threshold
        for side, sel in (("pos", liked), ("neg", ~liked)):
            bits, o, c = self.keyword_bits[side][items[sel]], owner[sel], cat[sel]
            for scope in (c, np.full(len(c), self.f_mat.n_categories)):
                if counts.max() == 1:  # one entry per row (an RL step): no repeated cells
                    A[f"union_{side}"][o, scope] |= bits
                else:
                    np.bitwise_or.at(A[f"union_{side}"], (o, scope), bits)

    def _add_sums(self, A, rows, counts, items, ratings) -> None:
        """Order-free per-user sums: count, residuals, ratings, genre sums, MF normal equations.

        The entries arrive grouped by row (`counts` each), so each chunk is summed per row with
        one `add.reduceat`; a row split across two chunks just gets two additions.
        """
        c = self.components
        owner = np.repeat(rows, counts)
        A["mf_ok"][rows] = False
        for lo in range(0, len(items), 8192):  # bounded memory for the outer products
            sl = slice(lo, lo + 8192)
            o, it, r = owner[sl], items[sl], ratings[sl]
            design, target = c.mf.fold_in_terms(it, r)
            resid = r - c.mu - c.b_item[it]
            g = self.genres[it]
            starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
            one_each = len(starts) == len(o)  # one entry per row (an RL step): nothing to reduce
            for name, value in (("count", np.ones(len(o))), ("resid_sum", resid), ("rating_sum", r),
                                ("rating_sq", r * r), ("genre_resid", resid[:, None] * g), ("genre_count", g),
                                ("mf_rhs", target[:, None] * design),
                                ("mf_gram", design[:, :, None] * design[:, None, :])):
                A[name][o[starts]] += value if one_each else np.add.reduceat(value, starts, axis=0)

    def _ensure_sums(self, slots: np.ndarray, users: np.ndarray, history: History) -> None:
        """Fold the entries appended since the rows' rating sums were last brought up to date."""
        A = self._cache.arrays
        slots, first = np.unique(slots, return_index=True)
        stale = A["sums_len"][slots] < A["_length"][slots]
        if stale.any():
            rows, users = slots[stale], users[first][stale]
            counts, items, ratings = history.since(users, A["sums_len"][rows])
            self._add_sums(A, rows, counts, items, ratings)
            A["sums_len"][rows] = A["_length"][rows]

    def _mf_sides(self, slots: np.ndarray) -> np.ndarray:
        """MF user sides [p_u, b_u] of the given rows, solved where the sums changed since the last solve."""
        A = self._cache.arrays
        stale = np.unique(slots[~A["mf_ok"][slots]])
        if len(stale):
            penalty = np.diag(self.components.mf.user_penalty)
            A["mf_side"][stale] = np.linalg.solve(A["mf_gram"][stale] + penalty, A["mf_rhs"][stale][..., None])[..., 0]
            A["mf_ok"][stale] = True
        return A["mf_side"][slots]

    def _ensure_sta(self, slots: np.ndarray, users: np.ndarray, history: History) -> None:
        """Compute the SASRec state of the given rows where it is out of date."""
        A = self._cache.arrays
        slots, first = np.unique(slots, return_index=True)
        todo = ~A["sta_ok"][slots]
        if todo.any():
            sasrec = self.components.sasrec
            pad_i, pad_r = history.padded(users[first][todo], max_len=sasrec.max_len)
            A["sta_h"][slots[todo]] = sasrec.user_hidden(pad_i, pad_r)
            A["sta_ok"][slots[todo]] = True

    # ===== scoring ====================================================================================
    def features(self, user_ids, item_ids, history: History) -> np.ndarray:
        """(n, len(FEATURES)) stacker inputs for each (user, item) pair."""
        X, slots = self._features(user_ids, item_ids, history)
        self._fill_sta(X, slots, user_ids, item_ids, history, np.ones(len(X), dtype=bool))
        return X

    def _features(self, user_ids, item_ids, history: History, ratings: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The features and each pair's cache row, with the f_sta column left NaN (see `_fill_sta`).

        ratings=False leaves the rating-model columns NaN too (the majority vote does not read them).
        """
        user_ids = np.asarray(user_ids, dtype=np.int64)
        item_ids = np.asarray(item_ids, dtype=np.int64)
        slots = self._cache.slots(user_ids, history)
        A = self._cache.arrays
        X = np.full((len(user_ids), len(FEATURES)), np.nan)
        if ratings:
            self._ensure_sums(slots, user_ids, history)
            c = self.components
            count = A["count"][slots]
            b_u = A["resid_sum"][slots] / (count + c.reg_user)
            X[:, 1] = b_u
            X[:, 2] = c.b_item[item_ids]
            X[:, 0] = np.clip(c.mu + b_u + X[:, 2], 1, 5)
            X[:, 3] = np.clip(c.mf.rating_from_side(self._mf_sides(slots), item_ids), 1, 5)
            X[:, 4] = np.log1p(count)
            X[:, 5] = np.log1p(c.item_count[item_ids])
            n = np.maximum(count, 1)
            X[:, 6] = np.sqrt(np.maximum(A["rating_sq"][slots] / n - (A["rating_sum"][slots] / n) ** 2, 0))
            g_count = A["genre_count"][slots]
            affinity = (A["genre_resid"][slots] - b_u[:, None] * g_count) / (g_count + 5.0)
            X[:, 7] = (affinity * self.genre_share[item_ids]).sum(1)
        cat = self.f_mat.categories[item_ids]
        scope = np.where(A["rated"][slots, cat], cat, self.f_mat.n_categories)  # Eq. 1: same category if rated
        for col, side in ((9, "pos"), (10, "neg")):
            X[:, col] = np.bitwise_count(self.keyword_bits[side][item_ids] & A[f"union_{side}"][slots, scope]).sum(1)
        uniq, inverse = np.unique(user_ids, return_inverse=True)
        counts, hist_items, hist_ratings = history.since(uniq, np.zeros(len(uniq), dtype=np.int64))
        X[:, 11], X[:, 12] = self.f_sim.pair_betas(item_ids, inverse, counts, hist_items, hist_ratings)
        return X, slots

    def _fill_sta(self, X, slots, user_ids, item_ids, history: History, need: np.ndarray) -> None:
        """The f_sta logit (column 8) of the pairs in `need`."""
        if not need.any():
            return
        c = self.components
        if getattr(self, "_tables", (None,))[0] is not c:
            self._tables = (c, *c.sasrec.output_tables())
        _, q, qb = self._tables
        user_ids, item_ids = np.asarray(user_ids, dtype=np.int64)[need], np.asarray(item_ids, dtype=np.int64)[need]
        self._ensure_sta(slots[need], user_ids, history)
        X[need, 8] = (self._cache.arrays["sta_h"][slots[need]] * q[item_ids]).sum(1) + qb[item_ids]

    def votes_from(self, X: np.ndarray, user_ids, item_ids) -> np.ndarray:
        """(n, 3) 0/1 votes of f_mat, f_sim, f_sta; ties of f_mat / f_sim by the seeded coin."""
        seed = self.tie_seed
        out = np.empty((len(X), 3), dtype=np.int8)
        for col, (a, b, salt) in enumerate([(9, 10, 1), (11, 12, 2)]):
            tie = X[:, a] == X[:, b]
            out[:, col] = np.where(tie, coin(seed, user_ids, item_ids, salt), X[:, a] > X[:, b])
        out[:, 2] = X[:, 8] > 0
        return out

    def vote(self, user_ids, item_ids, history: History, exposure: str = "chosen") -> np.ndarray:
        """The paper's Eq. 9 verdict (True = like): the majority of f_mat, f_sim and f_sta.

        f_sta (the costly one) runs only for the pairs where f_mat and f_sim disagree; where they
        agree it cannot change the majority. For a *shown* item (exposure="shown") the majority
        must also survive the exposure correction: see `_shown_vote`.
        """
        if exposure == "shown":
            X = self.features(user_ids, item_ids, history)
            return self._shown_vote(X, user_ids, item_ids)
        X, slots = self._features(user_ids, item_ids, history, ratings=False)
        votes = self.votes_from(X, user_ids, item_ids)
        split = votes[:, 0] != votes[:, 1]
        self._fill_sta(X, slots, user_ids, item_ids, history, split)
        return np.where(split, X[:, 8] > 0, votes[:, 0] == 1)

    def scores(self, user_ids, item_ids, history: History) -> dict[str, np.ndarray]:
        """Every model's output for the fidelity harness (one feature pass)."""
        X = self.features(user_ids, item_ids, history)
        votes = self.votes_from(X, user_ids, item_ids)
        return {
            "f_mat": X[:, 9] - X[:, 10], "f_mat_vote": votes[:, 0],
            "f_sim": X[:, 11] - X[:, 12], "f_sim_vote": votes[:, 1],
            "f_sta": 1 / (1 + np.exp(-X[:, 8])), "f_sta_vote": votes[:, 2],
            "vote_share": votes.mean(1), "vote": (votes.sum(1) >= 2).astype(np.int8),
            "soft": self.stack_like.predict_proba(self._stack_inputs(X))[:, 1],
            "rating": np.clip(self.stack_rating.predict(self._stack_inputs(X)), 1, 5),
        }

    # ===== FeedbackModel ====================================================================================
    def predict_proba(self, user_ids, item_ids, history: History) -> np.ndarray:
        if self.mode == "vote":
            return self.vote(user_ids, item_ids, history).astype(np.float64)
        X = self.features(user_ids, item_ids, history)
        return self.stack_like.predict_proba(self._stack_inputs(X))[:, 1]

    def predict_rating(self, user_ids, item_ids, history: History) -> np.ndarray:
        X = self._stack_inputs(self.features(user_ids, item_ids, history))
        return np.clip(self.stack_rating.predict(X), 1.0, 5.0)

    def _shown_vote(self, X: np.ndarray, user_ids, item_ids) -> np.ndarray:
        """The vote for a shown item: the base models' majority, vetoed where the exposure-corrected
        soft model says P(like | shown) < 0.5 (the votes themselves only know chosen ratings)."""
        p_shown, _ = self._shown_from(X, user_ids, item_ids)
        return (self.votes_from(X, user_ids, item_ids).sum(1) >= 2) & (p_shown >= 0.5)

    def _shown_from(self, X: np.ndarray, user_ids, item_ids) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "shown", None) is None:
            raise RuntimeError("ensemble: fit() before asking the 'shown' question")
        Xs = self._stack_inputs(X)
        return self.shown.apply(np.asarray(user_ids, dtype=np.int64), np.asarray(item_ids, dtype=np.int64),
                                self.stack_like.predict_proba(Xs)[:, 1], np.clip(self.stack_rating.predict(Xs), 1, 5))

    def predict_shown(self, user_ids, item_ids, history: History) -> tuple[np.ndarray, np.ndarray]:
        """(P(like | shown), rating | shown) from one feature pass (a recommender page asks this)."""
        X = self.features(user_ids, item_ids, history)
        p, rating = self._shown_from(X, user_ids, item_ids)
        if self.mode == "vote":
            p = self._shown_vote(X, user_ids, item_ids).astype(np.float64)
        return p, rating

    def calibrate_shown(self, shown: Interactions, history: History) -> "EnsembleFeedback":
        """Refit the shown head on ratings of randomly shown items (see ShownCorrection.calibrated)."""
        Xs = self._stack_inputs(self.features(shown.users, shown.items, history))
        self.shown = self.shown.calibrated(shown.users, shown.items, self.stack_like.predict_proba(Xs)[:, 1],
                                           np.clip(self.stack_rating.predict(Xs), 1, 5), shown.ratings)
        return self

    def predict_both(self, user_ids, item_ids, history: History) -> tuple[np.ndarray, np.ndarray]:
        """predict_proba and predict_rating from one feature pass (what the simulation asks for)."""
        X = self.features(user_ids, item_ids, history)
        if self.mode == "vote":
            proba = (self.votes_from(X, user_ids, item_ids).sum(1) >= 2).astype(np.float64)
        else:
            proba = self.stack_like.predict_proba(self._stack_inputs(X))[:, 1]
        return proba, np.clip(self.stack_rating.predict(self._stack_inputs(X)), 1.0, 5.0)

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        u, i = np.array([user_id]), np.array([item_id])
        X = self.features(u, i, history)
        votes = self.votes_from(X, u, i)[0]
        hist_items = np.asarray(history.items[user_id], dtype=np.int64)
        hist_ratings = np.asarray(history.ratings[user_id], dtype=np.float64)
        kw = self.keywords
        return {
            "model": self.name, "mode": self.mode,
            "category": kw.categories[item_id], "pros": kw.pos[item_id], "cons": kw.neg[item_id],
            "votes": {"f_mat": int(votes[0]), "f_sim": int(votes[1]), "f_sta": int(votes[2])},
            "vote": int(votes.sum() >= 2),
            "f_mat": {"alpha_pos": int(X[0, 9]), "alpha_neg": int(X[0, 10]),
                      **self.f_mat.matched(hist_items, hist_ratings, item_id)},
            "f_sim": {"beta_pos": round(float(X[0, 11]), 3), "beta_neg": round(float(X[0, 12]), 3)},
            "f_sta": {"p_like": round(float(1 / (1 + np.exp(-X[0, 8]))), 3)},
            "p_like": round(float(self.stack_like.predict_proba(self._stack_inputs(X))[0, 1]), 3),
            "predicted_rating": round(float(np.clip(self.stack_rating.predict(self._stack_inputs(X))[0], 1, 5)), 3),
            "shown": {"p_like": round(float(self._shown_from(X, u, i)[0][0]), 3),
                      "predicted_rating": round(float(self._shown_from(X, u, i)[1][0]), 3),
                      **self.shown.describe(user_id, item_id)},
        }

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
            pickle.dump({"like": self.stack_like, "rating": self.stack_rating}, f)
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
        self.stack_like, self.stack_rating = stackers["like"], stackers["rating"]
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
