"""Run folders as the web page sees them: safe lookup, a cached read of the event log, derived views.

A run folder is any direct child of RUNS_DIR holding `run.json` or `events.sqlite` (or RUNS_DIR
itself when it is a run folder). Names are checked against a strict pattern and resolved paths
must stay inside RUNS_DIR, so no request can reach a file outside it.

`RunData` reads `events.sqlite` read-only and incrementally (rows with a higher id than it has
seen), so a live run costs one small query per poll. Everything the page shows (metrics over
steps, node measures per step, agent and item panels) is derived from the event log here, which
is why finished and live runs look the same.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..simulation.events import EVENT_KINDS

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
KIND = {k: n for n, k in enumerate(EVENT_KINDS)}
ACTS = ("leave", "search", "chat", "post")  # one of these per acting agent and step


class NotFound(LookupError):
    """A run, agent or item that does not exist (answered with 404)."""


class BadRequest(ValueError):
    """A parameter that is malformed or out of range (answered with 400)."""


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "run.json").is_file() or (path / "events.sqlite").is_file())


class RunStore:
    """The run folders under one directory, with a `RunData` cache per run."""

    def __init__(self, runs_dir: str | Path):
        self.root = Path(runs_dir).resolve()
        self._cache: dict[str, RunData] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        if is_run_folder(self.root) and not any(is_run_folder(p) for p in self.root.iterdir()):
            return [self.root.name] if RUN_NAME.match(self.root.name) else []
        return sorted(p.name for p in self.root.iterdir() if RUN_NAME.match(p.name) and is_run_folder(p))

    def path(self, name: str) -> Path:
        """The folder of run `name`; NotFound for anything that is not a run folder inside root."""
        if not isinstance(name, str) or not RUN_NAME.match(name) or ".." in name:
            raise NotFound(f"no run named {name!r}")
        if name == self.root.name and is_run_folder(self.root) and name in self.names():
            return self.root
        candidate = (self.root / name).resolve()
        if candidate.parent != self.root or not is_run_folder(candidate):
            raise NotFound(f"no run named {name!r}")
        return candidate

    def get(self, name: str) -> "RunData":
        path = self.path(name)
        with self._lock:
            data = self._cache.get(name)
            if data is None or data.path != path:
                data = self._cache[name] = RunData(name, path)
        data.refresh()
        return data

    def summaries(self) -> list[dict]:
        rows = []
        for name in self.names():
            info = read_json(self.path(name) / "run.json")
            rows.append({
                "id": name, "scenario": info.get("scenario", name), "started_at": info.get("started_at", ""),
                "agents": info.get("agents"), "steps_completed": info.get("steps_completed"),
                "steps_planned": info.get("steps_planned"), "recommender": info.get("recommender", ""),
                "feedback": info.get("feedback", ""), "dataset": info.get("dataset", ""),
                "language_backend": info.get("language_backend", ""), "status": info.get("status", "unknown"),
            })
        rows.sort(key=lambda r: (r["started_at"] or "", r["id"]), reverse=True)
        return rows


@dataclass
class Agent:
    agent_id: int
    user_id: int
    name: str
    persona: dict


class RunData:
    """The event log of one run, read incrementally, with views derived from it."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
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
        self.edge_meta: list[tuple[str, float]] = []
        cols = ("id", "step", "agent", "kind", "item", "target")
        self.ev = {c: np.zeros(0, np.int64) for c in cols}
        self.payloads: list[str] = []
        self.sim_times: dict[int, str] = {}
        self.info: dict = {}

    # --- reading ---------------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        db = self.path / "events.sqlite"
        if not db.is_file():
            raise NotFound(f"run {self.name!r} has no events.sqlite yet")
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5, check_same_thread=False)
        return conn

    def refresh(self) -> None:
        with self.lock:
            self.info = read_json(self.path / "run.json")
            if not (self.path / "events.sqlite").is_file():
                return
            conn = self.connect()
            try:
                if not self.loaded_context:
                    self._load_context(conn)
                rows = conn.execute(
                    "SELECT id, step, COALESCE(agent_id, -1), kind, COALESCE(item_id, -1), "
                    "COALESCE(target_agent_id, -1), payload, sim_time FROM events WHERE id > ? ORDER BY id",
                    (self.last_id,)).fetchall()
            except sqlite3.OperationalError:
                return  # the writer is between schema creation and its first commit; try next poll
            finally:
                conn.close()
            if not rows:
                return
            ids, steps, agents, kinds, items, targets, payloads, times = zip(*rows)
            new = {
                "id": np.array(ids, np.int64), "step": np.array(steps, np.int64), "agent": np.array(agents, np.int64),
                "kind": np.array([KIND.get(k, -1) for k in kinds], np.int64),
                "item": np.array([self.item_index.get(i, -1) for i in items], np.int64),
                "target": np.array(targets, np.int64),
            }
            for c, arr in new.items():
                self.ev[c] = np.concatenate([self.ev[c], arr])
            self.payloads.extend(payloads)
            for s, t in zip(steps, times):
                self.sim_times.setdefault(s, t)
            self.last_id = int(ids[-1])
            self.version += 1

    def _load_context(self, conn: sqlite3.Connection) -> None:
        agents = conn.execute("SELECT agent_id, user_id, name, persona FROM agents ORDER BY agent_id").fetchall()
        if not agents:
            raise sqlite3.OperationalError("context not written yet")
        self.agents = []
        for agent_id, user_id, name, persona in agents:
            try:
                persona = json.loads(persona)
            except ValueError:
                persona = {}
            self.agents.append(Agent(int(agent_id), int(user_id), str(name), persona))
        items = conn.execute("SELECT item_id, title, genres FROM items ORDER BY rowid").fetchall()
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
        edges = conn.execute("SELECT source, target, relationship, closeness FROM edges").fetchall()
        self.edges = np.array([(r[0], r[1]) for r in edges], np.int64).reshape(-1, 2)
        self.edge_meta = [(str(r[2]), float(r[3])) for r in edges]
        self.loaded_context = True

    # --- basics ----------------------------------------------------------------------------------

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def steps_completed(self) -> int:
        """Steps whose events are in the log (run.json's count once the run has finished)."""
        logged = int(self.ev["step"].max()) + 1 if len(self.ev["step"]) else 0
        return max(logged, int(self.info.get("steps_completed") or 0))

    def status(self) -> dict:
        return {"run": self.name, "status": self.info.get("status", "unknown"), "steps_completed": self.steps_completed,
                "steps_planned": self.info.get("steps_planned"), "events": len(self.payloads), "version": self.version}

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

    def payload(self, row: int) -> dict:
        try:
            return json.loads(self.payloads[row])
        except ValueError:
            return {}

    def cached(self, key: str, build):
        with self.lock:
            hit = self._derived.get(key)
            if hit is not None and hit[0] == self.version:
                return hit[1]
            value = build()
            self._derived[key] = (self.version, value)
            return value

    def _rows(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.ev["kind"] == KIND[kind])

    def _watch_table(self) -> dict:
        """Watch events as arrays: row, step, agent, item index, rating, heard_from (-1 when none)."""
        def build():
            rows = self._rows("watch")
            ratings, heard = np.full(len(rows), np.nan), np.full(len(rows), -1, np.int64)
            for n, r in enumerate(rows):
                p = self.payload(r)
                if isinstance(p.get("rating"), (int, float)):
                    ratings[n] = p["rating"]
                if isinstance(p.get("heard_from"), int):
                    heard[n] = p["heard_from"]
            return {"row": rows, "step": self.ev["step"][rows], "agent": self.ev["agent"][rows],
                    "item": self.ev["item"][rows], "rating": ratings, "heard_from": heard}
        return self.cached("watches", build)

    # --- derived views ---------------------------------------------------------------------------

    def metrics(self) -> dict:
        return self.cached("metrics", self._metrics)

    def _metrics(self) -> dict:
        steps = self.steps_completed
        st, kind = self.ev["step"], self.ev["kind"]
        out: dict[str, list] = {"step": list(range(steps)),
                                "sim_time": [self.sim_times.get(s, "") for s in range(steps)]}
        for name, k in (("watches", "watch"), ("likes", "like"), ("dislikes", "dislike"), ("chats", "chat"),
                        ("posts", "post"), ("hears", "hear"), ("searches", "search")):
            out[name] = np.bincount(st[kind == KIND[k]], minlength=steps)[:steps].tolist()
        acting = np.isin(kind, [KIND[k] for k in ACTS])
        pairs = np.unique(np.stack([st[acting], self.ev["agent"][acting]], 1), axis=0) if acting.any() else np.zeros((0, 2), int)
        out["acting_agents"] = np.bincount(pairs[:, 0], minlength=steps)[:steps].tolist() if len(pairs) else [0] * steps
        w = self._watch_table()
        n_items, n_genres = len(self.item_ids), len(self.genre_names)
        per_agent = np.zeros((self.n_agents, n_genres))
        per_item = np.zeros(n_items)
        entropy, coverage, gini, friends = [], [], [], []
        valid = w["item"] >= 0
        for s in range(steps):
            sel = (w["step"] == s) & valid
            np.add.at(per_agent, w["agent"][sel], self.item_genre_matrix[w["item"][sel]])
            np.add.at(per_item, w["item"][sel], 1)
            has = per_agent.sum(1) > 0
            entropy.append(round(float(entropy_bits(per_agent[has]).mean()), 4) if has.any() else 0.0)
            coverage.append(round(float((per_item > 0).mean()), 4) if n_items else 0.0)
            gini.append(round(gini_index(per_item), 4))
            n = int(((w["step"] == s)).sum())
            friends.append(round(float((w["heard_from"][w["step"] == s] >= 0).sum() / n), 4) if n else 0.0)
        out["genre_entropy"] = entropy
        out["coverage"] = coverage
        out["gini"] = gini
        out["friend_share"] = friends
        # metrics.csv (written when the run ends) adds the model's own reporters
        path = self.path / "metrics.csv"
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            if rows and len(rows) == steps and "active_agents" in rows[0]:
                out["active_agents"] = [int(float(r["active_agents"] or 0)) for r in rows]
        return out

    def timeline(self) -> dict:
        return self.cached("timeline", self._timeline)

    def _timeline(self) -> dict:
        """Per step and agent: dominant watched genre, genre entropy (x100), acts so far; social links."""
        steps, n, g = self.steps_completed, self.n_agents, len(self.genre_names)
        w = self._watch_table()
        per_agent = np.zeros((n, g))
        acts = np.zeros(n, np.int64)
        dominant, entropy, activity = [], [], []
        st, kind, ag = self.ev["step"], self.ev["kind"], self.ev["agent"]
        acting = np.isin(kind, [KIND[k] for k in ACTS]) & (ag >= 0) & (ag < n)
        valid = (w["item"] >= 0) & (w["agent"] >= 0) & (w["agent"] < n)
        for s in range(steps):
            sel = (w["step"] == s) & valid
            np.add.at(per_agent, w["agent"][sel], self.item_genre_matrix[w["item"][sel]])
            np.add.at(acts, ag[acting & (st == s)], 1)
            has = per_agent.sum(1) > 0
            dom = np.where(has, per_agent.argmax(1) if g else 0, -1)
            dominant.append(dom.tolist())
            entropy.append(np.rint(entropy_bits(per_agent) * 100).astype(int).tolist())
            activity.append(acts.tolist())
        chats, posts = [[] for _ in range(steps)], [[] for _ in range(steps)]
        for r in self._rows("chat"):
            s = int(st[r])
            if s < steps:
                chats[s] += [int(ag[r]), int(self.ev["target"][r])]
        for r in self._rows("post"):
            s = int(st[r])
            if s < steps:
                posts[s].append(int(ag[r]))
        return {"steps": steps, "dominant_genre": dominant, "genre_entropy_x100": entropy, "activity": activity,
                "chats": chats, "posts": posts}

    def graph(self) -> dict:
        return {
            "run": self.name, "agents": [{"id": a.agent_id, "name": a.name, "roles": a.persona.get("roles", []),
                                          "favourite_genres": a.persona.get("favourite_genres", [])}
                                         for a in self.agents],
            "edges": self.edges.ravel().tolist(), "genres": self.genre_names,
            "timeline": self.timeline(), **self.status(),
        }

    def name_of(self, agent_id: int) -> str | None:
        return self.agents[agent_id].name if 0 <= agent_id < self.n_agents else None

    def item_ref(self, index: int) -> dict:
        if index < 0:
            return {"item_id": None, "title": "", "genres": []}
        return {"item_id": int(self.item_ids[index]), "title": self.item_titles[index], "genres": self.item_genres[index]}

    def event_dict(self, row: int) -> dict:
        agent, target = int(self.ev["agent"][row]), int(self.ev["target"][row])
        d = {"id": int(self.ev["id"][row]), "step": int(self.ev["step"][row]), "kind": EVENT_KINDS[self.ev["kind"][row]],
             "agent_id": agent if agent >= 0 else None, "agent_name": self.name_of(agent),
             "target_id": target if target >= 0 else None, "target_name": self.name_of(target),
             "payload": self.payload(row)}
        d.update(self.item_ref(int(self.ev["item"][row])))
        return d

    def step_feed(self, step: int, limit: int = 200) -> dict:
        step = self.check_step(step)
        social = np.isin(self.ev["kind"], [KIND["chat"], KIND["post"], KIND["intervention"]])
        rows = np.flatnonzero(social & (self.ev["step"] == step))
        counts = np.bincount(self.ev["kind"][self.ev["step"] == step], minlength=len(EVENT_KINDS))
        return {"step": step, "sim_time": self.sim_times.get(step, ""),
                "counts": {k: int(counts[n]) for n, k in enumerate(EVENT_KINDS)},
                "events": [self.event_dict(int(r)) for r in rows[:limit]], "truncated": len(rows) > limit}

    def agent_panel(self, agent_id: int, step: int | None) -> dict:
        a = self.agent(agent_id)
        step = self.check_step(step)
        upto = self.ev["step"] <= step
        mine = upto & (self.ev["agent"] == agent_id)
        kind = self.ev["kind"]

        def rows(mask):
            return [self.event_dict(int(r)) for r in np.flatnonzero(mask)]

        watched = rows(mine & (kind == KIND["watch"]))
        for w in watched:
            src = w["payload"].get("heard_from")
            w["heard_from_name"] = self.name_of(src) if isinstance(src, int) else None
        chats = rows(upto & (kind == KIND["chat"]) & ((self.ev["agent"] == agent_id) | (self.ev["target"] == agent_id)))
        degree = int(((self.edges[:, 0] == agent_id) | (self.edges[:, 1] == agent_id)).sum()) if len(self.edges) else 0
        friends = sorted(set(self.edges[self.edges[:, 0] == agent_id, 1].tolist())
                         | set(self.edges[self.edges[:, 1] == agent_id, 0].tolist())) if len(self.edges) else []
        return {
            "run": self.name, "step": step, "agent_id": a.agent_id, "user_id": a.user_id, "name": a.name,
            "persona": a.persona, "degree": degree,
            "friends": [{"id": f, "name": self.name_of(f)} for f in friends[:50]],
            "watched": watched, "heard": rows(mine & (kind == KIND["hear"])), "chats": chats,
            "posts": rows(mine & (kind == KIND["post"])), "searches": rows(mine & (kind == KIND["search"])),
            "memories": self.memories(agent_id, step),
        }

    def memories(self, agent_id: int, step: int, limit: int = 12) -> list[dict]:
        """What the agent can recall: its recent acts and what it heard, newest first, as sentences.

        When the run has a memory store (issue 4), the server shows that instead.
        """
        mask = (self.ev["agent"] == agent_id) & (self.ev["step"] <= step) & np.isin(
            self.ev["kind"], [KIND[k] for k in ("watch", "hear", "chat", "post")])
        out = []
        for r in np.flatnonzero(mask)[::-1][:limit]:
            e = self.event_dict(int(r))
            p = e["payload"]
            title = e["title"] or "something"
            if e["kind"] == "watch":
                text = f"I watched {title} and rated it {p.get('rating', '?')}"
            elif e["kind"] == "hear":
                text = f"{e['target_name'] or 'someone'} told me ({p.get('via', 'chat')}) they {p.get('sentiment', 'mentioned')} {title}"
            elif e["kind"] == "chat":
                text = f"I chatted with {e['target_name'] or 'a friend'} about {title}"
            else:
                text = f"I posted about {title}"
            out.append({"step": e["step"], "kind": e["kind"], "text": text})
        return out

    def item_panel(self, raw_id: int, step: int | None) -> dict:
        index = self.item(raw_id)
        step = self.check_step(step)
        w = self._watch_table()
        sel = (w["item"] == index) & (w["step"] <= step)
        watchers = []
        generation: dict[int, int] = {}
        for n in np.flatnonzero(sel):
            agent, src = int(w["agent"][n]), int(w["heard_from"][n])
            gen = generation.get(src, 0) + 1 if src >= 0 else 0
            generation.setdefault(agent, gen)
            watchers.append({"agent_id": agent, "name": self.name_of(agent), "step": int(w["step"][n]),
                             "rating": None if np.isnan(w["rating"][n]) else float(w["rating"][n]),
                             "heard_from": src if src >= 0 else None, "heard_from_name": self.name_of(src),
                             "generation": gen, "via": self.payload(int(w["row"][n])).get("via")})
        talk = (self.ev["item"] == index) & (self.ev["step"] <= step)
        hears = np.flatnonzero(talk & (self.ev["kind"] == KIND["hear"]))
        links = [[int(self.ev["target"][r]), int(self.ev["agent"][r]), int(self.ev["step"][r])] for r in hears]
        watched_by = {x["agent_id"] for x in watchers}
        return {
            "run": self.name, "step": step, **self.item_ref(index),
            "watchers": watchers, "watch_count": len(watchers),
            "cascade": {"links": links,  # [speaker, listener, step]: how word of the item travelled
                        "reached": len({l[1] for l in links}),
                        "watched_after_hearing": sum(1 for x in watchers if x["heard_from"] is not None),
                        "depth": max(generation.values(), default=0),
                        "talkers": sorted({l[0] for l in links}),
                        "listeners_who_watched": sorted({l[1] for l in links} & watched_by)},
            "posts": [self.event_dict(int(r)) for r in np.flatnonzero(talk & (self.ev["kind"] == KIND["post"]))][:50],
        }

    def search_items(self, query: str, limit: int = 20) -> list[dict]:
        q = query.lower()
        return [self.item_ref(i) for i, t in enumerate(self.item_titles) if q in t.lower()][:limit]


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of each row; 0 for empty rows (same definition as the model's metric)."""
    if counts.size == 0:
        return np.zeros(counts.shape[0])
    total = counts.sum(1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts, dtype=np.float64), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1)), 0.0).sum(1)


def gini_index(x: np.ndarray) -> float:
    """Gini coefficient of a non-negative vector (0 = equal exposure, 1 = all on one item)."""
    total = float(x.sum())
    if total <= 0 or len(x) == 0:
        return 0.0
    s = np.sort(x)
    n = len(s)
    return float(((2 * np.arange(1, n + 1) - n - 1) * s).sum() / (n * total))
