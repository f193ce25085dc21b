"""A SQLite prompt cache: the same prompt and parameters give the same reply, without a call.

Only replies that parsed are stored, so a malformed answer is asked again next time. The key is a
SHA-256 of the model name, sampling parameters, the scenario's endpoint list (all of it, so its
load-balanced servers share entries while another server answering to the same model name does not),
schema and the messages. The API key is never part of a row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from langchain_core.messages import BaseMessage


def prompt_key(messages: list[BaseMessage], params: dict, schema: str) -> str:
    body = json.dumps({"params": params, "schema": schema,
                       "messages": [[m.type, m.content] for m in messages]}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class PromptCache:
    """Reply text and token counts by prompt key, in one SQLite file shared across runs."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        # Every reply is committed as it comes (a killed run keeps what it paid for). In SQLite's default
        # rollback journal each commit waits for fsync, about 20 ms on the development machine, on the
        # event loop that carries the whole wave; in WAL mode with synchronous=NORMAL a commit is a write
        # (about 60 us), still safe from a killed process and only exposed to a power cut.
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                          "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL)")
        self.conn.commit()

    def get(self, key: str) -> tuple[str, int, int] | None:
        row = self.conn.execute("SELECT text, prompt_tokens, completion_tokens FROM replies WHERE key = ?",
                                (key,)).fetchone()
        return tuple(row) if row else None

    def put(self, key: str, text: str, prompt_tokens: int, completion_tokens: int) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)",
                              (key, text, prompt_tokens, completion_tokens))

    def __len__(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
