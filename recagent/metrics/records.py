"""What the metrics read of a step's events, as arrays: the pages shown, the watches, the hearings.

The batched phases fill these directly (`StepEvents.records`); a single event is noted from its
payload (`note`), and events given one by one can be turned into records (`of_events`), so the
tracker never parses payloads on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Records:
    """What the metrics read of a step, in the order it happened (catalog indices, not raw ids)."""

    page_agents: list = field(default_factory=list)  # arrays of agents, one per batch
    page_items: list = field(default_factory=list)  # (pages, width) arrays, -1 padded, one per batch
    watches: list = field(default_factory=list)  # (agent, item, rating, heard_from or -1) array tuples
    hears: list = field(default_factory=list)  # (listener, item, speaker) array tuples

    def note(self, catalog, agent: int | None, kind: str, item: int | None, target: int | None,
             payload: dict | None) -> None:
        """Keep what the metrics read of one event (`item` a catalog index; page items are raw ids)."""
        if kind == "page":
            items = [catalog.index_of(r) for r in payload["items"] if catalog.has(r)]
            if items:
                self.page_agents.append(np.array([agent]))
                self.page_items.append(np.array([items]))
        elif kind == "watch":
            source = payload.get("heard_from")
            self.watches.append(([agent], [item], [float(payload["rating"])], [-1 if source is None else source]))
        elif kind == "hear" and item is not None:
            self.hears.append(([agent], [item], [target]))

    @classmethod
    def of_events(cls, events, catalog) -> Records:
        """The records of events given one by one (`Event`s, items as dataset ids)."""
        records = cls()
        for e in events:
            item = catalog.index_of(e.item_id) if e.item_id is not None and catalog.has(e.item_id) else None
            if e.kind != "hear" or item is not None:
                records.note(catalog, e.agent_id, e.kind, item, e.target_agent_id, e.payload)
        return records

    def pages(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.page_agents:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64)
        width = max(p.shape[1] for p in self.page_items)
        items = [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=-1) for p in self.page_items]
        return np.concatenate(self.page_agents), np.concatenate(items)

    @staticmethod
    def _columns(parts: list, n: int, dtypes) -> tuple[np.ndarray, ...]:
        if not parts:
            return tuple(np.zeros(0, dtype=d) for d in dtypes)
        return tuple(np.concatenate([np.asarray(p[c], dtype=dtypes[c]).reshape(-1) for p in parts]) for c in range(n))

    def watch_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(agent, item, rating, heard_from or -1)."""
        return self._columns(self.watches, 4, (np.int64, np.int64, np.float64, np.int64))

    def hear_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(listener, item, speaker)."""
        return self._columns(self.hears, 3, (np.int64, np.int64, np.int64))
