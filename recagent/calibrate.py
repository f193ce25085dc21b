"""`recagent calibrate behaviour`: fit the browse parameters of `simulation.behaviour` to an impression log.

Kept apart from recagent.behaviour (the model and its likelihood, which know nothing of datasets or
feedback models) because `--scenario` needs a dataset and a fitted feedback model to say P(like | shown).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .errors import DataError, UserError

if TYPE_CHECKING:
    from .scenario import BehaviourSpec

calibrate_app = typer.Typer(add_completion=False, no_args_is_help=True,
                            help="Fit simulation parameters to logs of real people.")
console = Console()
err_console = Console(stderr=True)


@calibrate_app.callback()
def calibrate() -> None:
    """Fit simulation parameters to logs of real people."""


def p_like_from_scenario(log, scenario_path: Path, log_path: Path) -> tuple[np.ndarray, BehaviourSpec]:
    """P(like | shown) of each logged (user, item), predicted by the scenario's feedback model fitted on
    its dataset (the log's user and item ids must be the dataset's ids), and the scenario's own
    `simulation.behaviour` (kept for what the log does not identify)."""
    from .cache import cache_dir
    from .data import History
    from .feedback import FeedbackContext, make_feedback, predict_both
    from .scenario_loading import load_scenario
    from .simulation.build import load_dataset

    scenario = load_scenario(scenario_path)
    dataset = load_dataset(scenario)
    index = {}
    for column, ids in (("user", dataset.users), ("item", dataset.catalog)):
        lookup = {str(r): i for i, r in enumerate(ids.raw_ids.tolist())}
        found = log[column].map(lookup)
        unknown = found.isna().to_numpy()
        if unknown.any():
            row = log.iloc[int(np.argmax(unknown))]
            raise DataError(f"column '{column}': id {str(row[column])[:40]!r} is not in the scenario's dataset "
                            f"({scenario.dataset.kind}); with --scenario the log must use the dataset's ids",
                            f"{log_path}:{row['line']}")
        index[column] = found.to_numpy(np.int64)
    spec = scenario.feedback
    model = make_feedback(spec.model, FeedbackContext(scenario.seed, cache_dir(), dataset.name), **spec.params)
    model.fit(dataset.catalog, dataset.interactions)
    history = History.from_interactions(dataset.interactions, len(dataset.users))
    p_like, _ = predict_both(model, index["user"], index["item"], history, exposure="shown")
    return np.asarray(p_like, dtype=np.float64), scenario.simulation.behaviour


def _write_whole(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a temp file in the same folder, then a rename)."""
    if path.is_dir():
        raise UserError("expected a file to write the behaviour block to, found a folder", "--out")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"folder {str(folder)[:200]!r} does not exist", "--out")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"cannot write in folder {str(folder)[:200]!r}: {e.strerror}", "--out") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"could not write {str(path)[:200]!r}: {e.strerror}", "--out") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@calibrate_app.command("behaviour")
