"""What a sweep runs: strategies x points (dotted scenario overrides) x seeds, each run's scenario.

A sweep file is a small YAML with a `sweep:` block (see docs/comparisons.md):

    sweep:
      scenario: quickstart.yaml          # the base scenario, relative to this file
      strategies: [popular, "popular+mmr(lambda=0.5)"]   # default: the scenario's own recommender
      seeds: 3                           # a count (scenario seed, +1, ...) or a list of seeds
      set: {agents.count: 50}            # fixed overrides for every run
      grid:                              # every combination of these values
        social.homophily: [0, 2, 4]
      points:                            # and/or an explicit list of override sets
        - {social.degree: 4, social.homophily: 0}
      baseline: popular                  # strategy differences are taken against

Overrides are applied to the scenario's YAML in the order set, strategy, point, then the whole
scenario is validated, so a bad value is reported with its field before anything runs. With both
`grid` and `points`, every point is crossed with every grid combination.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UserError
from .strategy import Strategy, check_strategies

MAX_RUNS = 10_000  # default --max-runs: a plan larger than this stops before a single run is planned


class SweepBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: Path = Field(description="base scenario file, relative to the sweep file")
    strategies: list[str] = Field(default_factory=list, description="default: the scenario's recommender")
    seeds: int | list[int] = Field(3, description="a count (scenario seed, +1, ...) or a list of seeds")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted overrides applied to every run")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="dotted path -> values, all combinations")
    points: list[dict[str, Any]] = Field(default_factory=list, description="explicit override sets")
    baseline: str | None = None
    out: Path | None = Field(None, description="output folder, relative to the sweep file")


class SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sweep: SweepBlock


@dataclass(frozen=True)
class Point:
    """One combination of swept values (empty when nothing but strategies and seeds vary)."""

    values: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={format_value(v)}" for k, v in self.values)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.=,+-]+", "_", ",".join(f"{k}={format_value(v)}" for k, v in self.values))


@dataclass
class RunSpec:
    strategy: Strategy
    point: Point
    seed: int
    scenario_text: str  # the run's whole scenario (seed included), as YAML
    folder: str  # run folder, relative to the sweep's output folder

    @property
    def name(self) -> str:
        parts = [self.strategy.label] + ([self.point.label] if self.point.values else []) + [f"seed {self.seed}"]
        return ", ".join(parts)


@dataclass
class SweepPlan:
    name: str
    base_file: Path
    strategies: list[Strategy]
    parameters: list[str]
    points: list[Point]
    seeds: list[int]
    baseline: str
    steps: int
    runs: list[RunSpec] = field(default_factory=list)
    scenario_files: dict[str, str] = field(default_factory=dict)  # relative path -> YAML, one per strategy x point
    robust: list[str] = field(default_factory=list)  # parameters that are robustness ranges, not questions

    @property
    def is_comparison(self) -> bool:
        return not [p for p in self.parameters if p not in self.robust]

    def run_fingerprints(self) -> dict[str, str]:
        """Each run folder -> sha256 of its scenario: a folder holds this sweep, or one it extends, iff every
        run recorded there is one of these with the same scenario (added seeds or grid values extend it)."""
        import hashlib

        return {spec.folder: hashlib.sha256(spec.scenario_text.encode()).hexdigest() for spec in self.runs}

    def fingerprint(self) -> str:
        """sha256 of every run's folder and scenario: two plans are the same sweep iff these match."""
        import hashlib

        h = hashlib.sha256()
        for spec in sorted(self.runs, key=lambda s: s.folder):
            h.update(f"{spec.folder}\0{spec.scenario_text}\0".encode())
        return h.hexdigest()


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def set_dotted(data: dict, key: str, value: Any, where: str) -> None:
    """data['a']['b'][0]['c'] = value for key 'a.b.0.c'; missing mappings are created."""
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UserError(f"{where}: expected a dotted scenario path like social.homophily, found {key!r}")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserError(f"{where}: {key!r}: {'.'.join(parts[:i]) or 'the scenario'} is a list of "
                                f"{len(node)}; expected an index below {len(node)}, found {part!r}")
            if last:
                node[int(part)] = copy.deepcopy(value)
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise UserError(f"{where}: {key!r}: {'.'.join(parts[:i])} is a value ({node!r}), not a mapping")


