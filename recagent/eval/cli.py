"""`recagent eval feedback` and `recagent prepare`: the fidelity table and the feedback cache."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import UserError

eval_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Measure simulators against real users.")
console = Console()
err_console = Console(stderr=True)


def _fail(error: UserError) -> None:
    err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def default_cache() -> Path:
    return Path(os.environ.get("RECAGENT_CACHE", "~/.cache/recagent")).expanduser()


def _progress_bar(quiet: bool):
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=err_console, disable=quiet, transient=False)


def _parse_folds(folds: str | None) -> list[int] | None:
    if folds is None:
        return None
    try:
        out = [int(x) for x in folds.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"expected comma-separated fold numbers like 1,2,3, found {folds!r}", "--folds")
    if not out:
        raise UserError("no folds given", "--folds")
    return out


def _columns(column: list[str] | None) -> dict[str, str]:
    out = {}
    for c in column or []:
        key, sep, value = c.partition("=")
        if not sep or key not in ("user", "item", "rating", "timestamp"):
            raise UserError(f"expected user=COL, item=COL, rating=COL or timestamp=COL, found {c!r}", "--column")
        out[key] = value
    return out


def _params(items: list[str] | None) -> dict:
    """--param KEY=VALUE pairs checked against the ensemble's parameters; numbers become numbers."""
    from ..feedback.ensemble import EnsembleParams

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in EnsembleParams.__dataclass_fields__:
            raise UserError(f"expected KEY=VALUE with KEY one of {sorted(EnsembleParams.__dataclass_fields__)}, "
                            f"found {item!r}", "--param")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def print_report(report: dict) -> None:
    table = Table(title=f"Feedback fidelity on {report['dataset']} (mean over {len(report['splits'])} split(s))")
    for col in ("model", "AUC ≥3", "Acc ≥3", "AUC ≥4", "Acc ≥4", "RMSE", "MAE"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in report["models"]:
        r = report["mean"][m]
        table.add_row(m, *(_fmt(r[k]) for k in ("auc", "acc", "auc4", "acc4", "rmse", "mae")))
    console.print(table)
    if len(report["splits"]) > 1:
        per = Table(title="Per split: AUC ≥3 / RMSE")
        per.add_column("model")
        for s in report["splits"]:
            per.add_column(s["split"], justify="right")
        for m in report["models"]:
            per.add_row(m, *(f"{_fmt(s['models'][m]['auc'])} / {_fmt(s['models'][m]['rmse'])}" for s in report["splits"]))
        console.print(per)
    for name, ok in report.get("checks", {}).items():
        console.print(f"{name}: {'[green]yes[/]' if ok else '[red]no[/]'}")


@eval_app.command("feedback")
def eval_feedback(
    dataset: str = typer.Option(..., "--dataset", help="ml100k or csv"),
    path: Path = typer.Option(..., "--path", help="ML-100K folder, or the ratings CSV"),
    items: Optional[Path] = typer.Option(None, "--items", help="items CSV (csv) or TMDB movies_enriched.csv (ml100k)"),
    folds: Optional[str] = typer.Option(None, "--folds", help="ML-100K folds, e.g. 1,2,3,4,5 (the default)"),
    split: Optional[str] = typer.Option(None, "--split", help="temporal: each user's last 20% by time"),
    models: Optional[str] = typer.Option(None, "--models", help="comma-separated subset of f_mat,f_sim,f_sta,vote,soft,bias,mf"),
    column: Optional[list[str]] = typer.Option(None, "--column", help="CSV column override, e.g. user=uid (repeatable)"),
    sasrec_epochs: Optional[int] = typer.Option(None, "--sasrec-epochs", help="SASRec epoch cap (default 30)"),
    seed: int = typer.Option(0, "--seed"),
    param: Optional[list[str]] = typer.Option(None, "--param", help="ensemble parameter KEY=VALUE (repeatable)"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="cache folder for keywords and the fitted per-split models (default $RECAGENT_CACHE)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the full report here"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Train on a split, score held-out ratings, print the table, write JSON."""
    try:
        model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
        from .fidelity import ALL_MODELS, evaluate_feedback, load_splits

        if model_list is not None:
            bad = [m for m in model_list if m not in ALL_MODELS]
            if bad or not model_list:
                raise UserError(f"unknown model(s) {bad}; expected some of {ALL_MODELS}", "--models")
        name, splits = load_splits(dataset, path, items, _parse_folds(folds), split, _columns(column))
        params = {"seed": seed}
        if sasrec_epochs is not None:
            params["sasrec_epochs"] = sasrec_epochs
        if split == "temporal" or dataset == "csv":
            params["holdout"] = "temporal"
        params.update(_params(param))
        start = time.perf_counter()
        with _progress_bar(quiet) as bar:
            task = bar.add_task("evaluating", total=1.0)
            report = evaluate_feedback(name, splits, model_list, params, cache_dir=cache or default_cache(),
                                       progress=lambda stage, frac: bar.update(task, completed=frac, description=stage))
        report["wall_s"] = round(time.perf_counter() - start, 1)
    except UserError as e:
        _fail(e)
    print_report(report)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2))
        console.print(f"wrote {json_out}")


def prepare(
    dataset: str = typer.Option("ml100k", "--dataset", help="ml100k, csv or synthetic"),
    path: Optional[Path] = typer.Option(None, "--path", help="ML-100K folder or ratings CSV"),
    items: Optional[Path] = typer.Option(None, "--items", help="items CSV (csv) or TMDB movies_enriched.csv (ml100k)"),
    fold: Optional[int] = typer.Option(None, "--fold", help="prepare on ML-100K's uK.base instead of u.data"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="cache folder (default $RECAGENT_CACHE or ~/.cache/recagent)"),
    seed: int = typer.Option(0, "--seed", help="training seed of the ensemble"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Distil item keywords (offline route) and train the ensemble user simulator into the cache."""
    from ..data import load_movielens_100k, load_ratings_csv, make_synthetic
    from ..feedback.ensemble import EnsembleFeedback

    try:
        if dataset == "ml100k":
            if path is None:
                raise UserError("give the ML-100K folder with --path", "--path")
            data = load_movielens_100k(path, fold=fold, tmdb=items)
        elif dataset == "csv":
            if path is None:
                raise UserError("give the ratings CSV with --path", "--path")
            data = load_ratings_csv(path, items)
        elif dataset == "synthetic":
            data = make_synthetic(seed=seed)
        else:
            raise UserError(f"unknown dataset {dataset!r}; expected ml100k, csv or synthetic", "--dataset")
        cache_dir = cache or default_cache()
        start = time.perf_counter()
        with _progress_bar(quiet) as bar:
            task = bar.add_task("preparing", total=1.0)
            model = EnsembleFeedback(cache_dir=cache_dir, dataset_name=data.name, seed=seed,
                                     progress=lambda stage, frac: bar.update(task, completed=frac, description=stage))
            model.fit(data.catalog, data.interactions)
        wall = time.perf_counter() - start
    except UserError as e:
        _fail(e)
    folder = model.loaded_from or model.cache_folder(model.fingerprint_)
    state = "already prepared, loaded" if model.loaded_from else "prepared"
    console.print(f"{state}: [bold]{folder}[/] ({len(model.vocabulary)} keywords, {wall:.1f} s)")
