"""Everything a run would find wrong with its input, found before anything is written.

`check_run` is what `recagent run` does first: component params (recommender, re-rankers,
feedback model, and those of every intervention) against their pydantic models, sizes against the
memory of this machine, the output folder, then the dataset (every row checked by its loader) and
the ids interventions name. `dry_run` is `recagent validate`: the same, then every component is
built for real (the feedback model is fitted, which may prepare the ensemble into the cache) and
every intervention's recommender is constructed, so validate passes only what run accepts, short
of stepping.

Every problem is a UserError naming the scenario file and field; nothing is created on disk
(the output folder's parents are checked, not made).
"""

from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

try:
    import resource  # POSIX: an address-space limit (ulimit -v) caps what the run may use
except ImportError:  # pragma: no cover - Windows
    resource = None

from .errors import UserError
from .extras import require
from .feedback import FEEDBACK_MODELS
from .feedback.registry import feedback_params
from .params import check_params, cut
from .recommenders import available_recommenders, available_rerankers
from .recommenders.registry import recommender_params, reranker_params
from .scenario import InjectPost, Scenario, SetTraits, SwitchRecommender

GIB = 2**30
BASE_BYTES = 600 * 2**20  # the interpreter, numpy, torch and the scenario's models before any data
RUN_NAME_SUFFIX = len("-20240101-080000-99")  # what new_run_dir appends to the scenario name


@dataclass
class MemoryEstimate:
    """Peak bytes a run needs, by part, and what this machine offers."""

    parts: dict[str, int]
    available: int

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{name} {_size(b)}" for name, b in top)


@dataclass
class DryRun:
    scenario: Scenario
    dataset: object
    memory: MemoryEstimate
    notes: list[str] = field(default_factory=list)  # what was inferred (rating scale...) and reported
    model: object | None = None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f}"


@contextmanager
def in_file(file: Path):
    """Errors raised without a file (deep in model building) name the scenario file."""
    try:
        yield
    except UserError as error:
        if error.where is None:
            error.where = str(file)
        raise


# --- memory --------------------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes this process may still use: MemAvailable (Linux), capped by an address-space limit."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 8 * GIB  # unknown platform: assume a laptop
    if resource is not None:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            available = min(available, soft)
    return available


