"""The ensemble's rating stacker compiled for prediction: one cubic spline per feature.

The stacker is a scikit-learn pipeline StandardScaler -> SplineTransformer -> Ridge. Because the
ridge is linear in the spline basis, the fitted pipeline is an additive model: a constant plus one
cubic spline per (standardised) feature, whose coefficients are the ridge weights of that feature's
basis functions. Evaluating those splines directly, as cubic pieces between the knots (Horner),
gives the same numbers (up to float rounding)
without building the (pairs x features x basis) design matrix that SplineTransformer.transform
materialises, which dominated a simulation step's prediction time. Outside the fitted range the
transformer's default "constant" extrapolation holds the basis at the boundary, i.e. the feature
is clamped to the range. Only these arrays are kept (`state()`: what the cache stores, never a pickle).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline, PPoly


class CompiledRating:
    """`predict(X)` of a fitted StandardScaler -> SplineTransformer -> Ridge pipeline on X[:, columns], feature by feature."""

    kind = "spline_rating"

    def __init__(self, pipeline=None, columns=None):
        if pipeline is None:  # filled by from_state
            return
        scaler, spline, ridge = (step for _, step in pipeline.steps)
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.columns = np.arange(len(self.mean)) if columns is None else np.asarray(columns, dtype=np.int64)
        self.intercept = float(ridge.intercept_)
        coef = np.asarray(ridge.coef_, dtype=np.float64).ravel()
        width = len(coef) // len(spline.bsplines_)
        self.pieces = []  # per feature: (breakpoints, (degree + 1, intervals) polynomial coefficients)
        for f, basis in enumerate(spline.bsplines_):
            t, k = basis.t, basis.k
            lo, hi = t[k], t[len(t) - k - 1]
            poly = PPoly.from_spline(BSpline(t, coef[f * width:(f + 1) * width], k))
            keep = (poly.x[:-1] >= lo) & (poly.x[:-1] < hi)  # the intervals inside the fitted range
            self.pieces.append((np.r_[poly.x[:-1][keep], hi], poly.c[:, keep]))

    def state(self) -> dict:
        """Arrays and numbers only: the breakpoints and coefficients of every feature, concatenated."""
        return {"kind": self.kind, "columns": self.columns, "mean": np.asarray(self.mean, np.float64),
                "scale": np.asarray(self.scale, np.float64), "intercept": self.intercept,
                "breaks": np.concatenate([x for x, _ in self.pieces]),
                "break_counts": np.array([len(x) for x, _ in self.pieces], dtype=np.int64),
                "coefficients": np.concatenate([c for _, c in self.pieces], axis=1)}

    @classmethod
    def from_state(cls, s: dict) -> CompiledRating:
        model = cls()
        model.columns = np.asarray(s["columns"], dtype=np.int64)
        model.mean, model.scale = np.asarray(s["mean"], np.float64), np.asarray(s["scale"], np.float64)
        model.intercept = float(s["intercept"])
        counts = np.asarray(s["break_counts"], dtype=np.int64)
        breaks, coefficients = np.asarray(s["breaks"], np.float64), np.asarray(s["coefficients"], np.float64)
        if len(counts) != len(model.columns) or counts.sum() != len(breaks) or \
                coefficients.shape[1] != (counts - 1).sum() or len(model.mean) != len(model.columns):
            raise ValueError("spline rating stacker: inconsistent array sizes")
        x_ends, c_ends = np.cumsum(counts), np.cumsum(counts - 1)
        model.pieces = [(breaks[xe - n:xe], coefficients[:, ce - n + 1:ce]) for n, xe, ce in zip(counts, x_ends, c_ends)]
        return model

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=np.float64)[:, self.columns] - self.mean) / self.scale
        out = np.full(len(Z), self.intercept)
        for f, (x, c) in enumerate(self.pieces):
            z = np.clip(Z[:, f], x[0], x[-1])
            piece = np.clip(np.searchsorted(x, z, side="right") - 1, 0, c.shape[1] - 1)
            dz = z - x[piece]
            value = c[0, piece]
            for row in c[1:]:  # Horner
                value = value * dz + row[piece]
            out += value
        return out


def compiled(model):
    """`model` as a CompiledRating when it is the spline pipeline this module knows, else unchanged."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    if not isinstance(model, Pipeline) or len(model.steps) != 3:
        return model
    scaler, spline, ridge = (step for _, step in model.steps)
    if not (isinstance(scaler, StandardScaler) and isinstance(spline, SplineTransformer) and isinstance(ridge, Ridge)
            and spline.extrapolation == "constant" and spline.include_bias and scaler.with_mean and scaler.with_std):
        return model
    return CompiledRating(model)
