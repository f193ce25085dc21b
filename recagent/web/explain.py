"""The feedback model's "why" for the agent panel.

The run folder does not store the feedback model, so the server rebuilds it from
`scenario.resolved.yaml` (dataset + feedback model + fit, exactly as the runner did) once per run
and keeps it in memory. Rebuilding can take seconds to minutes (loading a dataset, fitting an
ensemble), so it never runs inside a request: a background thread queues the runs asked for and
has them rebuilt one at a time (two fits at once would only share the same cores) in a child
process, and until a run's model is back its explanation requests are answered with `Preparing`
(503 with Retry-After).

Why a process and not the thread itself: a fit holds the GIL in its Python parts, which would slow
every page request meanwhile, and a server stopped during a torch fit in a daemon thread aborts
("terminate called without an active exception", exit 134) as torch's threads are torn down under
it; a daemon child process is simply terminated. The child lives while there is work queued and
exits when the queue is empty, so an idle server holds no second copy of torch; the fitted model
comes back pickled (a few MB for a bias model on 2,000 users).
Explanations are asked with the agent's history as it was just before each watch: the dataset's
ratings plus the agent's earlier watches in the run.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import Dataset, History
from ..errors import UserError
from .runs import RunData
from .studies import rel_id

RETRY_AFTER_SECONDS = 2
ASKED = {"recommender": "shown", "search": "chosen"}  # a watch's `via` -> the question its P(like) answered


class Preparing(Exception):
    """The run's feedback model is still being rebuilt in the background (answered with 503)."""

    retry_after = RETRY_AFTER_SECONDS


@dataclass
class Rebuilt:
    dataset: Dataset
    feedback: object
    history: History


@dataclass
class Job:
    run_dir: Path
    done: threading.Event = field(default_factory=threading.Event)
    result: Rebuilt | None = None
    error: Exception | None = None


