"""Run folders anywhere under the served root, and the studies they belong to.

`recagent compare` and `recagent sweep` write DIR/sweep.json and their runs as
DIR/runs/<strategy>[/<point>]/seed-<s>/ (recagent/sweep/runner.py), so serving a folder of studies
(or one study) means finding run folders several levels down. `find_runs` walks the root, bounded
in depth and in folders visited, never into a run folder (its memory/, checkpoint/ and interviews/
hold no runs) and never through a link (one out of the root is refused as run_files.py refuses
files; one inside it only names a folder the walk reaches by its own path). A nested run's id
is its relative path with SEP for "/" (a URL path segment cannot hold a slash), so every id can be
checked name by name against PART before any file is touched.

A study is a folder holding sweep.json. `study_bands` gives, per group of a study (strategy, or
strategy and point for a sweep) and per step, the mean over seeds of the page's measures, read from
each run's own metrics.csv, with the 95% bootstrap band the study's report draws
(recagent.sweep.stats.step_bands), so the page overlays strategies as the report does.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .run_files import Unreadable, inside, read_json

SEP = "~"  # joins the folder names of a nested run's id; no folder name PART accepts holds it
# one folder name: what recagent writes (strategy slugs hold + and ., sweep points = and ,)
PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+-]{0,199}$")
MAX_DEPTH = 6  # root/study/runs/strategy/point/seed-s is 5 below the root
MAX_FOLDERS = 20_000  # a walk stops here: a hostile tree cannot keep the run list busy
STUDY_FILE = "sweep.json"
MAX_METRICS_BYTES = 64 << 20  # metrics.csv of a 100,000-step run is ~50 MB
BAND_RESAMPLES = 2_000  # as the report's per-step plots (step_bands' default)


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "run.json").is_file() or (path / "events.sqlite").is_file())


def is_study_folder(path: Path) -> bool:
    return path.is_dir() and (path / STUDY_FILE).is_file()


@dataclass(frozen=True)
class Found:
    """A run folder found under the root: its id, where it is, and its place in a study."""

    id: str
    path: Path  # resolved
    folder: str  # relative to the root, with "/" ("." for the root itself)
    study: str | None = None  # the id of the study folder holding it
    group: str | None = None  # its strategy [/ point] folder inside the study's runs/
    seed: str | None = None  # "43" for a folder named seed-43


def rel_id(root: Path, path: Path, root_name: str) -> str:
    rel = path.relative_to(root)
    return SEP.join(rel.parts) if rel.parts else root_name


def parts_of(ident: str) -> list[str] | None:
    """The folder names of an id, or None when one of them is not a name PART accepts."""
    if not isinstance(ident, str) or len(ident) > 1000:
        return None
    parts = ident.split(SEP)
    if len(parts) > MAX_DEPTH or not all(PART.match(p) and p not in (".", "..") for p in parts):
        return None
    return parts


def find_runs(root: Path) -> list[Found]:
    """Every run folder under `root` (resolved), in path order, with the study each belongs to."""
    if not root.is_dir():
        return []
    if is_run_folder(root) and not any(is_run_folder(p) for p in _children(root)):
        return [Found(root.name, root, ".", *_place(root, root, root.name))] if PART.match(root.name) else []
    found: list[Found] = []
    seen = {root}
    budget = [MAX_FOLDERS]

    def walk(folder: Path, depth: int) -> None:
        for child in _children(folder):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            resolved = child.resolve()
            if resolved != child or resolved in seen:
                continue  # a link: out of the root, back up the tree, or to a folder listed by its own path
            seen.add(resolved)
            if is_run_folder(child):
                ident = rel_id(root, child, root.name)
                found.append(Found(ident, resolved, child.relative_to(root).as_posix(),
                                   *_place(root, child, root.name)))
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(root, 1)
    return sorted(found, key=lambda f: f.folder)


def _children(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if PART.match(e.name))
    except OSError:
        return []
    return [folder / n for n in names if (folder / n).is_dir()]


def _place(root: Path, run: Path, root_name: str) -> tuple[str | None, str | None, str | None]:
    """(study id, group, seed) of a run folder: the nearest folder above it (the root included)
    holding sweep.json, the folders between that study's runs/ and the run, and the seed."""
    seed = run.name[5:] if run.name.startswith("seed-") and len(run.name) > 5 else None
    for study in run.parents:
        if not study.is_relative_to(root):
            break
        if is_study_folder(study):
            inner = run.parent.relative_to(study).parts
            inner = inner[1:] if inner[:1] == ("runs",) else inner
            group = "/".join(inner) if inner else run.name
            return rel_id(root, study, root_name), group, seed
    return None, None, seed


def run_path(root: Path, ident: str) -> Path | None:
    """The resolved folder of run `ident` under `root`, or None when `ident` names no run folder
    there (by the same rules as find_runs: inside the root, not inside another run folder)."""
    parts = parts_of(ident)
    if parts is None:
        return None
    if parts == [root.name] and is_run_folder(root) and not any(is_run_folder(p) for p in _children(root)):
        return root
    candidate = root.joinpath(*parts)
    resolved = candidate.resolve()
    if resolved != candidate or not is_run_folder(candidate):
        return None  # a link on the way (find_runs never follows one), or not a run folder
    if any(is_run_folder(root.joinpath(*parts[:k])) for k in range(1, len(parts))):
        return None  # a folder inside a run folder is never a run
    return resolved