def estimate_memory(scenario: Scenario, n_users: int, n_items: int, n_interactions: int, n_genres: int = 20,
                    available: int | None = None) -> MemoryEstimate:
    """Peak memory of a run, from its sizes.

    The dominant terms are the recommender's dense score rows (one row per agent active in a step,
    float64, times the four arrays top-k holds: scores, their copy, the negation, argpartition's
    indices), the per-step page grids, the dataset and the history
    (several index arrays per rating), the social graph (NetworkX dicts, ~250 bytes per edge) and
    MMR's candidate similarity cubes. It is an upper estimate for refusing impossible runs early,
    not a prediction.
    """
    sim = scenario.simulation
    agents = min(scenario.agents.count or n_users, n_users)
    activation = sim.activation
    share = 1.0 if activation.kind == "all" else min(1.0, 1.5 * activation.probability)  # 1.5: a busy step
    active = max(1, min(agents, int(np.ceil(agents * share)), activation.max_active or agents))
    slots = sim.page_size * sim.max_pages
    pool = 3 if scenario.recommender.rerankers else 1
    parts = {
        "runtime": BASE_BYTES,
        "score rows": active * n_items * 8 * 4,
        "pages": active * slots * pool * 8 * 12,
        "ratings and history": (n_interactions + agents * sim.steps * slots // 4) * 64,
        "social graph": agents * min(scenario.social.degree, max(agents - 1, 1)) * 250,  # graphs clamp the degree
        "genre tables": (n_users + n_items) * n_genres * 8 * 6,
    }
    if any(r.name == "mmr" for r in scenario.recommender.rerankers):
        width = slots * 3
        parts["mmr similarity"] = active * width * width * 8 * 2
    return MemoryEstimate(parts, available_memory() if available is None else available)


# the scenario field that drives each part of the estimate, named in the error
PART_FIELDS = {"score rows": "agents.count", "pages": "simulation.page_size", "ratings and history": "simulation.steps",
               "social graph": "social.degree", "genre tables": "dataset.items", "mmr similarity": "simulation.page_size"}


def check_memory(estimate: MemoryEstimate, file: Path, scenario: Scenario) -> None:
    if estimate.total > estimate.available:
        part = max((p for p in estimate.parts if p != "runtime"), key=estimate.parts.get)
        field_hint = PART_FIELDS[part]
        if field_hint == "agents.count" and scenario.agents.count is None:
            field_hint = "dataset.users" if scenario.dataset.kind == "synthetic" else "dataset"
        raise UserError(f"field '{field_hint}': the run needs about {_size(estimate.total)} of memory "
                        f"({estimate.describe()}), this machine has {_size(estimate.available)} available; "
                        "use fewer agents, items or pages", file)


def _estimated_rows(path: Path) -> int:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return 0
    lines = max(head.count(b"\n"), 1)
    return int(size / max(len(head) / lines, 1)) + 1


# --- the scenario on its own ---------------------------------------------------------------------


def recommender_blocks(scenario: Scenario, file: Path) -> list[tuple[str, str, dict, list]]:
    """(field, name, params, re-rankers) of the starting recommender and of what every
    switch_recommender intervention switches to, in the order the run applies them."""
    rec = scenario.recommender
    current = (rec.name, rec.params, list(rec.rerankers))
    blocks = [("recommender", *current)]
    switches = sorted((iv.at_step, i, iv) for i, iv in enumerate(scenario.interventions)
                      if isinstance(iv, SwitchRecommender))
    for _, i, iv in switches:
        if iv.name is None and iv.params:
            raise UserError(f"field 'interventions[{i}].params': params configure a new recommender; "
                            "give its 'name' too (without a name only the re-rankers change)", file)
        name, params, chain = current
        if iv.name is not None:
            name, params, chain = iv.name, iv.params, []
        if iv.rerankers is not None:
            chain = list(iv.rerankers)
        current = (name, params, chain)
        blocks.append((f"interventions[{i}]", *current))
    return blocks


def check_components(scenario: Scenario, file: Path) -> None:
    """Every component's params against its model: the scenario's and every intervention's."""
    recommenders, rerankers = available_recommenders(), available_rerankers()
    for where, name, params, chain in recommender_blocks(scenario, file):
        check_params(recommender_params(recommenders[name]), params, f"{where}.params", file)
        for j, spec in enumerate(chain):
            check_params(reranker_params(rerankers[spec.name]), spec.params, f"{where}.rerankers[{j}].params", file)
    fb = scenario.feedback
    check_params(feedback_params(FEEDBACK_MODELS[fb.model]), fb.params, "feedback.params", file)
    if fb.dislike_rating >= fb.like_rating:
        raise UserError(f"field 'feedback.dislike_rating': expected below like_rating ({fb.like_rating:g}), "
                        f"found {fb.dislike_rating:g}", file)
    if scenario.llm.memory_enabled():  # chromadb comes with the memory extra
        require("memory", f"{file} (field 'llm.memory')")
    if scenario.llm.provider == "local":
        require("local", f"{file} (field 'llm.provider')")
    # --seed and --steps override the file after it was validated: check them again here
    if not 0 <= scenario.seed < 2**63:
        raise UserError(f"field 'seed' (or --seed): expected 0 <= seed < 2**63, found {cut(scenario.seed)}", file)
    sim = scenario.simulation
    drop_late_interventions(scenario)
    try:
        sim.start_time + timedelta(hours=sim.steps * sim.step_hours)
    except OverflowError:
        raise UserError(f"field 'simulation.steps': {sim.steps} steps of {sim.step_hours:g} hours run past the "
                        f"year {datetime.max.year}", file) from None


def drop_late_interventions(scenario: Scenario) -> list:
    """Leave out the interventions at or after the last step, saying so in one line: the file was
    checked against its own `steps`, so only a shorter --steps (a smoke test) gets here."""
    from .console import err_console

    steps = scenario.simulation.steps
    late = [iv for iv in scenario.interventions if iv.at_step >= steps]
    if late:
        scenario.interventions = [iv for iv in scenario.interventions if iv.at_step < steps]
        err_console.print(f"note: {steps} steps: {len(late)} intervention{'s' if len(late) > 1 else ''} at a later "
                          f"step left out ({', '.join(f'{iv.kind} at step {iv.at_step}' for iv in late)})",
                          highlight=False, soft_wrap=True)
    return late


def run_folder(scenario: Scenario, out: Path | None) -> Path:
    """The folder a run would write (its name is only an example when the time is appended)."""
    if out is not None:
        return out
    parent = scenario.outputs.dir or Path("runs")
    return parent / f"{scenario.name}-{datetime.now():%Y%m%d-%H%M%S}"


def check_output(scenario: Scenario, out: Path | None, file: Path) -> Path:
    """The run folder can be created: no file in the way, a writable parent, names that fit."""
    where = "--out" if out is not None else "outputs.dir"
    folder = run_folder(scenario, out).absolute()
    for part in (folder, *folder.parents):  # a dangling link: mkdir would meet "file exists"
        if _is_link(part) and not _exists(part):
            raise UserError(f"field '{where}': {part} is a symbolic link to {os.readlink(part)}, which does not "
                            "exist; name a folder (or create the link's target)", file)
    if out is not None and _exists(out):
        if not out.is_dir():
            raise UserError(f"{out} is a file; expected a run folder to create", "--out")
        if any(out.iterdir()):
            raise UserError("run folder exists and is not empty; choose another --out", out)
    existing = folder
    while not _exists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"field '{where}': {existing} is a file; expected a folder for run folders", file)
    name_max = _pathconf(existing, "PC_NAME_MAX", 255)
    path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
    extra = RUN_NAME_SUFFIX - len(f"-{datetime.now():%Y%m%d-%H%M%S}") if out is None else 0
    for part in folder.relative_to(existing).parts:
        if len(part.encode()) + extra > name_max:
            what = "field 'name'" if out is None and part == folder.name else f"field '{where}'"
            raise UserError(f"{what}: the run folder name would be {len(part.encode()) + extra} bytes, "
                            f"the file system allows {name_max}; "
                            + ("shorten the scenario name" if out is None else "choose a shorter --out"), file)
    if len(str(folder).encode()) + extra > path_max:
        raise UserError(f"field '{where}': the run folder path would be longer than {path_max} bytes", file)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"field '{where}': cannot create the run folder, {existing} is not writable", file)
    return folder


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a component longer than the file system allows: it cannot exist (named below)
        return False


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # too long to exist (named below)
        return False


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return default


