"""The ensemble's stackers: fitted on the base models' features, kept as arrays, never pickled.

- `LinearLike`: P(like) of a StandardScaler -> LogisticRegression pipeline, evaluated with the
  same operations scikit-learn uses (so the numbers are the pipeline's), from its fitted arrays.
- `CompiledRating` (recagent/feedback/compiled_stacker.py): the spline rating model, per feature.
- `Constant`: what is left when the data gives nothing to learn from (one like class, a single
  rating value, every feature constant): the smoothed share of likes, the mean rating.

Each reads only the feature columns that vary on the data it was fitted on (`columns`): a
feature that is constant there (no genres, no item text, ...) says nothing and would break the
spline basis, so it is left out, and `fit_stackers` says which and why. The gbm stacker (an
ablation) stays a scikit-learn model: it has no array form here, so it is not cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from .compiled_stacker import CompiledRating


class LinearLike:
    """predict_proba of a fitted StandardScaler -> LogisticRegression pipeline on X[:, columns]."""

    kind = "linear_like"

    def __init__(self, columns, mean, scale, coef, intercept):
        self.columns = np.asarray(columns, dtype=np.int64)
        self.mean, self.scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
        self.coef, self.intercept = np.asarray(coef, np.float64).reshape(1, -1), np.asarray(intercept, np.float64).ravel()

    @classmethod
    def from_pipeline(cls, pipeline, columns) -> LinearLike:
        scaler, logistic = (step for _, step in pipeline.steps)
        return cls(columns, scaler.mean_, scaler.scale_, logistic.coef_, logistic.intercept_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = np.array(X[:, self.columns], dtype=np.float64)
        Z -= self.mean
        Z /= self.scale
        p = expit((Z @ self.coef.T + self.intercept).reshape(-1))
        return np.stack([1 - p, p], axis=1)

    def state(self) -> dict:
        return {"kind": self.kind, "columns": self.columns, "mean": self.mean, "scale": self.scale,
                "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_state(cls, s: dict) -> LinearLike:
        return cls(s["columns"], s["mean"], s["scale"], s["coef"], s["intercept"])


class Constant:
    """The same answer for every pair: P(like) `p` (predict_proba) and `rating` (predict)."""

    kind = "constant"

    def __init__(self, p: float, rating: float):
        self.p, self.rating = float(p), float(rating)
        self.columns = np.zeros(0, dtype=np.int64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile([1.0 - self.p, self.p], (len(X), 1))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.rating)

    def state(self) -> dict:
        return {"kind": self.kind, "p": self.p, "rating": self.rating}

    @classmethod
    def from_state(cls, s: dict) -> Constant:
        return cls(s["p"], s["rating"])


class OnColumns:
    """A scikit-learn model (the gbm ablation) on X[:, columns]; not cacheable."""

    kind = "sklearn"

    def __init__(self, model, columns):
        self.model, self.columns = model, np.asarray(columns, dtype=np.int64)

    def predict_proba(self, X):
        return self.model.predict_proba(X[:, self.columns])

    def predict(self, X):
        return self.model.predict(X[:, self.columns])


KINDS = {cls.kind: cls for cls in (LinearLike, Constant, CompiledRating)}


def stacker_from_state(state: dict):
    """A stacker from its `state()` (arrays and numbers only); an unknown kind is a ValueError."""
    kind = state.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown stacker kind {kind!r}")
    return KINDS[kind].from_state(state)


@dataclass
class Stackers:
    like: object
    rating: object
    used: list[str]  # the feature names the stackers read
    left_out: dict[str, str] = field(default_factory=dict)  # feature or model -> why it is left out


def varying_columns(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, dict[str, str]]:
    """The columns of X that are finite and take more than one value, and why the others are left out."""
    if len(X) == 0:
        return np.zeros(0, dtype=np.int64), {n: "no held-out ratings to fit on" for n in names}
    finite = np.isfinite(X).all(0)
    spread = finite & (X.max(0) > X.min(0))
    left_out = {n: ("not finite" if not finite[k] else f"constant ({X[0, k]:g})")
                for k, n in enumerate(names) if not spread[k]}
    return np.flatnonzero(spread), left_out


def fit_stackers(X: np.ndarray, ratings: np.ndarray, names: list[str], like_threshold: float,
                 kind: str = "linear", seed: int = 0) -> Stackers:
    """P(like): logistic regression on standardised features; rating: ridge on spline features.

    On held-out slices of the training data these matched or beat small gradient-boosted trees
    (kind="gbm") and predict a 100,000-pair batch in milliseconds. Constant features are left
    out; one like class (or no varying feature) gives a Constant P(like), a single rating value
    (or no varying feature) a Constant rating.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    columns, left_out = varying_columns(X, names)
    ratings = np.asarray(ratings, dtype=np.float64)
    liked = ratings >= like_threshold
    share = (liked.sum() + 1.0) / (len(liked) + 2.0)  # Laplace: one like class is not certainty
    mean_rating = float(ratings.mean()) if len(ratings) else (like_threshold + 1.0) / 2
    Xc = X[:, columns]
    if len(columns) == 0 or liked.all() or not liked.any():
        left_out["P(like) stacker"] = ("no feature varies" if len(columns) == 0 else
                                       f"every held-out rating is {'liked' if liked.all() else 'disliked'}") + \
            f"; P(like) is the smoothed share of likes, {share:.3f}"
        like = Constant(share, mean_rating)
    elif kind == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        like = OnColumns(HistGradientBoostingClassifier(**_gbm(seed)).fit(Xc, liked), columns)
    else:
        like = LinearLike.from_pipeline(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(Xc, liked),
                                        columns)
    if len(columns) == 0 or np.ptp(ratings) == 0:
        left_out["rating stacker"] = ("no feature varies" if len(columns) == 0 else
                                      f"every held-out rating is {mean_rating:g}") + f"; the rating is {mean_rating:.3f}"
        rating = Constant(share, mean_rating)
    elif kind == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        rating = OnColumns(HistGradientBoostingRegressor(**_gbm(seed)).fit(Xc, ratings), columns)
    else:
        pipeline = make_pipeline(StandardScaler(), SplineTransformer(n_knots=5, degree=3), Ridge(alpha=1.0))
        rating = CompiledRating(pipeline.fit(Xc, ratings), columns)
    return Stackers(like, rating, [names[k] for k in columns], left_out)


def _gbm(seed: int) -> dict:
    return dict(max_iter=80, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                early_stopping=False, random_state=seed)
