"""`recagent eval users`: the validation report of a simulated population on held-out ratings.

- **1:m discrimination** (Agent4Rec, SimUSER): each test user's held-out items (positives) are
  mixed with m times as many items the user never rated (train or test), drawn uniformly with the
  seed; the simulated person "picks" an item when the model says it would like it (its own
  decision: a base model's vote, P(like) >= 0.5 otherwise). Accuracy, precision, recall and F1 of
  those picks, for m = 1, 3, 9 (the anchors on ML-1M: Agent4Rec 1:1 accuracy 0.69, SimUSER 0.79),
  and the AUC of the model's score (positives against the never-rated items: threshold-free).
  Two questions are asked where a model answers both: `chosen` (P(like | they picked it), what
  rating data holds) and `shown` (P(like | put in front of them), corrected for self-selection,
  what a simulation asks of a recommended item).
- **RMSE** of the predicted rating on the held-out ratings (models that predict one).
- **JSD of rating distributions**: the held-out ratings' 1-5 histogram against the simulated
  ratings of the same pairs (the simulation's rule: round(predicted + N(0, rating_noise)), 1-5).
- **JSD of per-user activity**: each test user's real number of held-out items against the number
  the simulated person picks among the same 1:m candidates (log2-binned counts), at each m.

JSD is the Jensen-Shannon divergence in bits (scipy), 0 = the same distribution, 1 = disjoint.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import typer

from ..data import History
from ..errors import UserError

if TYPE_CHECKING:  # fidelity imports scikit-learn, which the CLI does not load to start
    from .fidelity import Split

RATIOS = (1, 3, 9)
ENSEMBLE_MODELS = ("soft", "vote", "f_mat", "f_sim", "f_sta")
USER_MODELS = ENSEMBLE_MODELS + ("bias", "mf")
RATING_NOISE = 0.8  # the scenario default of feedback.rating_noise


def candidates(split: Split, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, label) of the 1:m test: every held-out (user, item) with label 1, and per
    positive m items that user never rated (train or test; fewer where the catalog runs out), label 0."""
    from scipy import sparse

    n_items = len(split.catalog)
    rng = np.random.default_rng([seed, m, 101])
    test = split.test
    both = np.concatenate([split.train.users, test.users]), np.concatenate([split.train.items, test.items])
    rated = sparse.csr_matrix((np.ones(len(both[0]), dtype=bool), both), shape=(split.n_users, n_items))
    users_out, items_out = [test.users.astype(np.int64)], [test.items.astype(np.int64)]
    for user, count in zip(*np.unique(test.users, return_counts=True)):
        seen = rated.indices[rated.indptr[user]:rated.indptr[user + 1]]
        k = min(n_items - len(np.unique(seen)), m * int(count))
        if k:
            unrated = np.setdiff1d(np.arange(n_items), seen, assume_unique=False)
            items_out.append(rng.choice(unrated, k, replace=False))
            users_out.append(np.full(k, user, dtype=np.int64))
    users, items = np.concatenate(users_out), np.concatenate(items_out)
    label = np.zeros(len(users), dtype=bool)
    label[:len(test)] = True
    return users, items, label


def classification(label: np.ndarray, picked: np.ndarray) -> dict:
    """Accuracy, precision, recall and F1 of the picks (precision NaN where nothing is picked)."""
    picked, label = np.asarray(picked, dtype=bool), np.asarray(label, dtype=bool)
    tp = float(np.sum(picked & label))
    precision = tp / picked.sum() if picked.sum() else float("nan")
    recall = tp / label.sum() if label.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {"accuracy": float(np.mean(picked == label)), "precision": precision, "recall": recall, "f1": f1,
            "picked_share": float(picked.mean())}