# --- the scenario with its dataset ---------------------------------------------------------------


def check_ids(scenario: Scenario, dataset, file: Path) -> None:
    """Users and items that interventions name exist in the dataset."""
    users, catalog = dataset.users, dataset.catalog
    for i, iv in enumerate(scenario.interventions):
        if isinstance(iv, InjectPost):
            if not users.has(iv.agent):
                raise UserError(f"field 'interventions[{i}].agent': user {iv.agent} is not in the dataset", file)
            if not catalog.has(iv.item):
                raise UserError(f"field 'interventions[{i}].item': item {iv.item} is not in the catalog", file)
        elif isinstance(iv, SetTraits) and iv.agents != "all":
            for user in iv.agents:
                if not users.has(user):
                    raise UserError(f"field 'interventions[{i}].agents': user {user} is not in the dataset", file)


def check_played(scenario: Scenario, n_users: int, file: Path) -> None:
    """Agents that people play (roleplay.agents) exist: ids 0 to agents - 1."""
    from .simulation.roleplay import check_roleplay  # the simulation package imports this module's callers

    check_roleplay(scenario, min(scenario.agents.count or n_users, n_users), file)


def check_sizes(scenario: Scenario, n_users: int, n_items: int, n_interactions: int, n_genres: int,
                file: Path) -> MemoryEstimate:
    """Sizes against the dataset and the machine: before loading (sizes a synthetic dataset will
    have) and after."""
    sim = scenario.simulation
    if sim.page_size > n_items:
        raise UserError(f"field 'simulation.page_size': {sim.page_size} items per page, the catalog has {n_items}",
                        file)
    if scenario.agents.count is not None and scenario.agents.count > n_users:
        raise UserError(f"field 'agents.count': {scenario.agents.count} agents asked for, the dataset has "
                        f"{n_users} users", file)
    estimate = estimate_memory(scenario, n_users, n_items, n_interactions, n_genres)
    check_memory(estimate, file, scenario)
    return estimate