def strategy_of(recommender: dict) -> Strategy:
    """The scenario's own recommender as a strategy (label written the way --recommender takes it)."""
    def part(name, params):
        inner = ",".join(f"{k}={format_value(v)}" for k, v in (params or {}).items())
        return f"{name}({inner})" if inner else name

    name, params = recommender.get("name", "popular"), dict(recommender.get("params") or {})
    rerankers = [(r["name"], dict(r.get("params") or {})) for r in recommender.get("rerankers") or []]
    label = "+".join([part(name, params)] + [part(n, p) for n, p in rerankers])
    return Strategy(label=label, name=name, params=params, rerankers=rerankers)


def apply_strategy(data: dict, strategy: Strategy) -> None:
    rec = dict(data.get("recommender") or {})
    rec.update(name=strategy.name, params=dict(strategy.params),
               rerankers=[{"name": n, "params": dict(p)} for n, p in strategy.rerankers])
    data["recommender"] = rec


def _check_keys(keys, where: str) -> None:
    for key in keys:
        if not isinstance(key, str):
            raise UserError(f"{where}: expected dotted scenario paths as keys, found {key!r}")
        if key == "seed":
            raise UserError(f"{where}: 'seed' is swept by seeds, not as a parameter")


def expand_points(grid: dict[str, list], points: list[dict], where: str) -> tuple[list[str], list[Point]]:
    _check_keys(grid, f"{where} grid")
    for i, p in enumerate(points):
        _check_keys(p, f"{where} points[{i}]")
    for key, values in grid.items():
        if not values:
            raise UserError(f"{where} grid: {key!r} has no values")
    parameters: list[str] = []
    for key in [k for p in points for k in p] + list(grid):
        if key not in parameters:
            parameters.append(key)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    chosen = [dict(p) for p in points] or [{}]
    out, seen = [], set()
    for explicit in chosen:
        for combo in combos:
            merged = {**explicit, **combo}
            point = Point(tuple((k, merged[k]) for k in parameters if k in merged))
            if point.slug in seen:
                raise UserError(f"{where}: the point {point.label!r} is given twice")
            seen.add(point.slug)
            out.append(point)
    return parameters, out


def check_size(n_strategies: int, grid_sizes: list[int], n_points: int, n_seeds: int, max_runs: int,
               where: str) -> None:
    """UserError before planning when strategies x points x seeds exceeds `max_runs` (counted, not listed)."""
    n_combos = math.prod(grid_sizes) * max(n_points, 1)
    total = n_strategies * n_combos * n_seeds
    if total > max_runs:
        raise UserError(f"{where}: the plan has {total:,} runs ({n_strategies} strategies x {n_combos:,} points x "
                        f"{n_seeds} seeds), more than --max-runs {max_runs:,}; narrow the grid or raise --max-runs")


