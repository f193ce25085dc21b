"""The log's schema version, kept in a `meta` table beside `events` (the event rows stay byte-for-byte
what they were: the determinism tests compare them).

Version 1 is the layout of recagent/simulation/events.py: tables `events`, `agents`, `items`,
`edges`. A log without a `meta` table was written before the version was recorded and is version 1.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1
META_TABLE = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def stamp(conn: sqlite3.Connection) -> None:
    """Record SCHEMA_VERSION in a writable log (the writer calls it once, when it creates the log)."""
    with conn:
        conn.execute(META_TABLE)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def read_version(conn: sqlite3.Connection) -> int:
    """The version a log was written with (1 when it has no `meta` table)."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 1
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 1
    except (TypeError, ValueError):
        return -1  # not a version this reader knows: the reader refuses it
