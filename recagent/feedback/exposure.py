"""From "what people chose" to "what people are shown": the exposure correction of every feedback model.

Rating datasets hold ratings of items people chose; a recommender page shows items people did not
choose, and they like those far less often (ratings missing not at random). The correction has two
parts, both fitted on the training data only:

1. **An exposure model**: P(user u chose to rate item i), a logistic matrix factorisation of the
   observation matrix (which cells are rated; Wang, Liang, Charlin & Blei 2016 "Modeling user
   exposure"), logit pi = b + a_u + c_i + p_u . q_i. Its regularisation is chosen by the
   held-out likelihood of observation cells (never by ratings), from `REG_GRID`.
2. **A shown-question head** on top of the model's own answer to the chosen question:
   logit P(like | shown) = w0 + w1 logit P(like | chosen) + w2 log pi, and
   rating | shown = v0 + v1 rating | chosen + v2 log pi,
   fitted on out-of-sample chosen ratings by **self-normalised inverse-propensity weighting**
   (SNIPS; Schnabel et al. 2016): each chosen rating weighs 1 / pi, so the weighted sample stands
   for every (user, item) cell, which is what a uniformly random exposure draws. Weights are
   clipped at `CLIP` times their median (the usual variance / bias trade of IPS).

The log-propensity term carries the self-selection: a person who would never have picked an item
is less likely to like it when it is put in front of them, which a rating model fitted on chosen
ratings cannot know. With a sample of ratings of *randomly shown* items (Coat's test set, Yahoo!
R3's random.txt) the head's six numbers are refitted on it by maximum a posteriori, with a
Gaussian prior (precision `PRIOR_PRECISION`) centred on the IPS values: no weights are needed
there, the exposure was random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize

from ..data import Interactions
from .sample import exposure_sample

# the exposure model's (rank, L2 strength) pairs tried; the one with the best held-out likelihood of
# observation cells wins (the L2 is per row, on the mean cross-entropy)
GRID = ((4, 0.003), (16, 0.003), (16, 0.01))
CACHE_VERSION = 1  # part of the key of fitted exposure models in <cache dir>/exposure/
STEPS = 200  # full-batch Adam steps per fit
CLIP = 10.0  # IPS weights are clipped at CLIP x their median
IPS_PRECISION = 1.0  # unit Gaussian prior on the IPS head, centred on shown = chosen: negligible for thousands
# of held-out ratings, keeps a head fitted on a handful (a tiny dataset) near the identity
PRIOR_PRECISION = 1.0  # calibration: Gaussian prior on the head's coefficients, centred on the IPS fit
MAX_DENSE_CELLS = 4_000_000  # above this, unobserved cells are subsampled (and up-weighted) ...
NEG_PER_POS = 4  # ... to this many per observed cell: the fit's cost follows the ratings, not users x items
EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


class ExposureModel:
    """P(u chose i): logistic MF of the observation matrix (see the module docstring)."""

    def __init__(self, grid: tuple[tuple[int, float], ...] = GRID, steps: int = STEPS, seed: int = 0):
        self.grid, self.steps, self.seed = tuple(grid), steps, seed

    def fit(self, interactions: Interactions, n_users: int, n_items: int,
            sample: np.ndarray | None = None) -> ExposureModel:
        """Fit on the observation matrix of `interactions` (every cell: rated or not).

        The head is fitted on the propensities of this same fit, the ones it is applied to later (leaving
        its rated cells out of this fit was tried on the synthetic self-selection world and corrected less).
        `sample` (sorted user ids, recagent/feedback/sample.py): fit on those users' rows only, then fold
        every user in against the fitted item side (exposure_fold_in.py): one vectorised pass over them."""
        import torch

        path = self._cache_path(interactions, n_users, n_items, sample)
        if path is not None and path.is_file():
            return self._load_cached(path)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small matrices: one thread is faster than several fighting for cores
        try:
            if sample is None:
                self._fit(torch, interactions, n_users, n_items)
            else:
                from .exposure_fold_in import fold_in, restrict

                self._fit(torch, restrict(interactions, sample, n_users), len(sample), n_items)
                p = self.params
                p["a"], p["P"] = fold_in(p["b"], p["c"], p["Q"], self.reg, interactions.users, interactions.items,
                                         n_users)
                self.n_users = n_users
        finally:
            torch.set_num_threads(threads)
        if path is not None:
            self._save_cached(path)
        return self

    def _cache_path(self, interactions: Interactions, n_users: int, n_items: int, sample: np.ndarray | None = None):
        """The fit depends only on which cells are rated (and the settings, and the fit sample): one
        file per observation matrix in <cache dir>/exposure/, shared by every model fitted on the same ratings."""
        import hashlib

        from ..cache import cache_dir

        cells = np.unique(interactions.users.astype(np.int64) * max(n_items, 1) + interactions.items.astype(np.int64))
        h = hashlib.sha256(cells.tobytes())
        h.update(repr((n_users, n_items, self.grid, self.steps, self.seed, CACHE_VERSION)).encode())
        if (n_users if sample is None else len(sample)) * n_items > MAX_DENSE_CELLS:
            h.update(repr(("negatives per positive", NEG_PER_POS)).encode())
        if sample is not None:
            from .exposure_fold_in import GRID_POINTS

            h.update(np.asarray(sample, dtype=np.int64).tobytes())
            h.update(repr(("fold-in", GRID_POINTS)).encode())
        return cache_dir() / "exposure" / f"{h.hexdigest()[:20]}.npz"

    def _save_cached(self, path) -> None:
        import json
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
        np.savez(tmp, **{k: np.asarray(v) for k, v in self.params.items()}, factors=self.factors, reg=self.reg,
                 heldout_loss=json.dumps(self.heldout_loss))
        os.replace(tmp, path)  # whole or not at all

    def _load_cached(self, path) -> ExposureModel:
        import json

        with np.load(path) as f:
            self.params = {k: np.asarray(f[k], dtype=np.float64) for k in ("a", "c", "P", "Q")}
            self.params["b"] = float(f["b"])
            self.factors, self.reg = int(f["factors"]), float(f["reg"])
            self.heldout_loss = json.loads(str(f["heldout_loss"]))
        self.n_users = len(self.params["a"])
        return self

    def _fit(self, torch, interactions: Interactions, n_users: int, n_items: int) -> None:
        rng = np.random.default_rng(self.seed)
        observed = np.zeros((n_users, n_items), dtype=bool)
        observed[interactions.users, interactions.items] = True
        dense = n_users * n_items <= MAX_DENSE_CELLS
        cells = None if dense else self._sampled_cells(observed, rng)
        n_cells = n_users * n_items if dense else len(cells[1])
        usable = np.ones(n_cells, dtype=bool)
        # held-out cells (10%) choose the regularisation by their likelihood, then a refit on all
        held = (rng.random(n_cells) < 0.1) & usable
        scores = {}
        if len(self.grid) > 1:
            for factors, reg in self.grid:
                params = self._train(torch, observed, cells, usable & ~held, factors, reg)
                scores[f"{factors},{reg}"] = self._loss(params, observed, cells, held)
            best = min(scores, key=scores.get)
            self.factors, self.reg = int(best.split(",")[0]), float(best.split(",")[1])
        else:
            self.factors, self.reg = self.grid[0]
        self.heldout_loss = scores
        self.params = self._train(torch, observed, cells, usable, self.factors, self.reg)
        self.n_users = n_users

    @staticmethod
    def _sampled_cells(observed: np.ndarray, rng: np.random.Generator):
        """All observed cells plus a sample of the rest, up-weighted to stand for them all."""
        n_users, n_items = observed.shape
        pos_u, pos_i = np.nonzero(observed)
        n_neg = min(NEG_PER_POS * len(pos_u), n_users * n_items - len(pos_u))
        neg_u, neg_i = rng.integers(0, n_users, n_neg * 2), rng.integers(0, n_items, n_neg * 2)
        keep = ~observed[neg_u, neg_i]
        neg_u, neg_i = neg_u[keep][:n_neg], neg_i[keep][:n_neg]
        up = (n_users * n_items - len(pos_u)) / max(len(neg_u), 1)
        return (np.r_[pos_u, neg_u], np.r_[pos_i, neg_i], np.r_[np.ones(len(pos_u)), np.zeros(len(neg_u))],
                np.r_[np.ones(len(pos_u)), np.full(len(neg_u), up)])

    def _train(self, torch, observed: np.ndarray, cells, use: np.ndarray, k: int, reg: float) -> dict[str, np.ndarray]:
        """Full-batch Adam on the mean (weighted) cross-entropy of the cells in `use` + L2 on the factors.

        Dense catalogs are one matrix product per step (no gathers); large ones use sampled cells.
        """
        gen = torch.Generator().manual_seed(self.seed)
        n_users, n_items = observed.shape
        if cells is None:
            y = torch.as_tensor(observed, dtype=torch.float32)
            w = torch.as_tensor(use.reshape(n_users, n_items), dtype=torch.float32)
            rate = float(observed.ravel()[use].mean())
        else:
            u, i = torch.as_tensor(cells[0][use]), torch.as_tensor(cells[1][use])
            y = torch.as_tensor(cells[2][use], dtype=torch.float32)
            w = torch.as_tensor(cells[3][use], dtype=torch.float32)
            rate = float(np.average(cells[2][use], weights=cells[3][use]))
        w = w / w.mean()
        b = torch.tensor(np.log(rate / (1 - rate)) if 0 < rate < 1 else 0.0, dtype=torch.float32, requires_grad=True)
        a = torch.zeros(n_users, requires_grad=True)
        c = torch.zeros(n_items, requires_grad=True)
        P = (0.01 * torch.randn(n_users, k, generator=gen)).requires_grad_()
        Q = (0.01 * torch.randn(n_items, k, generator=gen)).requires_grad_()
        opt = torch.optim.Adam([b, a, c, P, Q], lr=0.05)
        for _ in range(self.steps):
            opt.zero_grad()
            if cells is None:
                z = b + a[:, None] + c[None, :] + P @ Q.T
            else:
                z = b + a[u] + c[i] + (P[u] * Q[i]).sum(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y, weight=w)
            loss = loss + reg * (P.pow(2).sum(1).mean() + Q.pow(2).sum(1).mean())
            loss.backward()
            opt.step()
        return {name: t.detach().numpy().astype(np.float64) for name, t in
                (("b", b), ("a", a), ("c", c), ("P", P), ("Q", Q))}

    def _loss(self, params: dict, observed: np.ndarray, cells, held: np.ndarray) -> float:
        """Mean cross-entropy of the held-out cells."""
        if cells is None:
            u, i = np.divmod(np.flatnonzero(held), observed.shape[1])
            y, w = observed[u, i].astype(np.float64), np.ones(len(u))
        else:
            u, i, y, w = (x[held] for x in cells)
        z = self._logits(params, u, i)
        return float(np.average(np.logaddexp(0, z) - y * z, weights=w))

    @staticmethod
    def _logits(params: dict, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        known = users < len(params["a"])
        safe = np.where(known, users, 0)
        # a user the model never saw (joined after training) gets the average user: a_u = mean, p_u = 0
        a = np.where(known, params["a"][safe], params["a"].mean() if len(params["a"]) else 0.0)
        dot = np.where(known, (params["P"][safe] * params["Q"][items]).sum(1), 0.0)
        return params["b"] + a + params["c"][items] + dot

    def log_propensity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """log P(u chose i) for each pair."""
        return -np.logaddexp(0.0, -self._logits(self.params, users, items))

    def state(self) -> dict:
        return {"factors": self.factors, "reg": self.reg, "heldout_loss": self.heldout_loss, **self.params}

    @classmethod
    def from_state(cls, state: dict) -> ExposureModel:
        model = cls(grid=((int(state["factors"]), float(state["reg"])),))
        model.factors, model.reg = int(state["factors"]), float(state["reg"])
        model.heldout_loss = dict(state.get("heldout_loss", {}))
        model.params = {k: np.asarray(state[k], dtype=np.float64) for k in ("b", "a", "c", "P", "Q")}
        model.params["b"] = float(model.params["b"])
        model.n_users = len(model.params["a"])
        return model


def _fit_logistic(X: np.ndarray, y: np.ndarray, weight: np.ndarray, prior_mean: np.ndarray,
                  precision: float) -> np.ndarray:
    """argmin sum_k w_k logloss(X_k b, y_k) + precision/2 |b - prior_mean|^2 (X has a leading 1 column)."""
    y = y.astype(np.float64)

    def loss(beta):
        z = X @ beta
        p = sigmoid(z)
        value = np.sum(weight * (np.logaddexp(0, z) - y * z)) + 0.5 * precision * np.sum((beta - prior_mean) ** 2)
        grad = X.T @ (weight * (p - y)) + precision * (beta - prior_mean)
        return value, grad

    return minimize(loss, prior_mean.copy(), jac=True, method="L-BFGS-B").x


def _fit_linear(X: np.ndarray, y: np.ndarray, weight: np.ndarray, prior_mean: np.ndarray, precision: float) -> np.ndarray:
    """Weighted ridge towards prior_mean: (X'WX + pI)^-1 (X'Wy + p m)."""
    A = X.T @ (weight[:, None] * X) + precision * np.eye(X.shape[1])
    return np.linalg.solve(A, X.T @ (weight * y) + precision * prior_mean)


@dataclass
class ShownCorrection:
    """The exposure model and the shown-question head (see the module docstring)."""

    exposure: ExposureModel
    like: np.ndarray  # (w0, w1, w2)
    rating: np.ndarray  # (v0, v1, v2)
    like_threshold: float
    fitted_on: str = "ips"  # or "ips+calibration"
    calibration_rows: int = 0

    @staticmethod
    def design(first: np.ndarray, log_pi: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(first)), first, log_pi])

    @classmethod
    def fit_ips(cls, exposure: ExposureModel, users: np.ndarray, items: np.ndarray, p_chosen: np.ndarray,
                rating_chosen: np.ndarray, ratings: np.ndarray, like_threshold: float) -> ShownCorrection:
        """The head from chosen ratings the model did not train on, each weighted 1 / pi (SNIPS, clipped)."""
        log_pi = exposure.log_propensity(users, items)
        weight = np.exp(-log_pi)
        if len(weight):
            weight = np.minimum(weight, CLIP * np.median(weight))
            weight = weight * len(weight) / weight.sum()
        liked = np.asarray(ratings) >= like_threshold
        like = _fit_logistic(cls.design(logit(p_chosen), log_pi), liked, weight, np.array([0.0, 1.0, 0.0]), IPS_PRECISION)
        rating = _fit_linear(cls.design(np.asarray(rating_chosen, np.float64), log_pi),
                             np.asarray(ratings, np.float64), weight, np.array([0.0, 1.0, 0.0]), IPS_PRECISION)
        return cls(exposure, like, rating, like_threshold)

    def calibrated(self, users: np.ndarray, items: np.ndarray, p_chosen: np.ndarray, rating_chosen: np.ndarray,
                   ratings: np.ndarray) -> ShownCorrection:
        """A copy with the head refitted on ratings of randomly shown items (MAP, prior at the IPS fit)."""
        log_pi = self.exposure.log_propensity(users, items)
        ratings = np.asarray(ratings, np.float64)
        ones = np.ones(len(ratings))
        like = _fit_logistic(self.design(logit(p_chosen), log_pi), ratings >= self.like_threshold, ones, self.like,
                             PRIOR_PRECISION)
        rating = _fit_linear(self.design(np.asarray(rating_chosen, np.float64), log_pi), ratings, ones, self.rating,
                             PRIOR_PRECISION)
        return ShownCorrection(self.exposure, like, rating, self.like_threshold, "ips+calibration", len(ratings))

    def apply(self, users: np.ndarray, items: np.ndarray, p_chosen: np.ndarray,
              rating_chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(like | shown), rating | shown) from the answers to the chosen question."""
        log_pi = self.exposure.log_propensity(users, items)
        p = sigmoid(self.design(logit(p_chosen), log_pi) @ self.like)
        r = np.clip(self.design(np.asarray(rating_chosen, np.float64), log_pi) @ self.rating, 1.0, 5.0)
        return p, r

    def describe(self, user: int, item: int) -> dict:
        return {"log_propensity": round(float(self.exposure.log_propensity(np.array([user]), np.array([item]))[0]), 3),
                "head_like": [round(float(x), 4) for x in self.like],
                "head_rating": [round(float(x), 4) for x in self.rating], "fitted_on": self.fitted_on}

    def state(self) -> dict:
        return {"exposure": self.exposure.state(), "like": self.like, "rating": self.rating,
                "like_threshold": self.like_threshold, "fitted_on": self.fitted_on,
                "calibration_rows": self.calibration_rows}

    @classmethod
    def from_state(cls, state: dict) -> ShownCorrection:
        return cls(ExposureModel.from_state(state["exposure"]), np.asarray(state["like"], np.float64),
                   np.asarray(state["rating"], np.float64), float(state["like_threshold"]),
                   state.get("fitted_on", "ips"), int(state.get("calibration_rows", 0)))


