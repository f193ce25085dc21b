"""The event log of one run folder as the web page reads it: `events.sqlite` read through
`recagent.events.EventReader` (read-only) and incrementally (rows with a higher id than already
seen), so a live run costs one small query per poll; the run's agents, items and edges; and a cache
of views per version of the log.

Every file of a run folder is reached through `RunLog.file`, which resolves it (symlinks too) and
refuses one that leads outside the served root: a run folder may come from someone else.

The views themselves (metrics over steps, node measures per step, agent and item panels) are
derived in recagent/web/runs.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..events import EventReader, UnreadableLog, decode_payload
from ..simulation.events import EVENT_KINDS
from .run_files import Unreadable, inside, read_json

KIND = {k: n for n, k in enumerate(EVENT_KINDS)}
ACTS = ("leave", "search", "chat", "post")  # one of these per acting agent and step
MAX_STEPS = 1_000_000  # a log claiming more steps is not a run's (the views hold arrays per step)


class NotFound(LookupError):
    """A run, agent or item that does not exist (answered with 404)."""


class BadRequest(ValueError):
    """A parameter that is malformed or out of range (answered with 400)."""


@dataclass
class Agent:
    agent_id: int
    user_id: int
    name: str
    persona: dict


class RunLog:
    """The event log of one run, read incrementally and cached per version (views: `RunData`).

    Only what the overview needs is held in memory: per-step counts of every kind, and the rows of
    acts (watch, leave, search, chat, post) with each watch's rating and source. Panels query
    SQLite directly through its step / agent / item indexes.
    """

    def __init__(self, name: str, path: Path, root: Path | None = None):
        self.name = name
        self.path = path
        self.root = root if root is not None else path  # nothing this log reads may lead outside it
        self.lock = threading.RLock()
        self.loaded_context = False
        self.last_id = 0
        self.version = 0  # bumps whenever new events arrive
        self._derived: dict[str, tuple[int, object]] = {}
        self.agents: list[Agent] = []
        self.item_ids = np.zeros(0, np.int64)
        self.item_titles: list[str] = []
        self.item_genres: list[list[str]] = []
        self.genre_names: list[str] = []
        self.item_genre_matrix = np.zeros((0, 0), bool)
        self.item_index: dict[int, int] = {}
        self.edges = np.zeros((0, 2), np.int64)
        self.ev = {c: np.zeros(0, np.int64) for c in ("id", "step", "agent", "kind", "item", "target", "heard_from")}
        self.ev["rating"] = np.zeros(0)
        self.counts = np.zeros((0, len(EVENT_KINDS)), np.int64)  # (steps, kinds)
        self.sim_times: dict[int, str] = {}
        self.info: dict = {}

    # --- reading ---------------------------------------------------------------------------------

    def file(self, name: str) -> Path:
        """`name` inside the run folder, resolved; Unreadable when it leads outside the root."""
        return inside(self.root, self.path / name)

    @property
    def reader(self) -> EventReader:
        return EventReader(self.file("events.sqlite"))

    def refresh(self) -> None:
        with self.lock:
            self.info = read_json(self.file("run.json"))
            if not self.file("events.sqlite").is_file():
                return
            reader = self.reader
            try:
                if not self.loaded_context:
                    reader.check()
                    try:
                        self._load_context(reader)
                    except (ValueError, TypeError) as e:
                        raise Unreadable(f"run {self.name!r}: events.sqlite holds context rows of the wrong "
                                         f"type ({str(e)[:80]})") from None
                top = reader.last_id()
                if top is None or top <= self.last_id:
                    return
                window = (self.last_id, top)
                # the counting scan runs in SQLite's C code (GIL released) beside the row fetch below
                counted: list = []
                counter = threading.Thread(target=self._count, args=(reader, window, counted))
                counter.start()
                acts = reader.acts(*window, KIND)
                counter.join()
            except sqlite3.OperationalError:
                return  # the writer has not committed its first transaction yet; try at the next poll
            except UnreadableLog as e:
                raise Unreadable(f"run {self.name!r}: events.sqlite {e.message}") from None
            if not counted or isinstance(counted[0], Exception):
                return
            self._add_counts(counted[0])
            if acts:
                try:
                    table = np.array(acts, dtype=np.float64)  # NULL ratings become NaN
                except (ValueError, TypeError):
                    raise Unreadable(f"run {self.name!r}: events.sqlite holds event rows of the wrong type") from None
                raw_items = table[:, 4].astype(np.int64)
                new = {"id": table[:, 0], "step": table[:, 1], "agent": table[:, 2], "kind": table[:, 3],
                       "item": self._item_indices(raw_items), "target": table[:, 5], "heard_from": table[:, 7]}
                new = {c: np.asarray(v).astype(np.int64) for c, v in new.items()}
                new["rating"] = table[:, 6]
                for c, arr in new.items():
                    self.ev[c] = np.concatenate([self.ev[c], arr])
            self.last_id = int(top)
            self.version += 1

    @staticmethod
    def _count(reader: EventReader, window: tuple[int, int], out: list) -> None:
        try:
            out.append(reader.counts(*window))
        except (sqlite3.Error, UnreadableLog) as e:
            out.append(e)

    def _item_indices(self, raw: np.ndarray) -> np.ndarray:
        """Catalog positions of dataset item ids (-1 for none or unknown)."""
        if not len(self.item_ids):
            return np.full(len(raw), -1, np.int64)
        order = np.argsort(self.item_ids)
        pos = np.clip(np.searchsorted(self.item_ids[order], raw), 0, len(order) - 1)
        found = self.item_ids[order][pos] == raw
        return np.where(found, order[pos], -1)

    def _add_counts(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if not all(isinstance(r[0], int) and 0 <= r[0] <= MAX_STEPS for r in rows):
            raise Unreadable(f"run {self.name!r}: events.sqlite holds steps that are not whole numbers "
                             f"from 0 to {MAX_STEPS}")
        steps = max(r[0] for r in rows) + 1
        if steps > len(self.counts):
            grown = np.zeros((steps, len(EVENT_KINDS)), np.int64)
            grown[:len(self.counts)] = self.counts
            self.counts = grown
        for step, kind, count, sim_time in rows:
            if kind in KIND:
                self.counts[step, KIND[kind]] += count
            if sim_time is not None and (step not in self.sim_times or sim_time < self.sim_times[step]):
                self.sim_times[step] = sim_time

    def _load_context(self, reader: EventReader) -> None:
        agents = reader.agents()
        if not agents:
            raise sqlite3.OperationalError("context not written yet")
        self.agents = []
        for agent_id, user_id, name, persona in agents:
            persona = decode_payload(persona)
            self.agents.append(Agent(int(agent_id), int(user_id), str(name), persona if isinstance(persona, dict) else {}))
        items = reader.items()
        self.item_ids = np.array([r[0] for r in items], np.int64)
        self.item_titles = [str(r[1]) for r in items]
        self.item_genres = [[g for g in str(r[2]).split("|") if g] for r in items]
        names: dict[str, int] = {}
        for genres in self.item_genres:
            for g in genres:
                names.setdefault(g, len(names))
        self.genre_names = list(names)
        self.item_genre_matrix = np.zeros((len(items), len(names)), bool)
        for i, genres in enumerate(self.item_genres):
            self.item_genre_matrix[i, [names[g] for g in genres]] = True
        self.item_index = {int(r): i for i, r in enumerate(self.item_ids)}
        edges = reader.edges()
        self.edges = np.array(edges, np.int64).reshape(-1, 2)
        self.loaded_context = True

    # --- basics ----------------------------------------------------------------------------------

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def steps_completed(self) -> int:
        """Steps whose events are in the log, or run.json's count when that is higher."""
        return max(len(self.counts), int(self.info.get("steps_completed") or 0))

    def status(self) -> dict:
        return {"run": self.name, "status": self.info.get("status", "unknown"), "steps_completed": self.steps_completed,
                "steps_planned": self.info.get("steps_planned"), "events": int(self.counts.sum()),
                "version": self.version}

    def agent(self, agent_id: int) -> Agent:
        if not 0 <= agent_id < self.n_agents:
            raise NotFound(f"run {self.name!r} has no agent {agent_id} (agents are 0..{self.n_agents - 1})")
        return self.agents[agent_id]

    def item(self, raw_id: int) -> int:
        if raw_id not in self.item_index:
            raise NotFound(f"run {self.name!r} has no item {raw_id}")
        return self.item_index[raw_id]

    def check_step(self, step: int | None) -> int:
        last = max(self.steps_completed - 1, 0)
        if step is None:
            return last
        if step < 0 or step > last:
            raise BadRequest(f"step must be between 0 and {last}, found {step}")
        return step

    def cached(self, key: str, build):
        with self.lock:
            hit = self._derived.get(key)
            if hit is not None and hit[0] == self.version:
                return hit[1]
            value = build()
            self._derived[key] = (self.version, value)
            return value

    def cached_json(self, key: str, build) -> bytes:
        """A view serialised once per version of the log (large views skip FastAPI's encoder)."""
        return self.cached(f"json:{key}", lambda: json.dumps(build(), separators=(",", ":")).encode())

    def _watch_table(self) -> dict:
        """Watch events as arrays: id, step, agent, item index, rating, heard_from (-1 when none)."""
        def build():
            rows = np.flatnonzero(self.ev["kind"] == KIND["watch"])
            return {"id": self.ev["id"][rows], "step": self.ev["step"][rows], "agent": self.ev["agent"][rows],
                    "item": self.ev["item"][rows], "rating": self.ev["rating"][rows],
                    "heard_from": self.ev["heard_from"][rows]}
        return self.cached("watches", build)
