"""Run folders as the web page sees them: safe lookup, a cached read of the event log, derived views.

A run folder is any folder under RUNS_DIR holding `run.json` or `events.sqlite` (or RUNS_DIR itself
when it is a run folder), found at any depth up to studies.MAX_DEPTH, so the runs of compare and
sweep folders list beside plain ones, grouped by study (studies.py). Every folder name of an id is
checked against a strict pattern and resolved paths must stay inside RUNS_DIR, so no request can
reach a file outside it (run_files.py). A run folder
that cannot be read (a damaged or non-SQLite log, a run.json too deep or too large, a file linking
outside the root) is listed as `unreadable` with its reason; its views answer 422; the others serve.

`RunData` reads `events.sqlite` read-only and incrementally (rows with a higher id than it has
seen; that reading and the cache of views, `RunLog`, are in recagent/web/run_log.py), so a live
run costs one small query per poll. Everything the page shows (metrics over steps, node measures
per step, agent and item panels) is derived from the event log here, which is why finished and
live runs look the same; the cocoon measures (genre entropy, coverage, Gini, friend share) are the
run's own metrics.csv once the run has written it, and derived from the log only while it runs.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np

from ..events import EventReader, UnreadableLog, decode_payload

# the model's own definitions, so the page's live measures and metrics.csv agree
from ..metrics.measures import entropy_bits, gini
from ..simulation.events import EVENT_KINDS
from .run_files import Unreadable, inside, read_json
from .run_log import ACTS, KIND, Agent, BadRequest, NotFound, RunLog  # noqa: F401 - re-exported
from .studies import (
    Found,
    find_runs,
    read_metrics_csv,
    run_path,
    study_bands,
    study_path,
    study_summaries,
)

# the page's measure -> the run's own metrics.csv column (recagent/metrics computes it)
OWN_METRICS = {"genre_entropy": "mean_genre_entropy", "coverage": "coverage_consumption",
               "gini": "gini_consumption", "friend_share": "influence_share_step"}
# the page's charts -> metrics.csv columns, for a study's overlaid strategies
STUDY_MEASURES = {**OWN_METRICS, "watches": "watches", "likes": "likes", "chats": "chats", "posts": "posts"}


class RunStore:
    """The run folders anywhere under one directory (studies.find_runs), with a `RunData` cache per run."""

    def __init__(self, runs_dir: str | Path):
        self.root = Path(runs_dir).resolve()
        self._cache: dict[str, RunData] = {}
        self._bands: dict[tuple[str, str | None], tuple[tuple, dict]] = {}
        self._lock = threading.Lock()

    def found(self) -> list[Found]:
        return find_runs(self.root)

    def names(self) -> list[str]:
        return [f.id for f in self.found()]

    def path(self, name: str) -> Path:
        """The folder of run `name`; NotFound for anything that is not a run folder inside root."""
        path = run_path(self.root, name)
        if path is None:
            raise NotFound(f"no run named {name!r}")
        return path

    def get(self, name: str) -> RunData:
        path = self.path(name)
        with self._lock:
            data = self._cache.get(name)
            if data is None or data.path != path:
                data = self._cache[name] = RunData(name, path, self.root)
        data.refresh()
        return data

    def summaries(self, found: list[Found] | None = None) -> list[dict]:
        """The run list: newest first within each study, runs outside studies first."""
        rows = []
        for f in self.found() if found is None else found:
            place = {"id": f.id, "folder": f.folder, "study": f.study, "group": f.group, "seed": f.seed}
            try:
                rows.append({**self.summary(f.id), **place})
            except Unreadable as e:
                rows.append({"scenario": f.id, "started_at": "", "status": "unreadable", "reason": str(e), **place})
        rows.sort(key=lambda r: (r["started_at"] or "", r["id"]), reverse=True)
        rows.sort(key=lambda r: (r["study"] is not None, r["study"] or "", r["group"] or ""))
        return rows

    def studies(self, found: list[Found] | None = None) -> list[dict]:
        return study_summaries(self.root, self.found() if found is None else found)

    def study_metrics(self, study: str, group: str | None = None) -> dict:
        """Per strategy (and point) of a study, or only `group`, per step: the page's measures as mean
        over seeds and 95% band, from each run's own metrics.csv (studies.study_bands). Kept until a
        run of the study writes its metrics.csv anew (a bootstrap over 1,000 steps takes a while)."""
        if study_path(self.root, study) is None:
            raise NotFound(f"no study named {study!r}")
        found = [f for f in self.found() if f.study == study]
        if group is not None and not any((f.group or "") == group for f in found):
            raise NotFound(f"study {study!r} has no group {group!r}")
        signature = tuple((f.id, *_stamp(f.path / "metrics.csv")) for f in found)
        with self._lock:
            hit = self._bands.get((study, group))
        if hit is not None and hit[0] == signature:
            return hit[1]
        value = study_bands(self.root, study, found, STUDY_MEASURES, group)
        with self._lock:
            self._bands[(study, group)] = (signature, value)
        return value

    def summary(self, name: str) -> dict:
        """The run list's row of run `name`; Unreadable (with the reason) for a folder that cannot be read."""
        path = self.path(name)
        info = read_json(inside(self.root, path / "run.json"))
        db = inside(self.root, path / "events.sqlite")
        if db.is_file():
            try:
                EventReader(db).check()
            except UnreadableLog as e:
                raise Unreadable(f"events.sqlite {e.message}") from None
            except sqlite3.OperationalError:
                pass  # a log being created, or written right now: readable at the next look
        text = {k: str(info.get(k, ""))[:200] for k in ("started_at", "recommender", "feedback", "dataset",
                                                          "language_backend")}
        return {"id": name, "scenario": str(info.get("scenario", name))[:200], **text,
                "strategy": ended_on(info), "switches": len(switches(info)),
                "agents": _count(info.get("agents")), "steps_completed": _count(info.get("steps_completed")),
                "steps_planned": _count(info.get("steps_planned")), "status": str(info.get("status", "unknown"))[:40]}