def rebuild_serving(conn, parent_pid: int) -> None:
    """The child process: rebuild each run folder it is sent and send the model back, until EOF."""
    threading.Thread(target=exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    while True:
        try:
            run_dir, llm = conn.recv()
        except EOFError:
            return
        try:
            rebuilt = Explainer._build(run_dir, llm)
        except Exception as e:  # noqa: BLE001 - the parent reports it to the page
            conn.send((False, e if is_picklable(e) else RuntimeError(f"{type(e).__name__}: {e}")))
            continue
        try:
            conn.send((True, rebuilt))
        except Exception as e:  # noqa: BLE001 - a model that cannot be pickled: say so
            conn.send((False, RuntimeError(f"the rebuilt model could not be sent back: {type(e).__name__}: {e}")))


def exit_with_parent(parent_pid: int) -> None:
    """End this child as soon as the server is gone, even mid-fit. A server stopped by SIGTERM dies
    without running its exit handlers (uvicorn re-raises the signal after shutting down), so nobody
    would terminate the child, and it would hold the server's stdout open until its fit ended."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def is_picklable(value) -> bool:
    import pickle

    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001
        return False
    return True


class Explainer:
    """Rebuilds one feedback model per run folder in a child process, fed by a background thread,
    and keeps the models it gets back."""

    def __init__(self, llm=None, trusted_runs: frozenset[str] | set[str] = frozenset(), root: Path | None = None):
        self.llm = llm  # the server's own language endpoint (an LLMSpec), or None: offline
        self.trusted_runs = frozenset(trusted_runs)  # run ids (as the run list names them) whose own endpoint may be used
        self.root = root  # the served folder: a run's id is its path below it (seed-3 of one study is not another's)
        self._jobs: dict[Path, Job] = {}
        self._queue: queue.Queue[Job] = queue.Queue()
        self._guard = threading.Lock()
        self._worker: threading.Thread | None = None
        self._child = None
        self._conn = None
        self.builder_pids: list[int] = []  # the child processes that rebuilt models (for tests and logs)

    def prepare(self, run_dir: Path) -> Job:
        """Queue the rebuild of `run_dir`'s model (once); returns its job."""
        with self._guard:
            job = self._jobs.get(run_dir)
            if job is None:
                job = self._jobs[run_dir] = Job(run_dir)
                self._queue.put(job)
                if self._worker is None:
                    # a daemon thread: stopping the server must not wait for a fit to finish
                    self._worker = threading.Thread(target=self._work, name="recagent-explain", daemon=True)
                    self._worker.start()
            return job

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job.result = self._rebuild_in_child(job.run_dir)
            except Exception as e:  # noqa: BLE001 - reported to the page as "unavailable"
                job.error = e
            job.done.set()
            if self._queue.empty():
                self._stop_child()

    def _rebuild_in_child(self, run_dir: Path) -> Rebuilt:
        if self._child is None:
            # spawn, not fork: the server has threads (and maybe torch's) that a fork would copy mid-flight
            context = multiprocessing.get_context("spawn")
            self._conn, child_end = context.Pipe()
            self._child = context.Process(target=rebuild_serving, args=(child_end, os.getpid()),
                                          name="recagent-explain", daemon=True)  # terminated, not awaited, at exit
            self._child.start()
            child_end.close()
            self.builder_pids.append(self._child.pid)
        # the rebuilt model calls no endpoint its run folder names (llm_rating would), unless trusted
        llm = None if self.run_id(run_dir) in self.trusted_runs else (self.llm.model_dump(mode="json") if self.llm else {})
        self._conn.send((run_dir, llm))
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError):
            code = self._child.exitcode
            self._stop_child()
            raise RuntimeError(f"the process rebuilding the model ended (exit code {code}; out of memory?)") from None
        if not ok:
            raise value
        return value

    def run_id(self, run_dir: Path) -> str:
        """The run's id in the run list (studies.rel_id), or its folder name when no root is known."""
        if self.root is None or not run_dir.is_relative_to(self.root):
            return run_dir.name
        return rel_id(self.root, run_dir, self.root.name)

    def _stop_child(self) -> None:
        if self._child is not None:
            self._conn.close()  # the child sees EOF and returns
            self._child.join(10)
            if self._child.is_alive():
                self._child.terminate()
            self._child = self._conn = None

    def model(self, run_dir: Path) -> Rebuilt:
        """The rebuilt model; raises Preparing (having queued the rebuild) while it is not ready."""
        job = self.prepare(run_dir)
        if not job.done.is_set():
            raise Preparing(f"preparing the feedback model of run {self.run_id(run_dir)!r} for explanations; "
                            f"ask again in {RETRY_AFTER_SECONDS} s")
        if job.error is not None:
            raise job.error
        return job.result

    def queued(self, run_dir: Path) -> bool:
        """Whether `run_dir`'s rebuild was ever asked for (it may be done)."""
        with self._guard:
            return run_dir in self._jobs

    def wait(self, run_dir: Path, timeout: float | None = None) -> bool:
        """Queue the rebuild and block until it is done (outside requests: warm-up, tests)."""
        return self.prepare(run_dir).done.wait(timeout)

    @staticmethod
    def _build(run_dir: Path, llm: dict | None = None) -> Rebuilt:
        """The run's feedback model, fitted as its run did; `llm` (an LLMSpec's fields, {} for
        offline) replaces the run's own `llm` block unless None (a run the server trusts)."""
        from ..cache import cache_dir
        from ..feedback import FeedbackContext, make_feedback
        from ..scenario_loading import load_scenario
        from ..simulation.build import load_dataset

        path = run_dir / "scenario.resolved.yaml"
        if not path.is_file():
            raise UserError("the run folder has no scenario.resolved.yaml", path)
        if path.is_symlink():
            raise UserError("scenario.resolved.yaml is a link; not read", path)
        scenario = load_scenario(path)
        if llm is not None:
            from ..llm.spec import LLMSpec

            scenario = scenario.model_copy(update={"llm": LLMSpec.model_validate(llm)})
        dataset = load_dataset(scenario)
        spec = scenario.feedback
        feedback = make_feedback(spec.model, FeedbackContext(scenario.seed, cache_dir(), dataset.name), **spec.params)
        feedback.fit(dataset.catalog, dataset.interactions)
        history = History.from_interactions(dataset.interactions, len(dataset.users))
        return Rebuilt(dataset, feedback, history)

    def explain_agent(self, run: RunData, agent_id: int, step: int, limit: int = 30) -> dict:
        """Explanations of the agent's last `limit` watches up to `step`, keyed by event id."""
        agent = run.agent(agent_id)
        try:
            rebuilt = self.model(run.path)
        except Preparing:
            raise
        except Exception as e:  # noqa: BLE001
            return {"available": False, "reason": f"could not rebuild the feedback model: {e}", "explanations": {}}
        ds = rebuilt.dataset
        if not ds.users.has(agent.user_id):
            return {"available": False, "reason": f"user {agent.user_id} is not in the rebuilt dataset",
                    "explanations": {}}
        user = ds.users.index_of(agent.user_id)
        w = run._watch_table()
        mine = np.flatnonzero((w["agent"] == agent_id) & (w["step"] <= step))
        base_items, base_ratings = rebuilt.history.items[user], rebuilt.history.ratings[user]
        prior_items: list[int] = []
        prior_ratings: list[float] = []
        out = {}
        # which question the run asked for each watch: "shown" on a recommender page, "chosen" in a search
        asked = {e["id"]: ASKED.get(e["payload"].get("via"))
                 for e in run.events(kinds=("watch",), agent=agent_id, max_step=step)}
        for n, k in enumerate(mine):
            raw = int(run.item_ids[w["item"][k]]) if w["item"][k] >= 0 else None
            if raw is None or not ds.catalog.has(raw):
                continue
            item = ds.catalog.index_of(raw)
            if n >= len(mine) - limit:
                history = rebuilt.history.copy()
                history.items[user] = base_items + prior_items
                history.ratings[user] = base_ratings + prior_ratings
                try:
                    why = jsonable(rebuilt.feedback.explain(user, item, history))
                    if "shown" in why and asked.get(int(w["id"][k])):  # the model answers both questions
                        why["asked"] = asked[int(w["id"][k])]
                    out[str(int(w["id"][k]))] = why
                except Exception as e:  # noqa: BLE001 - one broken explanation must not hide the others
                    out[str(int(w["id"][k]))] = {"error": f"{type(e).__name__}: {e}"}
            prior_items.append(item)
            prior_ratings.append(float(w["rating"][k]) if not np.isnan(w["rating"][k]) else 3.0)
        return {"available": True, "model": getattr(rebuilt.feedback, "name", "?"), "explanations": out}


def jsonable(value):
    """numpy scalars and arrays inside an explanation, as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
