"""The run's append-only event log in SQLite (`events.sqlite`).

Every act is one row of `events`; the web page, the metrics and the reports are derived from it.
Static context (agents, items, social edges) sits in tables beside it so the file stands alone.
Each step is written in one transaction, so an interrupted run leaves the completed steps. The
indexes on agent and item are built when the log is closed (see LOOKUP_INDEXES).
Payloads are JSON with sorted keys and rounded floats, so the same run gives the same bytes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..events import stamp

EVENT_KINDS = ("page", "watch", "like", "dislike", "leave", "search", "chat", "post", "hear", "intervention",
               "feeling", "llm")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    step INTEGER NOT NULL,
    sim_time TEXT NOT NULL,
    agent_id INTEGER,
    kind TEXT NOT NULL,
    item_id INTEGER,
    target_agent_id INTEGER,
    payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_step ON events(step);
CREATE TABLE IF NOT EXISTS agents (
    agent_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    persona TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    genres TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
    source INTEGER NOT NULL,
    target INTEGER NOT NULL,
    relationship TEXT NOT NULL,
    closeness REAL NOT NULL
);
"""


# Built when the log is closed: kept up to date row by row, these two indexes made inserting a
# step's events 5-10x slower once the table outgrew SQLite's cache (random agent and item ids),
# while one CREATE INDEX over the finished table is a single sort.
LOOKUP_INDEXES = """
CREATE INDEX IF NOT EXISTS events_agent ON events(agent_id);
CREATE INDEX IF NOT EXISTS events_item ON events(item_id);
"""
WRITER_CACHE_KIB = 65536  # SQLite page cache of the writing connection


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def encode_payload(payload: dict | None) -> str:
    return json.dumps(_round(payload or {}), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Event:
    step: int
    sim_time: str
    agent_id: int | None
    kind: str
    item_id: int | None = None  # the dataset's item id
    target_agent_id: int | None = None
    payload: dict | None = None


class EventLog:
    """Buffers a step's events and writes them in one transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        new = not self.path.exists()
        self.conn = sqlite3.connect(self.path)
        self.conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        self.conn.executescript(SCHEMA)
        if new:  # a resumed run's log keeps the version it was written with
            stamp(self.conn)
        self.buffer: list[tuple] = []

    def write_context(self, agents: Iterable[tuple], items: Iterable[tuple], edges: Iterable[tuple]) -> None:
        with self.conn:
            self.conn.executemany("INSERT INTO agents VALUES (?, ?, ?, ?)", agents)
            self.conn.executemany("INSERT INTO items VALUES (?, ?, ?)", items)
            self.conn.executemany("INSERT INTO edges VALUES (?, ?, ?, ?)", edges)

    def append(self, event: Event) -> None:
        self.buffer.append((event.step, event.sim_time, event.agent_id, event.kind, event.item_id,
                            event.target_agent_id, encode_payload(event.payload)))

    def extend(self, rows: Iterable[tuple]) -> None:
        """Buffer rows (step, sim_time, agent_id, kind, item_id, target_agent_id, payload JSON text)."""
        self.buffer.extend(rows)

    def flush(self) -> int:
        """Write the buffered events in one transaction; returns how many were written."""
        rows, self.buffer = self.buffer, []
        with self.conn:
            self.conn.executemany(
                "INSERT INTO events (step, sim_time, agent_id, kind, item_id, target_agent_id, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def last_id(self) -> int:
        """The id of the last event written (0 for none): a checkpoint's position in the log."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def truncate_after(self, event_id: int) -> int:
        """Delete the events after `event_id` (a resumed run writes them again); returns how many."""
        with self.conn:
            return self.conn.execute("DELETE FROM events WHERE id > ?", (event_id,)).rowcount

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind"))

    def close(self) -> None:
        """Close the log, with its agent and item indexes built (a run killed before has none: its
        readers scan, and a resumed run builds them when it closes)."""
        self.buffer.clear()  # an unfinished step is dropped, never half-written
        self.conn.executescript(LOOKUP_INDEXES)
        self.conn.close()
