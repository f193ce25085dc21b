"""User + item rating biases: the first real feedback model and the baseline every other must beat.

rating ~ mu + b_u + b_i with regularised means (alternating a few times). P(like) is a logistic
calibration of the predicted rating fitted on the training ratings. At simulation time b_u is
recomputed from the user's live history, so users who rate new items move their bias.
Items the user is *shown* rather than chose: `predict_shown`, the exposure correction of
`recagent/feedback/exposure.py` on top of these answers.
"""

from __future__ import annotations

import numpy as np

from ..data import Catalog, History, Interactions
from .base import LIKE_THRESHOLD
from .exposure import AnswersShown, fit_correction


class BiasFeedback(AnswersShown):
    name = "bias"

    def __init__(self, reg_user: float = 5.0, reg_item: float = 10.0, like_threshold: float = LIKE_THRESHOLD,
                 iterations: int = 5, shown_correction: bool = True):
        self.reg_user, self.reg_item, self.iterations = reg_user, reg_item, iterations
        self.like_threshold = like_threshold
        self.shown_correction = shown_correction  # False: a component of a model that corrects itself
        self.shown = None

    def fit(self, catalog: Catalog, interactions: Interactions) -> BiasFeedback:
        n_users = int(interactions.users.max()) + 1 if len(interactions) else 0
        u, i, r = interactions.users, interactions.items, interactions.ratings.astype(np.float64)
        self.mu = float(r.mean()) if len(r) else 3.0
        self.b_item = np.zeros(len(catalog))
        b_user = np.zeros(n_users)
        for _ in range(self.iterations):
            resid = r - self.mu - b_user[u]
            self.b_item = np.bincount(i, resid, len(catalog)) / (np.bincount(i, minlength=len(catalog)) + self.reg_item)
            resid = r - self.mu - self.b_item[i]
            b_user = np.bincount(u, resid, n_users) / (np.bincount(u, minlength=n_users) + self.reg_user)
        pred = self.mu + b_user[u] + self.b_item[i]
        liked = r >= self.like_threshold
        if len(r) and liked.any() and not liked.all():
            from sklearn.linear_model import LogisticRegression  # imported here: sklearn takes seconds to load

            clf = LogisticRegression().fit(pred[:, None], liked)
            self.slope, self.intercept = float(clf.coef_[0, 0]), float(clf.intercept_[0])
        else:
            self.slope, self.intercept = 2.0, -2.0 * (self.like_threshold - 0.5)
        if self.shown_correction and len(r):
            self.shown = fit_correction(lambda: BiasFeedback(self.reg_user, self.reg_item, self.like_threshold,
                                                             self.iterations, shown_correction=False),
                                        catalog, interactions, self.like_threshold)
        return self

    def user_bias(self, user_ids: np.ndarray, history: History) -> np.ndarray:
        items, ratings = history.padded(user_ids)
        valid = items >= 0
        resid = np.where(valid, ratings - self.mu - self.b_item[np.where(valid, items, 0)], 0.0)
        return resid.sum(1) / (valid.sum(1) + self.reg_user)

    def predict_rating(self, user_ids, item_ids, history: History) -> np.ndarray:
        user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
        unique, inverse = np.unique(user_ids, return_inverse=True)
        b_user = self.user_bias(unique, history)[inverse]
        return np.clip(self.mu + b_user + self.b_item[item_ids], 1.0, 5.0)

    def predict_proba(self, user_ids, item_ids, history: History) -> np.ndarray:
        rating = self.predict_rating(user_ids, item_ids, history)
        return 1.0 / (1.0 + np.exp(-(self.slope * rating + self.intercept)))

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        b_user = float(self.user_bias(np.array([user_id]), history)[0])
        rating = float(np.clip(self.mu + b_user + self.b_item[item_id], 1, 5))
        return {
            "model": self.name,
            "global_mean": round(self.mu, 3),
            "user_bias": round(b_user, 3),
            "item_bias": round(float(self.b_item[item_id]), 3),
            "predicted_rating": round(rating, 3),
            "p_like": round(float(1 / (1 + np.exp(-(self.slope * rating + self.intercept)))), 3),
            **self.explain_shown(user_id, item_id, history),
        }