def holdout_split(interactions: Interactions, fraction: float = 0.2, seed: int = 0) -> tuple[Interactions, Interactions]:
    """A random (inner, holdout) split of the training ratings, for out-of-sample chosen answers."""
    mask = np.random.default_rng(seed).random(len(interactions)) < fraction
    return interactions.subset(~mask), interactions.subset(mask)


def fit_correction(make_model: Callable[[], object], catalog, interactions: Interactions, like_threshold: float,
                   seed: int = 0) -> ShownCorrection:
    """The shown correction of a rating model: `make_model()` (uncorrected) is fitted on 80% of the training
    ratings and answers the chosen question for the other 20%; the head learns from those answers,
    weighted by the exposure model fitted on all training ratings (on a sample of users when large)."""
    from ..data import History

    n_users = int(interactions.users.max()) + 1 if len(interactions) else 0
    inner, holdout = holdout_split(interactions, seed=seed)
    sample = exposure_sample(interactions, len(catalog), seed, MAX_DENSE_CELLS)
    exposure = ExposureModel(seed=seed).fit(interactions, n_users, len(catalog), sample)
    model = make_model().fit(catalog, inner)
    history = History.from_interactions(inner, n_users)
    p = model.predict_proba(holdout.users, holdout.items, history)
    r = model.predict_rating(holdout.users, holdout.items, history)
    return ShownCorrection.fit_ips(exposure, holdout.users, holdout.items, p, r, holdout.ratings, like_threshold)