def study_path(root: Path, ident: str) -> Path | None:
    """The resolved study folder `ident` (root.name for the root itself) under `root`, or None."""
    if ident == root.name and is_study_folder(root):
        return root
    parts = parts_of(ident)
    if parts is None:
        return None
    candidate = root.joinpath(*parts)
    if candidate.resolve() != candidate or not is_study_folder(candidate):
        return None
    return candidate


def study_summaries(root: Path, runs: list[Found]) -> list[dict]:
    """Each study under the root: its folder, kind, plan and the run ids of each group."""
    groups: dict[str, dict[str, list[Found]]] = {}
    for f in runs:
        if f.study is not None:
            groups.setdefault(f.study, {}).setdefault(f.group or "", []).append(f)
    out = []
    for ident, by_group in sorted(groups.items()):
        path = study_path(root, ident)
        if path is None:
            continue
        try:
            plan = read_json(inside(root, path / STUDY_FILE))
        except Unreadable as e:
            plan = {"error": str(e)}
        parameters = plan.get("parameters") if isinstance(plan.get("parameters"), list) else []
        out.append({
            "id": ident, "folder": "." if path == root else path.relative_to(root).as_posix(),
            "kind": "sweep" if parameters else "comparison", "scenario": str(plan.get("scenario", ""))[:200],
            "status": str(plan.get("status", "unknown"))[:40], "baseline": str(plan.get("baseline", ""))[:200],
            "parameters": [str(p)[:200] for p in parameters][:50], "reason": plan.get("error"),
            "groups": [{"key": key, "runs": [f.id for f in found], "seeds": [f.seed for f in found]}
                       for key, found in sorted(by_group.items())],
        })
    return out


def read_metrics_csv(root: Path, run: Path) -> dict[str, np.ndarray] | None:
    """metrics.csv of a run folder as columns of floats (an empty or non-finite cell is NaN), or
    None when the run has not written it (it is written when the run ends) or it cannot be read."""
    import csv

    try:
        path = inside(root, run / "metrics.csv")
        if not path.is_file() or path.stat().st_size > MAX_METRICS_BYTES:
            return None
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (Unreadable, OSError, csv.Error, UnicodeDecodeError):
        return None
    if len(rows) < 2 or any(len(r) != len(rows[0]) for r in rows):
        return None
    out = {}
    for n, column in enumerate(rows[0]):
        try:
            values = np.array([float(r[n]) if r[n] != "" else np.nan for r in rows[1:]])
        except ValueError:
            continue  # a text column (sim_time)
        out[column] = np.where(np.isfinite(values), values, np.nan)
    return out


def study_bands(root: Path, ident: str, runs: list[Found], columns: dict[str, str], group: str | None = None) -> dict:
    """Per group of study `ident`: per step, the mean over seeds and the 95% bootstrap band of
    each page measure (`columns`: page name -> metrics.csv column), from each run's metrics.csv;
    only group `group` when given. Runs that have not written metrics.csv yet are left out and named."""
    from ..sweep.measures import MEASURES
    from ..sweep.stats import step_bands

    ranges = {m.column: (m.low, m.high) for m in MEASURES}
    groups: dict[str, list[Found]] = {}
    for f in runs:
        if f.study == ident and (group is None or (f.group or "") == group):
            groups.setdefault(f.group or "", []).append(f)
    out = []
    for key, found in sorted(groups.items()):
        tables, missing = [], []
        for f in found:
            table = read_metrics_csv(root, f.path)
            (tables.append((f, table)) if table is not None else missing.append(f.id))
        strategy = _strategy(root, found[0].path)
        measures = {}
        steps = max((len(next(iter(t.values()))) for _, t in tables), default=0)
        for page, column in columns.items():
            have = [t[column] for _, t in tables if column in t]
            if not have:
                continue
            matrix = np.full((steps, len(have)), np.nan)
            for s, values in enumerate(have):
                matrix[:len(values), s] = values
            low, high = step_bands(matrix, *ranges.get(column, (-np.inf, np.inf)), resamples=BAND_RESAMPLES)
            with warnings.catch_warnings():  # a step no seed reached is NaN, as it should be
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(matrix, axis=1)
            measures[page] = {"mean": _json(mean), "low": _json(low), "high": _json(high)}
        out.append({"key": key, "strategy": strategy, "runs": [f.id for f, _ in tables], "without_metrics": missing,
                    "seeds": len(tables), "steps": steps, "measures": measures})
    return {"study": ident, "groups": out,
            "interval": f"mean over seeds per step, 95% percentile bootstrap band ({BAND_RESAMPLES} resamples; "
                        "as the study's report plots); runs without metrics.csv (not finished) are left out"}


def _strategy(root: Path, run: Path) -> str:
    try:
        return str(read_json(inside(root, run / "run.json")).get("recommender", ""))[:200]
    except Unreadable:
        return ""


def _json(values: np.ndarray) -> list[float | None]:
    """A float array for JSON: rounded, NaN (no seed has the step) as null."""
    return [round(float(v), 5) if np.isfinite(v) else None for v in values]


def found_words(root: Path) -> str:
    """One line for `recagent serve`: how many run folders it found under `root`, in how many studies."""
    runs = find_runs(root)
    if not runs:
        return (f"no run folders under {root} yet (a run folder holds run.json or events.sqlite; looked "
                f"{MAX_DEPTH} levels down, into compare and sweep folders too)")
    studies = sorted({f.study for f in runs if f.study is not None})
    line = f"found {len(runs)} run folder{'s' if len(runs) != 1 else ''}"
    if studies:
        names = ", ".join(studies[:5]) + (", ..." if len(studies) > 5 else "")
        inside = sum(f.study is not None for f in runs)
        line += f", {inside} of them in {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} ({names})"
    return line
