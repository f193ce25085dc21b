"""Biased matrix factorisation (ALS), the second baseline and a feature of the stacked ensemble.

rating ~ mu + b_u + b_i + p_u · q_i, fitted by alternating ridge regressions (user side [p_u, b_u]
against item side [q_i, 1] and back). At simulation time the user side is *folded in* from the
live history with the same ridge solve as the last ALS user step, so a user's newly rated items
move their prediction; with an unchanged history the fold-in reproduces the trained user side.
P(like) is a logistic calibration of the predicted rating fitted on the training ratings.

Cold start: a user with no history gets p_u = 0, b_u = 0, i.e. mu + b_i (the item's popularity
with everyone); an item never rated in training keeps q_i = 0, b_i = 0.

Items the user is *shown* rather than chose: `predict_shown`, the exposure correction of
`recagent/feedback/exposure.py` on top of these answers.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from ..data import Catalog, History, Interactions
from .base import LIKE_THRESHOLD
from .exposure import AnswersShown, ShownCorrection, fit_correction
from .state import UserStateCache


def ridge_groups(counts: np.ndarray, rows: np.ndarray, design: np.ndarray, target: np.ndarray,
                 reg: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """One ridge solve per group: argmin ||design[rows_g] x - target_g||^2 + x' diag(reg) x.

    Group g is the counts[g] consecutive entries of `rows` (indices into `design`) and `target`
    after those of groups 0..g-1. Groups of the same size are stacked, so each normal matrix
    X_g' X_g is one batched matrix product (about `block` entries at a time), and all groups are
    solved in one batched call: no Python loop per group. An empty group gets x = 0.
    """
    n, d = len(counts), design.shape[1]
    counts = np.asarray(counts, dtype=np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    rhs = sparse.csr_matrix((target, rows, np.r_[0, np.cumsum(counts)]), shape=(n, len(design))) @ design
    gram = np.zeros((n, d, d))
    order = np.argsort(counts, kind="stable")
    sizes = counts[order]
    edges = np.flatnonzero(np.r_[True, sizes[1:] != sizes[:-1], True])
    for lo, hi in zip(edges[:-1], edges[1:]):
        size = int(sizes[lo])
        step = max(1, block // max(size, 1))
        for start in range(lo, hi if size else lo, step):
            groups = order[start:min(start + step, hi)]
            x = design[rows[first[groups][:, None] + np.arange(size)]]  # (groups, size, d)
            gram[groups] = np.matmul(x.transpose(0, 2, 1), x)
    out = np.zeros((n, d))
    some = counts > 0
    out[some] = np.linalg.solve(gram[some] + np.diag(reg), rhs[some][..., None])[..., 0]
    return out


class MatrixFactorization(AnswersShown):
    name = "mf"

    def __init__(self, factors: int = 24, reg: float = 12.0, reg_bias: float = 5.0, iterations: int = 12,
                 seed: int = 0, like_threshold: float = LIKE_THRESHOLD, shown_correction: bool = True):
        self.factors, self.reg, self.reg_bias, self.iterations = factors, reg, reg_bias, iterations
        self.seed, self.like_threshold = seed, like_threshold
        self.shown_correction = shown_correction  # False: a component of a model that corrects itself
        self.shown = None
        self._cache = UserStateCache(self._user_states)

    # --- fitting -----------------------------------------------------------------------------------
    def fit(self, catalog: Catalog, interactions: Interactions) -> MatrixFactorization:
        n_items = len(catalog)
        u, i, r = interactions.users, interactions.items, interactions.ratings.astype(np.float64)
        n_users = int(u.max()) + 1 if len(u) else 0
        self.mu = float(r.mean()) if len(r) else 3.0
        rng = np.random.default_rng(self.seed)
        k = self.factors
        self.item_side = np.zeros((n_items, k + 2))  # [q_i, b_i, 1]
        self.item_side[:, :k] = rng.normal(0, 0.1, (n_items, k))
        self.item_side[:, k + 1] = 1.0
        by_user, by_item = np.argsort(u, kind="stable"), np.argsort(i, kind="stable")
        user_count, item_count = np.bincount(u, minlength=n_users), np.bincount(i, minlength=n_items)
        user_side = np.zeros((n_users, k + 2))
        reg_u = self.user_penalty
        for _ in range(self.iterations):
            # user step: x_u = [p_u, b_u] against [q_i, 1], target r - mu - b_i
            design = self.item_side[:, list(range(k)) + [k + 1]]
            target = r - self.mu - self.item_side[i, k]
            user_side[:, list(range(k)) + [k + 1]] = ridge_groups(user_count, i[by_user], design, target[by_user], reg_u)
            user_side[:, k] = 1.0
            # item step: [q_i, b_i] against [p_u, 1], target r - mu - b_u
            design = user_side[:, :k + 1]
            target = r - self.mu - user_side[u, k + 1]
            self.item_side[:, :k + 1] = ridge_groups(item_count, u[by_item], design, target[by_item], reg_u)
        pred = self.mu + user_side[u, k + 1] + self.item_side[i, k] + (user_side[u, :k] * self.item_side[i, :k]).sum(1)
        liked = r >= self.like_threshold
        if len(r) and liked.any() and not liked.all():
            clf = LogisticRegression().fit(np.clip(pred, 1, 5)[:, None], liked)
            self.slope, self.intercept = float(clf.coef_[0, 0]), float(clf.intercept_[0])
        else:
            self.slope, self.intercept = 2.0, -2.0 * (self.like_threshold - 0.5)
        self._cache.clear()
        if self.shown_correction and len(r):
            self.shown = fit_correction(lambda: MatrixFactorization(self.factors, self.reg, self.reg_bias,
                                                                    self.iterations, self.seed, self.like_threshold,
                                                                    shown_correction=False),
                                        catalog, interactions, self.like_threshold, self.seed)
        return self

    # --- user side from the live history -------------------------------------------------------------
    def fold_in(self, hist_items: list[np.ndarray], hist_ratings: list[np.ndarray]) -> np.ndarray:
        """[p_u, b_u] per user from their rated items, the ALS user step."""
        counts = np.array([len(it) for it in hist_items], dtype=np.int64)
        flat = np.concatenate([np.asarray(it, dtype=np.int64) for it in hist_items]) if len(hist_items) else \
            np.zeros(0, dtype=np.int64)
        ratings = np.concatenate([np.asarray(r, dtype=np.float64) for r in hist_ratings]) if len(hist_ratings) else \
            np.zeros(0)
        return self.fold_in_flat(counts, flat, ratings)

    def fold_in_flat(self, counts: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """fold_in for histories given flat (what `History.since(users, 0)` returns): counts[g] entries each."""
        k = self.factors
        items = np.asarray(items, dtype=np.int64)
        design = self.item_side[:, list(range(k)) + [k + 1]]
        target = np.asarray(ratings, dtype=np.float64) - self.mu - self.item_side[items, k]
        return ridge_groups(np.asarray(counts, dtype=np.int64), items, design, target, self.user_penalty)

    @property
    def user_penalty(self) -> np.ndarray:
        """Ridge penalty of the user side [p_u, b_u]: `reg` on the factors, `reg_bias` on the bias."""
        return np.r_[np.full(self.factors, self.reg), self.reg_bias]

    def _user_states(self, users: np.ndarray, history: History) -> dict[str, np.ndarray]:
        return {"side": self.fold_in_flat(*history.since(users, np.zeros(len(users), dtype=np.int64)))}

    def rating_from_side(self, side: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        k = self.factors
        q = self.item_side[item_ids]
        return self.mu + side[:, k] + q[:, k] + (side[:, :k] * q[:, :k]).sum(1)

    # --- FeedbackModel ------------------------------------------------------------------------------
    def predict_rating(self, user_ids, item_ids, history: History) -> np.ndarray:
        slots = self._cache.slots(np.asarray(user_ids), history)
        side = self._cache.arrays["side"][slots]
        return np.clip(self.rating_from_side(side, np.asarray(item_ids, dtype=np.int64)), 1.0, 5.0)

    def predict_proba(self, user_ids, item_ids, history: History) -> np.ndarray:
        rating = self.predict_rating(user_ids, item_ids, history)
        return 1.0 / (1.0 + np.exp(-(self.slope * rating + self.intercept)))

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        rating = float(self.predict_rating(np.array([user_id]), np.array([item_id]), history)[0])
        return {"model": self.name, "predicted_rating": round(rating, 3),
                "p_like": round(float(1 / (1 + np.exp(-(self.slope * rating + self.intercept)))), 3),
                **self.explain_shown(user_id, item_id, history)}

    # --- persistence --------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"params": dict(factors=self.factors, reg=self.reg, reg_bias=self.reg_bias, iterations=self.iterations,
                               seed=self.seed, like_threshold=self.like_threshold,
                               shown_correction=self.shown_correction),
                "mu": self.mu, "item_side": self.item_side, "slope": self.slope, "intercept": self.intercept,
                "shown": self.shown.state() if self.shown is not None else None}

    @classmethod
    def from_state(cls, state: dict) -> MatrixFactorization:
        model = cls(**state["params"])
        model.mu, model.item_side = float(state["mu"]), np.asarray(state["item_side"])
        model.slope, model.intercept = float(state["slope"]), float(state["intercept"])
        if state.get("shown") is not None:
            model.shown = ShownCorrection.from_state(state["shown"])
        return model