def check_run(scenario: Scenario, file: Path, out: Path | None = None) -> DryRun:
    """What `run` checks before creating anything; returns the loaded dataset."""
    from .simulation.build import load_dataset  # the simulation package imports this module's callers

    file = Path(file)
    check_components(scenario, file)
    ds = scenario.dataset
    if ds.kind == "synthetic":
        check_sizes(scenario, ds.users, ds.items, ds.users * min(ds.history_length * 2, ds.items), 20, file)
    elif ds.kind == "csv":
        rows = _estimated_rows(ds.ratings)  # a 10 GB file is refused before reading it
        estimate = estimate_memory(scenario, 1, 1, rows * 4)
        if estimate.total > estimate.available:
            raise UserError(f"field 'dataset.ratings': about {rows:,} rows would need {_size(estimate.total)} of "
                            f"memory to read, this machine has {_size(estimate.available)} available", file)
    check_output(scenario, out, file)
    dataset = load_dataset(scenario)
    check_ids(scenario, dataset, file)
    check_played(scenario, len(dataset.users), file)
    estimate = check_sizes(scenario, len(dataset.users), len(dataset.catalog), len(dataset.interactions),
                           dataset.catalog.genres.shape[1], file)
    notes = [str(n) for n in dataset.meta.get("notes", [])]
    return DryRun(scenario, dataset, estimate, notes)


def dry_run(scenario: Scenario, file: Path, out: Path | None = None) -> DryRun:
    """`recagent validate`: `check_run`, then every component built for real (no step, no folder)."""
    from .cache import cache_dir
    from .recommenders import RecommenderContext, make_pipeline
    from .simulation.build import build_model

    result = check_run(scenario, file, out)
    # no request to an LLM endpoint here (that is `validate --check-llm`), where build_model makes one
    params = inspect.signature(build_model).parameters
    ask = {"preflight": False} if "preflight" in params else {}
    preparing = None
    if "prepare_progress" in params:  # says so when the user simulator is prepared, as `run` does
        from .console import console
        from .preparation import PreparationProgress, estimated_seconds

        preparing = ask["prepare_progress"] = PreparationProgress(
            console, estimate_s=estimated_seconds(len(result.dataset.catalog), len(result.dataset.interactions)),
            cache_dir=cache_dir(), bar=False)
    with in_file(file):
        try:
            result.model = build_model(scenario, result.dataset, **ask)
        finally:
            if preparing is not None:
                preparing.close()
    context = RecommenderContext(rng=np.random.default_rng(scenario.seed), seed=scenario.seed, cache_dir=cache_dir())
    for where, name, params, chain in recommender_blocks(scenario, file)[1:]:
        with in_file(file):
            make_pipeline(name, params, [(r.name, r.params) for r in chain], context, field=where)
    return result


def report_lines(result: DryRun, file: Path) -> list[str]:
    """What `recagent validate` prints about a scenario that passed."""
    spec, dataset = result.scenario, result.dataset
    lines = [f"[green]ok[/] {file}: scenario {spec.name!r}, {spec.simulation.steps} steps, "
             f"dataset {spec.dataset.kind}, recommender {spec.recommender.name}, "
             f"feedback {spec.feedback.model}, language backend {spec.llm.provider}",
             f"  dataset: {len(dataset.users):,} users, {len(dataset.catalog):,} items, "
             f"{len(dataset.interactions):,} ratings"]
    lines += [f"  {note}" for note in result.notes]
    mem = result.memory
    lines.append(f"  memory: about {_size(mem.total)} needed, {_size(mem.available)} available")
    return lines