def build_plan(base_file: Path, *, strategies: list[Strategy] | None = None, seeds: int | list[int] = 3,
               fixed: dict | None = None, grid: dict | None = None, points: list[dict] | None = None,
               baseline: str | None = None, where: str = "sweep", max_runs: int = MAX_RUNS,
               robust: dict[str, list] | None = None) -> SweepPlan:
    """Every run of the sweep with its validated scenario; UserError before anything runs.

    `robust` (dotted path -> values, e.g. the self-selection range) is crossed with every point like a
    grid, but named apart so the report can say whether each difference holds across those values."""
    from ..scenario_loading import dump_scenario, load_scenario, parse_scenario

    base_file = Path(base_file)
    load_scenario(base_file)  # the base scenario is valid on its own
    raw = yaml.safe_load(base_file.read_text(encoding="utf-8"))
    fixed = dict(fixed or {})
    _check_keys(fixed, f"{where} set")
    for key, value in fixed.items():
        set_dotted(raw, key, value, f"{where} set")
    base = parse_scenario(copy.deepcopy(raw), base_file)
    strategies = list(strategies or []) or [strategy_of(raw.get("recommender") or {})]
    check_strategies(strategies)
    labels = [s.label for s in strategies]
    if baseline is not None and baseline not in labels:
        raise UserError(f"{where}: baseline {baseline!r} is not one of the strategies ({', '.join(labels)})")
    if isinstance(seeds, int):
        if seeds < 1:
            raise UserError(f"{where}: --seeds must be at least 1, found {seeds}")
        seed_list = [base.seed + k for k in range(seeds)]
    else:
        seed_list = list(seeds)
        if not seed_list or len(set(seed_list)) != len(seed_list):
            raise UserError(f"{where}: seeds: expected distinct seeds, found {seed_list}")
    grid = dict(grid or {})
    robust = dict(robust or {})
    for key in robust:
        if key in grid or any(key in p for p in points or []):
            raise UserError(f"{where}: {key!r} is both swept and a robustness range; give it once")
    check_size(len(strategies), [len(v) for v in grid.values()] + [len(v) for v in robust.values()],
               len(points or []), len(seed_list), max_runs, where)
    parameters, point_list = expand_points({**grid, **robust}, list(points or []), where)

    plan = SweepPlan(name=base.name, base_file=base_file, strategies=strategies, parameters=parameters,
                     points=point_list, seeds=seed_list, baseline=baseline or labels[0],
                     steps=base.simulation.steps, robust=list(robust))
    for strategy in strategies:
        for point in point_list:
            data = copy.deepcopy(raw)
            apply_strategy(data, strategy)
            for key, value in point.values:
                set_dotted(data, key, value, f"{where} point {point.label}")
            context = f"{where}: strategy {strategy.label!r}" + (f", point {point.label}" if point.values else "")
            try:
                scenario = parse_scenario(data, base_file)
            except UserError as e:
                raise UserError(f"{context}: {e}") from None
            rel = f"{strategy.slug}/{point.slug}" if point.values else strategy.slug
            plan.scenario_files[f"scenarios/{rel}.yaml"] = dump_scenario(scenario)
            plan.steps = max(plan.steps, scenario.simulation.steps)
            for seed in seed_list:
                scenario.seed = seed
                plan.runs.append(RunSpec(strategy, point, seed, dump_scenario(scenario), f"runs/{rel}/seed-{seed}"))
    return plan


def load_sweep_file(path: Path) -> SweepBlock:
    """Read a sweep file; UserError naming the file and field."""
    path = Path(path)
    if not path.is_file():
        raise UserError("sweep file not found", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", path) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise UserError(f"YAML syntax error: {getattr(e, 'problem', None) or e}", where) from None
    try:
        return SweepFile.model_validate(data).sweep
    except ValidationError as e:
        err = e.errors()[0]
        # union members (seeds: int | list[int]) show up in the location as type names; drop them
        loc = ".".join(str(p) for p in err["loc"] if str(p) not in ("int", "float", "str", "bool") and "[" not in str(p))
        found = f", found {err['input']!r}" if err["type"] != "missing" else ""
        raise UserError(f"field '{loc}': {err['msg']}{found}", path) from None


def is_sweep_file(path: Path) -> bool:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "sweep" in data


def parse_override(text: str, option: str) -> tuple[str, Any]:
    """'social.homophily=4' -> ('social.homophily', 4); the value is read as YAML."""
    if "=" not in text:
        raise UserError(f"{option} {text!r}: expected PATH=VALUE, e.g. social.homophily=4")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        return key.strip(), value


def parse_values(text: str, option: str) -> tuple[str, list]:
    """'social.homophily=0,2,4' (or '=[0, 2, 4]') -> ('social.homophily', [0, 2, 4])."""
    key, value = parse_override(text, option)
    if isinstance(value, list):
        return key, value
    raw = text.split("=", 1)[1]
    values = []
    for part in raw.split(","):
        try:
            values.append(yaml.safe_load(part))
        except yaml.YAMLError:
            values.append(part.strip())
    return key, values