def jsd(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits) between two histograms over the same bins."""
    p, q = np.asarray(p_counts, dtype=np.float64), np.asarray(q_counts, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    from scipy.spatial.distance import jensenshannon  # here: the CLI starts without SciPy

    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2)


def rating_histogram(ratings: np.ndarray) -> np.ndarray:
    return np.bincount(np.clip(np.rint(ratings), 1, 5).astype(np.int64) - 1, minlength=5)


def activity_histogram(counts: np.ndarray, top: int) -> np.ndarray:
    """Per-user counts in log2 bins: 0, 1, 2-3, 4-7, ... up to `top`."""
    bins = np.floor(np.log2(np.maximum(counts, 1))).astype(np.int64) + (counts > 0)
    return np.bincount(bins, minlength=int(np.log2(max(top, 1))) + 2)


class _Answers:
    """Every selected model fitted on one split, answering (decision, score, rating) per question."""

    def __init__(self, split: Split, models: list[str], params: dict, keywords, cache_dir: Path | None,
                 progress: Callable[[str, float], None]):
        from ..feedback.bias import BiasFeedback
        from ..feedback.mf import MatrixFactorization

        self.history = History.from_interactions(split.train, split.n_users)
        self.models = models
        self.fitted = {}
        if "bias" in models:
            self.fitted["bias"] = BiasFeedback().fit(split.catalog, split.train)
        if "mf" in models:
            self.fitted["mf"] = MatrixFactorization(seed=params.get("seed", 0)).fit(split.catalog, split.train)
        self.ensemble = None
        if set(models) & set(ENSEMBLE_MODELS):
            from ..feedback.ensemble import EnsembleFeedback

            kw, vec = keywords if keywords else (None, None)
            self.ensemble = EnsembleFeedback(keywords=kw, keyword_vectors=vec, progress=progress, cache_dir=cache_dir,
                                             dataset_name=f"eval-{split.name}", **params)
            self.ensemble.fit(split.catalog, split.train)

    def answers(self, users: np.ndarray, items: np.ndarray) -> dict[str, dict[str, tuple]]:
        """model -> question -> (picked, score, rating or None); the score ranks items (P(like) or a margin)."""
        out: dict[str, dict[str, tuple]] = {}
        for name, model in self.fitted.items():
            p = model.predict_proba(users, items, self.history)
            out[name] = {"chosen": (p >= 0.5, p, model.predict_rating(users, items, self.history))}
            p_shown, r_shown = model.predict_shown(users, items, self.history)
            out[name]["shown"] = (p_shown >= 0.5, p_shown, r_shown)
        if self.ensemble is not None:
            s = self.ensemble.scores(users, items, self.history)
            table = {"soft": (s["soft"] >= 0.5, s["soft"], s["rating"]),
                     "vote": (s["vote"].astype(bool), s["vote_share"], None),
                     "f_mat": (s["f_mat_vote"].astype(bool), s["f_mat"], None),
                     "f_sim": (s["f_sim_vote"].astype(bool), s["f_sim"], None),
                     "f_sta": (s["f_sta_vote"].astype(bool), s["f_sta"], None)}
            for name, answer in table.items():
                if name in self.models:
                    out[name] = {"chosen": answer}
            if "soft" in self.models:
                p_shown, r_shown = self.ensemble.predict_shown(users, items, self.history)
                out["soft"]["shown"] = (p_shown >= 0.5, p_shown, r_shown)
        return {m: out[m] for m in self.models if m in out}


def evaluate_split(split: Split, models: list[str], params: dict, keywords, seed: int, cache_dir: Path | None,
                   progress: Callable[[str, float], None]) -> dict:
    from sklearn.metrics import roc_auc_score  # here: the CLI starts without scikit-learn

    fitted = _Answers(split, models, params, keywords, cache_dir, progress)
    test = split.test
    report: dict = {"split": split.name, "n_test": len(test), "n_users": int(len(np.unique(test.users))),
                    "models": {}}
    held = fitted.answers(test.users, test.items)
    for model, questions in held.items():
        entry = report["models"].setdefault(model, {})
        for question, (_, _, rating) in questions.items():
            q = entry.setdefault(question, {})
            if rating is not None:
                rating = np.asarray(rating, dtype=np.float64)
                q["rmse"] = float(np.sqrt(np.mean((rating - test.ratings) ** 2)))
                rng = np.random.default_rng([seed, zlib.crc32(f"{model}/{question}".encode())])  # per model: the
                # same noise whichever other models are asked
                simulated = np.clip(np.rint(rating + rng.normal(0, RATING_NOISE, len(rating))), 1, 5)
                q["rating_jsd"] = jsd(rating_histogram(test.ratings), rating_histogram(simulated))
    for m in RATIOS:
        users, items, label = candidates(split, m, seed)
        real = np.bincount(users[label], minlength=split.n_users)
        active = real > 0
        top = int(max(real.max(), 1) * (1 + m))
        for model, questions in fitted.answers(users, items).items():
            for question, (picked, score, _) in questions.items():
                q = report["models"][model].setdefault(question, {})
                q[f"1:{m}"] = classification(label, picked)
                q[f"1:{m}"]["auc"] = float(roc_auc_score(label, score))
                picks = np.bincount(users[np.asarray(picked, dtype=bool)], minlength=split.n_users)
                q[f"activity_jsd_1:{m}"] = jsd(activity_histogram(real[active], top),
                                               activity_histogram(picks[active], top))
    return report


def _mean(values) -> float | None:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def evaluate_users(dataset_name: str, splits: list[Split], models: list[str] | None = None,
                   params: dict | None = None, seed: int = 0, cache_dir: Path | None = None,
                   progress: Callable[[str, float], None] | None = None) -> dict:
    """Every split; the JSON-ready report with per-split and mean figures per model and question."""
    models = list(models or USER_MODELS)
    unknown = [m for m in models if m not in USER_MODELS]
    if unknown or not models:
        raise UserError(f"unknown model(s) {unknown}; expected some of {list(USER_MODELS)}", "--models")
    params = dict(params or {})
    params.setdefault("seed", seed)
    report = progress or (lambda stage, frac: None)
    keywords = None
    if set(models) & set(ENSEMBLE_MODELS):
        from ..feedback.ensemble import EnsembleFeedback

        keywords = EnsembleFeedback(cache_dir=cache_dir, dataset_name=dataset_name, **params).keywords_for(
            splits[0].catalog)
    start = time.perf_counter()
    per_split = [evaluate_split(s, models, params, keywords, seed, cache_dir,
                                lambda stage, frac, k=k, s=s: report(f"{s.name}: {stage}", (k + frac) / len(splits)))
                 for k, s in enumerate(splits)]
    mean: dict = {}
    for model in models:
        questions = sorted({q for s in per_split for q in s["models"].get(model, {})})
        for question in questions:
            cells = [s["models"][model][question] for s in per_split if question in s["models"].get(model, {})]
            row = {}
            for key in ("rmse", "rating_jsd", *(f"activity_jsd_1:{m}" for m in RATIOS)):
                row[key] = _mean(c.get(key) for c in cells)
            for m in RATIOS:
                row[f"1:{m}"] = {k: _mean(c[f"1:{m}"][k] for c in cells)
                                 for k in ("accuracy", "precision", "recall", "f1", "picked_share", "auc")}
            mean.setdefault(model, {})[question] = row
    return {"dataset": dataset_name, "splits": per_split, "mean": mean, "models": models, "ratios": list(RATIOS),
            "seed": seed, "wall_s": round(time.perf_counter() - start, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def print_users_report(report: dict, console) -> None:
    from rich.table import Table

    def f(x):
        return "—" if x is None else f"{x:.3f}"

    where = f"{report['dataset']}, mean over {len(report['splits'])} split(s)"
    table = Table(title=f"1:m discrimination of simulated users ({where})")
    for col in ("model", "question", "m", "accuracy", "precision", "recall", "F1", "picked", "AUC"):
        table.add_column(col, justify="left" if col in ("model", "question") else "right")
    for model, questions in report["mean"].items():
        for question, r in questions.items():
            for m in RATIOS:
                c = r[f"1:{m}"]
                table.add_row(model, question, f"1:{m}", *(f(c[k]) for k in ("accuracy", "precision", "recall", "f1",
                                                                             "picked_share", "auc")))
    console.print(table)
    table = Table(title=f"Ratings and activity, simulated vs real ({where}; JSD in bits)")
    for col in ("model", "question", "RMSE", "JSD ratings", *(f"JSD activity 1:{m}" for m in RATIOS)):
        table.add_column(col, justify="left" if col in ("model", "question") else "right")
    for model, questions in report["mean"].items():
        for question, r in questions.items():
            table.add_row(model, question, f(r["rmse"]), f(r["rating_jsd"]),
                          *(f(r[f"activity_jsd_1:{m}"]) for m in RATIOS))
    console.print(table)


def users_command(
    dataset: str = typer.Option(..., "--dataset", help="ml100k or csv"),
    path: Path = typer.Option(..., "--path", help="ML-100K folder, or the ratings CSV"),
    items: Optional[Path] = typer.Option(None, "--items", help="items CSV (csv) or TMDB movies_enriched.csv (ml100k)"),
    folds: Optional[str] = typer.Option("1", "--folds", help="ML-100K folds, e.g. 1 (default) or 1,2,3,4,5"),
    models: Optional[str] = typer.Option(None, "--models", help=f"comma-separated subset of {','.join(USER_MODELS)}"),
    route: str = typer.Option("offline", "--route", help="ensemble keywords: offline, or llm (prepared by "
                              "`recagent prepare --route llm`: the LLM route)"),
    seed: int = typer.Option(0, "--seed"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="cache folder (default $RECAGENT_CACHE)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the full report here"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """1:m discrimination, RMSE and rating / activity divergences of simulated users on held-out ratings."""
    import json

    from rich.console import Console

    from ..cache import chosen_cache
    from ..cli_args import int_list
    from .fidelity import load_splits

    console = Console()
    if route not in ("offline", "llm"):
        raise UserError(f"expected offline or llm, found {route!r}", "--route")
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
    name, splits = load_splits(dataset, path, items, int_list(folds, "--folds") if dataset == "ml100k" and folds
                               else None, None if dataset == "ml100k" else "temporal")
    params = {"route": route} if route != "offline" else {}
    if dataset == "csv":
        params["holdout"] = "temporal"
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=Console(stderr=True),
                  disable=quiet) as bar:
        task = bar.add_task("evaluating", total=1.0)
        report = evaluate_users(name, splits, model_list, params, seed=seed, cache_dir=chosen_cache(cache),
                                progress=lambda stage, frac: bar.update(task, completed=frac, description=stage))
    print_users_report(report, console)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
        console.print(f"wrote {json_out}")
