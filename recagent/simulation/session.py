"""A run and its folder: the model, the event log, run.json, and the files written at the end.

The run folder holds `events.sqlite` (the event log, one transaction per step), `metrics.csv`
(one row per step), `agent_metrics.csv` (one row per agent), `scenario.resolved.yaml`, `run.json`
(seed, versions, counts, wall time, status, language-backend usage), `memory/` when memory is on,
and `checkpoint/` when checkpoints are on (`recagent.simulation.checkpoint`).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..llm.health import mark_degraded
from ..recommenders.label import strategy_label
from ..scenario import Scenario
from ..scenario_loading import dump_scenario
from .events import EventLog
from .folder_lock import FolderLock
from .progress_lines import ProgressLines
from .stopping import RunStopped, StopRequests, is_disk_full, signal_name


def new_run_dir(scenario: Scenario, out: Path | None) -> Path:
    if out is not None:
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise UserError("run folder exists and is not empty; choose another --out", out)
        return out
    parent = scenario.outputs.dir or Path("runs")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = parent / f"{scenario.name}-{stamp}"
    n = 2
    while run_dir.exists():
        run_dir = parent / f"{scenario.name}-{stamp}-{n}"
        n += 1
    return run_dir


def versions() -> dict:
    found = {"recagent": __version__, "python": platform.python_version()}
    for package in ("mesa", "numpy", "networkx", "torch", "langchain-core"):
        try:
            found[package] = version(package)
        except Exception:  # noqa: BLE001 - a missing optional package is simply not listed
            pass
    return found


def with_overrides(scenario: Scenario, seed: int | None = None, steps: int | None = None,
                   checkpoint_every: int | None = None) -> Scenario:
    """The scenario with the command line's (or the API's) overrides applied."""
    if seed is not None:
        scenario.seed = seed
    if steps is not None:
        if steps < 1:
            raise UserError(f"--steps must be at least 1, found {steps}")
        scenario.simulation.steps = steps
    if checkpoint_every is not None:
        if checkpoint_every < 0:
            raise UserError(f"--checkpoint-every must be at least 0 (0: no checkpoints), found {checkpoint_every}")
        scenario.simulation.checkpoint_every = checkpoint_every or None
    return scenario


# `recagent run` checkpoints a scenario that says nothing about it every this many steps, so a batch
# job that dies can be resumed (docs/api.md: about 0.03 s per checkpoint at 1,000 agents). The
# Python API and sweeps write checkpoints only when asked; a role-play run is never checkpointed.
DEFAULT_CHECKPOINT_EVERY = 10


def with_default_checkpoints(scenario: Scenario) -> Scenario:
    if scenario.simulation.checkpoint_every is None and not scenario.roleplay.agents:
        scenario.simulation.checkpoint_every = DEFAULT_CHECKPOINT_EVERY
    return scenario


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no temp file
        raise

FLOAT_FORMAT = "%.8g"  # metrics.csv and agent_metrics.csv


class Session:
    """A model writing its run folder: `start` creates it, `step` runs and records one step (and
    writes a checkpoint when one is due), `finish` writes the closing files once."""

    def __init__(self, scenario: Scenario, model, run_dir: Path, log: EventLog, info: dict, lock: FolderLock):
        self.scenario, self.model, self.run_dir, self.log, self.info = scenario, model, run_dir, log, info
        self.lock = lock
        lock.owner = self  # a later session of this folder in this process takes it over
        self.started = self.begun = time.perf_counter()  # begun: set earlier by a caller that also loaded and built
        self.stepping_s = float(info.get("wall_time_s", 0.0))  # earlier sessions of a resumed run count too
        self.finished = False

    @classmethod
    def start(cls, scenario: Scenario, dataset, model, out: Path | None) -> Session:
        """Create the run folder (after every user error had its chance: the model is built)."""
        run_dir = new_run_dir(scenario, out)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # checked by preflight; this is what changed since
            raise UserError(f"cannot create the run folder {run_dir} ({error.strerror or error}); "
                            f"choose another {'--out' if out is not None else 'outputs.dir'}") from None
        lock = FolderLock.take(run_dir)
        (run_dir / "scenario.resolved.yaml").write_text(dump_scenario(scenario), encoding="utf-8")
        log = EventLog(run_dir / "events.sqlite")
        model.attach_log(log)
        if getattr(scenario.simulation, "checkpoint_every", None):
            from .checkpoint import FOLDER
            from .journal import attach_journal

            attach_journal(model, run_dir / FOLDER)
        if scenario.llm.memory_enabled():
            model.attach_memory(run_dir / "memory")
        if scenario.llm.profiles:
            model.build_profiles()
        info = {
            "scenario": scenario.name, "seed": scenario.seed, "status": "running",
            "steps_planned": scenario.simulation.steps, "steps_completed": 0, "agents": model.n_agents,
            "dataset": dataset.name, "items": len(dataset.catalog),
            "recommender": strategy_label(scenario.recommender.name, scenario.recommender.params,
                                          scenario.recommender.rerankers),  # the full strategy, e.g. mf+mmr(lambda=0.5)
            "feedback": scenario.feedback.model, "language_backend": model.backend.label, "versions": versions(),
            "started_at": datetime.now().isoformat(timespec="seconds"),
        }
        write_json(run_dir / "run.json", info)
        session = cls(scenario, model, run_dir, log, info, lock)
        if session.checkpoint_every:
            session.checkpoint()  # step 0: a run killed before its first due checkpoint resumes too
        return session

    @classmethod
    def resume(cls, run_dir: Path, *, steps: int | None = None) -> Session:
        """Continue `run_dir` from its checkpoint (recagent.simulation.checkpoint)."""
        from .checkpoint import load_checkpoint

        if not run_dir.is_dir():
            raise UserError("run folder not found", run_dir)
        held = FolderLock.held.get(str(run_dir.resolve()))
        lock = FolderLock.take(run_dir)  # before the checkpoint is read: two resumes cannot both pass
        try:
            scenario, model, log, info, step = load_checkpoint(run_dir, steps=steps)
        except BaseException:
            if held is None:
                lock.release(undo=True)  # the folder is as it was
            raise
        info.update(status="running", steps_planned=scenario.simulation.steps)
        info.setdefault("resumed_from_step", []).append(step)
        session = cls(scenario, model, run_dir, log, info, lock)
        write_json(run_dir / "run.json", info)
        return session

    @property
    def steps_left(self) -> int:
        return self.scenario.simulation.steps - self.model.world.step_index

    def step(self) -> None:
        if self.lock.owner is not self:
            raise UserError("this run folder was resumed by a later session; step that one", self.run_dir)
        if self.finished:
            raise UserError(f"this run has finished ({self.info['status']}); load it with recagent.load_run",
                            self.run_dir)
        if self.steps_left <= 0:
            raise UserError(f"the run has done all its simulation.steps ({self.scenario.simulation.steps})",
                            self.run_dir)
        self.info["status"] = "running"
        begun = time.perf_counter()
        self.model.step()
        self.stepping_s += time.perf_counter() - begun
        self.info["steps_completed"] = self.model.world.step_index
        if self.model.world.recommender_switches:  # every switch_recommender so far: step, from, to, re-rankers
            self.info["recommender_switches"] = list(self.model.world.recommender_switches)
        every = self.checkpoint_every
        if every and (self.model.world.step_index % every == 0 or self.steps_left == 0):
            self.checkpoint()
        write_json(self.run_dir / "run.json", self.info)  # live viewers read progress from here

    @property
    def checkpoint_every(self) -> int | None:
        return getattr(self.scenario.simulation, "checkpoint_every", None)

    def checkpoint(self) -> Path:
        """Write the state after the last completed step to the run's checkpoint (whole or not at all)."""
        from .checkpoint import write_checkpoint

        self.info["wall_time_s"] = round(self.stepping_s, 3)
        return write_checkpoint(self)

    def finish(self, status: str, error: str | None = None) -> dict:
        """Write the closing files: metrics.csv, agent_metrics.csv, run.json with counts and usage."""
        if self.finished:
            return self.info
        model, info = self.model, self.info
        info["status"] = status
        if error is not None:
            info["error"] = error
        info["wall_time_s"] = round(self.stepping_s, 3)
        info["total_wall_time_s"] = round(time.perf_counter() - self.begun, 3)
        info["counts"] = self.log.counts()
        info["llm"] = {"backend": model.backend.label, **model.backend.usage.as_dict()}
        mark_degraded(info, model.backend.usage, self.scenario.llm.max_fallback_share)  # too many fallbacks: exit 3
        if model.memory is not None:
            model.memory.persist_short_term()
            info["memory"] = {"path": "memory", **vars(model.memory.totals)}
        model.backend.close()
        self.write_tables()
        self.log.close()
        write_json(self.run_dir / "run.json", info)
        self.finished = True
        if self.lock.owner is self:
            self.lock.release()
        return info

    def run(self, steps: int | None = None, *, progress: bool = False, console=None) -> dict:
        """Run `steps` more steps (default: all left) with an optional progress bar; the closing files are
        written when no step is left, when the language budget ran out, or when a step failed."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        model, info = self.model, self.info
        count = self.steps_left if steps is None else min(steps, self.steps_left)
        stops = StopRequests()
        console = console or Console()
        lines = ProgressLines(console, self.scenario.name, self.scenario.simulation.steps) \
            if progress and not console.is_terminal else None  # a batch job: plain lines, flushed
        try:
            with stops, Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                 console=console, disable=not progress or lines is not None, transient=False) as bar:
                task = bar.add_task(self.scenario.name, total=self.scenario.simulation.steps,
                                    completed=model.world.step_index, status="")
                for _ in range(count):
                    self.step()
                    c = model.world.counters
                    bar.update(task, advance=1, status=f"active {c.get('active', 0)}  watches {c.get('watch', 0)}  "
                                                       f"chats {c.get('chat', 0)}  posts {c.get('post', 0)}")
                    if lines is not None:
                        lines.update(model.world.step_index, c)
                    if stops.signum is not None:  # the step is written; stop here, resumable
                        self.stop_for(stops.signum)
                        break
                    if model.backend.exhausted:  # the step finished with offline replies; stop cleanly here
                        info["status"] = "budget_exhausted"
                        info["message"] = model.backend.budget_message()
                        if console is not None:
                            console.print(f"[bold yellow]{info['message']}[/]")
                        break
                else:  # until every step ran, run.json says "running" (live viewers read it)
                    if self.steps_left == 0:
                        info["status"] = "completed"
        except KeyboardInterrupt:
            info["status"] = "interrupted"
            raise
        except Exception as error:  # the steps so far are kept; run.json says why the run stopped
            info["status"] = "failed"
            info["error"] = f"{type(error).__name__}: {error}"
            if is_disk_full(error):
                self.close_on_full_disk(error)
            raise
        finally:
            if info["status"] != "running":
                self.finish(info["status"])
        if stops.signum is not None:
            raise RunStopped(stops.signum, self.stop_message(stops.signum))
        return info

    def stop_for(self, signum: int) -> None:
        """A signal arrived during the step just written: checkpoint (where on) and close as interrupted."""
        self.info["status"] = "interrupted"
        self.info["signal"] = signal_name(signum)
        every = self.checkpoint_every
        if every and self.model.world.step_index % every != 0 and self.steps_left != 0:
            self.checkpoint()  # step() wrote none for this step

    def stop_message(self, signum: int) -> str:
        done = self.info["steps_completed"]
        message = f"stopped by {signal_name(signum)} after step {done} of {self.info['steps_planned']}; " \
                  f"run.json in {self.run_dir} says interrupted"
        if self.checkpoint_every and self.steps_left > 0:
            message += f"; continue with: recagent run --resume {self.run_dir}"
        return message

    def close_on_full_disk(self, error: BaseException) -> None:
        """Out of disk space: no temp files left, run.json `failed` with the reason (if even that
        cannot be written, the previous run.json stays), then one line for the user."""
        from .checkpoint import FOLDER, STATE

        shutil.rmtree(self.run_dir / FOLDER / (STATE + ".tmp"), ignore_errors=True)
        (self.run_dir / "run.json.tmp").unlink(missing_ok=True)
        self.info["error"] = f"no space left on device ({error})"
        self.finished = True  # the closing tables would not fit either
        self.log.buffer.clear()
        try:
            write_json(self.run_dir / "run.json", self.info)
        except OSError:
            (self.run_dir / "run.json.tmp").unlink(missing_ok=True)
        finally:
            if self.lock.owner is self:
                self.lock.release()
        raise UserError(f"no space left on device while writing the run folder {self.run_dir}; the steps "
                        f"before step {self.model.world.step_index + 1} are kept and run.json says failed") from None

    def write_tables(self) -> None:
        # Eight significant digits: more than any measure here supports, and a CSV a person can read
        # (full precision wrote 0.9749999999999999 and 16-digit entropies).
        for table, name in ((self.model.datacollector.get_model_vars_dataframe(), "metrics.csv"),
                            (self.model.step_metrics.agent_table(), "agent_metrics.csv")):
            table.to_csv(self.run_dir / name, index=False, float_format=FLOAT_FORMAT)
