"""`recagent eval exposure`: do the feedback models answer for what people are *shown*?

Every model is fitted on the self-chosen ratings of a random-exposure dataset and scores the ratings
of randomly shown items three ways:

- `chosen`: the model's answer to the chosen question (what it would say without the correction);
- `shown`: its answer to the shown question, from the training data alone (documented defaults);
- `shown+calibration`: the shown answer after `calibrate_shown` on random ratings it does not
  score: cross-fitted over two halves of the users (calibrate on one half, score the other, and the
  other way round), or calibrated on a `--calibration` file (its pairs are then not scored).

Metrics: AUC of P(like) for rating >= 3 and of the predicted rating for >= 4, RMSE, mean predicted
P(like) against the real share of ratings >= 3, and the expected calibration error over 10 equal
bins of P(like) (the bins also draw the reliability plot).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from ..data import History, Interactions
from ..data.exposure import ExposureData
from ..errors import UserError

MODELS = ("ensemble", "bias", "mf")
MODES = ("chosen", "shown", "shown+calibration")
BINS = 10


def reliability(p: np.ndarray, liked: np.ndarray, bins: int = BINS) -> tuple[float, list[dict]]:
    """Expected calibration error over `bins` equal-width bins of p, and the bins themselves."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            mean_p, share = float(p[sel].mean()), float(liked[sel].mean())
            ece += sel.mean() * abs(mean_p - share)
            rows.append({"bin": b, "n": int(sel.sum()), "mean_p": mean_p, "share": share})
    return float(ece), rows


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else None


def exposure_metrics(ratings: np.ndarray, p_like: np.ndarray, rating: np.ndarray, like_threshold: float = 3.0) -> dict:
    liked = np.asarray(ratings) >= like_threshold
    ece, bins = reliability(np.asarray(p_like, np.float64), liked)
    mean_p, share = float(np.mean(p_like)), float(liked.mean())
    return {"n": int(len(ratings)), "auc": _auc(liked, p_like), "auc4": _auc(np.asarray(ratings) >= 4, rating),
            "rmse": float(np.sqrt(np.mean((np.asarray(rating) - ratings) ** 2))), "mean_p_like": mean_p,
            "real_share": share, "gap": mean_p - share, "ece": ece, "reliability": bins}


def make_model(name: str, data: ExposureData, seed: int, cache_dir: Path | None, params: dict | None = None):
    if name == "bias":
        from ..feedback.bias import BiasFeedback

        return BiasFeedback()
    if name == "mf":
        from ..feedback.mf import MatrixFactorization

        return MatrixFactorization(seed=seed)
    if name == "ensemble":
        from ..feedback.ensemble import EnsembleFeedback

        return EnsembleFeedback(cache_dir=cache_dir, dataset_name=f"exposure-{data.name}", seed=seed, **(params or {}))
    raise UserError(f"unknown model {name!r}; expected some of {list(MODELS)}", "--models")


def user_folds(random: Interactions, folds: int, seed: int) -> np.ndarray:
    """Fold of each random rating: users are split, so no person is both calibrated on and scored."""
    users = np.unique(random.users)
    fold_of = dict(zip(users.tolist(), np.random.default_rng(seed).permutation(len(users)) % folds))
    return np.array([fold_of[u] for u in random.users.tolist()], dtype=np.int64)


def _calibrated_answers(model, calibrate_on: Interactions, score: Interactions, history: History):
    """The shown answers for `score` after calibrating on `calibrate_on`; the model is left as it was."""
    original = model.shown
    try:
        model.calibrate_shown(calibrate_on, history)
        return model.predict_shown(score.users, score.items, history)
    finally:
        model.shown = original


