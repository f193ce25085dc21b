"""The fidelity harness: train feedback models on a split, score the held-out ratings.

Metrics per model and split: AUC and accuracy for "like" (rating >= 3, the ensemble paper's
convention) and for rating >= 4, RMSE and MAE of the predicted rating where the model predicts
one. Models: the three base models f_mat / f_sim / f_sta, the ensemble's majority vote and its
stacked soft mode, and the baselines bias and mf. Scores used for AUC: f_mat and f_sim their
margins (alpha_pos - alpha_neg, beta_pos - beta_neg), f_sta its probability, vote the share of
like votes, soft / bias / mf P(like) for >= 3 and the predicted rating for >= 4. Accuracy uses
each model's own decision: the vote (ties by the seeded coin) or P >= 0.5, and rating >= 3.5 for
>= 4 where there is a rating.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from ..data import Catalog, History, Interactions, load_movielens_100k, load_ratings_csv
from ..errors import UserError

ALL_MODELS = ["f_mat", "f_sim", "f_sta", "vote", "soft", "bias", "mf"]
DATASETS = ("ml100k", "csv")


@dataclass
class Split:
    name: str
    catalog: Catalog
    train: Interactions
    test: Interactions
    n_users: int


def load_splits(dataset: str, path: str | Path, items: str | Path | None = None, folds: list[int] | None = None,
                split: str | None = None, columns: dict[str, str] | None = None) -> tuple[str, list[Split]]:
    """Dataset name and its train/test splits: ML-100K folds uK.base/uK.test, or a temporal split."""
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; expected one of {list(DATASETS)}", "--dataset")
    if split not in (None, "temporal"):
        raise UserError(f"unknown split {split!r}; expected 'temporal' (or --folds for ml100k)", "--split")
    if folds and split:
        raise UserError("give either --folds or --split temporal, not both", "--folds")
    path = Path(path)
    if not path.exists():
        raise UserError("not found", path)
    if items is not None and not Path(items).is_file():
        raise UserError("items file not found", items)
    if dataset == "ml100k":
        if split == "temporal":
            data = load_movielens_100k(path, tmdb=items)
            train, test = data.interactions.temporal_split(0.2)
            return "ml-100k", [Split("temporal", data.catalog, train, test, len(data.users))]
        folds = folds or [1, 2, 3, 4, 5]
        bad = [f for f in folds if f not in range(1, 6)]
        if bad:
            raise UserError(f"ML-100K folds are 1-5, found {bad}", "--folds")
        out = []
        for f in folds:
            data = load_movielens_100k(path, fold=f, tmdb=items)
            out.append(Split(f"u{f}", data.catalog, data.interactions, data.test_interactions, len(data.users)))
        return "ml-100k", out
    if folds:
        raise UserError("--folds is for ml100k's official folds; use --split temporal with a CSV", "--folds")
    if path.is_dir():
        raise UserError("expected a ratings CSV file, found a folder", path)
    data = load_ratings_csv(path, items, columns)
    train, test = data.interactions.temporal_split(0.2)
    if len(test) == 0:
        raise UserError("the temporal split left no test ratings (users need at least 5 ratings)", path)
    return data.name, [Split("temporal", data.catalog, train, test, len(data.users))]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else None


def score_metrics(ratings: np.ndarray, like_score: np.ndarray, like_decision: np.ndarray,
                  rating_pred: np.ndarray | None, like_threshold: float = 3.0) -> dict:
    """The table's metrics for one model on one split."""
    y3, y4 = ratings >= like_threshold, ratings >= 4
    out = {"auc": _auc(y3, like_score), "acc": float(np.mean(like_decision.astype(bool) == y3)),
           "auc4": _auc(y4, rating_pred if rating_pred is not None else like_score),
           "acc4": None, "rmse": None, "mae": None}
    if rating_pred is not None:
        out["acc4"] = float(np.mean((rating_pred >= 3.5) == y4))
        out["rmse"] = float(np.sqrt(np.mean((rating_pred - ratings) ** 2)))
        out["mae"] = float(np.mean(np.abs(rating_pred - ratings)))
    return out


