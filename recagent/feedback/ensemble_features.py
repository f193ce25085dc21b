"""The ensemble's features: what the stacker and the votes read for each (user, item) pair.

- `FEATURES`: the columns of a feature row (rating-model features, then the three base models'
  raw margins); `_stack_inputs` picks the columns the stacker uses (all, or an ablation's subset).
- `Components`: the fitted rating-data models (biases, MF, SASRec) whose per-user rows feed them.
- `EnsembleFeatures`: the part of `EnsembleFeedback` (recagent/feedback/ensemble.py) that builds
  the keyword content models (f_mat, f_sim and their bit sets) for a catalog, keeps the per-user
  state (IncrementalUserStates) up to date with the live History, and computes feature rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from ..data import Catalog, History
from ..errors import UserError
from .matching import KeywordMatching
from .mf import MatrixFactorization
from .sasrec import SASRec
from .similarity import KeywordSimilarity, pooled_embeddings
from .state import IncrementalUserStates

if TYPE_CHECKING:
    from ..keywords.base import ItemKeywords
    from .ensemble_params import EnsembleParams

FEATURES = ["bias_rating", "user_bias", "item_bias", "mf_rating", "log_user_count", "log_item_count",
            "user_rating_std", "genre_affinity", "sta_logit", "mat_pos", "mat_neg", "sim_pos", "sim_neg"]
BASE_FEATURES = ["sta_logit", "mat_pos", "mat_neg", "sim_pos", "sim_neg"]
COLUMN = {name: k for k, name in enumerate(FEATURES)}  # a feature's column in X: read by name, never by number


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


class EnsembleFeatures:
    """Feature building of `EnsembleFeedback` (a mixin: it reads the model's params, keywords and components)."""

    # read here, set by EnsembleFeedback / EnsemblePreparation
    params: EnsembleParams
    keywords: ItemKeywords
    keyword_vectors: dict[str, np.ndarray]
    components: Components
    # set here by _build_content
    vocabulary: list[str]
    category_names: list[str]
    f_mat: KeywordMatching
    f_sim: KeywordSimilarity
    genres: np.ndarray  # (items, genres) float32 0/1
    genre_share: np.ndarray  # each item's genres, normalised to sum 1
    keyword_bits: dict[str, np.ndarray]  # "pos"/"neg": (items, words) uint64 bit sets
    _cache: IncrementalUserStates
    _tables: tuple  # (components, q, qb): SASRec's output tables for the components they came from

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
    # sums for the rating features, and for f_mat the rated categories and the per-category keyword
    # unions (bit sets). f_sim reads the pair's history directly (O(history) per pair); the SASRec
    # state and the MF user side are recomputed from the history only when a pair needs them (the
    # MF normal equations, (k+1)^2 floats, would be the largest part of the state: 5 KB a user). So
    # the state costs a few KB per user whatever the catalog size, and an appended item costs O(keywords).
    def _empty_states(self, n: int) -> dict[str, np.ndarray]:
        n_genres, n_cat = self.genres.shape[1], self.f_mat.n_categories
        width = self.keyword_bits["pos"].shape[1]
        k1 = self.components.mf.factors + 1  # the MF user side [p_u, b_u]
        out = {name: np.zeros(n) for name in ("count", "resid_sum", "rating_sum", "rating_sq")}
        out.update({
            "genre_resid": np.zeros((n, n_genres)), "genre_count": np.zeros((n, n_genres)),
            "mf_side": np.zeros((n, k1)),
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
        A["mf_ok"][rows[counts > 0]] = False
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
        """Order-free per-user sums: count, residuals, ratings, genre sums.

        The entries arrive grouped by row (`counts` each), so each chunk is summed per row with
        one `add.reduceat`; a row split across two chunks just gets two additions.
        """
        c = self.components
        owner = np.repeat(rows, counts)
        for lo in range(0, len(items), 1 << 16):  # bounded memory for the genre products
            sl = slice(lo, lo + (1 << 16))
            o, it, r = owner[sl], items[sl], ratings[sl]
            resid = r - c.mu - c.b_item[it]
            g = self.genres[it]
            starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
            one_each = len(starts) == len(o)  # one entry per row (an RL step): nothing to reduce
            for name, value in (("count", np.ones(len(o))), ("resid_sum", resid), ("rating_sum", r),
                                ("rating_sq", r * r), ("genre_resid", resid[:, None] * g), ("genre_count", g)):
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

    def _mf_sides(self, slots: np.ndarray, users: np.ndarray, history: History) -> np.ndarray:
        """MF user sides [p_u, b_u] of the given rows, folded in from the history where it changed since."""
        A = self._cache.arrays
        slots, first = np.unique(slots, return_index=True)
        stale = ~A["mf_ok"][slots]
        rows, users = slots[stale], users[first][stale]
        for lo in range(0, len(rows), 16384):  # bounded memory: (k+1)^2 floats per user being solved
            block, who = rows[lo:lo + 16384], users[lo:lo + 16384]
            A["mf_side"][block] = self.components.mf.fold_in_flat(*history.since(who, np.zeros(len(who), np.int64)))
            A["mf_ok"][block] = True
        return A["mf_side"]

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
        C = COLUMN
        if ratings:
            self._ensure_sums(slots, user_ids, history)
            c = self.components
            count = A["count"][slots]
            b_u = A["resid_sum"][slots] / (count + c.reg_user)
            X[:, C["user_bias"]] = b_u
            X[:, C["item_bias"]] = c.b_item[item_ids]
            X[:, C["bias_rating"]] = np.clip(c.mu + b_u + X[:, C["item_bias"]], 1, 5)
            X[:, C["mf_rating"]] = np.clip(c.mf.rating_from_side(self._mf_sides(slots, user_ids, history)[slots], item_ids), 1, 5)
            X[:, C["log_user_count"]] = np.log1p(count)
            X[:, C["log_item_count"]] = np.log1p(c.item_count[item_ids])
            n = np.maximum(count, 1)
            X[:, C["user_rating_std"]] = np.sqrt(np.maximum(A["rating_sq"][slots] / n - (A["rating_sum"][slots] / n) ** 2, 0))
            g_count = A["genre_count"][slots]
            affinity = (A["genre_resid"][slots] - b_u[:, None] * g_count) / (g_count + 5.0)
            X[:, C["genre_affinity"]] = (affinity * self.genre_share[item_ids]).sum(1)
        cat = self.f_mat.categories[item_ids]
        scope = np.where(A["rated"][slots, cat], cat, self.f_mat.n_categories)  # Eq. 1: same category if rated
        for col, side in ((C["mat_pos"], "pos"), (C["mat_neg"], "neg")):
            X[:, col] = np.bitwise_count(self.keyword_bits[side][item_ids] & A[f"union_{side}"][slots, scope]).sum(1)
        uniq, inverse = np.unique(user_ids, return_inverse=True)
        counts, hist_items, hist_ratings = history.since(uniq, np.zeros(len(uniq), dtype=np.int64))
        X[:, C["sim_pos"]], X[:, C["sim_neg"]] = self.f_sim.pair_betas(item_ids, inverse, counts, hist_items, hist_ratings)
        return X, slots

    def _fill_sta(self, X, slots, user_ids, item_ids, history: History, need: np.ndarray) -> None:
        """The f_sta logit (column sta_logit) of the pairs in `need`."""
        if not need.any():
            return
        c = self.components
        if getattr(self, "_tables", (None,))[0] is not c:
            self._tables = (c, *c.sasrec.output_tables())
        _, q, qb = self._tables
        user_ids, item_ids = np.asarray(user_ids, dtype=np.int64)[need], np.asarray(item_ids, dtype=np.int64)[need]
        self._ensure_sta(slots[need], user_ids, history)
        X[need, COLUMN["sta_logit"]] = (self._cache.arrays["sta_h"][slots[need]] * q[item_ids]).sum(1) + qb[item_ids]