def behaviour_command(
    log: Path = typer.Option(..., "--log", help="Impression log, CSV or TSV: user, session, page, position, item, "
                                                 "watched[, p_like]"),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the behaviour: block to this YAML file"),
    p_like: Optional[float] = typer.Option(None, "--p-like", help="P(like | shown) of every impression, when the "
                                                                  "log has no p_like column"),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help="Predict P(like | shown) with this scenario's "
                                                                     "feedback model on its dataset (the log uses the "
                                                                     "dataset's ids)"),
    max_pages: Optional[int] = typer.Option(None, "--max-pages", min=1, help="Page cap of the system that wrote the "
                                                                             "log (default: the deepest page in it)"),
) -> None:
    """Fit watch_scale, position_decay, min_position_factor and the continue probabilities by maximum
    likelihood, and print (or write) a `behaviour:` block for a scenario's `simulation:` section."""
    from .behaviour import fit_behaviour, read_impressions

    if p_like is not None and scenario is not None:
        raise UserError("give either --p-like or --scenario, not both", "--p-like")
    if p_like is not None and not 0 < p_like <= 1:
        raise UserError(f"expected a probability in (0, 1], found {p_like}", "--p-like")
    impressions = read_impressions(log)
    if not impressions["watched"].any():
        raise UserError("column 'watched': no impression was watched, so nothing says how readily people "
                        "watch; expected at least one 1", log)
    given, source, defaults, kept_from = None, None, None, "the default"
    if scenario is not None:
        given, defaults = p_like_from_scenario(impressions, scenario, log)
        source, kept_from = f"the feedback model of {scenario}", f"the value of {scenario}"
    elif p_like is None and "p_like" not in impressions:
        raise UserError("the log has no p_like column: give a constant P(like | shown) with --p-like, or a "
                        "scenario whose feedback model predicts it with --scenario", log)
    elif p_like is not None:
        if "p_like" in impressions:
            raise UserError("the log has a p_like column; --p-like would replace it: leave one out", "--p-like")
        given, source = p_like, f"the constant --p-like {p_like:g}"
    fit = fit_behaviour(impressions, p_like=given, p_like_source=source, max_pages=max_pages, defaults=defaults,
                        kept_from=kept_from)
    block = fit.to_yaml(str(log))
    if out is not None:
        _write_whole(out, block)
    table = Table(title=f"browse behaviour fitted to {log}")
    for column in ("parameter", "value", "std. error", "source"):
        table.add_column(column)
    for name, value in fit.behaviour.model_dump().items():
        done = fit.fitted[name]
        table.add_row(name, f"{value:.4f}", f"{fit.stderr[name]:.4f}" if done else "", "fitted" if done else "kept")
    err_console.print(table)
    err_console.print(f"{fit.visits} visits, {fit.impressions} impressions, {fit.watches} watches; decisions after "
                      f"pages without / with a watch: {fit.decisions['if_nothing']} / {fit.decisions['if_watched']}")
    if out is not None:
        err_console.print(f"wrote {out}")
    else:
        print(block, end="")


