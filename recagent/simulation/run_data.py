"""A finished (or running) run folder read back as pandas tables: `recagent.load_run(run_dir)`."""

from __future__ import annotations

import json
import sqlite3
from functools import cached_property
from pathlib import Path

import pandas as pd

from ..errors import UserError

EVENT_COLUMNS = ("id", "step", "sim_time", "agent_id", "kind", "item_id", "target_agent_id")


class RunData:
    """The tables of a run folder, each read when first asked for.

    - `events`: one row per event (id, step, sim_time, agent_id, kind, item_id, target_agent_id)
      with the JSON payload expanded into columns (nested keys joined by dots; a key an event kind
      does not have is missing, NaN);
    - `metrics`: metrics.csv (one row per step); `agent_metrics`: agent_metrics.csv (one per agent);
    - `agents` (persona expanded into columns), `items`, `edges`: the run's context tables;
    - `info`: run.json as a dict.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        if not (self.run_dir / "events.sqlite").is_file():
            raise UserError("not a run folder: no events.sqlite in it", self.run_dir)

    def __repr__(self) -> str:
        return f"RunData({str(self.run_dir)!r})"

    def _query(self, sql: str) -> pd.DataFrame:
        conn = sqlite3.connect(f"file:{self.run_dir / 'events.sqlite'}?mode=ro", uri=True)
        try:
            return pd.read_sql_query(sql, conn)
        finally:
            conn.close()

    @cached_property
    def events(self) -> pd.DataFrame:
        from ..events import EventReader  # the event log's one reader (recagent/events)

        frame = EventReader(self.run_dir / "events.sqlite").frame(EVENT_COLUMNS)
        payloads = pd.json_normalize([json.loads(p) for p in frame.pop("payload")])
        payloads.index = frame.index
        payloads = payloads.drop(columns=[c for c in payloads.columns if c in frame.columns])
        for column in ("agent_id", "item_id", "target_agent_id"):
            frame[column] = frame[column].astype("Int64")
        return pd.concat([frame, payloads], axis=1)

    @cached_property
    def metrics(self) -> pd.DataFrame:
        return self._csv("metrics.csv")

    @cached_property
    def agent_metrics(self) -> pd.DataFrame:
        return self._csv("agent_metrics.csv")

    @cached_property
    def agents(self) -> pd.DataFrame:
        frame = self._query("SELECT agent_id, user_id, name, persona FROM agents ORDER BY agent_id")
        personas = pd.json_normalize([json.loads(p) for p in frame.pop("persona")])
        personas.index = frame.index
        return pd.concat([frame, personas], axis=1)

    @cached_property
    def items(self) -> pd.DataFrame:
        frame = self._query("SELECT item_id, title, genres FROM items ORDER BY item_id")
        frame["genres"] = frame["genres"].map(lambda g: g.split("|") if g else [])
        return frame

    @cached_property
    def edges(self) -> pd.DataFrame:
        return self._query("SELECT source, target, relationship, closeness FROM edges")

    @cached_property
    def info(self) -> dict:
        path = self.run_dir / "run.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def _csv(self, name: str) -> pd.DataFrame:
        path = self.run_dir / name
        if not path.is_file():
            raise UserError(f"{name} is written when a run finishes; this run has not (status "
                            f"{self.info.get('status', 'unknown')})", path)
        return pd.read_csv(path)


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder: `.events` (payload columns expanded), `.metrics`, `.agent_metrics`, `.agents`,
    `.items`, `.edges` as pandas DataFrames and `.info` (run.json) as a dict."""
    return RunData(run_dir)
