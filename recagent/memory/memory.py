"""RecAgent's three-level memory for every agent of a run, batched per step.

Flow of one observation (a watch, a chat, a post heard, a feeling):

1. **sensory**: `observe()` buffers it with an importance score 1-10: from the LLM when
   `memory.importance: llm` (observations batched 20 per call), else the heuristic below. Kept
   when 0.09 * importance > `sensory_threshold` (RecAgent: x0.9/10, dropped at <= 0.62).
2. **short-term** (capacity 10 per agent): at the end of the step all kept observations are
   embedded in one batch. An observation whose cosine with an entry reaches
   `reinforce_similarity` (0.85, the cosine where RecAgent's sigmoid(cos) reaches 0.7) reinforces
   it instead of being added; after `promote_after` reinforcements the entry is promoted to
   long-term as a recurring memory. When the buffer overflows, its oldest entry moves to long-term.
3. **long-term** on chromadb (`store.py`), mirrored in memory for scoring. Retrieval score =
   recency (0.99 ** hours since last access) + relevance (1 - L2 / sqrt 2) + importance / 10;
   the top `retrieve_k` plus all short-term entries feed a prompt.
4. **reflection**: once an agent's summed importance of new long-term memories passes
   `reflection_threshold`, it reflects (one LLM call; offline: a template naming its most
   important recent memory) and the insight is stored with importance 8.
5. **forgetting**: each step a long-term memory at least 24 h old is forgotten with probability
   forgetting * (1 - (recency + importance / 10) / 2); it is deleted from chromadb too.

Importance heuristic (offline): watch 4 + 1.5 * |rating - 3|; chat (either side) 8; own post 7;
feeling 7; a heard post 5; reflection 8. Randomness (forgetting) uses its own generator seeded from
(seed, step), so memory never shifts the simulation's random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..llm.backend import LanguageBackend, Task
from ..llm.prompts import render_importance, render_reflection
from .store import LongTermStore

HEURISTIC_IMPORTANCE = {"chat": 8.0, "post": 7.0, "feeling": 7.0, "hear_post": 5.0, "hear_chat": 8.0,
                        "reflection": 8.0}
IMPORTANCE_BATCH = 20


def heuristic_importance(kind: str, rating: float | None = None) -> float:
    if kind == "watch":
        return 4.0 + 1.5 * abs((rating if rating is not None else 3.0) - 3.0)
    return HEURISTIC_IMPORTANCE.get(kind, 5.0)


@dataclass
class Observation:
    agent: int
    text: str
    kind: str
    importance: float | None


@dataclass
class Entry:
    text: str
    embedding: np.ndarray
    importance: float
    created: float  # simulated hours
    accessed: float
    count: int = 1
    id: str | None = None


@dataclass
class StepStats:
    observed: int = 0
    kept: int = 0
    reinforced: int = 0
    promoted: int = 0
    stored: int = 0
    reflections: int = 0
    forgotten: int = 0


class MemorySystem:
    """Sensory, short-term and long-term memory of all agents; `end_step` does the batched work."""

    def __init__(self, spec, store: LongTermStore | None = None, *, backend: LanguageBackend | None = None,
                 seed: int = 0, embed_fn: Callable[[list[str]], np.ndarray] | None = None,
                 who: Callable[[int], tuple[str, str]] | None = None):
        from ..embeddings import embed

        self.spec = spec
        self.store = store
        self.backend = backend
        self.seed = seed
        self.embed = embed_fn or embed
        self.who = who or (lambda agent: (f"agent {agent}", "a movie fan"))
        self.sensory: list[Observation] = []
        self.short: dict[int, list[Entry]] = {}
        self.long: dict[int, list[Entry]] = {}
        self.since_reflection: dict[int, float] = {}
        self.next_id = 0
        self.totals = StepStats()

    # --- writing ---------------------------------------------------------------------------------

    def observe(self, agent: int, text: str, kind: str, importance: float | None = None) -> None:
        """Buffer an observation; scored now by the heuristic, or later in a batch by the LLM."""
        use_llm = self.spec.importance == "llm" and self.backend is not None and not self.backend.is_offline
        if importance is None and not use_llm:
            importance = heuristic_importance(kind)
        self.sensory.append(Observation(int(agent), text, kind, importance))

    def _score_with_llm(self) -> None:
        pending = [o for o in self.sensory if o.importance is None]
        if not pending:
            return
        chunks = [pending[k:k + IMPORTANCE_BATCH] for k in range(0, len(pending), IMPORTANCE_BATCH)]
        tasks = [Task("importance", render_importance([o.text for o in chunk]),
                      (lambda chunk=chunk: ("", [heuristic_importance(o.kind) for o in chunk])))
                 for chunk in chunks]
        for chunk, reply in zip(chunks, self.backend.run_tasks(tasks)):
            scores = reply.data.scores if hasattr(reply.data, "scores") else reply.data
            if not isinstance(scores, list) or len(scores) != len(chunk):
                scores = [heuristic_importance(o.kind) for o in chunk]
            for o, s in zip(chunk, scores):
                o.importance = float(s)

    def end_step(self, now: float, step: int) -> StepStats:
        """Score, filter, embed (one batch), file into short/long-term, reflect, forget."""
        stats = StepStats(observed=len(self.sensory))
        self._score_with_llm()
        kept = [o for o in self.sensory if 0.09 * o.importance > self.spec.sensory_threshold]
        self.sensory = []
        stats.kept = len(kept)
        to_long: list[tuple[int, Entry]] = []
        if kept:
            vectors = self.embed([o.text for o in kept])
            for o, v in zip(kept, vectors):
                to_long += self._into_short_term(o, v, now, stats)
        self._store_long(to_long, stats)
        self._reflect(now, stats)
        self._forget(now, step, stats)
        for name in stats.__dataclass_fields__:
            setattr(self.totals, name, getattr(self.totals, name) + getattr(stats, name))
        return stats

    def _into_short_term(self, o: Observation, v: np.ndarray, now: float, stats: StepStats) -> list[tuple[int, Entry]]:
        entries = self.short.setdefault(o.agent, [])
        out = []
        if entries:
            sims = np.array([float(e.embedding @ v) for e in entries])
            best = int(np.argmax(sims))
            if sims[best] >= self.spec.reinforce_similarity:
                entry = entries[best]
                entry.count += 1
                entry.importance = max(entry.importance, o.importance)
                entry.accessed = now
                stats.reinforced += 1
                if entry.count > self.spec.promote_after:
                    entries.pop(best)
                    entry.text = f"{entry.text} (this keeps coming up: {entry.count} times)"
                    entry.importance = min(10.0, entry.importance + 1)
                    out.append((o.agent, entry))
                    stats.promoted += 1
                return out
        entries.append(Entry(o.text, v, o.importance, now, now))
        if len(entries) > self.spec.short_term_capacity:
            out.append((o.agent, entries.pop(0)))
        return out

    def _store_long(self, items: list[tuple[int, Entry]], stats: StepStats, tier: str = "long") -> None:
        if not items:
            return
        ids, texts, metas = [], [], []
        for agent, entry in items:
            entry.id = f"{agent}-{self.next_id}"
            self.next_id += 1
            if tier == "long":
                self.long.setdefault(agent, []).append(entry)
                self.since_reflection[agent] = self.since_reflection.get(agent, 0.0) + entry.importance
            ids.append(entry.id)
            texts.append(entry.text)
            metas.append({"agent_id": int(agent), "created": float(entry.created), "importance": float(entry.importance),
                          "count": int(entry.count), "tier": tier})
        if self.store is not None:
            self.store.add(ids, texts, np.stack([e.embedding for _, e in items]), metas)
        stats.stored += len(items)

    def _reflect(self, now: float, stats: StepStats) -> None:
        due = sorted(a for a, s in self.since_reflection.items() if s > self.spec.reflection_threshold)
        if not due:
            return
        tasks = []
        for agent in due:
            self.since_reflection[agent] = 0.0
            recent = sorted(self.long[agent][-10:], key=lambda e: -e.importance)
            name, persona = self.who(agent)
            top = recent[0].text if recent else "not much"
            tasks.append(Task("reflection", render_reflection(name, persona, [e.text for e in recent]),
                              (lambda top=top: (f"Looking back, what stays with me most: {top}", None))))
        if self.backend is not None:
            answers = [r.text for r in self.backend.run_tasks(tasks)]
        else:
            answers = [t.fallback()[0] for t in tasks]
        texts = [f"Reflection: {a}" for a in answers]
        vectors = self.embed(texts)
        items = [(agent, Entry(t, v, heuristic_importance("reflection"), now, now)) for agent, t, v in zip(due, texts, vectors)]
        self._store_long(items, stats)
        for agent in due:  # a reflection does not count towards the next one
            self.since_reflection[agent] = 0.0
        stats.reflections += len(items)

    def _forget(self, now: float, step: int, stats: StepStats) -> None:
        if not self.spec.forgetting:
            return
        rng = np.random.default_rng([self.seed, step, 0x6D656D])
        gone = []
        for agent in sorted(self.long):
            keep = []
            for entry in self.long[agent]:
                age = now - entry.created
                if age >= 24:
                    recency = 0.99 ** (now - entry.accessed)
                    p = self.spec.forgetting * (1 - (recency + entry.importance / 10) / 2)
                    if rng.random() < p:
                        gone.append(entry.id)
                        continue
                keep.append(entry)
            self.long[agent] = keep
        if self.store is not None:
            self.store.delete(gone)
        stats.forgotten += len(gone)

    # --- reading ---------------------------------------------------------------------------------

    def score(self, agent: int, query: np.ndarray, now: float) -> tuple[list[Entry], np.ndarray]:
        entries = self.long.get(agent, [])
        if not entries:
            return [], np.zeros(0)
        E = np.stack([e.embedding for e in entries])
        recency = 0.99 ** np.array([now - e.accessed for e in entries])
        relevance = 1 - np.linalg.norm(E - query[None, :], axis=1) / np.sqrt(2)
        importance = np.array([e.importance for e in entries]) / 10
        return entries, recency + relevance + importance

    def retrieve_many(self, agents: list[int], queries: list[str], now: float) -> list[list[str]]:
        """For each (agent, query): the top-k long-term memories by score, then all short-term ones."""
        if not agents:
            return []
        vectors = self.embed(list(queries))
        out = []
        for agent, q in zip(agents, vectors):
            entries, scores = self.score(int(agent), q, now)
            top = [entries[k] for k in np.argsort(-scores, kind="stable")[: self.spec.retrieve_k]]
            for e in top:
                e.accessed = now
            out.append([e.text for e in top] + [e.text for e in reversed(self.short.get(int(agent), []))])
        return out

    def texts(self, agent: int) -> list[str]:
        return [e.text for e in self.long.get(agent, [])] + [e.text for e in self.short.get(agent, [])]

    def persist_short_term(self) -> int:
        """At the end of a run: write short-term entries to chromadb too (tier "short"), for interviews."""
        items = [(agent, e) for agent in sorted(self.short) for e in self.short[agent]]
        self._store_long(items, StepStats(), tier="short")
        return len(items)


def load_agent_memories(store: LongTermStore, agent_id: int, now: float | None = None) -> list[Entry]:
    """An agent's persisted memories (long- and short-term) as entries, oldest first."""
    got = store.agent_memories(agent_id)
    entries = [Entry(doc, emb, float(meta["importance"]), float(meta["created"]), float(meta["created"]),
                     int(meta.get("count", 1)), id_)
               for id_, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])]
    return sorted(entries, key=lambda e: (e.created, int(e.id.split("-")[1])))