def evaluate_model(model, data: ExposureData, calibration: Interactions | None, folds: int, seed: int) -> dict:
    chosen = data.dataset.interactions
    n_users = max(len(data.dataset.users), int(chosen.users.max()) + 1)
    start = time.perf_counter()
    model.fit(data.dataset.catalog, chosen)
    fit_s = time.perf_counter() - start
    history = History.from_interactions(chosen, n_users)
    random = data.random
    out = {"fit_s": round(fit_s, 2), "modes": {}}
    p, r = model.predict_proba(random.users, random.items, history), model.predict_rating(random.users, random.items, history)
    out["modes"]["chosen"] = exposure_metrics(random.ratings, p, r)
    p, r = model.predict_shown(random.users, random.items, history)
    out["modes"]["shown"] = exposure_metrics(random.ratings, p, r)
    if calibration is None:
        fold = user_folds(random, folds, seed)
        p, r = np.zeros(len(random)), np.zeros(len(random))
        for k in range(folds):
            test = fold == k
            p[test], r[test] = _calibrated_answers(model, random.subset(~test), random.subset(test), history)
        out["modes"]["shown+calibration"] = {**exposure_metrics(random.ratings, p, r), "how": f"cross-fitted, {folds} user folds"}
    else:
        seen = set(zip(calibration.users.tolist(), calibration.items.tolist()))
        keep = np.array([(u, i) not in seen for u, i in zip(random.users.tolist(), random.items.tolist())], dtype=bool)
        if not keep.any():
            raise UserError("every random rating of the dataset is in the calibration file: nothing left to score",
                            "--calibration")
        test = random.subset(keep)
        p, r = _calibrated_answers(model, calibration, test, history)
        out["modes"]["shown+calibration"] = {**exposure_metrics(test.ratings, p, r),
                                             "how": f"calibrated on {len(calibration)} ratings of the file"}
    correction = getattr(model, "shown", None)
    if correction is not None:
        out["correction"] = {"exposure_factors": correction.exposure.factors, "exposure_reg": correction.exposure.reg, "heldout_loss": correction.exposure.heldout_loss,
                             "head_like": correction.like.tolist(), "head_rating": correction.rating.tolist()}
    return out


def evaluate_exposure(data: ExposureData, models: list[str] | None = None, calibration: Interactions | None = None,
                      folds: int = 2, seed: int = 0, cache_dir: Path | None = None,
                      progress: Callable[[str, float], None] | None = None) -> dict:
    """The JSON-ready report: per model, the three modes' metrics."""
    models = list(models or MODELS)
    report = progress or (lambda stage, frac: None)
    out = {}
    for k, name in enumerate(models):
        report(f"{name}: fitting on the self-chosen ratings", k / len(models))
        out[name] = evaluate_model(make_model(name, data, seed, cache_dir), data, calibration, folds, seed)
    from ..feedback.ensemble import versions

    chosen_share = float(np.mean(data.dataset.interactions.ratings >= 3))
    # the dataset's own self-selection strength, as the scenario prior feedback.self_selection reads it:
    # from the calibration sample where one is given (what a user of the scenario would have), else the random ratings
    sample = calibration if calibration is not None and len(calibration) else data.random
    ratio = float(np.mean(sample.ratings >= 3)) / chosen_share if chosen_share > 0 else None
    prior = {"value": None if ratio is None else round(ratio, 3), "n": len(sample),
             "from": "the --calibration sample" if sample is calibration else "the dataset's random ratings"}
    return {"dataset": data.name, "n_chosen": len(data.dataset.interactions), "n_random": len(data.random),
            "chosen_share": chosen_share, "self_selection": prior,
            "random_share": float(np.mean(data.random.ratings >= 3)), "models": out, "model_names": models,
            "seed": seed, "folds": folds, "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def reliability_plot(report: dict, path: Path) -> Path:
    """One panel per mode: P(like) against the real like share per bin, a line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MODES), figsize=(4.2 * len(MODES), 4), sharey=True)
    for ax, mode in zip(axes, MODES):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        for name in report["model_names"]:
            m = report["models"][name]["modes"][mode]
            bins = m["reliability"]
            ax.plot([b["mean_p"] for b in bins], [b["share"] for b in bins], marker="o",
                    label=f"{name} (ECE {m['ece']:.3f})")
        ax.set_title(mode)
        ax.set_xlabel("predicted P(like)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("real share of ratings >= 3")
    fig.suptitle(f"Random exposures of {report['dataset']} (real share {report['random_share']:.3f})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
