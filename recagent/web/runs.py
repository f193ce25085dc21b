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

from ..metrics.measures import entropy_bits  # the model's own definition, so the page and metrics.csv agree
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
        return sorted(p.name for p in self.root.iterdir()
                      if RUN_NAME.match(p.name) and p.resolve().parent == self.root and is_run_folder(p))

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
    """The event log of one run, read incrementally, with views derived from it.

    Only what the overview needs is held in memory: per-step counts of every kind, and the rows of
    acts (watch, leave, search, chat, post) with each watch's rating and source. Panels query
    SQLite directly through its step / agent / item indexes.
    """

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
        self.ev = {c: np.zeros(0, np.int64) for c in ("id", "step", "agent", "kind", "item", "target", "heard_from")}
        self.ev["rating"] = np.zeros(0)
        self.counts = np.zeros((0, len(EVENT_KINDS)), np.int64)  # (steps, kinds)
        self.sim_times: dict[int, str] = {}
        self.info: dict = {}

    # --- reading ---------------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        db = self.path / "events.sqlite"
        if not db.is_file():
            raise NotFound(f"run {self.name!r} has no events.sqlite yet")
        return sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5, check_same_thread=False)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def refresh(self) -> None:
        with self.lock:
            self.info = read_json(self.path / "run.json")
            if not (self.path / "events.sqlite").is_file():
                return
            conn = self.connect()
            try:
                if not self.loaded_context:
                    self._load_context(conn)
                top = conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
                if top is None or top <= self.last_id:
                    return
                window = (self.last_id, top)
                # the counting scan runs in SQLite's C code (GIL released) beside the row fetch below
                counted: list = []
                counter = threading.Thread(target=self._count, args=(window, counted))
                counter.start()
                acts = conn.execute(
                    "SELECT id, step, COALESCE(agent_id, -1), "
                    "CASE kind WHEN 'watch' THEN ? WHEN 'leave' THEN ? WHEN 'search' THEN ? WHEN 'chat' THEN ? "
                    "ELSE ? END, COALESCE(item_id, -1), COALESCE(target_agent_id, -1), "
                    "CASE WHEN kind = 'watch' AND json_type(payload, '$.rating') IN ('integer', 'real') "
                    "THEN json_extract(payload, '$.rating') END, "
                    "CASE WHEN kind = 'watch' AND json_type(payload, '$.heard_from') = 'integer' "
                    "THEN json_extract(payload, '$.heard_from') ELSE -1 END "
                    "FROM events WHERE id > ? AND id <= ? AND kind IN ('watch', 'leave', 'search', 'chat', 'post') "
                    "ORDER BY id", (*[KIND[k] for k in ("watch", "leave", "search", "chat", "post")], *window)).fetchall()
                counter.join()
            except sqlite3.OperationalError:
                return  # the writer has not committed its first transaction yet; try at the next poll
            finally:
                conn.close()
            if not counted or isinstance(counted[0], Exception):
                return
            self._add_counts(counted[0])
            if acts:
                table = np.array(acts, dtype=np.float64)  # NULL ratings become NaN
                raw_items = table[:, 4].astype(np.int64)
                new = {"id": table[:, 0], "step": table[:, 1], "agent": table[:, 2], "kind": table[:, 3],
                       "item": self._item_indices(raw_items), "target": table[:, 5], "heard_from": table[:, 7]}
                new = {c: np.asarray(v).astype(np.int64) for c, v in new.items()}
                new["rating"] = table[:, 6]
                for c, arr in new.items():
                    self.ev[c] = np.concatenate([self.ev[c], arr])
            self.last_id = int(top)
            self.version += 1

    def _count(self, window: tuple[int, int], out: list) -> None:
        try:
            conn = self.connect()
            try:
                out.append(conn.execute("SELECT step, kind, COUNT(*), MIN(sim_time) FROM events WHERE id > ? AND id <= ? "
                                        "GROUP BY step, kind", window).fetchall())
            finally:
                conn.close()
        except sqlite3.Error as e:
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
            self.agents.append(Agent(int(agent_id), int(user_id), str(name), persona if isinstance(persona, dict) else {}))
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
        edges = conn.execute("SELECT source, target FROM edges").fetchall()
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

    # --- derived views ---------------------------------------------------------------------------

    def metrics(self) -> dict:
        return self.cached("metrics", self._metrics)

    def _metrics(self) -> dict:
        steps = self.steps_completed
        counts = np.zeros((steps, len(EVENT_KINDS)), np.int64)
        counts[:len(self.counts)] = self.counts[:steps]
        out: dict[str, list] = {"step": list(range(steps)),
                                "sim_time": [self.sim_times.get(s, "") for s in range(steps)]}
        for name, k in (("watches", "watch"), ("likes", "like"), ("dislikes", "dislike"), ("chats", "chat"),
                        ("posts", "post"), ("hears", "hear"), ("searches", "search")):
            out[name] = counts[:, KIND[k]].tolist()
        st, kind, ag = self.ev["step"], self.ev["kind"], self.ev["agent"]
        acting = np.isin(kind, [KIND[k] for k in ACTS]) & (ag >= 0)
        out["acting_agents"] = [0] * steps
        if acting.any():
            pairs = np.unique(np.stack([st[acting], ag[acting]], 1), axis=0)
            out["acting_agents"] = np.bincount(pairs[:, 0], minlength=steps)[:steps].tolist()
        w = self._watch_table()
        n_items, n_genres, n = len(self.item_ids), len(self.genre_names), self.n_agents
        ok = (w["item"] >= 0) & (w["agent"] >= 0) & (w["agent"] < n) & (w["step"] < steps)
        # cumulative watched-genre counts per (step, agent), vectorised over blocks of steps
        # (blocks keep memory bounded for 10,000-agent runs)
        entropy: list[float] = []
        running = np.zeros((n, n_genres))
        block = max(1, 4_000_000 // max(1, n * n_genres))
        ws, wa, wg = w["step"][ok], w["agent"][ok], self.item_genre_matrix[w["item"][ok]]
        for start in range(0, steps, block):
            end = min(steps, start + block)
            sel = (ws >= start) & (ws < end)
            rows, cols = np.nonzero(wg[sel])
            flat = ((ws[sel][rows] - start) * n + wa[sel][rows]) * n_genres + cols
            part = np.bincount(flat, minlength=(end - start) * n * n_genres).astype(np.float64)
            part = part.reshape(end - start, n, n_genres).cumsum(0) + running
            running = part[-1].copy()
            has = part.sum(2) > 0
            ent = entropy_bits(part.reshape(-1, n_genres)).reshape(end - start, n) if n_genres else np.zeros(has.shape)
            entropy += [round(float(ent[s][has[s]].mean()), 4) if has[s].any() else 0.0 for s in range(end - start)]
        per_item = np.bincount(w["step"][ok] * n_items + w["item"][ok], minlength=steps * n_items)
        per_item = per_item.reshape(steps, n_items).cumsum(0)
        coverage = np.round((per_item > 0).mean(1), 4).tolist() if n_items else [0.0] * steps
        gini = [round(x, 4) for x in gini_rows(per_item)]
        n_watch = np.bincount(w["step"][w["step"] < steps], minlength=steps)[:steps]
        n_friend = np.bincount(w["step"][(w["step"] < steps) & (w["heard_from"] >= 0)], minlength=steps)[:steps]
        friends = [round(float(f / t), 4) if t else 0.0 for f, t in zip(n_friend, n_watch)]
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
        """What the page needs to colour nodes at any step and draw each step's chats and posts.

        Raw, compact arrays (the page accumulates them per step, well under a millisecond for
        thousands of agents): each watch as (step, agent, catalog position), each act as (step,
        agent), chats as flat [speaker, listener, ...] per step, posters per step.
        """
        steps, n = self.steps_completed, self.n_agents
        w = self._watch_table()
        st, kind, ag = self.ev["step"], self.ev["kind"], self.ev["agent"]
        ok = (w["item"] >= 0) & (w["agent"] >= 0) & (w["agent"] < n)
        acting = np.isin(kind, [KIND[k] for k in ACTS]) & (ag >= 0) & (ag < n)
        chats, posts = [[] for _ in range(steps)], [[] for _ in range(steps)]
        target = self.ev["target"]
        for r in np.flatnonzero(kind == KIND["chat"]):
            if st[r] < steps:
                chats[st[r]] += [int(ag[r]), int(target[r])]
        for r in np.flatnonzero(kind == KIND["post"]):
            if st[r] < steps:
                posts[st[r]].append(int(ag[r]))
        return {"steps": steps, "watch_step": w["step"][ok].tolist(), "watch_agent": w["agent"][ok].tolist(),
                "watch_item": w["item"][ok].tolist(), "act_step": st[acting].tolist(), "act_agent": ag[acting].tolist(),
                "chats": chats, "posts": posts}

    def graph(self) -> dict:
        return {
            "run": self.name, "agents": [{"id": a.agent_id, "name": a.name, "roles": a.persona.get("roles", []),
                                          "favourite_genres": a.persona.get("favourite_genres", [])}
                                         for a in self.agents],
            "edges": self.edges.ravel().tolist(), "genres": self.genre_names,
            "item_genres": [np.flatnonzero(row).tolist() for row in self.item_genre_matrix],
            "timeline": self.timeline(), **self.status(),
        }

    def name_of(self, agent_id) -> str | None:
        return self.agents[agent_id].name if isinstance(agent_id, int) and 0 <= agent_id < self.n_agents else None

    def item_ref(self, index: int) -> dict:
        if index < 0:
            return {"item_id": None, "title": "", "genres": []}
        return {"item_id": int(self.item_ids[index]), "title": self.item_titles[index], "genres": self.item_genres[index]}

    EVENT_COLUMNS = "id, step, agent_id, kind, item_id, target_agent_id, payload"

    def events(self, where: str, params: tuple, limit: int | None = None, newest_first: bool = False) -> list[dict]:
        """Events matching a SQL condition, as dicts with names and titles filled in."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {self.EVENT_COLUMNS} FROM events WHERE id <= ? AND ({where}) ORDER BY id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self.event_dict(r) for r in self.query(sql, (self.last_id, *params))]

    def event_dict(self, row: tuple) -> dict:
        event_id, step, agent, kind, item, target, payload = row
        try:
            payload = json.loads(payload)
        except (TypeError, ValueError):
            payload = {}
        d = {"id": event_id, "step": step, "kind": kind, "agent_id": agent, "agent_name": self.name_of(agent),
             "target_id": target, "target_name": self.name_of(target), "payload": payload}
        d.update(self.item_ref(self.item_index.get(item, -1) if item is not None else -1))
        return d

    def step_feed(self, step: int, limit: int = 200) -> dict:
        step = self.check_step(step)
        counts = self.counts[step] if step < len(self.counts) else np.zeros(len(EVENT_KINDS), np.int64)
        events = self.events("step = ? AND kind IN ('chat', 'post', 'intervention')", (step,), limit + 1)
        return {"step": step, "sim_time": self.sim_times.get(step, ""),
                "counts": {k: int(counts[n]) for n, k in enumerate(EVENT_KINDS)},
                "events": events[:limit], "truncated": len(events) > limit}

    def friends(self, agent_id: int) -> list[int]:
        if not len(self.edges):
            return []
        e = self.edges
        return sorted(set(e[e[:, 0] == agent_id, 1].tolist()) | set(e[e[:, 1] == agent_id, 0].tolist()))

    def agent_panel(self, agent_id: int, step: int | None) -> dict:
        a = self.agent(agent_id)
        step = self.check_step(step)
        mine = self.events("agent_id = ? AND step <= ? AND kind IN ('watch', 'hear', 'chat', 'post', 'search')",
                           (agent_id, step))
        received = np.flatnonzero((self.ev["kind"] == KIND["chat"]) & (self.ev["target"] == agent_id)
                                  & (self.ev["step"] <= step))
        told = self.events(f"id IN ({','.join(str(int(self.ev['id'][r])) for r in received)})", ()) if len(received) else []
        by_kind: dict[str, list] = {k: [] for k in ("watch", "hear", "chat", "post", "search")}
        for e in mine:
            by_kind[e["kind"]].append(e)
        for w in by_kind["watch"]:
            w["heard_from_name"] = self.name_of(w["payload"].get("heard_from"))
        friends = self.friends(agent_id)
        return {
            "run": self.name, "step": step, "agent_id": a.agent_id, "user_id": a.user_id, "name": a.name,
            "persona": a.persona, "degree": len(friends),
            "friends": [{"id": f, "name": self.name_of(f)} for f in friends[:50]],
            "watched": by_kind["watch"], "heard": by_kind["hear"],
            "chats": sorted(by_kind["chat"] + told, key=lambda e: e["id"]),
            "posts": by_kind["post"], "searches": by_kind["search"],
            "memories": self.memories(agent_id, step),
        }

    def memories(self, agent_id: int, step: int, limit: int = 12) -> list[dict]:
        """What the agent can recall: its recent acts and what it heard, newest first, as sentences."""
        out = []
        for e in self.events("agent_id = ? AND step <= ? AND kind IN ('watch', 'hear', 'chat', 'post')",
                             (agent_id, step), limit, newest_first=True):
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
        events = self.events("item_id = ? AND step <= ? AND kind IN ('watch', 'hear', 'post')", (raw_id, step))
        watchers = []
        generation: dict[int, int] = {}
        links = []
        for e in events:
            if e["kind"] == "watch":
                agent, src = e["agent_id"], e["payload"].get("heard_from")
                src = src if isinstance(src, int) else None
                gen = generation.get(src, 0) + 1 if src is not None else 0
                generation.setdefault(agent, gen)
                watchers.append({"agent_id": agent, "name": e["agent_name"], "step": e["step"],
                                 "rating": e["payload"].get("rating"), "heard_from": src,
                                 "heard_from_name": self.name_of(src), "generation": gen,
                                 "via": e["payload"].get("via")})
            elif e["kind"] == "hear" and e["target_id"] is not None:
                links.append([e["target_id"], e["agent_id"], e["step"]])  # speaker, listener, step
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
            "posts": [e for e in events if e["kind"] == "post"][:50],
        }

    def search_items(self, query: str, limit: int = 20) -> list[dict]:
        q = query.lower()
        return [self.item_ref(i) for i, t in enumerate(self.item_titles) if q in t.lower()][:limit]


def gini_rows(x: np.ndarray) -> list[float]:
    """recagent.metrics.measures.gini of each row of a non-negative matrix (0 for empty rows), all rows
    in one vectorised pass: the page needs it for every step of a run."""
    if x.size == 0:
        return [0.0] * x.shape[0]
    s = np.sort(x, axis=1)
    n = s.shape[1]
    total = s.sum(1)
    weighted = ((2 * np.arange(1, n + 1) - n - 1) * s).sum(1)
    return np.where(total > 0, weighted / (n * np.where(total > 0, total, 1)), 0.0).tolist()
