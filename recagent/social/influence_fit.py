"""Fit word of mouth (`simulation.behaviour.social_influence`, or any parameter a grid names) so that
recagent's adoption-timing influence ratios on a real trust network match the real ones.

The population is the real one, subsampled so a run takes seconds on two cores: the people with at
least `min_ratings` ratings who form the largest connected component of the trust network among
themselves, and the items at least `min_item_ratings` of them rated. Their ratings are the agents'
histories (what the feedback model is fitted on), their trust links the social graph (recagent's word
of mouth is symmetric, so each link counts both ways in the simulation; the real figure keeps the
trust direction).

Time is mapped explicitly: one step is one day (`simulation.step_hours: 24`), so a window of w days
is w steps. A run of `steps` days cannot hold "any earlier" over the real data's 13 years, so the fit
uses the windows shorter than the run (default 7 and 30 days); "any earlier" is reported, not fitted.

The fit is a grid: every value x every seed is one run; the loss of a value is the squared distance
of log(ratio) to the real log(ratio), summed over the fitted windows and averaged over seeds. The
interval is the set of grid values whose mean simulated ratio lies, in every fitted window, inside the
real ratio's timing-null range (observed / null 97.5th percentile to observed / null 2.5th). Beside
it, `near_best`: the values whose loss the seeds cannot tell from the best value's (paired over seeds,
mean difference within 2 standard errors), a measure of how well the grid pins the parameter down.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..metrics.influence import InfluenceResult, influence

PARAMETER = "simulation.behaviour.social_influence"
DEFAULT_GRID = (0.0, 1.0, 3.0, 6.0)
FIT_WINDOWS = (30.0, 7.0)


@dataclass
class Population:
    ratings: pd.DataFrame  # user, item, rating, day
    edges: pd.DataFrame  # source, target (source trusts target), both in the population
    description: str
    genres: dict | None = None  # item -> genre name (a dataset without genres gets one for every item)


def trust_population(events: pd.DataFrame, edges: pd.DataFrame, *, min_ratings: int = 10,
                     min_item_ratings: int = 3, max_users: int | None = None, genres: dict | None = None) -> Population:
    """`events`: user, item, rating, day; `edges`: source, target. See the module docstring."""
    import networkx as nx

    first = events.sort_values("day", kind="stable").drop_duplicates(["user", "item"])
    counts = first.groupby("user").size()
    keep = set(counts[counts >= min_ratings].index)
    e = edges[edges.source.isin(keep) & edges.target.isin(keep) & (edges.source != edges.target)]
    graph = nx.Graph()
    graph.add_edges_from(zip(e.source, e.target))
    component = max(nx.connected_components(graph), key=len) if graph.number_of_nodes() else set()
    cut = max_users is not None and len(component) > max_users
    if cut:  # the best-connected, so the graph stays dense
        degree = dict(graph.subgraph(component).degree())
        component = set(sorted(component, key=lambda u: (-degree[u], str(u)))[:max_users])
    ratings = first[first.user.isin(component)]
    item_counts = ratings.groupby("item").size()
    ratings = ratings[ratings.item.isin(item_counts[item_counts >= min_item_ratings].index)]
    users = set(ratings.user)
    e = e[e.source.isin(users) & e.target.isin(users)]
    words = (f"{len(users):,} people with >= {min_ratings} ratings in the largest trust component"
             + (f" (of its {max_users} best-connected)" if cut else "")
             + f", {ratings.item.nunique():,} items with >= {min_item_ratings} of their ratings, "
             f"{len(ratings):,} ratings, {len(e):,} trust links")
    return Population(ratings.reset_index(drop=True), e.reset_index(drop=True), words, genres)


def fmt_value(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else json.dumps(value, separators=(",", ":"))


@dataclass
class GridPoint:
    value: Any  # a number, or any YAML value the grid's path takes (a role mix)
    results: list[InfluenceResult]  # one per seed
    loss: float = float("nan")
    seed_losses: list[float] = field(default_factory=list)
    inside: bool = False

    def mean_ratio(self, window: float | None) -> float:
        return float(np.mean([r.window(window).ratio for r in self.results]))


@dataclass
class InfluenceFit:
    parameter: str
    real: InfluenceResult
    points: list[GridPoint]
    fit_windows: tuple
    steps: int
    population: str
    best: Any = None
    interval: tuple | None = None  # (lowest, highest) numeric value inside the null range; or every such value
    near_best: tuple | None = None  # values whose loss is within seed noise of the best's (see fit_influence)
    notes: list[str] = field(default_factory=list)
    fixed: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"parameter": self.parameter, "fixed": self.fixed, "best": self.best, "interval": self.interval,
                "near_best": self.near_best, "steps": self.steps,
                "step_hours": 24, "fit_windows": list(self.fit_windows), "population": self.population,
                "real": self.real.as_dict(),
                "grid": [{"value": p.value, "loss": p.loss, "seed_losses": p.seed_losses, "inside_null_range": p.inside,
                          "ratios": {str(w): p.mean_ratio(w) for w in [w.window_days for w in self.real.windows]},
                          "runs": [r.as_dict() for r in p.results]} for p in self.points]}


def base_scenario(ratings_csv: Path, steps: int, seed: int, recommender: str) -> dict:
    """The simulation of the population: its ratings as histories, its trust graph, one step a day."""
    return {"name": "influence-calibration", "seed": seed,
            "dataset": {"kind": "csv", "ratings": str(ratings_csv)},
            "social": {"graph": "none"},
            "recommender": {"name": recommender},
            "feedback": {"model": "bias"},
            "llm": {"provider": "offline"},
            "simulation": {"steps": steps, "step_hours": 24}}


def simulate(population: Population, overrides: dict, *, steps: int, seed: int, recommender: str, workdir: Path,
             windows, shuffles: int, resolution_days: float = 1.0) -> InfluenceResult:
    """One run of the population with `overrides` (dotted path -> value); its influence figure."""
    from ..api import Simulation
    from ..metrics.influence import run_adoptions
    from ..scenario_loading import parse_scenario
    from ..simulation.build import load_dataset
    from ..sweep.plan import set_dotted

    ratings_csv, items_csv = workdir / "ratings.csv", workdir / "items.csv"
    if not ratings_csv.exists():
        population.ratings[["user", "item", "rating"]].to_csv(ratings_csv, index=False)
        items = pd.Series(sorted(set(population.ratings.item), key=str))
        # the agents' favourite genres need at least one genre per item: "all" where the data has none
        names = items.map(lambda i: (population.genres or {}).get(i, "all"))
        pd.DataFrame({"item_id": items, "title": "item " + items.astype(str), "genres": names}).to_csv(
            items_csv, index=False)
    data = base_scenario(ratings_csv, steps, seed, recommender)
    data["dataset"]["items"] = str(items_csv)
    for key, value in overrides.items():
        set_dotted(data, key, value, "--grid")
    scenario = parse_scenario(copy.deepcopy(data), workdir / "scenario.yaml")
    # a CSV dataset ships no relationships, so the scenario is checked with graph 'none' and then given
    # the trust links as the dataset's relations (what graph 'dataset' reads)
    scenario = scenario.model_copy(update={"social": scenario.social.model_copy(update={"graph": "dataset"})})
    dataset = load_dataset(scenario)
    index = {str(r): k for k, r in enumerate(dataset.users.raw_ids.tolist())}
    dataset.relations = [(index[str(s)], index[str(t)], "trust", 1.0)
                         for s, t in zip(population.edges.source, population.edges.target)
                         if str(s) in index and str(t) in index]
    with tempfile.TemporaryDirectory(dir=workdir) as out:
        sim = Simulation(scenario, out=Path(out) / "run", dataset=dataset).run()
        events, edges = run_adoptions(sim.run_dir)
    # the real data's date resolution (Last.fm: months), so a same-period pair is a tie in both
    events["day"] = np.floor(events.day / resolution_days) * resolution_days
    return influence(events, edges, windows=windows, shuffles=shuffles, seed=seed)


def fit_influence(population: Population, *, grid=DEFAULT_GRID, parameter: str = PARAMETER, seeds=(0, 1),
                  steps: int = 60, recommender: str = "mf", fit_windows=FIT_WINDOWS, shuffles: int = 20,
                  resolution_days: float = 1.0, fixed: dict | None = None, workdir: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> InfluenceFit:
    windows = (None, *fit_windows)
    real_events = population.ratings[["user", "item", "day"]]
    real = influence(real_events, population.edges, windows=windows, shuffles=shuffles, seed=0)
    empty = [w.label for w in real.windows if w.window_days in fit_windows and not w.null_mean > 0]
    if empty:
        from ..errors import UserError

        raise UserError(f"the real data has no neighbour adoption before another {', '.join(empty)}, even under the "
                        "timing null: nothing to fit; choose longer windows", "--windows")
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir or tmp)
        for value in grid:
            results = []
            for seed in seeds:
                if progress:
                    progress(f"{parameter}={fmt_value(value)}, seed {seed}")
                results.append(simulate(population, {**(fixed or {}), parameter: value}, steps=steps, seed=seed,
                                        recommender=recommender, workdir=work, windows=windows, shuffles=shuffles,
                                        resolution_days=resolution_days))
            points.append(GridPoint(value, results))
    fit = InfluenceFit(parameter, real, points, tuple(fit_windows), steps, population.description,
                       fixed=dict(fixed or {}))
    for p in points:
        losses = []
        for r in p.results:
            sim = np.array([r.window(w).ratio for w in fit_windows])
            target = np.array([real.window(w).ratio for w in fit_windows])
            losses.append(float(np.sum((np.log(np.maximum(sim, 1e-9)) - np.log(target)) ** 2)))
        p.loss, p.seed_losses = float(np.mean(losses)), losses
        p.inside = all(real.window(w).ratio_low <= p.mean_ratio(w) <= real.window(w).ratio_high for w in fit_windows)
    finite = [p for p in points if np.isfinite(p.loss)]
    if finite:
        fit.best = min(finite, key=lambda p: p.loss).value
    if finite:  # the values the seeds cannot tell from the best: loss within 2 standard errors of the difference
        best = min(finite, key=lambda p: p.loss)
        near = []
        for p in finite:
            n = min(len(p.seed_losses), len(best.seed_losses))
            diff = np.array(p.seed_losses[:n]) - np.array(best.seed_losses[:n])  # paired: same seeds
            se = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
            if p is best or diff.mean() <= 2 * se:
                near.append(p.value)
        numeric_near = all(isinstance(v, (int, float)) for v in near)
        fit.near_best = (min(near), max(near)) if numeric_near else tuple(near)
    inside = [p.value for p in points if p.inside]
    numeric = all(isinstance(v, (int, float)) for v in grid)
    fit.interval = None if not inside else (min(inside), max(inside)) if numeric else tuple(inside)
    if not inside:
        fit.notes.append("no grid value puts the simulated ratios inside the real null range in every fitted window")
    elif numeric and len(grid) > 2 and fit.best in (min(grid), max(grid)):
        fit.notes.append("the best value is at the edge of the grid: widen it")
    losses = [p.loss for p in finite]
    if len(losses) > 1 and max(losses) - min(losses) < 0.1 * max(min(losses), 1e-9):
        fit.notes.append(f"the loss is flat across the grid (within 10%): the data barely identify {parameter}")
    return fit