def evaluate_split(split: Split, models: list[str], params: dict, keywords=None,
                   progress: Callable[[str, float], None] | None = None, cache_dir: Path | None = None) -> dict:
    from ..feedback.bias import BiasFeedback
    from ..feedback.ensemble import EnsembleFeedback
    from ..feedback.mf import MatrixFactorization

    report = progress or (lambda stage, frac: None)
    history = History.from_interactions(split.train, split.n_users)
    test = split.test
    results: dict[str, dict] = {}
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if "bias" in models:
        bias = BiasFeedback().fit(split.catalog, split.train)
        results["bias"] = score_metrics(test.ratings, bias.predict_proba(test.users, test.items, history),
                                        bias.predict_proba(test.users, test.items, history) >= 0.5,
                                        bias.predict_rating(test.users, test.items, history))
    if "mf" in models:
        mf = MatrixFactorization(seed=params.get("seed", 0)).fit(split.catalog, split.train)
        p = mf.predict_proba(test.users, test.items, history)
        results["mf"] = score_metrics(test.ratings, p, p >= 0.5, mf.predict_rating(test.users, test.items, history))
    timings["baselines_s"] = round(time.perf_counter() - start, 2)
    extra = {}
    if set(models) & {"f_mat", "f_sim", "f_sta", "vote", "soft"}:
        start = time.perf_counter()
        kw, vec = keywords if keywords else (None, None)
        ens = EnsembleFeedback(keywords=kw, keyword_vectors=vec, progress=report, cache_dir=cache_dir,
                               dataset_name=f"eval-{split.name}", **params)
        ens.fit(split.catalog, split.train)
        timings["ensemble_fit_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        s = ens.scores(test.users, test.items, history)
        timings["ensemble_score_s"] = round(time.perf_counter() - start, 2)
        r = test.ratings
        table = {
            "f_mat": (s["f_mat"], s["f_mat_vote"], None), "f_sim": (s["f_sim"], s["f_sim_vote"], None),
            "f_sta": (s["f_sta"], s["f_sta_vote"], None), "vote": (s["vote_share"], s["vote"], None),
            "soft": (s["soft"], s["soft"] >= 0.5, s["rating"]),
        }
        for name, (score, decision, rating) in table.items():
            if name in models:
                results[name] = score_metrics(r, score, decision, rating)
        extra = {"sasrec": ens.components.extra, "ensemble_timings_s": ens.timings}
    return {"split": split.name, "n_train": len(split.train), "n_test": len(test),
            "models": {m: results[m] for m in models if m in results}, "timings_s": timings, **extra}


def evaluate_feedback(dataset_name: str, splits: list[Split], models: list[str] | None = None,
                      params: dict | None = None, progress: Callable[[str, float], None] | None = None,
                      cache_dir: Path | None = None) -> dict:
    """Run every split; returns the JSON-ready report with per-split and mean metrics."""
    models = models or list(ALL_MODELS)
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; expected some of {ALL_MODELS}", "--models")
    params = dict(params or {})
    report = progress or (lambda stage, frac: None)
    keywords = None
    if set(models) & {"f_mat", "f_sim", "f_sta", "vote", "soft"}:
        from ..feedback.ensemble import EnsembleFeedback

        # keywords depend on the catalog only: distil once, share across splits
        maker = EnsembleFeedback(cache_dir=cache_dir, dataset_name=dataset_name, **params,
                                 progress=lambda stage, frac: report(stage, frac))
        keywords = maker.keywords_for(splits[0].catalog)
    per_split = []
    for k, split in enumerate(splits):
        per_split.append(evaluate_split(split, models, params, keywords,
                                        lambda stage, frac, k=k, name=split.name: report(f"{name}: {stage}", (k + frac) / len(splits)),
                                        cache_dir))
    mean = {}
    for m in models:
        mean[m] = {}
        for metric in ("auc", "acc", "auc4", "acc4", "rmse", "mae"):
            values = [s["models"][m][metric] for s in per_split if s["models"][m][metric] is not None]
            mean[m][metric] = float(np.mean(values)) if values else None
    base = [m for m in ("f_mat", "f_sim", "f_sta") if m in models]
    checks = {}
    if "soft" in models and base:
        checks["soft_beats_best_base_every_split"] = all(
            s["models"]["soft"]["auc"] >= max(s["models"][b]["auc"] for b in base) for s in per_split)
    from ..feedback.ensemble import versions

    return {"dataset": dataset_name, "splits": per_split, "mean": mean, "models": models, "params": params,
            "checks": checks, "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
