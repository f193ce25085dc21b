"""The only reader of a run's event log (`events.sqlite`): every query over `events` is here.

The log is opened read-only (`file:...?mode=ro`: a reader can never change a run folder, nor
create a missing file) and any SQLite failure to open or read it (not a database, truncated, a
table missing) becomes one `UnreadableLog` naming the file and the reason. Used by `load_run`,
the web page, explanations and interviews.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

import pydantic_core

from ..errors import UserError
from .kinds import EventKind
from .schema import SCHEMA_VERSION, read_version

EVENT_COLUMNS = ("id", "step", "agent_id", "kind", "item_id", "target_agent_id", "payload")
Row = tuple[Any, ...]  # a row as SQLite returns it (its columns are in each method's docstring)


class UnreadableLog(UserError):
    """An event log that cannot be read: not SQLite, damaged, of an unknown schema version."""


def decode_payload(text: object) -> dict[str, Any]:
    """An event's payload as a dict ({} for one that is not a JSON object, or nested past the parser's limit)."""
    try:
        value = pydantic_core.from_json(text) if isinstance(text, (str, bytes)) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class EventReader:
    """Read-only queries over one `events.sqlite`; each call opens and closes its own connection,
    so a reader can be shared by threads (the page's requests) and follows a live run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise UnreadableLog("no event log here", self.path)
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5,
                                   check_same_thread=False)
        except sqlite3.Error as e:
            raise UnreadableLog(f"cannot be opened read-only: {e}", self.path) from None
        return conn

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        conn = self.connect()
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e) or "locked" in str(e):
                raise  # a log being created, or written right now: the caller may try again
            raise UnreadableLog(f"not a readable event log: {e}", self.path) from None
        except sqlite3.DatabaseError as e:
            raise UnreadableLog(f"not a readable event log: {e}", self.path) from None
        finally:
            conn.close()

    # --- the log as a whole -----------------------------------------------------------------------

    def schema_version(self) -> int:
        conn = self.connect()
        try:
            version = read_version(conn)
        except sqlite3.DatabaseError as e:
            raise UnreadableLog(f"not a readable event log: {e}", self.path) from None
        finally:
            conn.close()
        if not 1 <= version <= SCHEMA_VERSION:
            raise UnreadableLog(f"written with event-log schema version {version}; this recagent reads 1 to "
                                f"{SCHEMA_VERSION}", self.path)
        return version

    def check(self) -> None:
        """Raise UnreadableLog unless this is an event log of a known version with its tables."""
        self.schema_version()
        self.last_id()

    def last_id(self) -> int | None:
        """The highest event id (None for an empty log)."""
        top = self._all("SELECT MAX(id) FROM events")[0][0]
        if top is not None and (not isinstance(top, int) or isinstance(top, bool)):
            raise UnreadableLog(f"not a readable event log: event ids are not whole numbers (found {top!r:.40})",
                                self.path)
        return top

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """Every event, ordered by id, as a pandas DataFrame of `columns` (and `payload`, as JSON text)."""
        import pandas as pd

        wanted = [c for c in columns if c in ("id", "step", "sim_time", "agent_id", "kind", "item_id",
                                              "target_agent_id", "payload")]
        conn = self.connect()
        try:
            return pd.read_sql_query(f"SELECT {', '.join(wanted)}, payload FROM events ORDER BY id", conn)
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as e:
            raise UnreadableLog(f"not a readable event log: {e}", self.path) from None
        finally:
            conn.close()

    # --- context tables ---------------------------------------------------------------------------

    def agents(self) -> list[Row]:
        """(agent_id, user_id, name, persona JSON text) per agent."""
        return self._all("SELECT agent_id, user_id, name, persona FROM agents ORDER BY agent_id")

    def items(self) -> list[Row]:
        """(item_id, title, genres joined by '|') per item, in catalog order."""
        return self._all("SELECT item_id, title, genres FROM items ORDER BY rowid")

    def edges(self) -> list[Row]:
        return self._all("SELECT source, target FROM edges")

    # --- incremental reading (a live run) ---------------------------------------------------------

    def counts(self, after: int, upto: int) -> list[Row]:
        """(step, kind, count, earliest sim_time) for the events with after < id <= upto."""
        return self._all("SELECT step, kind, COUNT(*), MIN(sim_time) FROM events WHERE id > ? AND id <= ? "
                         "GROUP BY step, kind", (after, upto))

    def acts(self, after: int, upto: int, codes: dict[str, int]) -> list[Row]:
        """The acts (watch, leave, search, chat, post) with after < id <= upto, as numeric rows:
        id, step, agent (-1 for none), kind code (`codes`), item (-1), target (-1), a watch's rating
        (NULL otherwise) and its heard_from (-1)."""
        names = ("watch", "leave", "search", "chat", "post")
        return self._all(
            "SELECT id, step, COALESCE(agent_id, -1), "
            "CASE kind WHEN 'watch' THEN ? WHEN 'leave' THEN ? WHEN 'search' THEN ? WHEN 'chat' THEN ? "
            "ELSE ? END, COALESCE(item_id, -1), COALESCE(target_agent_id, -1), "
            "CASE WHEN kind = 'watch' AND json_valid(payload) AND json_type(payload, '$.rating') IN ('integer', 'real') "
            "THEN json_extract(payload, '$.rating') END, "
            "CASE WHEN kind = 'watch' AND json_valid(payload) AND json_type(payload, '$.heard_from') = 'integer' "
            "THEN json_extract(payload, '$.heard_from') ELSE -1 END "
            "FROM events WHERE id > ? AND id <= ? AND kind IN ('watch', 'leave', 'search', 'chat', 'post') "
            "ORDER BY id", (*[codes[k] for k in names], after, upto))

    # --- selections -------------------------------------------------------------------------------

    def events(self, *, up_to_id: int | None = None, ids: Iterable[int] | None = None,
               kinds: Iterable[EventKind | str] | None = None, agent: int | None = None, item: int | None = None,
               step: int | None = None, max_step: int | None = None, limit: int | None = None,
               newest_first: bool = False, with_time: bool = False) -> list[Row]:
        """Rows (EVENT_COLUMNS, and `sim_time` last if `with_time`) matching every condition given,
        in id order (or newest first)."""
        where: list[str] = ["1"]
        params: list[int | str] = []
        if up_to_id is not None:
            where.append("id <= ?")
            params.append(int(up_to_id))
        if ids is not None:
            ids = [int(i) for i in ids]
            if not ids:
                return []
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            params += ids
        if kinds is not None:
            kinds = [EventKind(k).value for k in kinds]
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        for column, value, op in (("agent_id", agent, "="), ("item_id", item, "="), ("step", step, "="),
                                  ("step", max_step, "<=")):
            if value is not None:
                where.append(f"{column} {op} ?")
                params.append(int(value))
        columns = (*EVENT_COLUMNS, "sim_time") if with_time else EVENT_COLUMNS
        sql = (f"SELECT {', '.join(columns)} FROM events WHERE {' AND '.join(where)} "
               f"ORDER BY id {'DESC' if newest_first else 'ASC'}")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._all(sql, params)
