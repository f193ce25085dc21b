"""`recagent calibrate behaviour`: fit the browse parameters of `simulation.behaviour` to an impression log.

Kept apart from recagent.behaviour (the model and its likelihood, which know nothing of datasets or
feedback models) because `--scenario` needs a dataset and a fitted feedback model to say P(like | shown).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .errors import DataError, UserError

calibrate_app = typer.Typer(add_completion=False, no_args_is_help=True,
                            help="Fit simulation parameters to logs of real people.")
console = Console()
err_console = Console(stderr=True)


@calibrate_app.callback()
def calibrate() -> None:
    """Fit simulation parameters to logs of real people."""


def p_like_from_scenario(log, scenario_path: Path, log_path: Path) -> tuple[np.ndarray, "BehaviourSpec"]:
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
        raise UserError(f"cannot write in folder {str(folder)[:200]!r}: {e.strerror}", "--out")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"could not write {str(path)[:200]!r}: {e.strerror}", "--out")
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