@calibrate_app.command("influence")
def influence_command(
    events: Path = typer.Option(..., "--events", help="dated ratings or adoptions: CSV with user, item, date "
                                "(and rating) columns, e.g. ../shared/data/ciaodvd/events.csv"),
    edges: Path = typer.Option(..., "--edges", help="CSV source,target: source trusts (hears from) target"),
    items: Optional[Path] = typer.Option(None, "--items", help="CSV item_id,genre_id (or genres): the items' genres; "
                                         "default: one genre for every item"),
    symmetric: bool = typer.Option(False, "--symmetric", help="each edge counts both ways in the real figure"),
    grid: Optional[str] = typer.Option(None, "--grid", help="PATH=V1,V2,... the values tried (default "
                                       "simulation.behaviour.social_influence=0,1,3,6)"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="PATH=VALUE held fixed in every run; repeat"),
    seeds: int = typer.Option(2, "--seeds", min=1, max=20, help="runs per grid value"),
    steps: int = typer.Option(60, "--steps", min=8, max=3650, help="days simulated (one step = one day)"),
    windows: str = typer.Option("30,7", "--windows", help="the windows fitted, in days (each shorter than --steps)"),
    resolution: float = typer.Option(1.0, "--resolution-days", min=1.0, help="the real data's date resolution in "
                                     "days (30 for month dates, as Last.fm): simulated days are rounded down to it"),
    min_ratings: int = typer.Option(10, "--min-ratings", min=1, help="people with at least this many ratings"),
    min_item_ratings: int = typer.Option(3, "--min-item-ratings", min=1, help="items with at least this many of "
                                         "their ratings"),
    max_users: Optional[int] = typer.Option(None, "--max-users", min=10, help="keep the best-connected N people"),
    recommender: str = typer.Option("mf", "--recommender", help="the recommender the simulated people use"),
    shuffles: int = typer.Option(20, "--shuffles", min=1, max=1000, help="timing-null draws"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the fit (every run's figures) as JSON"),
) -> None:
    """Run recagent on a real trust network's people, histories and items; fit word of mouth so the simulated
    adoption-timing influence ratios match the real ones (recagent/social/influence_fit.py)."""
    import json

    from .eval.influence import _pick, _read_csv, load_edges, load_events
    from .metrics.influence import parse_windows
    from .social.influence_fit import DEFAULT_GRID, PARAMETER, fit_influence, fmt_value, trust_population
    from .sweep.plan import parse_override, parse_values

    fit_windows = parse_windows(windows, "--windows")
    if None in fit_windows or max(fit_windows) >= steps:
        raise UserError(f"expected windows in days shorter than --steps {steps}, found {windows!r}", "--windows")
    parameter, values = (PARAMETER, list(DEFAULT_GRID)) if grid is None else parse_values(grid, "--grid")
    if not values or any(isinstance(v, bool) or v is None for v in values):
        raise UserError(f"expected values (numbers, or YAML such as a role mix), found {values!r}", "--grid")
    fixed = dict(parse_override(text, "--set") for text in set_ or [])
    if parameter in fixed:
        raise UserError(f"{parameter!r} is both the grid and fixed; give it once", "--set")
    real = load_events(events, with_rating=True)
    ratings = real.pop("rating").to_numpy() if "rating" in real else None
    if ratings is not None and not (np.isfinite(ratings).all() and ratings.min() >= 1 and ratings.max() <= 5):
        ratings = None  # weights, not 1-5 ratings (Last.fm tag counts): each adoption a like
        err_console.print(f"{events}: the rating column is not a 1-5 rating; every adoption is taken as a 5")
    real.insert(2, "rating", ratings if ratings is not None else 5.0)
    genres = None
    if items is not None:
        table = _read_csv(items, "--items")
        item_col = _pick(table, ("item_id", "item", "id"), "item", items)
        genre_col = _pick(table, ("genre_id", "genres", "genre"), "genre", items)
        genres = {str(i): f"genre {g}" for i, g in zip(table[item_col], table[genre_col])}
    population = trust_population(real, load_edges(edges, symmetric), min_ratings=min_ratings,
                                  min_item_ratings=min_item_ratings, max_users=max_users, genres=genres)
    if population.ratings.empty or population.edges.empty:
        raise UserError(f"no population left: {population.description}; lower --min-ratings", "--min-ratings")
    err_console.print(f"population: {population.description}; {len(values)} values x {seeds} seeds, "
                      f"{steps} days each")
    fit = fit_influence(population, grid=values, parameter=parameter, seeds=tuple(range(seeds)), steps=steps,
                        recommender=recommender, fit_windows=fit_windows, shuffles=shuffles,
                        resolution_days=resolution, fixed=fixed, progress=lambda what: err_console.print(f"  running {what}"))
    table = Table(title=f"{parameter}: simulated influence ratios against {events.parent.name or events.name}")
    shown = [w.window_days for w in fit.real.windows]
    table.add_column("value")
    for w in fit.real.windows:
        table.add_column(w.label, justify="right")
    table.add_column("loss", justify="right")
    table.add_column("inside the null range", justify="right")
    real_row = ["real"] + [f"x{w.ratio:.2f} [{w.ratio_low:.2f}, {w.ratio_high:.2f}]" for w in fit.real.windows] + ["", ""]
    table.add_row(*real_row)
    for p in fit.points:
        table.add_row(fmt_value(p.value), *[f"x{p.mean_ratio(w):.2f}" for w in shown], f"{p.loss:.4f}",
                      "yes" if p.inside else "no")
    console.print(table)
    interval = "none" if fit.interval is None else ", ".join(map(fmt_value, fit.interval))
    console.print(f"fitted on the windows {', '.join(f'{w:g} days' for w in fit_windows)} (one step = one day); "
                  f"best {parameter} = {fmt_value(fit.best)}; inside the real null range: {interval}", highlight=False)
    if fit.near_best is not None:
        console.print(f"values the seeds cannot tell from the best (loss within 2 standard errors, paired over "
                      f"seeds): {', '.join(map(fmt_value, fit.near_best))}", highlight=False)
    for note in fit.notes:
        console.print(f"note: {note}", highlight=False)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"events": str(events), "edges": str(edges), **fit.as_dict()}, indent=2))
        console.print(f"wrote {json_out}")
