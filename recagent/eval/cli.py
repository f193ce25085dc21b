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

from ..cache import chosen_cache
from ..cli_args import int_list
from ..errors import UserError

eval_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Measure simulators against real users.")
console = Console()
err_console = Console(stderr=True)


def _progress_bar(quiet: bool):
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=err_console, disable=quiet, transient=False)


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
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else None
    from .fidelity import ALL_MODELS, evaluate_feedback, load_splits

    if model_list is not None:
        bad = [m for m in model_list if m not in ALL_MODELS]
        if bad or not model_list:
            raise UserError(f"unknown model(s) {bad}; expected some of {ALL_MODELS}", "--models")
    name, splits = load_splits(dataset, path, items, None if folds is None else int_list(folds, "--folds"), split, _columns(column))
    params = {"seed": seed}
    if sasrec_epochs is not None:
        params["sasrec_epochs"] = sasrec_epochs
    if split == "temporal" or dataset == "csv":
        params["holdout"] = "temporal"
    params.update(_params(param))
    start = time.perf_counter()
    with _progress_bar(quiet) as bar:
        task = bar.add_task("evaluating", total=1.0)
        report = evaluate_feedback(name, splits, model_list, params, cache_dir=chosen_cache(cache),
                                   progress=lambda stage, frac: bar.update(task, completed=frac, description=stage))
    report["wall_s"] = round(time.perf_counter() - start, 1)
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
    route: str = typer.Option("offline", "--route", help="keyword route: offline (extractive, the default) or llm "
                              "(T_obj / T_sub prompts to an OpenAI-compatible endpoint)"),
    llm_base_url: Optional[list[str]] = typer.Option(None, "--llm-base-url", help="llm route: OpenAI-compatible "
                                                     "endpoint, e.g. http://localhost:8000/v1 (repeatable: load-"
                                                     "balanced); without it, the OpenAI API"),
    llm_model: str = typer.Option("gpt-4o-mini", "--llm-model", help="llm route: model name sent to the endpoint"),
    llm_api_key_env: Optional[str] = typer.Option(None, "--llm-api-key-env", help="llm route: environment variable "
                                                  "holding the API key (local servers need none)"),
    llm_concurrency: int = typer.Option(8, "--llm-concurrency", min=1, help="llm route: calls in flight"),
    llm_timeout: float = typer.Option(60.0, "--llm-timeout", min=0.001, help="llm route: seconds per call"),
    llm_retries: int = typer.Option(3, "--llm-retries", min=0, help="llm route: retries on errors and malformed replies"),
    llm_backoff: float = typer.Option(1.0, "--llm-backoff", min=0.0, help="llm route: first retry delay (s), doubled per retry"),
    llm_temperature: float = typer.Option(0.3, "--llm-temperature", min=0.0, max=2.0, help="llm route: sampling temperature"),
    llm_max_tokens: int = typer.Option(800, "--llm-max-tokens", min=1, help="llm route: completion tokens per call"),
    llm_max_calls: Optional[int] = typer.Option(None, "--llm-max-calls", min=0, help="llm route: call budget"),
    llm_max_failed: float = typer.Option(0.1, "--llm-max-failed", min=0.0, max=1.0, help="llm route: stop when more "
                                         "than this share of items (or comments) get no usable reply"),
    comment_column: Optional[str] = typer.Option(None, "--comment-column", help="llm route, csv: the review / comment "
                                                 "column for T_sub (auto-detected: comment, review, text, ...)"),
    comments_per_item: int = typer.Option(5, "--comments-per-item", min=0, help="llm route: T_sub prompts per item "
                                          "at most (liked and disliked ratings alternating)"),
    param: Optional[list[str]] = typer.Option(None, "--param", help="ensemble parameter KEY=VALUE (repeatable)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Distil item keywords (offline or LLM route) and train the ensemble user simulator into the cache."""
    from ..data import load_movielens_100k, load_ratings_csv, make_synthetic
    from ..feedback.ensemble import EnsembleFeedback

    if route not in ("offline", "llm"):
        raise UserError(f"expected offline or llm, found {route!r}", "--route")
    if route == "offline" and (llm_base_url or llm_api_key_env or comment_column):
        raise UserError("--llm-base-url, --llm-api-key-env and --comment-column are for --route llm", "--route")
    params = _params(param)
    if "route" in params:
        raise UserError("choose the keyword route with --route", "--param")
    params.setdefault("seed", seed)
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
    cache_dir = chosen_cache(cache)
    start = time.perf_counter()
    prepared = None
    with _progress_bar(quiet) as bar:
        task = bar.add_task("preparing", total=1.0)
        if route == "llm":
            from ..feedback.ensemble import EnsembleParams
            from ..keywords.comments import pick_comments, read_csv_comments
            from ..keywords.prepare import prepare_llm_keywords
            from ..llm import make_backend
            from ..llm.spec import BudgetSpec, LLMSpec

            if not llm_base_url and not llm_api_key_env:
                raise UserError("the OpenAI API needs a key: name its environment variable with --llm-api-key-env, "
                                "or give --llm-base-url for a local OpenAI-compatible server", "--llm-base-url")
            if llm_api_key_env and not os.environ.get(llm_api_key_env):
                raise UserError(f"environment variable {llm_api_key_env} is not set", "--llm-api-key-env")
            try:
                spec = LLMSpec(provider="openai", model=llm_model, api_key_env=llm_api_key_env,
                               base_url=(llm_base_url[0] if len(llm_base_url) == 1 else list(llm_base_url))
                               if llm_base_url else None,
                               temperature=llm_temperature, max_tokens=llm_max_tokens,
                               max_concurrency=llm_concurrency, timeout=llm_timeout, max_retries=llm_retries,
                               backoff=llm_backoff, cache=True, budget=BudgetSpec(max_calls=llm_max_calls))
            except ValueError as e:  # pydantic's ValidationError
                first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
                raise UserError(str(first["msg"]).removeprefix("Value error, "), "--llm-" + "-".join(str(x) for x in first["loc"][:1]).replace("_", "-")) from None
            defaults = EnsembleParams(**params)
            comments, note = None, f"skipped: the {dataset} dataset has no review or comment text"
            if dataset == "csv":
                found = read_csv_comments(path, data.catalog, column=comment_column)
                if found is not None:
                    picked = pick_comments(found[0], comments_per_item, defaults.like_threshold)
                    n_comments = sum(len(c) for c in picked)
                    if n_comments:
                        comments = picked
                        note = (f"{n_comments} (rating, comment) pairs from column {found[1]!r}, at most "
                                f"{comments_per_item} per item")
                    else:
                        note = f"skipped: column {found[1]!r} has no comments" + (
                            " (--comments-per-item 0)" if comments_per_item == 0 else "")
                else:
                    note = "skipped: the ratings CSV has no review or comment column (and rating)"
            prepared = prepare_llm_keywords(
                data.catalog, data.name, cache_dir, spec, lambda: make_backend(spec, cache_dir=cache_dir),
                comments=comments, t_sub_note=note, like_threshold=defaults.like_threshold,
                min_items=defaults.min_items, max_fraction=defaults.max_fraction, max_failed=llm_max_failed,
                progress=lambda stage, frac: bar.update(task, completed=0.4 * frac, description=f"keywords: {stage}"))
            params.update(keywords=prepared.keywords, keyword_vectors=prepared.vectors)
        model = EnsembleFeedback(cache_dir=cache_dir, dataset_name=data.name, route=route,
                                 progress=lambda stage, frac: bar.update(task, completed=frac, description=stage),
                                 **params)
        model.fit(data.catalog, data.interactions)
    wall = time.perf_counter() - start
    if prepared is not None:
        meta = prepared.keywords.meta
        failed = len(meta.get("failed_items", []))
        console.print(f"keywords ({'cached, loaded' if prepared.loaded else 'distilled'}): [bold]{prepared.folder}[/] "
                      f"(llm route, model {meta.get('model')} at {meta.get('endpoint')}, {len(prepared.keywords)} items, "
                      f"{failed} without a usable T_obj reply; T_sub {meta.get('t_sub')})", highlight=False)
    folder = model.loaded_from or model.cache_folder(model.fingerprint_)
    state = "already prepared, loaded" if model.loaded_from else "prepared"
    console.print(f"{state}: [bold]{folder}[/] ({len(model.vocabulary)} keywords, {wall:.1f} s)")
    console.print(model.describe_parts(), highlight=False, markup=False)


def print_exposure_report(report: dict) -> None:
    from .exposure import MODES

    table = Table(title=f"Random exposures of {report['dataset']}: {report['n_random']} ratings, real share of "
                        f"ratings >= 3 {report['random_share']:.3f} (self-chosen: {report['chosen_share']:.3f})")
    for col in ("model", "question", "AUC ≥3", "AUC ≥4", "RMSE", "mean P(like)", "gap", "ECE"):
        table.add_column(col, justify="left" if col in ("model", "question") else "right")
    for name in report["model_names"]:
        for mode in MODES:
            m = report["models"][name]["modes"][mode]
            table.add_row(name, mode, _fmt(m["auc"]), _fmt(m["auc4"]), _fmt(m["rmse"]), _fmt(m["mean_p_like"]),
                          f"{m['gap']:+.3f}", _fmt(m["ece"]))
    console.print(table)
    console.print("chosen: the model's answer for an item the person picked; shown: for an item put in front of "
                  "them (the exposure correction, from the training data alone); shown+calibration: "
                  + report["models"][report["model_names"][0]]["modes"]["shown+calibration"]["how"], highlight=False)
    prior = report.get("self_selection") or {}
    if prior.get("value") is not None:  # the fitted prior, ready to paste into a scenario (docs/believability.md)
        console.print(f"self-selection (random/chosen like ratio, from {prior['from']}, {prior['n']} ratings); "
                      f"for a scenario on this data:\n  feedback:\n    self_selection: {prior['value']}",
                      highlight=False)


@eval_app.command("exposure")
def eval_exposure(
    dataset: str = typer.Option(..., "--dataset", help="coat, yahoo (Yahoo! R3: user.txt + random.txt) or csv "
                                "(user,item,rating,exposure with exposure chosen or random)"),
    path: Path = typer.Option(..., "--path", help="the Coat or Yahoo! R3 folder, or the CSV file"),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="ratings of randomly shown items to "
                                               "calibrate on (CSV user,item,rating or triplets, the dataset's ids); "
                                               "their pairs are not scored. Default: cross-fit on the dataset's own "
                                               "random ratings"),
    models: Optional[str] = typer.Option(None, "--models", help="comma-separated subset of ensemble,bias,mf"),
    folds: int = typer.Option(2, "--folds", min=2, max=20, help="user folds of the cross-fitted calibration"),
    seed: int = typer.Option(0, "--seed"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="cache folder for the ensemble (default $RECAGENT_CACHE)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the report here (default eval-exposure-DATASET.json)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="reliability plot PNG (default: the JSON path with .png)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Fit every feedback model on the self-chosen ratings, score the randomly shown ones, with and without calibration."""
    from ..data.exposure import load_calibration, load_exposure_data
    from .exposure import MODELS, evaluate_exposure, reliability_plot

    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else list(MODELS)
    bad = [m for m in model_list if m not in MODELS]
    if bad or not model_list:
        raise UserError(f"unknown model(s) {bad}; expected some of {list(MODELS)}", "--models")
    if dataset not in ("coat", "yahoo", "csv"):
        raise UserError(f"unknown dataset {dataset!r}; expected coat, yahoo or csv", "--dataset")
    cache_dir = chosen_cache(cache)  # before minutes of loading and fitting
    data = load_exposure_data(dataset, path)
    calibration_data = load_calibration(calibration, data.dataset) if calibration is not None else None
    json_out = json_out or Path(f"eval-exposure-{data.name}.json")
    plot = plot or json_out.with_suffix(".png")
    start = time.perf_counter()
    with _progress_bar(quiet) as bar:
        task = bar.add_task("evaluating", total=1.0)
        report = evaluate_exposure(data, model_list, calibration_data, folds, seed, cache_dir,
                                   progress=lambda stage, frac: bar.update(task, completed=frac, description=stage))
        bar.update(task, completed=1.0, description="done")
    report["wall_s"] = round(time.perf_counter() - start, 1)
    print_exposure_report(report)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2))
    reliability_plot(report, plot)
    console.print(f"wrote {json_out} and {plot}")

from .users import users_command as _users  # noqa: E402 - recagent eval users (issue 27)

eval_app.command("users")(_users)

from .influence import influence_command as _influence  # noqa: E402 - recagent eval influence (issue 25)

eval_app.command("influence")(_influence)