class AnswersShown:
    """predict_shown / calibrate_shown for a model whose `shown` attribute is its ShownCorrection."""

    shown: ShownCorrection | None = None

    def _require_shown(self) -> ShownCorrection:
        if self.shown is None:
            raise RuntimeError(f"{self.name}: fit() with the shown correction before asking the 'shown' question")
        return self.shown

    def predict_shown(self, user_ids, item_ids, history) -> tuple[np.ndarray, np.ndarray]:
        correction = self._require_shown()
        user_ids, item_ids = np.asarray(user_ids, dtype=np.int64), np.asarray(item_ids, dtype=np.int64)
        return correction.apply(user_ids, item_ids, self.predict_proba(user_ids, item_ids, history),
                                self.predict_rating(user_ids, item_ids, history))

    def calibrate_shown(self, shown: Interactions, history) -> AnswersShown:
        correction = self._require_shown()
        p = self.predict_proba(shown.users, shown.items, history)
        r = self.predict_rating(shown.users, shown.items, history)
        self.shown = correction.calibrated(shown.users, shown.items, p, r, shown.ratings)
        return self

    def explain_shown(self, user_id: int, item_id: int, history) -> dict:
        """The shown answer and what moved it, for `explain`."""
        if self.shown is None:
            return {}
        p, r = self.predict_shown(np.array([user_id]), np.array([item_id]), history)
        return {"shown": {"p_like": round(float(p[0]), 3), "predicted_rating": round(float(r[0]), 3),
                          **self.shown.describe(user_id, item_id)}}


def calibrate_from_file(model, path, dataset) -> None:
    """`feedback.calibration`: refit `model`'s shown correction on the ratings of randomly shown items
    in `path` (the dataset's ids; see recagent.data.exposure.load_calibration)."""
    from ..data import History
    from ..data.exposure import load_calibration

    shown = load_calibration(path, dataset)
    model.calibrate_shown(shown, History.from_interactions(dataset.interactions, len(dataset.users)))