def switches(info: dict) -> list[dict]:
    """run.json's recommender_switches (each switch_recommender so far: step, from, to), well formed ones only."""
    value = info.get("recommender_switches")
    return [s for s in value if isinstance(s, dict) and isinstance(s.get("to"), str)] if isinstance(value, list) else []


def ended_on(info: dict) -> str:
    """The strategy a run ended on (or runs now): the last switch's, else the one it started with."""
    done = switches(info)
    return (done[-1]["to"] if done else str(info.get("recommender", "")))[:200]


def _stamp(path: Path) -> tuple[int, int]:
    """(modification time, size) of a file, (0, 0) when there is none: what a cached view depends on."""
    try:
        st = path.stat()
    except OSError:
        return 0, 0
    return st.st_mtime_ns, st.st_size


def _count(value) -> int | None:
    """A count from run.json, or None for anything that is not a non-negative integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class RunData(RunLog):
    """The event log of one run (read and cached by `RunLog`), with the views derived from it."""

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
        gini_per_step = [round(gini(row), 4) for row in per_item]  # the metrics package's Gini, step by step
        n_watch = np.bincount(w["step"][w["step"] < steps], minlength=steps)[:steps]
        n_friend = np.bincount(w["step"][(w["step"] < steps) & (w["heard_from"] >= 0)], minlength=steps)[:steps]
        friends = [round(float(f / t), 4) if t else 0.0 for f, t in zip(n_friend, n_watch)]
        out["genre_entropy"] = entropy
        out["coverage"] = coverage
        out["gini"] = gini_per_step
        out["friend_share"] = friends
        out["measures_from"] = "event log (the run has not written metrics.csv yet)"
        own = self.own_metrics(steps)
        if own is not None:  # the run's own measures, computed by recagent.metrics, replace the live copies
            out.update(own)
            out["measures_from"] = "metrics.csv"
        return out

    def own_metrics(self, steps: int) -> dict | None:
        """The page's measures from the run's metrics.csv (written when the run ends), or None when it
        has none that covers the log's steps (a live or interrupted run) or it cannot be read."""
        table = read_metrics_csv(self.root, self.path)
        if table is None or not set(OWN_METRICS.values()) | {"active_agents"} <= set(table):
            return None
        if len(table["active_agents"]) != steps:
            return None
        out = {page: [round(_number(v), 4) for v in table[column]] for page, column in OWN_METRICS.items()}
        out["active_agents"] = [int(_number(v)) for v in table["active_agents"]]
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

    def events(self, **where) -> list[dict]:
        """Events (up to the last one this view has seen) matching `where` (EventReader.events's
        conditions), as dicts with names and titles filled in."""
        try:
            rows = self.reader.events(up_to_id=self.last_id, **where)
        except UnreadableLog as e:
            raise Unreadable(f"run {self.name!r}: events.sqlite {e.message}") from None
        return [self.event_dict(r) for r in rows]

    def event_dict(self, row: tuple) -> dict:
        event_id, step, agent, kind, item, target, payload = row
        d = {"id": event_id, "step": step, "kind": kind, "agent_id": agent, "agent_name": self.name_of(agent),
             "target_id": target, "target_name": self.name_of(target), "payload": decode_payload(payload)}
        d.update(self.item_ref(self.item_index.get(item, -1) if isinstance(item, int) else -1))
        return d

    def step_feed(self, step: int, limit: int = 200) -> dict:
        step = self.check_step(step)
        counts = self.counts[step] if step < len(self.counts) else np.zeros(len(EVENT_KINDS), np.int64)
        events = self.events(step=step, kinds=("chat", "post", "intervention"), limit=limit + 1)
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
        mine = self.events(agent=agent_id, max_step=step, kinds=("watch", "hear", "chat", "post", "search"))
        received = np.flatnonzero((self.ev["kind"] == KIND["chat"]) & (self.ev["target"] == agent_id)
                                  & (self.ev["step"] <= step))
        told = self.events(ids=self.ev["id"][received].tolist()) if len(received) else []
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
        for e in self.events(agent=agent_id, max_step=step, kinds=("watch", "hear", "chat", "post"), limit=limit,
                             newest_first=True):
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
        events = self.events(item=raw_id, max_step=step, kinds=("watch", "hear", "post"))
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
                        "reached": len({link[1] for link in links}),
                        "watched_after_hearing": sum(1 for x in watchers if x["heard_from"] is not None),
                        "depth": max(generation.values(), default=0),
                        "talkers": sorted({link[0] for link in links}),
                        "listeners_who_watched": sorted({link[1] for link in links} & watched_by)},
            "posts": [e for e in events if e["kind"] == "post"][:50],
        }

    def search_items(self, query: str, limit: int = 20) -> list[dict]:
        q = query.lower()
        return [self.item_ref(i) for i, t in enumerate(self.item_titles) if q in t.lower()][:limit]


def _number(value: float) -> float:
    """A metrics.csv cell for the page's charts (an empty cell, a measure not defined yet, is 0)."""
    return float(value) if np.isfinite(value) else 0.0
