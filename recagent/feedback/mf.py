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
from sklearn.linear_model import LogisticRegression

from ..data import Catalog, History, Interactions
from .base import LIKE_THRESHOLD
from .exposure import AnswersShown, ShownCorrection, fit_correction
from .state import UserStateCache


def _ridge_rows(groups: list[np.ndarray], design: np.ndarray, targets: list[np.ndarray], reg: np.ndarray) -> np.ndarray:
    """One ridge solve per group: argmin ||design[g] x - t||^2 + x' diag(reg) x."""
    out = np.zeros((len(groups), design.shape[1]))
    eye = np.diag(reg)
    for row, (g, t) in enumerate(zip(groups, targets)):
        if len(g):
            a = design[g]
            out[row] = np.linalg.solve(a.T @ a + eye, a.T @ t)
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
    def fit(self, catalog: Catalog, interactions: Interactions) -> "MatrixFactorization":
        n_items = len(catalog)
        u, i, r = interactions.users, interactions.items, interactions.ratings.astype(np.float64)
        n_users = int(u.max()) + 1 if len(u) else 0
        self.mu = float(r.mean()) if len(r) else 3.0
        rng = np.random.default_rng(self.seed)
        k = self.factors
        self.item_side = np.zeros((n_items, k + 2))  # [q_i, b_i, 1]
        self.item_side[:, :k] = rng.normal(0, 0.1, (n_items, k))
        self.item_side[:, k + 1] = 1.0
        by_user = np.split(np.argsort(u, kind="stable"), np.cumsum(np.bincount(u, minlength=n_users))[:-1])
        by_item = np.split(np.argsort(i, kind="stable"), np.cumsum(np.bincount(i, minlength=n_items))[:-1])
        user_side = np.zeros((n_users, k + 2))
        reg_u = self.user_penalty
        for _ in range(self.iterations):
            # user step: x_u = [p_u, b_u] against [q_i, 1], target r - mu - b_i
            design = self.item_side[:, list(range(k)) + [k + 1]]
            target = r - self.mu - self.item_side[i, k]
            user_side[:, list(range(k)) + [k + 1]] = _ridge_rows([i[g] for g in by_user], design,
                                                                [target[g] for g in by_user], reg_u)
            user_side[:, k] = 1.0
            # item step: [q_i, b_i] against [p_u, 1], target r - mu - b_u
            design = user_side[:, :k + 1]
            target = r - self.mu - user_side[u, k + 1]
            self.item_side[:, :k + 1] = _ridge_rows([u[g] for g in by_item], design,
                                                    [target[g] for g in by_item], reg_u)
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
        k = self.factors
        design = self.item_side[:, list(range(k)) + [k + 1]]
        targets = [np.asarray(r, dtype=np.float64) - self.mu - self.item_side[np.asarray(it, dtype=np.int64), k]
                   for it, r in zip(hist_items, hist_ratings)]
        return _ridge_rows([np.asarray(it, dtype=np.int64) for it in hist_items], design, targets, self.user_penalty)

    @property
    def user_penalty(self) -> np.ndarray:
        """Ridge penalty of the user side [p_u, b_u]: `reg` on the factors, `reg_bias` on the bias."""
        return np.r_[np.full(self.factors, self.reg), self.reg_bias]

    def fold_in_terms(self, items: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per rated item its design row [q_i, 1] and target r - mu - b_i.

        A user's [p_u, b_u] = solve(sum d d' + diag(user_penalty), sum t d): callers that keep these
        sums per user can update them as items arrive instead of refitting (the ensemble does).
        """
        k = self.factors
        items = np.asarray(items, dtype=np.int64)
        design = self.item_side[items][:, list(range(k)) + [k + 1]]
        target = np.asarray(ratings, dtype=np.float64) - self.mu - self.item_side[items, k]
        return design, target

    def _user_states(self, users: np.ndarray, history: History) -> dict[str, np.ndarray]:
        side = self.fold_in([np.asarray(history.items[u]) for u in users.tolist()],
                            [np.asarray(history.ratings[u]) for u in users.tolist()])
        return {"side": side.astype(np.float64)}

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
    def from_state(cls, state: dict) -> "MatrixFactorization":
        model = cls(**state["params"])
        model.mu, model.item_side = float(state["mu"]), np.asarray(state["item_side"])
        model.slope, model.intercept = float(state["slope"]), float(state["intercept"])
        if state.get("shown") is not None:
            model.shown = ShownCorrection.from_state(state["shown"])
        return model
